//! Stripe: PaymentIntents, Refunds and events (stripe-go's `paymentintent.go`,
//! `refund.go`, `event.go`, `form/form.go`, `error.go`; docs/payments.md cites them).
//!
//! Requests are `application/x-www-form-urlencoded` with bracketed keys
//! (`metadata[order_number]`), authenticated `Authorization: Bearer sk_…`, with the API
//! version pinned in [`API_VERSION`] and an `Idempotency-Key` derived from our row
//! (`maef-payment-<uuid>`, `maef-refund-<id>`), so a retry of the same payment is the
//! same request to Stripe. Errors are `{"error": {"type", "code", "message", …}}`.

use reqwest::Method;
use serde_json::Value;

use crate::{
    http::{missing, not_configured, Answer, ProviderError, Providers},
    money, text, BadEvent, Created, Inbound, Observed, OrderToPay, PaymentState, PaymentToCreate, Provider,
    RefundResult, RefundState, RefundToCreate, Subject,
};

/// The `Stripe-Version` every request sends: pinned here, and only here (the version
/// stripe-go 86.2.0 and stripe-node pin, 2026-07-29).
pub const API_VERSION: &str = "2026-07-29.dahlia";

/// The Idempotency-Key of a payment's creation.
pub fn payment_key(payment_id: &str) -> String {
    format!("maef-payment-{payment_id}")
}

/// The Idempotency-Key of a refund.
pub fn refund_key(refund_id: i64) -> String {
    format!("maef-refund-{refund_id}")
}

fn envelope(status: u16, body: &Value) -> (String, String) {
    let error = &body["error"];
    let code = text(error, "code")
        .or_else(|| text(error, "type"))
        .unwrap_or_else(|| format!("http_{status}"));
    let message = text(error, "message").unwrap_or_else(|| format!("HTTP {status}"));
    (code, message)
}

fn form(pairs: &[(&str, String)]) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        serializer.append_pair(k, v);
    }
    serializer.finish()
}

async fn post(providers: &Providers, path: &str, key: &str, body: String) -> Result<Answer, ProviderError> {
    let request = providers
        .request(Provider::Stripe, Method::POST, path)
        .ok_or_else(|| not_configured(Provider::Stripe))?
        .header("Stripe-Version", API_VERSION)
        .header("Idempotency-Key", key)
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body);
    providers.send(Provider::Stripe, request, envelope).await
}

/// ISO 4217 minor-unit decimals where they are not 2 (to read Stripe's amounts back in
/// events, which carry no exponent of ours).
fn iso_exponent(currency: &str) -> u32 {
    match currency.to_ascii_uppercase().as_str() {
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        c if money::STRIPE_ZERO_DECIMAL.contains(&c) || c == "ISK" => 0,
        _ => 2,
    }
}

/// `POST /v1/payment_intents`: amount in Stripe's unit, lowercase currency, automatic
/// payment methods, our order number and payment id in `metadata`.
///
/// # Errors
/// The call failed, Stripe refused, or the amount cannot be expressed (422, no call).
pub async fn create_payment(
    providers: &Providers,
    payment: &PaymentToCreate,
    order: &OrderToPay,
) -> Result<Created, ProviderError> {
    let amount = money::to_stripe(payment.amount, &payment.currency, payment.exponent).map_err(|e| {
        ProviderError::Api {
            provider: "stripe",
            http_status: 422,
            code: "amount_not_supported".into(),
            message: e.to_string(),
        }
    })?;
    let body = form(&[
        ("amount", amount.to_string()),
        ("currency", payment.currency.to_ascii_lowercase()),
        ("automatic_payment_methods[enabled]", "true".into()),
        ("description", format!("Order {}", order.number)),
        ("metadata[order_number]", order.number.clone()),
        ("metadata[payment_id]", payment.id.clone()),
    ]);
    let answer = post(providers, "/v1/payment_intents", &payment_key(&payment.id), body).await?;
    let id = text(&answer.body, "id").ok_or_else(|| missing(Provider::Stripe, answer.status, "id"))?;
    let secret = text(&answer.body, "client_secret")
        .ok_or_else(|| missing(Provider::Stripe, answer.status, "client_secret"))?;
    Ok(Created {
        provider_ref: id,
        client: serde_json::json!({"type": "stripe_client_secret", "client_secret": secret}),
    })
}

/// `GET /v1/payment_intents/{id}`.
///
/// # Errors
/// The call failed or the answer is not a PaymentIntent.
pub async fn retrieve_payment(providers: &Providers, id: &str) -> Result<Observed, ProviderError> {
    let request = providers
        .request(
            Provider::Stripe,
            Method::GET,
            &format!("/v1/payment_intents/{}", encode(id)),
        )
        .ok_or_else(|| not_configured(Provider::Stripe))?
        .header("Stripe-Version", API_VERSION);
    let answer = providers.send(Provider::Stripe, request, envelope).await?;
    observe_intent(&answer.body, None)
        .ok_or_else(|| missing(Provider::Stripe, answer.status, "PaymentIntent"))
}

/// A PaymentIntent's state; `failed` forces the failure (`payment_intent.payment_failed`
/// carries the intent back in `requires_payment_method`).
fn observe_intent(intent: &Value, forced: Option<PaymentState>) -> Option<Observed> {
    if intent["object"] != "payment_intent" {
        return None;
    }
    let error = &intent["last_payment_error"];
    let status = forced.unwrap_or(match intent["status"].as_str()? {
        "succeeded" => PaymentState::Succeeded,
        "processing" | "requires_capture" => PaymentState::Processing,
        "canceled" => PaymentState::Cancelled,
        _ => PaymentState::Pending,
    });
    let currency = text(intent, "currency")?.to_ascii_uppercase();
    let wire = if status == PaymentState::Succeeded {
        intent["amount_received"]
            .as_i64()
            .or_else(|| intent["amount"].as_i64())
    } else {
        intent["amount"].as_i64()
    };
    Some(Observed {
        status,
        amount: wire.map(|a| money::from_stripe(a, &currency, iso_exponent(&currency))),
        currency: Some(currency),
        provider_ref: text(intent, "id"),
        failure_code: text(error, "decline_code").or_else(|| text(error, "code")),
        failure_message: text(error, "message"),
    })
}

/// `POST /v1/refunds` for a PaymentIntent, with `Idempotency-Key: maef-refund-<id>`.
///
/// # Errors
/// The call failed or Stripe refused (over-refund, already refunded…).
pub async fn refund(
    providers: &Providers,
    payment_ref: &str,
    refund: &RefundToCreate,
) -> Result<RefundResult, ProviderError> {
    let amount = money::to_stripe(refund.amount, &refund.currency, refund.exponent).map_err(|e| {
        ProviderError::Api {
            provider: "stripe",
            http_status: 422,
            code: "amount_not_supported".into(),
            message: e.to_string(),
        }
    })?;
    let body = form(&[
        ("payment_intent", payment_ref.to_string()),
        ("amount", amount.to_string()),
        ("reason", "requested_by_customer".into()),
        ("metadata[refund_id]", refund.id.to_string()),
    ]);
    let answer = post(providers, "/v1/refunds", &refund_key(refund.id), body).await?;
    observe_refund(&answer.body).ok_or_else(|| missing(Provider::Stripe, answer.status, "Refund"))
}

fn observe_refund(object: &Value) -> Option<RefundResult> {
    if object["object"] != "refund" {
        return None;
    }
    let currency = text(object, "currency").unwrap_or_default();
    Some(RefundResult {
        provider_ref: text(object, "id"),
        status: match object["status"].as_str()? {
            "succeeded" => RefundState::Succeeded,
            "failed" | "canceled" => RefundState::Failed,
            _ => RefundState::Pending,
        },
        amount: object["amount"]
            .as_i64()
            .map(|a| money::from_stripe(a, &currency, iso_exponent(&currency))),
        failure_code: text(object, "failure_reason"),
        failure_message: None,
    })
}

/// Reads a verified event (`{"id": "evt_…", "object": "event", "type", "data": {"object"}}`).
///
/// # Errors
/// Not JSON, not an event, or no id.
pub fn parse_event(body: &[u8]) -> Result<Inbound, BadEvent> {
    let event: Value = serde_json::from_slice(body).map_err(|e| BadEvent(format!("not JSON: {e}")))?;
    if event["object"] != "event" {
        return Err(BadEvent("not an event object".into()));
    }
    let event_id = text(&event, "id").ok_or_else(|| BadEvent("no id".into()))?;
    let event_type = text(&event, "type").ok_or_else(|| BadEvent("no type".into()))?;
    let object = &event["data"]["object"];
    let metadata = &object["metadata"];
    let mut inbound = Inbound {
        event_id,
        event_type: event_type.clone(),
        payment_hint: text(metadata, "payment_id"),
        provider_ref: None,
        refund_hint: None,
        subject: Subject::Other,
    };
    if let Some(kind) = event_type.strip_prefix("payment_intent.") {
        let forced = match kind {
            "payment_failed" => Some(PaymentState::Failed),
            _ => None,
        };
        let observed = observe_intent(object, forced)
            .ok_or_else(|| BadEvent("data.object is not a PaymentIntent".into()))?;
        inbound.provider_ref = observed.provider_ref.clone();
        inbound.subject = Subject::Payment(observed);
    } else if matches!(
        event_type.as_str(),
        "refund.created" | "refund.updated" | "refund.failed" | "charge.refund.updated"
    ) {
        let mut refund =
            observe_refund(object).ok_or_else(|| BadEvent("data.object is not a Refund".into()))?;
        if event_type == "refund.failed" {
            refund.status = RefundState::Failed;
        }
        inbound.provider_ref = text(object, "payment_intent");
        inbound.payment_hint = None;
        inbound.refund_hint = text(metadata, "refund_id");
        inbound.subject = Subject::Refund(refund);
    }
    Ok(inbound)
}

/// Percent-encodes a path segment.
pub(crate) fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_become_payment_and_refund_observations() {
        let succeeded = br#"{"id": "evt_1", "object": "event", "type": "payment_intent.succeeded",
            "data": {"object": {"id": "pi_1", "object": "payment_intent", "amount": 32000, "amount_received": 32000,
                                "currency": "xof", "status": "succeeded", "metadata": {"payment_id": "p-1"}}}}"#;
        let inbound = parse_event(succeeded).unwrap();
        assert_eq!(inbound.payment_hint.as_deref(), Some("p-1"));
        assert_eq!(inbound.provider_ref.as_deref(), Some("pi_1"));
        let Subject::Payment(observed) = inbound.subject else {
            panic!()
        };
        assert_eq!(observed.status, PaymentState::Succeeded);
        assert_eq!(
            (observed.amount, observed.currency.as_deref()),
            (Some(32000), Some("XOF"))
        );

        let failed = br#"{"id": "evt_2", "object": "event", "type": "payment_intent.payment_failed",
            "data": {"object": {"id": "pi_1", "object": "payment_intent", "amount": 2599, "currency": "eur",
                                "status": "requires_payment_method",
                                "last_payment_error": {"code": "card_declined", "decline_code": "insufficient_funds",
                                                       "message": "Your card has insufficient funds."}}}}"#;
        let Subject::Payment(observed) = parse_event(failed).unwrap().subject else {
            panic!()
        };
        assert_eq!(observed.status, PaymentState::Failed);
        assert_eq!(observed.failure_code.as_deref(), Some("insufficient_funds"));

        let refund = br#"{"id": "evt_3", "object": "event", "type": "refund.updated",
            "data": {"object": {"id": "re_1", "object": "refund", "amount": 1000, "currency": "xof",
                                "status": "succeeded", "payment_intent": "pi_1", "metadata": {"refund_id": "7"}}}}"#;
        let inbound = parse_event(refund).unwrap();
        assert_eq!(inbound.refund_hint.as_deref(), Some("7"));
        let Subject::Refund(r) = inbound.subject else {
            panic!()
        };
        assert_eq!((r.status, r.amount), (RefundState::Succeeded, Some(1000)));

        let other =
            br#"{"id": "evt_4", "object": "event", "type": "customer.created", "data": {"object": {}}}"#;
        assert_eq!(parse_event(other).unwrap().subject, Subject::Other);
        assert!(parse_event(br#"{"object": "v2.core.event"}"#).is_err());
        assert!(parse_event(b"not json").is_err());
    }

    #[test]
    fn the_error_envelope_gives_code_then_type() {
        let body = serde_json::json!({"error": {"type": "card_error", "code": "card_declined", "message": "Declined"}});
        assert_eq!(envelope(402, &body), ("card_declined".into(), "Declined".into()));
        let body = serde_json::json!({"error": {"type": "api_error", "message": "Oops"}});
        assert_eq!(envelope(500, &body).0, "api_error");
        assert_eq!(envelope(502, &Value::Null).0, "http_502");
    }
}
