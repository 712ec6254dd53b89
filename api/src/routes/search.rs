//! Product search and autocomplete.

use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    caller::Caller,
    db::Access,
    error::{ApiError, Problem},
    extract::Query,
    routes::{answer, JsonText},
    AppState,
};

/// `/api/v1/search…`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search))
        .routes(routes!(suggest))
}

/// Query of `GET /api/v1/search`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// 1..200 characters; web-search syntax: `"exact phrase"`, `-exclude`, `OR`.
    pub q: Option<String>,
    /// Page size, 1..=100 (default 20).
    pub limit: Option<i32>,
    /// `next_cursor` of the previous page.
    pub after: Option<String>,
    /// ISO 4217 code: adds price-bucket facets in that currency.
    pub currency: Option<String>,
}

/// Full-text search over products (French and English, accents ignored, typos
/// tolerated), best first, with highlights and facet counts. A broad query ranks a
/// bounded set of its matches: then `total` and the facet counts are estimates and
/// `total_exact` / `facets_exact` are false (see docs/search.md).
#[utoipa::path(get, path = "/api/v1/search", tag = "catalog", params(SearchParams),
    responses(
        (status = 200, description = "{query, total, total_exact, facets_exact, items, next_cursor, facets {categories, brands, tags, attributes, price_buckets}}"),
        (status = 422, description = "Empty or too long q, bad limit or cursor", body = Problem),
    ))]
pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<SearchParams>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.search_products($1, $2, $3, $4)::text",
        &[&params.q, &params.limit, &params.after, &params.currency],
    )
    .await
}

/// Query of `GET /api/v1/search/suggest`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuggestParams {
    /// The prefix typed so far.
    pub q: Option<String>,
}

/// Autocomplete: at most 10 categories and products with a word starting with `q`.
#[utoipa::path(get, path = "/api/v1/search/suggest", tag = "catalog", params(SuggestParams),
    responses(
        (status = 200, description = "[{type, slug, name | title}]"),
        (status = 422, description = "Empty or too long q", body = Problem),
    ))]
pub async fn suggest(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<SuggestParams>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.search_suggest($1)::text",
        &[&params.q],
    )
    .await
}
