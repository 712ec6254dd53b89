//! Access tokens (JWT, HS256 with `JWT_SECRET` or RS256 with configured keys) and
//! refresh / reset tokens (opaque random strings stored as SHA-256 digests).

use std::time::{SystemTime, UNIX_EPOCH};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Config;

/// The database roles a token may name; anything else is refused.
pub const REQUEST_ROLES: [&str; 4] = ["maef_anon", "maef_customer", "maef_staff", "maef_admin"];

/// Claims of an access token. `role` is the database role the request runs as; `scope`
/// the space-separated permissions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// User id.
    pub sub: uuid::Uuid,
    /// Database role (`maef_customer`, `maef_staff`, `maef_admin`).
    pub role: String,
    /// Space-separated permissions (`catalog:write users:admin …`).
    pub scope: String,
    /// E-mail at issue time (for the password policy and logs).
    #[serde(default)]
    pub email: String,
    /// Expiry (seconds since the epoch).
    pub exp: u64,
    /// Issued at.
    pub iat: u64,
    /// Not before.
    pub nbf: u64,
    /// Token id.
    pub jti: uuid::Uuid,
}

/// The claims the database returns for a user (`api._user_claims`).
#[derive(Debug, Clone, Deserialize)]
pub struct UserClaims {
    /// User id.
    pub sub: uuid::Uuid,
    /// Database role.
    pub role: String,
    /// Permissions.
    pub scope: String,
    /// E-mail.
    #[serde(default)]
    pub email: String,
    /// Access-token lifetime in seconds (store policy `auth.access_token_ttl_secs`).
    pub expires_in: u64,
    /// Refresh-token lifetime in seconds (store policy `auth.refresh_token_ttl_secs`).
    pub refresh_expires_in: u64,
}

/// Why a bearer token was refused (the text goes into `WWW-Authenticate`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TokenError(pub String);

/// Signing and verification keys. Token lifetimes are store policies read by SQL
/// (`shop.setting`), which returns them with the claims.
#[derive(Clone)]
pub struct TokenKeys {
    algorithm: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenKeys {
    /// Keys from the configuration: RS256 when both key files are set, else HS256.
    ///
    /// # Errors
    /// Unreadable or invalid key files, or no secret.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let (algorithm, encoding, decoding) = match &config.tokens.rs256 {
            Some((private, public)) => {
                let private_pem =
                    std::fs::read(private).map_err(|e| anyhow::anyhow!("JWT_RS256_PRIVATE_KEY_FILE: {e}"))?;
                let public_pem =
                    std::fs::read(public).map_err(|e| anyhow::anyhow!("JWT_RS256_PUBLIC_KEY_FILE: {e}"))?;
                (
                    Algorithm::RS256,
                    EncodingKey::from_rsa_pem(&private_pem)
                        .map_err(|e| anyhow::anyhow!("JWT_RS256_PRIVATE_KEY_FILE: {e}"))?,
                    DecodingKey::from_rsa_pem(&public_pem)
                        .map_err(|e| anyhow::anyhow!("JWT_RS256_PUBLIC_KEY_FILE: {e}"))?,
                )
            }
            None => {
                let secret = config
                    .jwt_secret
                    .as_deref()
                    .ok_or_else(|| anyhow::anyhow!("JWT_SECRET is not set"))?;
                (
                    Algorithm::HS256,
                    EncodingKey::from_secret(secret.as_bytes()),
                    DecodingKey::from_secret(secret.as_bytes()),
                )
            }
        };
        // Only the configured algorithm is accepted: `alg: none` and algorithm
        // confusion (an RS256 public key used as an HS256 secret) are refused.
        let mut validation = Validation::new(algorithm);
        validation.leeway = 5;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "sub"]);
        Ok(Self {
            algorithm,
            encoding,
            decoding,
            validation,
        })
    }

    /// Signs an access token for `user`; returns it and its lifetime in seconds.
    ///
    /// # Errors
    /// A role outside [`REQUEST_ROLES`], or a signing failure.
    pub fn issue(&self, user: &UserClaims) -> Result<(String, u64), TokenError> {
        if !REQUEST_ROLES.contains(&user.role.as_str()) {
            return Err(TokenError(format!("unknown role {}", user.role)));
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let ttl = user.expires_in;
        let claims = AccessClaims {
            sub: user.sub,
            role: user.role.clone(),
            scope: user.scope.clone(),
            email: user.email.clone(),
            exp: now + ttl,
            iat: now,
            nbf: now,
            jti: uuid::Uuid::new_v4(),
        };
        let token = jsonwebtoken::encode(&Header::new(self.algorithm), &claims, &self.encoding)
            .map_err(|e| TokenError(e.to_string()))?;
        Ok((token, ttl))
    }

    /// Verifies a bearer token: signature, algorithm, `exp`, `nbf`, and a known role.
    ///
    /// # Errors
    /// Why the token is refused.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let data =
            jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation).map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                TokenError(
                    match e.kind() {
                        ErrorKind::ExpiredSignature => "the token has expired",
                        ErrorKind::ImmatureSignature => "the token is not valid yet",
                        ErrorKind::InvalidSignature => "the token's signature is invalid",
                        ErrorKind::InvalidAlgorithm => "the token's algorithm is not accepted",
                        _ => "the token is malformed",
                    }
                    .to_string(),
                )
            })?;
        if !REQUEST_ROLES.contains(&data.claims.role.as_str()) || data.claims.role == "maef_anon" {
            return Err(TokenError("the token's role is not accepted".into()));
        }
        Ok(data.claims)
    }
}

/// A new opaque token (256 random bits, URL-safe base64) and its SHA-256 hex digest,
/// which is all the database stores.
pub fn new_opaque_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let digest = sha256_hex(&token);
    (token, digest)
}

/// SHA-256 of a string, lower-case hex.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Purpose};

    fn keys() -> TokenKeys {
        let config = Config::from_lookup(Purpose::Serve, |k| match k {
            "DATABASE_URL" => Some("postgres://u@localhost/db".into()),
            "JWT_SECRET" => Some("0123456789abcdef0123456789abcdef".into()),
            _ => None,
        })
        .unwrap();
        TokenKeys::from_config(&config).unwrap()
    }

    fn user() -> UserClaims {
        UserClaims {
            sub: uuid::Uuid::new_v4(),
            role: "maef_customer".into(),
            scope: "orders:read:own".into(),
            email: "a@b.c".into(),
            expires_in: 3600,
            refresh_expires_in: 86400,
        }
    }

    #[test]
    fn an_issued_token_verifies_with_its_claims() {
        let keys = keys();
        let user = user();
        let (token, ttl) = keys.issue(&user).unwrap();
        assert_eq!(ttl, 3600);
        let claims = keys.verify(&token).unwrap();
        assert_eq!(
            (claims.sub, claims.role.as_str(), claims.scope.as_str()),
            (user.sub, "maef_customer", "orders:read:own")
        );
        assert_eq!(claims.exp - claims.iat, 3600);
    }

    #[test]
    fn tampered_unsigned_and_foreign_roles_are_refused() {
        let keys = keys();
        let (token, _) = keys.issue(&user()).unwrap();
        let mut parts: Vec<String> = token.split('.').map(String::from).collect();
        let mut payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
        payload["role"] = "maef_admin".into();
        parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
        assert!(keys.verify(&parts.join(".")).is_err(), "tampered payload");
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        assert!(
            keys.verify(&format!("{none_header}.{}.", parts[1])).is_err(),
            "alg none"
        );
        assert!(keys
            .issue(&UserClaims {
                role: "postgres".into(),
                ..user()
            })
            .is_err());
    }

    #[test]
    fn rs256_keys_sign_and_verify_and_refuse_hs256_tokens() {
        let fixture = |name: &str| format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        let (private, public) = (
            fixture("test-rs256-private.pem"),
            fixture("test-rs256-public.pem"),
        );
        let config = Config::from_lookup(Purpose::Serve, |k| match k {
            "DATABASE_URL" => Some("postgres://u@localhost/db".into()),
            "JWT_SECRET" => Some("0123456789abcdef0123456789abcdef".into()),
            "JWT_RS256_PRIVATE_KEY_FILE" => Some(private.clone()),
            "JWT_RS256_PUBLIC_KEY_FILE" => Some(public.clone()),
            _ => None,
        })
        .unwrap();
        let rs256 = TokenKeys::from_config(&config).unwrap();
        let (token, _) = rs256.issue(&user()).unwrap();
        assert!(token.starts_with(&URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT","alg":"RS256"}"#)));
        assert!(rs256.verify(&token).is_ok());
        // An HS256 token made with the secret is refused once RS256 is configured.
        let (hs256_token, _) = keys().issue(&user()).unwrap();
        assert!(rs256.verify(&hs256_token).is_err());
    }

    #[test]
    fn opaque_tokens_are_256_bits_and_stored_as_digests() {
        let (token, digest) = new_opaque_token();
        assert_eq!(URL_SAFE_NO_PAD.decode(&token).unwrap().len(), 32);
        assert_eq!(digest, sha256_hex(&token));
        assert_eq!(digest.len(), 64);
        assert_ne!(new_opaque_token().0, token);
    }
}
