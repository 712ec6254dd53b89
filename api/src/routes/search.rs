//! Product search and autocomplete.

use axum::extract::State;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    caller::Caller,
    db::Access,
    error::{ApiError, Problem},
    extract::Query,
    routes::catalog_types::{CategoryRef, Currency, Image, Price, Rating},
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
    /// Web-search syntax: `"exact phrase"`, `-exclude`, `OR`. At least one character
    /// other than a space, at most 200 (missing or blank: 422 `invalid_query`).
    #[param(required = true, pattern = "[^ ]", max_length = 200)]
    pub q: Option<String>,
    /// Page size (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i32>,
    /// `next_cursor` of the previous page (`<score>|<product id>`).
    #[param(pattern = r"^-?[0-9]{1,20}(\.[0-9]{1,20})?(e[+-]?[0-9]{1,2})?\|[0-9]{1,18}$")]
    pub after: Option<String>,
    /// Adds price-bucket facets in that currency.
    #[param(inline, value_type = Option<Currency>)]
    pub currency: Option<String>,
}

/// One page of search results.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "query": "robe wax", "total": 1, "total_exact": true, "facets_exact": true,
    "items": [{"id": 12, "slug": "robe-wax-ndeye", "title": "Robe wax Ndèye", "brand": "Sènè",
               "is_featured": true, "category": {"slug": "robes", "name": "Robes"},
               "price_from": [{"currency": "XOF", "amount": 15000, "price_formatted": "15,000 XOF",
                               "compare_at_amount": null, "compare_at_formatted": null}],
               "in_stock": true, "rating": {"average": null, "count": 0}, "image": null, "score": 0.8123,
               "highlight": "<mark>Robe</mark> <mark>wax</mark> Ndèye — Robe en <mark>wax</mark>, coupe droite."}],
    "next_cursor": null,
    "facets": {"categories": [{"slug": "robes", "name": "Robes", "count": 1}],
               "brands": [{"brand": "Sènè", "count": 1}], "tags": [{"slug": "wax", "name": "wax", "count": 1}],
               "attributes": [{"name": "size", "value": "M", "count": 1}], "price_buckets": null}
}))]
pub struct SearchPage {
    /// The query as searched (trimmed).
    pub query: String,
    /// Matches: exact when `total_exact`, else an estimate.
    pub total: i64,
    pub total_exact: bool,
    /// Whether the facet counts are exact (else scaled estimates).
    pub facets_exact: bool,
    /// Best first.
    pub items: Vec<SearchHit>,
    /// Pass as `after` for the next page; null on the last page.
    #[schema(required)]
    pub next_cursor: Option<String>,
    pub facets: Facets,
}

/// A product found, with its score and highlighted text.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchHit {
    pub id: i64,
    pub slug: String,
    pub title: String,
    #[schema(required)]
    pub brand: Option<String>,
    pub is_featured: bool,
    #[schema(required)]
    pub category: Option<CategoryRef>,
    pub price_from: Vec<Price>,
    pub in_stock: bool,
    pub rating: Rating,
    #[schema(required)]
    pub image: Option<Image>,
    /// Relevance, higher first.
    pub score: f64,
    /// Title and description with the matched words in `<mark>…</mark>`.
    pub highlight: String,
}

/// Facet counts over the matches.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Facets {
    pub categories: Vec<CategoryFacet>,
    pub brands: Vec<BrandFacet>,
    pub tags: Vec<CategoryFacet>,
    /// Per attribute value of the products' active variants.
    pub attributes: Vec<AttributeFacet>,
    /// Five equal-width "from" price buckets in `currency` (null without `currency`).
    #[schema(required)]
    pub price_buckets: Option<Vec<PriceBucket>>,
}

/// A category or tag with its number of matches.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryFacet {
    pub slug: String,
    pub name: String,
    pub count: i64,
}

/// A brand with its number of matches.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrandFacet {
    pub brand: String,
    pub count: i64,
}

/// An attribute value with its number of matching products.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttributeFacet {
    pub name: String,
    pub value: String,
    pub count: i64,
}

/// A price bucket (minor units, both bounds inclusive).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceBucket {
    #[schema(pattern = "^[A-Z]{3}$")]
    pub currency: String,
    pub min: i64,
    pub max: i64,
    pub count: i64,
}

/// Full-text search over products (French and English, accents ignored, typos
/// tolerated), best first, with highlights and facet counts. A broad query ranks a
/// bounded set of its matches: then `total` and the facet counts are estimates and
/// `total_exact` / `facets_exact` are false (see docs/search.md).
#[utoipa::path(get, path = "/api/v1/search", tag = "catalog", params(SearchParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "A page of results with facets", body = SearchPage),
        (status = 422, description = "Codes: `invalid_query` (q missing or blank, or a parameter of the wrong type), \
            `query_too_long`, `invalid_limit`, `invalid_cursor`, `invalid_currency`", body = Problem),
    ))]
pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<SearchParams>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.search_products_logged($1, $2, $3, $4)::text",
        &[&params.q, &params.limit, &params.after, &params.currency],
    )
    .await
}

/// Query of `GET /api/v1/search/suggest`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuggestParams {
    /// The prefix typed so far: at least one character other than a space, at most 200.
    #[param(required = true, pattern = "[^ ]", max_length = 200)]
    pub q: Option<String>,
}

/// An autocomplete suggestion: a category (`name`) or a product (`title`).
#[derive(ToSchema)]
#[serde(untagged)]
pub enum Suggestion {
    Category(CategorySuggestion),
    Product(ProductSuggestion),
}

/// A category whose name has a word starting with `q`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategorySuggestion {
    /// `category`.
    #[schema(pattern = "^category$")]
    pub r#type: String,
    pub slug: String,
    pub name: String,
}

/// A product whose title (or brand) has a word starting with `q`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductSuggestion {
    /// `product`.
    #[schema(pattern = "^product$")]
    pub r#type: String,
    pub slug: String,
    pub title: String,
}

/// Autocomplete: at most 10 categories and products with a word starting with `q`
/// (categories first).
#[utoipa::path(get, path = "/api/v1/search/suggest", tag = "catalog", params(SuggestParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Up to 10 suggestions", body = Vec<Suggestion>,
            example = json!([{"type": "category", "slug": "robes", "name": "Robes"},
                             {"type": "product", "slug": "robe-wax-ndeye", "title": "Robe wax Ndèye"}])),
        (status = 422, description = "Codes: `invalid_query` (q missing or blank), `query_too_long`", body = Problem),
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
