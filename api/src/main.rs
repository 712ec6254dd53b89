//! `maef-api` command line: `serve`, `migrate`, `demo`, `create-admin`, `openapi`.

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
    /// Load the demo shop (idempotent): runs the `maef-demo` binary installed beside
    /// this one, so the demo data is not part of the API binary.
    Demo,
    /// Create an administrator, or promote an existing user. The password is read from
    /// MAEF_ADMIN_PASSWORD or, if unset, from the first line of standard input — never
    /// from the command line, where other users could see it.
    CreateAdmin {
        /// The administrator's e-mail.
        #[arg(long)]
        email: String,
    },
    /// Print the OpenAPI 3.1 document (what `/api/v1/openapi.json` serves) to standard
    /// output, without a database: for generating clients (`web/` generates its types
    /// from it).
    Openapi,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let purpose = match cli.command {
        Command::Serve => Purpose::Serve,
        Command::Migrate | Command::Demo | Command::CreateAdmin { .. } => Purpose::Tooling,
        Command::Openapi => {
            // Pretty and key-ordered (serde_json's map is a BTreeMap), so a
            // generated client's diff shows what changed.
            let doc = maef_api::openapi::document();
            println!(
                "{}",
                serde_json::to_string_pretty(&doc).expect("the document serialises")
            );
            return;
        }
    };
    let config = match Config::from_env(purpose) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("maef-api: {err}");
            std::process::exit(2);
        }
    };
    let telemetry = maef_api::init_tracing(config.log_format);
    let result = match cli.command {
        Command::Serve => maef_api::serve(config).await,
        Command::Migrate => migrate(&config).await,
        Command::Demo => demo(&config).await,
        Command::CreateAdmin { email } => create_admin(&config, &email).await,
        Command::Openapi => unreachable!("printed above, without a configuration"),
    };
    // The last spans (those of the requests finished during shutdown) are exported
    // before exiting; blocking, so off the runtime's threads.
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
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
    let exe = std::env::current_exe()?;
    let demo = exe.with_file_name("maef-demo");
    let status = tokio::process::Command::new(&demo)
        .env("DATABASE_URL", &config.database_url)
        .status()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot run {}: {e} (build it: cargo build -p maef-demo)",
                demo.display()
            )
        })?;
    anyhow::ensure!(status.success(), "maef-demo failed ({status})");
    Ok(())
}

async fn create_admin(config: &Config, email: &str) -> anyhow::Result<()> {
    let password = match std::env::var("MAEF_ADMIN_PASSWORD") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    maef_api::auth::password::check_policy(&password, Some(email))
        .map_err(|e| anyhow::anyhow!("{}", e.problem.message))?;
    let hash = maef_api::auth::password::Passwords::new(config.argon2)?
        .hash(password)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.problem.message))?;
    let client = connect(config).await?;
    let row = client
        .query_one("select api.create_admin($1, $2)::text", &[&email, &hash])
        .await?;
    println!("admin ready: {}", row.get::<_, String>(0));
    Ok(())
}
