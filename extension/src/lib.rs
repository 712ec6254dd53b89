//! `maef`: the PostgreSQL extension of the maef commerce backend.
//!
//! This crate is glue: each `#[pg_extern]` converts PostgreSQL types and calls a pure
//! function in `maef-core`, where the logic and its tests live. Every function lands in
//! schema `maef` (see `maef.control`) and is re-created at each deploy by
//! `maef-api migrate`; no table, index or trigger may depend on it.
//!
//! # Layout
//! - [`money`] — `maef.format_money`, `maef.to_minor_units`, `maef.to_major_units`.
//! - [`pricing`] — `maef.quote`, `maef.validate_promotion_rules`.
//! - [`ranking`] — `maef.search_score`.

::pgrx::pg_module_magic!(name, version);

pub mod money;
pub mod pricing;
pub mod ranking;

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
