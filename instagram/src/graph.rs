//! The Graph API calls maef makes, over `reqwest` (rustls), and the error envelope
//! every failed call answers with:
//!
//! ```json
//! {"error": {"message": "…", "type": "OAuthException", "code": 190,
//!            "error_subcode": 460, "fbtrace_id": "EJplcsCHuLu"}}
//! ```
//!
//! Access tokens travel as the `access_token` query parameter (as Meta documents them)
//! and in the `paging.next` URLs Meta returns, so **no URL is ever logged or put in an
//! error**: transport errors are stripped of theirs ([`reqwest::Error::without_url`]).

use std::time::Duration;

use reqwest::StatusCode;
use serde::{de::DeserializeOwned, Deserialize};
use serde_json::Value;

use crate::{
    config::{AppCredentials, InstagramConfig},
    crypto::Secret,
    usage::Usage,
};

/// Graph error codes of an invalid, expired or revoked token ("get a new access token").
pub const AUTH_CODES: &[i64] = &[190, 102];
/// Graph error codes of rate limiting: app (4), user (17), Pages (32), custom (613).
pub const RATE_LIMIT_CODES: &[i64] = &[4, 17, 32, 613];

/// A failed Graph API call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// Meta answered with an error envelope.
    #[error("Graph API error {code}{} ({kind}, HTTP {status}): {message}{}",
        .subcode.map(|s| format!("/{s}")).unwrap_or_default(),
        .fbtrace_id.as_ref().map(|t| format!(" [fbtrace_id {t}]")).unwrap_or_default())]
    Api {
        /// HTTP status.
        status: u16,
        /// `error.code`.
        code: i64,
        /// `error.error_subcode`.
        subcode: Option<i64>,
        /// `error.type` (`OAuthException`, …).
        kind: String,
        /// `error.message`.
        message: String,
        /// `error.fbtrace_id`, for Meta's support.
        fbtrace_id: Option<String>,
        /// The usage headers of the failed response.
        usage: Usage,
    },
    /// The call did not complete (connection, timeout), or an answer that is not the
    /// Graph API's (a 5xx page from a proxy).
    #[error("Graph API unreachable: {0}")]
    Transport(String),
    /// A 2xx answer whose JSON does not have the documented shape.
    #[error("Graph API answer not understood: {0}")]
    Decode(String),
}

impl GraphError {
    /// An expired, revoked or otherwise invalid token (codes 190, 102): a person must
    /// connect the account again.
    pub fn is_auth(&self) -> bool {
        matches!(self, GraphError::Api { code, .. } if AUTH_CODES.contains(code))
    }

    /// Rate limited (codes 4, 17, 32, 613, or HTTP 429): stop and retry later.
    pub fn is_rate_limit(&self) -> bool {
        matches!(self, GraphError::Api { code, status, .. } if RATE_LIMIT_CODES.contains(code) || *status == 429)
    }

    /// The usage headers of the failed response, if Meta answered.
    pub fn usage(&self) -> Usage {
        match self {
            GraphError::Api { usage, .. } => *usage,
            _ => Usage::default(),
        }
    }
}

/// A successful call's body and usage headers.
#[derive(Debug, Clone)]
pub struct Answer<T> {
    /// The decoded body.
    pub body: T,
    /// What the usage headers said.
    pub usage: Usage,
}

/// `/oauth/access_token`'s answer.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenAnswer {
    /// The token.
    pub access_token: Secret,
    /// `bearer`.
    #[serde(default)]
    pub token_type: Option<String>,
    /// Seconds until it expires; absent for tokens that do not expire.
    #[serde(default)]
    pub expires_in: Option<i64>,
}

/// A Page the person manages (`/me/accounts`), with its Page token.
#[derive(Debug, Clone, Deserialize)]
pub struct Page {
    /// Page id.
    pub id: String,
    /// Page name.
    #[serde(default)]
    pub name: Option<String>,
    /// Page access token (from a long-lived user token: no expiry, per Meta).
    pub access_token: Secret,
}

/// An Instagram professional account (`/{ig-user-id}?fields=id,username`).
#[derive(Debug, Clone, Deserialize)]
pub struct IgUser {
    /// IG user id.
    pub id: String,
    /// @username.
    #[serde(default)]
    pub username: Option<String>,
}

/// One story (an IG Media object) as `/{ig-user-id}/stories` lists it.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct StoryItem {
    /// Media id.
    pub id: String,
    /// `IMAGE` or `VIDEO` (`CAROUSEL_ALBUM` is documented for media in general).
    #[serde(default)]
    pub media_type: Option<String>,
    /// `STORY` here.
    #[serde(default)]
    pub media_product_type: Option<String>,
    /// The bytes; omitted for media with copyrighted material (licensed music).
    #[serde(default)]
    pub media_url: Option<String>,
    /// A video's thumbnail.
    #[serde(default)]
    pub thumbnail_url: Option<String>,
    /// Permanent URL on Instagram.
    #[serde(default)]
    pub permalink: Option<String>,
    /// Creation time, ISO 8601 (`2019-09-26T22:36:43+0000`).
    pub timestamp: String,
    /// Caption.
    #[serde(default)]
    pub caption: Option<String>,
}

/// The fields the stories edge is asked for.
pub const STORY_FIELDS: &str =
    "id,media_type,media_product_type,media_url,thumbnail_url,permalink,timestamp,caption";

/// A page of a cursor-paginated edge.
#[derive(Debug, Clone, Deserialize)]
pub struct Paged<T> {
    /// The items.
    pub data: Vec<T>,
    /// Cursors and the next page's URL.
    #[serde(default)]
    pub paging: Option<Paging>,
}

/// `paging` of a page: `next` is absent on the last page.
#[derive(Debug, Clone, Deserialize)]
pub struct Paging {
    /// The next page's full URL (it carries the access token: never log it).
    #[serde(default)]
    pub next: Option<String>,
}

impl<T> Paged<T> {
    /// The next page's URL, absent on the last page (never inferred from a short page).
    pub fn next(&self) -> Option<&str> {
        self.paging.as_ref().and_then(|p| p.next.as_deref())
    }
}

/// The Graph API client.
#[derive(Clone, Debug)]
pub struct Graph {
    http: reqwest::Client,
    base: String,
    timeout: Duration,
}

impl Graph {
    /// A client for the configured base URL and timeouts.
    ///
    /// # Errors
    /// The TLS backend cannot start.
    pub fn new(config: &InstagramConfig) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("maef/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Self {
            http,
            base: config.graph_base.clone(),
            timeout: config.http_timeout,
        })
    }

    /// The underlying HTTP client (media downloads stream through it).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// `{base}/{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    /// GETs a Graph URL and decodes its JSON.
    ///
    /// # Errors
    /// [`GraphError`]: the envelope, a transport failure or an unexpected shape.
    pub async fn get<T: DeserializeOwned>(
        &self,
        url: &str,
        query: &[(&str, &str)],
    ) -> Result<Answer<T>, GraphError> {
        let response = self
            .http
            .get(url)
            .query(query)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| GraphError::Transport(e.without_url().to_string()))?;
        let status = response.status();
        let usage = Usage::from_headers(response.headers());
        let bytes = response
            .bytes()
            .await
            .map_err(|e| GraphError::Transport(e.without_url().to_string()))?;
        if !status.is_success() {
            return Err(envelope(status, usage, &bytes));
        }
        let body = serde_json::from_slice(&bytes).map_err(|e| GraphError::Decode(e.to_string()))?;
        Ok(Answer { body, usage })
    }

    /// Exchanges the OAuth dialog's code for a (short-lived) user token.
    ///
    /// # Errors
    /// [`GraphError`] (an expired or reused code is an `OAuthException`).
    pub async fn exchange_code(&self, app: &AppCredentials, code: &str) -> Result<TokenAnswer, GraphError> {
        let url = self.url("oauth/access_token");
        let query = [
            ("client_id", app.app_id.as_str()),
            ("redirect_uri", app.redirect_uri.as_str()),
            ("client_secret", app.app_secret.expose()),
            ("code", code),
        ];
        Ok(self.get(&url, &query).await?.body)
    }

    /// Exchanges a valid user token for a long-lived one (about 60 days).
    ///
    /// # Errors
    /// [`GraphError`].
    pub async fn long_lived(&self, app: &AppCredentials, token: &Secret) -> Result<TokenAnswer, GraphError> {
        let url = self.url("oauth/access_token");
        let query = [
            ("grant_type", "fb_exchange_token"),
            ("client_id", app.app_id.as_str()),
            ("client_secret", app.app_secret.expose()),
            ("fb_exchange_token", token.expose()),
        ];
        Ok(self.get(&url, &query).await?.body)
    }

    /// Every Page the token's user manages, with its Page token (all pages of
    /// `/me/accounts`).
    ///
    /// # Errors
    /// [`GraphError`].
    pub async fn pages(&self, user_token: &Secret) -> Result<Vec<Page>, GraphError> {
        let mut pages = Vec::new();
        let first = self.url("me/accounts");
        let mut page: Paged<Page> = self
            .get(
                &first,
                &[
                    ("fields", "id,name,access_token"),
                    ("access_token", user_token.expose()),
                ],
            )
            .await?
            .body;
        loop {
            pages.append(&mut page.data);
            let Some(next) = page.next().map(str::to_string) else {
                return Ok(pages);
            };
            page = self.get(&next, &[]).await?.body;
        }
    }

    /// The Instagram professional account linked to a Page, if any.
    ///
    /// # Errors
    /// [`GraphError`].
    pub async fn page_instagram_account(
        &self,
        page_id: &str,
        page_token: &Secret,
    ) -> Result<Option<String>, GraphError> {
        #[derive(Deserialize)]
        struct Linked {
            #[serde(default)]
            instagram_business_account: Option<IgRef>,
        }
        #[derive(Deserialize)]
        struct IgRef {
            id: String,
        }
        let url = self.url(page_id);
        let linked: Linked = self
            .get(
                &url,
                &[
                    ("fields", "instagram_business_account"),
                    ("access_token", page_token.expose()),
                ],
            )
            .await?
            .body;
        Ok(linked.instagram_business_account.map(|ig| ig.id))
    }

    /// An Instagram account's id and username: proves a token reads the account.
    ///
    /// # Errors
    /// [`GraphError`].
    pub async fn ig_user(&self, ig_user_id: &str, token: &Secret) -> Result<IgUser, GraphError> {
        let url = self.url(ig_user_id);
        Ok(self
            .get(
                &url,
                &[("fields", "id,username"), ("access_token", token.expose())],
            )
            .await?
            .body)
    }

    /// The first page of an account's stories.
    ///
    /// # Errors
    /// [`GraphError`].
    pub async fn stories(
        &self,
        ig_user_id: &str,
        token: &Secret,
    ) -> Result<Answer<Paged<StoryItem>>, GraphError> {
        let url = self.url(&format!("{ig_user_id}/stories"));
        self.get(
            &url,
            &[("fields", STORY_FIELDS), ("access_token", token.expose())],
        )
        .await
    }

    /// A following page, by the `paging.next` URL Meta returned.
    ///
    /// # Errors
    /// [`GraphError`].
    pub async fn next_page<T: DeserializeOwned>(&self, next: &str) -> Result<Answer<Paged<T>>, GraphError> {
        self.get(next, &[]).await
    }
}

/// The error of a non-2xx answer: Meta's envelope when the body is one, else a
/// transport error naming the status.
fn envelope(status: StatusCode, usage: Usage, body: &[u8]) -> GraphError {
    let parsed = serde_json::from_slice::<Value>(body).ok();
    let Some(error) = parsed
        .as_ref()
        .and_then(|v| v.get("error"))
        .filter(|e| e.is_object())
    else {
        return GraphError::Transport(format!("HTTP {status} without a Graph error envelope"));
    };
    let text = |key: &str| error.get(key).and_then(Value::as_str).map(str::to_string);
    GraphError::Api {
        status: status.as_u16(),
        code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
        subcode: error.get("error_subcode").and_then(Value::as_i64),
        kind: text("type").unwrap_or_else(|| "unknown".into()),
        message: text("message").unwrap_or_default(),
        fbtrace_id: text("fbtrace_id"),
        usage,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_become_errors_that_say_what_meta_said() {
        let body = br#"{"error":{"message":"Error validating access token: Session has expired","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"AbC"}}"#;
        let error = envelope(StatusCode::BAD_REQUEST, Usage::default(), body);
        assert!(error.is_auth() && !error.is_rate_limit());
        assert_eq!(
            error.to_string(),
            "Graph API error 190/463 (OAuthException, HTTP 400): Error validating access token: Session has expired [fbtrace_id AbC]"
        );
        let limited = envelope(
            StatusCode::BAD_REQUEST,
            Usage::default(),
            br#"{"error":{"message":"(#32) Page request limit reached","type":"OAuthException","code":32,"fbtrace_id":"Fz5"}}"#,
        );
        assert!(limited.is_rate_limit() && !limited.is_auth());
        let proxy = envelope(
            StatusCode::BAD_GATEWAY,
            Usage::default(),
            b"<html>bad gateway</html>",
        );
        assert_eq!(
            proxy,
            GraphError::Transport("HTTP 502 Bad Gateway without a Graph error envelope".into())
        );
    }

    #[test]
    fn story_items_and_pages_decode_from_metas_shapes() {
        let page: Paged<StoryItem> = serde_json::from_str(
            r#"{"data":[{"id":"1","media_type":"VIDEO","media_product_type":"STORY","thumbnail_url":"https://cdn/t.jpg",
                "permalink":"https://www.instagram.com/stories/shop/1/","timestamp":"2019-09-26T22:36:43+0000"}],
               "paging":{"cursors":{"after":"QVFI","before":"QVFH"},"next":"https://graph/next?after=QVFI"}}"#,
        )
        .unwrap();
        assert_eq!(page.data[0].media_url, None);
        assert_eq!(page.next(), Some("https://graph/next?after=QVFI"));
        let last: Paged<StoryItem> =
            serde_json::from_str(r#"{"data":[],"paging":{"cursors":{"before":"x"}}}"#).unwrap();
        assert_eq!(last.next(), None);
    }
}
