//! Reviews: the approved reviews of a product (anyone), a customer's review and helpful
//! votes (`reviews:write`), and moderation: the queue, approve or reject, the shop's
//! reply (`reviews:moderate`). Rules are in SQL (`sql/reviews.sql`,
//! `migrations/V29__reviews.sql`): one review per customer and product, verified purchase
//! computed from the customer's orders, HTML stripped, aggregates kept by triggers.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    caller::{Caller, Require, ReviewsModerate, ReviewsWrite, SignedIn},
    db::Access,
    error::{ApiError, Problem},
    extract::{Json, Path, Query},
    routes::{
        answer,
        catalog_types::{RatingWithHistogram, Timestamp},
        JsonText,
    },
    AppState,
};

/// `/api/v1/products/{slug}/reviews`, `/api/v1/reviews/…`, `/api/v1/users/me/reviews` and
/// `/api/v1/admin/reviews…`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(product_reviews, submit_review))
        .routes(routes!(my_reviews))
        .routes(routes!(delete_review))
        .routes(routes!(vote_helpful, unvote_helpful))
        .routes(routes!(admin_reviews))
        .routes(routes!(moderate_review))
        .routes(routes!(reply_review, delete_reply))
}

/// A review's moderation state.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    Pending,
    Approved,
    Rejected,
}

/// Why a filter held a review for moderation.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewFlag {
    Link,
    Profanity,
}

/// The product a review is about.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewProduct {
    pub id: i64,
    pub slug: String,
    pub title: String,
}

/// A photo or video attached to a review.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewMedia {
    pub asset_id: uuid::Uuid,
    /// `/api/v1/media/{asset_id}`.
    pub url: String,
    pub mime_type: String,
}

/// The shop's reply under a review.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewReply {
    /// Plain text: escape it when displaying.
    pub body: String,
    #[schema(value_type = Timestamp)]
    pub at: String,
}

/// A published review, as shoppers see it. Title and body are plain text (HTML was
/// stripped): escape them when displaying.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"id": 7, "product": {"id": 12, "slug": "robe-wax-ndeye", "title": "Robe wax Ndèye"},
    "rating": 5, "title": "Superbe", "body": "Tissu épais, coupe parfaite.", "verified_purchase": true,
    "helpful_count": 3, "author": "awa", "media": [], "reply": {"body": "Merci Awa !", "at": "2026-11-03T09:00:00+00:00"},
    "submitted_at": "2026-11-02T10:15:00+00:00", "edited_at": null}))]
pub struct Review {
    pub id: i64,
    pub product: ReviewProduct,
    #[schema(minimum = 1, maximum = 5)]
    pub rating: i32,
    pub title: String,
    pub body: String,
    /// The author has a paid or delivered order of this product (computed, never sent).
    pub verified_purchase: bool,
    #[schema(minimum = 0)]
    pub helpful_count: i64,
    /// The author's username; null when they have none or erased their account.
    #[schema(required)]
    pub author: Option<String>,
    pub media: Vec<ReviewMedia>,
    #[schema(required)]
    pub reply: Option<ReviewReply>,
    #[schema(value_type = Timestamp)]
    pub submitted_at: String,
    #[schema(required, value_type = Option<Timestamp>)]
    pub edited_at: Option<String>,
}

/// A review as its author sees it: with its status and the moderator's reason.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnReview {
    pub id: i64,
    pub product: ReviewProduct,
    #[schema(minimum = 1, maximum = 5)]
    pub rating: i32,
    pub title: String,
    pub body: String,
    pub verified_purchase: bool,
    #[schema(minimum = 0)]
    pub helpful_count: i64,
    #[schema(required)]
    pub author: Option<String>,
    pub media: Vec<ReviewMedia>,
    #[schema(required)]
    pub reply: Option<ReviewReply>,
    #[schema(value_type = Timestamp)]
    pub submitted_at: String,
    #[schema(required, value_type = Option<Timestamp>)]
    pub edited_at: Option<String>,
    pub status: ReviewStatus,
    /// Why it was rejected (or a note of the approval).
    #[schema(required)]
    pub moderation_reason: Option<String>,
}

/// The answer to a submission: the review, and whether it was created (201) or an
/// existing one edited (200).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmittedReview {
    pub id: i64,
    pub product: ReviewProduct,
    #[schema(minimum = 1, maximum = 5)]
    pub rating: i32,
    pub title: String,
    pub body: String,
    pub verified_purchase: bool,
    #[schema(minimum = 0)]
    pub helpful_count: i64,
    #[schema(required)]
    pub author: Option<String>,
    pub media: Vec<ReviewMedia>,
    #[schema(required)]
    pub reply: Option<ReviewReply>,
    #[schema(value_type = Timestamp)]
    pub submitted_at: String,
    #[schema(required, value_type = Option<Timestamp>)]
    pub edited_at: Option<String>,
    pub status: ReviewStatus,
    #[schema(required)]
    pub moderation_reason: Option<String>,
    pub created: bool,
}

/// An earlier version of a review (each edit keeps the one it replaces).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRevision {
    #[schema(minimum = 1, maximum = 5)]
    pub rating: i32,
    pub title: String,
    pub body: String,
    pub status: ReviewStatus,
    #[schema(value_type = Timestamp)]
    pub submitted_at: String,
    #[schema(value_type = Timestamp)]
    pub replaced_at: String,
}

/// A review as moderators see it: author, filter flags, moderation, history.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffReview {
    pub id: i64,
    pub product: ReviewProduct,
    #[schema(minimum = 1, maximum = 5)]
    pub rating: i32,
    pub title: String,
    pub body: String,
    pub verified_purchase: bool,
    #[schema(minimum = 0)]
    pub helpful_count: i64,
    #[schema(required)]
    pub author: Option<String>,
    pub media: Vec<ReviewMedia>,
    #[schema(required)]
    pub reply: Option<ReviewReply>,
    #[schema(value_type = Timestamp)]
    pub submitted_at: String,
    #[schema(required, value_type = Option<Timestamp>)]
    pub edited_at: Option<String>,
    pub status: ReviewStatus,
    #[schema(required)]
    pub moderation_reason: Option<String>,
    /// Null once the author erased their account.
    #[schema(required)]
    pub user_id: Option<uuid::Uuid>,
    #[schema(required)]
    pub email: Option<String>,
    pub flags: Vec<ReviewFlag>,
    #[schema(required, value_type = Option<Timestamp>)]
    pub moderated_at: Option<String>,
    /// The moderator's e-mail.
    #[schema(required)]
    pub moderated_by: Option<String>,
    /// Oldest first.
    pub revisions: Vec<ReviewRevision>,
}

/// A page of a product's reviews, with its rating summary.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewPage {
    pub rating: RatingWithHistogram,
    pub items: Vec<Review>,
    /// Pass as `after` for the next page; null on the last page.
    #[schema(required)]
    pub next_cursor: Option<String>,
}

/// A page of the moderation queue.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffReviewPage {
    pub items: Vec<StaffReview>,
    #[schema(required)]
    pub next_cursor: Option<String>,
}

/// The answer to a vote.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HelpfulVote {
    pub review_id: i64,
    /// Whether the caller's vote is now counted.
    pub voted: bool,
    #[schema(minimum = 0)]
    pub helpful_count: i64,
}

/// The answer to a deletion.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewDeleted {
    pub id: i64,
    pub deleted: bool,
}

/// Orders of a product's reviews.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewSort {
    /// Newest first (default).
    Recent,
    /// Most helpful votes first.
    Helpful,
    RatingDesc,
    RatingAsc,
}

/// Query of `GET /api/v1/products/{slug}/reviews`.
#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReviewQuery {
    /// Order (default `recent`; another value: 422 `invalid_sort`).
    #[param(inline, value_type = Option<ReviewSort>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
    /// Only reviews with this rating.
    #[param(minimum = 1, maximum = 5)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<i32>,
    /// Only verified purchases (true) or only the others (false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
    /// Only reviews with photos (true) or without (false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub with_media: Option<bool>,
    /// Page size (default 20).
    #[param(minimum = 1, maximum = 100)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i32>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^-?[0-9]{1,20}(\.[0-9]{1,12})?\|[0-9]{1,18}$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

fn to_json<T: Serialize>(value: &T) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(value).map_err(|e| ApiError::internal(e.to_string()))
}

/// The approved reviews of a product, with its rating (average, count, histogram),
/// filtered and sorted, one page at a time (keyset).
#[utoipa::path(get, path = "/api/v1/products/{slug}/reviews", tag = "reviews", security((), ("bearer" = [])),
    params(("slug" = String, Path, description = "Product slug"), ReviewQuery),
    responses(
        (status = 200, description = "A page of reviews", body = ReviewPage),
        (status = 404, description = "No active product has this slug (`product_not_found`)", body = Problem),
        (status = 422, description = "Codes: `invalid_sort`, `invalid_rating`, `invalid_limit`, `invalid_cursor`, `invalid_query`", body = Problem),
    ))]
pub async fn product_reviews(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Query(query): Query<ReviewQuery>,
) -> Result<JsonText, ApiError> {
    let filter = to_json(&query)?;
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.product_reviews($1, $2)::text",
        &[&slug, &filter],
    )
    .await
}

/// Body of `POST /api/v1/products/{slug}/reviews`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"rating": 5, "title": "Superbe", "body": "Tissu épais, coupe parfaite.", "media": []}))]
pub struct ReviewRequest {
    /// 1 to 5 (another number: 422 `review_rating_check`).
    #[schema(minimum = 1, maximum = 5)]
    pub rating: i64,
    /// HTML is stripped; at most `reviews.title_max_chars` (150) characters after that.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// HTML is stripped; `reviews.body_min_chars` (10) to `reviews.body_max_chars` (5000)
    /// characters after that.
    pub body: String,
    /// Photos or videos the caller uploaded (`POST /api/v1/media/upload`), at most
    /// `reviews.max_media` (5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media: Option<Vec<uuid::Uuid>>,
}

/// Reviews a product, or edits the caller's review of it (one per customer and
/// product; the replaced version is kept). The review waits for moderation unless it is
/// a verified purchase, the store auto-approves those and no filter flagged it.
#[utoipa::path(post, path = "/api/v1/products/{slug}/reviews", tag = "reviews",
    security(("bearer" = ["reviews:write"])), request_body = ReviewRequest,
    params(("slug" = String, Path, description = "Product slug")),
    responses(
        (status = 201, description = "Reviewed", body = SubmittedReview),
        (status = 200, description = "The caller's review edited", body = SubmittedReview),
        (status = 404, description = "No active product has this slug (`product_not_found`)", body = Problem),
        (status = 422, description = "Codes: `review_rating_check` (not 1..5), `review_body_too_short`, `review_body_too_long`, \
            `review_title_too_long`, `review_media_invalid` (not the caller's image or video, or too many), `invalid_field`, `invalid_body`", body = Problem),
    ))]
pub async fn submit_review(
    State(state): State<AppState>,
    Require(caller, ..): Require<ReviewsWrite>,
    Path(slug): Path<String>,
    Json(review): Json<ReviewRequest>,
) -> Result<JsonText, ApiError> {
    let review = to_json(&review)?;
    let reply = answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.submit_review($1, $2)::text",
        &[&slug, &review],
    )
    .await?;
    let created = serde_json::from_str::<serde_json::Value>(&reply.1)
        .map(|v| v["created"] == serde_json::Value::Bool(true))
        .unwrap_or(false);
    Ok(if created { reply.created() } else { reply })
}

/// The caller's reviews, newest first, with their moderation status.
#[utoipa::path(get, path = "/api/v1/users/me/reviews", tag = "reviews", security(("bearer" = [])),
    responses((status = 200, description = "The caller's reviews", body = Vec<OwnReview>)))]
pub async fn my_reviews(
    State(state): State<AppState>,
    Require(caller, ..): Require<SignedIn>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.my_reviews()::text",
        &[],
    )
    .await
}

/// Deletes a review: the caller's own, or any for a moderator (audited).
#[utoipa::path(delete, path = "/api/v1/reviews/{id}", tag = "reviews", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Review id")),
    responses(
        (status = 200, description = "Deleted", body = ReviewDeleted),
        (status = 404, description = "No such review of the caller's (`review_not_found`)", body = Problem),
    ))]
pub async fn delete_review(
    State(state): State<AppState>,
    Require(caller, ..): Require<SignedIn>,
    Path(id): Path<i64>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.delete_review($1)::text",
        &[&id],
    )
    .await
}

/// Votes an approved review helpful: once per customer, never one's own.
#[utoipa::path(post, path = "/api/v1/reviews/{id}/helpful", tag = "reviews", security(("bearer" = ["reviews:write"])),
    params(("id" = i64, Path, description = "Review id")),
    responses(
        (status = 201, description = "Voted", body = HelpfulVote),
        (status = 403, description = "`own_review_vote`: the caller wrote it; `permission_required`", body = Problem),
        (status = 404, description = "No approved review has this id (`review_not_found`)", body = Problem),
        (status = 409, description = "The caller already voted it (`review_vote_exists`)", body = Problem),
    ))]
pub async fn vote_helpful(
    State(state): State<AppState>,
    Require(caller, ..): Require<ReviewsWrite>,
    Path(id): Path<i64>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.vote_review_helpful($1)::text",
        &[&id],
    )
    .await
    .map(JsonText::created)
}

/// Withdraws the caller's helpful vote.
#[utoipa::path(delete, path = "/api/v1/reviews/{id}/helpful", tag = "reviews", security(("bearer" = ["reviews:write"])),
    params(("id" = i64, Path, description = "Review id")),
    responses(
        (status = 200, description = "Vote withdrawn", body = HelpfulVote),
        (status = 404, description = "The caller has no vote on it (`review_vote_not_found`)", body = Problem),
    ))]
pub async fn unvote_helpful(
    State(state): State<AppState>,
    Require(caller, ..): Require<ReviewsWrite>,
    Path(id): Path<i64>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.unvote_review_helpful($1)::text",
        &[&id],
    )
    .await
}

/// Query of `GET /api/v1/admin/reviews`.
#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AdminReviewQuery {
    /// `pending` (default: the queue), `approved` or `rejected` (another value: 422 `invalid_status`).
    #[param(value_type = Option<ReviewStatus>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// A product's slug (unknown: 422 `invalid_filter`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// Only reviews a filter flagged (true) or only the others (false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flagged: Option<bool>,
    /// Page size (default 20).
    #[param(minimum = 1, maximum = 100)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i32>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^-?[0-9]{1,20}(\.[0-9]{1,12})?\|[0-9]{1,18}$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// The moderation queue (or the approved or rejected reviews), oldest first.
#[utoipa::path(get, path = "/api/v1/admin/reviews", tag = "reviews", security(("bearer" = ["reviews:moderate"])),
    params(AdminReviewQuery),
    responses(
        (status = 200, description = "A page of reviews", body = StaffReviewPage),
        (status = 422, description = "Codes: `invalid_status`, `invalid_filter`, `invalid_limit`, `invalid_cursor`, `invalid_query`", body = Problem),
    ))]
pub async fn admin_reviews(
    State(state): State<AppState>,
    Require(caller, ..): Require<ReviewsModerate>,
    Query(query): Query<AdminReviewQuery>,
) -> Result<JsonText, ApiError> {
    let filter = to_json(&query)?;
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.admin_list_reviews($1)::text",
        &[&filter],
    )
    .await
}

/// A moderation decision.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModerationStatus {
    Approved,
    Rejected,
}

/// Body of `POST /api/v1/admin/reviews/{id}/moderation`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "rejected", "reason": "Off-topic: about delivery, not the product"}))]
pub struct ModerationRequest {
    #[schema(value_type = ModerationStatus)]
    pub status: String,
    /// Required to reject (the author sees it); at most 1000 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Approves or rejects a review (audited); the product's rating follows.
#[utoipa::path(post, path = "/api/v1/admin/reviews/{id}/moderation", tag = "reviews",
    security(("bearer" = ["reviews:moderate"])), request_body = ModerationRequest,
    params(("id" = i64, Path, description = "Review id")),
    responses(
        (status = 200, description = "The review", body = StaffReview),
        (status = 404, description = "No such review (`review_not_found`)", body = Problem),
        (status = 422, description = "Codes: `reason_required` (a rejection without reason), `invalid_status`, `invalid_field`, `invalid_body`", body = Problem),
    ))]
pub async fn moderate_review(
    State(state): State<AppState>,
    Require(caller, ..): Require<ReviewsModerate>,
    Path(id): Path<i64>,
    Json(decision): Json<ModerationRequest>,
) -> Result<JsonText, ApiError> {
    let decision = to_json(&decision)?;
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.admin_moderate_review($1, $2)::text",
        &[&id, &decision],
    )
    .await
}

/// Body of `PUT /api/v1/admin/reviews/{id}/reply`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"body": "Merci pour votre avis !"}))]
pub struct ReplyRequest {
    /// HTML is stripped; 1 to 5000 characters after that.
    #[schema(min_length = 1)]
    pub body: String,
}

/// Sets the shop's reply shown under a review and e-mails it to the author (audited).
#[utoipa::path(put, path = "/api/v1/admin/reviews/{id}/reply", tag = "reviews",
    security(("bearer" = ["reviews:moderate"])), request_body = ReplyRequest,
    params(("id" = i64, Path, description = "Review id")),
    responses(
        (status = 200, description = "The review", body = StaffReview),
        (status = 404, description = "No such review (`review_not_found`)", body = Problem),
        (status = 422, description = "Codes: `invalid_field` (empty once HTML is removed, or too long), `invalid_body`", body = Problem),
    ))]
pub async fn reply_review(
    State(state): State<AppState>,
    Require(caller, ..): Require<ReviewsModerate>,
    Path(id): Path<i64>,
    Json(reply): Json<ReplyRequest>,
) -> Result<JsonText, ApiError> {
    let reply = to_json(&reply)?;
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.admin_reply_review($1, $2)::text",
        &[&id, &reply],
    )
    .await
}

/// Removes the shop's reply (audited).
#[utoipa::path(delete, path = "/api/v1/admin/reviews/{id}/reply", tag = "reviews",
    security(("bearer" = ["reviews:moderate"])),
    params(("id" = i64, Path, description = "Review id")),
    responses(
        (status = 200, description = "The review", body = StaffReview),
        (status = 404, description = "No such review (`review_not_found`)", body = Problem),
    ))]
pub async fn delete_reply(
    State(state): State<AppState>,
    Require(caller, ..): Require<ReviewsModerate>,
    Path(id): Path<i64>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.admin_delete_review_reply($1)::text",
        &[&id],
    )
    .await
}
