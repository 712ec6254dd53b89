//! `make bench-stories`: how fast maef-worker ingests Instagram stories, and how much
//! memory it needs for a large video, against the fake Graph API and CDN of the tests
//! (`maef_tests::fake_graph`), on this machine, in one run:
//!
//! 1. **Baseline**: the same image files fetched from the fake CDN by one plain HTTP
//!    client (reqwest, sequential, bytes read and hashed, nothing stored): the rate a
//!    sequential pull could reach if storing cost nothing.
//! 2. **Pull**: `BENCH_STORIES_PAGES` (3) pages of 20 image stories of 1–2 MB each
//!    (noise JPEGs: incompressible, as photos are), pulled by a real `maef-worker`
//!    (perf build) into PostgreSQL: from enqueue to the job's completion. The worker
//!    also makes the images' derivatives meanwhile, as it does in production.
//! 3. **Video**: one story with a 100 MB MP4 (`BENCH_STORIES_VIDEO_MB`), streamed into a
//!    large object; the worker's resident memory is sampled every 20 ms (peak) and
//!    compared with its idle RSS and with the video's size.
//!
//! Figures are printed, never asserted. Run by `scripts/bench-stories.sh`.

use std::time::{Duration, Instant};

use maef_instagram::{Secret, TokenKey};
use maef_tests::{
    drop_database, eventually,
    fake_graph::{noisy_jpeg, FakeAccount, FakeGraph, FakeStory},
    TestDb, WorkerProcess,
};
use serde_json::json;
use sha2::{Digest, Sha256};

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const TOKEN: &str = "EAA-bench";

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Resident set size of a process, in MiB (VmRSS).
fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

async fn connect(client: &tokio_postgres::Client, account: &str) {
    let key = TokenKey::parse(KEY).unwrap();
    let fields = json!({"account_id": account, "token_kind": "page", "key_id": key.id()});
    client
        .query_one(
            "select api._instagram_upsert_account($1, $2, null)",
            &[&fields, &key.seal(account, &Secret::new(TOKEN))],
        )
        .await
        .unwrap();
}

/// Enqueues a pull of `account` and waits for its first attempt; the elapsed time.
async fn pull(client: &tokio_postgres::Client, account: &str) -> Duration {
    let started = Instant::now();
    let jobs: serde_json::Value = client
        .query_one("select api.enqueue_instagram_pulls($1)", &[&account])
        .await
        .unwrap()
        .get(0);
    let job = jobs[0]["job_id"].as_i64().unwrap();
    eventually(Duration::from_secs(1800), "the pull", || async move {
        client
            .query_opt("select 1 from shop.job_attempt where job_id = $1", &[&job])
            .await
            .unwrap()
            .is_some()
    })
    .await;
    let elapsed = started.elapsed();
    let row = client
        .query_one(
            "select ok, error from shop.job_attempt where job_id = $1",
            &[&job],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, Option<bool>>(0),
        Some(true),
        "{:?}",
        row.get::<_, Option<String>>(1)
    );
    elapsed
}

/// Samples a process's RSS every 20 ms; the peak so far.
fn watch_rss(pid: u32) -> (std::sync::Arc<std::sync::Mutex<f64>>, tokio::task::JoinHandle<()>) {
    let peak = std::sync::Arc::new(std::sync::Mutex::new(0.0f64));
    let probe = peak.clone();
    let task = tokio::spawn(async move {
        loop {
            let now = rss_mib(pid);
            {
                let mut peak = probe.lock().unwrap();
                *peak = peak.max(now);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    (peak, task)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let pages = env_number("BENCH_STORIES_PAGES", 3);
    let video_mb = env_number("BENCH_STORIES_VIDEO_MB", 100);
    let per_page = 20;
    let load_before = load_average();
    let fake = FakeGraph::start().await;

    // 1-2 MB noise JPEGs (side 700..1000 px), distinct.
    eprintln!("==> generating {} images", pages * per_page);
    let images: Vec<Vec<u8>> = tokio::task::spawn_blocking(move || {
        (0..pages * per_page)
            .map(|i| noisy_jpeg(700 + (i as u32 * 37) % 300, i as u64 + 11))
            .collect()
    })
    .await
    .unwrap();
    let total_bytes: usize = images.iter().map(Vec::len).sum();
    let stories: Vec<FakeStory> = images
        .iter()
        .enumerate()
        .map(|(i, bytes)| {
            let name = format!("bench-{i}.jpg");
            fake.blob(&name, bytes.clone(), "image/jpeg");
            FakeStory {
                id: format!("1799{i:013}"),
                media_type: "IMAGE",
                media: Some(name),
                thumbnail: None,
                caption: Some(format!("Nouveauté n° {i} #bench\n{} 500 FCFA", 10 + i)),
                timestamp: format!("2026-12-06T{:02}:{:02}:00+0000", 10 + i / 60, i % 60),
            }
        })
        .collect();
    fake.account(
        "17841400000000001",
        FakeAccount {
            token: TOKEN.into(),
            username: "bench".into(),
            stories,
            page_sizes: vec![per_page],
        },
    );

    // 1. Baseline: the same files over plain HTTP, sequentially, hashed.
    let http = reqwest::Client::new();
    let started = Instant::now();
    for i in 0..pages * per_page {
        let bytes = http
            .get(fake.cdn_url(&format!("bench-{i}.jpg")))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        std::hint::black_box(Sha256::digest(&bytes));
    }
    let baseline = started.elapsed();

    // 2. The pull, by a real worker.
    let db = TestDb::new().await;
    let client = db.connect().await;
    maef_tests::disable_schedules(&client).await;
    connect(&client, "17841400000000001").await;
    let base = fake.base();
    let worker = WorkerProcess::spawn(
        &db.url,
        "bench",
        &[
            ("IG_GRAPH_BASE", &base),
            ("OAUTH_TOKEN_KEY", KEY),
            ("WORKER_CONCURRENCY", "10"),
            ("WORKER_LEASE_SECS", "30"),
        ],
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_rss = rss_mib(worker.pid());
    let pid = worker.pid();
    let (pull_peak, watcher) = watch_rss(pid);
    let pull_time = pull(&client, "17841400000000001").await;
    watcher.abort();
    let pull_peak = *pull_peak.lock().unwrap();
    let stored: i64 = client
        .query_one("select count(*) from shop.story", &[])
        .await
        .unwrap()
        .get(0);

    // 3. A 100 MB video, streamed.
    let video = maef_media::fixtures::mp4_with_moov(1080, 1920, 60.0, video_mb << 20);
    let video_len = video.len();
    fake.blob("bench-video.mp4", video, "video/mp4");
    fake.blob("bench-video-thumb.jpg", noisy_jpeg(300, 99), "image/jpeg");
    fake.account(
        "17841400000000002",
        FakeAccount {
            token: TOKEN.into(),
            username: "bench-video".into(),
            stories: vec![FakeStory {
                id: "17990000000009999".into(),
                media_type: "VIDEO",
                media: Some("bench-video.mp4".into()),
                thumbnail: Some("bench-video-thumb.jpg".into()),
                caption: None,
                timestamp: "2026-12-06T12:00:00+0000".into(),
            }],
            page_sizes: vec![20],
        },
    );
    connect(&client, "17841400000000002").await;
    // Let the derivatives of part 2 finish first: the video's figure is its own.
    eventually(Duration::from_secs(600), "derivatives done", || async {
        client
            .query_one(
                "select count(*) from shop.job_queue where kind = 'make_derivatives'",
                &[],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
            == 0
    })
    .await;
    // A fresh worker for the video: its RSS before and while, undisturbed by what the
    // image pull left in the allocator.
    drop(worker);
    let worker = WorkerProcess::spawn(
        &db.url,
        "bench-video",
        &[
            ("IG_GRAPH_BASE", &base),
            ("OAUTH_TOKEN_KEY", KEY),
            ("WORKER_LEASE_SECS", "30"),
        ],
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = worker.pid();
    let before_video = rss_mib(pid);
    let (video_peak, watcher) = watch_rss(pid);
    let video_time = pull(&client, "17841400000000002").await;
    watcher.abort();
    let video_peak = *video_peak.lock().unwrap();
    let lo: bool = client
        .query_one(
            "select a.lo_oid is not null and a.size_bytes = $1 from shop.story s join shop.media_asset a using (asset_id)
             where s.external_id = '17990000000009999'",
            &[&(video_len as i64)],
        )
        .await
        .unwrap()
        .get(0);
    drop(worker);
    drop(client);
    drop_database(&maef_tests::connect(&maef_tests::admin_url()).await, &db.name).await;

    let n = (pages * per_page) as f64;
    let mb = total_bytes as f64 / 1e6;
    println!("bench-stories ({} image stories in {pages} pages of {per_page}, {:.1} MB; load before {load_before}, after {})", n, mb, load_average());
    println!(
        "  baseline: plain sequential HTTP fetch + sha256: {:>7.1} files/s  {:>7.1} MB/s  ({:.2} s)",
        n / baseline.as_secs_f64(),
        mb / baseline.as_secs_f64(),
        baseline.as_secs_f64()
    );
    println!(
        "  maef-worker pull (pages, sniff, decode-probe, store, upsert; derivatives alongside): {:>7.1} stories/s  {:>7.1} MB/s  ({:.2} s, {stored} stored) = {:.2}x baseline time",
        n / pull_time.as_secs_f64(),
        mb / pull_time.as_secs_f64(),
        pull_time.as_secs_f64(),
        pull_time.as_secs_f64() / baseline.as_secs_f64()
    );
    println!(
        "  video: {:.0} MB MP4 streamed into a large object in {:.2} s ({:.1} MB/s), stored as one asset: {lo}",
        video_len as f64 / 1e6,
        video_time.as_secs_f64(),
        video_len as f64 / 1e6 / video_time.as_secs_f64()
    );
    println!(
        "  worker RSS: idle {idle_rss:.1} MiB; peak during the image pull {pull_peak:.1} MiB; a fresh worker before the video {before_video:.1} MiB, peak while ingesting it {video_peak:.1} MiB (video {:.0} MiB)",
        video_len as f64 / (1 << 20) as f64
    );
}
