//! The job queue with real `maef-worker` processes against a real database: exactly-once
//! effects across workers, crashes (SIGKILL), graceful stops (SIGTERM), lost
//! notifications, schedules without a leader, and a database outage mid-run.
//!
//! The binaries are the ones next to this test executable: run
//! `cargo build -p maef-api -p maef-worker` first. `MAEF_TEST_WORKER_LOG=info` shows
//! the workers' logs.

use std::time::Duration;

use maef_tests::{count, eventually, TestDb, WorkerProcess};
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio_postgres::Client;

/// Worker processes compete for the same 2 cores and 100 server connections as the
/// test itself: at most two of these tests run at once, so none starves.
static PROCESS_TESTS: Semaphore = Semaphore::const_new(2);

async fn turn() -> SemaphorePermit<'static> {
    PROCESS_TESTS.acquire().await.unwrap()
}

/// Enqueues `n` jobs of `kind` with `payload(i)` in one bulk call.
async fn enqueue_bulk(client: &Client, kind: &str, n: i32, payload: &str) {
    client
        .execute(
            &format!(
                "select api.enqueue_jobs((select jsonb_agg(jsonb_build_object('kind', $1::text, 'payload', {payload}))
                   from generate_series(1, $2) i))"
            ),
            &[&kind, &n],
        )
        .await
        .unwrap();
}

async fn status_of(client: &Client, id: i64) -> String {
    client
        .query_one("select status from report.jobs where job_id = $1", &[&id])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn four_workers_run_ten_thousand_jobs_with_each_effect_exactly_once() {
    let _turn = turn().await;
    let db = TestDb::new().await;
    let client = db.connect().await;
    enqueue_bulk(
        &client,
        "write_audit",
        10_000,
        "jsonb_build_object('action', 'test', 'entity', 'job', 'entity_id', i::text)",
    )
    .await;
    let workers: Vec<_> = (0..4)
        .map(|w| WorkerProcess::spawn(&db.url, &format!("w{w}"), &[("WORKER_CONCURRENCY", "6")]))
        .collect();
    eventually(Duration::from_secs(90), "10,000 jobs completed", || async {
        count(
            &client,
            "select count(*) from report.jobs where status = 'completed' and kind = 'write_audit'",
        )
        .await
            == 10_000
    })
    .await;
    drop(workers);
    assert_eq!(
        count(&client, "select count(*) from shop.audit_log").await,
        10_000
    );
    assert_eq!(
        count(&client, "select count(distinct entity_id) from shop.audit_log").await,
        10_000,
        "each job's effect exactly once"
    );
    assert_eq!(
        count(
            &client,
            "select count(distinct worker) from shop.job_attempt where kind = 'write_audit'"
        )
        .await,
        4,
        "the work was shared"
    );
    assert_eq!(
        count(&client, "select count(*) from shop.job_attempt where not ok").await,
        0
    );
}

#[tokio::test]
async fn workers_told_to_run_once_claim_from_their_cursors_drain_the_queue_and_exit() {
    let _turn = turn().await;
    let db = TestDb::new().await;
    let client = db.connect().await;
    maef_tests::disable_schedules(&client).await;
    enqueue_bulk(
        &client,
        "write_audit",
        3_000,
        "jsonb_build_object('action', 'test', 'entity', 'job', 'entity_id', i::text)",
    )
    .await;
    // Batches of 50 come back full until the end: every claim but the first starts
    // from the worker's cursor.
    let mut workers: Vec<_> = (0..2)
        .map(|w| {
            WorkerProcess::spawn(
                &db.url,
                &format!("once{w}"),
                &[("WORKER_CONCURRENCY", "50"), ("WORKER_ONCE", "1")],
            )
        })
        .collect();
    for worker in &mut workers {
        assert!(worker.wait(Duration::from_secs(60)).await.success());
    }
    assert_eq!(
        count(&client, "select count(distinct entity_id) from shop.audit_log").await,
        3_000,
        "each job's effect, once"
    );
    assert_eq!(count(&client, "select count(*) from shop.audit_log").await, 3_000);
    assert_eq!(
        count(&client, "select count(*) from shop.job_queue").await,
        0,
        "nothing left pending or running"
    );
}

#[tokio::test]
async fn a_job_whose_worker_is_killed_mid_job_is_rescued_after_its_lease_and_completed_by_another() {
    let _turn = turn().await;
    let db = TestDb::new().await;
    let client = db.connect().await;
    let mut victim = WorkerProcess::spawn(&db.url, "victim", &[("WORKER_LEASE_SECS", "2")]);
    let id: i64 = client
        .query_one(
            "select api.enqueue_job('write_audit', '{\"action\": \"crash\", \"entity\": \"job\", \"delay_ms\": 3000}')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    eventually(Duration::from_secs(10), "the victim runs the job", || async {
        count(
            &client,
            "select count(*) from shop.job_queue where status = 'running' and locked_by = 'victim'",
        )
        .await
            == 1
    })
    .await;
    victim.signal("KILL");
    victim.wait(Duration::from_secs(5)).await;
    let _rescuer = WorkerProcess::spawn(&db.url, "rescuer", &[("WORKER_LEASE_SECS", "10")]);
    eventually(
        Duration::from_secs(20),
        "the job completed by the rescuer",
        || async { status_of(&client, id).await == "completed" },
    )
    .await;
    let attempts: Vec<(i32, String, bool, Option<String>)> = client
        .query(
            "select attempt, worker, ok, error from shop.job_attempt where job_id = $1 order by attempt",
            &[&id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        attempts,
        vec![
            (1, "victim".into(), false, Some("lease expired".into())),
            (2, "rescuer".into(), true, None)
        ]
    );
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.audit_log where action = 'crash'"
        )
        .await,
        1,
        "the killed attempt wrote nothing; the rescuer wrote once"
    );
}

#[tokio::test]
async fn jobs_enqueued_with_no_listener_or_without_notification_are_found_by_polling() {
    let _turn = turn().await;
    let db = TestDb::new().await;
    let client = db.connect().await;
    // No worker, hence no listener, at enqueue time.
    let early: i64 = client
        .query_one("select api.enqueue_job('noop')", &[])
        .await
        .unwrap()
        .get(0);
    let _worker = WorkerProcess::spawn(&db.url, "poller", &[("WORKER_POLL_MS", "300")]);
    eventually(Duration::from_secs(10), "the early job completed", || async {
        status_of(&client, early).await == "completed"
    })
    .await;
    // A job inserted behind the API's back sends no notification at all: a lost NOTIFY.
    let silent: i64 = client
        .query_one(
            "insert into shop.job_queue (kind) values ('noop') returning job_id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    eventually(Duration::from_secs(10), "the silent job completed", || async {
        status_of(&client, silent).await == "completed"
    })
    .await;
}

#[tokio::test]
async fn panics_unknown_kinds_and_timeouts_fail_their_job_with_a_clear_error_and_the_worker_goes_on() {
    let _turn = turn().await;
    let db = TestDb::new().await;
    let client = db.connect().await;
    client
        .execute(
            "update shop.job_kind set timeout = '300 milliseconds' where kind = 'noop'",
            &[],
        )
        .await
        .unwrap();
    let _worker = WorkerProcess::spawn(&db.url, "w", &[]);
    let enqueue = |sql: &'static str| {
        let client = &client;
        async move { client.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    let panics = enqueue("select api.enqueue_job('noop', '{\"panic\": true}', p_max_attempts => 1)").await;
    let unknown = enqueue("select api.enqueue_job('launch_rocket', p_max_attempts => 1)").await;
    let slow = enqueue("select api.enqueue_job('noop', '{\"sleep_ms\": 5000}', p_max_attempts => 1)").await;
    let fine = enqueue("select api.enqueue_job('noop', '{\"blocking_ms\": 10}')").await;
    let ids = vec![panics, unknown, slow, fine];
    eventually(Duration::from_secs(10), "four jobs finished", || async {
        client
            .query_one(
                "select count(*) from report.jobs where job_id = any($1) and status in ('discarded', 'completed')",
                &[&ids],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
            == 4
    })
    .await;
    let error = |id: i64| {
        let client = &client;
        async move {
            client
                .query_one(
                    "select status, last_error from shop.job_queue where job_id = $1",
                    &[&id],
                )
                .await
                .unwrap()
        }
    };
    let row = error(panics).await;
    assert_eq!(row.get::<_, String>(0), "discarded");
    assert_eq!(row.get::<_, String>(1), "handler panicked: noop asked to panic");
    let row = error(slow).await;
    assert_eq!(row.get::<_, String>(1), "timed out after 300ms");
    assert_eq!(status_of(&client, fine).await, "completed", "the worker went on");
    let row = error(unknown).await;
    assert_eq!(
        row.get::<_, String>(1),
        "unknown job kind 'launch_rocket': no handler in this worker"
    );
}

#[tokio::test]
async fn sigterm_stops_claiming_finishes_short_jobs_and_releases_long_ones_without_counting_a_failure() {
    let _turn = turn().await;
    let db = TestDb::new().await;
    let client = db.connect().await;
    let mut worker = WorkerProcess::spawn(
        &db.url,
        "stopping",
        &[("WORKER_CONCURRENCY", "2"), ("WORKER_SHUTDOWN_GRACE_SECS", "2")],
    );
    let short: i64 = client
        .query_one(
            "select api.enqueue_job('noop', '{\"sleep_ms\": 1000}', p_priority => 1)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let long: i64 = client
        .query_one(
            "select api.enqueue_job('noop', '{\"sleep_ms\": 30000}', p_priority => 1)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    eventually(Duration::from_secs(10), "both jobs running", || async {
        count(
            &client,
            "select count(*) from shop.job_queue where status = 'running' and kind = 'noop'",
        )
        .await
            == 2
    })
    .await;
    let waiting: i64 = client
        .query_one("select api.enqueue_job('noop')", &[])
        .await
        .unwrap()
        .get(0);
    worker.signal("TERM");
    let status = worker.wait(Duration::from_secs(10)).await;
    assert!(status.success(), "clean exit: {status:?}");
    assert_eq!(
        status_of(&client, short).await,
        "completed",
        "finished within the grace period"
    );
    let row = client
        .query_one(
            "select j.status, j.attempt, j.max_attempts, a.ok, a.error from shop.job_queue j
             join shop.job_attempt a on a.job_id = j.job_id where j.job_id = $1",
            &[&long],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            row.get::<_, String>(0),
            row.get::<_, i32>(1),
            row.get::<_, i32>(2),
            row.get::<_, Option<bool>>(3),
            row.get::<_, String>(4)
        ),
        ("pending".into(), 1, 26, None, "released: worker stopping".into()),
        "released at once, its attempt not counted against max_attempts"
    );
    assert_eq!(
        status_of(&client, waiting).await,
        "pending",
        "no claim after SIGTERM"
    );
}

#[tokio::test]
async fn a_schedule_with_three_workers_runs_each_time_bucket_exactly_once() {
    let _turn = turn().await;
    let db = TestDb::new().await;
    let client = db.connect().await;
    maef_tests::disable_schedules(&client).await;
    client
        .execute(
            "insert into shop.job_schedule (name, kind, every, payload, next_run_at)
             values ('tick', 'write_audit', '1 second', '{\"action\": \"tick\", \"entity\": \"schedule\"}', now())",
            &[],
        )
        .await
        .unwrap();
    let workers: Vec<_> = (0..3)
        .map(|w| WorkerProcess::spawn(&db.url, &format!("s{w}"), &[("WORKER_POLL_MS", "100")]))
        .collect();
    eventually(Duration::from_secs(15), "four buckets run", || async {
        count(
            &client,
            "select count(*) from report.jobs where status = 'completed'",
        )
        .await
            >= 4
    })
    .await;
    drop(workers);
    let rows = client
        .query(
            "select j.unique_key, count(*) over (partition by j.unique_key) from report.jobs j",
            &[],
        )
        .await
        .unwrap();
    for r in &rows {
        let key: String = r.get(0);
        assert!(key.starts_with("schedule:tick@"), "{key}");
        assert_eq!(r.get::<_, i64>(1), 1, "bucket {key} enqueued once");
    }
    let completed = count(
        &client,
        "select count(*) from report.jobs where status = 'completed'",
    )
    .await;
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.audit_log where action = 'tick'"
        )
        .await,
        completed,
        "one effect per completed bucket"
    );
    assert_eq!(
        count(
            &client,
            "select count(*) from (select run_at - lag(run_at) over (order by run_at) as gap from report.jobs) g
             where gap is not null and extract(epoch from gap) <> round(extract(epoch from gap))"
        )
        .await,
        0,
        "buckets are whole seconds apart (a bucket missed under load is skipped, never doubled)"
    );
    assert!(count(&client, "select count(distinct locked_by) from report.jobs").await >= 1);
}

/// A TCP proxy in front of PostgreSQL that can simulate a server restart: every
/// connection is cut and new ones are refused for a while.
struct Proxy {
    port: u16,
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
    links: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Proxy {
    async fn start(target: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let down = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let links = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (d, l) = (down.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if d.load(std::sync::atomic::Ordering::SeqCst) {
                    continue; // dropped: connection refused, as by a restarting server
                }
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                l.lock().unwrap().push(task.abort_handle());
            }
        });
        Self { port, down, links }
    }

    /// Cuts every connection, refuses new ones for `outage`, then accepts again.
    async fn restart(&self, outage: Duration) {
        self.down.store(true, std::sync::atomic::Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
        tokio::time::sleep(outage).await;
        self.down.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

/// `url` rewritten to go through a proxy on `port`, and the address it replaces.
fn through_proxy(url: &str, port: u16) -> (String, String) {
    let (scheme_user, rest) = url.split_once('@').unwrap();
    let (host_port, db) = rest.split_once('/').unwrap();
    let target = if host_port.contains(':') {
        host_port.to_string()
    } else {
        format!("{host_port}:5432")
    };
    (format!("{scheme_user}@127.0.0.1:{port}/{db}"), target)
}

#[tokio::test]
async fn a_database_restart_during_a_run_loses_no_job_and_all_complete() {
    let _turn = turn().await;
    let db = TestDb::new().await;
    let client = db.connect().await;
    enqueue_bulk(&client, "noop", 3_000, "jsonb_build_object('sleep_ms', 5)").await;
    let (probe, target) = through_proxy(&db.url, 1);
    drop(probe);
    let proxy = Proxy::start(target).await;
    let (url, _) = through_proxy(&db.url, proxy.port);
    let _workers: Vec<_> = (0..2)
        .map(|w| WorkerProcess::spawn(&url, &format!("r{w}"), &[]))
        .collect();
    eventually(
        Duration::from_secs(30),
        "a quarter of the jobs completed",
        || async {
            count(
                &client,
                "select count(*) from report.jobs where status = 'completed' and kind = 'noop'",
            )
            .await
                >= 750
        },
    )
    .await;
    // As a restart does: sessions end (their open transactions roll back), clients see
    // their sockets close and their reconnects refused for a moment.
    client
        .execute(
            "select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and application_name = 'maef-worker'",
            &[],
        )
        .await
        .unwrap();
    proxy.restart(Duration::from_millis(1500)).await;
    let before = count(
        &client,
        "select count(*) from report.jobs where status = 'completed' and kind = 'noop'",
    )
    .await;
    assert!(before < 3_000, "the outage happened mid-run ({before} done)");
    eventually(
        Duration::from_secs(60),
        "all 3,000 jobs completed after the outage",
        || async {
            count(
                &client,
                "select count(*) from report.jobs where status = 'completed' and kind = 'noop'",
            )
            .await
                == 3_000
        },
    )
    .await;
    assert_eq!(
        count(&client, "select count(*) from report.jobs where kind = 'noop'").await,
        3_000,
        "none lost, none duplicated"
    );
}
