//! The HTTP side shared by the three providers: one `reqwest` client (rustls, no proxy
//! from the environment, no redirects), the per-call timeout, and [`ProviderError`] —
//! what a failed call becomes, whatever the provider's envelope.

use std::time::Duration;

use reqwest::{Method, RequestBuilder};
use serde_json::Value;

use crate::{config::PaymentsConfig, Provider};

/// A failed provider call. Never carries a key or a URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// No answer within `PAYMENT_HTTP_TIMEOUT_SECS`.
    #[error("{provider} did not answer in time")]
    Timeout {
        /// Which provider.
        provider: &'static str,
    },
    /// The connection failed.
    #[error("{provider} could not be reached: {message}")]
    Transport {
        /// Which provider.
        provider: &'static str,
        /// What failed (no URL).
        message: String,
    },
    /// The provider answered with its error envelope (or a non-2xx status).
    #[error("{provider} answered HTTP {http_status} {code}: {message}")]
    Api {
        /// Which provider.
        provider: &'static str,
        /// HTTP status.
        http_status: u16,
        /// The provider's error code (Stripe `error.code` or `error.type`, Paystack
        /// `code`, FedaPay: `http_<status>`).
        code: String,
        /// The provider's message.
        message: String,
    },
    /// A 2xx answer without the documented shape.
    #[error("{provider} answer not understood (HTTP {http_status}): {message}")]
    Decode {
        /// Which provider.
        provider: &'static str,
        /// HTTP status.
        http_status: u16,
        /// What was missing.
        message: String,
    },
}

impl ProviderError {
    /// The provider's name.
    pub fn provider(&self) -> &'static str {
        match self {
            ProviderError::Timeout { provider }
            | ProviderError::Transport { provider, .. }
            | ProviderError::Api { provider, .. }
            | ProviderError::Decode { provider, .. } => provider,
        }
    }

    /// The provider's error code, or what kind of failure it was.
    pub fn code(&self) -> String {
        match self {
            ProviderError::Timeout { .. } => "timeout".into(),
            ProviderError::Transport { .. } => "unreachable".into(),
            ProviderError::Api { code, .. } => code.clone(),
            ProviderError::Decode { .. } => "unreadable_answer".into(),
        }
    }

    /// Whether the provider refused (a 4xx envelope): nothing was created there.
    pub fn is_refusal(&self) -> bool {
        matches!(self, ProviderError::Api { http_status, .. } if (400..500).contains(http_status))
    }

    /// The argument of `api.payment_create_failed` / `api.refund_create_failed`.
    pub fn to_sql(&self, provider_ref: Option<&str>) -> Value {
        let (kind, status, message) = match self {
            ProviderError::Timeout { .. } => ("timeout", None, self.to_string()),
            ProviderError::Transport { message, .. } => ("transport", None, message.clone()),
            ProviderError::Api {
                http_status, message, ..
            } => ("api", Some(*http_status), message.clone()),
            ProviderError::Decode {
                http_status, message, ..
            } => ("decode", Some(*http_status), message.clone()),
        };
        serde_json::json!({"kind": kind, "http_status": status, "code": self.code(), "message": message,
                           "provider_ref": provider_ref})
    }
}

/// The providers' client: configuration and one connection pool.
#[derive(Clone, Debug)]
pub struct Providers {
    /// The configuration (keys, base URLs, timeouts).
    pub config: PaymentsConfig,
    http: reqwest::Client,
}

/// A 2xx answer's JSON.
pub(crate) struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Providers {
    /// A client for the configuration.
    ///
    /// # Errors
    /// The TLS backend cannot start.
    pub fn new(config: PaymentsConfig) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("maef/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(config.http_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| format!("payment HTTP client: {e}"))?;
        Ok(Self { config, http })
    }

    /// A request to `provider`'s `path` with its key as a Bearer token, or `None` when
    /// the provider is not configured.
    pub(crate) fn request(&self, provider: Provider, method: Method, path: &str) -> Option<RequestBuilder> {
        let keys = self.config.keys(provider)?;
        Some(
            self.http
                .request(method, format!("{}{path}", keys.api_base))
                .bearer_auth(keys.secret_key.expose()),
        )
    }

    /// Sends a request and reads its JSON; a non-2xx answer goes to `envelope`.
    pub(crate) async fn send(
        &self,
        provider: Provider,
        request: RequestBuilder,
        envelope: fn(u16, &Value) -> (String, String),
    ) -> Result<Answer, ProviderError> {
        let name = provider.as_str();
        let response = request.send().await.map_err(|e| transport(name, e))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| transport(name, e))?;
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            let (code, message) = envelope(status, &body);
            return Err(ProviderError::Api {
                provider: name,
                http_status: status,
                code,
                message,
            });
        }
        if body.is_null() {
            return Err(ProviderError::Decode {
                provider: name,
                http_status: status,
                message: "the body is not JSON".into(),
            });
        }
        Ok(Answer { status, body })
    }
}

/// A JSON body (reqwest's `json` feature is not enabled in the workspace).
pub(crate) fn json(request: RequestBuilder, body: &Value) -> RequestBuilder {
    request
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_string())
}

fn transport(provider: &'static str, e: reqwest::Error) -> ProviderError {
    if e.is_timeout() {
        ProviderError::Timeout { provider }
    } else {
        ProviderError::Transport {
            provider,
            message: e.without_url().to_string(),
        }
    }
}

/// A 2xx answer missing a field.
pub(crate) fn missing(provider: Provider, status: u16, what: &str) -> ProviderError {
    ProviderError::Decode {
        provider: provider.as_str(),
        http_status: status,
        message: format!("no {what}"),
    }
}

/// The `Provider` of a configured name, for errors before any call.
pub(crate) fn not_configured(provider: Provider) -> ProviderError {
    ProviderError::Transport {
        provider: provider.as_str(),
        message: "not configured".into(),
    }
}
