//! Property tests of the engine over random carts and random promotion sets.

use proptest::prelude::*;

use super::model::*;
use super::{cart_quote_json, quote, CartContext};

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        (1i64..=100).prop_map(|percent| Action::PercentOffItems { percent }),
        (0i64..50_000).prop_map(|amount| Action::AmountOffItems { amount }),
        (0i64..50_000).prop_map(|amount| Action::FixedPrice { amount }),
        (1i64..4, 1i64..3, 1i64..=100).prop_map(|(buy, get, percent)| Action::BuyXGetY { buy, get, percent }),
        (1i64..=100).prop_map(|percent| Action::PercentOffOrder { percent }),
        (0i64..500_000).prop_map(|amount| Action::AmountOffOrder { amount }),
        Just(Action::FreeShipping),
    ]
}

fn class() -> impl Strategy<Value = Class> {
    prop_oneof![Just(Class::Product), Just(Class::Order), Just(Class::Shipping)]
}

fn promotion() -> impl Strategy<Value = Promotion> {
    (
        1i64..1000,
        -5i32..5,
        prop_oneof![
            Just(Stacking::Exclusive),
            Just(Stacking::Combinable),
            Just(Stacking::BestOf)
        ],
        action(),
        proptest::collection::vec(class(), 0..3),
        proptest::option::of(0i64..200_000),
        proptest::collection::vec(1i64..6, 0..2),
    )
        .prop_map(
            |(id, priority, stacking, action, combines_with, min_subtotal, products)| Promotion {
                promotion_id: id,
                name: format!("P{id}"),
                priority,
                stacking,
                rules: Rules {
                    conditions: Conditions {
                        min_subtotal,
                        products,
                        ..Conditions::default()
                    },
                    action,
                    combines_with,
                },
                via_coupon: false,
            },
        )
}

fn input() -> impl Strategy<Value = QuoteInput> {
    (
        proptest::collection::vec((1i64..6, 0i64..200_000, 1i64..20, 0i64..3000), 1..20),
        proptest::collection::vec(promotion(), 0..8),
        any::<bool>(),
        0i32..=4,
        proptest::option::of((0i64..5000, proptest::option::of(0i64..300_000))),
    )
        .prop_map(
            |(lines, promotions, tax_inclusive, exponent, shipping)| QuoteInput {
                currency: "EUR".into(),
                exponent,
                tax_inclusive,
                lines: lines
                    .into_iter()
                    .enumerate()
                    .map(|(i, (product, price, qty, rate))| LineInput {
                        line_id: i as i64 + 1,
                        variant_id: i as i64 + 1,
                        product_id: product,
                        quantity: qty,
                        unit_price: price,
                        compare_at: None,
                        categories: vec![product % 3],
                        tags: vec![],
                        brand: None,
                        tax_rate_bp: rate,
                        label: None,
                    })
                    .collect(),
                // Promotion ids are primary keys: unique, like in the database.
                promotions: promotions
                    .into_iter()
                    .enumerate()
                    .map(|(i, p)| Promotion {
                        promotion_id: i as i64 + 1,
                        name: format!("P{}", i + 1),
                        ..p
                    })
                    .collect(),
                coupon: None,
                customer: Customer::default(),
                shipping: shipping.map(|(amount, free_over)| ShippingInput {
                    amount,
                    free_over,
                    tax_rate_bp: 2000,
                }),
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn totals_are_never_negative_and_discounts_never_exceed_the_subtotal(input in input()) {
        let q = quote(&input).unwrap();
        prop_assert!(q.subtotal >= 0 && q.grand_total >= 0 && q.tax_total >= 0 && q.shipping_total >= 0);
        prop_assert!(q.discount_total <= q.subtotal);
        for l in &q.lines {
            prop_assert!(l.total >= 0 && l.tax >= 0 && l.discount_total <= l.subtotal);
        }
    }

    #[test]
    fn allocations_sum_exactly_to_each_discount(input in input()) {
        let q = quote(&input).unwrap();
        for p in &q.promotions {
            let on_lines: i64 = q.lines.iter().flat_map(|l| &l.discounts).filter(|d| d.promotion_id == p.promotion_id).map(|d| d.amount).sum();
            let on_shipping: i64 = q.shipping.discounts.iter().filter(|d| d.promotion_id == p.promotion_id).map(|d| d.amount).sum();
            prop_assert_eq!(on_lines + on_shipping, p.amount);
        }
        let lines: i64 = q.lines.iter().map(|l| l.discount_total).sum();
        prop_assert_eq!(lines, q.discount_total);
        let taxes: i64 = q.lines.iter().map(|l| l.tax).sum::<i64>() + q.shipping.tax;
        prop_assert_eq!(taxes, q.tax_total);
        let before_tax = q.subtotal - q.discount_total + q.shipping_total;
        prop_assert_eq!(q.grand_total, if q.tax_inclusive { before_tax } else { before_tax + q.tax_total });
    }

    #[test]
    fn line_order_does_not_change_the_result(input in input(), seed in any::<u64>()) {
        let mut shuffled = input.clone();
        // A deterministic shuffle (rotation + reversal) is enough to move every line.
        let n = shuffled.lines.len();
        shuffled.lines.rotate_left((seed as usize) % n);
        if seed % 2 == 0 { shuffled.lines.reverse(); }
        shuffled.promotions.reverse();
        prop_assert_eq!(quote(&input).unwrap(), quote(&shuffled).unwrap());
    }

    #[test]
    fn quoting_twice_gives_the_same_result(input in input()) {
        prop_assert_eq!(quote(&input).unwrap(), quote(&input).unwrap());
    }

    #[test]
    fn a_quote_survives_a_json_round_trip_in_whole_minor_units(input in input()) {
        // Amounts are integers of the currency's minor unit: the JSON carries no fraction.
        let q = quote(&input).unwrap();
        let text = serde_json::to_string(&q).unwrap();
        prop_assert!(!text.contains("e-") && !text.contains("e+"));
        let back: Quote = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(back.exponent, input.exponent);
        prop_assert_eq!(back, q);
    }

    #[test]
    fn the_cart_quote_from_json_text_is_the_engine_quote(input in input()) {
        // maef.quote_cart (api.cart_quote's path) must price exactly as the engine does.
        let cart = CartContext { cart_id: "c", ..CartContext::default() };
        let text = cart_quote_json(&serde_json::to_string(&input).unwrap(), &cart).unwrap();
        let back: Quote = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(back, quote(&input).unwrap());
    }
}
