//! Authentication: passwords (argon2id) and tokens (JWT access, opaque refresh).
//!
//! What a route needs is declared with the [`crate::caller::Require`] extractor next to
//! the handler; the database checks the same permission again (security in the
//! database, ARCHITECTURE principle 6).

pub mod password;
pub mod tokens;
