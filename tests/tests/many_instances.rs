//! Several instances on one database: 2 `maef-api` and 3 `maef-worker` processes (the
//! real binaries) share nothing but PostgreSQL, and still
//! - share rate limits and idempotency keys (one key sent to both instances at once:
//!   one order, one body);
//! - sell exactly the stock when a checkout race is spread over both instances;
//! - run each job's effect once, and each schedule's time bucket once, with no leader;
//! - rescue the job of a worker SIGKILLed mid-job after its lease, on another worker.
//!
//! One test, so the five processes start once; leases and polls are short (2 s,
//! 100 ms) to keep it quick.

use std::{collections::HashMap, time::Duration};

use futures::future::join_all;
use maef_tests::{
    api_process::ApiProcess,
    count, eventually,
    shop::{assert_consistent, cart_total, checkout_body, seed_variant, ship_to, Who},
    TestDb, WorkerProcess,
};
use reqwest::Method;
use serde_json::{json, Value};
use tokio_postgres::Client;

/// Both instances: pool and timeouts for a crowd queueing for connections (waiting
/// is not what this test is about).
const API: &[(&str, &str)] = &[
    ("DB_POOL_SIZE", "6"),
    ("DB_POOL_TIMEOUT_MS", "60000"),
    ("DB_STATEMENT_TIMEOUT_MS", "60000"),
    ("REQUEST_TIMEOUT_MS", "60000"),
];

/// One HTTP request to an instance; the response is checked against the OpenAPI
/// document like every response a test receives. Returns status and body.
async fn send(
    http: &reqwest::Client,
    api: &ApiProcess,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> (u16, String) {
    let mut request = http.request(method.clone(), format!("{}{path}", api.url()));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = response.text().await.unwrap();
    maef_tests::contract::check(method.as_str(), path, status, &content_type, text.as_bytes());
    (status, text)
}

fn code(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["code"].as_str().map(String::from))
        .unwrap_or_else(|| "created".into())
}

/// Guest carts `s1`…`sn` in XOF to Senegal holding `quantity` of `variant` (the rows
/// `api.cart_open` and `api.cart_add_item` write, in bulk); returns their sessions.
async fn guest_carts(client: &Client, prefix: &str, n: i32, variant: i64, quantity: i32) -> Vec<String> {
    let sessions: Vec<String> = (1..=n).map(|i| format!("{prefix}{i}")).collect();
    client
        .execute(
            "with c as (
                 insert into shop.cart (currency_code, session_hash, shipping_country)
                 select 'XOF', encode(sha256(convert_to(s, 'UTF8')), 'hex'), 'SN' from unnest($1::text[]) s
                 returning cart_id)
             insert into shop.cart_item (cart_id, variant_id, quantity) select cart_id, $2, $3 from c",
            &[&sessions, &variant, &quantity],
        )
        .await
        .unwrap();
    sessions
}

async fn checkout_total(client: &Client, session: &str) -> i64 {
    let who = Who {
        session: Some(session.to_string()),
        ..Who::guest()
    };
    cart_total(client, &who).await
}

#[tokio::test]
async fn two_apis_and_three_workers_on_one_database_share_every_rule_and_lose_nothing() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    maef_tests::disable_schedules(&client).await;
    client
        .batch_execute(
            "update shop.setting set value = '4' where key = 'auth.rate_limit_per_account';
             insert into shop.job_schedule (name, kind, every, payload, next_run_at)
                 values ('tick', 'write_audit', '1 second', '{\"action\": \"tick\", \"entity\": \"schedule\"}', now());",
        )
        .await
        .unwrap();
    ship_to(&client, "SN", "XOF", 2000).await;
    let last_ten = seed_variant(&client, "LAST-TEN", 15000, 2299, Some(10)).await;
    let racers = guest_carts(&client, "race", 200, last_ten, 1).await;
    let once = seed_variant(&client, "ONCE", 15000, 2299, Some(5)).await;
    let idem_cart = guest_carts(&client, "idem", 1, once, 2).await.remove(0);

    // The job that will lose its worker goes first (priority 1), then 1,000 others.
    let victim_job: i64 = client
        .query_one(
            "select api.enqueue_job('write_audit', '{\"action\": \"crash\", \"entity\": \"job\", \"delay_ms\": 3000}', p_priority => 1)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    client
        .execute(
            "select api.enqueue_jobs((select jsonb_agg(jsonb_build_object('kind', 'write_audit', 'payload',
                 jsonb_build_object('action', 'bulk', 'entity', 'job', 'entity_id', i::text)))
                 from generate_series(1, 1000) i))",
            &[],
        )
        .await
        .unwrap();

    let apis = [
        ApiProcess::spawn(&db.url, API).await,
        ApiProcess::spawn(&db.url, API).await,
    ];
    let worker_env = [("WORKER_LEASE_SECS", "2"), ("WORKER_POLL_MS", "100")];
    let mut workers: Vec<WorkerProcess> = (0..3)
        .map(|w| WorkerProcess::spawn(&db.url, &format!("w{w}"), &worker_env))
        .collect();
    let http = reqwest::Client::new();

    // A worker SIGKILLed while it runs the slow job.
    eventually(Duration::from_secs(15), "a worker runs the slow job", || async {
        count(
            &client,
            &format!(
                "select count(*) from shop.job_queue where job_id = {victim_job} and status = 'running'"
            ),
        )
        .await
            == 1
    })
    .await;
    let victim: String = client
        .query_one(
            "select locked_by from shop.job_queue where job_id = $1",
            &[&victim_job],
        )
        .await
        .unwrap()
        .get(0);
    let index = workers.iter().position(|w| w.id == victim).unwrap();
    workers[index].signal("KILL");
    workers[index].wait(Duration::from_secs(5)).await;

    // The checkout race, spread over both instances: 200 carts, 10 units.
    let body = checkout_body(checkout_total(&client, &racers[0]).await);
    let replies = join_all(racers.iter().enumerate().map(|(i, session)| {
        let key = format!("key-{session}");
        let (http, body, api) = (&http, &body, &apis[i % 2]);
        async move {
            let headers = [
                ("x-cart-session", session.as_str()),
                ("idempotency-key", key.as_str()),
            ];
            send(http, api, Method::POST, "/api/v1/checkout", &headers, Some(body)).await
        }
    }))
    .await;
    let mut tally: HashMap<(u16, String), usize> = HashMap::new();
    for (status, body) in &replies {
        *tally.entry((*status, code(body))).or_default() += 1;
    }
    assert_eq!(
        tally,
        HashMap::from([
            ((201, "created".into()), 10),
            ((409, "insufficient_stock".into()), 190)
        ]),
        "exactly the stock sold, nothing else answered"
    );
    let stock = client
        .query_one(
            "select qty_on_hand, qty_reserved from shop.inventory where variant_id = $1",
            &[&last_ten],
        )
        .await
        .unwrap();
    assert_eq!((stock.get::<_, i32>(0), stock.get::<_, i32>(1)), (10, 10));

    // One Idempotency-Key sent ten times to each instance at once: one order, one body.
    let body = checkout_body(checkout_total(&client, &idem_cart).await);
    let replies = join_all((0..20).map(|i| {
        let (http, body, api, cart) = (&http, &body, &apis[i % 2], idem_cart.as_str());
        async move {
            let headers = [("x-cart-session", cart), ("idempotency-key", "shared-key")];
            send(http, api, Method::POST, "/api/v1/checkout", &headers, Some(body)).await
        }
    }))
    .await;
    for (status, reply) in &replies {
        assert_eq!(*status, 201, "{reply}");
        assert_eq!(
            reply, &replies[0].1,
            "every duplicate gets the first one's response"
        );
    }
    assert_eq!(
        count(
            &client,
            &format!("select count(*) from shop.stock_reservation where variant_id = {once}")
        )
        .await,
        1,
        "one order for the key"
    );
    assert_eq!(
        count(&client, "select count(*) from shop.customer_order").await,
        11
    );
    assert_consistent(&client).await;

    // One account's sign-in limit (4 per window) counted across both instances.
    let account = json!({"email": "limited@example.com", "password": "correct horse battery staple"});
    let (status, _) = http
        .post(format!("{}/api/v1/auth/register", apis[0].url()))
        .header("content-type", "application/json")
        .body(account.to_string())
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(status, 201);
    let wrong = json!({"email": "limited@example.com", "password": "not the password at all"});
    let mut statuses = Vec::new();
    for i in 0..6 {
        let (status, body) = send(
            &http,
            &apis[i % 2],
            Method::POST,
            "/api/v1/auth/login",
            &[],
            Some(&wrong),
        )
        .await;
        statuses.push((status, if status == 429 { code(&body) } else { String::new() }));
    }
    let limited = (429, "rate_limited".to_string());
    let refused = (401, String::new());
    assert_eq!(
        statuses,
        vec![
            refused.clone(),
            refused.clone(),
            refused.clone(),
            refused,
            limited.clone(),
            limited
        ],
        "three attempts per instance would pass a per-instance limit of 4"
    );

    // Every job's effect once; the killed worker's job done again elsewhere.
    eventually(Duration::from_secs(60), "1,000 jobs and the slow one completed", || async {
        count(
            &client,
            "select count(*) from report.jobs where status = 'completed' and kind = 'write_audit' and unique_key is null",
        )
        .await
            == 1_001
    })
    .await;
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.audit_log where action = 'bulk'"
        )
        .await,
        1_000
    );
    assert_eq!(
        count(
            &client,
            "select count(distinct entity_id) from shop.audit_log where action = 'bulk'"
        )
        .await,
        1_000,
        "each job's effect exactly once"
    );
    assert!(
        count(
            &client,
            "select count(distinct worker) from shop.job_attempt where kind = 'write_audit'"
        )
        .await
            >= 2,
        "the work was shared"
    );
    let attempts: Vec<(i32, String, bool)> = client
        .query(
            "select attempt, worker, ok from shop.job_attempt where job_id = $1 order by attempt",
            &[&victim_job],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!((attempts[0].1.as_str(), attempts[0].2), (victim.as_str(), false));
    assert!(attempts[1].1 != victim && attempts[1].2, "{attempts:?}");
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.audit_log where action = 'crash'"
        )
        .await,
        1
    );

    // Each schedule bucket once, with no leader among the workers.
    eventually(Duration::from_secs(15), "three schedule buckets run", || async {
        count(&client, "select count(*) from report.jobs where unique_key like 'schedule:tick@%' and status = 'completed'").await
            >= 3
    })
    .await;
    drop(workers);
    drop(apis);
    assert_eq!(
        count(
            &client,
            "select count(*) from (select unique_key from report.jobs where unique_key like 'schedule:tick@%'
                                   group by unique_key having count(*) > 1) d"
        )
        .await,
        0,
        "no bucket enqueued twice"
    );
    assert_eq!(
        count(&client, "select count(*) from shop.audit_log where action = 'tick'").await,
        count(&client, "select count(*) from report.jobs where unique_key like 'schedule:tick@%' and status = 'completed'").await,
        "one effect per completed bucket"
    );
}
