//! The append-only tables partitioned by month (migrations/V33, sql/partitions.sql):
//! rows land in their month, months are created ahead (moving what the default
//! partition held), and retention drops the months wholly past it while deleting only
//! the straddling month's expired rows — exact to the day as before — and never waits
//! long for a busy table.

use std::time::Duration;

use maef_tests::{connect, count, TestDb};
use serde_json::Value;
use tokio_postgres::Client;

const TABLES: [&str; 3] = ["audit_log", "job_attempt", "event"];

/// The `_pYYYYMM` suffix of the month `months` from the current one (negative: past).
async fn month(client: &Client, months: i32) -> String {
    client
        .query_one(
            "select to_char(date_trunc('month', now() at time zone 'UTC') + make_interval(months => $1), 'YYYYMM')",
            &[&months],
        )
        .await
        .unwrap()
        .get(0)
}

/// The partition a row of `table` with this ctid predicate is stored in.
async fn partition_of(client: &Client, table: &str, condition: &str) -> String {
    client
        .query_one(
            &format!("select tableoid::regclass::text from shop.{table} where {condition}"),
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

async fn exists(client: &Client, relation: &str) -> bool {
    client
        .query_one("select to_regclass($1) is not null", &[&relation])
        .await
        .unwrap()
        .get(0)
}

/// A timestamp in the middle of the month `months` from the current one.
fn mid_month(months: i32) -> String {
    format!("date_trunc('month', now()) + make_interval(months => {months}) + interval '14 days'")
}

#[tokio::test]
async fn rows_land_in_their_month_and_coming_months_are_created_ahead() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    for table in TABLES {
        let partitioned: i64 = count(
            &client,
            &format!("select count(*) from pg_partitioned_table where partrelid = 'shop.{table}'::regclass"),
        )
        .await;
        assert_eq!(partitioned, 1, "shop.{table} is partitioned");
        for ahead in 0..=3 {
            let name = format!("shop.{table}_p{}", month(&client, ahead).await);
            assert!(exists(&client, &name).await, "{name} made by the migration");
        }
        assert!(exists(&client, &format!("shop.{table}_default")).await);
    }
    let current = month(&client, 0).await;
    client
        .batch_execute("insert into shop.audit_log (action, entity) values ('test', 'now')")
        .await
        .unwrap();
    assert_eq!(
        partition_of(&client, "audit_log", "entity = 'now'").await,
        format!("shop.audit_log_p{current}")
    );

    // A backdated row before every partition goes to the default one; creating its
    // month moves it into its partition.
    client
        .batch_execute(&format!(
            "insert into shop.audit_log (action, entity, at) values ('test', 'backdated', {})",
            mid_month(-14)
        ))
        .await
        .unwrap();
    assert_eq!(
        partition_of(&client, "audit_log", "entity = 'backdated'").await,
        "shop.audit_log_default"
    );
    let old = month(&client, -14).await;
    let created: bool = client
        .query_one(
            "select api._create_month_partition('audit_log', (date_trunc('month', now()) - interval '14 months')::date)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(created);
    assert_eq!(
        partition_of(&client, "audit_log", "entity = 'backdated'").await,
        format!("shop.audit_log_p{old}")
    );
    assert_eq!(
        count(&client, "select count(*) from shop.audit_log_default").await,
        0
    );

    // The daily job creates what is missing, once: drop next month's and run it twice.
    let next = month(&client, 1).await;
    client
        .batch_execute(&format!("drop table shop.event_p{next}"))
        .await
        .unwrap();
    let first: Value = client
        .query_one("select api.maintain_partitions()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(first["created"], serde_json::json!([format!("event_p{next}")]));
    let second: Value = client
        .query_one("select api.maintain_partitions()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(second["created"], serde_json::json!([]));
    let job_schedule: i64 = count(
        &client,
        "select count(*) from shop.job_schedule where kind = 'maintain_partitions'",
    )
    .await;
    assert_eq!(job_schedule, 1, "a daily schedule creates them");

    // A job attempt stays unique within its month.
    client
        .batch_execute(
            "insert into shop.job_attempt (job_id, attempt, worker, started_at, finished_at, ok, kind, queue)
             values (424242, 1, 'w', now(), now(), true, 'noop', 'default')",
        )
        .await
        .unwrap();
    let again = client
        .batch_execute(
            "insert into shop.job_attempt (job_id, attempt, worker, started_at, finished_at, ok, kind, queue)
             values (424242, 1, 'w', now(), now() + interval '1 second', true, 'noop', 'default')",
        )
        .await
        .unwrap_err();
    assert_eq!(again.code().unwrap().code(), "23505", "{again}");
}

#[tokio::test]
async fn retention_drops_whole_expired_months_and_deletes_only_the_straddling_rows() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    client
        .batch_execute(
            "update shop.setting set value = '30' where key in ('privacy.audit_retention_days', 'events.retention_days');
             select api._create_month_partition(t, (date_trunc('month', now()) - interval '3 months')::date)
             from unnest(array['audit_log', 'job_attempt', 'event']) t;",
        )
        .await
        .unwrap();
    let expired_month = month(&client, -3).await;
    // audit: 500 rows in a month wholly past 30 days, one 31 days old, one 29 days old.
    client
        .batch_execute(&format!(
            "insert into shop.audit_log (action, entity, at)
             select 'test', 'old', {} from generate_series(1, 500);
             insert into shop.audit_log (action, entity, at) values
                 ('test', 'expired', now() - interval '31 days'), ('test', 'kept', now() - interval '29 days');",
            mid_month(-3)
        ))
        .await
        .unwrap();
    let done: Value = client
        .query_one("select api.apply_retention()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(done["audit_log"], 501, "{done}");
    assert!(
        !exists(&client, &format!("shop.audit_log_p{expired_month}")).await,
        "dropped whole"
    );
    let left: Vec<String> = client
        .query(
            "select entity from shop.audit_log where action = 'test' order by entity",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(left, vec!["kept"], "exact to the day in the straddling month");
    let counted: i64 = count(
        &client,
        "select coalesce(sum(deleted), 0)::bigint from shop.retention_run where policy = 'audit_log'",
    )
    .await;
    assert_eq!(counted, 501, "report.retention counts the dropped rows too");

    // events: the expired month's deliveries go with it; a straddling expired event
    // goes row by row with its delivery.
    client
        .batch_execute(&format!(
            "insert into shop.webhook_endpoint (url) values ('https://hooks.example.com/x');
             insert into shop.event (type, aggregate_type, aggregate_id, payload, occurred_at)
             select 'product.created', 'product', i::text, '{{}}', {}
             from generate_series(1, 20) i;
             insert into shop.event (type, aggregate_type, aggregate_id, payload, occurred_at) values
                 ('product.created', 'product', 'expired', '{{}}', now() - interval '31 days'),
                 ('product.created', 'product', 'kept', '{{}}', now() - interval '29 days');
             insert into shop.webhook_delivery (event_id, webhook_endpoint_id)
             select e.event_id, w.webhook_endpoint_id from shop.event e, shop.webhook_endpoint w;",
            mid_month(-3)
        ))
        .await
        .unwrap();
    let pruned: i64 = client
        .query_one("select api.prune_events()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(pruned, 21);
    assert!(!exists(&client, &format!("shop.event_p{expired_month}")).await);
    assert_eq!(count(&client, "select count(*) from shop.event").await, 1);
    let orphans: i64 = count(
        &client,
        "select count(*) from shop.webhook_delivery d where not exists (select from shop.event e where e.event_id = d.event_id)",
    )
    .await;
    assert_eq!(orphans, 0, "no delivery outlives its event");
    assert_eq!(
        count(&client, "select count(*) from shop.webhook_delivery").await,
        1
    );

    // job attempts: prune_jobs drops the expired month and counts its completed jobs.
    client
        .batch_execute(&format!(
            "insert into shop.job_attempt (job_id, attempt, worker, started_at, finished_at, ok, kind, queue)
             select i, 1, 'w', {0}, {0}, i % 4 <> 0, 'noop', 'default' from generate_series(1, 40) i;
             insert into shop.job_attempt (job_id, attempt, worker, started_at, finished_at, ok, kind, queue)
             values (41, 1, 'w', now() - interval '8 days', now() - interval '8 days', true, 'noop', 'default'),
                    (42, 1, 'w', now() - interval '6 days', now() - interval '6 days', true, 'noop', 'default');",
            mid_month(-3)
        ))
        .await
        .unwrap();
    let pruned: i64 = client
        .query_one("select api.prune_jobs('7 days')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        pruned,
        30 + 1,
        "the ok attempts of the dropped month, and the one 8 days old"
    );
    assert!(!exists(&client, &format!("shop.job_attempt_p{expired_month}")).await);
    let left: Vec<i64> = client
        .query("select job_id from shop.job_attempt", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(left, vec![42]);
}

#[tokio::test]
async fn a_busy_table_postpones_the_drop_and_retention_stays_exact() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    client
        .batch_execute(&format!(
            "update shop.setting set value = '30' where key = 'privacy.audit_retention_days';
             select api._create_month_partition('audit_log', (date_trunc('month', now()) - interval '3 months')::date);
             insert into shop.audit_log (action, entity, at) select 'test', 'old', {} from generate_series(1, 10);",
            mid_month(-3)
        ))
        .await
        .unwrap();
    let expired_month = month(&client, -3).await;
    // A long reader of the table (a report, a pg_dump) holds a lock the DROP conflicts with.
    let mut reader = connect(&db.url).await;
    let tx = reader.transaction().await.unwrap();
    tx.batch_execute("select count(*) from shop.audit_log")
        .await
        .unwrap();
    // It returns while the reader still holds its lock: it gave up on the DROP
    // (after lock_timeout, 2 s) instead of queueing behind the reader — and every
    // insert behind itself — for as long as the reader runs.
    let done: Value = tokio::time::timeout(
        Duration::from_secs(60),
        client.query_one("select api.apply_retention()", &[]),
    )
    .await
    .expect("apply_retention queued behind the reader")
    .unwrap()
    .get(0);
    // Retention is still exact: the month's rows went row by row, its (now empty)
    // partition is left for the next run.
    assert_eq!(done["audit_log"], 10, "{done}");
    assert!(
        exists(&client, &format!("shop.audit_log_p{expired_month}")).await,
        "left for the next run"
    );
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.audit_log where entity = 'old'"
        )
        .await,
        0
    );
    tx.rollback().await.unwrap();
    let done: Value = client
        .query_one("select api.apply_retention()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(done["audit_log"], 0, "{done}");
    assert!(!exists(&client, &format!("shop.audit_log_p{expired_month}")).await);
}

/// A database migrated before V33 has the report schema's views over the three tables
/// (report.jobs, report.job_stats… read shop.job_attempt): V33 renames those tables, so
/// it must drop the views first (the reload re-creates them). Upgrading such a database
/// once failed with "cannot drop table shop.job_attempt_unpartitioned because other
/// objects depend on it"; fresh databases (every other test) never had the views.
#[tokio::test]
async fn a_database_migrated_before_v33_with_its_report_views_upgrades() {
    let admin = connect(&maef_tests::admin_url()).await;
    let name = format!("maef_t_{}_upgrade33", maef_tests::run_id());
    maef_tests::drop_database(&admin, &name).await;
    admin
        .execute(&format!("create database {name}"), &[])
        .await
        .unwrap();
    let url = maef_tests::database_url(&name);
    let mut client = connect(&url).await;
    maef_api::migrate::apply_up_to(&mut client, 32)
        .await
        .expect("migrations up to V32");
    // What the report code of that release created over these tables.
    client
        .batch_execute(
            "create schema report;
             create view report.jobs as select job_id, attempt from shop.job_attempt;
             create view report.audit as select audit_log_id from shop.audit_log;
             create view report.events as select event_id from shop.event;",
        )
        .await
        .unwrap();
    let report = maef_api::migrate::run(&mut client)
        .await
        .expect("upgrade to the current version");
    assert_eq!(
        report.applied.first().map(String::as_str),
        Some("V33__partitions"),
        "V33 and the later ones were pending: {:?}",
        report.applied
    );
    for table in TABLES {
        let partitioned: bool = client
            .query_one(
                "select relkind = 'p' from pg_class where oid = ('shop.' || $1)::regclass",
                &[&table],
            )
            .await
            .unwrap()
            .get(0);
        assert!(partitioned, "shop.{table} is partitioned after the upgrade");
    }
    assert!(
        count(
            &client,
            "select count(*) from pg_views where schemaname = 'report'"
        )
        .await
            > 0,
        "the reload re-created the report schema"
    );
    drop(client);
    maef_tests::drop_database(&admin, &name).await;
}
