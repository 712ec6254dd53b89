//! Pricing administration over HTTP: coupon changes (promotions:write), tax rates,
//! shipping rates, store price settings, volume tiers and customer-group price lists
//! (pricing:write). Each change is audited and shows in the next quote.

use axum::http::{Method, StatusCode};
use maef_tests::{http::Reply, http::TestApp, seed_products};
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery staple";

/// A signed-in user holding `role` (or a plain customer); returns the access token.
async fn user(app: &TestApp, email: &str, role: Option<&str>) -> String {
    app.token_with_role(email, PASSWORD, role).await
}

async fn manager(app: &TestApp) -> String {
    user(app, "manager@example.com", Some("manager")).await
}

/// Asserts a status and returns the problem code (or "" for a success).
fn expect(reply: &Reply, status: StatusCode) -> String {
    assert_eq!(reply.status, status, "{}", reply.text());
    if status.is_success() {
        String::new()
    } else {
        reply.problem_code()
    }
}

/// A guest EUR cart holding one unit of a 22.99 EUR product (the seed's price);
/// returns the session and the variant id.
async fn guest_cart(app: &TestApp) -> (String, i64) {
    let client = app.db.connect().await;
    seed_products(&client, "adm", 1).await;
    let variant: i64 = client
        .query_one("select min(variant_id) from shop.product_variant", &[])
        .await
        .unwrap()
        .get(0);
    let opened = app
        .call(
            Method::POST,
            "/api/v1/cart",
            None,
            Some(json!({"currency": "EUR"})),
        )
        .await;
    let session = opened.json()["session"].as_str().unwrap().to_string();
    let added = cart_call(
        app,
        Method::POST,
        "/api/v1/cart/items",
        &session,
        json!({"variant_id": variant, "quantity": 1}),
    )
    .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text());
    (session, variant)
}

async fn cart_call(app: &TestApp, method: Method, path: &str, session: &str, body: Value) -> Reply {
    let request = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("x-cart-session", session)
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    app.send(request).await
}

async fn quote(app: &TestApp, session: &str) -> Value {
    let request = axum::http::Request::builder()
        .uri("/api/v1/cart")
        .header("x-cart-session", session)
        .body(axum::body::Body::empty())
        .unwrap();
    app.send(request).await.json()
}

async fn audit_actions(app: &TestApp, entity: &str) -> Vec<String> {
    app.db
        .connect()
        .await
        .query(
            "select action from shop.audit_log where entity = $1 order by audit_log_id",
            &[&entity],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn a_coupon_can_be_changed_by_a_manager_and_the_change_is_validated_and_audited() {
    let app = TestApp::new().await;
    let manager = manager(&app).await;
    let promotion = app
        .call(
            Method::POST,
            "/api/v1/admin/promotions",
            Some(&manager),
            Some(json!({
            "name": "Ten", "rules": {"conditions": {"coupon_required": true},
                                    "action": {"type": "percent_off_items", "percent": 10}}})),
        )
        .await
        .json()["promotion_id"]
        .as_i64()
        .unwrap();
    // A window PostgreSQL would write back as "0000-12-31T22:00:01+00:00 BC" (the
    // instant is in 1 BC in UTC) is refused, in a new promotion and in a change.
    for (method, path, body, field) in [
        (
            Method::POST,
            "/api/v1/admin/promotions".to_string(),
            json!({"name": "Old", "ends_at": "0001-01-01T00:00:01+02:00",
                   "rules": {"action": {"type": "percent_off_items", "percent": 10}}}),
            "$.ends_at",
        ),
        (
            Method::PATCH,
            format!("/api/v1/admin/promotions/{promotion}"),
            json!({"starts_at": "0001-01-01T00:00:00+00:01"}),
            "$.starts_at",
        ),
    ] {
        let r = app.call(method, &path, Some(&manager), Some(body)).await;
        assert_eq!(expect(&r, StatusCode::UNPROCESSABLE_ENTITY), "invalid_field");
        assert_eq!(r.json()["details"], field);
    }
    assert_eq!(
        app.call(Method::GET, "/api/v1/admin/promotions", Some(&manager), None)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1,
        "nothing written"
    );
    let coupons = format!("/api/v1/admin/promotions/{promotion}/coupons");
    let first = app
        .call(
            Method::POST,
            &coupons,
            Some(&manager),
            Some(json!({"code": "SPRING", "usage_limit": 5})),
        )
        .await;
    expect(&first, StatusCode::CREATED);
    let id = first.json()["coupon_id"].as_i64().unwrap();
    let other = app
        .call(
            Method::POST,
            &coupons,
            Some(&manager),
            Some(json!({"code": "SUMMER"})),
        )
        .await;
    expect(&other, StatusCode::CREATED);
    let path = format!("/api/v1/admin/coupons/{id}");

    let changed = app
        .call(
            Method::PATCH,
            &path,
            Some(&manager),
            Some(json!({
            "code": " Spring24 ", "usage_limit": null, "per_customer_limit": 1,
            "ends_at": "2099-01-01T00:00:00Z", "is_active": false})),
        )
        .await;
    expect(&changed, StatusCode::OK);
    let c = changed.json();
    assert_eq!(c["code"], "Spring24");
    assert_eq!(c["usage_limit"], Value::Null);
    assert_eq!(c["per_customer_limit"], 1);
    assert_eq!(c["is_active"], false);
    assert_eq!(c["promotion_id"], promotion);

    for (patch, field) in [
        (json!({"usage_limit": 0}), "$.usage_limit"),
        (json!({"usage_limit": "ten"}), "$.usage_limit"),
        (json!({"code": ""}), "$.code"),
        (json!({"ends_at": "next tuesday"}), "$.ends_at"),
        // 1 BC in UTC, and the year 10000: instants RFC 3339 cannot write back.
        (json!({"ends_at": "0001-01-01T00:00:01+02:00"}), "$.ends_at"),
        (json!({"ends_at": "9999-12-31T23:00:00-14:00"}), "$.ends_at"),
        (json!({"starts_at": "2100-01-01T00:00:00Z"}), "$.ends_at"),
        (json!({"is_active": null}), "$.is_active"),
        (json!({"times_used": 0}), "$.times_used"),
    ] {
        let r = app
            .call(Method::PATCH, &path, Some(&manager), Some(patch.clone()))
            .await;
        assert_eq!(
            expect(&r, StatusCode::UNPROCESSABLE_ENTITY),
            "invalid_field",
            "{patch}"
        );
        assert_eq!(r.json()["details"], field, "{patch}");
    }
    let taken = app
        .call(
            Method::PATCH,
            &path,
            Some(&manager),
            Some(json!({"code": "summer"})),
        )
        .await;
    expect(&taken, StatusCode::CONFLICT);
    let missing = app
        .call(
            Method::PATCH,
            "/api/v1/admin/coupons/999999",
            Some(&manager),
            Some(json!({"is_active": true})),
        )
        .await;
    assert_eq!(expect(&missing, StatusCode::NOT_FOUND), "coupon_not_found");

    let customer = user(&app, "shopper@example.com", None).await;
    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(&customer),
            Some(json!({"is_active": true})),
        )
        .await;
    expect(&r, StatusCode::FORBIDDEN);
    let r = app
        .call(Method::PATCH, &path, None, Some(json!({"is_active": true})))
        .await;
    expect(&r, StatusCode::UNAUTHORIZED);

    assert_eq!(
        audit_actions(&app, "coupon").await,
        ["coupon.create", "coupon.create", "coupon.update"]
    );
}

#[tokio::test]
async fn a_coupon_limit_cannot_go_below_the_uses_already_made() {
    let app = TestApp::new().await;
    let manager = manager(&app).await;
    let promotion = app
        .call(
            Method::POST,
            "/api/v1/admin/promotions",
            Some(&manager),
            Some(json!({
            "name": "Ship", "rules": {"action": {"type": "free_shipping"}}})),
        )
        .await
        .json()["promotion_id"]
        .as_i64()
        .unwrap();
    let coupon = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/promotions/{promotion}/coupons"),
            Some(&manager),
            Some(json!({"code": "TWICE", "usage_limit": 5})),
        )
        .await
        .json()["coupon_id"]
        .as_i64()
        .unwrap();
    let client = app.db.connect().await;
    client
        .batch_execute("select api.redeem_coupon('twice'); select api.redeem_coupon('TWICE');")
        .await
        .unwrap();
    let path = format!("/api/v1/admin/coupons/{coupon}");
    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(&manager),
            Some(json!({"usage_limit": 1})),
        )
        .await;
    assert_eq!(expect(&r, StatusCode::UNPROCESSABLE_ENTITY), "invalid_field");
    assert!(
        r.json()["message"].as_str().unwrap().contains("2 uses"),
        "{}",
        r.text()
    );
    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(&manager),
            Some(json!({"usage_limit": 2})),
        )
        .await;
    expect(&r, StatusCode::OK);
    assert_eq!(r.json()["times_used"], 2);
}

#[tokio::test]
async fn pricing_settings_need_the_pricing_permission() {
    let app = TestApp::new().await;
    let customer = user(&app, "shopper@example.com", None).await;
    for (method, path) in [
        (Method::GET, "/api/v1/admin/tax-rates"),
        (Method::POST, "/api/v1/admin/tax-rates"),
        (Method::PATCH, "/api/v1/admin/tax-rates/1"),
        (Method::DELETE, "/api/v1/admin/shipping-rates/1"),
        (Method::GET, "/api/v1/admin/store-settings"),
        (Method::PUT, "/api/v1/admin/store-settings/EUR"),
        (Method::POST, "/api/v1/admin/variants/1/price-tiers"),
        (Method::PATCH, "/api/v1/admin/price-tiers/1"),
        (Method::GET, "/api/v1/admin/customer-groups"),
        (
            Method::PUT,
            "/api/v1/admin/customer-groups/1/members/00000000-0000-0000-0000-000000000000",
        ),
    ] {
        let body = (method != Method::GET && method != Method::DELETE).then(|| json!({}));
        let anonymous = app.call(method.clone(), path, None, body.clone()).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        let r = app.call(method.clone(), path, Some(&customer), body).await;
        assert_eq!(
            expect(&r, StatusCode::FORBIDDEN),
            "permission_required",
            "{method} {path}"
        );
    }
    // The SQL functions check again: a direct call without the scope is refused.
    let err = app
        .db
        .connect()
        .await
        .query_one("select api.admin_list_tax_rates()", &[])
        .await
        .unwrap_err();
    assert_eq!(err.as_db_error().unwrap().code().code(), "MA401");
}

#[tokio::test]
async fn tax_rates_and_the_tax_inclusive_setting_change_the_next_quote() {
    let app = TestApp::new().await;
    let manager = manager(&app).await;
    let (session, _) = guest_cart(&app).await;
    assert_eq!(quote(&app, &session).await["tax_total"], 0);

    let created = app
        .call(
            Method::POST,
            "/api/v1/admin/tax-rates",
            Some(&manager),
            Some(json!({"country": "FR", "rate_bp": 2000, "name": "TVA"})),
        )
        .await;
    expect(&created, StatusCode::CREATED);
    let id = created.json()["tax_rate_id"].as_i64().unwrap();
    // EUR prices include tax (the seeded setting): 22.99 × 20/120 = 3.8317 → 3.83
    let q = quote(&app, &session).await;
    assert_eq!(
        (q["tax_total"].clone(), q["grand_total"].clone()),
        (json!(383), json!(2299))
    );

    let setting = app
        .call(
            Method::PUT,
            "/api/v1/admin/store-settings/eur",
            Some(&manager),
            Some(json!({"prices_include_tax": false})),
        )
        .await;
    expect(&setting, StatusCode::OK);
    assert_eq!(
        setting.json(),
        json!({"currency_code": "EUR", "prices_include_tax": false, "default_country": "FR"})
    );
    // Now added on top: 22.99 × 20 % = 4.598 → 4.60
    let q = quote(&app, &session).await;
    assert_eq!(
        (q["tax_total"].clone(), q["grand_total"].clone()),
        (json!(460), json!(2759))
    );

    let changed = app
        .call(
            Method::PATCH,
            &format!("/api/v1/admin/tax-rates/{id}"),
            Some(&manager),
            Some(json!({"rate_bp": 550})),
        )
        .await;
    expect(&changed, StatusCode::OK);
    // 22.99 × 5.5 % = 1.26445 → 1.26
    assert_eq!(quote(&app, &session).await["tax_total"], 126);

    let duplicate = app
        .call(
            Method::POST,
            "/api/v1/admin/tax-rates",
            Some(&manager),
            Some(json!({"country": "FR", "rate_bp": 1000})),
        )
        .await;
    expect(&duplicate, StatusCode::CONFLICT);
    let listed = app
        .call(Method::GET, "/api/v1/admin/tax-rates", Some(&manager), None)
        .await;
    assert_eq!(listed.json().as_array().unwrap().len(), 1);
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/api/v1/admin/tax-rates/{id}"),
            Some(&manager),
            None,
        )
        .await;
    expect(&deleted, StatusCode::OK);
    assert_eq!(quote(&app, &session).await["tax_total"], 0);
    let again = app
        .call(
            Method::DELETE,
            &format!("/api/v1/admin/tax-rates/{id}"),
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(expect(&again, StatusCode::NOT_FOUND), "tax_rate_not_found");

    assert_eq!(
        audit_actions(&app, "tax_rate").await,
        ["tax_rate.create", "tax_rate.update", "tax_rate.delete"]
    );
    assert_eq!(audit_actions(&app, "store_setting").await, ["store_setting.set"]);
}

#[tokio::test]
async fn bad_pricing_settings_are_422s_naming_the_field() {
    let app = TestApp::new().await;
    let manager = manager(&app).await;
    let cases = [
        (
            "/api/v1/admin/tax-rates",
            json!({"country": "France", "rate_bp": 2000}),
            "$.country",
        ),
        (
            "/api/v1/admin/tax-rates",
            json!({"country": "FR", "rate_bp": 10001}),
            "$.rate_bp",
        ),
        ("/api/v1/admin/tax-rates", json!({"country": "FR"}), "$.rate_bp"),
        (
            "/api/v1/admin/tax-rates",
            json!({"country": "FR", "rate_bp": 1, "category_id": 999999}),
            "$.category_id",
        ),
        (
            "/api/v1/admin/tax-rates",
            json!({"country": "FR", "rate_bp": 1, "colour": "red"}),
            "$.colour",
        ),
        (
            "/api/v1/admin/shipping-rates",
            json!({"country": "FR", "currency": "ZZZ", "amount": 1}),
            "$.currency",
        ),
        (
            "/api/v1/admin/shipping-rates",
            json!({"country": "FR", "currency": "EUR", "amount": -1}),
            "$.amount",
        ),
        (
            "/api/v1/admin/shipping-rates",
            json!({"country": "FR", "currency": "EUR", "amount": 1.5}),
            "$.amount",
        ),
        (
            "/api/v1/admin/customer-groups",
            json!({"code": "Big Buyers", "name": "Big"}),
            "$.code",
        ),
        ("/api/v1/admin/customer-groups", json!({"code": "big"}), "$.name"),
    ];
    for (path, body, field) in cases {
        let r = app
            .call(Method::POST, path, Some(&manager), Some(body.clone()))
            .await;
        assert_eq!(
            expect(&r, StatusCode::UNPROCESSABLE_ENTITY),
            "invalid_field",
            "{body}"
        );
        assert_eq!(r.json()["details"], field, "{body}");
    }
    let r = app
        .call(
            Method::PUT,
            "/api/v1/admin/store-settings/EUR",
            Some(&manager),
            Some(json!({"prices_include_tax": "yes"})),
        )
        .await;
    assert_eq!(r.json()["details"], "$.prices_include_tax", "{}", r.text());
    // A currency without settings needs its default country.
    let r = app
        .call(
            Method::PUT,
            "/api/v1/admin/store-settings/USD",
            Some(&manager),
            Some(json!({})),
        )
        .await;
    expect(&r, StatusCode::OK);
    let client = app.db.connect().await;
    client
        .execute("delete from shop.store_setting where currency_code = 'USD'", &[])
        .await
        .unwrap();
    let r = app
        .call(
            Method::PUT,
            "/api/v1/admin/store-settings/USD",
            Some(&manager),
            Some(json!({"prices_include_tax": false})),
        )
        .await;
    assert_eq!(r.json()["details"], "$.default_country", "{}", r.text());
    let r = app
        .call(
            Method::PUT,
            "/api/v1/admin/store-settings/EURO",
            Some(&manager),
            Some(json!({})),
        )
        .await;
    assert_eq!(expect(&r, StatusCode::NOT_FOUND), "currency_not_found");
    for path in [
        "/api/v1/admin/shipping-rates/999999",
        "/api/v1/admin/price-tiers/999999",
        "/api/v1/admin/customer-groups/999999",
    ] {
        let r = app
            .call(Method::PATCH, path, Some(&manager), Some(json!({})))
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn a_shipping_rate_is_charged_until_the_free_threshold() {
    let app = TestApp::new().await;
    let manager = manager(&app).await;
    let (session, _) = guest_cart(&app).await;
    let created = app
        .call(
            Method::POST,
            "/api/v1/admin/shipping-rates",
            Some(&manager),
            Some(json!({"country": "FR", "currency": "EUR", "amount": 499, "free_over": 5000})),
        )
        .await;
    expect(&created, StatusCode::CREATED);
    let id = created.json()["shipping_rate_id"].as_i64().unwrap();
    assert_eq!(quote(&app, &session).await["shipping_total"], 499);
    let lowered = app
        .call(
            Method::PATCH,
            &format!("/api/v1/admin/shipping-rates/{id}"),
            Some(&manager),
            Some(json!({"free_over": 2000})),
        )
        .await;
    expect(&lowered, StatusCode::OK);
    assert_eq!(quote(&app, &session).await["shipping_total"], 0);
    let duplicate = app
        .call(
            Method::POST,
            "/api/v1/admin/shipping-rates",
            Some(&manager),
            Some(json!({"country": "FR", "currency": "EUR", "amount": 1})),
        )
        .await;
    expect(&duplicate, StatusCode::CONFLICT);
    let listed = app
        .call(Method::GET, "/api/v1/admin/shipping-rates", Some(&manager), None)
        .await;
    assert_eq!(listed.json()[0]["free_over"], 2000);
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/api/v1/admin/shipping-rates/{id}"),
            Some(&manager),
            None,
        )
        .await;
    expect(&deleted, StatusCode::OK);
    assert_eq!(
        audit_actions(&app, "shipping_rate").await,
        [
            "shipping_rate.create",
            "shipping_rate.update",
            "shipping_rate.delete"
        ]
    );
}

#[tokio::test]
async fn volume_tiers_and_a_group_price_list_lower_the_unit_price_for_whom_they_apply() {
    let app = TestApp::new().await;
    let manager = manager(&app).await;
    let (session, variant) = guest_cart(&app).await;
    let tiers = format!("/api/v1/admin/variants/{variant}/price-tiers");

    let volume = app
        .call(
            Method::POST,
            &tiers,
            Some(&manager),
            Some(json!({"currency": "EUR", "min_quantity": 3, "amount": 1999})),
        )
        .await;
    expect(&volume, StatusCode::CREATED);
    assert_eq!(volume.json()["customer_group"], Value::Null);
    let tier_id = volume.json()["price_tier_id"].as_i64().unwrap();
    let item = quote(&app, &session).await["lines"][0]["line_id"]
        .as_i64()
        .unwrap();
    let three = cart_call(
        &app,
        Method::PATCH,
        &format!("/api/v1/cart/items/{item}"),
        &session,
        json!({"quantity": 3}),
    )
    .await;
    assert_eq!(three.json()["lines"][0]["unit_price"], 1999, "{}", three.text());
    let changed = app
        .call(
            Method::PATCH,
            &format!("/api/v1/admin/price-tiers/{tier_id}"),
            Some(&manager),
            Some(json!({"min_quantity": 4})),
        )
        .await;
    expect(&changed, StatusCode::OK);
    assert_eq!(quote(&app, &session).await["lines"][0]["unit_price"], 2299);

    // A group price list: members pay 18.00 from one unit.
    let group = app
        .call(
            Method::POST,
            "/api/v1/admin/customer-groups",
            Some(&manager),
            Some(json!({"code": "trade", "name": "Trade"})),
        )
        .await;
    expect(&group, StatusCode::CREATED);
    let group_id = group.json()["customer_group_id"].as_i64().unwrap();
    let unknown = app
        .call(
            Method::POST,
            &tiers,
            Some(&manager),
            Some(json!({"currency": "EUR", "amount": 1800, "customer_group": "vip"})),
        )
        .await;
    assert_eq!(
        unknown.json()["details"],
        "$.customer_group",
        "{}",
        unknown.text()
    );
    let listed = app
        .call(
            Method::POST,
            &tiers,
            Some(&manager),
            Some(json!({"currency": "EUR", "amount": 1800, "customer_group": "trade"})),
        )
        .await;
    expect(&listed, StatusCode::CREATED);
    assert_eq!(listed.json()["customer_group"], "trade");
    let duplicate = app
        .call(
            Method::POST,
            &tiers,
            Some(&manager),
            Some(json!({"currency": "EUR", "amount": 1700, "customer_group": "trade"})),
        )
        .await;
    expect(&duplicate, StatusCode::CONFLICT);
    // The guest is not a member.
    assert_eq!(quote(&app, &session).await["lines"][0]["unit_price"], 2299);

    let buyer = user(&app, "buyer@example.com", None).await;
    let buyer_id: uuid::Uuid = app
        .db
        .connect()
        .await
        .query_one(
            "select user_id from shop.app_user where email = 'buyer@example.com'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let members = format!("/api/v1/admin/customer-groups/{group_id}/members/{buyer_id}");
    let joined = app.call(Method::PUT, &members, Some(&manager), None).await;
    expect(&joined, StatusCode::OK);
    assert_eq!(joined.json()["member_count"], 1);
    let twice = app.call(Method::PUT, &members, Some(&manager), None).await;
    assert_eq!(twice.json()["member_count"], 1);
    app.call(
        Method::POST,
        "/api/v1/cart",
        Some(&buyer),
        Some(json!({"currency": "EUR"})),
    )
    .await;
    let mine = app
        .call(
            Method::POST,
            "/api/v1/cart/items",
            Some(&buyer),
            Some(json!({"variant_id": variant, "quantity": 1})),
        )
        .await;
    assert_eq!(mine.json()["lines"][0]["unit_price"], 1800, "{}", mine.text());

    let left = app.call(Method::DELETE, &members, Some(&manager), None).await;
    expect(&left, StatusCode::OK);
    let again = app.call(Method::DELETE, &members, Some(&manager), None).await;
    assert_eq!(
        expect(&again, StatusCode::NOT_FOUND),
        "customer_group_member_not_found"
    );
    let mine = app.call(Method::GET, "/api/v1/cart", Some(&buyer), None).await;
    assert_eq!(mine.json()["lines"][0]["unit_price"], 2299);

    let all = app.call(Method::GET, &tiers, Some(&manager), None).await;
    assert_eq!(all.json().as_array().unwrap().len(), 2);
    let renamed = app
        .call(
            Method::PATCH,
            &format!("/api/v1/admin/customer-groups/{group_id}"),
            Some(&manager),
            Some(json!({"name": "Trade buyers"})),
        )
        .await;
    assert_eq!(renamed.json()["name"], "Trade buyers");
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/api/v1/admin/customer-groups/{group_id}"),
            Some(&manager),
            None,
        )
        .await;
    expect(&deleted, StatusCode::OK);
    // Its price list went with it.
    assert_eq!(
        app.call(Method::GET, &tiers, Some(&manager), None)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let gone = app
        .call(
            Method::DELETE,
            &format!("/api/v1/admin/price-tiers/{tier_id}"),
            Some(&manager),
            None,
        )
        .await;
    expect(&gone, StatusCode::OK);
    let no_variant = app
        .call(
            Method::GET,
            "/api/v1/admin/variants/999999/price-tiers",
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(expect(&no_variant, StatusCode::NOT_FOUND), "variant_not_found");
    assert_eq!(
        audit_actions(&app, "customer_group").await,
        [
            "customer_group.create",
            "customer_group.add_member",
            "customer_group.remove_member",
            "customer_group.update",
            "customer_group.delete"
        ]
    );
}
