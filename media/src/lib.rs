//! maef media: what the API and the worker need to know about uploaded bytes.
//!
//! - [`sniff`]: the MIME type from the first bytes (never the client's word), against
//!   the allow-list.
//! - [`probe`]: decodes an image with limits (dimensions, pixels, allocation), so a
//!   decompression bomb or a truncated file is refused before it costs anything, and
//!   returns its upright dimensions.
//! - [`video`]: size and duration of MP4/QuickTime files whose `moov` comes first.
//! - [`derive`]: the derivatives the worker stores (320 px and 1024 px JPEGs, a WebP),
//!   upright per EXIF, resized with `fast_image_resize`.
//!
//! Pure functions over byte slices: no I/O, no database, so they are tested with
//! generated images and called from `spawn_blocking` by their users.

pub mod derive;
#[cfg(feature = "fixtures")]
pub mod fixtures;
pub mod probe;
pub mod sniff;
pub mod video;

pub use derive::{derive, Derivative, DerivativeKind};
pub use probe::{probe_image, ImageInfo, ProbeError};
pub use sniff::{sniff, MediaClass, Sniffed};
pub use video::{probe_mp4, VideoInfo};

/// Lower-case hex sha256 of bytes (the asset's identity and strong ETag).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}
