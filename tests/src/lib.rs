//! Test harness shared by maef's SQL API, HTTP and end-to-end tests.
//!
//! Every test runs against a real PostgreSQL with the real `maef` extension installed.
//! A template database is migrated once per run (`maef-api migrate`'s own code); each
//! test gets a fresh database cloned from it with `CREATE DATABASE … TEMPLATE`, which is
//! fast and isolates tests so they can run in parallel.
//!
//! The server is found through `MAEF_TEST_ADMIN_URL` (a URL whose role may create
//! databases; default `postgres://maef:maef@127.0.0.1:5432/postgres`). `make test` sets
//! `MAEF_TEST_RUN_ID` so all test binaries of a run share one template; it drops the
//! run's databases afterwards.

pub mod api_process;
pub mod contract;
pub mod fake_fedapay;
pub mod fake_graph;
pub mod fake_paystack;
pub mod fake_provider;
pub mod fake_stripe;
pub mod fakes;
pub mod fulfilment;
pub mod http;
pub mod load;
pub mod pgbouncer;
pub mod prometheus;
pub mod replica;
pub mod shop;

use std::sync::OnceLock;

use tokio_postgres::{Client, NoTls};

/// URL of a role allowed to create databases, connected to a maintenance database.
pub fn admin_url() -> String {
    std::env::var("MAEF_TEST_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://maef:maef@127.0.0.1:5432/postgres".into())
}

/// The URL of database `name` on the test server.
pub fn database_url(name: &str) -> String {
    let admin = admin_url();
    let (base, _) = admin.rsplit_once('/').expect("admin URL ends with /database");
    format!("{base}/{name}")
}

/// Connects and drives the connection in the background.
///
/// # Panics
/// When the server cannot be reached: a test without its database cannot run.
pub async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// The run's id, in the form `make test` uses (`r<epoch>x<pid>`), so that databases of
/// a `cargo test` run outside `make test` — which has no end-of-run cleanup — are
/// recognised and dropped as stale by the next `make test` (scripts/test.sh) an hour
/// later, instead of filling the disk.
pub fn run_id() -> String {
    std::env::var("MAEF_TEST_RUN_ID").unwrap_or_else(|_| {
        static ID: OnceLock<String> = OnceLock::new();
        ID.get_or_init(|| {
            let epoch = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            format!("r{epoch}x{}", std::process::id())
        })
        .clone()
    })
}

/// Name of this run's migrated template database, creating it on first use.
///
/// Creation happens once per run even across test binaries running at the same time:
/// it is serialised by an advisory lock, and a finished template is marked with a
/// database comment.
pub fn template() -> &'static str {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        // Its own runtime on its own thread: each #[tokio::test] has a runtime of its
        // own, and this connection must outlive none of them.
        std::thread::spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(create_template())
        })
        .join()
        .expect("template creation panicked")
    })
}

async fn create_template() -> String {
    let name = format!("maef_tmpl_{}", run_id());
    let admin = connect(&admin_url()).await;
    admin
        .execute("select pg_advisory_lock(hashtext($1))", &[&name])
        .await
        .unwrap();
    let ready: bool = admin
        .query_one(
            "select exists (select from pg_database where datname = $1 and shobj_description(oid, 'pg_database') = 'ready')",
            &[&name],
        )
        .await
        .unwrap()
        .get(0);
    if !ready {
        admin
            .batch_execute(&format!("drop database if exists {name}"))
            .await
            .unwrap();
        admin
            .batch_execute(&format!("create database {name}"))
            .await
            .unwrap();
        {
            let (mut client, connection) = tokio_postgres::connect(&database_url(&name), NoTls)
                .await
                .unwrap();
            let driver = tokio::spawn(connection);
            maef_api::migrate::run(&mut client)
                .await
                .expect("migrating the template database");
            drop(client);
            // Wait until the session is really gone: CREATE DATABASE … TEMPLATE refuses a
            // template with open connections.
            let _ = driver.await;
        }
        admin
            .batch_execute(&format!("comment on database {name} is 'ready'"))
            .await
            .unwrap();
    }
    admin
        .execute("select pg_advisory_unlock(hashtext($1))", &[&name])
        .await
        .unwrap();
    name
}

/// Drops database `name`, waiting briefly for sessions that are still closing.
///
/// A plain DROP DATABASE, not `WITH (FORCE)`: FORCE must signal every backend in the
/// database, and a non-superuser may not signal an autovacuum worker (which
/// analyzes a freshly restored database), so FORCE fails at random for the `maef`
/// role. A plain drop cancels autovacuum itself; only our own closing sessions can
/// hold it up, hence the retry.
///
/// # Panics
/// When the database is still in use after 10 s, or the server refuses.
pub async fn drop_database(admin: &Client, name: &str) {
    execute_while_in_use(admin, &format!("drop database if exists {name}")).await;
}

/// Runs a CREATE or DROP DATABASE statement, retrying for up to 10 s while the server
/// answers `object_in_use` (55006): a session of ours on that database (or on the
/// template) is still closing.
async fn execute_while_in_use(admin: &Client, statement: &str) {
    for _ in 0..100 {
        match admin.batch_execute(statement).await {
            Ok(()) => return,
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::OBJECT_IN_USE) => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{statement}: {e}"),
        }
    }
    panic!("{statement}: the database is still in use after 10 s");
}

/// A fresh database cloned from the migrated template.
#[derive(Debug, Clone)]
pub struct TestDb {
    /// Database name.
    pub name: String,
    /// Its URL.
    pub url: String,
}

impl TestDb {
    /// Clones the template into a new database named after the test.
    ///
    /// # Panics
    /// When the server refuses (the test cannot run without it).
    pub async fn new() -> Self {
        let template = template();
        let suffix: String = uuid_like();
        let name = format!("maef_t_{}_{suffix}", run_id());
        let admin = connect(&admin_url()).await;
        // A template with a lingering connection (its creator's session closing) makes
        // CREATE DATABASE fail for a moment.
        execute_while_in_use(&admin, &format!("create database {name} template {template}")).await;
        Self {
            url: database_url(&name),
            name,
        }
    }

    /// A new connection to this database.
    pub async fn connect(&self) -> Client {
        connect(&self.url).await
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{:x}{:x}", COUNTER.fetch_add(1, Ordering::Relaxed), nanos)
}

/// Inserts `n` active products (one variant each, XOF and EUR prices, stock) in one
/// category and returns their slugs in id order. Slugs are `"{prefix}-{i}"`.
pub async fn seed_products(client: &Client, prefix: &str, n: i32) -> Vec<String> {
    client
        .execute(
            "insert into shop.category (name, slug) values ('Test', 'test') on conflict (slug) do nothing",
            &[],
        )
        .await
        .unwrap();
    let rows = client
        .query(
            "with p as (
                 insert into shop.product (category_id, sku_root, title, slug, brand)
                 select (select category_id from shop.category where slug = 'test'),
                        upper($1) || '-' || i, 'Product ' || $1 || ' ' || i, $1 || '-' || i, 'Brand'
                 from generate_series(1, $2) i
                 returning product_id, slug, sku_root),
             v as (
                 insert into shop.product_variant (product_id, name, sku)
                 select product_id, 'Default', sku_root || '-D' from p
                 returning variant_id, product_id),
             i as (insert into shop.inventory (variant_id, qty_on_hand) select variant_id, 10 from v),
             pr as (insert into shop.price (product_id, currency_code, amount)
                    select product_id, c, case c when 'XOF' then 15000 else 2299 end
                    from p cross join (values ('XOF'), ('EUR')) cur(c))
             select slug from p order by product_id",
            &[&prefix, &n],
        )
        .await
        .unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

/// Waits until `check` returns true, polling every 20 ms; panics with `what` after
/// `timeout`. For waiting on another process's progress: the condition, not the
/// delay, is what the test relies on.
pub async fn eventually<F, Fut>(timeout: std::time::Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + timeout;
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Path of a workspace binary next to the running test executable
/// (`target/debug/deps/<test>` → `target/debug/<name>`).
///
/// # Panics
/// When the binary is not built (`cargo build -p maef-api -p maef-worker`).
pub fn binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join(name);
    assert!(
        path.exists(),
        "{} not built: run `cargo build -p maef-api -p maef-worker` first",
        path.display()
    );
    path
}

/// A running `maef-worker` process; killed when dropped.
pub struct WorkerProcess {
    child: std::process::Child,
    /// Its `WORKER_ID`.
    pub id: String,
}

impl WorkerProcess {
    /// Starts `maef-worker` on `database_url` with a short poll interval and lease
    /// (tests wait on them), plus `extra` settings, which win.
    pub fn spawn(database_url: &str, id: &str, extra: &[(&str, &str)]) -> Self {
        let mut command = std::process::Command::new(binary("maef-worker"));
        command
            .env_clear()
            .env("DATABASE_URL", database_url)
            .env("WORKER_ID", id)
            .env("WORKER_POLL_MS", "200")
            .env("WORKER_LEASE_SECS", "10")
            .env("WORKER_CONCURRENCY", "4")
            .env(
                "RUST_LOG",
                std::env::var("MAEF_TEST_WORKER_LOG").unwrap_or_else(|_| "error".into()),
            )
            .stdout(std::process::Stdio::null());
        if std::env::var("MAEF_TEST_WORKER_LOG").is_err() {
            command.stderr(std::process::Stdio::null());
        }
        for (k, v) in extra {
            command.env(k, v);
        }
        Self {
            child: command.spawn().expect("spawn maef-worker"),
            id: id.to_string(),
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (`"TERM"`, `"KILL"`).
    pub fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits for the process to exit, up to `timeout`.
    ///
    /// # Panics
    /// When it is still running after `timeout`.
    pub async fn wait(&mut self, timeout: std::time::Duration) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "worker {} still running after {timeout:?}",
                self.id
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Gives the account `email` a role (`manager`, `admin`, …): its next sign-in carries
/// the role's permissions.
pub async fn grant_role(client: &Client, email: &str, role: &str) {
    let granted = client
        .execute(
            "insert into shop.user_role (user_id, role_id) select u.user_id, r.role_id
             from shop.app_user u, shop.role r where u.email = $1 and r.name = $2",
            &[&email, &role],
        )
        .await
        .unwrap();
    assert_eq!(granted, 1, "no account {email} or no role {role}");
}

/// Turns the default schedules off, so a test's jobs are the only ones in the queue.
pub async fn disable_schedules(client: &Client) {
    client
        .execute("update shop.job_schedule set enabled = false", &[])
        .await
        .unwrap();
}

/// One integer from a query without parameters.
pub async fn count(client: &Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.unwrap().get(0)
}

/// The first column of every row of a query without parameters.
pub async fn column<T: tokio_postgres::types::FromSqlOwned>(client: &Client, sql: &str) -> Vec<T> {
    client
        .query(sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}
