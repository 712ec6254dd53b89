//! FedaPay: transactions, their payment token (the hosted page) and events
//! (fedapay-php `Transaction.php`, `Requestor.php`, `WebhookSignature.php`; the API
//! reference at docs.fedapay.com). JSON bodies, `Authorization: Bearer <secret key>`.
//!
//! Answers wrap the object under its class (`{"v1/transaction": {…}}`, as the official
//! SDKs read them); the API reference shows it unwrapped, so both are read. FedaPay
//! accepts XOF only and has **no refund API** (refunds are made in its dashboard, MTN
//! Mobile Money only). Its errors are `{"message", "errors": {field: [messages]}}` with
//! no code: the code reported is `http_<status>`.

use reqwest::Method;
use serde_json::Value;

use crate::{
    http::{json, missing, not_configured, ProviderError, Providers},
    integer,
    stripe::encode,
    text, BadEvent, CreateFailed, Created, Inbound, Observed, OrderToPay, PaymentState, PaymentToCreate,
    Provider, Subject,
};

fn envelope(status: u16, body: &Value) -> (String, String) {
    let mut message = text(body, "message").unwrap_or_else(|| format!("HTTP {status}"));
    if let Some(errors) = body["errors"].as_object() {
        let details: Vec<String> = errors
            .iter()
            .map(|(field, list)| {
                let texts: Vec<&str> = list
                    .as_array()
                    .map(|l| l.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                format!("{field}: {}", texts.join(", "))
            })
            .collect();
        if !details.is_empty() {
            message = format!("{message} ({})", details.join("; "));
        }
    }
    (format!("http_{status}"), message)
}

/// The transaction of an answer, wrapped (`v1/transaction`) or not.
fn transaction(body: &Value) -> &Value {
    body.get("v1/transaction").unwrap_or(body)
}

/// The customer's first and last names from a full name ("Awa Diop" → Awa, Diop).
fn names(full_name: &str, email: &str) -> (String, String) {
    let full = full_name.trim();
    match full.split_once(' ') {
        Some((first, last)) => (first.trim().to_string(), last.trim().to_string()),
        None if !full.is_empty() => (full.to_string(), full.to_string()),
        None => {
            let local = email.split('@').next().unwrap_or("client").to_string();
            (local.clone(), local)
        }
    }
}

/// `POST /v1/transactions` (unless an earlier attempt created it), then
/// `POST /v1/transactions/{id}/token` for the hosted payment URL.
///
/// # Errors
/// A failed call; after the transaction exists, the failure carries its id.
pub async fn create_payment(
    providers: &Providers,
    payment: &PaymentToCreate,
    order: &OrderToPay,
) -> Result<Created, CreateFailed> {
    let id = match &payment.provider_ref {
        Some(id) => id.clone(),
        None => {
            let (firstname, lastname) = names(&order.full_name, &order.email);
            let body = serde_json::json!({
                "description": format!("Order {}", order.number),
                "amount": payment.amount,
                "currency": {"iso": payment.currency},
                "callback_url": providers.config.callback_for(&order.number),
                "customer": {"firstname": firstname, "lastname": lastname, "email": order.email},
                "metadata": {"payment_id": payment.id, "order_number": order.number},
            });
            let request = providers
                .request(Provider::Fedapay, Method::POST, "/v1/transactions")
                .ok_or_else(|| not_configured(Provider::Fedapay))?;
            let request = json(request, &body);
            let answer = providers.send(Provider::Fedapay, request, envelope).await?;
            text(transaction(&answer.body), "id")
                .ok_or_else(|| missing(Provider::Fedapay, answer.status, "transaction id"))?
        }
    };
    let with_ref = |error: ProviderError| CreateFailed {
        error,
        provider_ref: Some(id.clone()),
    };
    let request = providers
        .request(
            Provider::Fedapay,
            Method::POST,
            &format!("/v1/transactions/{}/token", encode(&id)),
        )
        .ok_or_else(|| with_ref(not_configured(Provider::Fedapay)))?;
    let request = json(request, &serde_json::json!({}));
    let answer = providers
        .send(Provider::Fedapay, request, envelope)
        .await
        .map_err(with_ref)?;
    let url = text(&answer.body, "url")
        .ok_or_else(|| with_ref(missing(Provider::Fedapay, answer.status, "url")))?;
    Ok(Created {
        client: serde_json::json!({"type": "redirect", "url": url, "reference": id}),
        provider_ref: id,
    })
}

/// A transaction's state (`approved`, `transferred` and the refunded states were paid).
fn observe(entity: &Value) -> Option<Observed> {
    let status = match entity["status"].as_str()? {
        "approved"
        | "transferred"
        | "refunded"
        | "approved_partially_refunded"
        | "transferred_partially_refunded" => PaymentState::Succeeded,
        "declined" => PaymentState::Failed,
        "canceled" | "cancelled" | "expired" => PaymentState::Cancelled,
        _ => PaymentState::Pending,
    };
    Some(Observed {
        status,
        amount: integer(entity, "amount"),
        // FedaPay transacts in XOF only; the currency is read when the answer includes it.
        currency: entity["currency"]["iso"]
            .as_str()
            .map(str::to_ascii_uppercase)
            .or_else(|| Some("XOF".to_string())),
        provider_ref: text(entity, "id"),
        failure_code: text(entity, "last_error_code"),
        failure_message: text(entity, "last_error_message"),
    })
}

/// `GET /v1/transactions/{id}?include=currency`.
///
/// # Errors
/// The call failed or the answer is not a transaction.
pub async fn retrieve_payment(providers: &Providers, id: &str) -> Result<Observed, ProviderError> {
    let request = providers
        .request(
            Provider::Fedapay,
            Method::GET,
            &format!("/v1/transactions/{}?include=currency", encode(id)),
        )
        .ok_or_else(|| not_configured(Provider::Fedapay))?;
    let answer = providers.send(Provider::Fedapay, request, envelope).await?;
    observe(transaction(&answer.body)).ok_or_else(|| missing(Provider::Fedapay, answer.status, "transaction"))
}

/// Reads a verified event: `{"id"?, "name" | "type": "transaction.approved", "entity":
/// {…} | "<JSON text>"}` (the Events API sends `entity` as JSON text; both are read).
/// Without an event id, the id is type, transaction and status.
///
/// # Errors
/// Not JSON or no type.
pub fn parse_event(body: &[u8]) -> Result<Inbound, BadEvent> {
    let event: Value = serde_json::from_slice(body).map_err(|e| BadEvent(format!("not JSON: {e}")))?;
    let event_type = text(&event, "name")
        .or_else(|| text(&event, "type"))
        .ok_or_else(|| BadEvent("no name or type".into()))?;
    let entity = match &event["entity"] {
        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
        other => other.clone(),
    };
    let transaction_id = text(&entity, "id").or_else(|| text(&event, "object_id"));
    let event_id = text(&event, "id").unwrap_or_else(|| {
        format!(
            "{event_type}:{}:{}",
            transaction_id.as_deref().unwrap_or("-"),
            entity["status"].as_str().unwrap_or("-")
        )
    });
    let hint =
        text(&entity["metadata"], "payment_id").or_else(|| text(&entity["custom_metadata"], "payment_id"));
    let subject = if event_type.starts_with("transaction.") {
        observe(&entity).map_or(Subject::Other, Subject::Payment)
    } else {
        Subject::Other
    };
    Ok(Inbound {
        event_id,
        event_type,
        payment_hint: hint,
        provider_ref: transaction_id,
        refund_hint: None,
        subject,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_name_or_type_and_entity_as_object_or_text() {
        let a = br#"{"name": "transaction.approved", "entity": {"id": 16851, "status": "approved", "amount": 2500,
                     "metadata": {"payment_id": "p-1"}}}"#;
        let inbound = parse_event(a).unwrap();
        assert_eq!(inbound.event_id, "transaction.approved:16851:approved");
        assert_eq!(inbound.provider_ref.as_deref(), Some("16851"));
        assert_eq!(inbound.payment_hint.as_deref(), Some("p-1"));
        let Subject::Payment(o) = inbound.subject else {
            panic!()
        };
        assert_eq!((o.status, o.amount), (PaymentState::Succeeded, Some(2500)));

        let b = br#"{"klass": "v1/event", "id": "AXVA3Z99", "type": "transaction.declined",
                     "entity": "{\"id\":16852,\"status\":\"declined\",\"amount\":100}"}"#;
        let inbound = parse_event(b).unwrap();
        assert_eq!(inbound.event_id, "AXVA3Z99");
        let Subject::Payment(o) = inbound.subject else {
            panic!()
        };
        assert_eq!(o.status, PaymentState::Failed);
        assert!(parse_event(br#"{"entity": {}}"#).is_err());
    }

    #[test]
    fn answers_are_read_wrapped_or_not_and_errors_list_their_fields() {
        let wrapped = serde_json::json!({"v1/transaction": {"id": 1, "status": "pending"}});
        assert_eq!(text(transaction(&wrapped), "id").as_deref(), Some("1"));
        let bare = serde_json::json!({"id": 2});
        assert_eq!(text(transaction(&bare), "id").as_deref(), Some("2"));
        let error = serde_json::json!({"message": "Invalid", "errors": {"amount": ["must be an integer"]}});
        assert_eq!(
            envelope(422, &error),
            ("http_422".into(), "Invalid (amount: must be an integer)".into())
        );
        assert_eq!(names("Awa Diop Sarr", "a@x"), ("Awa".into(), "Diop Sarr".into()));
        assert_eq!(names("", "ada@x.org"), ("ada".into(), "ada".into()));
    }
}
