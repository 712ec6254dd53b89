//! maef-api serving the storefront's build (`WEB_DIR`, api/src/web.rs) and the API
//! explorer at `/docs`: what is cached how, what falls back to the single-page app,
//! what stays an API problem. The storefront itself is tested in Chromium
//! (web/e2e, scripts/test-web.sh); `maef-api openapi` is tested at the end.

use std::path::{Path, PathBuf};

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
    Router,
};
use http_body_util::BodyExt;
use maef_tests::{
    http::{router_for, send, test_config},
    TestDb,
};
use tower::ServiceExt;

/// A build laid out as `npm run build` writes it, in a fresh temporary folder.
struct Build(PathBuf);

impl Build {
    fn new(with_explorer: bool) -> Self {
        let dir = std::env::temp_dir().join(format!("maef-web-{}", uuid::Uuid::new_v4()));
        let write = |path: &str, text: &str| {
            let file = dir.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        };
        write(
            "index.html",
            "<!doctype html><title>shop</title><div id=root></div>",
        );
        write("assets/index-AbC123.js", &"console.log('app');".repeat(100));
        write(
            "assets/index-AbC123.js.gz",
            "not really gzip, but what a precompressed file is served as",
        );
        write("favicon.svg", "<svg xmlns='http://www.w3.org/2000/svg'/>");
        if with_explorer {
            write(
                "docs/index.html",
                "<!doctype html><title>explorer</title><div id=swagger-ui></div>",
            );
            write("docs/init.js", "window.ui = 1;");
        }
        Self(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Build {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Served {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

/// A request outside the API: the storefront's files are not operations of the
/// OpenAPI document, so they bypass its contract check (`/docs` and `/api/…` do not).
async fn request(app: &Router, method: Method, uri: &str, accept_gzip: bool) -> Served {
    let mut builder = Request::builder().method(method).uri(uri);
    if accept_gzip {
        builder = builder.header(header::ACCEPT_ENCODING, "gzip");
    }
    let response = app
        .clone()
        .oneshot(builder.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Served {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).to_string(),
    }
}

fn header(served: &Served, name: header::HeaderName) -> &str {
    served.headers.get(name).map_or("", |v| v.to_str().unwrap())
}

async fn app_with(db: &TestDb, web_dir: Option<&Path>) -> Router {
    let dir = web_dir.map(|d| d.to_string_lossy().to_string());
    let extra: Vec<(&str, &str)> = dir.iter().map(|d| ("WEB_DIR", d.as_str())).collect();
    router_for(&test_config(&db.url, &extra))
}

#[tokio::test]
async fn the_storefront_is_served_at_the_root_with_its_routes_falling_back_to_the_page() {
    let db = TestDb::new().await;
    let build = Build::new(false);
    let app = app_with(&db, Some(build.path())).await;

    for path in [
        "/",
        "/products/robe-d-ete-en-wax",
        "/orders/2026-000001?placed=1",
        "/catalog/mode",
    ] {
        let page = request(&app, Method::GET, path, false).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(page.body.contains("<div id=root>"), "{path}: {}", page.body);
        assert_eq!(header(&page, header::CACHE_CONTROL), "no-cache", "{path}");
        assert!(header(&page, header::CONTENT_TYPE).starts_with("text/html"));
        let policy = header(&page, header::CONTENT_SECURITY_POLICY);
        assert!(
            policy.contains("default-src 'self'") && policy.contains("frame-ancestors 'none'"),
            "{policy}"
        );
    }
    let icon = request(&app, Method::GET, "/favicon.svg", false).await;
    assert_eq!(icon.status, StatusCode::OK);
    assert_eq!(header(&icon, header::CACHE_CONTROL), "no-cache");
    assert!(header(&icon, header::LAST_MODIFIED).contains("GMT"));
    let head = request(&app, Method::HEAD, "/", false).await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
}

#[tokio::test]
async fn the_page_allows_stripe_js_only_when_stripe_is_configured() {
    let db = TestDb::new().await;
    let build = Build::new(false);
    let dir = build.path().to_string_lossy().to_string();

    let without = router_for(&test_config(&db.url, &[("WEB_DIR", dir.as_str())]));
    let page = request(&without, Method::GET, "/orders/2026-000001/pay", false).await;
    let policy = header(&page, header::CONTENT_SECURITY_POLICY);
    assert!(policy.starts_with("default-src 'self';"), "{policy}");
    assert!(
        !policy.contains("stripe"),
        "no Stripe origin without Stripe: {policy}"
    );

    let with = router_for(&test_config(
        &db.url,
        &[
            ("WEB_DIR", dir.as_str()),
            ("STRIPE_SECRET_KEY", "sk_test_maef_storefront"),
            ("STRIPE_WEBHOOK_SECRETS", "whsec_maef_storefront"),
        ],
    ));
    let page = request(&with, Method::GET, "/orders/2026-000001/pay", false).await;
    assert_eq!(page.status, StatusCode::OK);
    let policy = header(&page, header::CONTENT_SECURITY_POLICY);
    for directive in [
        "script-src 'self' https://js.stripe.com",
        "frame-src https://js.stripe.com",
        "https://hooks.stripe.com",
        "connect-src 'self' https://api.stripe.com",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ] {
        assert!(policy.contains(directive), "{directive} missing from {policy}");
    }
}

#[tokio::test]
async fn hashed_assets_are_cached_for_a_year_and_sent_precompressed_and_a_missing_one_is_a_404_problem() {
    let db = TestDb::new().await;
    let build = Build::new(false);
    let app = app_with(&db, Some(build.path())).await;

    let plain = request(&app, Method::GET, "/assets/index-AbC123.js", false).await;
    assert_eq!(plain.status, StatusCode::OK);
    assert_eq!(
        header(&plain, header::CACHE_CONTROL),
        "public, max-age=31536000, immutable"
    );
    assert!(plain.body.starts_with("console.log('app');"));
    assert_eq!(header(&plain, header::CONTENT_ENCODING), "");

    let gzip = request(&app, Method::GET, "/assets/index-AbC123.js", true).await;
    assert_eq!(header(&gzip, header::CONTENT_ENCODING), "gzip");
    let vary: Vec<_> = gzip
        .headers
        .get_all(header::VARY)
        .iter()
        .map(|v| v.to_str().unwrap().to_lowercase())
        .collect();
    assert!(vary.iter().any(|v| v.contains("accept-encoding")), "{vary:?}");
    assert!(gzip.body.starts_with("not really gzip"));

    // A stale tab asking for an old chunk gets an error it can see, not the page.
    let missing = request(&app, Method::GET, "/assets/index-Old999.js", false).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(header(&missing, header::CONTENT_TYPE), "application/problem+json");
    assert!(missing.body.contains("file_not_found"), "{}", missing.body);
}

#[tokio::test]
async fn api_paths_stay_problems_and_writes_outside_the_api_are_refused() {
    let db = TestDb::new().await;
    let build = Build::new(false);
    let app = app_with(&db, Some(build.path())).await;

    // Through the contract check: these are the API's answers.
    let unknown = send(
        &app,
        Request::get("/api/v1/no-such-route").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.problem_code(), "route_not_found");
    let products = send(
        &app,
        Request::get("/api/v1/products?limit=1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(products.status, StatusCode::OK);

    let post = request(&app, Method::POST, "/checkout", false).await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(post.body.contains("method_not_allowed"));
    // No path escapes the build's folder.
    let escape = request(&app, Method::GET, "/../Cargo.toml", false).await;
    assert!(!escape.body.contains("[package]"));
}

#[tokio::test]
async fn docs_is_the_vendored_explorer_when_built_and_the_static_page_otherwise() {
    let db = TestDb::new().await;
    let with = Build::new(true);
    let app = app_with(&db, Some(with.path())).await;
    let explorer = send(&app, Request::get("/docs").body(Body::empty()).unwrap()).await;
    assert_eq!(explorer.status, StatusCode::OK);
    assert!(explorer.text().contains("swagger-ui"), "{}", explorer.text());
    let init = request(&app, Method::GET, "/docs/init.js", false).await;
    assert_eq!(init.status, StatusCode::OK);
    assert_eq!(header(&init, header::CACHE_CONTROL), "no-cache");

    // A build without the explorer, and no build at all: the static page, and no
    // storefront (the root is the API's 404).
    let without = Build::new(false);
    for app in [
        app_with(&db, Some(without.path())).await,
        app_with(&db, None).await,
    ] {
        let page = send(&app, Request::get("/docs").body(Body::empty()).unwrap()).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.text().contains("/api/v1/openapi.json") && page.text().contains("GET"));
        assert!(!page.text().contains("swagger-ui"));
    }
    let bare = app_with(&db, None).await;
    let root = send(&bare, Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(root.status, StatusCode::NOT_FOUND);
    assert_eq!(root.problem_code(), "route_not_found");

    // WEB_DIR naming a folder without index.html: the API alone, as without it.
    let empty = std::env::temp_dir().join(format!("maef-web-empty-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&empty).unwrap();
    let app = app_with(&db, Some(&empty)).await;
    let root = send(&app, Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(root.status, StatusCode::NOT_FOUND);
    std::fs::remove_dir_all(&empty).unwrap();
}

#[test]
fn maef_api_openapi_prints_the_document_the_server_serves_without_a_database() {
    let binary = std::env::var("MAEF_BIN").map_or_else(
        |_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/maef-api"),
        |bin| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join(bin)
                .join("maef-api")
        },
    );
    let output = std::process::Command::new(&binary)
        .arg("openapi")
        .env_remove("DATABASE_URL")
        .env_remove("JWT_SECRET")
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (cargo build -p maef-api)", binary.display()));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed, maef_api::openapi::document());
    assert!(printed["paths"]["/api/v1/checkout"]["post"].is_object());
}
