//! Shipping methods: what the shopper's cart may choose (`/api/v1/cart/shipping-methods`,
//! `/api/v1/cart/shipping-method`) and their administration (`pricing:write`, audited in
//! SQL: `sql/shipping.sql`). Rates per (country, currency) are administered with
//! `/api/v1/admin/shipping-rates` (`routes::pricing_settings`).

use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    caller::{Caller, PricingWrite, Require},
    db::Access,
    error::{ApiError, Problem},
    extract::{Json, Path},
    routes::{
        answer,
        cart::{CartQuote, CartSession, CartSessionHeader, ShippingKind},
        catalog_types::{Currency, Deleted, Timestamp},
        JsonText,
    },
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
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShippingOption {
    pub code: String,
    pub name: String,
    pub description: String,
    pub kind: ShippingKind,
    #[schema(required)]
    pub min_days: Option<i32>,
    #[schema(required)]
    pub max_days: Option<i32>,
    /// The method's rate for the destination, minor units.
    pub rate: i64,
    /// Free when the discounted merchandise reaches this.
    #[schema(required)]
    pub free_over: Option<i64>,
    /// What shipping costs this cart with this method (thresholds and promotions applied).
    pub price: i64,
    /// Tax on `price`.
    pub tax: i64,
    /// The cart's grand total with this method.
    pub grand_total: i64,
    #[schema(value_type = Currency)]
    pub currency: String,
    /// Whether the cart's quote uses this method now.
    pub selected: bool,
}

/// The methods offered to the cart's destination.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShippingOptions {
    /// The destination quoted (the cart's shipping country, else the store's default).
    #[schema(required)]
    pub country: Option<String>,
    #[schema(value_type = Currency)]
    pub currency: String,
    pub methods: Vec<ShippingOption>,
}

/// A rate of a method.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MethodRate {
    pub shipping_rate_id: i64,
    pub country: String,
    pub currency_code: String,
    pub amount: i64,
    #[schema(required)]
    pub free_over: Option<i64>,
}

/// A shipping method with its rates.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShippingMethod {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub description: String,
    pub kind: ShippingKind,
    #[schema(required)]
    pub min_days: Option<i32>,
    #[schema(required)]
    pub max_days: Option<i32>,
    pub position: i32,
    pub is_active: bool,
    #[schema(value_type = Timestamp)]
    pub created_at: String,
    #[schema(value_type = Timestamp)]
    pub updated_at: String,
    pub rates: Vec<MethodRate>,
}

/// A rate given with a new method.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMethodRate {
    #[schema(pattern = "^[A-Z]{2}$")]
    pub country: String,
    #[schema(value_type = Currency)]
    pub currency: String,
    #[schema(minimum = 0, maximum = 999999999999i64)]
    pub amount: i64,
    #[schema(minimum = 0, maximum = 999999999999i64)]
    pub free_over: Option<i64>,
}

/// Body of `POST /api/v1/admin/shipping-methods` (the handler passes it to SQL, which
/// checks each field and names the JSON path of a bad one).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "express", "name": "Express", "kind": "delivery", "min_days": 1, "max_days": 2,
                          "rates": [{"country": "SN", "currency": "XOF", "amount": 5000}]}))]
pub struct NewShippingMethod {
    /// Lower-case letters, digits and single dashes.
    #[schema(pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", max_length = 64)]
    pub code: String,
    #[schema(pattern = "[^ ]", max_length = 200)]
    pub name: String,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// Default `delivery`.
    #[schema(nullable = false)]
    pub kind: Option<ShippingKind>,
    /// At most `max_days` (else 422 `invalid_field`, details `$.max_days`).
    #[schema(minimum = 0, maximum = 365)]
    pub min_days: Option<i32>,
    #[schema(minimum = 0, maximum = 365)]
    pub max_days: Option<i32>,
    #[schema(nullable = false, minimum = -100000, maximum = 100000)]
    pub position: Option<i32>,
    #[schema(nullable = false)]
    pub is_active: Option<bool>,
    /// One per (country, currency): a repeated one is 409.
    #[schema(nullable = false)]
    pub rates: Option<Vec<NewMethodRate>>,
}

/// Body of `PATCH /api/v1/admin/shipping-methods/{id}`: the fields to change (rates are
/// changed through `/api/v1/admin/shipping-rates`).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShippingMethodPatch {
    #[schema(nullable = false, pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", max_length = 64)]
    pub code: Option<String>,
    #[schema(nullable = false, pattern = "[^ ]", max_length = 200)]
    pub name: Option<String>,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    #[schema(nullable = false)]
    pub kind: Option<ShippingKind>,
    #[schema(minimum = 0, maximum = 365)]
    pub min_days: Option<i32>,
    #[schema(minimum = 0, maximum = 365)]
    pub max_days: Option<i32>,
    #[schema(nullable = false, minimum = -100000, maximum = 100000)]
    pub position: Option<i32>,
    #[schema(nullable = false)]
    pub is_active: Option<bool>,
}

/// Body of `PUT /api/v1/cart/shipping-method`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "express"}))]
pub struct ChooseMethod {
    /// The method's code (`standard`, `express`, …).
    #[schema(max_length = 64)]
    pub code: String,
}

/// The shipping methods offered for the cart's destination and currency, each with its
/// price for this cart.
#[utoipa::path(get, path = "/api/v1/cart/shipping-methods", tag = "cart", params(CartSessionHeader),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Methods offered", body = ShippingOptions),
        (status = 400, description = "Bad `X-Cart-Session` (`invalid_cart_session`)", body = Problem),
        (status = 404, description = "No open cart (`cart_not_found`)", body = Problem),
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
    params(CartSessionHeader), security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The cart's quote", body = CartQuote),
        (status = 400, description = "Bad `X-Cart-Session` (`invalid_cart_session`) or malformed JSON", body = Problem),
        (status = 404, description = "No open cart (`cart_not_found`), or no active method with this code (`shipping_method_not_found`)", body = Problem),
        (status = 422, description = "Codes: `shipping_method_unavailable` (not offered to the cart's destination or currency), `invalid_body`", body = Problem),
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

/// Creates a method, optionally with its rates.
#[utoipa::path(post, path = "/api/v1/admin/shipping-methods", tag = "admin", request_body = NewShippingMethod,
    security(("bearer" = ["pricing:write"])),
    responses(
        (status = 201, description = "The method", body = ShippingMethod),
        (status = 409, description = "The code exists (`shipping_method_code_key`), or a rate repeats a destination (`shipping_rate_method_country_currency_key`)", body = Problem),
        (status = 422, description = "Codes: `invalid_field` (`details` is the JSON path), `invalid_body`", body = Problem),
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
#[utoipa::path(patch, path = "/api/v1/admin/shipping-methods/{id}", tag = "admin", request_body = ShippingMethodPatch,
    params(("id" = i64, Path, description = "Shipping method id")),
    security(("bearer" = ["pricing:write"])),
    responses(
        (status = 200, description = "The method", body = ShippingMethod),
        (status = 404, description = "No such method (`shipping_method_not_found`)", body = Problem),
        (status = 409, description = "The new code exists (`shipping_method_code_key`)", body = Problem),
        (status = 422, description = "Codes: `invalid_field` (`details` is the JSON path), `invalid_body`", body = Problem),
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
        (status = 404, description = "No such method (`shipping_method_not_found`)", body = Problem),
    ))]
pub async fn delete_method(
    State(state): State<AppState>,
    Require(caller, ..): Require<PricingWrite>,
    Path(id): Path<i64>,
) -> Result<JsonText, ApiError> {
    let sql = "select api.admin_delete_shipping_method($1)::text";
    answer(&state, &caller, Access::ReadWrite, sql, &[&id]).await
}
