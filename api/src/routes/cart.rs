//! The cart: guest (by the `X-Cart-Session` header) or the signed-in user's. Every
//! route answers with the cart's full quote, computed in PostgreSQL by `maef.quote_cart`.

use axum::{
    extract::{FromRequestParts, Path, State},
    http::{request::Parts, StatusCode},
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    caller::{Caller, ClientAddr},
    db::Access,
    error::{ApiError, Problem},
    extract::Json,
    routes::{answer, JsonText},
    AppState,
};

/// `/api/v1/cart…`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(open_cart, show_cart))
        .routes(routes!(add_item))
        .routes(routes!(update_item, remove_item))
        .routes(routes!(apply_coupon, remove_coupon))
}

/// The guest cart's secret session id from `X-Cart-Session` (returned once by
/// `POST /api/v1/cart`), if the client sent one.
pub struct CartSession(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for CartSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.headers.get("x-cart-session") {
            None => Ok(Self(None)),
            Some(v) => match v.to_str() {
                Ok(s) if (1..=128).contains(&s.len()) => Ok(Self(Some(s.to_string()))),
                _ => Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_cart_session",
                    "X-Cart-Session must be 1 to 128 visible ASCII characters",
                )),
            },
        }
    }
}

/// Body of `POST /api/v1/cart`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenCart {
    /// ISO 4217 currency of a new cart (`XOF`, `EUR`, …).
    pub currency: String,
    /// ISO 3166 alpha-2 destination, for tax and shipping (defaults to the store's).
    pub shipping_country: Option<String>,
}

/// Opens the caller's cart or returns the open one. A guest receives `session` once;
/// a signed-in caller sending a guest `X-Cart-Session` gets that cart merged into theirs.
#[utoipa::path(post, path = "/api/v1/cart", tag = "cart", request_body = OpenCart,
    responses(
        (status = 200, description = "The cart's quote (plus `session` for a new guest cart)"),
        (status = 422, description = "Unknown currency or country", body = Problem),
    ))]
pub async fn open_cart(
    State(state): State<AppState>,
    caller: Caller,
    CartSession(session): CartSession,
    Json(body): Json<OpenCart>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.cart_open($1::text::char(3), $2, $3::text::char(2))::text",
        &[&body.currency, &session, &body.shipping_country],
    )
    .await
}

/// The caller's cart: lines with unit prices and the discounts each promotion gave,
/// totals, currency and messages ("coupon SPRING has expired").
#[utoipa::path(get, path = "/api/v1/cart", tag = "cart",
    responses(
        (status = 200, description = "The cart's quote"),
        (status = 404, description = "No open cart", body = Problem),
    ))]
pub async fn show_cart(
    State(state): State<AppState>,
    caller: Caller,
    CartSession(session): CartSession,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.cart($1)::text",
        &[&session],
    )
    .await
}

/// Body of `POST /api/v1/cart/items`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddItem {
    /// The variant.
    pub variant_id: i64,
    /// Units to add, 1..=999 in all.
    pub quantity: i32,
}

/// Adds a variant (to its line if it is already in the cart).
#[utoipa::path(post, path = "/api/v1/cart/items", tag = "cart", request_body = AddItem,
    responses(
        (status = 200, description = "The cart's quote"),
        (status = 404, description = "No open cart, or no such variant", body = Problem),
        (status = 422, description = "Quantity outside 1..=999 or above the stock", body = Problem),
    ))]
pub async fn add_item(
    State(state): State<AppState>,
    caller: Caller,
    CartSession(session): CartSession,
    Json(body): Json<AddItem>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.cart_add_item($1, $2, $3)::text",
        &[&body.variant_id, &body.quantity, &session],
    )
    .await
}

/// Body of `PATCH /api/v1/cart/items/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateItem {
    /// The new quantity, 1..=999.
    pub quantity: i32,
}

/// Sets a line's quantity.
#[utoipa::path(patch, path = "/api/v1/cart/items/{id}", tag = "cart", request_body = UpdateItem,
    params(("id" = i64, Path, description = "Cart item id")),
    responses(
        (status = 200, description = "The cart's quote"),
        (status = 404, description = "No such line in the caller's cart", body = Problem),
        (status = 422, description = "Quantity outside 1..=999 or above the stock", body = Problem),
    ))]
pub async fn update_item(
    State(state): State<AppState>,
    caller: Caller,
    CartSession(session): CartSession,
    Path(id): Path<i64>,
    Json(body): Json<UpdateItem>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.cart_update_item($1, $2, $3)::text",
        &[&id, &body.quantity, &session],
    )
    .await
}

/// Removes a line.
#[utoipa::path(delete, path = "/api/v1/cart/items/{id}", tag = "cart",
    params(("id" = i64, Path, description = "Cart item id")),
    responses(
        (status = 200, description = "The cart's quote"),
        (status = 404, description = "No such line in the caller's cart", body = Problem),
    ))]
pub async fn remove_item(
    State(state): State<AppState>,
    caller: Caller,
    CartSession(session): CartSession,
    Path(id): Path<i64>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.cart_remove_item($1, $2)::text",
        &[&id, &session],
    )
    .await
}

/// Body of `POST /api/v1/cart/coupon`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyCoupon {
    /// The code, case-insensitive.
    pub code: String,
}

/// Puts a coupon on the cart. A code that does not exist (404 `coupon_not_found`) or
/// cannot be used now (422 `coupon_expired`, `coupon_exhausted`, …) is refused and
/// nothing is kept; a valid code whose conditions the cart does not meet yet stays, and
/// the quote's messages say what is missing. Attempts, refused ones included, are
/// throttled per client address.
#[utoipa::path(post, path = "/api/v1/cart/coupon", tag = "cart", request_body = ApplyCoupon,
    responses(
        (status = 200, description = "The cart's quote", body = crate::routes::quote_types::Quote),
        (status = 404, description = "No open cart, or no coupon has this code", body = Problem),
        (status = 422, description = "The coupon cannot be used now (inactive, not started, expired, used up, customer limit)", body = Problem),
        (status = 429, description = "Too many attempts (see Retry-After)", body = Problem),
    ))]
pub async fn apply_coupon(
    State(state): State<AppState>,
    caller: Caller,
    CartSession(session): CartSession,
    ClientAddr(client): ClientAddr,
    Json(body): Json<ApplyCoupon>,
) -> Result<JsonText, ApiError> {
    let reply = answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.cart_apply_coupon($1, $2, $3)::text",
        &[&body.code, &session, &client],
    )
    .await?;
    match refusal(&reply.1) {
        Some(error) => Err(error),
        None => Ok(reply),
    }
}

/// A refusal `api.cart_apply_coupon` returned instead of raising it (so that the
/// attempt counter commits): `{"error": {status, code, message, hint}}`. A quote never
/// starts with that key, so the check costs a prefix comparison.
fn refusal(body: &str) -> Option<ApiError> {
    if !body.starts_with("{\"error\"") {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    let error = &value["error"];
    let status = error["status"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .filter(StatusCode::is_client_error)
        .unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
    let mut problem = ApiError::new(
        status,
        error["code"].as_str().unwrap_or("coupon_refused"),
        error["message"].as_str().unwrap_or("this coupon cannot be used"),
    );
    if let Some(hint) = error["hint"].as_str() {
        problem = problem.hint(hint);
    }
    Some(problem)
}

/// Takes the coupon off the cart.
#[utoipa::path(delete, path = "/api/v1/cart/coupon", tag = "cart",
    responses((status = 200, description = "The cart's quote"), (status = 404, description = "No open cart", body = Problem)))]
pub async fn remove_coupon(
    State(state): State<AppState>,
    caller: Caller,
    CartSession(session): CartSession,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.cart_remove_coupon($1)::text",
        &[&session],
    )
    .await
}
