//! Administration: users and the audit log.

use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    caller::{AuditRead, Require, UsersAdmin},
    db::Access,
    error::{ApiError, Problem},
    extract::{Json, Query},
    routes::{answer, JsonText},
    AppState,
};

/// `/api/v1/admin/…`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users))
        .routes(routes!(update_user))
        .routes(routes!(list_audit))
}

/// Query of `GET /api/v1/admin/users`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserFilter {
    /// Page size, 1..=200 (default 50).
    pub limit: Option<i32>,
    /// `next_cursor` of the previous page.
    pub after: Option<String>,
    /// Substring of the e-mail.
    pub email: Option<String>,
    /// Role name (`admin`, `manager`, `customer`).
    pub role: Option<String>,
}

/// Users, newest first (keyset pagination). Needs `users:admin`.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", params(UserFilter),
    security(("bearer" = ["users:admin"])),
    responses(
        (status = 200, description = "{items, next_cursor}"),
        (status = 401, description = "Not signed in", body = Problem),
        (status = 403, description = "Missing users:admin", body = Problem),
    ))]
pub async fn list_users(
    State(state): State<AppState>,
    Require(caller, ..): Require<UsersAdmin>,
    Query(filter): Query<UserFilter>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.admin_list_users($1, $2, $3, $4)::text",
        &[&filter.limit, &filter.after, &filter.email, &filter.role],
    )
    .await
}

/// Changes a user's roles and/or `is_active` (`{"roles": ["manager"], "is_active": true}`);
/// deactivation ends their sessions and their access tokens stop working at once.
/// Audited. Needs `users:admin`.
#[utoipa::path(patch, path = "/api/v1/admin/users/{id}", tag = "admin", request_body = serde_json::Value,
    params(("id" = uuid::Uuid, Path, description = "User id")),
    security(("bearer" = ["users:admin"])),
    responses(
        (status = 200, description = "The user's profile"),
        (status = 404, description = "No such user", body = Problem),
        (status = 422, description = "Unknown field or role", body = Problem),
    ))]
pub async fn update_user(
    State(state): State<AppState>,
    Require(caller, ..): Require<UsersAdmin>,
    Path(id): Path<uuid::Uuid>,
    Json(patch): Json<serde_json::Map<String, serde_json::Value>>,
) -> Result<JsonText, ApiError> {
    let patch = serde_json::Value::Object(patch);
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.admin_update_user($1, $2)::text",
        &[&id, &patch],
    )
    .await
}

/// Query of `GET /api/v1/admin/audit`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Page size, 1..=200 (default 50).
    pub limit: Option<i32>,
    /// `next_cursor` of the previous page.
    pub after: Option<i64>,
    /// Entity (`user`, `refresh_token_family`, …).
    pub entity: Option<String>,
}

/// The audit log, newest first. Needs `audit:read`.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", params(AuditFilter),
    security(("bearer" = ["audit:read"])),
    responses((status = 200, description = "{items, next_cursor}"), (status = 403, description = "Missing audit:read", body = Problem)))]
pub async fn list_audit(
    State(state): State<AppState>,
    Require(caller, ..): Require<AuditRead>,
    Query(filter): Query<AuditFilter>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.admin_list_audit($1, $2, $3)::text",
        &[&filter.limit, &filter.after, &filter.entity],
    )
    .await
}
