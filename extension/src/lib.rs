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

// Closed by default, like the SQL API (docs/contributing.md). A trusted extension's
// script runs as the bootstrap superuser, who then owns these functions with
// PostgreSQL's default EXECUTE for PUBLIC; instead, only the role that creates the
// extension (the database owner, whose SECURITY DEFINER `api.*` functions call them)
// may execute them. `@extowner@` is PostgreSQL's substitution for that role.
::pgrx::extension_sql!(
    r#"
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA maef FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA maef TO @extowner@;
"#,
    name = "closed_by_default",
    finalize
);

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
