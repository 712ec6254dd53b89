//! A local fake of Stripe's API speaking its wire format (stripe-go's `form/form.go`,
//! `paymentintent.go`, `refund.go`, `error.go`, `webhook/client.go`; docs/payments.md):
//!
//! - `POST /v1/payment_intents` — form-encoded (`amount`, `currency`,
//!   `metadata[order_number]`…), `Authorization: Bearer sk_…` or Basic, a `Stripe-Version`
//!   header, `Idempotency-Key`: the same key and parameters replay the first answer, the
//!   same key with other parameters is 400 `idempotency_error`;
//! - `GET /v1/payment_intents/{id}`, `POST /v1/refunds` (never more than what is left);
//! - errors `{"error": {"type", "code", "message"}}`; injected faults (a delay longer
//!   than the client's timeout, a 500) through [`Faults`];
//! - events signed `Stripe-Signature: t=…,v1=…` with any secret ([`FakeStripe::event`]).

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use serde_json::{json, Value};

use crate::fake_provider::{serve, Fault, Faults};

/// The secret key the fake accepts.
pub const SECRET_KEY: &str = "sk_test_maef_fake";
/// The webhook secret the tests configure.
pub const WEBHOOK_SECRET: &str = "whsec_maef_fake_secret";

/// Form parameters in the order sent.
pub type Params = Vec<(String, String)>;

/// One request: (method and path, Idempotency-Key, Stripe-Version, form parameters).
pub type Call = (String, Option<String>, Option<String>, Params);

/// What the fake holds and saw.
#[derive(Debug, Default)]
pub struct StripeState {
    /// PaymentIntents by id.
    pub intents: HashMap<String, Value>,
    /// Refunds by id.
    pub refunds: HashMap<String, Value>,
    /// Idempotency-Key → (form parameters, status, body).
    pub idempotency: HashMap<String, (Params, u16, Value)>,
    /// Every request: (method and path, Idempotency-Key, Stripe-Version, form parameters).
    pub calls: Vec<Call>,
    /// The status new refunds get (`succeeded` by default, `pending` to follow webhooks).
    pub refund_status: Option<String>,
    counter: u64,
}

/// A running fake Stripe.
#[derive(Clone)]
pub struct FakeStripe {
    /// Its address.
    pub addr: SocketAddr,
    /// Its state.
    pub state: Arc<Mutex<StripeState>>,
    /// Faults to inject, in order, into the next POSTs.
    pub faults: Faults,
}

impl FakeStripe {
    /// Starts the fake on a free port.
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(StripeState::default()));
        let faults = Faults::default();
        let shared = (state.clone(), faults.clone());
        let app = Router::new()
            .route("/v1/payment_intents", post(create_intent))
            .route("/v1/payment_intents/{id}", get(retrieve_intent))
            .route("/v1/refunds", post(create_refund))
            .with_state(shared);
        Self {
            addr: serve(app).await,
            state,
            faults,
        }
    }

    /// The configuration pointing maef at this fake.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("STRIPE_API_BASE".into(), format!("http://{}", self.addr)),
            ("STRIPE_SECRET_KEY".into(), SECRET_KEY.into()),
            ("STRIPE_WEBHOOK_SECRETS".into(), WEBHOOK_SECRET.into()),
        ]
    }

    /// Calls to a path (`"POST /v1/payment_intents"`).
    pub fn calls_to(&self, what: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|c| c.0 == what)
            .count()
    }

    /// The PaymentIntent `id` as Stripe holds it.
    pub fn intent(&self, id: &str) -> Value {
        self.state.lock().unwrap().intents[id].clone()
    }

    /// Moves a PaymentIntent to `status` (`succeeded` sets `amount_received`, optionally
    /// another amount than asked) and returns it.
    pub fn set_status(&self, id: &str, status: &str, received: Option<i64>) -> Value {
        let mut state = self.state.lock().unwrap();
        let intent = state.intents.get_mut(id).expect("no such PaymentIntent");
        intent["status"] = json!(status);
        if status == "succeeded" {
            let amount = received.unwrap_or_else(|| intent["amount"].as_i64().unwrap());
            intent["amount_received"] = json!(amount);
        }
        if status == "requires_payment_method" {
            intent["last_payment_error"] = json!({"type": "card_error", "code": "card_declined",
                "decline_code": "insufficient_funds", "message": "Your card has insufficient funds."});
        }
        intent.clone()
    }

    /// An event of `kind` about `object`, as Stripe sends it: (body, `Stripe-Signature`).
    pub fn event(id: &str, kind: &str, object: &Value, secret: &str, timestamp: i64) -> (Vec<u8>, String) {
        let body = json!({"id": id, "object": "event", "api_version": maef_payments::stripe::API_VERSION,
                          "created": timestamp, "data": {"object": object}, "livemode": false,
                          "pending_webhooks": 1, "request": {"id": null, "idempotency_key": null}, "type": kind})
        .to_string()
        .into_bytes();
        let header = maef_payments::signature::sign_stripe(secret, timestamp, &body);
        (body, header)
    }
}

type Shared = (Arc<Mutex<StripeState>>, Faults);

fn error(status: StatusCode, kind: &str, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"type": kind, "code": code, "message": message,
                                   "doc_url": format!("https://stripe.com/docs/error-codes/{code}")}})),
    )
        .into_response()
}

fn authorised(headers: &HeaderMap) -> bool {
    use base64::Engine;
    let value = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Some(token) = value.strip_prefix("Bearer ") {
        return token == SECRET_KEY;
    }
    value
        .strip_prefix("Basic ")
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .is_some_and(|d| d == format!("{SECRET_KEY}:").as_bytes())
}

/// Checks, records, applies faults and idempotency; `None` means handle the request.
async fn preamble(
    shared: &Shared,
    what: &str,
    headers: &HeaderMap,
    params: &[(String, String)],
) -> Result<Option<String>, Response> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let version = headers
        .get("stripe-version")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    shared
        .0
        .lock()
        .unwrap()
        .calls
        .push((what.into(), key.clone(), version, params.to_vec()));
    if !authorised(headers) {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "api_key_invalid",
            "Invalid API Key provided.",
        ));
    }
    if let Some(fault) = shared.1.next() {
        match fault {
            Fault::Delay(d) => tokio::time::sleep(d).await,
            Fault::Status(status, body) => {
                return Err((StatusCode::from_u16(status).unwrap(), Json(body)).into_response())
            }
        }
    }
    if let Some(key) = &key {
        let state = shared.0.lock().unwrap();
        if let Some((first, status, body)) = state.idempotency.get(key) {
            if first != params {
                return Err(error(StatusCode::BAD_REQUEST, "idempotency_error", "idempotency_key_in_use",
                    "Keys for idempotent requests can only be used with the same parameters they were first used with."));
            }
            return Err((StatusCode::from_u16(*status).unwrap(), Json(body.clone())).into_response());
        }
    }
    Ok(key)
}

fn form(body: &Bytes) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

async fn create_intent(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let params = form(&body);
    let key = match preamble(&shared, "POST /v1/payment_intents", &headers, &params).await {
        Ok(key) => key,
        Err(response) => return response,
    };
    let Some(amount) = param(&params, "amount").and_then(|a| a.parse::<i64>().ok()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "parameter_missing",
            "Missing required param: amount.",
        );
    };
    let Some(currency) = param(&params, "currency") else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "parameter_missing",
            "Missing required param: currency.",
        );
    };
    if currency != currency.to_lowercase() || !["xof", "eur", "usd", "gbp", "ngn"].contains(&currency) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "parameter_invalid_string",
            "Invalid currency.",
        );
    }
    let mut metadata = serde_json::Map::new();
    for (k, v) in &params {
        if let Some(name) = k.strip_prefix("metadata[").and_then(|r| r.strip_suffix(']')) {
            metadata.insert(name.into(), json!(v));
        }
    }
    let mut state = shared.0.lock().unwrap();
    state.counter += 1;
    let id = format!("pi_3Fake{:020}", state.counter);
    let intent = json!({
        "id": id, "object": "payment_intent", "amount": amount, "amount_capturable": 0, "amount_received": 0,
        "automatic_payment_methods": {"allow_redirects": "always", "enabled": param(&params, "automatic_payment_methods[enabled]") == Some("true")},
        "canceled_at": null, "cancellation_reason": null, "capture_method": "automatic",
        "client_secret": format!("{id}_secret_fake{}", state.counter), "confirmation_method": "automatic",
        "created": 1_754_550_000, "currency": currency, "customer": null, "description": param(&params, "description"),
        "last_payment_error": null, "latest_charge": null, "livemode": false, "metadata": metadata,
        "next_action": null, "payment_method": null, "payment_method_types": ["card"], "status": "requires_payment_method"
    });
    state.intents.insert(id, intent.clone());
    if let Some(key) = key {
        state.idempotency.insert(key, (params, 200, intent.clone()));
    }
    Json(intent).into_response()
}

async fn retrieve_intent(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(response) = preamble(&shared, "GET /v1/payment_intents", &headers, &[]).await {
        return response;
    }
    match shared.0.lock().unwrap().intents.get(&id) {
        Some(intent) => Json(intent.clone()).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "resource_missing",
            &format!("No such payment_intent: '{id}'"),
        ),
    }
}

async fn create_refund(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let params = form(&body);
    let key = match preamble(&shared, "POST /v1/refunds", &headers, &params).await {
        Ok(key) => key,
        Err(response) => return response,
    };
    let mut state = shared.0.lock().unwrap();
    let Some(intent) = param(&params, "payment_intent")
        .and_then(|id| state.intents.get(id))
        .cloned()
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "resource_missing",
            "No such payment_intent.",
        );
    };
    let received = intent["amount_received"].as_i64().unwrap_or(0);
    let refunded: i64 = state
        .refunds
        .values()
        .filter(|r| r["payment_intent"] == intent["id"] && r["status"] != "failed")
        .map(|r| r["amount"].as_i64().unwrap())
        .sum();
    let amount = param(&params, "amount")
        .and_then(|a| a.parse::<i64>().ok())
        .unwrap_or(received - refunded);
    if amount > received - refunded {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "amount_too_large",
            "Refund amount is greater than unrefunded amount on charge.",
        );
    }
    state.counter += 1;
    let id = format!("re_Fake{:020}", state.counter);
    let metadata: serde_json::Map<String, Value> = params
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("metadata[")
                .and_then(|r| r.strip_suffix(']'))
                .map(|n| (n.to_string(), json!(v)))
        })
        .collect();
    let status = state.refund_status.clone().unwrap_or_else(|| "succeeded".into());
    let refund = json!({"id": id, "object": "refund", "amount": amount, "balance_transaction": null,
        "charge": format!("ch_Fake{}", state.counter), "created": 1_754_550_100, "currency": intent["currency"],
        "metadata": metadata, "payment_intent": intent["id"], "reason": param(&params, "reason"),
        "receipt_number": null, "source_transfer_reversal": null, "status": status, "transfer_reversal": null});
    state.refunds.insert(id, refund.clone());
    if let Some(key) = key {
        state.idempotency.insert(key, (params, 200, refund.clone()));
    }
    Json(refund).into_response()
}
