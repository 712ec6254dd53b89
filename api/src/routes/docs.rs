//! The OpenAPI document and a readable HTML page built from it.
//!
//! Two pages at `/docs`: the interactive API explorer (Swagger UI from the npm
//! registry, vendored by the storefront's build into `web/dist/docs`, no CDN at run
//! time) when `WEB_DIR` has it, else a static page rendered here from the document,
//! which needs nothing but this binary.

use std::{path::PathBuf, sync::Arc};

use axum::{extract::Request, response::Html, routing::get, Router};
use serde_json::Value;

use crate::{routes::JsonText, AppState};

/// `/api/v1/openapi.json` and `/docs` for `doc`: the explorer's page `explorer` when
/// given, else the static page, rendered once.
pub fn router(doc: &Value, explorer: Option<PathBuf>) -> Router<AppState> {
    let json: Arc<str> = doc.to_string().into();
    let docs = Router::new().route(
        "/api/v1/openapi.json",
        get(move || async move { JsonText::ok(json.to_string()) }),
    );
    match explorer {
        Some(page) => docs.route(
            "/docs",
            get(move |request: Request| crate::web::serve_file(page.clone(), request)),
        ),
        None => {
            let page: Arc<str> = render(doc).into();
            docs.route("/docs", get(move || async move { Html(page.to_string()) }))
        }
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Renders every operation: method, path, summary, parameters and responses.
pub fn render(doc: &Value) -> String {
    let text = |v: &Value| escape(v.as_str().unwrap_or(""));
    let mut html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}\
         h2{{font-family:monospace;font-size:1rem;background:#f4f4f4;padding:.4rem}}\
         .m{{display:inline-block;min-width:4rem;font-weight:bold}}td,th{{text-align:left;padding:0 .6rem}}</style>\
         </head><body><h1>{title} {version}</h1><p>{desc}</p>\
         <p>Machine-readable: <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a> (OpenAPI 3.1).</p>",
        title = text(&doc["info"]["title"]),
        version = text(&doc["info"]["version"]),
        desc = text(&doc["info"]["description"]),
    );
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if let Some(op) = item.get(method) {
                html.push_str(&render_operation(&method.to_uppercase(), path, op));
            }
        }
    }
    html.push_str("</body></html>");
    html
}

fn render_operation(method: &str, path: &str, op: &Value) -> String {
    let text = |v: &Value| escape(v.as_str().unwrap_or(""));
    let mut out = format!("<h2><span class=\"m\">{method}</span>{}</h2>", escape(path));
    for key in ["summary", "description"] {
        if op[key].is_string() {
            out.push_str(&format!("<p>{}</p>", text(&op[key])));
        }
    }
    if let Some(params) = op["parameters"].as_array().filter(|p| !p.is_empty()) {
        out.push_str("<table><tr><th>parameter</th><th>in</th><th>description</th></tr>");
        for p in params {
            out.push_str(&format!(
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                text(&p["name"]),
                text(&p["in"]),
                text(&p["description"])
            ));
        }
        out.push_str("</table>");
    }
    out.push_str("<ul>");
    for (status, response) in op["responses"].as_object().into_iter().flatten() {
        out.push_str(&format!(
            "<li><b>{}</b> {}</li>",
            escape(status),
            text(&response["description"])
        ));
    }
    out.push_str("</ul>");
    out
}
