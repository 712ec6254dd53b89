//! A local fake of Meta's Graph API (Instagram API with Facebook Login) and of its media
//! CDN, speaking the real wire format (shapes from `/work/notes/instagram.md`, with
//! Meta's documentation cited there):
//!
//! - `GET /{version}/oauth/access_token` — the code exchange (`client_id`,
//!   `redirect_uri`, `client_secret`, `code`) and `grant_type=fb_exchange_token`:
//!   `{"access_token", "token_type": "bearer", "expires_in"}`;
//! - `GET /{version}/me/accounts?fields=id,name,access_token` — the user's Pages;
//! - `GET /{version}/{page-id}?fields=instagram_business_account` and
//!   `GET /{version}/{ig-user-id}?fields=id,username`;
//! - `GET /{version}/{ig-user-id}/stories?fields=…` — cursor pages,
//!   `{"data": […], "paging": {"cursors": {"before", "after"}, "next": "<absolute URL>"}}`,
//!   `next` absent on the last page;
//! - errors as envelopes `{"error": {"message", "type", "code", "error_subcode",
//!   "fbtrace_id"}}`; `X-App-Usage` and `X-Business-Use-Case-Usage` on every Graph
//!   answer;
//! - `GET /cdn/{name}`: real image and MP4 bytes, with or without `Content-Length`,
//!   optionally slowed down (to kill a worker mid-download).
//!
//! Tests configure it through [`FakeGraph::state`] and read what it was asked in
//! [`FakeState::calls`].

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    body::Body,
    extract::{Path, Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use serde_json::{json, Value};

/// The Graph API version path prefix the fake answers on.
pub const VERSION: &str = "v26.0";

/// One story the fake lists.
#[derive(Debug, Clone)]
pub struct FakeStory {
    /// Media id.
    pub id: String,
    /// `IMAGE` or `VIDEO`.
    pub media_type: &'static str,
    /// CDN name of the bytes (`media_url`), if any.
    pub media: Option<String>,
    /// CDN name of the thumbnail (`thumbnail_url`), if any.
    pub thumbnail: Option<String>,
    /// Caption.
    pub caption: Option<String>,
    /// ISO 8601 with Meta's `+0000` offset.
    pub timestamp: String,
}

/// An Instagram professional account.
#[derive(Debug, Clone, Default)]
pub struct FakeAccount {
    /// The token that reads it (anything else: error 190).
    pub token: String,
    /// @username.
    pub username: String,
    /// Its stories, newest first.
    pub stories: Vec<FakeStory>,
    /// Sizes of the successive pages (the last size repeats).
    pub page_sizes: Vec<usize>,
}

/// A blob the CDN serves.
#[derive(Debug, Clone)]
pub struct Blob {
    /// The bytes.
    pub bytes: Arc<Vec<u8>>,
    /// `Content-Type` sent (the worker must not trust it).
    pub content_type: &'static str,
    /// Send `Content-Length` (false: chunked).
    pub content_length: bool,
}

/// A Facebook Page of the signed-in user.
#[derive(Debug, Clone)]
pub struct FakePage {
    /// Page id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Page token.
    pub token: String,
    /// Its Instagram professional account, if linked.
    pub instagram: Option<String>,
}

/// What the fake does and what it saw.
#[derive(Debug, Default)]
pub struct FakeState {
    /// Accounts by IG user id.
    pub accounts: HashMap<String, FakeAccount>,
    /// CDN blobs by name.
    pub blobs: HashMap<String, Blob>,
    /// The app's id, secret and redirect URI (OAuth checks them).
    pub app: Option<(String, String, String)>,
    /// Codes the dialog handed out → short-lived user token.
    pub codes: HashMap<String, String>,
    /// Valid user tokens (short or long-lived) → their Pages.
    pub user_tokens: HashMap<String, Vec<FakePage>>,
    /// Long-lived tokens given for a user token: (token, expires_in).
    pub long_lived: HashMap<String, (String, i64)>,
    /// `call_count` percentage sent in `X-App-Usage`.
    pub app_usage: u32,
    /// Per stories-page index (0-based): the BUC usage percentage to send instead of 10.
    pub buc_usage_on_page: HashMap<usize, u32>,
    /// Per stories-page index: an error envelope to answer with (status, code, message).
    pub error_on_page: HashMap<usize, (u16, i64, String)>,
    /// Delay per 64 KiB of CDN bytes (slow downloads).
    pub cdn_delay_per_64k: Option<Duration>,
    /// Every request: `(path, query)`; tokens included (the fake is the only place
    /// they may appear).
    pub calls: Vec<(String, String)>,
}

impl FakeState {
    /// How many requests went to paths ending with `suffix`.
    pub fn calls_to(&self, suffix: &str) -> usize {
        self.calls.iter().filter(|(p, _)| p.ends_with(suffix)).count()
    }
}

/// A running fake.
pub struct FakeGraph {
    /// Its address.
    pub addr: SocketAddr,
    /// Its state, shared with the handlers.
    pub state: Arc<Mutex<FakeState>>,
}

impl FakeGraph {
    /// Starts a fake on a free port of 127.0.0.1, on the current runtime.
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(FakeState {
            app_usage: 5,
            ..FakeState::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new()
            .route("/cdn/{name}", get(cdn))
            .route("/{version}/oauth/access_token", get(access_token))
            .route("/{version}/me/accounts", get(me_accounts))
            .route("/{version}/{id}/stories", get(stories))
            .route("/{version}/{id}", get(node))
            .with_state(Shared {
                state: state.clone(),
                addr,
            });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, state }
    }

    /// `IG_GRAPH_BASE` for this fake.
    pub fn base(&self) -> String {
        format!("http://{}/{VERSION}", self.addr)
    }

    /// The CDN URL of a blob.
    pub fn cdn_url(&self, name: &str) -> String {
        format!("http://{}/cdn/{name}", self.addr)
    }

    /// Adds a blob to the CDN.
    pub fn blob(&self, name: &str, bytes: Vec<u8>, content_type: &'static str) {
        self.state.lock().unwrap().blobs.insert(
            name.into(),
            Blob {
                bytes: Arc::new(bytes),
                content_type,
                content_length: true,
            },
        );
    }

    /// Adds (or replaces) an account.
    pub fn account(&self, id: &str, account: FakeAccount) {
        self.state.lock().unwrap().accounts.insert(id.into(), account);
    }

    /// Runs `f` on the state.
    pub fn with<T>(&self, f: impl FnOnce(&mut FakeState) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }
}

#[derive(Clone)]
struct Shared {
    state: Arc<Mutex<FakeState>>,
    addr: SocketAddr,
}

type Params = Query<HashMap<String, String>>;

fn record(shared: &Shared, path: &str, params: &HashMap<String, String>) {
    let mut query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    query.sort();
    shared
        .state
        .lock()
        .unwrap()
        .calls
        .push((path.into(), query.join("&")));
}

/// Meta's error envelope.
pub fn envelope(status: u16, code: i64, subcode: Option<i64>, message: &str) -> Response {
    let body = json!({"error": {"message": message, "type": "OAuthException", "code": code,
                                "error_subcode": subcode, "fbtrace_id": "AzFakeTrace01"}});
    with_usage(
        (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response(),
        5,
        10,
    )
}

fn expired() -> Response {
    envelope(
        400,
        190,
        Some(463),
        "Error validating access token: Session has expired on Sunday, 06-Dec-26 10:00:00 PST.",
    )
}

fn with_usage(mut response: Response, app: u32, buc: u32) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        "x-app-usage",
        HeaderValue::from_str(
            &json!({"call_count": app, "total_time": app.min(5), "total_cputime": app.min(5)}).to_string(),
        )
        .unwrap(),
    );
    headers.insert(
        "x-business-use-case-usage",
        HeaderValue::from_str(
            &json!({"17841400000000000": [{"type": "instagram", "call_count": buc, "total_cputime": 3, "total_time": 4,
                                            "estimated_time_to_regain_access": 0}]})
            .to_string(),
        )
        .unwrap(),
    );
    response
}

fn ok(body: Value, app: u32) -> Response {
    with_usage(axum::Json(body).into_response(), app, 10)
}

async fn access_token(
    State(shared): State<Shared>,
    Path(_version): Path<String>,
    Query(q): Params,
) -> Response {
    record(&shared, "/oauth/access_token", &q);
    let mut state = shared.state.lock().unwrap();
    let Some((app_id, secret, redirect)) = state.app.clone() else {
        return envelope(
            400,
            101,
            None,
            "Error validating application. Invalid application ID.",
        );
    };
    if q.get("client_id") != Some(&app_id) || q.get("client_secret") != Some(&secret) {
        return envelope(400, 1, None, "Error validating client secret.");
    }
    if q.get("grant_type").map(String::as_str) == Some("fb_exchange_token") {
        let token = q.get("fb_exchange_token").cloned().unwrap_or_default();
        return match state.long_lived.get(&token) {
            Some((long, expires_in)) => ok(
                json!({"access_token": long, "token_type": "bearer", "expires_in": expires_in}),
                5,
            ),
            None => expired(),
        };
    }
    if q.get("redirect_uri") != Some(&redirect) {
        return envelope(400, 100, Some(36008), "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request");
    }
    match q.get("code").and_then(|c| state.codes.remove(c)) {
        Some(token) => ok(
            json!({"access_token": token, "token_type": "bearer", "expires_in": 5183}),
            5,
        ),
        None => envelope(400, 100, Some(36009), "This authorization code has been used."),
    }
}

async fn me_accounts(
    State(shared): State<Shared>,
    Path(_version): Path<String>,
    Query(q): Params,
) -> Response {
    record(&shared, "/me/accounts", &q);
    let state = shared.state.lock().unwrap();
    let token = q.get("access_token").cloned().unwrap_or_default();
    match state.user_tokens.get(&token) {
        Some(pages) => ok(
            json!({"data": pages.iter().map(|p| json!({"id": p.id, "name": p.name, "access_token": p.token})).collect::<Vec<_>>(),
                   "paging": {"cursors": {"before": "QVFIUmFk", "after": "QVFIUmFm"}}}),
            5,
        ),
        None => expired(),
    }
}

async fn node(
    State(shared): State<Shared>,
    Path((_version, id)): Path<(String, String)>,
    Query(q): Params,
) -> Response {
    record(&shared, &format!("/{id}"), &q);
    let state = shared.state.lock().unwrap();
    let token = q.get("access_token").cloned().unwrap_or_default();
    let fields = q.get("fields").map(String::as_str).unwrap_or("id");
    if fields.contains("instagram_business_account") {
        let page = state
            .user_tokens
            .values()
            .flatten()
            .find(|p| p.id == id && p.token == token);
        return match page {
            Some(page) => ok(
                match &page.instagram {
                    Some(ig) => json!({"instagram_business_account": {"id": ig}, "id": page.id}),
                    None => json!({"id": page.id}),
                },
                5,
            ),
            None => expired(),
        };
    }
    match state.accounts.get(&id) {
        Some(account) if account.token == token => ok(json!({"id": id, "username": account.username}), 5),
        Some(_) => expired(),
        None => envelope(
            400,
            100,
            Some(33),
            &format!("Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."),
        ),
    }
}

async fn stories(
    State(shared): State<Shared>,
    Path((_version, id)): Path<(String, String)>,
    Query(q): Params,
) -> Response {
    record(&shared, &format!("/{id}/stories"), &q);
    let state = shared.state.lock().unwrap();
    let Some(account) = state.accounts.get(&id) else {
        return envelope(400, 100, Some(33), "Unsupported get request.");
    };
    if q.get("access_token") != Some(&account.token) {
        return expired();
    }
    // The cursor is the page index, opaque-looking.
    let index: usize = q
        .get("after")
        .and_then(|a| a.strip_prefix("QVFI"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    if let Some((status, code, message)) = state.error_on_page.get(&index) {
        return envelope(*status, *code, None, message);
    }
    let size_of = |i: usize| {
        *account
            .page_sizes
            .get(i)
            .or(account.page_sizes.last())
            .unwrap_or(&25)
    };
    let start: usize = (0..index).map(size_of).sum();
    let end = (start + size_of(index)).min(account.stories.len());
    let base = format!("http://{}", shared.addr);
    let data: Vec<Value> = account.stories[start.min(end)..end]
        .iter()
        .map(|s| {
            let mut item = json!({"id": s.id, "media_type": s.media_type, "media_product_type": "STORY",
                                  "permalink": format!("https://www.instagram.com/stories/{}/{}/", account.username, s.id),
                                  "timestamp": s.timestamp});
            if let Some(m) = &s.media {
                item["media_url"] = json!(format!("{base}/cdn/{m}?oh=sig&oe=exp"));
            }
            if let Some(t) = &s.thumbnail {
                item["thumbnail_url"] = json!(format!("{base}/cdn/{t}?oh=sig&oe=exp"));
            }
            if let Some(c) = &s.caption {
                item["caption"] = json!(c);
            }
            item
        })
        .collect();
    let mut paging = json!({"cursors": {"before": format!("QVFI{}", index.saturating_sub(1)), "after": format!("QVFI{}", index + 1)}});
    if end < account.stories.len() {
        let fields = q.get("fields").cloned().unwrap_or_default();
        paging["next"] = json!(format!(
            "{base}/{VERSION}/{id}/stories?access_token={}&fields={}&limit={}&after=QVFI{}",
            account.token,
            fields.replace(',', "%2C"),
            size_of(index + 1),
            index + 1
        ));
    }
    let buc = state.buc_usage_on_page.get(&index).copied().unwrap_or(10);
    with_usage(
        axum::Json(json!({"data": data, "paging": paging})).into_response(),
        state.app_usage,
        buc,
    )
}

async fn cdn(
    State(shared): State<Shared>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Query(q): Params,
) -> Response {
    let _ = headers;
    record(&shared, &format!("/cdn/{name}"), &q);
    let (blob, delay) = {
        let state = shared.state.lock().unwrap();
        (state.blobs.get(&name).cloned(), state.cdn_delay_per_64k)
    };
    let Some(blob) = blob else {
        return (StatusCode::NOT_FOUND, "URL signature expired").into_response();
    };
    let bytes = blob.bytes.clone();
    let stream = futures::stream::unfold(0usize, move |at| {
        let bytes = bytes.clone();
        async move {
            if at >= bytes.len() {
                return None;
            }
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            let end = (at + (64 << 10)).min(bytes.len());
            Some((
                Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(&bytes[at..end])),
                end,
            ))
        }
    });
    let mut response = Response::new(Body::from_stream(stream));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(blob.content_type));
    if blob.content_length {
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(blob.bytes.len()));
    }
    response
}

/// A JPEG of noise of about `bytes` bytes (noise does not compress), `side` pixels wide.
pub fn noisy_jpeg(side: u32, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let image = image::RgbImage::from_fn(side, side, |_, _| {
        // xorshift: fast, deterministic noise.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        image::Rgb([state as u8, (state >> 8) as u8, (state >> 16) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&image)
        .unwrap();
    out.into_inner()
}
