//! Administration: users and the audit log.

use axum::extract::State;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    caller::{AuditRead, Require, UsersAdmin},
    db::Access,
    error::{ApiError, Problem},
    extract::{Json, Path, Query},
    routes::catalog_types::Timestamp,
    routes::{answer, users::Profile, JsonText},
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
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i32>,
    /// `next_cursor` of the previous page: `<created_at>|<user id>` as PostgreSQL writes
    /// it, e.g. `2026-11-02 10:15:00.123456+00|<uuid>` (the pattern admits every real
    /// date but 29 February).
    #[param(
        pattern = r"^([1-9][0-9]{3}|0[0-9]{2}[1-9]|0[0-9][1-9]0|0[1-9]00)-((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31) ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?[+-](0[0-9]|1[0-4])(:[0-5][0-9])?\|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
    )]
    pub after: Option<String>,
    /// Substring of the e-mail.
    pub email: Option<String>,
    /// Role name (`admin`, `manager`, `customer`).
    pub role: Option<String>,
}

/// A page of users.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPage {
    /// Newest first.
    pub items: Vec<Profile>,
    /// Pass as `after` for the next page; null on the last page.
    #[schema(required)]
    pub next_cursor: Option<String>,
}

/// Users, newest first (keyset pagination). Needs `users:admin`.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", params(UserFilter),
    security(("bearer" = ["users:admin"])),
    responses(
        (status = 200, description = "A page of users", body = UserPage),
        (status = 422, description = "Codes: `invalid_limit`, `invalid_cursor`, `invalid_query`", body = Problem),
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

/// Body of `PATCH /api/v1/admin/users/{id}` (passed to SQL, which refuses other keys).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"roles": ["manager"], "is_active": true}))]
pub struct UpdateUser {
    /// Replaces the user's roles.
    #[schema(nullable = false)]
    pub roles: Option<Vec<RoleName>>,
    /// `false` ends the user's sessions; their access tokens stop working at once.
    #[schema(nullable = false)]
    pub is_active: Option<bool>,
}

/// The roles of `shop.role`.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoleName {
    Admin,
    Manager,
    Customer,
}

/// Changes a user's roles and/or `is_active` (`{"roles": ["manager"], "is_active": true}`);
/// deactivation ends their sessions and their access tokens stop working at once.
/// Audited. Needs `users:admin`.
#[utoipa::path(patch, path = "/api/v1/admin/users/{id}", tag = "admin", request_body = UpdateUser,
    params(("id" = uuid::Uuid, Path, description = "User id")),
    security(("bearer" = ["users:admin"])),
    responses(
        (status = 200, description = "The user's profile", body = Profile),
        (status = 404, description = "No such user (`user_not_found`)", body = Problem),
        (status = 422, description = "Codes: `unknown_fields`, `invalid_roles`, `invalid_is_active`, `invalid_body`", body = Problem),
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
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i32>,
    /// `next_cursor` of the previous page.
    pub after: Option<i64>,
    /// Entity (`user`, `refresh_token_family`, …).
    pub entity: Option<String>,
}

/// A page of the audit log.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditPage {
    /// Newest first.
    pub items: Vec<AuditEntry>,
    /// The id to pass as `after` for the next page (a number as text); null on the last.
    #[schema(required, pattern = "^[0-9]+$")]
    pub next_cursor: Option<String>,
}

/// One audited action.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    pub audit_log_id: i64,
    #[schema(value_type = Timestamp)]
    pub at: String,
    /// Who did it (null: the system, or an anonymous caller).
    #[schema(required)]
    pub actor_id: Option<uuid::Uuid>,
    /// `product_created`, `user_updated`, `cart.merge`, …
    pub action: String,
    /// `product`, `user`, `refresh_token_family`, …
    pub entity: String,
    #[schema(required)]
    pub entity_id: Option<String>,
    /// What changed (the request's fields, or `{before, patch}`).
    pub data: serde_json::Value,
    #[schema(required)]
    pub request_id: Option<String>,
}

/// The audit log, newest first. Needs `audit:read`.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", params(AuditFilter),
    security(("bearer" = ["audit:read"])),
    responses(
        (status = 200, description = "A page of the audit log", body = AuditPage),
        (status = 422, description = "Codes: `invalid_limit`, `invalid_query`", body = Problem),
    ))]
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
