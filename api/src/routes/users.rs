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
    routes::catalog_types::Timestamp,
    routes::{answer, auth::PasswordChanged, JsonText},
    AppState,
};

/// `/api/v1/users/me…`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me, update_me, erase_me))
        .routes(routes!(export_me))
        .routes(routes!(change_password))
}

/// A user's profile, as they see it and as administrators list it.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"id": "9c5b94b1-35ad-49bb-b118-8e8fc24abf80", "email": "awa@example.sn", "username": "awa",
    "is_active": true, "locale": "fr", "created_at": "2026-11-02T10:15:00+00:00", "last_login_at": null, "roles": ["customer"]}))]
pub struct Profile {
    pub id: uuid::Uuid,
    /// Lower-case.
    pub email: String,
    #[schema(required)]
    pub username: Option<String>,
    pub is_active: bool,
    /// Language of the user's e-mails (`fr`, `en`); null: the store's default.
    #[schema(required, pattern = "^(fr|en)$")]
    pub locale: Option<String>,
    #[schema(value_type = Timestamp)]
    pub created_at: String,
    #[schema(required, value_type = Option<Timestamp>)]
    pub last_login_at: Option<String>,
    /// Role names (`admin`, `manager`, `customer`), sorted.
    pub roles: Vec<String>,
}

/// The signed-in user's profile.
#[utoipa::path(get, path = "/api/v1/users/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, description = "Profile", body = Profile)))]
pub async fn me(
    State(state): State<AppState>,
    Require(caller, ..): Require<SignedIn>,
) -> Result<JsonText, ApiError> {
    answer(&state, &caller, Access::ReadOnly, "select api.me()::text", &[]).await
}

/// Body of `PATCH /api/v1/users/me` (the handler passes the object to SQL, which
/// refuses other keys).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "ada", "locale": "fr"}))]
pub struct UpdateMe {
    /// The new display name, unique; blank or null removes it.
    #[schema(max_length = 64)]
    pub username: Option<String>,
    /// Language of the e-mails: `fr`, `en`, or null for the store's default.
    #[schema(pattern = "^(fr|en)$")]
    pub locale: Option<String>,
}

/// Changes the signed-in user's username and e-mail language: `{"username": "ada",
/// "locale": "fr"}` (`locale`: `fr`, `en`, or null for the store's default).
#[utoipa::path(patch, path = "/api/v1/users/me", tag = "users", security(("bearer" = [])),
    request_body = UpdateMe,
    responses(
        (status = 200, description = "Profile", body = Profile),
        (status = 409, description = "The username is taken (`app_user_username_key`)", body = Problem),
        (status = 422, description = "Codes: `unknown_fields`, `app_user_locale_valid` (not fr, en or null), `app_user_username_check` (over 64 characters), \
            `invalid_body` (not an object)", body = Problem),
    ))]
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

/// Everything held about a user (GDPR access request). Addresses, carts, orders,
/// payments and reviews are their whole table rows (columns may be added as those
/// domains grow, so those objects are open); the rest is closed.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserExport {
    #[schema(value_type = Timestamp)]
    pub exported_at: String,
    pub profile: Profile,
    pub addresses: Vec<ExportRow>,
    /// Each cart row with its `items` (cart_item rows).
    pub carts: Vec<ExportRow>,
    /// Each order row with its `items` and `payments` (payment rows without the
    /// provider's raw payload, each with its `refunds`).
    pub orders: Vec<ExportRow>,
    /// Each review row with its `media` (asset ids) and `revisions` (earlier versions).
    pub reviews: Vec<ExportRow>,
    /// The reviews the user voted helpful.
    pub helpful_votes: Vec<ExportVote>,
    /// Every consent given or withdrawn, oldest first.
    pub consents: Vec<ExportConsent>,
    pub sessions: Vec<ExportSession>,
    /// What the user did (audit rows they are the actor of).
    pub activity: Vec<ExportActivity>,
    /// The e-mails sent to them (docs/email.md).
    pub emails: Vec<ExportEmail>,
}

/// A table row of the export (every column, by name).
#[derive(ToSchema)]
#[schema(value_type = Object)]
pub struct ExportRow(pub serde_json::Map<String, serde_json::Value>);

/// A helpful vote of the export.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportVote {
    pub review_id: i64,
    #[schema(value_type = Timestamp)]
    pub at: String,
}

/// A consent change of the export.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportConsent {
    pub purpose: String,
    pub granted: bool,
    pub version: String,
    #[schema(value_type = Timestamp)]
    pub recorded_at: String,
}

/// A session (refresh-token) of the export.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportSession {
    #[schema(value_type = Timestamp)]
    pub issued_at: String,
    #[schema(value_type = Timestamp)]
    pub expires_at: String,
    #[schema(required, value_type = Option<Timestamp>)]
    pub revoked_at: Option<String>,
}

/// An action of the export's activity.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportActivity {
    #[schema(value_type = Timestamp)]
    pub at: String,
    pub action: String,
    pub entity: String,
}

/// An e-mail sent (or queued) to the user.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportEmail {
    /// `password_reset`, `welcome`, `order_confirmation`, …
    pub kind: String,
    pub to: String,
    /// `queued`, `sending`, `sent`, `logged` or `failed`.
    pub status: String,
    #[schema(value_type = Timestamp)]
    pub created_at: String,
    #[schema(required, value_type = Option<Timestamp>)]
    pub sent_at: Option<String>,
}

/// Everything held about the signed-in user, as JSON (GDPR access request).
#[utoipa::path(get, path = "/api/v1/users/me/export", tag = "users", security(("bearer" = [])),
    responses((status = 200, description = "All the user's data", body = UserExport)))]
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
    responses((status = 204, description = "Erased; the token stops working")))]
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
    /// The new password (same policy as registration: 10 to 256 characters, not the
    /// e-mail, not one character repeated, not a common password).
    #[schema(min_length = 10, max_length = 256)]
    pub new_password: String,
}

/// Changes the password (the current one is checked) and ends every session.
#[utoipa::path(post, path = "/api/v1/users/me/password", tag = "users", security(("bearer" = [])),
    request_body = PasswordChange,
    responses(
        (status = 200, description = "Password changed; every session ended", body = PasswordChanged),
        (status = 401, description = "Wrong current password (`invalid_credentials`)", body = Problem),
        (status = 422, description = "Codes: `weak_password`, `invalid_body`", body = Problem),
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
