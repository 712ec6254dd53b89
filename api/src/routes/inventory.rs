//! Stock administration: a variant's stock per location with its latest movements
//! (`catalog:read`), stock adjustments — receipts, returns, counts, losses — each a
//! ledger movement (`catalog:write`, audited), and stock locations. The rules and the
//! ledger are in SQL (`sql/inventory.sql`).

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    caller::{CatalogRead, CatalogWrite, Require},
    db::Access,
    error::{ApiError, Problem},
    extract::Json,
    routes::{answer, JsonText},
    AppState,
};

/// `/api/v1/admin/variants/{id}/stock…` and `/api/v1/admin/stock-locations…`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(variant_stock))
        .routes(routes!(adjust_stock))
        .routes(routes!(list_locations, create_location))
        .routes(routes!(update_location))
}

/// A variant's stock at one location.
#[derive(Serialize, ToSchema)]
pub struct StockLevel {
    pub location: String,
    pub name: String,
    pub priority: i32,
    pub is_active: bool,
    pub qty_on_hand: i32,
    pub qty_reserved: i32,
    pub available: i32,
}

/// A row of the stock ledger.
#[derive(Serialize, ToSchema)]
pub struct StockMovement {
    pub id: i64,
    pub at: String,
    /// `receipt`, `adjustment`, `sale`, `reservation`, `release`, `return`, `cancellation`.
    pub kind: String,
    pub location: String,
    pub on_hand_delta: i32,
    pub reserved_delta: i32,
    pub quantity: i32,
    pub reason: String,
    pub actor_id: Option<String>,
    pub order_number: Option<String>,
}

/// A variant's stock.
#[derive(Serialize, ToSchema)]
pub struct VariantStock {
    pub variant_id: i64,
    pub sku: String,
    /// False for a variant without stock tracking (no inventory row): always available.
    pub tracked: bool,
    pub qty_on_hand: i64,
    pub qty_reserved: i64,
    pub available: i64,
    pub allow_backorder: bool,
    pub low_stock_threshold: Option<i32>,
    /// By reservation order.
    pub levels: Vec<StockLevel>,
    /// The 50 latest, newest first.
    pub movements: Vec<StockMovement>,
}

/// Body of `POST /api/v1/admin/variants/{id}/stock-adjustments`: `delta` or `qty_on_hand`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockAdjustment {
    /// `adjustment` (default), `receipt` or `return` (the last two add stock).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// A location code (default: the first active by priority).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Units added (positive) or removed (negative).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta: Option<i64>,
    /// Or: the count found at the location; the difference is recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qty_on_hand: Option<i64>,
    /// Why (required for an adjustment).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A stock location.
#[derive(Serialize, ToSchema)]
pub struct StockLocation {
    pub id: i64,
    pub code: String,
    pub name: String,
    /// `warehouse` or `shop`.
    pub kind: String,
    /// Checkout reserves from lower priorities first.
    pub priority: i32,
    pub is_active: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// A variant's stock: totals, levels per location, the 50 latest movements.
#[utoipa::path(get, path = "/api/v1/admin/variants/{id}/stock", tag = "catalog admin",
    security(("bearer" = ["catalog:read"])),
    params(("id" = i64, Path, description = "Variant id")),
    responses(
        (status = 200, description = "The variant's stock", body = VariantStock),
        (status = 404, description = "No such variant", body = Problem),
    ))]
pub async fn variant_stock(
    State(state): State<AppState>,
    Require(caller, ..): Require<CatalogRead>,
    Path(id): Path<i64>,
) -> Result<JsonText, ApiError> {
    let sql = "select api.admin_variant_stock($1)::text";
    answer(&state, &caller, Access::ReadOnly, sql, &[&id]).await
}

/// Records a stock change (a receipt, a return, a count, a loss) as a ledger movement;
/// audited. On hand cannot go below the units reserved there (without backorder).
#[utoipa::path(post, path = "/api/v1/admin/variants/{id}/stock-adjustments", tag = "catalog admin",
    security(("bearer" = ["catalog:write"])), request_body = StockAdjustment,
    params(("id" = i64, Path, description = "Variant id")),
    responses(
        (status = 201, description = "The variant's stock after the change", body = VariantStock),
        (status = 404, description = "No such variant", body = Problem),
        (status = 422, description = "Invalid field (`details` is the JSON path), or below the reserved units", body = Problem),
    ))]
pub async fn adjust_stock(
    State(state): State<AppState>,
    Require(caller, ..): Require<CatalogWrite>,
    Path(id): Path<i64>,
    Json(adjustment): Json<StockAdjustment>,
) -> Result<JsonText, ApiError> {
    let adjustment = serde_json::to_value(&adjustment).map_err(|e| ApiError::internal(e.to_string()))?;
    let sql = "select api.admin_adjust_stock($1, $2)::text";
    answer(&state, &caller, Access::ReadWrite, sql, &[&id, &adjustment])
        .await
        .map(JsonText::created)
}

type Object = serde_json::Map<String, serde_json::Value>;

/// Stock locations in reservation order.
#[utoipa::path(get, path = "/api/v1/admin/stock-locations", tag = "catalog admin",
    security(("bearer" = ["catalog:read"])),
    responses((status = 200, description = "Stock locations", body = Vec<StockLocation>)))]
pub async fn list_locations(
    State(state): State<AppState>,
    Require(caller, ..): Require<CatalogRead>,
) -> Result<JsonText, ApiError> {
    let sql = "select api.admin_list_stock_locations()::text";
    answer(&state, &caller, Access::ReadOnly, sql, &[]).await
}

/// Creates a location: `{"code", "name", "kind": "warehouse"|"shop", "priority", "is_active"}`.
#[utoipa::path(post, path = "/api/v1/admin/stock-locations", tag = "catalog admin",
    security(("bearer" = ["catalog:write"])), request_body = serde_json::Value,
    responses(
        (status = 201, description = "The location", body = StockLocation),
        (status = 409, description = "The code exists", body = Problem),
        (status = 422, description = "Invalid field (`details` is the JSON path)", body = Problem),
    ))]
pub async fn create_location(
    State(state): State<AppState>,
    Require(caller, ..): Require<CatalogWrite>,
    Json(location): Json<Object>,
) -> Result<JsonText, ApiError> {
    let location = serde_json::Value::Object(location);
    let sql = "select api.admin_create_stock_location($1)::text";
    answer(&state, &caller, Access::ReadWrite, sql, &[&location])
        .await
        .map(JsonText::created)
}

/// Changes a location (a deactivated one keeps its stock; checkout stops reserving there).
#[utoipa::path(patch, path = "/api/v1/admin/stock-locations/{id}", tag = "catalog admin",
    security(("bearer" = ["catalog:write"])), request_body = serde_json::Value,
    params(("id" = i64, Path, description = "Stock location id")),
    responses(
        (status = 200, description = "The location", body = StockLocation),
        (status = 404, description = "No such location", body = Problem),
        (status = 409, description = "The new code exists", body = Problem),
        (status = 422, description = "Invalid field (`details` is the JSON path)", body = Problem),
    ))]
pub async fn update_location(
    State(state): State<AppState>,
    Require(caller, ..): Require<CatalogWrite>,
    Path(id): Path<i64>,
    Json(patch): Json<Object>,
) -> Result<JsonText, ApiError> {
    let patch = serde_json::Value::Object(patch);
    let sql = "select api.admin_update_stock_location($1, $2)::text";
    answer(&state, &caller, Access::ReadWrite, sql, &[&id, &patch]).await
}
