//! Payments under real concurrency, against the fake Stripe: hundreds of clients
//! sending the same payment request with one Idempotency-Key, the same webhook
//! delivered many times at once while the orders expire, and refunds racing for the
//! last of the captured money. After each, a consistency query proves every order was
//! paid at most once, its stock sold once, and refunds never exceeded what was captured.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use futures::future::join_all;
use maef_tests::{
    count,
    fake_stripe::{self, FakeStripe},
    http::{Reply, TestApp},
    shop::{seed_variant, ship_to, signed_in},
};
use serde_json::{json, Value};
use tokio_postgres::Client;

const CROWD: &[(&str, &str)] = &[
    ("DB_POOL_SIZE", "16"),
    ("DB_POOL_TIMEOUT_MS", "120000"),
    ("DB_STATEMENT_TIMEOUT_MS", "120000"),
    ("REQUEST_TIMEOUT_MS", "120000"),
    ("PAYMENT_HTTP_TIMEOUT_SECS", "30"),
];

const ORDERS: usize = 40;
const COPIES: usize = 5;

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// `ORDERS` guest orders of one unit each of a variant with exactly that many units:
/// (number, token) each, made in bulk through `api.checkout` as guests.
async fn orders(client: &Client) -> (i64, Vec<(String, String)>) {
    ship_to(client, "SN", "XOF", 2000).await;
    let variant = seed_variant(client, "HOT", 15000, 2299, Some(ORDERS as i32)).await;
    let mut out = Vec::new();
    for i in 0..ORDERS {
        let session = format!("race-{i}");
        client
            .execute(
                "insert into shop.cart (currency_code, session_hash, shipping_country)
                 values ('XOF', encode(sha256(convert_to($1, 'UTF8')), 'hex'), 'SN')",
                &[&session],
            )
            .await
            .unwrap();
        client
            .execute(
                "insert into shop.cart_item (cart_id, variant_id, quantity)
                 select cart_id, $1, 1 from shop.cart where session_hash = encode(sha256(convert_to($2, 'UTF8')), 'hex')",
                &[&variant, &session],
            )
            .await
            .unwrap();
        let body = json!({"email": format!("g{i}@example.com"), "shipping_method": "standard", "expected_total": 17000,
            "shipping_address": {"full_name": "Awa Diop", "line1": "1 rue", "city": "Dakar", "country": "SN",
                                 "phone": "77 123 45 67"}});
        let idem = json!({"scope": "anon", "key": format!("c{i}"), "method": "POST", "path": "/api/v1/checkout", "hash": "h"});
        client
            .batch_execute("begin; set local role maef_anon")
            .await
            .unwrap();
        let order: String = client
            .query_one("select api.checkout($1, $2, $3)::text", &[&body, &session, &idem])
            .await
            .unwrap()
            .get(0);
        client.batch_execute("commit").await.unwrap();
        let order: Value = serde_json::from_str(&order).unwrap();
        out.push((
            order["number"].as_str().unwrap().to_string(),
            order["token"].as_str().unwrap().to_string(),
        ));
    }
    (variant, out)
}

async fn pay(app: &TestApp, number: &str, token: &str, key: &str) -> Reply {
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/orders/{number}/payments"))
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-order-token", token)
        .header("idempotency-key", key)
        .body(Body::from(r#"{"provider": "stripe"}"#))
        .unwrap();
    app.send(request).await
}

/// Every way payments, orders, refunds and stock could disagree.
async fn problems(client: &Client) -> Vec<String> {
    let mut found: Vec<String> = client
        .query(
            "select format('order %s (%s/%s): %s succeeded payments', o.order_number, o.status, o.payment_status,
                           (select count(*) from shop.payment p where p.order_id = o.order_id and p.status = 'succeeded'))
             from shop.customer_order o
             where (o.payment_status in ('paid', 'partially_refunded', 'refunded'))
                   <> exists (select from shop.payment p where p.order_id = o.order_id and p.status = 'succeeded')
                or (o.status = 'paid') <> (o.payment_status in ('paid', 'partially_refunded', 'refunded'))
             union all
             select format('order %s: %s units sold for status %s', o.order_number,
                           coalesce(-(select sum(m.on_hand_delta) from shop.stock_movement m
                                      where m.order_id = o.order_id and m.kind = 'sale'), 0), o.status)
             from shop.customer_order o
             where coalesce(-(select sum(m.on_hand_delta) from shop.stock_movement m
                              where m.order_id = o.order_id and m.kind = 'sale'), 0)
                   <> case when o.status = 'paid' then 1 else 0 end
             union all
             select format('payment %s: refunds %s > captured %s', p.payment_id, sum(r.amount), coalesce(p.amount_received, p.amount))
             from shop.payment p join shop.refund r using (payment_id) where r.status <> 'failed'
             group by p.payment_id, p.amount_received, p.amount
             having sum(r.amount) > coalesce(p.amount_received, p.amount)
             union all
             select format('order %s has %s payment rows', o.order_number, count(*))
             from shop.customer_order o join shop.payment p using (order_id) group by o.order_number having count(*) <> 1
             union all
             select format('expired order %s has payment %s', o.order_number, p.status)
             from shop.customer_order o join shop.payment p using (order_id)
             where o.status = 'expired' and p.status not in ('needs_review', 'pending')
             union all
             select format('%s order.paid events for %s paid orders', (select count(*) from shop.event where type = 'order.paid'),
                           (select count(*) from shop.customer_order where status = 'paid'))
             where (select count(*) from shop.event where type = 'order.paid')
                   <> (select count(*) from shop.customer_order where status = 'paid')",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    found.extend(maef_tests::shop::stock_problems(client).await);
    found
}

#[tokio::test]
async fn duplicate_payments_webhooks_and_expiry_race_and_every_order_is_paid_at_most_once() {
    let stripe = FakeStripe::start().await;
    let mut env: Vec<(String, String)> = stripe.env();
    env.extend(CROWD.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = TestApp::with(&refs).await;
    let client = app.db.connect().await;
    maef_tests::disable_schedules(&client).await;
    let (variant, orders) = orders(&client).await;

    // 1. COPIES identical payment requests per order at once (200 clients): one
    //    payment row and one PaymentIntent per order; every 201 is the same body.
    let requests = orders
        .iter()
        .flat_map(|(number, token)| (0..COPIES).map(move |_| (number.clone(), token.clone())))
        .map(|(number, token)| {
            let app = &app;
            async move {
                (
                    number.clone(),
                    pay(app, &number, &token, &format!("pay-{number}")).await,
                )
            }
        });
    let replies = join_all(requests).await;
    let mut bodies: std::collections::HashMap<String, Vec<u8>> = std::collections::HashMap::new();
    for (number, reply) in &replies {
        match reply.status {
            StatusCode::CREATED => {
                let first = bodies.entry(number.clone()).or_insert_with(|| reply.body.clone());
                assert_eq!(
                    first, &reply.body,
                    "order {number}: two different 201 bodies for one key"
                );
            }
            StatusCode::CONFLICT => assert_eq!(reply.problem_code(), "idempotency_key_in_flight"),
            other => panic!("order {number}: {other} {}", reply.text()),
        }
    }
    // Orders whose every copy met the in-flight one ask again with the same key.
    for (number, token) in &orders {
        if !bodies.contains_key(number) {
            let reply = pay(&app, number, token, &format!("pay-{number}")).await;
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
            bodies.insert(number.clone(), reply.body.clone());
        }
    }
    assert_eq!(
        count(&client, "select count(*) from shop.payment").await,
        ORDERS as i64
    );
    assert_eq!(
        stripe.state.lock().unwrap().intents.len(),
        ORDERS,
        "one PaymentIntent per order"
    );

    // 2. Every customer pays; each success is delivered COPIES times at once, while two
    //    workers expire the orders (all made due now).
    client
        .execute(
            "update shop.customer_order set reservation_expires_at = now() where status = 'awaiting_payment'",
            &[],
        )
        .await
        .unwrap();
    let mut deliveries = Vec::new();
    for (i, body) in bodies.values().enumerate() {
        let created: Value = serde_json::from_slice(body).unwrap();
        let pi = created["next_action"]["client_secret"]
            .as_str()
            .unwrap()
            .split("_secret_")
            .next()
            .unwrap()
            .to_string();
        let intent = stripe.set_status(&pi, "succeeded", None);
        let (event, signature) = FakeStripe::event(
            &format!("evt_race_{i}"),
            "payment_intent.succeeded",
            &intent,
            fake_stripe::WEBHOOK_SECRET,
            now(),
        );
        for _ in 0..COPIES {
            deliveries.push((event.clone(), signature.clone()));
        }
    }
    let webhooks = join_all(deliveries.into_iter().map(|(event, signature)| {
        let app = &app;
        async move {
            let request = Request::builder()
                .method(Method::POST)
                .uri("/api/v1/webhooks/stripe")
                .header(header::CONTENT_TYPE, "application/json")
                .header("stripe-signature", signature)
                .body(Body::from(event))
                .unwrap();
            app.send(request).await
        }
    }));
    let expirers = join_all((0..2).map(|_| {
        let url = app.db.url.clone();
        async move {
            let expirer = maef_tests::connect(&url).await;
            let mut expired = 0;
            while let Some(_number) = expirer
                .query_one("select api.expire_next_order()", &[])
                .await
                .unwrap()
                .get::<_, Option<String>>(0)
            {
                expired += 1;
            }
            expired
        }
    }));
    let (webhooks, expired) = tokio::join!(webhooks, expirers);
    let mut outcomes: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for reply in &webhooks {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        *outcomes
            .entry(reply.json()["outcome"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let expired: i32 = expired.iter().sum();
    let paid = count(
        &client,
        "select count(*) from shop.customer_order where status = 'paid'",
    )
    .await;
    assert_eq!(outcomes["duplicate"], ORDERS * (COPIES - 1), "{outcomes:?}");
    assert_eq!(
        outcomes.get("applied").copied().unwrap_or(0)
            + outcomes.get("needs_review:order_closed").copied().unwrap_or(0),
        ORDERS,
        "{outcomes:?}"
    );
    assert_eq!(paid as usize, outcomes.get("applied").copied().unwrap_or(0));
    assert_eq!(
        paid + i64::from(expired),
        ORDERS as i64,
        "each order ends paid or expired, never both"
    );
    assert_eq!(
        count(&client, "select count(*) from shop.payment_event").await,
        ORDERS as i64,
        "each event stored once"
    );
    let (on_hand, reserved): (i32, i32) = {
        let row = client
            .query_one(
                "select qty_on_hand, qty_reserved from shop.inventory where variant_id = $1",
                &[&variant],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(
        (on_hand as i64, reserved),
        (ORDERS as i64 - paid, 0),
        "sold once per paid order, the rest released"
    );
    let found = problems(&client).await;
    assert!(found.is_empty(), "{found:#?}");

    // 3. Refunds racing for the last money of one paid order: 20 staff requests with
    //    different keys, each for 40% of the 17,000 captured — two can succeed.
    let number: String = client
        .query_one(
            "select order_number from shop.customer_order where status = 'paid' limit 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let staff = signed_in(&app, "boss@example.com", Some("manager")).await;
    let refunds = join_all((0..20).map(|i| {
        let (app, staff, number) = (&app, &staff, &number);
        async move {
            let request = Request::builder()
                .method(Method::POST)
                .uri(format!("/api/v1/admin/orders/{number}/refunds"))
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::AUTHORIZATION, format!("Bearer {staff}"))
                .header("idempotency-key", format!("refund-{i}"))
                .body(Body::from(
                    json!({"amount": 6800, "reason": "goodwill"}).to_string(),
                ))
                .unwrap();
            app.send(request).await
        }
    }))
    .await;
    let made = refunds.iter().filter(|r| r.status == StatusCode::CREATED).count();
    for r in refunds.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_eq!(r.problem_code(), "refund_exceeds_captured", "{}", r.text());
    }
    assert_eq!(made, 2);
    assert_eq!(stripe.calls_to("POST /v1/refunds"), 2);
    let found = problems(&client).await;
    assert!(found.is_empty(), "{found:#?}");
}
