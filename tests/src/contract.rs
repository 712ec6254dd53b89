//! The contract check: every response a test receives is compared with the OpenAPI
//! document the API serves (`maef_api::openapi::document()`). Its status must be
//! documented for the operation, its content type too, and a JSON body must validate
//! against the documented schema (JSON Schema 2020-12, which OpenAPI 3.1 uses). So a
//! SQL change that alters a response's shape without the document fails a test.
//!
//! `MAEF_CONTRACT=strict` (what `make test` sets by default) turns a violation into a
//! panic in the test that received the response; any other value (`record`) appends
//! violations to `target/contract-violations.txt` instead, to list what is left to
//! document while exploring. The method is in docs/api-contract.md.

use std::{
    collections::HashMap,
    sync::{Mutex, OnceLock},
};

use serde_json::Value;

/// The served document, as JSON.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(maef_api::openapi::document)
}

/// Whether violations panic.
fn strict() -> bool {
    std::env::var("MAEF_CONTRACT").is_ok_and(|v| v == "strict")
}

/// The document's path template matching a request path, preferring literal segments
/// (`/products/lookup` over `/products/{slug}`).
pub fn template_for(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let paths = document()["paths"].as_object()?;
    paths
        .keys()
        .filter_map(|template| {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                return None;
            }
            let mut literal = 0;
            for (p, s) in parts.iter().zip(&segments) {
                if p.starts_with('{') && p.ends_with('}') {
                    if s.is_empty() {
                        return None;
                    }
                } else if p == s {
                    literal += 1;
                } else {
                    return None;
                }
            }
            Some((literal, template))
        })
        .max_by_key(|(literal, _)| *literal)
        .map(|(_, t)| t.clone())
}

/// Checks one response against the document. Returns the violation, if any (also
/// panicking in strict mode or recording it otherwise).
pub fn check(method: &str, path: &str, status: u16, content_type: &str, body: &[u8]) -> Option<String> {
    let violation = violation(method, path, status, content_type, body)?;
    let message = format!("contract: {method} {path} -> {status}: {violation}");
    if strict() {
        panic!(
            "{message}\nbody: {}",
            String::from_utf8_lossy(&body[..body.len().min(2000)])
        );
    }
    record(&message);
    Some(message)
}

fn record(message: &str) {
    use std::io::Write;
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| format!("{}/../target", env!("CARGO_MANIFEST_DIR")));
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(format!("{dir}/contract-violations.txt"))
    {
        let _ = writeln!(file, "{message}");
    }
}

/// What is wrong with one response according to the document, if anything (what
/// [`check`] reports; public so that tests of the harness itself can call it).
pub fn violation(method: &str, path: &str, status: u16, content_type: &str, body: &[u8]) -> Option<String> {
    if method.eq_ignore_ascii_case("OPTIONS") {
        return None; // CORS preflight, answered by middleware: not an API operation
    }
    let Some(template) = template_for(path) else {
        // Unknown paths answer the router's 404 problem; nothing else may be unmatched.
        return (status != 404).then(|| "no operation in the document has this path".to_string());
    };
    let method = if method.eq_ignore_ascii_case("HEAD") {
        "get".to_string()
    } else {
        method.to_ascii_lowercase()
    };
    let Some(operation) = document()["paths"][&template].get(&method) else {
        return (status != 405).then(|| format!("{template} documents no {method} operation"));
    };
    let responses = &operation["responses"];
    let Some(response) = responses
        .get(status.to_string())
        .or_else(|| responses.get("default"))
    else {
        return Some(format!(
            "status {status} is not documented for {method} {template} (documented: {})",
            responses
                .as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>().join(", "))
                .unwrap_or_default()
        ));
    };
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    let Some(content) = response.get("content").and_then(Value::as_object) else {
        return (!body.is_empty() && method != "head")
            .then(|| format!("a {media_type} body where the document says none"));
    };
    if media_type.is_empty() && body.is_empty() {
        return None;
    }
    let Some(media) = content.get(media_type).or_else(|| content.get("*/*")) else {
        return Some(format!(
            "content type '{media_type}' is not documented (documented: {})",
            content.keys().cloned().collect::<Vec<_>>().join(", ")
        ));
    };
    let is_json = media_type == "application/json" || media_type.ends_with("+json");
    let schema = media.get("schema").filter(|_| is_json)?;
    if body.is_empty() {
        return None; // a HEAD response, or a 304
    }
    let instance: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return Some(format!("body is not JSON: {e}")),
    };
    let errors = validate(
        &format!("{method} {template} {status} {media_type}"),
        schema,
        &instance,
    );
    (!errors.is_empty()).then(|| format!("body does not match the schema: {}", errors.join("; ")))
}

/// Validates `instance` against `schema`, whose `$ref`s point into the document's
/// components. Validators are compiled once per operation response.
fn validate(key: &str, schema: &Value, instance: &Value) -> Vec<String> {
    static CACHE: OnceLock<Mutex<HashMap<String, std::sync::Arc<jsonschema::Validator>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let validator = {
        let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(key.to_string())
            .or_insert_with(|| {
                let mut root = serde_json::json!({
                    "$schema": "https://json-schema.org/draft/2020-12/schema",
                    "allOf": [schema],
                });
                root["components"] = document()["components"].clone();
                std::sync::Arc::new(
                    jsonschema::validator_for(&root)
                        .unwrap_or_else(|e| panic!("schema of {key} does not compile: {e}")),
                )
            })
            .clone()
    };
    validator
        .iter_errors(instance)
        .take(5)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}
