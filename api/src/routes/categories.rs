//! Categories: the public category tree.

use axum::{extract::State, routing::get, Router};

use crate::{
    caller::Caller,
    db::{self, Access},
    error::ApiError,
    routes::JsonText,
    AppState,
};

/// `/api/v1/categories`.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/categories", get(list_categories))
}

/// The category tree: top-level categories ordered by position, each with its
/// `children`.
#[utoipa::path(get, path = "/api/v1/categories", tag = "catalog",
    responses((status = 200, description = "The category tree", body = Vec<crate::openapi::CategoryNode>)))]
pub async fn list_categories(State(state): State<AppState>, caller: Caller) -> Result<JsonText, ApiError> {
    let body = db::call(
        &state.db,
        &caller,
        Access::ReadOnly,
        "select api.list_categories()::text",
        &[],
    )
    .await?;
    Ok(JsonText::ok(body))
}
