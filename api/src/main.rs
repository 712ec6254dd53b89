//! `maef-api` command line: `serve`, `migrate`, `demo`.

use clap::{Parser, Subcommand};
use maef_api::config::{Config, Purpose};

#[derive(Parser)]
#[command(name = "maef-api", version, about = "maef HTTP API and database tooling")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (refuses to start while migrations are pending).
    Serve,
    /// Apply migrations, then reload the extension and the SQL API (idempotent).
    Migrate,
    /// Load the demo catalog (idempotent).
    Demo,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let purpose = match cli.command {
        Command::Serve => Purpose::Serve,
        Command::Migrate | Command::Demo => Purpose::Tooling,
    };
    let config = match Config::from_env(purpose) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("maef-api: {err}");
            std::process::exit(2);
        }
    };
    maef_api::init_tracing(config.log_format);
    let result = match cli.command {
        Command::Serve => maef_api::serve(config).await,
        Command::Migrate => migrate(&config).await,
        Command::Demo => demo(&config).await,
    };
    if let Err(err) = result {
        eprintln!("maef-api: {err:#}");
        std::process::exit(1);
    }
}

async fn connect(config: &Config) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(&config.database_url, tokio_postgres::NoTls)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot reach the database at {}: {e}",
                maef_api::config::redact_url(&config.database_url)
            )
        })?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::error!("database connection: {e}");
        }
    });
    Ok(client)
}

async fn migrate(config: &Config) -> anyhow::Result<()> {
    let mut client = connect(config).await?;
    let report = maef_api::migrate::run(&mut client).await?;
    if report.applied.is_empty() {
        println!("migrations current; reloaded {} SQL file(s)", report.sql_files);
    } else {
        println!(
            "applied {}; reloaded {} SQL file(s)",
            report.applied.join(", "),
            report.sql_files
        );
    }
    Ok(())
}

async fn demo(config: &Config) -> anyhow::Result<()> {
    let mut client = connect(config).await?;
    let summary = maef_api::demo::load(&mut client).await?;
    if summary.already_loaded {
        println!("demo catalog already loaded");
    } else {
        println!(
            "demo catalog loaded: {} categories, {} products, {} variants, {} images",
            summary.categories, summary.products, summary.variants, summary.images
        );
    }
    Ok(())
}
