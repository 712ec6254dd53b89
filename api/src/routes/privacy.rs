//! The data lifecycle (GDPR) beside `users.rs`'s export and self-erasure: a customer's
//! consents, and erasure by an administrator on request. What erasure keeps and why is
//! in docs/privacy.md; the rules are in `sql/privacy.sql`.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    caller::{Require, SignedIn, UsersAdmin},
    db::Access,
    error::{ApiError, Problem},
    extract::{Json, Path},
    routes::{answer, catalog_types::Timestamp, JsonText},
    AppState,
};

/// `/api/v1/users/me/consents…` and `/api/v1/admin/users/{id}/erasure`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_consents))
        .routes(routes!(set_consent))
        .routes(routes!(erase_user))
}

/// What a consent is for.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentPurpose {
    Analytics,
    MarketingEmail,
    PrivacyPolicy,
    Terms,
}

/// The state of one consent.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Consent {
    pub purpose: ConsentPurpose,
    /// False when never given, or withdrawn.
    pub granted: bool,
    /// The version of the text agreed to; null when never recorded.
    #[schema(required)]
    pub version: Option<String>,
    #[schema(required, value_type = Option<Timestamp>)]
    pub recorded_at: Option<String>,
}

/// A change of a consent (the history is the proof of consent).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentChange {
    pub purpose: ConsentPurpose,
    pub granted: bool,
    pub version: String,
    #[schema(value_type = Timestamp)]
    pub recorded_at: String,
}

/// The caller's consents.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"consents": [
    {"purpose": "analytics", "granted": false, "version": null, "recorded_at": null},
    {"purpose": "marketing_email", "granted": true, "version": "2026-01", "recorded_at": "2026-11-02T10:15:00+00:00"},
    {"purpose": "privacy_policy", "granted": false, "version": null, "recorded_at": null},
    {"purpose": "terms", "granted": false, "version": null, "recorded_at": null}],
    "history": [{"purpose": "marketing_email", "granted": true, "version": "2026-01", "recorded_at": "2026-11-02T10:15:00+00:00"}]}))]
pub struct Consents {
    /// One per purpose, by purpose.
    pub consents: Vec<Consent>,
    /// Every change, oldest first.
    pub history: Vec<ConsentChange>,
}

/// The caller's consents and their history.
#[utoipa::path(get, path = "/api/v1/users/me/consents", tag = "users", security(("bearer" = [])),
    responses((status = 200, description = "Consents", body = Consents)))]
pub async fn my_consents(
    State(state): State<AppState>,
    Require(caller, ..): Require<SignedIn>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.my_consents()::text",
        &[],
    )
    .await
}

/// Body of `PUT /api/v1/users/me/consents/{purpose}`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"granted": true, "version": "2026-01"}))]
pub struct ConsentRequest {
    pub granted: bool,
    /// The version of the text shown (at most 64 characters).
    #[schema(max_length = 64)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Gives or withdraws a consent; each change is kept.
#[utoipa::path(put, path = "/api/v1/users/me/consents/{purpose}", tag = "users", security(("bearer" = [])),
    request_body = ConsentRequest,
    params(("purpose" = ConsentPurpose, Path, description = "What the consent is for")),
    responses(
        (status = 200, description = "Consents", body = Consents),
        (status = 422, description = "Codes: `invalid_purpose`, `invalid_field`, `invalid_body`", body = Problem),
    ))]
pub async fn set_consent(
    State(state): State<AppState>,
    Require(caller, ..): Require<SignedIn>,
    Path(purpose): Path<String>,
    Json(consent): Json<ConsentRequest>,
) -> Result<JsonText, ApiError> {
    let consent = serde_json::to_value(&consent).map_err(|e| ApiError::internal(e.to_string()))?;
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.set_my_consent($1, $2)::text",
        &[&purpose, &consent],
    )
    .await
}

/// Body of `POST /api/v1/admin/users/{id}/erasure`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Request by e-mail, ticket 4312"}))]
pub struct ErasureRequest {
    /// Why (the request's reference): 1 to 1000 characters, kept in the audit log.
    #[schema(min_length = 1, max_length = 1000, pattern = "[^ ]")]
    pub reason: String,
}

/// What an erasure did.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Erased {
    pub id: uuid::Uuid,
    /// `erased`.
    pub status: String,
    /// Orders kept for accounting, without personal data.
    pub orders: i64,
    /// Reviews kept, anonymous.
    pub reviews: i64,
}

/// Erases a user on request, as `DELETE /api/v1/users/me` does (docs/privacy.md);
/// audited with the reason.
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/erasure", tag = "admin", security(("bearer" = ["users:admin"])),
    request_body = ErasureRequest,
    params(("id" = uuid::Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "Erased", body = Erased),
        (status = 404, description = "No such user (`user_not_found`)", body = Problem),
        (status = 409, description = "`already_erased`; `cannot_erase_admin` (remove the admin role first)", body = Problem),
        (status = 422, description = "Codes: `invalid_field`, `invalid_body`", body = Problem),
    ))]
pub async fn erase_user(
    State(state): State<AppState>,
    Require(caller, ..): Require<UsersAdmin>,
    Path(id): Path<uuid::Uuid>,
    Json(request): Json<ErasureRequest>,
) -> Result<JsonText, ApiError> {
    let request = serde_json::to_value(&request).map_err(|e| ApiError::internal(e.to_string()))?;
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.admin_erase_user($1, $2)::text",
        &[&id, &request],
    )
    .await
}
