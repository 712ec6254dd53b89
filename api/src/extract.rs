//! Request extractors whose rejections are problem-JSON bodies with the right status:
//! a path segment that does not parse is 404 (no resource has that id), a query string
//! that does not parse is 422, a body that is not JSON is 400, a body of another content
//! type is 415, a body over the limit is 413.
//!
//! JSON bodies are read as JSON Schema reads them (the OpenAPI document is JSON Schema
//! 2020-12): a number with a zero fraction (`2.0`) is an integer, so it is turned into
//! one before the body is typed or passed to SQL, whose integer fields would refuse it.

use axum::{
    extract::{rejection::JsonRejection, FromRequest, FromRequestParts, Request},
    http::{request::Parts, StatusCode},
};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Like `axum::extract::Path`, rejecting a segment that does not parse (an id that
/// is not a number, or out of range) with 404 `not_found`, as for an id of no row.
#[derive(Debug, Clone)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection) => Err(
                ApiError::new(StatusCode::NOT_FOUND, "not_found", "nothing has this id")
                    .details(rejection.body_text()),
            ),
        }
    }
}

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
        // Content type, size and syntax are checked by axum's extractor (its
        // rejections), then integral numbers are normalised and the value typed.
        let axum::Json(mut value) = axum::Json::<Value>::from_request(req, state)
            .await
            .map_err(json_rejection)?;
        integral_numbers_as_integers(&mut value);
        serde_json::from_value(value).map(Json).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                "the request body does not have the expected shape",
            )
            .details(e.to_string())
        })
    }
}

/// Rewrites every number with a zero fraction that an `i64` holds exactly (`2.0`,
/// `1e3`) as an integer, recursively: JSON Schema counts them as integers.
pub fn integral_numbers_as_integers(value: &mut Value) {
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            // 2^53: above it an f64 no longer holds every integer exactly.
            const EXACT: f64 = 9_007_199_254_740_992.0;
            if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() <= EXACT) {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers_as_integers),
        Value::Object(map) => map.values_mut().for_each(integral_numbers_as_integers),
        _ => {}
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integral_numbers_become_integers_as_json_schema_counts_them() {
        let mut body = json!({"quantity": 2.0, "nested": [1e3, {"n": -4.0}], "price": 2.5, "big": 1e300});
        integral_numbers_as_integers(&mut body);
        assert_eq!(
            body,
            json!({"quantity": 2, "nested": [1000, {"n": -4}], "price": 2.5, "big": 1e300})
        );
    }

    /// Parsed from text as a request body is: a large integral number with a fraction
    /// must be read exactly (serde_json's float_roundtrip) to be recognised as integral.
    #[test]
    fn large_integral_numbers_with_a_fraction_are_read_exactly() {
        let mut body: Value = serde_json::from_str(r#"{"order_item_id": 4126952997444994.0}"#).unwrap();
        integral_numbers_as_integers(&mut body);
        assert_eq!(body, json!({"order_item_id": 4126952997444994i64}));
    }
}
