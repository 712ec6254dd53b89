//! Access tokens sealed at rest with XChaCha20-Poly1305 (RustCrypto's
//! `chacha20poly1305`): a random 192-bit nonce per token (safe to draw at random, unlike
//! AES-GCM's 96 bits), the account id as associated data (a ciphertext copied onto
//! another account's row does not open), and a key id stored beside the ciphertext so
//! a wrong `OAUTH_TOKEN_KEY` is named as such rather than as a corrupt token.
//!
//! Tokens in memory are [`Secret`]s: no `Display`, a redacted `Debug`, so a token cannot
//! reach a log line or an error body by accident.

use base64::Engine;
use chacha20poly1305::{
    aead::{Aead, AeadCore, KeyInit, OsRng, Payload},
    XChaCha20Poly1305, XNonce,
};
use sha2::{Digest, Sha256};

/// Nonce length of XChaCha20-Poly1305.
const NONCE_BYTES: usize = 24;

/// A secret string (an access token, an app secret). Read it with [`Secret::expose`],
/// at the one place it is sent.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

/// Why a token could not be unsealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The token was sealed under another key.
    #[error("the token was sealed with another OAUTH_TOKEN_KEY (key id {stored}, this key is {current}); reconnect the account or restore the key")]
    OtherKey {
        /// The key id stored with the token.
        stored: String,
        /// This key's id.
        current: String,
    },
    /// The ciphertext does not open (altered, or copied from another account).
    #[error("the sealed token does not open (altered, or not this account's)")]
    Corrupt,
}

/// The key tokens are sealed with (`OAUTH_TOKEN_KEY`).
#[derive(Clone)]
pub struct TokenKey {
    cipher: XChaCha20Poly1305,
    id: String,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl TokenKey {
    /// A key from 32 bytes written as 64 hex digits or in base64 (standard or URL-safe,
    /// padded or not): `openssl rand -base64 32` makes one.
    ///
    /// # Errors
    /// What is wrong with the text, without echoing it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|_| "is not valid hex".to_string())?
        } else {
            let engines = [
                base64::engine::general_purpose::STANDARD,
                base64::engine::general_purpose::STANDARD_NO_PAD,
                base64::engine::general_purpose::URL_SAFE,
                base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ];
            engines
                .iter()
                .find_map(|engine| engine.decode(text).ok())
                .ok_or("is neither 64 hex digits nor base64 (try `openssl rand -base64 32`)")?
        };
        if bytes.len() != 32 {
            return Err(format!(
                "decodes to {} bytes; it must be 32 (try `openssl rand -base64 32`)",
                bytes.len()
            ));
        }
        Ok(Self::from_bytes(&bytes))
    }

    fn from_bytes(bytes: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"maef oauth token key id\0");
        hasher.update(bytes);
        Self {
            cipher: XChaCha20Poly1305::new_from_slice(bytes).expect("32-byte key"),
            id: hex::encode(&hasher.finalize()[..8]),
        }
    }

    /// A short public fingerprint of the key, stored beside each sealed token.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Seals `token` for `account_id`: nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, account_id: &str, token: &Secret) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: token.expose().as_bytes(),
                    aad: account_id.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 encryption of a token cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens a token sealed by [`TokenKey::seal`] for `account_id` under key `key_id`.
    ///
    /// # Errors
    /// [`SealError::OtherKey`] when `key_id` is not this key's, [`SealError::Corrupt`]
    /// when the bytes do not open.
    pub fn open(&self, account_id: &str, key_id: &str, sealed: &[u8]) -> Result<Secret, SealError> {
        if key_id != self.id {
            return Err(SealError::OtherKey {
                stored: key_id.to_string(),
                current: self.id.clone(),
            });
        }
        if sealed.len() <= NONCE_BYTES {
            return Err(SealError::Corrupt);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| SealError::Corrupt)?;
        let plain = self
            .cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: account_id.as_bytes(),
                },
            )
            .map_err(|_| SealError::Corrupt)?;
        String::from_utf8(plain)
            .map(Secret)
            .map_err(|_| SealError::Corrupt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // 32 ASCII bytes

    #[test]
    fn a_sealed_token_opens_only_for_its_account_and_key() {
        let key = TokenKey::parse(KEY).unwrap();
        let token = Secret::new("EAAG-very-secret");
        let sealed = key.seal("17841400000000001", &token);
        assert!(
            !sealed.windows(6).any(|w| w == b"secret"),
            "the token is not in clear"
        );
        assert_eq!(key.open("17841400000000001", key.id(), &sealed).unwrap(), token);
        // Two seals of one token differ (random nonce).
        assert_ne!(sealed, key.seal("17841400000000001", &token));
        assert_eq!(
            key.open("17841400000000002", key.id(), &sealed),
            Err(SealError::Corrupt)
        );
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert_eq!(
            key.open("17841400000000001", key.id(), &altered),
            Err(SealError::Corrupt)
        );
        let other = TokenKey::parse(&"ab".repeat(32)).unwrap();
        assert!(matches!(
            other.open("17841400000000001", key.id(), &sealed),
            Err(SealError::OtherKey { .. })
        ));
        assert_eq!(key.open("x", key.id(), b"short"), Err(SealError::Corrupt));
    }

    #[test]
    fn keys_are_32_bytes_in_hex_or_base64_and_never_echoed() {
        assert!(TokenKey::parse(&"0f".repeat(32)).is_ok());
        assert!(TokenKey::parse("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY").is_ok());
        let short = TokenKey::parse("c2hvcnQ=").unwrap_err();
        assert!(short.contains("5 bytes") && !short.contains("c2hvcnQ"));
        assert!(TokenKey::parse("not a key!").is_err());
        assert_eq!(format!("{:?}", Secret::new("EAAG")), "Secret(<redacted>)");
        assert!(!format!("{:?}", TokenKey::parse(KEY).unwrap()).contains(KEY));
    }
}
