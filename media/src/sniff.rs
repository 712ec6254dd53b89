//! MIME sniffing from magic bytes (the `infer` crate), against maef's allow-list.

/// How many leading bytes [`sniff`] needs to decide (more are ignored).
/// (WebM is recognised by its DocType within the first 256 bytes.)
pub const SNIFF_BYTES: usize = 512;

/// Whether an allowed type is decoded as an image or stored as a video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaClass {
    /// JPEG, PNG, WebP, GIF: decoded at upload, derivatives made by the worker.
    Image,
    /// MP4, WebM, QuickTime: stored as is.
    Video,
}

/// An allowed type found in the leading bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sniffed {
    /// The MIME type served back in `Content-Type`.
    pub mime_type: &'static str,
    /// Image or video.
    pub class: MediaClass,
}

/// The allow-list: MIME type and class.
pub const ALLOWED: &[(&str, MediaClass)] = &[
    ("image/jpeg", MediaClass::Image),
    ("image/png", MediaClass::Image),
    ("image/webp", MediaClass::Image),
    ("image/gif", MediaClass::Image),
    ("video/mp4", MediaClass::Video),
    ("video/webm", MediaClass::Video),
    ("video/quicktime", MediaClass::Video),
];

/// The allowed type of `head` (the file's first bytes; [`SNIFF_BYTES`] are enough), or
/// `None` for anything else — including text, HTML or SVG renamed `.jpg`.
pub fn sniff(head: &[u8]) -> Option<Sniffed> {
    let kind = infer::get(head)?;
    // infer names MP4 variants by brand (e.g. M4V is video/x-m4v); M4V is MP4.
    let mime = match kind.mime_type() {
        "video/x-m4v" => "video/mp4",
        other => other,
    };
    ALLOWED
        .iter()
        .find(|(allowed, _)| *allowed == mime)
        .map(|&(mime_type, class)| Sniffed { mime_type, class })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_decide_not_names() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(sniff(png).unwrap().mime_type, "image/png");
        assert_eq!(
            sniff(b"\xff\xd8\xff\xe0\0\x10JFIF\0").unwrap().mime_type,
            "image/jpeg"
        );
        assert_eq!(sniff(b"GIF89a\x01\0\x01\0").unwrap().mime_type, "image/gif");
        assert_eq!(sniff(b"RIFF\x24\0\0\0WEBPVP8 ").unwrap().mime_type, "image/webp");
        let mp4 = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2";
        assert_eq!(
            sniff(mp4).unwrap(),
            Sniffed {
                mime_type: "video/mp4",
                class: MediaClass::Video
            }
        );
        let mov = b"\0\0\0\x14ftypqt  \0\0\x02\0qt  ";
        assert_eq!(sniff(mov).unwrap().mime_type, "video/quicktime");
        let mut webm = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm".to_vec();
        webm.resize(SNIFF_BYTES, 0);
        assert_eq!(sniff(&webm).unwrap().mime_type, "video/webm");
    }

    #[test]
    fn everything_else_is_refused() {
        assert_eq!(sniff(b"hello, I am a text file named photo.jpg"), None);
        assert_eq!(sniff(b"<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>"), None);
        assert_eq!(sniff(b"%PDF-1.7\n"), None);
        assert_eq!(sniff(b""), None);
    }
}
