//! The fake payment providers of the Rust tests, as a process: the storefront's browser
//! tests (scripts/test-web.sh) point maef-api and maef-worker at it, so a shopper's
//! redirect to FedaPay and the webhook that settles the payment run the real code
//! against FedaPay's wire format (`maef_tests::fake_fedapay`), without the internet.
//!
//! On start it prints, one per line, the environment to give maef-api and maef-worker
//! (`FEDAPAY_API_BASE`, `FEDAPAY_SECRET_KEY`, `FEDAPAY_WEBHOOK_SECRETS`) and
//! `FAKE_PROVIDERS_CONTROL`, the base URL of what a test does in the provider's place:
//!
//! - `GET /fedapay/transactions/{id}`: the transaction as the fake holds it (what
//!   maef-api sent: amount, `callback_url`…);
//! - `POST /fedapay/transactions/{id}/{status}` (`approved`, `declined`…): the customer
//!   paid (or not) on FedaPay's page; answers the webhook FedaPay would send about it,
//!   `{"body", "signature"}`, for the test to deliver to maef-api.
//!
//! It runs until it is killed.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use maef_tests::{
    fake_fedapay::{self, FakeFedapay},
    fake_provider::serve,
};
use serde_json::json;

#[tokio::main]
async fn main() {
    let fedapay = FakeFedapay::start().await;
    let control = Router::new()
        .route("/fedapay/transactions/{id}", get(transaction))
        .route("/fedapay/transactions/{id}/{status}", post(settle))
        .with_state(fedapay.clone());
    let control_addr = serve(control).await;
    for (name, value) in fedapay.env() {
        println!("{name}={value}");
    }
    println!("FAKE_PROVIDERS_CONTROL=http://{control_addr}");
    // Both servers run on this runtime's tasks; this process lives until killed.
    std::future::pending::<()>().await;
}

async fn transaction(State(fedapay): State<FakeFedapay>, Path(id): Path<i64>) -> Response {
    match fedapay.state.lock().unwrap().transactions.get(&id) {
        Some(t) => Json(t.clone()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "Transaction not found"})),
        )
            .into_response(),
    }
}

async fn settle(State(fedapay): State<FakeFedapay>, Path((id, status)): Path<(i64, String)>) -> Response {
    if !fedapay.state.lock().unwrap().transactions.contains_key(&id) {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "Transaction not found"})),
        )
            .into_response();
    }
    let entity = fedapay.set_status(id, &status);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let (body, signature) = FakeFedapay::event(
        &format!("transaction.{status}"),
        &entity,
        fake_fedapay::WEBHOOK_SECRET,
        i64::try_from(now).expect("a timestamp fits i64"),
    );
    Json(json!({"body": String::from_utf8(body).expect("JSON is UTF-8"), "signature": signature}))
        .into_response()
}
