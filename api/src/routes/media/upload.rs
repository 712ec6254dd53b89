//! `POST /api/v1/media/upload` (multipart field `file`).
//!
//! The body is read chunk by chunk as it arrives:
//! 1. the first bytes decide the type (sniffed, never the client's word) → 415 if not
//!    allowed, before the rest is read;
//! 2. the size limit of that type is checked on every chunk → 413 as soon as it is
//!    crossed, without reading further;
//! 3. the sha256 is updated on every chunk;
//! 4. up to `MEDIA_BYTEA_MAX` the bytes are buffered; past it (videos) the buffer and
//!    every later chunk go into a large object in the upload's transaction, so memory
//!    stays at one buffer whatever the file size;
//! 5. images are decoded with limits (`maef_media::probe_image`) in `spawn_blocking`,
//!    bounded by a semaphore: a bomb or a truncated image → 422;
//! 6. `api.media_create` stores it (or returns the asset with the same sha256: 200).

use std::time::Duration;

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use axum::{
    body::Body,
    extract::State,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use futures::Stream;
use maef_media::{sniff, MediaClass, Sniffed, VideoInfo};
use multer::{Field, Multipart};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::{
    caller::{Caller, MediaWrite, Require},
    db::{self, Access},
    error::{ApiError, Problem},
    routes::media::{MediaAsset, UploadForm},
    AppState,
};

/// Largest total of the form fields sent before `file` (they are skipped).
const MAX_SKIPPED_FIELD_BYTES: usize = 64 << 10;

/// The stored asset (`created` false when the bytes existed already).
#[utoipa::path(post, path = "/api/v1/media/upload", tag = "media",
    security(("bearer" = ["media:write"])),
    request_body(content = UploadForm, content_type = "multipart/form-data",
        description = "Field `file`: a JPEG, PNG, WebP, GIF, MP4, WebM or QuickTime file (the type is sniffed from the \
            bytes, not taken from the form); small fields sent before it are ignored"),
    responses(
        (status = 201, description = "Stored", body = MediaAsset),
        (status = 200, description = "The same bytes were stored already: that asset (`created` false)", body = MediaAsset),
        (status = 400, description = "Malformed multipart body (`malformed_multipart`)", body = Problem),
        (status = 408, description = "The client stopped sending (`upload_idle`)", body = Problem),
        (status = 413, description = "Over the size limit of its type (`media_too_large`), or over the uploader's quota \
            (`media_quota_exceeded`)", body = Problem),
        (status = 415, description = "Not multipart (`multipart_required`), or a type outside the allow-list \
            (`unsupported_media_type`)", body = Problem),
        (status = 422, description = "Codes: `empty_file`, `file_required` (no `file` field, or large fields before it), \
            `image_undecodable`, `image_too_large` (a decompression bomb)", body = Problem),
        (status = 503, description = "Too many uploads in progress (`too_many_uploads`): retry", body = Problem,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn upload(
    State(state): State<AppState>,
    Require(caller, ..): Require<MediaWrite>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let _permit = tokio::time::timeout(
        state.config.db_pool_timeout,
        state.uploads.clone().acquire_owned(),
    )
    .await
    .ok()
    .and_then(Result::ok)
    .ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_uploads",
            "too many uploads in progress",
        )
        .header(header::RETRY_AFTER, HeaderValue::from_static("2"))
    })?;
    let boundary = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| multer::parse_boundary(v).ok())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "multipart_required",
                "the body must be multipart/form-data with a boundary",
            )
            .hint("send multipart/form-data with the file in a field named `file`")
        })?;
    let mut multipart = Multipart::new(OneChunkPerPoll::new(body.into_data_stream()), boundary);
    let idle = state.config.media.upload_idle;
    // The `file` field; other fields before it are read and dropped (bounded). Inline
    // rather than a function: a returned field borrows the form across loop turns.
    let mut skipped = 0;
    let mut field = loop {
        match next_field(&mut multipart, idle).await? {
            Some(field) if field.name() == Some("file") => break field,
            Some(other) => skip_field(other, idle, &mut skipped).await?,
            None => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "file_required",
                    "the form has no field named `file`",
                ))
            }
        }
    };
    let filename = clean_filename(field.file_name());

    let mut upload = Upload::new(&state, filename);
    while let Some(chunk) = next_chunk(&mut field, idle).await? {
        upload.take(&chunk)?;
        if upload.buffer.len() > state.config.media.bytea_max {
            let json = store_large(&state, &caller, field, upload).await?;
            return created_or_existing(json);
        }
    }
    let sniffed = upload.finish()?;
    let video = upload.video_info();
    let dimensions = match sniffed.class {
        MediaClass::Image => {
            let (dimensions, bytes) =
                probe(&state, std::mem::take(&mut upload.buffer), sniffed.mime_type).await?;
            upload.buffer = bytes;
            Some(dimensions)
        }
        MediaClass::Video => None,
    };
    let meta = upload.meta(sniffed, dimensions, video);
    let result = db::call(
        &state.db,
        &caller,
        Access::ReadWrite,
        "select api.media_create($1, $2, $3)::text",
        &[&meta, &upload.buffer, &state.config.media.quota_bytes],
    )
    .await?;
    created_or_existing(result)
}

/// The rest of a file past `MEDIA_BYTEA_MAX`: the buffer, then every chunk as it
/// arrives, into a large object, in one transaction that commits with the asset row
/// (an error or a dropped connection rolls the large object back).
async fn store_large(
    state: &AppState,
    caller: &Caller,
    mut field: Field<'static>,
    mut upload: Upload,
) -> Result<String, ApiError> {
    let chunk_bytes = state.config.media.chunk_bytes;
    let mut client = state.db.get().await?;
    let mut lo = LargeObject::begin(&state.db, &mut client, caller).await?;
    // The moov of a "fast start" video is in this first buffer, or nowhere cheap.
    let video = upload.video_info();
    lo.write(&mut upload.buffer, chunk_bytes, false).await?;
    while let Some(chunk) = next_chunk(&mut field, state.config.media.upload_idle).await? {
        upload.take(&chunk)?;
        lo.write(&mut upload.buffer, chunk_bytes, false).await?;
    }
    let sniffed = upload.finish()?;
    lo.write(&mut upload.buffer, chunk_bytes, true).await?;
    let meta = upload.meta(sniffed, None, video);
    lo.create(&meta, state.config.media.quota_bytes).await
}

/// The bytes received so far, their hash and type.
struct Upload {
    filename: String,
    buffer: Vec<u8>,
    total: u64,
    hasher: Sha256,
    sniffed: Option<Sniffed>,
    max_image: u64,
    max_video: u64,
}

impl Upload {
    fn new(state: &AppState, filename: String) -> Self {
        Self {
            filename,
            buffer: Vec::new(),
            total: 0,
            hasher: Sha256::new(),
            sniffed: None,
            max_image: state.config.media.max_image_bytes,
            max_video: state.config.media.max_video_bytes,
        }
    }

    /// Adds a chunk: sniffs once enough bytes are in, refuses past the type's limit.
    fn take(&mut self, chunk: &[u8]) -> Result<(), ApiError> {
        self.total += chunk.len() as u64;
        self.hasher.update(chunk);
        self.buffer.extend_from_slice(chunk);
        if self.sniffed.is_none() && self.total >= maef_media::sniff::SNIFF_BYTES as u64 {
            self.sniffed = Some(sniff_or_415(&self.buffer)?);
        }
        if let Some(sniffed) = self.sniffed {
            let limit = match sniffed.class {
                MediaClass::Image => self.max_image,
                MediaClass::Video => self.max_video,
            };
            if self.total > limit {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "media_too_large",
                    format!("{} files are limited to {limit} bytes", sniffed.mime_type),
                )
                .details(json!({"limit_bytes": limit, "mime_type": sniffed.mime_type}).to_string()));
            }
        }
        Ok(())
    }

    /// The end of the file: refuses an empty one, sniffs a short one.
    fn finish(&mut self) -> Result<Sniffed, ApiError> {
        if self.total == 0 {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "empty_file",
                "the file is empty",
            ));
        }
        match self.sniffed {
            Some(sniffed) => Ok(sniffed),
            None => sniff_or_415(&self.buffer),
        }
    }

    /// Size and duration of an MP4/QuickTime video whose `moov` is in the buffer.
    fn video_info(&self) -> Option<VideoInfo> {
        match self.sniffed?.mime_type {
            "video/mp4" | "video/quicktime" => maef_media::probe_mp4(&self.buffer),
            _ => None,
        }
    }

    fn meta(&mut self, sniffed: Sniffed, image: Option<(u32, u32)>, video: Option<VideoInfo>) -> Value {
        let sha256 = hex::encode(std::mem::take(&mut self.hasher).finalize());
        let (width, height) = match (image, video) {
            (Some((w, h)), _) => (Some(w), Some(h)),
            (None, Some(v)) => (v.width, v.height),
            (None, None) => (None, None),
        };
        json!({
            "filename": self.filename, "mime_type": sniffed.mime_type, "size_bytes": self.total,
            "sha256": sha256, "width": width, "height": height,
            "duration_sec": video.and_then(|v| v.duration_sec),
        })
    }
}

fn sniff_or_415(head: &[u8]) -> Result<Sniffed, ApiError> {
    sniff(head).ok_or_else(|| {
        let allowed: Vec<&str> = maef_media::sniff::ALLOWED.iter().map(|(m, _)| *m).collect();
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the file is not an allowed image or video type (decided from its content, not its name)",
        )
        .details(json!({ "allowed": allowed }).to_string())
    })
}

/// A large object being written in the upload's transaction.
struct LargeObject<'a> {
    tx: deadpool_postgres::Transaction<'a>,
    statements: db::Statements,
}

impl<'a> LargeObject<'a> {
    async fn begin(
        db: &db::Db,
        client: &'a mut deadpool_postgres::Object,
        caller: &Caller,
    ) -> Result<Self, ApiError> {
        let tx = db::begin_as(db, client, caller).await?;
        // Statements named inside the transaction are closed inside it (a &str query
        // closes its statement at once), so they are safe behind a pooler too.
        tx.query_one("select api.media_upload_begin()", &[]).await?;
        Ok(Self {
            tx,
            statements: db.statements(),
        })
    }

    /// Writes whole `chunk_bytes` pieces of `buffer` (all of it when `last`), leaving
    /// the remainder for the next call: a few large writes rather than one per
    /// network packet.
    async fn write(&mut self, buffer: &mut Vec<u8>, chunk_bytes: usize, last: bool) -> Result<(), ApiError> {
        if buffer.len() < chunk_bytes && !last {
            return Ok(());
        }
        const WRITE: &str = "select api.media_upload_write($1)";
        // Behind a pooler, a cached statement would outlive this transaction's server
        // connection: prepare it for this write only (closed when dropped, before the
        // commit).
        let statement = match self.statements {
            db::Statements::Prepared => self.tx.prepare_cached(WRITE).await?,
            db::Statements::Unnamed => self.tx.prepare(WRITE).await?,
        };
        let mut written = 0;
        for piece in buffer.chunks(chunk_bytes) {
            if piece.len() < chunk_bytes && !last {
                break;
            }
            self.tx.query_one(&statement, &[&piece]).await?;
            written += piece.len();
        }
        buffer.drain(..written);
        if buffer.capacity() > 4 * chunk_bytes {
            // The first flush empties the MEDIA_BYTEA_MAX buffer: give that memory back.
            buffer.shrink_to(2 * chunk_bytes);
        }
        Ok(())
    }

    async fn create(self, meta: &Value, quota: i64) -> Result<String, ApiError> {
        let row = self
            .tx
            .query_one("select api.media_create($1, null, $2)::text", &[meta, &quota])
            .await?;
        let json: String = row.try_get(0)?;
        self.tx.commit().await?;
        Ok(json)
    }
}

/// Decodes an image off the async threads, a few at a time (CPU and memory bound);
/// gives the bytes back with the upright dimensions.
async fn probe(
    state: &AppState,
    bytes: Vec<u8>,
    mime_type: &'static str,
) -> Result<((u32, u32), Vec<u8>), ApiError> {
    let _permit = state
        .decodes
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ApiError::internal("decode semaphore closed"))?;
    let (probed, bytes) = tokio::task::spawn_blocking(move || {
        let probed = maef_media::probe_image(&bytes, mime_type, maef_media::probe::Limits::default());
        (probed, bytes)
    })
    .await
    .map_err(|e| ApiError::internal(format!("image probe panicked: {e}")))?;
    match probed {
        Ok(info) => Ok(((info.width, info.height), bytes)),
        Err(e @ maef_media::ProbeError::TooLarge { .. }) => {
            Err(
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "image_too_large", e.to_string())
                    .hint("resize the image below 50 megapixels and 16384 pixels per side"),
            )
        }
        Err(e) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "image_undecodable",
            e.to_string(),
        )
        .hint("the file may be truncated or corrupt; export it again")),
    }
}

/// The next field of the form.
async fn next_field(
    multipart: &mut Multipart<'static>,
    idle: Duration,
) -> Result<Option<Field<'static>>, ApiError> {
    tokio::time::timeout(idle, multipart.next_field())
        .await
        .map_err(|_| idle_error())?
        .map_err(malformed)
}

/// Reads and drops a field sent before `file`, counting its bytes against a small
/// allowance.
async fn skip_field(mut field: Field<'static>, idle: Duration, skipped: &mut usize) -> Result<(), ApiError> {
    while let Some(chunk) = next_chunk(&mut field, idle).await? {
        *skipped += chunk.len();
        if *skipped > MAX_SKIPPED_FIELD_BYTES {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "file_required",
                "send the `file` field first, or only small fields before it",
            ));
        }
    }
    Ok(())
}

async fn next_chunk(field: &mut Field<'static>, idle: Duration) -> Result<Option<Bytes>, ApiError> {
    tokio::time::timeout(idle, field.chunk())
        .await
        .map_err(|_| idle_error())?
        .map_err(malformed)
}

fn idle_error() -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "upload_idle",
        "the client stopped sending the file",
    )
}

fn malformed(e: multer::Error) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "malformed_multipart",
        format!("malformed multipart body: {e}"),
    )
}

/// The request body, one chunk per poll. multer reads its input stream until it is
/// `Pending`, buffering whatever is ready: from a fast client that is the whole socket
/// backlog, and from an in-memory body the whole file — the opposite of bounded
/// memory and of "413 without reading the rest". Answering `Pending` (with an
/// immediate wake-up) after each chunk makes multer hand every chunk to us before
/// it reads the next, so backpressure reaches the socket.
struct OneChunkPerPoll<S> {
    inner: S,
    just_yielded: bool,
}

impl<S> OneChunkPerPoll<S> {
    fn new(inner: S) -> Self {
        Self {
            inner,
            just_yielded: false,
        }
    }
}

impl<S: Stream + Unpin> Stream for OneChunkPerPoll<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.just_yielded {
            self.just_yielded = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let next = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(Some(_)) = next {
            self.just_yielded = true;
        }
        next
    }
}

/// The client's file name without directories or control characters, at most 255
/// characters; `upload` when none is left.
fn clean_filename(raw: Option<&str>) -> String {
    let base = raw.unwrap_or("").rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base.chars().filter(|c| !c.is_control()).take(255).collect();
    let clean = clean.trim();
    if clean.is_empty() || clean == "." || clean == ".." {
        "upload".into()
    } else {
        clean.to_string()
    }
}

/// 201 + Location for new bytes, 200 for bytes stored before.
fn created_or_existing(json: String) -> Result<Response, ApiError> {
    let created = serde_json::from_str::<Value>(&json)
        .map_err(|e| ApiError::internal(format!("api.media_create: {e}")))?;
    let status = if created["created"] == Value::Bool(true) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let location = created["url"].as_str().unwrap_or_default().to_string();
    let mut response = (status, [(header::CONTENT_TYPE, "application/json")], json).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_lose_directories_and_control_characters() {
        assert_eq!(clean_filename(Some("../../etc/passwd")), "passwd");
        assert_eq!(clean_filename(Some("C:\\Users\\a\\photo.jpg")), "photo.jpg");
        assert_eq!(clean_filename(Some("bad\u{0}name\n.png")), "badname.png");
        assert_eq!(clean_filename(Some("..")), "upload");
        assert_eq!(clean_filename(None), "upload");
        assert_eq!(clean_filename(Some(&"é".repeat(300))).chars().count(), 255);
    }
}
