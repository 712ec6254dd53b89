//! `make bench-payments`: the figures issue 16 names, on this machine, in one run, over
//! real HTTP (maef-api's router served on a local port, reqwest clients):
//!
//! 1. **Verified Stripe webhooks applied per second, 8 connections**: each a
//!    `payment_intent.succeeded` for its own payment — signature checked, event stored,
//!    payment succeeded, order paid, events and e-mail written. Baselines in the same
//!    run: the same requests with a forged signature (HTTP and the HMAC, no database),
//!    and the same events delivered again (signature, then the duplicate found).
//! 2. **`POST /api/v1/orders/{number}/payments` with and without a provider call**:
//!    Stripe against the fake of the tests (`maef_tests::fake_stripe`, on this machine:
//!    begin, the call, record — two transactions) and cash on delivery (no call: one
//!    transaction, which also confirms the order), sequential and interleaved after a
//!    warm-up of each, p50 and p95.
//!
//! Figures are printed, never asserted. `BENCH_PAYMENTS_EVENTS` (2000) and
//! `BENCH_PAYMENTS_REQUESTS` (200) size the runs. Run by `scripts/bench-payments.sh`.

use std::{
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use futures::{stream, StreamExt};
use maef_tests::{
    fake_stripe::{self, FakeStripe},
    http::test_config,
    TestDb,
};
use serde_json::json;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Sends `bodies` (body, signature) with 8 concurrent connections; (requests/s, p50, p95).
async fn fire(
    http: &reqwest::Client,
    url: &str,
    requests: Vec<(Vec<u8>, String)>,
    expect: u16,
) -> (f64, f64, f64) {
    let started = Instant::now();
    let mut latencies: Vec<Duration> = stream::iter(requests)
        .map(|(body, signature)| async move {
            let t = Instant::now();
            let response = http
                .post(url)
                .header("content-type", "application/json")
                .header("stripe-signature", signature)
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status().as_u16(),
                expect,
                "{}",
                response.text().await.unwrap_or_default()
            );
            t.elapsed()
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let rate = latencies.len() as f64 / started.elapsed().as_secs_f64();
    latencies.sort();
    (rate, percentile(&latencies, 0.5), percentile(&latencies, 0.95))
}

/// `n` orders awaiting payment of 17,000 XOF, each with a pending Stripe payment
/// `pi_bench_<i>`: rows as checkout and `api.payment_begin` write them, in bulk.
async fn seed(client: &tokio_postgres::Client, n: i64, prefix: &str) -> Vec<(String, String)> {
    client
        .query(
            "with o as (insert into shop.customer_order (email, currency_code, subtotal_amount, shipping_amount, total_amount,
                                                         placed_at, reservation_expires_at)
                        select 'b' || i || '@example.com', 'XOF', 15000, 2000, 17000, now(), now() + interval '1 hour'
                        from generate_series(1, $1::bigint) i returning order_id, email)
             insert into shop.payment (order_id, provider, provider_ref, amount, currency_code, request_key, attempt)
             select order_id, 'stripe', $2 || split_part(email, '@', 1), 17000, 'XOF', 'bench:' || email, 1 from o
             returning payment_id::text, provider_ref",
            &[&n, &prefix],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn events(payments: &[(String, String)], secret: &str) -> Vec<(Vec<u8>, String)> {
    payments
        .iter()
        .enumerate()
        .map(|(i, (payment_id, pi))| {
            let intent = json!({"id": pi, "object": "payment_intent", "amount": 17000, "amount_received": 17000,
                                "currency": "xof", "status": "succeeded", "metadata": {"payment_id": payment_id}});
            FakeStripe::event(&format!("evt_bench_{i}_{pi}"), "payment_intent.succeeded", &intent, secret, now())
        })
        .collect()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let n_events = env_number("BENCH_PAYMENTS_EVENTS", 2000) as i64;
    let n_requests = env_number("BENCH_PAYMENTS_REQUESTS", 200);
    let stripe = FakeStripe::start().await;
    let db = TestDb::new().await;
    let client = db.connect().await;
    client
        .batch_execute(
            "update shop.job_schedule set enabled = false;
             update shop.setting set value = '\"SN\"' where key = 'payments.cod_countries';",
        )
        .await
        .unwrap();
    let mut vars: Vec<(String, String)> = stripe.env();
    vars.extend([
        ("DB_POOL_SIZE".into(), "16".into()),
        ("MAX_BODY_BYTES".into(), "65536".into()),
    ]);
    let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let config = test_config(&db.url, &refs);
    let app = maef_tests::http::router_for(&config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap();
    });
    let http = Arc::new(
        reqwest::Client::builder()
            .pool_max_idle_per_host(8)
            .build()
            .unwrap(),
    );
    let url = format!("http://{addr}/api/v1/webhooks/stripe");

    println!(
        "== bench-payments ({n_events} events, {n_requests} payment requests), load {}",
        load_average()
    );
    // Warm-up: connections, prepared statements.
    let warm = seed(&client, 50, "pi_warm_").await;
    fire(&http, &url, events(&warm, fake_stripe::WEBHOOK_SECRET), 200).await;

    let payments = seed(&client, n_events, "pi_bench_").await;
    let forged = events(&payments, "whsec_forged");
    let (rate, p50, p95) = fire(&http, &url, forged, 400).await;
    println!("1a. forged signature (refused, no database): {rate:>8.0} req/s  p50 {p50:.2} ms  p95 {p95:.2} ms  load {}", load_average());
    let genuine = events(&payments, fake_stripe::WEBHOOK_SECRET);
    let (rate, p50, p95) = fire(&http, &url, genuine.clone(), 200).await;
    println!("1b. verified events applied (order paid):    {rate:>8.0} ev/s   p50 {p50:.2} ms  p95 {p95:.2} ms  load {}", load_average());
    let (rate, p50, p95) = fire(&http, &url, genuine, 200).await;
    println!("1c. the same events again (duplicates):      {rate:>8.0} ev/s   p50 {p50:.2} ms  p95 {p95:.2} ms  load {}", load_average());
    let paid: i64 = client
        .query_one(
            "select count(*) from shop.customer_order where status = 'paid'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    println!("    orders paid: {paid} (expected {})", n_events + 50);

    // 2. Payment requests: cash on delivery (no provider call) and Stripe (the fake),
    // alternately, after WARM_UP requests of each (prepared statements, the fake's and
    // the pool's connections), so that neither pays for the other's cold start.
    const WARM_UP: usize = 20;
    let per_kind = n_requests + WARM_UP;
    let orders: Vec<(String, String)> = {
        let rows = client
            .query(
                "insert into shop.customer_order (email, currency_code, subtotal_amount, shipping_amount, total_amount,
                                                  placed_at, reservation_expires_at, access_token_hash, shipping_address)
                 select 'p' || i || '@example.com', 'XOF', 15000, 2000, 17000, now(), now() + interval '1 hour',
                        encode(sha256(convert_to('tok' || i, 'UTF8')), 'hex'), '{\"country\": \"SN\", \"full_name\": \"Awa\"}'
                 from generate_series(1, $1::bigint) i returning order_number, email",
                &[&(2 * per_kind as i64)],
            )
            .await
            .unwrap();
        rows.iter()
            .map(|r| {
                let email: String = r.get(1);
                (
                    r.get(0),
                    format!("tok{}", email.trim_start_matches('p').split('@').next().unwrap()),
                )
            })
            .collect()
    };
    let kinds = ["cash_on_delivery", "stripe"];
    let mut latencies: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    for (i, pair) in orders.chunks(2).enumerate() {
        for (k, (number, token)) in pair.iter().enumerate() {
            let t = Instant::now();
            let response = http
                .post(format!("http://{addr}/api/v1/orders/{number}/payments"))
                .header("content-type", "application/json")
                .header("x-order-token", token)
                .header("idempotency-key", format!("bench-{number}"))
                .body(json!({"provider": kinds[k]}).to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status().as_u16(),
                201,
                "{}",
                response.text().await.unwrap_or_default()
            );
            if i >= WARM_UP {
                latencies[k].push(t.elapsed());
            }
        }
    }
    let labels = ["cash on delivery (no call)", "stripe (fake, local)      "];
    for (label, mut kind) in labels.into_iter().zip(latencies) {
        kind.sort();
        println!(
            "2.  POST …/payments, {label}: p50 {:.2} ms  p95 {:.2} ms  load {}",
            percentile(&kind, 0.5),
            percentile(&kind, 0.95),
            load_average()
        );
    }
    // The database is dropped by the script once this process (and its pool) is gone.
    drop(client);
}
