//! Returns (RMA; docs/fulfilment.md, `sql/returns.sql`): customers ask to return
//! delivered units within `RETURN_WINDOW_DAYS`; staff approve or reject, receive
//! (resellable units restocked) and refund through the payments refund path.

use axum::{extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    caller::{Caller, OrdersReadAny, OrdersWriteAny, Require},
    db::{self, Access},
    error::{ApiError, Problem},
    extract::{Json, Path, Query},
    idempotency::IdempotencyKey,
    routes::{
        answer,
        checkout::IdempotencyKeyHeader,
        fulfilment_types::{
            ReceiveRequest, Return, ReturnDecisionRequest, ReturnList, ReturnPage, ReturnReasonList,
            ReturnRequest,
        },
        orders::{OrderToken, OrderTokenHeader, TokenParam},
        payments::{self, owner_call},
        JsonText,
    },
    AppState,
};

/// `/api/v1/return-reasons`, `/api/v1/orders/{number}/returns`, `/api/v1/admin/returns…`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(return_reasons))
        .routes(routes!(request_return, order_returns))
        .routes(routes!(admin_returns))
        .routes(routes!(admin_return))
        .routes(routes!(decide))
        .routes(routes!(receive))
        .routes(routes!(refund))
}

/// The reasons a customer may give, labelled in their language.
#[utoipa::path(get, path = "/api/v1/return-reasons", tag = "returns", security((), ("bearer" = [])),
    responses((status = 200, description = "The active reasons", body = ReturnReasonList)))]
pub async fn return_reasons(State(state): State<AppState>, caller: Caller) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.return_reasons()::text",
        &[],
    )
    .await
}

/// Asks to return delivered units (the order's customer, or a guest with its token),
/// each with a reason, within `RETURN_WINDOW_DAYS` of its delivery.
#[utoipa::path(post, path = "/api/v1/orders/{number}/returns", tag = "returns", security((), ("bearer" = [])),
    request_body = ReturnRequest,
    params(("number" = String, Path, description = "Order number"), TokenParam, OrderTokenHeader),
    responses(
        (status = 201, description = "The return, requested", body = Return),
        (status = 400, description = "Codes: `invalid_order_token`, `malformed_json`", body = Problem),
        (status = 404, description = "No such order for this caller (`order_not_found`)", body = Problem),
        (status = 409, description = "`return_quantity_exceeds`: more than delivered minus already in returns (`details`: `{order_item_id, delivered, returning, requested}` as JSON)", body = Problem),
        (status = 422, description = "Codes: `line_not_delivered`, `return_window_passed` (details = the line's JSON path), `invalid_field` (an unknown line or reason), `invalid_body`", body = Problem),
    ))]
pub async fn request_return(
    State(state): State<AppState>,
    caller: Caller,
    OrderToken(token): OrderToken,
    Path(number): Path<String>,
    Json(body): Json<ReturnRequest>,
) -> Result<JsonText, ApiError> {
    let body = serde_json::to_value(&body).map_err(|e| ApiError::internal(e.to_string()))?;
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.request_return($1, $2, $3)::text",
        &[&number, &token, &body],
    )
    .await
    .map(JsonText::created)
}

/// An order's returns (its customer, or a guest with its token).
#[utoipa::path(get, path = "/api/v1/orders/{number}/returns", tag = "returns", security((), ("bearer" = [])),
    params(("number" = String, Path, description = "Order number"), TokenParam, OrderTokenHeader),
    responses(
        (status = 200, description = "The returns, oldest first", body = ReturnList),
        (status = 400, description = "Malformed token (`invalid_order_token`)", body = Problem),
        (status = 404, description = "No such order for this caller (`order_not_found`)", body = Problem),
    ))]
pub async fn order_returns(
    State(state): State<AppState>,
    caller: Caller,
    OrderToken(token): OrderToken,
    Path(number): Path<String>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.order_returns($1, $2)::text",
        &[&number, &token],
    )
    .await
}

/// Filters of the staff return list.
#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReturnFilter {
    #[param(pattern = "^(requested|approved|rejected|received|refunded)$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Page size (default 20).
    #[param(minimum = 1, maximum = 100)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i32>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[0-9]{1,18}$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// Returns, newest first (`status=requested`: the ones to decide).
#[utoipa::path(get, path = "/api/v1/admin/returns", tag = "returns", security(("bearer" = ["orders:read:any"])),
    params(ReturnFilter),
    responses(
        (status = 200, description = "A page of returns", body = ReturnPage),
        (status = 422, description = "Codes: `invalid_filter`, `invalid_limit`, `invalid_query`", body = Problem),
    ))]
pub async fn admin_returns(
    State(state): State<AppState>,
    Require(caller, ..): Require<OrdersReadAny>,
    Query(filter): Query<ReturnFilter>,
) -> Result<JsonText, ApiError> {
    let filter = serde_json::to_value(&filter).map_err(|e| ApiError::internal(e.to_string()))?;
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.admin_list_returns($1)::text",
        &[&filter],
    )
    .await
}

/// A return.
#[utoipa::path(get, path = "/api/v1/admin/returns/{id}", tag = "returns", security(("bearer" = ["orders:read:any"])),
    params(("id" = i64, Path, description = "Return id")),
    responses(
        (status = 200, description = "The return", body = Return),
        (status = 404, description = "No such return (`return_not_found`)", body = Problem),
    ))]
pub async fn admin_return(
    State(state): State<AppState>,
    Require(caller, ..): Require<OrdersReadAny>,
    Path(id): Path<i64>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.admin_return($1)::text",
        &[&id],
    )
    .await
}

/// Approves or rejects a requested return (a rejection says why: the customer reads
/// it). Audited; the customer gets an e-mail.
#[utoipa::path(post, path = "/api/v1/admin/returns/{id}/decision", tag = "returns",
    security(("bearer" = ["orders:write:any"])), request_body = ReturnDecisionRequest,
    params(("id" = i64, Path, description = "Return id")),
    responses(
        (status = 200, description = "The return", body = Return),
        (status = 404, description = "No such return (`return_not_found`)", body = Problem),
        (status = 409, description = "`return_transition_invalid`: not awaiting a decision (`details`: `{from, to}` as JSON)", body = Problem),
        (status = 422, description = "Codes: `invalid_field` (a rejection without a note), `invalid_body`", body = Problem),
    ))]
pub async fn decide(
    State(state): State<AppState>,
    Require(caller, ..): Require<OrdersWriteAny>,
    Path(id): Path<i64>,
    Json(body): Json<ReturnDecisionRequest>,
) -> Result<JsonText, ApiError> {
    let body = serde_json::to_value(&body).map_err(|e| ApiError::internal(e.to_string()))?;
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.admin_decide_return($1, $2)::text",
        &[&id, &body],
    )
    .await
}

/// Marks an approved return received with each line's condition: resellable units go
/// back on hand (ledger), damaged ones do not. Audited.
#[utoipa::path(post, path = "/api/v1/admin/returns/{id}/receive", tag = "returns",
    security(("bearer" = ["orders:write:any"])), request_body = ReceiveRequest,
    params(("id" = i64, Path, description = "Return id")),
    responses(
        (status = 200, description = "The return", body = Return),
        (status = 404, description = "No such return (`return_not_found`)", body = Problem),
        (status = 409, description = "`return_transition_invalid`: not approved (`details`: `{from, to}` as JSON)", body = Problem),
        (status = 422, description = "Codes: `invalid_field` (a line not in the return, or one missing), `invalid_body`", body = Problem),
    ))]
pub async fn receive(
    State(state): State<AppState>,
    Require(caller, ..): Require<OrdersWriteAny>,
    Path(id): Path<i64>,
    Json(body): Json<ReceiveRequest>,
) -> Result<JsonText, ApiError> {
    let body = serde_json::to_value(&body).map_err(|e| ApiError::internal(e.to_string()))?;
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.admin_receive_return($1, $2)::text",
        &[&id, &body],
    )
    .await
}

/// Refunds a received return through the payments refund path: the returned lines
/// (their allocated discounts and taxes), and the shipping when the whole order came
/// back or a reason is the shop's fault. The same `Idempotency-Key` answers the same
/// refund. Audited.
#[utoipa::path(post, path = "/api/v1/admin/returns/{id}/refund", tag = "returns", operation_id = "refund_return",
    security(("bearer" = ["orders:write:any"])), params(("id" = i64, Path, description = "Return id"), IdempotencyKeyHeader),
    responses(
        (status = 201, description = "The return with its refund", body = Return),
        (status = 400, description = "Codes: `idempotency_key_required`, `invalid_idempotency_key`", body = Problem),
        (status = 404, description = "No such return (`return_not_found`)", body = Problem),
        (status = 409, description = "Codes: `return_transition_invalid` (not received, or already refunded), `order_not_refundable`, `idempotency_key_in_flight`, `refund_failed`, `refund_outcome_unknown`", body = Problem),
        (status = 422, description = "Codes: `refund_exceeds_captured`, `refund_quantity_exceeds` (the units were refunded by hand), `refund_empty`, `idempotency_key_reused`", body = Problem),
        (status = 502, description = "The provider failed the refund: `payment_provider_refused`, `payment_provider_error`, `payment_provider_unreachable`; `details`: `{provider, provider_code, http_status}` as JSON", body = Problem),
    ))]
pub async fn refund(
    State(state): State<AppState>,
    Require(caller, ..): Require<OrdersWriteAny>,
    Path(id): Path<i64>,
    key: IdempotencyKey,
) -> Result<JsonText, ApiError> {
    let idem = key.required_argument(&state, &caller, &id, "a refund")?;
    let begun = db::call(
        &state.db,
        &caller,
        Access::ReadWrite,
        "select api.return_refund_begin($1, $2)::text",
        &[&id, &idem],
    )
    .await?;
    let begun: Value = serde_json::from_str(&begun).map_err(|e| ApiError::internal(e.to_string()))?;
    if begun["action"] != "call" {
        return Ok(JsonText(StatusCode::CREATED, begun["body"].to_string()));
    }
    payments::call_refund(&state, &begun).await?;
    let body = owner_call(&state, "select api.return_result($1)::text", &[&id]).await?;
    Ok(JsonText(StatusCode::CREATED, body))
}
