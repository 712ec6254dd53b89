//! Logging, and OpenTelemetry traces when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, for the
//! maef binaries (`maef-api`, `maef-worker`).
//!
//! Traces are compiled in always and switched on at run time: without the variable no
//! exporter, no OpenTelemetry layer, and the span helpers below do nothing. With it,
//! every `tracing` span at INFO or above (the request span, `db.call`, `job.run`, …)
//! becomes an OpenTelemetry span sent over OTLP/HTTP (protobuf) to
//! `$OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces` by the SDK's batch processor, from its own
//! thread: a slow or absent collector never delays nor fails a request — its spans are
//! dropped and the failed export is logged, at most once a minute. The standard variables apply
//! (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
//! `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_BSP_*`).
//!
//! The OpenTelemetry layer has its own filter, independent of `RUST_LOG`: a quiet log
//! level does not silence traces. Log events at WARN and above inside a span become
//! span events; quieter ones stay in the logs only.

use opentelemetry::{propagation::TextMapPropagator, trace::TracerProvider as _};
use opentelemetry_sdk::{propagation::TraceContextPropagator, trace::SdkTracerProvider, Resource};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{
    filter::{dynamic_filter_fn, filter_fn, FilterExt as _},
    layer::SubscriberExt,
    util::SubscriberInitExt,
    EnvFilter, Layer,
};

pub use tracing_opentelemetry::OpenTelemetrySpanExt as SpanExt;

/// Set once [`init`] installed the exporter: lets callers skip work for spans that go
/// nowhere.
static ENABLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether spans are exported in this process.
pub fn traces_enabled() -> bool {
    ENABLED.load(std::sync::atomic::Ordering::Relaxed)
}

/// The variable that turns traces on.
pub const ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// What [`init`] started: flush it with [`Telemetry::shutdown`] before the process exits.
#[must_use = "call shutdown() before exiting, or the last spans are lost"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported.
    pub fn traces_enabled(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports the spans still queued and stops the exporter (bounded by the exporter's
    /// timeout). Blocking: call it once serving has stopped.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider {
            if let Err(err) = provider.shutdown() {
                tracing::warn!("trace exporter shutdown: {err}");
            }
        }
    }
}

/// Starts logging to stderr (filtered by `RUST_LOG`, `info` by default) and, when
/// [`ENDPOINT_VAR`] is set, trace export under `OTEL_SERVICE_NAME` (`default_service`
/// when unset). A second call in one process (tests) leaves the first in place.
pub fn init(default_service: &'static str, format: LogFormat) -> Telemetry {
    let provider = endpoint_configured()
        .then(|| tracer_provider(default_service))
        .flatten();
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info"))
        .and(dynamic_filter_fn(|meta, _| exporter_logs_once_a_minute(meta)));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = match format {
        LogFormat::Json => fmt.json().with_filter(filter).boxed(),
        LogFormat::Text => fmt.with_filter(filter).boxed(),
    };
    let otel = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer(default_service))
            // No file, line or thread attributes: spans carry what we name, nothing else.
            .with_location(false)
            .with_threads(false)
            .with_filter(filter_fn(|meta| {
                // Our spans and warnings only; the SDK's own logs (a failed export) must
                // not feed back into the exporter.
                let ours = !meta.target().starts_with("opentelemetry");
                ours && if meta.is_span() {
                    *meta.level() <= tracing::Level::INFO
                } else {
                    *meta.level() <= tracing::Level::WARN
                }
            }))
    });
    if tracing_subscriber::registry()
        .with(fmt)
        .with(otel)
        .try_init()
        .is_err()
    {
        // Already initialised (tests): this provider would receive nothing.
        return Telemetry { provider: None };
    }
    if provider.is_some() {
        ENABLED.store(true, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(
            endpoint = std::env::var(ENDPOINT_VAR).unwrap_or_default(),
            "exporting traces over OTLP/HTTP"
        );
    }
    Telemetry { provider }
}

/// Log filter: the exporter's own log lines (a failed export, spans dropped) at most
/// once a minute, so that a collector down for an hour writes 60 lines, not one per
/// batch. Everything else passes. Dynamic (asked for every event, never cached per
/// call site), since its answer changes with time.
fn exporter_logs_once_a_minute(meta: &tracing::Metadata<'_>) -> bool {
    use std::sync::{atomic::AtomicU64, OnceLock};
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    static LAST: AtomicU64 = AtomicU64::new(0);
    if !meta.is_event() || !meta.target().starts_with("opentelemetry") {
        return true;
    }
    let now = START.get_or_init(std::time::Instant::now).elapsed().as_secs();
    once_a_minute(&LAST, now)
}

/// Whether a line may pass at `now` (seconds), given the time after the last one that
/// did in `last` (0: none yet); records `now` when it may.
fn once_a_minute(last: &std::sync::atomic::AtomicU64, now: u64) -> bool {
    use std::sync::atomic::Ordering;
    let now = now + 1;
    let previous = last.load(Ordering::Relaxed);
    (previous == 0 || now >= previous + 60)
        && last
            .compare_exchange(previous, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}

fn endpoint_configured() -> bool {
    ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", ENDPOINT_VAR]
        .iter()
        .any(|name| std::env::var(name).is_ok_and(|v| !v.trim().is_empty()))
}

/// The tracer provider exporting in batches over OTLP/HTTP, or `None` (logged) when the
/// exporter cannot be built, e.g. a malformed endpoint: the service runs without traces
/// rather than not at all.
fn tracer_provider(default_service: &'static str) -> Option<SdkTracerProvider> {
    let exporter = match opentelemetry_otlp::SpanExporter::builder().with_http().build() {
        Ok(exporter) => exporter,
        Err(err) => {
            eprintln!("traces disabled: cannot build the OTLP exporter: {err}");
            return None;
        }
    };
    let mut resource = Resource::builder();
    if std::env::var("OTEL_SERVICE_NAME").is_err() {
        resource = resource.with_service_name(default_service);
    }
    Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource.build())
            .build(),
    )
}

/// Makes `span` a child of the W3C `traceparent` (and `tracestate`) in `headers`, if
/// any; does nothing without one, or when traces are off.
pub fn set_parent_from(span: &tracing::Span, headers: &http::HeaderMap) {
    if !headers.contains_key("traceparent") {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&opentelemetry_http::HeaderExtractor(headers));
    // Fails only when the span is disabled (no OpenTelemetry layer): nothing to do.
    let _ = span.set_parent(parent);
}

/// Marks `span` failed (a server error).
pub fn mark_error(span: &tracing::Span) {
    span.set_status(opentelemetry::trace::Status::error(""));
}

/// Writes the current span's context as a W3C `traceparent` into `headers`, so the
/// service called joins the trace; does nothing when traces are off.
pub fn inject_current(headers: &mut http::HeaderMap) {
    let context = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&context, &mut opentelemetry_http::HeaderInjector(headers));
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use super::once_a_minute;

    #[test]
    fn the_exporter_logs_at_most_one_line_a_minute() {
        let last = AtomicU64::new(0);
        assert!(once_a_minute(&last, 0), "the first line");
        assert!(!once_a_minute(&last, 0));
        assert!(!once_a_minute(&last, 59));
        assert!(once_a_minute(&last, 60), "a minute later");
        assert!(!once_a_minute(&last, 100));
        assert!(once_a_minute(&last, 125));
    }
}
