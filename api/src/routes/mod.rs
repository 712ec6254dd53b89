//! HTTP routes: one module per resource, each exporting `router()`.
//!
//! A handler extracts and shape-checks the request, then makes one [`crate::db::call`];
//! it holds no business rule.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use utoipa_axum::router::OpenApiRouter;

use crate::{
    caller::Caller,
    db::{self, Access},
    error::ApiError,
    AppState,
};

pub mod addresses;
pub mod admin;
pub mod auth;
pub mod cart;
pub mod catalog_admin;
pub mod catalog_admin_types;
pub mod catalog_links;
pub mod catalog_types;
pub mod categories;
pub mod checkout;
pub mod docs;
pub mod emails;
pub mod fulfilment;
pub mod fulfilment_types;
pub mod health;
pub mod instagram;
pub mod inventory;
pub mod invoices;
pub mod media;
pub mod orders;
pub mod payment_types;
pub mod payment_webhooks;
pub mod payments;
pub mod price_lists;
pub mod pricing_settings;
pub mod pricing_types;
pub mod privacy;
pub mod products;
pub mod promotion_types;
pub mod promotions;
pub mod reports;
pub mod reset_password;
pub mod returns;
pub mod reviews;
pub mod search;
pub mod shipping;
pub mod stories;
pub mod users;
pub mod webhooks;

/// Every route of the API with its OpenAPI operation (each module registers its own
/// paths with `routes!`; [`crate::openapi`] only assembles the document). Uploads are
/// mounted apart ([`media::upload_router`]): they must sit outside the request timeout.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(health::router())
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
        .merge(addresses::router())
        .merge(shipping::router())
        .merge(checkout::router())
        .merge(inventory::router())
        .merge(orders::router())
        .merge(payments::router())
        .merge(payment_webhooks::router())
        .merge(fulfilment::router())
        .merge(returns::router())
        .merge(invoices::router())
        .merge(webhooks::router())
        .merge(emails::router())
        .merge(reset_password::router())
        .merge(stories::router())
        .merge(instagram::router())
        .merge(reviews::router())
        .merge(reports::router())
        .merge(privacy::router())
}

/// JSON text produced by PostgreSQL, sent as the body without being parsed.
#[derive(Debug, Clone)]
pub struct JsonText(pub StatusCode, pub String);

impl JsonText {
    /// A 200 response.
    pub fn ok(body: String) -> Self {
        Self(StatusCode::OK, body)
    }

    /// The same body with another status (`201 Created`, `202 Accepted`).
    #[must_use]
    pub fn with_status(self, status: StatusCode) -> Self {
        Self(status, self.1)
    }

    /// The same body with `201 Created`.
    #[must_use]
    pub fn created(self) -> Self {
        self.with_status(StatusCode::CREATED)
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

/// The one helper of a handler that makes one call: [`db::call`] answered with 200 and
/// the JSON text it returns (`.created()` or `.with_status()` for another status).
///
/// # Errors
/// Those of [`db::call`].
pub async fn answer(
    state: &AppState,
    caller: &Caller,
    access: Access,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<JsonText, ApiError> {
    Ok(JsonText::ok(
        db::call(&state.db, caller, access, sql, params).await?,
    ))
}
