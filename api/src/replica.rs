//! Reads served by a streaming replica (`DATABASE_READ_URL`).
//!
//! The public read routes — catalog, product pages, search, media, stories — call
//! [`call`] instead of [`crate::db::call`]: their `BEGIN READ ONLY` transaction runs on
//! the replica's pool when one is configured, and on the primary otherwise. Everything
//! else (every read-write transaction, and the reads of one's own cart, orders or
//! account) stays on the primary.
//!
//! # Read-your-writes
//! A replica is behind the primary by its replay lag (milliseconds on a healthy local
//! network, `report.health` shows it). A client whose request committed a read-write
//! transaction (a cart change, a checkout, an admin edit, an upload; noted by
//! [`crate::db::call`] through [`note_write`]) receives a **primary-reads token**
//! (cookie `maef_primary_reads`, and the same value in the `X-Primary-Reads` response
//! header for clients without a cookie jar). While it is valid
//! (`READ_YOUR_WRITES_MS`, default 5 s) and presented back (the cookie, or the
//! `X-Primary-Reads` request header), that client's reads go to the primary. The token
//! is its expiry signed with HMAC-SHA256 under a key derived from `JWT_SECRET`: any
//! instance accepts it, and nobody can mint one that pins their reads to the primary
//! for longer.
//!
//! # When the replica fails
//! A replica that cannot be reached (no connection to be had: refused, timed out,
//! refused login; or one lost during the call: shutting down, starting up, SQLSTATE
//! classes 08 and 57P) is skipped for `REPLICA_RETRY_MS` (default 5 s) and the request
//! is answered by the primary, as are reads cancelled by a recovery conflict (40001)
//! or that found the replica's pool full. No client sees a
//! 5xx because of the replica; `/readyz` reports `degraded` while it is unreachable.

use std::{
    cell::Cell,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{
    extract::{FromRequestParts, Request, State},
    http::{header, request::Parts, HeaderMap, HeaderName, HeaderValue, StatusCode},
    middleware::Next,
    response::Response,
};
use deadpool_postgres::{PoolError, TimeoutType};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio_postgres::types::ToSql;

use crate::{
    caller::Caller,
    config::Config,
    db::{self, Access, Db},
    error::ApiError,
    AppState,
};

/// The cookie carrying the primary-reads token.
pub const COOKIE: &str = "maef_primary_reads";

/// The header carrying the primary-reads token (in responses, and in requests of
/// clients without cookies).
pub const HEADER: HeaderName = HeaderName::from_static("x-primary-reads");

/// Where reads go: the replica's pool, if any, and the read-your-writes window.
pub struct Reads {
    replica: Option<Replica>,
    /// `READ_YOUR_WRITES_MS`: how long a client that wrote reads from the primary.
    window: Duration,
    /// HMAC key of primary-reads tokens (derived from `JWT_SECRET`).
    key: Vec<u8>,
}

/// The replica's pool and whether it is being skipped.
struct Replica {
    db: Db,
    /// Until when (ms since the epoch) the replica is skipped after a failure.
    skip_until_ms: AtomicU64,
    /// `REPLICA_RETRY_MS`.
    retry: Duration,
}

/// Which server answered a read, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// The replica.
    Replica,
    /// The primary: no replica, the client's read-your-writes window, or a fallback.
    Primary,
}

impl Reads {
    /// The replica's pool (opened lazily: a replica down at start-up is only skipped)
    /// and the token key.
    ///
    /// # Errors
    /// A malformed `DATABASE_READ_URL` (already checked by [`Config`]).
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let replica = match &config.replica.read_url {
            Some(url) => Some(Replica {
                db: db::pool_at(config, url, config.replica.pool_size, "maef-api-read")?,
                skip_until_ms: AtomicU64::new(0),
                retry: config.replica.retry,
            }),
            None => None,
        };
        // Its own key, not JWT_SECRET itself: a token of one kind can never pass for
        // the other.
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(config.jwt_secret.as_deref().unwrap_or("").as_bytes())
                .expect("HMAC takes keys of any length");
        mac.update(b"maef primary-reads token key");
        Ok(Self {
            replica,
            window: config.replica.read_your_writes,
            key: mac.finalize().into_bytes().to_vec(),
        })
    }

    /// Whether a replica is configured.
    pub fn has_replica(&self) -> bool {
        self.replica.is_some()
    }

    /// The replica's pool, when configured (for metrics and readiness).
    pub fn replica_db(&self) -> Option<&Db> {
        self.replica.as_ref().map(|r| &r.db)
    }

    /// The replica, unless it is being skipped or the client must read from the primary.
    fn usable(&self, primary_reads: bool) -> Option<&Replica> {
        self.replica
            .as_ref()
            .filter(|r| !primary_reads && now_ms() >= r.skip_until_ms.load(Ordering::Relaxed))
    }

    /// Skips the replica for its retry period (also called by `/readyz`).
    pub fn mark_unreachable(&self, cause: &str) {
        if let Some(replica) = &self.replica {
            let until = now_ms() + replica.retry.as_millis() as u64;
            if replica.skip_until_ms.swap(until, Ordering::Relaxed) < now_ms() {
                tracing::warn!(
                    cause,
                    retry_ms = replica.retry.as_millis() as u64,
                    "read replica unreachable: reads go to the primary"
                );
            }
        }
    }

    /// A new primary-reads token: its expiry (ms since the epoch) and signature.
    pub fn token(&self) -> String {
        let expiry = now_ms() + self.window.as_millis() as u64;
        format!("{expiry}.{}", self.sign(expiry))
    }

    fn sign(&self, expiry: u64) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("any key length");
        mac.update(expiry.to_string().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether `token` is ours and not expired.
    fn valid(&self, token: &str) -> bool {
        let Some((expiry, signature)) = token.trim().split_once('.') else {
            return false;
        };
        let (Ok(expiry), Ok(signature)) = (expiry.parse::<u64>(), hex::decode(signature)) else {
            return false;
        };
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("any key length");
        mac.update(expiry.to_string().as_bytes());
        // verify_slice compares in constant time.
        mac.verify_slice(&signature).is_ok() && expiry > now_ms()
    }

    /// Whether the request carries a valid primary-reads token (cookie or header).
    pub fn primary_reads(&self, headers: &HeaderMap) -> bool {
        if self.replica.is_none() {
            return false;
        }
        let from_header = headers
            .get_all(&HEADER)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| self.valid(v));
        from_header
            || headers
                .get_all(header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(';'))
                .filter_map(|pair| pair.trim().split_once('='))
                .any(|(name, value)| name == COOKIE && self.valid(value))
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Whether a failed read on the replica should be answered by the primary: the
/// replica went away during the call (503: connection lost, shutting down), or
/// recovery cancelled the read (40001, a conflict with the replay).
fn primary_should_answer(error: &ApiError) -> bool {
    error.status == StatusCode::SERVICE_UNAVAILABLE || error.sqlstate() == Some("40001")
}

/// Runs a read-only `api.*` call for `caller` on the replica when it may, else on the
/// primary; a replica failure is answered by the primary ([module docs](self)).
///
/// # Errors
/// Those of [`db::call`] on the server that answered.
pub async fn call(
    state: &AppState,
    caller: &Caller,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<String, ApiError> {
    call_served(state, caller, sql, params)
        .await
        .map(|(json, _)| json)
}

/// [`call`], also saying which server answered (media reads their chunks there).
///
/// # Errors
/// Those of [`db::call`] on the server that answered.
pub async fn call_served(
    state: &AppState,
    caller: &Caller,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<(String, Served), ApiError> {
    if let Some(replica) = state.reads.usable(caller.primary_reads) {
        match replica.db.get().await {
            // Any failure to get a connection (refused, timed out, a wrong password or
            // database name) makes the replica unusable for a while; a full pool only
            // sends this read to the primary.
            Err(e) => {
                if !matches!(e, PoolError::Timeout(TimeoutType::Wait)) {
                    state.reads.mark_unreachable(&e.to_string());
                }
                state.metrics.replica_fallback();
            }
            Ok(client) => {
                match db::call_on(&replica.db, &client, caller, Access::ReadOnly, sql, params).await {
                    Ok(json) => {
                        state.metrics.read_served(Served::Replica);
                        return Ok((json, Served::Replica));
                    }
                    Err(e) if primary_should_answer(&e) => {
                        if e.status == StatusCode::SERVICE_UNAVAILABLE {
                            state.reads.mark_unreachable(e.cause());
                        }
                        state.metrics.replica_fallback();
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    }
    let json = db::call(&state.db, caller, Access::ReadOnly, sql, params).await?;
    state.metrics.read_served(Served::Primary);
    Ok((json, Served::Primary))
}

/// The pool a [`Served`] read came from.
pub fn db_of(state: &AppState, served: Served) -> &Db {
    match (served, state.reads.replica_db()) {
        (Served::Replica, Some(db)) => db,
        _ => &state.db,
    }
}

tokio::task_local! {
    /// Whether the request being handled committed a read-write transaction.
    static WROTE: Cell<bool>;
}

/// Notes that the current request wrote (called by [`crate::db::call`] after a
/// read-write transaction committed); outside a request, does nothing.
pub fn note_write() {
    let _ = WROTE.try_with(|wrote| wrote.set(true));
}

/// Middleware: a request that wrote gives its client a primary-reads token (cookie and
/// header), when a replica is configured. Whether it wrote is what its transactions
/// did, not its method: a read-only POST (`/products/lookup`) does not pin its client
/// to the primary, and a write followed by a failure (a provider's 502) does.
pub async fn issue_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut response, wrote) = WROTE
        .scope(Cell::new(false), async {
            let response = next.run(request).await;
            (response, WROTE.with(Cell::get))
        })
        .await;
    if wrote && state.reads.has_replica() {
        let token = state.reads.token();
        let max_age = state.reads.window.as_secs().max(1);
        let cookie = format!("{COOKIE}={token}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Lax");
        if let (Ok(cookie), Ok(token)) = (HeaderValue::from_str(&cookie), HeaderValue::from_str(&token)) {
            response.headers_mut().append(header::SET_COOKIE, cookie);
            response.headers_mut().insert(HEADER, token);
        }
    }
    response
}

/// Whether the request's reads go to the primary (a valid primary-reads token), for
/// handlers that do not take a [`Caller`].
pub struct PrimaryReads(pub bool);

impl FromRequestParts<AppState> for PrimaryReads {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self(state.reads.primary_reads(&parts.headers)))
    }
}

/// The replica's state for `/readyz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaState {
    /// No `DATABASE_READ_URL`.
    None,
    /// It answers.
    Ok,
    /// It does not answer: reads go to the primary.
    Unreachable,
}

/// Asks the replica whether it answers (one `select 1` on a pooled connection); an
/// unreachable replica is skipped by reads from now on. A replica being skipped is not
/// asked again before its retry time: a probe stays fast when it is down.
pub async fn probe(reads: &Reads) -> ReplicaState {
    let Some(replica) = &reads.replica else {
        return ReplicaState::None;
    };
    if reads.usable(false).is_none() {
        return ReplicaState::Unreachable;
    }
    let answered = match replica.db.get().await {
        Ok(client) => client
            .simple_query("select 1")
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match answered {
        Ok(()) => ReplicaState::Ok,
        Err(cause) => {
            reads.mark_unreachable(&cause);
            ReplicaState::Unreachable
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reads(window_ms: u64) -> Reads {
        Reads {
            replica: None,
            window: Duration::from_millis(window_ms),
            key: b"test key".to_vec(),
        }
    }

    #[test]
    fn a_token_is_valid_until_its_expiry_and_only_with_our_key() {
        let ours = reads(60_000);
        let token = ours.token();
        assert!(ours.valid(&token));

        let other = Reads {
            key: b"another key".to_vec(),
            ..reads(60_000)
        };
        assert!(!other.valid(&token), "another key's token");

        let (expiry, signature) = token.split_once('.').unwrap();
        let later = expiry.parse::<u64>().unwrap() + 3_600_000;
        assert!(!ours.valid(&format!("{later}.{signature}")), "a forged expiry");
        assert!(!ours.valid("garbage"));
        assert!(!ours.valid("12.zz"));

        let expired = format!("{0}.{1}", now_ms() - 1, ours.sign(now_ms() - 1));
        assert!(!ours.valid(&expired), "an expired token");
    }
}
