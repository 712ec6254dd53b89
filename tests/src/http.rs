//! Driving the real router (`maef_api::app`) without a socket: a [`TestApp`] bound to
//! its own database, and [`Reply`] with the assertions every HTTP test makes.

use axum::{
    body::Body,
    http::{header, HeaderMap, Method, Request, StatusCode},
    Router,
};
use http_body_util::BodyExt;
use maef_api::{
    config::{Config, Purpose},
    AppState,
};
use serde_json::Value;
use tower::ServiceExt;

use crate::TestDb;

/// Configuration for tests: cheap argon2 parameters (the real ones are measured by
/// `make bench`), small body limit, short pool timeouts, plus `extra` overrides.
pub fn test_config(database_url: &str, extra: &[(&str, &str)]) -> Config {
    let mut vars: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), database_url.into()),
        ("JWT_SECRET".into(), "test-secret-test-secret-test-secret!".into()),
        ("MAX_BODY_BYTES".into(), "4096".into()),
        ("DB_POOL_SIZE".into(), "4".into()),
        ("DB_POOL_TIMEOUT_MS".into(), "2000".into()),
        ("DB_CONNECT_TIMEOUT_MS".into(), "5000".into()),
        ("ARGON2_MEMORY_KIB".into(), "64".into()),
        ("ARGON2_ITERATIONS".into(), "1".into()),
        ("TRUST_FORWARDED_FOR".into(), "true".into()),
    ];
    for (k, v) in extra {
        vars.retain(|(name, _)| name != k);
        vars.push((k.to_string(), v.to_string()));
    }
    Config::from_lookup(Purpose::Serve, |k| {
        vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    })
    .unwrap()
}

/// The router for a configuration.
pub fn router_for(config: &Config) -> Router {
    maef_api::app(
        AppState::new(maef_api::db::pool(config).unwrap(), config).unwrap(),
        config,
    )
}

/// A router bound to a fresh database.
pub struct TestApp {
    /// The router.
    pub router: Router,
    /// Its database (tests connect to it directly for set-up and checks).
    pub db: TestDb,
    /// The PgBouncer the router goes through, with `MAEF_TEST_PGBOUNCER=1`.
    pub pooler: Option<crate::pgbouncer::PgBouncer>,
    /// The streaming replica the read routes go to, with `MAEF_TEST_REPLICA_URL`.
    pub replica: Option<crate::replica::ReplicaLink>,
}

impl TestApp {
    /// A fresh database and a router on it, with `extra` configuration.
    ///
    /// With `MAEF_TEST_PGBOUNCER=1` the router reaches the database through a PgBouncer
    /// of its own in transaction mode (2 server connections) with
    /// `DB_PREPARED_STATEMENTS=off`, so any HTTP suite can be run through the pooler:
    /// `MAEF_TEST_PGBOUNCER=1 scripts/cargo-test.sh -p maef-tests --test http`.
    ///
    /// With `MAEF_TEST_REPLICA_URL` (set by `scripts/replica.sh test`, whose primary is
    /// then the test server) the read routes go to the replica of the test database,
    /// and each request waits for the replica to have replayed everything written
    /// before it: any HTTP suite runs against the replica pool
    /// (`scripts/replica.sh test -p maef-tests --test search`).
    pub async fn with(extra: &[(&str, &str)]) -> Self {
        let db = TestDb::new().await;
        if let Some(link) = crate::replica::ReplicaLink::from_env(&db).await {
            let mut vars = vec![("DATABASE_READ_URL", link.url.as_str())];
            vars.extend(extra.iter().copied());
            let router = router_for(&test_config(&db.url, &vars));
            return Self {
                router,
                db,
                pooler: None,
                replica: Some(link),
            };
        }
        if std::env::var("MAEF_TEST_PGBOUNCER").is_ok_and(|v| v == "1") {
            let pooler = crate::pgbouncer::PgBouncer::start(2).await;
            let url = pooler.url_for(&db.url);
            let mut vars = vec![("DATABASE_URL", url.as_str()), ("DB_PREPARED_STATEMENTS", "off")];
            vars.extend(extra.iter().copied().filter(|(k, _)| *k != "DATABASE_URL"));
            let router = router_for(&test_config(&db.url, &vars));
            return Self {
                router,
                db,
                pooler: Some(pooler),
                replica: None,
            };
        }
        let router = router_for(&test_config(&db.url, extra));
        Self {
            router,
            db,
            pooler: None,
            replica: None,
        }
    }

    /// With the default test configuration.
    pub async fn new() -> Self {
        Self::with(&[]).await
    }

    /// Sends a request (once the replica, if any, has replayed what came before).
    pub async fn send(&self, request: Request<Body>) -> Reply {
        if let Some(link) = &self.replica {
            link.caught_up().await;
        }
        send(&self.router, request).await
    }

    /// `method path` with an optional bearer token and JSON body.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = match body {
            Some(json) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(json.to_string())),
            None => builder.body(Body::empty()),
        };
        self.send(request.unwrap()).await
    }

    /// Registers an account and signs in; returns the token response.
    pub async fn sign_up(&self, email: &str, password: &str) -> Value {
        let created = self
            .call(
                Method::POST,
                "/api/v1/auth/register",
                None,
                Some(serde_json::json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
        self.login(email, password).await.json()
    }

    /// Registers an account, gives it `role` (`manager`, `admin`, …; none: a plain
    /// customer) and returns the access token of a sign-in after that.
    pub async fn token_with_role(&self, email: &str, password: &str, role: Option<&str>) -> String {
        self.sign_up(email, password).await;
        if let Some(role) = role {
            crate::grant_role(&self.db.connect().await, email, role).await;
        }
        self.login(email, password).await.json()["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// `POST /api/v1/media/upload` of `bytes` as the multipart field `file`.
    pub async fn upload(&self, token: Option<&str>, filename: &str, bytes: &[u8]) -> Reply {
        let (content_type, body) = multipart_file(filename, bytes);
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/media/upload")
            .header(header::CONTENT_TYPE, content_type);
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        self.send(builder.body(Body::from(body)).unwrap()).await
    }

    /// Signs in.
    pub async fn login(&self, email: &str, password: &str) -> Reply {
        self.call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(serde_json::json!({"email": email, "password": password})),
        )
        .await
    }
}

/// Boundary of the multipart bodies built by [`multipart_file`].
pub const BOUNDARY: &str = "maef-test-boundary-7d1f";

/// A multipart/form-data body with one file field `file`: (Content-Type, body).
pub fn multipart_file(filename: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let (head, tail) = multipart_parts(filename);
    let mut body = head.into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(tail.as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

/// The text before and after the file's bytes in a one-file multipart body, for tests
/// that stream the bytes themselves.
pub fn multipart_parts(filename: &str) -> (String, String) {
    (
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        ),
        format!("\r\n--{BOUNDARY}--\r\n"),
    )
}

/// A response, read whole.
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Content-Type (empty when absent).
    pub content_type: String,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }

    /// Asserts a problem-JSON body and returns its `code`.
    pub fn problem_code(&self) -> String {
        assert_eq!(
            self.content_type,
            "application/problem+json",
            "status {}: {}",
            self.status,
            self.text()
        );
        let body = self.json();
        for key in ["code", "message", "details", "hint"] {
            assert!(body.get(key).is_some(), "problem JSON lacks {key}: {body}");
        }
        body["code"].as_str().unwrap().to_string()
    }
}

/// Sends a request through a router; the response is checked against the OpenAPI
/// document ([`crate::contract`]).
pub async fn send(app: &Router, request: Request<Body>) -> Reply {
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes().to_vec();
    crate::contract::check(&method, &path, status.as_u16(), &content_type, &body);
    Reply {
        status,
        content_type,
        headers,
        body,
    }
}
