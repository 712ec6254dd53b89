//! A local fake of FedaPay's API speaking its wire format (fedapay-php `Transaction.php`,
//! `Requestor.php`, `WebhookSignature.php`; the API reference; docs/payments.md):
//!
//! - `POST /v1/transactions` (JSON: `description`, `amount`, `currency: {iso}`,
//!   `callback_url`, `customer`) → `{"v1/transaction": {…}}` (XOF only; errors
//!   `{"message", "errors": {field: [..]}}`);
//! - `POST /v1/transactions/{id}/token` → `{"token", "url"}`;
//! - `GET /v1/transactions/{id}` → `{"v1/transaction": {…}}`;
//! - events `{"name", "entity"}` signed `X-FEDAPAY-SIGNATURE: t=…,s=…`.

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
pub const SECRET_KEY: &str = "sk_sandbox_maef_fake";
/// The webhook secret the tests configure.
pub const WEBHOOK_SECRET: &str = "wh_sandbox_maef_fake";

/// What the fake holds and saw.
#[derive(Debug, Default)]
pub struct FedapayState {
    /// Transactions by id.
    pub transactions: HashMap<i64, Value>,
    /// Every request: method and path.
    pub calls: Vec<String>,
    counter: i64,
}

/// A running fake FedaPay.
#[derive(Clone)]
pub struct FakeFedapay {
    /// Its address.
    pub addr: SocketAddr,
    /// Its state.
    pub state: Arc<Mutex<FedapayState>>,
    /// Faults for the next requests.
    pub faults: Faults,
}

type Shared = (Arc<Mutex<FedapayState>>, Faults);

impl FakeFedapay {
    /// Starts the fake.
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(FedapayState::default()));
        let faults = Faults::default();
        let app = Router::new()
            .route("/v1/transactions", post(create))
            .route("/v1/transactions/{id}/token", post(token))
            .route("/v1/transactions/{id}", get(retrieve))
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
            ("FEDAPAY_API_BASE".into(), format!("http://{}", self.addr)),
            ("FEDAPAY_SECRET_KEY".into(), SECRET_KEY.into()),
            ("FEDAPAY_WEBHOOK_SECRETS".into(), WEBHOOK_SECRET.into()),
        ]
    }

    /// Calls to `"POST /v1/transactions"` etc.
    pub fn calls_to(&self, what: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|c| c.as_str() == what)
            .count()
    }

    /// Sets a transaction's status (`approved`, `declined`…) and returns it.
    pub fn set_status(&self, id: i64, status: &str) -> Value {
        let mut state = self.state.lock().unwrap();
        let t = state.transactions.get_mut(&id).expect("no such transaction");
        t["status"] = json!(status);
        if status == "approved" {
            t["approved_at"] = json!("2026-12-07T10:00:00.000Z");
        }
        if status == "declined" {
            t["last_error_code"] = json!("insufficient_funds");
            t["last_error_message"] = json!("Solde insuffisant");
        }
        t.clone()
    }

    /// A webhook about a transaction as FedaPay sends it: (body, `X-FEDAPAY-SIGNATURE`).
    pub fn event(name: &str, entity: &Value, secret: &str, timestamp: i64) -> (Vec<u8>, String) {
        let body = json!({"name": name, "object": "transaction", "entity": entity})
            .to_string()
            .into_bytes();
        let header = maef_payments::signature::sign_fedapay(secret, timestamp, &body);
        (body, header)
    }
}

async fn preamble(shared: &Shared, what: &str, headers: &HeaderMap) -> Option<Response> {
    shared.0.lock().unwrap().calls.push(what.into());
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {SECRET_KEY}")) {
        return Some(
            (
                StatusCode::UNAUTHORIZED,
                Json(json!({"message": "Unauthenticated."})),
            )
                .into_response(),
        );
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

async fn create(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(response) = preamble(&shared, "POST /v1/transactions", &headers).await {
        return response;
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, Json(json!({"message": "Invalid JSON"}))).into_response();
    };
    let mut errors = serde_json::Map::new();
    if !request["amount"].is_i64() {
        errors.insert("amount".into(), json!(["The amount must be an integer."]));
    }
    if request["currency"]["iso"] != "XOF" {
        errors.insert("currency".into(), json!(["The selected currency is invalid."]));
    }
    if request["description"].as_str().unwrap_or("").is_empty() {
        errors.insert(
            "description".into(),
            json!(["The description field is required."]),
        );
    }
    if !errors.is_empty() {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"message": "The given data was invalid.", "errors": errors})),
        )
            .into_response();
    }
    let mut state = shared.0.lock().unwrap();
    state.counter += 1;
    let id = 16_850 + state.counter;
    let transaction = json!({
        "klass": "v1/transaction", "id": id, "transaction_key": format!("0KJAU{id}"), "reference": format!("trx_{id}"),
        "amount": request["amount"], "description": request["description"], "callback_url": request["callback_url"],
        "status": "pending", "customer": {"id": 1, "klass": "v1/customer", "email": request["customer"]["email"]},
        "currency": {"id": 1, "klass": "v1/currency", "iso": "XOF"}, "mode": null, "metadata": request["metadata"],
        "created_at": "2026-12-07T09:09:03.969Z", "updated_at": "2026-12-07T09:09:03.969Z", "approved_at": null,
        "last_error_code": null, "last_error_message": null
    });
    state.transactions.insert(id, transaction.clone());
    (StatusCode::CREATED, Json(json!({"v1/transaction": transaction}))).into_response()
}

async fn token(State(shared): State<Shared>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    if let Some(response) = preamble(&shared, "POST /v1/transactions/token", &headers).await {
        return response;
    }
    if !shared.0.lock().unwrap().transactions.contains_key(&id) {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "Transaction not found"})),
        )
            .into_response();
    }
    Json(json!({"token": format!("eyJ0eXAiOiJKV1Qi.{id}"), "url": format!("https://process.fedapay.com/{id}")})).into_response()
}

async fn retrieve(State(shared): State<Shared>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    if let Some(response) = preamble(&shared, "GET /v1/transactions", &headers).await {
        return response;
    }
    match shared.0.lock().unwrap().transactions.get(&id) {
        Some(t) => Json(json!({"v1/transaction": t})).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "Transaction not found"})),
        )
            .into_response(),
    }
}
