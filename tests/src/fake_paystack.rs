//! A local fake of Paystack's API speaking its wire format (PaystackOSS `openapi` and
//! `doc-code-snippets`; docs/payments.md):
//!
//! - `POST /transaction/initialize` → `{"status": true, "message": "Authorization URL
//!   created", "data": {"authorization_url", "access_code", "reference"}}`; a reference
//!   used before is 400 `duplicate_reference`; an unsupported currency is
//!   `{"status": false, "message": "Currency not supported by merchant"}`;
//! - `GET /transaction/verify/{reference}` → `{"status": true, "data": {"status",
//!   "amount", "currency", …}}`;
//! - `POST /refund` → `{"status": true, "message": "Refund has been queued for
//!   processing", "data": {"id", "status": "pending", …}}`;
//! - events `{"event", "data"}` signed `x-paystack-signature` (HMAC-SHA512 of the body).

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

/// The secret key the fake accepts (and signs webhooks with, as Paystack does).
pub const SECRET_KEY: &str = "sk_test_maef_paystack_fake";

/// What the fake holds and saw.
#[derive(Debug, Default)]
pub struct PaystackState {
    /// Transactions by reference.
    pub transactions: HashMap<String, Value>,
    /// Refunds by id.
    pub refunds: Vec<Value>,
    /// Every request: method and path.
    pub calls: Vec<String>,
    counter: i64,
}

/// A running fake Paystack.
#[derive(Clone)]
pub struct FakePaystack {
    /// Its address.
    pub addr: SocketAddr,
    /// Its state.
    pub state: Arc<Mutex<PaystackState>>,
    /// Faults for the next requests.
    pub faults: Faults,
}

type Shared = (Arc<Mutex<PaystackState>>, Faults);

impl FakePaystack {
    /// Starts the fake.
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(PaystackState::default()));
        let faults = Faults::default();
        let app = Router::new()
            .route("/transaction/initialize", post(initialize))
            .route("/transaction/verify/{reference}", get(verify))
            .route("/refund", post(refund))
            .with_state((state.clone(), faults.clone()));
        Self {
            addr: serve(app).await,
            state,
            faults,
        }
    }

    /// The configuration pointing maef at this fake.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("PAYSTACK_API_BASE".into(), format!("http://{}", self.addr)),
            ("PAYSTACK_SECRET_KEY".into(), SECRET_KEY.into()),
        ]
    }

    /// Calls to `"POST /transaction/initialize"` etc.
    pub fn calls_to(&self, what: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|c| c.as_str() == what)
            .count()
    }

    /// Sets a transaction's status (`success`, `failed`, `abandoned`) and returns it.
    pub fn set_status(&self, reference: &str, status: &str) -> Value {
        let mut state = self.state.lock().unwrap();
        let t = state
            .transactions
            .get_mut(reference)
            .expect("no such transaction");
        t["status"] = json!(status);
        t["gateway_response"] = json!(if status == "success" {
            "Successful"
        } else {
            "Declined"
        });
        if status == "success" {
            t["paid_at"] = json!("2026-12-07T09:15:02.000Z");
        }
        t.clone()
    }

    /// An event as Paystack sends it: (body, `x-paystack-signature`).
    pub fn event(event: &str, data: &Value, secret: &str) -> (Vec<u8>, String) {
        let body = json!({"event": event, "data": data}).to_string().into_bytes();
        let header = maef_payments::signature::sign_paystack(secret, &body);
        (body, header)
    }
}

fn failure(status: StatusCode, message: &str, code: Option<&str>) -> Response {
    let mut body = json!({"status": false, "message": message});
    if let Some(code) = code {
        body["code"] = json!(code);
        body["type"] = json!("validation_error");
        body["meta"] = json!({"nextStep": "Try and create the Transaction or Charge with a new reference"});
    }
    (status, Json(body)).into_response()
}

async fn preamble(shared: &Shared, what: &str, headers: &HeaderMap) -> Option<Response> {
    shared.0.lock().unwrap().calls.push(what.into());
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {SECRET_KEY}")) {
        return Some(failure(StatusCode::UNAUTHORIZED, "Invalid key", None));
    }
    match shared.1.next()? {
        Fault::Delay(d) => {
            tokio::time::sleep(d).await;
            None
        }
        Fault::Status(status, body) => {
            Some((StatusCode::from_u16(status).unwrap(), Json(body)).into_response())
        }
    }
}

async fn initialize(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(response) = preamble(&shared, "POST /transaction/initialize", &headers).await {
        return response;
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return failure(StatusCode::BAD_REQUEST, "Invalid JSON", None);
    };
    if request["email"].as_str().unwrap_or("").is_empty() {
        return failure(
            StatusCode::BAD_REQUEST,
            "Email Address is required",
            Some("missing_params"),
        );
    }
    let amount = request["amount"]
        .as_i64()
        .or_else(|| request["amount"].as_str().and_then(|s| s.parse().ok()));
    let Some(amount) = amount else {
        return failure(StatusCode::BAD_REQUEST, "Invalid amount", Some("invalid_params"));
    };
    let currency = request["currency"].as_str().unwrap_or("NGN").to_string();
    if !["NGN", "GHS", "USD", "KES", "ZAR"].contains(&currency.as_str()) {
        return failure(
            StatusCode::BAD_REQUEST,
            "Currency not supported by merchant",
            None,
        );
    }
    let mut state = shared.0.lock().unwrap();
    state.counter += 1;
    let reference = request["reference"]
        .as_str()
        .map_or_else(|| format!("re4ly{}", state.counter), String::from);
    if state.transactions.contains_key(&reference) {
        return failure(
            StatusCode::BAD_REQUEST,
            "Duplicate Transaction Reference",
            Some("duplicate_reference"),
        );
    }
    let access_code = format!("3ni8kdavz{}", state.counter);
    let id = 4_099_260_000_i64 + state.counter;
    state.transactions.insert(
        reference.clone(),
        json!({"id": id, "domain": "test", "status": "abandoned", "reference": reference,
               "amount": amount, "message": null, "gateway_response": null, "paid_at": null,
               "created_at": "2026-12-07T09:14:24.000Z", "channel": "card", "currency": currency,
               "metadata": request["metadata"], "fees": null,
               "customer": {"id": 181_873_746, "email": request["email"], "customer_code": "CUS_1rkzaqsv4rrhqo6"}}),
    );
    Json(json!({"status": true, "message": "Authorization URL created",
                "data": {"authorization_url": format!("https://checkout.paystack.com/{access_code}"),
                         "access_code": access_code, "reference": reference}}))
    .into_response()
}

async fn verify(State(shared): State<Shared>, headers: HeaderMap, Path(reference): Path<String>) -> Response {
    if let Some(response) = preamble(&shared, "GET /transaction/verify", &headers).await {
        return response;
    }
    match shared.0.lock().unwrap().transactions.get(&reference) {
        Some(t) => {
            Json(json!({"status": true, "message": "Verification successful", "data": t})).into_response()
        }
        None => failure(StatusCode::NOT_FOUND, "Transaction reference not found", None),
    }
}

async fn refund(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(response) = preamble(&shared, "POST /refund", &headers).await {
        return response;
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut state = shared.0.lock().unwrap();
    let Some(transaction) = request["transaction"]
        .as_str()
        .and_then(|r| state.transactions.get(r))
        .cloned()
    else {
        return failure(StatusCode::NOT_FOUND, "Transaction not found", None);
    };
    if transaction["status"] != "success" {
        return failure(
            StatusCode::BAD_REQUEST,
            "Cannot refund a transaction that was not successful",
            None,
        );
    }
    let refunded: i64 = state
        .refunds
        .iter()
        .filter(|r| r["transaction"]["reference"] == transaction["reference"] && r["status"] != "failed")
        .map(|r| r["amount"].as_i64().unwrap())
        .sum();
    let total = transaction["amount"].as_i64().unwrap();
    let amount = request["amount"].as_i64().unwrap_or(total - refunded);
    if amount > total - refunded {
        return failure(
            StatusCode::BAD_REQUEST,
            "Refund amount cannot be more than the transaction amount",
            None,
        );
    }
    state.counter += 1;
    let refund = json!({"transaction": {"id": transaction["id"], "reference": transaction["reference"], "amount": total,
                                        "currency": transaction["currency"]},
                        "integration": 412_829, "deducted_amount": 0, "channel": null,
                        "merchant_note": request["merchant_note"], "customer_note": "Refund",
                        "status": "pending", "refunded_by": "test@me.com", "currency": transaction["currency"],
                        "domain": "test", "amount": amount, "fully_deducted": false, "id": 3_018_000 + state.counter,
                        "createdAt": "2026-12-07T09:21:17.122Z"});
    state.refunds.push(refund.clone());
    Json(json!({"status": true, "message": "Refund has been queued for processing", "data": refund}))
        .into_response()
}
