//! `GET /metrics`: this instance's Prometheus metrics ([`crate::metrics`]).
//!
//! Closed by default: without `METRICS_TOKEN` the route answers 404 as if it did not
//! exist; with it, only a request bearing that token reads the metrics (a scraper's
//! `authorization: { credentials: … }`). Route names, error rates and pool sizes are
//! operational detail no customer or staff token should reach.

use axum::{
    extract::State,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{ApiError, Problem},
    AppState,
};

/// The Prometheus text exposition format's content type.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `/metrics`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

/// Prometheus metrics of this instance: `maef_http_requests_total{method,route,status}`,
/// `maef_http_request_duration_seconds{method,route}` (histogram),
/// `maef_db_pool_connections{state=open|idle|max}`, `maef_db_pool_waiting`,
/// `maef_db_errors_total{sqlstate}`; with a read replica `maef_db_reads_total{server}`,
/// `maef_db_replica_fallbacks_total` and `maef_db_read_pool_*`. The bearer token is
/// `METRICS_TOKEN`, not a user's access token.
#[utoipa::path(get, path = "/metrics", tag = "health", security(("bearer" = [])),
    responses(
        (status = 200, description = "Prometheus text format (version 0.0.4)", content_type = "text/plain", body = String),
        (status = 404, description = "Code `route_not_found`: `METRICS_TOKEN` is not set, so metrics are not served", body = Problem),
    ))]
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let Some(expected) = state.config.ops.metrics_token.as_deref() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "route_not_found",
            "no such route",
        ));
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    // Digests compared, so the comparison's time says nothing about the token.
    let valid =
        presented.is_some_and(|p| Sha256::digest(p.as_bytes()) == Sha256::digest(expected.as_bytes()));
    if !valid {
        return Err(crate::caller::unauthorized(
            "invalid_metrics_token",
            "GET /metrics needs the bearer token METRICS_TOKEN",
            Some("not the metrics token"),
        ));
    }
    let body = state
        .metrics
        .render(&state.db, state.reads.replica_db().map(|db| &**db));
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROMETHEUS_TEXT));
    Ok(response)
}
