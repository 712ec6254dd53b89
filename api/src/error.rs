//! The one map from failures to HTTP: SQLSTATE → status, and the problem-JSON body
//! `{code, message, details, hint}` every error response carries.
//!
//! # Domain errors raised by SQL
//! SQL functions raise errors in the custom SQLSTATE class `MA`, whose last three
//! characters are the HTTP status: `MA400`, `MA401`, `MA403`, `MA404`, `MA409`, `MA410`,
//! `MA413`, `MA415`, `MA422`, `MA429`. They name the rule they enforce with the
//! `CONSTRAINT` option, which becomes the body's `code`:
//!
//! ```sql
//! raise exception using errcode = 'MA404', constraint = 'product_not_found',
//!     message = 'no product has this slug', detail = ..., hint = ...;
//! ```
//!
//! Constraint violations use the constraint's name as `code` too (`product_slug_key`),
//! so clients branch on stable names. Internal error text never reaches a client: a 5xx
//! body is generic and the cause is logged once, by [`log_server_errors`].

use axum::{
    extract::Request,
    http::{header, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use deadpool_postgres::{PoolError, TimeoutType};
use serde::Serialize;
use tokio_postgres::error::{DbError, SqlState};

/// The body of every error response (`application/problem+json`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "product_not_found", "message": "no product has the slug 'robe-bleue'",
    "details": null, "hint": null}))]
pub struct Problem {
    /// Stable machine-readable name of the rule or failure (`product_not_found`,
    /// `product_slug_key`, `invalid_query`, …).
    pub code: String,
    /// Human-readable sentence.
    pub message: String,
    /// More detail, when there is any (for `invalid_field`, the JSON path of the field).
    #[schema(required)]
    pub details: Option<String>,
    /// What the client can do about it, when we know.
    #[schema(required)]
    pub hint: Option<String>,
}

/// An error a handler returns; `?` converts database and pool errors into it.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status of the response.
    pub status: StatusCode,
    /// The body (boxed: keeps `Result<_, ApiError>` small on the happy path).
    pub problem: Box<Problem>,
    /// The cause of a 5xx, for the log only.
    internal: Option<String>,
    /// Extra response headers (`WWW-Authenticate`, `Retry-After`).
    headers: Vec<(header::HeaderName, HeaderValue)>,
    /// The SQLSTATE of the database error behind it, counted by [`crate::metrics`].
    sqlstate: Option<String>,
}

/// The cause of a 5xx response, left in the response's extensions for
/// [`log_server_errors`] to log once, inside the request's span.
#[derive(Debug, Clone)]
pub struct ServerErrorCause(pub String);

impl ApiError {
    /// A client error (4xx) with its code and message.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            problem: Box::new(Problem {
                code: code.into(),
                message: message.into(),
                details: None,
                hint: None,
            }),
            internal: None,
            headers: Vec::new(),
            sqlstate: None,
        }
    }

    /// Adds a response header.
    #[must_use]
    pub fn header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Adds `details` to the body.
    #[must_use]
    pub fn details(mut self, details: impl Into<String>) -> Self {
        self.problem.details = Some(details.into());
        self
    }

    /// Adds a `hint` to the body.
    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.problem.hint = Some(hint.into());
        self
    }

    /// Whether this is the transient error a request may meet while `maef-api migrate`
    /// commits a reload of the code (see [`crate::db::call`]): a name looked up in the
    /// old `api` schema and then not found once the new one became visible
    /// (`42883` undefined function, `3F000` invalid schema), a dropped function or type
    /// still referenced by OID (`XX000` "cache lookup failed"), or a plan whose result
    /// type changed (`0A000`). The request's transaction rolled back whole, so it may
    /// run again.
    pub fn is_code_reload_race(&self) -> bool {
        let cause = self.internal.as_deref().unwrap_or("");
        match self.sqlstate.as_deref() {
            Some("42883" | "3F000") => true,
            Some("XX000") => cause.contains("cache lookup failed"),
            Some("0A000") => cause.contains("cached plan must not change result type"),
            _ => false,
        }
    }

    /// The cause of a 5xx (for logs), else the problem's message.
    pub fn cause(&self) -> &str {
        self.internal.as_deref().unwrap_or(&self.problem.message)
    }

    /// The SQLSTATE of the database error behind this one, if any.
    pub fn sqlstate(&self) -> Option<&str> {
        self.sqlstate.as_deref()
    }

    /// A 500 whose cause is logged but not shown.
    pub fn internal(cause: impl Into<String>) -> Self {
        Self {
            internal: Some(cause.into()),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "internal error",
            )
        }
    }

    /// 503: the database cannot be reached.
    pub fn unavailable(cause: impl Into<String>) -> Self {
        Self {
            internal: Some(cause.into()),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "the database is unavailable",
            )
            .hint("Retry later.")
        }
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(err: tokio_postgres::Error) -> Self {
        match err.as_db_error() {
            Some(db) => ApiError {
                sqlstate: Some(db.code().code().to_owned()),
                ..from_db_error(db)
            },
            None if err.is_closed() || io_cause(&err) => Self::unavailable(err.to_string()),
            // Neither the server nor the network: a bug of ours (wrong row count, type).
            None => Self::internal(err.to_string()),
        }
    }
}

impl From<PoolError> for ApiError {
    fn from(err: PoolError) -> Self {
        match err {
            PoolError::Timeout(TimeoutType::Wait) => Self {
                internal: Some("timed out waiting for a pooled connection".into()),
                ..Self::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    "database_pool_timeout",
                    "no database connection became free in time",
                )
                .hint("The server is busy; retry later.")
            },
            PoolError::Backend(e) => Self::from(e),
            other => Self::unavailable(other.to_string()),
        }
    }
}

fn io_cause(err: &tokio_postgres::Error) -> bool {
    std::error::Error::source(err).is_some_and(|s| s.is::<std::io::Error>())
}

/// Maps a server error to a status and body: PostgREST's `mapSQLtoHTTP`, narrowed to
/// what maef raises.
fn from_db_error(db: &DbError) -> ApiError {
    let code = db.code().code();
    let status = status_for_sqlstate(code);
    if status.is_server_error() {
        let cause = format!("{code}: {} ({:?})", db.message(), db.where_());
        return match status {
            StatusCode::SERVICE_UNAVAILABLE => ApiError::unavailable(cause),
            StatusCode::GATEWAY_TIMEOUT => ApiError {
                internal: Some(cause),
                ..ApiError::new(
                    status,
                    "statement_timeout",
                    "the database took too long to answer",
                )
            },
            _ => ApiError::internal(cause),
        };
    }
    let name = db
        .constraint()
        .map(str::to_string)
        .unwrap_or_else(|| sqlstate_name(db.code()).to_string());
    let mut error = ApiError {
        status,
        problem: Box::new(Problem {
            code: name,
            message: db.message().to_string(),
            details: db.detail().map(str::to_string),
            hint: db.hint().map(str::to_string),
        }),
        internal: None,
        headers: Vec::new(),
        sqlstate: None,
    };
    if status == StatusCode::TOO_MANY_REQUESTS {
        // Rate-limit errors carry detail = {"retry_after": seconds}.
        let seconds = db
            .detail()
            .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
            .and_then(|v| v["retry_after"].as_u64())
            .unwrap_or(60);
        error = error.header(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    if status == StatusCode::UNAUTHORIZED {
        error = error.header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"maef\""),
        );
    }
    error
}

/// The one SQLSTATE → HTTP status table.
pub fn status_for_sqlstate(code: &str) -> StatusCode {
    if let Some(http) = code.strip_prefix("MA") {
        return http
            .parse::<u16>()
            .ok()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .filter(|s| s.is_client_error())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    }
    match code {
        "23505" | "23503" | "23P01" => StatusCode::CONFLICT, // unique, foreign key, exclusion
        "23514" | "23502" => StatusCode::UNPROCESSABLE_ENTITY, // check, not null
        "40001" | "40P01" => StatusCode::CONFLICT,           // serialization failure, deadlock: retry
        "42501" => StatusCode::FORBIDDEN,                    // insufficient privilege
        "57014" => StatusCode::GATEWAY_TIMEOUT,              // statement_timeout
        "25006" => StatusCode::METHOD_NOT_ALLOWED,           // write in a read-only transaction
        c if c.starts_with("22") => StatusCode::UNPROCESSABLE_ENTITY, // data exception
        c if c.starts_with("28") => StatusCode::UNAUTHORIZED, // invalid authorization
        c if c.starts_with("08") || c.starts_with("53") || c.starts_with("57P") => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A readable name for SQLSTATEs that carry no constraint name.
fn sqlstate_name(state: &SqlState) -> &'static str {
    match state.code() {
        "23505" => "unique_violation",
        "23503" => "foreign_key_violation",
        "23P01" => "exclusion_violation",
        "23514" => "check_violation",
        "23502" => "not_null_violation",
        "40001" => "serialization_failure",
        "40P01" => "deadlock_detected",
        "42501" => "insufficient_privilege",
        "25006" => "read_only_transaction",
        "22023" => "invalid_parameter_value",
        "22P02" => "invalid_text_representation",
        "22003" => "numeric_value_out_of_range",
        c if c.starts_with("22") => "data_exception",
        c if c.starts_with("28") => "invalid_authorization",
        c if c.starts_with("MA") => "domain_error",
        _ => "database_error",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&*self.problem).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (self.status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(cause) = self.internal {
            response.extensions_mut().insert(ServerErrorCause(cause));
        }
        if let Some(sqlstate) = self.sqlstate {
            response
                .extensions_mut()
                .insert(crate::metrics::DbErrorCode(sqlstate));
        }
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

/// Middleware: logs each 5xx once, with its cause, inside the request's span (so with
/// its request id).
pub async fn log_server_errors(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let uri = request.uri().path().to_string();
    let response = next.run(request).await;
    if response.status().is_server_error() {
        let cause = response
            .extensions()
            .get::<ServerErrorCause>()
            .map_or("(no cause recorded)", |c| c.0.as_str());
        tracing::error!(status = response.status().as_u16(), %method, path = %uri, cause, "request failed");
    }
    response
}

/// Middleware: gives a problem-JSON body to error responses that middleware produced
/// without one (a 408 from the timeout layer, say), so every 4xx/5xx has the same shape.
pub async fn problem_for_bare_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.headers().contains_key(header::CONTENT_TYPE)
    {
        return response;
    }
    let code = status
        .canonical_reason()
        .unwrap_or("error")
        .to_lowercase()
        .replace([' ', '-'], "_");
    let message = status.canonical_reason().unwrap_or("error").to_string();
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH); // the new body has its own length
    let problem = ApiError::new(status, &code, message).into_response();
    parts.headers.extend(problem.headers().clone());
    Response::from_parts(parts, problem.into_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_sqlstates_carry_their_http_status() {
        assert_eq!(status_for_sqlstate("MA404"), StatusCode::NOT_FOUND);
        assert_eq!(status_for_sqlstate("MA409"), StatusCode::CONFLICT);
        assert_eq!(status_for_sqlstate("MA422"), StatusCode::UNPROCESSABLE_ENTITY);
        // Only client errors may be raised this way; anything else is our bug.
        assert_eq!(status_for_sqlstate("MA200"), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(status_for_sqlstate("MAXYZ"), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn standard_sqlstates_follow_the_documented_table() {
        assert_eq!(status_for_sqlstate("23505"), StatusCode::CONFLICT);
        assert_eq!(status_for_sqlstate("23503"), StatusCode::CONFLICT);
        assert_eq!(status_for_sqlstate("23514"), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(status_for_sqlstate("23502"), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(status_for_sqlstate("22P02"), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(status_for_sqlstate("42501"), StatusCode::FORBIDDEN);
        assert_eq!(status_for_sqlstate("08006"), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(status_for_sqlstate("57014"), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(status_for_sqlstate("P0001"), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(status_for_sqlstate("42883"), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn only_the_errors_of_a_code_reload_are_retried() {
        let db_error = |sqlstate: &str, cause: &str| ApiError {
            sqlstate: Some(sqlstate.into()),
            ..ApiError::internal(format!("{sqlstate}: {cause}"))
        };
        assert!(db_error("42883", "function api.authenticate(uuid) does not exist").is_code_reload_race());
        assert!(db_error("3F000", "schema \"api\" does not exist").is_code_reload_race());
        assert!(db_error("XX000", "cache lookup failed for function 81234").is_code_reload_race());
        assert!(db_error("0A000", "cached plan must not change result type").is_code_reload_race());
        assert!(!db_error("XX000", "could not read block 7").is_code_reload_race());
        assert!(!db_error("0A000", "cannot do that").is_code_reload_race());
        assert!(!db_error("40P01", "deadlock detected").is_code_reload_race());
        assert!(!ApiError::internal("no SQLSTATE").is_code_reload_race());
    }

    #[test]
    fn internal_errors_hide_their_cause_from_the_body() {
        let response = ApiError::internal("relation shop.secret does not exist").into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let cause = response.extensions().get::<ServerErrorCause>().unwrap();
        assert!(cause.0.contains("shop.secret"));
    }
}
