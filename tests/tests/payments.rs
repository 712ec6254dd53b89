//! Payments end to end against local fakes of Stripe, FedaPay and Paystack speaking
//! their wire formats (`maef_tests::fake_*`): checkout → payment → webhook (or the
//! worker's re-fetch) → order paid → stock sold → partial and full refunds; every bad
//! webhook (forged, stale, changed body, replayed, late, wrong amount); provider
//! failures (timeout then retry with the same key, 5xx, refusal); cash on delivery.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use futures::future::join_all;
use maef_tests::{
    count, eventually,
    fake_fedapay::{self, FakeFedapay},
    fake_paystack::{self, FakePaystack},
    fake_provider::Fault,
    fake_stripe::{self, FakeStripe},
    http::{Reply, TestApp},
    shop::{assert_consistent, cart_total, fill_cart, idem, seed_variant, ship_to, signed_in, Who},
    WorkerProcess,
};
use serde_json::{json, Value};
use tokio_postgres::Client;

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// An app configured with the given fakes, a 1 s provider timeout and cash on delivery
/// in Senegal and Côte d'Ivoire up to 50,000 XOF.
async fn app_with(env: Vec<(String, String)>) -> TestApp {
    let mut vars: Vec<(String, String)> = vec![
        ("PAYMENT_HTTP_TIMEOUT_SECS".into(), "1".into()),
        ("MAX_BODY_BYTES".into(), "65536".into()),
    ];
    vars.extend(env);
    let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = TestApp::with(&refs).await;
    let client = app.db.connect().await;
    client
        .batch_execute(
            "update shop.setting set value = '\"SN, CI\"' where key = 'payments.cod_countries';
             update shop.setting set value = '\"XOF:50000\"' where key = 'payments.cod_max_amounts';",
        )
        .await
        .unwrap();
    app
}

/// A shop selling one variant (`stock` units, 15,000 XOF / 22.99 EUR / 9,000 NGN) with
/// standard shipping to Senegal (2,000 XOF) and Nigeria (1,500 NGN).
async fn shop(client: &Client, stock: i32) -> i64 {
    ship_to(client, "SN", "XOF", 2000).await;
    ship_to(client, "NG", "NGN", 150_000).await;
    ship_to(client, "FR", "EUR", 500).await;
    let variant = seed_variant(client, "ROBE-M", 15000, 2299, Some(stock)).await;
    client
        .execute(
            "insert into shop.price (product_id, currency_code, amount)
             select product_id, 'NGN', 900000 from shop.product_variant where variant_id = $1",
            &[&variant],
        )
        .await
        .unwrap();
    variant
}

/// A guest's order of `quantity` units in `currency` shipped to `country`: (number,
/// token, grand total).
async fn guest_order(
    client: &Client,
    variant: i64,
    quantity: i32,
    currency: &str,
    country: &str,
) -> (String, String, i64) {
    let mut guest = Who::guest();
    fill_cart(client, &mut guest, currency, country, &[(variant, quantity)]).await;
    let total = cart_total(client, &guest).await;
    let address = match country {
        "NG" => {
            json!({"full_name": "Ada Obi", "line1": "12 Broad Street", "city": "Lagos", "region": "Lagos",
                       "country": "NG", "phone": "0803 123 4567", "postal_code": "100001"})
        }
        "FR" => json!({"full_name": "Awa Diop", "line1": "12 rue Carnot", "city": "Paris", "country": "FR",
                       "postal_code": "75002", "phone": "06 12 34 56 78"}),
        _ => json!({"full_name": "Awa Diop", "line1": "12 rue Carnot", "city": "Dakar", "country": country,
                    "phone": "77 123 45 67"}),
    };
    let body = json!({"email": "guest@example.com", "shipping_method": "standard", "expected_total": total,
                      "shipping_address": address});
    let key = uuid::Uuid::new_v4().to_string();
    let order = guest
        .call(
            client,
            "select api.checkout($2, $1, $3)::text",
            &[&body, &idem(&key, "h")],
        )
        .await
        .unwrap_or_else(|e| panic!("checkout: {e:?}"));
    (
        order["number"].as_str().unwrap().to_string(),
        order["token"].as_str().unwrap().to_string(),
        total,
    )
}

/// `POST /api/v1/orders/{number}/payments` as the guest holding `token`.
async fn pay(app: &TestApp, number: &str, token: &str, key: Option<&str>, provider: &str) -> Reply {
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/orders/{number}/payments"))
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-order-token", token);
    if let Some(key) = key {
        builder = builder.header("idempotency-key", key);
    }
    app.send(
        builder
            .body(Body::from(json!({"provider": provider}).to_string()))
            .unwrap(),
    )
    .await
}

/// A provider webhook as the provider sends it.
async fn webhook(
    app: &TestApp,
    provider: &str,
    signature_header: &str,
    signature: &str,
    body: Vec<u8>,
) -> Reply {
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/webhooks/{provider}"))
        .header(header::CONTENT_TYPE, "application/json");
    if !signature.is_empty() {
        builder = builder.header(signature_header, signature);
    }
    app.send(builder.body(Body::from(body)).unwrap()).await
}

async fn stripe_event(app: &TestApp, id: &str, kind: &str, object: &Value) -> Reply {
    let (body, signature) = FakeStripe::event(id, kind, object, fake_stripe::WEBHOOK_SECRET, now());
    webhook(app, "stripe", "stripe-signature", &signature, body).await
}

/// `POST /api/v1/admin/orders/{number}/refunds`.
async fn refund(app: &TestApp, staff: &str, number: &str, key: &str, body: Value) -> Reply {
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/admin/orders/{number}/refunds"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {staff}"))
        .header("idempotency-key", key)
        .body(Body::from(body.to_string()))
        .unwrap();
    app.send(request).await
}

/// Starts a worker against the provider's fake (`env`) and waits until its
/// verify_payment job has marked the order paid; the worker is returned to keep running.
async fn worker_pays(
    app: &TestApp,
    client: &Client,
    number: &str,
    mut env: Vec<(String, String)>,
    name: &str,
) -> WorkerProcess {
    env.push(("PAYMENT_HTTP_TIMEOUT_SECS".into(), "5".into()));
    let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let worker = WorkerProcess::spawn(&app.db.url, name, &refs);
    eventually(
        Duration::from_secs(30),
        "the order paid by verify_payment",
        || async move { order_state(client, number).await.0 == "paid" },
    )
    .await;
    worker
}

async fn order_state(client: &Client, number: &str) -> (String, String) {
    let row = client
        .query_one(
            "select status, payment_status from shop.customer_order where order_number = $1",
            &[&number],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

async fn on_hand(client: &Client, variant: i64) -> (i32, i32) {
    let row = client
        .query_one(
            "select qty_on_hand, qty_reserved from shop.inventory where variant_id = $1",
            &[&variant],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

/// Every way payments, orders, refunds and stock could disagree; empty when consistent.
pub async fn payment_problems(client: &Client) -> Vec<String> {
    let mut problems: Vec<String> = client
        .query(
            "select format('order %s (%s/%s) has %s succeeded payment(s)', o.order_number, o.status, o.payment_status,
                           (select count(*) from shop.payment p where p.order_id = o.order_id and p.status = 'succeeded'))
             from shop.customer_order o
             where (o.payment_status in ('paid', 'partially_refunded', 'refunded'))
                   <> exists (select from shop.payment p where p.order_id = o.order_id and p.status = 'succeeded')
                or (select count(*) from shop.payment p where p.order_id = o.order_id and p.status = 'succeeded') > 1
             union all
             select format('payment %s: refunds %s exceed captured %s', p.payment_id,
                           sum(r.amount), coalesce(p.amount_received, p.amount))
             from shop.payment p join shop.refund r using (payment_id)
             where r.status <> 'failed'
             group by p.payment_id, p.amount_received, p.amount
             having sum(r.amount) > coalesce(p.amount_received, p.amount)
             union all
             select format('order %s: %s sold units, %s ordered', o.order_number,
                           coalesce((select -sum(m.on_hand_delta) from shop.stock_movement m
                                     where m.order_id = o.order_id and m.kind = 'sale'), 0),
                           (select sum(i.quantity) from shop.order_item i where i.order_id = o.order_id))
             from shop.customer_order o
             where coalesce((select -sum(m.on_hand_delta) from shop.stock_movement m
                             where m.order_id = o.order_id and m.kind = 'sale'), 0)
                   <> case when o.payment_status in ('paid', 'partially_refunded', 'refunded')
                           then (select sum(i.quantity) from shop.order_item i where i.order_id = o.order_id) else 0 end
             union all
             select format('event %s/%s stored %s times', provider, event_id, count(*))
             from shop.payment_event group by provider, event_id having count(*) > 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    problems.extend(maef_tests::shop::stock_problems(client).await);
    problems
}

async fn assert_payments_consistent(client: &Client) {
    let problems = payment_problems(client).await;
    assert!(problems.is_empty(), "payments are inconsistent: {problems:#?}");
}

// ---------------------------------------------------------------- Stripe

#[tokio::test]
async fn stripe_checkout_to_paid_order_then_partial_and_full_refunds() {
    let stripe = FakeStripe::start().await;
    let app = app_with(stripe.env()).await;
    let client = app.db.connect().await;
    let variant = shop(&client, 10).await;
    let (number, token, total) = guest_order(&client, variant, 2, "XOF", "SN").await;
    assert_eq!(total, 32000);

    let options = app
        .send(
            Request::get(format!("/api/v1/orders/{number}/payment-options"))
                .header("x-order-token", &token)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(options.status, StatusCode::OK, "{}", options.text());
    let options = options.json();
    let offered: Vec<&str> = options["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["provider"].as_str().unwrap())
        .collect();
    assert_eq!(
        offered,
        ["stripe", "cash_on_delivery"],
        "FedaPay and Paystack have no keys here"
    );

    let paid = pay(&app, &number, &token, Some("pay-1"), "stripe").await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.text());
    let payment = paid.json();
    assert_eq!(payment["status"], "pending");
    assert_eq!(payment["next_action"]["type"], "stripe_client_secret");
    assert_eq!(payment["order"]["payment_status"], "pending");
    let secret = payment["next_action"]["client_secret"].as_str().unwrap();
    // The wire: form-encoded, XOF in whole units, lowercase currency, pinned version,
    // an Idempotency-Key derived from our payment row.
    let (what, key, version, params) = stripe.state.lock().unwrap().calls[0].clone();
    assert_eq!(what, "POST /v1/payment_intents");
    assert_eq!(
        key.as_deref(),
        Some(format!("maef-payment-{}", payment["id"].as_str().unwrap()).as_str())
    );
    assert_eq!(version.as_deref(), Some(maef_payments::stripe::API_VERSION));
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("amount").as_deref(), Some("32000"));
    assert_eq!(get("currency").as_deref(), Some("xof"));
    assert_eq!(get("metadata[order_number]").as_deref(), Some(number.as_str()));
    let pi = secret.split("_secret_").next().unwrap().to_string();

    // The same key answers the same body, without calling Stripe again.
    let again = pay(&app, &number, &token, Some("pay-1"), "stripe").await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.body, paid.body);
    assert_eq!(stripe.calls_to("POST /v1/payment_intents"), 1);

    // The customer pays; Stripe says so.
    let intent = stripe.set_status(&pi, "succeeded", None);
    let applied = stripe_event(&app, "evt_paid_1", "payment_intent.succeeded", &intent).await;
    assert_eq!(applied.status, StatusCode::OK, "{}", applied.text());
    assert_eq!(applied.json()["outcome"], "applied");
    assert_eq!(
        order_state(&client, &number).await,
        ("paid".into(), "paid".into())
    );
    assert_eq!(
        on_hand(&client, variant).await,
        (8, 0),
        "the reservation became a sale"
    );
    for (kind, n) in [("payment.succeeded", 1), ("order.paid", 1)] {
        assert_eq!(
            count(
                &client,
                &format!("select count(*) from shop.event where type = '{kind}'")
            )
            .await,
            n,
            "{kind}"
        );
    }
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.email_message where kind = 'order_confirmation'"
        )
        .await,
        1
    );

    // Partial refund: one of the two dresses (15,000), restocked.
    let staff = signed_in(&app, "boss@example.com", Some("manager")).await;
    let admin = app
        .call(
            Method::GET,
            &format!("/api/v1/admin/orders/{number}/payments"),
            Some(&staff),
            None,
        )
        .await;
    assert_eq!(admin.status, StatusCode::OK, "{}", admin.text());
    assert_eq!(admin.json()["captured"], 32000);
    let line: i64 = client
        .query_one("select order_item_id from shop.order_item i join shop.customer_order o using (order_id) where o.order_number = $1", &[&number])
        .await
        .unwrap()
        .get(0);
    let partial = refund(
        &app,
        &staff,
        &number,
        "r-1",
        json!({"lines": [{"order_item_id": line, "quantity": 1}], "reason": "returned one", "restock": true}),
    )
    .await;
    assert_eq!(partial.status, StatusCode::CREATED, "{}", partial.text());
    let body = partial.json();
    assert_eq!(body["refund"]["amount"], 15000);
    assert_eq!(body["refund"]["status"], "succeeded");
    assert_eq!(body["order"]["payment_status"], "partially_refunded");
    assert_eq!(
        on_hand(&client, variant).await,
        (9, 0),
        "the returned unit is back on hand"
    );
    let refund_call = stripe.state.lock().unwrap().calls.last().unwrap().clone();
    assert_eq!(refund_call.0, "POST /v1/refunds");
    assert!(refund_call.1.unwrap().starts_with("maef-refund-"));

    // Over-refund: 17,001 left is 17,000.
    let over = refund(
        &app,
        &staff,
        &number,
        "r-2",
        json!({"amount": 17001, "reason": "too much"}),
    )
    .await;
    assert_eq!(over.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(over.problem_code(), "refund_exceeds_captured");
    let details: Value = serde_json::from_str(over.json()["details"].as_str().unwrap()).unwrap();
    assert_eq!(
        details,
        json!({"captured": 32000, "refunded": 15000, "requested": 17001})
    );

    // The rest: the other unit and the shipping.
    let rest = refund(
        &app,
        &staff,
        &number,
        "r-3",
        json!({"lines": [{"order_item_id": line, "quantity": 1}], "shipping": true, "reason": "cancelled"}),
    )
    .await;
    assert_eq!(rest.status, StatusCode::CREATED, "{}", rest.text());
    assert_eq!(rest.json()["refund"]["amount"], 17000);
    assert_eq!(
        order_state(&client, &number).await,
        ("paid".into(), "refunded".into())
    );
    assert_eq!(
        rest.json()["order"]["payment_status"],
        "refunded",
        "the answer shows the order as it now is"
    );
    let more = refund(
        &app,
        &staff,
        &number,
        "r-4",
        json!({"amount": 1, "reason": "one more"}),
    )
    .await;
    assert_eq!(more.problem_code(), "refund_exceeds_captured");
    let replay = refund(
        &app,
        &staff,
        &number,
        "r-3",
        json!({"lines": [{"order_item_id": line, "quantity": 1}], "shipping": true, "reason": "cancelled"}),
    )
    .await;
    assert_eq!(replay.body, rest.body, "the same key replays the refund");
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.event where type = 'refund.succeeded'"
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.email_message where kind = 'refund'"
        )
        .await,
        2
    );
    assert_eq!(stripe.calls_to("POST /v1/refunds"), 2);
    assert_payments_consistent(&client).await;
}

#[tokio::test]
async fn bad_stripe_webhooks_are_400_and_change_nothing() {
    let stripe = FakeStripe::start().await;
    let app = app_with(stripe.env()).await;
    let client = app.db.connect().await;
    let variant = shop(&client, 5).await;
    let (number, token, _) = guest_order(&client, variant, 1, "XOF", "SN").await;
    let paid = pay(&app, &number, &token, Some("k"), "stripe").await;
    let pi = paid.json()["next_action"]["client_secret"]
        .as_str()
        .unwrap()
        .split("_secret_")
        .next()
        .unwrap()
        .to_string();
    let intent = stripe.set_status(&pi, "succeeded", None);
    let body = json!({"id": "evt_x", "object": "event", "type": "payment_intent.succeeded", "data": {"object": intent}})
        .to_string()
        .into_bytes();
    let sign = |secret: &str, t: i64, b: &[u8]| maef_payments::signature::sign_stripe(secret, t, b);
    let mut changed = body.clone();
    changed.extend_from_slice(b" ");
    let cases: Vec<(&str, String, Vec<u8>)> = vec![
        ("forged", sign("whsec_attacker", now(), &body), body.clone()),
        (
            "stale",
            sign(fake_stripe::WEBHOOK_SECRET, now() - 301, &body),
            body.clone(),
        ),
        (
            "changed after signing",
            sign(fake_stripe::WEBHOOK_SECRET, now(), &body),
            changed,
        ),
        ("missing", String::new(), body.clone()),
        ("malformed", "v1=abc".into(), body.clone()),
    ];
    for (what, signature, sent) in cases {
        let reply = webhook(&app, "stripe", "stripe-signature", &signature, sent).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{what}");
        assert_eq!(reply.problem_code(), "invalid_signature", "{what}");
        assert!(!reply.text().contains("whsec"), "{what}");
    }
    assert_eq!(count(&client, "select count(*) from shop.payment_event").await, 0);
    assert_eq!(
        order_state(&client, &number).await,
        ("awaiting_payment".into(), "pending".into())
    );

    // A rolled secret: two v1, the second under the configured secret.
    let t = now();
    let both = format!(
        "{},{}",
        sign("whsec_new_not_yet_configured", t, &body),
        sign(fake_stripe::WEBHOOK_SECRET, t, &body)
            .split(',')
            .nth(1)
            .unwrap()
    );
    let reply = webhook(&app, "stripe", "stripe-signature", &both, body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        order_state(&client, &number).await,
        ("paid".into(), "paid".into())
    );

    // Unconfigured providers have no webhook.
    let fedapay = webhook(&app, "fedapay", "x-fedapay-signature", "t=1,s=00", b"{}".to_vec()).await;
    assert_eq!(fedapay.status, StatusCode::NOT_FOUND);
    assert_eq!(fedapay.problem_code(), "payment_provider_not_configured");
}

#[tokio::test]
async fn a_webhook_delivered_ten_times_at_once_has_one_effect_and_late_or_unknown_events_change_nothing() {
    let stripe = FakeStripe::start().await;
    let app = app_with(stripe.env()).await;
    let client = app.db.connect().await;
    let variant = shop(&client, 5).await;
    let (number, token, _) = guest_order(&client, variant, 1, "XOF", "SN").await;
    let paid = pay(&app, &number, &token, Some("k"), "stripe").await;
    let pi = paid.json()["next_action"]["client_secret"]
        .as_str()
        .unwrap()
        .split("_secret_")
        .next()
        .unwrap()
        .to_string();
    let intent = stripe.set_status(&pi, "succeeded", None);
    let (body, signature) = FakeStripe::event(
        "evt_once",
        "payment_intent.succeeded",
        &intent,
        fake_stripe::WEBHOOK_SECRET,
        now(),
    );
    let replies =
        join_all((0..10).map(|_| webhook(&app, "stripe", "stripe-signature", &signature, body.clone())))
            .await;
    let outcomes: Vec<String> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, StatusCode::OK, "{}", r.text());
            r.json()["outcome"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(
        outcomes.iter().filter(|o| *o == "applied").count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes.iter().filter(|o| *o == "duplicate").count(),
        9,
        "{outcomes:?}"
    );
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.event where type = 'order.paid'"
        )
        .await,
        1
    );
    assert_eq!(on_hand(&client, variant).await, (4, 0));

    // A late `processing` (another event id) is stored and does not undo the success.
    let mut processing = intent.clone();
    processing["status"] = json!("processing");
    let late = stripe_event(&app, "evt_late", "payment_intent.processing", &processing).await;
    assert_eq!(late.json()["outcome"], "stale");
    let failed = stripe_event(
        &app,
        "evt_late_fail",
        "payment_intent.payment_failed",
        &processing,
    )
    .await;
    assert_eq!(failed.json()["outcome"], "stale");
    let status: String = client
        .query_one("select status from shop.payment", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(status, "succeeded");

    // Unknown types and unknown payments are stored and answered 200.
    let other = stripe_event(
        &app,
        "evt_other",
        "customer.created",
        &json!({"id": "cus_1", "object": "customer"}),
    )
    .await;
    assert_eq!(other.json()["outcome"], "ignored");
    let mut stranger = intent.clone();
    stranger["id"] = json!("pi_not_ours");
    stranger["metadata"] = json!({});
    let unknown = stripe_event(&app, "evt_stranger", "payment_intent.succeeded", &stranger).await;
    assert_eq!(unknown.json()["outcome"], "unknown_payment");
    assert_eq!(count(&client, "select count(*) from shop.payment_event").await, 5);
    assert_payments_consistent(&client).await;
}

#[tokio::test]
async fn an_amount_mismatch_leaves_the_order_unpaid_flags_the_payment_and_is_audited() {
    let stripe = FakeStripe::start().await;
    let app = app_with(stripe.env()).await;
    let client = app.db.connect().await;
    let variant = shop(&client, 5).await;
    let (number, token, _) = guest_order(&client, variant, 1, "XOF", "SN").await;
    let paid = pay(&app, &number, &token, Some("k"), "stripe").await;
    let pi = paid.json()["next_action"]["client_secret"]
        .as_str()
        .unwrap()
        .split("_secret_")
        .next()
        .unwrap()
        .to_string();
    let intent = stripe.set_status(&pi, "succeeded", Some(100));
    let reply = stripe_event(&app, "evt_short", "payment_intent.succeeded", &intent).await;
    assert_eq!(reply.json()["outcome"], "needs_review:amount_mismatch");
    assert_eq!(
        order_state(&client, &number).await,
        ("awaiting_payment".into(), "pending".into())
    );
    let row = client
        .query_one(
            "select status, review_reason, amount_received from shop.payment",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            row.get::<_, String>(0),
            row.get::<_, String>(1),
            row.get::<_, i64>(2)
        ),
        ("needs_review".into(), "amount_mismatch".into(), 100)
    );
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.audit_log where action = 'payment.needs_review'"
        )
        .await,
        1
    );
    assert_eq!(on_hand(&client, variant).await, (5, 1), "still only reserved");
    let problems = count(
        &client,
        "select count(*) from report.payment_problems where problem = 'needs_review'",
    )
    .await;
    assert_eq!(problems, 1);
}

#[tokio::test]
async fn provider_failures_are_502_naming_the_provider_and_a_retry_reaches_it_with_the_same_key() {
    let stripe = FakeStripe::start().await;
    let app = app_with(stripe.env()).await;
    let client = app.db.connect().await;
    let variant = shop(&client, 5).await;
    let (number, token, _) = guest_order(&client, variant, 1, "XOF", "SN").await;

    // A timeout: 502, the payment stays pending (Stripe may have created it).
    stripe.faults.push(Fault::Delay(Duration::from_secs(3)));
    let slow = pay(&app, &number, &token, Some("retry-me"), "stripe").await;
    assert_eq!(slow.status, StatusCode::BAD_GATEWAY, "{}", slow.text());
    assert_eq!(slow.problem_code(), "payment_provider_unreachable");
    assert!(slow.json()["message"].as_str().unwrap().contains("stripe"));
    let status: String = client
        .query_one("select status from shop.payment", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(status, "pending");

    // A 500 with Stripe's envelope: 502 naming its code.
    stripe.faults.push(Fault::Status(
        500,
        json!({"error": {"type": "api_error", "message": "Something went wrong"}}),
    ));
    let broken = pay(&app, &number, &token, Some("retry-me"), "stripe").await;
    assert_eq!(broken.status, StatusCode::BAD_GATEWAY);
    assert_eq!(broken.problem_code(), "payment_provider_error");
    let details: Value = serde_json::from_str(broken.json()["details"].as_str().unwrap()).unwrap();
    assert_eq!(
        details,
        json!({"provider": "stripe", "provider_code": "api_error", "http_status": 500})
    );

    // The retry with the same key: the same payment row, the same Idempotency-Key at Stripe.
    let ok = pay(&app, &number, &token, Some("retry-me"), "stripe").await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text());
    let keys: Vec<Option<String>> = stripe
        .state
        .lock()
        .unwrap()
        .calls
        .iter()
        .map(|c| c.1.clone())
        .collect();
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().all(|k| k == &keys[0]), "{keys:?}");
    assert_eq!(count(&client, "select count(*) from shop.payment").await, 1);
    assert_eq!(
        count(&client, "select attempt::bigint from shop.payment").await,
        3
    );

    // A refusal (4xx envelope) fails the payment; a new attempt (new key) is allowed.
    let (number2, token2, _) = guest_order(&client, variant, 1, "XOF", "SN").await;
    stripe.faults.push(Fault::Status(
        402,
        json!({"error": {"type": "card_error", "code": "card_declined", "message": "Declined"}}),
    ));
    let refused = pay(&app, &number2, &token2, Some("a"), "stripe").await;
    assert_eq!(refused.problem_code(), "payment_provider_refused");
    assert_eq!(
        order_state(&client, &number2).await.1,
        "none",
        "the failed attempt gave the order back its state"
    );
    let second = pay(&app, &number2, &token2, Some("b"), "stripe").await;
    assert_eq!(second.status, StatusCode::CREATED);
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.payment where status = 'failed'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn bad_payment_requests_are_clear_4xx_before_any_provider_call() {
    let stripe = FakeStripe::start().await;
    let fedapay = FakeFedapay::start().await;
    let mut env = stripe.env();
    env.extend(fedapay.env());
    let app = app_with(env).await;
    let client = app.db.connect().await;
    let variant = shop(&client, 5).await;
    let (number, token, _) = guest_order(&client, variant, 1, "EUR", "FR").await;
    let cases: Vec<(Option<&str>, &str, &str, StatusCode, &str)> = vec![
        (
            Some("k1"),
            "fedapay",
            &token,
            StatusCode::UNPROCESSABLE_ENTITY,
            "currency_not_supported",
        ),
        (
            Some("k2"),
            "paystack",
            &token,
            StatusCode::UNPROCESSABLE_ENTITY,
            "payment_provider_unavailable",
        ),
        (
            Some("k3"),
            "cash_on_delivery",
            &token,
            StatusCode::UNPROCESSABLE_ENTITY,
            "cash_on_delivery_unavailable",
        ),
        (
            None,
            "stripe",
            &token,
            StatusCode::BAD_REQUEST,
            "idempotency_key_required",
        ),
        (
            Some("k4"),
            "stripe",
            "wrong-token",
            StatusCode::NOT_FOUND,
            "order_not_found",
        ),
        (
            Some("k5"),
            "bitcoin",
            &token,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
    ];
    for (key, provider, token, status, code) in cases {
        let reply = pay(&app, &number, token, key, provider).await;
        assert_eq!(reply.status, status, "{provider}: {}", reply.text());
        assert_eq!(reply.problem_code(), code, "{provider}");
    }
    assert_eq!(
        fedapay.calls_to("POST /v1/transactions"),
        0,
        "refused before any call"
    );
    assert_eq!(stripe.calls_to("POST /v1/payment_intents"), 0);
    assert_eq!(count(&client, "select count(*) from shop.payment").await, 0);
    // The same key for another body.
    assert_eq!(
        pay(&app, &number, &token, Some("k"), "stripe").await.status,
        StatusCode::CREATED
    );
    let reused = pay(&app, &number, &token, Some("k"), "cash_on_delivery").await;
    assert_eq!(reused.problem_code(), "idempotency_key_reused");
    // A paid order is not payable again.
    client.execute("update shop.customer_order set status = 'expired', payment_status = 'none', reservation_expires_at = null", &[]).await.ok();
    let closed = pay(&app, &number, &token, Some("k9"), "stripe").await;
    assert_eq!(closed.status, StatusCode::CONFLICT, "{}", closed.text());
    assert_eq!(closed.problem_code(), "order_not_payable");
}

// ---------------------------------------------------------------- cash on delivery

#[tokio::test]
async fn cash_on_delivery_confirms_the_order_and_staff_mark_it_paid() {
    let app = app_with(Vec::new()).await;
    let client = app.db.connect().await;
    let variant = shop(&client, 5).await;
    let (number, token, _) = guest_order(&client, variant, 1, "XOF", "SN").await;
    let chosen = pay(&app, &number, &token, Some("cod"), "cash_on_delivery").await;
    assert_eq!(chosen.status, StatusCode::CREATED, "{}", chosen.text());
    assert_eq!(chosen.json()["next_action"]["type"], "none");
    assert_eq!(chosen.json()["order"]["status"], "confirmed");
    let expires: Option<std::time::SystemTime> = client
        .query_one("select reservation_expires_at from shop.customer_order", &[])
        .await
        .unwrap()
        .get(0);
    assert!(expires.is_none(), "its reservations no longer expire");
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.email_message where kind = 'order_confirmation'"
        )
        .await,
        1
    );

    // Too big for cash on delivery (limit 50,000 XOF): 4 × 15,000 + 2,000.
    let (big, big_token, _) = guest_order(&client, variant, 4, "XOF", "SN").await;
    let refused = pay(&app, &big, &big_token, Some("cod"), "cash_on_delivery").await;
    assert_eq!(
        refused.problem_code(),
        "cash_on_delivery_unavailable",
        "{}",
        refused.text()
    );

    let customer = signed_in(&app, "ada@example.com", None).await;
    let forbidden = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/orders/{number}/mark-paid"),
            Some(&customer),
            Some(json!({})),
        )
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    let staff = signed_in(&app, "boss@example.com", Some("manager")).await;
    let marked = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/orders/{number}/mark-paid"),
            Some(&staff),
            Some(json!({"note": "Courier brought 17,000"})),
        )
        .await;
    assert_eq!(marked.status, StatusCode::OK, "{}", marked.text());
    assert_eq!(
        order_state(&client, &number).await,
        ("paid".into(), "paid".into())
    );
    // The answer shows the order as it now is: paid, its money captured.
    let answer = marked.json();
    assert_eq!(
        (
            &answer["order"]["status"],
            &answer["order"]["payment_status"],
            &answer["payments"][0]["status"]
        ),
        (&json!("paid"), &json!("paid"), &json!("succeeded")),
        "{answer}"
    );
    assert_eq!(answer["captured"], answer["order"]["grand_total"]);
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.audit_log where action = 'order.mark_paid'"
        )
        .await,
        1
    );
    let again = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/orders/{number}/mark-paid"),
            Some(&staff),
            Some(json!({})),
        )
        .await;
    assert_eq!(again.problem_code(), "not_cash_on_delivery");

    // A cash refund is recorded as manual and settled at once.
    let refunded = refund(
        &app,
        &staff,
        &number,
        "cash-back",
        json!({"amount": 5000, "reason": "damaged"}),
    )
    .await;
    assert_eq!(refunded.status, StatusCode::CREATED, "{}", refunded.text());
    assert_eq!(refunded.json()["refund"]["method"], "manual");
    assert_eq!(refunded.json()["refund"]["status"], "succeeded");
    assert_eq!(refunded.json()["order"]["payment_status"], "partially_refunded");
    assert_payments_consistent(&client).await;
}

// ---------------------------------------------------------------- FedaPay and Paystack

#[tokio::test]
async fn fedapay_webhooks_are_verified_by_re_fetching_and_refunds_are_manual() {
    let fedapay = FakeFedapay::start().await;
    let app = app_with(fedapay.env()).await;
    let client = app.db.connect().await;
    maef_tests::disable_schedules(&client).await;
    let variant = shop(&client, 5).await;
    let (number, token, total) = guest_order(&client, variant, 1, "XOF", "SN").await;
    let paid = pay(&app, &number, &token, Some("fp"), "fedapay").await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.text());
    let next = paid.json()["next_action"].clone();
    assert_eq!(next["type"], "redirect");
    let id: i64 = next["reference"].as_str().unwrap().parse().unwrap();
    assert_eq!(next["url"], format!("https://process.fedapay.com/{id}"));
    assert_eq!(fedapay.calls_to("POST /v1/transactions"), 1);
    assert_eq!(fedapay.calls_to("POST /v1/transactions/token"), 1);
    let sent = fedapay.state.lock().unwrap().transactions[&id].clone();
    assert_eq!(
        (sent["amount"].as_i64(), sent["currency"]["iso"].as_str()),
        (Some(total), Some("XOF"))
    );

    // The webhook alone does not pay the order: it enqueues the re-fetch.
    let approved = fedapay.set_status(id, "approved");
    let (body, signature) = FakeFedapay::event(
        "transaction.approved",
        &approved,
        fake_fedapay::WEBHOOK_SECRET,
        now(),
    );
    let reply = webhook(&app, "fedapay", "x-fedapay-signature", &signature, body.clone()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["outcome"], "verification_enqueued");
    assert_eq!(order_state(&client, &number).await.1, "pending");
    let stale = FakeFedapay::event(
        "transaction.approved",
        &approved,
        fake_fedapay::WEBHOOK_SECRET,
        now() - 400,
    );
    assert_eq!(
        webhook(&app, "fedapay", "x-fedapay-signature", &stale.1, stale.0)
            .await
            .problem_code(),
        "invalid_signature"
    );

    let _worker = worker_pays(&app, &client, &number, fedapay.env(), "payments-fedapay").await;
    assert_eq!(fedapay.calls_to("GET /v1/transactions"), 1);
    assert_eq!(on_hand(&client, variant).await, (4, 0));

    // No refund API: recorded as manual, no call.
    let staff = signed_in(&app, "boss@example.com", Some("manager")).await;
    let r = refund(
        &app,
        &staff,
        &number,
        "fp-r",
        json!({"amount": total, "reason": "MTN refund in the dashboard"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["refund"]["method"], "manual");
    assert_eq!(order_state(&client, &number).await.1, "refunded");
    assert_eq!(
        fedapay
            .state
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|c| c.contains("refund"))
            .count(),
        0
    );
    assert_payments_consistent(&client).await;
}

#[tokio::test]
async fn paystack_pays_after_verify_and_refunds_follow_its_webhooks() {
    let paystack = FakePaystack::start().await;
    let app = app_with(paystack.env()).await;
    let client = app.db.connect().await;
    maef_tests::disable_schedules(&client).await;
    let variant = shop(&client, 5).await;
    let (number, token, total) = guest_order(&client, variant, 1, "NGN", "NG").await;
    assert_eq!(total, 900_000 + 150_000);
    let paid = pay(&app, &number, &token, Some("ps"), "paystack").await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.text());
    let reference = paid.json()["next_action"]["reference"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reference.starts_with("maef-") && reference.ends_with("-1"),
        "{reference}"
    );
    assert!(paid.json()["next_action"]["url"]
        .as_str()
        .unwrap()
        .starts_with("https://checkout.paystack.com/"));

    let success = paystack.set_status(&reference, "success");
    let (body, signature) = FakePaystack::event("charge.success", &success, fake_paystack::SECRET_KEY);
    let forged = maef_payments::signature::sign_paystack("sk_test_other", &body);
    assert_eq!(
        webhook(&app, "paystack", "x-paystack-signature", &forged, body.clone())
            .await
            .problem_code(),
        "invalid_signature"
    );
    let first = webhook(&app, "paystack", "x-paystack-signature", &signature, body.clone()).await;
    assert_eq!(first.json()["outcome"], "verification_enqueued");
    let replayed = webhook(&app, "paystack", "x-paystack-signature", &signature, body).await;
    assert_eq!(
        replayed.json()["outcome"],
        "duplicate",
        "no event id: event, reference and status are its identity"
    );

    let _worker = worker_pays(&app, &client, &number, paystack.env(), "payments-paystack").await;
    assert_eq!(paystack.calls_to("GET /transaction/verify"), 1);

    // A partial refund is queued at Paystack; its webhook settles it.
    let staff = signed_in(&app, "boss@example.com", Some("manager")).await;
    let r = refund(
        &app,
        &staff,
        &number,
        "ps-r",
        json!({"shipping": true, "reason": "late delivery"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["refund"]["status"], "pending");
    assert_eq!(r.json()["refund"]["amount"], 150_000);
    assert_eq!(order_state(&client, &number).await.1, "paid");
    let (body, signature) = FakePaystack::event(
        "refund.processed",
        &json!({"status": "processed", "transaction_reference": reference, "refund_reference": "132013318360",
                "amount": "150000", "currency": "NGN", "processor": "mpgs_zen", "integration": 412829, "domain": "test"}),
        fake_paystack::SECRET_KEY,
    );
    let settled = webhook(&app, "paystack", "x-paystack-signature", &signature, body).await;
    assert_eq!(settled.json()["outcome"], "applied", "{}", settled.text());
    assert_eq!(order_state(&client, &number).await.1, "partially_refunded");
    assert_payments_consistent(&client).await;
}

#[tokio::test]
async fn a_lost_webhook_is_caught_by_reconciliation() {
    let stripe = FakeStripe::start().await;
    let app = app_with(stripe.env()).await;
    let client = app.db.connect().await;
    maef_tests::disable_schedules(&client).await;
    let variant = shop(&client, 5).await;
    let (number, token, _) = guest_order(&client, variant, 1, "XOF", "SN").await;
    let paid = pay(&app, &number, &token, Some("k"), "stripe").await;
    let pi = paid.json()["next_action"]["client_secret"]
        .as_str()
        .unwrap()
        .split("_secret_")
        .next()
        .unwrap()
        .to_string();
    stripe.set_status(&pi, "succeeded", None);
    // The webhook never comes; the payment is older than payments.reconcile_after_secs.
    let none = count(&client, "select api.enqueue_payment_reconciliation()::bigint").await;
    assert_eq!(none, 0, "too young to reconcile");
    client
        .execute(
            "update shop.payment set created_at = now() - interval '11 minutes'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        count(&client, "select api.enqueue_payment_reconciliation()::bigint").await,
        1
    );
    assert_eq!(
        count(&client, "select api.enqueue_payment_reconciliation()::bigint").await,
        0,
        "checked once per period"
    );
    let refs: Vec<(String, String)> = stripe.env();
    let refs: Vec<(&str, &str)> = refs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let _worker = WorkerProcess::spawn(&app.db.url, "payments-reconcile", &refs);
    eventually(
        Duration::from_secs(30),
        "the order paid by reconciliation",
        || {
            let (client, number) = (&client, &number);
            async move { order_state(client, number).await.0 == "paid" }
        },
    )
    .await;
    assert_eq!(stripe.calls_to("GET /v1/payment_intents"), 1);
    assert_payments_consistent(&client).await;
    assert_consistent(&client).await;
}

#[tokio::test]
async fn a_pending_stripe_refund_follows_its_refund_events_forward_only() {
    let stripe = FakeStripe::start().await;
    stripe.state.lock().unwrap().refund_status = Some("pending".into());
    let app = app_with(stripe.env()).await;
    let client = app.db.connect().await;
    let variant = shop(&client, 5).await;
    let (number, token, _) = guest_order(&client, variant, 1, "XOF", "SN").await;
    let paid = pay(&app, &number, &token, Some("k"), "stripe").await;
    let pi = paid.json()["next_action"]["client_secret"]
        .as_str()
        .unwrap()
        .split("_secret_")
        .next()
        .unwrap()
        .to_string();
    let intent = stripe.set_status(&pi, "succeeded", None);
    assert_eq!(
        stripe_event(&app, "evt_p", "payment_intent.succeeded", &intent)
            .await
            .json()["outcome"],
        "applied"
    );
    let staff = signed_in(&app, "boss@example.com", Some("manager")).await;
    let r = refund(
        &app,
        &staff,
        &number,
        "r",
        json!({"amount": 5000, "reason": "goodwill"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["refund"]["status"], "pending");
    assert_eq!(
        order_state(&client, &number).await.1,
        "paid",
        "nothing refunded yet"
    );
    let re = stripe
        .state
        .lock()
        .unwrap()
        .refunds
        .values()
        .next()
        .unwrap()
        .clone();

    // Without our metadata, the refund is found by Stripe's id.
    let mut succeeded = re.clone();
    succeeded["status"] = json!("succeeded");
    succeeded["metadata"] = json!({});
    let applied = stripe_event(&app, "evt_r1", "refund.updated", &succeeded).await;
    assert_eq!(applied.json()["outcome"], "applied", "{}", applied.text());
    assert_eq!(order_state(&client, &number).await.1, "partially_refunded");
    let mut failed = re.clone();
    failed["status"] = json!("failed");
    let late = stripe_event(&app, "evt_r2", "refund.failed", &failed).await;
    assert_eq!(late.json()["outcome"], "stale");
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.refund where status = 'succeeded'"
        )
        .await,
        1
    );
    assert_payments_consistent(&client).await;
}
