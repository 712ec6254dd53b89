//! The shapes of catalog responses (products, categories, prices, images), shared by
//! the catalog, search and cart routes' OpenAPI operations.
//!
//! Response bodies are JSON built by PostgreSQL and passed through untouched, so these
//! types exist for the document only; the HTTP tests validate every response they
//! receive against the document, so a SQL change that alters a shape fails a test.

use serde::Serialize;
use utoipa::ToSchema;

/// A price in one currency.
#[derive(Serialize, ToSchema)]
pub struct Price {
    /// ISO 4217 code.
    pub currency: String,
    /// Minor units (cents; francs for XOF).
    pub amount: i64,
    /// Display string, e.g. `19.99 EUR`.
    pub price_formatted: String,
    /// The "was" price, when the product is on sale.
    pub compare_at_amount: Option<i64>,
    /// Display string of `compare_at_amount`.
    pub compare_at_formatted: Option<String>,
}

/// A category reference.
#[derive(Serialize, ToSchema)]
pub struct CategoryRef {
    pub slug: String,
    pub name: String,
}

/// A node of the category tree.
#[derive(Serialize, ToSchema)]
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
#[derive(Serialize, ToSchema)]
pub struct Image {
    pub asset_id: String,
    /// Where the bytes are served.
    pub url: String,
    pub alt: String,
}

/// A product in a list.
#[derive(Serialize, ToSchema)]
pub struct ProductSummary {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub brand: Option<String>,
    pub is_featured: bool,
    pub category: Option<CategoryRef>,
    /// Lowest current price over the variants, per currency.
    pub price_from: Vec<Price>,
    pub in_stock: bool,
    pub image: Option<Image>,
}

/// A page of products.
#[derive(Serialize, ToSchema)]
pub struct ProductPage {
    pub items: Vec<ProductSummary>,
    /// Pass as `after` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// A variant of a product.
#[derive(Serialize, ToSchema)]
pub struct Variant {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub attributes: serde_json::Value,
    pub prices: Vec<Price>,
    /// `in_stock`, `low_stock` or `out_of_stock` (never the exact quantity).
    pub stock_status: String,
}

/// A product page.
#[derive(Serialize, ToSchema)]
pub struct ProductDetail {
    pub id: i64,
    pub slug: String,
    pub sku_root: String,
    pub title: String,
    pub description: String,
    pub long_description: String,
    pub brand: Option<String>,
    pub specs: serde_json::Value,
    pub is_featured: bool,
    /// From the root category down to the product's.
    pub breadcrumbs: Vec<CategoryRef>,
    pub tags: Vec<CategoryRef>,
    pub price_from: Vec<Price>,
    pub variants: Vec<Variant>,
    pub media: Vec<Image>,
    pub related: Vec<ProductSummary>,
}
