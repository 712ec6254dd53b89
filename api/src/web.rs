//! The storefront's built files (`WEB_DIR`, `web/dist` from `npm run build`) served
//! beside the API, so one process and one origin serve the shop: no CORS, no second
//! server to run.
//!
//! What is served, for `GET` and `HEAD` outside `/api/`:
//! - `/assets/…`: Vite's content-hashed files, cached for a year (`immutable`): a new
//!   build has new names. A missing one is a 404 problem, never the page (a stale tab
//!   asking for an old chunk must fail visibly, not parse HTML as JavaScript).
//! - any other existing file (`/favicon.svg`, `/docs/…`): revalidated on each use
//!   (`no-cache` with `Last-Modified`).
//! - every other path: `index.html`, the single-page app, which routes in the browser
//!   (`/products/robe-d-ete-en-wax`, `/orders/2026-000123`), `no-cache` and a
//!   Content-Security-Policy that allows only this origin — and, when Stripe is
//!   configured, the origins Stripe.js needs for its Payment Element.
//!
//! The build writes a `.gz` beside each text file; it is sent to clients that accept
//! gzip (`precompressed_gzip`), so nothing is compressed per request.

use std::path::{Path, PathBuf};

use axum::{
    extract::Request,
    http::{header, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
};
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

use crate::error::ApiError;

/// Cache policy of Vite's hashed files.
const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
/// Cache policy of everything else: use it, but ask first (a 304 costs little).
const REVALIDATE: HeaderValue = HeaderValue::from_static("no-cache");
/// The storefront's policy: its own scripts, styles and requests only; media from the
/// API (same origin); `data:` images for the inline placeholders; no framing.
const PAGE_POLICY: HeaderValue = HeaderValue::from_static(
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; \
     style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'self'; \
     form-action 'self'; frame-ancestors 'none'",
);
/// The same, plus what Stripe's Payment Element needs (Stripe's CSP guide): its
/// script from js.stripe.com (never bundled), its frames (the element, 3-D Secure)
/// and its API. Sent only when Stripe is configured: a shop without it stays
/// same-origin only.
const PAGE_POLICY_WITH_STRIPE: HeaderValue = HeaderValue::from_static(
    "default-src 'self'; img-src 'self' data: blob: https://*.stripe.com; media-src 'self' blob:; \
     script-src 'self' https://js.stripe.com https://*.js.stripe.com; \
     frame-src https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com; \
     connect-src 'self' https://api.stripe.com; \
     style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'self'; \
     form-action 'self'; frame-ancestors 'none'",
);

/// Whether the page may load Stripe.js (maef-api has Stripe's keys).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StripeJs {
    /// Stripe is configured: its origins are allowed.
    Allowed,
    /// Stripe is not configured: this origin only.
    Refused,
}

/// The storefront build, when `WEB_DIR` names a folder with an `index.html`.
#[derive(Clone)]
pub struct Storefront {
    dir: PathBuf,
    policy: HeaderValue,
}

impl Storefront {
    /// The build in `dir`, or `None` (with a warning) when it has no `index.html`:
    /// then the API runs alone, as without `WEB_DIR`.
    pub fn open(dir: &Path, stripe: StripeJs) -> Option<Self> {
        if dir.join("index.html").is_file() {
            tracing::info!(dir = %dir.display(), "serving the storefront at /");
            Some(Self {
                dir: dir.to_path_buf(),
                policy: match stripe {
                    StripeJs::Allowed => PAGE_POLICY_WITH_STRIPE,
                    StripeJs::Refused => PAGE_POLICY,
                },
            })
        } else {
            tracing::warn!(dir = %dir.display(), "WEB_DIR has no index.html: storefront not served (run npm run build in web/)");
            None
        }
    }

    /// The vendored API explorer's page (`docs/index.html` of the build), if built.
    pub fn explorer(&self) -> Option<PathBuf> {
        let page = self.dir.join("docs").join("index.html");
        page.is_file().then_some(page)
    }

    /// Answers a request no API route took (see the module's documentation).
    pub async fn serve(self, request: Request) -> Response {
        let path = request.uri().path().to_owned();
        if path.starts_with("/api/") || path == "/api" {
            return ApiError::new(StatusCode::NOT_FOUND, "route_not_found", "no such route").into_response();
        }
        if request.method() != Method::GET && request.method() != Method::HEAD {
            return ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{} is not allowed here", request.method()),
            )
            .into_response();
        }
        let hashed = path.starts_with("/assets/");
        let files = ServeDir::new(&self.dir).precompressed_gzip();
        let result = if hashed {
            files.oneshot(request).await
        } else {
            let page = ServeFile::new(self.dir.join("index.html")).precompressed_gzip();
            files.fallback(page).oneshot(request).await
        };
        let mut response = match result {
            Ok(response) => response.into_response(),
            Err(never) => match never {},
        };
        if response.status() == StatusCode::NOT_FOUND {
            return ApiError::new(StatusCode::NOT_FOUND, "file_not_found", "no such file").into_response();
        }
        let is_html = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"));
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, if hashed { IMMUTABLE } else { REVALIDATE });
        // The same URL answers gzip or not after Accept-Encoding: caches must know.
        headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        if is_html {
            headers.insert(header::CONTENT_SECURITY_POLICY, self.policy.clone());
            headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
        }
        response
    }
}

/// Serves one file (the explorer's page at `/docs`), revalidated on each use.
pub async fn serve_file(file: PathBuf, request: Request) -> Response {
    let result = ServeFile::new(file).precompressed_gzip().oneshot(request).await;
    let mut response = match result {
        Ok(response) => response.into_response(),
        Err(never) => match never {},
    };
    response.headers_mut().insert(header::CACHE_CONTROL, REVALIDATE);
    response
}
