//! Invoices and credit notes (docs/fulfilment.md; `sql/invoices.sql`): an order's
//! documents for its customer, a guest with its token, or staff, rendered as printable
//! HTML (the default) or as PDF with `Accept: application/pdf` ([`crate::invoice`]); the
//! accountant's list by number.

use axum::{
    extract::State,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    caller::{Caller, OrdersReadAny, Require},
    db::{self, Access},
    error::{ApiError, Problem},
    extract::{Path, Query},
    invoice,
    routes::{
        answer,
        fulfilment_types::{DocumentList, DocumentPage},
        orders::{OrderToken, OrderTokenHeader, TokenParam},
        JsonText,
    },
    AppState,
};

/// `/api/v1/orders/{number}/invoice`, `…/documents…`, `/api/v1/admin/invoices`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(order_invoice))
        .routes(routes!(order_documents))
        .routes(routes!(order_document))
        .routes(routes!(admin_invoices))
}

/// A rendered document, for the OpenAPI document.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct DocumentBytes(pub Vec<u8>);

/// The `Accept` header, for the document.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct AcceptHeader {
    /// `application/pdf` for a PDF; anything else gives HTML.
    #[param(rename = "Accept")]
    pub accept: Option<String>,
}

/// Whether the client asked for a PDF (`Accept: application/pdf` before any HTML).
fn wants_pdf(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let pdf = accept.find("application/pdf");
    let html = accept.find("text/html");
    matches!((pdf, html), (Some(p), h) if h.is_none_or(|h| p < h))
}

/// Renders the JSON of `api.order_invoice` as HTML or PDF.
fn render(json: &str, pdf: bool) -> Result<Response, ApiError> {
    let doc: invoice::Document =
        serde_json::from_str(json).map_err(|e| ApiError::internal(format!("invoice: {e}")))?;
    let disposition = format!(
        "inline; filename=\"{}.{}\"",
        doc.number,
        if pdf { "pdf" } else { "html" }
    );
    let (content_type, body) = if pdf {
        ("application/pdf", invoice::pdf(&doc))
    } else {
        ("text/html; charset=utf-8", invoice::html(&doc).into_bytes())
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// The order's invoice (issued when it was paid), as printable HTML or, with
/// `Accept: application/pdf`, a PDF, in the customer's language. For its customer, a
/// guest with the order's token, or staff.
#[utoipa::path(get, path = "/api/v1/orders/{number}/invoice", tag = "invoices", security((), ("bearer" = [])),
    params(("number" = String, Path, description = "Order number"), TokenParam, OrderTokenHeader, AcceptHeader),
    responses(
        (status = 200, description = "The invoice", content((DocumentBytes = "text/html"), (DocumentBytes = "application/pdf")),
            headers(("Content-Disposition" = String, description = "`inline; filename=\"F-2026-000001.pdf\"`"))),
        (status = 400, description = "Malformed token (`invalid_order_token`)", body = Problem),
        (status = 404, description = "Codes: `order_not_found`, `invoice_not_found` (not paid yet)", body = Problem),
    ))]
pub async fn order_invoice(
    State(state): State<AppState>,
    caller: Caller,
    OrderToken(token): OrderToken,
    Path(number): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let json = db::call(
        &state.db,
        &caller,
        Access::ReadOnly,
        "select api.order_invoice($1, $2)::text",
        &[&number, &token],
    )
    .await?;
    render(&json, wants_pdf(&headers))
}

/// The order's invoice and credit notes, oldest first.
#[utoipa::path(get, path = "/api/v1/orders/{number}/documents", tag = "invoices", security((), ("bearer" = [])),
    params(("number" = String, Path, description = "Order number"), TokenParam, OrderTokenHeader),
    responses(
        (status = 200, description = "The documents", body = DocumentList),
        (status = 400, description = "Malformed token (`invalid_order_token`)", body = Problem),
        (status = 404, description = "No such order for this caller (`order_not_found`)", body = Problem),
    ))]
pub async fn order_documents(
    State(state): State<AppState>,
    caller: Caller,
    OrderToken(token): OrderToken,
    Path(number): Path<String>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.order_documents($1, $2)::text",
        &[&number, &token],
    )
    .await
}

/// One of the order's documents by number (a credit note, say), as HTML or PDF.
#[utoipa::path(get, path = "/api/v1/orders/{number}/documents/{document}", tag = "invoices", security((), ("bearer" = [])),
    params(("number" = String, Path, description = "Order number"),
           ("document" = String, Path, description = "Document number, e.g. `AV-2026-000001`"),
           TokenParam, OrderTokenHeader, AcceptHeader),
    responses(
        (status = 200, description = "The document", content((DocumentBytes = "text/html"), (DocumentBytes = "application/pdf")),
            headers(("Content-Disposition" = String, description = "`inline; filename=\"AV-2026-000001.pdf\"`"))),
        (status = 400, description = "Malformed token (`invalid_order_token`)", body = Problem),
        (status = 404, description = "Codes: `order_not_found`, `invoice_not_found`", body = Problem),
    ))]
pub async fn order_document(
    State(state): State<AppState>,
    caller: Caller,
    OrderToken(token): OrderToken,
    Path((number, document)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let json = db::call(
        &state.db,
        &caller,
        Access::ReadOnly,
        "select api.order_invoice($1, $2, $3)::text",
        &[&number, &token, &document],
    )
    .await?;
    render(&json, wants_pdf(&headers))
}

/// Filters of the accountant's list.
#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InvoiceFilter {
    #[param(pattern = "^(invoice|credit_note)$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[param(minimum = 2000, maximum = 9999)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub year: Option<i32>,
    /// Page size (default 20).
    #[param(minimum = 1, maximum = 100)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i32>,
    /// `next_cursor` of the previous page (the last number seen).
    #[param(max_length = 100)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// Invoices and credit notes by number (gapless per kind and year).
#[utoipa::path(get, path = "/api/v1/admin/invoices", tag = "invoices", security(("bearer" = ["orders:read:any"])),
    params(InvoiceFilter),
    responses(
        (status = 200, description = "A page of documents", body = DocumentPage),
        (status = 422, description = "Codes: `invalid_filter`, `invalid_limit`, `invalid_query`", body = Problem),
    ))]
pub async fn admin_invoices(
    State(state): State<AppState>,
    Require(caller, ..): Require<OrdersReadAny>,
    Query(filter): Query<InvoiceFilter>,
) -> Result<JsonText, ApiError> {
    let filter = serde_json::to_value(&filter).map_err(|e| ApiError::internal(e.to_string()))?;
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.admin_list_invoices($1)::text",
        &[&filter],
    )
    .await
}
