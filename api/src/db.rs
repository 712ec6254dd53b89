//! The database side of every request: the pool, and [`call`], the one request path.
//!
//! [`call`] runs `BEGIN [READ ONLY]`, one `set_config` statement carrying the caller's
//! identity, one `api.*` call returning JSON text, and `COMMIT` — pipelined, so the four
//! statements cost one network round trip. The JSON text is passed through as the
//! response body, never parsed.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Timeouts};
use tokio_postgres::{types::ToSql, NoTls};

use crate::{caller::Caller, config::Config, error::ApiError};

/// Whether a call may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `BEGIN READ ONLY`: GET routes and read-only POSTs.
    ReadOnly,
    /// `BEGIN`: routes that change data.
    ReadWrite,
}

/// Builds the connection pool. Connections are opened lazily, so this succeeds even
/// when the database is down (requests then answer 503).
///
/// # Errors
/// A malformed `DATABASE_URL` (already checked by [`Config`]).
pub fn pool(config: &Config) -> anyhow::Result<Pool> {
    let mut pg: tokio_postgres::Config = config.database_url.parse()?;
    pg.connect_timeout(config.db_connect_timeout);
    pg.application_name("maef-api");
    // NOTICEs (e.g. "text-search query contains only stop words") are not errors and
    // would only clutter the logs.
    pg.options(format!(
        "-c statement_timeout={} -c client_min_messages=warning",
        config.db_statement_timeout.as_millis()
    ));
    let manager = Manager::from_config(
        pg,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(config.db_pool_size)
        .runtime(Runtime::Tokio1)
        .timeouts(Timeouts {
            wait: Some(config.db_pool_timeout),
            // A connect attempt is bounded by connect_timeout; this is a backstop.
            create: Some(config.db_connect_timeout + Duration::from_millis(500)),
            recycle: Some(Duration::from_secs(2)),
        })
        .build()?;
    Ok(pool)
}

/// Sets the caller's identity for the current transaction only, and refuses a signed-in
/// caller whose account was deactivated since the token was issued (a primary-key
/// lookup in `api.authenticate`).
const SET_IDENTITY: &str =
    "select set_config('role', $1, true), set_config('request.jwt.claims', $2, true), \
                            api.authenticate($3)";

/// Runs one `api.*` call for `caller` in its own transaction and returns the JSON text
/// it produced. `sql` must return one row with one `text` column, e.g.
/// `select api.product_by_slug($1)::text`.
///
/// # Errors
/// Pool timeout (504), unreachable database (503), or the SQL error mapped by
/// [`crate::error`].
pub async fn call(
    pool: &Pool,
    caller: &Caller,
    access: Access,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<String, ApiError> {
    let client = pool.get().await?;
    let set_identity = client.prepare_cached(SET_IDENTITY).await?;
    let statement = client.prepare_cached(sql).await?;
    let begin = match access {
        Access::ReadOnly => "BEGIN READ ONLY",
        Access::ReadWrite => "BEGIN",
    };
    // Pipelined: the four requests are written before any answer is read. If the call
    // fails, COMMIT answers ROLLBACK and the connection is clean for the next request.
    let identity_params: [&(dyn ToSql + Sync); 3] = [&caller.role, &caller.claims, &caller.user_id];
    let (began, identity, row, committed) = tokio::join!(
        client.batch_execute(begin),
        client.execute(&set_identity, &identity_params),
        client.query_one(&statement, params),
        client.batch_execute("COMMIT"),
    );
    began?;
    identity?;
    let row = row?;
    committed?;
    let json: Option<String> = row.try_get(0)?;
    json.ok_or_else(|| ApiError::internal(format!("{sql} returned NULL")))
}

/// Opens a transaction as `caller` on `client`, for the rare request that must make
/// several calls in one transaction (an upload streaming into a large object). Prefer
/// [`call`].
///
/// # Errors
/// The database refused the transaction or the identity (deactivated account: 401).
pub async fn begin_as<'a>(
    client: &'a mut deadpool_postgres::Object,
    caller: &Caller,
) -> Result<deadpool_postgres::Transaction<'a>, ApiError> {
    let tx = client.transaction().await?;
    let set_identity = tx.prepare_cached(SET_IDENTITY).await?;
    tx.execute(&set_identity, &[&caller.role, &caller.claims, &caller.user_id])
        .await?;
    Ok(tx)
}
