//! Orders: the customer's own (`orders:read:own` through row ownership), a guest's with
//! the token returned at checkout, and staff's (`orders:read:any`, `orders:write:any`:
//! notes, cancelling an unpaid order). State changes and their rules are in the
//! database (`sql/orders.sql`, `migrations/V16__orders.sql`): an illegal one is a 409
//! `order_transition_invalid` naming machine, from and to.

use axum::{
    extract::{FromRequestParts, Path, State},
    http::{request::Parts, StatusCode},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    caller::{Caller, OrdersReadAny, OrdersWriteAny, Require, SignedIn},
    db::Access,
    error::{ApiError, Problem},
    extract::{Json, Query},
    routes::{answer, quote_types::Discount, JsonText},
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

/// An address an order keeps (normalised when the order was placed).
#[derive(Serialize, ToSchema)]
pub struct OrderAddress {
    pub full_name: String,
    pub company: String,
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    pub country: String,
    pub phone: String,
}

/// A line of an order: a copy of the quote's line when the order was placed.
#[derive(Serialize, ToSchema)]
pub struct OrderLine {
    pub id: i64,
    /// Null once the variant is deleted (the copy stays).
    pub variant_id: Option<i64>,
    pub product_id: Option<i64>,
    pub sku: String,
    pub product_title: String,
    pub variant_name: String,
    pub product_slug: String,
    pub quantity: i32,
    pub unit_price: i64,
    pub compare_at: Option<i64>,
    pub subtotal: i64,
    /// Discounts allocated to this line.
    pub discounts: Vec<Discount>,
    pub discount_total: i64,
    pub total: i64,
    pub tax_rate_bp: i32,
    pub tax: i64,
    /// Units reserved beyond the stock on hand (backorder): they ship when stock arrives.
    pub backordered_quantity: i32,
}

/// An entry of the order's timeline.
#[derive(Serialize, ToSchema)]
pub struct OrderEvent {
    pub at: String,
    /// `placed`, `status`, `payment_status`, `fulfillment_status` or `note`.
    pub kind: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub note: String,
    /// Staff only: a note the customer does not see.
    pub is_internal: Option<bool>,
    /// Staff only: who made the change (null: the system).
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
}

/// A stock reservation of an order (staff only).
#[derive(Serialize, ToSchema)]
pub struct OrderReservation {
    pub sku: Option<String>,
    pub location: String,
    pub quantity: i32,
    pub backordered: i32,
    /// `active`, `sold` or `released`.
    pub status: String,
}

/// An order.
#[derive(Serialize, ToSchema)]
pub struct Order {
    /// Unguessable id.
    pub id: String,
    /// Readable and sortable, e.g. `2026-000123`.
    pub number: String,
    /// `awaiting_payment`, `confirmed` (payment on delivery), `paid`, `partially_fulfilled`,
    /// `fulfilled`, `delivered`, `cancelled`, `expired`.
    pub status: String,
    /// `none`, `pending`, `paid`, `partially_refunded`, `refunded`.
    pub payment_status: String,
    /// `unfulfilled`, `partially_fulfilled`, `fulfilled`, `delivered`.
    pub fulfillment_status: String,
    pub email: String,
    pub currency: String,
    pub exponent: i32,
    pub prices_include_tax: bool,
    pub lines: Vec<OrderLine>,
    pub subtotal: i64,
    pub discount_total: i64,
    pub shipping_total: i64,
    pub shipping_tax: i64,
    pub tax_total: i64,
    pub grand_total: i64,
    pub grand_total_formatted: String,
    /// The promotions that applied, as the quote listed them.
    pub promotions: Vec<serde_json::Value>,
    pub coupon_code: Option<String>,
    /// `{code, name, kind, min_days, max_days, rate, discounts}`.
    pub shipping_method: Option<serde_json::Value>,
    pub shipping_address: Option<OrderAddress>,
    pub billing_address: Option<OrderAddress>,
    pub customer_note: String,
    pub placed_at: Option<String>,
    /// Until when the stock is held for payment (null once paid, confirmed or closed).
    pub reservation_expires_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub events: Vec<OrderEvent>,
    /// Guest checkout only, returned once: the secret that reads this order later.
    pub token: Option<String>,
    /// Staff only.
    pub user_id: Option<String>,
    /// Staff only.
    pub reservations: Option<Vec<OrderReservation>>,
}

/// An order in a list.
#[derive(Serialize, ToSchema)]
pub struct OrderSummary {
    pub id: String,
    pub number: String,
    pub status: String,
    pub payment_status: String,
    pub fulfillment_status: String,
    pub email: String,
    pub full_name: Option<String>,
    pub currency: String,
    pub grand_total: i64,
    pub grand_total_formatted: String,
    /// Units ordered.
    pub items: i64,
    pub placed_at: Option<String>,
    pub reservation_expires_at: Option<String>,
}

/// A page of orders, newest first.
#[derive(Serialize, ToSchema)]
pub struct OrderPage {
    pub items: Vec<OrderSummary>,
    /// Pass as `after` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Paging of the customer's orders.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Paging {
    /// Page size.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i32>,
    /// `next_cursor` of the previous page.
    pub after: Option<String>,
}

/// The signed-in customer's orders, newest first.
#[utoipa::path(get, path = "/api/v1/orders", tag = "orders", security(("bearer" = [])), params(Paging),
    responses(
        (status = 200, description = "A page of orders", body = OrderPage),
        (status = 422, description = "Bad limit or cursor", body = Problem),
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
            return if (1..=128).contains(&token.len()) {
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
            Some(t) if !(1..=128).contains(&t.len()) => Err(bad()),
            other => Ok(Self(other)),
        }
    }
}

/// Query of `GET /api/v1/orders/{number}`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct TokenParam {
    /// A guest order's token (or send it as the `X-Order-Token` header).
    pub token: Option<String>,
}

/// One order: the signed-in customer's own, or a guest's with its token.
#[utoipa::path(get, path = "/api/v1/orders/{number}", tag = "orders",
    params(("number" = String, Path, description = "Order number, e.g. 2026-000123"), TokenParam,
           ("X-Order-Token" = Option<String>, Header, description = "A guest order's token")),
    responses(
        (status = 200, description = "The order", body = Order),
        (status = 400, description = "Malformed token", body = Problem),
        (status = 404, description = "No such order for this caller", body = Problem),
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
#[serde(deny_unknown_fields)]
pub struct OrderFilter {
    /// Order status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Payment status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_status: Option<String>,
    /// An order number (or its last digits), an e-mail or a name (substring).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// Placed at or after (ISO 8601).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Placed before (ISO 8601).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Page size (default 20).
    #[param(minimum = 1, maximum = 100)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i32>,
    /// `next_cursor` of the previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// Every order, newest first, filtered.
#[utoipa::path(get, path = "/api/v1/admin/orders", tag = "admin", security(("bearer" = ["orders:read:any"])),
    params(OrderFilter),
    responses(
        (status = 200, description = "A page of orders", body = OrderPage),
        (status = 422, description = "Unknown status, bad date, limit or cursor", body = Problem),
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
        (status = 404, description = "No such order", body = Problem),
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
pub struct NoteRequest {
    /// 1 to 2000 characters.
    pub note: String,
    /// Hidden from the customer (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub internal: Option<bool>,
}

/// Adds a note to the order's timeline; audited.
#[utoipa::path(post, path = "/api/v1/admin/orders/{number}/notes", tag = "admin",
    security(("bearer" = ["orders:write:any"])), request_body = NoteRequest,
    params(("number" = String, Path, description = "Order number")),
    responses(
        (status = 201, description = "The order with its note", body = Order),
        (status = 404, description = "No such order", body = Problem),
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
pub struct CancelRequest {
    /// Why (shown on the timeline; at most 500 characters).
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
        (status = 404, description = "No such order", body = Problem),
        (status = 409, description = "The order cannot be cancelled from its state (`details`: machine, from, to)", body = Problem),
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
