//! The shape of a cart's quote (`maef.quote_cart` plus the cart's identity and the
//! shipping method quoted), shared by the cart, shipping and checkout routes' OpenAPI
//! operations. Bodies are JSON made by PostgreSQL and passed through untouched: these
//! types exist for the document only (the tests validate every response against it).

use serde::Serialize;
use utoipa::ToSchema;

/// A discount given by a promotion, on a line or on shipping.
#[derive(Serialize, ToSchema)]
pub struct Discount {
    /// The promotion.
    pub promotion_id: i64,
    /// Its name, shown to the customer.
    pub name: String,
    /// Minor units.
    pub amount: i64,
}

/// A priced cart line.
#[derive(Serialize, ToSchema)]
pub struct QuoteLine {
    /// The cart item id (`PATCH/DELETE /api/v1/cart/items/{id}`).
    pub line_id: i64,
    pub variant_id: i64,
    pub quantity: i64,
    /// Unit price after volume tiers and price lists, minor units.
    pub unit_price: i64,
    /// The "was" price, if any.
    pub compare_at: Option<i64>,
    /// `unit_price × quantity`.
    pub subtotal: i64,
    /// Discounts allocated to this line, in the order they applied.
    pub discounts: Vec<Discount>,
    pub discount_total: i64,
    /// `subtotal − discount_total`.
    pub total: i64,
    /// Basis points (2000 = 20 %).
    pub tax_rate_bp: i64,
    /// Tax on `total` (inside it when prices include tax).
    pub tax: i64,
    /// `{sku, variant_name, product_title, product_slug}`.
    pub label: Option<serde_json::Value>,
}

/// A promotion that gave something.
#[derive(Serialize, ToSchema)]
pub struct AppliedPromotion {
    pub promotion_id: i64,
    pub name: String,
    /// `product`, `order` or `shipping`.
    pub class: String,
    pub amount: i64,
}

/// Shipping in a quote.
#[derive(Serialize, ToSchema)]
pub struct ShippingQuote {
    /// The method's rate before discounts.
    pub amount: i64,
    /// Free shipping, free-over threshold.
    pub discounts: Vec<Discount>,
    /// What the customer pays for shipping.
    pub total: i64,
    /// Tax on `total`.
    pub tax: i64,
}

/// A message for the shopper (`coupon_expired`, `free_shipping_remaining`, …).
#[derive(Serialize, ToSchema)]
pub struct QuoteMessage {
    pub code: String,
    pub text: String,
    pub promotion_id: Option<i64>,
}

/// The shipping method a quote uses.
#[derive(Serialize, ToSchema)]
pub struct ShippingMethodBrief {
    pub code: String,
    pub name: String,
    /// `delivery` or `pickup`.
    pub kind: String,
    /// Delivery estimate, in days.
    pub min_days: Option<i32>,
    pub max_days: Option<i32>,
}

/// A cart's quote.
#[derive(Serialize, ToSchema)]
pub struct Quote {
    /// ISO 4217 code.
    pub currency: String,
    /// Decimals of the currency (XOF 0, EUR 2).
    pub exponent: i32,
    /// Whether amounts include tax.
    pub tax_inclusive: bool,
    pub lines: Vec<QuoteLine>,
    pub promotions: Vec<AppliedPromotion>,
    pub subtotal: i64,
    /// Line discounts (shipping discounts are in `shipping`).
    pub discount_total: i64,
    pub shipping_total: i64,
    pub shipping: ShippingQuote,
    pub tax_total: i64,
    /// What the customer pays; checkout's `expected_total`.
    pub grand_total: i64,
    /// `"1,234.50 EUR"`.
    pub grand_total_formatted: String,
    pub messages: Vec<QuoteMessage>,
    pub cart_id: String,
    pub coupon_code: Option<String>,
    pub shipping_country: Option<String>,
    /// The method quoted (the one chosen, else the first offered); null when none is
    /// offered for the destination.
    pub shipping_method: Option<ShippingMethodBrief>,
}
