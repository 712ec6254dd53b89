//! Paying an order and refunding it (docs/payments.md; `sql/payments.sql`).
//!
//! Paying and refunding call a provider, which never happens inside a transaction: the
//! handler makes three steps — `api.payment_begin` / `api.refund_begin` as the caller
//! (the row, idempotent per `Idempotency-Key`, under the order's lock), the provider
//! call ([`maef_payments`], no transaction open), then the answer recorded as the
//! service ([`owner_call`]: `api.payment_created`, `api.refund_created`, or their
//! `_create_failed`), which no request role may call. A failed call answers 502
//! naming the provider and its error code.

use axum::{extract::State, http::StatusCode};
use maef_payments::{OrderToPay, PaymentToCreate, Provider, ProviderError, RefundToCreate};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_postgres::types::ToSql;
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
        orders::{OrderToken, OrderTokenHeader, TokenParam},
        payment_types::{
            AdminOrderPayments, MarkPaidRequest, OrderPayments, Payment, PaymentOptions, PaymentPage,
            PaymentRequest, RefundRequest,
        },
        JsonText,
    },
    AppState,
};

/// `/api/v1/orders/{number}/payment…` and `/api/v1/admin/…payments`, `…/refunds`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(payment_options))
        .routes(routes!(pay, order_payments))
        .routes(routes!(admin_order_payments))
        .routes(routes!(mark_paid))
        .routes(routes!(refund))
        .routes(routes!(admin_payments))
}

/// Runs one `api.*` call as the service (the pool's own role, no caller identity) in
/// its own transaction: what a provider said is recorded only by code holding its keys.
///
/// # Errors
/// Pool and SQL errors, mapped as usual.
pub async fn owner_call(
    state: &AppState,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<String, ApiError> {
    let client = state.db.get().await?;
    // Prepared and cached, or unnamed behind a pooler (`DB_PREPARED_STATEMENTS`).
    let row = state.db.query_one(&client, sql, params).await?;
    let json: Option<String> = row.try_get(0)?;
    json.ok_or_else(|| ApiError::internal(format!("{sql} returned NULL")))
}

/// A failed provider call as a 502 naming the provider and its code (no key, no URL).
pub fn provider_problem(error: &ProviderError, what: &str) -> ApiError {
    let (code, hint) = match error {
        ProviderError::Timeout { .. } | ProviderError::Transport { .. } => (
            "payment_provider_unreachable",
            "Retry with the same Idempotency-Key: it reaches the provider as the same request.",
        ),
        ProviderError::Api { http_status, .. } if *http_status < 500 => (
            "payment_provider_refused",
            "The provider refused: try another way to pay (a new Idempotency-Key).",
        ),
        _ => (
            "payment_provider_error",
            "Retry with the same Idempotency-Key: it reaches the provider as the same request.",
        ),
    };
    let details = serde_json::json!({"provider": error.provider(), "provider_code": error.code(),
        "http_status": match error { ProviderError::Api { http_status, .. } | ProviderError::Decode { http_status, .. } => Some(*http_status), _ => None }});
    ApiError::new(StatusCode::BAD_GATEWAY, code, format!("{what}: {error}"))
        .details(details.to_string())
        .hint(hint)
}

/// A stored body in the one text form every answer with the same key gets (the first
/// answer and its replays, which come back inside `api.*_begin`'s answer).
fn canonical(json: &str) -> Result<String, ApiError> {
    serde_json::from_str::<Value>(json)
        .map(|v| v.to_string())
        .map_err(|e| ApiError::internal(e.to_string()))
}

fn parse<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, ApiError> {
    serde_json::from_value(value.clone()).map_err(|e| ApiError::internal(format!("begin answer: {e}")))
}

/// The ways to pay an order: configured providers accepting its currency, and cash on
/// delivery where the store offers it.
#[utoipa::path(get, path = "/api/v1/orders/{number}/payment-options", tag = "payments", security((), ("bearer" = [])),
    params(("number" = String, Path, description = "Order number"), TokenParam, OrderTokenHeader),
    responses(
        (status = 200, description = "The order and its ways to pay", body = PaymentOptions),
        (status = 400, description = "Malformed token (`invalid_order_token`)", body = Problem),
        (status = 404, description = "No such order for this caller (`order_not_found`)", body = Problem),
    ))]
pub async fn payment_options(
    State(state): State<AppState>,
    caller: Caller,
    OrderToken(token): OrderToken,
    Path(number): Path<String>,
) -> Result<JsonText, ApiError> {
    let offered = state.payments.config.offered();
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.payment_options($1, $2, $3)::text",
        &[&number, &token, &offered],
    )
    .await
}

/// Pays an order awaiting payment (its customer, or a guest with the order's token).
/// Stripe answers a PaymentIntent's `client_secret`, FedaPay and Paystack their hosted
/// page's URL; cash on delivery confirms the order (stock held, payment on delivery).
/// The same `Idempotency-Key` answers the same payment (or, after a failed call,
/// reaches the provider again as the same request).
#[utoipa::path(post, path = "/api/v1/orders/{number}/payments", tag = "payments", request_body = PaymentRequest,
    security((), ("bearer" = [])),
    params(("number" = String, Path, description = "Order number"), TokenParam, OrderTokenHeader, IdempotencyKeyHeader),
    responses(
        (status = 201, description = "The payment with `next_action` and the order's state (the same body for every retry with the key)", body = Payment),
        (status = 400, description = "Codes: `idempotency_key_required`, `invalid_idempotency_key`, `invalid_order_token`, `malformed_json`", body = Problem),
        (status = 404, description = "No such order for this caller (`order_not_found`)", body = Problem),
        (status = 409, description = "Codes: `order_not_payable` (not awaiting payment; `details`: `{status, payment_status}` as JSON), `idempotency_key_in_flight` (the same key is calling the provider: retry shortly)", body = Problem),
        (status = 422, description = "Codes: `payment_provider_unavailable` (no keys configured; `details`: the offered providers), `currency_not_supported` (before any call; `details`: the provider's currencies), `cash_on_delivery_unavailable` (country or amount), `idempotency_key_reused`, `invalid_field`, `invalid_body`", body = Problem),
        (status = 502, description = "The provider failed: `payment_provider_refused` (its 4xx: the payment is failed), `payment_provider_error` (5xx, unreadable answer) or `payment_provider_unreachable` (timeout: the payment stays pending); `details`: `{provider, provider_code, http_status}` as JSON", body = Problem),
    ))]
pub async fn pay(
    State(state): State<AppState>,
    caller: Caller,
    OrderToken(token): OrderToken,
    Path(number): Path<String>,
    key: IdempotencyKey,
    Json(request): Json<PaymentRequest>,
) -> Result<JsonText, ApiError> {
    let idem = key.required_argument(&state, &caller, &request, "paying an order")?;
    let body = serde_json::to_value(&request).map_err(|e| ApiError::internal(e.to_string()))?;
    let offered = state.payments.config.offered();
    let begun = db::call(
        &state.db,
        &caller,
        Access::ReadWrite,
        "select api.payment_begin($1, $2, $3, $4, $5)::text",
        &[&number, &token, &body, &idem, &offered],
    )
    .await?;
    let begun: Value = serde_json::from_str(&begun).map_err(|e| ApiError::internal(e.to_string()))?;
    if begun["action"] != "call" {
        return Ok(JsonText(StatusCode::CREATED, begun["body"].to_string()));
    }
    let payment: PaymentToCreate = parse(&begun["payment"])?;
    let order: OrderToPay = parse(&begun["order"])?;
    let id: uuid::Uuid = payment.id.parse().map_err(|_| ApiError::internal("payment id"))?;
    let provider = begun["payment"]["provider"]
        .as_str()
        .and_then(Provider::parse)
        .ok_or_else(|| ApiError::internal("begin answer: provider"))?;
    match maef_payments::create_payment(&state.payments, provider, &payment, &order).await {
        Ok(created) => {
            let result = serde_json::to_value(&created).map_err(|e| ApiError::internal(e.to_string()))?;
            let body = owner_call(
                &state,
                "select api.payment_created($1, $2)::text",
                &[&id, &result],
            )
            .await?;
            Ok(JsonText(StatusCode::CREATED, canonical(&body)?))
        }
        Err(failed) => {
            tracing::warn!(provider = provider.as_str(), payment = %id, error = %failed.error, "payment creation failed");
            let error = failed.error.to_sql(failed.provider_ref.as_deref());
            owner_call(
                &state,
                "select api.payment_create_failed($1, $2)::text",
                &[&id, &error],
            )
            .await?;
            Err(provider_problem(
                &failed.error,
                &format!("{} did not create the payment", provider.as_str()),
            ))
        }
    }
}

/// An order's payments and refunds (its customer, or a guest with the token).
#[utoipa::path(get, path = "/api/v1/orders/{number}/payments", tag = "payments", security((), ("bearer" = [])),
    params(("number" = String, Path, description = "Order number"), TokenParam, OrderTokenHeader),
    responses(
        (status = 200, description = "The order's payments, oldest first", body = OrderPayments),
        (status = 400, description = "Malformed token (`invalid_order_token`)", body = Problem),
        (status = 404, description = "No such order for this caller (`order_not_found`)", body = Problem),
    ))]
pub async fn order_payments(
    State(state): State<AppState>,
    caller: Caller,
    OrderToken(token): OrderToken,
    Path(number): Path<String>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.order_payments($1, $2)::text",
        &[&number, &token],
    )
    .await
}

/// An order's payments for staff: provider references, review reasons, refunds,
/// captured and refunded totals.
#[utoipa::path(get, path = "/api/v1/admin/orders/{number}/payments", tag = "admin",
    security(("bearer" = ["orders:read:any"])), params(("number" = String, Path, description = "Order number")),
    responses(
        (status = 200, description = "Payments and refunds", body = AdminOrderPayments),
        (status = 404, description = "No such order (`order_not_found`)", body = Problem),
    ))]
pub async fn admin_order_payments(
    State(state): State<AppState>,
    Require(caller, ..): Require<OrdersReadAny>,
    Path(number): Path<String>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.admin_order_payments($1)::text",
        &[&number],
    )
    .await
}

/// Cash on delivery: the courier brought the money. The payment succeeds and the order
/// is paid (its reserved stock sold, unless it already shipped); audited.
#[utoipa::path(post, path = "/api/v1/admin/orders/{number}/mark-paid", tag = "admin",
    security(("bearer" = ["orders:write:any"])), request_body = MarkPaidRequest,
    params(("number" = String, Path, description = "Order number")),
    responses(
        (status = 200, description = "The order's payments", body = AdminOrderPayments),
        (status = 404, description = "No such order (`order_not_found`)", body = Problem),
        (status = 409, description = "Codes: `not_cash_on_delivery` (no cash-on-delivery payment awaiting its money; `details`: `{status, payment_status}` as JSON), `order_transition_invalid`", body = Problem),
        (status = 422, description = "Codes: `invalid_field`, `invalid_body`", body = Problem),
    ))]
pub async fn mark_paid(
    State(state): State<AppState>,
    Require(caller, ..): Require<OrdersWriteAny>,
    Path(number): Path<String>,
    Json(body): Json<MarkPaidRequest>,
) -> Result<JsonText, ApiError> {
    let body = serde_json::to_value(&body).map_err(|e| ApiError::internal(e.to_string()))?;
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.admin_mark_order_paid($1, $2)::text",
        &[&number, &body],
    )
    .await
}

/// Refunds (part of) an order: lines (their allocated discounts and taxes, pro rata),
/// the shipping, or an amount; never more than captured minus refunded. Stripe and
/// Paystack refund through their API (the refund's state then follows their
/// webhooks); FedaPay and cash refunds are made outside maef and recorded as manual.
/// Restocked lines go back on hand. Audited.
#[utoipa::path(post, path = "/api/v1/admin/orders/{number}/refunds", tag = "admin",
    security(("bearer" = ["orders:write:any"])), request_body = RefundRequest,
    params(("number" = String, Path, description = "Order number"), IdempotencyKeyHeader),
    responses(
        (status = 201, description = "The order's payments with `refund`, the refund made (the same body for every retry with the key)", body = AdminOrderPayments),
        (status = 400, description = "Codes: `idempotency_key_required`, `invalid_idempotency_key`, `malformed_json`", body = Problem),
        (status = 404, description = "No such order (`order_not_found`)", body = Problem),
        (status = 409, description = "Codes: `order_not_refundable` (nothing captured), `idempotency_key_in_flight`, `refund_failed` (this key's refund failed: use a new key), `refund_outcome_unknown` (Paystack did not answer: its webhook settles it)", body = Problem),
        (status = 422, description = "Codes: `refund_exceeds_captured` (`details`: `{captured, refunded, requested}` as JSON), `refund_quantity_exceeds`, `shipping_already_refunded`, `refund_empty`, `invalid_field` (`details`: the JSON path), `idempotency_key_reused`, `invalid_body`", body = Problem),
        (status = 502, description = "The provider failed: `payment_provider_refused` (the refund is failed), `payment_provider_error`, `payment_provider_unreachable` (the refund stays pending); `details`: `{provider, provider_code, http_status}` as JSON", body = Problem),
    ))]
pub async fn refund(
    State(state): State<AppState>,
    Require(caller, ..): Require<OrdersWriteAny>,
    Path(number): Path<String>,
    key: IdempotencyKey,
    Json(request): Json<RefundRequest>,
) -> Result<JsonText, ApiError> {
    let idem = key.required_argument(&state, &caller, &request, "a refund")?;
    let body = serde_json::to_value(&request).map_err(|e| ApiError::internal(e.to_string()))?;
    let begun = db::call(
        &state.db,
        &caller,
        Access::ReadWrite,
        "select api.refund_begin($1, $2, $3)::text",
        &[&number, &body, &idem],
    )
    .await?;
    let begun: Value = serde_json::from_str(&begun).map_err(|e| ApiError::internal(e.to_string()))?;
    if begun["action"] != "call" {
        return Ok(JsonText(StatusCode::CREATED, begun["body"].to_string()));
    }
    let body = call_refund(&state, &begun).await?;
    Ok(JsonText(StatusCode::CREATED, canonical(&body)?))
}

/// The provider step of a refund begun by `api.refund_begin` (or by a cancellation or
/// a return, which start theirs through the same SQL): the provider's refund call with
/// no transaction open, then its answer recorded as the service
/// (`api.refund_created` / `api.refund_create_failed`). Returns the recorded body.
///
/// # Errors
/// A failed call is recorded, then answered 502 naming the provider and its code.
pub async fn call_refund(state: &AppState, begun: &Value) -> Result<String, ApiError> {
    let refund: RefundToCreate = parse(&begun["refund"])?;
    let provider = begun["payment"]["provider"]
        .as_str()
        .and_then(Provider::parse)
        .ok_or_else(|| ApiError::internal("begin answer: provider"))?;
    let payment_ref = begun["payment"]["provider_ref"].as_str().unwrap_or_default();
    match maef_payments::refund(&state.payments, provider, payment_ref, &refund).await {
        Ok(result) => {
            let result = serde_json::to_value(&result).map_err(|e| ApiError::internal(e.to_string()))?;
            owner_call(
                state,
                "select api.refund_created($1, $2)::text",
                &[&refund.id, &result],
            )
            .await
        }
        Err(error) => {
            tracing::warn!(provider = provider.as_str(), refund = refund.id, error = %error, "refund failed");
            let sql_error = error.to_sql(None);
            owner_call(
                state,
                "select api.refund_create_failed($1, $2)::text",
                &[&refund.id, &sql_error],
            )
            .await?;
            Err(provider_problem(
                &error,
                &format!("{} did not make the refund", provider.as_str()),
            ))
        }
    }
}

/// Filters of the staff payment list.
#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PaymentFilter {
    /// `needs_review` lists captured money to refund.
    #[param(pattern = "^(pending|processing|succeeded|failed|cancelled|needs_review)$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[param(pattern = "^(stripe|fedapay|paystack|cash_on_delivery)$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Page size (default 20).
    #[param(minimum = 1, maximum = 100)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i32>,
    /// `next_cursor` of the previous page: `<created_at>|<payment id>`, the orders'
    /// cursor form (the same pattern as `GET /api/v1/admin/orders`).
    #[param(
        pattern = r"^([1-9][0-9]{3}|0[0-9]{2}[1-9]|0[0-9][1-9]0|0[1-9]00)-((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31) ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?[+-](0[0-9]|1[0-4])(:[0-5][0-9])?\|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// Payments of every order, newest first (`status=needs_review`: money to refund).
#[utoipa::path(get, path = "/api/v1/admin/payments", tag = "admin", security(("bearer" = ["orders:read:any"])),
    params(PaymentFilter),
    responses(
        (status = 200, description = "A page of payments", body = PaymentPage),
        (status = 422, description = "Codes: `invalid_filter`, `invalid_limit`, `invalid_cursor`, `invalid_query`", body = Problem),
    ))]
pub async fn admin_payments(
    State(state): State<AppState>,
    Require(caller, ..): Require<OrdersReadAny>,
    Query(filter): Query<PaymentFilter>,
) -> Result<JsonText, ApiError> {
    let filter = serde_json::to_value(&filter).map_err(|e| ApiError::internal(e.to_string()))?;
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.admin_list_payments($1)::text",
        &[&filter],
    )
    .await
}
