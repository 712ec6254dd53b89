//! Stories: the storefront carousel (public), and the admin's links, drafts, hiding and
//! on-demand pulls (`stories:write`). One SQL call per route (`sql/stories.sql`); the
//! pull itself is `maef-worker`'s `pull_instagram_stories` job.

use axum::{extract::State, http::StatusCode};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    caller::{Caller, Require, StoriesWrite},
    db::Access,
    error::{ApiError, Problem},
    extract::{Path, Query},
    routes::{
        answer, answer_read,
        catalog_admin_types::ProductAdmin,
        catalog_types::{Currency, ProductSummary, Timestamp},
        instagram::not_configured,
        JsonText,
    },
    AppState,
};

/// `/api/v1/stories…` and `/api/v1/admin/stories…`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_stories))
        .routes(routes!(story))
        .routes(routes!(admin_list_stories))
        .routes(routes!(link_product, unlink_product))
        .routes(routes!(draft_product))
        .routes(routes!(hide_story))
        .routes(routes!(ingest_instagram))
}

/// Derivative URLs of an image (served as soon as the worker made them, the original
/// meanwhile).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StoryMediaVariants {
    /// 320 px JPEG.
    pub thumb: String,
    /// 1024 px JPEG.
    pub medium: String,
    /// WebP.
    pub webp: String,
}

/// Stored bytes of a story.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StoryMedia {
    #[schema(format = Uuid)]
    pub asset_id: String,
    /// Where the bytes are served (Range, ETag).
    pub url: String,
    /// Sniffed type (`image/jpeg`, `video/mp4`, …).
    pub mime_type: String,
    #[schema(required)]
    pub width: Option<i32>,
    #[schema(required)]
    pub height: Option<i32>,
    /// Videos whose duration could be read.
    #[schema(required)]
    pub duration_sec: Option<f64>,
    pub size_bytes: i64,
    /// Images only.
    #[schema(required)]
    pub variants: Option<StoryMediaVariants>,
}

/// A story as the storefront shows it.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Story {
    pub id: i64,
    /// `instagram`.
    pub platform: String,
    /// Instagram's `IMAGE`, `VIDEO` or `CAROUSEL_ALBUM` (`media.mime_type` says what was stored).
    pub media_type: StoryMediaType,
    /// `media_url`; `thumbnail_url` for a video Instagram gave without its bytes
    /// (licensed music); `demo` for the demo shop's.
    #[schema(required)]
    pub media_source: Option<MediaSource>,
    /// The image or video (always present in the storefront's lists).
    #[schema(required)]
    pub media: Option<StoryMedia>,
    /// A video's poster frame (its thumbnail); the image itself for an image.
    #[schema(required)]
    pub poster: Option<StoryMedia>,
    pub caption: String,
    #[schema(value_type = Timestamp)]
    pub posted_at: String,
    /// When Instagram stops showing it (24 hours after posting).
    #[schema(value_type = Timestamp)]
    pub expires_on_instagram_at: String,
    #[schema(required)]
    pub permalink: Option<String>,
    /// The active products it shows, as in product lists (price, stock).
    pub products: Vec<ProductSummary>,
}

/// Instagram's media types.
#[derive(ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StoryMediaType {
    Image,
    Video,
    CarouselAlbum,
}

/// Where a story's stored bytes came from.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MediaSource {
    MediaUrl,
    ThumbnailUrl,
    Demo,
}

/// A page of stories, newest first.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StoryPage {
    pub items: Vec<Story>,
    /// Pass as `after` for the next page; null on the last page.
    #[schema(required, pattern = "^-?[0-9]{1,18}\\|[0-9]{1,18}$")]
    pub next_cursor: Option<String>,
}

/// A price read from a caption.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaptionPrice {
    #[schema(value_type = Currency)]
    pub currency: String,
    /// Minor units of `currency`.
    #[schema(minimum = 0)]
    pub amount: i64,
    /// The caption's words (`15 000 FCFA`).
    #[schema(required)]
    pub text: Option<String>,
}

/// What the caption parser read (what a draft product is made of).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaptionFacts {
    #[schema(required)]
    pub title: Option<String>,
    pub description: String,
    pub hashtags: Vec<String>,
    #[schema(required)]
    pub price: Option<CaptionPrice>,
}

/// A product a story is linked to (active or not).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StoryLink {
    pub product_id: i64,
    pub slug: String,
    pub title: String,
    pub is_active: bool,
    #[schema(value_type = Timestamp)]
    pub linked_at: String,
}

/// A story as the admin sees it.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminStory {
    pub id: i64,
    pub platform: String,
    pub media_type: StoryMediaType,
    #[schema(required)]
    pub media_source: Option<MediaSource>,
    #[schema(required)]
    pub media: Option<StoryMedia>,
    #[schema(required)]
    pub poster: Option<StoryMedia>,
    pub caption: String,
    #[schema(value_type = Timestamp)]
    pub posted_at: String,
    #[schema(value_type = Timestamp)]
    pub expires_on_instagram_at: String,
    #[schema(required)]
    pub permalink: Option<String>,
    /// Active linked products (what the storefront shows).
    pub products: Vec<ProductSummary>,
    /// The connected account it came from (`demo` for the demo shop's).
    #[schema(required)]
    pub account_id: Option<String>,
    /// Instagram's media id.
    pub external_id: String,
    #[schema(required)]
    pub media_product_type: Option<String>,
    /// Why no media was stored (over the limit, type not allowed, undecodable).
    #[schema(required)]
    pub media_error: Option<String>,
    #[schema(required, value_type = Option<Timestamp>)]
    pub hidden_at: Option<String>,
    #[schema(value_type = Timestamp)]
    pub created_at: String,
    #[schema(value_type = Timestamp)]
    pub updated_at: String,
    #[schema(required)]
    pub draft_product_id: Option<i64>,
    pub caption_facts: CaptionFacts,
    /// Every link, inactive drafts included.
    pub links: Vec<StoryLink>,
}

/// A page of admin stories.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminStoryPage {
    pub items: Vec<AdminStory>,
    #[schema(required, pattern = "^-?[0-9]{1,18}\\|[0-9]{1,18}$")]
    pub next_cursor: Option<String>,
}

/// The answer of a link.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkResult {
    /// False when the link existed already.
    pub created: bool,
    pub story: AdminStory,
}

/// The answer of a draft.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftResult {
    /// False when the story had its draft already (returned as is).
    pub created: bool,
    /// The product (inactive until a manager activates it).
    pub product: ProductAdmin,
    pub story: AdminStory,
}

/// One queued pull.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueuedPull {
    pub account_id: String,
    pub job_id: i64,
    /// When it runs (later than now while the account is rate limited).
    #[schema(value_type = Timestamp)]
    pub run_at: String,
}

/// The pulls an on-demand ingest queued (one per account at a time).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IngestResult {
    pub jobs: Vec<QueuedPull>,
}

/// Query of `GET /api/v1/stories`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// `true`: only stories showing an active product; `false`: only the others.
    pub linked: Option<bool>,
    /// Page size, 1..=50 (default 20).
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<i32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^-?[0-9]{1,18}\\|[0-9]{1,18}$")]
    pub after: Option<String>,
}

/// The storefront carousel: visible stories, newest first, keyset pages (a page never
/// repeats or skips a story while new ones arrive).
#[utoipa::path(get, path = "/api/v1/stories", tag = "stories", params(ListParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "A page of stories", body = StoryPage),
        (status = 422, description = "Bad limit, cursor or parameter", body = Problem)))]
pub async fn list_stories(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ListParams>,
) -> Result<JsonText, ApiError> {
    answer_read(
        &state,
        &caller,
        "select api.list_stories($1, $2, $3)::text",
        &[&params.linked, &params.limit, &params.after],
    )
    .await
}

/// One story (404 for hidden ones and those without media).
#[utoipa::path(get, path = "/api/v1/stories/{id}", tag = "stories",
    params(("id" = i64, Path, description = "Story id")), security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The story", body = Story),
        (status = 404, description = "No such visible story", body = Problem)))]
pub async fn story(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<JsonText, ApiError> {
    let id = story_id(&id)?;
    answer_read(&state, &caller, "select api.story($1)::text", &[&id]).await
}

/// Query of `GET /api/v1/admin/stories`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AdminListParams {
    /// Linked to any product (drafts included), or not.
    pub linked: Option<bool>,
    /// Hidden, or not.
    pub hidden: Option<bool>,
    /// With stored media, or not (see `media_error`).
    pub has_media: Option<bool>,
    /// From this connected account.
    pub account_id: Option<String>,
    /// Caption contains (case-insensitive).
    pub q: Option<String>,
    /// Page size, 1..=50 (default 20).
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<i32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^-?[0-9]{1,18}\\|[0-9]{1,18}$")]
    pub after: Option<String>,
}

/// Every story, hidden ones and those without media included, with filters.
#[utoipa::path(get, path = "/api/v1/admin/stories", tag = "stories", params(AdminListParams),
    security(("bearer" = ["stories:write"])),
    responses(
        (status = 200, description = "A page of stories", body = AdminStoryPage),
        (status = 422, description = "Bad filter, limit or cursor", body = Problem)))]
pub async fn admin_list_stories(
    State(state): State<AppState>,
    Require(caller, ..): Require<StoriesWrite>,
    Query(params): Query<AdminListParams>,
) -> Result<JsonText, ApiError> {
    let mut filters = serde_json::Map::new();
    for (key, value) in [
        ("linked", params.linked),
        ("hidden", params.hidden),
        ("has_media", params.has_media),
    ] {
        if let Some(v) = value {
            filters.insert(key.into(), v.to_string().into());
        }
    }
    for (key, value) in [("account_id", params.account_id), ("q", params.q)] {
        if let Some(v) = value {
            filters.insert(key.into(), v.into());
        }
    }
    let filters = serde_json::Value::Object(filters);
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.admin_list_stories($1, $2, $3)::text",
        &[&filters, &params.limit, &params.after],
    )
    .await
}

/// Links a product to a story: the carousel shows it while it is active (audited).
#[utoipa::path(put, path = "/api/v1/admin/stories/{id}/products/{product_id}", tag = "stories",
    params(("id" = i64, Path, description = "Story id"), ("product_id" = i64, Path, description = "Product id")),
    security(("bearer" = ["stories:write"])),
    responses(
        (status = 200, description = "Linked (created=false: it was already)", body = LinkResult),
        (status = 404, description = "No such story or product", body = Problem)))]
pub async fn link_product(
    State(state): State<AppState>,
    Require(caller, ..): Require<StoriesWrite>,
    Path((id, product_id)): Path<(String, String)>,
) -> Result<JsonText, ApiError> {
    let (id, product_id) = (story_id(&id)?, product(&product_id)?);
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.link_story_product($1, $2)::text",
        &[&id, &product_id],
    )
    .await
}

/// Unlinks a product from a story (audited).
#[utoipa::path(delete, path = "/api/v1/admin/stories/{id}/products/{product_id}", tag = "stories",
    params(("id" = i64, Path, description = "Story id"), ("product_id" = i64, Path, description = "Product id")),
    security(("bearer" = ["stories:write"])),
    responses(
        (status = 200, description = "The story", body = AdminStory),
        (status = 404, description = "No such story, or not linked", body = Problem)))]
pub async fn unlink_product(
    State(state): State<AppState>,
    Require(caller, ..): Require<StoriesWrite>,
    Path((id, product_id)): Path<(String, String)>,
) -> Result<JsonText, ApiError> {
    let (id, product_id) = (story_id(&id)?, product(&product_id)?);
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.unlink_story_product($1, $2)::text",
        &[&id, &product_id],
    )
    .await
}

/// Drafts an inactive product from a story (caption title, description, hashtags as
/// tags, caption price, the story's image as primary), linked to it: 201; the story's
/// existing draft: 200. Also needs `catalog:write`.
#[utoipa::path(post, path = "/api/v1/admin/stories/{id}/draft-product", tag = "stories",
    params(("id" = i64, Path, description = "Story id")),
    security(("bearer" = ["stories:write", "catalog:write"])),
    responses(
        (status = 201, description = "Drafted", body = DraftResult),
        (status = 200, description = "The story's draft, made before", body = DraftResult),
        (status = 404, description = "No such story", body = Problem)))]
pub async fn draft_product(
    State(state): State<AppState>,
    Require(caller, ..): Require<StoriesWrite>,
    Path(id): Path<String>,
) -> Result<JsonText, ApiError> {
    let id = story_id(&id)?;
    let reply = answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.draft_product_from_story($1)::text",
        &[&id],
    )
    .await?;
    // `created` is the first key PostgreSQL writes for this object.
    let created = serde_json::from_str::<serde_json::Value>(&reply.1)
        .map(|v| v["created"] == serde_json::Value::Bool(true))
        .unwrap_or(false);
    Ok(if created { reply.created() } else { reply })
}

/// Hides a story: never served again, never pulled back (audited).
#[utoipa::path(delete, path = "/api/v1/admin/stories/{id}", tag = "stories",
    params(("id" = i64, Path, description = "Story id")),
    security(("bearer" = ["stories:write"])),
    responses(
        (status = 200, description = "Hidden", body = AdminStory),
        (status = 404, description = "No such story", body = Problem)))]
pub async fn hide_story(
    State(state): State<AppState>,
    Require(caller, ..): Require<StoriesWrite>,
    Path(id): Path<String>,
) -> Result<JsonText, ApiError> {
    let id = story_id(&id)?;
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.hide_story($1)::text",
        &[&id],
    )
    .await
}

/// Query of `POST /api/v1/stories/ingest/instagram`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct IngestParams {
    /// Only this connected account (default: every active one).
    #[param(pattern = "^[0-9A-Za-z_-]{1,64}$")]
    pub account_id: Option<String>,
}

/// Pulls stories now: one `pull_instagram_stories` job per active account, never two
/// at a time for one account (the queue's unique key): 202 with the jobs.
#[utoipa::path(post, path = "/api/v1/stories/ingest/instagram", tag = "stories", params(IngestParams),
    security(("bearer" = ["stories:write"])),
    responses(
        (status = 202, description = "Queued (or already queued)", body = IngestResult),
        (status = 404, description = "No such connected account", body = Problem),
        (status = 409, description = "Not configured, or no active account", body = Problem),
        (status = 422, description = "Unknown parameter", body = Problem)))]
pub async fn ingest_instagram(
    State(state): State<AppState>,
    Require(caller, ..): Require<StoriesWrite>,
    Query(params): Query<IngestParams>,
) -> Result<JsonText, ApiError> {
    let missing = state.config.instagram.missing_for_tokens();
    if !missing.is_empty() {
        return Err(not_configured(&missing));
    }
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        "select api.ingest_instagram_stories($1)::text",
        &[&params.account_id],
    )
    .await
    .map(|j| j.with_status(StatusCode::ACCEPTED))
}

fn story_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "story_not_found",
            format!("no story {raw}"),
        )
        .hint("story ids are whole numbers, as listed by GET /api/v1/stories")
    })
}

fn product(raw: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "product_not_found",
            format!("no product {raw}"),
        )
        .hint("product ids are whole numbers")
    })
}
