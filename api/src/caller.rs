//! Who is calling: the identity every request carries into the database.
//!
//! Until the Identity issue lands every caller is anonymous. The shape is already the
//! final one: a database role to switch to and the JWT claims, both set per transaction
//! by [`crate::db::call`] so row-level security and `shop.current_user_id()` see them.

use std::convert::Infallible;

use axum::{extract::FromRequestParts, http::request::Parts};

/// The caller of a request, as the database sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The database role the transaction runs as (`maef_anon`, `maef_customer`, …).
    pub role: &'static str,
    /// The JWT claims as JSON text, readable in SQL via
    /// `current_setting('request.jwt.claims', true)`.
    pub claims: String,
}

impl Caller {
    /// The anonymous caller.
    pub fn anonymous() -> Self {
        Self {
            role: "maef_anon",
            claims: r#"{"role":"maef_anon"}"#.to_string(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Infallible;

    async fn from_request_parts(_parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::anonymous())
    }
}
