//! Demo stories: a stories carousel without an Instagram account.
//!
//! Six portrait images (a two-colour gradient with a pale band, distinct per story)
//! posted over the last two days, with shop captions in XOF; the first three show demo
//! products. They go through the same SQL as pulled stories (`api.ingest_media`,
//! `api.save_instagram_story`, from account `demo`), their captions through the same
//! parser (`maef-core`), so the carousel, the admin list and "draft a product" behave
//! as with real ones. Idempotent: the story `demo-1` marks them loaded.

use anyhow::Context;
use maef_core::caption::{parse_caption, Currency};
use serde_json::json;
use tokio_postgres::Client;

/// The captions, newest first.
const CAPTIONS: &[&str] = &[
    "Nouvelle collection wax ☀️ #wax #nouveauté\nRobes, jupes et chemises, du S au XXL\nÀ partir de 12 500 FCFA",
    "Le boubou brodé est de retour #boubou #broderie\nCoton, fait main à Dakar\n35 000 FCFA",
    "Casque sans fil, 30 h d'autonomie #tech\nLivraison 24 h à Abidjan\n45 000 FCFA",
    "Coulisses du shooting #behindthescenes",
    "Panier tressé, pièce unique #artisanat #maison\n18 000 FCFA",
    "Merci pour vos 10 000 abonnés 🎉 #merci",
];

/// Image size: a phone story's 9:16, small enough to draw fast in a debug build.
const WIDTH: u32 = 360;
const HEIGHT: u32 = 640;

/// What [`load`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoriesSummary {
    /// Stories inserted.
    pub stories: usize,
    /// Links to demo products.
    pub links: usize,
    /// True when they were there already (nothing written).
    pub already_loaded: bool,
}

/// Loads the demo stories in one transaction, after the catalog (their links name
/// demo products).
///
/// # Errors
/// The database refuses a statement, or an image cannot be encoded.
pub async fn load(client: &mut Client) -> anyhow::Result<StoriesSummary> {
    let tx = client.transaction().await?;
    tx.execute("select pg_advisory_xact_lock($1)", &[&0x6d61_6566_7374_6f72_i64])
        .await?;
    if tx
        .query_opt(
            "select from shop.story where platform = 'instagram' and external_id = 'demo-1'",
            &[],
        )
        .await?
        .is_some()
    {
        return Ok(StoriesSummary {
            stories: 0,
            links: 0,
            already_loaded: true,
        });
    }
    let currencies: Vec<(String, i32)> = tx
        .query("select code, exponent from api.story_currencies()", &[])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let currencies: Vec<Currency<'_>> = currencies
        .iter()
        .map(|(code, exponent)| Currency {
            code,
            exponent: (*exponent).max(0) as u32,
        })
        .collect();
    let products: Vec<i64> = tx
        .query(
            "select product_id from shop.product where sku_root like 'DEMO-%' and is_active order by sku_root limit 3",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let images =
        tokio::task::spawn_blocking(|| (0..CAPTIONS.len()).map(render).collect::<Result<Vec<_>, _>>())
            .await
            .context("rendering the demo stories")??;
    let mut links = 0;
    for (i, (caption, png)) in CAPTIONS.iter().zip(&images).enumerate() {
        let asset: serde_json::Value = tx
            .query_one(
                "select api.ingest_media(jsonb_build_object('filename', $1::text, 'mime_type', 'image/png',
                     'size_bytes', octet_length($2::bytea), 'sha256', encode(sha256($2::bytea), 'hex'),
                     'width', $3::integer, 'height', $4::integer), $2)",
                &[
                    &format!("demo-story-{}.png", i + 1),
                    png,
                    &(WIDTH as i32),
                    &(HEIGHT as i32),
                ],
            )
            .await
            .with_context(|| format!("storing demo story image {}", i + 1))?
            .get(0);
        let read = parse_caption(caption, &currencies);
        let item = json!({"id": format!("demo-{}", i + 1), "media_type": "IMAGE", "media_product_type": "STORY",
                          "caption": caption, "permalink": null});
        let media = json!({"asset_id": asset["asset_id"], "poster_asset_id": asset["asset_id"], "media_source": "demo"});
        let facts = json!({"title": read.title, "description": read.description, "hashtags": read.hashtags,
                           "price": read.price.map(|p| json!({"currency": p.currency, "amount": p.amount, "text": p.text}))});
        // Posted i × 7 hours ago: the newest still "on Instagram", the oldest not.
        let saved: serde_json::Value = tx
            .query_one(
                "select api.save_instagram_story('demo', $1 || jsonb_build_object('timestamp', now() - make_interval(hours => $4)), $2, $3)",
                &[&item, &media, &facts, &((i as i32) * 7)],
            )
            .await
            .with_context(|| format!("saving demo story {}", i + 1))?
            .get(0);
        if let Some(product) = products.get(i) {
            links += tx
                .execute(
                    "insert into shop.story_product_link (story_id, product_id) values ($1, $2) on conflict do nothing",
                    &[&saved["story_id"].as_i64().unwrap_or_default(), product],
                )
                .await?;
        }
    }
    tx.commit().await.context("committing the demo stories")?;
    Ok(StoriesSummary {
        stories: CAPTIONS.len(),
        links: links as usize,
        already_loaded: false,
    })
}

/// Story `index`'s image: a vertical gradient between two far-apart hues, with a pale
/// band across the lower third, as an RGB8 PNG.
fn render(index: usize) -> Result<Vec<u8>, png::EncodingError> {
    let hue = (index as i64 * 137 + 20) % 360;
    let (top, bottom) = (hsv(hue, 75, 95), hsv(hue + 60, 85, 40));
    let mut pixels = Vec::with_capacity((WIDTH * HEIGHT * 3) as usize);
    for y in 0..HEIGHT as i64 {
        let band = (HEIGHT as i64 * 62 / 100..HEIGHT as i64 * 74 / 100).contains(&y);
        let t = y * 255 / (HEIGHT as i64 - 1);
        let colour = if band {
            [245, 242, 235]
        } else {
            [
                lerp(top[0], bottom[0], t),
                lerp(top[1], bottom[1], t),
                lerp(top[2], bottom[2], t),
            ]
        };
        for _ in 0..WIDTH {
            pixels.extend_from_slice(&colour);
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    // Rows repeat: the Up filter turns them into zeros (as the catalog's images).
    encoder.set_compression(png::Compression::Fastest);
    encoder.set_filter(png::Filter::Up);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(out)
}

fn lerp(a: u8, b: u8, t: i64) -> u8 {
    (i64::from(a) + (i64::from(b) - i64::from(a)) * t / 255) as u8
}

/// HSV (degrees, percent, percent) to RGB.
fn hsv(hue: i64, saturation: i64, value: i64) -> [u8; 3] {
    let h = hue.rem_euclid(360);
    let c = value * saturation * 255 / 10_000;
    let x = c * (60 - ((h % 120) - 60).abs()) / 60;
    let m = value * 255 / 100 - c;
    let (r, g, b) = match h / 60 {
        0 => (c, x, 0),
        1 => (x, c, 0),
        2 => (0, c, x),
        3 => (0, x, c),
        4 => (x, 0, c),
        _ => (c, 0, x),
    };
    [(r + m) as u8, (g + m) as u8, (b + m) as u8]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_story_image_is_a_distinct_portrait_png() {
        let images: Vec<Vec<u8>> = (0..CAPTIONS.len()).map(|i| render(i).unwrap()).collect();
        for png in &images {
            assert_eq!(&png[1..4], b"PNG");
        }
        let mut unique = images.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), images.len());
    }
}
