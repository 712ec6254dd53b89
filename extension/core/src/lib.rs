//! Pure Rust logic behind the `maef` PostgreSQL extension.
//!
//! Nothing here knows about PostgreSQL: the extension (`extension/src`) only converts
//! types and calls into these modules, so every rule is tested with plain `cargo test`.
//!
//! # Layout
//! - [`caption`]: title, description, hashtags and price (exact minor units) read
//!   from a social-media caption (the Instagram stories ingestion of `maef-worker`).
//! - [`money`]: amounts in integer minor units, conversion from decimal text with
//!   half-to-even rounding, and display formatting by currency exponent.
//! - [`pricing`]: the quote engine (prices, promotions with stacking, exact per-line
//!   allocation, tax, shipping) and the promotion rule validator.
//! - [`ranking`]: the search score combining full-text, trigram, exact/prefix title
//!   matches, popularity and stock.

pub mod caption;
pub mod money;
pub mod pricing;
pub mod ranking;
