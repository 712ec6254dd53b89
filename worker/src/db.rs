//! Connections: one dedicated session per worker process for LISTEN, acknowledgements
//! and claims (one statement per batch), and a small pool for failures, heartbeats,
//! releases and handlers' own SQL. Every session
//! starts with the statement and idle-in-transaction timeouts of the configuration.

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use crate::config::WorkerConfig;

/// The libpq configuration of every worker session.
///
/// # Errors
/// A `DATABASE_URL` that does not parse (already checked by the configuration).
pub fn pg_config(config: &WorkerConfig) -> anyhow::Result<tokio_postgres::Config> {
    let mut pg: tokio_postgres::Config = config.database_url.parse()?;
    pg.application_name("maef-worker");
    pg.options(config.session_options());
    pg.connect_timeout(std::time::Duration::from_secs(5));
    Ok(pg)
}

/// The pool used for acknowledgements and handlers. Broken connections (after a
/// database restart) are detected on checkout and replaced.
///
/// # Errors
/// A configuration the pool refuses.
pub fn pool(config: &WorkerConfig) -> anyhow::Result<Pool> {
    let manager = Manager::from_config(
        pg_config(config)?,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    // Handlers, the completer and the heartbeat share it; more connections than slots
    // would only add idle sessions to the server.
    Ok(Pool::builder(manager)
        .max_size(config.pool_size)
        .wait_timeout(Some(std::time::Duration::from_secs(10)))
        .create_timeout(Some(std::time::Duration::from_secs(5)))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()?)
}
