//! E-mail templates and the e-mail outbox (`emails:admin`; `sql/email.sql`,
//! docs/email.md).
//!
//! Saving and previewing a template render it here, with minijinja (the same code,
//! `maef_outbound::template`, maef-worker sends with): a template that does not compile
//! or names a variable its kind does not have is refused with 422 before it is saved,
//! so a broken template never reaches a customer. That takes two calls (the kind's
//! sample, then the save), as a login takes two around its password check.

use axum::{extract::State, http::StatusCode};
use maef_outbound::template::{self, Template, TemplateError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    caller::{Caller, EmailsAdmin, Require},
    db::{self, Access},
    error::{ApiError, Problem},
    extract::{Json, Path, Query},
    routes::{answer, JsonText},
    AppState,
};

/// `/api/v1/admin/email-templates…`, `/api/v1/admin/outbox/emails`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_templates))
        .routes(routes!(get_template, save_template))
        .routes(routes!(preview_template))
        .routes(routes!(list_emails))
}

/// A template in the list.
#[derive(Serialize, ToSchema)]
pub struct EmailTemplateSummary {
    pub kind: String,
    /// `fr` or `en`.
    pub locale: String,
    pub description: String,
    pub subject: String,
    pub updated_at: String,
}

/// Every template.
#[derive(Serialize, ToSchema)]
pub struct EmailTemplateList {
    pub items: Vec<EmailTemplateSummary>,
}

/// A template, with the sample context previews render by default.
#[derive(Serialize, ToSchema)]
pub struct EmailTemplate {
    pub kind: String,
    pub locale: String,
    pub description: String,
    /// minijinja templates: `{{ variable }}`, `{% if %}`, `{% for %}`.
    pub subject: String,
    pub body_text: String,
    /// Values are HTML-escaped.
    pub body_html: String,
    /// The variables this kind's e-mails receive, with sample values.
    pub sample: serde_json::Value,
    pub updated_at: String,
    pub updated_by: Option<String>,
}

/// Body of `PUT /api/v1/admin/email-templates/{kind}/{locale}`: the whole template.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveTemplate {
    /// A minijinja template of one line.
    #[schema(min_length = 1, max_length = 500)]
    pub subject: String,
    /// The plain-text part (minijinja).
    #[schema(min_length = 1, max_length = 100000)]
    pub body_text: String,
    /// The HTML part (minijinja, autoescaped).
    #[schema(min_length = 1, max_length = 200000)]
    pub body_html: String,
}

/// Body of the preview: a draft (any part left out is the saved one) and a context
/// (left out: the kind's sample; given: laid over the sample).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    pub subject: Option<String>,
    pub body_text: Option<String>,
    pub body_html: Option<String>,
    /// Variables to render with, over the kind's sample.
    pub data: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A rendered e-mail.
#[derive(Serialize, ToSchema)]
pub struct Preview {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The stored template and sample, as the owner of the route sees them.
async fn stored(
    state: &AppState,
    caller: &Caller,
    kind: &str,
    locale: &str,
) -> Result<serde_json::Value, ApiError> {
    let json = db::call(
        &state.db,
        caller,
        Access::ReadOnly,
        "select api.admin_get_email_template($1, $2)::text",
        &[&kind, &locale],
    )
    .await?;
    serde_json::from_str(&json).map_err(|e| ApiError::internal(format!("admin_get_email_template: {e}")))
}

fn invalid(e: &TemplateError) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "email_template_invalid",
        e.to_string(),
    )
    .details(e.part)
    .hint("Variables this kind's e-mails receive are in the template's `sample`.")
}

fn text(value: &serde_json::Value, key: &str) -> String {
    value[key].as_str().unwrap_or_default().to_string()
}

/// Every e-mail template.
#[utoipa::path(get, path = "/api/v1/admin/email-templates", tag = "emails",
    security(("bearer" = ["emails:admin"])),
    responses((status = 200, description = "The templates", body = EmailTemplateList)))]
pub async fn list_templates(
    State(state): State<AppState>,
    Require(caller, ..): Require<EmailsAdmin>,
) -> Result<JsonText, ApiError> {
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        "select api.admin_list_email_templates()::text",
        &[],
    )
    .await
}

/// One template with its kind's sample context.
#[utoipa::path(get, path = "/api/v1/admin/email-templates/{kind}/{locale}", tag = "emails",
    params(("kind" = String, Path, description = "E-mail kind (`password_reset`, …)"),
           ("locale" = String, Path, description = "`fr` or `en`")),
    security(("bearer" = ["emails:admin"])),
    responses(
        (status = 200, description = "The template", body = EmailTemplate),
        (status = 404, description = "No such kind or locale", body = Problem),
    ))]
pub async fn get_template(
    State(state): State<AppState>,
    Require(caller, ..): Require<EmailsAdmin>,
    Path((kind, locale)): Path<(String, String)>,
) -> Result<JsonText, ApiError> {
    let sql = "select api.admin_get_email_template($1, $2)::text";
    answer(&state, &caller, Access::ReadOnly, sql, &[&kind, &locale]).await
}

/// Replaces a template, after rendering it with the kind's sample: one that does not
/// compile or names an unknown variable is refused (422 `email_template_invalid`,
/// `details` naming the part). Audited with the previous text.
#[utoipa::path(put, path = "/api/v1/admin/email-templates/{kind}/{locale}", tag = "emails", request_body = SaveTemplate,
    params(("kind" = String, Path, description = "E-mail kind"), ("locale" = String, Path, description = "`fr` or `en`")),
    security(("bearer" = ["emails:admin"])),
    responses(
        (status = 200, description = "The saved template", body = EmailTemplate),
        (status = 404, description = "No such kind or locale", body = Problem),
        (status = 422, description = "The template does not render (`email_template_invalid`) or is too long", body = Problem),
    ))]
pub async fn save_template(
    State(state): State<AppState>,
    Require(caller, ..): Require<EmailsAdmin>,
    Path((kind, locale)): Path<(String, String)>,
    Json(request): Json<SaveTemplate>,
) -> Result<JsonText, ApiError> {
    let current = stored(&state, &caller, &kind, &locale).await?;
    let draft = Template {
        subject: request.subject.clone(),
        body_text: request.body_text.clone(),
        body_html: request.body_html.clone(),
    };
    template::render(&draft, &current["sample"]).map_err(|e| invalid(&e))?;
    let body = serde_json::to_value(&request).map_err(|e| ApiError::internal(e.to_string()))?;
    let sql = "select api.admin_save_email_template($1, $2, $3)::text";
    answer(&state, &caller, Access::ReadWrite, sql, &[&kind, &locale, &body]).await
}

/// Renders a template (the saved one, or a draft) with the kind's sample or given
/// variables: what the e-mail would look like.
#[utoipa::path(post, path = "/api/v1/admin/email-templates/{kind}/{locale}/preview", tag = "emails",
    request_body = PreviewRequest,
    params(("kind" = String, Path, description = "E-mail kind"), ("locale" = String, Path, description = "`fr` or `en`")),
    security(("bearer" = ["emails:admin"])),
    responses(
        (status = 200, description = "Subject, text and HTML as rendered", body = Preview),
        (status = 404, description = "No such kind or locale", body = Problem),
        (status = 422, description = "The draft does not render (`email_template_invalid`)", body = Problem),
    ))]
pub async fn preview_template(
    State(state): State<AppState>,
    Require(caller, ..): Require<EmailsAdmin>,
    Path((kind, locale)): Path<(String, String)>,
    Json(request): Json<PreviewRequest>,
) -> Result<axum::Json<Preview>, ApiError> {
    let current = stored(&state, &caller, &kind, &locale).await?;
    let draft = Template {
        subject: request.subject.unwrap_or_else(|| text(&current, "subject")),
        body_text: request.body_text.unwrap_or_else(|| text(&current, "body_text")),
        body_html: request.body_html.unwrap_or_else(|| text(&current, "body_html")),
    };
    let mut context = current["sample"].as_object().cloned().unwrap_or_default();
    context.extend(request.data.unwrap_or_default());
    let rendered = template::render(&draft, &serde_json::Value::Object(context)).map_err(|e| invalid(&e))?;
    Ok(axum::Json(Preview {
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
    }))
}

/// An e-mail of the outbox.
#[derive(Serialize, ToSchema)]
pub struct OutboxEmail {
    pub id: i64,
    pub kind: String,
    pub locale: String,
    pub to: String,
    /// `queued`, `sending`, `sent` (SMTP accepted it), `logged` (no SMTP_URL) or `failed`.
    pub status: String,
    pub attempts: i32,
    /// `smtp` or `log`, once sent.
    pub transport: Option<String>,
    pub message_id: Option<String>,
    pub subject: Option<String>,
    /// Kept for logged e-mails only (development, no SMTP_URL).
    pub body_text: Option<String>,
    pub body_html: Option<String>,
    pub last_error: Option<String>,
    pub job_id: Option<i64>,
    pub created_at: String,
    pub sent_at: Option<String>,
}

/// A page of the outbox.
#[derive(Serialize, ToSchema)]
pub struct OutboxPage {
    pub items: Vec<OutboxEmail>,
    /// Pass as `before` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
}

/// The states of an e-mail of the outbox.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum EmailStatus {
    Queued,
    Sending,
    Sent,
    Logged,
    Failed,
}

/// Query of the outbox.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutboxFilter {
    /// Page size, 1..=200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i32>,
    /// `next_cursor` of the previous page.
    pub before: Option<i64>,
    /// `queued`, `sending`, `sent`, `logged` or `failed`.
    #[param(inline, value_type = Option<EmailStatus>)]
    pub status: Option<String>,
    /// E-mail kind.
    pub kind: Option<String>,
    /// Recipient address.
    pub to: Option<String>,
}

/// The e-mails sent or queued, newest first. Without SMTP_URL (development) e-mails
/// are not sent but kept here with their subject and bodies.
#[utoipa::path(get, path = "/api/v1/admin/outbox/emails", tag = "emails", params(OutboxFilter),
    security(("bearer" = ["emails:admin"])),
    responses(
        (status = 200, description = "E-mails, newest first", body = OutboxPage),
        (status = 422, description = "Bad limit or status", body = Problem),
    ))]
pub async fn list_emails(
    State(state): State<AppState>,
    Require(caller, ..): Require<EmailsAdmin>,
    Query(filter): Query<OutboxFilter>,
) -> Result<JsonText, ApiError> {
    let sql = "select api.admin_list_emails($1, $2, $3, $4, $5)::text";
    answer(
        &state,
        &caller,
        Access::ReadOnly,
        sql,
        &[
            &filter.limit,
            &filter.before,
            &filter.status,
            &filter.kind,
            &filter.to,
        ],
    )
    .await
}
