//! A local primary and its streaming replica (`scripts/replica.sh`), on ports of their
//! own in a temporary directory, stopped and removed when dropped. The shared test
//! server is not involved.

use std::{
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

use tokio_postgres::Client;

/// A running primary + streaming replica pair.
pub struct ReplicaPair {
    dir: PathBuf,
    /// The primary's port on 127.0.0.1.
    pub primary_port: u16,
    /// The replica's port on 127.0.0.1.
    pub replica_port: u16,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/replica.sh")
}

fn run(args: &[&str]) {
    let output = Command::new(script())
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("scripts/replica.sh runs");
    assert!(
        output.status.success(),
        "scripts/replica.sh {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Two consecutive free ports **below** the kernel's ephemeral range (32768 and up):
/// a port in that range may be taken, between the check and the server's bind, as
/// the source port of an outgoing connection (the replica's own connection to the
/// primary, for one).
fn two_free_ports() -> u16 {
    let seed = std::process::id() as u16 % 5_000;
    (0..5_000u16)
        .map(|i| 20_000 + (seed + i * 2) % 10_000)
        .find(|&p| {
            std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()
                && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok()
        })
        .expect("two free ports between 20000 and 30000")
}

impl ReplicaPair {
    /// Makes and starts the pair (a few seconds: initdb, pg_basebackup).
    ///
    /// # Panics
    /// When the script fails (its output is in the message).
    pub fn start() -> Self {
        let primary_port = two_free_ports();
        let dir = std::env::temp_dir().join(format!("maef-replica-{primary_port}-{}", std::process::id()));
        run(&[
            "start",
            dir.to_str().unwrap(),
            &primary_port.to_string(),
            &(primary_port + 1).to_string(),
        ]);
        Self {
            dir,
            primary_port,
            replica_port: primary_port + 1,
        }
    }

    /// URL of `database` on the primary, as role `maef`.
    pub fn primary_url(&self, database: &str) -> String {
        format!("postgres://maef:maef@127.0.0.1:{}/{database}", self.primary_port)
    }

    /// URL of `database` on the replica, as role `maef`.
    pub fn replica_url(&self, database: &str) -> String {
        format!("postgres://maef:maef@127.0.0.1:{}/{database}", self.replica_port)
    }

    /// Stops the replica (fast shutdown: its sessions are ended).
    pub fn stop_replica(&self) {
        run(&["stop-replica", self.dir.to_str().unwrap()]);
    }

    /// Starts the replica again.
    pub fn start_replica(&self) {
        run(&["start-replica", self.dir.to_str().unwrap()]);
    }
}

impl Drop for ReplicaPair {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .args(["stop", self.dir.to_str().unwrap()])
            .stdin(std::process::Stdio::null())
            .status();
    }
}

/// Waits until the replica has replayed everything the primary had written when this
/// was called; returns how long that took (the replication lag of that write).
///
/// # Panics
/// After 30 s.
pub async fn caught_up(primary: &Client, replica: &Client) -> Duration {
    let started = Instant::now();
    let target: String = primary
        .query_one("select pg_current_wal_lsn()::text", &[])
        .await
        .unwrap()
        .get(0);
    loop {
        let done: bool = replica
            .query_one("select pg_last_wal_replay_lsn() >= $1::text::pg_lsn", &[&target])
            .await
            .unwrap()
            .get(0);
        if done {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the replica did not catch up in 30 s"
        );
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

/// The replica of a test database, when the run has one (`MAEF_TEST_REPLICA_URL`, the
/// replica's maintenance-database URL, set by `scripts/replica.sh test`).
pub struct ReplicaLink {
    /// The test database's URL on the replica.
    pub url: String,
    primary: Client,
    replica: Client,
}

impl ReplicaLink {
    /// The link for `db`, once the replica has the database; `None` without
    /// `MAEF_TEST_REPLICA_URL`.
    pub async fn from_env(db: &crate::TestDb) -> Option<Self> {
        let base = std::env::var("MAEF_TEST_REPLICA_URL").ok()?;
        let (server, _) = base
            .rsplit_once('/')
            .expect("MAEF_TEST_REPLICA_URL ends with /database");
        let url = format!("{server}/{}", db.name);
        let primary = crate::connect(&db.url).await;
        caught_up(&primary, &crate::connect(&base).await).await;
        let replica = crate::connect(&url).await;
        Some(Self {
            url,
            primary,
            replica,
        })
    }

    /// Waits until the replica has replayed everything written so far.
    pub async fn caught_up(&self) -> Duration {
        caught_up(&self.primary, &self.replica).await
    }
}
