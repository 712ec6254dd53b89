//! What an MP4 or QuickTime file says about itself, when it says it early.
//!
//! The `moov` box holds the duration (`mvhd`) and each track's display size (`tkhd`).
//! Files prepared for streaming ("fast start", what phones and most encoders write for
//! the web) put it before the media data, so it is in the bytes the upload has buffered
//! anyway; when it is at the end, or the file is WebM (EBML, not boxes), nothing is
//! reported — finding it would mean reading the whole video again. No decoding: the
//! boxes are read as bytes, with every length checked against the buffer.

/// Size and length of a video.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoInfo {
    /// Display width of the first visual track, in pixels.
    pub width: Option<u32>,
    /// Display height of the first visual track.
    pub height: Option<u32>,
    /// Duration in seconds (movie header's duration / timescale).
    pub duration_sec: Option<f64>,
}

/// Reads `moov` from the start of an MP4/QuickTime file (`head` may be a prefix).
/// `None` when there is no complete `moov` in `head`.
pub fn probe_mp4(head: &[u8]) -> Option<VideoInfo> {
    let moov = boxes(head).find(|(kind, _)| kind == b"moov")?.1;
    let mut info = VideoInfo {
        width: None,
        height: None,
        duration_sec: None,
    };
    for (kind, body) in boxes(moov) {
        match &kind {
            b"mvhd" => info.duration_sec = movie_duration(body),
            b"trak" if info.width.is_none() => {
                if let Some((w, h)) = boxes(body)
                    .find(|(k, _)| k == b"tkhd")
                    .and_then(|(_, b)| track_size(b))
                {
                    info.width = Some(w);
                    info.height = Some(h);
                }
            }
            _ => {}
        }
    }
    Some(info)
}

/// The complete boxes of `bytes`, in order: (type, body). Stops at the first box that
/// is truncated or malformed.
fn boxes(bytes: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        let size = u32::from_be_bytes(rest.get(0..4)?.try_into().ok()?) as u64;
        let kind: [u8; 4] = rest.get(4..8)?.try_into().ok()?;
        let (header, size) = match size {
            1 => (16, u64::from_be_bytes(rest.get(8..16)?.try_into().ok()?)),
            0 => (8, rest.len() as u64), // to the end of the file
            n => (8, n),
        };
        if size < header || size > rest.len() as u64 {
            return None;
        }
        let size = size as usize;
        let body = &rest[header as usize..size];
        rest = &rest[size..];
        Some((kind, body))
    })
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// `mvhd`: version/flags, then (v0) 32-bit or (v1) 64-bit times, timescale, duration.
fn movie_duration(body: &[u8]) -> Option<f64> {
    let (timescale, duration) = match body.first()? {
        0 => (be_u32(body, 12)?, u64::from(be_u32(body, 16)?)),
        1 => (be_u32(body, 20)?, be_u64(body, 24)?),
        _ => return None,
    };
    (timescale > 0 && duration != u64::from(u32::MAX) && duration != u64::MAX)
        .then(|| duration as f64 / f64::from(timescale))
}

/// `tkhd`: the 16.16 fixed-point width and height at its end; audio tracks have 0×0.
fn track_size(body: &[u8]) -> Option<(u32, u32)> {
    let at = match body.first()? {
        0 => 76,
        1 => 88,
        _ => return None,
    };
    let (w, h) = (be_u32(body, at)? >> 16, be_u32(body, at + 4)? >> 16);
    (w > 0 && h > 0).then_some((w, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_start_files_report_size_and_duration() {
        let file = crate::fixtures::mp4_with_moov(1920, 1080, 12.5, 1000);
        let info = probe_mp4(&file).unwrap();
        assert_eq!((info.width, info.height), (Some(1920), Some(1080)));
        assert_eq!(info.duration_sec, Some(12.5));
        // A prefix that holds the moov is enough.
        assert_eq!(probe_mp4(&file[..file.len() - 500]), Some(info));
    }

    #[test]
    fn no_moov_in_the_prefix_reports_nothing() {
        assert_eq!(probe_mp4(&crate::fixtures::mp4(5000)), None);
        let file = crate::fixtures::mp4_with_moov(640, 480, 3.0, 10);
        assert_eq!(probe_mp4(&file[..40]), None, "a truncated moov is not read");
        assert_eq!(probe_mp4(b""), None);
        assert_eq!(probe_mp4(&[0xff; 64]), None);
    }
}
