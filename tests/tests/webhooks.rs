//! Outbound webhooks end to end: endpoints over HTTP, deliveries by real maef-worker
//! processes to a local receiver, signatures checked with an implementation written
//! here from the Standard Webhooks specification, retries and their schedule, the
//! retry window, disabling, redelivery, secret rotation, SSRF refusals when saving and
//! when delivering, and two workers delivering each event once per endpoint.

use std::{collections::HashMap, time::Duration};

use axum::http::{Method, StatusCode};
use base64::{engine::general_purpose::STANDARD, Engine};
use hmac::{Hmac, Mac};
use maef_tests::{
    count, eventually,
    fakes::{WebhookReceiver, WebhookRequest},
    http::TestApp,
    WorkerProcess,
};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio_postgres::{Client, GenericClient};

const PASSWORD: &str = "correct horse battery";

/// Tests that run worker processes take turns, two at a time.
static PROCESS_TESTS: Semaphore = Semaphore::const_new(2);

async fn turn() -> SemaphorePermit<'static> {
    PROCESS_TESTS.acquire().await.unwrap()
}

/// An app that accepts local receivers (`WEBHOOK_ALLOW_PRIVATE=1`), and an admin token.
async fn app_and_admin() -> (TestApp, String) {
    let app = TestApp::with(&[("WEBHOOK_ALLOW_PRIVATE", "1")]).await;
    let admin = app
        .token_with_role("admin@example.com", PASSWORD, Some("admin"))
        .await;
    maef_tests::disable_schedules(&app.db.connect().await).await;
    (app, admin)
}

/// A worker delivering to local receivers, polling often.
fn worker(app: &TestApp, id: &str) -> WorkerProcess {
    WorkerProcess::spawn(
        &app.db.url,
        id,
        &[("WEBHOOK_ALLOW_PRIVATE", "1"), ("WORKER_POLL_MS", "100")],
    )
}

async fn create_endpoint(app: &TestApp, admin: &str, url: &str, types: Value) -> Value {
    let created = app
        .call(
            Method::POST,
            "/api/v1/admin/webhook-endpoints",
            Some(admin),
            Some(json!({"url": url, "event_types": types})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    created.json()
}

/// Emits an event the way a domain does, in its own transaction.
async fn emit(client: &impl GenericClient, kind: &str, aggregate_id: &str) -> i64 {
    client
        .query_one(
            "select api._emit_event($1::text, 'variant', $2::text, jsonb_build_object('variant_id', $2::text, 'available', 3))",
            &[&kind, &aggregate_id],
        )
        .await
        .unwrap()
        .get(0)
}

async fn set(client: &Client, key: &str, value: i64) {
    let changed = client
        .execute(
            "update shop.setting set value = to_jsonb($2::bigint) where key = $1",
            &[&key, &value],
        )
        .await
        .unwrap();
    assert_eq!(changed, 1, "{key}");
}

/// The Standard Webhooks verification, written from the specification: the key is the
/// base64-decoded part of the secret after `whsec_`; the signed content is
/// `{webhook-id}.{webhook-timestamp}.{body}`; HMAC-SHA256; `v1,<base64>` entries
/// separated by spaces. Returns, per `v1` entry of the header, whether it matches.
fn signature_matches(secret: &str, request: &WebhookRequest) -> Vec<bool> {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let mut signed = format!(
        "{}.{}.",
        request.header("webhook-id"),
        request.header("webhook-timestamp")
    )
    .into_bytes();
    signed.extend_from_slice(&request.body);
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(&signed);
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    request
        .header("webhook-signature")
        .split(' ')
        .map(|entry| {
            entry
                .split_once(',')
                .is_some_and(|(v, sig)| v == "v1" && sig == expected)
        })
        .collect()
}

fn assert_fresh_timestamp(request: &WebhookRequest) {
    let ts: i64 = request.header("webhook-timestamp").parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (now - ts).abs() <= 300,
        "timestamp {ts} is not within 5 minutes of {now}"
    );
}

async fn wait_requests(receiver: &WebhookReceiver, n: usize, what: &str) -> Vec<WebhookRequest> {
    eventually(Duration::from_secs(60), what, || async {
        receiver.requests().len() >= n
    })
    .await;
    receiver.requests()
}

#[tokio::test]
async fn admins_create_list_change_and_delete_endpoints_and_see_each_secret_once() {
    let (app, admin) = app_and_admin().await;
    let created = create_endpoint(
        &app,
        &admin,
        "http://127.0.0.1:9/hooks",
        json!(["order.*", "stock.low"]),
    )
    .await;
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(STANDARD.decode(&secret[6..]).unwrap().len(), 32);
    assert_eq!(created["event_types"], json!(["order.*", "stock.low"]));
    assert_eq!(created["enabled"], true);
    let id = created["id"].as_i64().unwrap();

    let list = app
        .call(Method::GET, "/api/v1/admin/webhook-endpoints", Some(&admin), None)
        .await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        !list.text().contains("whsec_"),
        "a listed endpoint shows no secret"
    );
    assert_eq!(list.json()["items"][0]["secrets"].as_array().unwrap().len(), 1);
    let one = app
        .call(
            Method::GET,
            &format!("/api/v1/admin/webhook-endpoints/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(one.status, StatusCode::OK);
    assert!(!one.text().contains("whsec_"));

    let patched = app
        .call(
            Method::PATCH,
            &format!("/api/v1/admin/webhook-endpoints/{id}"),
            Some(&admin),
            Some(json!({"description": "ERP", "event_types": ["*"], "enabled": false})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text());
    let patched = patched.json();
    assert_eq!(
        (patched["description"].as_str(), patched["enabled"].as_bool()),
        (Some("ERP"), Some(false))
    );
    assert_eq!(patched["disabled_reason"], "disabled by an admin");
    let enabled = app
        .call(
            Method::PATCH,
            &format!("/api/v1/admin/webhook-endpoints/{id}"),
            Some(&admin),
            Some(json!({"enabled": true})),
        )
        .await
        .json();
    assert_eq!(
        (enabled["enabled"].as_bool(), enabled["disabled_at"].is_null()),
        (Some(true), true)
    );

    // Bad input: 422 naming the field, nothing written.
    for (body, code) in [
        (json!({"event_types": ["order.teleported"]}), "invalid_field"),
        (json!({"event_types": ["nope.*"]}), "invalid_field"),
        (json!({"event_types": []}), "invalid_field"),
        (json!({"colour": "blue"}), "invalid_body"),
        (json!({"description": "x".repeat(501)}), "invalid_field"),
    ] {
        let refused = app
            .call(
                Method::PATCH,
                &format!("/api/v1/admin/webhook-endpoints/{id}"),
                Some(&admin),
                Some(body),
            )
            .await;
        assert_eq!(
            (refused.status, refused.problem_code().as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, code)
        );
    }
    for (method, path) in [
        (Method::GET, "/api/v1/admin/webhook-endpoints/999999"),
        (Method::DELETE, "/api/v1/admin/webhook-endpoints/999999"),
        (
            Method::POST,
            "/api/v1/admin/webhook-endpoints/999999/rotate-secret",
        ),
        (Method::GET, "/api/v1/admin/webhook-endpoints/999999/deliveries"),
    ] {
        let missing = app.call(method, path, Some(&admin), None).await;
        assert_eq!(
            (missing.status, missing.problem_code().as_str()),
            (StatusCode::NOT_FOUND, "webhook_endpoint_not_found")
        );
    }

    // Only webhooks:write holders (admins) may touch any of it.
    let manager = app
        .token_with_role("manager@example.com", PASSWORD, Some("manager"))
        .await;
    let refused = app
        .call(
            Method::GET,
            "/api/v1/admin/webhook-endpoints",
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(
        (refused.status, refused.problem_code().as_str()),
        (StatusCode::FORBIDDEN, "permission_required")
    );
    let anonymous = app
        .call(
            Method::POST,
            "/api/v1/admin/webhook-endpoints",
            None,
            Some(json!({"url": "http://127.0.0.1:9/"})),
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    let deleted = app
        .call(
            Method::DELETE,
            &format!("/api/v1/admin/webhook-endpoints/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        (deleted.status, deleted.json()["deleted"].as_i64()),
        (StatusCode::OK, Some(id))
    );
    let gone = app
        .call(
            Method::GET,
            &format!("/api/v1/admin/webhook-endpoints/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);

    // Audited, and no secret in the audit log.
    let client = app.db.connect().await;
    let actions: Vec<String> = client
        .query(
            "select action from shop.audit_log where entity = 'webhook_endpoint' order by audit_log_id",
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
            "webhook_endpoint_created",
            "webhook_endpoint_updated",
            "webhook_endpoint_updated",
            "webhook_endpoint_deleted"
        ]
    );
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.audit_log where data::text like '%whsec_%'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn urls_that_are_not_public_https_are_refused_when_saved() {
    let app = TestApp::new().await; // WEBHOOK_ALLOW_PRIVATE unset: production rules
    let admin = app
        .token_with_role("admin@example.com", PASSWORD, Some("admin"))
        .await;
    for url in [
        "https://127.0.0.1/hooks",
        "https://10.0.0.1/hooks",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]:8443/hooks",
        "https://localhost/hooks",
        "https://[::ffff:127.0.0.1]/hooks",
    ] {
        let refused = app
            .call(
                Method::POST,
                "/api/v1/admin/webhook-endpoints",
                Some(&admin),
                Some(json!({"url": url})),
            )
            .await;
        assert_eq!(
            (refused.status, refused.problem_code().as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "webhook_url_not_public"),
            "{url}: {}",
            refused.text()
        );
        assert_eq!(refused.json()["details"], "$.url");
    }
    for (url, code) in [
        ("http://127.0.0.1:9/hooks", "webhook_url_scheme"),
        ("ftp://files.example.com/", "webhook_url_scheme"),
        (
            "https://user:secret@hooks.example.com/",
            "webhook_url_credentials",
        ),
        ("not a url", "webhook_url_invalid"),
    ] {
        let refused = app
            .call(
                Method::POST,
                "/api/v1/admin/webhook-endpoints",
                Some(&admin),
                Some(json!({"url": url})),
            )
            .await;
        assert_eq!(
            (refused.status, refused.problem_code().as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, code),
            "{url}"
        );
    }
    assert_eq!(
        count(
            &app.db.connect().await,
            "select count(*) from shop.webhook_endpoint"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn each_event_is_delivered_signed_per_standard_webhooks_to_the_endpoints_subscribed_to_it() {
    let _turn = turn().await;
    let (app, admin) = app_and_admin().await;
    let receiver = WebhookReceiver::start().await;
    let stock = create_endpoint(&app, &admin, &receiver.url("/stock"), json!(["stock.*"])).await;
    let products = create_endpoint(
        &app,
        &admin,
        &receiver.url("/products"),
        json!(["product.created"]),
    )
    .await;
    let _worker = worker(&app, "w1");
    let client = app.db.connect().await;
    let event_id = emit(&client, "stock.low", "7").await;

    let requests = wait_requests(&receiver, 1, "the stock.low delivery").await;
    let request = &requests[0];
    assert_eq!(request.path, "/stock");
    assert_eq!(request.header("content-type"), "application/json");
    assert_eq!(request.header("webhook-id"), format!("evt_{event_id}"));
    assert_fresh_timestamp(request);
    assert_eq!(
        signature_matches(stock["secret"].as_str().unwrap(), request),
        [true]
    );
    assert_eq!(
        signature_matches(products["secret"].as_str().unwrap(), request),
        [false]
    );
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["id"], format!("evt_{event_id}"));
    assert_eq!(
        (body["type"].as_str(), body["version"].as_i64()),
        (Some("stock.low"), Some(1))
    );
    assert_eq!(body["aggregate"], json!({"type": "variant", "id": "7"}));
    assert_eq!(body["data"], json!({"variant_id": "7", "available": 3}));
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));

    // A real domain change: a product created over HTTP reaches the other endpoint only.
    let created = app
        .call(
            Method::POST,
            "/api/v1/products",
            Some(&admin),
            Some(json!({"title": "Wax dress", "variants": [{"name": "M", "sku": "WAX-M"}]})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let requests = wait_requests(&receiver, 2, "the product.created delivery").await;
    assert_eq!(requests[1].path, "/products");
    assert_eq!(
        signature_matches(products["secret"].as_str().unwrap(), &requests[1]),
        [true]
    );
    let body: Value = serde_json::from_slice(&requests[1].body).unwrap();
    assert_eq!(
        (body["type"].as_str(), body["data"]["title"].as_str()),
        (Some("product.created"), Some("Wax dress"))
    );

    // The delivery log.
    let stock_id = stock["id"].as_i64().unwrap();
    let page = app
        .call(
            Method::GET,
            &format!("/api/v1/admin/webhook-endpoints/{stock_id}/deliveries"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let page = page.json();
    let delivery = &page["items"][0];
    assert_eq!(
        (delivery["status"].as_str(), delivery["attempts"].as_i64()),
        (Some("succeeded"), Some(1))
    );
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let detail = app
        .call(
            Method::GET,
            &format!(
                "/api/v1/admin/webhook-endpoints/{stock_id}/deliveries/{}",
                delivery["id"]
            ),
            Some(&admin),
            None,
        )
        .await
        .json();
    let attempt = &detail["attempts_log"][0];
    assert_eq!(
        (
            attempt["status_code"].as_i64(),
            attempt["response_excerpt"].as_str()
        ),
        (Some(200), Some("answered 200"))
    );
    assert!(attempt["latency_ms"].as_i64().unwrap() >= 0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.requests().len(), 2, "nothing else was sent");
}

#[tokio::test]
async fn a_failing_endpoint_is_retried_with_growing_delays_until_it_answers() {
    let _turn = turn().await;
    let (app, admin) = app_and_admin().await;
    let client = app.db.connect().await;
    set(&client, "webhooks.retry_base_secs", 1).await;
    let receiver = WebhookReceiver::start().await;
    receiver.answer(&[500, 503]);
    let endpoint = create_endpoint(&app, &admin, &receiver.url("/flaky"), json!(["*"])).await;
    let _worker = worker(&app, "w1");
    emit(&client, "stock.low", "1").await;
    let requests = wait_requests(&receiver, 3, "three attempts").await;
    assert!(requests.iter().all(|r| r.header("webhook-id") == requests[0].header("webhook-id") && r.body == requests[0].body),
            "every retry carries the same id and body");
    let id = endpoint["id"].as_i64().unwrap();
    eventually(
        Duration::from_secs(10),
        "the delivery recorded as succeeded",
        || async {
            count(
                &client,
                "select count(*) from shop.webhook_delivery where status = 'succeeded'",
            )
            .await
                == 1
        },
    )
    .await;
    let page = app
        .call(
            Method::GET,
            &format!("/api/v1/admin/webhook-endpoints/{id}/deliveries"),
            Some(&admin),
            None,
        )
        .await
        .json();
    let delivery_id = page["items"][0]["id"].as_i64().unwrap();
    let detail = app
        .call(
            Method::GET,
            &format!("/api/v1/admin/webhook-endpoints/{id}/deliveries/{delivery_id}"),
            Some(&admin),
            None,
        )
        .await
        .json();
    let codes: Vec<i64> = detail["attempts_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status_code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [500, 503, 200]);
    assert_eq!(detail["attempts"], 3);
    // Delays: 1 s then 3 s, each ±20%.
    let gaps: Vec<f64> = client
        .query(
            "select extract(epoch from started_at - lag(started_at) over (order by attempt))::float8
             from shop.webhook_attempt where webhook_delivery_id = $1 order by attempt",
            &[&delivery_id],
        )
        .await
        .unwrap()
        .iter()
        .skip(1)
        .map(|r| r.get(0))
        .collect();
    assert!(gaps[0] >= 0.8 && gaps[1] >= 2.4, "gaps {gaps:?}");
    // The endpoint's failure run ended with the success.
    let endpoint = app
        .call(
            Method::GET,
            &format!("/api/v1/admin/webhook-endpoints/{id}"),
            Some(&admin),
            None,
        )
        .await
        .json();
    assert!(
        endpoint["failing_since"].is_null() && !endpoint["last_success_at"].is_null(),
        "{endpoint}"
    );
}

/// Sets a deliver_webhook job due and claims it as worker "t", as maef-worker would;
/// returns (job id, attempt).
async fn claim(client: &Client) -> (i64, i32) {
    client
        .execute(
            "update shop.job_queue set run_at = now() where kind = 'deliver_webhook' and status = 'pending'",
            &[],
        )
        .await
        .unwrap();
    let row = client
        .query_one(
            "select job_id, attempt from api.claim_jobs('t', array['deliver_webhook'])",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

async fn record_failure(client: &Client, delivery: i64, job: (i64, i32), retry_after: Option<i32>) -> Value {
    client
        .query_one(
            "select api.webhook_delivery_record($1, $2, $3, now(), 5, 500, null, 'down', $4)",
            &[&delivery, &job.0, &job.1, &retry_after],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn the_backoff_schedule_triples_with_jitter_honours_retry_after_and_ends_with_the_window() {
    let (app, admin) = app_and_admin().await;
    let client = app.db.connect().await;
    let delays: Vec<f64> = client
        .query(
            "select extract(epoch from api.webhook_retry_delay(n))::float8 from generate_series(1, 12) n",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        delays,
        [5.0, 15.0, 45.0, 135.0, 405.0, 1215.0, 3645.0, 10935.0, 32805.0, 43200.0, 43200.0, 43200.0]
    );

    create_endpoint(&app, &admin, "http://127.0.0.1:9/down", json!(["*"])).await;
    emit(&client, "stock.low", "1").await;
    // The dispatcher, as maef-worker runs it (the event is readable once every older
    // transaction on the server has ended).
    eventually(Duration::from_secs(30), "the event dispatched", || async {
        client
            .query_one("select api.dispatch_events()", &[])
            .await
            .unwrap();
        count(&client, "select count(*) from shop.webhook_delivery").await == 1
    })
    .await;
    let delivery: i64 = client
        .query_one("select webhook_delivery_id from shop.webhook_delivery", &[])
        .await
        .unwrap()
        .get(0);
    let wait_of = |job: i64| {
        let client = &client;
        async move {
            client
                .query_one(
                    "select extract(epoch from run_at - now())::float8 from shop.job_queue where job_id = $1",
                    &[&job],
                )
                .await
                .unwrap()
                .get::<_, f64>(0)
        }
    };
    // A receiver's Retry-After is a floor: 600 s instead of 5 s after attempt 1.
    let job = claim(&client).await;
    client
        .query_one(
            "select api.webhook_delivery_begin($1, $2, $3)",
            &[&delivery, &job.0, &job.1],
        )
        .await
        .unwrap();
    assert_eq!(
        record_failure(&client, delivery, job, Some(600)).await["outcome"],
        "retrying"
    );
    let wait = wait_of(job.0).await;
    assert!(
        (599.0..=600.5).contains(&wait),
        "Retry-After 600 honoured: {wait}"
    );
    // Then failures in a row: each next attempt is due after delay(n) ±20%.
    for n in 2..=8 {
        let job = claim(&client).await;
        let begun: Value = client
            .query_one(
                "select api.webhook_delivery_begin($1, $2, $3)",
                &[&delivery, &job.0, &job.1],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(begun["attempt"], n);
        let outcome = record_failure(&client, delivery, job, None).await;
        assert_eq!(outcome["outcome"], "retrying", "{outcome}");
        let wait = wait_of(job.0).await;
        let base = delays[n as usize - 1];
        assert!(
            wait >= base * 0.8 - 1.0 && wait <= base * 1.2,
            "attempt {n}: waits {wait} s for {base} s ±20%"
        );
    }
    // The window's end: no attempt after it; the delivery fails and the job completes.
    client
        .execute(
            "update shop.webhook_delivery set window_started_at = now() - interval '3 days 1 second'",
            &[],
        )
        .await
        .unwrap();
    let job = claim(&client).await;
    client
        .query_one(
            "select api.webhook_delivery_begin($1, $2, $3)",
            &[&delivery, &job.0, &job.1],
        )
        .await
        .unwrap();
    assert_eq!(
        record_failure(&client, delivery, job, None).await["outcome"],
        "failed"
    );
    let status: String = client
        .query_one("select status from shop.webhook_delivery", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(status, "failed");
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.job_queue where kind = 'deliver_webhook'"
        )
        .await,
        0
    );
    assert_eq!(
        count(&client, "select count(*) from shop.webhook_attempt").await,
        9
    );
}

#[tokio::test]
async fn an_endpoint_failing_for_too_long_is_disabled_audited_and_its_admins_emailed() {
    let _turn = turn().await;
    let (app, admin) = app_and_admin().await;
    let client = app.db.connect().await;
    set(&client, "webhooks.retry_base_secs", 1).await;
    set(&client, "webhooks.disable_after_secs", 2).await;
    let receiver = WebhookReceiver::start().await;
    receiver.always(500);
    let endpoint = create_endpoint(&app, &admin, &receiver.url("/down"), json!(["*"])).await;
    let id = endpoint["id"].as_i64().unwrap();
    let _worker = worker(&app, "w1");
    emit(&client, "stock.low", "1").await;
    eventually(Duration::from_secs(30), "the endpoint disabled", || async {
        count(
            &client,
            "select count(*) from shop.webhook_endpoint where not enabled",
        )
        .await
            == 1
    })
    .await;
    let endpoint = app
        .call(
            Method::GET,
            &format!("/api/v1/admin/webhook-endpoints/{id}"),
            Some(&admin),
            None,
        )
        .await
        .json();
    assert!(
        endpoint["disabled_reason"]
            .as_str()
            .unwrap()
            .starts_with("every attempt failed since"),
        "{endpoint}"
    );
    let audit: Value = client
        .query_one(
            "select data from shop.audit_log where action = 'webhook_endpoint_disabled'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audit["last_error"], "HTTP 500");
    let emails: Vec<(String, String)> = client
        .query(
            "select to_address, kind from shop.email_message where kind = 'webhook_endpoint_disabled'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        emails,
        [(
            "admin@example.com".to_string(),
            "webhook_endpoint_disabled".to_string()
        )]
    );
    let status: String = client
        .query_one("select status from shop.webhook_delivery", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(status, "failed");
    // While disabled, new events are not delivered to it.
    let before = receiver.requests().len();
    emit(&client, "stock.low", "2").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        count(&client, "select count(*) from shop.webhook_delivery").await,
        1
    );
    assert_eq!(receiver.requests().len(), before);
    // A retry is refused until it is enabled again; then it goes through.
    let delivery: i64 = client
        .query_one("select webhook_delivery_id from shop.webhook_delivery", &[])
        .await
        .unwrap()
        .get(0);
    let retry_path = format!("/api/v1/admin/webhook-endpoints/{id}/deliveries/{delivery}/retry");
    let refused = app.call(Method::POST, &retry_path, Some(&admin), None).await;
    assert_eq!(
        (refused.status, refused.problem_code().as_str()),
        (StatusCode::CONFLICT, "webhook_endpoint_disabled")
    );
    receiver.always(200);
    let enabled = app
        .call(
            Method::PATCH,
            &format!("/api/v1/admin/webhook-endpoints/{id}"),
            Some(&admin),
            Some(json!({"enabled": true})),
        )
        .await
        .json();
    assert!(enabled["failing_since"].is_null());
    let retried = app.call(Method::POST, &retry_path, Some(&admin), None).await;
    assert_eq!(retried.status, StatusCode::ACCEPTED, "{}", retried.text());
    eventually(Duration::from_secs(20), "the redelivery succeeded", || async {
        count(
            &client,
            "select count(*) from shop.webhook_delivery where status = 'succeeded'",
        )
        .await
            == 1
    })
    .await;
}

#[tokio::test]
async fn an_endpoint_answering_410_gone_is_disabled_at_once() {
    let _turn = turn().await;
    let (app, admin) = app_and_admin().await;
    let receiver = WebhookReceiver::start().await;
    receiver.always(410);
    create_endpoint(&app, &admin, &receiver.url("/gone"), json!(["*"])).await;
    let _worker = worker(&app, "w1");
    let client = app.db.connect().await;
    emit(&client, "stock.low", "1").await;
    eventually(Duration::from_secs(20), "the endpoint disabled", || async {
        count(
            &client,
            "select count(*) from shop.webhook_endpoint where not enabled",
        )
        .await
            == 1
    })
    .await;
    let reason: String = client
        .query_one("select disabled_reason from shop.webhook_endpoint", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(reason, "the endpoint answered 410 Gone");
    assert_eq!(receiver.requests().len(), 1, "no retry after 410");
}

#[tokio::test]
async fn a_delivery_is_redelivered_on_request_with_the_same_webhook_id() {
    let _turn = turn().await;
    let (app, admin) = app_and_admin().await;
    let receiver = WebhookReceiver::start().await;
    let endpoint = create_endpoint(&app, &admin, &receiver.url("/a"), json!(["*"])).await;
    let other = create_endpoint(&app, &admin, &receiver.url("/b"), json!(["product.*"])).await;
    let _worker = worker(&app, "w1");
    let client = app.db.connect().await;
    emit(&client, "stock.low", "1").await;
    wait_requests(&receiver, 1, "the first delivery").await;
    let id = endpoint["id"].as_i64().unwrap();
    let delivery: i64 = client
        .query_one("select webhook_delivery_id from shop.webhook_delivery", &[])
        .await
        .unwrap()
        .get(0);
    eventually(Duration::from_secs(10), "the first delivery recorded", || async {
        count(
            &client,
            "select count(*) from shop.webhook_delivery where status = 'succeeded'",
        )
        .await
            == 1
    })
    .await;
    let retried = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/webhook-endpoints/{id}/deliveries/{delivery}/retry"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        (retried.status, retried.json()["status"].as_str()),
        (StatusCode::ACCEPTED, Some("pending"))
    );
    let requests = wait_requests(&receiver, 2, "the redelivery").await;
    assert_eq!(requests[0].header("webhook-id"), requests[1].header("webhook-id"));
    assert_eq!(requests[0].body, requests[1].body);
    eventually(Duration::from_secs(10), "two attempts logged", || async {
        count(&client, "select count(*) from shop.webhook_attempt").await == 2
    })
    .await;
    // Another endpoint's delivery id is not found under this one.
    let wrong = app
        .call(
            Method::POST,
            &format!(
                "/api/v1/admin/webhook-endpoints/{}/deliveries/{delivery}/retry",
                other["id"]
            ),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        (wrong.status, wrong.problem_code().as_str()),
        (StatusCode::NOT_FOUND, "webhook_delivery_not_found")
    );
    let audited = count(
        &client,
        "select count(*) from shop.audit_log where action = 'webhook_delivery_retried'",
    )
    .await;
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn addresses_are_checked_again_at_delivery_and_non_public_ones_get_no_request() {
    let _turn = turn().await;
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    maef_tests::disable_schedules(&client).await;
    let receiver = WebhookReceiver::start().await;
    let port = receiver.addr.port();
    // Endpoints that passed when saved and resolve elsewhere now (DNS rebinding), or
    // were written by a DBA: inserted directly, as the API would have refused them.
    for url in [
        format!("https://localhost:{port}/rebound"),
        format!("https://127.0.0.1:{port}/literal"),
        format!("https://[::1]:{port}/v6"),
        format!("https://169.254.169.254:{port}/metadata"),
        format!("https://10.0.0.1:{port}/private"),
    ] {
        client
            .execute(
                "with e as (insert into shop.webhook_endpoint (url) values ($1) returning webhook_endpoint_id)
                 insert into shop.webhook_secret (webhook_endpoint_id, secret)
                 select webhook_endpoint_id, 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' from e",
                &[&url],
            )
            .await
            .unwrap();
    }
    let _worker = WorkerProcess::spawn(&app.db.url, "strict", &[("WORKER_POLL_MS", "100")]); // no WEBHOOK_ALLOW_PRIVATE
    emit(&client, "stock.low", "1").await;
    eventually(Duration::from_secs(30), "five refused attempts", || async {
        count(&client, "select count(*) from shop.webhook_attempt").await == 5
    })
    .await;
    let rows = client
        .query("select status_code, error from shop.webhook_attempt", &[])
        .await
        .unwrap();
    for row in rows {
        let (status, error): (Option<i16>, String) = (row.get(0), row.get(1));
        assert_eq!(status, None);
        assert!(error.contains("is not a public internet address"), "{error}");
    }
    assert!(
        receiver.requests().is_empty(),
        "a request reached a refused address"
    );
}

#[tokio::test]
async fn rotated_secrets_sign_side_by_side_during_the_overlap_then_alone() {
    let _turn = turn().await;
    let (app, admin) = app_and_admin().await;
    let receiver = WebhookReceiver::start().await;
    let endpoint = create_endpoint(&app, &admin, &receiver.url("/r"), json!(["*"])).await;
    let (id, old) = (
        endpoint["id"].as_i64().unwrap(),
        endpoint["secret"].as_str().unwrap().to_string(),
    );
    let rotated = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/webhook-endpoints/{id}/rotate-secret?overlap_secs=3600"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text());
    let rotated = rotated.json();
    let new = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert_eq!(rotated["secrets"].as_array().unwrap().len(), 2);
    let _worker = worker(&app, "w1");
    let client = app.db.connect().await;
    emit(&client, "stock.low", "1").await;
    let requests = wait_requests(&receiver, 1, "a delivery during the overlap").await;
    assert_eq!(
        signature_matches(&new, &requests[0]),
        [true, false],
        "newest first"
    );
    assert_eq!(signature_matches(&old, &requests[0]), [false, true]);

    let bad = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/webhook-endpoints/{id}/rotate-secret?overlap_secs=999999"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        (bad.status, bad.problem_code().as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_overlap")
    );
    let newest = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/webhook-endpoints/{id}/rotate-secret?overlap_secs=0"),
            Some(&admin),
            None,
        )
        .await
        .json()["secret"]
        .as_str()
        .unwrap()
        .to_string();
    emit(&client, "stock.low", "2").await;
    let requests = wait_requests(&receiver, 2, "a delivery after an immediate rotation").await;
    assert_eq!(signature_matches(&newest, &requests[1]), [true]);
    assert_eq!(signature_matches(&new, &requests[1]), [false]);
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.audit_log where action = 'webhook_secret_rotated'"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn a_receiver_slower_than_the_timeout_fails_the_attempt() {
    let _turn = turn().await;
    let (app, admin) = app_and_admin().await;
    let client = app.db.connect().await;
    set(&client, "webhooks.timeout_secs", 1).await;
    set(&client, "webhooks.retry_base_secs", 1).await;
    let receiver = WebhookReceiver::start().await;
    receiver.answer_slowly(Duration::from_secs(3));
    create_endpoint(&app, &admin, &receiver.url("/slow"), json!(["*"])).await;
    let _worker = worker(&app, "w1");
    emit(&client, "stock.low", "1").await;
    eventually(Duration::from_secs(30), "the retry succeeded", || async {
        count(
            &client,
            "select count(*) from shop.webhook_delivery where status = 'succeeded'",
        )
        .await
            == 1
    })
    .await;
    let error: String = client
        .query_one("select error from shop.webhook_attempt where attempt = 1", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(error, "no answer within 1 s");
}

/// Exactly once per (event, endpoint) with two workers racing: both run the
/// dispatcher and claim deliveries; 120 events from 24 concurrent transactions, three
/// endpoints.
#[tokio::test]
async fn two_workers_deliver_each_event_once_per_endpoint() {
    let _turn = turn().await;
    let (app, admin) = app_and_admin().await;
    let receiver = WebhookReceiver::start().await;
    for path in ["/one", "/two", "/three"] {
        create_endpoint(&app, &admin, &receiver.url(path), json!(["*"])).await;
    }
    let _workers: Vec<WorkerProcess> = (0..2)
        .map(|w| {
            WorkerProcess::spawn(
                &app.db.url,
                &format!("w{w}"),
                &[
                    ("WEBHOOK_ALLOW_PRIVATE", "1"),
                    ("WORKER_POLL_MS", "50"),
                    ("WORKER_CONCURRENCY", "8"),
                ],
            )
        })
        .collect();
    let writers: Vec<_> = (0..24)
        .map(|t| {
            let url = app.db.url.clone();
            tokio::spawn(async move {
                let mut client = maef_tests::connect(&url).await;
                let tx = client.transaction().await.unwrap();
                for e in 0..5 {
                    emit(&tx, "stock.low", &format!("{t}-{e}")).await;
                }
                tx.commit().await.unwrap();
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    let client = app.db.connect().await;
    eventually(Duration::from_secs(90), "360 deliveries succeeded", || async {
        count(
            &client,
            "select count(*) from shop.webhook_delivery where status = 'succeeded'",
        )
        .await
            == 360
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut per_target: HashMap<(String, String), usize> = HashMap::new();
    for r in receiver.requests() {
        *per_target
            .entry((r.path.clone(), r.header("webhook-id")))
            .or_default() += 1;
    }
    assert_eq!(per_target.len(), 360, "every (endpoint, event) received");
    let repeated: Vec<_> = per_target.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "delivered more than once: {repeated:?}");
    // Consistency: one delivery per (event, endpoint), one attempt each, both workers used.
    let row = client
        .query_one(
            "select count(*), count(distinct (event_id, webhook_endpoint_id)), sum(attempts)::bigint,
                    (select count(*) from shop.webhook_attempt)
             from shop.webhook_delivery",
            &[],
        )
        .await
        .unwrap();
    let (deliveries, distinct, attempts, logged): (i64, i64, i64, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!((deliveries, distinct, attempts, logged), (360, 360, 360, 360));
    let workers = count(
        &client,
        "select count(distinct worker) from shop.job_attempt where kind = 'deliver_webhook'",
    )
    .await;
    assert_eq!(workers, 2, "both workers delivered");
    let report = client
        .query(
            "select succeeded_24h, pending, failed_24h from report.webhook_endpoints",
            &[],
        )
        .await
        .unwrap();
    let per_endpoint: Vec<(i64, i64, i64)> = report.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    assert_eq!(per_endpoint, [(120, 0, 0); 3]);
}
