//! Fulfilment (docs/fulfilment.md; `sql/fulfilment.sql`): carriers, shipments and their
//! states, the carriers' signed webhooks, and cancellations of orders or of unshipped
//! lines. A cancellation of a paid order refunds exactly its lines: the SQL starts the
//! refund through the payments refund path, then the handler makes the provider call
//! and records its answer ([`payments::call_refund`]), as a staff refund does.

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
};
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    caller::{Caller, CarriersAdmin, OrdersReadAny, OrdersWriteAny, Require},
    db::{self, Access},
    error::{ApiError, Problem},
    extract::{Json, Path},
    idempotency::IdempotencyKey,
    routes::{
        answer,
        checkout::IdempotencyKeyHeader,
        fulfilment_types::{
            Cancellation, CancellationRequest, Carrier, CarrierCreate, CarrierEvent, CarrierList,
            CarrierPatch, CarrierReceipt, CustomerCancelRequest, ShipmentDetail, ShipmentRequest,
            ShipmentResult, ShipmentStatusRequest,
        },
        orders::{OrderToken, OrderTokenHeader, TokenParam},
        payments::{self, owner_call},
        JsonText,
    },
    AppState,
};

/// Carriers, shipments, carrier webhooks and cancellations.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_carriers, create_carrier))
        .routes(routes!(update_carrier))
        .routes(routes!(rotate_carrier_secret))
        .routes(routes!(create_shipment))
        .routes(routes!(shipment))
        .routes(routes!(set_shipment_status))
        .routes(routes!(carrier_webhook))
        .routes(routes!(admin_cancel))
        .routes(routes!(customer_cancel))
}

/// Every carrier with its tracking URL template (never its secrets).
#[utoipa::path(get, path = "/api/v1/admin/carriers", tag = "fulfilment", security(("bearer" = ["orders:read:any"])),
    responses((status = 200, description = "The carriers", body = CarrierList)))]
pub async fn list_carriers(
    State(state): State<AppState>,
    Require(caller, ..): Require<OrdersReadAny>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.admin_list_carriers()::text",
        &[],
    )
    .await
}

/// Creates a carrier and its webhook signing secret, returned once as `secret`; audited.
#[utoipa::path(post, path = "/api/v1/admin/carriers", tag = "fulfilment", security(("bearer" = ["carriers:admin"])),
    request_body = CarrierCreate,
    responses(
        (status = 201, description = "The carrier, with `secret` (shown once)", body = Carrier),
        (status = 409, description = "`carrier_code_key`: the code is taken", body = Problem),
        (status = 422, description = "Codes: `invalid_field` (details = the JSON path), `invalid_body`", body = Problem),
    ))]
pub async fn create_carrier(
    State(state): State<AppState>,
    Require(caller, ..): Require<CarriersAdmin>,
    Json(body): Json<CarrierCreate>,
) -> Result<JsonText, ApiError> {
    let body = serde_json::to_value(&body).map_err(|e| ApiError::internal(e.to_string()))?;
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.admin_create_carrier($1)::text",
        &[&body],
    )
    .await
    .map(JsonText::created)
}

/// Changes a carrier's name, tracking URL template (null removes it) or `is_active`.
#[utoipa::path(patch, path = "/api/v1/admin/carriers/{code}", tag = "fulfilment",
    security(("bearer" = ["carriers:admin"])), request_body = CarrierPatch,
    params(("code" = String, Path, description = "Carrier code")),
    responses(
        (status = 200, description = "The carrier", body = Carrier),
        (status = 404, description = "No such carrier (`carrier_not_found`)", body = Problem),
        (status = 422, description = "Codes: `invalid_field` (details = the JSON path), `invalid_body`", body = Problem),
    ))]
pub async fn update_carrier(
    State(state): State<AppState>,
    Require(caller, ..): Require<CarriersAdmin>,
    Path(code): Path<String>,
    Json(body): Json<Value>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.admin_update_carrier($1, $2)::text",
        &[&code, &body],
    )
    .await
}

/// Makes a new webhook secret (returned once); the previous one stays valid for a day so
/// the carrier can switch without losing an event. Audited.
#[utoipa::path(post, path = "/api/v1/admin/carriers/{code}/rotate-secret", tag = "fulfilment",
    security(("bearer" = ["carriers:admin"])), params(("code" = String, Path, description = "Carrier code")),
    responses(
        (status = 200, description = "The carrier, with the new `secret` (shown once)", body = Carrier),
        (status = 404, description = "No such carrier (`carrier_not_found`)", body = Problem),
    ))]
pub async fn rotate_carrier_secret(
    State(state): State<AppState>,
    Require(caller, ..): Require<CarriersAdmin>,
    Path(code): Path<String>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.admin_rotate_carrier_secret($1)::text",
        &[&code],
    )
    .await
}

/// Ships units of an order's lines in one parcel (a line may ship across several). The
/// order must be paid, or confirmed for cash on delivery (whose units leave stock now);
/// never more than ordered minus shipped or cancelled. The shipment starts `pending`;
/// the order's fulfilment follows. Audited.
#[utoipa::path(post, path = "/api/v1/admin/orders/{number}/shipments", tag = "fulfilment",
    security(("bearer" = ["orders:write:any"])), request_body = ShipmentRequest,
    params(("number" = String, Path, description = "Order number")),
    responses(
        (status = 201, description = "The shipment and the order's counters", body = ShipmentResult),
        (status = 404, description = "No such order (`order_not_found`)", body = Problem),
        (status = 409, description = "Codes: `order_not_shippable` (not paid, or closed; `details`: `{status, payment_status}` as JSON), `shipment_quantity_exceeds` (`details`: `{order_item_id, ordered, shipped, cancelled, requested}` as JSON), `tracking_number_taken`", body = Problem),
        (status = 422, description = "Codes: `invalid_field` (an unknown carrier, location or line; details = the JSON path), `stock_below_reserved` (the location given lacks free units), `invalid_body`", body = Problem),
    ))]
pub async fn create_shipment(
    State(state): State<AppState>,
    Require(caller, ..): Require<OrdersWriteAny>,
    Path(number): Path<String>,
    Json(body): Json<ShipmentRequest>,
) -> Result<JsonText, ApiError> {
    let body = serde_json::to_value(&body).map_err(|e| ApiError::internal(e.to_string()))?;
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.admin_create_shipment($1, $2)::text",
        &[&number, &body],
    )
    .await
    .map(JsonText::created)
}

/// A shipment with its order's counters and the carrier events received for it.
#[utoipa::path(get, path = "/api/v1/admin/shipments/{id}", tag = "fulfilment", security(("bearer" = ["orders:read:any"])),
    params(("id" = i64, Path, description = "Shipment id")),
    responses(
        (status = 200, description = "The shipment", body = ShipmentDetail),
        (status = 404, description = "No such shipment (`shipment_not_found`)", body = Problem),
    ))]
pub async fn shipment(
    State(state): State<AppState>,
    Require(caller, ..): Require<OrdersReadAny>,
    Path(id): Path<i64>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.admin_shipment($1)::text",
        &[&id],
    )
    .await
}

/// Moves a shipment along pending → shipped → in transit → delivered (or failed
/// delivery, returned to sender). The order's fulfilment and delivered status follow;
/// each change is on the timeline, an event and an e-mail to the customer. Audited.
#[utoipa::path(post, path = "/api/v1/admin/shipments/{id}/status", tag = "fulfilment",
    security(("bearer" = ["orders:write:any"])), request_body = ShipmentStatusRequest,
    params(("id" = i64, Path, description = "Shipment id")),
    responses(
        (status = 200, description = "The shipment and the order's counters", body = ShipmentResult),
        (status = 404, description = "No such shipment (`shipment_not_found`)", body = Problem),
        (status = 409, description = "Codes: `shipment_transition_invalid` (`details`: `{from, to}` as JSON), `tracking_number_taken`", body = Problem),
        (status = 422, description = "Codes: `invalid_field` (a tracking number already set), `invalid_body`", body = Problem),
    ))]
pub async fn set_shipment_status(
    State(state): State<AppState>,
    Require(caller, ..): Require<OrdersWriteAny>,
    Path(id): Path<i64>,
    Json(body): Json<ShipmentStatusRequest>,
) -> Result<JsonText, ApiError> {
    let body = serde_json::to_value(&body).map_err(|e| ApiError::internal(e.to_string()))?;
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.admin_set_shipment_status($1, $2)::text",
        &[&id, &body],
    )
    .await
}

/// A carrier's tracking event, signed `Maef-Carrier-Signature: t=<unix>,v1=<hex>`:
/// HMAC-SHA256 of `"{t}.{body}"` with the carrier's secret (any valid one while a secret
/// is rotated), `t` within `CARRIER_WEBHOOK_TOLERANCE_SECS` — the payment webhooks'
/// verifier. A missing, stale or forged signature answers 400 and changes nothing. Each
/// event id is applied once; an event older than the shipment's last change is kept as
/// stale.
#[utoipa::path(post, path = "/api/v1/webhooks/carrier/{carrier}", tag = "fulfilment",
    request_body(content = CarrierEvent, description = "The event, as signed", content_type = "application/json"),
    params(("carrier" = String, Path, description = "Carrier code")),
    responses(
        (status = 200, description = "Stored (once) and applied", body = CarrierReceipt),
        (status = 400, description = "Codes: `invalid_signature` (missing, malformed, stale or forged: nothing changed), `invalid_event`", body = Problem),
        (status = 404, description = "No such active carrier with a secret (`carrier_not_found`)", body = Problem),
    ))]
pub async fn carrier_webhook(
    State(state): State<AppState>,
    Path(carrier): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<JsonText, ApiError> {
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "carrier_not_found", "no such carrier");
    let keys: Option<String> =
        owner_call_optional(&state, "select api.carrier_webhook_secrets($1)::text", &carrier).await?;
    let keys: Value =
        serde_json::from_str(&keys.ok_or_else(not_found)?).map_err(|e| ApiError::internal(e.to_string()))?;
    let secrets: Vec<maef_payments::Secret> = keys["secrets"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(maef_payments::Secret::new)
                .collect()
        })
        .unwrap_or_default();
    if secrets.is_empty() {
        return Err(not_found());
    }
    let tolerance = keys["tolerance_secs"].as_i64().unwrap_or(300);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let signature = headers
        .get("maef-carrier-signature")
        .and_then(|v| v.to_str().ok());
    maef_payments::signature::verify_timestamped(signature, "v1", &body, &secrets, tolerance, now).map_err(
        |e| {
            tracing::warn!(carrier = %carrier, reason = %e, "carrier webhook refused: bad signature");
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_signature",
                format!("webhook refused: {e}"),
            )
            .hint("Check the signing secret given when the carrier was made or its secret rotated.")
        },
    )?;
    let event: CarrierEvent = serde_json::from_slice(&body).map_err(|e| {
        tracing::warn!(carrier = %carrier, reason = %e, "carrier webhook refused: unreadable event");
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_event",
            format!("unreadable event: {e}"),
        )
    })?;
    let event = serde_json::to_value(&event).map_err(|e| ApiError::internal(e.to_string()))?;
    let receipt = owner_call(
        &state,
        "select api.carrier_webhook($1, $2)::text",
        &[&carrier, &event],
    )
    .await?;
    tracing::info!(carrier = %carrier, receipt = %receipt, "carrier webhook");
    Ok(JsonText::ok(receipt))
}

/// [`owner_call`] for a function that may answer NULL (an unknown carrier).
async fn owner_call_optional(state: &AppState, sql: &str, arg: &str) -> Result<Option<String>, ApiError> {
    let client = state.db.get().await?;
    // Prepared and cached, or unnamed behind a pooler (`DB_PREPARED_STATEMENTS`).
    let row = state.db.query_one(&client, sql, &[&arg]).await?;
    Ok(row.try_get(0)?)
}

/// The answer of a cancellation once its refund (if any) went through the provider.
async fn finish(state: &AppState, begun: &str) -> Result<JsonText, ApiError> {
    let begun: Value = serde_json::from_str(begun).map_err(|e| ApiError::internal(e.to_string()))?;
    if begun["action"] != "call" {
        return Ok(JsonText(StatusCode::CREATED, begun["body"].to_string()));
    }
    payments::call_refund(state, &begun).await?;
    let id = begun["cancellation_id"]
        .as_i64()
        .ok_or_else(|| ApiError::internal("begin answer: cancellation_id"))?;
    let body = owner_call(state, "select api.cancellation_result($1)::text", &[&id]).await?;
    Ok(JsonText(StatusCode::CREATED, body))
}

/// Cancels a paid order that has not shipped, or unshipped units of its lines (an
/// unpaid order: whole only). Units go back on hand (ledger); a paid order is refunded
/// exactly the cancelled lines (their allocated discounts and taxes, and the shipping
/// when nothing is left) through the payments refund path; the coupon use comes back
/// when the whole order is cancelled. The same `Idempotency-Key` answers the same
/// cancellation. Audited; the customer gets an e-mail.
#[utoipa::path(post, path = "/api/v1/admin/orders/{number}/cancellations", tag = "fulfilment",
    security(("bearer" = ["orders:write:any"])), request_body = CancellationRequest,
    params(("number" = String, Path, description = "Order number"), IdempotencyKeyHeader),
    responses(
        (status = 201, description = "The cancellation with its refund and the order's counters", body = Cancellation),
        (status = 400, description = "Codes: `idempotency_key_required`, `invalid_idempotency_key`, `malformed_json`", body = Problem),
        (status = 404, description = "No such order (`order_not_found`)", body = Problem),
        (status = 409, description = "Codes: `order_transition_invalid` (already cancelled or expired), `order_already_shipped` (the whole order asked, units shipped), `cancel_quantity_exceeds` (`details`: `{order_item_id, ordered, shipped, cancelled, requested}` as JSON), `order_not_paid` (lines of an unpaid order), `idempotency_key_in_flight`, `refund_failed`, `refund_outcome_unknown`", body = Problem),
        (status = 422, description = "Codes: `invalid_field` (details = the JSON path), `idempotency_key_reused`, `refund_exceeds_captured` (a manual refund already took the money), `invalid_body`", body = Problem),
        (status = 502, description = "The cancellation is made but the provider failed its refund: `payment_provider_refused` (the refund is failed: refund again by hand), `payment_provider_error`, `payment_provider_unreachable` (the refund stays pending); `details`: `{provider, provider_code, http_status}` as JSON", body = Problem),
    ))]
pub async fn admin_cancel(
    State(state): State<AppState>,
    Require(caller, ..): Require<OrdersWriteAny>,
    Path(number): Path<String>,
    key: IdempotencyKey,
    Json(request): Json<CancellationRequest>,
) -> Result<JsonText, ApiError> {
    let idem = key.required_argument(&state, &caller, &request, "a cancellation")?;
    let body = serde_json::to_value(&request).map_err(|e| ApiError::internal(e.to_string()))?;
    let begun = db::call(
        &state.db,
        &caller,
        Access::ReadWrite,
        "select api.admin_cancellation_begin($1, $2, $3)::text",
        &[&number, &body, &idem],
    )
    .await?;
    finish(&state, &begun).await
}

/// The customer cancels their order (or a guest with its token) while it is unpaid, or
/// paid and not shipped, within `CANCEL_WINDOW_MINUTES` of placing it. A paid order is
/// refunded in full. Asking again answers the same cancellation.
#[utoipa::path(post, path = "/api/v1/orders/{number}/cancel", tag = "fulfilment", security((), ("bearer" = [])),
    request_body = CustomerCancelRequest,
    params(("number" = String, Path, description = "Order number"), TokenParam, OrderTokenHeader),
    responses(
        (status = 201, description = "The cancellation", body = Cancellation),
        (status = 400, description = "Codes: `invalid_order_token`, `malformed_json`", body = Problem),
        (status = 404, description = "No such order for this caller (`order_not_found`)", body = Problem),
        (status = 409, description = "Codes: `order_transition_invalid` (already closed), `order_already_shipped`, `idempotency_key_in_flight`, `refund_failed`, `refund_outcome_unknown`", body = Problem),
        (status = 422, description = "Codes: `cancellation_window_passed`, `invalid_field`, `refund_exceeds_captured`, `invalid_body`", body = Problem),
        (status = 502, description = "The order is cancelled but the provider failed its refund (the shop settles it); codes as for staff cancellations", body = Problem),
    ))]
pub async fn customer_cancel(
    State(state): State<AppState>,
    caller: Caller,
    OrderToken(token): OrderToken,
    Path(number): Path<String>,
    Json(request): Json<CustomerCancelRequest>,
) -> Result<JsonText, ApiError> {
    let body = serde_json::to_value(&request).map_err(|e| ApiError::internal(e.to_string()))?;
    let begun = db::call(
        &state.db,
        &caller,
        Access::ReadWrite,
        "select api.customer_cancel_begin($1, $2, $3)::text",
        &[&number, &token, &body],
    )
    .await?;
    finish(&state, &begun).await
}
