//! Liveness and readiness probes.

use axum::{extract::State, http::StatusCode, Json};
use serde_json::{json, Value};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{ApiError, Problem},
    migrate,
    replica::{self, ReplicaState},
    AppState,
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
    /// `ok` (liveness), `ready` (readiness), or `degraded`: ready, but the read replica
    /// does not answer, so the primary serves the reads meant for it.
    #[schema(pattern = "^(ok|ready|degraded)$")]
    pub status: String,
    /// The read replica (`/readyz` with `DATABASE_READ_URL` only): `ok` or `unreachable`.
    #[schema(pattern = "^(ok|unreachable)$")]
    pub replica: Option<String>,
}

/// The process is up (no database access).
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "The process is up", body = Status, example = json!({"status": "ok"}))))]
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// The database answers and every embedded migration is applied. With a read replica,
/// also whether it answers: a replica down leaves the instance ready (the primary
/// serves its reads), reported as `degraded` with status 200, so that a load balancer
/// keeps the instance while monitoring sees the replica's state.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "Ready to serve (`degraded`: the read replica does not answer)", body = Status,
            example = json!({"status": "ready"})),
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
    Ok(Json(match replica::probe(&state.reads).await {
        ReplicaState::None => json!({"status": "ready"}),
        ReplicaState::Ok => json!({"status": "ready", "replica": "ok"}),
        ReplicaState::Unreachable => json!({"status": "degraded", "replica": "unreachable"}),
    }))
}
