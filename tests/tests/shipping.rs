//! Shipping methods: administration (pricing:write, audited), the methods a cart may
//! choose with their price for that cart, the chosen one feeding the quote, and rates
//! of several methods per destination.

use axum::http::{Method, StatusCode};
use maef_tests::{
    http::TestApp,
    shop::{fill_cart, seed_variant, signed_in, Who},
};
use serde_json::{json, Value};
use tokio_postgres::Client;

async fn quote(client: &Client, who: &Who) -> Value {
    who.call(client, "select api.cart($1)::text", &[]).await.unwrap()
}

#[tokio::test]
async fn staff_administer_methods_and_their_rates_and_every_change_is_audited() {
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    let manager = signed_in(&app, "manager@example.com", Some("manager")).await;
    let customer = signed_in(&app, "c@example.com", None).await;
    let created = app
        .call(
            Method::POST,
            "/api/v1/admin/shipping-methods",
            Some(&manager),
            Some(
                json!({"code": "express", "name": "Express", "min_days": 1, "max_days": 2, "position": 1,
                        "rates": [{"country": "SN", "currency": "XOF", "amount": 5000},
                                  {"country": "FR", "currency": "EUR", "amount": 1290, "free_over": 15000}]}),
            ),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let id = created.json()["id"].as_i64().unwrap();
    assert_eq!(created.json()["rates"].as_array().unwrap().len(), 2);
    for (body, status, code) in [
        (
            json!({"code": "express", "name": "Again"}),
            StatusCode::CONFLICT,
            "shipping_method_code_key",
        ),
        (
            json!({"code": "Bad Code", "name": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            json!({"code": "drone", "name": "Drone", "kind": "air"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            json!({"code": "slow", "name": "Slow", "min_days": 9, "max_days": 3}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            json!({"code": "x", "name": "X", "rates": [{"country": "SN", "currency": "ZZZ", "amount": 1}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
    ] {
        let r = app
            .call(
                Method::POST,
                "/api/v1/admin/shipping-methods",
                Some(&manager),
                Some(body.clone()),
            )
            .await;
        assert_eq!(r.status, status, "{body}: {}", r.text());
        assert_eq!(r.problem_code(), code, "{body}");
    }
    let renamed = app
        .call(
            Method::PATCH,
            &format!("/api/v1/admin/shipping-methods/{id}"),
            Some(&manager),
            Some(json!({"name": "Express 24h"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK);
    assert_eq!(renamed.json()["name"], "Express 24h");
    // A rate for another method through the rate routes, which name their method.
    let rate = app
        .call(
            Method::POST,
            "/api/v1/admin/shipping-rates",
            Some(&manager),
            Some(json!({"shipping_method": "express", "country": "CI", "currency": "XOF", "amount": 4000})),
        )
        .await;
    assert_eq!(rate.status, StatusCode::CREATED, "{}", rate.text());
    let listed = app
        .call(
            Method::GET,
            "/api/v1/admin/shipping-methods",
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    let codes: Vec<String> = listed
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["code"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes, ["standard", "express"]);
    assert_eq!(listed.json()[1]["rates"].as_array().unwrap().len(), 3);
    let forbidden = app
        .call(
            Method::GET,
            "/api/v1/admin/shipping-methods",
            Some(&customer),
            None,
        )
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/api/v1/admin/shipping-methods/{id}"),
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(deleted.json(), json!({"deleted": id}));
    assert_eq!(
        maef_tests::count(&client, "select count(*) from shop.shipping_rate").await,
        0,
        "its rates went with it"
    );
    let missing = app
        .call(
            Method::DELETE,
            &format!("/api/v1/admin/shipping-methods/{id}"),
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let actions: Vec<String> = client
        .query(
            "select action from shop.audit_log where entity = 'shipping_method' order by audit_log_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        actions,
        [
            "shipping_method.create",
            "shipping_method.update",
            "shipping_method.delete"
        ]
    );
}

#[tokio::test]
async fn a_cart_lists_the_methods_offered_to_its_destination_priced_for_it_and_quotes_the_chosen_one() {
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    let variant = seed_variant(&client, "TEE", 9000, 1500, Some(100)).await;
    client
        .batch_execute(
            "insert into shop.shipping_method (code, name, kind, min_days, max_days, position) values
                 ('express', 'Express', 'delivery', 1, 1, 1), ('pickup', 'Pick up in store', 'pickup', 0, 0, 2),
                 ('hidden', 'Retired', 'delivery', 3, 9, 3);
             update shop.shipping_method set is_active = false where code = 'hidden';
             insert into shop.shipping_rate (shipping_method_id, country, currency_code, amount, free_over)
             select shipping_method_id, 'SN', 'XOF', a, f from shop.shipping_method,
                    (values ('standard', 2000, 20000), ('express', 5000, null), ('pickup', 0, null), ('hidden', 1, null)) r(c, a, f)
             where code = r.c;
             insert into shop.shipping_rate (shipping_method_id, country, currency_code, amount)
             select shipping_method_id, 'CI', 'XOF', 3000 from shop.shipping_method where code = 'standard';",
        )
        .await
        .unwrap();
    let mut guest = Who::guest();
    fill_cart(&client, &mut guest, "XOF", "SN", &[(variant, 1)]).await;
    let session = guest.session.clone().unwrap();
    let list = |session: String| {
        let app = &app;
        async move {
            let r = app
                .send(
                    axum::http::Request::get("/api/v1/cart/shipping-methods")
                        .header("x-cart-session", session)
                        .body(axum::body::Body::empty())
                        .unwrap(),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text());
            r.json()
        }
    };
    let offered = list(session.clone()).await;
    let summary: Vec<(String, i64, bool)> = offered["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["code"].as_str().unwrap().to_string(),
                m["price"].as_i64().unwrap(),
                m["selected"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("standard".into(), 2000, true),
            ("express".into(), 5000, false),
            ("pickup".into(), 0, false)
        ]
    );
    assert_eq!(offered["methods"][1]["grand_total"], 9000 + 5000);
    // Above the free-over threshold, standard costs nothing for this cart.
    guest
        .call(&client, "select api.cart_add_item($2, 2, $1)::text", &[&variant])
        .await
        .unwrap();
    let offered = list(session.clone()).await;
    assert_eq!(offered["methods"][0]["price"], 0);
    assert_eq!(offered["methods"][0]["rate"], 2000);
    // Choosing express: the quote shows it and charges it.
    let choose = |code: &str| {
        let (app, session) = (&app, &session);
        let body = json!({"code": code});
        async move {
            app.send(
                axum::http::Request::put("/api/v1/cart/shipping-method")
                    .header("x-cart-session", session.as_str())
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(body.to_string()))
                    .unwrap(),
            )
            .await
        }
    };
    let chosen = choose("express").await;
    assert_eq!(chosen.status, StatusCode::OK, "{}", chosen.text());
    assert_eq!(chosen.json()["shipping_method"]["code"], "express");
    assert_eq!(chosen.json()["shipping_total"], 5000);
    assert_eq!(quote(&client, &guest).await["shipping_method"]["code"], "express");
    for (code, status, problem) in [
        ("hidden", StatusCode::NOT_FOUND, "shipping_method_not_found"),
        ("teleport", StatusCode::NOT_FOUND, "shipping_method_not_found"),
    ] {
        let r = choose(code).await;
        assert_eq!(r.status, status, "{code}");
        assert_eq!(r.problem_code(), problem);
    }
    // Moving the cart to Côte d'Ivoire: express is not offered there; the quote falls
    // back to what is, and choosing it is refused.
    guest
        .call(&client, "select api.cart_open('XOF', $1, 'CI')::text", &[])
        .await
        .unwrap();
    let moved = quote(&client, &guest).await;
    assert_eq!(moved["shipping_method"]["code"], "standard");
    assert_eq!(moved["shipping_total"], 3000);
    let refused = choose("express").await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.problem_code(), "shipping_method_unavailable");
    // Nowhere offered: no method, no shipping charge, and an empty list.
    guest
        .call(&client, "select api.cart_open('XOF', $1, 'TG')::text", &[])
        .await
        .unwrap();
    assert_eq!(quote(&client, &guest).await["shipping_method"], Value::Null);
    assert_eq!(list(session.clone()).await["methods"], json!([]));
    let no_cart = app
        .call(Method::GET, "/api/v1/cart/shipping-methods", None, None)
        .await;
    assert_eq!(no_cart.status, StatusCode::NOT_FOUND);
}
