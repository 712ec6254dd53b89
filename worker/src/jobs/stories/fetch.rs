//! One media download, as the upload route does it but from a URL: streamed, the type
//! sniffed from the first bytes (never the server's word), the limit of that type
//! checked on every chunk (and against `Content-Length` before reading), the sha256
//! computed on the fly, all under one timeout.
//!
//! - An image is buffered (at most `MEDIA_MAX_IMAGE_BYTES`) and decoded with limits
//!   off the async threads, one per core, before anything is written: it is stored as
//!   one `bytea` by the story's transaction.
//! - A video is written chunk by chunk into a large object inside the story's
//!   transaction ([`VideoStream::store`]): memory stays at one chunk whatever its size.
//!
//! Refusals that another attempt would repeat (over the limit, a type outside the
//! allow-list, an undecodable image) are [`Fetched::Refused`]: the story is kept with
//! the reason. Anything else (network, timeout, a CDN error status) is an `Err`: the
//! story is left for the next pull.

use std::time::Duration;

use maef_media::{sniff, MediaClass, Sniffed};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::{db_error, Runtime};

/// Bytes of a video kept for `probe_mp4` (a fast-start `moov` is near the start).
const VIDEO_PROBE_BYTES: usize = 2 << 20;

/// A download that began.
pub enum Fetched {
    /// A probed image, in memory: `(bytes, meta for api.ingest_media)`.
    Image(Vec<u8>, Value),
    /// A video, to be streamed into the story's transaction.
    Video(VideoStream),
    /// Refused for good, with the reason.
    Refused(String),
}

/// A video response being read.
pub struct VideoStream {
    response: reqwest::Response,
    head: Vec<u8>,
    sniffed: Sniffed,
    deadline: Instant,
    limit: u64,
    filename: String,
}

/// Starts downloading `url`, reads enough to sniff it, and for an image reads and
/// probes the rest.
///
/// # Errors
/// A transient failure (transport, timeout, non-2xx status).
pub async fn fetch(rt: &Runtime, url: &str, filename: &str) -> Result<Fetched, String> {
    let deadline = Instant::now() + rt.config.download_timeout;
    let largest = rt.limits.max_image_bytes.max(rt.limits.max_video_bytes);
    let mut response = tokio::time::timeout_at(deadline, rt.graph.http().get(url).send())
        .await
        .map_err(|_| timed_out(rt.config.download_timeout))?
        .map_err(|e| format!("media download: {}", e.without_url()))?;
    if !response.status().is_success() {
        return Err(format!("media download: HTTP {}", response.status()));
    }
    if let Some(length) = response.content_length().filter(|l| *l > largest) {
        return Ok(Fetched::Refused(format!(
            "the file is {length} bytes; at most {largest} are accepted"
        )));
    }
    let mut head = Vec::new();
    while head.len() < maef_media::sniff::SNIFF_BYTES {
        match next_chunk(&mut response, deadline, rt.config.download_timeout).await? {
            Some(chunk) => head.extend_from_slice(&chunk),
            None => break,
        }
    }
    if head.is_empty() {
        return Ok(Fetched::Refused("the file is empty".into()));
    }
    let Some(sniffed) = sniff(&head) else {
        return Ok(Fetched::Refused(
            "the file is not an allowed image or video type".into(),
        ));
    };
    let filename = format!("{filename}.{}", extension(sniffed.mime_type));
    match sniffed.class {
        MediaClass::Video => Ok(Fetched::Video(VideoStream {
            response,
            head,
            sniffed,
            deadline,
            limit: rt.limits.max_video_bytes,
            filename,
        })),
        MediaClass::Image => {
            let limit = rt.limits.max_image_bytes;
            let mut bytes = head;
            if bytes.len() as u64 > limit {
                return Ok(Fetched::Refused(too_large(sniffed, limit)));
            }
            while let Some(chunk) = next_chunk(&mut response, deadline, rt.config.download_timeout).await? {
                bytes.extend_from_slice(&chunk);
                if bytes.len() as u64 > limit {
                    return Ok(Fetched::Refused(too_large(sniffed, limit)));
                }
            }
            probe_image(bytes, sniffed, filename).await
        }
    }
}

/// Decodes an image with limits (CPU-bound: off the async threads, one per core).
async fn probe_image(bytes: Vec<u8>, sniffed: Sniffed, filename: String) -> Result<Fetched, String> {
    let _permit = crate::jobs::media::cpu_permits()
        .acquire()
        .await
        .map_err(|e| e.to_string())?;
    let (probed, bytes) = tokio::task::spawn_blocking(move || {
        let probed = maef_media::probe_image(&bytes, sniffed.mime_type, maef_media::probe::Limits::default());
        (probed, bytes)
    })
    .await
    .map_err(|e| format!("image probe panicked: {e}"))?;
    match probed {
        Ok(info) => {
            let meta = json!({
                "filename": filename, "mime_type": sniffed.mime_type, "size_bytes": bytes.len(),
                "sha256": maef_media::sha256_hex(&bytes), "width": info.width, "height": info.height,
                "duration_sec": null,
            });
            Ok(Fetched::Image(bytes, meta))
        }
        Err(e) => Ok(Fetched::Refused(e.to_string())),
    }
}

impl VideoStream {
    /// Streams the video into a large object of `tx` and stores it as an asset
    /// (`api.ingest_media`, sha256 dedupe). `Ok(Err(reason))`: refused for good (over
    /// the limit); the caller rolls the transaction back.
    ///
    /// # Errors
    /// A transient download failure or a database error.
    pub async fn store(
        mut self,
        tx: &deadpool_postgres::Transaction<'_>,
        chunk_bytes: usize,
        timeout: Duration,
    ) -> Result<Result<Value, String>, String> {
        tx.query_one("select api.ingest_media_begin()", &[])
            .await
            .map_err(|e| db_error("ingest_media_begin", &e))?;
        let write = tx
            .prepare_cached("select api.ingest_media_write($1)")
            .await
            .map_err(|e| db_error("ingest_media_write", &e))?;
        let mut hasher = Sha256::new();
        let mut total = self.head.len() as u64;
        hasher.update(&self.head);
        let mut probe_head = self.head.clone();
        let mut pending = std::mem::take(&mut self.head);
        loop {
            let chunk = next_chunk(&mut self.response, self.deadline, timeout).await?;
            let last = chunk.is_none();
            if let Some(chunk) = chunk {
                total += chunk.len() as u64;
                if total > self.limit {
                    return Ok(Err(too_large(self.sniffed, self.limit)));
                }
                hasher.update(&chunk);
                if probe_head.len() < VIDEO_PROBE_BYTES {
                    probe_head
                        .extend_from_slice(&chunk[..chunk.len().min(VIDEO_PROBE_BYTES - probe_head.len())]);
                }
                pending.extend_from_slice(&chunk);
            }
            // Whole chunks while streaming (a few large writes, not one per packet),
            // the remainder at the end.
            while pending.len() >= chunk_bytes || (last && !pending.is_empty()) {
                let n = pending.len().min(chunk_bytes);
                tx.query_one(&write, &[&&pending[..n]])
                    .await
                    .map_err(|e| db_error("ingest_media_write", &e))?;
                pending.drain(..n);
            }
            if last {
                break;
            }
        }
        let video = match self.sniffed.mime_type {
            "video/mp4" | "video/quicktime" => maef_media::probe_mp4(&probe_head),
            _ => None,
        };
        let meta = json!({
            "filename": self.filename, "mime_type": self.sniffed.mime_type, "size_bytes": total,
            "sha256": hex::encode(hasher.finalize()),
            "width": video.and_then(|v| v.width), "height": video.and_then(|v| v.height),
            "duration_sec": video.and_then(|v| v.duration_sec),
        });
        let asset: Value = tx
            .query_one("select api.ingest_media($1, null)", &[&meta])
            .await
            .map_err(|e| db_error("ingest_media", &e))?
            .get(0);
        Ok(Ok(asset))
    }
}

async fn next_chunk(
    response: &mut reqwest::Response,
    deadline: Instant,
    timeout: Duration,
) -> Result<Option<bytes::Bytes>, String> {
    tokio::time::timeout_at(deadline, response.chunk())
        .await
        .map_err(|_| timed_out(timeout))?
        .map_err(|e| format!("media download: {}", e.without_url()))
}

fn timed_out(timeout: Duration) -> String {
    format!(
        "media download: not finished within IG_DOWNLOAD_TIMEOUT_SECS ({}s)",
        timeout.as_secs()
    )
}

fn too_large(sniffed: Sniffed, limit: u64) -> String {
    format!("{} files are limited to {limit} bytes", sniffed.mime_type)
}

fn extension(mime_type: &str) -> &'static str {
    match mime_type {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "video/mp4" => "mp4",
        "video/webm" => "webm",
        "video/quicktime" => "mov",
        _ => "bin",
    }
}
