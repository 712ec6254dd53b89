//! Input and output of a quote. Both are plain serde types so they travel as `jsonb`
//! between SQL and the engine; amounts are `i64` minor units of the cart's currency.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Everything the engine needs to price one cart. SQL builds it (`api._quote_input`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteInput {
    /// ISO 4217 code of the cart's one currency.
    pub currency: String,
    /// The currency's exponent (XOF 0, EUR 2): echoed so clients can display amounts.
    pub exponent: i32,
    /// Whether unit prices and shipping include tax (a store setting per currency).
    #[serde(default)]
    pub tax_inclusive: bool,
    /// The cart's lines; their order does not matter (the engine sorts by `line_id`).
    pub lines: Vec<LineInput>,
    /// Promotions that are active and in their window at the quote's instant.
    #[serde(default)]
    pub promotions: Vec<Promotion>,
    /// The coupon entered on the cart, with the validity SQL found for it.
    #[serde(default)]
    pub coupon: Option<CouponInput>,
    /// Who is buying (for group and first-order conditions).
    #[serde(default)]
    pub customer: Customer,
    /// The shipping rate for the destination, if one is known.
    #[serde(default)]
    pub shipping: Option<ShippingInput>,
}

/// One cart line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineInput {
    /// Stable id of the line (`cart_item_id`): the canonical order and tie-breaker.
    pub line_id: i64,
    /// The variant bought.
    pub variant_id: i64,
    /// Its product.
    #[serde(default)]
    pub product_id: i64,
    /// Units, at least 1.
    pub quantity: i64,
    /// Unit price in minor units, already resolved (window, tier, price list).
    pub unit_price: i64,
    /// The "was" price shown struck through, if any.
    #[serde(default)]
    pub compare_at: Option<i64>,
    /// The product's category and all its ancestors (so a rule on a parent matches).
    #[serde(default)]
    pub categories: Vec<i64>,
    /// Tag slugs of the product.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Brand of the product.
    #[serde(default)]
    pub brand: Option<String>,
    /// Tax rate in basis points (2000 = 20 %).
    #[serde(default)]
    pub tax_rate_bp: i64,
    /// Display data (SKU, titles) echoed untouched on the quote line, so SQL need not
    /// join the catalog again after pricing.
    #[serde(default)]
    pub label: Option<serde_json::Value>,
}

/// How a promotion combines with the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stacking {
    /// Applies alone: only if nothing of higher priority applied, and then nothing else.
    Exclusive,
    /// Applies together with promotions of the classes both sides declare in `combines_with`.
    Combinable,
    /// Competes: the engine keeps it only if it alone beats the rest for the customer.
    BestOf,
}

/// What a promotion discounts, like Shopify's discount classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Discounts on items (percent, amount, fixed price, buy X get Y).
    Product,
    /// Discounts on the whole order.
    Order,
    /// Discounts on shipping.
    Shipping,
}

/// A promotion as stored in `shop.promotion`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promotion {
    /// Its id.
    pub promotion_id: i64,
    /// Its name, shown next to the discounts it gives.
    pub name: String,
    /// Higher first.
    #[serde(default)]
    pub priority: i32,
    /// Stacking policy.
    pub stacking: Stacking,
    /// Conditions and action (validated by [`crate::pricing::validate_rules`] when saved).
    pub rules: Rules,
    /// Whether the cart's valid coupon unlocks this promotion.
    #[serde(default)]
    pub via_coupon: bool,
}

/// The `rules` document of a promotion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// All must hold (an absent condition always holds).
    #[serde(default)]
    pub conditions: Conditions,
    /// What the promotion gives.
    pub action: Action,
    /// Classes this promotion may combine with (for `combinable`).
    #[serde(default)]
    pub combines_with: Vec<Class>,
}

/// Conditions of a promotion. Item filters (`products` … `brands`) select the *matched
/// lines*: a line matches when it is in every filter given (and in any value of each).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// Minimum subtotal of the matched lines (before discounts).
    #[serde(default)]
    pub min_subtotal: Option<i64>,
    /// Minimum number of matched units.
    #[serde(default)]
    pub min_quantity: Option<i64>,
    /// Product ids.
    #[serde(default)]
    pub products: Vec<i64>,
    /// Variant ids.
    #[serde(default)]
    pub variants: Vec<i64>,
    /// Category ids (descendants match through the lines' ancestor lists).
    #[serde(default)]
    pub categories: Vec<i64>,
    /// Tag slugs.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Brands.
    #[serde(default)]
    pub brands: Vec<String>,
    /// The customer must be in one of these groups.
    #[serde(default)]
    pub customer_groups: Vec<String>,
    /// The customer must not have ordered before.
    #[serde(default)]
    pub first_order: bool,
    /// Only a valid coupon of this promotion unlocks it.
    #[serde(default)]
    pub coupon_required: bool,
}

/// What a promotion gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// `percent` % off the matched lines.
    PercentOffItems {
        /// 1..=100.
        percent: i64,
    },
    /// `amount` off each matched unit (never below zero).
    AmountOffItems {
        /// Minor units per unit.
        amount: i64,
    },
    /// Each matched unit costs `amount` (if it cost more).
    FixedPrice {
        /// Minor units per unit.
        amount: i64,
    },
    /// For every `buy + get` matched units, the `get` cheapest are `percent` % off.
    BuyXGetY {
        /// Units paid.
        buy: i64,
        /// Units discounted.
        get: i64,
        /// Discount on them, 100 = free.
        #[serde(default = "hundred")]
        percent: i64,
    },
    /// `percent` % off the order (after item discounts).
    PercentOffOrder {
        /// 1..=100.
        percent: i64,
    },
    /// `amount` off the order (after item discounts), capped at what is left.
    AmountOffOrder {
        /// Minor units.
        amount: i64,
    },
    /// Shipping is free.
    FreeShipping,
}

fn hundred() -> i64 {
    100
}

impl Action {
    /// The class of discount this action gives.
    #[must_use]
    pub fn class(&self) -> Class {
        match self {
            Self::PercentOffItems { .. }
            | Self::AmountOffItems { .. }
            | Self::FixedPrice { .. }
            | Self::BuyXGetY { .. } => Class::Product,
            Self::PercentOffOrder { .. } | Self::AmountOffOrder { .. } => Class::Order,
            Self::FreeShipping => Class::Shipping,
        }
    }
}

/// Validity of the cart's coupon as SQL found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouponStatus {
    /// Usable.
    Valid,
    /// No such code.
    Unknown,
    /// Switched off.
    Inactive,
    /// Before its window.
    NotStarted,
    /// After its window.
    Expired,
    /// Global usage limit reached.
    Exhausted,
    /// This customer used it as often as allowed.
    CustomerLimitReached,
}

/// The coupon entered on a cart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponInput {
    /// The code as entered.
    pub code: String,
    /// What SQL found.
    pub status: CouponStatus,
}

/// The buyer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// Customer group codes.
    #[serde(default)]
    pub groups: Vec<String>,
    /// True when the customer has no placed order yet (guests count as first order).
    #[serde(default)]
    pub first_order: bool,
}

/// The shipping rate for the cart's destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingInput {
    /// Flat rate in minor units.
    pub amount: i64,
    /// Free when the merchandise total after discounts reaches this.
    #[serde(default)]
    pub free_over: Option<i64>,
    /// Tax rate on shipping in basis points.
    #[serde(default)]
    pub tax_rate_bp: i64,
}

/// A discount on a line (or on shipping), with the promotion that gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discount {
    /// The promotion.
    pub promotion_id: i64,
    /// Its name.
    pub name: String,
    /// Minor units.
    pub amount: i64,
}

/// One priced line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineQuote {
    /// As in the input.
    pub line_id: i64,
    /// As in the input.
    pub variant_id: i64,
    /// Units.
    pub quantity: i64,
    /// Unit price.
    pub unit_price: i64,
    /// "Was" price.
    pub compare_at: Option<i64>,
    /// `unit_price × quantity`.
    pub subtotal: i64,
    /// Discounts allocated to this line, in the order they were applied.
    pub discounts: Vec<Discount>,
    /// Sum of `discounts`.
    pub discount_total: i64,
    /// `subtotal − discount_total`.
    pub total: i64,
    /// Tax rate in basis points.
    pub tax_rate_bp: i64,
    /// Tax on `total` (included in it when prices are tax-inclusive).
    pub tax: i64,
    /// The input line's `label`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<serde_json::Value>,
}

/// A promotion that applied, with what it gave in total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedPromotion {
    /// The promotion.
    pub promotion_id: i64,
    /// Its name.
    pub name: String,
    /// Its class.
    pub class: Class,
    /// Total discount (sum of its line and shipping allocations).
    pub amount: i64,
}

/// Shipping in a quote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingQuote {
    /// The rate before discounts.
    pub amount: i64,
    /// Discounts on it (free shipping, free-over threshold).
    pub discounts: Vec<Discount>,
    /// What the customer pays for shipping.
    pub total: i64,
    /// Tax on `total`.
    pub tax: i64,
}

/// A message for the customer ("coupon expired", "promotion not combinable", …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Stable code (`coupon_expired`).
    pub code: String,
    /// English sentence.
    pub text: String,
    /// The promotion it is about, if any.
    pub promotion_id: Option<i64>,
}

/// The result of pricing a cart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// Currency code.
    pub currency: String,
    /// Its exponent.
    pub exponent: i32,
    /// Whether amounts include tax.
    pub tax_inclusive: bool,
    /// Lines sorted by `line_id`.
    pub lines: Vec<LineQuote>,
    /// Promotions that gave something, in application order.
    pub promotions: Vec<AppliedPromotion>,
    /// Sum of line subtotals.
    pub subtotal: i64,
    /// Sum of line discounts (shipping discounts are in `shipping`).
    pub discount_total: i64,
    /// Shipping after its discounts.
    pub shipping_total: i64,
    /// Shipping detail.
    pub shipping: ShippingQuote,
    /// Sum of line taxes and shipping tax.
    pub tax_total: i64,
    /// What the customer pays: `subtotal − discount_total + shipping_total`, plus
    /// `tax_total` when prices are tax-exclusive.
    pub grand_total: i64,
    /// Messages for the customer.
    pub messages: Vec<Message>,
}

/// Why a cart cannot be quoted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum QuoteError {
    /// A line has a quantity below 1.
    #[error("line {0}: quantity must be at least 1")]
    BadQuantity(i64),
    /// A line or rate has a negative amount.
    #[error("line {0}: amounts must not be negative")]
    NegativeAmount(i64),
    /// Two lines share an id.
    #[error("line id {0} appears twice")]
    DuplicateLine(i64),
    /// Two promotions share an id.
    #[error("promotion id {0} appears twice")]
    DuplicatePromotion(i64),
    /// Amounts do not fit in 64-bit minor units.
    #[error("amounts are too large for 64-bit minor units")]
    Overflow,
    /// The currency exponent is outside 0..=4.
    #[error("currency exponent {0} is outside 0..=4")]
    BadExponent(i32),
}
