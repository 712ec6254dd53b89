//! HTTP routes: one module per resource, each exporting `router()`.
//!
//! A handler extracts and shape-checks the request, then makes one [`crate::db::call`];
//! it holds no business rule.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Router,
};

use crate::{
    caller::Caller,
    db::{self, Access},
    error::ApiError,
    AppState,
};

pub mod admin;
pub mod auth;
pub mod cart;
pub mod catalog_admin;
pub mod catalog_links;
pub mod categories;
pub mod docs;
pub mod health;
pub mod media;
pub mod price_lists;
pub mod pricing_settings;
pub mod products;
pub mod promotions;
pub mod search;
pub mod users;

/// Every route of the API.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(health::router())
        .merge(docs::router())
        .merge(categories::router())
        .merge(products::router())
        .merge(search::router())
        .merge(catalog_admin::router())
        .merge(catalog_links::router())
        .merge(auth::router())
        .merge(users::router())
        .merge(admin::router())
        .merge(cart::router())
        .merge(promotions::router())
        .merge(media::router())
        .merge(pricing_settings::router())
        .merge(price_lists::router())
}

/// JSON text produced by PostgreSQL, sent as the body without being parsed.
#[derive(Debug, Clone)]
pub struct JsonText(pub StatusCode, pub String);

impl JsonText {
    /// A 200 response.
    pub fn ok(body: String) -> Self {
        Self(StatusCode::OK, body)
    }
}

impl IntoResponse for JsonText {
    fn into_response(self) -> Response {
        let mut response = (self.0, self.1).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }
}

/// One [`db::call`] answered with `status` and the JSON text it returns: the whole body
/// of a handler that only forwards its arguments.
///
/// # Errors
/// Those of [`db::call`].
pub async fn answer(
    state: &AppState,
    caller: &Caller,
    access: Access,
    status: StatusCode,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<JsonText, ApiError> {
    let body = db::call(&state.db, caller, access, sql, params).await?;
    Ok(JsonText(status, body))
}
