//! `send_email`: renders one `shop.email_message` and sends it, once.
//!
//! 1. `api.email_send_begin` takes the message for this attempt (a send lease) and
//!    hands over the templates and context; a message already sent completes the job
//!    without sending (the send record: a retried or duplicated job sends nothing);
//!    a message another attempt is sending makes this job wait for that attempt.
//! 2. The message is rendered (minijinja) and sent over SMTP — multipart text + HTML,
//!    a Message-ID derived from the message's id (the same at every attempt, so mail
//!    systems that deduplicate by Message-ID collapse a repeat) and an
//!    `X-Maef-Idempotency-Key` header — or written to the log without `SMTP_URL`.
//! 3. `api.email_send_finish` records the send and completes the job in one
//!    transaction, committed with `synchronous_commit = on` (the worker's sessions
//!    default to off), retried a few times if the database does not answer.
//!
//! What stays at-least-once: the SMTP server accepted the message and the worker
//! died (or lost the database for longer than its retries) before step 3 committed.
//! The next attempt, once the send lease ends, sees `maybe_sent`, logs a warning and
//! sends again (docs/email.md).

use std::time::Duration;

use lettre::{
    message::{
        header::{Header, HeaderName, HeaderValue},
        Mailbox, MultiPart,
    },
    AsyncTransport, Message,
};
use maef_outbound::template::{self, Template};
use serde::Deserialize;
use serde_json::Value;

use super::{Completion, JobContext};
use crate::outbound::Mailer;

/// Payload of a `send_email` job.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendEmail {
    /// The `shop.email_message` row.
    pub email_message_id: i64,
}

/// How long an attempt holds a message: longer than the kind's 2-minute job timeout,
/// so a second job cannot send while the first may still be sending.
const SEND_LEASE_SECS: i32 = 150;

/// `X-Maef-Idempotency-Key`: the message's stable key, for relays that deduplicate by
/// a header (SMTP itself has no idempotency).
#[derive(Clone)]
struct IdempotencyKey(String);

impl Header for IdempotencyKey {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Maef-Idempotency-Key")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_string()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// What sending gave.
enum Sent {
    /// Accepted (SMTP) or logged: record it.
    Done {
        transport: &'static str,
        response: String,
    },
    /// Refused: permanent (5xx, bad address) or temporary.
    Refused { error: String, permanent: bool },
}

impl SendEmail {
    /// Sends the message once.
    ///
    /// # Errors
    /// Database errors (the runner fails the job; the send lease keeps a second
    /// attempt from sending before it ends).
    pub async fn run(self, ctx: &JobContext) -> Result<Completion, String> {
        let begin: Value = {
            let client = ctx.pool.get().await.map_err(|e| format!("database: {e}"))?;
            client
                .query_one(
                    "select api.email_send_begin($1, $2, $3, $4)",
                    &[&self.email_message_id, &ctx.id, &ctx.attempt, &SEND_LEASE_SECS],
                )
                .await
                .map_err(|e| format!("email_send_begin: {e}"))?
                .get(0)
        };
        match begin["action"].as_str() {
            Some("send") => {}
            Some("wait") => return Ok(Completion::RetryScheduled),
            _ => {
                tracing::info!(email = self.email_message_id, reason = %begin["reason"], "nothing to send");
                return Ok(Completion::InTransaction);
            }
        }
        if begin["maybe_sent"] == true {
            tracing::warn!(
                email = self.email_message_id,
                "an earlier attempt began sending this e-mail and never finished: it may arrive twice"
            );
        }
        let text = |key: &str| begin[key].as_str().unwrap_or_default().to_string();
        let rendered = template::render(
            &Template {
                subject: text("subject"),
                body_text: text("body_text"),
                body_html: text("body_html"),
            },
            &begin["context"],
        );
        let rendered = match rendered {
            Ok(r) => r,
            Err(e) => return self.failed(ctx, format!("template: {e}"), true).await,
        };
        let domain = ctx.services.mail_from.email.domain().to_string();
        let message_id = format!(
            "<maef.{}.{}@{domain}>",
            self.email_message_id,
            begin["created_at"].as_i64().unwrap_or_default()
        );
        let sent = match &ctx.services.mailer {
            Mailer::Log => {
                tracing::info!(email = self.email_message_id, to = %text("to"), subject = %rendered.subject,
                    text = %rendered.text, "e-mail written to the log (SMTP_URL is not set)");
                Sent::Done {
                    transport: "log",
                    response: "written to the log".into(),
                }
            }
            Mailer::Smtp(transport) => {
                match build(ctx, &text("to"), &message_id, self.email_message_id, &rendered) {
                    Ok(message) => match transport.send(message).await {
                        Ok(response) => Sent::Done {
                            transport: "smtp",
                            response: format!(
                                "{} {}",
                                response.code(),
                                response.message().collect::<Vec<_>>().join(" ")
                            ),
                        },
                        Err(e) => Sent::Refused {
                            permanent: e.is_permanent(),
                            error: format!("SMTP: {e}"),
                        },
                    },
                    Err(error) => Sent::Refused {
                        error,
                        permanent: true,
                    },
                }
            }
        };
        match sent {
            Sent::Refused { error, permanent } => self.failed(ctx, error, permanent).await,
            Sent::Done { transport, response } => {
                self.finish(ctx, transport, &message_id, &response, &rendered)
                    .await?;
                tracing::info!(email = self.email_message_id, transport, "e-mail sent");
                Ok(Completion::InTransaction)
            }
        }
    }

    /// Records the send and completes the job, durably; a few tries, since a send
    /// that is not recorded may be repeated.
    async fn finish(
        &self,
        ctx: &JobContext,
        transport: &str,
        message_id: &str,
        response: &str,
        rendered: &template::Rendered,
    ) -> Result<(), String> {
        let mut last = String::new();
        for wait in [0, 200, 1000, 3000] {
            tokio::time::sleep(Duration::from_millis(wait)).await;
            let result = async {
                let mut client = ctx.pool.get().await.map_err(|e| e.to_string())?;
                let tx = client.transaction().await.map_err(|e| e.to_string())?;
                tx.batch_execute("set local synchronous_commit = on")
                    .await
                    .map_err(|e| e.to_string())?;
                tx.query_one(
                    "select api.email_send_finish($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    &[
                        &self.email_message_id,
                        &ctx.id,
                        &ctx.attempt,
                        &transport,
                        &message_id,
                        &response,
                        &rendered.subject,
                        &rendered.text,
                        &rendered.html,
                    ],
                )
                .await
                .map_err(|e| e.to_string())?;
                tx.commit().await.map_err(|e| e.to_string())
            }
            .await;
            match result {
                Ok(()) => return Ok(()),
                Err(e) => {
                    tracing::warn!(email = self.email_message_id, error = %e, "recording a sent e-mail failed; retrying");
                    last = e;
                }
            }
        }
        Err(format!("the e-mail was sent but could not be recorded: {last}"))
    }

    async fn failed(&self, ctx: &JobContext, error: String, permanent: bool) -> Result<Completion, String> {
        let client = ctx.pool.get().await.map_err(|e| format!("database: {e}"))?;
        let outcome: String = client
            .query_one(
                "select api.email_send_failed($1, $2, $3, $4, $5)",
                &[&self.email_message_id, &ctx.id, &ctx.attempt, &error, &permanent],
            )
            .await
            .map_err(|e| format!("email_send_failed: {e}"))?
            .get(0);
        tracing::warn!(email = self.email_message_id, %error, permanent, outcome, "e-mail not sent");
        Ok(if outcome == "retrying" {
            Completion::RetryScheduled
        } else {
            Completion::InTransaction
        })
    }
}

/// The MIME message: From, To, Subject, Message-ID, the idempotency header, and a
/// multipart/alternative body (text, then HTML).
fn build(
    ctx: &JobContext,
    to: &str,
    message_id: &str,
    email_id: i64,
    rendered: &template::Rendered,
) -> Result<Message, String> {
    let to: Mailbox = to.parse().map_err(|e| format!("recipient '{to}': {e}"))?;
    Message::builder()
        .from(ctx.services.mail_from.clone())
        .to(to)
        .subject(rendered.subject.clone())
        .message_id(Some(message_id.to_string()))
        .header(IdempotencyKey(format!("maef-email-{email_id}")))
        .multipart(MultiPart::alternative_plain_html(
            rendered.text.clone(),
            rendered.html.clone(),
        ))
        .map_err(|e| format!("building the message: {e}"))
}
