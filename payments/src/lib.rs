//! maef-payments: the payment providers as maef uses them, shared by `maef-api` (paying,
//! refunding, receiving webhooks) and `maef-worker` (re-fetching payments).
//!
//! Each provider module speaks its provider's real wire format (sources in
//! docs/payments.md) and turns it into the few shapes the SQL API records
//! ([`Created`], [`Observed`], [`RefundResult`], [`Inbound`]); the rules — what a state
//! means for the order, forward-only updates, amounts checked — are in SQL
//! (`sql/payments.sql`).
//!
//! # Layout
//! - [`config`]: `STRIPE_*`, `FEDAPAY_*`, `PAYSTACK_*` and the shared settings; a provider
//!   without keys is not offered.
//! - [`signature`]: the three webhook signature schemes, written once.
//! - [`money`]: our minor units ↔ Stripe's amounts (zero-decimal currencies).
//! - [`http`]: the HTTP client, timeouts and [`ProviderError`].
//! - [`stripe`], [`fedapay`], [`paystack`]: the calls and the events.

pub mod config;
pub mod fedapay;
pub mod http;
pub mod money;
pub mod paystack;
pub mod signature;
pub mod stripe;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use config::{PaymentsConfig, ProviderKeys, Secret};
pub use http::{ProviderError, Providers};

/// A payment provider with an API (cash on delivery has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// Stripe PaymentIntents.
    Stripe,
    /// FedaPay transactions (XOF mobile money).
    Fedapay,
    /// Paystack transactions (NGN, GHS…).
    Paystack,
}

impl Provider {
    /// Its name in the database and in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Stripe => "stripe",
            Provider::Fedapay => "fedapay",
            Provider::Paystack => "paystack",
        }
    }

    /// Parses a database name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "stripe" => Some(Provider::Stripe),
            "fedapay" => Some(Provider::Fedapay),
            "paystack" => Some(Provider::Paystack),
            _ => None,
        }
    }
}

/// What a provider needs to create a payment, from `api.payment_begin`'s answer.
#[derive(Debug, Clone, Deserialize)]
pub struct PaymentToCreate {
    /// Our payment id (metadata, idempotency key, Paystack reference).
    pub id: String,
    /// Creation attempt (1, 2, … for retries with the same Idempotency-Key).
    pub attempt: i32,
    /// The provider's id, when an earlier attempt got that far (FedaPay's transaction).
    pub provider_ref: Option<String>,
    /// Minor units of `currency`.
    pub amount: i64,
    /// ISO 4217, upper case.
    pub currency: String,
    /// Decimals of the currency's minor unit (XOF 0, EUR 2).
    pub exponent: u32,
}

/// The order being paid, as the provider needs it.
#[derive(Debug, Clone, Deserialize)]
pub struct OrderToPay {
    /// Its readable number.
    pub number: String,
    /// The customer's e-mail.
    pub email: String,
    /// The billing (else shipping) name, possibly empty.
    pub full_name: String,
}

/// A created payment: the provider's id and what the client needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Created {
    /// `pi_…`, FedaPay's transaction id, Paystack's reference.
    pub provider_ref: String,
    /// `{"type": "stripe_client_secret", "client_secret"}` or `{"type": "redirect", "url",
    /// "reference"}`.
    pub client: Value,
}

/// A payment's state at its provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentState {
    /// Nothing paid yet (created, awaiting the customer).
    Pending,
    /// Being processed (Stripe `processing`, Paystack `ongoing`…).
    Processing,
    /// Paid.
    Succeeded,
    /// Declined or abandoned.
    Failed,
    /// Cancelled.
    Cancelled,
}

/// What a provider says about a payment (a webhook or a re-fetch).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observed {
    /// Its state.
    pub status: PaymentState,
    /// Amount in our minor units, when stated.
    pub amount: Option<i64>,
    /// Currency, upper case, when stated.
    pub currency: Option<String>,
    /// The provider's id.
    pub provider_ref: Option<String>,
    /// The provider's failure code.
    pub failure_code: Option<String>,
    /// The provider's failure message.
    pub failure_message: Option<String>,
}

/// What a refund needs.
#[derive(Debug, Clone, Deserialize)]
pub struct RefundToCreate {
    /// Our refund id (metadata, idempotency key).
    pub id: i64,
    /// Minor units.
    pub amount: i64,
    /// ISO 4217.
    pub currency: String,
    /// Minor-unit decimals.
    pub exponent: u32,
    /// Staff's reason.
    pub reason: String,
}

/// A refund's state at its provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundState {
    /// Queued or processing.
    Pending,
    /// Money returned.
    Succeeded,
    /// Refused or failed.
    Failed,
}

/// A provider's answer to a refund, or a refund event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefundResult {
    /// The provider's refund id, when it has one.
    pub provider_ref: Option<String>,
    /// Its state.
    pub status: RefundState,
    /// Amount in our minor units, when stated.
    pub amount: Option<i64>,
    /// Failure code.
    pub failure_code: Option<String>,
    /// Failure message.
    pub failure_message: Option<String>,
}

/// What an inbound webhook is about.
#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    /// A payment's state.
    Payment(Observed),
    /// A refund's state.
    Refund(RefundResult),
    /// Anything else: stored, not applied.
    Other,
}

/// A verified webhook, normalised for `api.payment_webhook`.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    /// The event's id at the provider (Paystack: event, reference and status).
    pub event_id: String,
    /// The provider's event type.
    pub event_type: String,
    /// Our payment id, when the provider echoes it (metadata, reference).
    pub payment_hint: Option<String>,
    /// The provider's payment id.
    pub provider_ref: Option<String>,
    /// Our refund id, when echoed.
    pub refund_hint: Option<String>,
    /// What it says.
    pub subject: Subject,
}

impl Inbound {
    /// The argument of `api.payment_webhook`, with the event as received.
    pub fn to_sql(&self, payload: Value) -> Value {
        let (object, observed, refund, refund_ref) = match &self.subject {
            Subject::Payment(o) => (
                "payment",
                serde_json::to_value(o).unwrap_or(Value::Null),
                Value::Null,
                None,
            ),
            Subject::Refund(r) => (
                "refund",
                Value::Null,
                serde_json::to_value(r).unwrap_or(Value::Null),
                r.provider_ref.clone(),
            ),
            Subject::Other => ("other", Value::Null, Value::Null, None),
        };
        serde_json::json!({
            "event_id": self.event_id, "type": self.event_type, "object": object,
            "payment_hint": self.payment_hint, "provider_ref": self.provider_ref,
            "refund_hint": self.refund_hint, "refund_ref": refund_ref,
            "observed": observed, "refund": refund, "payload": payload,
        })
    }
}

/// A failed creation: the error, and the provider's id when the provider got that far
/// (FedaPay's transaction exists before its token is asked for), kept for the retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateFailed {
    /// What failed.
    pub error: ProviderError,
    /// The provider's id, if one exists already.
    pub provider_ref: Option<String>,
}

impl From<ProviderError> for CreateFailed {
    fn from(error: ProviderError) -> Self {
        Self {
            error,
            provider_ref: None,
        }
    }
}

/// Creates a payment at its provider.
///
/// # Errors
/// See [`CreateFailed`].
pub async fn create_payment(
    providers: &Providers,
    provider: Provider,
    payment: &PaymentToCreate,
    order: &OrderToPay,
) -> Result<Created, CreateFailed> {
    match provider {
        Provider::Stripe => stripe::create_payment(providers, payment, order)
            .await
            .map_err(Into::into),
        Provider::Fedapay => fedapay::create_payment(providers, payment, order).await,
        Provider::Paystack => paystack::create_payment(providers, payment, order)
            .await
            .map_err(Into::into),
    }
}

/// Re-fetches a payment from its provider.
///
/// # Errors
/// The call failed.
pub async fn retrieve_payment(
    providers: &Providers,
    provider: Provider,
    provider_ref: &str,
) -> Result<Observed, ProviderError> {
    match provider {
        Provider::Stripe => stripe::retrieve_payment(providers, provider_ref).await,
        Provider::Fedapay => fedapay::retrieve_payment(providers, provider_ref).await,
        Provider::Paystack => paystack::retrieve_payment(providers, provider_ref).await,
    }
}

/// Refunds (part of) a payment through its provider's API. FedaPay has none (refunds
/// are made in its dashboard and recorded as manual by the SQL API, never sent here).
///
/// # Errors
/// The call failed or the provider refused.
pub async fn refund(
    providers: &Providers,
    provider: Provider,
    payment_ref: &str,
    refund: &RefundToCreate,
) -> Result<RefundResult, ProviderError> {
    match provider {
        Provider::Stripe => stripe::refund(providers, payment_ref, refund).await,
        Provider::Paystack => paystack::refund(providers, payment_ref, refund).await,
        Provider::Fedapay => Err(ProviderError::Api {
            provider: "fedapay",
            http_status: 422,
            code: "refund_api_unavailable".into(),
            message: "FedaPay has no refund API: refund in its dashboard".into(),
        }),
    }
}

/// Why a webhook body, correctly signed, could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("webhook body not understood: {0}")]
pub struct BadEvent(pub String);

/// A string field of a JSON object.
pub(crate) fn text(value: &Value, key: &str) -> Option<String> {
    match value.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An integer field that may be sent as a number or a string (Paystack does both).
pub(crate) fn integer(value: &Value, key: &str) -> Option<i64> {
    match value.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
