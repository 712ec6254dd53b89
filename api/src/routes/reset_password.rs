//! `GET /reset-password`: the page the password-reset e-mail links to
//! (`PASSWORD_RESET_URL`, default `http://localhost:8000/reset-password?token=`).
//!
//! A small self-contained page (no dependency, no request but its own POST): it reads
//! the token from the query, takes it out of the address bar, and posts it with the
//! new password to `POST /api/v1/auth/password-reset/confirm`, showing the answer
//! (accessible: labelled fields, a live status region, focus on errors; French or
//! English after the browser's language). The headers keep the token from leaking:
//! no referrer, no cache, no framing, and a Content-Security-Policy that allows only
//! this page's own script and style (by hash) and requests to this origin. A shop
//! with its own storefront points `PASSWORD_RESET_URL` there instead.

use std::sync::LazyLock;

use axum::{
    http::{header, HeaderName, HeaderValue},
    response::{IntoResponse, Response},
};
use base64::{engine::general_purpose::STANDARD, Engine};
use sha2::{Digest, Sha256};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::AppState;

const STYLE: &str = include_str!("reset_password/page.css");
const SCRIPT: &str = include_str!("reset_password/page.js");

/// The page and its Content-Security-Policy, built once.
static PAGE: LazyLock<(String, String)> = LazyLock::new(|| {
    let hash = |s: &str| format!("'sha256-{}'", STANDARD.encode(Sha256::digest(s.as_bytes())));
    let html = include_str!("reset_password/page.html")
        .replace("{STYLE}", STYLE)
        .replace("{SCRIPT}", SCRIPT);
    let csp = format!(
        "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; form-action 'none'; \
         frame-ancestors 'none'; base-uri 'none'",
        hash(SCRIPT),
        hash(STYLE)
    );
    (html, csp)
});

/// `/reset-password`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(reset_password_page))
}

/// The password-reset page (HTML) the reset e-mail links to.
#[utoipa::path(get, path = "/reset-password", tag = "auth",
    params(("token" = Option<String>, Query, description = "The token from the e-mail's link")),
    responses((status = 200, description = "The page", content_type = "text/html", body = String)))]
pub async fn reset_password_page() -> Response {
    let (html, csp) = &*PAGE;
    let mut response = html.clone().into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(value) = HeaderValue::from_str(csp) {
        headers.insert(HeaderName::from_static("content-security-policy"), value);
    }
    response
}
