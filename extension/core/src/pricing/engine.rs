//! The quote: conditions, actions, stacking, allocation, shipping and tax.
//!
//! # Stacking algorithm
//! 1. *Eligible* promotions: conditions hold on the cart before any discount; a
//!    `coupon_required` promotion also needs the cart's coupon to be valid and its own.
//!    They are ordered by priority (higher first), then by id.
//! 2. *The stack*: walking that order over the `exclusive` and `combinable` ones, an
//!    `exclusive` promotion is taken only if nothing was taken before, and then ends the
//!    walk; a `combinable` one is taken if it and every promotion already taken are
//!    `combinable` and each lists the other's class in `combines_with` (mutual, like
//!    Shopify's `combinesWith`; to stack two product discounts, both list `product`).
//! 3. *Best-of*: each `best_of` promotion is priced alone; the engine keeps whichever of
//!    the stack and those alternatives costs the customer least (ties keep the stack,
//!    then the higher priority).
//! 4. The kept promotions apply class by class — product, then order, then shipping —
//!    and by priority within a class, each on what earlier ones left of a line, so a
//!    line's total never goes below zero.

use super::arith::{allocate, div_half_even};
use super::model::*;

/// A line during pricing.
struct Work<'a> {
    input: &'a LineInput,
    subtotal: i128,
}

/// What a set of promotions gives on a cart.
struct Outcome {
    line_discounts: Vec<Vec<Discount>>,
    shipping: ShippingQuote,
    applied: Vec<AppliedPromotion>,
    /// Merchandise after discounts plus shipping: what the customer pays before tax.
    pays: i128,
    messages: Vec<Message>,
}

/// Prices a cart.
///
/// # Errors
/// [`QuoteError`] for a malformed input (quantity below 1, negative amounts, duplicate
/// line ids, a bad exponent) or amounts beyond 64 bits.
pub fn quote(input: &QuoteInput) -> Result<Quote, QuoteError> {
    if !(0..=4).contains(&input.exponent) {
        return Err(QuoteError::BadExponent(input.exponent));
    }
    let mut sorted: Vec<&LineInput> = input.lines.iter().collect();
    sorted.sort_by_key(|l| l.line_id);
    for pair in sorted.windows(2) {
        if pair[0].line_id == pair[1].line_id {
            return Err(QuoteError::DuplicateLine(pair[0].line_id));
        }
    }
    let mut ids: Vec<i64> = input.promotions.iter().map(|p| p.promotion_id).collect();
    ids.sort_unstable();
    if let Some(pair) = ids.windows(2).find(|w| w[0] == w[1]) {
        return Err(QuoteError::DuplicatePromotion(pair[0]));
    }
    let mut lines = Vec::with_capacity(sorted.len());
    for l in sorted {
        if l.quantity < 1 {
            return Err(QuoteError::BadQuantity(l.line_id));
        }
        if l.unit_price < 0 || l.tax_rate_bp < 0 {
            return Err(QuoteError::NegativeAmount(l.line_id));
        }
        lines.push(Work {
            input: l,
            subtotal: i128::from(l.unit_price) * i128::from(l.quantity),
        });
    }
    if let Some(s) = &input.shipping {
        if s.amount < 0 || s.tax_rate_bp < 0 || s.free_over.is_some_and(|f| f < 0) {
            return Err(QuoteError::NegativeAmount(0));
        }
    }

    let mut messages = coupon_messages(input);
    let eligible = eligible(input, &lines, &mut messages);
    let (stack, skipped) = build_stack(&eligible);
    for p in skipped.iter().filter(|p| p.via_coupon) {
        messages.push(Message {
            code: "promotion_not_combinable".into(),
            text: format!(
                "\"{}\" cannot be combined with the promotions already applied",
                p.name
            ),
            promotion_id: Some(p.promotion_id),
        });
    }
    let mut best = evaluate(input, &lines, &stack);
    for alt in eligible.iter().filter(|p| p.stacking == Stacking::BestOf) {
        let candidate = evaluate(input, &lines, &[alt]);
        if candidate.pays < best.pays {
            best = candidate;
        } else if alt.via_coupon {
            messages.push(Message {
                code: "promotion_not_best".into(),
                text: format!("\"{}\" does not beat the discounts already applied", alt.name),
                promotion_id: Some(alt.promotion_id),
            });
        }
    }
    messages.append(&mut best.messages);
    finish(input, &lines, best, messages)
}

/// An amount as shoppers read it in messages (`10.00 EUR`, `1,000 XOF`).
fn display(input: &QuoteInput, amount: i128) -> String {
    let amount = i64::try_from(amount).unwrap_or(i64::MAX);
    crate::money::format(amount, input.exponent, &input.currency).unwrap_or_else(|_| amount.to_string())
}

/// Messages about the coupon itself.
fn coupon_messages(input: &QuoteInput) -> Vec<Message> {
    let Some(c) = &input.coupon else {
        return Vec::new();
    };
    let (code, why) = match c.status {
        CouponStatus::Valid => return Vec::new(),
        CouponStatus::Unknown => ("coupon_unknown", "does not exist"),
        CouponStatus::Inactive => ("coupon_inactive", "is not active"),
        CouponStatus::NotStarted => ("coupon_not_started", "is not valid yet"),
        CouponStatus::Expired => ("coupon_expired", "has expired"),
        CouponStatus::Exhausted => ("coupon_exhausted", "has been used up"),
        CouponStatus::CustomerLimitReached => (
            "coupon_customer_limit_reached",
            "was already used as often as allowed",
        ),
    };
    vec![Message {
        code: code.into(),
        text: format!("coupon {} {why}", c.code),
        promotion_id: None,
    }]
}

/// Whether a line is selected by a promotion's item filters.
fn matches(c: &Conditions, l: &LineInput) -> bool {
    (c.products.is_empty() || c.products.contains(&l.product_id))
        && (c.variants.is_empty() || c.variants.contains(&l.variant_id))
        && (c.categories.is_empty() || l.categories.iter().any(|k| c.categories.contains(k)))
        && (c.tags.is_empty() || l.tags.iter().any(|t| c.tags.contains(t)))
        && (c.brands.is_empty() || l.brand.as_ref().is_some_and(|b| c.brands.contains(b)))
}

/// Eligible promotions in priority order; messages for a coupon whose promotion does
/// not apply.
fn eligible<'a>(input: &'a QuoteInput, lines: &[Work], messages: &mut Vec<Message>) -> Vec<&'a Promotion> {
    let coupon_valid = input
        .coupon
        .as_ref()
        .is_some_and(|c| c.status == CouponStatus::Valid);
    let mut out: Vec<&Promotion> = input
        .promotions
        .iter()
        .filter(|p| {
            let c = &p.rules.conditions;
            if (c.coupon_required || p.via_coupon) && !(p.via_coupon && coupon_valid) {
                return false;
            }
            let (units, amount) = lines
                .iter()
                .filter(|l| matches(c, l.input))
                .fold((0i128, 0i128), |(u, a), l| {
                    (u + i128::from(l.input.quantity), a + l.subtotal)
                });
            let customer = &input.customer;
            let ok = units > 0
                && c.min_subtotal.is_none_or(|m| amount >= i128::from(m))
                && c.min_quantity.is_none_or(|m| units >= i128::from(m))
                && (c.customer_groups.is_empty()
                    || customer.groups.iter().any(|g| c.customer_groups.contains(g)))
                && (!c.first_order || customer.first_order);
            if !ok && p.via_coupon {
                let text = match c.min_subtotal {
                    Some(m) if amount < i128::from(m) => {
                        format!(
                            "add {} more to use this coupon",
                            display(input, i128::from(m) - amount)
                        )
                    }
                    _ => "the cart does not meet this coupon's conditions".to_string(),
                };
                messages.push(Message {
                    code: "coupon_conditions_not_met".into(),
                    text,
                    promotion_id: Some(p.promotion_id),
                });
            }
            ok
        })
        .collect();
    out.sort_by_key(|p| (std::cmp::Reverse(p.priority), p.promotion_id));
    out
}

/// Whether `a` and `b` may both apply.
fn compatible(a: &Promotion, b: &Promotion) -> bool {
    a.stacking == Stacking::Combinable
        && b.stacking == Stacking::Combinable
        && a.rules.combines_with.contains(&b.rules.action.class())
        && b.rules.combines_with.contains(&a.rules.action.class())
}

/// The priority walk over exclusive and combinable promotions: (taken, skipped).
fn build_stack<'a>(eligible: &[&'a Promotion]) -> (Vec<&'a Promotion>, Vec<&'a Promotion>) {
    let (mut taken, mut skipped): (Vec<&Promotion>, Vec<&Promotion>) = (Vec::new(), Vec::new());
    let mut closed = false;
    for &p in eligible.iter().filter(|p| p.stacking != Stacking::BestOf) {
        let fits = match p.stacking {
            Stacking::Exclusive => taken.is_empty(),
            _ => taken.iter().all(|t| compatible(t, p)),
        };
        if fits && !closed {
            closed = p.stacking == Stacking::Exclusive;
            taken.push(p);
        } else {
            skipped.push(p);
        }
    }
    (taken, skipped)
}

/// Per-line discounts of one action given what is left of each line.
///
/// Values are clamped to their schema ranges so a rule that bypassed validation (a
/// direct `maef.quote` call) cannot divide by zero or give more than a line is worth.
fn apply(action: &Action, matched: &[bool], lines: &[Work], left: &[i128]) -> Vec<i128> {
    let pct = |p: i64| i128::from(p.clamp(0, 100));
    let amt = |a: i64| i128::from(a.max(0));
    let matched_left = |i: usize| if matched[i] { left[i] } else { 0 };
    let n = lines.len();
    match *action {
        Action::PercentOffItems { percent } => {
            let weights: Vec<i128> = (0..n).map(matched_left).collect();
            let total = div_half_even(weights.iter().sum::<i128>() * pct(percent), 100);
            allocate(total, &weights)
        }
        Action::AmountOffItems { amount } => (0..n)
            .map(|i| (amt(amount) * i128::from(lines[i].input.quantity)).min(matched_left(i)))
            .collect(),
        Action::FixedPrice { amount } => (0..n)
            .map(|i| (matched_left(i) - amt(amount) * i128::from(lines[i].input.quantity)).max(0))
            .collect(),
        Action::BuyXGetY { buy, get, percent } => {
            let units: i128 = (0..n)
                .filter(|&i| matched[i])
                .map(|i| i128::from(lines[i].input.quantity))
                .sum();
            let mut free = units / (amt(buy) + amt(get)).max(1) * amt(get);
            // The cheapest units are the ones discounted; ties go to the lower line id.
            let mut order: Vec<usize> = (0..n).filter(|&i| matched[i]).collect();
            order.sort_by_key(|&i| lines[i].input.unit_price);
            let mut weights = vec![0i128; n];
            for i in order {
                let take = free.min(i128::from(lines[i].input.quantity));
                weights[i] = take * i128::from(lines[i].input.unit_price);
                free -= take;
            }
            let total = div_half_even(weights.iter().sum::<i128>() * pct(percent), 100);
            // A line already discounted by an earlier promotion keeps a total >= 0.
            allocate(total, &weights)
                .into_iter()
                .zip(left)
                .map(|(a, l)| a.min(*l))
                .collect()
        }
        Action::PercentOffOrder { percent } => {
            let total = div_half_even(left.iter().sum::<i128>() * pct(percent), 100);
            allocate(total, left)
        }
        Action::AmountOffOrder { amount } => {
            let total = amt(amount).min(left.iter().sum());
            allocate(total, left)
        }
        Action::FreeShipping => vec![0; n],
    }
}

/// Applies a set of promotions (class by class, then priority) to the cart.
fn evaluate(input: &QuoteInput, lines: &[Work], promotions: &[&Promotion]) -> Outcome {
    let mut order: Vec<&Promotion> = promotions.to_vec();
    order.sort_by_key(|p| {
        (
            p.rules.action.class(),
            std::cmp::Reverse(p.priority),
            p.promotion_id,
        )
    });
    let mut left: Vec<i128> = lines.iter().map(|l| l.subtotal).collect();
    let mut line_discounts = vec![Vec::new(); lines.len()];
    let mut applied = Vec::new();
    let mut messages = Vec::new();
    let mut free_shipping: Vec<&Promotion> = Vec::new();
    for p in order {
        if p.rules.action == Action::FreeShipping {
            free_shipping.push(p);
            continue;
        }
        let matched: Vec<bool> = lines
            .iter()
            .map(|l| matches(&p.rules.conditions, l.input))
            .collect();
        let parts = apply(&p.rules.action, &matched, lines, &left);
        let mut given = 0i128;
        for (i, part) in parts.into_iter().enumerate().filter(|(_, a)| *a > 0) {
            left[i] -= part;
            given += part;
            line_discounts[i].push(Discount {
                promotion_id: p.promotion_id,
                name: p.name.clone(),
                amount: part as i64,
            });
        }
        if given > 0 {
            applied.push(AppliedPromotion {
                promotion_id: p.promotion_id,
                name: p.name.clone(),
                class: p.rules.action.class(),
                amount: given as i64,
            });
        }
    }
    let merchandise: i128 = left.iter().sum();
    let mut shipping = ShippingQuote::default();
    if let Some(rate) = &input.shipping {
        shipping.amount = rate.amount;
        let over = rate.free_over.is_some_and(|f| merchandise >= i128::from(f));
        if let (Some(f), false) = (rate.free_over, over) {
            if rate.amount > 0 {
                messages.push(Message {
                    code: "free_shipping_remaining".into(),
                    text: format!(
                        "add {} more for free shipping",
                        display(input, i128::from(f) - merchandise)
                    ),
                    promotion_id: None,
                });
            }
        }
        shipping.total = if over { 0 } else { rate.amount };
        if over && rate.amount > 0 {
            messages.push(Message {
                code: "free_shipping_over_threshold".into(),
                text: "shipping is free above the threshold".into(),
                promotion_id: None,
            });
        }
        for p in free_shipping {
            if shipping.total > 0 {
                shipping.discounts.push(Discount {
                    promotion_id: p.promotion_id,
                    name: p.name.clone(),
                    amount: shipping.total,
                });
                applied.push(AppliedPromotion {
                    promotion_id: p.promotion_id,
                    name: p.name.clone(),
                    class: Class::Shipping,
                    amount: shipping.total,
                });
                shipping.total = 0;
            }
        }
    }
    Outcome {
        line_discounts,
        pays: merchandise + i128::from(shipping.total),
        shipping,
        applied,
        messages,
    }
}

/// Tax on an amount at `rate_bp`, included in it or added to it; rounded half to even.
fn tax(amount: i128, rate_bp: i64, inclusive: bool) -> i128 {
    let rate = i128::from(rate_bp);
    if inclusive {
        div_half_even(amount * rate, 10_000 + rate)
    } else {
        div_half_even(amount * rate, 10_000)
    }
}

fn fit(v: i128) -> Result<i64, QuoteError> {
    i64::try_from(v).map_err(|_| QuoteError::Overflow)
}

/// Builds the quote from the kept outcome: line totals, tax, grand total.
fn finish(
    input: &QuoteInput,
    lines: &[Work],
    outcome: Outcome,
    messages: Vec<Message>,
) -> Result<Quote, QuoteError> {
    let inclusive = input.tax_inclusive;
    let mut out_lines = Vec::with_capacity(lines.len());
    let (mut subtotal, mut discount_total, mut tax_total) = (0i128, 0i128, 0i128);
    for (l, discounts) in lines.iter().zip(outcome.line_discounts) {
        let discount: i128 = discounts.iter().map(|d| i128::from(d.amount)).sum();
        let total = l.subtotal - discount;
        let line_tax = tax(total, l.input.tax_rate_bp, inclusive);
        subtotal += l.subtotal;
        discount_total += discount;
        tax_total += line_tax;
        out_lines.push(LineQuote {
            line_id: l.input.line_id,
            variant_id: l.input.variant_id,
            quantity: l.input.quantity,
            unit_price: l.input.unit_price,
            compare_at: l.input.compare_at,
            subtotal: fit(l.subtotal)?,
            discounts,
            discount_total: fit(discount)?,
            total: fit(total)?,
            tax_rate_bp: l.input.tax_rate_bp,
            tax: fit(line_tax)?,
            label: l.input.label.clone(),
        });
    }
    let mut shipping = outcome.shipping;
    if let Some(rate) = &input.shipping {
        shipping.tax = fit(tax(i128::from(shipping.total), rate.tax_rate_bp, inclusive))?;
    }
    tax_total += i128::from(shipping.tax);
    let before_tax = subtotal - discount_total + i128::from(shipping.total);
    let grand_total = if inclusive {
        before_tax
    } else {
        before_tax + tax_total
    };
    Ok(Quote {
        currency: input.currency.clone(),
        exponent: input.exponent,
        tax_inclusive: inclusive,
        lines: out_lines,
        promotions: outcome.applied,
        subtotal: fit(subtotal)?,
        discount_total: fit(discount_total)?,
        shipping_total: shipping.total,
        shipping,
        tax_total: fit(tax_total)?,
        grand_total: fit(grand_total)?,
        messages,
    })
}
