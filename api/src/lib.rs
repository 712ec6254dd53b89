//! maef-api: a thin HTTP layer over the `api.*` SQL functions.
//!
//! # Layout
//! - [`config`]: typed configuration from the environment.
//! - [`db`]: the connection pool and [`db::call`], the one request path.
//! - [`error`]: the one SQLSTATE → HTTP map and the problem-JSON body.
//! - [`caller`]: who is calling (the identity set in each transaction).
//! - [`extract`]: query/JSON extractors that reject with problem JSON.
//! - [`routes`]: one module per resource, each with its `router()`.
//! - [`openapi`]: the OpenAPI 3.1 document.
//! - [`invoice`]: invoices and credit notes rendered as HTML or PDF.
//! - [`migrate`]: applies migrations and reloads the SQL code.
//! - [`metrics`]: Prometheus metrics of the instance (served by `GET /metrics`).
//! - [`replica`]: the public read routes on a streaming replica, read-your-writes.
//! - [`web`]: the storefront's build (`WEB_DIR`) served at `/`.
//!
//! `main.rs` only parses the command line; tests drive [`app`] directly.

pub mod auth;
pub mod caller;
pub mod config;
pub mod db;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod invoice;
pub mod metrics;
pub mod migrate;
pub mod openapi;
pub mod replica;
pub mod routes;
pub mod web;

use std::{sync::Arc, time::Duration};

use axum::{
    extract::{DefaultBodyLimit, Request},
    http::{header, HeaderName, HeaderValue, Method, StatusCode},
    middleware, Router,
};
use tower_http::{
    catch_panic::CatchPanicLayer,
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

use maef_telemetry::SpanExt as _;

use crate::config::Config;

/// Shared state of every handler (cheap to clone: everything is behind an `Arc`).
#[derive(Clone)]
pub struct AppState {
    /// The database connection pool (dereferences to `deadpool_postgres::Pool`).
    pub db: db::Db,
    /// Where the public read routes go: the replica (`DATABASE_READ_URL`) or the primary.
    pub reads: Arc<replica::Reads>,
    /// Access-token keys.
    pub tokens: Arc<auth::tokens::TokenKeys>,
    /// Password hashing.
    pub passwords: auth::password::Passwords,
    /// The configuration (rate limits, reset links, …).
    pub config: Arc<Config>,
    /// Copied from the configuration for the client-address extractor.
    pub trust_forwarded_for: bool,
    /// Uploads in progress (`MEDIA_MAX_UPLOADS`): bounds buffers and held connections.
    pub uploads: Arc<tokio::sync::Semaphore>,
    /// Image decodes in progress (one per core): CPU- and memory-bound work.
    pub decodes: Arc<tokio::sync::Semaphore>,
    /// How downloads read media chunks: cache (`MEDIA_CACHE_BYTES`) and read turns.
    pub media_chunks: Arc<routes::media::chunks::MediaChunks>,
    /// The Instagram Graph API client (OAuth callback, tokens an admin gives).
    pub graph: maef_instagram::Graph,
    /// The payment providers' client (keys, base URLs, timeouts).
    pub payments: maef_payments::Providers,
    /// This instance's Prometheus metrics (`GET /metrics`).
    pub metrics: Arc<metrics::Metrics>,
}

impl AppState {
    /// Builds the state from a pool and the configuration.
    ///
    /// # Errors
    /// Bad token keys or argon2 parameters.
    pub fn new(db: db::Db, config: &Config) -> anyhow::Result<Self> {
        Ok(Self {
            db,
            reads: Arc::new(replica::Reads::from_config(config)?),
            tokens: Arc::new(auth::tokens::TokenKeys::from_config(config)?),
            passwords: auth::password::Passwords::new(config.argon2)?,
            config: Arc::new(config.clone()),
            trust_forwarded_for: config.trust_forwarded_for,
            uploads: Arc::new(tokio::sync::Semaphore::new(config.media.max_uploads)),
            decodes: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
            )),
            media_chunks: Arc::new(routes::media::chunks::MediaChunks::new(
                config.media.cache_bytes,
                config.media.chunk_bytes,
                config.db_pool_size,
            )),
            graph: maef_instagram::Graph::new(&config.instagram).map_err(anyhow::Error::msg)?,
            payments: maef_payments::Providers::new(config.payments.clone()).map_err(anyhow::Error::msg)?,
            metrics: Arc::new(metrics::Metrics::new()),
        })
    }
}

/// Name of the request-id header (set when absent, echoed in the response).
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application: routes plus the middleware every request goes through.
pub fn app(state: AppState, config: &Config) -> Router {
    // Only the configured origins, with credentials (cookies, Authorization) allowed for
    // them alone; explicit methods and headers, as credentials forbid wildcards.
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(
            config
                .cors_origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok()),
        ))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_NONE_MATCH,
            header::IF_RANGE,
            header::RANGE,
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static("x-cart-session"),
            replica::HEADER,
            REQUEST_ID,
        ])
        .expose_headers([
            REQUEST_ID,
            replica::HEADER,
            header::RETRY_AFTER,
            header::ETAG,
            header::CONTENT_RANGE,
        ])
        .max_age(Duration::from_secs(600));
    let trace = TraceLayer::new_for_http()
        .make_span_with(request_span)
        .on_response(record_status)
        // 5xx are logged once, with their cause, by error::log_server_errors.
        .on_failure(());

    let (routes, paths) = routes::router().split_for_parts();
    // Uploads are merged after the timeout layer, so outside it: they have an idle
    // timeout instead.
    let (uploads, upload_paths) = routes::media::upload_router().split_for_parts();
    let doc = openapi::with_header([paths, upload_paths]);
    let instance_metrics = state.metrics.clone();
    let token_state = state.clone();
    let stripe_js = if config.payments.stripe.is_some() {
        web::StripeJs::Allowed
    } else {
        web::StripeJs::Refused
    };
    let storefront = config
        .web_dir
        .as_deref()
        .and_then(|dir| web::Storefront::open(dir, stripe_js));
    let explorer = storefront.as_ref().and_then(web::Storefront::explorer);
    let app = routes
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .merge(uploads)
        .merge(routes::docs::router(&doc, explorer))
        .with_state(state)
        // Inside the error layers: a request that wrote gets its primary-reads token
        // whatever its response.
        .layer(middleware::from_fn_with_state(token_state, replica::issue_token));
    // Without a storefront, every path no route takes is a 404 problem; with one, the
    // storefront answers the paths outside /api/ (web.rs).
    let app = match storefront {
        Some(storefront) => app.fallback(move |request: Request| storefront.clone().serve(request)),
        None => app.fallback(not_found),
    };
    app.method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(error::log_server_errors))
        .layer(middleware::from_fn(error::problem_for_bare_errors))
        // Outside the error middleware: counts the status the client receives.
        .layer(middleware::from_fn(move |request, next| {
            metrics::record(instance_metrics.clone(), request, next)
        }))
        .layer(cors)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(trace)
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// A panicking handler answers a problem-JSON 500 (logged by the error middleware).
fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    use axum::response::IntoResponse;
    error::ApiError::internal("handler panicked").into_response()
}

async fn not_found() -> error::ApiError {
    error::ApiError::new(StatusCode::NOT_FOUND, "route_not_found", "no such route")
}

async fn method_not_allowed(method: axum::http::Method) -> error::ApiError {
    error::ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on this route"),
    )
    .hint("See /api/v1/openapi.json for the methods each route accepts.")
}

/// The span of one request: its fields join the log lines of the request (`request_id`
/// is the `x-request-id` response header). When traces are exported it is the
/// request's server span, named after the route template, a child of the caller's W3C
/// `traceparent` if any; its attributes are the method, path, route template, status
/// and `request.id` — never headers, query strings or bodies.
fn request_span(request: &Request) -> tracing::Span {
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id,
        otel.name = tracing::field::Empty,
        otel.kind = tracing::field::Empty,
    );
    if !maef_telemetry::traces_enabled() {
        return span;
    }
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(axum::extract::MatchedPath::as_str);
    span.record(
        "otel.name",
        format!("{} {}", request.method(), route.unwrap_or("unmatched")),
    );
    span.record("otel.kind", "server");
    span.set_attribute("http.request.method", request.method().to_string());
    span.set_attribute("request.id", request_id.to_owned());
    if let Some(route) = route {
        span.set_attribute("http.route", route.to_owned());
    }
    maef_telemetry::set_parent_from(&span, request.headers());
    span
}

/// The status of the response, on the request's span (server errors mark it failed),
/// after tower-http's own debug line.
fn record_status(response: &axum::response::Response, latency: Duration, span: &tracing::Span) {
    use tower_http::trace::OnResponse as _;
    tower_http::trace::DefaultOnResponse::default().on_response(response, latency, span);
    if !maef_telemetry::traces_enabled() {
        return;
    }
    let status = response.status();
    span.set_attribute("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        maef_telemetry::mark_error(span);
    }
}

/// Starts logging to stderr in the configured format, and trace export when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is set (see [`maef_telemetry`]).
pub fn init_tracing(format: config::LogFormat) -> maef_telemetry::Telemetry {
    maef_telemetry::init("maef-api", format)
}

/// `maef-api serve`: checks that migrations are current, then serves HTTP until
/// SIGTERM or Ctrl-C, finishing in-flight requests.
///
/// # Errors
/// The database cannot be reached at start-up, migrations are pending, or the address
/// cannot be bound.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let pool = db::pool(&config)?;
    {
        let mut client = pool.get().await.map_err(|e| {
            anyhow::anyhow!(
                "cannot reach the database at {}: {e}",
                config::redact_url(&config.database_url)
            )
        })?;
        let pending = migrate::pending(&mut client).await?;
        if !pending.is_empty() {
            anyhow::bail!(
                "{} migration(s) pending ({}): run `maef-api migrate` first",
                pending.len(),
                pending.join(", ")
            );
        }
    }
    let listener = tokio::net::TcpListener::bind(config.bind_addr).await?;
    tracing::info!(addr = %config.bind_addr, "maef-api listening");
    let app = app(AppState::new(pool, &config)?, &config);
    release_startup_heap();
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    tracing::info!("maef-api stopped");
    Ok(())
}

/// Gives the memory start-up used and freed back to the system. Building the router
/// builds the OpenAPI document (550 KB of JSON) through a `serde_json` tree of several
/// MB that is freed once serialised; glibc keeps freed memory in its heap until asked,
/// which left an idle maef-api at ~32 MB of RSS, 9 MB of it free heap
/// (docs/benchmarks.md). Other C libraries: nothing to do.
fn release_startup_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer and only returns free pages to the system;
    // glibc makes it safe to call while other threads allocate (it locks each arena).
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received, finishing in-flight requests");
}
