//! The engine's time per quote for a 20-line cart with 10 active promotions (the issue's
//! benchmark cart), with and without the JSON round trip the extension adds.

use std::hint::black_box;
use std::time::Instant;

use maef_core::pricing::{cart_quote_json, quote, CartContext, QuoteInput};
use serde_json::json;

/// A 20-line EUR cart (mixed prices, categories, tags), 10 promotions of every kind and
/// stacking policy, a coupon, tax-inclusive prices and a shipping threshold.
fn cart() -> QuoteInput {
    let lines: Vec<_> = (1..=20)
        .map(|i| {
            json!({"line_id": i, "variant_id": i, "product_id": i, "quantity": 1 + i % 4,
                   "unit_price": 500 + i * 137, "categories": [i % 5, 100], "tags": [format!("t{}", i % 3)],
                   "brand": if i % 2 == 0 { "Acme" } else { "Other" }, "tax_rate_bp": if i % 4 == 0 { 550 } else { 2000 }})
        })
        .collect();
    let actions = [
        json!({"type": "percent_off_items", "percent": 10}),
        json!({"type": "amount_off_items", "amount": 50}),
        json!({"type": "fixed_price", "amount": 900}),
        json!({"type": "buy_x_get_y", "buy": 2, "get": 1}),
        json!({"type": "percent_off_order", "percent": 5}),
        json!({"type": "amount_off_order", "amount": 1000}),
        json!({"type": "free_shipping"}),
        json!({"type": "percent_off_items", "percent": 15}),
        json!({"type": "buy_x_get_y", "buy": 1, "get": 1, "percent": 50}),
        json!({"type": "amount_off_order", "amount": 2500}),
    ];
    let stacking = [
        "combinable",
        "combinable",
        "exclusive",
        "combinable",
        "combinable",
        "best_of",
        "combinable",
        "combinable",
        "best_of",
        "exclusive",
    ];
    let promotions: Vec<_> = actions
        .iter()
        .enumerate()
        .map(|(i, action)| {
            json!({"promotion_id": i + 1, "name": format!("Promotion {}", i + 1), "priority": 10 - i as i32,
                   "stacking": stacking[i], "via_coupon": i == 7,
                   "rules": {"conditions": {"categories": [i % 5], "min_subtotal": 1000},
                             "action": action, "combines_with": ["product", "order", "shipping"]}})
        })
        .collect();
    serde_json::from_value(json!({
        "currency": "EUR", "exponent": 2, "tax_inclusive": true, "lines": lines, "promotions": promotions,
        "coupon": {"code": "SAVE15", "status": "valid"}, "customer": {"groups": ["vip"], "first_order": true},
        "shipping": {"amount": 499, "free_over": 50000, "tax_rate_bp": 2000}
    }))
    .unwrap()
}

fn time<F: FnMut()>(label: &str, iterations: u32, mut f: F) {
    for _ in 0..iterations / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    let per = start.elapsed() / iterations;
    println!(
        "{label}: {:.1} µs per quote ({iterations} iterations)",
        per.as_nanos() as f64 / 1000.0
    );
}

fn main() {
    let input = cart();
    let text = serde_json::to_string(&input).unwrap();
    let q = quote(&input).unwrap();
    println!(
        "20 lines, 10 promotions: {} applied, grand total {} (discount {}, tax {})",
        q.promotions.len(),
        q.grand_total,
        q.discount_total,
        q.tax_total
    );
    time("engine only", 20_000, || {
        black_box(quote(black_box(&input)).unwrap());
    });
    time("JSON text in, engine, JSON text out", 20_000, || {
        let input: QuoteInput = serde_json::from_str(black_box(&text)).unwrap();
        black_box(serde_json::to_string(&quote(&input).unwrap()).unwrap());
    });
    // What maef.quote_cart does inside PostgreSQL (api.cart_quote's path).
    let cart = CartContext {
        cart_id: "0b7f3c1e-cart",
        ..CartContext::default()
    };
    time("cart_quote_json (maef.quote_cart)", 20_000, || {
        black_box(cart_quote_json(black_box(&text), &cart).unwrap());
    });
}
