//! The OpenAPI document and a readable HTML page built from it.
//!
//! The page is rendered here from the document rather than by Swagger UI or Redoc:
//! those fetch JavaScript bundles from the network (at build time or in the browser),
//! and our build machines reach only package registries.

use std::sync::Arc;

use axum::{response::Html, routing::get, Router};
use utoipa::openapi::{path::Operation, OpenApi as Document};

use crate::{routes::JsonText, AppState};

/// `/api/v1/openapi.json` and `/docs` for `doc`, rendered once.
pub fn router(doc: &Document) -> Router<AppState> {
    let json: Arc<str> = doc.to_json().unwrap_or_else(|_| "{}".into()).into();
    let page: Arc<str> = render(doc).into();
    Router::new()
        .route(
            "/api/v1/openapi.json",
            get(move || async move { JsonText::ok(json.to_string()) }),
        )
        .route("/docs", get(move || async move { Html(page.to_string()) }))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Renders every operation: method, path, summary, parameters and responses.
pub fn render(doc: &Document) -> String {
    let mut html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}\
         h2{{font-family:monospace;font-size:1rem;background:#f4f4f4;padding:.4rem}}\
         .m{{display:inline-block;min-width:4rem;font-weight:bold}}td,th{{text-align:left;padding:0 .6rem}}</style>\
         </head><body><h1>{title} {version}</h1><p>{desc}</p>\
         <p>Machine-readable: <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a> (OpenAPI 3.1).</p>",
        title = escape(&doc.info.title),
        version = escape(&doc.info.version),
        desc = escape(doc.info.description.as_deref().unwrap_or("")),
    );
    for (path, item) in &doc.paths.paths {
        let ops: [(&str, &Option<Operation>); 5] = [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("PATCH", &item.patch),
            ("DELETE", &item.delete),
        ];
        for (method, op) in ops {
            if let Some(op) = op {
                html.push_str(&render_operation(method, path, op));
            }
        }
    }
    html.push_str("</body></html>");
    html
}

fn render_operation(method: &str, path: &str, op: &Operation) -> String {
    let mut out = format!("<h2><span class=\"m\">{method}</span>{}</h2>", escape(path));
    for text in [&op.summary, &op.description].into_iter().flatten() {
        out.push_str(&format!("<p>{}</p>", escape(text)));
    }
    if let Some(params) = op.parameters.as_ref().filter(|p| !p.is_empty()) {
        out.push_str("<table><tr><th>parameter</th><th>in</th><th>description</th></tr>");
        for p in params {
            let location = serde_json::to_value(&p.parameter_in)
                .ok()
                .and_then(|v| v.as_str().map(String::from));
            out.push_str(&format!(
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                escape(&p.name),
                escape(location.as_deref().unwrap_or("")),
                escape(p.description.as_deref().unwrap_or(""))
            ));
        }
        out.push_str("</table>");
    }
    out.push_str("<ul>");
    for (status, response) in &op.responses.responses {
        let description = match response {
            utoipa::openapi::RefOr::T(r) => r.description.clone(),
            utoipa::openapi::RefOr::Ref(r) => r.ref_location.clone(),
        };
        out.push_str(&format!(
            "<li><b>{}</b> {}</li>",
            escape(status),
            escape(&description)
        ));
    }
    out.push_str("</ul>");
    out
}
