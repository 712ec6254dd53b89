//! `make bench-scale`, deploy part: `maef-api migrate` under ~300 requests/s of product
//! reads and cart writes (the mix of `tests/tests/deploys.rs`), against a maef-api
//! already serving `BENCH_API` on `DATABASE_URL` (scripts/bench-scale.sh starts it).
//!
//! Prints, for the requests started before the deploy (the baseline, same run) and
//! those started while it ran: count, failures, p50, p99, max; the deploy's duration;
//! and the pause: the longest time without any response completing while it ran,
//! against the same figure in the baseline window.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use maef_tests::load::{self, Mix, Outcome};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set (run scripts/bench-scale.sh)"))
}

/// The longest interval without a completed response among `outcomes` in `[from, to]`.
fn longest_gap(outcomes: &[Outcome], from: Duration, to: Duration) -> Duration {
    let mut done: Vec<Duration> = outcomes
        .iter()
        .map(|o| o.started + o.latency)
        .filter(|t| *t >= from && *t <= to)
        .collect();
    done.sort();
    let mut points = vec![from];
    points.extend(done);
    points.push(to);
    points.windows(2).map(|w| w[1] - w[0]).max().unwrap_or_default()
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let database_url = env("DATABASE_URL");
        let base = env("BENCH_API");
        let migrate_bin = env("BENCH_MIGRATE_BIN");
        let rate: u32 = std::env::var("BENCH_RATE")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(300);
        let client = maef_tests::connect(&database_url).await;
        let slugs: Vec<String> = client
            .query(
                "select slug from shop.product where is_active order by product_id limit 50",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let variants: Vec<i64> = client
            .query(
                "select variant_id from shop.inventory where qty_on_hand > 1000 order by variant_id limit 50",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(
            !slugs.is_empty() && !variants.is_empty(),
            "no products or stock to load"
        );
        let http = reqwest::Client::new();
        let sessions = Mix::open_carts(&http, &base, 50).await;
        let mix = Arc::new(Mix {
            base,
            slugs,
            variants,
            sessions,
        });

        let start = Instant::now();
        let load = tokio::spawn({
            let http = http.clone();
            async move { load::run(&http, mix, rate, Duration::from_secs(12)).await }
        });
        tokio::time::sleep(Duration::from_secs(4)).await;
        let from = start.elapsed();
        let status = tokio::process::Command::new(&migrate_bin)
            .arg("migrate")
            .env("DATABASE_URL", &database_url)
            .env("RUST_LOG", "error")
            .stdout(std::process::Stdio::null())
            .status()
            .await
            .unwrap();
        let to = start.elapsed();
        assert!(status.success(), "maef-api migrate failed");
        let outcomes = load.await.unwrap();

        let before = load::figures(outcomes.iter().filter(|o| o.started < from));
        let during = load::figures(outcomes.iter().filter(|o| o.started >= from && o.started <= to));
        let after = load::figures(outcomes.iter().filter(|o| o.started > to));
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "\n{:<52} {:>10} {:>8} {:>9} {:>9} {:>9}",
            "requests started", "count", "failed", "p50 ms", "p99 ms", "max ms"
        );
        for (name, f) in [
            ("before the deploy (baseline)", before),
            ("while maef-api migrate ran", during),
            ("after it", after),
        ] {
            println!(
                "{name:<52} {:>10} {:>8} {:>9.1} {:>9.1} {:>9.1}",
                f.count,
                f.failed,
                ms(f.p50),
                ms(f.p99),
                ms(f.max)
            );
        }
        let window = to - from;
        println!("{:<52} {:>10.1}", "maef-api migrate duration (ms)", ms(window));
        println!(
            "{:<52} {:>10.1}   (goal < 1000)",
            "pause: longest gap without a response, deploy (ms)",
            ms(longest_gap(&outcomes, from, to))
        );
        println!(
            "{:<52} {:>10.1}",
            "same gap over as long a window before it (ms)",
            ms(longest_gap(&outcomes, from.saturating_sub(window), from))
        );
        println!(
            "{:<52} {:>10}   (goal 0)",
            "failed requests, whole run",
            before.failed + during.failed + after.failed
        );
    });
}
