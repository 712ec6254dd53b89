//! The webhook dispatcher: turns new events into deliveries.
//!
//! One session per worker LISTENs on `maef_events` and calls `api.dispatch_events`
//! on each notification and each poll interval, until a call comes back short. The SQL
//! function does the work in one transaction (deliveries, their jobs, the consumer's
//! cursor) and lets one worker at a time in (its cursor row is locked SKIP LOCKED), so
//! any number of workers may run this loop. Events become dispatchable once every
//! transaction older than theirs has ended (see `sql/events.sql`): a notification may
//! arrive a moment before its event can be read, and the next poll picks it up.

use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::{config::WorkerConfig, db};

/// The channel `api._emit_event` notifies.
pub const EVENTS_CHANNEL: &str = "maef_events";

/// Events per dispatch transaction.
const BATCH: i32 = 500;

/// Runs the dispatcher until the task is aborted; a lost session is re-opened with
/// backoff.
pub async fn dispatch_forever(config: WorkerConfig) {
    let mut backoff = Duration::from_millis(200);
    loop {
        if let Err(e) = session(&config).await {
            tracing::warn!(error = %e, retry_in = ?backoff, "webhook dispatcher lost its database session");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }
}

async fn session(config: &WorkerConfig) -> anyhow::Result<()> {
    let (client, mut connection) = db::pg_config(config)?.connect(NoTls).await?;
    let (wake_tx, mut wake_rx) = mpsc::unbounded_channel::<()>();
    let driver = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(_)) => {
                    let _ = wake_tx.send(());
                }
                Ok(_) => {}
                Err(e) => return e.to_string(),
            }
        }
        "connection closed".to_string()
    });
    client.batch_execute(&format!("LISTEN {EVENTS_CHANNEL}")).await?;
    let statement = client.prepare("select api.dispatch_events($1)").await?;
    loop {
        loop {
            let n: i32 = client.query_one(&statement, &[&BATCH]).await?.get(0);
            if n > 0 {
                tracing::debug!(events = n, "events dispatched");
            }
            if n < BATCH {
                break;
            }
        }
        tokio::select! {
            woke = wake_rx.recv() => {
                if woke.is_none() {
                    let reason = driver.await.unwrap_or_else(|e| e.to_string());
                    anyhow::bail!("database connection closed: {reason}");
                }
                while wake_rx.try_recv().is_ok() {}
            }
            () = tokio::time::sleep(config.poll_interval) => {}
        }
    }
}
