//! A running `maef-api serve` process on a free port, for tests that need several
//! real instances (or a real process behind a pooler); killed when dropped.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// A `maef-api serve` child process.
pub struct ApiProcess {
    child: Child,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl ApiProcess {
    /// Starts `maef-api serve` on `database_url` with cheap argon2 parameters, a
    /// trusted `X-Forwarded-For` (tests name their clients) and `extra` settings, which
    /// win; returns once `/readyz` answers 200.
    ///
    /// # Panics
    /// When the binary is missing or the instance is not ready within 20 s.
    pub async fn spawn(database_url: &str, extra: &[(&str, &str)]) -> Self {
        let port = free_port();
        let mut command = Command::new(crate::binary("maef-api"));
        command
            .arg("serve")
            .env_clear()
            .env("DATABASE_URL", database_url)
            .env("JWT_SECRET", "instances-secret-instances-secret-42")
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("ARGON2_MEMORY_KIB", "64")
            .env("ARGON2_ITERATIONS", "1")
            .env("TRUST_FORWARDED_FOR", "true")
            .env(
                "RUST_LOG",
                std::env::var("MAEF_TEST_API_LOG").unwrap_or_else(|_| "error".into()),
            )
            .stdout(Stdio::null());
        if std::env::var("MAEF_TEST_API_LOG").is_err() {
            command.stderr(Stdio::null());
        }
        for (k, v) in extra {
            command.env(k, v);
        }
        let mut process = Self {
            child: command.spawn().expect("spawn maef-api"),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !process.ready().await {
            if let Some(status) = process.child.try_wait().unwrap() {
                panic!("maef-api exited before it was ready: {status}");
            }
            assert!(Instant::now() < deadline, "maef-api not ready after 20 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        process
    }

    /// Its base URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Sends SIGTERM and waits (up to 15 s) for the process to exit; returns whether it
    /// exited successfully.
    ///
    /// # Panics
    /// When it is still running after 15 s.
    pub async fn terminate(mut self) -> bool {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            assert!(Instant::now() < deadline, "maef-api did not stop on SIGTERM");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether `GET /readyz` answers 200.
    async fn ready(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)).await else {
            return false;
        };
        let request = "GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
        if stream.write_all(request.as_bytes()).await.is_err() {
            return false;
        }
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw).await;
        raw.starts_with(b"HTTP/1.1 200")
    }
}

impl Drop for ApiProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
