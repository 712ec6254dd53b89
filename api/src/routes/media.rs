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
    extract::{DefaultBodyLimit, Path, State},
    http::StatusCode,
};
use bytes::Bytes;
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    caller::{MediaWrite, Require},
    db::Access,
    error::ApiError,
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
    request_body(content = DerivativesRequest, description = "Optional; {} makes the missing derivatives"),
    security(("bearer" = ["media:write"])),
    responses(
        (status = 202, description = "Queued: {asset_id, job_id, existing}"),
        (status = 401, description = "Not signed in"),
        (status = 403, description = "Needs media:write"),
        (status = 404, description = "No such asset"),
        (status = 422, description = "Not an image")))]
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
