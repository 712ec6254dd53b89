//! maef-outbound: what the shop sends to the outside world, shared by maef-api (which
//! checks and previews) and maef-worker (which sends).
//!
//! # Layout
//! - [`address`]: the outbound address policy (no loopback, private, link-local or
//!   metadata address: SSRF protection), checked when an endpoint is saved and again
//!   at each delivery.
//! - [`signature`]: Standard Webhooks signatures (`webhook-signature: v1,<base64>`).
//! - [`template`]: e-mail templates (minijinja): subject, plain text and HTML parts.

pub mod address;
pub mod signature;
pub mod template;
