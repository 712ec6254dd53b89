//! Generated test images (feature `fixtures`): real encoder output of the formats and
//! oddities the upload path must handle, small enough to build in every test.

use image::{ImageEncoder, RgbImage, RgbaImage};

/// A gradient, so resizing and cropping mistakes show in pixel values.
pub fn gradient(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([
            (x * 255 / width.max(1)) as u8,
            (y * 255 / height.max(1)) as u8,
            96,
        ])
    })
}

/// `width`×`height` JPEG.
pub fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let image = gradient(width, height);
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .write_image(image.as_raw(), width, height, image::ExtendedColorType::Rgb8)
        .expect("jpeg");
    out
}

/// `width`×`height` PNG with an alpha channel.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let image = RgbaImage::from_fn(width, height, |x, y| {
        image::Rgba([(x % 256) as u8, (y % 256) as u8, 200, 255])
    });
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(image.as_raw(), width, height, image::ExtendedColorType::Rgba8)
        .expect("png");
    out
}

/// `width`×`height` lossless WebP.
pub fn webp(width: u32, height: u32) -> Vec<u8> {
    let image = RgbaImage::from_fn(width, height, |x, _| image::Rgba([(x % 256) as u8, 40, 90, 255]));
    let mut out = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut out)
        .write_image(image.as_raw(), width, height, image::ExtendedColorType::Rgba8)
        .expect("webp");
    out
}

/// `width`×`height` GIF.
pub fn gif(width: u32, height: u32) -> Vec<u8> {
    let image = RgbaImage::from_fn(width, height, |x, y| {
        image::Rgba([((x + y) % 256) as u8, 0, 0, 255])
    });
    let mut out = Vec::new();
    image::codecs::gif::GifEncoder::new(&mut out)
        .encode(image.as_raw(), width, height, image::ExtendedColorType::Rgba8)
        .expect("gif");
    out
}

/// A JPEG stored `width`×`height` whose EXIF says "rotate 90° clockwise to display"
/// (orientation 6, as phones write portrait photos): displayed `height`×`width`.
/// The stored image's top-left quarter is red, the rest grey, so a test can check that
/// the upright derivative has red at the top right.
pub fn jpeg_exif_rotated(width: u16, height: u16) -> Vec<u8> {
    let (w, h) = (u32::from(width), u32::from(height));
    let image = RgbImage::from_fn(w, h, |x, y| {
        if x < w / 2 && y < h / 2 {
            image::Rgb([220, 20, 20])
        } else {
            image::Rgb([128, 128, 128])
        }
    });
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 90);
    encoder.add_app_segment(1, exif_orientation(6)).expect("app1");
    encoder
        .encode(image.as_raw(), width, height, jpeg_encoder::ColorType::Rgb)
        .expect("jpeg");
    out
}

/// An APP1 Exif payload holding only an Orientation tag (big-endian TIFF).
fn exif_orientation(orientation: u16) -> Vec<u8> {
    let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08".to_vec();
    exif.extend_from_slice(&1u16.to_be_bytes()); // one IFD entry
    exif.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    exif.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    exif.extend_from_slice(&1u32.to_be_bytes()); // count
    exif.extend_from_slice(&orientation.to_be_bytes());
    exif.extend_from_slice(&[0, 0]); // value padding
    exif.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    exif
}

/// A CMYK JPEG (as print workflows export), uniformly cyan.
pub fn jpeg_cmyk(width: u16, height: u16) -> Vec<u8> {
    let pixels: Vec<u8> = (0..usize::from(width) * usize::from(height))
        .flat_map(|_| [255u8, 0, 0, 0])
        .collect();
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 90)
        .encode(&pixels, width, height, jpeg_encoder::ColorType::Cmyk)
        .expect("cmyk jpeg");
    out
}

/// A PNG header claiming `width`×`height` followed by a valid empty zlib stream: a
/// few dozen bytes that would decode to gigabytes (a decompression bomb).
pub fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc_input = kind.to_vec();
        crc_input.extend_from_slice(data);
        out.extend_from_slice(&crc_input);
        out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    }
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no filter, no interlace
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

/// CRC-32 as PNG uses it, bit by bit: a fixture helper, speed does not matter.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The start of an MP4 file (an `ftyp` box, brand isom) followed by `len` bytes of
/// payload: sniffed as video/mp4, which is all maef checks of a video.
pub fn mp4(len: usize) -> Vec<u8> {
    let mut out = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2".to_vec();
    out.extend((0..len).map(|i| (i * 31 % 251) as u8));
    out
}

/// A "fast start" MP4: `ftyp`, a `moov` with a movie header (`duration_sec` at a
/// timescale of 1000) and one video track header (`width`×`height`), then an `mdat` of
/// `payload` bytes.
pub fn mp4_with_moov(width: u32, height: u32, duration_sec: f64, payload: usize) -> Vec<u8> {
    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }
    let mut mvhd = vec![0u8; 100]; // version 0
    mvhd[12..16].copy_from_slice(&1000u32.to_be_bytes());
    mvhd[16..20].copy_from_slice(&((duration_sec * 1000.0).round() as u32).to_be_bytes());
    let mut tkhd = vec![0u8; 84]; // version 0
    tkhd[76..80].copy_from_slice(&(width << 16).to_be_bytes());
    tkhd[80..84].copy_from_slice(&(height << 16).to_be_bytes());
    let trak = boxed(b"trak", &boxed(b"tkhd", &tkhd));
    let mut moov_body = boxed(b"mvhd", &mvhd);
    moov_body.extend(trak);
    let mut out = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2".to_vec();
    out.extend(boxed(b"moov", &moov_body));
    out.extend(boxed(
        b"mdat",
        &(0..payload).map(|i| (i % 251) as u8).collect::<Vec<u8>>(),
    ));
    out
}
