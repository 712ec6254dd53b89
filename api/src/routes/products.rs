//! Products: the public catalog reads.

use axum::{
    extract::State,
    http::{header, StatusCode},
    response::{IntoResponse, Response},
};
use std::collections::HashMap;
use utoipa_axum::{router::OpenApiRouter, routes};

use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::{
    caller::Caller,
    db::{self, Access},
    error::{ApiError, Problem},
    extract::{Json, Path, Query},
    routes::catalog_types::{Currency, ProductDetail, ProductPage, ProductSummary},
    routes::{answer, JsonText},
    AppState,
};

/// `/api/v1/products…`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_products))
        .routes(routes!(lookup_products))
        .routes(routes!(product_by_slug))
}

/// Query of `GET /api/v1/products` (the handler reads it as a map, so that
/// `attr.<name>` filters pass through; SQL checks every value and names the allowed
/// ones when one is wrong).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameters; the handler reads them as a map
pub struct ListParams {
    /// Page size (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i32>,
    /// The `next_cursor` of the previous page; absent for the first page.
    #[param(pattern = r"^-?[0-9]+(\.[0-9]+)?\|[0-9]{1,18}$")]
    pub after: Option<String>,
    /// Category slug; its descendants are included.
    pub category: Option<String>,
    /// Brand (case-insensitive).
    pub brand: Option<String>,
    /// Tag slug.
    pub tag: Option<String>,
    /// Needed by `min_price`, `max_price` and the price sorts (else 422
    /// `currency_required`).
    #[param(inline, value_type = Option<Currency>)]
    pub currency: Option<String>,
    /// Lowest "from" price, in minor units of `currency`.
    pub min_price: Option<i64>,
    /// Highest "from" price, in minor units of `currency`.
    pub max_price: Option<i64>,
    /// `true`: only products with stock; `false`: only without.
    pub in_stock: Option<bool>,
    /// `true`: only featured products; `false`: only the others.
    pub featured: Option<bool>,
    /// Full-text filter (same syntax as /search): at least one character other than a
    /// space, at most 200.
    #[param(pattern = "[^ ]", max_length = 200)]
    pub q: Option<String>,
    /// Order (default: catalog order); `relevance` needs `q` (else 422 `q_required`).
    #[param(inline, value_type = Option<ProductSort>)]
    pub sort: Option<String>,
}

/// Orders of a product list.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProductSort {
    Relevance,
    PriceAsc,
    PriceDesc,
    Newest,
    Popular,
    /// Best average rating first, then most reviews; products without reviews last.
    Rating,
}

/// Active products, filtered and sorted, one page at a time (keyset pagination: a page
/// never repeats or skips a row, even while products are added). Attribute filters are
/// `attr.<name>=<value>`, e.g. `attr.color=red` (`<name>`: 1 to 64 of `a-z0-9_`).
#[utoipa::path(get, path = "/api/v1/products", tag = "catalog", params(ListParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "A page of products", body = ProductPage),
        (status = 422, description = "A bad parameter. Codes: `invalid_query` (limit not a number), \
            `invalid_limit`, `invalid_cursor`, `unknown_filter`, `invalid_sort`, `invalid_in_stock`, \
            `invalid_featured`, `currency_required`, `invalid_currency`, `invalid_price`, `q_required`, \
            `invalid_query` (blank q), `query_too_long`; the hint lists the allowed values", body = Problem),
    ))]
pub async fn list_products(
    State(state): State<AppState>,
    caller: Caller,
    Query(mut params): Query<HashMap<String, String>>,
) -> Result<JsonText, ApiError> {
    let limit = match params.remove("limit") {
        None => None,
        Some(raw) => Some(raw.parse::<i32>().map_err(|_| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_query",
                "limit must be a whole number",
            )
            .details(format!("limit={raw}"))
        })?),
    };
    let after = params.remove("after");
    let filters = serde_json::Value::Object(
        params
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect(),
    );
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.list_products($1, $2, $3)::text",
        &[&limit, &after, &filters],
    )
    .await
}

/// One product with its variants, current prices, stock status, media, tags,
/// category breadcrumbs and related products.
#[utoipa::path(get, path = "/api/v1/products/{slug}", tag = "catalog",
    params(("slug" = String, Path, description = "The product's slug")),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The product", body = ProductDetail),
        (status = 301, description = "A former slug of a renamed product",
            headers(("Location" = String, description = "The product's current URL"))),
        (status = 404, description = "No active product has this slug (`product_not_found`)", body = Problem),
    ))]
pub async fn product_by_slug(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> Result<Response, ApiError> {
    let body = db::call(
        &state.db,
        &caller,
        Access::ReadOnly,
        "select api.product_by_slug($1)::text",
        &[&slug],
    )
    .await?;
    // A former slug answers {"redirect": "<current slug>"}: a permanent redirect keeps
    // old links and search-engine entries working.
    if body.starts_with("{\"redirect\":") {
        let target: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| ApiError::internal(format!("redirect: {e}")))?;
        if let Some(current) = target["redirect"].as_str() {
            let location = format!("/api/v1/products/{current}");
            return Ok((StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, location)]).into_response());
        }
    }
    Ok(JsonText::ok(body).into_response())
}

/// Body of `POST /api/v1/products/lookup`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"slugs": ["robe-wax-ndeye", "sac-raphia"]}))]
pub struct LookupRequest {
    /// Up to 100 slugs (a cart or a wishlist, say).
    #[schema(max_items = 100)]
    pub slugs: Vec<String>,
}

/// Summaries of several products at once, in the order asked; unknown or inactive
/// slugs are left out.
#[utoipa::path(post, path = "/api/v1/products/lookup", tag = "catalog", request_body = LookupRequest,
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The products found", body = Vec<ProductSummary>),
        (status = 422, description = "Wrong shape (`invalid_body`), or more than 100 slugs (`too_many_slugs`)", body = Problem),
    ))]
pub async fn lookup_products(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<LookupRequest>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.lookup_products($1)::text",
        &[&request.slugs],
    )
    .await
}
