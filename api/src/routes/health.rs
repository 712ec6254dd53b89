//! Liveness and readiness probes.

use axum::{extract::State, http::StatusCode, Json};
use serde_json::{json, Value};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{ApiError, Problem},
    migrate, AppState,
};

/// `/healthz` and `/readyz`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

/// A probe's answer.
#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Status {
    /// `ok` (liveness) or `ready` (readiness).
    #[schema(pattern = "^(ok|ready)$")]
    pub status: String,
}

/// The process is up (no database access).
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "The process is up", body = Status, example = json!({"status": "ok"}))))]
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// The database answers and every embedded migration is applied.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "Ready to serve", body = Status, example = json!({"status": "ready"})),
        (status = 503, description = "Codes: `database_unavailable`, `migrations_pending` (details: their names)", body = Problem),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let mut client = state
        .db
        .get()
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    let pending = migrate::pending(&mut client)
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    if !pending.is_empty() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "migrations_pending",
            "database migrations are pending",
        )
        .details(pending.join(", "))
        .hint("Run `maef-api migrate`."));
    }
    Ok(Json(json!({"status": "ready"})))
}
