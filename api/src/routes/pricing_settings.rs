//! Tax rates, shipping rates and the per-currency store price settings
//! (`pricing:write`, audited in SQL: `sql/pricing_settings.sql`). Amounts are minor
//! units, tax rates basis points (2000 = 20 %); a bad field is a 422 whose `details` is
//! its JSON path.

use axum::extract::State;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    caller::{PricingWrite, Require},
    db::Access,
    error::{ApiError, Problem},
    extract::{Json, Path},
    routes::catalog_types::{Currency, Deleted},
    routes::pricing_types::*,
    routes::{answer, JsonText},
    AppState,
};

/// `/api/v1/admin/tax-rates…`, `/api/v1/admin/shipping-rates…`, `/api/v1/admin/store-settings…`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tax_rates, create_tax_rate))
        .routes(routes!(update_tax_rate, delete_tax_rate))
        .routes(routes!(list_shipping_rates, create_shipping_rate))
        .routes(routes!(update_shipping_rate, delete_shipping_rate))
        .routes(routes!(list_store_settings))
        .routes(routes!(set_store_setting))
}

type Object = serde_json::Map<String, serde_json::Value>;

/// Every tax rate, countries' standard rates first.
#[utoipa::path(get, path = "/api/v1/admin/tax-rates", tag = "admin", security(("bearer" = ["pricing:write"])),
    responses((status = 200, description = "Tax rates, countries' standard rates first", body = Vec<TaxRateRow>)))]
pub async fn list_tax_rates(
    State(state): State<AppState>,
    Require(caller, ..): Require<PricingWrite>,
) -> Result<JsonText, ApiError> {
    let sql = "select api.admin_list_tax_rates()::text";
    answer(&state, &caller, Access::ReadOnly, sql, &[]).await
}

/// Creates a tax rate: `{"country", "rate_bp", "category_id", "name"}` (no category: the
/// country's standard rate; a category rate applies to its descendants too).
#[utoipa::path(post, path = "/api/v1/admin/tax-rates", tag = "admin", request_body = NewTaxRate, security(("bearer" = ["pricing:write"])),
    responses(
        (status = 201, description = "The tax rate", body = TaxRateRow),
        (status = 409, description = "The country (and category) has a rate (`tax_rate_country_category_key`)", body = Problem),
        (status = 422, description = "`invalid_field` (details = the JSON path), `invalid_body`", body = Problem),
    ))]
pub async fn create_tax_rate(
    State(state): State<AppState>,
    Require(caller, ..): Require<PricingWrite>,
    Json(rate): Json<Object>,
) -> Result<JsonText, ApiError> {
    let rate = serde_json::Value::Object(rate);
    let sql = "select api.admin_create_tax_rate($1)::text";
    answer(&state, &caller, Access::ReadWrite, sql, &[&rate])
        .await
        .map(JsonText::created)
}

/// Changes fields of a tax rate.
#[utoipa::path(patch, path = "/api/v1/admin/tax-rates/{id}", tag = "admin", request_body = TaxRatePatch,
    params(("id" = i64, Path, description = "Tax rate id")), security(("bearer" = ["pricing:write"])),
    responses(
        (status = 200, description = "The tax rate", body = TaxRateRow),
        (status = 404, description = "No such tax rate (`tax_rate_not_found`)", body = Problem),
        (status = 409, description = "The country (and category) has a rate (`tax_rate_country_category_key`)", body = Problem),
        (status = 422, description = "`invalid_field` (details = the JSON path), `invalid_body`", body = Problem),
    ))]
pub async fn update_tax_rate(
    State(state): State<AppState>,
    Require(caller, ..): Require<PricingWrite>,
    Path(id): Path<i64>,
    Json(patch): Json<Object>,
) -> Result<JsonText, ApiError> {
    let patch = serde_json::Value::Object(patch);
    let sql = "select api.admin_update_tax_rate($1, $2)::text";
    answer(&state, &caller, Access::ReadWrite, sql, &[&id, &patch]).await
}

/// Deletes a tax rate.
#[utoipa::path(delete, path = "/api/v1/admin/tax-rates/{id}", tag = "admin",
    params(("id" = i64, Path, description = "Tax rate id")), security(("bearer" = ["pricing:write"])),
    responses(
        (status = 200, description = "Deleted", body = Deleted),
        (status = 404, description = "No such tax rate (`tax_rate_not_found`)", body = Problem),
    ))]
pub async fn delete_tax_rate(
    State(state): State<AppState>,
    Require(caller, ..): Require<PricingWrite>,
    Path(id): Path<i64>,
) -> Result<JsonText, ApiError> {
    let sql = "select api.admin_delete_tax_rate($1)::text";
    answer(&state, &caller, Access::ReadWrite, sql, &[&id]).await
}

/// Every shipping rate.
#[utoipa::path(get, path = "/api/v1/admin/shipping-rates", tag = "admin", security(("bearer" = ["pricing:write"])),
    responses((status = 200, description = "Shipping rates", body = Vec<ShippingRateRow>)))]
pub async fn list_shipping_rates(
    State(state): State<AppState>,
    Require(caller, ..): Require<PricingWrite>,
) -> Result<JsonText, ApiError> {
    let sql = "select api.admin_list_shipping_rates()::text";
    answer(&state, &caller, Access::ReadOnly, sql, &[]).await
}

/// Creates a shipping method's rate: `{"shipping_method", "country", "currency",
/// "amount", "free_over"}` (without `shipping_method`: the `standard` method's; methods
/// are at `/api/v1/admin/shipping-methods`).
#[utoipa::path(post, path = "/api/v1/admin/shipping-rates", tag = "admin", request_body = NewShippingRate, security(("bearer" = ["pricing:write"])),
    responses(
        (status = 201, description = "The shipping rate", body = ShippingRateRow),
        (status = 409, description = "The method has a rate for this country and currency (`shipping_rate_method_country_currency_key`)", body = Problem),
        (status = 422, description = "`invalid_field` (details = the JSON path), `invalid_body`", body = Problem),
    ))]
pub async fn create_shipping_rate(
    State(state): State<AppState>,
    Require(caller, ..): Require<PricingWrite>,
    Json(rate): Json<Object>,
) -> Result<JsonText, ApiError> {
    let rate = serde_json::Value::Object(rate);
    let sql = "select api.admin_create_shipping_rate($1)::text";
    answer(&state, &caller, Access::ReadWrite, sql, &[&rate])
        .await
        .map(JsonText::created)
}

/// Changes fields of a shipping rate (`free_over: null` removes the free threshold).
#[utoipa::path(patch, path = "/api/v1/admin/shipping-rates/{id}", tag = "admin", request_body = ShippingRatePatch,
    params(("id" = i64, Path, description = "Shipping rate id")), security(("bearer" = ["pricing:write"])),
    responses(
        (status = 200, description = "The shipping rate", body = ShippingRateRow),
        (status = 404, description = "No such shipping rate (`shipping_rate_not_found`)", body = Problem),
        (status = 409, description = "The method has a rate for this country and currency (`shipping_rate_method_country_currency_key`)", body = Problem),
        (status = 422, description = "`invalid_field` (details = the JSON path), `invalid_body`", body = Problem),
    ))]
pub async fn update_shipping_rate(
    State(state): State<AppState>,
    Require(caller, ..): Require<PricingWrite>,
    Path(id): Path<i64>,
    Json(patch): Json<Object>,
) -> Result<JsonText, ApiError> {
    let patch = serde_json::Value::Object(patch);
    let sql = "select api.admin_update_shipping_rate($1, $2)::text";
    answer(&state, &caller, Access::ReadWrite, sql, &[&id, &patch]).await
}

/// Deletes a shipping rate.
#[utoipa::path(delete, path = "/api/v1/admin/shipping-rates/{id}", tag = "admin",
    params(("id" = i64, Path, description = "Shipping rate id")), security(("bearer" = ["pricing:write"])),
    responses(
        (status = 200, description = "Deleted", body = Deleted),
        (status = 404, description = "No such shipping rate (`shipping_rate_not_found`)", body = Problem),
    ))]
pub async fn delete_shipping_rate(
    State(state): State<AppState>,
    Require(caller, ..): Require<PricingWrite>,
    Path(id): Path<i64>,
) -> Result<JsonText, ApiError> {
    let sql = "select api.admin_delete_shipping_rate($1)::text";
    answer(&state, &caller, Access::ReadWrite, sql, &[&id]).await
}

/// The price settings of every currency.
#[utoipa::path(get, path = "/api/v1/admin/store-settings", tag = "admin", security(("bearer" = ["pricing:write"])),
    responses((status = 200, description = "The settings of every currency that has some", body = Vec<StoreSettingRow>)))]
pub async fn list_store_settings(
    State(state): State<AppState>,
    Require(caller, ..): Require<PricingWrite>,
) -> Result<JsonText, ApiError> {
    let sql = "select api.admin_list_store_settings()::text";
    answer(&state, &caller, Access::ReadOnly, sql, &[]).await
}

/// Sets a currency's price settings: `{"prices_include_tax", "default_country"}`; absent
/// keys keep their value (a currency without settings needs `default_country`).
#[utoipa::path(put, path = "/api/v1/admin/store-settings/{currency}", tag = "admin", request_body = StoreSettingFields,
    params(("currency" = Currency, Path, description = "ISO 4217 code (case-insensitive)")), security(("bearer" = ["pricing:write"])),
    responses(
        (status = 200, description = "The currency's settings", body = StoreSettingRow),
        (status = 404, description = "No such currency (`currency_not_found`)", body = Problem),
        (status = 422, description = "`invalid_field` (details = the JSON path), `invalid_body`", body = Problem),
    ))]
pub async fn set_store_setting(
    State(state): State<AppState>,
    Require(caller, ..): Require<PricingWrite>,
    Path(currency): Path<String>,
    Json(setting): Json<Object>,
) -> Result<JsonText, ApiError> {
    let setting = serde_json::Value::Object(setting);
    let sql = "select api.admin_set_store_setting($1, $2)::text";
    answer(&state, &caller, Access::ReadWrite, sql, &[&currency, &setting]).await
}
