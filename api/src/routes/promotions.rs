//! Promotion and coupon administration (`promotions:write`, audited in SQL).
//! Rules are validated by the extension when saved: an invalid document is a 422 whose
//! `details` is the JSON path of the error.

use axum::extract::State;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    caller::{PromotionsWrite, Require},
    db::Access,
    error::{ApiError, Problem},
    extract::{Json, Path},
    routes::catalog_types::Deleted,
    routes::promotion_types::*,
    routes::{answer, JsonText},
    AppState,
};

/// `/api/v1/admin/promotions…` and `/api/v1/admin/coupons…`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_promotions, create_promotion))
        .routes(routes!(update_promotion, delete_promotion))
        .routes(routes!(create_coupon))
        .routes(routes!(update_coupon, delete_coupon))
}

type Object = serde_json::Map<String, serde_json::Value>;

/// Every promotion with its coupons, highest priority first.
#[utoipa::path(get, path = "/api/v1/admin/promotions", tag = "admin", security(("bearer" = ["promotions:write"])),
    responses((status = 200, description = "Promotions, highest priority first", body = Vec<PromotionRow>)))]
pub async fn list_promotions(
    State(state): State<AppState>,
    Require(caller, ..): Require<PromotionsWrite>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.admin_list_promotions()::text",
        &[],
    )
    .await
}

/// Creates a promotion: `{"name", "rules", "priority", "stacking", "starts_at", "ends_at", "is_active"}`.
#[utoipa::path(post, path = "/api/v1/admin/promotions", tag = "admin", request_body = NewPromotion, security(("bearer" = ["promotions:write"])),
    responses(
        (status = 201, description = "The promotion", body = PromotionRow),
        (status = 422, description = "Codes: `promotion_rules_invalid` (details = the JSON path in `rules`), \
            `promotion_window_valid` (start not before end), `not_null_violation` (no name), \
            `invalid_text_representation` or `data_exception` (a value of the wrong type), `invalid_body`", body = Problem),
    ))]
pub async fn create_promotion(
    State(state): State<AppState>,
    Require(caller, ..): Require<PromotionsWrite>,
    Json(promotion): Json<Object>,
) -> Result<JsonText, ApiError> {
    let promotion = serde_json::Value::Object(promotion);
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.admin_create_promotion($1)::text",
        &[&promotion],
    )
    .await
    .map(JsonText::created)
}

/// Changes fields of a promotion.
#[utoipa::path(patch, path = "/api/v1/admin/promotions/{id}", tag = "admin", request_body = PromotionPatch,
    params(("id" = i64, Path, description = "Promotion id")), security(("bearer" = ["promotions:write"])),
    responses(
        (status = 200, description = "The promotion", body = PromotionRow),
        (status = 404, description = "No such promotion (`promotion_not_found`)", body = Problem),
        (status = 422, description = "Codes: `promotion_rules_invalid` (details = the JSON path in `rules`), \
            `promotion_window_valid`, `invalid_text_representation` or `data_exception`, `invalid_body`", body = Problem),
    ))]
pub async fn update_promotion(
    State(state): State<AppState>,
    Require(caller, ..): Require<PromotionsWrite>,
    Path(id): Path<i64>,
    Json(patch): Json<Object>,
) -> Result<JsonText, ApiError> {
    let patch = serde_json::Value::Object(patch);
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.admin_update_promotion($1, $2)::text",
        &[&id, &patch],
    )
    .await
}

/// Deletes a promotion and its coupons.
#[utoipa::path(delete, path = "/api/v1/admin/promotions/{id}", tag = "admin",
    params(("id" = i64, Path, description = "Promotion id")), security(("bearer" = ["promotions:write"])),
    responses(
        (status = 200, description = "Deleted (with its coupons)", body = Deleted),
        (status = 404, description = "No such promotion (`promotion_not_found`)", body = Problem),
        (status = 409, description = "Still referenced (a foreign-key constraint name)", body = Problem),
    ))]
pub async fn delete_promotion(
    State(state): State<AppState>,
    Require(caller, ..): Require<PromotionsWrite>,
    Path(id): Path<i64>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.admin_delete_promotion($1)::text",
        &[&id],
    )
    .await
}

/// Creates a coupon of a promotion: `{"code", "starts_at", "ends_at", "usage_limit", "per_customer_limit", "is_active"}`.
#[utoipa::path(post, path = "/api/v1/admin/promotions/{id}/coupons", tag = "admin", request_body = NewCoupon,
    params(("id" = i64, Path, description = "Promotion id")), security(("bearer" = ["promotions:write"])),
    responses(
        (status = 201, description = "The coupon", body = CouponRow),
        (status = 404, description = "No such promotion (`promotion_not_found`)", body = Problem),
        (status = 409, description = "The code exists, case-insensitively (`coupon_code_key`)", body = Problem),
        (status = 422, description = "`invalid_field` (details = the JSON path), `invalid_body`", body = Problem),
    ))]
pub async fn create_coupon(
    State(state): State<AppState>,
    Require(caller, ..): Require<PromotionsWrite>,
    Path(id): Path<i64>,
    Json(coupon): Json<Object>,
) -> Result<JsonText, ApiError> {
    let coupon = serde_json::Value::Object(coupon);
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.admin_create_coupon($1, $2)::text",
        &[&id, &coupon],
    )
    .await
    .map(JsonText::created)
}

/// Changes fields of a coupon: `{"code", "starts_at", "ends_at", "usage_limit", "per_customer_limit", "is_active"}`
/// (null clears a window end or a limit; a limit cannot go below the uses already made).
#[utoipa::path(patch, path = "/api/v1/admin/coupons/{id}", tag = "admin", request_body = CouponPatch,
    params(("id" = i64, Path, description = "Coupon id")), security(("bearer" = ["promotions:write"])),
    responses(
        (status = 200, description = "The coupon", body = CouponRow),
        (status = 404, description = "No such coupon (`coupon_not_found`)", body = Problem),
        (status = 409, description = "The new code exists, case-insensitively (`coupon_code_key`)", body = Problem),
        (status = 422, description = "`invalid_field` (details = the JSON path), `invalid_body`", body = Problem),
    ))]
pub async fn update_coupon(
    State(state): State<AppState>,
    Require(caller, ..): Require<PromotionsWrite>,
    Path(id): Path<i64>,
    Json(patch): Json<Object>,
) -> Result<JsonText, ApiError> {
    let patch = serde_json::Value::Object(patch);
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.admin_update_coupon($1, $2)::text",
        &[&id, &patch],
    )
    .await
}

/// Deletes a coupon.
#[utoipa::path(delete, path = "/api/v1/admin/coupons/{id}", tag = "admin",
    params(("id" = i64, Path, description = "Coupon id")), security(("bearer" = ["promotions:write"])),
    responses(
        (status = 200, description = "Deleted", body = Deleted),
        (status = 404, description = "No such coupon (`coupon_not_found`)", body = Problem),
        (status = 409, description = "Still referenced (a foreign-key constraint name)", body = Problem),
    ))]
pub async fn delete_coupon(
    State(state): State<AppState>,
    Require(caller, ..): Require<PromotionsWrite>,
    Path(id): Path<i64>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.admin_delete_coupon($1)::text",
        &[&id],
    )
    .await
}
