//! Reports over HTTP (`reports:read`): the same answers a shop owner gets in psql from
//! schema `report` (`sql/reports.sql`), as JSON or, with `Accept: text/csv`, as CSV
//! streamed row by row. Which reports exist, their parameters and descriptions come
//! from the database catalog (`\df+ report.*`, `\dv+ report.*`): a report added in SQL
//! is served here without a Rust change.

use axum::{
    body::{Body, Bytes},
    extract::State,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    caller::{Caller, ReportsRead, Require},
    db::{self, Access},
    error::{ApiError, Problem},
    extract::{Path, Query},
    routes::{answer, JsonText},
    AppState,
};

/// `/api/v1/admin/reports…`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_reports))
        .routes(routes!(report))
}

/// Whether a report is a function (with parameters) or a view.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    Function,
    View,
}

/// A parameter of a report.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportParameter {
    /// The query parameter's name (`from`, `to`, `currency`, `grain`, `results`, `limit`).
    pub name: String,
    /// Its SQL type (`date`, `text`, `integer`).
    #[serde(rename = "type")]
    pub kind: String,
    /// What it is when omitted.
    #[schema(required)]
    pub default: Option<String>,
}

/// A report the caller may run.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "sales", "kind": "function",
    "description": "Sales per day|week|month (p_grain) and currency between p_from and p_to …",
    "parameters": [{"name": "from", "type": "date", "default": "today - 30 days"},
                   {"name": "to", "type": "date", "default": "today"},
                   {"name": "currency", "type": "text", "default": null},
                   {"name": "grain", "type": "text", "default": "day"}]}))]
pub struct ReportInfo {
    pub name: String,
    pub kind: ReportKind,
    /// Its `COMMENT` in the database: what it answers.
    pub description: String,
    pub parameters: Vec<ReportParameter>,
}

/// The reports, by name.
#[utoipa::path(get, path = "/api/v1/admin/reports", tag = "reports", security(("bearer" = ["reports:read"])),
    responses((status = 200, description = "The reports", body = Vec<ReportInfo>)))]
pub async fn list_reports(
    State(state): State<AppState>,
    Require(caller, ..): Require<ReportsRead>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.admin_list_reports()::text",
        &[],
    )
    .await
}

/// Parameters of `GET /api/v1/admin/reports/{name}`: each report takes some of them
/// (`GET /api/v1/admin/reports` says which); another one is 422 `invalid_parameter`.
#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReportParams {
    /// First day, inclusive (UTC date, `2026-01-31`; default 30 days ago).
    #[param(value_type = Option<String>, format = Date)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Last day, inclusive (default today).
    #[param(value_type = Option<String>, format = Date)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// One currency (default: every currency, each on its own rows).
    #[param(pattern = "^[A-Za-z]{3}$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// `day`, `week` or `month` (sales).
    #[param(pattern = "^(day|week|month)$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grain: Option<String>,
    /// `any`, `with` or `without` (top searches: those that found something, or never did).
    #[param(pattern = "^(any|with|without)$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub results: Option<String>,
    /// Rows (top searches, top customers: 1 to 1000).
    #[param(minimum = 1, maximum = 1000)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i32>,
}

/// A report's answer as JSON.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"report": "sales", "parameters": {"from": "2026-01-01", "to": "2026-01-31", "currency": "XOF"},
    "columns": ["period", "currency", "orders", "units", "gross", "discounts", "shipping", "tax", "total", "refunds", "net"],
    "rows": [{"period": "2026-01-01", "currency": "XOF", "orders": 12, "units": 19, "gross": 285000, "discounts": 15000,
              "shipping": 24000, "tax": 0, "total": 294000, "refunds": 0, "net": 294000}],
    "row_count": 1, "truncated": false}))]
pub struct ReportResult {
    pub report: String,
    /// The parameters given.
    pub parameters: serde_json::Map<String, serde_json::Value>,
    /// The columns, in order (the keys of each row).
    pub columns: Vec<String>,
    /// One object per row, keyed by column. Amounts are minor units of the row's currency.
    pub rows: Vec<serde_json::Map<String, serde_json::Value>>,
    pub row_count: i64,
    /// More than 10 000 rows: ask for CSV (`Accept: text/csv`), which has them all.
    pub truncated: bool,
}

/// CSV text (RFC 4180, CRLF, header row first).
#[derive(ToSchema)]
#[schema(value_type = String)]
pub struct CsvText(pub String);

/// Runs a report. JSON by default; CSV with `Accept: text/csv`, streamed as PostgreSQL
/// sends the rows (a header row first; text that a spreadsheet would take for a formula
/// is prefixed with `'`).
#[utoipa::path(get, path = "/api/v1/admin/reports/{name}", tag = "reports", security(("bearer" = ["reports:read"])),
    params(("name" = String, Path, description = "The report's name (`GET /api/v1/admin/reports`)"), ReportParams),
    responses(
        (status = 200, description = "The report", content((ReportResult = "application/json"), (CsvText = "text/csv"))),
        (status = 404, description = "No report has this name (`report_not_found`)", body = Problem),
        (status = 422, description = "Codes: `invalid_parameter` (one the report does not take, or of the wrong type), `invalid_range` \
            (from after to), `invalid_currency`, `invalid_grain`, `invalid_results`, `invalid_limit`, `invalid_query`", body = Problem),
    ))]
pub async fn report(
    State(state): State<AppState>,
    Require(caller, ..): Require<ReportsRead>,
    Path(name): Path<String>,
    Query(params): Query<ReportParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = serde_json::to_value(&params).map_err(|e| ApiError::internal(e.to_string()))?;
    if wants_csv(&headers) {
        return csv(state, caller, name, params).await;
    }
    Ok(answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.admin_report($1, $2)::text",
        &[&name, &params],
    )
    .await?
    .into_response())
}

/// Whether the client asked for CSV (and not JSON first).
fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .find(|v| v == "text/csv" || v == "application/json")
        .is_some_and(|v| v == "text/csv")
}

/// Streams the report's CSV lines. The first line is awaited before answering, so an
/// unknown report or a bad parameter is still a 4xx problem; after that, each row goes
/// out as PostgreSQL sends it (the connection is held until the last row).
async fn csv(
    state: AppState,
    caller: Caller,
    name: String,
    params: serde_json::Value,
) -> Result<Response, ApiError> {
    let (lines, rx) = tokio::sync::mpsc::channel::<Result<Bytes, ApiError>>(64);
    let (first, first_rx) = tokio::sync::oneshot::channel::<Result<(), ApiError>>();
    let pool = state.db.clone();
    tokio::spawn(async move {
        let mut first = Some(first);
        let mut client = match pool.get().await {
            Ok(c) => c,
            Err(e) => return answer_first(&mut first, Err(e.into())),
        };
        let tx = match db::begin_as(&mut client, &caller).await {
            Ok(tx) => tx,
            Err(e) => return answer_first(&mut first, Err(e)),
        };
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&name, &params];
        let rows = match tx
            .query_raw("select api.admin_report_csv($1, $2)", params.iter().copied())
            .await
        {
            Ok(rows) => rows,
            Err(e) => return answer_first(&mut first, Err(e.into())),
        };
        let mut rows = std::pin::pin!(rows);
        while let Some(row) = rows.next().await {
            let line = row
                .map_err(ApiError::from)
                .and_then(|r| r.try_get::<_, String>(0).map_err(ApiError::from));
            match line {
                Ok(line) => {
                    answer_first(&mut first, Ok(()));
                    if lines.send(Ok(Bytes::from(line))).await.is_err() {
                        return; // the client went away
                    }
                }
                Err(e) if first.is_some() => return answer_first(&mut first, Err(e)),
                Err(e) => {
                    tracing::error!(report = %name, error = ?e, "report stream failed mid-way");
                    let _ = lines.send(Err(e)).await;
                    return;
                }
            }
        }
        let _ = tx.commit().await;
    });
    match first_rx.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(ApiError::internal("the report stream ended before its header")),
    }
    let body = Body::from_stream(receiver_stream(rx));
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    Ok(response)
}

/// Tells the handler how the stream started (once).
fn answer_first(
    first: &mut Option<tokio::sync::oneshot::Sender<Result<(), ApiError>>>,
    result: Result<(), ApiError>,
) {
    if let Some(first) = first.take() {
        let _ = first.send(result);
    }
}

/// The receiver as a stream of body chunks; an error mid-way aborts the body (the
/// client sees a truncated transfer, not a silent short file).
fn receiver_stream(
    mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, ApiError>>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
        .map(|item| item.map_err(|e| std::io::Error::other(format!("{e:?}"))))
}
