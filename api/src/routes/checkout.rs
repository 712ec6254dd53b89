//! `POST /api/v1/checkout`: the cart becomes an order in one transaction
//! (`api.checkout`, `sql/checkout.sql`): the quote checked against `expected_total`,
//! lines copied, coupon redeemed, stock reserved, cart closed — or nothing at all. The
//! `Idempotency-Key` header is required; a duplicate sent while the first is running
//! waits for it and answers the same order.

use axum::{extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    caller::Caller,
    db::Access,
    error::{ApiError, Problem},
    extract::Json,
    idempotency::IdempotencyKey,
    routes::{addresses::AddressInput, answer, cart::CartSession, orders::Order, JsonText},
    AppState,
};

/// `/api/v1/checkout`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(checkout))
}

/// Body of `POST /api/v1/checkout`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    /// Required for guests; a signed-in customer's defaults to their account's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The destination, inline (guests, or anyone)…
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<AddressInput>,
    /// …or from the signed-in customer's address book. Optional for pickup methods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_address_id: Option<i64>,
    /// Defaults to the shipping address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_address: Option<AddressInput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_address_id: Option<i64>,
    /// The shipping method's code (`GET /api/v1/cart/shipping-methods`).
    pub shipping_method: String,
    /// The `grand_total` the shopper agreed to, minor units; a different total answers
    /// 409 `price_changed` with the new quote.
    pub expected_total: i64,
    /// A note for the shop (at most 1000 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Places an order from the caller's cart (guests send `X-Cart-Session`). 201 with the
/// order: number, status `awaiting_payment`, lines, totals and `reservation_expires_at`;
/// a guest's carries `token`, returned once, which reads the order later.
#[utoipa::path(post, path = "/api/v1/checkout", tag = "checkout", request_body = CheckoutRequest,
    params(("Idempotency-Key" = String, Header, description = "Required: a new key per checkout attempt, the same when retrying it")),
    responses(
        (status = 201, description = "The order (the same body for every retry with the key)", body = Order),
        (status = 400, description = "Idempotency-Key missing or malformed, or a malformed body", body = Problem),
        (status = 404, description = "No open cart, address or shipping method", body = Problem),
        (status = 409, description = "`price_changed` (`details`: the new quote, JSON), `insufficient_stock` (`details`: the short lines, JSON), `coupon_*` (used up, expired, not applicable…)", body = Problem),
        (status = 410, description = "The cart has expired", body = Problem),
        (status = 422, description = "Empty cart, item no longer sold, method not offered to the destination or currency, invalid field (`details` is its JSON path), key reused with another body", body = Problem),
    ))]
pub async fn checkout(
    State(state): State<AppState>,
    caller: Caller,
    CartSession(session): CartSession,
    key: IdempotencyKey,
    Json(request): Json<CheckoutRequest>,
) -> Result<JsonText, ApiError> {
    let idem = key.argument(&state, &caller, &request).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "idempotency_key_required",
            "checkout needs an Idempotency-Key header",
        )
        .hint("Send a new UUID per checkout attempt, and the same one when retrying it.")
    })?;
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
