//! maef-demo: the demo shop `make run` loads, kept out of the production binaries.
//!
//! A freshly migrated database has nothing to browse, search or buy. This crate fills
//! it with a small but realistic shop, one part per module, each idempotent (it does
//! nothing when its part is already there) and loaded in its own transaction through
//! the same tables the application writes:
//!
//! # Layout
//! - [`catalog`]: categories, products with variants, prices in XOF and EUR, stock,
//!   tags and one generated image per product.
//! - [`orders`]: shipping methods and rates, and orders in every state (awaiting
//!   payment, paid, confirmed for cash on delivery, fulfilled, delivered, cancelled,
//!   expired), placed through checkout.
//! - [`stories`]: six Instagram-like stories with generated images, three of them
//!   showing demo products (the carousel without an Instagram account).
//!
//! Later parts (payments, reviews) are added as modules beside these and called from
//! [`load`] in dependency order.

pub mod catalog;
pub mod orders;
pub mod stories;

use tokio_postgres::Client;

/// What [`load`] did, one line per part, for the command's output.
pub async fn load(client: &mut Client) -> anyhow::Result<Vec<String>> {
    let mut report = Vec::new();
    let catalog = catalog::load(client).await?;
    report.push(if catalog.already_loaded {
        "catalog: already loaded".to_string()
    } else {
        format!(
            "catalog: {} categories, {} products, {} variants, {} images",
            catalog.categories, catalog.products, catalog.variants, catalog.images
        )
    });
    let orders = orders::load(client).await?;
    report.push(if orders.already_loaded {
        "orders: already loaded".to_string()
    } else {
        format!("orders: {}", orders.statuses.join(", "))
    });
    let stories = stories::load(client).await?;
    report.push(if stories.already_loaded {
        "stories: already loaded".to_string()
    } else {
        format!(
            "stories: {} stories, {} linked to products",
            stories.stories, stories.links
        )
    });
    Ok(report)
}
