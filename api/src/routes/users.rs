//! The signed-in user: profile, password change, GDPR export and erasure.

use axum::{extract::State, http::StatusCode};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    caller::{unauthorized, Require, SignedIn},
    db::{self, Access},
    error::{ApiError, Problem},
    extract::Json,
    routes::{answer, JsonText},
    AppState,
};

/// `/api/v1/users/me…`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me, update_me, erase_me))
        .routes(routes!(export_me))
        .routes(routes!(change_password))
}

/// The signed-in user's profile.
#[utoipa::path(get, path = "/api/v1/users/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, description = "Profile"), (status = 401, description = "Not signed in", body = Problem)))]
pub async fn me(
    State(state): State<AppState>,
    Require(caller, ..): Require<SignedIn>,
) -> Result<JsonText, ApiError> {
    answer(&state, &caller, Access::ReadOnly, "select api.me()::text", &[]).await
}

/// Changes the signed-in user's username and e-mail language: `{"username": "ada",
/// "locale": "fr"}` (`locale`: `fr`, `en`, or null for the store's default).
#[utoipa::path(patch, path = "/api/v1/users/me", tag = "users", security(("bearer" = [])),
    request_body = serde_json::Value,
    responses((status = 200, description = "Profile"), (status = 422, description = "Unknown field", body = Problem)))]
pub async fn update_me(
    State(state): State<AppState>,
    Require(caller, ..): Require<SignedIn>,
    Json(patch): Json<serde_json::Map<String, serde_json::Value>>,
) -> Result<JsonText, ApiError> {
    let patch = serde_json::Value::Object(patch);
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.update_me($1)::text",
        &[&patch],
    )
    .await
}

/// Everything held about the signed-in user, as JSON (GDPR access request).
#[utoipa::path(get, path = "/api/v1/users/me/export", tag = "users", security(("bearer" = [])),
    responses((status = 200, description = "All the user's data")))]
pub async fn export_me(
    State(state): State<AppState>,
    Require(caller, ..): Require<SignedIn>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.export_me()::text",
        &[],
    )
    .await
}

/// Erases the signed-in user's personal data (GDPR); orders are kept, anonymised.
#[utoipa::path(delete, path = "/api/v1/users/me", tag = "users", security(("bearer" = [])),
    responses((status = 204, description = "Erased")))]
pub async fn erase_me(
    State(state): State<AppState>,
    Require(caller, ..): Require<SignedIn>,
) -> Result<StatusCode, ApiError> {
    db::call(
        &state.db,
        &caller,
        Access::ReadWrite,
        "select api.erase_me()::text",
        &[],
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `POST /api/v1/users/me/password`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The current password.
    pub current_password: String,
    /// The new password (same policy as registration).
    pub new_password: String,
}

/// Changes the password (the current one is checked) and ends every session.
#[utoipa::path(post, path = "/api/v1/users/me/password", tag = "users", security(("bearer" = [])),
    request_body = PasswordChange,
    responses(
        (status = 200, description = "Password changed"),
        (status = 401, description = "Wrong current password", body = Problem),
        (status = 422, description = "Weak new password", body = Problem),
    ))]
pub async fn change_password(
    State(state): State<AppState>,
    Require(caller, ..): Require<SignedIn>,
    Json(request): Json<PasswordChange>,
) -> Result<JsonText, ApiError> {
    crate::auth::password::check_policy(&request.new_password, caller.email.as_deref())?;
    let stored = db::call(
        &state.db,
        &caller,
        Access::ReadOnly,
        "select api.my_password_hash()::text",
        &[],
    )
    .await?;
    let stored: serde_json::Value =
        serde_json::from_str(&stored).map_err(|e| ApiError::internal(format!("my_password_hash: {e}")))?;
    let verified = state
        .passwords
        .verify(
            request.current_password,
            stored["password_hash"].as_str().map(String::from),
        )
        .await?;
    if !verified.ok {
        return Err(unauthorized(
            "invalid_credentials",
            "the current password is wrong",
            None,
        ));
    }
    let hash = state.passwords.hash(request.new_password).await?;
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.set_my_password($1)::text",
        &[&hash],
    )
    .await
}
