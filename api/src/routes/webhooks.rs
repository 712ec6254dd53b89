//! Domain events and outbound webhooks (`webhooks:write`, audited in SQL:
//! `sql/webhooks.sql`, `sql/events.sql`; docs/events.md).
//!
//! The one thing done here before the SQL call: a webhook URL is checked against the
//! outbound address policy (its host must resolve to public addresses only: SSRF),
//! which needs DNS and so cannot run in SQL. maef-worker checks again at each delivery.

use axum::{extract::State, http::StatusCode};
use maef_outbound::address::{self, Policy};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    caller::{Require, WebhooksWrite},
    db::Access,
    error::{ApiError, Problem},
    extract::{Json, Path, Query},
    routes::{answer, JsonText},
    AppState,
};

/// `/api/v1/admin/webhook-endpoints…`, `/api/v1/admin/events`, `/api/v1/admin/event-types`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_endpoints, create_endpoint))
        .routes(routes!(get_endpoint, update_endpoint, delete_endpoint))
        .routes(routes!(rotate_secret))
        .routes(routes!(list_deliveries))
        .routes(routes!(get_delivery))
        .routes(routes!(retry_delivery))
        .routes(routes!(list_events))
        .routes(routes!(list_event_types))
}

/// When a signing secret was made, and until when a rotated one stays valid.
#[derive(Serialize, ToSchema)]
pub struct SecretInfo {
    pub created_at: String,
    /// Null for the current secret; the end of the overlap for a rotated one.
    pub expires_at: Option<String>,
}

/// A webhook endpoint (its secrets are never shown after they are made).
#[derive(Serialize, ToSchema)]
pub struct WebhookEndpoint {
    pub id: i64,
    pub url: String,
    pub description: String,
    /// Event types, families (`order.*`) or `*`.
    pub event_types: Vec<String>,
    pub enabled: bool,
    pub disabled_at: Option<String>,
    /// Why it was disabled (by an admin, `410 Gone`, failing for too long).
    pub disabled_reason: Option<String>,
    /// Start of the current run of failed attempts; null after a success.
    pub failing_since: Option<String>,
    pub last_success_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// The valid signing secrets (every request carries one signature per secret).
    pub secrets: Vec<SecretInfo>,
}

/// An endpoint with its new signing secret: shown once, store it now.
#[derive(Serialize, ToSchema)]
pub struct WebhookEndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    /// `whsec_` + base64 of 32 random bytes: the HMAC key is the decoded bytes.
    pub secret: String,
}

/// Every endpoint.
#[derive(Serialize, ToSchema)]
pub struct WebhookEndpointList {
    pub items: Vec<WebhookEndpoint>,
}

/// Body of `POST /api/v1/admin/webhook-endpoints`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpoint {
    /// `https://…` whose host resolves to public addresses only, without credentials
    /// (`WEBHOOK_ALLOW_PRIVATE=1`, for tests and development, also lets plain `http`
    /// and private addresses through).
    #[schema(
        pattern = r"^https://[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?([/?#][^\s]*)?$",
        max_length = 2048
    )]
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Event types (`order.paid`), families (`order.*`) or `*` (default `["*"]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_types: Option<Vec<String>>,
    /// Default true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// Body of `PATCH /api/v1/admin/webhook-endpoints/{id}`: the fields to change.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEndpoint {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(
        pattern = r"^https://[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?([/?#][^\s]*)?$",
        max_length = 2048
    )]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_types: Option<Vec<String>>,
    /// `true` re-enables a disabled endpoint (its failure run is cleared).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// Refuses a URL the outbound address policy forbids (422 naming the rule).
async fn check_url(state: &AppState, url: &str) -> Result<(), ApiError> {
    let policy = Policy {
        allow_private: state.config.webhook_allow_private,
    };
    let checked = tokio::time::timeout(std::time::Duration::from_secs(5), address::check(url, policy)).await;
    match checked {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(refusal)) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            refusal.code(),
            refusal.to_string(),
        )
        .details("$.url")
        .hint("Webhooks are sent to https URLs on public internet addresses only.")),
        Err(_) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "webhook_url_unresolvable",
            "the URL's host did not resolve within 5 seconds",
        )
        .details("$.url")),
    }
}

/// Every webhook endpoint.
#[utoipa::path(get, path = "/api/v1/admin/webhook-endpoints", tag = "webhooks",
    security(("bearer" = ["webhooks:write"])),
    responses((status = 200, description = "The endpoints", body = WebhookEndpointList)))]
pub async fn list_endpoints(
    State(state): State<AppState>,
    Require(caller, ..): Require<WebhooksWrite>,
) -> Result<JsonText, ApiError> {
    let sql = "select api.admin_list_webhook_endpoints()::text";
    answer(&state, &caller, Access::ReadOnly, sql, &[]).await
}

/// Creates an endpoint and its signing secret, shown once in the answer. Audited.
#[utoipa::path(post, path = "/api/v1/admin/webhook-endpoints", tag = "webhooks", request_body = CreateEndpoint,
    security(("bearer" = ["webhooks:write"])),
    responses(
        (status = 201, description = "The endpoint with its secret (shown this once)", body = WebhookEndpointWithSecret),
        (status = 422, description = "A URL that is not https or not public (`webhook_url_not_public`, …), an unknown event type (`invalid_field`)", body = Problem),
    ))]
pub async fn create_endpoint(
    State(state): State<AppState>,
    Require(caller, ..): Require<WebhooksWrite>,
    Json(request): Json<CreateEndpoint>,
) -> Result<JsonText, ApiError> {
    check_url(&state, &request.url).await?;
    let body = serde_json::to_value(&request).map_err(|e| ApiError::internal(e.to_string()))?;
    let sql = "select api.admin_create_webhook_endpoint($1)::text";
    answer(&state, &caller, Access::ReadWrite, sql, &[&body])
        .await
        .map(JsonText::created)
}

/// One endpoint.
#[utoipa::path(get, path = "/api/v1/admin/webhook-endpoints/{id}", tag = "webhooks",
    params(("id" = i64, Path, description = "Endpoint id")), security(("bearer" = ["webhooks:write"])),
    responses(
        (status = 200, description = "The endpoint", body = WebhookEndpoint),
        (status = 404, description = "No such endpoint", body = Problem),
    ))]
pub async fn get_endpoint(
    State(state): State<AppState>,
    Require(caller, ..): Require<WebhooksWrite>,
    Path(id): Path<i64>,
) -> Result<JsonText, ApiError> {
    let sql = "select api.admin_get_webhook_endpoint($1)::text";
    answer(&state, &caller, Access::ReadOnly, sql, &[&id]).await
}

/// Changes an endpoint (`{"enabled": true}` re-enables a disabled one). Audited.
#[utoipa::path(patch, path = "/api/v1/admin/webhook-endpoints/{id}", tag = "webhooks", request_body = UpdateEndpoint,
    params(("id" = i64, Path, description = "Endpoint id")), security(("bearer" = ["webhooks:write"])),
    responses(
        (status = 200, description = "The endpoint", body = WebhookEndpoint),
        (status = 404, description = "No such endpoint", body = Problem),
        (status = 422, description = "A refused URL or an unknown event type", body = Problem),
    ))]
pub async fn update_endpoint(
    State(state): State<AppState>,
    Require(caller, ..): Require<WebhooksWrite>,
    Path(id): Path<i64>,
    Json(request): Json<UpdateEndpoint>,
) -> Result<JsonText, ApiError> {
    if let Some(url) = &request.url {
        check_url(&state, url).await?;
    }
    let patch = serde_json::to_value(&request).map_err(|e| ApiError::internal(e.to_string()))?;
    let sql = "select api.admin_update_webhook_endpoint($1, $2)::text";
    answer(&state, &caller, Access::ReadWrite, sql, &[&id, &patch]).await
}

/// What a delete answers.
#[derive(Serialize, ToSchema)]
pub struct Deleted {
    pub deleted: i64,
}

/// Deletes an endpoint with its secrets and delivery log. Audited.
#[utoipa::path(delete, path = "/api/v1/admin/webhook-endpoints/{id}", tag = "webhooks",
    params(("id" = i64, Path, description = "Endpoint id")), security(("bearer" = ["webhooks:write"])),
    responses(
        (status = 200, description = "Deleted", body = Deleted),
        (status = 404, description = "No such endpoint", body = Problem),
    ))]
pub async fn delete_endpoint(
    State(state): State<AppState>,
    Require(caller, ..): Require<WebhooksWrite>,
    Path(id): Path<i64>,
) -> Result<JsonText, ApiError> {
    let sql = "select api.admin_delete_webhook_endpoint($1)::text";
    answer(&state, &caller, Access::ReadWrite, sql, &[&id]).await
}

/// Query of the secret rotation.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Rotation {
    /// How long the previous secrets stay valid, in seconds (0..=604800, default 86400).
    #[param(minimum = 0, maximum = 604800)]
    pub overlap_secs: Option<i32>,
}

/// Makes a new signing secret (shown once); the previous ones stay valid for the
/// overlap, during which each request carries a signature per valid secret. Audited.
#[utoipa::path(post, path = "/api/v1/admin/webhook-endpoints/{id}/rotate-secret", tag = "webhooks",
    params(("id" = i64, Path, description = "Endpoint id"), Rotation), security(("bearer" = ["webhooks:write"])),
    responses(
        (status = 200, description = "The endpoint with its new secret (shown this once)", body = WebhookEndpointWithSecret),
        (status = 404, description = "No such endpoint", body = Problem),
        (status = 422, description = "overlap_secs out of range", body = Problem),
    ))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    Require(caller, ..): Require<WebhooksWrite>,
    Path(id): Path<i64>,
    Query(rotation): Query<Rotation>,
) -> Result<JsonText, ApiError> {
    let sql = "select api.admin_rotate_webhook_secret($1, $2)::text";
    answer(
        &state,
        &caller,
        Access::ReadWrite,
        sql,
        &[&id, &rotation.overlap_secs],
    )
    .await
}

/// One delivery of an event to an endpoint.
#[derive(Serialize, ToSchema)]
pub struct WebhookDelivery {
    pub id: i64,
    pub endpoint_id: i64,
    pub event_id: i64,
    pub event_type: String,
    /// `pending`, `succeeded`, `failed` (retry window over, or 410) or `cancelled` (endpoint disabled).
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<String>,
    pub last_attempt_at: Option<String>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<String>,
    pub created_at: String,
}

/// One HTTP attempt of a delivery.
#[derive(Serialize, ToSchema)]
pub struct WebhookAttempt {
    pub attempt: i32,
    pub started_at: String,
    pub latency_ms: Option<i32>,
    /// Null when no answer came (refused address, timeout, connection error).
    pub status_code: Option<i32>,
    pub error: Option<String>,
    /// The first 2 KiB of the answer's body.
    pub response_excerpt: Option<String>,
}

/// A delivery with its attempts.
#[derive(Serialize, ToSchema)]
pub struct WebhookDeliveryDetail {
    #[serde(flatten)]
    pub delivery: WebhookDelivery,
    pub attempts_log: Vec<WebhookAttempt>,
}

/// A page of deliveries.
#[derive(Serialize, ToSchema)]
pub struct WebhookDeliveryPage {
    pub items: Vec<WebhookDelivery>,
    /// Pass as `before` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Query of the delivery log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryFilter {
    /// Page size, 1..=200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i32>,
    /// `next_cursor` of the previous page.
    pub before: Option<i64>,
    /// `pending`, `succeeded`, `failed` or `cancelled`.
    #[param(inline, value_type = Option<DeliveryStatus>)]
    pub status: Option<String>,
}

/// The states of a delivery.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Pending,
    Succeeded,
    Failed,
    Cancelled,
}

/// An endpoint's deliveries, newest first.
#[utoipa::path(get, path = "/api/v1/admin/webhook-endpoints/{id}/deliveries", tag = "webhooks",
    params(("id" = i64, Path, description = "Endpoint id"), DeliveryFilter), security(("bearer" = ["webhooks:write"])),
    responses(
        (status = 200, description = "Deliveries, newest first", body = WebhookDeliveryPage),
        (status = 404, description = "No such endpoint", body = Problem),
        (status = 422, description = "Bad limit or status", body = Problem),
    ))]
pub async fn list_deliveries(
    State(state): State<AppState>,
    Require(caller, ..): Require<WebhooksWrite>,
    Path(id): Path<i64>,
    Query(filter): Query<DeliveryFilter>,
) -> Result<JsonText, ApiError> {
    let sql = "select api.admin_list_webhook_deliveries($1, $2, $3, $4)::text";
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        sql,
        &[&id, &filter.limit, &filter.before, &filter.status],
    )
    .await
}

/// One delivery with its log of attempts (status code, latency, error, response excerpt).
#[utoipa::path(get, path = "/api/v1/admin/webhook-endpoints/{id}/deliveries/{delivery_id}", tag = "webhooks",
    params(("id" = i64, Path, description = "Endpoint id"), ("delivery_id" = i64, Path, description = "Delivery id")),
    security(("bearer" = ["webhooks:write"])),
    responses(
        (status = 200, description = "The delivery and its attempts", body = WebhookDeliveryDetail),
        (status = 404, description = "No such delivery for this endpoint", body = Problem),
    ))]
pub async fn get_delivery(
    State(state): State<AppState>,
    Require(caller, ..): Require<WebhooksWrite>,
    Path((id, delivery_id)): Path<(i64, i64)>,
) -> Result<JsonText, ApiError> {
    let sql = "select api.admin_get_webhook_delivery($1, $2)::text";
    answer(&state, &caller, Access::ReadOnly, sql, &[&id, &delivery_id]).await
}

/// Delivers again now, whatever the delivery's state (a new retry window starts; a
/// job already waiting is moved to now, not doubled). Audited.
#[utoipa::path(post, path = "/api/v1/admin/webhook-endpoints/{id}/deliveries/{delivery_id}/retry", tag = "webhooks",
    params(("id" = i64, Path, description = "Endpoint id"), ("delivery_id" = i64, Path, description = "Delivery id")),
    security(("bearer" = ["webhooks:write"])),
    responses(
        (status = 202, description = "Queued for delivery", body = WebhookDelivery),
        (status = 404, description = "No such delivery for this endpoint", body = Problem),
        (status = 409, description = "The endpoint is disabled (`webhook_endpoint_disabled`)", body = Problem),
    ))]
pub async fn retry_delivery(
    State(state): State<AppState>,
    Require(caller, ..): Require<WebhooksWrite>,
    Path((id, delivery_id)): Path<(i64, i64)>,
) -> Result<JsonText, ApiError> {
    let sql = "select api.admin_retry_webhook_delivery($1, $2)::text";
    answer(&state, &caller, Access::ReadWrite, sql, &[&id, &delivery_id])
        .await
        .map(|j| j.with_status(StatusCode::ACCEPTED))
}

/// What an event is about.
#[derive(Serialize, ToSchema)]
pub struct Aggregate {
    /// `order`, `product`, `customer`, …
    pub r#type: String,
    pub id: String,
}

/// A domain event.
#[derive(Serialize, ToSchema)]
pub struct Event {
    pub id: i64,
    /// `order.paid`, `product.created`, … (docs/events.md documents each payload).
    pub r#type: String,
    /// The version of the type's payload schema.
    pub version: i32,
    pub aggregate: Aggregate,
    pub occurred_at: String,
    pub payload: serde_json::Value,
}

/// A page of events.
#[derive(Serialize, ToSchema)]
pub struct EventPage {
    pub items: Vec<Event>,
    /// Pass as `before` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Query of the event listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventFilter {
    /// Page size, 1..=200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i32>,
    /// `next_cursor` of the previous page.
    pub before: Option<i64>,
    /// An event type.
    pub r#type: Option<String>,
    /// An aggregate type (`order`, `product`, …).
    pub aggregate_type: Option<String>,
    /// An aggregate id (with `aggregate_type`).
    pub aggregate_id: Option<String>,
}

/// The events, newest first: for looking. A consumer that must see every event once
/// tails them with `api.events_after` (docs/events.md) or subscribes a webhook.
#[utoipa::path(get, path = "/api/v1/admin/events", tag = "webhooks", params(EventFilter),
    security(("bearer" = ["webhooks:write"])),
    responses(
        (status = 200, description = "Events, newest first", body = EventPage),
        (status = 422, description = "Bad limit", body = Problem),
    ))]
pub async fn list_events(
    State(state): State<AppState>,
    Require(caller, ..): Require<WebhooksWrite>,
    Query(filter): Query<EventFilter>,
) -> Result<JsonText, ApiError> {
    let sql = "select api.admin_list_events($1, $2, $3, $4, $5)::text";
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        sql,
        &[
            &filter.limit,
            &filter.before,
            &filter.r#type,
            &filter.aggregate_type,
            &filter.aggregate_id,
        ],
    )
    .await
}

/// An event type an endpoint may subscribe to.
#[derive(Serialize, ToSchema)]
pub struct EventType {
    pub r#type: String,
    /// The current version of its payload schema.
    pub version: i32,
    pub aggregate_type: String,
    pub description: String,
}

/// Every event type.
#[derive(Serialize, ToSchema)]
pub struct EventTypeList {
    pub items: Vec<EventType>,
}

/// The event types (with their payload versions) an endpoint may subscribe to.
#[utoipa::path(get, path = "/api/v1/admin/event-types", tag = "webhooks",
    security(("bearer" = ["webhooks:write"])),
    responses((status = 200, description = "The event types", body = EventTypeList)))]
pub async fn list_event_types(
    State(state): State<AppState>,
    Require(caller, ..): Require<WebhooksWrite>,
) -> Result<JsonText, ApiError> {
    let sql = "select api.admin_list_event_types()::text";
    answer(&state, &caller, Access::ReadOnly, sql, &[]).await
}
