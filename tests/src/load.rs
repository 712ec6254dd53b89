//! An open-loop load generator for deploy tests and benchmarks: requests start at a
//! fixed rate whatever the server's speed (a slow server makes requests pile up, as
//! real clients would, instead of slowing the generator down), a mix of product page
//! reads and cart writes. Every outcome is recorded with its start time, so a caller
//! can look at what happened while something else (a `maef-api migrate`) ran.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use serde_json::{json, Value};

/// What the load touches: product slugs to read, variants to add, cart sessions.
pub struct Mix {
    /// Base URL of the instance, `http://127.0.0.1:<port>`.
    pub base: String,
    /// Slugs of active products (read with `GET /api/v1/products/{slug}`).
    pub slugs: Vec<String>,
    /// Variants with ample stock (added with `POST /api/v1/cart/items`).
    pub variants: Vec<i64>,
    /// Open guest cart sessions.
    pub sessions: Vec<String>,
}

/// One request's outcome.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// When it started, from the start of the run.
    pub started: Duration,
    /// How long it took (to the whole body).
    pub latency: Duration,
    /// The status (0: no response, the connection failed or timed out).
    pub status: u16,
    /// `GET product` or `POST cart item`.
    pub kind: &'static str,
    /// The problem body of a failure, for the report.
    pub body: String,
}

impl Mix {
    /// Opens `n` guest carts in EUR on `base`.
    ///
    /// # Panics
    /// When the instance refuses.
    pub async fn open_carts(http: &reqwest::Client, base: &str, n: usize) -> Vec<String> {
        let mut sessions = Vec::with_capacity(n);
        for _ in 0..n {
            let text = http
                .post(format!("{base}/api/v1/cart"))
                .header("content-type", "application/json")
                .body(json!({"currency": "EUR"}).to_string())
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let reply: Value = serde_json::from_str(&text).unwrap();
            sessions.push(reply["session"].as_str().unwrap().to_string());
        }
        sessions
    }
}

/// Sends `rate` requests per second for `duration`: two reads for one cart write.
/// Returns every outcome, in start order.
pub async fn run(http: &reqwest::Client, mix: Arc<Mix>, rate: u32, duration: Duration) -> Vec<Outcome> {
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::new();
    let mut n: usize = 0;
    while start.elapsed() < duration {
        tick.tick().await;
        let (http, mix) = (http.clone(), mix.clone());
        let i = n;
        n += 1;
        tasks.push(tokio::spawn(async move {
            let started = start.elapsed();
            let t0 = Instant::now();
            let (kind, request) = if i % 3 == 2 {
                let session = &mix.sessions[i % mix.sessions.len()];
                let variant = mix.variants[i % mix.variants.len()];
                (
                    "POST cart item",
                    http.post(format!("{}/api/v1/cart/items", mix.base))
                        .header("content-type", "application/json")
                        .header("x-cart-session", session)
                        .body(json!({"variant_id": variant, "quantity": 1}).to_string()),
                )
            } else {
                let slug = &mix.slugs[i % mix.slugs.len()];
                (
                    "GET product",
                    http.get(format!("{}/api/v1/products/{slug}", mix.base)),
                )
            };
            let (status, body) = match request.timeout(Duration::from_secs(30)).send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let body = response.text().await.unwrap_or_default();
                    (status, if status < 300 { String::new() } else { body })
                }
                Err(e) => (0, e.to_string()),
            };
            Outcome {
                started,
                latency: t0.elapsed(),
                status,
                kind,
                body,
            }
        }));
    }
    let mut outcomes = Vec::with_capacity(tasks.len());
    for task in tasks {
        outcomes.push(task.await.expect("request task"));
    }
    outcomes
}

/// Figures of a set of outcomes.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    /// Requests.
    pub count: usize,
    /// Requests not answered 2xx.
    pub failed: usize,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Slowest request.
    pub max: Duration,
}

/// The figures of `outcomes` (all zero when empty).
pub fn figures<'a>(outcomes: impl IntoIterator<Item = &'a Outcome>) -> Figures {
    let outcomes: Vec<&Outcome> = outcomes.into_iter().collect();
    let mut latencies: Vec<Duration> = outcomes.iter().map(|o| o.latency).collect();
    latencies.sort();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Figures {
        count: outcomes.len(),
        failed: outcomes
            .iter()
            .filter(|o| !(200..300).contains(&o.status))
            .count(),
        p50: at(0.5),
        p99: at(0.99),
        max: latencies.last().copied().unwrap_or_default(),
    }
}
