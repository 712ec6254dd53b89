//! The API side of idempotency keys: read the `Idempotency-Key` header and fingerprint
//! the request. The rules (replay, in flight, reused key, expiry) are in SQL
//! (`sql/idempotency.sql`), inside the same transaction as the request's effect.

use axum::{
    extract::FromRequestParts,
    http::{request::Parts, StatusCode},
};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::{caller::Caller, error::ApiError, AppState};

/// The `Idempotency-Key` header, if any (1–255 visible ASCII characters).
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    key: Option<String>,
    method: String,
    path: String,
}

impl FromRequestParts<AppState> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Self::Rejection> {
        let key = match parts.headers.get("idempotency-key") {
            None => None,
            Some(value) => {
                let text = value
                    .to_str()
                    .ok()
                    .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()));
                Some(
                    text.ok_or_else(|| {
                        ApiError::new(
                            StatusCode::BAD_REQUEST,
                            "invalid_idempotency_key",
                            "Idempotency-Key must be 1 to 255 visible ASCII characters",
                        )
                        .hint("A UUID per logical request is a good key.")
                    })?
                    .to_string(),
                )
            }
        };
        Ok(Self {
            key,
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
        })
    }
}

impl IdempotencyKey {
    /// The `p_idem` argument of an idempotent `api.*` function: null without a key.
    ///
    /// The body's fingerprint is an HMAC keyed with the server's secret, so a stored
    /// fingerprint of a body holding a password cannot be brute-forced offline.
    pub fn argument(
        &self,
        state: &AppState,
        caller: &Caller,
        body: &impl Serialize,
    ) -> Option<serde_json::Value> {
        let key = self.key.as_ref()?;
        let secret = state.config.jwt_secret.as_deref().unwrap_or("maef");
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
        mac.update(serde_json::to_string(body).unwrap_or_default().as_bytes());
        let scope = caller
            .user_id
            .map_or_else(|| "anon".to_string(), |id| id.to_string());
        Some(serde_json::json!({
            "scope": scope,
            "key": key,
            "method": self.method,
            "path": self.path,
            "hash": hex::encode(mac.finalize().into_bytes()),
        }))
    }

    /// [`Self::argument`] for a route that refuses to run without a key (a checkout, a
    /// payment, a refund, a cancellation: a retry must never make a second one):
    /// 400 `idempotency_key_required`, saying that `what` needs the header.
    ///
    /// # Errors
    /// No `Idempotency-Key` header.
    pub fn required_argument(
        &self,
        state: &AppState,
        caller: &Caller,
        body: &impl Serialize,
        what: &str,
    ) -> Result<serde_json::Value, ApiError> {
        self.argument(state, caller, body).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "idempotency_key_required",
                format!("{what} needs an Idempotency-Key header"),
            )
            .hint("Send a new UUID per attempt, and the same one when retrying it.")
        })
    }
}
