//! maef-api behind PgBouncer 1.18 in transaction mode (started by each test): requests
//! work with `DB_PREPARED_STATEMENTS=off` under real concurrency, money and stock stay
//! exact, no session state (role, claims, timeouts) survives a request on a server
//! connection, and the default (prepared statements, start-up options) is refused
//! loudly rather than half-working.
//!
//! Any HTTP suite runs through a pooler too: `MAEF_TEST_PGBOUNCER=1
//! scripts/cargo-test.sh -p maef-tests --test http` (see `maef_tests::http::TestApp`).

use std::collections::HashMap;

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use futures::future::join_all;
use maef_tests::{
    http::{test_config, Reply, TestApp},
    pgbouncer::PgBouncer,
    seed_products,
    shop::{assert_consistent, cart_total, checkout_body, seed_variant, ship_to, signed_in, Who},
    TestDb,
};
use serde_json::json;

/// A router on a fresh database reached through its own PgBouncer (`servers` server
/// connections), with `extra` settings.
async fn behind_pgbouncer(servers: u32, extra: &[(&str, &str)]) -> (TestApp, PgBouncer) {
    let db = TestDb::new().await;
    let pooler = PgBouncer::start(servers).await;
    let url = pooler.url_for(&db.url);
    let mut vars = vec![
        ("DATABASE_URL", url.as_str()),
        ("DB_PREPARED_STATEMENTS", "off"),
        ("DB_POOL_SIZE", "8"),
        ("DB_POOL_TIMEOUT_MS", "60000"),
        ("REQUEST_TIMEOUT_MS", "60000"),
    ];
    vars.extend_from_slice(extra);
    let router = maef_tests::http::router_for(&test_config(&db.url, &vars));
    (
        TestApp {
            router,
            db,
            pooler: None,
            replica: None,
        },
        pooler,
    )
}

async fn checkout(app: &TestApp, session: &str, key: &str, body: &serde_json::Value) -> Reply {
    app.send(
        Request::builder()
            .method(Method::POST)
            .uri("/api/v1/checkout")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-cart-session", session)
            .header("idempotency-key", key)
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn sixty_checkouts_through_two_server_connections_sell_exactly_the_stock() {
    // Eight client connections share two server connections: every request's
    // statements land on whichever server connection its transaction gets.
    let (app, _pooler) = behind_pgbouncer(2, &[]).await;
    let client = app.db.connect().await;
    ship_to(&client, "SN", "XOF", 2000).await;
    let variant = seed_variant(&client, "POOLED", 15000, 2299, Some(5)).await;
    let sessions: Vec<String> = (1..=60).map(|i| format!("p{i}")).collect();
    client
        .execute(
            "with c as (insert into shop.cart (currency_code, session_hash, shipping_country)
                        select 'XOF', encode(sha256(convert_to(s, 'UTF8')), 'hex'), 'SN' from unnest($1::text[]) s
                        returning cart_id)
             insert into shop.cart_item (cart_id, variant_id, quantity) select cart_id, $2, 1 from c",
            &[&sessions, &variant],
        )
        .await
        .unwrap();
    let who = Who {
        session: Some(sessions[0].clone()),
        ..Who::guest()
    };
    let body = checkout_body(cart_total(&client, &who).await);
    let replies = join_all(sessions.iter().map(|s| checkout(&app, s, s, &body))).await;
    let mut tally: HashMap<(u16, String), usize> = HashMap::new();
    for r in &replies {
        let code = if r.status == StatusCode::CREATED {
            "created".into()
        } else {
            r.problem_code()
        };
        *tally.entry((r.status.as_u16(), code)).or_default() += 1;
    }
    assert_eq!(
        tally,
        HashMap::from([
            ((201, "created".into()), 5),
            ((409, "insufficient_stock".into()), 55)
        ])
    );
    assert_consistent(&client).await;
}

#[tokio::test]
async fn a_signed_in_customer_browses_fills_a_cart_and_reads_it_back_through_the_pooler() {
    let (app, _pooler) = behind_pgbouncer(1, &[]).await;
    let client = app.db.connect().await;
    let slugs = seed_products(&client, "bounce", 3).await;
    let token = signed_in(&app, "pooled@example.com", None).await;
    let me = app
        .call(Method::GET, "/api/v1/users/me", Some(&token), None)
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text());
    assert_eq!(me.json()["email"], "pooled@example.com");
    for slug in &slugs {
        let page = app
            .call(Method::GET, &format!("/api/v1/products/{slug}"), None, None)
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    }
    let variant: i64 = client
        .query_one(
            "select v.variant_id from shop.product_variant v join shop.product p using (product_id) where p.slug = $1",
            &[&slugs[0]],
        )
        .await
        .unwrap()
        .get(0);
    let opened = app
        .call(
            Method::POST,
            "/api/v1/cart",
            Some(&token),
            Some(json!({"currency": "EUR"})),
        )
        .await;
    assert_eq!(opened.status, StatusCode::OK, "{}", opened.text());
    let added = app
        .call(
            Method::POST,
            "/api/v1/cart/items",
            Some(&token),
            Some(json!({"variant_id": variant, "quantity": 2})),
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text());
    let cart = app.call(Method::GET, "/api/v1/cart", Some(&token), None).await;
    assert_eq!(cart.json()["subtotal"], 4598);
    // A domain error still maps to its status through the pooler.
    let missing = app.call(Method::GET, "/api/v1/products/nope", None, None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.problem_code(), "product_not_found");
}

#[tokio::test]
async fn no_role_claims_or_timeout_outlive_a_request_on_the_server_connection() {
    // One server connection: the session read below is the one every request used.
    let (app, pooler) = behind_pgbouncer(1, &[("DB_STATEMENT_TIMEOUT_MS", "4321")]).await;
    let token = signed_in(&app, "leak@example.com", Some("admin")).await;
    let me = app
        .call(Method::GET, "/api/v1/users/me", Some(&token), None)
        .await;
    assert_eq!(me.status, StatusCode::OK);
    let (session, connection) = tokio_postgres::connect(&pooler.url_for(&app.db.url), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    // The simple protocol: nothing prepared by this check either.
    let rows = session
        .simple_query(
            "select current_user, current_setting('role'), coalesce(current_setting('request.jwt.claims', true), ''),
                    current_setting('statement_timeout'), (select count(*) from pg_prepared_statements)",
        )
        .await
        .unwrap();
    let row = rows
        .iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(r),
            _ => None,
        })
        .unwrap();
    let values: Vec<&str> = (0..5).map(|i| row.get(i).unwrap()).collect();
    let login = maef_tests::admin_url();
    let login_user = login.split("://").nth(1).unwrap().split(':').next().unwrap();
    assert_eq!(
        values,
        vec![login_user, "none", "", "0", "0"],
        "role, claims and statement_timeout were transaction-local; no named statement was left"
    );
}

#[tokio::test]
async fn prepared_statements_left_on_behind_pgbouncer_fail_loudly_not_silently() {
    // PgBouncer 1.18 refuses the start-up `options` the prepared mode sends, so a
    // misconfigured instance answers 503 at once instead of mixing up statements later.
    let (app, _pooler) = behind_pgbouncer(1, &[("DB_PREPARED_STATEMENTS", "on")]).await;
    let reply = app
        .call(Method::GET, "/api/v1/products/anything", None, None)
        .await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.problem_code(), "database_unavailable");
}
