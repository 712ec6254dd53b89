//! The job queue's SQL API (`sql/jobs.sql`) through a client, as the worker and DBAs
//! call it: uniqueness under races, transactional enqueue and notifications, claims,
//! fencing, backoff, leases, cancel/retry/release, schedules, pruning and reports.

use std::time::Duration;

use futures::StreamExt;
use maef_tests::{count, TestDb};
use tokio_postgres::{AsyncMessage, Client, NoTls};

async fn enqueue(client: &Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.unwrap().get(0)
}

/// Claims one job of `kind` for `worker` and returns (id, attempt).
async fn claim(client: &Client, worker: &str, kind: &str, lease: &str) -> (i64, i32) {
    let row = client
        .query_one(
            "select job_id, attempt from api.claim_jobs($1, array[$2], 1, $3::text::interval)",
            &[&worker, &kind, &lease],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

fn sqlstate(err: &tokio_postgres::Error) -> String {
    err.as_db_error()
        .map(|e| e.code().code().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_hundred_concurrent_enqueues_with_one_unique_key_make_one_job() {
    let db = TestDb::new().await;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(25));
    let mut tasks = Vec::new();
    for c in 0..25 {
        let (db, barrier) = (db.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let client = db.connect().await;
            barrier.wait().await;
            let calls = (0..4).map(|i| {
                let client = &client;
                async move {
                    let caller: i32 = c * 4 + i;
                    client
                        .query_one(
                            "select api.enqueue_job('noop', jsonb_build_object('caller', $1::int), p_unique_key => 'one')",
                            &[&caller],
                        )
                        .await
                        .map(|r| r.get::<_, i64>(0))
                }
            });
            futures::future::try_join_all(calls).await.unwrap()
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.extend(t.await.unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every caller got the same job id: {ids:?}");
    let client = db.connect().await;
    assert_eq!(
        count(&client, "select count(*) from shop.job_queue where kind = 'noop'").await,
        1
    );
}

#[tokio::test]
async fn replace_mode_debounces_a_pending_job_by_moving_its_run_at_and_payload() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let first = enqueue(
        &client,
        "select api.enqueue_job('noop', '{\"sleep_ms\": 1}', p_run_at => now() + interval '1 minute',
                                p_unique_key => 'reindex', p_unique_mode => 'replace')",
    )
    .await;
    let second = enqueue(
        &client,
        "select api.enqueue_job('noop', '{\"sleep_ms\": 2}', p_run_at => now() + interval '5 minutes',
                                p_unique_key => 'reindex', p_unique_mode => 'replace')",
    )
    .await;
    assert_eq!(first, second);
    let row = client
        .query_one(
            "select (run_at - now() > interval '4 minutes')::text, payload->>'sleep_ms' from shop.job_queue where job_id = $1",
            &[&first],
        )
        .await
        .unwrap();
    assert_eq!(
        (row.get::<_, String>(0), row.get::<_, String>(1)),
        ("true".into(), "2".into()),
        "run_at moved from +1 to +5 minutes"
    );
    // Skip mode keeps the pending job as it is.
    let third = enqueue(
        &client,
        "select api.enqueue_job('noop', '{\"sleep_ms\": 3}', p_unique_key => 'reindex')",
    )
    .await;
    assert_eq!(third, first);
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.job_queue where payload->>'sleep_ms' = '2'"
        )
        .await,
        1
    );
    // A running job is never rewritten; once finished, the key is free again.
    client
        .execute("update shop.job_queue set run_at = now()", &[])
        .await
        .unwrap();
    let (id, attempt) = claim(&client, "w", "noop", "1 minute").await;
    let during = enqueue(
        &client,
        "select api.enqueue_job('noop', '{\"sleep_ms\": 4}', p_unique_key => 'reindex', p_unique_mode => 'replace')",
    )
    .await;
    assert_eq!(during, id);
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.job_queue where payload->>'sleep_ms' = '4'"
        )
        .await,
        0
    );
    client
        .query_one("select api.complete_job($1, $2)", &[&id, &attempt])
        .await
        .unwrap();
    let after = enqueue(
        &client,
        "select api.enqueue_job('noop', '{}', p_unique_key => 'reindex')",
    )
    .await;
    assert_ne!(after, id);
}

#[tokio::test]
async fn an_unknown_unique_mode_is_refused_with_its_rule_name() {
    let db = TestDb::new().await;
    let err = db
        .connect()
        .await
        .query_one(
            "select api.enqueue_job('noop', p_unique_key => 'k', p_unique_mode => 'merge')",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "MA422");
    assert_eq!(err.as_db_error().unwrap().constraint(), Some("job_unique_mode"));
}

/// A connection whose notifications are collected on a channel.
async fn listener(db: &TestDb) -> (Client, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let (client, mut connection) = tokio_postgres::connect(&db.url, NoTls).await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notification(n) = message {
                let _ = tx.send(n.payload().to_string());
            }
        }
    });
    client.batch_execute("LISTEN maef_jobs").await.unwrap();
    (client, rx)
}

#[tokio::test]
async fn enqueue_is_transactional_and_notifies_once_per_queue_per_transaction_with_a_count() {
    let db = TestDb::new().await;
    let (listening, mut notes) = listener(&db).await;
    let mut client = db.connect().await;

    let tx = client.transaction().await.unwrap();
    tx.query_one("select api.enqueue_job('noop')", &[]).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(count(&client, "select count(*) from shop.job_queue").await, 0);

    let tx = client.transaction().await.unwrap();
    tx.query(
        "select api.enqueue_jobs('[{\"kind\": \"noop\", \"queue\": \"mail\"}, {\"kind\": \"noop\", \"queue\": \"mail\"}, {\"kind\": \"noop\"}]')",
        &[],
    )
    .await
    .unwrap();
    for _ in 0..3 {
        tx.query_one("select api.enqueue_job('noop')", &[]).await.unwrap();
    }
    tx.query_one("select api.enqueue_job('noop', p_queue => 'mail')", &[])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // A round trip on the listening connection delivers everything sent before it.
    listening.batch_execute("select 1").await.unwrap();
    let mut received = Vec::new();
    while let Ok(n) = notes.try_recv() {
        received.push(serde_json::from_str::<serde_json::Value>(&n).unwrap());
    }
    received.sort_by_key(|n| n["queue"].as_str().unwrap().to_string());
    assert_eq!(
        received,
        vec![
            serde_json::json!({"queue": "default", "count": 1}),
            serde_json::json!({"queue": "mail", "count": 2}),
        ],
        "one notification per queue, from the committed transaction only"
    );
    assert_eq!(count(&client, "select count(*) from shop.job_queue").await, 7);
}

#[tokio::test]
async fn bulk_enqueue_inserts_many_jobs_in_one_call_and_skips_taken_unique_keys() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    enqueue(&client, "select api.enqueue_job('noop', p_unique_key => 'k7')").await;
    let ids = client
        .query(
            "select job_id from api.enqueue_jobs((select jsonb_agg(jsonb_build_object(
                 'kind', 'noop', 'payload', '{}'::jsonb, 'priority', i % 3, 'unique_key', 'k' || i))
               from generate_series(1, 10000) i))",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(ids.len(), 9_999, "k7 was taken");
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.job_queue where status = 'pending'"
        )
        .await,
        10_000
    );
}

#[tokio::test]
async fn claims_take_ready_jobs_by_priority_then_run_at_then_id_within_kinds_and_queues() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let low = enqueue(
        &client,
        "select api.enqueue_job('noop', p_run_at => now() - interval '1 hour')",
    )
    .await;
    let high = enqueue(&client, "select api.enqueue_job('noop', p_priority => 5)").await;
    let older = enqueue(
        &client,
        "select api.enqueue_job('noop', p_run_at => now() - interval '2 hours')",
    )
    .await;
    enqueue(
        &client,
        "select api.enqueue_job('noop', p_run_at => now() + interval '1 hour')",
    )
    .await;
    let other_kind = enqueue(&client, "select api.enqueue_job('write_audit')").await;
    let mail = enqueue(&client, "select api.enqueue_job('noop', p_queue => 'mail')").await;
    let claimed: Vec<i64> = client
        .query(
            "select job_id from api.claim_jobs('w', array['noop'], 10, '1 minute', array['default'])",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut expected = vec![high, older, low];
    expected.sort_unstable();
    assert_eq!(
        claimed, expected,
        "future, other-kind and other-queue jobs are left"
    );
    let order: Vec<i64> = client
        .query(
            "select job_id from shop.job_queue where status = 'running' order by priority desc, run_at, job_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(order, vec![high, older, low]);
    let rest: Vec<i64> = client
        .query(
            "select job_id from api.claim_jobs('w', array['noop', 'write_audit'], 10)",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(rest, vec![other_kind, mail]);
}

/// One `api.complete_and_claim_jobs` claim (nothing to complete) of up to `n` noop jobs
/// from `cursor` (the last job of the previous claim); returns the claimed ids and the
/// next cursor (priority, run_at, id) as the worker computes it.
async fn claim_from(
    client: &Client,
    n: i32,
    cursor: Option<(i16, std::time::SystemTime, i64)>,
) -> (Vec<i64>, Option<(i16, std::time::SystemTime, i64)>) {
    let rows = client
        .query(
            "select job_id, priority, run_at from api.complete_and_claim_jobs('{}', '{}', 'w', array['noop'], $1,
                 '1 minute', null, $2, $3, $4) where job_id is not null",
            &[&n, &cursor.map(|c| c.0), &cursor.map(|c| c.1), &cursor.map(|c| c.2)],
        )
        .await
        .unwrap();
    let ids = rows.iter().map(|r| r.get(0)).collect();
    let next = rows
        .iter()
        .map(|r| (r.get::<_, i16>(1), r.get(2), r.get::<_, i64>(0)))
        .max_by_key(|c| (std::cmp::Reverse(c.0), c.1, c.2));
    (ids, next)
}

#[tokio::test]
async fn a_claim_from_a_cursor_starts_after_it_yields_to_a_higher_priority_and_goes_back_when_short() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let mut jobs = Vec::new();
    for minutes in [60, 50, 40, 30, 20, 10] {
        jobs.push(
            enqueue(
                &client,
                &format!("select api.enqueue_job('noop', p_run_at => now() - interval '{minutes} minutes')"),
            )
            .await,
        );
    }
    let (first, cursor) = claim_from(&client, 2, None).await;
    assert_eq!(first, jobs[0..2]);

    // Ready behind the cursor: a full claim from the cursor does not see it...
    let behind = enqueue(
        &client,
        "select api.enqueue_job('noop', p_run_at => now() - interval '2 hours')",
    )
    .await;
    let (second, cursor) = claim_from(&client, 2, cursor).await;
    assert_eq!(second, jobs[2..4], "the claim starts after the previous batch");

    // ...a short one goes on from the index's start and finds it.
    let (third, cursor) = claim_from(&client, 10, cursor).await;
    let mut expected = vec![jobs[4], jobs[5], behind];
    expected.sort_unstable();
    let mut third_sorted = third.clone();
    third_sorted.sort_unstable();
    assert_eq!(third_sorted, expected);

    // A ready job of a higher priority comes first, whatever the cursor.
    enqueue(&client, "select api.enqueue_job('noop')").await;
    let urgent = enqueue(&client, "select api.enqueue_job('noop', p_priority => 5)").await;
    let (fourth, _) = claim_from(&client, 1, cursor).await;
    assert_eq!(fourth, vec![urgent]);
}

#[tokio::test]
async fn racing_claimers_with_batches_take_each_job_exactly_once() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    client
        .execute(
            "select api.enqueue_jobs((select jsonb_agg(jsonb_build_object('kind', 'noop')) from generate_series(1, 3000)))",
            &[],
        )
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for w in 0..6 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let client = db.connect().await;
            let mut mine = Vec::new();
            loop {
                let rows = client
                    .query(
                        "select job_id, attempt from api.claim_jobs($1, array['noop'], 50)",
                        &[&format!("w{w}")],
                    )
                    .await
                    .unwrap();
                if rows.is_empty() {
                    return mine;
                }
                let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
                let attempts: Vec<i32> = rows.iter().map(|r| r.get(1)).collect();
                let done = client
                    .query("select job_id from api.complete_jobs($1, $2)", &[&ids, &attempts])
                    .await
                    .unwrap();
                assert_eq!(done.len(), ids.len(), "a batch completes in one statement");
                mine.extend(ids);
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let n = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!((n, all.len()), (3000, 3000));
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.job_attempt where ok and attempt = 1"
        )
        .await,
        3000
    );
    assert_eq!(
        count(
            &client,
            "select count(*) from report.jobs where status = 'completed'"
        )
        .await,
        3000
    );
    assert_eq!(
        count(&client, "select count(*) from shop.job_queue").await,
        0,
        "completed jobs leave the queue table: their attempt rows are their history"
    );
}

#[tokio::test]
async fn failures_back_off_exponentially_with_at_most_ten_percent_jitter_then_discard() {
    let db = TestDb::new().await;
    let mut client = db.connect().await;
    let id = enqueue(&client, "select api.enqueue_job('noop', p_max_attempts => 4)").await;
    for attempt in 1..=4 {
        let (claimed, token) = claim(&client, "w", "noop", "1 minute").await;
        assert_eq!((claimed, token), (id, attempt));
        // fail_job and the read share one transaction, so now() is the same instant.
        let tx = client.transaction().await.unwrap();
        let failed: bool = tx
            .query_one(
                "select api.fail_job($1, $2, $3)",
                &[&id, &attempt, &format!("boom {attempt}")],
            )
            .await
            .unwrap()
            .get(0);
        assert!(failed);
        let row = tx
            .query_one(
                "select status, extract(epoch from run_at - now())::float8, last_error from shop.job_queue where job_id = $1",
                &[&id],
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let (status, delay, error): (String, f64, String) = (row.get(0), row.get(1), row.get(2));
        assert_eq!(error, format!("boom {attempt}"));
        if attempt < 4 {
            let base = f64::from(attempt).powi(4) + 3.0; // 4 s, 19 s, 84 s
            assert_eq!(status, "pending");
            assert!(
                delay >= base && delay <= base * 1.1,
                "attempt {attempt}: delay {delay} s not in [{base}, {}]",
                base * 1.1
            );
            // Make it due again (the test does not wait out the backoff).
            client
                .execute(
                    "update shop.job_queue set run_at = now() where job_id = $1",
                    &[&id],
                )
                .await
                .unwrap();
        } else {
            assert_eq!(status, "discarded", "dead letter after max_attempts, kept");
        }
    }
    let attempts: Vec<(i32, bool, String)> = client
        .query(
            "select attempt, ok, error from shop.job_attempt where job_id = $1 order by attempt",
            &[&id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(attempts.len(), 4);
    assert!(attempts.iter().all(|(_, ok, _)| !ok));
    let caps: (String, String) = {
        let row = client
            .query_one("select api.job_backoff(1)::text, api.job_backoff(50)::text", &[])
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(
        caps,
        ("00:00:04".into(), "168:00:00".into()),
        "4 s first, capped at 7 days"
    );
}

#[tokio::test]
async fn a_stale_attempt_can_neither_complete_nor_fail_nor_heartbeat_the_job() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let id = enqueue(&client, "select api.enqueue_job('noop')").await;
    let (_, stale) = claim(&client, "slow", "noop", "1 millisecond").await;
    tokio::time::sleep(Duration::from_millis(5)).await; // let the 1 ms lease pass
    let (again, current) = claim(&client, "rescuer", "noop", "1 minute").await;
    assert_eq!((again, current), (id, stale + 1), "rescued and re-claimed");
    let completed = client
        .query(
            "select job_id from api.complete_jobs(array[$1::bigint], array[$2::int])",
            &[&id, &stale],
        )
        .await
        .unwrap();
    assert!(completed.is_empty(), "the stale completion is refused");
    let failed: bool = client
        .query_one("select api.fail_job($1, $2, 'late')", &[&id, &stale])
        .await
        .unwrap()
        .get(0);
    assert!(!failed);
    let beats = client
        .query(
            "select job_id from api.heartbeat_jobs('slow', array[$1::bigint], array[$2::int])",
            &[&id, &stale],
        )
        .await
        .unwrap();
    assert!(beats.is_empty());
    let done: bool = client
        .query_one("select api.complete_job($1, $2)", &[&id, &current])
        .await
        .unwrap()
        .get(0);
    assert!(done);
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
            (1, "slow".into(), false, Some("lease expired".into())),
            (2, "rescuer".into(), true, None)
        ]
    );
}

#[tokio::test]
async fn heartbeats_extend_leases_and_expired_leases_of_exhausted_jobs_are_discarded() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let id = enqueue(&client, "select api.enqueue_job('noop', p_max_attempts => 1)").await;
    let (_, attempt) = claim(&client, "w", "noop", "1 second").await;
    let held = client
        .query(
            "select job_id from api.heartbeat_jobs('w', array[$1::bigint], array[$2::int], '10 minutes')",
            &[&id, &attempt],
        )
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
    let extended: bool = client
        .query_one(
            "select locked_until > now() + interval '9 minutes' from shop.job_queue where job_id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert!(extended);
    // Another worker cannot heartbeat it.
    let stolen = client
        .query(
            "select job_id from api.heartbeat_jobs('other', array[$1::bigint], array[$2::int])",
            &[&id, &attempt],
        )
        .await
        .unwrap();
    assert!(stolen.is_empty());
    client
        .execute(
            "update shop.job_queue set locked_until = now() - interval '1 second' where job_id = $1",
            &[&id],
        )
        .await
        .unwrap();
    assert_eq!(
        count(&client, "select api.rescue_expired_jobs()::bigint").await,
        1
    );
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.job_queue where status = 'discarded' and last_error = 'lease expired'"
        )
        .await,
        1,
        "its only attempt was used"
    );
}

#[tokio::test]
async fn cancel_retry_and_release_do_what_a_dba_expects() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    // Cancel a pending job: it is never claimed.
    let pending = enqueue(
        &client,
        "select api.enqueue_job('noop', p_run_at => now() + interval '1 hour')",
    )
    .await;
    let cancelled: bool = client
        .query_one("select api.cancel_job($1)", &[&pending])
        .await
        .unwrap()
        .get(0);
    assert!(cancelled);
    let again: bool = client
        .query_one("select api.cancel_job($1)", &[&pending])
        .await
        .unwrap()
        .get(0);
    assert!(!again, "already finished");
    // Cancel a running job: its worker's completion is refused.
    let running = enqueue(&client, "select api.enqueue_job('noop')").await;
    let (_, attempt) = claim(&client, "w", "noop", "1 minute").await;
    client
        .query_one("select api.cancel_job($1)", &[&running])
        .await
        .unwrap();
    let done: bool = client
        .query_one("select api.complete_job($1, $2)", &[&running, &attempt])
        .await
        .unwrap()
        .get(0);
    assert!(!done);
    // Retry a discarded job: pending now, with one more attempt allowed.
    let dead = enqueue(&client, "select api.enqueue_job('noop', p_max_attempts => 1)").await;
    let (_, attempt) = claim(&client, "w", "noop", "1 minute").await;
    client
        .query_one("select api.fail_job($1, $2, 'x')", &[&dead, &attempt])
        .await
        .unwrap();
    let retried: bool = client
        .query_one("select api.retry_job($1)", &[&dead])
        .await
        .unwrap()
        .get(0);
    assert!(retried);
    let (id, attempt) = claim(&client, "w", "noop", "1 minute").await;
    assert_eq!((id, attempt), (dead, 2));
    // A running job cannot be retried; an unknown one is 404.
    let err = client
        .query_one("select api.retry_job($1)", &[&dead])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "MA409");
    let err = client
        .query_one("select api.cancel_job(-1)", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "MA404");
    // Release: back to pending at once, the attempt not counted against max_attempts.
    let released: i32 = client
        .query_one(
            "select api.release_jobs('w', array[$1::bigint], array[$2::int])",
            &[&dead, &attempt],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(released, 1);
    let row = client
        .query_one(
            "select j.status, j.max_attempts, a.ok, a.error from shop.job_queue j
             join shop.job_attempt a on a.job_id = j.job_id and a.attempt = j.attempt where j.job_id = $1",
            &[&dead],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            row.get::<_, String>(0),
            row.get::<_, i32>(1),
            row.get::<_, Option<bool>>(2)
        ),
        ("pending".into(), 3, None)
    );
}

#[tokio::test]
async fn cron_expressions_give_the_next_matching_minute_in_utc() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let next = |cron: &'static str, after: &'static str| {
        let client = &client;
        async move {
            client
                .query_one("select to_char(api.cron_next($1, $2::text::timestamptz) at time zone 'UTC', 'YYYY-MM-DD HH24:MI Dy')", &[&cron, &after])
                .await
                .unwrap()
                .get::<_, String>(0)
        }
    };
    assert_eq!(
        next("17 * * * *", "2026-01-01 10:20Z").await,
        "2026-01-01 11:17 Thu"
    );
    assert_eq!(
        next("17 * * * *", "2026-01-01 10:16:59Z").await,
        "2026-01-01 10:17 Thu"
    );
    assert_eq!(
        next("*/15 * * * *", "2026-01-01 10:15Z").await,
        "2026-01-01 10:30 Thu"
    );
    assert_eq!(
        next("0 9 * * 1-5", "2026-01-02 09:00Z").await,
        "2026-01-05 09:00 Mon"
    );
    assert_eq!(
        next("30 8 1 * 5", "2026-11-24 00:00Z").await,
        "2026-11-27 08:30 Fri",
        "day of month OR day of week"
    );
    assert_eq!(
        next("0 0 29 2 *", "2026-03-01 00:00Z").await,
        "2028-02-29 00:00 Tue"
    );
    assert_eq!(
        next("0 0 * * 7", "2026-01-01 00:00Z").await,
        "2026-01-04 00:00 Sun",
        "7 is Sunday"
    );
    let err = client
        .query_one("select api.cron_next('61 * * * *', now())", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "22023");
}

#[tokio::test]
async fn racing_schedulers_enqueue_each_time_bucket_exactly_once() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    maef_tests::disable_schedules(&client).await;
    client
        .execute(
            "insert into shop.job_schedule (name, kind, every, next_run_at) values ('tick', 'noop', '1 second', now() - interval '30 seconds')",
            &[],
        )
        .await
        .unwrap();
    // Three schedulers race for 2.5 s, completing what they enqueue at once, so the
    // unique index (pending/running only) cannot be what stops duplicates.
    let stop_at = std::time::Instant::now() + Duration::from_millis(2500);
    let mut tasks = Vec::new();
    for w in 0..3 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let client = db.connect().await;
            while std::time::Instant::now() < stop_at {
                client
                    .query_one("select api.enqueue_due_schedules()", &[])
                    .await
                    .unwrap();
                let rows = client
                    .query(
                        "select job_id, attempt from api.claim_jobs($1, array['noop'], 10)",
                        &[&format!("s{w}")],
                    )
                    .await
                    .unwrap();
                for r in rows {
                    client
                        .query_one(
                            "select api.complete_job($1, $2)",
                            &[&r.get::<_, i64>(0), &r.get::<_, i32>(1)],
                        )
                        .await
                        .unwrap();
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let buckets: Vec<(String, i64)> = client
        .query(
            "select unique_key, count(*) from report.jobs group by unique_key order by unique_key",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(
        (3..=5).contains(&buckets.len()),
        "one missed-bucket catch-up then one per second: {buckets:?}"
    );
    assert!(
        buckets
            .iter()
            .all(|(key, n)| *n == 1 && key.starts_with("schedule:tick@")),
        "{buckets:?}"
    );
    let row = client
        .query_one(
            "select next_run_at > now(), last_job_id is not null from shop.job_schedule where name = 'tick'",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0) && row.get::<_, bool>(1));
}

#[tokio::test]
async fn the_default_schedules_exist_and_enqueue_their_kinds() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let n = count(&client, "select api.enqueue_due_schedules()::bigint").await;
    assert_eq!(n, 12);
    let kinds: Vec<String> = client
        .query("select kind from shop.job_queue order by kind", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        kinds,
        [
            "apply_retention",
            "expire_stock_reservations",
            "prune_emails",
            "prune_events",
            "prune_idempotency_keys",
            "prune_jobs",
            "prune_orphan_media",
            "prune_stories",
            "pull_instagram_stories",
            "reconcile_payments",
            "refresh_materialized_views",
            "renew_instagram_tokens"
        ]
    );
    assert_eq!(
        count(&client, "select api.enqueue_due_schedules()::bigint").await,
        0,
        "not due again yet"
    );
}

#[tokio::test]
async fn pruning_deletes_only_old_finished_jobs_and_expired_idempotency_keys() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    for _ in 0..3 {
        enqueue(&client, "select api.enqueue_job('noop')").await;
    }
    let rows = client
        .query(
            "select job_id, attempt from api.claim_jobs('w', array['noop'], 2)",
            &[],
        )
        .await
        .unwrap();
    for r in &rows {
        client
            .query_one(
                "select api.complete_job($1, $2)",
                &[&r.get::<_, i64>(0), &r.get::<_, i32>(1)],
            )
            .await
            .unwrap();
    }
    client
        .execute(
            "update shop.job_attempt set finished_at = now() - interval '8 days' where job_id = $1",
            &[&rows[0].get::<_, i64>(0)],
        )
        .await
        .unwrap();
    assert_eq!(count(&client, "select api.prune_jobs()").await, 1);
    assert_eq!(
        count(&client, "select count(*) from report.jobs").await,
        2,
        "recent and pending jobs stay"
    );
    assert_eq!(count(&client, "select count(*) from shop.job_attempt").await, 1);
    client
        .execute(
            "insert into shop.idempotency_key (scope, key, method, path, request_hash, expires_at)
             values ('s', 'old', 'POST', '/x', 'h', now() - interval '1 minute'), ('s', 'new', 'POST', '/x', 'h', now() + interval '1 hour')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        count(&client, "select api.prune_expired_idempotency_keys()").await,
        1
    );
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.idempotency_key where key = 'new'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn job_stats_report_counts_latency_failures_and_the_oldest_ready_job() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    enqueue(
        &client,
        "select api.enqueue_job('noop', p_run_at => now() - interval '10 minutes')",
    )
    .await;
    enqueue(
        &client,
        "select api.enqueue_job('noop', p_run_at => now() - interval '2 seconds')",
    )
    .await;
    enqueue(
        &client,
        "select api.enqueue_job('noop', p_run_at => now() + interval '1 hour')",
    )
    .await;
    let (id, attempt) = claim(&client, "w", "noop", "1 minute").await;
    client
        .query_one("select api.complete_job($1, $2)", &[&id, &attempt])
        .await
        .unwrap();
    let (id, attempt) = claim(&client, "w", "noop", "1 minute").await;
    client
        .query_one("select api.fail_job($1, $2, 'x')", &[&id, &attempt])
        .await
        .unwrap();
    let row = client
        .query_one(
            "select ready, scheduled, running, completed, failures_last_hour, completed_last_hour,
                    extract(epoch from latency_p50)::float8, extract(epoch from latency_p95)::float8,
                    oldest_ready_age is null
             from report.job_stats where queue = 'default' and kind = 'noop'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            row.get::<_, i64>(0),
            row.get::<_, i64>(1),
            row.get::<_, i64>(2),
            row.get::<_, i64>(3)
        ),
        (0, 2, 0, 1),
        "the failed job waits out its backoff: scheduled"
    );
    assert_eq!((row.get::<_, i64>(4), row.get::<_, i64>(5)), (1, 1));
    let (p50, p95): (f64, f64) = (row.get(6), row.get(7));
    assert!(
        p50 >= 2.0 && p95 >= p50 && p95 <= 601.0,
        "latency from due time to start: {p50} {p95}"
    );
    assert!(row.get::<_, bool>(8), "no job ready now");
}

#[tokio::test]
async fn every_queue_function_is_documented_and_closed_to_http_roles() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let rows = client
        .query(
            "select p.proname, obj_description(p.oid, 'pg_proc') is not null,
                    has_function_privilege('maef_anon', p.oid, 'execute') or has_function_privilege('maef_admin', p.oid, 'execute')
             from pg_proc p
             where p.pronamespace = 'api'::regnamespace and p.proname ~ '(job|schedule|cron|prune|refresh_materialized)'",
            &[],
        )
        .await
        .unwrap();
    assert!(rows.len() >= 16, "{}", rows.len());
    for r in rows {
        let name: String = r.get(0);
        assert!(r.get::<_, bool>(1), "{name} has no COMMENT");
        assert!(!r.get::<_, bool>(2), "{name} is executable by an HTTP role");
    }
}
