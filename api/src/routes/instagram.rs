//! Connecting Instagram accounts (Instagram API with Facebook Login).
//!
//! - `GET /api/v1/admin/integrations/instagram/authorize` (`integrations:admin`): the
//!   Facebook Login dialog URL with a random `state` stored (hashed) for this admin,
//!   single use, expiring.
//! - `GET /api/v1/integrations/instagram/callback?code=&state=` (public: the admin's
//!   browser lands here): the state is used up first, then the code is exchanged for a
//!   user token, that for a long-lived one, the Pages the admin manages are listed with
//!   their Page tokens (which do not expire when derived from a long-lived user token)
//!   and each Page's `instagram_business_account` is recorded as a connected account,
//!   its Page token sealed. The exception to "one call per route": the Graph API calls
//!   sit between the two SQL calls, which are short.
//! - `POST /api/v1/admin/integrations/instagram/token`: a token and account id an admin
//!   already has, checked against Meta before it is sealed and stored.
//! - `GET …/accounts`, `DELETE …/accounts/{account_id}`.
//!
//! Tokens are sealed here (`OAUTH_TOKEN_KEY`) before they reach SQL; no token is
//! logged or returned, and Graph errors carry Meta's message, never a URL.

use axum::{extract::State, http::StatusCode};
use base64::Engine;
use maef_instagram::{config::SCOPES, graph::TokenAnswer, GraphError, Secret};
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    auth::tokens::{new_opaque_token, sha256_hex},
    caller::{Caller, IntegrationsAdmin, Require},
    db::{self, Access},
    error::{ApiError, Problem},
    extract::{Json, Path, Query},
    routes::{answer, catalog_types::Timestamp, JsonText},
    AppState,
};

/// The integration's routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(authorize))
        .routes(routes!(callback))
        .routes(routes!(save_token))
        .routes(routes!(accounts))
        .routes(routes!(disconnect))
}

/// 409 naming the variables to set.
pub fn not_configured(missing: &[&str]) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "instagram_not_configured",
        "the Instagram integration is not configured",
    )
    .details(json!({ "missing": missing }).to_string())
    .hint(format!(
        "Set {} (docs/stories.md) and restart maef-api and maef-worker.",
        missing.join(", ")
    ))
}

/// The dialog URL to send the admin's browser to.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeUrl {
    /// Facebook Login dialog with client_id, redirect_uri, state and scope.
    pub authorize_url: String,
    /// The state's end: after it, the callback refuses it.
    #[schema(value_type = Timestamp)]
    pub state_expires_at: String,
    /// Permissions asked for.
    pub scopes: Vec<String>,
}

/// Starts connecting accounts: the Facebook Login dialog URL, with a `state` bound to
/// this admin (single use, expiring).
#[utoipa::path(get, path = "/api/v1/admin/integrations/instagram/authorize", tag = "integrations",
    security(("bearer" = ["integrations:admin"])),
    responses(
        (status = 200, description = "The URL", body = AuthorizeUrl),
        (status = 409, description = "IG_APP_ID, IG_APP_SECRET, IG_REDIRECT_URI or OAUTH_TOKEN_KEY not set", body = Problem)))]
pub async fn authorize(
    State(state): State<AppState>,
    Require(caller, ..): Require<IntegrationsAdmin>,
) -> Result<JsonText, ApiError> {
    let config = &state.config.instagram;
    let (Some(app), true) = (&config.app, config.missing_for_oauth().is_empty()) else {
        return Err(not_configured(&config.missing_for_oauth()));
    };
    let (oauth_state, hash) = new_opaque_token();
    let stored = db::call(
        &state.db,
        &caller,
        Access::ReadWrite,
        "select api.instagram_oauth_begin($1)::text",
        &[&hash],
    )
    .await?;
    let expires_at = serde_json::from_str::<serde_json::Value>(&stored)
        .map_err(|e| ApiError::internal(format!("instagram_oauth_begin: {e}")))?["expires_at"]
        .clone();
    let mut url = url::Url::parse(&config.dialog_url).map_err(|e| ApiError::internal(e.to_string()))?;
    url.query_pairs_mut()
        .append_pair("client_id", &app.app_id)
        .append_pair("redirect_uri", &app.redirect_uri)
        .append_pair("state", &oauth_state)
        .append_pair("scope", SCOPES)
        .append_pair("response_type", "code");
    Ok(JsonText::ok(
        json!({"authorize_url": url.as_str(), "state_expires_at": expires_at,
               "scopes": SCOPES.split(',').collect::<Vec<_>>()})
        .to_string(),
    ))
}

/// What Facebook appends to the redirect URI.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackParams {
    /// The authorization code (absent when the admin declined).
    pub code: Option<String>,
    /// The state of the authorization URL (Facebook returns it in every case).
    pub state: String,
    /// Set when the admin declined (`access_denied`).
    pub error: Option<String>,
    /// Why (`user_denied`).
    pub error_reason: Option<String>,
    /// A sentence.
    pub error_description: Option<String>,
}

/// How an account is connected.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Flavour {
    /// Instagram API with Facebook Login (the only one offered: docs/stories.md).
    FacebookLogin,
}

/// What kind of token an account holds.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// A Page token derived from a long-lived user token: no expiry.
    Page,
    /// A user token: it expires (`expires_at`).
    User,
}

/// Whether an account is pulled.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    Active,
    /// Meta refused the token: connect the account again.
    NeedsReauth,
}

/// A connected account (never its token).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectedAccount {
    /// Instagram user id.
    pub account_id: String,
    #[schema(required)]
    pub username: Option<String>,
    /// The Facebook Page it is linked to (OAuth flow).
    #[schema(required)]
    pub page_id: Option<String>,
    #[schema(required)]
    pub page_name: Option<String>,
    pub flavour: Flavour,
    pub token_kind: TokenKind,
    #[schema(required, value_type = Option<Timestamp>)]
    pub expires_at: Option<String>,
    pub scopes: Vec<String>,
    pub status: AccountStatus,
    #[schema(required)]
    pub status_reason: Option<String>,
    #[schema(value_type = Timestamp)]
    pub status_at: String,
    #[schema(value_type = Timestamp)]
    pub connected_at: String,
    #[schema(required, value_type = Option<Timestamp>)]
    pub renewed_at: Option<String>,
    #[schema(required, value_type = Option<Timestamp>)]
    pub last_pull_at: Option<String>,
    #[schema(required)]
    pub last_pull_stories: Option<i32>,
    #[schema(required)]
    pub last_pull_error: Option<String>,
    /// Pulls wait until then (rate limited).
    #[schema(required, value_type = Option<Timestamp>)]
    pub throttled_until: Option<String>,
    /// Stories stored from it.
    pub stories: i64,
}

/// The accounts a callback connected.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallbackResult {
    pub accounts: Vec<ConnectedAccount>,
}

/// Connected accounts.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountList {
    pub items: Vec<ConnectedAccount>,
}

/// Where Facebook Login sends the admin back: uses up the state, exchanges the code,
/// and connects every Instagram professional account of the Pages the admin manages.
#[utoipa::path(get, path = "/api/v1/integrations/instagram/callback", tag = "integrations", params(CallbackParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The accounts connected", body = CallbackResult),
        (status = 400, description = "Unknown, used or expired state; the admin declined; or Meta refused the code", body = Problem),
        (status = 409, description = "Not configured", body = Problem),
        (status = 422, description = "code or state missing, or no Page with an Instagram professional account", body = Problem),
        (status = 502, description = "The Graph API failed or could not be reached", body = Problem)))]
pub async fn callback(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<CallbackParams>,
) -> Result<JsonText, ApiError> {
    let config = &state.config.instagram;
    let (Some(app), Some(key)) = (&config.app, &config.token_key) else {
        return Err(not_configured(&config.missing_for_oauth()));
    };
    // An empty or forged state is simply unknown to the database (400).
    let oauth_state = params.state.as_str();
    let hash = sha256_hex(oauth_state);
    // Used up before anything else, so a replayed callback URL goes no further.
    let begin = "select api.instagram_oauth_callback_begin($1)::text";
    if let Some(error) = params.error.as_deref() {
        let _ = db::call(&state.db, &caller, Access::ReadWrite, begin, &[&hash]).await;
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "instagram_authorization_denied",
            "the authorization was not given on Facebook",
        )
        .details(
            json!({"error": error, "error_reason": params.error_reason, "error_description": params.error_description})
                .to_string(),
        ));
    }
    let Some(code) = params.code.as_deref().filter(|c| !c.is_empty()) else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_query",
            "code is missing",
        ));
    };
    db::call(&state.db, &caller, Access::ReadWrite, begin, &[&hash]).await?;

    let short = state.graph.exchange_code(app, code).await.map_err(code_error)?;
    let long: TokenAnswer = state
        .graph
        .long_lived(app, &short.access_token)
        .await
        .map_err(graph_error)?;
    let mut accounts = Vec::new();
    for page in state.graph.pages(&long.access_token).await.map_err(graph_error)? {
        let Some(ig) = state
            .graph
            .page_instagram_account(&page.id, &page.access_token)
            .await
            .map_err(graph_error)?
        else {
            continue;
        };
        let user = state
            .graph
            .ig_user(&ig, &page.access_token)
            .await
            .map_err(graph_error)?;
        let sealed = key.seal(&ig, &page.access_token);
        accounts.push(json!({
            "account_id": ig, "username": user.username, "page_id": page.id, "page_name": page.name,
            "token_kind": "page", "key_id": key.id(), "expires_at": null,
            "scopes": SCOPES.split(',').collect::<Vec<_>>(),
            "sealed": base64::engine::general_purpose::STANDARD.encode(sealed),
        }));
    }
    if accounts.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "no_instagram_business_account",
            "none of the Facebook Pages this person manages has an Instagram professional account",
        )
        .hint("Link the shop's Instagram business or creator account to one of its Facebook Pages, then connect again."));
    }
    let accounts = serde_json::Value::Array(accounts);
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.instagram_oauth_callback_finish($1, $2)::text",
        &[&hash, &accounts],
    )
    .await
}

/// Body of `POST /api/v1/admin/integrations/instagram/token`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The Instagram user id of the professional account.
    #[schema(pattern = "^[0-9A-Za-z_-]{1,64}$")]
    pub account_id: String,
    /// A token that reads it: a Page token (no expiry) or a user token.
    #[schema(value_type = String, min_length = 1, max_length = 4096, pattern = "\\S")]
    pub access_token: Secret,
    /// `page` (default) or `user`.
    #[serde(default)]
    #[schema(value_type = Option<TokenKind>)]
    pub token_kind: Option<String>,
    /// Seconds until the token expires (user tokens: about 60 days); absent: no expiry.
    #[serde(default)]
    #[schema(minimum = 60, maximum = 31622400)]
    pub expires_in: Option<i64>,
}

/// Longest `expires_in` accepted: 366 days.
const MAX_EXPIRES_IN: i64 = 366 * 86_400;

/// Connects an account with a token an admin already has. The token is checked by
/// reading the account on the Graph API (a refused token is a 422), then sealed.
#[utoipa::path(post, path = "/api/v1/admin/integrations/instagram/token", tag = "integrations",
    request_body = TokenRequest, security(("bearer" = ["integrations:admin"])),
    responses(
        (status = 200, description = "Connected (or reconnected)", body = ConnectedAccount),
        (status = 409, description = "OAUTH_TOKEN_KEY not set", body = Problem),
        (status = 422, description = "Bad field, or Meta refused the token for this account", body = Problem),
        (status = 502, description = "The Graph API failed or could not be reached", body = Problem)))]
pub async fn save_token(
    State(state): State<AppState>,
    Require(caller, ..): Require<IntegrationsAdmin>,
    Json(body): Json<TokenRequest>,
) -> Result<JsonText, ApiError> {
    let Some(key) = &state.config.instagram.token_key else {
        return Err(not_configured(&state.config.instagram.missing_for_tokens()));
    };
    let bad = |message: &str| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            message.to_string(),
        )
    };
    if !valid_account_id(&body.account_id) {
        return Err(bad(
            "account_id must be an Instagram user id (digits, at most 64 characters)",
        ));
    }
    // Characters, as the schema's max_length counts them.
    if body.access_token.expose().trim().is_empty() || body.access_token.expose().chars().count() > 4096 {
        return Err(bad("access_token must be a Graph API access token"));
    }
    let kind = body.token_kind.as_deref().unwrap_or("page");
    if !matches!(kind, "page" | "user") {
        return Err(bad("token_kind is page or user"));
    }
    if body
        .expires_in
        .is_some_and(|s| !(60..=MAX_EXPIRES_IN).contains(&s))
    {
        return Err(bad("expires_in is a number of seconds between 60 and a year"));
    }
    let user = state.graph.ig_user(&body.account_id, &body.access_token).await.map_err(|e| match e {
        GraphError::Api { .. } if !e.is_rate_limit() => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "instagram_token_rejected",
            "Meta refused this token for this account",
        )
        .details(e.to_string())
        .hint("Use a token with instagram_basic and pages_read_engagement for this Instagram professional account."),
        other => graph_error(other),
    })?;
    let account = json!({
        "account_id": body.account_id, "username": user.username, "token_kind": kind, "key_id": key.id(),
        "expires_in": body.expires_in,
        "scopes": [],
    });
    let sealed = key.seal(&body.account_id, &body.access_token);
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.instagram_save_account($1, $2)::text",
        &[&account, &sealed],
    )
    .await
}

/// The connected accounts (never their tokens).
#[utoipa::path(get, path = "/api/v1/admin/integrations/instagram/accounts", tag = "integrations",
    security(("bearer" = ["integrations:admin"])),
    responses((status = 200, description = "The accounts", body = AccountList)))]
pub async fn accounts(
    State(state): State<AppState>,
    Require(caller, ..): Require<IntegrationsAdmin>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.instagram_accounts()::text",
        &[],
    )
    .await
}

/// The answer of a disconnection.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Disconnected {
    pub account_id: String,
    pub disconnected: bool,
}

/// Disconnects an account: its token is deleted, its stories stay (audited).
#[utoipa::path(delete, path = "/api/v1/admin/integrations/instagram/accounts/{account_id}", tag = "integrations",
    params(("account_id" = String, Path, description = "Instagram user id", pattern = "^[0-9A-Za-z_-]{1,64}$")),
    security(("bearer" = ["integrations:admin"])),
    responses(
        (status = 200, description = "Disconnected", body = Disconnected),
        (status = 404, description = "No such connected account", body = Problem)))]
pub async fn disconnect(
    State(state): State<AppState>,
    Require(caller, ..): Require<IntegrationsAdmin>,
    Path(account_id): Path<String>,
) -> Result<JsonText, ApiError> {
    if !valid_account_id(&account_id) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "instagram_account_not_found",
            "no connected Instagram account has this id",
        ));
    }
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.instagram_disconnect($1)::text",
        &[&account_id],
    )
    .await
}

/// An Instagram user id as accounts are stored (`oauth_token_account_id_format`).
fn valid_account_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A failure of the code exchange: Meta refusing the code (expired, used, or for
/// another redirect URI) is the client's 400; anything else is 502.
fn code_error(e: GraphError) -> ApiError {
    match &e {
        GraphError::Api { status, .. } if *status == 400 && !e.is_rate_limit() => ApiError::new(
            StatusCode::BAD_REQUEST,
            "instagram_code_rejected",
            "Meta refused the authorization code",
        )
        .details(e.to_string())
        .hint("Codes are single use and short-lived: start again from the authorize URL."),
        _ => graph_error(e),
    }
}

/// 502 with Meta's own words (never a URL, which would carry a token).
fn graph_error(e: GraphError) -> ApiError {
    tracing::warn!(error = %e, "Graph API call failed");
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "instagram_graph_error",
        "the Instagram Graph API failed",
    )
    .details(e.to_string())
    .hint("Retry later; if it persists, check the app's settings on Meta's side.")
}
