//! Categories: the public category tree.

use axum::extract::State;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    caller::Caller,
    error::ApiError,
    routes::{answer_read, JsonText},
    AppState,
};

/// `/api/v1/categories`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_categories))
}

/// The category tree: top-level categories ordered by position, each with its
/// `children`.
#[utoipa::path(get, path = "/api/v1/categories", tag = "catalog", security((), ("bearer" = [])),
    responses((status = 200, description = "The category tree", body = Vec<crate::routes::catalog_types::CategoryNode>)))]
pub async fn list_categories(State(state): State<AppState>, caller: Caller) -> Result<JsonText, ApiError> {
    answer_read(&state, &caller, "select api.list_categories()::text", &[]).await
}
