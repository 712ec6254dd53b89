//! The providers' configuration, read by `maef-api` and `maef-worker` alike.
//!
//! Nothing is required: a provider whose keys are not set is simply not offered (its
//! payments answer 422 `payment_provider_unavailable`, its webhook route 404). A
//! variable that is set but malformed stops start-up, naming the variable, never its
//! value. Webhook secrets are comma lists, so a secret can be rolled: add the new one,
//! switch the provider's dashboard, remove the old one.

use std::time::Duration;

/// A secret (an API key, a webhook secret): no `Display`, a redacted `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, at the one place it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// One provider's base URL and keys.
#[derive(Debug, Clone)]
pub struct ProviderKeys {
    /// Base URL without a trailing slash (tests point it at a local fake).
    pub api_base: String,
    /// The secret API key (Bearer).
    pub secret_key: Secret,
    /// Webhook signing secrets, any of which verifies an event.
    pub webhook_secrets: Vec<Secret>,
}

/// Configuration of the payment providers.
#[derive(Debug, Clone)]
pub struct PaymentsConfig {
    /// `STRIPE_API_BASE` (default `https://api.stripe.com`), `STRIPE_SECRET_KEY`,
    /// `STRIPE_WEBHOOK_SECRETS` (comma list of `whsec_…`): both keys or none.
    pub stripe: Option<ProviderKeys>,
    /// `FEDAPAY_API_BASE` (default `https://api.fedapay.com`; sandbox
    /// `https://sandbox-api.fedapay.com`), `FEDAPAY_SECRET_KEY`,
    /// `FEDAPAY_WEBHOOK_SECRETS`: both keys or none.
    pub fedapay: Option<ProviderKeys>,
    /// `PAYSTACK_API_BASE` (default `https://api.paystack.co`), `PAYSTACK_SECRET_KEY`;
    /// `PAYSTACK_WEBHOOK_SECRETS` defaults to the secret key (Paystack signs with it),
    /// a comma list while a key is rolled.
    pub paystack: Option<ProviderKeys>,
    /// `PAYMENT_HTTP_TIMEOUT_SECS` (default 20): timeout of one provider call.
    pub http_timeout: Duration,
    /// `PAYMENT_WEBHOOK_TOLERANCE_SECS` (default 300): oldest accepted signature
    /// timestamp (Stripe, FedaPay).
    pub webhook_tolerance: Duration,
    /// `PAYMENT_CALLBACK_URL` (default `http://localhost:8000/orders/{number}/paid`): where
    /// FedaPay and Paystack send the customer back after paying (`{number}` is
    /// replaced by the order number).
    pub callback_url: String,
}

/// A configuration problem: the variable and what is wrong, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ConfigProblem {
    /// The variable at fault.
    pub var: &'static str,
    /// What is wrong.
    pub problem: String,
}

fn problem(var: &'static str, text: &str) -> ConfigProblem {
    ConfigProblem {
        var,
        problem: text.to_string(),
    }
}

impl PaymentsConfig {
    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    ///
    /// # Errors
    /// The first malformed variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigProblem> {
        let var = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let base = |name: &'static str, default: &str| -> Result<String, ConfigProblem> {
            let value = var(name).unwrap_or_else(|| default.to_string());
            let parsed = url::Url::parse(&value).map_err(|e| problem(name, &format!("is not a URL: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(problem(name, "must be an http or https URL"));
            }
            Ok(value.trim_end_matches('/').to_string())
        };
        let list = |name: &str| -> Vec<Secret> {
            var(name)
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(Secret::new)
                        .collect()
                })
                .unwrap_or_default()
        };
        let seconds = |name: &'static str, default: u64| -> Result<Duration, ConfigProblem> {
            match var(name) {
                None => Ok(Duration::from_secs(default)),
                Some(raw) => match raw.parse::<u64>() {
                    Ok(n) if (1..=3600).contains(&n) => Ok(Duration::from_secs(n)),
                    _ => Err(problem(
                        name,
                        "must be a whole number of seconds between 1 and 3600",
                    )),
                },
            }
        };
        let stripe = match (var("STRIPE_SECRET_KEY"), list("STRIPE_WEBHOOK_SECRETS")) {
            (None, secrets) if secrets.is_empty() => None,
            (Some(key), secrets) if !secrets.is_empty() => Some(ProviderKeys {
                api_base: base("STRIPE_API_BASE", "https://api.stripe.com")?,
                secret_key: Secret::new(key),
                webhook_secrets: secrets,
            }),
            (None, _) => {
                return Err(problem(
                    "STRIPE_SECRET_KEY",
                    "is not set while STRIPE_WEBHOOK_SECRETS is",
                ))
            }
            (Some(_), _) => {
                return Err(problem(
                    "STRIPE_WEBHOOK_SECRETS",
                    "is not set: without it no payment could ever be confirmed",
                ))
            }
        };
        let fedapay = match (var("FEDAPAY_SECRET_KEY"), list("FEDAPAY_WEBHOOK_SECRETS")) {
            (None, secrets) if secrets.is_empty() => None,
            (Some(key), secrets) if !secrets.is_empty() => Some(ProviderKeys {
                api_base: base("FEDAPAY_API_BASE", "https://api.fedapay.com")?,
                secret_key: Secret::new(key),
                webhook_secrets: secrets,
            }),
            (None, _) => {
                return Err(problem(
                    "FEDAPAY_SECRET_KEY",
                    "is not set while FEDAPAY_WEBHOOK_SECRETS is",
                ))
            }
            (Some(_), _) => {
                return Err(problem(
                    "FEDAPAY_WEBHOOK_SECRETS",
                    "is not set: without it no payment could ever be confirmed",
                ))
            }
        };
        let paystack = match var("PAYSTACK_SECRET_KEY") {
            None => {
                if !list("PAYSTACK_WEBHOOK_SECRETS").is_empty() {
                    return Err(problem(
                        "PAYSTACK_SECRET_KEY",
                        "is not set while PAYSTACK_WEBHOOK_SECRETS is",
                    ));
                }
                None
            }
            Some(key) => {
                let mut secrets = list("PAYSTACK_WEBHOOK_SECRETS");
                if secrets.is_empty() {
                    secrets.push(Secret::new(key.clone()));
                }
                Some(ProviderKeys {
                    api_base: base("PAYSTACK_API_BASE", "https://api.paystack.co")?,
                    secret_key: Secret::new(key),
                    webhook_secrets: secrets,
                })
            }
        };
        let callback_url = var("PAYMENT_CALLBACK_URL")
            .unwrap_or_else(|| "http://localhost:8000/orders/{number}/paid".to_string());
        url::Url::parse(&callback_url.replace("{number}", "0"))
            .map_err(|e| problem("PAYMENT_CALLBACK_URL", &format!("is not a URL: {e}")))?;
        Ok(Self {
            stripe,
            fedapay,
            paystack,
            http_timeout: seconds("PAYMENT_HTTP_TIMEOUT_SECS", 20)?,
            webhook_tolerance: seconds("PAYMENT_WEBHOOK_TOLERANCE_SECS", 300)?,
            callback_url,
        })
    }

    /// The keys of a provider, if configured.
    pub fn keys(&self, provider: crate::Provider) -> Option<&ProviderKeys> {
        match provider {
            crate::Provider::Stripe => self.stripe.as_ref(),
            crate::Provider::Fedapay => self.fedapay.as_ref(),
            crate::Provider::Paystack => self.paystack.as_ref(),
        }
    }

    /// The providers with keys (what `api.payment_begin` may offer).
    pub fn offered(&self) -> Vec<String> {
        [
            crate::Provider::Stripe,
            crate::Provider::Fedapay,
            crate::Provider::Paystack,
        ]
        .into_iter()
        .filter(|p| self.keys(*p).is_some())
        .map(|p| p.as_str().to_string())
        .collect()
    }

    /// The callback URL of an order.
    pub fn callback_for(&self, number: &str) -> String {
        self.callback_url.replace("{number}", number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<PaymentsConfig, ConfigProblem> {
        PaymentsConfig::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn nothing_is_required_and_unconfigured_providers_are_not_offered() {
        let c = config(&[]).unwrap();
        assert!(c.offered().is_empty());
        let c = config(&[("PAYSTACK_SECRET_KEY", "sk_test_1")]).unwrap();
        assert_eq!(c.offered(), ["paystack"]);
        // Paystack signs webhooks with the secret key itself.
        assert_eq!(c.paystack.unwrap().webhook_secrets, [Secret::new("sk_test_1")]);
    }

    #[test]
    fn webhook_secrets_are_a_comma_list_for_rolling() {
        let c = config(&[
            ("STRIPE_SECRET_KEY", "sk_test_x"),
            ("STRIPE_WEBHOOK_SECRETS", "whsec_old, whsec_new,"),
            ("STRIPE_API_BASE", "http://127.0.0.1:9/"),
        ])
        .unwrap();
        let stripe = c.stripe.unwrap();
        assert_eq!(
            stripe.webhook_secrets,
            [Secret::new("whsec_old"), Secret::new("whsec_new")]
        );
        assert_eq!(stripe.api_base, "http://127.0.0.1:9");
    }

    #[test]
    fn half_configured_or_malformed_providers_name_the_variable_not_the_value() {
        let e = config(&[("STRIPE_SECRET_KEY", "sk_live_secret")]).unwrap_err();
        assert_eq!(e.var, "STRIPE_WEBHOOK_SECRETS");
        assert!(!e.to_string().contains("sk_live_secret"));
        assert_eq!(
            config(&[("FEDAPAY_WEBHOOK_SECRETS", "x")]).unwrap_err().var,
            "FEDAPAY_SECRET_KEY"
        );
        let e = config(&[("PAYSTACK_SECRET_KEY", "k"), ("PAYSTACK_API_BASE", "ftp://x")]).unwrap_err();
        assert_eq!(e.var, "PAYSTACK_API_BASE");
        assert_eq!(
            config(&[("PAYMENT_HTTP_TIMEOUT_SECS", "0")]).unwrap_err().var,
            "PAYMENT_HTTP_TIMEOUT_SECS"
        );
        assert!(format!("{:?}", Secret::new("sk_live_secret")).contains("redacted"));
    }
}
