//! `GET`/`HEAD /api/v1/media/{asset_id}[?variant=thumb|medium|webp]`.
//!
//! Conditional and partial requests (RFC 9110):
//! - strong `ETag` = the sha256 of the bytes served; `If-None-Match` → 304;
//! - one `Range` → 206 with `Content-Range`; a suffix longer than the file → the
//!   whole file as 206; unsatisfiable → 416 with `Content-Range: bytes */N`;
//! - several ranges → 200 with the whole body: browsers and video players ask for one
//!   range, and multipart/byteranges would be code for no client we serve;
//! - a malformed `Range` is ignored (200), as the RFC allows;
//! - `If-Range` with the current ETag → the range; anything else (another ETag, a
//!   date: we have no Last-Modified) → 200 with the whole body.
//!
//! A derivative not made yet → 307 to the original (`Cache-Control: no-store`, so the
//! derivative URL is asked again next time); videos have no derivatives → 404.

use std::{ops::RangeInclusive, sync::Arc};

use axum::{
    body::Body,
    extract::State,
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::{chunks, parse_asset_id, MediaBytes};
use crate::{
    caller::Caller,
    db::{self, Access},
    error::{ApiError, Problem},
    extract::{Path, Query},
    replica::{self, PrimaryReads, Served},
    AppState,
};

/// Query of a download.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DownloadQuery {
    /// A derivative instead of the original: `thumb` (320 px JPEG), `medium` (1024 px
    /// JPEG) or `webp` (1024 px WebP).
    #[param(inline, value_type = Option<super::DerivativeKind>)]
    pub variant: Option<String>,
}

/// What `api.media_info` says about the bytes to serve.
#[derive(Debug, Deserialize)]
struct MediaInfo {
    ready: bool,
    sha256: Option<String>,
    mime_type: Option<String>,
    size_bytes: Option<u64>,
}

const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");

/// Streams an asset or one of its derivatives.
#[utoipa::path(get, path = "/api/v1/media/{asset_id}", tag = "media",
    params(("asset_id" = uuid::Uuid, Path, description = "The asset"), DownloadQuery,
        ("Range" = Option<String>, Header, description = "One range `bytes=first-last`, `bytes=first-` or `bytes=-suffix` \
            (several ranges, or a malformed one, get the whole body)"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag received before: 304 when it still matches"),
        ("If-Range" = Option<String>, Header, description = "The ETag the Range is for: another one gets the whole body")),
    responses(
        (status = 200, description = "The bytes (Content-Type sniffed at upload)",
            content((MediaBytes = "image/jpeg"), (MediaBytes = "image/png"), (MediaBytes = "image/webp"), (MediaBytes = "image/gif"),
                    (MediaBytes = "video/mp4"), (MediaBytes = "video/webm"), (MediaBytes = "video/quicktime")), headers(("ETag" = String, description = "The sha256 of the bytes served, quoted"),
                ("Accept-Ranges" = String, description = "`bytes`"),
                ("Cache-Control" = String, description = "`public, max-age=31536000, immutable`"))),
        (status = 206, description = "One range of the bytes",
            content((MediaBytes = "image/jpeg"), (MediaBytes = "image/png"), (MediaBytes = "image/webp"), (MediaBytes = "image/gif"),
                    (MediaBytes = "video/mp4"), (MediaBytes = "video/webm"), (MediaBytes = "video/quicktime")), headers(("Content-Range" = String, description = "`bytes first-last/size`"), ("ETag" = String, description = "The sha256 of the bytes, quoted"))),
        (status = 304, description = "Not modified (If-None-Match)", headers(("ETag" = String, description = "The sha256 of the bytes, quoted"))),
        (status = 307, description = "The derivative is not made yet: the original meanwhile",
            headers(("Location" = String, description = "The original's URL"),
                    ("Retry-After" = u64, description = "Seconds before the derivative may exist"))),
        (status = 404, description = "No such asset (`media_not_found`, also for an id that is not a UUID), or a variant of \
            a video (`variant_unavailable`)", body = Problem),
        (status = 416, description = "Range not satisfiable (`range_not_satisfiable`)", body = Problem,
            headers(("Content-Range" = String, description = "`bytes */size`"))),
        (status = 422, description = "Unknown variant (`invalid_variant`) or query parameter (`invalid_query`)", body = Problem),
    ))]
pub async fn download(
    State(state): State<AppState>,
    method: Method,
    Path(asset_id): Path<String>,
    Query(query): Query<DownloadQuery>,
    PrimaryReads(primary_reads): PrimaryReads,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let asset_id = parse_asset_id(&asset_id)?;
    let variant = query.variant;
    // Media are public by URL (unguessable ids, immutable bytes): no identity needed,
    // and a stale token sent by a client out of habit does not break images.
    let caller = Caller {
        primary_reads,
        ..Caller::anonymous()
    };
    const INFO: &str = "select api.media_info($1, $2)::text";
    let (json, served) = match replica::call_served(&state, &caller, INFO, &[&asset_id, &variant]).await {
        // The bytes never change once stored, so the replica is never wrong about an
        // asset it has; one it lacks may be an upload it has not replayed yet, which
        // the primary settles.
        Err(e) if e.problem.code == "media_not_found" && state.reads.has_replica() && !primary_reads => {
            let json = db::call(&state.db, &caller, Access::ReadOnly, INFO, &[&asset_id, &variant]).await?;
            (json, Served::Primary)
        }
        answered => answered?,
    };
    let info: MediaInfo =
        serde_json::from_str(&json).map_err(|e| ApiError::internal(format!("api.media_info: {e}")))?;
    if !info.ready {
        return Ok((
            StatusCode::TEMPORARY_REDIRECT,
            [
                (header::LOCATION, format!("/api/v1/media/{asset_id}")),
                (header::CACHE_CONTROL, "no-store".to_string()),
                (header::RETRY_AFTER, "5".to_string()),
            ],
        )
            .into_response());
    }
    let (Some(sha256), Some(mime_type), Some(size)) = (info.sha256, info.mime_type, info.size_bytes) else {
        return Err(ApiError::internal(
            "api.media_info: a ready asset without sha256/mime_type/size",
        ));
    };
    let etag =
        HeaderValue::from_str(&format!("\"{sha256}\"")).map_err(|e| ApiError::internal(e.to_string()))?;

    let mut response_headers = HeaderMap::new();
    response_headers.insert(header::ETAG, etag.clone());
    response_headers.insert(header::CACHE_CONTROL, IMMUTABLE);
    response_headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    response_headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );

    if if_none_match(&headers, &sha256) {
        return Ok((StatusCode::NOT_MODIFIED, response_headers).into_response());
    }
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&mime_type).map_err(|e| ApiError::internal(e.to_string()))?,
    );

    let (status, range) = match requested_range(&headers, &sha256, size) {
        RangeDecision::Full => (StatusCode::OK, 0..=size - 1),
        RangeDecision::Partial(range) => {
            response_headers.insert(
                header::CONTENT_RANGE,
                header_value(format!("bytes {}-{}/{size}", range.start(), range.end())),
            );
            (StatusCode::PARTIAL_CONTENT, range)
        }
        RangeDecision::Unsatisfiable => {
            return Err(ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range_not_satisfiable",
                format!("the range is outside the {size} bytes of this file"),
            )
            .header(header::CONTENT_RANGE, header_value(format!("bytes */{size}")))
            .header(header::ETAG, etag));
        }
    };
    let length = range.end() - range.start() + 1;
    response_headers.insert(header::CONTENT_LENGTH, header_value(length.to_string()));
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        let source = chunks::Source {
            // The server that knew the asset: the replica may lack a fresh upload.
            pool: replica::db_of(&state, served).clone(),
            chunks: Arc::clone(&state.media_chunks),
            asset_id,
            variant,
            sha256,
            size,
        };
        Body::from_stream(chunks::stream(source, range))
    };
    Ok((status, response_headers, body).into_response())
}

fn header_value(s: String) -> HeaderValue {
    HeaderValue::from_str(&s).expect("digits, spaces, dashes and slashes are valid header characters")
}

/// Whether `If-None-Match` names the current entity tag (weak comparison, as the RFC
/// requires for this header) or is `*`.
fn if_none_match(headers: &HeaderMap, sha256: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/").trim_matches('"') == sha256)
}

#[derive(Debug, PartialEq, Eq)]
enum RangeDecision {
    Full,
    Partial(RangeInclusive<u64>),
    Unsatisfiable,
}

/// What to send for the request's `Range` and `If-Range` (see the module docs).
fn requested_range(headers: &HeaderMap, sha256: &str, size: u64) -> RangeDecision {
    use http_range_header::RangeUnsatisfiableError as E;
    let Some(range) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return RangeDecision::Full;
    };
    if let Some(if_range) = headers.get(header::IF_RANGE) {
        // Strong comparison: If-Range needs the exact current representation.
        if if_range.to_str().ok().map(str::trim) != Some(format!("\"{sha256}\"").as_str()) {
            return RangeDecision::Full;
        }
    }
    let Ok(parsed) = http_range_header::parse_range_header(range) else {
        return RangeDecision::Full;
    };
    match parsed.validate(size) {
        Ok(ranges) if ranges.len() == 1 => RangeDecision::Partial(ranges[0].clone()),
        Ok(_) | Err(E::OverlappingRanges) => RangeDecision::Full,
        // "bytes=-N" with N larger than the file means the whole file (RFC 9110 14.1.2).
        Err(E::FileSuffixOutOfBounds) if parsed.ranges.len() == 1 => RangeDecision::Partial(0..=size - 1),
        Err(_) => RangeDecision::Unsatisfiable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "ab";

    fn with(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), HeaderValue::from_str(v).unwrap()))
            .collect()
    }

    #[test]
    fn ranges_follow_rfc_9110() {
        let r = |v: &str| requested_range(&with(&[(header::RANGE, v)]), SHA, 100);
        assert_eq!(r("bytes=0-9"), RangeDecision::Partial(0..=9));
        assert_eq!(r("bytes=90-"), RangeDecision::Partial(90..=99));
        assert_eq!(r("bytes=95-200"), RangeDecision::Partial(95..=99));
        assert_eq!(r("bytes=-10"), RangeDecision::Partial(90..=99));
        assert_eq!(r("bytes=-500"), RangeDecision::Partial(0..=99));
        assert_eq!(r("bytes=100-"), RangeDecision::Unsatisfiable);
        assert_eq!(r("bytes=0-1,5-9"), RangeDecision::Full);
        assert_eq!(r("bytes=0-5,3-9"), RangeDecision::Full);
        assert_eq!(r("pages=1-2"), RangeDecision::Full);
        assert_eq!(r("bytes=abc"), RangeDecision::Full);
        assert_eq!(requested_range(&HeaderMap::new(), SHA, 100), RangeDecision::Full);
    }

    #[test]
    fn if_range_needs_the_current_strong_etag() {
        let h = |if_range: &str| {
            requested_range(
                &with(&[(header::RANGE, "bytes=0-9"), (header::IF_RANGE, if_range)]),
                SHA,
                100,
            )
        };
        assert_eq!(h("\"ab\""), RangeDecision::Partial(0..=9));
        assert_eq!(h("\"cd\""), RangeDecision::Full);
        assert_eq!(h("W/\"ab\""), RangeDecision::Full);
        assert_eq!(h("Tue, 24 Nov 2026 10:00:00 GMT"), RangeDecision::Full);
    }

    #[test]
    fn if_none_match_uses_weak_comparison_and_lists() {
        let m = |v: &str| if_none_match(&with(&[(header::IF_NONE_MATCH, v)]), SHA);
        assert!(m("\"ab\""));
        assert!(m("W/\"ab\""));
        assert!(m("\"x\", \"ab\""));
        assert!(m("*"));
        assert!(!m("\"abc\""));
        assert!(!if_none_match(&HeaderMap::new(), SHA));
    }
}
