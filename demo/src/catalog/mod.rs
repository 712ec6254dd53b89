//! The demo catalog: the first part of the demo shop.
//!
//! A freshly migrated database has no products, so there is nothing to browse, search
//! or buy. This module fills it with a small but realistic store: West-African and
//! European fashion, electronics and homeware; titles in French with accents (so
//! accent-insensitive search has something to find); prices in XOF and EUR; stock
//! levels that include out-of-stock and low-stock variants; one generated PNG per
//! product.
//!
//! # Layout
//! - **Pure data** (`categories`, `catalog` and the tables in `seed`): everything is
//!   derived from static tables and a fixed-seed PRNG, so every run on every machine
//!   loads the same catalog and the unit tests check it without a database.
//! - **Images** (`render_png`): a colour gradient plus a geometric shape, distinct per
//!   product, so listings look different and the `media_asset.sha256` unique key holds.
//! - **Loading** ([`load`]): one transaction, prepared statements reused per row.
//!
//! Submodules: `catalog` (the pure data and its generation), `image` (PNG rendering),
//! `seed` (the static seed tables).

mod data;
mod image;
mod seed;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use data::*;
use image::*;

use anyhow::Context;
use seed::TAGS;
use tokio_postgres::{Client, Transaction};

/// The `sku_root` of the first demo product: its presence means the catalog is loaded.
const MARKER_SKU_ROOT: &str = "DEMO-0001";

/// Transaction advisory lock key serialising concurrent loads ("maefdemo"): without it
/// two `make run`s could both see no marker and then collide on unique keys.
const DEMO_LOCK: i64 = 0x6d61_6566_6465_6d6f;

/// Side of the square product images, in pixels: large enough for the worker to derive
/// thumbnails from, small enough to draw and encode in well under a second.
const IMAGE_SIZE: u32 = 640;

/// Threshold under which a variant counts as low stock, by top-level category: expensive
/// electronics are restocked in smaller batches.
const LOW_STOCK_ELECTRONICS: i32 = 3;
/// Low-stock threshold of everything else (the column default).
const LOW_STOCK_DEFAULT: i32 = 5;

/// What one [`load`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoSummary {
    /// Demo categories created, or found already present by slug and reused.
    pub categories: usize,
    /// Products inserted.
    pub products: usize,
    /// Product variants inserted (each with its inventory row).
    pub variants: usize,
    /// Images inserted and attached to their product as primary image.
    pub images: usize,
    /// True when the catalog was already there: nothing was written and the counts are 0.
    pub already_loaded: bool,
}

/// Loads the demo catalog in ONE transaction; idempotent: if it is already loaded
/// (a product with `sku_root` `DEMO-0001` exists), does nothing and returns
/// `already_loaded = true`. Concurrent calls wait for each other (advisory lock), so
/// exactly one of them loads.
///
/// Categories and tags whose slug already exists are reused rather than duplicated, so
/// the loader also works on a database where staff created a few of them by hand.
///
/// # Errors
/// The database cannot be reached, a statement fails (for example a product slug
/// already taken by a non-demo product, or a partially deleted demo catalog whose
/// marker product is gone), or an image cannot be encoded. Nothing is written then.
pub async fn load(client: &mut Client) -> anyhow::Result<DemoSummary> {
    let started = std::time::Instant::now();
    let categories = categories();
    let products = catalog();

    let tx = client
        .transaction()
        .await
        .context("starting the demo transaction")?;
    tx.execute("select pg_advisory_xact_lock($1)", &[&DEMO_LOCK])
        .await
        .context("taking the demo advisory lock")?;
    let marker = tx
        .query_opt(
            "select from shop.product where sku_root = $1",
            &[&MARKER_SKU_ROOT],
        )
        .await
        .context("looking for the demo marker product")?;
    if marker.is_some() {
        tx.rollback().await?;
        return Ok(DemoSummary {
            categories: 0,
            products: 0,
            variants: 0,
            images: 0,
            already_loaded: true,
        });
    }

    // Drawing and compressing the images is the only CPU-heavy part: it runs on the
    // blocking pool while the rows go in, instead of stalling the async runtime.
    let image_indexes: Vec<u32> = products.iter().map(|p| p.image_index).collect();
    let rendering = tokio::task::spawn_blocking(move || render_all(&image_indexes, IMAGE_SIZE));

    let category_ids = insert_categories(&tx, &categories).await?;
    let tag_ids = insert_tags(&tx).await?;
    let (product_ids, variants) = insert_products(&tx, &products, &category_ids, &tag_ids).await?;
    let images = rendering.await.context("rendering the demo images")??;
    let image_count = insert_images(&tx, &products, &product_ids, &images).await?;
    tx.commit().await.context("committing the demo catalog")?;
    // Category counts shown by the tree (refreshed later by a scheduled job).
    client
        .execute("select api.refresh_catalog_views()", &[])
        .await
        .context("refreshing catalog views")?;

    let summary = DemoSummary {
        categories: categories.len(),
        products: products.len(),
        variants,
        images: image_count,
        already_loaded: false,
    };
    tracing::debug!(
        categories = summary.categories,
        products = summary.products,
        variants = summary.variants,
        images = summary.images,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "demo catalog loaded"
    );
    Ok(summary)
}

// ---------------------------------------------------------------- database

/// Inserts the category tree, parents first; returns slug -> category_id.
async fn insert_categories(
    tx: &Transaction<'_>,
    categories: &[Category],
) -> anyhow::Result<HashMap<&'static str, i64>> {
    // `on conflict do nothing` returns no row for an existing slug, hence the fallback
    // select. It reads the snapshot taken before the insert, so exactly one branch
    // yields the id.
    let stmt = tx
        .prepare(
            "with created as (
                 insert into shop.category (parent_id, name, slug, description, position)
                 values ($1, $2, $3, $4, $5)
                 on conflict (slug) do nothing
                 returning category_id
             )
             select category_id from created
             union all
             select category_id from shop.category where slug = $3
             limit 1",
        )
        .await?;
    let mut ids = HashMap::new();
    for category in categories {
        let parent_id: Option<i64> = category.parent.map(|slug| ids[slug]);
        let row = tx
            .query_one(
                &stmt,
                &[
                    &parent_id,
                    &category.name,
                    &category.slug,
                    &category.description,
                    &category.position,
                ],
            )
            .await
            .with_context(|| format!("inserting demo category {}", category.slug))?;
        ids.insert(category.slug, row.get(0));
    }
    Ok(ids)
}

/// Inserts the tags (reusing existing slugs); returns slug -> tag_id.
async fn insert_tags(tx: &Transaction<'_>) -> anyhow::Result<HashMap<&'static str, i64>> {
    let stmt = tx
        .prepare(
            "with created as (
                 insert into shop.tag (name, slug) values ($1, $2)
                 on conflict (slug) do nothing
                 returning tag_id
             )
             select tag_id from created
             union all
             select tag_id from shop.tag where slug = $2
             limit 1",
        )
        .await?;
    let mut ids = HashMap::new();
    for &(slug, name) in TAGS {
        let row = tx
            .query_one(&stmt, &[&name, &slug])
            .await
            .with_context(|| format!("inserting demo tag {slug}"))?;
        ids.insert(slug, row.get(0));
    }
    Ok(ids)
}

/// Inserts products with their prices, tags, variants and stock; returns the
/// product ids (in `products` order) and the number of variants inserted.
async fn insert_products(
    tx: &Transaction<'_>,
    products: &[Product],
    category_ids: &HashMap<&'static str, i64>,
    tag_ids: &HashMap<&'static str, i64>,
) -> anyhow::Result<(Vec<i64>, usize)> {
    let product_stmt = tx
        .prepare(
            "insert into shop.product (category_id, sku_root, title, slug, description,
                                       long_description, brand, specs, is_featured)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             returning product_id",
        )
        .await?;
    // Product-level prices are the default for every variant; open windows (null
    // bounds) so they apply now and forever.
    let price_stmt = tx
        .prepare(
            "insert into shop.price (product_id, currency_code, amount, compare_at_amount)
             values ($1, $2, $3, $4), ($1, $5, $6, $7)",
        )
        .await?;
    let tag_stmt = tx
        .prepare(
            "insert into shop.product_tag (product_id, tag_id)
             select $1, unnest($2::bigint[])",
        )
        .await?;
    // Every variant gets its inventory row in the same round trip.
    let variant_stmt = tx
        .prepare(
            "with variant as (
                 insert into shop.product_variant (product_id, name, sku, attributes, position)
                 values ($1, $2, $3, $4, $5)
                 returning variant_id
             ), stock as (
                 insert into shop.inventory (variant_id, qty_on_hand, low_stock_threshold)
                 select variant_id, $6, $7 from variant
             )
             select variant_id from variant",
        )
        .await?;
    let variant_price_stmt = tx
        .prepare(
            "insert into shop.price (variant_id, currency_code, amount, compare_at_amount)
             values ($1, $2, $3, $4)",
        )
        .await?;

    let mut product_ids = Vec::with_capacity(products.len());
    let mut variant_count = 0;
    for product in products {
        let context = || format!("inserting demo product {}", product.sku_root);
        let category_id = category_ids[product.category];
        let row = tx
            .query_one(
                &product_stmt,
                &[
                    &category_id,
                    &product.sku_root,
                    &product.title,
                    &product.slug,
                    &product.description,
                    &product.long_description,
                    &product.brand,
                    &product.specs,
                    &product.is_featured,
                ],
            )
            .await
            .with_context(context)?;
        let product_id: i64 = row.get(0);

        let [a, b] = &product.prices;
        tx.execute(
            &price_stmt,
            &[
                &product_id,
                &a.currency,
                &a.amount,
                &a.compare_at,
                &b.currency,
                &b.amount,
                &b.compare_at,
            ],
        )
        .await
        .with_context(context)?;

        let tags: Vec<i64> = product.tags.iter().map(|slug| tag_ids[slug]).collect();
        tx.execute(&tag_stmt, &[&product_id, &tags])
            .await
            .with_context(context)?;

        for variant in &product.variants {
            let row = tx
                .query_one(
                    &variant_stmt,
                    &[
                        &product_id,
                        &variant.name,
                        &variant.sku,
                        &variant.attributes,
                        &variant.position,
                        &variant.qty_on_hand,
                        &variant.low_stock_threshold,
                    ],
                )
                .await
                .with_context(|| format!("inserting demo variant {}", variant.sku))?;
            if let Some(price) = &variant.price {
                let variant_id: i64 = row.get(0);
                tx.execute(
                    &variant_price_stmt,
                    &[&variant_id, &price.currency, &price.amount, &price.compare_at],
                )
                .await
                .with_context(|| format!("inserting the price of demo variant {}", variant.sku))?;
            }
            variant_count += 1;
        }
        product_ids.push(product_id);
    }
    Ok((product_ids, variant_count))
}

/// Stores each product's PNG and attaches it as the primary image; returns how many
/// were attached.
async fn insert_images(
    tx: &Transaction<'_>,
    products: &[Product],
    product_ids: &[i64],
    images: &[Vec<u8>],
) -> anyhow::Result<usize> {
    // The hash is computed by PostgreSQL (sha256(bytea), PostgreSQL 11+) so the api
    // crate needs no hashing dependency. An identical asset left over from an earlier,
    // deleted demo catalog is reused instead of violating media_asset_sha256_key.
    let stmt = tx
        .prepare(
            "with created as (
                 insert into shop.media_asset (sha256, filename, mime_type, size_bytes, data,
                                               width, height)
                 values (encode(sha256($2::bytea), 'hex'), $3, 'image/png', $4, $2::bytea,
                         $5, $5)
                 on conflict (sha256) do nothing
                 returning asset_id
             ), asset as (
                 select asset_id from created
                 union all
                 select asset_id from shop.media_asset
                 where sha256 = encode(sha256($2::bytea), 'hex')
                 limit 1
             )
             insert into shop.product_media (product_id, asset_id, is_primary, position, alt)
             select $1, asset_id, true, 0, $6 from asset",
        )
        .await?;
    let side = IMAGE_SIZE as i32;
    let mut attached = 0;
    for ((product, product_id), png) in products.iter().zip(product_ids).zip(images) {
        let filename = format!("demo-{:04}.png", product.image_index);
        let size_bytes = png.len() as i64;
        attached += tx
            .execute(
                &stmt,
                &[product_id, png, &filename, &size_bytes, &side, &product.title],
            )
            .await
            .with_context(|| format!("inserting demo image {filename}"))?;
    }
    // Thumbnails and WebP for the demo images, made by the worker `make run` starts, as
    // for uploaded images.
    tx.execute(
        "select count(api.enqueue_job('make_derivatives', jsonb_build_object('asset_id', a.asset_id),
                                       p_max_attempts => 5, p_unique_key => 'make_derivatives:' || a.asset_id))
         from shop.media_asset a
         where a.mime_type like 'image/%'
           and not exists (select from shop.media_derivative d where d.asset_id = a.asset_id)",
        &[],
    )
    .await
    .context("enqueuing the demo images' derivatives")?;
    Ok(attached as usize)
}
