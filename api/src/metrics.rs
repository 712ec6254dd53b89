//! Prometheus metrics of one API instance: requests by route template and status,
//! latency histograms, the connection pool, database errors by SQLSTATE.
//!
//! Each [`Metrics`] owns its own recorder (no process-global one): tests run many
//! routers in one process, and each must count only its own requests. The request
//! layer ([`record`]) writes through that recorder with `metrics::with_local_recorder`;
//! `GET /metrics` (`routes::metrics`) renders it in the Prometheus text format.
//!
//! Route labels are axum's [`MatchedPath`] templates (`/api/v1/products/{slug}`), never
//! raw paths, so a client cannot grow the series count; unmatched paths share the label
//! `unmatched`.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request},
    middleware::Next,
    response::Response,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

/// Latency buckets in seconds: from a cached read (~1 ms) to the request timeout.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The SQLSTATE of a database error, left in the response's extensions by
/// [`crate::error`] for [`record`] to count.
#[derive(Debug, Clone)]
pub struct DbErrorCode(pub String);

/// This instance's recorder and the handle that renders it.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A recorder with the latency buckets set.
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            .expect("non-empty buckets")
            .build_recorder();
        let handle = recorder.handle();
        Self { recorder, handle }
    }

    /// Runs `f` with this instance's recorder as the current one.
    pub fn with<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(&self.recorder, f)
    }

    /// Counts a read of the public read routes by the server that answered it.
    pub fn read_served(&self, served: crate::replica::Served) {
        let server = match served {
            crate::replica::Served::Replica => "replica",
            crate::replica::Served::Primary => "primary",
        };
        self.with(|| metrics::counter!("maef_db_reads_total", "server" => server).increment(1));
    }

    /// Counts a read the replica failed and the primary answered.
    pub fn replica_fallback(&self) {
        self.with(|| metrics::counter!("maef_db_replica_fallbacks_total").increment(1));
    }

    /// Records the pools' state, then renders every metric (Prometheus text format).
    pub fn render(
        &self,
        pool: &deadpool_postgres::Pool,
        read_pool: Option<&deadpool_postgres::Pool>,
    ) -> String {
        let status = pool.status();
        let read_status = read_pool.map(deadpool_postgres::Pool::status);
        self.with(|| {
            metrics::gauge!("maef_db_pool_connections", "state" => "open").set(status.size as f64);
            metrics::gauge!("maef_db_pool_connections", "state" => "idle").set(status.available as f64);
            metrics::gauge!("maef_db_pool_connections", "state" => "max").set(status.max_size as f64);
            metrics::gauge!("maef_db_pool_waiting").set(status.waiting as f64);
            if let Some(read) = read_status {
                metrics::gauge!("maef_db_read_pool_connections", "state" => "open").set(read.size as f64);
                metrics::gauge!("maef_db_read_pool_connections", "state" => "idle")
                    .set(read.available as f64);
                metrics::gauge!("maef_db_read_pool_connections", "state" => "max").set(read.max_size as f64);
                metrics::gauge!("maef_db_read_pool_waiting").set(read.waiting as f64);
            }
        });
        self.handle.run_upkeep();
        self.handle.render()
    }
}

/// Middleware: counts each request by method, route template and final status, times
/// it (until the response head; a streamed body is not included), and counts the
/// database error it ended with, by SQLSTATE.
pub async fn record(metrics: std::sync::Arc<Metrics>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let sqlstate = response.extensions().get::<DbErrorCode>().map(|c| c.0.clone());
    let elapsed = started.elapsed().as_secs_f64();
    metrics.with(|| {
        metrics::counter!("maef_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
            .increment(1);
        metrics::histogram!("maef_http_request_duration_seconds", "method" => method, "route" => route)
            .record(elapsed);
        if let Some(sqlstate) = sqlstate {
            metrics::counter!("maef_db_errors_total", "sqlstate" => sqlstate).increment(1);
        }
    });
    response
}
