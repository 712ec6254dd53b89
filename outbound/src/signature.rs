//! Standard Webhooks signatures (specification 1.0.0, "Signature scheme"): the HMAC-SHA256,
//! keyed with the base64-decoded bytes after `whsec_`, of `msg_id.timestamp.body`,
//! written `v1,<base64>`; several (one per valid secret, during a rotation) are
//! separated by spaces in the `webhook-signature` header.

use base64::{engine::general_purpose::STANDARD, Engine};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A secret that is not `whsec_` followed by base64.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a webhook secret must be whsec_ followed by base64 ({0})")]
pub struct BadSecret(String);

/// The HMAC key of a `whsec_…` secret: its base64 payload, decoded (missing padding is
/// tolerated, as the reference libraries do).
///
/// # Errors
/// No `whsec_` prefix, bad base64, or an empty key.
pub fn key(secret: &str) -> Result<Vec<u8>, BadSecret> {
    let encoded = secret
        .strip_prefix("whsec_")
        .ok_or_else(|| BadSecret("no whsec_ prefix".into()))?;
    let padded = format!("{encoded}{}", "=".repeat((4 - encoded.len() % 4) % 4));
    let key = STANDARD.decode(padded).map_err(|e| BadSecret(e.to_string()))?;
    if key.is_empty() {
        return Err(BadSecret("empty key".into()));
    }
    Ok(key)
}

/// One signature: `v1,` + base64(HMAC-SHA256(key, "{msg_id}.{timestamp}.{body}")).
pub fn sign(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` header: one signature per secret, space-separated.
///
/// # Errors
/// A malformed secret.
pub fn header(secrets: &[String], msg_id: &str, timestamp: i64, body: &[u8]) -> Result<String, BadSecret> {
    let signatures: Result<Vec<String>, BadSecret> = secrets
        .iter()
        .map(|s| key(s).map(|k| sign(&k, msg_id, timestamp, body)))
        .collect();
    Ok(signatures?.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification repository's test vector (Go `TestWebhookSign`, Java
    /// `TestScenario.validSigned`, C# `WebhookTest`).
    #[test]
    fn the_specification_test_vector_signs_to_its_expected_value() {
        let key = key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(key.len(), 24);
        assert_eq!(
            sign(
                &key,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn every_secret_signs_and_malformed_secrets_are_refused() {
        let secrets = vec![
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string(),
            "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
        ];
        let h = header(&secrets, "evt_1", 1, b"{}").unwrap();
        assert_eq!(h.split(' ').count(), 2);
        assert!(h.split(' ').all(|s| s.starts_with("v1,")));
        assert!(key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(key("whsec_!!!").is_err());
        assert!(key("whsec_").is_err());
    }
}
