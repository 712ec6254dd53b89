//! The request and response shapes of catalog administration (`catalog_admin.rs`,
//! `catalog_links.rs`), for the OpenAPI document only.
//!
//! The handlers pass the JSON body to SQL untouched (`sql/catalog_admin.sql` checks
//! every field and names the JSON path of a bad one), so these types mirror what SQL
//! accepts: the keys of its `api._reject_unknown` lists (closed objects), the types of
//! its `api._text_field` / `_int_field` / `_bool_field` reads (a null is the same as an
//! absent key unless said otherwise) and the check constraints of the tables. What a
//! schema cannot state is said in the descriptions: a reference to a row that does not
//! exist (a category slug, an asset id) and relations between two fields.

use utoipa::ToSchema;

use super::catalog_types::{Currency, Timestamp};

/// A JSON object with free-form values.
type Object = serde_json::Map<String, serde_json::Value>;

/// Body of `POST /api/v1/products`: a product with its variants, prices, tags and
/// media, created in one transaction.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "title": "Robe wax Ndèye", "category": "robes", "brand": "Sènè", "description": "Robe en wax, coupe droite.",
    "variants": [{"name": "M", "sku": "RW-NDEYE-M", "attributes": {"size": "M"}, "stock": {"qty_on_hand": 5},
                  "prices": [{"currency": "XOF", "amount": 15000}]}],
    "tags": ["wax"], "media": ["0b1e9a4c-5d2f-4b8e-9c1a-3f6d7e8a9b0c"]
}))]
pub struct NewProduct {
    #[schema(min_length = 1, max_length = 300)]
    pub title: String,
    /// Made from the title when absent (unique; a taken one is 409 `product_slug_key`).
    #[schema(pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", max_length = 200)]
    pub slug: Option<String>,
    /// Defaults to the slug in capitals.
    #[schema(min_length = 1, max_length = 64)]
    pub sku_root: Option<String>,
    pub description: Option<String>,
    pub long_description: Option<String>,
    pub brand: Option<String>,
    /// Free-form specifications, e.g. `{"material": "cotton"}`.
    #[schema(nullable = false)]
    pub specs: Option<Object>,
    /// A category slug (one that does not exist: 422 `invalid_field`, details `$.category`).
    pub category: Option<String>,
    /// Default true.
    pub is_active: Option<bool>,
    /// Default false.
    pub is_featured: Option<bool>,
    /// A product is sold through its variants: at least one.
    #[schema(min_items = 1)]
    pub variants: Vec<NewVariant>,
    /// Product-level prices (a variant's own price wins over them).
    #[schema(nullable = false)]
    pub prices: Option<Vec<NewPriceWindow>>,
    /// Tag names; missing tags are created.
    #[schema(nullable = false)]
    pub tags: Option<Vec<TagName>>,
    /// Media assets in order (the first is primary unless one says otherwise).
    #[schema(nullable = false)]
    pub media: Option<Vec<MediaLinkItem>>,
}

/// Body of `PATCH /api/v1/admin/products/{id}`: the fields to change; `tags` and
/// `media` replace the lists.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductPatch {
    #[schema(min_length = 1, max_length = 300)]
    pub title: Option<String>,
    /// A new slug (the old one keeps redirecting).
    #[schema(pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", max_length = 200)]
    pub slug: Option<String>,
    #[schema(min_length = 1, max_length = 64)]
    pub sku_root: Option<String>,
    pub description: Option<String>,
    pub long_description: Option<String>,
    /// Null removes the brand.
    pub brand: Option<String>,
    #[schema(nullable = false)]
    pub specs: Option<Object>,
    /// A category slug; null removes the category.
    pub category: Option<String>,
    pub is_active: Option<bool>,
    pub is_featured: Option<bool>,
    #[schema(nullable = false)]
    pub tags: Option<Vec<TagName>>,
    #[schema(nullable = false)]
    pub media: Option<Vec<MediaLinkItem>>,
}

/// A tag name: 1 to 100 characters with at least one letter or digit (its slug is
/// made from them).
pub struct TagName;

impl utoipa::PartialSchema for TagName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "A tag name (1 to 100 characters, at least one letter or digit).",
            ))
            .pattern(Some("[A-Za-z0-9]"))
            .max_length(Some(100))
            .into()
    }
}

impl ToSchema for TagName {}

/// A media link of a product: an asset id, or the id with the link's fields.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum MediaLinkItem {
    /// Just the asset (primary if first, position = index).
    Id(uuid::Uuid),
    /// The asset with its link's fields.
    Link(MediaLinkFields),
}

/// A media link with its fields (an asset that does not exist: 422 `invalid_field`,
/// details `$.media[i].asset_id`).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaLinkFields {
    pub asset_id: uuid::Uuid,
    pub is_primary: Option<bool>,
    pub position: Option<i32>,
    pub alt: Option<String>,
}

/// A variant with its stock and prices (`variants[]` of a new product, or
/// `POST /api/v1/admin/products/{id}/variants`).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "L", "sku": "RW-NDEYE-L", "attributes": {"size": "L"},
    "stock": {"qty_on_hand": 3}, "prices": [{"currency": "XOF", "amount": 15000}]}))]
pub struct NewVariant {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// Unique (a taken one is 409 `product_variant_sku_key`).
    #[schema(min_length = 1, max_length = 64)]
    pub sku: String,
    /// What tells the variants apart, e.g. `{"size": "M"}`.
    #[schema(nullable = false)]
    pub attributes: Option<Object>,
    pub position: Option<i32>,
    /// Default true.
    pub is_active: Option<bool>,
    #[schema(nullable = false)]
    pub stock: Option<StockFields>,
    #[schema(nullable = false)]
    pub prices: Option<Vec<NewPriceWindow>>,
}

/// Body of `PATCH /api/v1/admin/variants/{id}`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"stock": {"qty_on_hand": 12, "low_stock_threshold": 3}}))]
pub struct VariantPatch {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[schema(min_length = 1, max_length = 64)]
    pub sku: Option<String>,
    #[schema(nullable = false)]
    pub attributes: Option<Object>,
    pub position: Option<i32>,
    pub is_active: Option<bool>,
    #[schema(nullable = false)]
    pub stock: Option<StockFields>,
}

/// A variant's stock (absent or null: unchanged, 0 and 5 for a new variant).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockFields {
    /// Units on hand (not below the units reserved by orders: 422
    /// `stock_below_reserved`). A change is an adjustment movement in the ledger.
    #[schema(minimum = 0, maximum = 100000000)]
    pub qty_on_hand: Option<i32>,
    /// At or below it, shoppers see `low_stock`.
    #[schema(minimum = 0, maximum = 2147483647)]
    pub low_stock_threshold: Option<i32>,
    /// Sell beyond the stock on hand (false for a new variant).
    pub allow_backorder: Option<bool>,
    /// Stock slots for a hot variant (0, the default: none): its free units beyond the
    /// low-stock threshold are split over this many rows, so concurrent checkouts stop
    /// queueing on one row (docs/checkout.md#stock-slots). Twice the concurrent
    /// checkouts expected is a good start; a change takes the parked units back.
    #[schema(minimum = 0, maximum = 64)]
    pub reservation_slots: Option<i32>,
}

/// A price window in one currency. `compare_at_amount` must exceed `amount` (else 422
/// `price_check`) and `starts_at` precede `ends_at` (else 422 `price_window_valid`);
/// a window overlapping another of the same target and currency is 409.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPriceWindow {
    #[schema(value_type = Currency)]
    pub currency: String,
    /// Minor units.
    #[schema(minimum = 0, maximum = 999999999999999999i64)]
    pub amount: i64,
    /// The "was" price shown struck through.
    #[schema(minimum = 0, maximum = 999999999999999999i64)]
    pub compare_at_amount: Option<i64>,
    /// Null: open start.
    #[schema(value_type = Option<Timestamp>)]
    pub starts_at: Option<String>,
    /// Null: open end.
    #[schema(value_type = Option<Timestamp>)]
    pub ends_at: Option<String>,
}

/// Body of `POST /api/v1/admin/prices`: a price window of a product or of a variant
/// (exactly one of `product_id` and `variant_id`; a product or variant that does not
/// exist is 404 `product_not_found`).
#[derive(ToSchema)]
#[serde(untagged)]
pub enum NewPrice {
    /// A product-level price.
    Product(NewProductPrice),
    /// A variant's own price.
    Variant(NewVariantPrice),
}

/// A product-level price window (see [`NewPriceWindow`] for the rules).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"product_id": 12, "currency": "EUR", "amount": 2490, "compare_at_amount": 2990,
    "starts_at": "2026-12-01T00:00:00Z", "ends_at": "2027-01-01T00:00:00Z"}))]
pub struct NewProductPrice {
    /// (SQL reads at most 18 digits.)
    #[schema(minimum = -999999999999999999i64, maximum = 999999999999999999i64)]
    pub product_id: i64,
    #[schema(value_type = Currency)]
    pub currency: String,
    #[schema(minimum = 0, maximum = 999999999999999999i64)]
    pub amount: i64,
    #[schema(minimum = 0, maximum = 999999999999999999i64)]
    pub compare_at_amount: Option<i64>,
    #[schema(value_type = Option<Timestamp>)]
    pub starts_at: Option<String>,
    #[schema(value_type = Option<Timestamp>)]
    pub ends_at: Option<String>,
}

/// A variant's price window (see [`NewPriceWindow`] for the rules).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVariantPrice {
    /// (SQL reads at most 18 digits.)
    #[schema(minimum = -999999999999999999i64, maximum = 999999999999999999i64)]
    pub variant_id: i64,
    #[schema(value_type = Currency)]
    pub currency: String,
    #[schema(minimum = 0, maximum = 999999999999999999i64)]
    pub amount: i64,
    #[schema(minimum = 0, maximum = 999999999999999999i64)]
    pub compare_at_amount: Option<i64>,
    #[schema(value_type = Option<Timestamp>)]
    pub starts_at: Option<String>,
    #[schema(value_type = Option<Timestamp>)]
    pub ends_at: Option<String>,
}

/// Body of `PATCH /api/v1/admin/prices/{id}` (its target and currency stay: delete
/// and add instead). Null clears `compare_at_amount` or a bound.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PricePatch {
    #[schema(minimum = 0, maximum = 999999999999999999i64)]
    pub amount: Option<i64>,
    #[schema(minimum = 0, maximum = 999999999999999999i64)]
    pub compare_at_amount: Option<i64>,
    #[schema(value_type = Option<Timestamp>)]
    pub starts_at: Option<String>,
    #[schema(value_type = Option<Timestamp>)]
    pub ends_at: Option<String>,
}

/// Body of `POST /api/v1/admin/categories`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Robes", "parent": "mode-femme", "position": 1}))]
pub struct NewCategory {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// Made from the name when absent (unique: 409 `category_slug_key`).
    #[schema(pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", max_length = 200)]
    pub slug: Option<String>,
    /// The parent's slug (one that does not exist: 422 `invalid_field`, details
    /// `$.parent`).
    pub parent: Option<String>,
    pub position: Option<i32>,
    pub description: Option<String>,
}

/// Body of `PATCH /api/v1/admin/categories/{id}`; `parent` moves the category with its
/// subtree (null: to the top level; under its own descendant: 422 `category_no_cycle`).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryPatch {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[schema(pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", max_length = 200)]
    pub slug: Option<String>,
    pub parent: Option<String>,
    pub position: Option<i32>,
    pub description: Option<String>,
}

/// Body of `POST /api/v1/admin/tags` (the slug is made from the name when absent).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Été", "slug": "ete"}))]
pub struct NewTag {
    /// With a letter or digit unless `slug` is given.
    #[schema(min_length = 1, max_length = 100, pattern = "[A-Za-z0-9]")]
    pub name: String,
    #[schema(pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", max_length = 200)]
    pub slug: Option<String>,
}

/// Body of `PATCH /api/v1/admin/tags/{id}`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagPatch {
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    #[schema(pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", max_length = 200)]
    pub slug: Option<String>,
}

/// Body of `PUT /api/v1/admin/products/{id}/media/{asset_id}` (all optional; a new
/// primary demotes the previous one).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"is_primary": true, "position": 0, "alt": "Robe wax, vue de face"}))]
pub struct MediaLinkPatch {
    pub is_primary: Option<bool>,
    pub position: Option<i32>,
    pub alt: Option<String>,
}

// ---------------------------------------------------------------- responses

/// A product as administrators see it (`api._product_admin_json`): every column,
/// active or not, with its variants (stock, every price window), product-level price
/// windows, tag slugs and media links.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductAdmin {
    pub product_id: i64,
    #[schema(required)]
    pub category_id: Option<i64>,
    /// The category's slug.
    #[schema(required)]
    pub category: Option<String>,
    pub sku_root: String,
    pub title: String,
    pub slug: String,
    pub description: String,
    pub long_description: String,
    #[schema(required)]
    pub brand: Option<String>,
    pub specs: Object,
    pub is_active: bool,
    pub is_featured: bool,
    /// Kept by triggers: some active variant has stock.
    pub in_stock: bool,
    #[schema(value_type = Timestamp)]
    pub created_at: String,
    #[schema(value_type = Timestamp)]
    pub updated_at: String,
    /// Tag slugs, sorted.
    pub tags: Vec<String>,
    /// Product-level price windows.
    pub prices: Vec<PriceRow>,
    pub media: Vec<MediaLinkRow>,
    pub variants: Vec<VariantAdmin>,
}

/// A variant as administrators see it.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantAdmin {
    pub variant_id: i64,
    pub name: String,
    pub sku: String,
    pub attributes: Object,
    pub position: i32,
    pub is_active: bool,
    #[schema(value_type = Timestamp)]
    pub created_at: String,
    #[schema(value_type = Timestamp)]
    pub updated_at: String,
    /// Null for a variant without an inventory row (not stock-tracked).
    #[schema(required)]
    pub stock: Option<StockRow>,
    /// The variant's own price windows.
    pub prices: Vec<PriceRow>,
}

/// A variant's inventory row.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockRow {
    pub qty_on_hand: i32,
    /// Held by unpaid orders.
    pub qty_reserved: i32,
    /// Free units parked in the variant's stock slots (available to shoppers).
    pub qty_in_slots: i32,
    pub low_stock_threshold: i32,
    pub allow_backorder: bool,
    /// Stock slots (0: none).
    pub reservation_slots: i32,
    #[schema(value_type = Timestamp)]
    pub updated_at: String,
}

/// A price window row.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceRow {
    pub price_id: i64,
    #[schema(pattern = "^[A-Z]{3}$")]
    pub currency_code: String,
    pub amount: i64,
    #[schema(required)]
    pub compare_at_amount: Option<i64>,
    #[schema(required, value_type = Option<Timestamp>)]
    pub starts_at: Option<String>,
    #[schema(required, value_type = Option<Timestamp>)]
    pub ends_at: Option<String>,
    #[schema(value_type = Timestamp)]
    pub created_at: String,
}

/// A product's link to a media asset.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaLinkRow {
    pub asset_id: uuid::Uuid,
    pub is_primary: bool,
    pub position: i32,
    pub alt: String,
}

/// A category row.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryRow {
    pub category_id: i64,
    #[schema(required)]
    pub parent_id: Option<i64>,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub position: i32,
    #[schema(value_type = Timestamp)]
    pub created_at: String,
    #[schema(value_type = Timestamp)]
    pub updated_at: String,
}

/// A tag with the number of products carrying it.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagRow {
    pub id: i64,
    pub name: String,
    pub slug: String,
    pub product_count: i64,
}
