//! `/api/v1/media`: uploads streamed into PostgreSQL, downloads streamed out of it.
//!
//! These routes are the exception to "one call in one transaction", for bounded memory:
//! - an upload of a file larger than `MEDIA_BYTEA_MAX` writes its large object chunk by
//!   chunk inside one transaction (begin, write…, create), on one connection, while
//!   the body streams in; smaller files are buffered and stored by one call;
//! - a download makes one call for the validators (`api.media_info`), then reads the
//!   bytes one chunk per statement (`api.media_chunk`), taking a pooled connection
//!   only for that statement: a slow client holds no connection and no transaction,
//!   and the next chunk is read only once the previous one was sent (backpressure);
//!   chunks recently served come from a bounded in-memory cache keyed by sha256
//!   (`chunks.rs` says why).

pub mod chunks;
pub mod download;
pub mod upload;

use axum::{
    extract::{DefaultBodyLimit, State},
    http::StatusCode,
};
use bytes::Bytes;
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    caller::{MediaWrite, Require},
    db::Access,
    error::{ApiError, Problem},
    extract::Path,
    routes::catalog_types::Timestamp,
    routes::{answer, JsonText},
    AppState,
};

/// Download and derivative routes: under the whole-request timeout like every route
/// (the timeout ends when the response headers are sent; the body streams after it).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(download::download))
        .routes(routes!(request_derivatives))
}

/// The upload route, merged outside the request timeout (a 200 MiB video over a phone
/// network takes minutes); an idle client is cut off by `MEDIA_UPLOAD_IDLE_MS`
/// instead. Its body size is bounded by the upload code per media type, not by
/// `MAX_BODY_BYTES`.
pub fn upload_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload::upload))
        .layer(DefaultBodyLimit::disable())
}

fn parse_asset_id(raw: &str) -> Result<uuid::Uuid, ApiError> {
    raw.parse().map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "media_not_found",
            format!("no media asset {raw}"),
        )
        .hint("asset ids are UUIDs, as returned by POST /api/v1/media/upload")
    })
}

/// The bytes of a media asset (an image or a video), for the document.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct MediaBytes(pub Vec<u8>);

/// The form of `POST /api/v1/media/upload`.
#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // documents the form; the upload handler streams it
pub struct UploadForm {
    /// The file's bytes.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

/// A stored media asset.
#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"asset_id": "0b1e9a4c-5d2f-4b8e-9c1a-3f6d7e8a9b0c", "filename": "robe.jpg",
    "mime_type": "image/jpeg", "size_bytes": 183204,
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "width": 1600, "height": 2000,
    "duration_sec": null, "storage": "bytea", "url": "/api/v1/media/0b1e9a4c-5d2f-4b8e-9c1a-3f6d7e8a9b0c",
    "created": true, "created_at": "2026-11-02T10:15:00+00:00"}))]
pub struct MediaAsset {
    pub asset_id: uuid::Uuid,
    /// As sent in the form (sanitised).
    pub filename: String,
    /// Sniffed from the bytes.
    pub mime_type: String,
    pub size_bytes: i64,
    /// Hex SHA-256 of the bytes (also the download's ETag).
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub sha256: String,
    /// Pixels, for images.
    #[schema(required)]
    pub width: Option<i32>,
    #[schema(required)]
    pub height: Option<i32>,
    /// Seconds, for videos when known.
    #[schema(required)]
    pub duration_sec: Option<f64>,
    /// Where PostgreSQL keeps the bytes.
    pub storage: MediaStorage,
    /// Where the bytes are served.
    pub url: String,
    /// False when the same bytes were stored already (this is that asset).
    pub created: bool,
    #[schema(value_type = Timestamp)]
    pub created_at: String,
}

/// Where PostgreSQL keeps an asset's bytes: a `bytea` column (small files) or a large
/// object (above `MEDIA_BYTEA_MAX`).
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MediaStorage {
    Bytea,
    LargeObject,
}

/// The answer of a derivatives request.
#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DerivativesQueued {
    pub asset_id: uuid::Uuid,
    /// The `make_derivatives` job (the pending one when a job was queued already).
    pub job_id: i64,
    /// The derivative kinds that exist already.
    pub existing: Vec<DerivativeKind>,
}

/// A derivative kind (`?variant=` of a download).
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DerivativeKind {
    /// 320 px JPEG.
    Thumb,
    /// 1024 px JPEG.
    Medium,
    /// 1024 px WebP.
    Webp,
}

/// Body of `POST /api/v1/media/{asset_id}/derivatives`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DerivativesRequest {
    /// Re-make derivatives that exist already (default false: make the missing ones).
    #[serde(default)]
    pub replace: bool,
}

/// Enqueues the `make_derivatives` job of an image again.
#[utoipa::path(post, path = "/api/v1/media/{asset_id}/derivatives", tag = "media",
    params(("asset_id" = uuid::Uuid, Path, description = "The asset")),
    request_body(content = DerivativesRequest, description = "Optional; {} or no body makes the missing derivatives"),
    security(("bearer" = ["media:write"])),
    responses(
        (status = 202, description = "Queued", body = DerivativesQueued),
        (status = 404, description = "No such asset (`media_not_found`, also for an id that is not a UUID)", body = Problem),
        (status = 422, description = "Not an image (`not_an_image`), or a body other than `{}` / `{\"replace\": bool}` \
            (`invalid_body`)", body = Problem),
    ))]
pub async fn request_derivatives(
    State(state): State<AppState>,
    Require(caller, ..): Require<MediaWrite>,
    Path(asset_id): Path<String>,
    body: Bytes,
) -> Result<JsonText, ApiError> {
    let asset_id = parse_asset_id(&asset_id)?;
    // The body is optional, so it is parsed here rather than by the Json extractor.
    let request: DerivativesRequest = if body.iter().all(u8::is_ascii_whitespace) {
        DerivativesRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                format!("invalid request body: {e}"),
            )
            .hint(r#"send {} or {"replace": true}"#)
        })?
    };
    let replace = request.replace;
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.media_request_derivatives($1, $2)::text",
        &[&asset_id, &replace],
    )
    .await
    .map(|j| j.with_status(StatusCode::ACCEPTED))
}
