//! The shapes of catalog responses (products, categories, prices, images) and the
//! scalar shapes every domain shares (currency codes, country codes, timestamps, a
//! deletion receipt), for the catalog, search, cart and admin routes' OpenAPI
//! operations.
//!
//! Response bodies are JSON built by PostgreSQL and passed through untouched, so these
//! types exist for the document only (`ToSchema`, never serialised). Each object is
//! closed (`deny_unknown_fields` → `additionalProperties: false`) and lists every key
//! PostgreSQL writes as required (a null is written, not left out), so the HTTP tests,
//! which validate every response against the document, fail when a SQL change adds,
//! drops or retypes a field without the document.

use utoipa::ToSchema;

/// An ISO 4217 currency the store knows (the rows of `shop.currency`, seeded by the
/// migrations; no route adds one). A request naming another is refused with 422.
#[derive(ToSchema)]
#[allow(clippy::upper_case_acronyms)]
pub enum Currency {
    EUR,
    GBP,
    GHS,
    NGN,
    USD,
    XOF,
}

/// An RFC 3339 timestamp, e.g. `2026-11-02T10:15:00.123456+00:00` (what PostgreSQL
/// writes, and what it reads: the pattern admits real dates only, 29 February in leap
/// years, offsets up to ±14:59, and years 0002 to 9998, so that with any offset the
/// instant falls within the years 1 to 9999 in UTC, which PostgreSQL writes back in this
/// form; an instant outside them is refused, 422 `invalid_field`).
pub struct Timestamp;

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .pattern(Some(TIMESTAMP_PATTERN))
            .into()
    }
}

impl ToSchema for Timestamp {}

/// The pattern of [`Timestamp`]: a date (any day of months of 31 days, up to the
/// 30th of the others, the 29th of February in leap years), `T`, a time, an offset.
const TIMESTAMP_PATTERN: &str = concat!(
    "^(",
    "(000[2-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-",
    "((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)",
    "|([0-9]{2}(0[48]|[2468][048]|[13579][26])|(0[48]|[2468][048]|[13579][26])00)-02-29",
    ")T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-](0[0-9]|1[0-4]):[0-5][0-9])$"
);

/// A deletion receipt: `{"deleted": <id>}`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"deleted": 42}))]
pub struct Deleted {
    /// The id of the row deleted.
    pub deleted: i64,
}

/// A price in one currency.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// ISO 4217 code.
    #[schema(pattern = "^[A-Z]{3}$")]
    pub currency: String,
    /// Minor units (cents; francs for XOF).
    pub amount: i64,
    /// Display string, e.g. `19.99 EUR`.
    pub price_formatted: String,
    /// The "was" price, when the product is on sale.
    #[schema(required)]
    pub compare_at_amount: Option<i64>,
    /// Display string of `compare_at_amount`.
    #[schema(required)]
    pub compare_at_formatted: Option<String>,
}

/// A variant's price in one currency, with the EU Omnibus reference price.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantPrice {
    /// ISO 4217 code.
    #[schema(pattern = "^[A-Z]{3}$")]
    pub currency: String,
    /// Minor units.
    pub amount: i64,
    /// Display string, e.g. `19.99 EUR`.
    pub price_formatted: String,
    /// The "was" price, when the variant is on sale.
    #[schema(required)]
    pub compare_at_amount: Option<i64>,
    /// Display string of `compare_at_amount`.
    #[schema(required)]
    pub compare_at_formatted: Option<String>,
    /// The lowest price of the 30 days before now (null without price history).
    #[schema(required)]
    pub lowest_price_30d: Option<i64>,
}

/// A category reference.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryRef {
    pub slug: String,
    pub name: String,
}

/// A node of the category tree.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryNode {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub position: i32,
    /// Active products in this category and its descendants (refreshed every few minutes).
    pub product_count: i64,
    #[schema(no_recursion)]
    pub children: Vec<CategoryNode>,
}

/// An image reference.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Image {
    pub asset_id: uuid::Uuid,
    /// Where the bytes are served.
    pub url: String,
    pub alt: String,
}

/// A media item of a product page.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductMedia {
    pub asset_id: uuid::Uuid,
    /// Where the bytes are served (`?variant=thumb|medium|webp` for derivatives).
    pub url: String,
    pub alt: String,
    pub is_primary: bool,
    pub mime_type: String,
    /// Pixels (null for a video whose size is unknown).
    #[schema(required)]
    pub width: Option<i32>,
    #[schema(required)]
    pub height: Option<i32>,
}

/// A product in a list.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductSummary {
    pub id: i64,
    pub slug: String,
    pub title: String,
    #[schema(required)]
    pub brand: Option<String>,
    pub is_featured: bool,
    #[schema(required)]
    pub category: Option<CategoryRef>,
    /// Lowest current price over the variants, per currency.
    pub price_from: Vec<Price>,
    pub in_stock: bool,
    /// Approved reviews (docs/reviews.md).
    pub rating: Rating,
    /// The primary image (else the first), if any.
    #[schema(required)]
    pub image: Option<Image>,
}

/// A product's rating: its approved reviews (kept by triggers, never recomputed per
/// request).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rating {
    /// Mean of the ratings, 2 decimals; null without reviews.
    #[schema(required, minimum = 1, maximum = 5)]
    pub average: Option<f64>,
    #[schema(minimum = 0)]
    pub count: i64,
}

/// A product's rating with the count of each star.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingWithHistogram {
    #[schema(required, minimum = 1, maximum = 5)]
    pub average: Option<f64>,
    #[schema(minimum = 0)]
    pub count: i64,
    pub histogram: RatingHistogram,
}

/// Approved reviews per star.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingHistogram {
    #[serde(rename = "1")]
    #[schema(minimum = 0)]
    pub one: i64,
    #[serde(rename = "2")]
    #[schema(minimum = 0)]
    pub two: i64,
    #[serde(rename = "3")]
    #[schema(minimum = 0)]
    pub three: i64,
    #[serde(rename = "4")]
    #[schema(minimum = 0)]
    pub four: i64,
    #[serde(rename = "5")]
    #[schema(minimum = 0)]
    pub five: i64,
}

/// A page of products.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "items": [{"id": 12, "slug": "robe-wax-ndeye", "title": "Robe wax Ndèye", "brand": "Sènè",
               "is_featured": true, "category": {"slug": "robes", "name": "Robes"},
               "price_from": [{"currency": "XOF", "amount": 15000, "price_formatted": "15,000 XOF",
                               "compare_at_amount": null, "compare_at_formatted": null}],
               "in_stock": true, "rating": {"average": 4.5, "count": 12},
               "image": {"asset_id": "0b1e9a4c-5d2f-4b8e-9c1a-3f6d7e8a9b0c",
                         "url": "/api/v1/media/0b1e9a4c-5d2f-4b8e-9c1a-3f6d7e8a9b0c", "alt": "Robe wax"}}],
    "next_cursor": "0|12"
}))]
pub struct ProductPage {
    pub items: Vec<ProductSummary>,
    /// Pass as `after` to get the next page; null on the last page.
    #[schema(required)]
    pub next_cursor: Option<String>,
}

/// A variant of a product.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub id: i64,
    pub sku: String,
    pub name: String,
    /// What tells the variants apart, e.g. `{"size": "M", "color": "red"}`.
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub prices: Vec<VariantPrice>,
    /// Never the exact quantity.
    pub stock_status: StockStatus,
}

/// What shoppers see of a variant's stock.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StockStatus {
    InStock,
    LowStock,
    OutOfStock,
}

/// A product page.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "id": 12, "slug": "robe-wax-ndeye", "title": "Robe wax Ndèye", "brand": "Sènè", "is_featured": true,
    "category": {"slug": "robes", "name": "Robes"},
    "price_from": [{"currency": "XOF", "amount": 15000, "price_formatted": "15,000 XOF",
                    "compare_at_amount": null, "compare_at_formatted": null}],
    "in_stock": true, "rating": {"average": 4.5, "count": 2, "histogram": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1}},
    "sku_root": "RW-NDEYE", "description": "Robe en wax, coupe droite.",
    "long_description": "", "specs": {"matière": "coton"},
    "created_at": "2026-11-02T10:15:00+00:00", "updated_at": "2026-11-02T10:15:00+00:00",
    "breadcrumbs": [{"slug": "mode-femme", "name": "Mode femme"}, {"slug": "robes", "name": "Robes"}],
    "tags": [{"slug": "wax", "name": "wax"}],
    "variants": [{"id": 31, "sku": "RW-NDEYE-M", "name": "M", "attributes": {"size": "M"},
                  "stock_status": "in_stock",
                  "prices": [{"currency": "XOF", "amount": 15000, "price_formatted": "15,000 XOF",
                              "compare_at_amount": null, "compare_at_formatted": null,
                              "lowest_price_30d": 15000}]}],
    "media": [], "related": []
}))]
pub struct ProductDetail {
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
    /// Approved reviews, with the count per star.
    pub rating: RatingWithHistogram,
    pub sku_root: String,
    pub description: String,
    pub long_description: String,
    /// Free-form specifications, e.g. `{"material": "cotton"}`.
    pub specs: serde_json::Map<String, serde_json::Value>,
    #[schema(value_type = Timestamp)]
    pub created_at: String,
    #[schema(value_type = Timestamp)]
    pub updated_at: String,
    /// From the root category down to the product's.
    pub breadcrumbs: Vec<CategoryRef>,
    pub tags: Vec<CategoryRef>,
    /// The active variants.
    pub variants: Vec<Variant>,
    /// Primary first.
    pub media: Vec<ProductMedia>,
    /// Up to 4 active products of the same category.
    pub related: Vec<ProductSummary>,
}
