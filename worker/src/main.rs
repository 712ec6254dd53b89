//! `maef-worker`: runs until SIGTERM or Ctrl-C.

use maef_worker::config::WorkerConfig;

#[tokio::main]
async fn main() {
    let config = match WorkerConfig::from_lookup(|name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(problem) => {
            eprintln!("maef-worker: configuration error: {problem}");
            std::process::exit(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    if let Err(err) = maef_worker::run(config, shutdown_signal()).await {
        eprintln!("maef-worker: {err:#}");
        std::process::exit(1);
    }
}

async fn shutdown_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("install SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = terminate.recv() => {},
    }
    tracing::info!("shutdown signal received");
}
