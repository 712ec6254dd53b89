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
    let telemetry = maef_telemetry::init("maef-worker", maef_telemetry::LogFormat::Text);
    let result = maef_worker::run(config, shutdown_signal()).await;
    // The spans of the last jobs are exported before exiting; blocking, so off the
    // runtime's threads.
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    if let Err(err) = result {
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
