//! Request extractors whose rejections are problem-JSON bodies with the right status:
//! a query string that does not parse is 422, a body that is not JSON is 400, a body of
//! another content type is 415, a body over the limit is 413.

use axum::{
    extract::{rejection::JsonRejection, FromRequest, FromRequestParts, Request},
    http::{request::Parts, StatusCode},
};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Like `axum::extract::Query`, rejecting with 422 `invalid_query`.
#[derive(Debug, Clone)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(rejection) => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_query",
                "the query string is invalid",
            )
            .details(rejection.body_text())),
        }
    }
}

/// Like `axum::Json`, rejecting with problem JSON: 400 malformed, 415 not JSON,
/// 413 too large, 422 wrong shape.
#[derive(Debug, Clone)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let detail = rejection.body_text();
    match rejection {
        JsonRejection::JsonSyntaxError(_) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "the request body is not valid JSON",
        )
        .details(detail),
        JsonRejection::JsonDataError(_) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "the request body does not have the expected shape",
        )
        .details(detail),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the request body must be JSON",
        )
        .hint("Send Content-Type: application/json."),
        JsonRejection::BytesRejection(_) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is too large",
            )
            .details(detail)
            .hint("See MAX_BODY_BYTES.")
        }
        other => ApiError::new(
            other.status(),
            "invalid_body",
            "the request body could not be read",
        )
        .details(detail),
    }
}
