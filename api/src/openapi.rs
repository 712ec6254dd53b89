//! The OpenAPI 3.1 document: its header (title, tags, security scheme, shared
//! components) only. Each route module registers its own operations with
//! `utoipa_axum::routes!` next to its handlers, so the document has no second list of
//! routes; [`document`] assembles the whole document without a server.

use utoipa::OpenApi;

/// The document's header; the paths come from the routers.
#[derive(OpenApi)]
#[openapi(
    info(title = "maef API", description = "E-commerce backend whose logic lives in PostgreSQL."),
    modifiers(&BearerAuth),
    components(schemas(crate::error::Problem)),
    tags(
        (name = "health", description = "Probes"),
        (name = "catalog", description = "Categories and products"),
        (name = "auth", description = "Accounts and sessions"),
        (name = "users", description = "The signed-in user"),
        (name = "catalog admin", description = "Catalog writes (catalog:write), audited"),
        (name = "media", description = "Images and videos stored in PostgreSQL: upload, download with Range/ETag, derivatives"),
        (name = "cart", description = "The shopper's cart and its quote"),
        (name = "checkout", description = "From cart to order, in one transaction"),
        (name = "orders", description = "A customer's orders (guests: with their order token)"),
        (name = "payments", description = "Paying orders (Stripe, FedaPay, Paystack, cash on delivery) and the providers' webhooks"),
        (name = "fulfilment", description = "Shipments, carriers and their signed webhooks, cancellations"),
        (name = "returns", description = "Returns (RMA): requests, decisions, receipt with restock, refunds"),
        (name = "invoices", description = "Invoices and credit notes, numbered without gaps per year (HTML or PDF)"),
        (name = "admin", description = "Administration (permissions in each route's security)"),
        (name = "webhooks", description = "Domain events and outbound webhooks (webhooks:write), signed per Standard Webhooks"),
        (name = "emails", description = "E-mail templates and the e-mail outbox (emails:admin)"),
        (name = "stories", description = "Instagram stories pulled into the shop: the storefront carousel, links to products, drafts"),
        (name = "integrations", description = "Connected accounts (Instagram with Facebook Login): OAuth, tokens sealed at rest"),
    )
)]
pub struct ApiDoc;

/// The whole document: the header above with every route's operations (what
/// `/api/v1/openapi.json` serves; also for tools that need it without a server).
pub fn document() -> serde_json::Value {
    let (_, paths) = crate::routes::router().split_for_parts();
    let (_, upload) = crate::routes::media::upload_router().split_for_parts();
    with_header([paths, upload])
}

/// The header above with the operations collected by routers.
///
/// JSON rather than utoipa's types: the common errors are added to the serialised
/// document (utoipa's 3.1 schema types do not all deserialise back).
pub fn with_header(parts: impl IntoIterator<Item = utoipa::openapi::OpenApi>) -> serde_json::Value {
    let mut doc = ApiDoc::openapi();
    for part in parts {
        doc.merge(part);
    }
    let mut json = serde_json::to_value(&doc).expect("the document serialises");
    add_document_routes(&mut json);
    add_common_errors(&mut json);
    json
}

/// The two routes that serve the document itself (`routes::docs`, built from it).
fn add_document_routes(doc: &mut serde_json::Value) {
    use serde_json::json;
    doc["paths"]["/api/v1/openapi.json"] = json!({"get": {
        "tags": ["health"], "summary": "This OpenAPI 3.1 document", "operationId": "openapi_json",
        "responses": {"200": {"description": "The document",
                              "content": {"application/json": {"schema": {"type": "object"}}}}}}});
    doc["paths"]["/docs"] = json!({"get": {
        "tags": ["health"], "summary": "The API explorer (Swagger UI, when the storefront's build is served), else a readable page of every operation", "operationId": "docs_page",
        "responses": {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}}}});
}

/// The error responses every operation may give, added where a route did not document
/// them itself, so that no status a client can receive is undocumented:
/// - any operation: 408 (request timeout), 500 (our bug), 503 (database unreachable),
///   504 (database too slow or pool exhausted);
/// - with a request body: 400 (malformed), 413 (too large), 415 (not JSON), 422 (a
///   field of the wrong type or out of range);
/// - with path parameters: 404 (an id of no row, or one that does not parse);
/// - with a bearer requirement (optional or not): 401, and 403 when it names
///   permissions.
///
/// Every `Problem` body is served as `application/problem+json` (RFC 9457).
fn add_common_errors(doc: &mut serde_json::Value) {
    use serde_json::{json, Value};
    let problem = |description: &str| {
        json!({"description": description,
               "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}})
    };
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        let has_path_parameters = path.contains('{');
        for (method, operation) in item.iter_mut() {
            if !["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                continue;
            }
            let has_body = operation.get("requestBody").is_some();
            let scopes: Vec<Value> = operation["security"]
                .as_array()
                .map(|reqs| {
                    reqs.iter()
                        .filter_map(|r| r.get("bearer").and_then(Value::as_array))
                        .flatten()
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            let signed_in = operation["security"]
                .as_array()
                .is_some_and(|reqs| reqs.iter().any(|r| r.get("bearer").is_some()));
            let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            // Problem bodies documented as JSON by a route are problem JSON.
            for response in responses.values_mut() {
                if let Some(content) = response.get_mut("content").and_then(Value::as_object_mut) {
                    let is_problem = content
                        .get("application/json")
                        .is_some_and(|c| c["schema"]["$ref"] == "#/components/schemas/Problem");
                    if is_problem {
                        let media = content.remove("application/json").unwrap_or_default();
                        content.insert("application/problem+json".into(), media);
                    }
                }
            }
            let mut add = |status: &str, description: &str| {
                responses
                    .entry(status.to_string())
                    .or_insert_with(|| problem(description));
            };
            add("408", "The request took longer than REQUEST_TIMEOUT_MS");
            add(
                "500",
                "Internal error (logged with the request id; the body says nothing more)",
            );
            add("503", "The database cannot be reached; retry later");
            add(
                "504",
                "The database took too long, or no connection became free in time",
            );
            if has_body {
                add("400", "Malformed request body");
                add("413", "Request body larger than MAX_BODY_BYTES");
                add("415", "The request body is not application/json");
                add(
                    "422",
                    "A field is missing, of the wrong type or out of range (details name it)",
                );
            }
            if has_path_parameters {
                add(
                    "404",
                    "Nothing has this id (`not_found`: also an id that does not parse)",
                );
            }
            if signed_in {
                add("401", "No valid access token");
                if !scopes.is_empty() {
                    add("403", "The token lacks the permission this operation needs");
                }
            }
        }
    }
}

/// Declares the `bearer` security scheme (JWT access tokens) that routes refer to; the
/// scopes listed in a route's security requirement are the permissions it needs.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// Whether a schema says nothing (`{}` or absent): what utoipa writes for a
    /// `serde_json::Value` body, and what a client generator turns into `unknown`.
    fn is_untyped(schema: Option<&Value>) -> bool {
        schema.and_then(Value::as_object).is_none_or(|s| {
            !["type", "$ref", "oneOf", "anyOf", "allOf", "enum", "const"]
                .iter()
                .any(|k| s.contains_key(*k))
        })
    }

    #[test]
    fn an_empty_or_missing_schema_is_untyped() {
        use serde_json::json;
        assert!(is_untyped(None));
        assert!(is_untyped(Some(&json!({}))));
        assert!(is_untyped(Some(&json!({"description": "anything"}))));
        assert!(!is_untyped(Some(&json!({"type": "object"}))));
        assert!(!is_untyped(Some(
            &json!({"$ref": "#/components/schemas/Problem"})
        )));
        assert!(!is_untyped(Some(&json!({"oneOf": [{"type": "string"}]}))));
    }

    /// The contract is typed: every request body, every parameter and every response
    /// with a body has a schema; every error response is problem JSON. A route added
    /// without its types fails here, before any client sees `unknown`.
    #[test]
    fn every_operation_of_the_document_is_typed() {
        let doc = super::document();
        let mut gaps = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("path item") {
                let at = format!("{} {path}", method.to_uppercase());
                if let Some(body) = operation.get("requestBody") {
                    for (media, content) in body["content"].as_object().into_iter().flatten() {
                        if is_untyped(content.get("schema")) {
                            gaps.push(format!("{at}: request body {media} has no schema"));
                        }
                    }
                }
                for parameter in operation["parameters"].as_array().into_iter().flatten() {
                    if is_untyped(parameter.get("schema")) {
                        gaps.push(format!("{at}: parameter {} has no schema", parameter["name"]));
                    }
                }
                for (status, response) in operation["responses"].as_object().expect("responses") {
                    let code: u16 = status.parse().expect("numeric status");
                    let content = response.get("content").and_then(Value::as_object);
                    if code == 204 || (300..400).contains(&code) {
                        if content.is_some() {
                            gaps.push(format!("{at}: {code} documents a body"));
                        }
                        continue;
                    }
                    let Some(content) = content else {
                        gaps.push(format!("{at}: {code} has no content"));
                        continue;
                    };
                    for (media, media_content) in content {
                        if is_untyped(media_content.get("schema")) {
                            gaps.push(format!("{at}: {code} {media} has no schema"));
                        }
                        if code >= 400 && media != "application/problem+json" {
                            gaps.push(format!("{at}: {code} is {media}, not problem JSON"));
                        }
                    }
                }
            }
        }
        assert!(
            gaps.is_empty(),
            "untyped parts of the contract:\n{}",
            gaps.join("\n")
        );
    }

    /// Every operation has its own `operationId`: utoipa takes the handler's name, two
    /// modules may both have a `refund`, and client generators refuse a document where
    /// two operations share one (openapi-typescript stops there).
    #[test]
    fn every_operation_id_is_unique() {
        let doc = super::document();
        let mut seen = std::collections::BTreeMap::<String, String>::new();
        let mut duplicates = Vec::new();
        for (path, operations) in doc["paths"].as_object().expect("paths") {
            for (method, operation) in operations.as_object().expect("operations") {
                let id = operation["operationId"].as_str().unwrap_or_default().to_string();
                let at = format!("{method} {path}");
                if let Some(first) = seen.insert(id.clone(), at.clone()) {
                    duplicates.push(format!("{id}: {first} and {at}"));
                }
            }
        }
        assert!(
            duplicates.is_empty(),
            "operationId used twice:\n{}",
            duplicates.join("\n")
        );
    }

    /// Every `$ref` of the document names a schema of its components: utoipa writes a
    /// reference for a `value_type` that is not `inline` without registering the type,
    /// and a client generator (openapi-typescript) then refuses the whole document.
    #[test]
    fn every_reference_of_the_document_resolves() {
        fn walk(
            value: &Value,
            at: &str,
            schemas: &serde_json::Map<String, Value>,
            dangling: &mut Vec<String>,
        ) {
            match value {
                Value::Object(map) => {
                    for (key, inner) in map {
                        match (key.as_str(), inner.as_str()) {
                            ("$ref", Some(target)) => {
                                let name = target.strip_prefix("#/components/schemas/");
                                if name.is_none_or(|n| !schemas.contains_key(n)) {
                                    dangling.push(format!("{at}: {target}"));
                                }
                            }
                            _ => walk(inner, &format!("{at}/{key}"), schemas, dangling),
                        }
                    }
                }
                Value::Array(items) => {
                    for (i, inner) in items.iter().enumerate() {
                        walk(inner, &format!("{at}/{i}"), schemas, dangling);
                    }
                }
                _ => {}
            }
        }
        let doc = super::document();
        let schemas = doc["components"]["schemas"]
            .as_object()
            .expect("component schemas");
        let mut dangling = Vec::new();
        walk(&doc, "", schemas, &mut dangling);
        assert!(
            dangling.is_empty(),
            "dangling references:\n{}",
            dangling.join("\n")
        );
    }
}
