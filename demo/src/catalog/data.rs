//! The demo catalog as pure data: categories, products, variants, prices and stock,
//! derived from the seed tables and a fixed-seed PRNG.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::seed::*;
use super::{LOW_STOCK_DEFAULT, LOW_STOCK_ELECTRONICS};

// ---------------------------------------------------------------- pure catalog data

/// A category of the demo tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Category {
    pub(super) slug: &'static str,
    pub(super) name: &'static str,
    /// Slug of the parent; parents come before their children in [`categories`].
    pub(super) parent: Option<&'static str>,
    pub(super) description: &'static str,
    /// Rank among its siblings, from 0.
    pub(super) position: i32,
}

/// A price in minor units of `currency` (XOF has none, EUR has cents).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Price {
    pub(super) currency: &'static str,
    pub(super) amount: i64,
    pub(super) compare_at: Option<i64>,
}

/// One purchasable variant with its stock.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Variant {
    pub(super) name: String,
    pub(super) sku: String,
    pub(super) attributes: Value,
    pub(super) position: i32,
    pub(super) qty_on_hand: i32,
    pub(super) low_stock_threshold: i32,
    /// A variant-level override, in EUR only: the XOF price falls back to the product's,
    /// so the demo shows both an override and the fallback.
    pub(super) price: Option<Price>,
}

/// A product ready to insert.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Product {
    pub(super) sku_root: String,
    pub(super) title: &'static str,
    pub(super) slug: String,
    /// Slug of its (leaf) category.
    pub(super) category: &'static str,
    pub(super) brand: &'static str,
    pub(super) description: &'static str,
    pub(super) long_description: String,
    pub(super) specs: Value,
    pub(super) is_featured: bool,
    /// XOF then EUR, product-level.
    pub(super) prices: [Price; 2],
    pub(super) tags: &'static [&'static str],
    pub(super) variants: Vec<Variant>,
    /// 1-based number of the product, used for its SKU root, image and PRNG seed.
    pub(super) image_index: u32,
}

/// A hand-written product; everything else is derived from it by [`catalog`].
pub(super) struct ProductSeed {
    pub(super) title: &'static str,
    pub(super) brand: &'static str,
    pub(super) category: &'static str,
    /// Base price in euro cents.
    pub(super) price_eur: i64,
    /// Variant axes: attribute key and its possible values (colour codes are English,
    /// labelled in French in variant names). Empty: one "Standard" variant.
    pub(super) options: &'static [(&'static str, &'static [&'static str])],
    pub(super) tags: &'static [&'static str],
    /// One-sentence description, also the first paragraph of the long one.
    pub(super) blurb: &'static str,
    /// Specs as text; values that parse as integers are stored as JSON numbers.
    pub(super) specs: &'static [(&'static str, &'static str)],
}

/// The category tree, parents first, with sibling positions.
pub(super) fn categories() -> Vec<Category> {
    let mut positions: HashMap<Option<&str>, i32> = HashMap::new();
    CATEGORIES
        .iter()
        .map(|&(slug, name, parent, description)| {
            let position = positions.entry(parent).or_insert(0);
            let category = Category {
                slug,
                name,
                parent,
                description,
                position: *position,
            };
            *position += 1;
            category
        })
        .collect()
}

/// The whole demo catalog, deterministically derived from [`PRODUCTS`].
pub(super) fn catalog() -> Vec<Product> {
    let parents: HashMap<&str, Option<&str>> = CATEGORIES
        .iter()
        .map(|&(slug, _, parent, _)| (slug, parent))
        .collect();
    PRODUCTS
        .iter()
        .zip(1u32..)
        .map(|(seed, index)| {
            let top = parents[seed.category].unwrap_or(seed.category);
            product(seed, index, top)
        })
        .collect()
}

/// Derives product number `index` (1-based) from its seed; `top` is the slug of its
/// top-level category.
pub(super) fn product(seed: &ProductSeed, index: u32, top: &str) -> Product {
    // One PRNG per product, seeded by its number: adding a product to the table does
    // not reshuffle the stock and prices of the others.
    let mut rng = Rng::new(u64::from(index));
    let sku_root = format!("DEMO-{index:04}");
    let on_sale = rng.below(10) < 3;
    let compare_at_eur = on_sale.then(|| compare_at(seed.price_eur));
    let prices = [
        Price {
            currency: "XOF",
            amount: xof_from_eur_cents(seed.price_eur),
            compare_at: compare_at_eur.map(xof_from_eur_cents),
        },
        Price {
            currency: "EUR",
            amount: seed.price_eur,
            compare_at: compare_at_eur,
        },
    ];
    let threshold = if top == "electronique" {
        LOW_STOCK_ELECTRONICS
    } else {
        LOW_STOCK_DEFAULT
    };
    let variants = variants(seed, &sku_root, threshold, &mut rng);
    Product {
        slug: slugify(seed.title),
        title: seed.title,
        category: seed.category,
        brand: seed.brand,
        description: seed.blurb,
        long_description: long_description(seed, top),
        specs: specs(seed.specs),
        // Every sixth product: the table is grouped by category, so this spreads the
        // featured ones over all of them.
        is_featured: index % 6 == 1,
        prices,
        tags: seed.tags,
        variants,
        image_index: index,
        sku_root,
    }
}

/// Picks 1 to 4 distinct combinations of the seed's options (in table order) and gives
/// each a SKU, a name, stock and possibly its own price.
pub(super) fn variants(seed: &ProductSeed, sku_root: &str, threshold: i32, rng: &mut Rng) -> Vec<Variant> {
    let combos = combinations(seed.options);
    let wanted = (1 + rng.below(4) as usize).min(combos.len());
    // Fisher-Yates, then keep the first `wanted` and restore table order so positions
    // read S, M, L rather than at random.
    let mut order: Vec<usize> = (0..combos.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut picked = order[..wanted].to_vec();
    picked.sort_unstable();

    picked
        .into_iter()
        .zip(0..)
        .map(|(combo, position)| {
            let combo = &combos[combo];
            let (name, sku) = if combo.is_empty() {
                ("Standard".to_owned(), format!("{sku_root}-STD"))
            } else {
                let name = combo
                    .iter()
                    .map(|&(_, value, _)| label(value))
                    .collect::<Vec<_>>()
                    .join(" / ");
                let suffix = combo
                    .iter()
                    .map(|&(_, value, _)| sku_part(value))
                    .collect::<Vec<_>>()
                    .join("-");
                (name, format!("{sku_root}-{suffix}"))
            };
            let attributes: Map<String, Value> = combo
                .iter()
                .map(|&(key, value, _)| (key.to_owned(), Value::from(value)))
                .collect();
            // 10 % out of stock, 10 % under the low-stock threshold, the rest plenty.
            let qty_on_hand = match rng.below(10) {
                0 => 0,
                1 => 1 + rng.below(threshold as u64 - 1) as i32,
                _ => threshold + rng.below(101 - threshold as u64) as i32,
            };
            // Bigger storage or dimensions cost more: 15 % of the base price per step.
            let step: usize = combo
                .iter()
                .filter(|&&(key, _, _)| key == "storage" || key == "dimensions")
                .map(|&(_, _, rank)| rank)
                .sum();
            let price = (step > 0).then(|| Price {
                currency: "EUR",
                amount: seed.price_eur + seed.price_eur * 15 / 100 / 100 * 100 * step as i64,
                compare_at: None,
            });
            Variant {
                name,
                sku,
                attributes: Value::Object(attributes),
                position,
                qty_on_hand,
                low_stock_threshold: threshold,
                price,
            }
        })
        .collect()
}

/// One variant's choice per axis: (key, value, rank of the value in its axis).
pub(super) type Combo = Vec<(&'static str, &'static str, usize)>;

/// The cartesian product of the option axes; one empty combination when there are none.
pub(super) fn combinations(options: &[(&'static str, &'static [&'static str])]) -> Vec<Combo> {
    options.iter().fold(vec![Vec::new()], |combos, &(key, values)| {
        combos
            .iter()
            .flat_map(|combo| {
                values.iter().enumerate().map(move |(rank, &value)| {
                    let mut combo = combo.clone();
                    combo.push((key, value, rank));
                    combo
                })
            })
            .collect()
    })
}

/// The French label of a colour code; other option values are shown as they are.
pub(super) fn label(value: &'static str) -> &'static str {
    COLOURS
        .iter()
        .find(|&&(code, _)| code == value)
        .map_or(value, |&(_, label)| label)
}

/// An option value as a SKU segment: upper-case letters and digits only.
pub(super) fn sku_part(value: &str) -> String {
    value
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// EUR cents to XOF at the fixed parity (1 EUR = 655.957 XOF), rounded to 500 XOF the
/// way shops in Dakar or Abidjan label prices.
pub(super) fn xof_from_eur_cents(cents: i64) -> i64 {
    let xof = (cents * 655_957 + 50_000) / 100_000;
    ((xof + 250) / 500 * 500).max(500)
}

/// A "was" price about 30 % above `cents`, ending in .99.
pub(super) fn compare_at(cents: i64) -> i64 {
    (cents * 13 / 10 / 100 + 1) * 100 - 1
}

/// Lower-case ASCII slug: accents folded, every other run of non-alphanumerics one `-`.
pub(super) fn slugify(title: &str) -> String {
    let mut slug = String::with_capacity(title.len());
    for c in title.chars().flat_map(fold_accent) {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    slug
}

/// The ASCII spelling of the accented letters French titles use.
pub(super) fn fold_accent(c: char) -> impl Iterator<Item = char> {
    let folded: &[char] = match c {
        'à' | 'á' | 'â' | 'ä' | 'ã' => &['a'],
        'À' | 'Á' | 'Â' | 'Ä' | 'Ã' => &['A'],
        'ç' => &['c'],
        'Ç' => &['C'],
        'é' | 'è' | 'ê' | 'ë' => &['e'],
        'É' | 'È' | 'Ê' | 'Ë' => &['E'],
        'î' | 'ï' | 'í' => &['i'],
        'Î' | 'Ï' | 'Í' => &['I'],
        'ô' | 'ö' | 'ó' | 'õ' => &['o'],
        'Ô' | 'Ö' | 'Ó' | 'Õ' => &['O'],
        'ù' | 'û' | 'ü' | 'ú' => &['u'],
        'Ù' | 'Û' | 'Ü' | 'Ú' => &['U'],
        'œ' => &['o', 'e'],
        'Œ' => &['O', 'E'],
        'æ' => &['a', 'e'],
        'Æ' => &['A', 'E'],
        _ => &[],
    };
    let keep = folded.is_empty().then_some(c);
    folded.iter().copied().chain(keep)
}

/// The specs object: integer-looking values become JSON numbers so they can be compared.
pub(super) fn specs(pairs: &[(&str, &str)]) -> Value {
    let object: Map<String, Value> = pairs
        .iter()
        .map(|&(key, value)| {
            let value = value
                .parse::<i64>()
                .map_or_else(|_| Value::from(value), Value::from);
            (key.to_owned(), value)
        })
        .collect();
    Value::Object(object)
}

/// The blurb, a paragraph about the department, and shipping.
pub(super) fn long_description(seed: &ProductSeed, top: &str) -> String {
    let department = match top {
        "mode" => {
            "Coupé et assemblé en petites séries par nos ateliers partenaires. \
             Lavage à 30 °C sur l'envers, séchage à l'ombre pour garder l'éclat des couleurs."
        }
        "electronique" => {
            "Garantie 2 ans, notice en français et en anglais. Fonctionne sur les réseaux \
             et les prises d'Afrique de l'Ouest comme d'Europe."
        }
        _ => {
            "Choisi pour durer : matériaux robustes, finitions soignées, entretien simple. \
             Chaque pièce artisanale est unique et peut légèrement varier."
        }
    };
    format!(
        "{}\n\n{department}\n\nMarque : {}. Expédié depuis Dakar et Lyon ; livraison en \
         Afrique de l'Ouest et dans toute l'Europe, retours gratuits sous 30 jours.",
        seed.blurb, seed.brand
    )
}

/// xorshift64* (Vigna 2016): a few lines, good enough for demo data, and fixed forever
/// unlike a library generator whose algorithm may change between versions.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        // Spread small seeds over all bits; `| 1` because xorshift is stuck at zero.
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        rng.next_u64();
        rng
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (the modulo bias is irrelevant for demo data).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

// ---------------------------------------------------------------- images

/// The shape drawn over a product's gradient.
#[derive(Debug, Clone, Copy)]
pub(super) enum Shape {
    Circle,
    Square,
    Diamond,
    Triangle,
    Ring,
}

impl Shape {
    pub(super) const ALL: [Shape; 5] = [
        Shape::Circle,
        Shape::Square,
        Shape::Diamond,
        Shape::Triangle,
        Shape::Ring,
    ];

    /// Whether the point (`dx`, `dy`) from the centre is inside the shape of radius `r`.
    pub(super) fn contains(self, dx: i64, dy: i64, r: i64) -> bool {
        match self {
            Shape::Circle => dx * dx + dy * dy <= r * r,
            Shape::Square => dx.abs() * 5 <= r * 4 && dy.abs() * 5 <= r * 4,
            Shape::Diamond => dx.abs() + dy.abs() <= r,
            // Apex up: zero wide at dy = -r, 2r wide at dy = r.
            Shape::Triangle => dy.abs() <= r && 2 * dx.abs() <= dy + r,
            Shape::Ring => {
                let d = dx * dx + dy * dy;
                d <= r * r && d * 16 >= r * r * 9
            }
        }
    }
}
