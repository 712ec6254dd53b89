//! Instagram stories: `pull_instagram_stories` (per account, or the schedule's fan-out),
//! `renew_instagram_tokens` and `prune_stories`.
//!
//! The rules are in SQL (`sql/stories.sql`): which accounts are pulled, how a story is
//! upserted on `(platform, external_id)`, how long a throttled account waits, what
//! retention deletes. This module talks to the Graph API (`maef-instagram`), streams
//! media into the database (`fetch`), reads captions (`maef-core`'s caption parser)
//! and opens sealed tokens with `OAUTH_TOKEN_KEY`.
//!
//! # Layout
//! - [`pull`]: one account's pull: pages, per-story transactions, usage and errors.
//! - [`fetch`]: a media download, streamed, limited, sniffed and probed, into an asset.
//! - [`upkeep`]: token renewal and retention.

pub mod fetch;
pub mod pull;
pub mod upkeep;

use std::sync::OnceLock;

use maef_instagram::{Graph, InstagramConfig, Secret, TokenKey};
use serde::Deserialize;

use super::{Completion, JobContext};
use crate::config::{MediaLimits, WorkerConfig};

/// What the stories jobs need from the configuration, built once.
#[derive(Debug)]
pub struct Runtime {
    /// `IG_*`, `OAUTH_TOKEN_KEY`.
    pub config: InstagramConfig,
    /// The Graph API client (also the media downloads' HTTP client).
    pub graph: Graph,
    /// Download limits.
    pub limits: MediaLimits,
}

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

/// Builds the runtime from the worker's configuration (at start-up, by the runner).
///
/// # Errors
/// The HTTP client cannot start.
pub fn configure(config: &WorkerConfig) -> Result<(), String> {
    let built = RUNTIME.get_or_init(|| {
        Ok(Runtime {
            graph: Graph::new(&config.instagram)?,
            config: config.instagram.clone(),
            limits: config.media,
        })
    });
    built.as_ref().map(|_| ()).map_err(Clone::clone)
}

/// The runtime; read from the environment when [`configure`] was not called (a
/// handler run outside the runner).
///
/// # Errors
/// A bad configuration.
pub fn runtime() -> Result<&'static Runtime, String> {
    RUNTIME
        .get_or_init(|| {
            let config = WorkerConfig::from_lookup(|k| std::env::var(k).ok())?;
            Ok(Runtime {
                graph: Graph::new(&config.instagram)?,
                config: config.instagram,
                limits: config.media,
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

impl Runtime {
    /// The key tokens are sealed with.
    ///
    /// # Errors
    /// `OAUTH_TOKEN_KEY` is not set.
    pub fn key(&self) -> Result<&TokenKey, String> {
        self.config
            .token_key
            .as_ref()
            .ok_or_else(|| "OAUTH_TOKEN_KEY is not set: stored tokens cannot be opened".to_string())
    }

    /// Opens an account's sealed token.
    ///
    /// # Errors
    /// No key, another key, or a corrupt ciphertext.
    pub fn open(&self, account_id: &str, key_id: &str, sealed: &[u8]) -> Result<Secret, String> {
        self.key()?
            .open(account_id, key_id, sealed)
            .map_err(|e| format!("account {account_id}: {e}"))
    }
}

/// Payload of `pull_instagram_stories`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PullInstagramStories {
    /// The account to pull; absent (the schedule's payload): enqueue one pull per
    /// active account.
    #[serde(default)]
    pub account_id: Option<String>,
}

impl PullInstagramStories {
    /// Pulls one account, or fans out.
    ///
    /// # Errors
    /// The pull's failure (Graph error envelope, download or database error).
    pub async fn run(self, ctx: &JobContext) -> Result<Completion, String> {
        match self.account_id {
            Some(account_id) => pull::pull(runtime()?, ctx, &account_id).await,
            None => {
                let client = ctx.pool.get().await.map_err(|e| format!("database: {e}"))?;
                let jobs: serde_json::Value = client
                    .query_one("select api.enqueue_instagram_pulls(null)", &[])
                    .await
                    .map_err(|e| format!("enqueue_instagram_pulls: {e}"))?
                    .get(0);
                tracing::info!(
                    pulls = jobs.as_array().map_or(0, Vec::len),
                    "instagram pulls enqueued"
                );
                Ok(Completion::Batched)
            }
        }
    }
}

/// A database error with its SQLSTATE and message.
pub(crate) fn db_error(what: &str, e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{what}: {}: {}", db.code().code(), db.message()),
        None => format!("{what}: {e}"),
    }
}
