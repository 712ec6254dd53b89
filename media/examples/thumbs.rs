//! Thumbnail throughput on 12-megapixel JPEGs, for `scripts/bench-media.sh`.
//!
//! `thumbs generate DIR N`: writes N 4000×3000 photo-like JPEGs (quality 90) into DIR.
//! `thumbs run DIR THREADS`: makes the derivatives of every JPEG in DIR with THREADS
//! threads (as the worker does, one image per core) and prints two lines:
//! `thumb_only <images/s>` (the 320 px thumbnail alone, like vipsthumbnail) and
//! `all_three <images/s>` (thumb + medium + webp, what a `make_derivatives` job does).

use std::{path::PathBuf, sync::Mutex, time::Instant};

use image::{ImageEncoder, RgbImage};
use maef_media::{derive, probe::Limits, DerivativeKind};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match (args.get(1).map(String::as_str), args.get(2), args.get(3)) {
        (Some("generate"), Some(dir), Some(n)) => generate(dir.into(), n.parse().expect("N")),
        (Some("run"), Some(dir), Some(threads)) => {
            let files = jpegs(dir.into());
            let threads: usize = threads.parse().expect("THREADS");
            println!("thumb_only {:.2}", run(&files, threads, &[DerivativeKind::Thumb]));
            println!("all_three {:.2}", run(&files, threads, &DerivativeKind::ALL));
        }
        _ => {
            eprintln!("usage: thumbs generate DIR N | thumbs run DIR THREADS");
            std::process::exit(2);
        }
    }
}

/// Smooth gradients plus per-pixel noise: compresses like a photo (a few MB at q90),
/// unlike a flat test pattern.
fn generate(dir: PathBuf, n: usize) {
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..n {
        let path = dir.join(format!("photo-{i}.jpg"));
        if path.exists() {
            continue;
        }
        let mut seed = 0x9e37_79b9_u32.wrapping_mul(i as u32 + 1);
        let image = RgbImage::from_fn(4000, 3000, |x, y| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let noise = (seed % 24) as i32 - 12;
            let c = |v: u32| (v as i32 + noise).clamp(0, 255) as u8;
            image::Rgb([
                c((x * 255 / 4000 + i as u32 * 40) % 256),
                c(y * 255 / 3000),
                c(((x + y) / 30) % 256),
            ])
        });
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
            .write_image(image.as_raw(), 4000, 3000, image::ExtendedColorType::Rgb8)
            .unwrap();
        std::fs::write(path, out).unwrap();
    }
}

fn jpegs(dir: PathBuf) -> Vec<Vec<u8>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg") && !p.to_string_lossy().contains("_vips"))
        .collect();
    paths.sort();
    paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// Images per second over all files, `threads` at a time.
fn run(files: &[Vec<u8>], threads: usize, kinds: &[DerivativeKind]) -> f64 {
    let next = Mutex::new(0usize);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap();
                    *n += 1;
                    *n - 1
                };
                let Some(bytes) = files.get(i) else { break };
                let out = derive(bytes, "image/jpeg", Limits::default(), kinds).expect("derive");
                assert_eq!(out.len(), kinds.len());
            });
        }
    });
    files.len() as f64 / start.elapsed().as_secs_f64()
}
