//! Worked examples: every expected figure below was computed by hand (the arithmetic is
//! in the comment above each assertion), in XOF (exponent 0) and EUR (exponent 2).

use serde_json::{json, Value};

use super::model::{Class, Quote, QuoteInput};
use super::quote;

/// A line: id, unit price, quantity (product and variant ids equal the line id).
fn line(id: i64, price: i64, qty: i64) -> Value {
    json!({"line_id": id, "variant_id": id, "product_id": id, "quantity": qty, "unit_price": price})
}

/// A line with a tax rate in basis points.
fn taxed(id: i64, price: i64, qty: i64, rate_bp: i64) -> Value {
    let mut l = line(id, price, qty);
    l["tax_rate_bp"] = json!(rate_bp);
    l
}

/// A promotion with its stacking, priority and rules.
fn promo(id: i64, stacking: &str, priority: i32, rules: Value) -> Value {
    json!({"promotion_id": id, "name": format!("P{id}"), "priority": priority,
           "stacking": stacking, "rules": rules})
}

fn xof(lines: Vec<Value>, promotions: Vec<Value>) -> Value {
    json!({"currency": "XOF", "exponent": 0, "lines": lines, "promotions": promotions})
}

fn eur(lines: Vec<Value>, promotions: Vec<Value>) -> Value {
    json!({"currency": "EUR", "exponent": 2, "lines": lines, "promotions": promotions})
}

fn run(input: Value) -> Quote {
    let input: QuoteInput = serde_json::from_value(input).expect("valid input");
    quote(&input).expect("quotable")
}

fn pct_items(percent: i64) -> Value {
    json!({"action": {"type": "percent_off_items", "percent": percent}})
}

fn line_discounts(q: &Quote) -> Vec<i64> {
    q.lines.iter().map(|l| l.discount_total).collect()
}

fn codes(q: &Quote) -> Vec<&str> {
    q.messages.iter().map(|m| m.code.as_str()).collect()
}

#[test]
fn ex01_xof_cart_without_promotion_or_tax_totals_its_lines() {
    // 2500 × 3 = 7500
    let q = run(xof(vec![line(1, 2500, 3)], vec![]));
    assert_eq!(
        (q.subtotal, q.discount_total, q.tax_total, q.grand_total),
        (7500, 0, 0, 7500)
    );
}

#[test]
fn ex02_eur_tax_exclusive_adds_twenty_percent_rounded_half_even() {
    // 19.99 × 2 = 39.98; 20 % = 7.996 → 8.00; grand 47.98
    let q = run(eur(vec![taxed(1, 1999, 2, 2000)], vec![]));
    assert_eq!((q.subtotal, q.tax_total, q.grand_total), (3998, 800, 4798));
}

#[test]
fn ex03_eur_tax_inclusive_extracts_the_tax_from_the_price() {
    // 12.00 incl. 20 %: tax = 12.00 × 20/120 = 2.00; grand stays 12.00
    let mut input = eur(vec![taxed(1, 1200, 1, 2000)], vec![]);
    input["tax_inclusive"] = json!(true);
    let q = run(input);
    assert_eq!((q.tax_total, q.grand_total), (200, 1200));
}

#[test]
fn ex04_tax_is_rounded_per_line_half_to_even() {
    // 0.15 × 10 % = 0.015 → 0.02 ; 0.25 × 10 % = 0.025 → 0.02 ; tax 0.04, grand 0.44
    let q = run(eur(vec![taxed(1, 15, 1, 1000), taxed(2, 25, 1, 1000)], vec![]));
    assert_eq!(q.lines.iter().map(|l| l.tax).collect::<Vec<_>>(), vec![2, 2]);
    assert_eq!((q.tax_total, q.grand_total), (4, 44));
}

#[test]
fn ex05_xof_tax_exclusive_eighteen_percent() {
    // 10 000 × 18 % = 1 800; grand 11 800
    let q = run(xof(vec![taxed(1, 10_000, 1, 1800)], vec![]));
    assert_eq!((q.tax_total, q.grand_total), (1800, 11_800));
}

#[test]
fn ex06_xof_tax_inclusive_eighteen_percent() {
    // 11 800 incl. 18 %: 11 800 × 18/118 = 1 800
    let mut input = xof(vec![taxed(1, 11_800, 1, 1800)], vec![]);
    input["tax_inclusive"] = json!(true);
    let q = run(input);
    assert_eq!((q.tax_total, q.grand_total), (1800, 11_800));
}

#[test]
fn ex07_percent_off_is_allocated_by_largest_remainder() {
    // (19.99 + 5.01) × 10 % = 2.50; shares 1.999 and 0.501 → 1.99 + 0.50, the spare cent
    // goes to the larger remainder (.9 > .1) → 2.00 and 0.50
    let q = run(eur(
        vec![line(1, 1999, 1), line(2, 501, 1)],
        vec![promo(1, "exclusive", 0, pct_items(10))],
    ));
    assert_eq!(line_discounts(&q), vec![200, 50]);
    assert_eq!((q.discount_total, q.grand_total), (250, 2250));
}

#[test]
fn ex08_a_half_franc_discount_rounds_to_even() {
    // 25 XOF × 10 % = 2.5 → 2 ; 35 × 10 % = 3.5 → 4
    let q = run(xof(
        vec![line(1, 25, 1)],
        vec![promo(1, "exclusive", 0, pct_items(10))],
    ));
    assert_eq!(q.discount_total, 2);
    let q = run(xof(
        vec![line(1, 35, 1)],
        vec![promo(1, "exclusive", 0, pct_items(10))],
    ));
    assert_eq!(q.discount_total, 4);
}

#[test]
fn ex09_an_order_amount_split_in_three_gives_the_spare_unit_to_the_first_line() {
    // 100 over three lines of 100: 33.33 each → 34, 33, 33
    let rules = json!({"action": {"type": "amount_off_order", "amount": 100}});
    let q = run(xof(
        vec![line(1, 100, 1), line(2, 100, 1), line(3, 100, 1)],
        vec![promo(1, "exclusive", 0, rules)],
    ));
    assert_eq!(line_discounts(&q), vec![34, 33, 33]);
    assert_eq!(q.grand_total, 200);
}

#[test]
fn ex10_amount_off_items_is_per_unit_and_never_below_zero() {
    // line 1: 500 × 3 = 1 500 off 6 000; line 2: 500 capped at its 300; total 1 800
    let rules = json!({"action": {"type": "amount_off_items", "amount": 500}});
    let q = run(xof(
        vec![line(1, 2000, 3), line(2, 300, 1)],
        vec![promo(1, "exclusive", 0, rules)],
    ));
    assert_eq!(line_discounts(&q), vec![1500, 300]);
    assert_eq!((q.subtotal, q.grand_total), (6300, 4500));
}

#[test]
fn ex11_fixed_price_applies_to_the_matched_variant_only() {
    // variant 2 at 9.99 instead of 15.00, two units: 30.00 − 19.98 = 10.02 off
    let rules = json!({"conditions": {"variants": [2]}, "action": {"type": "fixed_price", "amount": 999}});
    let q = run(eur(
        vec![line(1, 1000, 1), line(2, 1500, 2)],
        vec![promo(1, "exclusive", 0, rules)],
    ));
    assert_eq!(line_discounts(&q), vec![0, 1002]);
    assert_eq!(q.grand_total, 2998);
}

#[test]
fn ex12_buy_two_get_one_free_gives_the_cheapest_item() {
    // 3 000 + 2 000 + 1 000: three units, one free, the cheapest (1 000)
    let rules = json!({"action": {"type": "buy_x_get_y", "buy": 2, "get": 1}});
    let q = run(xof(
        vec![line(1, 3000, 1), line(2, 2000, 1), line(3, 1000, 1)],
        vec![promo(1, "exclusive", 0, rules)],
    ));
    assert_eq!(line_discounts(&q), vec![0, 0, 1000]);
    assert_eq!(q.grand_total, 5000);
}

#[test]
fn ex13_buy_two_get_one_over_seven_units_frees_two_cheapest() {
    // 4 × 500 + 3 × 300 = 2 900; 7 units → ⌊7/3⌋ = 2 free, both at 300 → 600 off
    let rules = json!({"action": {"type": "buy_x_get_y", "buy": 2, "get": 1}});
    let q = run(xof(
        vec![line(1, 500, 4), line(2, 300, 3)],
        vec![promo(1, "exclusive", 0, rules)],
    ));
    assert_eq!(line_discounts(&q), vec![0, 600]);
    assert_eq!(q.grand_total, 2300);
}

#[test]
fn ex14_buy_one_get_one_half_price_with_mixed_prices() {
    // 40.00 + 25.00 + 2 × 10.00 = 85.00; 4 units → 2 discounted, the two 10.00 → 50 % of 20.00
    let rules = json!({"action": {"type": "buy_x_get_y", "buy": 1, "get": 1, "percent": 50}});
    let q = run(eur(
        vec![line(1, 4000, 1), line(2, 2500, 1), line(3, 1000, 2)],
        vec![promo(1, "exclusive", 0, rules)],
    ));
    assert_eq!(line_discounts(&q), vec![0, 0, 1000]);
    assert_eq!(q.grand_total, 7500);
}

#[test]
fn ex15_buy_two_get_two_at_a_quarter_off_spreads_the_discount_exactly() {
    // 9.99 + 10.01 + 2 × 15.00; 4 units → 2 discounted: 9.99 and 10.01 → 25 % of 20.00 = 5.00
    // shares 2.4975 and 2.5025 → 2.49 + 2.50 + spare cent to .9975 → 2.50 and 2.50
    let rules = json!({"action": {"type": "buy_x_get_y", "buy": 2, "get": 2, "percent": 25}});
    let q = run(eur(
        vec![line(1, 999, 1), line(2, 1001, 1), line(3, 1500, 2)],
        vec![promo(1, "exclusive", 0, rules)],
    ));
    assert_eq!(line_discounts(&q), vec![250, 250, 0]);
    assert_eq!(q.grand_total, 4500);
}

#[test]
fn ex16_a_minimum_subtotal_one_cent_short_gives_nothing() {
    let rules =
        json!({"conditions": {"min_subtotal": 5000}, "action": {"type": "percent_off_items", "percent": 10}});
    let q = run(eur(vec![line(1, 4999, 1)], vec![promo(1, "exclusive", 0, rules)]));
    assert_eq!((q.discount_total, q.grand_total), (0, 4999));
}

#[test]
fn ex17_a_minimum_subtotal_exactly_met_applies() {
    // 50.00 × 10 % = 5.00
    let rules =
        json!({"conditions": {"min_subtotal": 5000}, "action": {"type": "percent_off_items", "percent": 10}});
    let q = run(eur(vec![line(1, 2500, 2)], vec![promo(1, "exclusive", 0, rules)]));
    assert_eq!((q.discount_total, q.grand_total), (500, 4500));
}

#[test]
fn ex18_a_minimum_quantity_counts_matched_units() {
    let rules = json!({"conditions": {"min_quantity": 3, "products": [1]}, "action": {"type": "percent_off_items", "percent": 50}});
    // two units of product 1 (+ one of product 2 which does not count): nothing
    let q = run(xof(
        vec![line(1, 1000, 2), line(2, 1000, 1)],
        vec![promo(1, "exclusive", 0, rules.clone())],
    ));
    assert_eq!(q.discount_total, 0);
    // three units of product 1: 3 000 × 50 % = 1 500 on line 1 only
    let q = run(xof(
        vec![line(1, 1000, 3), line(2, 1000, 1)],
        vec![promo(1, "exclusive", 0, rules)],
    ));
    assert_eq!(line_discounts(&q), vec![1500, 0]);
}

#[test]
fn ex19_a_category_rule_matches_products_of_its_descendants() {
    // line 1 is in category 3 whose parent is 1; line 2 in category 2: 20 % of 1 000 = 200
    let mut a = line(1, 1000, 1);
    a["categories"] = json!([3, 1]);
    let mut b = line(2, 500, 1);
    b["categories"] = json!([2]);
    let rules =
        json!({"conditions": {"categories": [1]}, "action": {"type": "percent_off_items", "percent": 20}});
    let q = run(xof(vec![a, b], vec![promo(1, "exclusive", 0, rules)]));
    assert_eq!(line_discounts(&q), vec![200, 0]);
    assert_eq!(q.grand_total, 1300);
}

#[test]
fn ex20_tag_and_brand_filters_must_both_hold() {
    // only line 1 is a summer Acme product: 10 % of 2 000 = 200
    let mut a = line(1, 2000, 1);
    a["tags"] = json!(["summer"]);
    a["brand"] = json!("Acme");
    let mut b = line(2, 2000, 1);
    b["tags"] = json!(["summer"]);
    b["brand"] = json!("Other");
    let rules = json!({"conditions": {"tags": ["summer"], "brands": ["Acme"]}, "action": {"type": "percent_off_items", "percent": 10}});
    let q = run(xof(vec![a, b], vec![promo(1, "exclusive", 0, rules)]));
    assert_eq!(line_discounts(&q), vec![200, 0]);
}

#[test]
fn ex21_a_customer_group_promotion_needs_the_group() {
    let rules = json!({"conditions": {"customer_groups": ["vip"]}, "action": {"type": "percent_off_items", "percent": 15}});
    let mut input = xof(vec![line(1, 10_000, 1)], vec![promo(1, "exclusive", 0, rules)]);
    assert_eq!(run(input.clone()).discount_total, 0);
    input["customer"] = json!({"groups": ["vip"]});
    // 10 000 × 15 % = 1 500
    assert_eq!(run(input).discount_total, 1500);
}

#[test]
fn ex22_a_first_order_promotion_is_for_new_customers_only() {
    let rules =
        json!({"conditions": {"first_order": true}, "action": {"type": "amount_off_order", "amount": 1000}});
    let mut input = xof(vec![line(1, 5000, 1)], vec![promo(1, "exclusive", 0, rules)]);
    input["customer"] = json!({"first_order": false});
    assert_eq!(run(input.clone()).grand_total, 5000);
    input["customer"] = json!({"first_order": true});
    assert_eq!(run(input).grand_total, 4000);
}

#[test]
fn ex23_a_valid_coupon_unlocks_its_promotion() {
    let rules = json!({"conditions": {"coupon_required": true}, "action": {"type": "percent_off_items", "percent": 20}});
    let mut p = promo(1, "exclusive", 0, rules);
    p["via_coupon"] = json!(true);
    let mut input = eur(vec![line(1, 4000, 1)], vec![p]);
    input["coupon"] = json!({"code": "SPRING", "status": "valid"});
    // 40.00 × 20 % = 8.00
    let q = run(input);
    assert_eq!((q.discount_total, q.grand_total), (800, 3200));
    assert_eq!(q.lines[0].discounts[0].promotion_id, 1);
}

#[test]
fn ex24_an_expired_coupon_gives_nothing_and_says_so() {
    let rules = json!({"conditions": {"coupon_required": true}, "action": {"type": "percent_off_items", "percent": 20}});
    let mut p = promo(1, "exclusive", 0, rules);
    p["via_coupon"] = json!(true);
    let mut input = eur(vec![line(1, 4000, 1)], vec![p]);
    input["coupon"] = json!({"code": "SPRING", "status": "expired"});
    let q = run(input);
    assert_eq!(q.discount_total, 0);
    assert_eq!(codes(&q), vec!["coupon_expired"]);
    assert_eq!(q.messages[0].text, "coupon SPRING has expired");
}

#[test]
fn ex25_a_coupon_below_its_minimum_says_how_much_is_missing() {
    let rules = json!({"conditions": {"coupon_required": true, "min_subtotal": 5000}, "action": {"type": "amount_off_order", "amount": 500}});
    let mut p = promo(1, "exclusive", 0, rules);
    p["via_coupon"] = json!(true);
    let mut input = xof(vec![line(1, 4000, 1)], vec![p]);
    input["coupon"] = json!({"code": "BIG", "status": "valid"});
    let q = run(input);
    assert_eq!(codes(&q), vec!["coupon_conditions_not_met"]);
    assert_eq!(q.messages[0].text, "add 1,000 XOF more to use this coupon");
}

#[test]
fn ex26_an_exclusive_promotion_of_higher_priority_applies_alone() {
    // P1 (priority 10, exclusive) 10 % of 10 000 = 1 000; P2 never applies
    let p2 = promo(
        2,
        "combinable",
        5,
        json!({"action": {"type": "amount_off_order", "amount": 100}, "combines_with": ["product"]}),
    );
    let q = run(xof(
        vec![line(1, 10_000, 1)],
        vec![p2, promo(1, "exclusive", 10, pct_items(10))],
    ));
    assert_eq!(
        q.promotions.iter().map(|p| p.promotion_id).collect::<Vec<_>>(),
        vec![1]
    );
    assert_eq!(q.grand_total, 9000);
}

#[test]
fn ex27_an_exclusive_promotion_below_an_applied_one_is_skipped() {
    let p1 = promo(
        1,
        "combinable",
        10,
        json!({"action": {"type": "amount_off_order", "amount": 100}, "combines_with": ["product"]}),
    );
    let q = run(xof(
        vec![line(1, 10_000, 1)],
        vec![p1, promo(2, "exclusive", 5, pct_items(50))],
    ));
    assert_eq!(q.grand_total, 9900);
}

#[test]
fn ex28_product_and_order_discounts_combine_when_both_declare_it() {
    // 10 % of 10 000 = 1 000, then 500 off the 9 000 left → 8 500
    let p1 = promo(
        1,
        "combinable",
        10,
        json!({"action": {"type": "percent_off_items", "percent": 10}, "combines_with": ["order"]}),
    );
    let p2 = promo(
        2,
        "combinable",
        5,
        json!({"action": {"type": "amount_off_order", "amount": 500}, "combines_with": ["product"]}),
    );
    let q = run(xof(vec![line(1, 10_000, 1)], vec![p1, p2]));
    assert_eq!(
        q.lines[0].discounts.iter().map(|d| d.amount).collect::<Vec<_>>(),
        vec![1000, 500]
    );
    assert_eq!(q.grand_total, 8500);
}

#[test]
fn ex29_combining_needs_both_sides_to_agree() {
    // P2 does not list "product": only P1 (higher priority) applies
    let p1 = promo(
        1,
        "combinable",
        10,
        json!({"action": {"type": "percent_off_items", "percent": 10}, "combines_with": ["order"]}),
    );
    let p2 = promo(
        2,
        "combinable",
        5,
        json!({"action": {"type": "amount_off_order", "amount": 500}, "combines_with": ["shipping"]}),
    );
    let q = run(xof(vec![line(1, 10_000, 1)], vec![p1, p2]));
    assert_eq!(q.grand_total, 9000);
}

#[test]
fn ex30_two_product_discounts_compound_on_what_is_left() {
    // 10 000 − 10 % = 9 000; − 10 % of 9 000 = 8 100
    let rules = json!({"action": {"type": "percent_off_items", "percent": 10}, "combines_with": ["product"]});
    let q = run(xof(
        vec![line(1, 10_000, 1)],
        vec![
            promo(1, "combinable", 2, rules.clone()),
            promo(2, "combinable", 1, rules),
        ],
    ));
    assert_eq!(q.grand_total, 8100);
}

#[test]
fn ex31_a_best_of_promotion_wins_when_it_saves_more() {
    // stack: 10 % = 1 000 off; best_of: 1 500 off → best_of kept, 8 500
    let best = promo(
        2,
        "best_of",
        0,
        json!({"action": {"type": "amount_off_order", "amount": 1500}}),
    );
    let q = run(xof(
        vec![line(1, 10_000, 1)],
        vec![promo(1, "exclusive", 9, pct_items(10)), best],
    ));
    assert_eq!(q.promotions[0].promotion_id, 2);
    assert_eq!(q.grand_total, 8500);
}

#[test]
fn ex32_a_best_of_promotion_loses_when_the_stack_saves_more() {
    let best = promo(
        2,
        "best_of",
        99,
        json!({"action": {"type": "amount_off_order", "amount": 500}}),
    );
    let q = run(xof(
        vec![line(1, 10_000, 1)],
        vec![promo(1, "exclusive", 0, pct_items(10)), best],
    ));
    assert_eq!(q.promotions[0].promotion_id, 1);
    assert_eq!(q.grand_total, 9000);
}

#[test]
fn ex33_free_shipping_discounts_the_whole_rate() {
    let mut input = xof(
        vec![line(1, 10_000, 1)],
        vec![promo(
            1,
            "exclusive",
            0,
            json!({"action": {"type": "free_shipping"}}),
        )],
    );
    input["shipping"] = json!({"amount": 1500});
    let q = run(input);
    assert_eq!(
        (q.shipping.amount, q.shipping_total, q.grand_total),
        (1500, 0, 10_000)
    );
    assert_eq!(q.promotions[0].class, Class::Shipping);
}

#[test]
fn ex34_shipping_is_free_from_the_threshold_up() {
    let mut input = eur(vec![line(1, 5000, 1)], vec![]);
    input["shipping"] = json!({"amount": 499, "free_over": 5000});
    assert_eq!(run(input.clone()).grand_total, 5000);
    input["lines"] = json!([line(1, 4999, 1)]);
    let q = run(input);
    // 49.99 + 4.99 shipping
    assert_eq!(q.grand_total, 5498);
    assert_eq!(q.messages[0].text, "add 0.01 EUR more for free shipping");
}

#[test]
fn ex35_the_free_shipping_threshold_counts_after_discounts() {
    // 55.00 − 10 % = 49.50 < 50.00 → shipping 4.99 is due: 54.49
    let mut input = eur(
        vec![line(1, 5500, 1)],
        vec![promo(1, "exclusive", 0, pct_items(10))],
    );
    input["shipping"] = json!({"amount": 499, "free_over": 5000});
    assert_eq!(run(input).grand_total, 5449);
}

#[test]
fn ex36_tax_exclusive_applies_after_discounts_and_on_shipping() {
    // 100.00 − 10 % = 90.00, tax 18.00; shipping 5.00, tax 1.00; 90 + 5 + 19 = 114.00
    let mut input = eur(
        vec![taxed(1, 10_000, 1, 2000)],
        vec![promo(1, "exclusive", 0, pct_items(10))],
    );
    input["shipping"] = json!({"amount": 500, "tax_rate_bp": 2000});
    let q = run(input);
    assert_eq!((q.tax_total, q.grand_total), (1900, 11_400));
}

#[test]
fn ex37_tax_inclusive_is_extracted_after_discounts() {
    // 120.00 − 25 % = 90.00 incl. 20 % → tax 15.00; shipping 6.00 incl. → 1.00; grand 96.00
    let mut input = eur(
        vec![taxed(1, 12_000, 1, 2000)],
        vec![promo(1, "exclusive", 0, pct_items(25))],
    );
    input["tax_inclusive"] = json!(true);
    input["shipping"] = json!({"amount": 600, "tax_rate_bp": 2000});
    let q = run(input);
    assert_eq!((q.tax_total, q.grand_total), (1600, 9600));
}

#[test]
fn ex38_mixed_rates_inclusive_round_each_line() {
    // 11.00 incl. 10 % → 1.00; 10.55 incl. 5.5 % → 10.55 × 5.5/105.5 = 0.55
    let mut input = eur(vec![taxed(1, 1100, 1, 1000), taxed(2, 1055, 1, 550)], vec![]);
    input["tax_inclusive"] = json!(true);
    let q = run(input);
    assert_eq!((q.tax_total, q.grand_total), (155, 2155));
}

#[test]
fn ex39_a_fixed_price_above_the_price_gives_nothing() {
    let rules = json!({"action": {"type": "fixed_price", "amount": 2000}});
    let q = run(xof(vec![line(1, 1500, 1)], vec![promo(1, "exclusive", 0, rules)]));
    assert_eq!((q.discount_total, q.grand_total), (0, 1500));
    assert!(q.promotions.is_empty());
}

#[test]
fn ex40_an_order_discount_larger_than_the_cart_stops_at_zero() {
    let rules = json!({"action": {"type": "amount_off_order", "amount": 500}});
    let q = run(xof(vec![line(1, 100, 1)], vec![promo(1, "exclusive", 0, rules)]));
    assert_eq!((q.discount_total, q.grand_total), (100, 0));
}

#[test]
fn ex41_an_order_percentage_applies_after_a_fixed_price() {
    // fixed price 8 000, then 10 % of 8 000 = 800 → 7 200
    let p1 = promo(
        1,
        "combinable",
        0,
        json!({"action": {"type": "fixed_price", "amount": 8000}, "combines_with": ["order"]}),
    );
    let p2 = promo(
        2,
        "combinable",
        0,
        json!({"action": {"type": "percent_off_order", "percent": 10}, "combines_with": ["product"]}),
    );
    let q = run(xof(vec![line(1, 10_000, 1)], vec![p2, p1]));
    assert_eq!(q.grand_total, 7200);
}

#[test]
fn ex42_an_order_discount_is_taxed_line_by_line_after_allocation() {
    // 3.00 off 10.00 + 20.00 → 1.00 and 2.00; nets 9.00, 18.00; tax 1.80 + 3.60; 27 + 5.40
    let rules = json!({"action": {"type": "amount_off_order", "amount": 300}});
    let q = run(eur(
        vec![taxed(1, 1000, 1, 2000), taxed(2, 2000, 1, 2000)],
        vec![promo(1, "exclusive", 0, rules)],
    ));
    assert_eq!(line_discounts(&q), vec![100, 200]);
    assert_eq!((q.tax_total, q.grand_total), (540, 3240));
}

#[test]
fn ex43_a_coupon_that_cannot_combine_says_so() {
    let p1 = promo(1, "exclusive", 10, pct_items(10));
    let mut p2 = promo(
        2,
        "combinable",
        0,
        json!({"conditions": {"coupon_required": true}, "action": {"type": "amount_off_order", "amount": 100}}),
    );
    p2["via_coupon"] = json!(true);
    let mut input = xof(vec![line(1, 1000, 1)], vec![p1, p2]);
    input["coupon"] = json!({"code": "X", "status": "valid"});
    let q = run(input);
    assert_eq!(q.grand_total, 900);
    assert_eq!(codes(&q), vec!["promotion_not_combinable"]);
}
