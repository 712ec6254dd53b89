//! Stock administration: a variant's stock per location with its latest movements
//! (`catalog:read`), stock adjustments — receipts, returns, counts, losses — each a
//! ledger movement (`catalog:write`, audited), and stock locations. The rules and the
//! ledger are in SQL (`sql/inventory.sql`).

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    caller::{CatalogRead, CatalogWrite, Require},
    db::Access,
    error::{ApiError, Problem},
    extract::{Json, Path},
    routes::{answer, catalog_types::Timestamp, JsonText},
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
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockLevel {
    /// The location's code.
    pub location: String,
    pub name: String,
    pub priority: i32,
    pub is_active: bool,
    pub qty_on_hand: i32,
    /// Held by orders.
    pub qty_reserved: i32,
    /// Free units parked in stock slots here (counted in `available`).
    pub qty_in_slots: i32,
    pub available: i32,
}

/// What a ledger row records.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MovementKind {
    Receipt,
    Adjustment,
    Sale,
    Reservation,
    Release,
    Return,
    Cancellation,
    /// Free units parked in stock slots.
    SlotFill,
    /// Parked units taken back from stock slots.
    SlotDrain,
}

/// A row of the stock ledger.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockMovement {
    pub id: i64,
    #[schema(value_type = Timestamp)]
    pub at: String,
    pub kind: MovementKind,
    #[schema(required)]
    pub location: Option<String>,
    pub on_hand_delta: i32,
    /// Change of the units reserved for orders.
    pub reserved_delta: i32,
    /// Change of the units parked in stock slots (a reservation from a slot: minus its
    /// quantity).
    pub slot_delta: i32,
    pub quantity: i32,
    pub reason: String,
    #[schema(required)]
    pub actor_id: Option<uuid::Uuid>,
    #[schema(required)]
    pub order_number: Option<String>,
}

/// A variant's stock.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantStock {
    pub variant_id: i64,
    pub sku: String,
    /// False for a variant without stock tracking (no inventory row): always available.
    pub tracked: bool,
    pub qty_on_hand: i64,
    /// Held by orders.
    pub qty_reserved: i64,
    /// Free units parked in stock slots (counted in `available`).
    pub qty_in_slots: i64,
    /// Stock slots (0: none; see `PATCH /api/v1/admin/variants/{id}`).
    pub reservation_slots: i32,
    pub available: i64,
    pub allow_backorder: bool,
    #[schema(required)]
    pub low_stock_threshold: Option<i32>,
    /// By reservation order.
    pub levels: Vec<StockLevel>,
    /// The 50 latest, newest first.
    pub movements: Vec<StockMovement>,
}

/// The kinds of stock change recorded by hand.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdjustmentKind {
    Adjustment,
    Receipt,
    Return,
}

/// Body of `POST /api/v1/admin/variants/{id}/stock-adjustments`: exactly one of `delta`
/// and `qty_on_hand` (else 422 `invalid_field`, details `$.delta`).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "receipt", "location": "main", "delta": 24, "reason": "delivery 1234"}))]
pub struct StockAdjustment {
    /// Default `adjustment`; a `receipt` or `return` adds stock (a negative delta is 422).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<AdjustmentKind>,
    /// A location's code (default: the first active by priority; another is 422
    /// `invalid_field`, details `$.location`).
    #[schema(max_length = 64)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Units added (positive) or removed (negative); not 0.
    #[schema(minimum = -1000000, maximum = 1000000)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta: Option<i64>,
    /// Or: the count found at the location; the difference is recorded.
    #[schema(minimum = 0, maximum = 100000000)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qty_on_hand: Option<i64>,
    /// Why (required for an adjustment).
    #[schema(max_length = 500)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What a stock location is.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LocationKind {
    Warehouse,
    Shop,
}

/// A stock location.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockLocation {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub kind: LocationKind,
    /// Checkout reserves from lower priorities first.
    pub priority: i32,
    pub is_active: bool,
    #[schema(value_type = Timestamp)]
    pub created_at: String,
    #[schema(value_type = Timestamp)]
    pub updated_at: String,
}

/// Body of `POST /api/v1/admin/stock-locations` (passed to SQL, which checks each field).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "dakar-shop", "name": "Dakar shop", "kind": "shop", "priority": 10}))]
pub struct NewStockLocation {
    #[schema(pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", max_length = 64)]
    pub code: String,
    #[schema(pattern = "[^ ]", max_length = 200)]
    pub name: String,
    /// Default `warehouse`.
    #[schema(nullable = false)]
    pub kind: Option<LocationKind>,
    /// Default 0; lower reserves first.
    #[schema(nullable = false, minimum = -100000, maximum = 100000)]
    pub priority: Option<i32>,
    #[schema(nullable = false)]
    pub is_active: Option<bool>,
}

/// Body of `PATCH /api/v1/admin/stock-locations/{id}`: the fields to change.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockLocationPatch {
    #[schema(nullable = false, pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", max_length = 64)]
    pub code: Option<String>,
    #[schema(nullable = false, pattern = "[^ ]", max_length = 200)]
    pub name: Option<String>,
    #[schema(nullable = false)]
    pub kind: Option<LocationKind>,
    #[schema(nullable = false, minimum = -100000, maximum = 100000)]
    pub priority: Option<i32>,
    /// A deactivated location keeps its stock; checkout stops reserving there.
    #[schema(nullable = false)]
    pub is_active: Option<bool>,
}

/// A variant's stock: totals, levels per location, the 50 latest movements.
#[utoipa::path(get, path = "/api/v1/admin/variants/{id}/stock", tag = "catalog admin",
    security(("bearer" = ["catalog:read"])),
    params(("id" = i64, Path, description = "Variant id")),
    responses(
        (status = 200, description = "The variant's stock", body = VariantStock),
        (status = 404, description = "No such variant (`variant_not_found`)", body = Problem),
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
        (status = 404, description = "No such variant (`variant_not_found`)", body = Problem),
        (status = 422, description = "Codes: `invalid_field` (`details` is the JSON path), `stock_below_reserved`, `invalid_body`", body = Problem),
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

/// Creates a stock location.
#[utoipa::path(post, path = "/api/v1/admin/stock-locations", tag = "catalog admin",
    security(("bearer" = ["catalog:write"])), request_body = NewStockLocation,
    responses(
        (status = 201, description = "The location", body = StockLocation),
        (status = 409, description = "The code exists (`stock_location_code_key`)", body = Problem),
        (status = 422, description = "Codes: `invalid_field` (`details` is the JSON path), `invalid_body`", body = Problem),
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
    security(("bearer" = ["catalog:write"])), request_body = StockLocationPatch,
    params(("id" = i64, Path, description = "Stock location id")),
    responses(
        (status = 200, description = "The location", body = StockLocation),
        (status = 404, description = "No such location (`stock_location_not_found`)", body = Problem),
        (status = 409, description = "The new code exists (`stock_location_code_key`)", body = Problem),
        (status = 422, description = "Codes: `invalid_field` (`details` is the JSON path), `invalid_body`", body = Problem),
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
