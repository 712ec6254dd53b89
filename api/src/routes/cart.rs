//! The cart: guest (by the `X-Cart-Session` header) or the signed-in user's. Every
//! route answers with the cart's full quote, computed in PostgreSQL by `maef.quote_cart`.

use axum::{
    extract::{FromRequestParts, State},
    http::{request::Parts, StatusCode},
};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    caller::{Caller, ClientAddr},
    db::Access,
    error::{ApiError, Problem},
    extract::{Json, Path},
    routes::catalog_types::Currency,
    routes::{answer, JsonText},
    AppState,
};

/// `/api/v1/cart…`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(open_cart, show_cart))
        .routes(routes!(add_item))
        .routes(routes!(update_item, remove_item))
        .routes(routes!(apply_coupon, remove_coupon))
}

/// The guest cart's secret session id from `X-Cart-Session` (returned once by
/// `POST /api/v1/cart`), if the client sent one.
pub struct CartSession(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for CartSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.headers.get("x-cart-session") {
            None => Ok(Self(None)),
            Some(v) => match v.to_str() {
                Ok(s) if (1..=128).contains(&s.len()) => Ok(Self(Some(s.to_string()))),
                _ => Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_cart_session",
                    "X-Cart-Session must be 1 to 128 visible ASCII characters",
                )),
            },
        }
    }
}

/// The `X-Cart-Session` header of every cart route, for the OpenAPI document.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // documents the header; [`CartSession`] reads it
pub struct CartSessionHeader {
    /// A guest cart's session id, as returned once in `session` by `POST /api/v1/cart`
    /// (1 to 128 visible ASCII characters, else 400 `invalid_cart_session`). A
    /// signed-in caller's cart is found by the token instead.
    #[param(rename = "X-Cart-Session", pattern = "^[!-~]([ -~]{0,126}[!-~])?$")]
    pub x_cart_session: Option<String>,
}

/// Body of `POST /api/v1/cart`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"currency": "XOF", "shipping_country": "SN"}))]
pub struct OpenCart {
    /// ISO 4217 currency of a new cart (an open cart keeps its own).
    #[schema(value_type = Currency)]
    pub currency: String,
    /// ISO 3166 alpha-2 destination, for tax and shipping (defaults to the store's).
    #[schema(pattern = "^[A-Z]{2}$")]
    pub shipping_country: Option<String>,
}

/// A cart and its quote, computed in PostgreSQL by the pricing engine
/// (`maef.quote_cart`): lines with unit prices and the discounts each promotion gave,
/// totals, shipping and messages. Amounts are minor units of `currency`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "currency": "XOF", "exponent": 0, "tax_inclusive": true,
    "lines": [{"line_id": 7, "variant_id": 31, "quantity": 2, "unit_price": 15000, "compare_at": null,
               "subtotal": 30000, "discounts": [{"promotion_id": 3, "name": "Tabaski -10 %", "amount": 3000}],
               "discount_total": 3000, "total": 27000, "tax_rate_bp": 1800, "tax": 4119,
               "label": {"sku": "RW-NDEYE-M", "variant_name": "M", "product_title": "Robe wax Ndèye",
                         "product_slug": "robe-wax-ndeye"}}],
    "promotions": [{"promotion_id": 3, "name": "Tabaski -10 %", "class": "product", "amount": 3000}],
    "subtotal": 30000, "discount_total": 3000, "shipping_total": 2000,
    "shipping": {"amount": 2000, "discounts": [], "total": 2000, "tax": 305},
    "tax_total": 4424, "grand_total": 29000, "messages": [],
    "cart_id": "5f0c3a8e-2b7d-4c1e-9a6f-8d3b2e1c0a9f", "coupon_code": null, "shipping_country": "SN",
    "grand_total_formatted": "29,000 XOF",
    "shipping_method": {"code": "standard", "name": "Standard delivery", "kind": "delivery", "min_days": 2, "max_days": 5}
}))]
pub struct CartQuote {
    #[schema(pattern = "^[A-Z]{3}$")]
    pub currency: String,
    /// Decimal places of the currency (0 for XOF, 2 for EUR).
    #[schema(minimum = 0, maximum = 4)]
    pub exponent: i32,
    /// Whether prices include tax (the store setting of the currency).
    pub tax_inclusive: bool,
    /// In the order the items were added.
    pub lines: Vec<QuoteLine>,
    /// Promotions that gave something, in the order applied.
    pub promotions: Vec<AppliedPromotion>,
    /// Sum of the line subtotals.
    pub subtotal: i64,
    /// Sum of the line discounts (shipping discounts are in `shipping`).
    pub discount_total: i64,
    /// Shipping after its discounts.
    pub shipping_total: i64,
    pub shipping: ShippingQuote,
    /// Line taxes and shipping tax.
    pub tax_total: i64,
    /// What the customer pays.
    pub grand_total: i64,
    /// For the customer: `coupon_expired`, `coupon_unknown`, `item_unavailable`, …
    pub messages: Vec<QuoteMessage>,
    pub cart_id: uuid::Uuid,
    /// The code entered, usable or not (`messages` say why not).
    #[schema(required)]
    pub coupon_code: Option<String>,
    #[schema(required)]
    pub shipping_country: Option<String>,
    /// `grand_total` for display, e.g. `29,000 XOF`.
    pub grand_total_formatted: String,
    /// The shipping method quoted: the one chosen (`PUT /api/v1/cart/shipping-method`),
    /// else the first offered for the destination and currency; null when none is
    /// offered (no shipping is charged then).
    #[schema(required)]
    pub shipping_method: Option<ShippingMethodBrief>,
    /// Only in the answer that opened a new guest cart: its secret session id, to send
    /// as `X-Cart-Session` from then on (it is not shown again).
    #[schema(nullable = false)]
    pub session: Option<String>,
}

/// The shipping method a quote uses.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShippingMethodBrief {
    pub code: String,
    pub name: String,
    /// `delivery` (needs a shipping address) or `pickup`.
    pub kind: ShippingKind,
    /// Delivery estimate, in days.
    #[schema(required)]
    pub min_days: Option<i32>,
    #[schema(required)]
    pub max_days: Option<i32>,
}

/// How a shipping method reaches the customer.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShippingKind {
    Delivery,
    Pickup,
}

/// A priced line of a quote.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteLine {
    /// The cart item's id (for `PATCH`/`DELETE /api/v1/cart/items/{id}`).
    pub line_id: i64,
    pub variant_id: i64,
    pub quantity: i64,
    /// After any volume tier or customer-group price.
    pub unit_price: i64,
    /// The "was" price.
    #[schema(required)]
    pub compare_at: Option<i64>,
    /// `unit_price × quantity`.
    pub subtotal: i64,
    pub discounts: Vec<QuoteDiscount>,
    pub discount_total: i64,
    /// `subtotal − discount_total`.
    pub total: i64,
    /// Basis points (2000 = 20 %).
    pub tax_rate_bp: i64,
    /// Tax on `total` (included in it when prices include tax).
    pub tax: i64,
    pub label: LineLabel,
}

/// What a line is, for display.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineLabel {
    pub sku: String,
    pub variant_name: String,
    pub product_title: String,
    pub product_slug: String,
}

/// A discount and the promotion that gave it.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteDiscount {
    pub promotion_id: i64,
    pub name: String,
    pub amount: i64,
}

/// A promotion that applied, with its total.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppliedPromotion {
    pub promotion_id: i64,
    pub name: String,
    /// What it discounts.
    pub class: PromotionClass,
    pub amount: i64,
}

/// What a promotion discounts.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PromotionClass {
    Product,
    Order,
    Shipping,
}

/// Shipping in a quote.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShippingQuote {
    /// The rate before discounts.
    pub amount: i64,
    pub discounts: Vec<QuoteDiscount>,
    pub total: i64,
    pub tax: i64,
}

/// A message of a quote.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteMessage {
    /// Stable code (`coupon_expired`, `item_unavailable`, …).
    pub code: String,
    /// English sentence.
    pub text: String,
    #[schema(required)]
    pub promotion_id: Option<i64>,
}

/// Opens the caller's cart or returns the open one. A guest receives `session` once;
/// a signed-in caller sending a guest `X-Cart-Session` gets that cart merged into theirs.
#[utoipa::path(post, path = "/api/v1/cart", tag = "cart", request_body = OpenCart,
    params(CartSessionHeader), security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The cart's quote (plus `session` for a new guest cart)", body = CartQuote),
        (status = 400, description = "Bad `X-Cart-Session` (`invalid_cart_session`) or malformed JSON", body = Problem),
        (status = 422, description = "Codes: `unknown_currency`, `invalid_country`, `invalid_body`", body = Problem),
    ))]
pub async fn open_cart(
    State(state): State<AppState>,
    caller: Caller,
    CartSession(session): CartSession,
    Json(body): Json<OpenCart>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.cart_open($1::text::char(3), $2, $3::text::char(2))::text",
        &[&body.currency, &session, &body.shipping_country],
    )
    .await
}

/// The caller's cart: lines with unit prices and the discounts each promotion gave,
/// totals, currency and messages ("coupon SPRING has expired").
#[utoipa::path(get, path = "/api/v1/cart", tag = "cart", params(CartSessionHeader), security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The cart's quote", body = CartQuote),
        (status = 400, description = "Bad `X-Cart-Session` (`invalid_cart_session`)", body = Problem),
        (status = 404, description = "No open cart (`cart_not_found`)", body = Problem),
    ))]
pub async fn show_cart(
    State(state): State<AppState>,
    caller: Caller,
    CartSession(session): CartSession,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.cart($1)::text",
        &[&session],
    )
    .await
}

/// Body of `POST /api/v1/cart/items`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"variant_id": 31, "quantity": 2}))]
pub struct AddItem {
    /// The variant.
    pub variant_id: i64,
    /// Units to add (the line holds at most 999 in all).
    #[schema(minimum = 1, maximum = 999)]
    pub quantity: i32,
}

/// Adds a variant (to its line if it is already in the cart).
#[utoipa::path(post, path = "/api/v1/cart/items", tag = "cart", request_body = AddItem,
    params(CartSessionHeader), security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The cart's quote", body = CartQuote),
        (status = 400, description = "Bad `X-Cart-Session` (`invalid_cart_session`) or malformed JSON", body = Problem),
        (status = 404, description = "No open cart (`cart_not_found`), or no such variant for sale (`variant_not_found`)", body = Problem),
        (status = 422, description = "Codes: `cart_item_quantity_range` (the line would pass 999), \
            `insufficient_stock` (details: `{\"available\": n}`), `variant_not_priced` (no price in the cart's currency), \
            `invalid_body`", body = Problem),
    ))]
pub async fn add_item(
    State(state): State<AppState>,
    caller: Caller,
    CartSession(session): CartSession,
    Json(body): Json<AddItem>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.cart_add_item($1, $2, $3)::text",
        &[&body.variant_id, &body.quantity, &session],
    )
    .await
}

/// Body of `PATCH /api/v1/cart/items/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateItem {
    /// The new quantity.
    #[schema(minimum = 1, maximum = 999)]
    pub quantity: i32,
}

/// Sets a line's quantity.
#[utoipa::path(patch, path = "/api/v1/cart/items/{id}", tag = "cart", request_body = UpdateItem,
    params(("id" = i64, Path, description = "Cart item id (a quote line's `line_id`)"), CartSessionHeader),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The cart's quote", body = CartQuote),
        (status = 400, description = "Bad `X-Cart-Session` (`invalid_cart_session`) or malformed JSON", body = Problem),
        (status = 404, description = "No open cart (`cart_not_found`) or no such line in it (`cart_item_not_found`)", body = Problem),
        (status = 422, description = "Codes: `insufficient_stock` (details: `{\"available\": n}`), \
            `cart_item_quantity_range`, `invalid_body`", body = Problem),
    ))]
pub async fn update_item(
    State(state): State<AppState>,
    caller: Caller,
    CartSession(session): CartSession,
    Path(id): Path<i64>,
    Json(body): Json<UpdateItem>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.cart_update_item($1, $2, $3)::text",
        &[&id, &body.quantity, &session],
    )
    .await
}

/// Removes a line.
#[utoipa::path(delete, path = "/api/v1/cart/items/{id}", tag = "cart",
    params(("id" = i64, Path, description = "Cart item id (a quote line's `line_id`)"), CartSessionHeader),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The cart's quote", body = CartQuote),
        (status = 400, description = "Bad `X-Cart-Session` (`invalid_cart_session`)", body = Problem),
        (status = 404, description = "No open cart (`cart_not_found`) or no such line in it (`cart_item_not_found`)", body = Problem),
    ))]
pub async fn remove_item(
    State(state): State<AppState>,
    caller: Caller,
    CartSession(session): CartSession,
    Path(id): Path<i64>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.cart_remove_item($1, $2)::text",
        &[&id, &session],
    )
    .await
}

/// Body of `POST /api/v1/cart/coupon`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "TABASKI10"}))]
pub struct ApplyCoupon {
    /// The code, case-insensitive: 1 to 64 characters once the spaces around it are
    /// trimmed.
    #[schema(pattern = "[^ ]", max_length = 64)]
    pub code: String,
}

/// Puts a coupon on the cart. A code that does not exist (404 `coupon_not_found`) or
/// cannot be used now (422 `coupon_expired`, `coupon_exhausted`, …) is refused and
/// nothing is kept; a valid code whose conditions the cart does not meet yet stays, and
/// the quote's messages say what is missing. Attempts, refused ones included, are
/// throttled per client address.
#[utoipa::path(post, path = "/api/v1/cart/coupon", tag = "cart", request_body = ApplyCoupon,
    params(CartSessionHeader), security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The cart's quote", body = CartQuote),
        (status = 400, description = "Bad `X-Cart-Session` (`invalid_cart_session`) or malformed JSON", body = Problem),
        (status = 404, description = "No open cart (`cart_not_found`), or no coupon has this code (`coupon_not_found`)", body = Problem),
        (status = 422, description = "Codes: `coupon_inactive`, `coupon_not_started`, `coupon_expired`, `coupon_exhausted`, `coupon_customer_limit_reached` (the code cannot be used now; nothing is kept), `coupon_code_length`, `invalid_body`", body = Problem),
        (status = 429, description = "Too many attempts (`rate_limited`)", body = Problem,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn apply_coupon(
    State(state): State<AppState>,
    caller: Caller,
    CartSession(session): CartSession,
    ClientAddr(client): ClientAddr,
    Json(body): Json<ApplyCoupon>,
) -> Result<JsonText, ApiError> {
    let reply = answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.cart_apply_coupon($1, $2, $3)::text",
        &[&body.code, &session, &client],
    )
    .await?;
    match refusal(&reply.1) {
        Some(error) => Err(error),
        None => Ok(reply),
    }
}

/// A refusal `api.cart_apply_coupon` returned instead of raising it (so that the
/// attempt counter commits): `{"error": {status, code, message, hint}}`. A quote never
/// starts with that key, so the check costs a prefix comparison.
fn refusal(body: &str) -> Option<ApiError> {
    if !body.starts_with("{\"error\"") {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    let error = &value["error"];
    let status = error["status"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .filter(StatusCode::is_client_error)
        .unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
    let mut problem = ApiError::new(
        status,
        error["code"].as_str().unwrap_or("coupon_refused"),
        error["message"].as_str().unwrap_or("this coupon cannot be used"),
    );
    if let Some(hint) = error["hint"].as_str() {
        problem = problem.hint(hint);
    }
    Some(problem)
}

/// Takes the coupon off the cart.
#[utoipa::path(delete, path = "/api/v1/cart/coupon", tag = "cart", params(CartSessionHeader),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The cart's quote", body = CartQuote),
        (status = 400, description = "Bad `X-Cart-Session` (`invalid_cart_session`)", body = Problem),
        (status = 404, description = "No open cart (`cart_not_found`)", body = Problem),
    ))]
pub async fn remove_coupon(
    State(state): State<AppState>,
    caller: Caller,
    CartSession(session): CartSession,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.cart_remove_coupon($1)::text",
        &[&session],
    )
    .await
}
