//! End-to-end: the real `maef-api` and `maef-worker` binaries against a real database,
//! over real HTTP and real process signals.
//!
//! The binaries are the ones `make test` builds next to this test executable
//! (`target/debug/`).

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use maef_tests::{seed_products, TestDb};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

fn binary(name: &str) -> PathBuf {
    // target/debug/deps/e2e-<hash> → target/debug/<name>
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join(name);
    assert!(
        path.exists(),
        "{} not built: run `cargo build -p maef-api -p maef-worker` first",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Splits a raw HTTP/1.1 response into status and body (de-chunked) and checks it
/// against the OpenAPI document, as every `TestApp` response is
/// (`maef_tests::contract`).
fn checked_response(method: &str, path: &str, raw: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text.as_str(), ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let header = |name: &str| {
        head.lines().skip(1).find_map(|line| {
            line.split_once(':')
                .filter(|(key, _)| key.trim().eq_ignore_ascii_case(name))
                .map(|(_, value)| value.trim().to_string())
        })
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(body)
    } else {
        body.to_string()
    };
    let path = path.split('?').next().unwrap_or(path);
    let content_type = header("content-type").unwrap_or_default();
    maef_tests::contract::check(method, path, status, &content_type, body.as_bytes());
    (status, body)
}

/// The payload of a `Transfer-Encoding: chunked` body.
fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("0").trim(), 16).unwrap_or(0);
        if size == 0 || after.len() < size {
            break;
        }
        body.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    body
}

/// A raw HTTP/1.1 GET: returns status and body.
async fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes())
        .await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    Ok(checked_response("GET", path, &raw))
}

/// A raw HTTP/1.1 request with a JSON body and optional bearer token.
async fn http_json(port: u16, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    checked_response(method, path, &raw)
}

struct Process(Child);

impl Process {
    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.0.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "process did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

fn spawn(name: &str, envs: &[(&str, String)], args: &[&str]) -> Process {
    let mut command = Command::new(binary(name));
    command
        .args(args)
        .env_clear()
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in envs {
        command.env(k, v);
    }
    Process(command.spawn().unwrap())
}

#[tokio::test]
async fn the_api_binary_serves_products_until_sigterm() {
    let db = TestDb::new().await;
    let slug = seed_products(&db.connect().await, "e2e", 3).await.remove(0);
    let port = free_port();
    let api = spawn(
        "maef-api",
        &[
            ("DATABASE_URL", db.url.clone()),
            ("JWT_SECRET", "e2e-secret-e2e-secret-e2e-secret-e2e".into()),
            ("BIND_ADDR", format!("127.0.0.1:{port}")),
        ],
        &["serve"],
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok((200, _)) = http_get(port, "/readyz").await {
            break;
        }
        assert!(Instant::now() < deadline, "maef-api never became ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, body) = http_get(port, &format!("/api/v1/products/{slug}")).await.unwrap();
    assert_eq!(status, 200);
    assert!(body.contains(&format!("\"slug\": \"{slug}\"")), "{body}");
    let (status, body) = http_get(port, "/api/v1/products?limit=0").await.unwrap();
    assert_eq!(status, 422);
    assert!(body.contains("invalid_limit"));
    assert!(api.terminate().success(), "graceful shutdown exits 0");
}

#[tokio::test]
async fn serve_refuses_to_start_while_migrations_are_pending() {
    let db = TestDb::new().await;
    db.connect()
        .await
        .execute("delete from public.refinery_schema_history", &[])
        .await
        .unwrap();
    let output = Command::new(binary("maef-api"))
        .arg("serve")
        .env_clear()
        .env("DATABASE_URL", &db.url)
        .env("JWT_SECRET", "e2e-secret-e2e-secret-e2e-secret-e2e")
        .env("BIND_ADDR", format!("127.0.0.1:{}", free_port()))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("pending") && stderr.contains("maef-api migrate"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_missing_or_bad_setting_stops_start_up_with_one_line_naming_it() {
    let run = |envs: &[(&str, &str)]| {
        let mut command = Command::new(binary("maef-api"));
        command.arg("serve").env_clear();
        for (k, v) in envs {
            command.env(k, v);
        }
        let output = command.output().unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        )
    };
    let (code, stderr) = run(&[]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("DATABASE_URL") && stderr.lines().count() == 1,
        "{stderr}"
    );
    let (code, stderr) = run(&[
        ("DATABASE_URL", "postgres://u:p@127.0.0.1/db"),
        ("JWT_SECRET", "x".repeat(40).as_str()),
        ("DB_POOL_SIZE", "lots"),
    ]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("DB_POOL_SIZE"), "{stderr}");
    assert!(
        !stderr.contains(":p@"),
        "the password must not be printed: {stderr}"
    );
}

#[tokio::test]
async fn the_worker_binary_runs_a_noop_job_end_to_end_and_stops_on_sigterm() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let worker = spawn(
        "maef-worker",
        &[
            ("DATABASE_URL", db.url.clone()),
            ("WORKER_ID", "e2e-worker".into()),
            ("WORKER_POLL_MS", "60000".into()),
        ],
        &[],
    );
    // Wait for its first claim (it LISTENs before); the long poll interval means only NOTIFY can wake it quickly.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listening: i64 = client
            .query_one(
                "select count(*) from pg_stat_activity where datname = current_database()
                 and application_name = 'maef-worker' and query like '%claim_jobs%'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if listening > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "worker never listened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ok_job: i64 = client
        .query_one("select api.enqueue_job('noop')", &[])
        .await
        .unwrap()
        .get(0);
    let failing_job: i64 = client
        .query_one("select api.enqueue_job('noop', '{\"fail\": true}')", &[])
        .await
        .unwrap()
        .get(0);

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let row = client
            .query_one(
                "select (select status from report.jobs where job_id = $1),
                        (select status from report.jobs where job_id = $2),
                        (select count(*) from shop.job_attempt where job_id = $1 and ok and worker = 'e2e-worker'),
                        (select count(*) from shop.job_attempt where job_id = $2 and not ok and error = 'noop asked to fail')",
                &[&ok_job, &failing_job],
            )
            .await
            .unwrap();
        let (ok_status, fail_status, ok_attempts, failed_attempts): (String, String, i64, i64) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        if ok_status == "completed" && fail_status == "pending" && failed_attempts == 1 {
            assert_eq!(
                ok_attempts, 1,
                "exactly one job_attempt row for the completed job"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "jobs not processed: {ok_status} {fail_status} {failed_attempts}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(worker.terminate().success(), "graceful shutdown exits 0");
}

#[tokio::test]
async fn create_admin_takes_the_password_from_the_environment_or_stdin_never_argv() {
    use std::io::Write;
    let db = TestDb::new().await;
    let run = |email: &str, env_password: Option<&str>, stdin: &str| {
        let mut command = Command::new(binary("maef-api"));
        command
            .args(["create-admin", "--email", email])
            .env_clear()
            .env("DATABASE_URL", &db.url)
            .env("ARGON2_MEMORY_KIB", "64")
            .env("ARGON2_ITERATIONS", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(p) = env_password {
            command.env("MAEF_ADMIN_PASSWORD", p);
        }
        let mut child = command.spawn().unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stderr).to_string(),
        )
    };
    assert!(run("root@example.com", Some("correct horse battery"), "").0);
    assert!(run("ops@example.com", None, "another long passphrase\n").0);
    let (ok, stderr) = run("weak@example.com", Some("password"), "");
    assert!(!ok && stderr.contains("password"), "{stderr}");
    let (ok, _) = run("root@example.com", Some("a changed passphrase"), "");
    assert!(ok, "promoting or re-running is fine");
    let admins: Vec<String> = db
        .connect()
        .await
        .query(
            "select u.email from shop.app_user u join shop.user_role using (user_id) join shop.role r using (role_id)
             where r.name = 'admin' order by 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(admins, vec!["ops@example.com", "root@example.com"]);
    let help = Command::new(binary("maef-api"))
        .args(["create-admin", "--help"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&help.stdout).contains("--password"),
        "no password flag exists"
    );
}

#[tokio::test]
async fn a_customer_registers_signs_in_and_reads_their_profile_over_real_http() {
    let db = TestDb::new().await;
    let (api, port) = serve_ready(&db).await;
    let credentials = r#"{"email": "ada@example.com", "password": "correct horse battery"}"#;
    let (status, body) = http_json(port, "POST", "/api/v1/auth/register", None, credentials).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = http_json(port, "POST", "/api/v1/auth/login", None, credentials).await;
    assert_eq!(status, 200, "{body}");
    let tokens: serde_json::Value = serde_json::from_str(&body).unwrap();
    let token = tokens["access_token"].as_str().unwrap();
    let (status, body) = http_json(port, "GET", "/api/v1/users/me", Some(token), "").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("ada@example.com"));
    let (status, _) = http_json(port, "GET", "/api/v1/admin/users", Some(token), "").await;
    assert_eq!(status, 403);
    // The client address comes from the socket: the login was counted against 127.0.0.1.
    let counted: i64 = db
        .connect()
        .await
        .query_one(
            "select count(*) from shop.rate_limit_counter where bucket = 'login:client:127.0.0.1'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(counted, 1);
    assert!(api.terminate().success());
}

/// `maef-api serve` on a free port with cheap argon2 parameters, once `/readyz` says 200.
async fn serve_ready(db: &TestDb) -> (Process, u16) {
    let port = free_port();
    let api = spawn(
        "maef-api",
        &[
            ("DATABASE_URL", db.url.clone()),
            ("JWT_SECRET", "e2e-secret-e2e-secret-e2e-secret-e2e".into()),
            ("BIND_ADDR", format!("127.0.0.1:{port}")),
            ("ARGON2_MEMORY_KIB", "1024".into()),
        ],
        &["serve"],
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !matches!(http_get(port, "/readyz").await, Ok((200, _))) {
        assert!(Instant::now() < deadline, "maef-api never became ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (api, port)
}

/// Peak resident memory of a process (`VmHWM`), in KiB.
/// Resets the process's peak RSS to its current RSS (`clear_refs` 5, Linux ≥ 4.0) and
/// answers that current RSS in KiB.
fn reset_peak_rss_kib(pid: u32) -> u64 {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn a_50_mib_upload_streams_through_the_real_api_in_bounded_memory() {
    use sha2::{Digest, Sha256};
    let db = TestDb::new().await;
    let (api, port) = serve_ready(&db).await;
    let credentials = r#"{"email": "studio@example.com", "password": "correct horse battery"}"#;
    assert_eq!(
        http_json(port, "POST", "/api/v1/auth/register", None, credentials)
            .await
            .0,
        201
    );
    maef_tests::grant_role(&db.connect().await, "studio@example.com", "manager").await;
    let (_, body) = http_json(port, "POST", "/api/v1/auth/login", None, credentials).await;
    let token = serde_json::from_str::<serde_json::Value>(&body).unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();

    let video = maef_media::fixtures::mp4(50 << 20);
    // What the upload itself costs: the peak is reset once the account exists (the
    // sign-in's argon2id hash alone takes 19 MiB, and the binary's own size grows with
    // every feature), so the figure below is the upload's growth over this baseline.
    let baseline = reset_peak_rss_kib(api.0.id());
    let (head, tail) = maef_tests::http::multipart_parts("clip.mp4");
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let request_head = format!(
        "POST /api/v1/media/upload HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Authorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary={}\r\n\
         Content-Length: {}\r\n\r\n",
        maef_tests::http::BOUNDARY,
        head.len() + video.len() + tail.len()
    );
    stream.write_all(request_head.as_bytes()).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    for chunk in video.chunks(64 << 10) {
        stream.write_all(chunk).await.unwrap();
    }
    stream.write_all(tail.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let (status, body) = checked_response("POST", "/api/v1/media/upload", &raw);
    assert_eq!(status, 201, "{body}");
    let growth = peak_rss_kib(api.0.id()).saturating_sub(baseline);
    eprintln!("maef-api peak RSS growth during a 50 MiB upload: {growth} KiB");
    // Streamed in bounded buffers, not held: under half of the 51,200 KiB of the body.
    assert!(
        growth < 24 * 1024,
        "maef-api RSS grew by {growth} KiB during a 50 MiB upload"
    );

    let sha = hex::encode(Sha256::digest(&video));
    let client = db.connect().await;
    let row = client
        .query_one(
            "select size_bytes, lo_oid is not null, encode(sha256(lo_get(lo_oid)), 'hex') from shop.media_asset where sha256 = $1",
            &[&sha],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), video.len() as i64);
    assert!(row.get::<_, bool>(1), "stored as a large object");
    assert_eq!(row.get::<_, String>(2), sha);
    assert!(api.terminate().success());
}
