//! Volume tiers, customer groups and their price lists (`pricing:write`, audited in
//! SQL: `sql/price_lists.sql`). A price list is the set of tiers naming a customer
//! group; a line pays the lowest tier it qualifies for when below the base price.

use axum::extract::State;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    caller::{PricingWrite, Require},
    db::Access,
    error::{ApiError, Problem},
    extract::{Json, Path},
    routes::catalog_types::Deleted,
    routes::pricing_types::*,
    routes::{answer, JsonText},
    AppState,
};

/// `/api/v1/admin/variants/{id}/price-tiers`, `/api/v1/admin/price-tiers/{id}`,
/// `/api/v1/admin/customer-groups…`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_price_tiers, create_price_tier))
        .routes(routes!(update_price_tier, delete_price_tier))
        .routes(routes!(list_customer_groups, create_customer_group))
        .routes(routes!(update_customer_group, delete_customer_group))
        .routes(routes!(add_member, remove_member))
}

type Object = serde_json::Map<String, serde_json::Value>;

/// The tiers and customer-group prices of a variant.
#[utoipa::path(get, path = "/api/v1/admin/variants/{id}/price-tiers", tag = "admin",
    params(("id" = i64, Path, description = "Variant id")), security(("bearer" = ["pricing:write"])),
    responses(
        (status = 200, description = "The variant's tiers", body = Vec<PriceTierRow>),
        (status = 404, description = "No such variant (`variant_not_found`)", body = Problem),
    ))]
pub async fn list_price_tiers(
    State(state): State<AppState>,
    Require(caller, ..): Require<PricingWrite>,
    Path(id): Path<i64>,
) -> Result<JsonText, ApiError> {
    let sql = "select api.admin_list_price_tiers($1)::text";
    answer(&state, &caller, Access::ReadOnly, sql, &[&id]).await
}

/// Adds a tier: `{"currency", "amount", "min_quantity" (default 1), "customer_group" (a code; absent: everyone)}`.
#[utoipa::path(post, path = "/api/v1/admin/variants/{id}/price-tiers", tag = "admin", request_body = NewPriceTier,
    params(("id" = i64, Path, description = "Variant id")), security(("bearer" = ["pricing:write"])),
    responses(
        (status = 201, description = "The tier", body = PriceTierRow),
        (status = 404, description = "No such variant (`variant_not_found`)", body = Problem),
        (status = 409, description = "The same tier exists (`price_tier_key`)", body = Problem),
        (status = 422, description = "`invalid_field` (details = the JSON path), `invalid_body`", body = Problem),
    ))]
pub async fn create_price_tier(
    State(state): State<AppState>,
    Require(caller, ..): Require<PricingWrite>,
    Path(id): Path<i64>,
    Json(tier): Json<Object>,
) -> Result<JsonText, ApiError> {
    let tier = serde_json::Value::Object(tier);
    let sql = "select api.admin_create_price_tier($1, $2)::text";
    answer(&state, &caller, Access::ReadWrite, sql, &[&id, &tier])
        .await
        .map(JsonText::created)
}

/// Changes fields of a tier.
#[utoipa::path(patch, path = "/api/v1/admin/price-tiers/{id}", tag = "admin", request_body = PriceTierPatch,
    params(("id" = i64, Path, description = "Price tier id")), security(("bearer" = ["pricing:write"])),
    responses(
        (status = 200, description = "The tier", body = PriceTierRow),
        (status = 404, description = "No such tier (`price_tier_not_found`)", body = Problem),
        (status = 409, description = "The same tier exists (`price_tier_key`)", body = Problem),
        (status = 422, description = "`invalid_field` (details = the JSON path), `invalid_body`", body = Problem),
    ))]
pub async fn update_price_tier(
    State(state): State<AppState>,
    Require(caller, ..): Require<PricingWrite>,
    Path(id): Path<i64>,
    Json(patch): Json<Object>,
) -> Result<JsonText, ApiError> {
    let patch = serde_json::Value::Object(patch);
    let sql = "select api.admin_update_price_tier($1, $2)::text";
    answer(&state, &caller, Access::ReadWrite, sql, &[&id, &patch]).await
}

/// Deletes a tier.
#[utoipa::path(delete, path = "/api/v1/admin/price-tiers/{id}", tag = "admin",
    params(("id" = i64, Path, description = "Price tier id")), security(("bearer" = ["pricing:write"])),
    responses(
        (status = 200, description = "Deleted", body = Deleted),
        (status = 404, description = "No such tier (`price_tier_not_found`)", body = Problem),
    ))]
pub async fn delete_price_tier(
    State(state): State<AppState>,
    Require(caller, ..): Require<PricingWrite>,
    Path(id): Path<i64>,
) -> Result<JsonText, ApiError> {
    let sql = "select api.admin_delete_price_tier($1)::text";
    answer(&state, &caller, Access::ReadWrite, sql, &[&id]).await
}

/// Every customer group with its member count.
#[utoipa::path(get, path = "/api/v1/admin/customer-groups", tag = "admin", security(("bearer" = ["pricing:write"])),
    responses((status = 200, description = "Customer groups with their member counts", body = Vec<CustomerGroupRow>)))]
pub async fn list_customer_groups(
    State(state): State<AppState>,
    Require(caller, ..): Require<PricingWrite>,
) -> Result<JsonText, ApiError> {
    let sql = "select api.admin_list_customer_groups()::text";
    answer(&state, &caller, Access::ReadOnly, sql, &[]).await
}

/// Creates a customer group: `{"code", "name"}` (promotions and tiers name it by code).
#[utoipa::path(post, path = "/api/v1/admin/customer-groups", tag = "admin", request_body = NewCustomerGroup, security(("bearer" = ["pricing:write"])),
    responses(
        (status = 201, description = "The group", body = CustomerGroupRow),
        (status = 409, description = "The code exists (`customer_group_code_key`)", body = Problem),
        (status = 422, description = "`invalid_field` (details = the JSON path), `invalid_body`", body = Problem),
    ))]
pub async fn create_customer_group(
    State(state): State<AppState>,
    Require(caller, ..): Require<PricingWrite>,
    Json(group): Json<Object>,
) -> Result<JsonText, ApiError> {
    let group = serde_json::Value::Object(group);
    let sql = "select api.admin_create_customer_group($1)::text";
    answer(&state, &caller, Access::ReadWrite, sql, &[&group])
        .await
        .map(JsonText::created)
}

/// Changes a group's code or name.
#[utoipa::path(patch, path = "/api/v1/admin/customer-groups/{id}", tag = "admin", request_body = CustomerGroupPatch,
    params(("id" = i64, Path, description = "Customer group id")), security(("bearer" = ["pricing:write"])),
    responses(
        (status = 200, description = "The group", body = CustomerGroupRow),
        (status = 404, description = "No such group (`customer_group_not_found`)", body = Problem),
        (status = 409, description = "The code exists (`customer_group_code_key`)", body = Problem),
        (status = 422, description = "`invalid_field` (details = the JSON path), `invalid_body`", body = Problem),
    ))]
pub async fn update_customer_group(
    State(state): State<AppState>,
    Require(caller, ..): Require<PricingWrite>,
    Path(id): Path<i64>,
    Json(patch): Json<Object>,
) -> Result<JsonText, ApiError> {
    let patch = serde_json::Value::Object(patch);
    let sql = "select api.admin_update_customer_group($1, $2)::text";
    answer(&state, &caller, Access::ReadWrite, sql, &[&id, &patch]).await
}

/// Deletes a group, its memberships and its price list.
#[utoipa::path(delete, path = "/api/v1/admin/customer-groups/{id}", tag = "admin",
    params(("id" = i64, Path, description = "Customer group id")), security(("bearer" = ["pricing:write"])),
    responses(
        (status = 200, description = "Deleted (with its memberships and price list)", body = Deleted),
        (status = 404, description = "No such group (`customer_group_not_found`)", body = Problem),
    ))]
pub async fn delete_customer_group(
    State(state): State<AppState>,
    Require(caller, ..): Require<PricingWrite>,
    Path(id): Path<i64>,
) -> Result<JsonText, ApiError> {
    let sql = "select api.admin_delete_customer_group($1)::text";
    answer(&state, &caller, Access::ReadWrite, sql, &[&id]).await
}

/// Adds a user to a group (idempotent).
#[utoipa::path(put, path = "/api/v1/admin/customer-groups/{id}/members/{user_id}", tag = "admin",
    params(("id" = i64, Path, description = "Customer group id"), ("user_id" = Uuid, Path, description = "User id")),
    security(("bearer" = ["pricing:write"])),
    responses(
        (status = 200, description = "The group", body = CustomerGroupRow),
        (status = 404, description = "Codes: `customer_group_not_found`, `user_not_found`", body = Problem),
    ))]
pub async fn add_member(
    State(state): State<AppState>,
    Require(caller, ..): Require<PricingWrite>,
    Path((id, user_id)): Path<(i64, Uuid)>,
) -> Result<JsonText, ApiError> {
    let sql = "select api.admin_add_customer_group_member($1, $2)::text";
    answer(&state, &caller, Access::ReadWrite, sql, &[&id, &user_id]).await
}

/// Removes a user from a group.
#[utoipa::path(delete, path = "/api/v1/admin/customer-groups/{id}/members/{user_id}", tag = "admin",
    params(("id" = i64, Path, description = "Customer group id"), ("user_id" = Uuid, Path, description = "User id")),
    security(("bearer" = ["pricing:write"])),
    responses(
        (status = 200, description = "The group", body = CustomerGroupRow),
        (status = 404, description = "Codes: `customer_group_not_found`, `customer_group_member_not_found`", body = Problem),
    ))]
pub async fn remove_member(
    State(state): State<AppState>,
    Require(caller, ..): Require<PricingWrite>,
    Path((id, user_id)): Path<(i64, Uuid)>,
) -> Result<JsonText, ApiError> {
    let sql = "select api.admin_remove_customer_group_member($1, $2)::text";
    answer(&state, &caller, Access::ReadWrite, sql, &[&id, &user_id]).await
}
