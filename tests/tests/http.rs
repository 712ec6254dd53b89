//! HTTP tests: the real router (`maef_api::app`) against a real database, driven
//! without a socket.

use std::time::Duration;

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
    Router,
};
use maef_api::AppState;
use maef_tests::{
    http::{router_for as app_for, send, test_config as config, Reply},
    seed_products, TestDb,
};

async fn spawn_app() -> (Router, TestDb) {
    let db = TestDb::new().await;
    (app_for(&config(&db.url, &[])), db)
}

async fn get(app: &Router, uri: &str) -> Reply {
    send(app, Request::get(uri).body(Body::empty()).unwrap()).await
}

fn post_json(uri: &str, content_type: &str, body: impl Into<Body>) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::CONTENT_TYPE, content_type)
        .body(body.into())
        .unwrap()
}

#[tokio::test]
async fn keyset_pagination_returns_every_row_exactly_once_while_rows_are_inserted() {
    let (app, db) = spawn_app().await;
    let client = db.connect().await;
    let original = seed_products(&client, "orig", 23).await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut round = 0;
    loop {
        let uri = match &cursor {
            None => "/api/v1/products?limit=5".to_string(),
            Some(c) => format!("/api/v1/products?limit=5&after={c}"),
        };
        let reply = get(&app, &uri).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.content_type, "application/json");
        let page = reply.json();
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["slug"].as_str().unwrap().to_string()),
        );
        // A writer adds products between pages.
        seed_products(&client, &format!("new{round}"), 2).await;
        round += 1;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(round < 100, "pagination does not end");
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "a row was returned twice");
    for slug in &original {
        assert!(seen.contains(slug), "{slug} was skipped");
    }
}

#[tokio::test]
async fn product_page_and_category_tree_are_served_as_json() {
    let (app, db) = spawn_app().await;
    let client = db.connect().await;
    let slug = seed_products(&client, "page", 1).await.remove(0);
    let reply = get(&app, &format!("/api/v1/products/{slug}")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let product = reply.json();
    assert_eq!(product["slug"], slug.as_str());
    assert_eq!(product["price_from"][1]["price_formatted"], "15,000 XOF");
    let tree = get(&app, "/api/v1/categories").await.json();
    assert_eq!(tree[0]["slug"], "test");
    assert!(tree[0]["children"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn an_unknown_slug_is_a_404_problem() {
    let (app, _db) = spawn_app().await;
    let reply = get(&app, "/api/v1/products/no-such-thing").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.problem_code(), "product_not_found");
    assert!(reply.json()["message"]
        .as_str()
        .unwrap()
        .contains("no-such-thing"));
    let unknown_route = get(&app, "/api/v1/nothing-here").await;
    assert_eq!(unknown_route.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown_route.problem_code(), "route_not_found");
    let wrong_method = send(
        &app,
        Request::delete("/api/v1/products").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.problem_code(), "method_not_allowed");
    assert!(
        wrong_method.headers.get(header::ALLOW).is_some(),
        "405 keeps its Allow header"
    );
}

#[tokio::test]
async fn bad_limits_and_cursors_are_422_problems() {
    let (app, _db) = spawn_app().await;
    for (query, code) in [
        ("limit=0", "invalid_limit"),
        ("limit=1000", "invalid_limit"),
        ("limit=abc", "invalid_query"),
        ("limit=99999999999", "invalid_query"),
        ("after=not-a-cursor", "invalid_cursor"),
    ] {
        let reply = get(&app, &format!("/api/v1/products?{query}")).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(reply.problem_code(), code, "{query}");
    }
    let ok = get(&app, "/api/v1/products?limit=100").await;
    assert_eq!(ok.status, StatusCode::OK);
}

#[tokio::test]
async fn json_bodies_are_checked_for_syntax_type_size_and_shape() {
    let (app, db) = spawn_app().await;
    let client = db.connect().await;
    let slugs = seed_products(&client, "look", 3).await;
    let uri = "/api/v1/products/lookup";

    let body = serde_json::json!({"slugs": [slugs[2], "missing", slugs[0]]}).to_string();
    let ok = send(&app, post_json(uri, "application/json", body)).await;
    assert_eq!(ok.status, StatusCode::OK);
    let found: Vec<String> = ok
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap().into())
        .collect();
    assert_eq!(found, vec![slugs[2].clone(), slugs[0].clone()]);

    let malformed = send(&app, post_json(uri, "application/json", "{\"slugs\": [")).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.problem_code(), "malformed_json");

    let wrong_type = send(&app, post_json(uri, "text/plain", "{\"slugs\": []}")).await;
    assert_eq!(wrong_type.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(wrong_type.problem_code(), "unsupported_media_type");

    let huge = serde_json::json!({"slugs": vec!["x".repeat(100); 100]}).to_string();
    assert!(huge.len() > 4096);
    let too_large = send(&app, post_json(uri, "application/json", huge)).await;
    assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(too_large.problem_code(), "payload_too_large");

    let wrong_shape = send(&app, post_json(uri, "application/json", "{\"slugs\": \"one\"}")).await;
    assert_eq!(wrong_shape.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wrong_shape.problem_code(), "invalid_body");

    let too_many = serde_json::json!({"slugs": vec!["a"; 101]}).to_string();
    let reply = send(&app, post_json(uri, "application/json", too_many)).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.problem_code(), "too_many_slugs");
}

#[tokio::test]
async fn an_unreachable_database_is_a_503_and_readyz_says_so() {
    // Nothing listens on port 9 of the loopback: connections are refused.
    let config = config("postgres://maef:maef@127.0.0.1:9/maef", &[]);
    let app = app_for(&config);
    let reply = get(&app, "/api/v1/products").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.problem_code(), "database_unavailable");
    assert!(
        !String::from_utf8_lossy(&reply.body).contains("refused"),
        "internal error text leaked"
    );
    assert_eq!(get(&app, "/readyz").await.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(get(&app, "/healthz").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_pool_timeout_is_a_504() {
    let db = TestDb::new().await;
    let config = config(&db.url, &[("DB_POOL_SIZE", "1"), ("DB_POOL_TIMEOUT_MS", "200")]);
    let pool = maef_api::db::pool(&config).unwrap();
    let app = maef_api::app(AppState::new(pool.clone(), &config).unwrap(), &config);
    let held = pool.get().await.unwrap(); // the only connection is busy
    let reply = get(&app, "/api/v1/products").await;
    assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(reply.problem_code(), "database_pool_timeout");
    drop(held);
    assert_eq!(get(&app, "/api/v1/products").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_failed_call_leaves_its_connection_clean_for_the_next_request() {
    let db = TestDb::new().await;
    let config = config(&db.url, &[("DB_POOL_SIZE", "1")]);
    let app = app_for(&config);
    let client = db.connect().await;
    let slug = seed_products(&client, "clean", 1).await.remove(0);
    for _ in 0..3 {
        assert_eq!(
            get(&app, "/api/v1/products/missing").await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get(&app, &format!("/api/v1/products/{slug}")).await.status,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn readyz_is_503_while_migrations_are_pending() {
    let (app, db) = spawn_app().await;
    assert_eq!(get(&app, "/readyz").await.status, StatusCode::OK);
    let client = db.connect().await;
    client
        .execute("delete from public.refinery_schema_history", &[])
        .await
        .unwrap();
    let reply = get(&app, "/readyz").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.problem_code(), "migrations_pending");
}

#[tokio::test]
async fn responses_carry_a_request_id_and_keep_the_callers_one() {
    let (app, _db) = spawn_app().await;
    let reply = get(&app, "/healthz").await;
    let generated = reply
        .headers
        .get("x-request-id")
        .expect("request id set")
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(generated.len(), 36, "a UUID: {generated}");
    let mine = send(
        &app,
        Request::get("/healthz")
            .header("x-request-id", "abc-123")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(mine.headers["x-request-id"], "abc-123");
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let db = TestDb::new().await;
    let app = app_for(&config(&db.url, &[("CORS_ORIGINS", "https://shop.example")]));
    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/api/v1/products")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .body(Body::empty())
            .unwrap()
    };
    let allowed = send(&app, preflight("https://shop.example")).await;
    assert_eq!(
        allowed.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://shop.example"
    );
    let refused = send(&app, preflight("https://evil.example")).await;
    assert!(refused.headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
}

#[tokio::test]
async fn the_openapi_document_is_3_1_and_lists_every_route_and_the_docs_page_renders_it() {
    let (app, _db) = spawn_app().await;
    let doc = get(&app, "/api/v1/openapi.json").await.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/api/v1/products",
        "/api/v1/products/{slug}",
        "/api/v1/categories",
        "/api/v1/products/lookup",
        "/readyz",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing from OpenAPI");
    }
    assert!(doc["paths"]["/api/v1/products"]["get"]["responses"]
        .get("422")
        .is_some());
    let page = get(&app, "/docs").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.content_type.starts_with("text/html"));
    let html = String::from_utf8(page.body).unwrap();
    assert!(html.contains("/api/v1/products/{slug}") && html.contains("GET"));
    assert!(
        !html.contains("<script"),
        "the docs page must not load remote code"
    );
}

#[tokio::test]
async fn a_slow_statement_is_cut_by_statement_timeout_as_a_504() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    // Replace the category tree function in this test's own database by a slow one.
    client
        .batch_execute(
            "create or replace function api.list_categories() returns jsonb language sql security definer
             set search_path = '' as $$ select to_jsonb(pg_sleep(2)::text) $$;
             grant execute on function api.list_categories() to maef_anon;",
        )
        .await
        .unwrap();
    let app = app_for(&config(&db.url, &[("DB_STATEMENT_TIMEOUT_MS", "200")]));
    let started = std::time::Instant::now();
    let reply = get(&app, "/api/v1/categories").await;
    assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(reply.problem_code(), "statement_timeout");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_request_past_the_timeout_is_a_408_problem() {
    let db = TestDb::new().await;
    db.connect()
        .await
        .batch_execute(
            "create or replace function api.list_categories() returns jsonb language sql security definer
             set search_path = '' as $$ select to_jsonb(pg_sleep(1)::text) $$;",
        )
        .await
        .unwrap();
    let app = app_for(&config(&db.url, &[("REQUEST_TIMEOUT_MS", "100")]));
    let reply = get(&app, "/api/v1/categories").await;
    assert_eq!(reply.status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(reply.problem_code(), "request_timeout");
}
