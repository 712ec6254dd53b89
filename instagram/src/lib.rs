//! maef-instagram: the Instagram Graph API as maef uses it, shared by `maef-api` (the
//! OAuth flow, tokens an admin gives) and `maef-worker` (pulling stories, renewing
//! tokens).
//!
//! Only the **Instagram API with Facebook Login** is offered: Meta documents
//! `GET /{ig-user-id}/stories` for it alone (docs/stories.md has the sources).
//!
//! # Layout
//! - [`config`]: `IG_*` and `OAUTH_TOKEN_KEY`, the pinned Graph API version.
//! - [`crypto`]: tokens sealed at rest (XChaCha20-Poly1305) and [`crypto::Secret`].
//! - [`graph`]: the calls (code and long-lived exchanges, Pages, stories, paging) and
//!   the error envelope.
//! - [`usage`]: the `X-App-Usage` / `X-Business-Use-Case-Usage` headers.

pub mod config;
pub mod crypto;
pub mod graph;
pub mod usage;

pub use config::{InstagramConfig, GRAPH_API_VERSION};
pub use crypto::{Secret, TokenKey};
pub use graph::{Graph, GraphError, StoryItem};
pub use usage::Usage;
