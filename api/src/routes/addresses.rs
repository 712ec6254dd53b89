//! The signed-in customer's address book, and the per-country address rules clients
//! build their forms from. Validation and normalisation (postal codes, E.164 phones) are
//! in SQL (`sql/addresses.sql`): a bad field is a 422 whose `details` is its JSON path.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    caller::{Caller, Require, SignedIn},
    db::Access,
    error::{ApiError, Problem},
    extract::{Json, Path},
    routes::{
        answer,
        catalog_types::{Deleted, Timestamp},
        JsonText,
    },
    AppState,
};

/// `/api/v1/users/me/addresses…` and `/api/v1/address-formats`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_addresses, create_address))
        .routes(routes!(update_address, delete_address))
        .routes(routes!(address_formats))
}

/// What an address serves.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AddressKind {
    Shipping,
    Billing,
    Both,
}

/// An address of the address book as a client gives it (checkout's inline address is
/// `InlineAddress`). Which fields are required and what a postal code, region or phone
/// must look like depend on the country (`GET /api/v1/address-formats`): a field
/// breaking its country's rules is 422 `invalid_field` naming its JSON path. Null is the
/// same as absent.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"full_name": "Awa Diop", "line1": "12 rue Carnot", "city": "Dakar", "country": "SN",
                          "phone": "77 123 45 67"}))]
pub struct AddressInput {
    /// Default `both`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<AddressKind>,
    /// Required (1 to 200 characters once spaces are collapsed).
    #[schema(max_length = 200)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    #[schema(max_length = 200)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    /// Required.
    #[schema(max_length = 200)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line1: Option<String>,
    #[schema(max_length = 200)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    #[schema(max_length = 100)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// State, province or region (a two-letter code in the US and Canada).
    #[schema(max_length = 100)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[schema(max_length = 16)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// Required: ISO 3166 alpha-2, one of the countries of `GET /api/v1/address-formats`.
    #[schema(pattern = "^[A-Za-z]{2}$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Any common spelling (spaces, dashes, dots, a leading `+` or `00`); stored in E.164.
    #[schema(max_length = 32)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Make it the default for its kind(s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_default: Option<bool>,
}

/// An address given inline at checkout (a guest's, or a customer's not kept in the
/// book): `AddressInput` without the address book's `kind` and `is_default`, which
/// are refused here (422 `invalid_body`). Its own type so that the OpenAPI document
/// says so: serde's `flatten` cannot share the fields with `deny_unknown_fields`.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"full_name": "Awa Diop", "line1": "12 rue Carnot", "city": "Dakar", "country": "SN",
                          "phone": "77 123 45 67"}))]
pub struct InlineAddress {
    /// Required (1 to 200 characters once spaces are collapsed).
    #[schema(max_length = 200)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    #[schema(max_length = 200)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    /// Required.
    #[schema(max_length = 200)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line1: Option<String>,
    #[schema(max_length = 200)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    #[schema(max_length = 100)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// State, province or region (a two-letter code in the US and Canada).
    #[schema(max_length = 100)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[schema(max_length = 16)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// Required: ISO 3166 alpha-2, one of the countries of `GET /api/v1/address-formats`.
    #[schema(pattern = "^[A-Za-z]{2}$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Any common spelling (spaces, dashes, dots, a leading `+` or `00`); stored in E.164.
    #[schema(max_length = 32)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// An address of the address book.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub id: i64,
    pub kind: AddressKind,
    pub full_name: String,
    pub company: String,
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    #[schema(pattern = "^[A-Z]{2}$")]
    pub country: String,
    /// E.164, or empty.
    pub phone: String,
    pub is_default_shipping: bool,
    pub is_default_billing: bool,
    #[schema(value_type = Timestamp)]
    pub created_at: String,
    #[schema(value_type = Timestamp)]
    pub updated_at: String,
}

/// The address rules of a country.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressFormat {
    #[schema(pattern = "^[A-Z]{2}$")]
    pub country: String,
    pub name: String,
    /// Among `line1`, `city`, `region`, `postal_code`, `phone` (`full_name` always).
    pub required_fields: Vec<String>,
    /// A regular expression the upper-cased postal code must match.
    #[schema(required)]
    pub postal_code_pattern: Option<String>,
    #[schema(required)]
    pub postal_code_example: Option<String>,
    #[schema(required)]
    pub region_pattern: Option<String>,
    /// The country calling code, e.g. `+229`.
    pub phone_code: String,
}

/// The signed-in customer's addresses, defaults first.
#[utoipa::path(get, path = "/api/v1/users/me/addresses", tag = "users", security(("bearer" = [])),
    responses((status = 200, description = "Addresses", body = Vec<Address>)))]
pub async fn list_addresses(
    State(state): State<AppState>,
    Require(caller, ..): Require<SignedIn>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.my_addresses()::text",
        &[],
    )
    .await
}

/// Adds an address; the first of its kind becomes the default.
#[utoipa::path(post, path = "/api/v1/users/me/addresses", tag = "users", security(("bearer" = [])),
    request_body = AddressInput,
    responses(
        (status = 201, description = "The address, normalised", body = Address),
        (status = 422, description = "Codes: `invalid_field` (a field breaks its country's rules; `details` is the JSON path), `address_limit_reached`, `invalid_body`", body = Problem),
    ))]
pub async fn create_address(
    State(state): State<AppState>,
    Require(caller, ..): Require<SignedIn>,
    Json(address): Json<AddressInput>,
) -> Result<JsonText, ApiError> {
    let address = serde_json::to_value(&address).map_err(|e| ApiError::internal(e.to_string()))?;
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.create_address($1)::text",
        &[&address],
    )
    .await
    .map(JsonText::created)
}

/// Changes an address (validated whole: a new country brings its own rules).
#[utoipa::path(patch, path = "/api/v1/users/me/addresses/{id}", tag = "users", security(("bearer" = [])),
    request_body = AddressInput,
    params(("id" = i64, Path, description = "Address id")),
    responses(
        (status = 200, description = "The address", body = Address),
        (status = 404, description = "Not an address of the caller (`address_not_found`)", body = Problem),
        (status = 422, description = "Codes: `invalid_field` (a field breaks its country's rules; `details` is the JSON path), `invalid_body`", body = Problem),
    ))]
pub async fn update_address(
    State(state): State<AppState>,
    Require(caller, ..): Require<SignedIn>,
    Path(id): Path<i64>,
    Json(patch): Json<AddressInput>,
) -> Result<JsonText, ApiError> {
    let patch = serde_json::to_value(&patch).map_err(|e| ApiError::internal(e.to_string()))?;
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.update_address($1, $2)::text",
        &[&id, &patch],
    )
    .await
}

/// Deletes an address (a default passes to the newest other address of its kind).
#[utoipa::path(delete, path = "/api/v1/users/me/addresses/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Address id")),
    responses(
        (status = 200, description = "Deleted", body = Deleted),
        (status = 404, description = "Not an address of the caller (`address_not_found`)", body = Problem),
    ))]
pub async fn delete_address(
    State(state): State<AppState>,
    Require(caller, ..): Require<SignedIn>,
    Path(id): Path<i64>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.delete_address($1)::text",
        &[&id],
    )
    .await
}

/// The address rules of every country the store delivers to.
#[utoipa::path(get, path = "/api/v1/address-formats", tag = "users", security((), ("bearer" = [])),
    responses((status = 200, description = "Address rules per country", body = Vec<AddressFormat>)))]
pub async fn address_formats(State(state): State<AppState>, caller: Caller) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.address_formats()::text",
        &[],
    )
    .await
}
