//! Checkout over HTTP and SQL: a cart becomes an order in one transaction (quote checked
//! against expected_total, lines copied, coupon redeemed, stock reserved, cart closed),
//! or nothing is written — for every bad input, and when the backend dies mid-checkout.

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use maef_tests::{
    http::{Reply, TestApp},
    shop::{
        as_role, assert_consistent, cart_total, checkout_body, fill_cart, idem, seed_variant, ship_to,
        signed_in, sql_error, user, Who,
    },
};
use serde_json::{json, Value};
use tokio_postgres::Client;

/// `POST /api/v1/checkout` with an optional guest session, bearer token and key.
async fn checkout(app: &TestApp, who: &Who, token: Option<&str>, key: Option<&str>, body: &Value) -> Reply {
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/checkout")
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(session) = &who.session {
        builder = builder.header("x-cart-session", session);
    }
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(key) = key {
        builder = builder.header("idempotency-key", key);
    }
    app.send(builder.body(Body::from(body.to_string())).unwrap())
        .await
}

/// A shop selling in XOF to Senegal (standard shipping 2,000 XOF), with one variant
/// holding `stock` units at 15,000 XOF.
async fn shop(client: &Client, stock: i32) -> i64 {
    ship_to(client, "SN", "XOF", 2000).await;
    seed_variant(client, "ROBE-M", 15000, 2299, Some(stock)).await
}

async fn count(client: &Client, sql: &str) -> i64 {
    maef_tests::count(client, sql).await
}

/// Nothing a refused checkout could have written exists.
async fn assert_nothing_written(client: &Client) {
    for table in [
        "shop.customer_order",
        "shop.order_item",
        "shop.stock_reservation",
        "shop.coupon_redemption",
        "shop.order_event",
        "shop.idempotency_key",
    ] {
        assert_eq!(
            count(client, &format!("select count(*) from {table}")).await,
            0,
            "{table}"
        );
    }
    assert_eq!(
        count(
            client,
            "select count(*) from shop.stock_movement where kind <> 'receipt'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            client,
            "select coalesce(sum(qty_reserved), 0)::bigint from shop.inventory"
        )
        .await,
        0
    );
    assert_consistent(client).await;
}

#[tokio::test]
async fn a_guest_checks_out_and_gets_an_order_with_its_lines_totals_reservation_and_token() {
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    let variant = shop(&client, 10).await;
    let mut guest = Who::guest();
    fill_cart(&client, &mut guest, "XOF", "SN", &[(variant, 3)]).await;
    let total = cart_total(&client, &guest).await;
    assert_eq!(total, 3 * 15000 + 2000);

    let placed = checkout(&app, &guest, None, Some("k-1"), &checkout_body(total)).await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
    let order = placed.json();
    let number = order["number"].as_str().unwrap().to_string();
    assert!(
        number.len() == 11
            && number.as_bytes()[4] == b'-'
            && number.bytes().filter(u8::is_ascii_digit).count() == 10,
        "{number}"
    );
    assert_eq!(order["status"], "awaiting_payment");
    assert_eq!(order["payment_status"], "none");
    assert_eq!(order["fulfillment_status"], "unfulfilled");
    assert_eq!(order["grand_total"], total);
    assert_eq!(order["subtotal"], 45000);
    assert_eq!(order["shipping_total"], 2000);
    assert_eq!(order["shipping_method"]["code"], "standard");
    assert_eq!(order["lines"][0]["sku"], "ROBE-M");
    assert_eq!(order["lines"][0]["product_title"], "Product ROBE-M");
    assert_eq!(order["lines"][0]["unit_price"], 15000);
    assert_eq!(order["lines"][0]["quantity"], 3);
    assert_eq!(order["shipping_address"]["phone"], "+221771234567");
    assert_eq!(order["billing_address"], order["shipping_address"]);
    assert_eq!(order["events"][0]["kind"], "placed");
    let expires: f64 = client
        .query_one(
            "select extract(epoch from reservation_expires_at - placed_at)::float8 from shop.customer_order",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(expires, 900.0, "CHECKOUT_RESERVATION_TTL defaults to 15 minutes");
    let token = order["token"].as_str().unwrap().to_string();

    // Stock is reserved, the cart closed.
    let (on_hand, reserved): (i32, i32) = {
        let r = client
            .query_one(
                "select qty_on_hand, qty_reserved from shop.inventory where variant_id = $1",
                &[&variant],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!((on_hand, reserved), (10, 3));
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.cart where status = 'converted'"
        )
        .await,
        1
    );
    assert_consistent(&client).await;

    // The guest reads it with the token (header or query), nobody without it.
    let path = format!("/api/v1/orders/{number}");
    let with_header = app
        .send(
            Request::get(&path)
                .header("x-order-token", &token)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(with_header.status, StatusCode::OK, "{}", with_header.text());
    assert_eq!(with_header.json()["number"], number.as_str());
    assert!(
        with_header.json().get("token").is_none(),
        "the token is returned once"
    );
    let with_query = app
        .call(Method::GET, &format!("{path}?token={token}"), None, None)
        .await;
    assert_eq!(with_query.status, StatusCode::OK);
    for bad in [
        app.call(Method::GET, &path, None, None).await,
        app.call(Method::GET, &format!("{path}?token=nope"), None, None)
            .await,
    ] {
        assert_eq!(bad.status, StatusCode::NOT_FOUND);
        assert_eq!(bad.problem_code(), "order_not_found");
    }
    // A token not 1 to 128 visible ASCII characters, in the query or the header, is a
    // malformed request (the OpenAPI document's pattern for both), not a wrong token.
    let long = "a".repeat(129);
    let accented = "é".repeat(10); // 10 characters, 20 bytes
    for query in [
        "token=",
        &format!("token={long}"),
        &format!("token={accented}"),
        "token=a%20b",
        "token=%00",
    ] {
        let bad = app
            .call(Method::GET, &format!("{path}?{query}"), None, None)
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(bad.problem_code(), "invalid_order_token", "{query}");
    }
    for header in ["", long.as_str(), "a b"] {
        let bad = app
            .send(
                Request::get(&path)
                    .header("x-order-token", header)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{header:?}");
        assert_eq!(bad.problem_code(), "invalid_order_token");
    }
    let stranger = signed_in(&app, "stranger@example.com", None).await;
    let other = app.call(Method::GET, &path, Some(&stranger), None).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_signed_in_customer_checks_out_to_an_address_from_their_book_and_finds_the_order() {
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    let variant = shop(&client, 10).await;
    let token = signed_in(&app, "ada@example.com", None).await;
    let address = app
        .call(
            Method::POST,
            "/api/v1/users/me/addresses",
            Some(&token),
            Some(
                json!({"full_name": "Ada Ndiaye", "line1": "5 avenue Pompidou", "city": "Dakar",
                        "country": "SN", "phone": "+221 77 000 11 22"}),
            ),
        )
        .await;
    assert_eq!(address.status, StatusCode::CREATED, "{}", address.text());
    let mut ada = user(&client, "ada@example.com", None).await;
    fill_cart(&client, &mut ada, "XOF", "SN", &[(variant, 1)]).await;
    let total = cart_total(&client, &ada).await;
    let placed = checkout(
        &app,
        &ada,
        Some(&token),
        Some("ada-1"),
        &json!({"shipping_method": "standard", "expected_total": total,
                "shipping_address_id": address.json()["id"], "note": "Call before coming"}),
    )
    .await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
    let order = placed.json();
    assert_eq!(order["email"], "ada@example.com", "the account's e-mail");
    assert_eq!(order["shipping_address"]["full_name"], "Ada Ndiaye");
    assert_eq!(order["customer_note"], "Call before coming");
    assert!(order.get("token").is_none(), "signed-in customers need no token");
    let mine = app.call(Method::GET, "/api/v1/orders", Some(&token), None).await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.text());
    assert_eq!(mine.json()["items"][0]["number"], order["number"]);
    let one = app
        .call(
            Method::GET,
            &format!("/api/v1/orders/{}", order["number"].as_str().unwrap()),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.json()["lines"][0]["quantity"], 1);
}

#[tokio::test]
async fn a_changed_total_is_a_409_carrying_the_new_quote_and_nothing_is_written() {
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    let variant = shop(&client, 10).await;
    let mut guest = Who::guest();
    fill_cart(&client, &mut guest, "XOF", "SN", &[(variant, 2)]).await;
    let seen = cart_total(&client, &guest).await;
    // The price rises between the quote the shopper saw and the checkout.
    client
        .execute(
            "update shop.price set amount = 16000 where currency_code = 'XOF'",
            &[],
        )
        .await
        .unwrap();
    let refused = checkout(&app, &guest, None, Some("k"), &checkout_body(seen)).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(refused.problem_code(), "price_changed");
    let quote: Value = serde_json::from_str(refused.json()["details"].as_str().unwrap()).unwrap();
    assert_eq!(quote["grand_total"], 2 * 16000 + 2000);
    assert_eq!(quote["lines"][0]["unit_price"], 16000);
    assert_eq!(quote["shipping_method"]["code"], "standard");
    assert_nothing_written(&client).await;
    assert_eq!(
        count(&client, "select count(*) from shop.cart where status = 'open'").await,
        1
    );
    // With the new total the same key goes through (a refusal does not burn the key).
    let placed = checkout(&app, &guest, None, Some("k"), &checkout_body(2 * 16000 + 2000)).await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
}

#[tokio::test]
async fn every_short_line_is_listed_with_what_is_available_and_nothing_is_written() {
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    let a = shop(&client, 2).await;
    let b = seed_variant(&client, "ROBE-L", 15000, 2299, Some(5)).await;
    let c = seed_variant(&client, "ROBE-S", 15000, 2299, Some(9)).await;
    let mut guest = Who::guest();
    fill_cart(&client, &mut guest, "XOF", "SN", &[(a, 2), (b, 5), (c, 1)]).await;
    let total = cart_total(&client, &guest).await;
    // Others bought meanwhile.
    client
        .execute(
            "update shop.inventory set qty_on_hand = case variant_id when $1 then 1 else 3 end where variant_id in ($1, $2)",
            &[&a, &b],
        )
        .await
        .unwrap();
    let refused = checkout(&app, &guest, None, Some("k"), &checkout_body(total)).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(refused.problem_code(), "insufficient_stock");
    let short: Value = serde_json::from_str(refused.json()["details"].as_str().unwrap()).unwrap();
    assert_eq!(
        short,
        json!([{"sku": "ROBE-M", "variant_id": a, "requested": 2, "available": 1},
               {"sku": "ROBE-L", "variant_id": b, "requested": 5, "available": 3}])
    );
    // The direct updates above were recorded as adjustments; nothing else moved.
    assert_eq!(
        count(&client, "select count(*) from shop.customer_order").await,
        0
    );
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.stock_movement where kind not in ('receipt', 'adjustment')"
        )
        .await,
        0
    );
    assert_consistent(&client).await;
}

#[tokio::test]
async fn backordered_units_are_accepted_and_flagged_and_only_backorder_items_go_below_zero() {
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    let variant = shop(&client, 2).await;
    client
        .execute("update shop.inventory set allow_backorder = true", &[])
        .await
        .unwrap();
    let mut guest = Who::guest();
    fill_cart(&client, &mut guest, "XOF", "SN", &[(variant, 5)]).await;
    let total = cart_total(&client, &guest).await;
    let placed = checkout(&app, &guest, None, Some("k"), &checkout_body(total)).await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
    assert_eq!(placed.json()["lines"][0]["backordered_quantity"], 3);
    let row = client
        .query_one("select qty_on_hand, qty_reserved from shop.inventory", &[])
        .await
        .unwrap();
    assert_eq!((row.get::<_, i32>(0), row.get::<_, i32>(1)), (2, 5));
    assert_eq!(
        count(
            &client,
            "select sum(backordered)::bigint from shop.stock_reservation"
        )
        .await,
        3
    );
    // Paid, the five units are sold: on hand goes to -3 (owed), reserved back to 0.
    client
        .query_one(
            "select api.mark_order_paid(order_id, '{\"provider\": \"test\"}')::text from shop.customer_order",
            &[],
        )
        .await
        .unwrap();
    let row = client
        .query_one("select qty_on_hand, qty_reserved from shop.inventory", &[])
        .await
        .unwrap();
    assert_eq!((row.get::<_, i32>(0), row.get::<_, i32>(1)), (-3, 0));
    assert_consistent(&client).await;
    // Without backorder, on hand can never go below zero.
    let err = client
        .execute("update shop.inventory set allow_backorder = false", &[])
        .await
        .unwrap_err();
    assert_eq!(
        sql_error(&err),
        ("23514".into(), "inventory_on_hand_not_negative".into())
    );
}

/// A 10 % promotion unlocked by coupon `code` (at most `usage_limit` uses).
async fn coupon(client: &Client, code: &str, conditions: Value, usage_limit: Option<i32>) {
    client
        .execute(
            "with p as (insert into shop.promotion (name, rules) values ('Promo ' || $1, $2) returning promotion_id)
             insert into shop.coupon (promotion_id, code, usage_limit) select promotion_id, $1, $3 from p",
            &[
                &code,
                &json!({"conditions": conditions, "action": {"type": "percent_off_items", "percent": 10}}),
                &usage_limit,
            ],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn the_coupon_is_redeemed_with_the_order_or_the_checkout_fails_naming_why() {
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    let variant = shop(&client, 50).await;
    coupon(&client, "TEN", json!({"coupon_required": true}), Some(2)).await;
    coupon(
        &client,
        "BIG",
        json!({"coupon_required": true, "min_subtotal": 100000}),
        None,
    )
    .await;

    // Applied and redeemed.
    let mut first = Who::guest();
    fill_cart(&client, &mut first, "XOF", "SN", &[(variant, 2)]).await;
    first
        .call(&client, "select api.cart_apply_coupon($2, $1)::text", &[&"ten"])
        .await
        .unwrap();
    let total = cart_total(&client, &first).await;
    assert_eq!(total, 27000 + 2000, "30,000 less 10 %, plus shipping");
    let placed = checkout(&app, &first, None, Some("a"), &checkout_body(total)).await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
    assert_eq!(placed.json()["coupon_code"], "TEN");
    assert_eq!(placed.json()["discount_total"], 3000);
    assert_eq!(placed.json()["lines"][0]["discounts"][0]["amount"], 3000);
    assert_eq!(
        count(
            &client,
            "select times_used::bigint from shop.coupon where code = 'TEN'"
        )
        .await,
        1
    );

    // Used up between the quote and the checkout: 409 naming why, nothing consumed.
    let mut second = Who::guest();
    fill_cart(&client, &mut second, "XOF", "SN", &[(variant, 1)]).await;
    second
        .call(&client, "select api.cart_apply_coupon($2, $1)::text", &[&"TEN"])
        .await
        .unwrap();
    let total = cart_total(&client, &second).await;
    client
        .execute("update shop.coupon set usage_limit = 1 where code = 'TEN'", &[])
        .await
        .unwrap();
    let refused = checkout(&app, &second, None, Some("b"), &checkout_body(total)).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text());
    assert_eq!(refused.problem_code(), "coupon_exhausted");

    // A valid code whose conditions the cart does not meet stays on the cart, but the
    // checkout will not consume it for nothing.
    let mut third = Who::guest();
    fill_cart(&client, &mut third, "XOF", "SN", &[(variant, 1)]).await;
    let quote = third
        .call(&client, "select api.cart_apply_coupon($2, $1)::text", &[&"BIG"])
        .await
        .unwrap();
    assert_eq!(quote["coupon_code"], "BIG");
    assert_eq!(quote["discount_total"], 0);
    let total = quote["grand_total"].as_i64().unwrap();
    let refused = checkout(&app, &third, None, Some("c"), &checkout_body(total)).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(refused.problem_code(), "coupon_not_applicable");
    assert_eq!(
        count(&client, "select count(*) from shop.customer_order").await,
        1
    );
    assert_eq!(
        count(
            &client,
            "select times_used::bigint from shop.coupon where code = 'BIG'"
        )
        .await,
        0
    );
    assert_consistent(&client).await;
}

/// A bad checkout: what, by whom, with which key and body, and the answer expected.
type Case<'a> = (&'a str, &'a Who, Option<&'a str>, Value, StatusCode, &'a str);

#[tokio::test]
async fn bad_checkouts_are_clear_4xx_problems_and_write_nothing() {
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    let variant = shop(&client, 10).await;
    let hidden = seed_variant(&client, "HIDDEN", 1000, 100, Some(5)).await;
    client
        .execute(
            "insert into shop.shipping_method (code, name) values ('euro-express', 'Express Europe');
             ",
            &[],
        )
        .await
        .unwrap();
    client
        .execute(
            "insert into shop.shipping_rate (shipping_method_id, country, currency_code, amount)
             select shipping_method_id, 'SN', 'EUR', 990 from shop.shipping_method where code = 'euro-express'",
            &[],
        )
        .await
        .unwrap();
    let mut guest = Who::guest();
    fill_cart(&client, &mut guest, "XOF", "SN", &[(variant, 1)]).await;
    let total = cart_total(&client, &guest).await;
    let good = checkout_body(total);
    let with = |patch: Value| {
        let mut body = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    let no_session = Who::guest();
    let cases: Vec<Case> = vec![
        (
            "no key",
            &guest,
            None,
            good.clone(),
            StatusCode::BAD_REQUEST,
            "idempotency_key_required",
        ),
        (
            "no cart",
            &no_session,
            Some("k1"),
            good.clone(),
            StatusCode::NOT_FOUND,
            "cart_not_found",
        ),
        (
            "unknown method",
            &guest,
            Some("k2"),
            with(json!({"shipping_method": "teleport"})),
            StatusCode::NOT_FOUND,
            "shipping_method_not_found",
        ),
        (
            "another currency's method",
            &guest,
            Some("k3"),
            with(json!({"shipping_method": "euro-express"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "shipping_method_unavailable",
        ),
        (
            "no e-mail",
            &guest,
            Some("k4"),
            with(json!({"email": null})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "bad e-mail",
            &guest,
            Some("k5"),
            with(json!({"email": "not-an-email"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_email",
        ),
        (
            "no address for delivery",
            &guest,
            Some("k6"),
            with(json!({"shipping_address": null})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "address book as a guest",
            &guest,
            Some("k7"),
            with(json!({"shipping_address": null, "shipping_address_id": 1})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "bad phone",
            &guest,
            Some("k8"),
            with(
                json!({"shipping_address": {"full_name": "A", "line1": "B", "city": "Dakar", "country": "SN", "phone": "12"}}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "unknown country",
            &guest,
            Some("k9"),
            with(json!({"shipping_address": {"full_name": "A", "line1": "B", "city": "C", "country": "ZZ"}})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "negative total",
            &guest,
            Some("k10"),
            with(json!({"expected_total": -1})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "unknown field",
            &guest,
            Some("k11"),
            with(json!({"gift": true})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "wrong type",
            &guest,
            Some("k12"),
            with(json!({"expected_total": "17000"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "an address book field in an inline address (InlineAddress has none)",
            &guest,
            Some("k13"),
            with(
                json!({"shipping_address": {"full_name": "A", "line1": "B", "city": "Dakar", "country": "SN",
                                             "phone": "771234567", "kind": "shipping"}}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
    ];
    for (what, who, key, body, status, code) in cases {
        let r = checkout(&app, who, None, key, &body).await;
        assert_eq!(r.status, status, "{what}: {}", r.text());
        assert_eq!(r.problem_code(), code, "{what}");
    }
    let field = |r: &Reply| r.json()["details"].as_str().unwrap_or_default().to_string();
    let r = checkout(
        &app,
        &guest,
        None,
        Some("p1"),
        &with(json!({"shipping_address": {"full_name": "A", "line1": "B", "city": "C", "country": "ZZ"}})),
    )
    .await;
    assert_eq!(field(&r), "$.shipping_address.country");
    let r = checkout(
        &app,
        &guest,
        None,
        Some("p2"),
        &with(
            json!({"shipping_address": {"full_name": "A", "line1": "B", "city": "Dakar", "country": "SN"}}),
        ),
    )
    .await;
    assert_eq!(field(&r), "$.shipping_address.phone", "Senegal needs a phone");
    assert_nothing_written(&client).await;

    // An item no longer for sale.
    guest
        .call(&client, "select api.cart_add_item($2, 1, $1)::text", &[&hidden])
        .await
        .unwrap();
    client
        .execute("update shop.product p set is_active = false from shop.product_variant v where v.product_id = p.product_id and v.variant_id = $1", &[&hidden])
        .await
        .unwrap();
    let r = checkout(&app, &guest, None, Some("u"), &good).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.problem_code(), "item_unavailable");
    assert_eq!(r.json()["details"], "[\"HIDDEN\"]");
    let line: i64 = client
        .query_one(
            "select cart_item_id from shop.cart_item where variant_id = $1",
            &[&hidden],
        )
        .await
        .unwrap()
        .get(0);
    guest
        .call(&client, "select api.cart_remove_item($2, $1)::text", &[&line])
        .await
        .unwrap();

    // A key reused with another body.
    let placed = checkout(&app, &guest, None, Some("same"), &good).await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
    let reused = checkout(
        &app,
        &guest,
        None,
        Some("same"),
        &with(json!({"note": "changed my mind"})),
    )
    .await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reused.problem_code(), "idempotency_key_reused");
    // The cart is converted: another checkout finds no open cart.
    let again = checkout(&app, &guest, None, Some("other"), &good).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(again.problem_code(), "cart_not_found");
    assert_eq!(
        count(&client, "select count(*) from shop.customer_order").await,
        1
    );

    // An empty cart, an expired cart.
    let mut empty = Who::guest();
    fill_cart(&client, &mut empty, "XOF", "SN", &[]).await;
    let r = checkout(&app, &empty, None, Some("e"), &good).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.problem_code(), "cart_empty");
    let mut stale = Who::guest();
    fill_cart(&client, &mut stale, "XOF", "SN", &[(variant, 1)]).await;
    client
        .execute("update shop.cart set expires_at = now() - interval '1 second' where status = 'open' and cart_id in (select cart_id from shop.cart_item)", &[])
        .await
        .unwrap();
    let r = checkout(&app, &stale, None, Some("x"), &good).await;
    assert_eq!(r.status, StatusCode::GONE);
    assert_eq!(r.problem_code(), "cart_expired");
    assert_eq!(
        count(&client, "select count(*) from shop.customer_order").await,
        1
    );
    assert_consistent(&client).await;
}

#[tokio::test]
async fn a_guest_session_of_a_cart_now_owned_by_a_user_checks_out_nothing() {
    let db = maef_tests::TestDb::new().await;
    let client = db.connect().await;
    let variant = shop(&client, 10).await;
    let mut guest = Who::guest();
    fill_cart(&client, &mut guest, "XOF", "SN", &[(variant, 1)]).await;
    // The guest signs in: the cart becomes the user's.
    let ada = user(&client, "ada@example.com", None).await;
    let signed = Who {
        session: guest.session.clone(),
        ..ada
    };
    signed
        .call(&client, "select api.cart_open('XOF', $1)::text", &[])
        .await
        .unwrap();
    // Replaying the guest session alone reaches no cart.
    let err = guest
        .call(
            &client,
            "select api.checkout($2, $1, $3)::text",
            &[&checkout_body(17000), &idem("k", "h")],
        )
        .await
        .unwrap_err();
    assert_eq!(err, ("MA404".into(), "cart_not_found".into()));
}

#[tokio::test]
async fn the_backend_dying_mid_checkout_leaves_nothing_and_the_key_usable() {
    let db = maef_tests::TestDb::new().await;
    let client = db.connect().await;
    let variant = shop(&client, 10).await;
    coupon(&client, "HOLD", json!({"coupon_required": true}), None).await;
    let mut guest = Who::guest();
    fill_cart(&client, &mut guest, "XOF", "SN", &[(variant, 2)]).await;
    guest
        .call(&client, "select api.cart_apply_coupon($2, $1)::text", &[&"HOLD"])
        .await
        .unwrap();
    let total = cart_total(&client, &guest).await;

    // Another session holds the coupon row: the checkout stops in the middle, after it
    // wrote its order and lines, waiting to redeem the coupon.
    let holder = db.connect().await;
    holder
        .batch_execute("begin; select * from shop.coupon for update;")
        .await
        .unwrap();
    let victim = db.connect().await;
    let pid: i32 = victim
        .query_one("select pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    let body = checkout_body(total);
    let session = guest.session.clone();
    let running = tokio::spawn(async move {
        victim
            .batch_execute("begin; set local role maef_anon")
            .await
            .unwrap();
        victim
            .query_one(
                "select api.checkout($1, $2, $3)::text",
                &[&body, &session, &idem("crash", "h")],
            )
            .await
    });
    maef_tests::eventually(std::time::Duration::from_secs(10), "checkout waiting on the coupon lock", || {
        let client = &client;
        async move {
            client
                .query_one(
                    "select exists (select from pg_stat_activity where pid = $1 and wait_event_type = 'Lock')",
                    &[&pid],
                )
                .await
                .unwrap()
                .get(0)
        }
    })
    .await;
    // It has written its order, invisible to others until commit.
    let locks: i64 = client
        .query_one(
            "select count(*) from pg_locks where pid = $1 and relation = 'shop.customer_order'::regclass and mode = 'RowExclusiveLock'",
            &[&pid],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(locks, 1, "the order insert happened before the coupon wait");
    let killed: bool = client
        .query_one("select pg_terminate_backend($1)", &[&pid])
        .await
        .unwrap()
        .get(0);
    assert!(killed);
    let died = running.await.unwrap().unwrap_err();
    assert!(
        died.as_db_error().is_none_or(|e| e.code().code() == "57P01"),
        "{died}"
    );
    holder.batch_execute("rollback").await.unwrap();

    assert_nothing_written(&client).await;
    assert_eq!(
        count(&client, "select times_used::bigint from shop.coupon").await,
        0
    );
    assert_eq!(
        count(&client, "select count(*) from shop.cart where status = 'open'").await,
        1
    );
    // The same key completes the checkout afterwards.
    let placed = guest
        .call(
            &client,
            "select api.checkout($2, $1, $3)::text",
            &[&checkout_body(total), &idem("crash", "h")],
        )
        .await
        .unwrap();
    assert_eq!(placed["status"], "awaiting_payment");
    assert_eq!(
        count(&client, "select times_used::bigint from shop.coupon").await,
        1
    );
    assert_consistent(&client).await;
}

#[tokio::test]
async fn checkout_from_sql_applies_the_same_rules_to_each_role() {
    let db = maef_tests::TestDb::new().await;
    let client = db.connect().await;
    let variant = shop(&client, 10).await;
    // A staff member's own cart checks out like a customer's.
    let mut manager = user(&client, "manager@example.com", Some("manager")).await;
    fill_cart(&client, &mut manager, "XOF", "SN", &[(variant, 1)]).await;
    let total = cart_total(&client, &manager).await;
    let mut body = checkout_body(total);
    body.as_object_mut().unwrap().remove("email");
    let order = manager
        .call(
            &client,
            "select api.checkout($2, $1, $3)::text",
            &[&body, &idem("m", "h")],
        )
        .await
        .unwrap();
    assert_eq!(order["email"], "manager@example.com");
    // A customer has no business with the owner-only functions around it.
    let customer = user(&client, "c@example.com", None).await;
    for sql in [
        "select api.mark_order_paid(gen_random_uuid(), '{}')::text",
        "select api.confirm_order(gen_random_uuid(), '')::text",
        "select api.expire_next_order()::text",
        "select api.redeem_coupon('x')::text",
        "select api._reserve_order_stock(gen_random_uuid())::text",
    ] {
        for who in [&customer, &manager] {
            let err = as_role(&client, &who.role, &who.claims, sql, &[])
                .await
                .unwrap_err();
            assert_eq!(sql_error(&err).0, "42501", "{} {sql}", who.role);
        }
    }
}
