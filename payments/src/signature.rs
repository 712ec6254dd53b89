//! The providers' webhook signatures, verified on the raw body bytes, written once:
//!
//! - **Stripe** `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…][,v0=…]`: HMAC-SHA256 of
//!   `"{t}.{body}"` keyed with the whole `whsec_…` string (stripe-go
//!   `webhook/client.go`); accepted when any `v1` matches any configured secret and `t`
//!   is within the tolerance; other schemes (`v0`) are ignored.
//! - **FedaPay** `X-FEDAPAY-SIGNATURE: t=<unix>,s=<hex>`: the same HMAC-SHA256 of
//!   `"{t}.{body}"` with scheme `s` (fedapay-php `WebhookSignature.php`).
//! - **Paystack** `x-paystack-signature: <hex>`: HMAC-SHA512 of the body keyed with the
//!   secret key; no timestamp (replays are stopped by storing each event once).
//!
//! Comparisons are constant-time (`hmac`'s `verify_slice`). Rejections say what was
//! wrong, never the body or a secret.

use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha512};

use crate::config::Secret;

/// Why a webhook was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No signature header.
    #[error("the signature header is missing")]
    Missing,
    /// A header that does not parse (no timestamp, no signature of the expected scheme).
    #[error("the signature header is malformed")]
    Malformed,
    /// The timestamp is outside the tolerance.
    #[error("the signature timestamp is outside the tolerance")]
    Stale,
    /// No signature matches any configured secret.
    #[error("no signature matches")]
    Mismatch,
}

/// `t=…,<scheme>=…` headers (Stripe `v1`, FedaPay `s`): the timestamp and every
/// signature of `scheme` that is valid hex.
fn parse_timestamped(header: &str, scheme: &str) -> Result<(i64, Vec<Vec<u8>>), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for pair in header.split(',') {
        let (key, value) = pair.trim().split_once('=').ok_or(SignatureError::Malformed)?;
        if key == "t" {
            timestamp = Some(value.parse::<i64>().map_err(|_| SignatureError::Malformed)?);
        } else if key == scheme {
            // Invalid hex is ignored, as stripe-go does: another entry may match.
            if let Ok(bytes) = hex::decode(value) {
                signatures.push(bytes);
            }
        }
    }
    match timestamp {
        Some(t) if !signatures.is_empty() => Ok((t, signatures)),
        _ => Err(SignatureError::Malformed),
    }
}

/// Verifies a `t=<unix>,<scheme>=<hex>[,…]` header: HMAC-SHA256 of `"{t}.{body}"` under
/// any of `secrets`, `t` within `tolerance_secs` of `now`. Stripe (`v1`) and FedaPay
/// (`s`) sign this way, and so do the carriers' webhooks of fulfilment (`v1`, header
/// `Maef-Carrier-Signature`), so one verifier serves them all. Returns the timestamp.
///
/// # Errors
/// Missing, malformed, stale or matching no secret.
pub fn verify_timestamped(
    header: Option<&str>,
    scheme: &str,
    body: &[u8],
    secrets: &[Secret],
    tolerance_secs: i64,
    now: i64,
) -> Result<i64, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let (t, signatures) = parse_timestamped(header, scheme)?;
    if (now - t).abs() > tolerance_secs {
        return Err(SignatureError::Stale);
    }
    for secret in secrets {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes any key length");
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        for signature in &signatures {
            if mac.clone().verify_slice(signature).is_ok() {
                return Ok(t);
            }
        }
    }
    Err(SignatureError::Mismatch)
}

/// Verifies a `Stripe-Signature` header; returns its timestamp.
///
/// # Errors
/// Missing, malformed, stale (|now − t| > tolerance) or matching no secret.
pub fn verify_stripe(
    header: Option<&str>,
    body: &[u8],
    secrets: &[Secret],
    tolerance_secs: i64,
    now: i64,
) -> Result<i64, SignatureError> {
    verify_timestamped(header, "v1", body, secrets, tolerance_secs, now)
}

/// Verifies an `X-FEDAPAY-SIGNATURE` header; returns its timestamp.
///
/// # Errors
/// As [`verify_stripe`].
pub fn verify_fedapay(
    header: Option<&str>,
    body: &[u8],
    secrets: &[Secret],
    tolerance_secs: i64,
    now: i64,
) -> Result<i64, SignatureError> {
    verify_timestamped(header, "s", body, secrets, tolerance_secs, now)
}

/// Verifies an `x-paystack-signature` header.
///
/// # Errors
/// Missing, not hex, or matching no secret.
pub fn verify_paystack(header: Option<&str>, body: &[u8], secrets: &[Secret]) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let signature = hex::decode(header.trim()).map_err(|_| SignatureError::Malformed)?;
    for secret in secrets {
        let mut mac =
            Hmac::<Sha512>::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes any key length");
        mac.update(body);
        if mac.verify_slice(&signature).is_ok() {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

/// Signs like Stripe (for fakes and benchmarks): `t=<t>,v1=<hex>`.
pub fn sign_stripe(secret: &str, t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", hmac_sha256_hex(secret, t, body))
}

/// Signs like FedaPay: `t=<t>,s=<hex>`.
pub fn sign_fedapay(secret: &str, t: i64, body: &[u8]) -> String {
    format!("t={t},s={}", hmac_sha256_hex(secret, t, body))
}

/// Signs a `t=<t>,<scheme>=<hex>` header as [`verify_timestamped`] checks it.
pub fn sign_timestamped(secret: &str, scheme: &str, t: i64, body: &[u8]) -> String {
    format!("t={t},{scheme}={}", hmac_sha256_hex(secret, t, body))
}

/// Signs like Paystack: hex HMAC-SHA512 of the body.
pub fn sign_paystack(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha512>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn hmac_sha256_hex(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    //! The vectors were computed independently of this module (Python's `hmac` and
    //! `openssl dgst -hmac`, from the documented formulas; /work/notes cites them).

    use super::*;

    const STRIPE_BODY: &[u8] = br#"{"id":"evt_test_webhook","object":"event"}"#;
    const STRIPE_V1: &str = "d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990";
    const PAYSTACK_BODY: &[u8] =
        br#"{"event":"charge.success","data":{"reference":"ref_123","status":"success"}}"#;
    const PAYSTACK_KEY: &str = "sk_test_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
    const PAYSTACK_SIG: &str = "b9d432579bf32f8d84fe23cb18b636e51ea50117f1b2be4a7293733948a8291d7d68af4a1efbdbd22d24ae0211f53e3c8e3d46260f5727bb37613bf4a6cd5de4";

    fn secrets(list: &[&str]) -> Vec<Secret> {
        list.iter().map(|s| Secret::new(*s)).collect()
    }

    #[test]
    fn a_stripe_signature_computed_from_the_documented_formula_verifies() {
        let header = format!("t=1700000000,v1={STRIPE_V1}");
        assert_eq!(
            verify_stripe(
                Some(&header),
                STRIPE_BODY,
                &secrets(&["whsec_test_secret"]),
                300,
                1_700_000_100
            ),
            Ok(1_700_000_000)
        );
        assert_eq!(
            sign_stripe("whsec_test_secret", 1_700_000_000, STRIPE_BODY),
            header
        );
    }

    #[test]
    fn stripe_accepts_any_v1_under_any_secret_while_a_secret_is_rolled() {
        let header = format!("t=1700000000,v1={},v1={STRIPE_V1},v0=abcd", "00".repeat(32));
        let rolled = secrets(&["whsec_new", "whsec_test_secret"]);
        assert!(verify_stripe(Some(&header), STRIPE_BODY, &rolled, 300, 1_700_000_000).is_ok());
    }

    #[test]
    fn stripe_refuses_stale_changed_forged_and_malformed() {
        let header = format!("t=1700000000,v1={STRIPE_V1}");
        let key = secrets(&["whsec_test_secret"]);
        assert_eq!(
            verify_stripe(Some(&header), STRIPE_BODY, &key, 300, 1_700_000_301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_stripe(Some(&header), STRIPE_BODY, &key, 300, 1_699_999_000),
            Err(SignatureError::Stale)
        );
        let changed = br#"{"id":"evt_test_webhook","object":"event" }"#;
        assert_eq!(
            verify_stripe(Some(&header), changed, &key, 300, 1_700_000_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_stripe(
                Some(&header),
                STRIPE_BODY,
                &secrets(&["whsec_other"]),
                300,
                1_700_000_000
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_stripe(None, STRIPE_BODY, &key, 300, 1_700_000_000),
            Err(SignatureError::Missing)
        );
        for bad in [
            "",
            "v1=abc",
            "t=abc,v1=00",
            "t=1700000000",
            "t=1700000000,v0=00",
            "garbage",
        ] {
            assert_eq!(
                verify_stripe(Some(bad), STRIPE_BODY, &key, 300, 1_700_000_000),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
        // A timestamp moved forward with the old signature: the signed text differs.
        let moved = format!("t=1700000001,v1={STRIPE_V1}");
        assert_eq!(
            verify_stripe(Some(&moved), STRIPE_BODY, &key, 300, 1_700_000_000),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn fedapay_uses_the_same_formula_with_scheme_s() {
        let header = format!("t=1700000000,s={STRIPE_V1}");
        let key = secrets(&["whsec_test_secret"]);
        assert!(verify_fedapay(Some(&header), STRIPE_BODY, &key, 300, 1_700_000_000).is_ok());
        // A Stripe-style v1 is not FedaPay's scheme.
        let v1 = format!("t=1700000000,v1={STRIPE_V1}");
        assert_eq!(
            verify_fedapay(Some(&v1), STRIPE_BODY, &key, 300, 1_700_000_000),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_fedapay(Some(&header), STRIPE_BODY, &key, 300, 1_700_001_000),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn paystack_verifies_the_sha512_of_the_raw_body() {
        let key = secrets(&[PAYSTACK_KEY]);
        assert!(verify_paystack(Some(PAYSTACK_SIG), PAYSTACK_BODY, &key).is_ok());
        assert!(verify_paystack(Some(&PAYSTACK_SIG.to_uppercase()), PAYSTACK_BODY, &key).is_ok());
        assert_eq!(sign_paystack(PAYSTACK_KEY, PAYSTACK_BODY), PAYSTACK_SIG);
        let reserialised =
            br#"{"event": "charge.success", "data": {"reference": "ref_123", "status": "success"}}"#;
        assert_eq!(
            verify_paystack(Some(PAYSTACK_SIG), reserialised, &key),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_paystack(Some("zz"), PAYSTACK_BODY, &key),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_paystack(None, PAYSTACK_BODY, &key),
            Err(SignatureError::Missing)
        );
    }
}
