//! `POST /api/v1/checkout`: the cart becomes an order in one transaction
//! (`api.checkout`, `sql/checkout.sql`): the quote checked against `expected_total`,
//! lines copied, coupon redeemed, stock reserved, cart closed — or nothing at all. The
//! `Idempotency-Key` header is required; a duplicate sent while the first is running
//! waits for it and answers the same order.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    caller::Caller,
    db::Access,
    error::{ApiError, Problem},
    extract::Json,
    idempotency::IdempotencyKey,
    routes::{
        addresses::InlineAddress,
        answer,
        cart::{CartSession, CartSessionHeader},
        orders::Order,
        JsonText,
    },
    AppState,
};

/// `/api/v1/checkout`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(checkout))
}

/// Body of `POST /api/v1/checkout`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "awa@example.com", "shipping_method": "standard", "expected_total": 47000,
    "shipping_address": {"full_name": "Awa Diop", "line1": "12 rue Carnot", "city": "Dakar", "country": "SN",
                         "phone": "77 123 45 67"}}))]
pub struct CheckoutRequest {
    /// Required for guests (422 `invalid_field`, details `$.email`, without it); a
    /// signed-in customer's defaults to their account's.
    #[schema(pattern = r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length = 254)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The destination, inline — or `shipping_address_id`, not both. Required for
    /// `delivery` methods, optional for `pickup`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<InlineAddress>,
    /// An address of the signed-in customer's book (guests: 422 `invalid_field`).
    #[schema(minimum = 1, maximum = 999999999999999999i64)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_address_id: Option<i64>,
    /// Defaults to the shipping address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_address: Option<InlineAddress>,
    #[schema(minimum = 1, maximum = 999999999999999999i64)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_address_id: Option<i64>,
    /// The shipping method's code (`GET /api/v1/cart/shipping-methods`).
    #[schema(max_length = 64)]
    pub shipping_method: String,
    /// The `grand_total` the shopper agreed to, minor units; a different total answers
    /// 409 `price_changed` with the new quote.
    #[schema(minimum = 0, maximum = 999999999999999i64)]
    pub expected_total: i64,
    /// A note for the shop.
    #[schema(max_length = 1000)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The `Idempotency-Key` header of checkout, for the OpenAPI document.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // documents the header; [`IdempotencyKey`] reads it
pub struct IdempotencyKeyHeader {
    /// Required: a new key per checkout attempt (a UUID is a good one), the same when
    /// retrying it (1 to 255 visible ASCII characters, else 400).
    #[param(rename = "Idempotency-Key", pattern = "^[!-~]{1,255}$")]
    pub idempotency_key: String,
}

/// Places an order from the caller's cart (guests send `X-Cart-Session`). 201 with the
/// order: number, status `awaiting_payment`, lines, totals and `reservation_expires_at`;
/// a guest's carries `token`, returned once, which reads the order later.
#[utoipa::path(post, path = "/api/v1/checkout", tag = "checkout", request_body = CheckoutRequest,
    params(IdempotencyKeyHeader, CartSessionHeader), security((), ("bearer" = [])),
    responses(
        (status = 201, description = "The order (the same body for every retry with the key)", body = Order),
        (status = 400, description = "Codes: `idempotency_key_required`, `invalid_idempotency_key`, `invalid_cart_session`, `malformed_json`", body = Problem),
        (status = 404, description = "Codes: `cart_not_found` (no open cart for the caller), `address_not_found`, `shipping_method_not_found`", body = Problem),
        (status = 409, description = "Codes: `price_changed` (`details`: the new quote, JSON, the shape of `GET /api/v1/cart`), `insufficient_stock` (`details`: the short lines, JSON `[{sku, variant_id, requested, available}]`), `coupon_exhausted`, `coupon_expired`, `coupon_inactive`, `coupon_not_started`, `coupon_customer_limit_reached`, `coupon_not_applicable`", body = Problem),
        (status = 410, description = "The cart has expired (`cart_expired`)", body = Problem),
        (status = 422, description = "Codes: `cart_empty`, `item_unavailable` (`details`: the SKUs), `shipping_method_unavailable`, `invalid_field` (`details` is the JSON path), `invalid_email`, `idempotency_key_reused`, `invalid_body`", body = Problem),
    ))]
pub async fn checkout(
    State(state): State<AppState>,
    caller: Caller,
    CartSession(session): CartSession,
    key: IdempotencyKey,
    Json(request): Json<CheckoutRequest>,
) -> Result<JsonText, ApiError> {
    let idem = key.required_argument(&state, &caller, &request, "checkout")?;
    let request = serde_json::to_value(&request).map_err(|e| ApiError::internal(e.to_string()))?;
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.checkout($1, $2, $3)::text",
        &[&request, &session, &idem],
    )
    .await
    .map(JsonText::created)
}
