//! Derivatives of an image: what the storefront shows instead of the original.
//!
//! - `thumb`: fits in 320 × 320, JPEG quality 80 (grids, cart lines);
//! - `medium`: fits in 1024 × 1024, JPEG quality 82 (product page);
//! - `webp`: fits in 1024 × 1024, lossy WebP quality 80, alpha kept (browsers that
//!   take WebP get ~30 % fewer bytes than the medium JPEG).
//!
//! Never upscaled; upright per EXIF (the pixels are rotated, so no viewer has to read
//! the tag). Transparent images are flattened onto white for JPEG. Resizing is
//! `fast_image_resize` (SIMD convolution, Lanczos3); JPEG encoding is the `image`
//! crate's, WebP is libwebp's (the `image` crate only writes lossless WebP, which is
//! larger than the JPEG for photos).

use fast_image_resize::{images::Image, FilterType, IntoImageView, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, ImageEncoder, RgbImage, RgbaImage};

use crate::probe::{decode_upright, Limits, ProbeError};

/// A derivative kind (`shop.media_derivative.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DerivativeKind {
    /// 320 px JPEG.
    Thumb,
    /// 1024 px JPEG.
    Medium,
    /// 1024 px WebP.
    Webp,
}

impl DerivativeKind {
    /// Every kind, in the order they are made.
    pub const ALL: [DerivativeKind; 3] = [
        DerivativeKind::Medium,
        DerivativeKind::Webp,
        DerivativeKind::Thumb,
    ];

    /// The name used in URLs (`?variant=`) and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            DerivativeKind::Thumb => "thumb",
            DerivativeKind::Medium => "medium",
            DerivativeKind::Webp => "webp",
        }
    }

    /// The kind of a name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    fn max_side(self) -> u32 {
        match self {
            DerivativeKind::Thumb => 320,
            DerivativeKind::Medium | DerivativeKind::Webp => 1024,
        }
    }
}

/// One encoded derivative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derivative {
    /// Its kind.
    pub kind: DerivativeKind,
    /// `image/jpeg` or `image/webp`.
    pub mime_type: &'static str,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The encoded bytes.
    pub bytes: Vec<u8>,
    /// Lower-case hex sha256 of `bytes` (its ETag).
    pub sha256: String,
}

/// Makes the requested derivatives of an image.
///
/// # Errors
/// The original cannot be decoded within `limits` (see [`decode_upright`]), or an
/// encoder failed.
pub fn derive(
    bytes: &[u8],
    mime_type: &str,
    limits: Limits,
    kinds: &[DerivativeKind],
) -> Result<Vec<Derivative>, ProbeError> {
    let original = normalise(decode_upright(bytes, mime_type, limits)?);
    let mut resizer = Resizer::new();
    // The 1024 px image serves both medium and webp, and is the source of the thumb
    // (resizing 1024 → 320 instead of 12 MP → 320 costs a fraction).
    let large = fit(&mut resizer, &original, 1024)?;
    let mut out = Vec::with_capacity(kinds.len());
    for &kind in DerivativeKind::ALL.iter().filter(|k| kinds.contains(k)) {
        let source = match kind.max_side() {
            1024 => large.clone(),
            side => fit(&mut resizer, &large, side)?,
        };
        let (mime_type, encoded) = match kind {
            DerivativeKind::Thumb => ("image/jpeg", encode_jpeg(&source, 80)?),
            DerivativeKind::Medium => ("image/jpeg", encode_jpeg(&source, 82)?),
            DerivativeKind::Webp => ("image/webp", encode_webp(&source, 80.0)?),
        };
        out.push(Derivative {
            kind,
            mime_type,
            width: source.width(),
            height: source.height(),
            sha256: crate::sha256_hex(&encoded),
            bytes: encoded,
        });
    }
    Ok(out)
}

/// 8-bit RGB, or RGBA when the image has transparency: the two layouts every step
/// below handles.
fn normalise(image: DynamicImage) -> DynamicImage {
    if image.color().has_alpha() {
        DynamicImage::ImageRgba8(image.into_rgba8())
    } else {
        DynamicImage::ImageRgb8(image.into_rgb8())
    }
}

/// `image` scaled to fit in `side` × `side`, keeping its aspect ratio; unchanged when
/// it already fits.
fn fit(resizer: &mut Resizer, image: &DynamicImage, side: u32) -> Result<DynamicImage, ProbeError> {
    let (w, h) = (image.width(), image.height());
    if w <= side && h <= side {
        return Ok(image.clone());
    }
    let scale = f64::from(side) / f64::from(w.max(h));
    let dw = ((f64::from(w) * scale).round() as u32).max(1);
    let dh = ((f64::from(h) * scale).round() as u32).max(1);
    let pixel_type = image
        .pixel_type()
        .ok_or_else(|| ProbeError::Undecodable("unsupported pixel layout".into()))?;
    let mut dst = Image::new(dw, dh, pixel_type);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    resizer
        .resize(image, &mut dst, &options)
        .map_err(|e| ProbeError::Undecodable(format!("resize: {e}")))?;
    let raw = dst.into_vec();
    let resized = if image.color().has_alpha() {
        RgbaImage::from_raw(dw, dh, raw).map(DynamicImage::ImageRgba8)
    } else {
        RgbImage::from_raw(dw, dh, raw).map(DynamicImage::ImageRgb8)
    };
    resized.ok_or_else(|| ProbeError::Undecodable("resize produced a short buffer".into()))
}

/// JPEG has no alpha: transparent pixels are composed over white.
fn flatten_on_white(image: &DynamicImage) -> RgbImage {
    match image {
        DynamicImage::ImageRgba8(rgba) => RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
            let [r, g, b, a] = rgba.get_pixel(x, y).0;
            let over = |c: u8| ((u32::from(c) * u32::from(a) + 255 * (255 - u32::from(a)) + 127) / 255) as u8;
            image::Rgb([over(r), over(g), over(b)])
        }),
        other => other.to_rgb8(),
    }
}

fn encode_jpeg(image: &DynamicImage, quality: u8) -> Result<Vec<u8>, ProbeError> {
    let rgb = flatten_on_white(image);
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .write_image(
            rgb.as_raw(),
            rgb.width(),
            rgb.height(),
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| ProbeError::Undecodable(format!("jpeg encoder: {e}")))?;
    Ok(out)
}

fn encode_webp(image: &DynamicImage, quality: f32) -> Result<Vec<u8>, ProbeError> {
    // normalise() leaves RGB8 or RGBA8 only; libwebp cannot fail on either.
    let encoded = match image {
        DynamicImage::ImageRgba8(rgba) => {
            webp::Encoder::from_rgba(rgba.as_raw(), rgba.width(), rgba.height()).encode(quality)
        }
        other => {
            let rgb = other.to_rgb8();
            webp::Encoder::from_rgb(rgb.as_raw(), rgb.width(), rgb.height()).encode(quality)
        }
    };
    Ok(encoded.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::jpeg;

    fn decoded(d: &Derivative) -> DynamicImage {
        image::load_from_memory(&d.bytes).unwrap()
    }

    #[test]
    fn a_large_photo_gets_three_derivatives_within_their_boxes() {
        let original = jpeg(2000, 1000);
        let out = derive(&original, "image/jpeg", Limits::default(), &DerivativeKind::ALL).unwrap();
        let by_kind = |k| out.iter().find(|d| d.kind == k).unwrap();
        let thumb = by_kind(DerivativeKind::Thumb);
        assert_eq!(
            (thumb.width, thumb.height, thumb.mime_type),
            (320, 160, "image/jpeg")
        );
        let medium = by_kind(DerivativeKind::Medium);
        assert_eq!((medium.width, medium.height), (1024, 512));
        let webp = by_kind(DerivativeKind::Webp);
        assert_eq!(
            (webp.width, webp.height, webp.mime_type),
            (1024, 512, "image/webp")
        );
        for d in &out {
            let image = decoded(d);
            assert_eq!(
                (image.width(), image.height()),
                (d.width, d.height),
                "{:?}",
                d.kind
            );
            assert_eq!(d.sha256, crate::sha256_hex(&d.bytes));
        }
    }

    #[test]
    fn small_images_are_not_upscaled() {
        let out = derive(
            &jpeg(200, 100),
            "image/jpeg",
            Limits::default(),
            &[DerivativeKind::Medium],
        )
        .unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].width, out[0].height), (200, 100));
    }

    #[test]
    fn transparency_becomes_white_in_jpeg_and_stays_in_webp() {
        let rgba = RgbaImage::from_pixel(40, 40, image::Rgba([255, 0, 0, 0]));
        let mut png = Vec::new();
        image::codecs::png::PngEncoder::new(&mut png)
            .write_image(rgba.as_raw(), 40, 40, image::ExtendedColorType::Rgba8)
            .unwrap();
        let out = derive(&png, "image/png", Limits::default(), &DerivativeKind::ALL).unwrap();
        let thumb = decoded(out.iter().find(|d| d.kind == DerivativeKind::Thumb).unwrap()).to_rgb8();
        let [r, g, b] = thumb.get_pixel(20, 20).0;
        assert!(
            r > 245 && g > 245 && b > 245,
            "transparent red over white is white, got {r},{g},{b}"
        );
        let webp = decoded(out.iter().find(|d| d.kind == DerivativeKind::Webp).unwrap());
        assert!(webp.color().has_alpha());
    }

    #[test]
    fn kind_names_round_trip() {
        for kind in DerivativeKind::ALL {
            assert_eq!(DerivativeKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(DerivativeKind::parse("huge"), None);
    }
}
