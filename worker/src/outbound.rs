//! The worker's clients to the outside world, built once at start-up and shared by the
//! handlers: the HTTP client of webhook deliveries, the mail transport and the payment
//! providers' client.
//!
//! The HTTP client resolves host names through the outbound address policy
//! ([`maef_outbound::address`]): it connects only to addresses that passed the check,
//! made at connection time, so a name that now resolves to a private address (DNS
//! rebinding) is refused even though it passed when the endpoint was saved. Literal
//! addresses never reach a resolver: the handler checks them before the request.
//! Redirects are not followed (a 3xx is a failed attempt, as Standard Webhooks says)
//! and no proxy from the environment is used.

use std::{sync::Arc, time::Duration};

use lettre::{message::Mailbox, AsyncSmtpTransport, Tokio1Executor};
use maef_outbound::address::{self, Policy};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::config::WorkerConfig;

/// How e-mails leave.
#[derive(Clone)]
pub enum Mailer {
    /// Through an SMTP server (`SMTP_URL`).
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// To the log and `shop.email_message` (no `SMTP_URL`: development).
    Log,
}

/// The clients shared by every job.
#[derive(Clone)]
pub struct Services {
    /// Webhook deliveries' HTTP client.
    pub http: reqwest::Client,
    /// The outbound address policy (`WEBHOOK_ALLOW_PRIVATE`).
    pub policy: Policy,
    /// The mail transport.
    pub mailer: Mailer,
    /// `MAIL_FROM`.
    pub mail_from: Mailbox,
    /// The payment providers (re-fetching payments): their own client, to fixed
    /// configured base URLs, outside the webhook address policy.
    pub payments: maef_payments::Providers,
}

impl Services {
    /// Builds the clients from the configuration.
    ///
    /// # Errors
    /// A TLS back-end that does not initialise, or a bad `SMTP_URL`/`MAIL_FROM` (both
    /// already checked by the configuration).
    pub fn new(config: &WorkerConfig) -> anyhow::Result<Self> {
        let policy = Policy {
            allow_private: config.webhook_allow_private,
        };
        let http = reqwest::Client::builder()
            .dns_resolver(Arc::new(PolicyResolver(policy)))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("maef-webhooks/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()?;
        let mailer = match &config.smtp_url {
            Some(url) => Mailer::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|_| anyhow::anyhow!("SMTP_URL is not a usable smtp:// or smtps:// URL"))?
                    .timeout(Some(config.smtp_timeout))
                    .build(),
            ),
            None => {
                tracing::warn!(
                    "SMTP_URL is not set: e-mails are written to the log and shop.email_message, not sent"
                );
                Mailer::Log
            }
        };
        Ok(Self {
            http,
            policy,
            mailer,
            mail_from: config.mail_from.parse()?,
            payments: maef_payments::Providers::new(config.payments.clone()).map_err(anyhow::Error::msg)?,
        })
    }
}

/// Resolves names for the webhook client, refusing addresses the policy forbids.
struct PolicyResolver(Policy);

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0;
        Box::pin(async move {
            // Port 0: the connector puts the URL's port on each address.
            let addrs = address::resolve(name.as_str(), 0, policy)
                .await
                .map_err(|refusal| Box::new(refusal) as Box<dyn std::error::Error + Send + Sync>)?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}
