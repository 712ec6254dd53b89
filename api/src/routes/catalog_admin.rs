//! Catalog administration (needs `catalog:write`): products with their variants,
//! prices, stock, tags and media; variants; prices; categories. Each write is audited
//! in SQL.

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

/// The catalog administration routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_product))
        .routes(routes!(update_product, delete_product))
        .routes(routes!(add_variant))
        .routes(routes!(update_variant, delete_variant))
        .routes(routes!(add_price))
        .routes(routes!(update_price, delete_price))
        .routes(routes!(create_category))
        .routes(routes!(update_category, delete_category))
}

/// Creates a product with its variants (stock, prices), product prices, tags and media
/// in one transaction — the mobile app's flow. The slug is made from the title when
/// absent. Example: `{"title": "Robe wax", "category": "mode-femme", "variants": [{"name":
/// "M", "sku": "RW-M", "attributes": {"size": "M"}, "stock": {"qty_on_hand": 5},
/// "prices": [{"currency": "XOF", "amount": 15000}]}], "tags": ["wax"], "media": ["<asset id>"]}`.
#[utoipa::path(post, path = "/api/v1/products", tag = "catalog admin", request_body = NewProduct, security(("bearer" = ["catalog:write"])),
    responses(
        (status = 201, description = "The product (admin view)", body = ProductAdmin),
        (status = 409, description = "Codes: `product_slug_key`, `product_variant_sku_key`, `product_media_pkey` (an asset \
            twice), `price_product_window_excl` / `price_variant_window_excl` (overlapping price windows)", body = Problem),
        (status = 422, description = "`invalid_field` (details = the JSON path of the bad field, e.g. `$.variants[0].sku`), \
            or a table rule: `price_check` (compare-at not above the amount), `price_window_valid`, `invalid_body`", body = Problem),
    ))]
pub async fn create_product(
    State(state): State<AppState>,
    Require(caller, ..): Require<CatalogWrite>,
    Json(body): Json<Value>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.create_product($1)::text",
        &[&body],
    )
    .await
    .map(JsonText::created)
}

/// Updates a product's fields; `tags` and `media` replace the lists; a slug change keeps
/// the old slug as a redirect.
#[utoipa::path(patch, path = "/api/v1/admin/products/{id}", tag = "catalog admin", request_body = ProductPatch,
    params(("id" = i64, Path, description = "Product id")), security(("bearer" = ["catalog:write"])),
    responses(
        (status = 200, description = "The product (admin view)", body = ProductAdmin),
        (status = 404, description = "No such product (`product_not_found`)", body = Problem),
        (status = 409, description = "Codes: `product_slug_key`, `product_media_pkey`", body = Problem),
        (status = 422, description = "`invalid_field` (details = the JSON path), `invalid_body`", body = Problem),
    ))]
pub async fn update_product(
    State(state): State<AppState>,
    Require(caller, ..): Require<CatalogWrite>,
    Path(id): Path<i64>,
    Json(body): Json<Value>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.update_product($1, $2)::text",
        &[&id, &body],
    )
    .await
}

/// Deletes a product.
#[utoipa::path(delete, path = "/api/v1/admin/products/{id}", tag = "catalog admin",
    params(("id" = i64, Path, description = "Product id")), security(("bearer" = ["catalog:write"])),
    responses(
        (status = 200, description = "Deleted", body = Deleted),
        (status = 404, description = "No such product (`product_not_found`)", body = Problem),
        (status = 409, description = "Still referenced (a foreign-key constraint name)", body = Problem),
    ))]
pub async fn delete_product(
    State(state): State<AppState>,
    Require(caller, ..): Require<CatalogWrite>,
    Path(id): Path<i64>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.delete_product($1)::text",
        &[&id],
    )
    .await
}

/// Adds a variant (with stock and prices) to a product.
#[utoipa::path(post, path = "/api/v1/admin/products/{id}/variants", tag = "catalog admin", request_body = NewVariant,
    params(("id" = i64, Path, description = "Product id")), security(("bearer" = ["catalog:write"])),
    responses(
        (status = 201, description = "The product (admin view)", body = ProductAdmin),
        (status = 404, description = "No such product (`product_not_found`)", body = Problem),
        (status = 409, description = "Codes: `product_variant_sku_key`, overlapping price windows", body = Problem),
        (status = 422, description = "`invalid_field` (details = the JSON path), `price_check`, `price_window_valid`, \
            `invalid_body`", body = Problem),
    ))]
pub async fn add_variant(
    State(state): State<AppState>,
    Require(caller, ..): Require<CatalogWrite>,
    Path(id): Path<i64>,
    Json(body): Json<Value>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.add_variant($1, $2)::text",
        &[&id, &body],
    )
    .await
    .map(JsonText::created)
}

/// Updates a variant and/or its stock (`{"stock": {"qty_on_hand": 12, "low_stock_threshold": 3}}`).
#[utoipa::path(patch, path = "/api/v1/admin/variants/{id}", tag = "catalog admin", request_body = VariantPatch,
    params(("id" = i64, Path, description = "Variant id")), security(("bearer" = ["catalog:write"])),
    responses(
        (status = 200, description = "The product (admin view)", body = ProductAdmin),
        (status = 404, description = "No such variant (`variant_not_found`)", body = Problem),
        (status = 409, description = "The SKU is taken (`product_variant_sku_key`)", body = Problem),
        (status = 422, description = "`invalid_field` (details = the JSON path), `inventory_reserved_within_on_hand` \
            (on hand below the units reserved), `invalid_body`", body = Problem),
    ))]
pub async fn update_variant(
    State(state): State<AppState>,
    Require(caller, ..): Require<CatalogWrite>,
    Path(id): Path<i64>,
    Json(body): Json<Value>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.update_variant($1, $2)::text",
        &[&id, &body],
    )
    .await
}

/// Deletes a variant.
#[utoipa::path(delete, path = "/api/v1/admin/variants/{id}", tag = "catalog admin",
    params(("id" = i64, Path, description = "Variant id")), security(("bearer" = ["catalog:write"])),
    responses(
        (status = 200, description = "The product (admin view)", body = ProductAdmin),
        (status = 404, description = "No such variant (`variant_not_found`)", body = Problem),
        (status = 409, description = "Still referenced (a foreign-key constraint name)", body = Problem),
    ))]
pub async fn delete_variant(
    State(state): State<AppState>,
    Require(caller, ..): Require<CatalogWrite>,
    Path(id): Path<i64>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.delete_variant($1)::text",
        &[&id],
    )
    .await
}

/// Adds a price window: `{product_id | variant_id, currency, amount, compare_at_amount?,
/// starts_at?, ends_at?}`; a window overlapping another of the same target and currency
/// is refused (409).
#[utoipa::path(post, path = "/api/v1/admin/prices", tag = "catalog admin", request_body = NewPrice, security(("bearer" = ["catalog:write"])),
    responses(
        (status = 201, description = "The product (admin view)", body = ProductAdmin),
        (status = 404, description = "No such product or variant (`product_not_found`)", body = Problem),
        (status = 409, description = "Overlapping window: `price_product_window_excl`, `price_variant_window_excl`", body = Problem),
        (status = 422, description = "`invalid_field` (details = the JSON path), `price_check` (compare-at not above the \
            amount), `price_window_valid` (start not before end), `invalid_body`", body = Problem),
    ))]
pub async fn add_price(
    State(state): State<AppState>,
    Require(caller, ..): Require<CatalogWrite>,
    Json(body): Json<Value>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.add_price($1)::text",
        &[&body],
    )
    .await
    .map(JsonText::created)
}

/// Changes a price window: `{amount?, compare_at_amount?, starts_at?, ends_at?}` (null
/// clears a bound); a window overlapping another is refused (409).
#[utoipa::path(patch, path = "/api/v1/admin/prices/{id}", tag = "catalog admin", request_body = PricePatch,
    params(("id" = i64, Path, description = "Price id")), security(("bearer" = ["catalog:write"])),
    responses(
        (status = 200, description = "The product (admin view)", body = ProductAdmin),
        (status = 404, description = "No such price (`price_not_found`)", body = Problem),
        (status = 409, description = "Overlapping window: `price_product_window_excl`, `price_variant_window_excl`", body = Problem),
        (status = 422, description = "`invalid_field`, `price_check`, `price_window_valid`, `invalid_body`", body = Problem),
    ))]
pub async fn update_price(
    State(state): State<AppState>,
    Require(caller, ..): Require<CatalogWrite>,
    Path(id): Path<i64>,
    Json(body): Json<Value>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.update_price($1, $2)::text",
        &[&id, &body],
    )
    .await
}

/// Deletes a price window.
#[utoipa::path(delete, path = "/api/v1/admin/prices/{id}", tag = "catalog admin",
    params(("id" = i64, Path, description = "Price id")), security(("bearer" = ["catalog:write"])),
    responses(
        (status = 200, description = "The product (admin view)", body = ProductAdmin),
        (status = 404, description = "No such price (`price_not_found`)", body = Problem),
    ))]
pub async fn delete_price(
    State(state): State<AppState>,
    Require(caller, ..): Require<CatalogWrite>,
    Path(id): Path<i64>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.delete_price($1)::text",
        &[&id],
    )
    .await
}

/// Creates a category: `{name, slug?, parent?, position?, description?}`.
#[utoipa::path(post, path = "/api/v1/admin/categories", tag = "catalog admin", request_body = NewCategory, security(("bearer" = ["catalog:write"])),
    responses(
        (status = 201, description = "The category", body = CategoryRow),
        (status = 409, description = "The slug is taken (`category_slug_key`)", body = Problem),
        (status = 422, description = "`invalid_field` (details = the JSON path), `invalid_body`", body = Problem),
    ))]
pub async fn create_category(
    State(state): State<AppState>,
    Require(caller, ..): Require<CatalogWrite>,
    Json(body): Json<Value>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.create_category($1)::text",
        &[&body],
    )
    .await
    .map(JsonText::created)
}

/// Updates or moves a category with its subtree (`{"parent": "slug"}`; a cycle is 422).
#[utoipa::path(patch, path = "/api/v1/admin/categories/{id}", tag = "catalog admin", request_body = CategoryPatch,
    params(("id" = i64, Path, description = "Category id")), security(("bearer" = ["catalog:write"])),
    responses(
        (status = 200, description = "The category", body = CategoryRow),
        (status = 404, description = "No such category (`category_not_found`)", body = Problem),
        (status = 409, description = "The slug is taken (`category_slug_key`)", body = Problem),
        (status = 422, description = "`invalid_field` (details = the JSON path), `category_no_cycle` (under its own \
            descendant), `category_not_own_parent`, `invalid_body`", body = Problem),
    ))]
pub async fn update_category(
    State(state): State<AppState>,
    Require(caller, ..): Require<CatalogWrite>,
    Path(id): Path<i64>,
    Json(body): Json<Value>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.update_category($1, $2)::text",
        &[&id, &body],
    )
    .await
}

/// Deletes a category without children.
#[utoipa::path(delete, path = "/api/v1/admin/categories/{id}", tag = "catalog admin",
    params(("id" = i64, Path, description = "Category id")), security(("bearer" = ["catalog:write"])),
    responses(
        (status = 200, description = "Deleted", body = Deleted),
        (status = 404, description = "No such category (`category_not_found`)", body = Problem),
        (status = 409, description = "It has children (`category_parent_id_fkey`)", body = Problem),
    ))]
pub async fn delete_category(
    State(state): State<AppState>,
    Require(caller, ..): Require<CatalogWrite>,
    Path(id): Path<i64>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.delete_category($1)::text",
        &[&id],
    )
    .await
}
