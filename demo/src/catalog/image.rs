//! Generated product images: a colour gradient plus a geometric shape per product.

use super::data::*;

/// Renders the images of products `indexes`, spread over the available cores (the
/// debug build `make run` uses is slow at deflate and checksums).
pub(super) fn render_all(indexes: &[u32], size: u32) -> Result<Vec<Vec<u8>>, png::EncodingError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let chunk = indexes.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = indexes
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|&i| render_png(i, size)).collect::<Vec<_>>()))
            .collect();
        // A worker's panic is re-raised as is; spawn_blocking turns it into an error.
        workers
            .into_iter()
            .flat_map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// Draws product `index`'s image: a horizontal two-colour gradient (light to dark for
/// even products, dark to light for odd ones) with a pale shape on top, as an RGB8 PNG
/// of `size` x `size` pixels.
pub(super) fn render_png(index: u32, size: u32) -> Result<Vec<u8>, png::EncodingError> {
    let mut rng = Rng::new(0x1_0000 + u64::from(index));
    // Golden-angle hue steps: consecutive products get far-apart colours.
    let hue = (i64::from(index) * 137) % 360;
    let (light, dark) = (hsv(hue, 70, 92), hsv(hue + 50, 85, 45));
    let (from, to) = if index % 2 == 1 {
        (dark, light)
    } else {
        (light, dark)
    };
    let ink = hsv(hue + 180, 25, 98);
    let shape = Shape::ALL[index as usize % Shape::ALL.len()];

    let side = i64::from(size);
    let cx = side * (35 + rng.below(31) as i64) / 100;
    let cy = side * (35 + rng.below(31) as i64) / 100;
    let r = side * (18 + rng.below(13) as i64) / 100;

    // The gradient only depends on x, so one row is computed and copied: per-pixel
    // work is limited to the shape's bounding box.
    let gradient_row: Vec<u8> = (0..side)
        .flat_map(|x| {
            let t = x * 255 / (side - 1).max(1);
            [
                lerp(from[0], to[0], t),
                lerp(from[1], to[1], t),
                lerp(from[2], to[2], t),
            ]
        })
        .collect();
    let mut pixels = Vec::with_capacity(gradient_row.len() * size as usize);
    for y in 0..side {
        let row = pixels.len();
        pixels.extend_from_slice(&gradient_row);
        if (y - cy).abs() <= r {
            for x in (cx - r).max(0)..(cx + r + 1).min(side) {
                if shape.contains(x - cx, y - cy, r) {
                    let at = row + 3 * x as usize;
                    pixels[at..at + 3].copy_from_slice(&ink);
                }
            }
        }
    }

    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, size, size);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    // Rows repeat except across the shape, so the Up filter (which `Fastest` selects)
    // turns nearly every byte into zero and fast deflate packs an image into ~13 kB
    // in ~30 ms of a debug build; adaptive filtering or zlib levels cost 3-8x more.
    // set_compression also sets the filter, so Up is set after it, explicitly.
    encoder.set_compression(png::Compression::Fastest);
    encoder.set_filter(png::Filter::Up);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(out)
}

/// `a` to `b` at `t` / 255.
pub(super) fn lerp(a: u8, b: u8, t: i64) -> u8 {
    (i64::from(a) + (i64::from(b) - i64::from(a)) * t / 255) as u8
}

/// HSV (hue in degrees, saturation and value in percent) to RGB8.
pub(super) fn hsv(hue: i64, saturation: i64, value: i64) -> [u8; 3] {
    let hue = hue.rem_euclid(360);
    let v = value * 255 / 100;
    let c = v * saturation / 100;
    let x = c * (60 - (hue % 120 - 60).abs()) / 60;
    let m = v - c;
    let (r, g, b) = match hue / 60 {
        0 => (c, x, 0),
        1 => (x, c, 0),
        2 => (0, c, x),
        3 => (0, x, c),
        4 => (x, 0, c),
        _ => (c, 0, x),
    };
    [(r + m) as u8, (g + m) as u8, (b + m) as u8]
}
