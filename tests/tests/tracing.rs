//! OpenTelemetry traces of the real `maef-api` binary, received by a fake OTLP/HTTP
//! collector (`POST /v1/traces`, protobuf decoded with `opentelemetry-proto`): the
//! request span (route template, status, the `x-request-id` as `request.id`, child of
//! an incoming `traceparent`), its database child span, no secret in any span, the
//! last spans flushed on SIGTERM, a collector that is down failing no request, and no
//! exporter without `OTEL_EXPORTER_OTLP_ENDPOINT`; the worker's span per job run.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{body::Bytes, extract::State, http::StatusCode, routing::post, Router};
use maef_tests::{api_process::ApiProcess, eventually, seed_products, TestDb, WorkerProcess};
use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest,
    common::v1::{any_value, AnyValue, KeyValue},
    trace::v1::{span::SpanKind, Span},
};
use prost::Message;
use reqwest::Method;
use serde_json::{json, Value};

/// Spans the collector received, with the `service.name` of their resource.
type Received = Arc<Mutex<Vec<(String, Span)>>>;

/// A fake OTLP/HTTP collector on a free port; returns its base URL and what it received.
async fn collector() -> (String, Received) {
    let received = Received::default();
    let app = Router::new()
        .route("/v1/traces", post(export))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

/// `POST /v1/traces`: the exporter's protobuf body; an empty
/// `ExportTraceServiceResponse` (all accepted) in return.
async fn export(
    State(received): State<Received>,
    body: Bytes,
) -> (StatusCode, [(&'static str, &'static str); 1], Vec<u8>) {
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return (
            StatusCode::BAD_REQUEST,
            [("content-type", "text/plain")],
            b"bad protobuf".to_vec(),
        );
    };
    let mut received = received.lock().unwrap();
    for resource_spans in request.resource_spans {
        let service = resource_spans
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|kv| kv.key == "service.name")
            .map(|kv| value_text(kv.value.as_ref()))
            .unwrap_or_default();
        for scope in resource_spans.scope_spans {
            received.extend(scope.spans.into_iter().map(|span| (service.clone(), span)));
        }
    }
    (
        StatusCode::OK,
        [("content-type", "application/x-protobuf")],
        Vec::new(),
    )
}

fn value_text(value: Option<&AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    }
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    find(&span.attributes, key)
}

fn find(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| value_text(kv.value.as_ref()))
}

/// The request span whose `request.id` is `id`, once the collector has it.
async fn request_span(received: &Received, id: &str) -> Span {
    eventually(
        Duration::from_secs(15),
        &format!("the span of request {id}"),
        || async {
            received
                .lock()
                .unwrap()
                .iter()
                .any(|(_, s)| attribute(s, "request.id").as_deref() == Some(id))
        },
    )
    .await;
    received
        .lock()
        .unwrap()
        .iter()
        .find(|(_, s)| attribute(s, "request.id").as_deref() == Some(id))
        .map(|(_, s)| s.clone())
        .unwrap()
}

/// The spans whose parent is `parent`.
fn children(received: &Received, parent: &Span) -> Vec<Span> {
    received
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, s)| s.parent_span_id == parent.span_id && s.trace_id == parent.trace_id)
        .map(|(_, s)| s.clone())
        .collect()
}

/// One request, its response checked against the OpenAPI document; returns status,
/// `x-request-id` and body.
async fn send(
    http: &reqwest::Client,
    api: &ApiProcess,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> (u16, String, String) {
    let mut request = http.request(method.clone(), format!("{}{path}", api.url()));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (request_id, content_type) = (header("x-request-id"), header("content-type"));
    let text = response.text().await.unwrap();
    maef_tests::contract::check(method.as_str(), path, status, &content_type, text.as_bytes());
    (status, request_id, text)
}

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";
const PASSWORD: &str = "tracing-password-never-in-a-span";

#[tokio::test]
async fn requests_and_their_database_calls_are_spans_joined_by_the_request_id() {
    let db = TestDb::new().await;
    seed_products(&db.connect().await, "trace", 1).await;
    let (collector_url, received) = collector().await;
    let api = ApiProcess::spawn(
        &db.url,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector_url),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    )
    .await;
    let http = reqwest::Client::new();

    // A caller already in a trace: the request's span is its child.
    let traceparent = format!("00-{TRACE_ID}-{PARENT_ID}-01");
    let (status, request_id, _) = send(
        &http,
        &api,
        Method::GET,
        "/api/v1/products/trace-1",
        &[("traceparent", &traceparent)],
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(!request_id.is_empty(), "x-request-id in the response");

    let span = request_span(&received, &request_id).await;
    assert_eq!(span.name, "GET /api/v1/products/{slug}");
    assert_eq!(span.kind, SpanKind::Server as i32);
    assert_eq!(
        attribute(&span, "http.route").as_deref(),
        Some("/api/v1/products/{slug}")
    );
    assert_eq!(attribute(&span, "http.request.method").as_deref(), Some("GET"));
    assert_eq!(
        attribute(&span, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(hex(&span.trace_id), TRACE_ID, "the caller's trace");
    assert_eq!(
        hex(&span.parent_span_id),
        PARENT_ID,
        "the caller's span is the parent"
    );
    let service = received.lock().unwrap()[0].0.clone();
    assert_eq!(service, "maef-api", "the default service name");

    eventually(Duration::from_secs(15), "the database call's span", || async {
        !children(&received, &span).is_empty()
    })
    .await;
    let calls = children(&received, &span);
    let call = calls
        .iter()
        .find(|s| attribute(s, "db.system").as_deref() == Some("postgresql"))
        .unwrap_or_else(|| panic!("no database span among {calls:?}"));
    assert_eq!(call.name, "api.product_by_slug");
    assert_eq!(call.kind, SpanKind::Client as i32);
    assert_eq!(
        attribute(call, "db.operation").as_deref(),
        Some("api.product_by_slug")
    );

    // Without a traceparent: a new trace, no parent. Unrouted: the span says so.
    let (status, request_id, _) = send(&http, &api, Method::GET, "/api/v1/no/such/route", &[], None).await;
    assert_eq!(status, 404);
    let span = request_span(&received, &request_id).await;
    assert!(span.parent_span_id.is_empty(), "a root span");
    assert_ne!(hex(&span.trace_id), TRACE_ID);
    assert_eq!(span.name, "GET unmatched");
    assert_eq!(
        attribute(&span, "http.response.status_code").as_deref(),
        Some("404")
    );

    // Credentials in, tokens out, a bearer token on the next request: none in a span.
    let email = "traced@example.com";
    let credentials = json!({"email": email, "password": PASSWORD});
    let (status, _, _) = send(
        &http,
        &api,
        Method::POST,
        "/api/v1/auth/register",
        &[],
        Some(&credentials),
    )
    .await;
    assert_eq!(status, 201);
    let (status, login_id, body) = send(
        &http,
        &api,
        Method::POST,
        "/api/v1/auth/login",
        &[],
        Some(&credentials),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let tokens: Value = serde_json::from_str(&body).unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    let bearer = format!("Bearer {access}");
    let (status, me_id, _) = send(
        &http,
        &api,
        Method::GET,
        "/api/v1/users/me",
        &[("authorization", &bearer)],
        None,
    )
    .await;
    assert_eq!(status, 200);
    let login = request_span(&received, &login_id).await;
    assert_eq!(
        attribute(&login, "http.route").as_deref(),
        Some("/api/v1/auth/login")
    );
    let me = request_span(&received, &me_id).await;
    eventually(
        Duration::from_secs(15),
        "the database spans of login and me",
        || async { !children(&received, &login).is_empty() && !children(&received, &me).is_empty() },
    )
    .await;

    let everything = format!("{:?}", received.lock().unwrap());
    for secret in [PASSWORD, &access, &refresh, email] {
        assert!(!everything.contains(secret), "a span holds {secret:?}");
    }
    assert!(api.terminate().await, "a clean exit");
}

#[tokio::test]
async fn the_last_spans_are_flushed_on_sigterm() {
    let db = TestDb::new().await;
    let (collector_url, received) = collector().await;
    // The default batch delay (5 s) would export them later than the test looks.
    let api = ApiProcess::spawn(
        &db.url,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector_url),
            ("OTEL_BSP_SCHEDULE_DELAY", "60000"),
            ("OTEL_SERVICE_NAME", "shop-api-eu"),
        ],
    )
    .await;
    let http = reqwest::Client::new();
    let (status, request_id, _) = send(&http, &api, Method::GET, "/api/v1/products", &[], None).await;
    assert_eq!(status, 200);
    assert!(
        received.lock().unwrap().is_empty(),
        "nothing exported before the batch delay"
    );
    assert!(api.terminate().await, "a clean exit");
    let received = received.lock().unwrap();
    let (service, span) = received
        .iter()
        .find(|(_, s)| attribute(s, "request.id").as_deref() == Some(request_id.as_str()))
        .expect("the request's span exported at shutdown");
    assert_eq!(service, "shop-api-eu", "OTEL_SERVICE_NAME");
    assert_eq!(span.name, "GET /api/v1/products");
}

#[tokio::test]
async fn a_collector_down_fails_no_request_and_no_endpoint_means_no_exporter() {
    let db = TestDb::new().await;
    seed_products(&db.connect().await, "nocol", 1).await;
    let http = reqwest::Client::new();
    // Nothing listens there: exports fail, requests do not.
    let down = format!("http://127.0.0.1:{}", maef_tests::api_process::free_port());
    let api = ApiProcess::spawn(
        &db.url,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &down),
            ("OTEL_BSP_SCHEDULE_DELAY", "10"),
        ],
    )
    .await;
    for _ in 0..20 {
        let (status, request_id, _) =
            send(&http, &api, Method::GET, "/api/v1/products/nocol-1", &[], None).await;
        assert_eq!(status, 200);
        assert!(!request_id.is_empty());
    }
    assert!(api.terminate().await, "a clean exit despite the lost spans");

    // No endpoint: the binary serves as before, a traceparent changing nothing.
    let api = ApiProcess::spawn(&db.url, &[("OTEL_BSP_SCHEDULE_DELAY", "10")]).await;
    let (status, request_id, _) = send(
        &http,
        &api,
        Method::GET,
        "/api/v1/products/nocol-1",
        &[("traceparent", &format!("00-{TRACE_ID}-{PARENT_ID}-01"))],
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(!request_id.is_empty());
    assert!(api.terminate().await);
}

#[tokio::test]
async fn each_job_run_is_a_span_with_its_kind_id_and_attempt() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    maef_tests::disable_schedules(&client).await;
    let ok: i64 = client
        .query_one("select api.enqueue_job('noop')", &[])
        .await
        .unwrap()
        .get(0);
    let failing: i64 = client
        .query_one(
            "select api.enqueue_job('noop', '{\"fail\": true}', p_max_attempts => 1)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let (collector_url, received) = collector().await;
    let mut worker = WorkerProcess::spawn(
        &db.url,
        "traced-worker",
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", collector_url.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    );
    let job_span = |id: i64| {
        received
            .lock()
            .unwrap()
            .iter()
            .find(|(_, s)| s.name == "job noop" && attribute(s, "job.id") == Some(id.to_string()))
            .cloned()
    };
    eventually(Duration::from_secs(20), "both jobs' spans", || async {
        job_span(ok).is_some() && job_span(failing).is_some()
    })
    .await;
    let (service, span) = job_span(ok).unwrap();
    assert_eq!(service, "maef-worker", "the default service name");
    assert_eq!(attribute(&span, "job.kind").as_deref(), Some("noop"));
    assert_eq!(attribute(&span, "job.attempt").as_deref(), Some("1"));
    assert_ne!(span.status.map(|s| s.code), Some(2), "not an error");
    let (_, span) = job_span(failing).unwrap();
    assert_eq!(
        span.status.map(|s| s.code),
        Some(2),
        "a failed run is an error span"
    );
    worker.signal("TERM");
    assert!(worker.wait(Duration::from_secs(15)).await.success());
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
