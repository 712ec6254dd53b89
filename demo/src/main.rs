//! `maef-demo`: loads the demo shop into `DATABASE_URL` (idempotent; `make run` calls it).

#[tokio::main]
async fn main() {
    if let Err(err) = run().await {
        eprintln!("maef-demo: {err:#}");
        std::process::exit(1);
    }
}

async fn run() -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL").map_err(|_| anyhow::anyhow!("DATABASE_URL is not set"))?;
    let (mut client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach the database: {e}"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    for line in maef_demo::load(&mut client).await? {
        println!("demo {line}");
    }
    Ok(())
}
