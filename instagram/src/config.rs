//! The integration's configuration, read by `maef-api` and `maef-worker` alike.
//!
//! Nothing is required: without `OAUTH_TOKEN_KEY` no token can be stored, and without
//! the app's credentials no OAuth flow can run, so the routes that need them answer
//! 409 `instagram_not_configured` (naming the missing variables) and the rest of the
//! shop works. A variable that is set but malformed stops start-up, as every other
//! configuration error does.

use std::time::Duration;

use crate::crypto::{Secret, TokenKey};

/// The Graph API version every call uses: pinned here, and only here. Meta's changelog
/// lists v26.0 as the newest version (docs/stories.md cites it).
pub const GRAPH_API_VERSION: &str = "v26.0";

/// The permissions the OAuth dialog asks for: reading stories needs `instagram_basic`
/// and `pages_read_engagement`; listing the Pages a person manages needs
/// `pages_show_list` (docs/stories.md cites Meta's references).
pub const SCOPES: &str = "instagram_basic,pages_show_list,pages_read_engagement";

/// The Graph API base URL with the pinned version.
pub fn default_graph_base() -> String {
    format!("https://graph.facebook.com/{GRAPH_API_VERSION}")
}

/// The OAuth dialog URL with the pinned version.
pub fn default_dialog_url() -> String {
    format!("https://www.facebook.com/{GRAPH_API_VERSION}/dialog/oauth")
}

/// The Meta app maef signs in with.
#[derive(Clone, Debug)]
pub struct AppCredentials {
    /// `IG_APP_ID`.
    pub app_id: String,
    /// `IG_APP_SECRET` (redacted in `Debug`).
    pub app_secret: Secret,
    /// `IG_REDIRECT_URI`: where Facebook sends the admin back, i.e. this API's
    /// `/api/v1/integrations/instagram/callback`, registered in the app's settings.
    pub redirect_uri: String,
}

/// Configuration of the Instagram integration.
#[derive(Clone, Debug)]
pub struct InstagramConfig {
    /// `IG_GRAPH_BASE` (default `https://graph.facebook.com/v26.0`): the Graph API with
    /// its version; tests point it at a local fake.
    pub graph_base: String,
    /// `IG_DIALOG_URL` (default `https://www.facebook.com/v26.0/dialog/oauth`): the OAuth
    /// dialog the admin's browser is sent to.
    pub dialog_url: String,
    /// `IG_APP_ID`, `IG_APP_SECRET`, `IG_REDIRECT_URI`: all three or none.
    pub app: Option<AppCredentials>,
    /// `OAUTH_TOKEN_KEY`: 32 bytes (base64 or 64 hex digits) sealing tokens at rest.
    pub token_key: Option<TokenKey>,
    /// `IG_HTTP_TIMEOUT_SECS` (default 20): timeout of one Graph API call.
    pub http_timeout: Duration,
    /// `IG_DOWNLOAD_TIMEOUT_SECS` (default 300): timeout of one media download, whole.
    pub download_timeout: Duration,
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

impl InstagramConfig {
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
        let problem = |var: &'static str, problem: &str| ConfigProblem {
            var,
            problem: problem.to_string(),
        };
        let http_url = |name: &'static str, default: String| -> Result<String, ConfigProblem> {
            let value = var(name).unwrap_or(default);
            let parsed = url::Url::parse(&value).map_err(|e| problem(name, &format!("is not a URL: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(problem(name, "must be an http or https URL"));
            }
            Ok(value.trim_end_matches('/').to_string())
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
        let app = match (var("IG_APP_ID"), var("IG_APP_SECRET"), var("IG_REDIRECT_URI")) {
            (None, None, None) => None,
            (Some(app_id), Some(secret), Some(redirect_uri)) => {
                url::Url::parse(&redirect_uri)
                    .map_err(|e| problem("IG_REDIRECT_URI", &format!("is not a URL: {e}")))?;
                Some(AppCredentials {
                    app_id,
                    app_secret: Secret::new(secret),
                    redirect_uri,
                })
            }
            (id, secret, _) => {
                let missing = if id.is_none() {
                    "IG_APP_ID"
                } else if secret.is_none() {
                    "IG_APP_SECRET"
                } else {
                    "IG_REDIRECT_URI"
                };
                return Err(problem(
                    missing,
                    "is not set while other IG_APP_* variables are: set IG_APP_ID, IG_APP_SECRET and IG_REDIRECT_URI together",
                ));
            }
        };
        let token_key = match var("OAUTH_TOKEN_KEY") {
            None => None,
            Some(text) => Some(TokenKey::parse(&text).map_err(|p| problem("OAUTH_TOKEN_KEY", &p))?),
        };
        Ok(Self {
            graph_base: http_url("IG_GRAPH_BASE", default_graph_base())?,
            dialog_url: http_url("IG_DIALOG_URL", default_dialog_url())?,
            app,
            token_key,
            http_timeout: seconds("IG_HTTP_TIMEOUT_SECS", 20)?,
            download_timeout: seconds("IG_DOWNLOAD_TIMEOUT_SECS", 300)?,
        })
    }

    /// The variables a stored token needs that are not set (`OAUTH_TOKEN_KEY`).
    pub fn missing_for_tokens(&self) -> Vec<&'static str> {
        if self.token_key.is_none() {
            vec!["OAUTH_TOKEN_KEY"]
        } else {
            Vec::new()
        }
    }

    /// The variables the OAuth flow needs that are not set.
    pub fn missing_for_oauth(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if self.app.is_none() {
            missing.extend(["IG_APP_ID", "IG_APP_SECRET", "IG_REDIRECT_URI"]);
        }
        missing.extend(self.missing_for_tokens());
        missing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<InstagramConfig, ConfigProblem> {
        InstagramConfig::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn nothing_is_required_and_the_version_is_pinned_once() {
        let c = config(&[]).unwrap();
        assert_eq!(c.graph_base, "https://graph.facebook.com/v26.0");
        assert!(c.dialog_url.contains(GRAPH_API_VERSION));
        assert_eq!(c.missing_for_tokens(), ["OAUTH_TOKEN_KEY"]);
        assert_eq!(c.missing_for_oauth().len(), 4);
    }

    #[test]
    fn partial_or_malformed_settings_name_their_variable_without_their_value() {
        let partial = config(&[("IG_APP_ID", "123")]).unwrap_err();
        assert_eq!(partial.var, "IG_APP_SECRET");
        let key = config(&[("OAUTH_TOKEN_KEY", "hunter2")]).unwrap_err();
        assert_eq!(key.var, "OAUTH_TOKEN_KEY");
        assert!(!key.to_string().contains("hunter2"));
        assert_eq!(
            config(&[("IG_GRAPH_BASE", "ftp://x")]).unwrap_err().var,
            "IG_GRAPH_BASE"
        );
        assert_eq!(
            config(&[("IG_HTTP_TIMEOUT_SECS", "0")]).unwrap_err().var,
            "IG_HTTP_TIMEOUT_SECS"
        );
        let full = config(&[
            ("IG_APP_ID", "123"),
            ("IG_APP_SECRET", "s3cret"),
            (
                "IG_REDIRECT_URI",
                "https://shop.example/api/v1/integrations/instagram/callback",
            ),
            ("OAUTH_TOKEN_KEY", &"0f".repeat(32)),
            ("IG_GRAPH_BASE", "http://127.0.0.1:9/v26.0/"),
        ])
        .unwrap();
        assert!(full.missing_for_oauth().is_empty());
        assert_eq!(full.graph_base, "http://127.0.0.1:9/v26.0");
        assert!(!format!("{full:?}").contains("s3cret"));
    }
}
