//! Shipping methods: what the shopper's cart may choose (`/api/v1/cart/shipping-methods`,
//! `/api/v1/cart/shipping-method`) and their administration (`pricing:write`, audited in
//! SQL: `sql/shipping.sql`). Rates per (country, currency) are administered with
//! `/api/v1/admin/shipping-rates` (`routes::pricing_settings`).

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    caller::{Caller, PricingWrite, Require},
    db::Access,
    error::{ApiError, Problem},
    extract::Json,
    routes::{addresses::Deleted, answer, cart::CartSession, quote_types::Quote, JsonText},
    AppState,
};

/// `/api/v1/cart/shipping-method(s)` and `/api/v1/admin/shipping-methods…`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(cart_shipping_methods))
        .routes(routes!(choose_shipping_method))
        .routes(routes!(list_methods, create_method))
        .routes(routes!(update_method, delete_method))
}

/// A method offered to the cart, priced for it.
#[derive(Serialize, ToSchema)]
pub struct ShippingOption {
    pub code: String,
    pub name: String,
    pub description: String,
    /// `delivery` or `pickup`.
    pub kind: String,
    pub min_days: Option<i32>,
    pub max_days: Option<i32>,
    /// The method's rate for the destination, minor units.
    pub rate: i64,
    /// Free when the discounted merchandise reaches this.
    pub free_over: Option<i64>,
    /// What shipping costs this cart with this method (thresholds and promotions applied).
    pub price: i64,
    /// Tax on `price`.
    pub tax: i64,
    /// The cart's grand total with this method.
    pub grand_total: i64,
    pub currency: String,
    /// Whether the cart's quote uses this method now.
    pub selected: bool,
}

/// The methods offered to the cart's destination.
#[derive(Serialize, ToSchema)]
pub struct ShippingOptions {
    /// The destination quoted (the cart's shipping country, else the store's default).
    pub country: Option<String>,
    pub currency: String,
    pub methods: Vec<ShippingOption>,
}

/// A rate of a method.
#[derive(Serialize, ToSchema)]
pub struct MethodRate {
    pub shipping_rate_id: i64,
    pub country: String,
    pub currency_code: String,
    pub amount: i64,
    pub free_over: Option<i64>,
}

/// A shipping method with its rates.
#[derive(Serialize, ToSchema)]
pub struct ShippingMethod {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub description: String,
    pub kind: String,
    pub min_days: Option<i32>,
    pub max_days: Option<i32>,
    pub position: i32,
    pub is_active: bool,
    pub created_at: String,
    pub updated_at: String,
    pub rates: Vec<MethodRate>,
}

/// Body of `PUT /api/v1/cart/shipping-method`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChooseMethod {
    /// The method's code (`standard`, `express`, …).
    pub code: String,
}

/// The shipping methods offered for the cart's destination and currency, each with its
/// price for this cart.
#[utoipa::path(get, path = "/api/v1/cart/shipping-methods", tag = "cart",
    responses(
        (status = 200, description = "Methods offered", body = ShippingOptions),
        (status = 404, description = "No open cart", body = Problem),
    ))]
pub async fn cart_shipping_methods(
    State(state): State<AppState>,
    caller: Caller,
    CartSession(session): CartSession,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.cart_shipping_methods($1)::text",
        &[&session],
    )
    .await
}

/// Chooses the cart's shipping method; answers the quote.
#[utoipa::path(put, path = "/api/v1/cart/shipping-method", tag = "cart", request_body = ChooseMethod,
    responses(
        (status = 200, description = "The cart's quote", body = Quote),
        (status = 404, description = "No open cart, or no active method with this code", body = Problem),
        (status = 422, description = "The method is not offered to the cart's destination or currency", body = Problem),
    ))]
pub async fn choose_shipping_method(
    State(state): State<AppState>,
    caller: Caller,
    CartSession(session): CartSession,
    Json(body): Json<ChooseMethod>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.cart_set_shipping_method($1, $2)::text",
        &[&body.code, &session],
    )
    .await
}

type Object = serde_json::Map<String, serde_json::Value>;

/// Every shipping method with its rates.
#[utoipa::path(get, path = "/api/v1/admin/shipping-methods", tag = "admin", security(("bearer" = ["pricing:write"])),
    responses((status = 200, description = "Shipping methods", body = Vec<ShippingMethod>)))]
pub async fn list_methods(
    State(state): State<AppState>,
    Require(caller, ..): Require<PricingWrite>,
) -> Result<JsonText, ApiError> {
    let sql = "select api.admin_list_shipping_methods()::text";
    answer(&state, &caller, Access::ReadOnly, sql, &[]).await
}

/// Creates a method: `{"code", "name", "description", "kind": "delivery"|"pickup",
/// "min_days", "max_days", "position", "is_active", "rates": [{"country", "currency",
/// "amount", "free_over"}]}`.
#[utoipa::path(post, path = "/api/v1/admin/shipping-methods", tag = "admin", request_body = serde_json::Value,
    security(("bearer" = ["pricing:write"])),
    responses(
        (status = 201, description = "The method", body = ShippingMethod),
        (status = 409, description = "The code exists, or a rate repeats a destination", body = Problem),
        (status = 422, description = "Invalid field (`details` is the JSON path)", body = Problem),
    ))]
pub async fn create_method(
    State(state): State<AppState>,
    Require(caller, ..): Require<PricingWrite>,
    Json(method): Json<Object>,
) -> Result<JsonText, ApiError> {
    let method = serde_json::Value::Object(method);
    let sql = "select api.admin_create_shipping_method($1)::text";
    answer(&state, &caller, Access::ReadWrite, sql, &[&method])
        .await
        .map(JsonText::created)
}

/// Changes a method (not its rates).
#[utoipa::path(patch, path = "/api/v1/admin/shipping-methods/{id}", tag = "admin", request_body = serde_json::Value,
    params(("id" = i64, Path, description = "Shipping method id")),
    security(("bearer" = ["pricing:write"])),
    responses(
        (status = 200, description = "The method", body = ShippingMethod),
        (status = 404, description = "No such method", body = Problem),
        (status = 409, description = "The new code exists", body = Problem),
        (status = 422, description = "Invalid field (`details` is the JSON path)", body = Problem),
    ))]
pub async fn update_method(
    State(state): State<AppState>,
    Require(caller, ..): Require<PricingWrite>,
    Path(id): Path<i64>,
    Json(patch): Json<Object>,
) -> Result<JsonText, ApiError> {
    let patch = serde_json::Value::Object(patch);
    let sql = "select api.admin_update_shipping_method($1, $2)::text";
    answer(&state, &caller, Access::ReadWrite, sql, &[&id, &patch]).await
}

/// Deletes a method and its rates (orders keep their copy).
#[utoipa::path(delete, path = "/api/v1/admin/shipping-methods/{id}", tag = "admin",
    params(("id" = i64, Path, description = "Shipping method id")),
    security(("bearer" = ["pricing:write"])),
    responses(
        (status = 200, description = "Deleted", body = Deleted),
        (status = 404, description = "No such method", body = Problem),
    ))]
pub async fn delete_method(
    State(state): State<AppState>,
    Require(caller, ..): Require<PricingWrite>,
    Path(id): Path<i64>,
) -> Result<JsonText, ApiError> {
    let sql = "select api.admin_delete_shipping_method($1)::text";
    answer(&state, &caller, Access::ReadWrite, sql, &[&id]).await
}
