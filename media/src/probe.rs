//! Decoding images with limits.
//!
//! A decompression bomb is a small file whose header claims a huge canvas (50000 ×
//! 50000 pixels is 7.5 GB of RGB). The header is read first and checked against
//! [`Limits`] before any pixel buffer exists, so such a file costs a few hundred bytes
//! of parsing. Files that pass are decoded completely: a truncated or corrupt image
//! is refused at upload rather than discovered by the worker.

use std::io::Cursor;

use image::{metadata::Orientation, DynamicImage, ImageDecoder, ImageFormat, ImageReader};

/// Bounds on what an upload may make the decoder allocate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest width or height, in pixels.
    pub max_side: u32,
    /// Largest width × height.
    pub max_pixels: u64,
}

impl Default for Limits {
    /// 16384 px per side and 50 megapixels: above any phone camera (a 48 MP sensor
    /// included), far below what would exhaust memory (50 MP RGBA = 200 MB, once).
    fn default() -> Self {
        Self {
            max_side: 16_384,
            max_pixels: 50_000_000,
        }
    }
}

/// Why an image is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// The header claims more pixels than the limits allow.
    #[error("the image is {width}×{height} pixels; at most {max_side} pixels per side and {max_pixels} pixels in all are accepted")]
    TooLarge {
        width: u32,
        height: u32,
        max_side: u32,
        max_pixels: u64,
    },
    /// Not decodable: truncated, corrupt, or an unsupported variant of the format.
    #[error("the image cannot be decoded: {0}")]
    Undecodable(String),
}

/// What an upload stores about an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageInfo {
    /// Width as displayed (after EXIF orientation).
    pub width: u32,
    /// Height as displayed.
    pub height: u32,
}

fn format_of(mime_type: &str) -> Option<ImageFormat> {
    ImageFormat::from_mime_type(mime_type)
}

/// Decodes `bytes` (of the sniffed `mime_type`) within `limits` and turns it upright
/// according to its EXIF orientation.
///
/// # Errors
/// [`ProbeError::TooLarge`] from the header alone; [`ProbeError::Undecodable`] for a
/// truncated or corrupt file.
pub fn decode_upright(bytes: &[u8], mime_type: &str, limits: Limits) -> Result<DynamicImage, ProbeError> {
    if mime_type == "image/jpeg" {
        return decode_jpeg_strict(bytes, limits);
    }
    let format = format_of(mime_type)
        .ok_or_else(|| ProbeError::Undecodable(format!("{mime_type} is not an image type")))?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_image_width = Some(limits.max_side);
    decoder_limits.max_image_height = Some(limits.max_side);
    // 4 bytes per pixel for the output plus the decoder's own buffers.
    decoder_limits.max_alloc = Some(limits.max_pixels * 4 + (64 << 20));
    reader.limits(decoder_limits);
    let mut decoder = reader.into_decoder().map_err(|e| match e {
        image::ImageError::Limits(_) => header_dimensions(bytes, format).map_or_else(
            || ProbeError::Undecodable(e.to_string()),
            |(w, h)| limits.too_large(w, h),
        ),
        other => ProbeError::Undecodable(other.to_string()),
    })?;
    let (width, height) = decoder.dimensions();
    limits.check(width, height)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut image =
        DynamicImage::from_decoder(decoder).map_err(|e| ProbeError::Undecodable(e.to_string()))?;
    image.apply_orientation(orientation);
    Ok(image)
}

/// JPEG through zune-jpeg directly, in strict mode: the `image` crate runs it lenient,
/// which turns a truncated upload into a grey-bottomed picture instead of an error.
/// CMYK and greyscale come out as RGB.
fn decode_jpeg_strict(bytes: &[u8], limits: Limits) -> Result<DynamicImage, ProbeError> {
    use zune_core::{bytestream::ZCursor, colorspace::ColorSpace, options::DecoderOptions};
    let undecodable = |e: zune_jpeg::errors::DecodeErrors| ProbeError::Undecodable(e.to_string());
    let options = DecoderOptions::default()
        .set_strict_mode(true)
        // Our own limits are checked below, with a better message.
        .set_max_width(usize::MAX)
        .set_max_height(usize::MAX)
        .jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder.decode_headers().map_err(undecodable)?;
    let info = decoder
        .info()
        .ok_or_else(|| ProbeError::Undecodable("no JPEG frame header".into()))?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    limits.check(width, height)?;
    let orientation = decoder
        .exif()
        .and_then(|exif| Orientation::from_exif_chunk(exif))
        .unwrap_or(Orientation::NoTransforms);
    let pixels = decoder.decode().map_err(undecodable)?;
    let rgb = image::RgbImage::from_raw(width, height, pixels)
        .ok_or_else(|| ProbeError::Undecodable("decoded JPEG is shorter than its header says".into()))?;
    let mut image = DynamicImage::ImageRgb8(rgb);
    image.apply_orientation(orientation);
    Ok(image)
}

impl Limits {
    fn too_large(self, width: u32, height: u32) -> ProbeError {
        ProbeError::TooLarge {
            width,
            height,
            max_side: self.max_side,
            max_pixels: self.max_pixels,
        }
    }

    /// Refuses a canvas over either limit, before any pixel buffer exists.
    fn check(self, width: u32, height: u32) -> Result<(), ProbeError> {
        if width > self.max_side
            || height > self.max_side
            || u64::from(width) * u64::from(height) > self.max_pixels
        {
            return Err(self.too_large(width, height));
        }
        Ok(())
    }
}

/// The dimensions a header claims, read without limits (for the error message only;
/// reading a header allocates nothing large).
fn header_dimensions(bytes: &[u8], format: ImageFormat) -> Option<(u32, u32)> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.no_limits();
    reader.into_dimensions().ok()
}

/// Checks an uploaded image: decodes it within `limits` and returns its upright size.
///
/// # Errors
/// As [`decode_upright`].
pub fn probe_image(bytes: &[u8], mime_type: &str, limits: Limits) -> Result<ImageInfo, ProbeError> {
    let image = decode_upright(bytes, mime_type, limits)?;
    Ok(ImageInfo {
        width: image.width(),
        height: image.height(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::ImageEncoder;

    use crate::fixtures::{jpeg, png_bomb};

    #[test]
    fn a_valid_jpeg_reports_its_size() {
        let info = probe_image(&jpeg(64, 48), "image/jpeg", Limits::default()).unwrap();
        assert_eq!(
            info,
            ImageInfo {
                width: 64,
                height: 48
            }
        );
    }

    #[test]
    fn a_decompression_bomb_is_refused_from_its_header() {
        let bomb = png_bomb(50_000, 50_000);
        assert!(bomb.len() < 100);
        let err = probe_image(&bomb, "image/png", Limits::default()).unwrap_err();
        assert_eq!(
            err,
            ProbeError::TooLarge {
                width: 50_000,
                height: 50_000,
                max_side: 16_384,
                max_pixels: 50_000_000
            }
        );
        // Within the side limit but over the pixel limit.
        let err = probe_image(&png_bomb(10_000, 10_000), "image/png", Limits::default()).unwrap_err();
        assert!(
            matches!(err, ProbeError::TooLarge { width: 10_000, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn a_truncated_jpeg_is_undecodable() {
        let whole = jpeg(256, 256);
        let truncated = &whole[..whole.len() / 2];
        assert!(matches!(
            probe_image(truncated, "image/jpeg", Limits::default()),
            Err(ProbeError::Undecodable(_))
        ));
    }

    #[test]
    fn a_truncated_png_is_undecodable() {
        let image = image::RgbImage::from_fn(200, 200, |x, y| {
            image::Rgb([(x * y % 251) as u8, 7, (x % 256) as u8])
        });
        let mut png = Vec::new();
        image::codecs::png::PngEncoder::new(&mut png)
            .write_image(image.as_raw(), 200, 200, image::ExtendedColorType::Rgb8)
            .unwrap();
        assert!(probe_image(&png, "image/png", Limits::default()).is_ok());
        assert!(matches!(
            probe_image(&png[..png.len() * 2 / 3], "image/png", Limits::default()),
            Err(ProbeError::Undecodable(_))
        ));
    }

    #[test]
    fn exif_orientation_is_applied() {
        let image = decode_upright(
            &crate::fixtures::jpeg_exif_rotated(64, 32),
            "image/jpeg",
            Limits::default(),
        )
        .unwrap();
        assert_eq!((image.width(), image.height()), (32, 64));
        // Stored top-left red quarter, rotated 90° clockwise, is displayed top-right.
        let rgb = image.to_rgb8();
        let [r, g, _] = rgb.get_pixel(28, 4).0;
        assert!(r > 180 && g < 70, "top right should be red, got {r},{g}");
        let [r, ..] = rgb.get_pixel(4, 4).0;
        assert!(r < 160, "top left should be grey");
    }

    #[test]
    fn cmyk_jpeg_decodes_to_rgb() {
        let image = decode_upright(
            &crate::fixtures::jpeg_cmyk(40, 30),
            "image/jpeg",
            Limits::default(),
        )
        .unwrap();
        assert_eq!((image.width(), image.height()), (40, 30));
        let [r, g, b] = image.to_rgb8().get_pixel(20, 15).0;
        assert!(r < 80 && g > 150 && b > 150, "cyan expected, got {r},{g},{b}");
    }
}
