//! The database side of every request: the pool, and [`call`], the one request path.
//!
//! [`call`] runs `BEGIN [READ ONLY]`, one `set_config` statement carrying the caller's
//! identity, one `api.*` call returning JSON text, and `COMMIT` — pipelined, so the four
//! statements cost one network round trip. The JSON text is passed through as the
//! response body, never parsed.
//!
//! # Behind a transaction-mode pooler
//! PgBouncer in transaction mode hands each transaction a server connection of its
//! choosing; version 1.18 does not track protocol-level prepared statements, so a
//! statement prepared on one server connection is unknown to the next. With
//! `DB_PREPARED_STATEMENTS=off` ([`Statements::Unnamed`]) every statement is sent as
//! the *unnamed* statement with its parameter types (Parse, Bind, Execute in one
//! message: still one round trip per request). The types of each SQL text are learned
//! once per process by preparing it inside a transaction and closing it before the
//! commit, so nothing named outlives its transaction. Session settings cannot be sent
//! at start-up either (PgBouncer refuses the `options` parameter), so
//! `statement_timeout` is set per transaction, with the identity.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Timeouts};
use tokio_postgres::{
    types::{ToSql, Type},
    NoTls,
};

use crate::{caller::Caller, config::Config, error::ApiError};

/// How statements reach the server (`DB_PREPARED_STATEMENTS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statements {
    /// Named statements prepared once per connection and cached (`on`, the default):
    /// a direct connection, or PgBouncer ≥ 1.21 with `max_prepared_statements`.
    Prepared,
    /// The unnamed statement with known parameter types, and transaction-local session
    /// settings (`off`): PgBouncer < 1.21 in transaction mode.
    Unnamed,
}

/// The connection pool and how statements are sent on it. Dereferences to the pool.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    statements: Statements,
    /// `statement_timeout`, set per transaction in [`Statements::Unnamed`] mode.
    statement_timeout_ms: String,
    /// Parameter types of each SQL text ([`Statements::Unnamed`] mode).
    param_types: Arc<Mutex<HashMap<String, Arc<[Type]>>>>,
}

impl std::ops::Deref for Db {
    type Target = Pool;
    fn deref(&self) -> &Pool {
        &self.pool
    }
}

impl Db {
    /// How statements are sent.
    pub fn statements(&self) -> Statements {
        self.statements
    }

    /// The parameter types of `sql`, learned on `client` the first time: prepared and
    /// closed inside one transaction, so that behind a pooler the named statement
    /// lives and dies on one server connection.
    async fn param_types(
        &self,
        client: &tokio_postgres::Client,
        sql: &str,
    ) -> Result<Arc<[Type]>, tokio_postgres::Error> {
        if let Some(types) = self.param_types.lock().unwrap().get(sql) {
            return Ok(types.clone());
        }
        let (began, prepared) = tokio::join!(client.batch_execute("BEGIN"), client.prepare(sql));
        let learned = match (began, prepared) {
            (Ok(()), Ok(statement)) => Ok(Arc::<[Type]>::from(statement.params())),
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
        // The statement was dropped above: its Close goes out before this COMMIT.
        client.batch_execute("COMMIT").await?;
        let types = learned?;
        self.param_types
            .lock()
            .unwrap()
            .insert(sql.to_owned(), types.clone());
        Ok(types)
    }

    /// Runs `sql` (one row expected) outside an explicit transaction, the way the
    /// mode requires: a cached prepared statement, or the unnamed one.
    ///
    /// # Errors
    /// The database's, or a row count other than one.
    pub async fn query_one(
        &self,
        client: &deadpool_postgres::Object,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<tokio_postgres::Row, tokio_postgres::Error> {
        match self.statements {
            Statements::Prepared => {
                let statement = client.prepare_cached(sql).await?;
                client.query_one(&statement, params).await
            }
            Statements::Unnamed => {
                let types = self.param_types(client, sql).await?;
                let typed = with_types(params, &types);
                client.query_typed_one(sql, &typed).await
            }
        }
    }
}

/// Pairs each parameter with its type, for `query_typed`.
fn with_types<'a>(params: &[&'a (dyn ToSql + Sync)], types: &[Type]) -> Vec<(&'a (dyn ToSql + Sync), Type)> {
    params.iter().copied().zip(types.iter().cloned()).collect()
}

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
pub fn pool(config: &Config) -> anyhow::Result<Db> {
    pool_at(config, &config.database_url, config.db_pool_size, "maef-api")
}

/// A pool of `size` connections to `url` (the primary, or the read replica), with the
/// configuration's timeouts and statement mode; `application_name` tells its sessions
/// apart in `pg_stat_activity`.
///
/// # Errors
/// A malformed URL (already checked by [`Config`]).
pub fn pool_at(config: &Config, url: &str, size: usize, application_name: &str) -> anyhow::Result<Db> {
    let mut pg: tokio_postgres::Config = url.parse()?;
    pg.connect_timeout(config.db_connect_timeout);
    pg.application_name(application_name);
    let statements = if config.ops.prepared_statements {
        // NOTICEs (e.g. "text-search query contains only stop words") are not errors
        // and would only clutter the logs.
        pg.options(format!(
            "-c statement_timeout={} -c client_min_messages=warning",
            config.db_statement_timeout.as_millis()
        ));
        Statements::Prepared
    } else {
        Statements::Unnamed
    };
    let manager = Manager::from_config(
        pg,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .timeouts(Timeouts {
            wait: Some(config.db_pool_timeout),
            // A connect attempt is bounded by connect_timeout; this is a backstop.
            create: Some(config.db_connect_timeout + Duration::from_millis(500)),
            recycle: Some(Duration::from_secs(2)),
        })
        .build()?;
    Ok(Db {
        pool,
        statements,
        statement_timeout_ms: config.db_statement_timeout.as_millis().to_string(),
        param_types: Arc::default(),
    })
}

/// Sets the caller's identity for the current transaction only, and refuses a signed-in
/// caller whose account was deactivated since the token was issued (a primary-key
/// lookup in `api.authenticate`).
const SET_IDENTITY: &str =
    "select set_config('role', $1, true), set_config('request.jwt.claims', $2, true), \
                            api.authenticate($3)";

/// [`SET_IDENTITY`] plus the session settings a pooler does not let the connection
/// carry, for this transaction only.
const SET_IDENTITY_AND_SETTINGS: &str =
    "select set_config('role', $1, true), set_config('request.jwt.claims', $2, true), \
            set_config('statement_timeout', $4, true), set_config('client_min_messages', 'warning', true), \
            api.authenticate($3)";

/// Runs one `api.*` call for `caller` in its own transaction and returns the JSON text
/// it produced. `sql` must return one row with one `text` column, e.g.
/// `select api.product_by_slug($1)::text`.
///
/// A deploy (`maef-api migrate`) drops and re-creates the code in one transaction;
/// a request whose statements are looked up at the moment it commits may find a name
/// in neither the old nor the new schema ([`ApiError::is_code_reload_race`]). Its
/// transaction rolled back whole, so it is run once more, which sees the new code:
/// deploys under load fail no request (`tests/tests/deploys.rs`).
///
/// # Errors
/// Pool timeout (504), unreachable database (503), or the SQL error mapped by
/// [`crate::error`].
pub async fn call(
    db: &Db,
    caller: &Caller,
    access: Access,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<String, ApiError> {
    let client = db.get().await?;
    call_on(db, &client, caller, access, sql, params).await
}

/// [`call`] on a connection already taken from `db`'s pool (the read replica's
/// routing tells a failed connection from a failed call).
///
/// # Errors
/// As [`call`], but for taking the connection.
pub async fn call_on(
    db: &Db,
    client: &deadpool_postgres::Object,
    caller: &Caller,
    access: Access,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<String, ApiError> {
    use tracing::Instrument as _;
    call_retried(db, client, caller, access, sql, params)
        .instrument(call_span(sql))
        .await
}

/// The span of one [`call_on`] when traces are exported (none otherwise: logs stay as
/// they were): named after the `api.*` function, never with parameter values.
fn call_span(sql: &str) -> tracing::Span {
    if !maef_telemetry::traces_enabled() {
        return tracing::Span::none();
    }
    let operation = function_name(sql);
    tracing::info_span!(
        "db.call",
        otel.name = operation,
        otel.kind = "client",
        db.system = "postgresql",
        db.operation = operation,
    )
}

/// The function `sql` calls (`select api.product_by_slug($1)::text` →
/// `api.product_by_slug`), or `query` when it calls none: never any other part of the
/// statement.
fn function_name(sql: &str) -> &str {
    let Some(paren) = sql.find('(') else {
        return "query";
    };
    let before = &sql[..paren];
    let start = before
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .map_or(0, |i| i + 1);
    let name = &before[start..];
    if name.contains('.') {
        name
    } else {
        "query"
    }
}

/// [`call_on`] without its span.
async fn call_retried(
    db: &Db,
    client: &deadpool_postgres::Object,
    caller: &Caller,
    access: Access,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<String, ApiError> {
    let result = match call_once(db, client, caller, access, sql, params).await {
        Err(e) if e.is_code_reload_race() => {
            tracing::info!(sql, "code reloaded during the request: running it again");
            // Statements (and learned parameter types) may describe the old code.
            client.statement_cache.clear();
            db.param_types.lock().unwrap().clear();
            call_once(db, client, caller, access, sql, params).await
        }
        result => result,
    };
    if access == Access::ReadWrite && result.is_ok() {
        // Its client reads from the primary for a while (read-your-writes).
        crate::replica::note_write();
    }
    result
}

/// One attempt of [`call`].
async fn call_once(
    db: &Db,
    client: &deadpool_postgres::Object,
    caller: &Caller,
    access: Access,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<String, ApiError> {
    if db.statements == Statements::Unnamed {
        return call_unnamed(db, client, caller, access, sql, params).await;
    }
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

/// [`call`] with unnamed statements ([`Statements::Unnamed`]): the same four
/// statements, pipelined the same way.
async fn call_unnamed(
    db: &Db,
    client: &deadpool_postgres::Object,
    caller: &Caller,
    access: Access,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<String, ApiError> {
    let identity_types = db.param_types(client, SET_IDENTITY_AND_SETTINGS).await?;
    let types = db.param_types(client, sql).await?;
    let identity_params: [&(dyn ToSql + Sync); 4] = [
        &caller.role,
        &caller.claims,
        &caller.user_id,
        &db.statement_timeout_ms,
    ];
    let identity_params = with_types(&identity_params, &identity_types);
    let params = with_types(params, &types);
    let begin = match access {
        Access::ReadOnly => "BEGIN READ ONLY",
        Access::ReadWrite => "BEGIN",
    };
    let (began, identity, rows, committed) = tokio::join!(
        client.batch_execute(begin),
        client.query_typed(SET_IDENTITY_AND_SETTINGS, &identity_params),
        client.query_typed(sql, &params),
        client.batch_execute("COMMIT"),
    );
    began?;
    identity?;
    let rows = rows?;
    committed?;
    let [row] = rows.as_slice() else {
        return Err(ApiError::internal(format!("{sql} returned {} rows", rows.len())));
    };
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
    db: &Db,
    client: &'a mut deadpool_postgres::Object,
    caller: &Caller,
) -> Result<deadpool_postgres::Transaction<'a>, ApiError> {
    // A transaction of several calls writes (an upload): its client then reads from the
    // primary for a while. Noted at the start: a failed upload notes one for nothing.
    crate::replica::note_write();
    if db.statements == Statements::Unnamed {
        let types = db.param_types(client, SET_IDENTITY_AND_SETTINGS).await?;
        let tx = client.transaction().await?;
        let params: [&(dyn ToSql + Sync); 4] = [
            &caller.role,
            &caller.claims,
            &caller.user_id,
            &db.statement_timeout_ms,
        ];
        tx.query_typed(SET_IDENTITY_AND_SETTINGS, &with_types(&params, &types))
            .await?;
        return Ok(tx);
    }
    let tx = client.transaction().await?;
    let set_identity = tx.prepare_cached(SET_IDENTITY).await?;
    tx.execute(&set_identity, &[&caller.role, &caller.claims, &caller.user_id])
        .await?;
    Ok(tx)
}

#[cfg(test)]
mod tests {
    use super::function_name;

    #[test]
    fn the_operation_is_the_function_called_never_the_parameters() {
        assert_eq!(
            function_name("select api.product_by_slug($1)::text"),
            "api.product_by_slug"
        );
        assert_eq!(function_name("select api.login($1, $2, $3)::text"), "api.login");
        assert_eq!(function_name("select 'secret'"), "query");
        assert_eq!(function_name("select count('secret')"), "query");
    }
}
