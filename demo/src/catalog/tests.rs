//! Unit tests of the demo catalog (no database).

use std::collections::HashSet;

use super::{data::*, image::*, seed::*, *};

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.split('-').all(|part| {
            !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

#[test]
fn a_product_image_is_a_decodable_rgb_png_of_the_advertised_size() {
    let png = render_png(1, IMAGE_SIZE).unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(&png));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((info.width, info.height), (IMAGE_SIZE, IMAGE_SIZE));
    assert_eq!(info.color_type, png::ColorType::Rgb);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    // Not a flat colour: the gradient and the shape are there.
    let distinct: HashSet<&[u8]> = pixels.chunks(3).collect();
    assert!(distinct.len() > 50, "only {} colours", distinct.len());
}

#[test]
fn every_product_gets_a_different_image() {
    let indexes: Vec<u32> = catalog().iter().map(|p| p.image_index).collect();
    let images = render_all(&indexes, 64).unwrap();
    assert_eq!(images.len(), indexes.len());
    let distinct: HashSet<&Vec<u8>> = images.iter().collect();
    assert_eq!(distinct.len(), images.len());
}

#[test]
fn the_category_tree_has_three_roots_with_children_and_valid_slugs() {
    let categories = categories();
    assert!(categories.len() >= 8);
    let mut seen = HashSet::new();
    for category in &categories {
        assert!(is_slug(category.slug), "{}", category.slug);
        if let Some(parent) = category.parent {
            assert!(seen.contains(parent), "{} before its parent", category.slug);
        }
        assert!(seen.insert(category.slug), "duplicate {}", category.slug);
    }
    let roots: Vec<_> = categories.iter().filter(|c| c.parent.is_none()).collect();
    assert_eq!(roots.len(), 3);
    assert_eq!(roots.iter().map(|c| c.position).collect::<Vec<_>>(), [0, 1, 2]);
    for root in roots {
        let children: Vec<i32> = categories
            .iter()
            .filter(|c| c.parent == Some(root.slug))
            .map(|c| c.position)
            .collect();
        assert_eq!(children, (0..children.len() as i32).collect::<Vec<_>>());
        assert!(!children.is_empty());
    }
}

#[test]
fn the_catalog_has_56_products_with_unique_slugs_and_skus_in_leaf_categories() {
    let products = catalog();
    assert!(products.len() >= 56, "{} products", products.len());
    let categories = categories();
    let leaves: HashSet<&str> = categories
        .iter()
        .filter(|c| !categories.iter().any(|child| child.parent == Some(c.slug)))
        .map(|c| c.slug)
        .collect();
    let tags: HashSet<&str> = TAGS.iter().map(|&(slug, _)| slug).collect();
    assert!(TAGS.iter().all(|&(slug, _)| is_slug(slug)));
    let mut slugs = HashSet::new();
    let mut roots = HashSet::new();
    let mut skus = HashSet::new();
    for product in &products {
        assert!(is_slug(&product.slug), "{}", product.slug);
        assert!(slugs.insert(product.slug.clone()), "duplicate {}", product.slug);
        assert!(roots.insert(product.sku_root.clone()));
        assert!(leaves.contains(product.category), "{}", product.category);
        assert!((2..=3).contains(&product.tags.len()), "{}", product.title);
        assert!(product.tags.iter().all(|t| tags.contains(t)), "{}", product.title);
        assert!(product.specs.as_object().is_some_and(|s| !s.is_empty()));
        assert!((1..=4).contains(&product.variants.len()), "{}", product.title);
        let attributes: HashSet<String> = product
            .variants
            .iter()
            .map(|v| v.attributes.to_string())
            .collect();
        assert_eq!(attributes.len(), product.variants.len(), "{}", product.title);
        for variant in &product.variants {
            assert!(variant.sku.starts_with(&product.sku_root));
            assert!(variant.sku.len() <= 64);
            assert!(skus.insert(variant.sku.clone()), "duplicate {}", variant.sku);
            assert!((0..=100).contains(&variant.qty_on_hand));
        }
    }
    assert_eq!(products[0].sku_root, MARKER_SKU_ROOT);
    assert_eq!(products[0].slug, "robe-d-ete-en-wax");
}

#[test]
fn prices_come_in_xof_and_eur_with_some_sales_and_variant_overrides() {
    let products = catalog();
    for product in &products {
        let [xof, eur] = product.prices;
        assert_eq!((xof.currency, eur.currency), ("XOF", "EUR"));
        assert!(xof.amount > 0 && eur.amount > 0);
        assert_eq!(xof.amount % 500, 0, "XOF prices are round");
        for price in [xof, eur] {
            if let Some(was) = price.compare_at {
                assert!(was > price.amount, "{}", product.title);
            }
        }
    }
    let on_sale = products
        .iter()
        .filter(|p| p.prices[1].compare_at.is_some())
        .count();
    assert!((5..products.len() / 2).contains(&on_sale), "{on_sale} on sale");
    let overrides = products
        .iter()
        .flat_map(|p| &p.variants)
        .filter_map(|v| v.price)
        .count();
    assert!(overrides >= 3, "{overrides} variant prices");
}

#[test]
fn stock_includes_out_of_stock_and_low_stock_variants_and_some_products_are_featured() {
    let products = catalog();
    let variants: Vec<&Variant> = products.iter().flat_map(|p| &p.variants).collect();
    assert!(variants.iter().any(|v| v.qty_on_hand == 0));
    assert!(variants
        .iter()
        .any(|v| v.qty_on_hand > 0 && v.qty_on_hand < v.low_stock_threshold));
    let featured = products.iter().filter(|p| p.is_featured).count();
    assert!((5..products.len() / 2).contains(&featured), "{featured} featured");
}

#[test]
fn the_catalog_is_the_same_on_every_run() {
    assert_eq!(catalog(), catalog());
}

#[test]
fn slugs_fold_french_accents_and_punctuation() {
    assert_eq!(slugify("Robe d'été en wax"), "robe-d-ete-en-wax");
    assert_eq!(slugify("Écran 27 pouces QHD"), "ecran-27-pouces-qhd");
    assert_eq!(slugify("  Cœur & Façon — 1,7 L "), "coeur-facon-1-7-l");
}

#[test]
fn xof_prices_follow_the_fixed_parity_rounded_to_500() {
    assert_eq!(xof_from_eur_cents(2299), 15_000);
    assert_eq!(xof_from_eur_cents(10_000), 65_500);
    assert_eq!(xof_from_eur_cents(1), 500);
}
