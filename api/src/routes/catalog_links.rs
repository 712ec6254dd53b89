//! Catalog administration of links (needs `catalog:write`): tags on their own (create,
//! rename, delete) and one product media link at a time (primary, position, alt).
//! Products can also replace both lists at once (`PATCH /api/v1/admin/products/{id}`).

use axum::extract::State;
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    caller::{CatalogWrite, Require},
    db::Access,
    error::{ApiError, Problem},
    extract::{Json, Path},
    routes::catalog_admin_types::*,
    routes::catalog_types::Deleted,
    routes::{answer, JsonText},
    AppState,
};

/// The tag and media link routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_tag))
        .routes(routes!(update_tag, delete_tag))
        .routes(routes!(set_product_media, delete_product_media))
}

/// Creates a tag: `{"name": "Été", "slug": "ete"}` (the slug is made from the name when
/// absent).
#[utoipa::path(post, path = "/api/v1/admin/tags", tag = "catalog admin", request_body = NewTag, security(("bearer" = ["catalog:write"])),
    responses(
        (status = 201, description = "The tag", body = TagRow),
        (status = 409, description = "The slug is taken (`tag_slug_key`)", body = Problem),
        (status = 422, description = "`invalid_field` (details = the JSON path), `invalid_body`", body = Problem),
    ))]
pub async fn create_tag(
    State(state): State<AppState>,
    Require(caller, ..): Require<CatalogWrite>,
    Json(body): Json<Value>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.create_tag($1)::text",
        &[&body],
    )
    .await
    .map(JsonText::created)
}

/// Renames a tag (`{name?, slug?}`); its products' search vectors follow.
#[utoipa::path(patch, path = "/api/v1/admin/tags/{id}", tag = "catalog admin", request_body = TagPatch,
    params(("id" = i64, Path, description = "Tag id")), security(("bearer" = ["catalog:write"])),
    responses(
        (status = 200, description = "The tag", body = TagRow),
        (status = 404, description = "No such tag (`tag_not_found`)", body = Problem),
        (status = 409, description = "The slug is taken (`tag_slug_key`)", body = Problem),
        (status = 422, description = "`invalid_field` (details = the JSON path), `invalid_body`", body = Problem),
    ))]
pub async fn update_tag(
    State(state): State<AppState>,
    Require(caller, ..): Require<CatalogWrite>,
    Path(id): Path<i64>,
    Json(body): Json<Value>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.update_tag($1, $2)::text",
        &[&id, &body],
    )
    .await
}

/// Deletes a tag and its links to products.
#[utoipa::path(delete, path = "/api/v1/admin/tags/{id}", tag = "catalog admin",
    params(("id" = i64, Path, description = "Tag id")), security(("bearer" = ["catalog:write"])),
    responses(
        (status = 200, description = "Deleted", body = Deleted),
        (status = 404, description = "No such tag (`tag_not_found`)", body = Problem),
    ))]
pub async fn delete_tag(
    State(state): State<AppState>,
    Require(caller, ..): Require<CatalogWrite>,
    Path(id): Path<i64>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.delete_tag($1)::text",
        &[&id],
    )
    .await
}

/// Links a media asset to a product or changes the link: `{"is_primary": true,
/// "position": 0, "alt": "…"}` (all optional); a new primary demotes the previous one.
/// The asset id is checked in SQL, so a malformed one is a 422 like any bad value.
#[utoipa::path(put, path = "/api/v1/admin/products/{id}/media/{asset_id}", tag = "catalog admin",
    request_body = MediaLinkPatch,
    params(("id" = i64, Path, description = "Product id"), ("asset_id" = uuid::Uuid, Path, description = "Media asset id")),
    security(("bearer" = ["catalog:write"])),
    responses(
        (status = 200, description = "The product (admin view)", body = ProductAdmin),
        (status = 404, description = "Codes: `product_not_found`, `media_asset_not_found`", body = Problem),
        (status = 422, description = "`invalid_field` (details = the JSON path), `invalid_text_representation` (the asset \
            id is not a UUID), `invalid_body`", body = Problem),
    ))]
pub async fn set_product_media(
    State(state): State<AppState>,
    Require(caller, ..): Require<CatalogWrite>,
    Path((id, asset_id)): Path<(i64, String)>,
    Json(body): Json<Value>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.set_product_media($1, $2::text::uuid, $3)::text",
        &[&id, &asset_id, &body],
    )
    .await
}

/// Unlinks a media asset from a product (the asset itself stays).
#[utoipa::path(delete, path = "/api/v1/admin/products/{id}/media/{asset_id}", tag = "catalog admin",
    params(("id" = i64, Path, description = "Product id"), ("asset_id" = uuid::Uuid, Path, description = "Media asset id")),
    security(("bearer" = ["catalog:write"])),
    responses(
        (status = 200, description = "The product (admin view)", body = ProductAdmin),
        (status = 404, description = "The asset is not linked to the product (`product_media_not_found`)", body = Problem),
        (status = 422, description = "The asset id is not a UUID (`invalid_text_representation`)", body = Problem),
    ))]
pub async fn delete_product_media(
    State(state): State<AppState>,
    Require(caller, ..): Require<CatalogWrite>,
    Path((id, asset_id)): Path<(i64, String)>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.delete_product_media($1, $2::text::uuid)::text",
        &[&id, &asset_id],
    )
    .await
}
