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
        (name = "admin", description = "Administration (permissions in each route's security)"),
    )
)]
pub struct ApiDoc;

/// The whole document: the header above with every route's operations (what
/// `/api/v1/openapi.json` serves; also for tools that need it without a server).
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, paths) = crate::routes::router().split_for_parts();
    let (_, upload) = crate::routes::media::upload_router().split_for_parts();
    with_header([paths, upload])
}

/// The header above with the operations collected by routers.
pub fn with_header(parts: impl IntoIterator<Item = utoipa::openapi::OpenApi>) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    for part in parts {
        doc.merge(part);
    }
    doc
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
