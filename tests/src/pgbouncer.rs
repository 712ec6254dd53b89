//! A PgBouncer (Debian's `pgbouncer` package, 1.18) in **transaction** pooling mode, started
//! by a test on a free port in front of the test server, and stopped when dropped.
//!
//! Every database of the server is reachable through it under its own name (the `*`
//! fallback entry), so a test database's URL only changes its port. Version 1.18 does
//! not track protocol-level prepared statements: maef-api runs behind it with
//! `DB_PREPARED_STATEMENTS=off` ([`maef_api::db`]).

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A running pgbouncer.
pub struct PgBouncer {
    child: Child,
    dir: std::path::PathBuf,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl PgBouncer {
    /// Starts pgbouncer with at most `server_connections` server connections per
    /// database, in transaction mode; returns once it accepts connections.
    ///
    /// # Panics
    /// When `pgbouncer` is not installed (`apt-get install pgbouncer`; scripts/setup.sh
    /// installs it) or does not start within 10 s.
    pub async fn start(server_connections: u32) -> Self {
        let port = crate::api_process::free_port();
        let admin: tokio_postgres::Config = crate::admin_url().parse().expect("admin URL");
        let user = admin
            .get_user()
            .expect("a user in MAEF_TEST_ADMIN_URL")
            .to_string();
        let password = admin
            .get_password()
            .map(|p| String::from_utf8_lossy(p).to_string())
            .unwrap_or_default();
        let (host, server_port) = match (admin.get_hosts().first(), admin.get_ports().first()) {
            (Some(tokio_postgres::config::Host::Tcp(h)), Some(p)) => (h.clone(), *p),
            _ => ("127.0.0.1".to_string(), 5432),
        };
        let dir = std::env::temp_dir().join(format!("maef-pgbouncer-{port}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("userlist.txt"), format!("\"{user}\" \"{password}\"\n")).unwrap();
        std::fs::write(
            dir.join("pgbouncer.ini"),
            format!(
                "[databases]\n* = host={host} port={server_port}\n\n[pgbouncer]\n\
                 listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
                 auth_type = scram-sha-256\nauth_file = {}\n\
                 pool_mode = transaction\ndefault_pool_size = {server_connections}\n\
                 max_client_conn = 500\nserver_reset_query =\n\
                 ignore_startup_parameters = extra_float_digits\n\
                 logfile =\npidfile =\n",
                dir.join("userlist.txt").display()
            ),
        )
        .unwrap();
        // pgbouncer refuses to run as root: as root, it drops to the postgres user,
        // which must read the files.
        let mut command = Command::new("pgbouncer");
        if nix_is_root() {
            let _ = Command::new("chmod")
                .args(["-R", "a+rX", dir.to_str().unwrap()])
                .status();
            command.args(["-u", "postgres"]);
        }
        command
            .arg(dir.join("pgbouncer.ini"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(if std::env::var("MAEF_TEST_PGBOUNCER_LOG").is_ok() {
                Stdio::inherit()
            } else {
                Stdio::null()
            });
        let mut child = command
            .spawn()
            .expect("pgbouncer not installed (apt-get install pgbouncer)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("pgbouncer exited at start: {status} (MAEF_TEST_PGBOUNCER_LOG=1 shows why)");
            }
            assert!(Instant::now() < deadline, "pgbouncer not listening after 10 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Self { child, dir, port }
    }

    /// `database_url` (a URL on the test server) rewritten to go through this pgbouncer.
    pub fn url_for(&self, database_url: &str) -> String {
        let (base, database) = database_url.rsplit_once('/').expect("URL ends with /database");
        let (authority, host_port) = base.rsplit_once('@').expect("URL has user@host");
        let host = host_port.rsplit_once(':').map_or(host_port, |(h, _)| h);
        format!("{authority}@{host}:{}/{database}", self.port)
    }
}

fn nix_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
