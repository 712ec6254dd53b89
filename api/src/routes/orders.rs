//! Orders: the customer's own (`orders:read:own` through row ownership), a guest's with
//! the token returned at checkout, and staff's (`orders:read:any`, `orders:write:any`:
//! notes, cancelling an unpaid order). State changes and their rules are in the
//! database (`sql/orders.sql`, `migrations/V27__orders.sql`): an illegal one is a 409
//! `order_transition_invalid` naming machine, from and to.

use axum::{
    extract::{FromRequestParts, State},
    http::{request::Parts, StatusCode},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    caller::{Caller, OrdersReadAny, OrdersWriteAny, Require, SignedIn},
    db::Access,
    error::{ApiError, Problem},
    extract::{Json, Path, Query},
    routes::{
        answer,
        cart::{AppliedPromotion, QuoteDiscount, ShippingKind},
        catalog_types::{Currency, Timestamp},
        JsonText,
    },
    AppState,
};

/// `/api/v1/orders…` and `/api/v1/admin/orders…`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_orders))
        .routes(routes!(order))
        .routes(routes!(admin_orders))
        .routes(routes!(admin_order))
        .routes(routes!(add_note))
        .routes(routes!(cancel_order))
}

/// An order's life (`shop.order_transition` lists the allowed changes).
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    AwaitingPayment,
    /// Cash on delivery: stock held, payment pending.
    Confirmed,
    Paid,
    PartiallyFulfilled,
    Fulfilled,
    Delivered,
    Cancelled,
    Expired,
}

/// An order's payment.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    None,
    Pending,
    Paid,
    PartiallyRefunded,
    Refunded,
}

/// An order's fulfilment.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FulfillmentStatus {
    Unfulfilled,
    PartiallyFulfilled,
    Fulfilled,
    Delivered,
}

/// What a timeline entry records.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderEventKind {
    Placed,
    Status,
    PaymentStatus,
    FulfillmentStatus,
    Note,
    /// A shipment was made or changed state (`from`/`to`: shipment states).
    Shipment,
    /// The order or some of its lines were cancelled.
    Cancellation,
    /// A return request changed state (`from`/`to`: return states).
    Return,
    /// An invoice or credit note was issued.
    Invoice,
}

/// A stock reservation's state.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReservationStatus {
    Active,
    Sold,
    Released,
}

/// An address an order keeps (normalised when the order was placed).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderAddress {
    pub full_name: String,
    pub company: String,
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    #[schema(pattern = "^[A-Z]{2}$")]
    pub country: String,
    /// E.164, or empty.
    pub phone: String,
}

/// The shipping method an order keeps, with what it cost.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderShippingMethod {
    pub code: String,
    pub name: String,
    pub kind: ShippingKind,
    #[schema(required)]
    pub min_days: Option<i32>,
    #[schema(required)]
    pub max_days: Option<i32>,
    /// The method's rate before discounts (minor units).
    pub rate: i64,
    /// Free shipping, free-over threshold.
    pub discounts: Vec<QuoteDiscount>,
}

/// A line of an order: a copy of the quote's line when the order was placed.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderLine {
    pub id: i64,
    /// Null once the variant is deleted (the copy stays).
    #[schema(required)]
    pub variant_id: Option<i64>,
    #[schema(required)]
    pub product_id: Option<i64>,
    pub sku: String,
    pub product_title: String,
    pub variant_name: String,
    pub product_slug: String,
    pub quantity: i32,
    pub unit_price: i64,
    #[schema(required)]
    pub compare_at: Option<i64>,
    pub subtotal: i64,
    /// Discounts allocated to this line.
    pub discounts: Vec<QuoteDiscount>,
    pub discount_total: i64,
    pub total: i64,
    pub tax_rate_bp: i32,
    pub tax: i64,
    /// Units reserved beyond the stock on hand (backorder): they ship when stock arrives.
    pub backordered_quantity: i32,
    /// Units in shipments (fulfilment, `docs/fulfilment.md`).
    pub quantity_shipped: i32,
    /// Units cancelled before they shipped.
    pub quantity_cancelled: i32,
    /// Units back through returns or parcels returned to sender.
    pub quantity_returned: i32,
    /// Units in delivered parcels.
    pub quantity_delivered: i32,
    /// Units a return request may still ask for: delivered, not already in a return
    /// that was not rejected (`POST /api/v1/orders/{number}/returns`).
    pub quantity_returnable: i32,
    /// Until when a return of this line is accepted (its last delivery plus the store's
    /// return window); null while nothing of it was delivered.
    #[schema(required, value_type = Option<Timestamp>)]
    pub returnable_until: Option<String>,
}

/// An entry of the order's timeline.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderEvent {
    #[schema(value_type = Timestamp)]
    pub at: String,
    pub kind: OrderEventKind,
    #[schema(required)]
    pub from: Option<String>,
    #[schema(required)]
    pub to: Option<String>,
    pub note: String,
    /// Staff only: a note the customer does not see.
    #[schema(nullable = false)]
    pub is_internal: Option<bool>,
    /// Staff only: who made the change (null: the system or psql).
    pub actor_id: Option<uuid::Uuid>,
    /// Staff only.
    pub actor_email: Option<String>,
}

/// A stock reservation of an order (staff only).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderReservation {
    #[schema(required)]
    pub sku: Option<String>,
    /// The stock location's code.
    pub location: String,
    pub quantity: i32,
    pub backordered: i32,
    pub status: ReservationStatus,
}

/// An order.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Order {
    /// Unguessable id.
    pub id: uuid::Uuid,
    /// Readable and sortable, e.g. `2026-000123`.
    #[schema(pattern = "^[0-9]{4}-[0-9]{6,}$")]
    pub number: String,
    pub status: OrderStatus,
    pub payment_status: PaymentStatus,
    pub fulfillment_status: FulfillmentStatus,
    pub email: String,
    #[schema(value_type = Currency)]
    pub currency: String,
    #[schema(minimum = 0, maximum = 4)]
    pub exponent: i32,
    /// Whether the amounts include tax (then `tax_total` is inside them).
    pub prices_include_tax: bool,
    pub lines: Vec<OrderLine>,
    pub subtotal: i64,
    pub discount_total: i64,
    /// Shipping after its discounts.
    pub shipping_total: i64,
    pub shipping_tax: i64,
    /// Line taxes and shipping tax.
    pub tax_total: i64,
    pub grand_total: i64,
    pub grand_total_formatted: String,
    /// The promotions that applied, as the quote listed them.
    pub promotions: Vec<AppliedPromotion>,
    #[schema(required)]
    pub coupon_code: Option<String>,
    #[schema(required)]
    pub shipping_method: Option<OrderShippingMethod>,
    /// Null for a pickup without an address.
    #[schema(required)]
    pub shipping_address: Option<OrderAddress>,
    #[schema(required)]
    pub billing_address: Option<OrderAddress>,
    pub customer_note: String,
    /// Parcels with their lines, tracking numbers and URLs, oldest first.
    pub shipments: Vec<crate::routes::fulfilment_types::Shipment>,
    #[schema(required, value_type = Option<Timestamp>)]
    pub placed_at: Option<String>,
    /// Until when the stock is held for payment (null once paid, confirmed or closed).
    #[schema(required, value_type = Option<Timestamp>)]
    pub reservation_expires_at: Option<String>,
    /// Until when the customer may cancel the whole order online
    /// (`POST /api/v1/orders/{number}/cancel`): placed, not closed, nothing shipped,
    /// within the store's cancel window. Null once they no longer can.
    #[schema(required, value_type = Option<Timestamp>)]
    pub cancellable_until: Option<String>,
    #[schema(value_type = Timestamp)]
    pub created_at: String,
    #[schema(value_type = Timestamp)]
    pub updated_at: String,
    /// Oldest first.
    pub events: Vec<OrderEvent>,
    /// Guest checkout only, returned once: the secret that reads this order later.
    #[schema(nullable = false)]
    pub token: Option<String>,
    /// Staff only (null for a guest's order).
    pub user_id: Option<uuid::Uuid>,
    /// Staff only.
    #[schema(nullable = false)]
    pub reservations: Option<Vec<OrderReservation>>,
}

/// An order in a list.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderSummary {
    pub id: uuid::Uuid,
    #[schema(pattern = "^[0-9]{4}-[0-9]{6,}$")]
    pub number: String,
    pub status: OrderStatus,
    pub payment_status: PaymentStatus,
    pub fulfillment_status: FulfillmentStatus,
    pub email: String,
    #[schema(required)]
    pub full_name: Option<String>,
    #[schema(value_type = Currency)]
    pub currency: String,
    pub grand_total: i64,
    pub grand_total_formatted: String,
    /// Units ordered.
    pub items: i64,
    #[schema(required, value_type = Option<Timestamp>)]
    pub placed_at: Option<String>,
    #[schema(required, value_type = Option<Timestamp>)]
    pub reservation_expires_at: Option<String>,
}

/// A page of orders, newest first.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderPage {
    pub items: Vec<OrderSummary>,
    /// Pass as `after` for the next page; null on the last page.
    #[schema(required)]
    pub next_cursor: Option<String>,
}

/// Paging of the customer's orders.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Paging {
    /// Page size (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i32>,
    /// `next_cursor` of the previous page: `<created_at>|<order id>` as PostgreSQL writes
    /// it (the pattern admits every real date but 29 February).
    #[param(
        pattern = r"^([1-9][0-9]{3}|0[0-9]{2}[1-9]|0[0-9][1-9]0|0[1-9]00)-((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31) ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?[+-](0[0-9]|1[0-4])(:[0-5][0-9])?\|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
    )]
    pub after: Option<String>,
}

/// The signed-in customer's orders, newest first.
#[utoipa::path(get, path = "/api/v1/orders", tag = "orders", security(("bearer" = [])), params(Paging),
    responses(
        (status = 200, description = "A page of orders", body = OrderPage),
        (status = 422, description = "Codes: `invalid_limit`, `invalid_cursor`, `invalid_query`", body = Problem),
    ))]
pub async fn my_orders(
    State(state): State<AppState>,
    Require(caller, ..): Require<SignedIn>,
    Query(paging): Query<Paging>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.my_orders($1, $2)::text",
        &[&paging.limit, &paging.after],
    )
    .await
}

/// The guest token of an order: `X-Order-Token` (preferred: headers stay out of logs),
/// else the `token` query parameter (links in e-mails).
pub struct OrderToken(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for OrderToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let bad = || {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_order_token",
                "the order token must be 1 to 128 visible ASCII characters",
            )
        };
        if let Some(value) = parts.headers.get("x-order-token") {
            let token = value.to_str().map_err(|_| bad())?;
            return if is_token_shaped(token) {
                Ok(Self(Some(token.to_string())))
            } else {
                Err(bad())
            };
        }
        let token = axum::extract::Query::<TokenParam>::try_from_uri(&parts.uri)
            .map_err(|_| bad())?
            .0
            .token;
        match token {
            Some(t) if !is_token_shaped(&t) => Err(bad()),
            other => Ok(Self(other)),
        }
    }
}

/// 1 to 128 visible ASCII characters (`^[!-~]{1,128}$`, as the OpenAPI document says of
/// both the header and the query parameter). Checkout's tokens are hex; the same rule
/// for both places, counted in characters, so no token the document allows is refused.
fn is_token_shaped(token: &str) -> bool {
    (1..=128).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_graphic())
}

/// Query of `GET /api/v1/orders/{number}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenParam {
    /// A guest order's token (or send it as the `X-Order-Token` header): 1 to 128
    /// visible ASCII characters, else 400 `invalid_order_token`.
    #[param(pattern = "^[!-~]{1,128}$")]
    pub token: Option<String>,
}

/// The `X-Order-Token` header, for the OpenAPI document.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // documents the header; [`OrderToken`] reads it
pub struct OrderTokenHeader {
    /// A guest order's token, as returned once by checkout (1 to 128 visible ASCII
    /// characters, else 400 `invalid_order_token`).
    #[param(rename = "X-Order-Token", pattern = "^[!-~]{1,128}$")]
    pub x_order_token: Option<String>,
}

/// One order: the signed-in customer's own, or a guest's with its token.
#[utoipa::path(get, path = "/api/v1/orders/{number}", tag = "orders", security((), ("bearer" = [])),
    params(("number" = String, Path, description = "Order number, e.g. 2026-000123"), TokenParam, OrderTokenHeader),
    responses(
        (status = 200, description = "The order", body = Order),
        (status = 400, description = "Malformed token (`invalid_order_token`)", body = Problem),
        (status = 404, description = "No such order for this caller, token or no token (`order_not_found`)", body = Problem),
    ))]
pub async fn order(
    State(state): State<AppState>,
    caller: Caller,
    OrderToken(token): OrderToken,
    Path(number): Path<String>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.order_by_number($1, $2)::text",
        &[&number, &token],
    )
    .await
}

/// Filters of the staff order list.
#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OrderFilter {
    /// Order status (another value: 422 `invalid_filter`).
    #[param(value_type = Option<OrderStatus>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Payment status (another value: 422 `invalid_filter`).
    #[param(value_type = Option<PaymentStatus>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_status: Option<String>,
    /// An order number (or its last digits), an e-mail or a name (substring).
    #[param(max_length = 200)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// Placed at or after.
    #[param(value_type = Option<Timestamp>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Placed before.
    #[param(value_type = Option<Timestamp>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Page size (default 20).
    #[param(minimum = 1, maximum = 100)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i32>,
    /// `next_cursor` of the previous page: `<created_at>|<order id>` as PostgreSQL writes
    /// it (the pattern admits every real date but 29 February).
    #[param(
        pattern = r"^([1-9][0-9]{3}|0[0-9]{2}[1-9]|0[0-9][1-9]0|0[1-9]00)-((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31) ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?[+-](0[0-9]|1[0-4])(:[0-5][0-9])?\|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// Every order, newest first, filtered.
#[utoipa::path(get, path = "/api/v1/admin/orders", tag = "admin", security(("bearer" = ["orders:read:any"])),
    params(OrderFilter),
    responses(
        (status = 200, description = "A page of orders", body = OrderPage),
        (status = 422, description = "Codes: `invalid_filter` (an unknown status, a date that does not parse), `invalid_limit`, `invalid_cursor`, `invalid_query`", body = Problem),
    ))]
pub async fn admin_orders(
    State(state): State<AppState>,
    Require(caller, ..): Require<OrdersReadAny>,
    Query(filter): Query<OrderFilter>,
) -> Result<JsonText, ApiError> {
    let filter = serde_json::to_value(&filter).map_err(|e| ApiError::internal(e.to_string()))?;
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.admin_list_orders($1)::text",
        &[&filter],
    )
    .await
}

/// An order with what staff see: internal notes, who made each change, reservations.
#[utoipa::path(get, path = "/api/v1/admin/orders/{number}", tag = "admin", security(("bearer" = ["orders:read:any"])),
    params(("number" = String, Path, description = "Order number")),
    responses(
        (status = 200, description = "The order", body = Order),
        (status = 404, description = "No such order (`order_not_found`)", body = Problem),
    ))]
pub async fn admin_order(
    State(state): State<AppState>,
    Require(caller, ..): Require<OrdersReadAny>,
    Path(number): Path<String>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.admin_order($1)::text",
        &[&number],
    )
    .await
}

/// Body of `POST /api/v1/admin/orders/{number}/notes`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"note": "The customer called about the size", "internal": true}))]
pub struct NoteRequest {
    /// 1 to 2000 characters once the spaces around it are trimmed.
    #[schema(pattern = "[^ ]", max_length = 2000)]
    pub note: String,
    /// Hidden from the customer (default true).
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub internal: Option<bool>,
}

/// Adds a note to the order's timeline; audited.
#[utoipa::path(post, path = "/api/v1/admin/orders/{number}/notes", tag = "admin",
    security(("bearer" = ["orders:write:any"])), request_body = NoteRequest,
    params(("number" = String, Path, description = "Order number")),
    responses(
        (status = 201, description = "The order with its note", body = Order),
        (status = 404, description = "No such order (`order_not_found`)", body = Problem),
        (status = 422, description = "Codes: `invalid_field`, `invalid_body`", body = Problem),
    ))]
pub async fn add_note(
    State(state): State<AppState>,
    Require(caller, ..): Require<OrdersWriteAny>,
    Path(number): Path<String>,
    Json(note): Json<NoteRequest>,
) -> Result<JsonText, ApiError> {
    let note = serde_json::to_value(&note).map_err(|e| ApiError::internal(e.to_string()))?;
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.admin_add_order_note($1, $2)::text",
        &[&number, &note],
    )
    .await
    .map(JsonText::created)
}

/// Body of `POST /api/v1/admin/orders/{number}/cancel`.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "The customer asked"}))]
pub struct CancelRequest {
    /// Why (shown on the timeline; at most 500 characters).
    #[schema(max_length = 500)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Cancels an unpaid order: its stock is released and its coupon use given back;
/// audited. A paid or closed order answers 409 `order_transition_invalid`.
#[utoipa::path(post, path = "/api/v1/admin/orders/{number}/cancel", tag = "admin",
    security(("bearer" = ["orders:write:any"])), request_body = CancelRequest,
    params(("number" = String, Path, description = "Order number")),
    responses(
        (status = 200, description = "The cancelled order", body = Order),
        (status = 404, description = "No such order (`order_not_found`)", body = Problem),
        (status = 409, description = "`order_transition_invalid`: the order cannot be cancelled from its state (`details`: `{machine, from, to}` as JSON)", body = Problem),
        (status = 422, description = "Codes: `invalid_field`, `invalid_body`", body = Problem),
    ))]
pub async fn cancel_order(
    State(state): State<AppState>,
    Require(caller, ..): Require<OrdersWriteAny>,
    Path(number): Path<String>,
    Json(body): Json<CancelRequest>,
) -> Result<JsonText, ApiError> {
    let body = serde_json::to_value(&body).map_err(|e| ApiError::internal(e.to_string()))?;
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.admin_cancel_order($1, $2)::text",
        &[&number, &body],
    )
    .await
}
