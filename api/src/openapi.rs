//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]`
//! annotations.
//!
//! Response bodies are JSON built by PostgreSQL and passed through untouched, so the
//! structs below exist only to document their shape; the SQL API tests check that the
//! JSON really has these fields.
#![allow(dead_code)] // documentation-only structs

use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

/// The API's OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "maef API", description = "E-commerce backend whose logic lives in PostgreSQL."),
    paths(
        crate::routes::health::healthz,
        crate::routes::health::readyz,
        crate::routes::categories::list_categories,
        crate::routes::products::list_products,
        crate::routes::products::product_by_slug,
        crate::routes::products::lookup_products,
        crate::routes::search::search,
        crate::routes::search::suggest,
        crate::routes::catalog_admin::create_product,
        crate::routes::catalog_admin::update_product,
        crate::routes::catalog_admin::delete_product,
        crate::routes::catalog_admin::add_variant,
        crate::routes::catalog_admin::update_variant,
        crate::routes::catalog_admin::delete_variant,
        crate::routes::catalog_admin::add_price,
        crate::routes::catalog_admin::update_price,
        crate::routes::catalog_admin::delete_price,
        crate::routes::catalog_admin::create_category,
        crate::routes::catalog_admin::update_category,
        crate::routes::catalog_admin::delete_category,
        crate::routes::catalog_links::create_tag,
        crate::routes::catalog_links::update_tag,
        crate::routes::catalog_links::delete_tag,
        crate::routes::catalog_links::set_product_media,
        crate::routes::catalog_links::delete_product_media,
        crate::routes::auth::register,
        crate::routes::auth::login,
        crate::routes::auth::refresh,
        crate::routes::auth::logout,
        crate::routes::auth::request_password_reset,
        crate::routes::auth::confirm_password_reset,
        crate::routes::users::me,
        crate::routes::users::update_me,
        crate::routes::users::export_me,
        crate::routes::users::erase_me,
        crate::routes::users::change_password,
        crate::routes::admin::list_users,
        crate::routes::admin::update_user,
        crate::routes::admin::list_audit,
        crate::routes::cart::open_cart,
        crate::routes::cart::show_cart,
        crate::routes::cart::add_item,
        crate::routes::cart::update_item,
        crate::routes::cart::remove_item,
        crate::routes::cart::apply_coupon,
        crate::routes::cart::remove_coupon,
        crate::routes::promotions::list_promotions,
        crate::routes::promotions::create_promotion,
        crate::routes::promotions::update_promotion,
        crate::routes::promotions::delete_promotion,
        crate::routes::promotions::create_coupon,
        crate::routes::promotions::update_coupon,
        crate::routes::promotions::delete_coupon,
        crate::routes::media::upload::upload,
        crate::routes::media::download::download,
        crate::routes::media::request_derivatives,
        crate::routes::pricing_settings::list_tax_rates,
        crate::routes::pricing_settings::create_tax_rate,
        crate::routes::pricing_settings::update_tax_rate,
        crate::routes::pricing_settings::delete_tax_rate,
        crate::routes::pricing_settings::list_shipping_rates,
        crate::routes::pricing_settings::create_shipping_rate,
        crate::routes::pricing_settings::update_shipping_rate,
        crate::routes::pricing_settings::delete_shipping_rate,
        crate::routes::pricing_settings::list_store_settings,
        crate::routes::pricing_settings::set_store_setting,
        crate::routes::price_lists::list_price_tiers,
        crate::routes::price_lists::create_price_tier,
        crate::routes::price_lists::update_price_tier,
        crate::routes::price_lists::delete_price_tier,
        crate::routes::price_lists::list_customer_groups,
        crate::routes::price_lists::create_customer_group,
        crate::routes::price_lists::update_customer_group,
        crate::routes::price_lists::delete_customer_group,
        crate::routes::price_lists::add_member,
        crate::routes::price_lists::remove_member,
    ),
    modifiers(&BearerAuth),
    components(schemas(crate::error::Problem)),
    tags(
        (name = "health", description = "Probes"),
        (name = "catalog", description = "Categories and products"),
        (name = "auth", description = "Accounts and sessions"),
        (name = "users", description = "The signed-in user"),
        (name = "catalog admin", description = "Catalog writes (catalog:write), audited"),
        (name = "media", description = "Images and videos stored in PostgreSQL: upload, download with Range/ETag, derivatives"),
        (name = "cart", description = "The shopper's cart and its quote"),
        (name = "admin", description = "Administration (permissions in each route's security)"),
    )
)]
pub struct ApiDoc;

/// Declares the `bearer` security scheme (JWT access tokens) that routes refer to; the
/// scopes listed in a route's security requirement are the permissions it needs.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// A price in one currency.
#[derive(Serialize, ToSchema)]
pub struct Price {
    /// ISO 4217 code.
    currency: String,
    /// Minor units (cents; francs for XOF).
    amount: i64,
    /// Display string, e.g. `19.99 EUR`.
    price_formatted: String,
    /// The "was" price, when the product is on sale.
    compare_at_amount: Option<i64>,
    /// Display string of `compare_at_amount`.
    compare_at_formatted: Option<String>,
}

/// A category reference.
#[derive(Serialize, ToSchema)]
pub struct CategoryRef {
    slug: String,
    name: String,
}

/// A node of the category tree.
#[derive(Serialize, ToSchema)]
pub struct CategoryNode {
    id: i64,
    slug: String,
    name: String,
    description: String,
    position: i32,
    /// Active products in this category and its descendants (refreshed every few minutes).
    product_count: i64,
    #[schema(no_recursion)]
    children: Vec<CategoryNode>,
}

/// An image reference.
#[derive(Serialize, ToSchema)]
pub struct Image {
    asset_id: String,
    /// Where the bytes are served.
    url: String,
    alt: String,
}

/// A product in a list.
#[derive(Serialize, ToSchema)]
pub struct ProductSummary {
    id: i64,
    slug: String,
    title: String,
    brand: Option<String>,
    is_featured: bool,
    category: Option<CategoryRef>,
    /// Lowest current price over the variants, per currency.
    price_from: Vec<Price>,
    in_stock: bool,
    image: Option<Image>,
}

/// A page of products.
#[derive(Serialize, ToSchema)]
pub struct ProductPage {
    items: Vec<ProductSummary>,
    /// Pass as `after` to get the next page; null on the last page.
    next_cursor: Option<String>,
}

/// A variant of a product.
#[derive(Serialize, ToSchema)]
pub struct Variant {
    id: i64,
    sku: String,
    name: String,
    attributes: serde_json::Value,
    prices: Vec<Price>,
    /// `in_stock`, `low_stock` or `out_of_stock` (never the exact quantity).
    stock_status: String,
}

/// A product page.
#[derive(Serialize, ToSchema)]
pub struct ProductDetail {
    id: i64,
    slug: String,
    sku_root: String,
    title: String,
    description: String,
    long_description: String,
    brand: Option<String>,
    specs: serde_json::Value,
    is_featured: bool,
    /// From the root category down to the product's.
    breadcrumbs: Vec<CategoryRef>,
    tags: Vec<CategoryRef>,
    price_from: Vec<Price>,
    variants: Vec<Variant>,
    media: Vec<Image>,
    related: Vec<ProductSummary>,
}
