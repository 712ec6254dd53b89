//! Paystack: transaction initialize and verify, refunds and events (PaystackOSS
//! `openapi` and `doc-code-snippets`; docs/payments.md cites them). JSON bodies,
//! `Authorization: Bearer <secret key>`, answers `{"status": true|false, "message",
//! "data"}`, errors `{"status": false, "message", "type"?, "code"?}`.
//!
//! Our reference is `maef-<payment id>-<attempt>`: Paystack refuses a reference used
//! before (`duplicate_reference`), so a retry after an unanswered call uses the next
//! attempt's; the payment id in it ties every event back to our payment. Amounts are
//! subunits (kobo, pesewas): our minor units.

use reqwest::Method;
use serde_json::Value;

use crate::{
    http::{json, missing, not_configured, Answer, ProviderError, Providers},
    integer,
    stripe::encode,
    text, BadEvent, Created, Inbound, Observed, OrderToPay, PaymentState, PaymentToCreate, Provider,
    RefundResult, RefundState, RefundToCreate, Subject,
};

/// Our reference for a payment's creation attempt.
pub fn reference(payment_id: &str, attempt: i32) -> String {
    format!("maef-{payment_id}-{attempt}")
}

/// The payment id in one of our references.
pub fn payment_of_reference(reference: &str) -> Option<String> {
    let rest = reference.strip_prefix("maef-")?;
    let (id, attempt) = rest.rsplit_once('-')?;
    (id.len() == 36 && attempt.chars().all(|c| c.is_ascii_digit())).then(|| id.to_string())
}

fn envelope(status: u16, body: &Value) -> (String, String) {
    let code = text(body, "code")
        .or_else(|| text(body, "type"))
        .unwrap_or_else(|| format!("http_{status}"));
    (
        code,
        text(body, "message").unwrap_or_else(|| format!("HTTP {status}")),
    )
}

/// `data` of a `status: true` answer ("we will always send a 200 … check the data").
fn data(provider_answer: Answer) -> Result<(u16, Value), ProviderError> {
    if provider_answer.body["status"] != Value::Bool(true) {
        let (code, message) = envelope(provider_answer.status, &provider_answer.body);
        return Err(ProviderError::Api {
            provider: "paystack",
            http_status: provider_answer.status,
            code,
            message,
        });
    }
    Ok((provider_answer.status, provider_answer.body["data"].clone()))
}

/// `POST /transaction/initialize` → `authorization_url`.
///
/// # Errors
/// The call failed or Paystack refused.
pub async fn create_payment(
    providers: &Providers,
    payment: &PaymentToCreate,
    order: &OrderToPay,
) -> Result<Created, ProviderError> {
    let reference = reference(&payment.id, payment.attempt);
    let body = serde_json::json!({
        "email": order.email,
        "amount": payment.amount,
        "currency": payment.currency,
        "reference": reference,
        "callback_url": providers.config.callback_for(&order.number),
        "metadata": {"payment_id": payment.id, "order_number": order.number},
    });
    let request = providers
        .request(Provider::Paystack, Method::POST, "/transaction/initialize")
        .ok_or_else(|| not_configured(Provider::Paystack))?;
    let request = json(request, &body);
    let (status, data) = data(providers.send(Provider::Paystack, request, envelope).await?)?;
    let url = text(&data, "authorization_url")
        .ok_or_else(|| missing(Provider::Paystack, status, "authorization_url"))?;
    let reference = text(&data, "reference").unwrap_or(reference);
    Ok(Created {
        client: serde_json::json!({"type": "redirect", "url": url, "reference": reference,
                                   "access_code": text(&data, "access_code")}),
        provider_ref: reference,
    })
}

fn observe(transaction: &Value) -> Option<Observed> {
    let status = match transaction["status"].as_str()? {
        "success" | "reversed" => PaymentState::Succeeded,
        "failed" => PaymentState::Failed,
        "ongoing" | "processing" | "queued" => PaymentState::Processing,
        // "abandoned": the customer left the page; they may come back to it.
        _ => PaymentState::Pending,
    };
    Some(Observed {
        status,
        amount: integer(transaction, "amount"),
        currency: text(transaction, "currency").map(|c| c.to_ascii_uppercase()),
        provider_ref: text(transaction, "reference"),
        failure_code: (status == PaymentState::Failed)
            .then(|| text(transaction, "gateway_response"))
            .flatten(),
        failure_message: text(transaction, "message").or_else(|| text(transaction, "gateway_response")),
    })
}

/// `GET /transaction/verify/{reference}`.
///
/// # Errors
/// The call failed or the answer is not a transaction.
pub async fn retrieve_payment(providers: &Providers, reference: &str) -> Result<Observed, ProviderError> {
    let request = providers
        .request(
            Provider::Paystack,
            Method::GET,
            &format!("/transaction/verify/{}", encode(reference)),
        )
        .ok_or_else(|| not_configured(Provider::Paystack))?;
    let (status, data) = data(providers.send(Provider::Paystack, request, envelope).await?)?;
    observe(&data).ok_or_else(|| missing(Provider::Paystack, status, "transaction"))
}

fn refund_state(status: &str) -> RefundState {
    match status {
        "processed" => RefundState::Succeeded,
        "failed" => RefundState::Failed,
        _ => RefundState::Pending,
    }
}

/// `POST /refund` `{transaction: <reference>, amount, merchant_note}`. Paystack takes no
/// idempotency key: the SQL API never calls this twice for one refund.
///
/// # Errors
/// The call failed or Paystack refused.
pub async fn refund(
    providers: &Providers,
    reference: &str,
    refund: &RefundToCreate,
) -> Result<RefundResult, ProviderError> {
    let body = serde_json::json!({
        "transaction": reference, "amount": refund.amount, "currency": refund.currency,
        "merchant_note": format!("maef refund {}: {}", refund.id, refund.reason),
    });
    let request = providers
        .request(Provider::Paystack, Method::POST, "/refund")
        .ok_or_else(|| not_configured(Provider::Paystack))?;
    let request = json(request, &body);
    let (status, data) = data(providers.send(Provider::Paystack, request, envelope).await?)?;
    Ok(RefundResult {
        provider_ref: Some(
            text(&data, "id").ok_or_else(|| missing(Provider::Paystack, status, "refund id"))?,
        ),
        status: refund_state(data["status"].as_str().unwrap_or("pending")),
        amount: integer(&data, "amount"),
        failure_code: None,
        failure_message: None,
    })
}

/// Reads a verified event `{"event", "data"}`. Paystack sends no event id: it is the
/// event, the reference (and for refunds the refund's reference) and the status.
///
/// # Errors
/// Not JSON or no event name.
pub fn parse_event(body: &[u8]) -> Result<Inbound, BadEvent> {
    let event: Value = serde_json::from_slice(body).map_err(|e| BadEvent(format!("not JSON: {e}")))?;
    let event_type = text(&event, "event").ok_or_else(|| BadEvent("no event".into()))?;
    let data = &event["data"];
    let status = data["status"].as_str().unwrap_or("-");
    if let Some(kind) = event_type.strip_prefix("refund.") {
        let transaction = text(data, "transaction_reference");
        let refund_ref = text(data, "refund_reference")
            .or_else(|| text(data, "id"))
            .or_else(|| text(data, "amount"))
            .unwrap_or_default();
        let state = if kind == "processed" {
            RefundState::Succeeded
        } else {
            refund_state(status)
        };
        return Ok(Inbound {
            event_id: format!(
                "{event_type}:{}:{refund_ref}:{status}",
                transaction.as_deref().unwrap_or("-")
            ),
            event_type: event_type.clone(),
            payment_hint: transaction.as_deref().and_then(payment_of_reference),
            provider_ref: transaction,
            refund_hint: None,
            subject: Subject::Refund(RefundResult {
                provider_ref: text(data, "id"),
                status: state,
                amount: integer(data, "amount"),
                failure_code: (state == RefundState::Failed).then(|| kind.to_string()),
                failure_message: text(data, "merchant_note"),
            }),
        });
    }
    let reference = text(data, "reference");
    let subject = if event_type.starts_with("charge.") && !event_type.starts_with("charge.dispute") {
        observe(data).map_or(Subject::Other, Subject::Payment)
    } else {
        Subject::Other
    };
    Ok(Inbound {
        event_id: format!("{event_type}:{}:{status}", reference.as_deref().unwrap_or("-")),
        event_type,
        payment_hint: reference
            .as_deref()
            .and_then(payment_of_reference)
            .or_else(|| text(&data["metadata"], "payment_id")),
        provider_ref: reference,
        refund_hint: None,
        subject,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "5c1e0b3a-9f2d-4c41-8e1a-0a4c3d2b1f00";

    #[test]
    fn references_carry_the_payment_id() {
        let r = reference(ID, 2);
        assert_eq!(r, format!("maef-{ID}-2"));
        assert_eq!(payment_of_reference(&r).as_deref(), Some(ID));
        assert_eq!(payment_of_reference("qTPrJoy9Bx"), None);
    }

    #[test]
    fn charge_and_refund_events_have_stable_ids() {
        let body = format!(
            r#"{{"event": "charge.success", "data": {{"id": 302961, "status": "success", "reference": "maef-{ID}-1",
                "amount": 10000, "currency": "NGN", "gateway_response": "Approved"}}}}"#
        );
        let inbound = parse_event(body.as_bytes()).unwrap();
        assert_eq!(inbound.event_id, format!("charge.success:maef-{ID}-1:success"));
        assert_eq!(inbound.payment_hint.as_deref(), Some(ID));
        let Subject::Payment(o) = inbound.subject else {
            panic!()
        };
        assert_eq!(
            (o.status, o.amount, o.currency.as_deref()),
            (PaymentState::Succeeded, Some(10000), Some("NGN"))
        );

        let refund = format!(
            r#"{{"event": "refund.processed", "data": {{"status": "processed", "transaction_reference": "maef-{ID}-1",
                "refund_reference": "132013318360", "amount": "5000", "currency": "NGN"}}}}"#
        );
        let inbound = parse_event(refund.as_bytes()).unwrap();
        assert_eq!(
            inbound.event_id,
            format!("refund.processed:maef-{ID}-1:132013318360:processed")
        );
        let Subject::Refund(r) = inbound.subject else {
            panic!()
        };
        assert_eq!((r.status, r.amount), (RefundState::Succeeded, Some(5000)));
        assert!(parse_event(b"{}").is_err());
    }

    #[test]
    fn a_false_status_is_an_error_even_with_200() {
        let answer = Answer {
            status: 200,
            body: serde_json::json!({"status": false, "message": "Currency not supported by merchant"}),
        };
        let Err(ProviderError::Api { code, message, .. }) = data(answer) else {
            panic!()
        };
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("http_200", "Currency not supported by merchant")
        );
    }
}
