//! Passwords: the policy a new password must meet, and argon2id hashing.
//!
//! The policy lives here rather than in SQL because the clear password never reaches the
//! database (only its PHC hash does). Hashing runs in `spawn_blocking`: at 19 MiB and
//! t=2 a hash costs tens of milliseconds of CPU, which must not stall the async runtime.

use std::sync::{Arc, OnceLock};

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString},
    Algorithm, Argon2, Params, Version,
};
use axum::http::StatusCode;

use crate::{config::Argon2Config, error::ApiError};

/// Minimum length of a password, in characters.
pub const MIN_LENGTH: usize = 10;
/// Maximum length (argon2 accepts more; this bounds the work a request can ask for).
pub const MAX_LENGTH: usize = 256;

const COMMON_PASSWORDS: &str = include_str!("../../data/common-passwords.txt");

fn is_common(password: &str) -> bool {
    static LIST: OnceLock<std::collections::HashSet<String>> = OnceLock::new();
    LIST.get_or_init(|| {
        COMMON_PASSWORDS
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_lowercase)
            .collect()
    })
    .contains(&password.to_lowercase())
}

/// Checks a new password: at least [`MIN_LENGTH`] characters, not the e-mail address
/// (nor its local part), not one repeated character, not in the common-password list.
///
/// # Errors
/// 422 `weak_password` saying which rule failed.
pub fn check_policy(password: &str, email: Option<&str>) -> Result<(), ApiError> {
    let weak = |why: &str| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "weak_password",
            format!("the password {why}"),
        )
        .hint(format!(
            "Use at least {MIN_LENGTH} characters; a few unrelated words work well."
        ))
    };
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(weak(&format!(
            "has {length} characters; at least {MIN_LENGTH} are needed"
        )));
    }
    if length > MAX_LENGTH {
        return Err(weak(&format!("is longer than {MAX_LENGTH} characters")));
    }
    if let Some(email) = email.map(|e| e.trim().to_lowercase()) {
        let lowered = password.to_lowercase();
        let local = email.split('@').next().unwrap_or_default();
        if lowered == email || (!local.is_empty() && lowered == local) {
            return Err(weak("is the e-mail address"));
        }
    }
    let mut chars = password.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first) {
        return Err(weak("repeats one character"));
    }
    if is_common(password) {
        return Err(weak("is too common"));
    }
    Ok(())
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The password matched.
    pub ok: bool,
    /// The stored hash used other parameters: store this new hash.
    pub rehash: Option<String>,
}

/// Hashes and verifies passwords with argon2id.
#[derive(Clone)]
pub struct Passwords {
    params: Params,
    /// A hash of a random password with the current parameters, verified against when
    /// the account does not exist so that both cases cost the same.
    dummy: Arc<OnceLock<String>>,
}

impl Passwords {
    /// Builds the hasher.
    ///
    /// # Errors
    /// Parameters argon2 refuses.
    pub fn new(config: Argon2Config) -> anyhow::Result<Self> {
        let params = Params::new(config.memory_kib, config.iterations, config.parallelism, None)
            .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
        Ok(Self {
            params,
            dummy: Arc::new(OnceLock::new()),
        })
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    fn hash_blocking(&self, password: &str) -> Result<String, ApiError> {
        let salt = SaltString::generate(&mut OsRng);
        self.argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::internal(format!("argon2 hash: {e}")))
    }

    /// Hashes a password into a PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
    ///
    /// # Errors
    /// 500 if hashing fails (it does not for valid parameters).
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.hash_blocking(&password))
            .await
            .map_err(|e| ApiError::internal(format!("hashing task: {e}")))?
    }

    /// Verifies `password` against `stored` (or against a dummy hash when there is no
    /// account), and says whether the stored hash should be upgraded.
    ///
    /// # Errors
    /// 500 if the task fails.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<Verified, ApiError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let dummy;
            let (phc, real) = match stored.as_deref() {
                Some(phc) => (phc, true),
                None => {
                    dummy = this
                        .dummy
                        .get_or_init(|| this.hash_blocking("maef-dummy-password").unwrap_or_default())
                        .clone();
                    (dummy.as_str(), false)
                }
            };
            let Ok(parsed) = PasswordHash::new(phc) else {
                return Ok(Verified {
                    ok: false,
                    rehash: None,
                });
            };
            let ok = this
                .argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
                && real;
            let cost = |p: &Params| (p.m_cost(), p.t_cost(), p.p_cost());
            let current = Params::try_from(&parsed).ok();
            let outdated = parsed.algorithm.as_str() != "argon2id"
                || current.as_ref().map(cost) != Some(cost(&this.params));
            let rehash = if ok && outdated {
                Some(this.hash_blocking(&password)?)
            } else {
                None
            };
            Ok(Verified { ok, rehash })
        })
        .await
        .map_err(|e| ApiError::internal(format!("verification task: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_refuses_short_common_and_email_passwords() {
        let code = |p: &str, e: Option<&str>| check_policy(p, e).err().map(|e| e.problem.message);
        assert!(code("short", None).unwrap().contains("at least 10"));
        assert!(code("Password123", None).unwrap().contains("too common"));
        assert!(code("AZERTYUIOP", None).unwrap().contains("too common"));
        assert!(code("ada@example.com", Some("Ada@Example.com"))
            .unwrap()
            .contains("e-mail"));
        assert!(code("adalovelace", Some("adalovelace@example.com"))
            .unwrap()
            .contains("e-mail"));
        assert!(code("aaaaaaaaaaaa", None).unwrap().contains("repeats"));
        assert!(check_policy("correct horse battery", Some("ada@example.com")).is_ok());
    }

    fn cheap() -> Passwords {
        Passwords::new(Argon2Config {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap()
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let passwords = cheap();
        let phc = passwords.hash("correct horse battery".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        let good = passwords
            .verify("correct horse battery".into(), Some(phc.clone()))
            .await
            .unwrap();
        assert_eq!(
            good,
            Verified {
                ok: true,
                rehash: None
            }
        );
        let bad = passwords
            .verify("wrong horse battery".into(), Some(phc))
            .await
            .unwrap();
        assert!(!bad.ok);
        let unknown = passwords
            .verify("correct horse battery".into(), None)
            .await
            .unwrap();
        assert!(!unknown.ok, "no account never verifies");
    }

    #[tokio::test]
    async fn a_hash_with_old_parameters_is_upgraded_on_success() {
        let old = cheap().hash("correct horse battery".into()).await.unwrap();
        let stronger = Passwords::new(Argon2Config {
            memory_kib: 128,
            iterations: 2,
            parallelism: 1,
        })
        .unwrap();
        let verified = stronger
            .verify("correct horse battery".into(), Some(old))
            .await
            .unwrap();
        assert!(verified.ok);
        assert!(verified
            .rehash
            .unwrap()
            .starts_with("$argon2id$v=19$m=128,t=2,p=1$"));
    }
}
