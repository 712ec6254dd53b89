//! Provider webhooks: `POST /api/v1/webhooks/{stripe,fedapay,paystack}`.
//!
//! The signature is checked on the raw body bytes ([`maef_payments::signature`]); a
//! missing, malformed, stale or forged one answers 400 and changes nothing, with one
//! warning line (never the body). A verified event is then stored once and applied by
//! `api.payment_webhook`, called as the service: no request role may write what a
//! provider said. A repeat of a stored event answers 200 and does nothing else.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
};
use maef_payments::{fedapay, paystack, signature, stripe, Inbound, Provider, ProviderKeys};
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{ApiError, Problem},
    routes::{payment_types::WebhookReceipt, payments::owner_call, JsonText},
    AppState,
};

/// The three provider webhook routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(stripe_webhook))
        .routes(routes!(fedapay_webhook))
        .routes(routes!(paystack_webhook))
}

fn keys(state: &AppState, provider: Provider) -> Result<&ProviderKeys, ApiError> {
    state.payments.config.keys(provider).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "payment_provider_not_configured",
            format!("{} is not configured on this shop", provider.as_str()),
        )
    })
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn refused(provider: Provider, error: &signature::SignatureError) -> ApiError {
    tracing::warn!(provider = provider.as_str(), reason = %error, "provider webhook refused: bad signature");
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_signature",
        format!("webhook refused: {error}"),
    )
    .hint("Check the webhook signing secret configured for this provider.")
}

async fn apply(
    state: &AppState,
    provider: Provider,
    inbound: Result<Inbound, maef_payments::BadEvent>,
    body: &Bytes,
) -> Result<JsonText, ApiError> {
    let inbound = inbound.map_err(|e| {
        tracing::warn!(provider = provider.as_str(), reason = %e, "provider webhook refused: unreadable event");
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_event", e.to_string())
    })?;
    let payload: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let event = inbound.to_sql(payload);
    let name = provider.as_str();
    let receipt = owner_call(
        state,
        "select api.payment_webhook($1, $2)::text",
        &[&name, &event],
    )
    .await?;
    tracing::info!(provider = name, event = %inbound.event_id, kind = %inbound.event_type, receipt = %receipt, "provider webhook");
    Ok(JsonText::ok(receipt))
}

/// Stripe events (`Stripe-Signature: t=…,v1=…`, HMAC-SHA256 of `"{t}.{body}"`, any `v1`
/// under any of `STRIPE_WEBHOOK_SECRETS`, `t` within `PAYMENT_WEBHOOK_TOLERANCE_SECS`).
/// `payment_intent.*` move the payment (and the order when it succeeds); `refund.*` and
/// `charge.refund.updated` the refund; other types are stored and ignored.
#[utoipa::path(post, path = "/api/v1/webhooks/stripe", tag = "payments",
    request_body(content = Object, description = "A Stripe event, as signed", content_type = "application/json"),
    responses(
        (status = 200, description = "Stored (once) and applied", body = WebhookReceipt),
        (status = 400, description = "Codes: `invalid_signature` (missing, malformed, stale or forged: nothing changed), `invalid_event`", body = Problem),
        (status = 404, description = "Stripe is not configured (`payment_provider_not_configured`)", body = Problem),
    ))]
pub async fn stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<JsonText, ApiError> {
    let keys = keys(&state, Provider::Stripe)?;
    let tolerance = i64::try_from(state.payments.config.webhook_tolerance.as_secs()).unwrap_or(300);
    signature::verify_stripe(
        header(&headers, "stripe-signature"),
        &body,
        &keys.webhook_secrets,
        tolerance,
        now(),
    )
    .map_err(|e| refused(Provider::Stripe, &e))?;
    apply(&state, Provider::Stripe, stripe::parse_event(&body), &body).await
}

/// FedaPay events (`X-FEDAPAY-SIGNATURE: t=…,s=…`, HMAC-SHA256 of `"{t}.{body}"`). A
/// `transaction.*` event enqueues the re-fetch of its transaction (`verify_payment`):
/// only the transaction FedaPay then returns marks the order paid.
#[utoipa::path(post, path = "/api/v1/webhooks/fedapay", tag = "payments",
    request_body(content = Object, description = "A FedaPay event, as signed", content_type = "application/json"),
    responses(
        (status = 200, description = "Stored (once); its payment's verification enqueued", body = WebhookReceipt),
        (status = 400, description = "Codes: `invalid_signature`, `invalid_event`", body = Problem),
        (status = 404, description = "FedaPay is not configured (`payment_provider_not_configured`)", body = Problem),
    ))]
pub async fn fedapay_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<JsonText, ApiError> {
    let keys = keys(&state, Provider::Fedapay)?;
    let tolerance = i64::try_from(state.payments.config.webhook_tolerance.as_secs()).unwrap_or(300);
    signature::verify_fedapay(
        header(&headers, "x-fedapay-signature"),
        &body,
        &keys.webhook_secrets,
        tolerance,
        now(),
    )
    .map_err(|e| refused(Provider::Fedapay, &e))?;
    apply(&state, Provider::Fedapay, fedapay::parse_event(&body), &body).await
}

/// Paystack events (`x-paystack-signature`: HMAC-SHA512 of the body with the secret
/// key; no timestamp — each event is stored once, by event, reference and status).
/// `charge.success` enqueues `/transaction/verify`; `refund.*` move the refund.
#[utoipa::path(post, path = "/api/v1/webhooks/paystack", tag = "payments",
    request_body(content = Object, description = "A Paystack event, as signed", content_type = "application/json"),
    responses(
        (status = 200, description = "Stored (once) and applied or its verification enqueued", body = WebhookReceipt),
        (status = 400, description = "Codes: `invalid_signature`, `invalid_event`", body = Problem),
        (status = 404, description = "Paystack is not configured (`payment_provider_not_configured`)", body = Problem),
    ))]
pub async fn paystack_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<JsonText, ApiError> {
    let keys = keys(&state, Provider::Paystack)?;
    signature::verify_paystack(
        header(&headers, "x-paystack-signature"),
        &body,
        &keys.webhook_secrets,
    )
    .map_err(|e| refused(Provider::Paystack, &e))?;
    apply(&state, Provider::Paystack, paystack::parse_event(&body), &body).await
}
