//! Observability: the API's `GET /metrics` (closed by default, counts that move with
//! traffic), the worker's metrics endpoint (jobs by kind, queue depth, schedule runs)
//! scraped over real HTTP from the real binary, and `report.health`.

use std::time::Duration;

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use maef_tests::{
    count, eventually,
    http::{Reply, TestApp},
    prometheus::{has, sum},
    seed_products, TestDb, WorkerProcess,
};

const TOKEN: &str = "metrics-token-metrics-token-metrics-token";

async fn scrape(app: &TestApp, token: Option<&str>) -> Reply {
    let mut request = Request::builder().method(Method::GET).uri("/metrics");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    app.send(request.body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn metrics_are_not_served_without_a_token_configured_nor_to_a_wrong_token() {
    let closed = TestApp::new().await;
    let reply = scrape(&closed, Some(TOKEN)).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.problem_code(), "route_not_found");

    let open = TestApp::with(&[("METRICS_TOKEN", TOKEN)]).await;
    for token in [None, Some("metrics-token-but-not-the-right-one-at-all")] {
        let reply = scrape(&open, token).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{token:?}");
        assert!(reply.headers.contains_key(header::WWW_AUTHENTICATE));
    }
    // A customer's access token is not the metrics token either.
    let customer = open
        .token_with_role("m@example.com", "correct horse battery", None)
        .await;
    assert_eq!(
        scrape(&open, Some(&customer)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn request_counts_latencies_pool_and_sqlstates_move_with_traffic() {
    let app = TestApp::with(&[("METRICS_TOKEN", TOKEN)]).await;
    seed_products(&app.db.connect().await, "met", 1).await;
    let route = [("route", "/api/v1/products/{slug}"), ("method", "GET")];

    let before = scrape(&app, Some(TOKEN)).await;
    assert_eq!(before.status, StatusCode::OK);
    assert!(
        before.content_type.starts_with("text/plain"),
        "{}",
        before.content_type
    );
    let before = before.text();

    for _ in 0..3 {
        let ok = app.call(Method::GET, "/api/v1/products/met-1", None, None).await;
        assert_eq!(ok.status, StatusCode::OK);
    }
    let missing = app
        .call(Method::GET, "/api/v1/products/no-such-product", None, None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let unrouted = app.call(Method::GET, "/no/such/route/42", None, None).await;
    assert_eq!(unrouted.status, StatusCode::NOT_FOUND);

    let after = scrape(&app, Some(TOKEN)).await.text();
    let delta = |name: &str, labels: &[(&str, &str)]| sum(&after, name, labels) - sum(&before, name, labels);
    let with_status = |status| [route[0], route[1], ("status", status)];
    assert_eq!(
        delta("maef_http_requests_total", &with_status("200")),
        3.0,
        "{after}"
    );
    assert_eq!(delta("maef_http_requests_total", &with_status("404")), 1.0);
    // Raw paths never become labels: the unrouted request shares one series.
    assert_eq!(
        delta(
            "maef_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        ),
        1.0
    );
    assert!(!after.contains("/no/such/route/42"));
    assert!(!after.contains("met-1"), "a slug leaked into a label");
    assert_eq!(delta("maef_http_request_duration_seconds_count", &route), 4.0);
    assert!(sum(&after, "maef_http_request_duration_seconds_sum", &route) > 0.0);
    assert!(has(&after, "maef_http_request_duration_seconds_bucket"));
    assert_eq!(delta("maef_db_errors_total", &[("sqlstate", "MA404")]), 1.0);
    // The test configuration's pool: 4 connections at most, at least one opened.
    assert_eq!(sum(&after, "maef_db_pool_connections", &[("state", "max")]), 4.0);
    assert!(sum(&after, "maef_db_pool_connections", &[("state", "open")]) >= 1.0);
    assert!(has(&after, "maef_db_pool_waiting"));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn scrape_worker(port: u16) -> Option<String> {
    let reply = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .ok()?;
    reply.text().await.ok()
}

#[tokio::test]
async fn the_worker_counts_jobs_by_kind_queue_depth_and_schedule_runs() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    maef_tests::disable_schedules(&client).await;
    client
        .batch_execute(
            "select api.enqueue_job('noop') from generate_series(1, 5);
             select api.enqueue_job('noop', '{\"fail\": true}', p_max_attempts => 1);
             select api.enqueue_job('noop', p_queue => 'later', p_run_at => now() - interval '1 minute')
                 from generate_series(1, 2);
             insert into shop.job_schedule (name, kind, every, next_run_at)
                 values ('metrics_tick', 'noop', '1 hour', now());",
        )
        .await
        .unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    // Only the default queue is worked, so 'later' keeps its two ready jobs.
    let _worker = WorkerProcess::spawn(
        &db.url,
        "metrics-worker",
        &[
            ("WORKER_METRICS_ADDR", &addr),
            ("WORKER_METRICS_SAMPLE_MS", "100"),
            ("WORKER_QUEUES", "default"),
        ],
    );
    eventually(
        Duration::from_secs(20),
        "the default queue drained and sampled",
        || async {
            let Some(text) = scrape_worker(port).await else {
                return false;
            };
            sum(&text, "maef_worker_jobs_completed_total", &[("kind", "noop")]) >= 6.0
                && sum(&text, "maef_worker_queue_depth", &[("queue", "default")]) == 0.0
                && sum(&text, "maef_worker_queue_dead", &[("queue", "default")]) == 1.0
        },
    )
    .await;
    let text = scrape_worker(port).await.unwrap();
    // Five plain jobs and the schedule's run completed, the failing one failed.
    assert_eq!(
        sum(&text, "maef_worker_jobs_claimed_total", &[("kind", "noop")]),
        7.0,
        "{text}"
    );
    assert_eq!(
        sum(&text, "maef_worker_jobs_completed_total", &[("kind", "noop")]),
        6.0
    );
    assert_eq!(
        sum(&text, "maef_worker_jobs_failed_total", &[("kind", "noop")]),
        1.0
    );
    assert_eq!(sum(&text, "maef_worker_schedule_runs_total", &[]), 1.0);
    assert_eq!(
        sum(
            &text,
            "maef_worker_job_duration_seconds_count",
            &[("kind", "noop")]
        ),
        7.0
    );
    assert_eq!(sum(&text, "maef_worker_queue_depth", &[("queue", "later")]), 2.0);
    assert!(sum(&text, "maef_worker_queue_lag_seconds", &[("queue", "later")]) >= 59.0);
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.job_queue where queue = 'later'"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn report_health_shows_dead_jobs_idle_transactions_and_hot_tables_to_staff_not_customers() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    client
        .batch_execute(
            "insert into shop.job_queue (kind, status, finished_at, last_error)
                 values ('noop', 'discarded', now(), 'gave up');
             analyze shop.job_queue;",
        )
        .await
        .unwrap();
    // Another session left idle inside a transaction.
    let idle = db.connect().await;
    idle.batch_execute("begin; select 1").await.unwrap();

    let row = |metric: &'static str, subject: &'static str| {
        let client = &client;
        async move {
            client
                .query_opt(
                    "select value::float8, status from report.health where metric = $1 and subject = $2",
                    &[&metric, &subject],
                )
                .await
                .unwrap()
                .map(|r| (r.get::<_, f64>(0), r.get::<_, String>(1)))
        }
    };
    assert_eq!(row("dead_jobs", "default").await, Some((1.0, "warn".into())));
    assert_eq!(row("queue_depth", "default").await.map(|r| r.0), Some(0.0));
    eventually(Duration::from_secs(5), "the idle transaction is seen", || async {
        row("idle_in_transaction", "sessions")
            .await
            .is_some_and(|(n, _)| n >= 1.0)
    })
    .await;
    assert!(row("table_size", "shop.job_queue")
        .await
        .is_some_and(|(bytes, _)| bytes > 0.0));
    assert!(row("dead_rows_share", "shop.job_queue").await.is_some());
    // This server is a primary without standbys: no replication rows, no replay delay.
    assert_eq!(
        count(
            &client,
            "select count(*) from report.health where metric like 'repl%'"
        )
        .await,
        0
    );
    idle.batch_execute("rollback").await.unwrap();

    // Staff read it, as every report; customers do not.
    client.batch_execute("set role maef_staff").await.unwrap();
    assert!(count(&client, "select count(*) from report.health").await > 0);
    client
        .batch_execute("reset role; set role maef_customer")
        .await
        .unwrap();
    let refused = client
        .query("select * from report.health", &[])
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
    );
}
