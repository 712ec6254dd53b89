//! The cart over HTTP: guest carts by session, items with quantity and stock rules,
//! coupons, the guest-to-user merge at login, and promotion administration.

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use maef_tests::{http::Reply, http::TestApp, seed_products};
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery staple";

/// A request with optional bearer token, guest session and JSON body.
async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    session: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(session) = session {
        builder = builder.header("x-cart-session", session);
    }
    let request = match body {
        Some(json) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json.to_string())),
        None => builder.body(Body::empty()),
    };
    app.send(request.unwrap()).await
}

/// Seeds products and returns their variant ids (EUR 22.99 each, stock 10).
async fn variants(app: &TestApp, n: i32) -> Vec<i64> {
    let client = app.db.connect().await;
    seed_products(&client, "cart", n).await;
    client
        .query(
            "select variant_id from shop.product_variant order by variant_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Opens a guest EUR cart and returns its session id.
async fn guest(app: &TestApp) -> String {
    let opened = call(
        app,
        Method::POST,
        "/api/v1/cart",
        None,
        None,
        Some(json!({"currency": "EUR"})),
    )
    .await;
    assert_eq!(opened.status, StatusCode::OK, "{}", opened.text());
    opened.json()["session"].as_str().unwrap().to_string()
}

/// A signed-in user holding `role` (or a plain customer); returns the access token.
async fn user(app: &TestApp, email: &str, role: Option<&str>) -> String {
    app.token_with_role(email, PASSWORD, role).await
}

#[tokio::test]
async fn a_guest_adds_changes_and_removes_items_and_sees_the_quote_each_time() {
    let app = TestApp::new().await;
    let v = variants(&app, 2).await;
    let s = guest(&app).await;
    let added = call(
        &app,
        Method::POST,
        "/api/v1/cart/items",
        None,
        Some(&s),
        Some(json!({"variant_id": v[0], "quantity": 2})),
    )
    .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text());
    let q = added.json();
    assert_eq!(q["currency"], "EUR");
    assert_eq!(q["lines"][0]["unit_price"], 2299);
    assert_eq!(q["subtotal"], 4598);
    let item = q["lines"][0]["line_id"].as_i64().unwrap();
    let changed = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/cart/items/{item}"),
        None,
        Some(&s),
        Some(json!({"quantity": 3})),
    )
    .await;
    assert_eq!(changed.json()["subtotal"], 6897);
    let shown = call(&app, Method::GET, "/api/v1/cart", None, Some(&s), None).await;
    assert_eq!(shown.json()["lines"][0]["quantity"], 3);
    let removed = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/cart/items/{item}"),
        None,
        Some(&s),
        None,
    )
    .await;
    assert_eq!(removed.json()["lines"], json!([]));
    assert_eq!(removed.json()["grand_total"], 0);
}

#[tokio::test]
async fn a_cart_is_invisible_without_its_session() {
    let app = TestApp::new().await;
    guest(&app).await;
    let other = call(
        &app,
        Method::GET,
        "/api/v1/cart",
        None,
        Some("not-the-session"),
        None,
    )
    .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert_eq!(other.problem_code(), "cart_not_found");
}

#[tokio::test]
async fn quantities_outside_one_to_999_or_above_the_stock_are_refused() {
    let app = TestApp::new().await;
    let v = variants(&app, 1).await;
    let s = guest(&app).await;
    for (quantity, code) in [
        (0, "cart_item_quantity_range"),
        (1000, "cart_item_quantity_range"),
        (11, "insufficient_stock"),
    ] {
        let r = call(
            &app,
            Method::POST,
            "/api/v1/cart/items",
            None,
            Some(&s),
            Some(json!({"variant_id": v[0], "quantity": quantity})),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{quantity}");
        assert_eq!(r.problem_code(), code, "{quantity}");
    }
    // Backorder lifts the stock limit, not the 999 limit.
    app.db
        .connect()
        .await
        .execute("update shop.inventory set allow_backorder = true", &[])
        .await
        .unwrap();
    let r = call(
        &app,
        Method::POST,
        "/api/v1/cart/items",
        None,
        Some(&s),
        Some(json!({"variant_id": v[0], "quantity": 11})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

#[tokio::test]
async fn a_coupon_code_is_case_insensitive_and_its_discount_names_the_promotion() {
    let app = TestApp::new().await;
    let v = variants(&app, 1).await;
    let manager = user(&app, "manager@example.com", Some("manager")).await;
    let created = call(&app, Method::POST, "/api/v1/admin/promotions", Some(&manager), None, Some(json!({
        "name": "Welcome 10", "stacking": "exclusive",
        "rules": {"conditions": {"coupon_required": true}, "action": {"type": "percent_off_items", "percent": 10}}}))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let promotion = created.json()["promotion_id"].as_i64().unwrap();
    let coupon = call(
        &app,
        Method::POST,
        &format!("/api/v1/admin/promotions/{promotion}/coupons"),
        Some(&manager),
        None,
        Some(json!({"code": "WELCOME10"})),
    )
    .await;
    assert_eq!(coupon.status, StatusCode::CREATED, "{}", coupon.text());

    let s = guest(&app).await;
    call(
        &app,
        Method::POST,
        "/api/v1/cart/items",
        None,
        Some(&s),
        Some(json!({"variant_id": v[0], "quantity": 2})),
    )
    .await;
    let applied = call(
        &app,
        Method::POST,
        "/api/v1/cart/coupon",
        None,
        Some(&s),
        Some(json!({"code": "welcome10"})),
    )
    .await;
    let q = applied.json();
    // 45.98 × 10 % = 4.598 → 4.60
    assert_eq!(q["discount_total"], 460, "{q}");
    assert_eq!(q["lines"][0]["discounts"][0]["name"], "Welcome 10");
    assert_eq!(q["coupon_code"], "WELCOME10");
    let unknown = call(
        &app,
        Method::POST,
        "/api/v1/cart/coupon",
        None,
        Some(&s),
        Some(json!({"code": "NOPE"})),
    )
    .await;
    // An unknown code is refused and nothing is kept: the cart still has its coupon.
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.problem_code(), "coupon_not_found");
    let kept = call(&app, Method::GET, "/api/v1/cart", None, Some(&s), None).await;
    assert_eq!(kept.json()["coupon_code"], "WELCOME10");
    assert_eq!(kept.json()["discount_total"], 460);
    let removed = call(&app, Method::DELETE, "/api/v1/cart/coupon", None, Some(&s), None).await;
    assert_eq!(removed.json()["discount_total"], 0);
}

#[tokio::test]
async fn an_invalid_promotion_rule_is_a_422_naming_the_path_and_customers_cannot_create_one() {
    let app = TestApp::new().await;
    let manager = user(&app, "manager@example.com", Some("manager")).await;
    let bad = json!({"name": "Bad", "rules": {"action": {"type": "buy_x_get_y", "buy": 2}}});
    let r = call(
        &app,
        Method::POST,
        "/api/v1/admin/promotions",
        Some(&manager),
        None,
        Some(bad.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.problem_code(), "promotion_rules_invalid");
    assert_eq!(r.json()["details"], "$.action.get");
    let customer = user(&app, "c@example.com", None).await;
    let r = call(
        &app,
        Method::POST,
        "/api/v1/admin/promotions",
        Some(&customer),
        None,
        Some(bad),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn promotion_changes_are_audited() {
    let app = TestApp::new().await;
    let manager = user(&app, "manager@example.com", Some("manager")).await;
    let created = call(
        &app,
        Method::POST,
        "/api/v1/admin/promotions",
        Some(&manager),
        None,
        Some(json!({
        "name": "Ship free", "rules": {"action": {"type": "free_shipping"}}})),
    )
    .await;
    let id = created.json()["promotion_id"].as_i64().unwrap();
    let r = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/admin/promotions/{id}"),
        Some(&manager),
        None,
        Some(json!({"priority": 5})),
    )
    .await;
    assert_eq!(r.json()["priority"], 5);
    let r = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/admin/promotions/{id}"),
        Some(&manager),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let actions: Vec<String> = app
        .db
        .connect()
        .await
        .query(
            "select action from shop.audit_log where entity = 'promotion' order by audit_log_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        actions,
        ["promotion.create", "promotion.update", "promotion.delete"]
    );
}

#[tokio::test]
async fn at_login_a_guest_cart_is_merged_into_the_users_cart_summing_quantities() {
    let app = TestApp::new().await;
    let v = variants(&app, 2).await;
    let token = user(&app, "shopper@example.com", None).await;
    // The user's own cart: one unit of A.
    call(
        &app,
        Method::POST,
        "/api/v1/cart",
        Some(&token),
        None,
        Some(json!({"currency": "EUR"})),
    )
    .await;
    call(
        &app,
        Method::POST,
        "/api/v1/cart/items",
        Some(&token),
        None,
        Some(json!({"variant_id": v[0], "quantity": 1})),
    )
    .await;
    // As a guest: two of A and one of B.
    let s = guest(&app).await;
    call(
        &app,
        Method::POST,
        "/api/v1/cart/items",
        None,
        Some(&s),
        Some(json!({"variant_id": v[0], "quantity": 2})),
    )
    .await;
    call(
        &app,
        Method::POST,
        "/api/v1/cart/items",
        None,
        Some(&s),
        Some(json!({"variant_id": v[1], "quantity": 1})),
    )
    .await;

    let merged = call(
        &app,
        Method::POST,
        "/api/v1/cart",
        Some(&token),
        Some(&s),
        Some(json!({"currency": "EUR"})),
    )
    .await;
    assert_eq!(merged.status, StatusCode::OK, "{}", merged.text());
    let lines: Vec<(i64, i64)> = merged.json()["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["variant_id"].as_i64().unwrap(), l["quantity"].as_i64().unwrap()))
        .collect();
    assert_eq!(lines, vec![(v[0], 3), (v[1], 1)]);
    // The guest cart is closed: its session no longer opens anything.
    let gone = call(&app, Method::GET, "/api/v1/cart", None, Some(&s), None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_guest_cart_becomes_the_users_cart_when_they_have_none() {
    let app = TestApp::new().await;
    let v = variants(&app, 1).await;
    let s = guest(&app).await;
    call(
        &app,
        Method::POST,
        "/api/v1/cart/items",
        None,
        Some(&s),
        Some(json!({"variant_id": v[0], "quantity": 2})),
    )
    .await;
    let token = user(&app, "new@example.com", None).await;
    let adopted = call(
        &app,
        Method::POST,
        "/api/v1/cart",
        Some(&token),
        Some(&s),
        Some(json!({"currency": "EUR"})),
    )
    .await;
    assert_eq!(adopted.json()["lines"][0]["quantity"], 2);
    let mine = call(&app, Method::GET, "/api/v1/cart", Some(&token), None, None).await;
    assert_eq!(mine.json()["subtotal"], 4598);
}

#[tokio::test]
async fn an_item_of_someone_elses_cart_cannot_be_changed() {
    let app = TestApp::new().await;
    let v = variants(&app, 1).await;
    let mine = guest(&app).await;
    let added = call(
        &app,
        Method::POST,
        "/api/v1/cart/items",
        None,
        Some(&mine),
        Some(json!({"variant_id": v[0], "quantity": 1})),
    )
    .await;
    let item = added.json()["lines"][0]["line_id"].as_i64().unwrap();
    let theirs = guest(&app).await;
    let r = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/cart/items/{item}"),
        None,
        Some(&theirs),
        Some(json!({"quantity": 2})),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.problem_code(), "cart_item_not_found");
}

#[tokio::test]
async fn an_expired_guest_cart_is_gone_and_a_new_one_opens() {
    let app = TestApp::new().await;
    let s = guest(&app).await;
    app.db
        .connect()
        .await
        .execute(
            "update shop.cart set expires_at = now() - interval '1 second'",
            &[],
        )
        .await
        .unwrap();
    let gone = call(&app, Method::GET, "/api/v1/cart", None, Some(&s), None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let reopened = call(
        &app,
        Method::POST,
        "/api/v1/cart",
        None,
        Some(&s),
        Some(json!({"currency": "EUR"})),
    )
    .await;
    assert_eq!(reopened.status, StatusCode::OK);
    assert!(
        reopened.json()["session"].is_string(),
        "a new guest cart and session"
    );
}

#[tokio::test]
async fn guessing_coupon_codes_is_throttled_after_thirty_attempts() {
    let app = TestApp::new().await;
    let s = guest(&app).await;
    for i in 0..30 {
        let r = call(
            &app,
            Method::POST,
            "/api/v1/cart/coupon",
            None,
            Some(&s),
            Some(json!({"code": format!("GUESS{i}")})),
        )
        .await;
        // Refused, yet counted.
        assert_eq!(r.status, StatusCode::NOT_FOUND, "attempt {i}");
        assert_eq!(r.problem_code(), "coupon_not_found");
    }
    let r = call(
        &app,
        Method::POST,
        "/api/v1/cart/coupon",
        None,
        Some(&s),
        Some(json!({"code": "GUESS30"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.problem_code(), "rate_limited");
    assert!(r.headers.get("retry-after").is_some());
}
