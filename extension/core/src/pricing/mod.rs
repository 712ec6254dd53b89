//! The pricing engine: from a cart (lines with their unit prices and attributes), the
//! active promotions, the coupon, the customer and the tax and shipping rules, a quote.
//!
//! Everything is integer minor units (`i64` at the edges, `i128` inside so products
//! never overflow); nothing is a float. The SQL layer gathers the data (price windows,
//! category ancestors, tax rates, coupon validity) and calls [`quote`]; the engine is a
//! pure function of its input, so it can be IMMUTABLE in PostgreSQL.
//!
//! # Layout
//! - [`model`]: the input and output types (serde, so they travel as `jsonb`).
//! - [`rules`]: validation of a promotion's `rules` document, with the JSON path of the
//!   first error.
//! - [`arith`]: half-to-even division and exact largest-remainder allocation.
//! - [`engine`]: conditions, actions, the stacking algorithm, tax and shipping.
//! - [`cart`]: the quote as `api.cart_quote` returns it, JSON text in and out.
//!
//! # Rounding (where it happens)
//! - A percentage discount is computed once on the sum of the amounts it applies to and
//!   rounded half to even; it is then *allocated* to lines (largest remainder), never
//!   rounded per line, so lines always sum exactly to the discount.
//! - Tax is rounded half to even **per line** (and once for shipping); `tax_total` is
//!   the sum of the line taxes, so an order's lines add up to its total.

pub mod arith;
pub mod cart;
pub mod engine;
pub mod model;
pub mod rules;

pub use cart::{cart_quote_json, CartContext, CartQuoteError};
pub use engine::quote;
pub use model::{Quote, QuoteError, QuoteInput};
pub use rules::{validate_rules, RuleError};

#[cfg(test)]
mod examples;
#[cfg(test)]
mod properties;
