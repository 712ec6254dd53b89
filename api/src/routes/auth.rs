//! Accounts and sessions: register, login, refresh, logout, password reset.
//!
//! Login is the one flow that needs two database calls: the password is verified here,
//! with argon2id, between looking the account up and opening the session.

use utoipa_axum::{router::OpenApiRouter, routes};

use axum::{extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    auth::{password, tokens},
    caller::{unauthorized, Caller, ClientAddr},
    db::{self, Access},
    error::{ApiError, Problem},
    extract::Json,
    idempotency::IdempotencyKey,
    routes::{answer, users::Profile, JsonText},
    AppState,
};

/// `/api/v1/auth/…`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(request_password_reset))
        .routes(routes!(confirm_password_reset))
}

/// Body of `POST /api/v1/auth/register`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "awa@example.sn", "password": "pagne-bleu-dakar", "username": "awa"}))]
pub struct RegisterRequest {
    /// E-mail address as SQL accepts it (`api._normalize_email`): something@host.tld
    /// with no space or second `@`, trimmed and stored lower-case; at most 254
    /// characters.
    #[schema(pattern = r"^ *[^@\s]+@[^@\s]+\.[^@\s]+ *$", max_length = 254)]
    pub email: String,
    /// 10 to 256 characters, not the e-mail (nor its local part), not one character
    /// repeated, not a common password (else 422 `weak_password`).
    #[schema(min_length = 10, max_length = 256)]
    pub password: String,
    /// Optional display name, unique (blank: none).
    #[schema(max_length = 64)]
    pub username: Option<String>,
    /// Language of the e-mails (`fr` or `en`); absent: the store's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^(fr|en)$")]
    pub locale: Option<String>,
}

/// The `Idempotency-Key` header of the routes that accept one, for the document.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // documents the header; [`IdempotencyKey`] reads it
pub struct IdempotencyHeader {
    /// Replays the first response to the same key for 24 h (1 to 255 visible ASCII
    /// characters, else 400 `invalid_idempotency_key`; a UUID per logical request).
    #[param(rename = "Idempotency-Key", pattern = "^[!-~]{1,255}$")]
    pub idempotency_key: Option<String>,
}

/// Creates a customer account (a `customer.created` event and a welcome e-mail go
/// with it). Accepts an `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    params(IdempotencyHeader), security((), ("bearer" = [])),
    responses(
        (status = 201, description = "The new account's profile", body = Profile),
        (status = 400, description = "Malformed JSON, or a bad `Idempotency-Key` (`invalid_idempotency_key`)", body = Problem),
        (status = 409, description = "Codes: `app_user_email_key` (e-mail taken), `app_user_username_key` (username taken), \
            `idempotency_key_in_flight`", body = Problem),
        (status = 422, description = "Codes: `invalid_email`, `app_user_locale_valid` (locale not fr or en), `weak_password`, `idempotency_key_reused` (the key came with \
            another body), `invalid_body`", body = Problem),
    ))]
pub async fn register(
    State(state): State<AppState>,
    caller: Caller,
    idempotency: IdempotencyKey,
    Json(request): Json<RegisterRequest>,
) -> Result<JsonText, ApiError> {
    password::check_policy(&request.password, Some(&request.email))?;
    let idem = idempotency.argument(&state, &caller, &request);
    let hash = state.passwords.hash(request.password.clone()).await?;
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.register_user($1, $2, $3, $4, $5)::text",
        &[&request.email, &hash, &request.username, &idem, &request.locale],
    )
    .await
    .map(JsonText::created)
}

/// Body of `POST /api/v1/auth/login`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "awa@example.sn", "password": "pagne-bleu-dakar"}))]
pub struct LoginRequest {
    /// E-mail address.
    pub email: String,
    /// Password.
    pub password: String,
}

/// Tokens of a session.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI…", "token_type": "Bearer",
    "expires_in": 900, "refresh_token": "k3Jd9…", "refresh_expires_in": 2592000}))]
pub struct TokenResponse {
    /// JWT to send as `Authorization: Bearer …`.
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(pattern = "^Bearer$")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Opaque token for `POST /api/v1/auth/refresh` (single use).
    pub refresh_token: String,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: u64,
}

fn session(
    state: &AppState,
    claims_json: &str,
    refresh_token: String,
) -> Result<axum::Json<TokenResponse>, ApiError> {
    let claims: tokens::UserClaims =
        serde_json::from_str(claims_json).map_err(|e| ApiError::internal(format!("claims from SQL: {e}")))?;
    let (access_token, expires_in) = state.tokens.issue(&claims).map_err(|e| ApiError::internal(e.0))?;
    Ok(axum::Json(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
        refresh_token,
        refresh_expires_in: claims.refresh_expires_in,
    }))
}

/// Signs in with e-mail and password. An unknown e-mail and a wrong password give the
/// same 401 after the same work (a dummy hash is verified). Rate-limited per e-mail and
/// per client address (429 with `Retry-After`).
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Access and refresh tokens", body = TokenResponse),
        (status = 401, description = "Codes: `invalid_credentials` (wrong e-mail or password), `account_inactive`", body = Problem),
        (status = 429, description = "Too many attempts (`rate_limited`)", body = Problem,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Json(request): Json<LoginRequest>,
) -> Result<axum::Json<TokenResponse>, ApiError> {
    let anonymous = Caller::anonymous();
    let found = db::call(
        &state.db,
        &anonymous,
        Access::ReadWrite,
        "select api.login_lookup($1, $2)::text",
        &[&request.email, &client],
    )
    .await?;
    let found: serde_json::Value =
        serde_json::from_str(&found).map_err(|e| ApiError::internal(format!("login_lookup: {e}")))?;
    let user_id = found["user_id"]
        .as_str()
        .and_then(|s| s.parse::<uuid::Uuid>().ok());
    let stored = found["password_hash"].as_str().map(String::from);
    let verified = state.passwords.verify(request.password, stored).await?;
    let Some(user_id) = user_id.filter(|_| verified.ok) else {
        return Err(unauthorized(
            "invalid_credentials",
            "wrong email or password",
            None,
        ));
    };
    let (refresh_token, refresh_hash) = tokens::new_opaque_token();
    let claims = db::call(
        &state.db,
        &anonymous,
        Access::ReadWrite,
        "select api.login_complete($1, $2, $3)::text",
        &[&user_id, &refresh_hash, &verified.rehash],
    )
    .await?;
    session(&state, &claims, refresh_token)
}

/// Body of refresh and logout.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token of the session.
    pub refresh_token: String,
}

/// Exchanges a refresh token for new tokens (the old one is used up). Presenting a
/// used refresh token again revokes the whole session (theft detection).
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "New access and refresh tokens", body = TokenResponse),
        (status = 401, description = "Codes: `invalid_refresh_token` (unknown, expired or revoked), \
            `refresh_token_reused` (the session is now revoked), `account_inactive`", body = Problem),
        (status = 429, description = "Too many attempts (`rate_limited`)", body = Problem,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Json(request): Json<RefreshRequest>,
) -> Result<axum::Json<TokenResponse>, ApiError> {
    let (new_token, new_hash) = tokens::new_opaque_token();
    let result = db::call(
        &state.db,
        &Caller::anonymous(),
        Access::ReadWrite,
        "select api.refresh_session($1, $2, $3)::text",
        &[&tokens::sha256_hex(&request.refresh_token), &new_hash, &client],
    )
    .await?;
    let reused = serde_json::from_str::<serde_json::Value>(&result)
        .is_ok_and(|v| v["error"] == "refresh_token_reused");
    if reused {
        return Err(unauthorized(
            "refresh_token_reused",
            "this refresh token was already used; the session is revoked",
            Some("refresh token reused"),
        )
        .hint("Sign in again."));
    }
    session(&state, &result, new_token)
}

/// Ends the session of a refresh token (every token of its family).
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 204, description = "Signed out (also when the token was unknown or already revoked)")))]
pub async fn logout(
    State(state): State<AppState>,
    Json(request): Json<RefreshRequest>,
) -> Result<StatusCode, ApiError> {
    db::call(
        &state.db,
        &Caller::anonymous(),
        Access::ReadWrite,
        "select api.logout($1)::text",
        &[&tokens::sha256_hex(&request.refresh_token)],
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `POST /api/v1/auth/password-reset`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// The account's e-mail.
    pub email: String,
}

/// The answer of a password-reset request (the same whether or not the account exists).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetAccepted {
    /// Always `accepted`.
    #[schema(pattern = "^accepted$")]
    pub status: String,
}

/// The answer of a password change.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChanged {
    /// Always `password_changed`.
    #[schema(pattern = "^password_changed$")]
    pub status: String,
}

/// Sends a password-reset link if the account exists; the answer never tells whether
/// it does. Accepts an `Idempotency-Key`; rate-limited.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "auth", request_body = ResetRequest,
    params(IdempotencyHeader), security((), ("bearer" = [])),
    responses(
        (status = 202, description = "Accepted (whether or not the e-mail exists)", body = ResetAccepted),
        (status = 400, description = "Malformed JSON, or a bad `Idempotency-Key` (`invalid_idempotency_key`)", body = Problem),
        (status = 409, description = "The same `Idempotency-Key` is in flight (`idempotency_key_in_flight`)", body = Problem),
        (status = 422, description = "Codes: `idempotency_key_reused`, `invalid_body`", body = Problem),
        (status = 429, description = "Too many attempts (`rate_limited`)", body = Problem,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn request_password_reset(
    State(state): State<AppState>,
    caller: Caller,
    ClientAddr(client): ClientAddr,
    idempotency: IdempotencyKey,
    Json(request): Json<ResetRequest>,
) -> Result<JsonText, ApiError> {
    let idem = idempotency.argument(&state, &caller, &request);
    let (token, token_hash) = tokens::new_opaque_token();
    let link = format!("{}{token}", state.config.password_reset_url);
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.request_password_reset($1, $2, $3, $4, $5)::text",
        &[&request.email, &token_hash, &link, &client, &idem],
    )
    .await
    .map(|j| j.with_status(StatusCode::ACCEPTED))
}

/// Body of `POST /api/v1/auth/password-reset/confirm`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirmRequest {
    /// The token from the e-mail's link.
    pub token: String,
    /// The new password (same policy as registration).
    #[schema(min_length = 10, max_length = 256)]
    pub new_password: String,
}

/// Sets a new password with a reset token (single use, expiring); ends every session.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "auth", request_body = ResetConfirmRequest,
    responses(
        (status = 200, description = "Password changed; every session ended", body = PasswordChanged),
        (status = 422, description = "Codes: `invalid_reset_token` (unknown, expired or used), `weak_password`, \
            `invalid_body`", body = Problem),
    ))]
pub async fn confirm_password_reset(
    State(state): State<AppState>,
    Json(request): Json<ResetConfirmRequest>,
) -> Result<JsonText, ApiError> {
    password::check_policy(&request.new_password, None)?;
    let hash = state.passwords.hash(request.new_password).await?;
    answer(
        &state,
        &Caller::anonymous(),
        Access::ReadWrite,
        "select api.confirm_password_reset($1, $2)::text",
        &[&tokens::sha256_hex(&request.token), &hash],
    )
    .await
}
