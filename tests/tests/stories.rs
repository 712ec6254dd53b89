//! Instagram stories pulled by the real `maef-worker` from a local fake of the Graph API
//! and its CDN (`maef_tests::fake_graph`): paging to the end, nothing twice, a worker
//! killed mid-pull, an expired token, rate limits (usage headers and error codes),
//! videos without `media_url`, files over the limits, caption prices and drafts,
//! retention, token renewal.

use std::time::Duration;

use maef_instagram::{Secret, TokenKey};
use maef_media::fixtures;
use maef_tests::{
    count, disable_schedules, eventually,
    fake_graph::{noisy_jpeg, FakeAccount, FakeGraph, FakeStory},
    TestDb, WorkerProcess,
};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio_postgres::Client;

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const ACCOUNT: &str = "17841400000000001";
const TOKEN: &str = "EAAPageToken-fake-1";
const WAIT: Duration = Duration::from_secs(60);

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A test database with schedules off, a fake Graph API, and one connected account.
struct Shop {
    db: TestDb,
    client: Client,
    fake: FakeGraph,
}

impl Shop {
    async fn new() -> Self {
        let db = TestDb::new().await;
        let client = db.connect().await;
        disable_schedules(&client).await;
        let fake = FakeGraph::start().await;
        let shop = Self { db, client, fake };
        shop.connect(ACCOUNT, TOKEN, "page", None).await;
        shop
    }

    /// Stores an account with its token sealed as maef-api would.
    async fn connect(&self, account: &str, token: &str, kind: &str, expires_in_secs: Option<f64>) {
        let key = TokenKey::parse(KEY).unwrap();
        let sealed = key.seal(account, &Secret::new(token));
        let fields = serde_json::json!({"account_id": account, "username": "boutique", "token_kind": kind,
                                        "key_id": key.id(), "expires_in": expires_in_secs});
        self.client
            .query_one(
                "select api._instagram_upsert_account($1, $2, null)",
                &[&fields, &sealed],
            )
            .await
            .unwrap();
    }

    fn worker(&self, id: &str, extra: &[(&str, &str)]) -> WorkerProcess {
        let base = self.fake.base();
        let mut env = vec![("IG_GRAPH_BASE", base.as_str()), ("OAUTH_TOKEN_KEY", KEY)];
        env.extend_from_slice(extra);
        WorkerProcess::spawn(&self.db.url, id, &env)
    }

    /// Enqueues the pulls, as the schedule and the ingest route do; the first job id.
    async fn pull(&self) -> i64 {
        let jobs: Value = self
            .client
            .query_one("select api.enqueue_instagram_pulls(null)", &[])
            .await
            .unwrap()
            .get(0);
        jobs[0]["job_id"].as_i64().expect("a pull was enqueued")
    }

    /// Waits for attempt `n` of a job to finish; returns (ok, error).
    async fn attempt(&self, job: i64, n: i32) -> (Option<bool>, Option<String>) {
        let client = &self.client;
        eventually(WAIT, &format!("attempt {n} of job {job}"), || async move {
            client
                .query_opt(
                    "select 1 from shop.job_attempt where job_id = $1 and attempt = $2",
                    &[&job, &n],
                )
                .await
                .unwrap()
                .is_some()
        })
        .await;
        let row = client
            .query_one(
                "select ok, error from shop.job_attempt where job_id = $1 and attempt = $2",
                &[&job, &n],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    }

    async fn stories(&self) -> i64 {
        count(&self.client, "select count(*) from shop.story").await
    }
}

fn story(
    id: &str,
    media_type: &'static str,
    media: Option<&str>,
    thumbnail: Option<&str>,
    caption: Option<&str>,
    minute: u32,
) -> FakeStory {
    FakeStory {
        id: id.into(),
        media_type,
        media: media.map(String::from),
        thumbnail: thumbnail.map(String::from),
        caption: caption.map(String::from),
        timestamp: format!("2026-12-06T10:{minute:02}:00+0000"),
    }
}

/// `n` image stories img-0.. with distinct JPEGs, newest first.
fn image_stories(fake: &FakeGraph, n: usize, bytes: impl Fn(usize) -> Vec<u8>) -> Vec<FakeStory> {
    (0..n)
        .map(|i| {
            let name = format!("img-{i}.jpg");
            fake.blob(&name, bytes(i), "image/jpeg");
            story(
                &format!("1790000000000{i:04}"),
                "IMAGE",
                Some(&name),
                None,
                Some(&format!("Story {i}")),
                59 - i as u32,
            )
        })
        .collect()
}

#[tokio::test]
async fn three_pages_are_pulled_to_the_end_and_a_second_pull_stores_nothing_twice() {
    let shop = Shop::new().await;
    let mut stories = image_stories(&shop.fake, 6, |i| fixtures::jpeg(64 + i as u32, 48));
    let video = fixtures::mp4_with_moov(320, 568, 4.5, 300_000);
    let thumb = fixtures::jpeg(90, 160);
    shop.fake.blob("vid.mp4", video.clone(), "video/mp4");
    shop.fake.blob("vid-thumb.jpg", thumb.clone(), "image/jpeg");
    stories.insert(
        2,
        story(
            "17900000000099",
            "VIDEO",
            Some("vid.mp4"),
            Some("vid-thumb.jpg"),
            Some("Défilé"),
            58,
        ),
    );
    // 3 + 2 + 2: the second page is short yet has `next`; the third has none.
    shop.fake.account(
        ACCOUNT,
        FakeAccount {
            token: TOKEN.into(),
            username: "boutique".into(),
            stories: stories.clone(),
            page_sizes: vec![3, 2, 3],
        },
    );
    let _worker = shop.worker("w1", &[]);

    let job = shop.pull().await;
    assert_eq!(shop.attempt(job, 1).await, (Some(true), None));
    assert_eq!(shop.stories().await, 7);
    assert_eq!(
        shop.fake.with(|s| s.calls_to("/stories")),
        3,
        "every page, and no more"
    );
    // Each story holds the bytes the CDN served, sniffed and measured.
    for s in &stories {
        let row = shop
            .client
            .query_one(
                "select a.sha256, a.mime_type, a.width, a.height, a.duration_sec::float8, a.lo_oid is not null, st.media_source,
                        st.posted_at = $2::text::timestamptz, st.permalink, p.mime_type
                 from shop.story st join shop.media_asset a on a.asset_id = st.asset_id
                 left join shop.media_asset p on p.asset_id = st.poster_asset_id
                 where st.external_id = $1",
                &[&s.id, &s.timestamp],
            )
            .await
            .unwrap();
        let served = shop
            .fake
            .with(|f| f.blobs[s.media.as_deref().unwrap()].bytes.clone());
        assert_eq!(row.get::<_, String>(0), sha256(&served), "{}", s.id);
        assert_eq!(row.get::<_, String>(6), "media_url");
        assert!(row.get::<_, bool>(7), "posted_at is Instagram's timestamp");
        assert!(row.get::<_, String>(8).contains(&s.id));
        assert_eq!(
            row.get::<_, Option<String>>(9).as_deref(),
            Some("image/jpeg"),
            "a poster image"
        );
        if s.media_type == "VIDEO" {
            assert_eq!(row.get::<_, String>(1), "video/mp4");
            assert_eq!(
                (row.get::<_, Option<i32>>(2), row.get::<_, Option<i32>>(3)),
                (Some(320), Some(568))
            );
            assert_eq!(row.get::<_, Option<f64>>(4), Some(4.5));
            assert!(row.get::<_, bool>(5), "videos stream into a large object");
        } else {
            assert_eq!(row.get::<_, String>(1), "image/jpeg");
            assert!(!row.get::<_, bool>(5));
        }
    }
    let downloads = shop
        .fake
        .with(|s| s.calls.iter().filter(|(p, _)| p.starts_with("/cdn/")).count());
    assert_eq!(downloads, 8, "7 media files and one thumbnail");
    // Derivatives were enqueued for the images, as for uploads.
    assert_eq!(
        count(
            &shop.client,
            "select count(*) from (select asset_id from shop.media_asset where mime_type like 'image/%') a"
        )
        .await,
        7
    );
    let derivative_jobs = count(
        &shop.client,
        "select (select count(*) from shop.job_queue where kind = 'make_derivatives')
              + (select count(*) from shop.job_attempt where kind = 'make_derivatives' and ok)",
    )
    .await;
    assert!(derivative_jobs >= 7, "{derivative_jobs} derivative jobs");

    // The second pull lists the same stories and stores, downloads nothing again.
    let assets = count(&shop.client, "select count(*) from shop.media_asset").await;
    let job = shop.pull().await;
    assert_eq!(shop.attempt(job, 1).await, (Some(true), None));
    assert_eq!(shop.stories().await, 7);
    assert_eq!(
        count(&shop.client, "select count(*) from shop.media_asset").await,
        assets
    );
    let downloads_after = shop
        .fake
        .with(|s| s.calls.iter().filter(|(p, _)| p.starts_with("/cdn/")).count());
    assert_eq!(downloads_after, 8, "known stories are not downloaded again");
    assert_eq!(shop.fake.with(|s| s.calls_to("/stories")), 6);
    let account = shop
        .client
        .query_one(
            "select last_pull_stories, last_pull_at is not null, last_pull_error from shop.oauth_token",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (account.get::<_, Option<i32>>(0), account.get::<_, bool>(1)),
        (Some(7), true)
    );
    assert_eq!(account.get::<_, Option<String>>(2), None);
}

#[tokio::test]
async fn a_worker_killed_mid_pull_leaves_whole_stories_and_a_rerun_stores_each_exactly_once() {
    let shop = Shop::new().await;
    let mut stories = image_stories(&shop.fake, 6, |i| noisy_jpeg(220 + i as u32, i as u64 + 1));
    shop.fake.blob(
        "vid.mp4",
        fixtures::mp4_with_moov(64, 64, 2.0, 600_000),
        "video/mp4",
    );
    stories.insert(
        3,
        story("17900000000077", "VIDEO", Some("vid.mp4"), None, None, 57),
    );
    shop.fake.account(
        ACCOUNT,
        FakeAccount {
            token: TOKEN.into(),
            username: "boutique".into(),
            stories: stories.clone(),
            page_sizes: vec![4],
        },
    );
    // About 0.1 s per 64 KiB: each story takes a while to download.
    shop.fake
        .with(|s| s.cdn_delay_per_64k = Some(Duration::from_millis(100)));
    let job = shop.pull().await;
    let worker = shop.worker("doomed", &[("WORKER_LEASE_SECS", "3")]);
    let client = &shop.client;
    eventually(WAIT, "two stories stored", || async move {
        count(client, "select count(*) from shop.story").await >= 2
    })
    .await;
    worker.signal("KILL");
    drop(worker);
    let stored = shop.stories().await;
    assert!((2..7).contains(&stored), "killed mid-pull: {stored} of 7 stored");
    // Whole stories only: each with its media, no asset or large object without a story.
    assert_eq!(
        count(client, "select count(*) from shop.story where asset_id is null").await,
        0
    );
    assert_eq!(
        count(client, "select count(*) from shop.media_asset").await,
        stored
    );
    assert_eq!(
        count(client, "select count(*) from pg_largeobject_metadata").await,
        count(
            client,
            "select count(*) from shop.media_asset where lo_oid is not null"
        )
        .await
    );

    // Another worker takes the job over once its lease expires, and finishes it.
    shop.fake.with(|s| s.cdn_delay_per_64k = None);
    let _rescuer = shop.worker("rescuer", &[("WORKER_LEASE_SECS", "3")]);
    let (ok, _) = shop.attempt(job, 2).await;
    assert_eq!(ok, Some(true));
    assert_eq!(shop.stories().await, 7);
    assert_eq!(
        count(
            client,
            "select count(*) from (select external_id from shop.story group by 1 having count(*) > 1) d"
        )
        .await,
        0
    );
    assert_eq!(
        count(client, "select count(*) from shop.media_asset").await,
        7,
        "one asset per story"
    );
    assert_eq!(
        count(client, "select count(*) from pg_largeobject_metadata").await,
        1,
        "the video's large object, once"
    );
    for s in &stories {
        let sha: String = client
            .query_one(
                "select a.sha256 from shop.story st join shop.media_asset a using (asset_id) where st.external_id = $1",
                &[&s.id],
            )
            .await
            .unwrap()
            .get(0);
        let served = shop
            .fake
            .with(|f| f.blobs[s.media.as_deref().unwrap()].bytes.clone());
        assert_eq!(sha, sha256(&served));
    }
}

#[tokio::test]
async fn an_expired_token_marks_the_account_needs_reauth_once_without_a_retry_storm() {
    let shop = Shop::new().await;
    let stories = image_stories(&shop.fake, 2, |i| fixtures::jpeg(40 + i as u32, 40));
    // Meta knows another token now: ours gets error 190.
    shop.fake.account(
        ACCOUNT,
        FakeAccount {
            token: "EAA-rotated".into(),
            username: "boutique".into(),
            stories,
            page_sizes: vec![25],
        },
    );
    let _worker = shop.worker("w1", &[]);
    let job = shop.pull().await;
    let (ok, error) = shop.attempt(job, 1).await;
    assert_eq!(ok, Some(false));
    let error = error.unwrap();
    assert!(
        error.contains("Graph API error 190/463 (OAuthException"),
        "{error}"
    );
    assert!(
        error.contains("fbtrace_id AzFakeTrace01") && error.contains("needs_reauth"),
        "{error}"
    );
    assert!(!error.contains(TOKEN), "no token in a job error");
    // The retry finds the account inactive and stops without calling Meta.
    let (ok, _) = shop.attempt(job, 2).await;
    assert_eq!(ok, Some(true));
    assert_eq!(
        shop.fake.with(|s| s.calls_to("/stories")),
        1,
        "one call, no storm"
    );
    let account = shop
        .client
        .query_one(
            "select status, status_reason from shop.oauth_token where account_id = $1",
            &[&ACCOUNT],
        )
        .await
        .unwrap();
    assert_eq!(account.get::<_, String>(0), "needs_reauth");
    assert!(account.get::<_, String>(1).contains("Session has expired"));
    assert_eq!(
        count(
            &shop.client,
            "select count(*) from shop.audit_log where action = 'instagram.needs_reauth'"
        )
        .await,
        1
    );
    // Scheduled pulls skip it until an admin reconnects it.
    let jobs: Value = shop
        .client
        .query_one("select api.enqueue_instagram_pulls(null)", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(jobs, serde_json::json!([]));
    shop.connect(ACCOUNT, "EAA-rotated", "page", None).await;
    let job = shop.pull().await;
    assert_eq!(shop.attempt(job, 1).await, (Some(true), None));
    assert_eq!(shop.stories().await, 2);
}

#[tokio::test]
async fn usage_over_80_percent_stops_the_pull_and_it_resumes_after_the_backoff() {
    let shop = Shop::new().await;
    let stories = image_stories(&shop.fake, 4, |i| fixtures::jpeg(40 + i as u32, 40));
    shop.fake.account(
        ACCOUNT,
        FakeAccount {
            token: TOKEN.into(),
            username: "boutique".into(),
            stories,
            page_sizes: vec![2],
        },
    );
    shop.fake.with(|s| {
        s.buc_usage_on_page.insert(0, 93);
    });
    let _worker = shop.worker("w1", &[]);
    let job = shop.pull().await;
    let (ok, error) = shop.attempt(job, 1).await;
    assert_eq!(ok, Some(false));
    assert!(error.as_deref().unwrap().contains("usage at 93 %"), "{error:?}");
    // The first page was stored; the second was not asked for.
    assert_eq!(shop.stories().await, 2);
    assert_eq!(shop.fake.with(|s| s.calls_to("/stories")), 1);
    let waits = shop
        .client
        .query_one(
            "select extract(epoch from t.throttled_until - now())::float8,
                    extract(epoch from j.run_at - now())::float8, j.status, t.throttle_count
             from shop.oauth_token t, shop.job_queue j where j.job_id = $1",
            &[&job],
        )
        .await
        .unwrap();
    let (account_wait, job_wait): (f64, f64) = (waits.get(0), waits.get(1));
    assert!(
        (240.0..=300.0).contains(&account_wait),
        "account waits ~5 min: {account_wait}"
    );
    assert!(
        (240.0..=301.0).contains(&job_wait),
        "job waits as long: {job_wait}"
    );
    assert_eq!(
        (waits.get::<_, String>(2), waits.get::<_, i32>(3)),
        ("pending".to_string(), 1)
    );
    // On-demand pulls while throttled return the waiting job, not a new one.
    assert_eq!(shop.pull().await, job);

    // The backoff is over (moved to now) and usage is back down: the pull resumes.
    shop.fake.with(|s| s.buc_usage_on_page.clear());
    shop.client
        .batch_execute(&format!(
            "update shop.oauth_token set throttled_until = now(); update shop.job_queue set run_at = now() where job_id = {job}"
        ))
        .await
        .unwrap();
    assert_eq!(shop.attempt(job, 2).await, (Some(true), None));
    assert_eq!(shop.stories().await, 4);
    assert_eq!(
        count(
            &shop.client,
            "select throttle_count::bigint from shop.oauth_token"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn rate_limit_error_codes_stop_the_pull_with_a_doubling_backoff() {
    let shop = Shop::new().await;
    let stories = image_stories(&shop.fake, 4, |i| fixtures::jpeg(40 + i as u32, 40));
    shop.fake.account(
        ACCOUNT,
        FakeAccount {
            token: TOKEN.into(),
            username: "boutique".into(),
            stories,
            page_sizes: vec![2],
        },
    );
    shop.fake.with(|s| {
        s.error_on_page
            .insert(1, (400, 32, "(#32) Page request limit reached".into()));
    });
    let _worker = shop.worker("w1", &[]);
    let job = shop.pull().await;
    for (attempt, minutes) in [(1, 5.0), (2, 10.0)] {
        let (ok, error) = shop.attempt(job, attempt).await;
        assert_eq!(ok, Some(false));
        let error = error.unwrap();
        assert!(
            error.contains("Graph API error 32") && error.contains("Page request limit reached"),
            "{error}"
        );
        let wait: f64 = shop
            .client
            .query_one(
                "select extract(epoch from run_at - now())::float8 from shop.job_queue where job_id = $1",
                &[&job],
            )
            .await
            .unwrap()
            .get(0);
        assert!(
            (minutes * 60.0 - 60.0..=minutes * 60.0 + 1.0).contains(&wait),
            "attempt {attempt}: waits {wait} s"
        );
        if attempt == 2 {
            shop.fake.with(|s| s.error_on_page.clear());
        }
        shop.client
            .batch_execute(&format!(
                "update shop.oauth_token set throttled_until = now(); update shop.job_queue set run_at = now() where job_id = {job}"
            ))
            .await
            .unwrap();
    }
    assert_eq!(shop.attempt(job, 3).await, (Some(true), None));
    assert_eq!(shop.stories().await, 4);
}

#[tokio::test]
async fn a_video_without_media_url_is_kept_with_its_thumbnail() {
    let shop = Shop::new().await;
    let thumb = fixtures::jpeg(90, 160);
    shop.fake.blob("licensed-thumb.jpg", thumb.clone(), "image/jpeg");
    let stories = vec![story(
        "17900000000055",
        "VIDEO",
        None,
        Some("licensed-thumb.jpg"),
        Some("Avec musique"),
        30,
    )];
    shop.fake.account(
        ACCOUNT,
        FakeAccount {
            token: TOKEN.into(),
            username: "boutique".into(),
            stories,
            page_sizes: vec![25],
        },
    );
    let _worker = shop.worker("w1", &[]);
    let job = shop.pull().await;
    assert_eq!(shop.attempt(job, 1).await, (Some(true), None));
    let row = shop
        .client
        .query_one(
            "select st.media_type, st.media_source, a.mime_type, a.sha256, st.poster_asset_id = st.asset_id
             from shop.story st join shop.media_asset a using (asset_id)",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "VIDEO");
    assert_eq!(row.get::<_, String>(1), "thumbnail_url");
    assert_eq!(row.get::<_, String>(2), "image/jpeg");
    assert_eq!(row.get::<_, String>(3), sha256(&thumb));
    assert!(row.get::<_, bool>(4));
    // Downloaded once, though it is both the media and the poster.
    assert_eq!(shop.fake.with(|s| s.calls_to("/cdn/licensed-thumb.jpg")), 1);
}

#[tokio::test]
async fn files_over_the_limits_are_refused_and_their_stories_kept_with_the_reason() {
    let shop = Shop::new().await;
    // Over every limit, said by Content-Length: refused before reading.
    let big = noisy_jpeg(700, 7);
    assert!(big.len() > 500_000);
    shop.fake.blob("big.jpg", big, "image/jpeg");
    // Over the image limit, chunked: refused while reading.
    let chunked = noisy_jpeg(301, 8);
    assert!((100_000..500_000).contains(&chunked.len()));
    shop.fake.blob("big-chunked.jpg", chunked, "image/jpeg");
    // Over the video limit, chunked: refused while streaming into a large object.
    shop.fake.blob(
        "big.mp4",
        fixtures::mp4_with_moov(64, 64, 1.0, 900_000),
        "video/mp4",
    );
    shop.fake.with(|s| {
        s.blobs.get_mut("big-chunked.jpg").unwrap().content_length = false;
        s.blobs.get_mut("big.mp4").unwrap().content_length = false;
    });
    shop.fake.blob("small.jpg", fixtures::jpeg(40, 40), "image/jpeg");
    shop.fake
        .blob("notes.txt", b"<html>not an image</html>".repeat(40), "image/jpeg");
    let stories = vec![
        story("17900000000011", "IMAGE", Some("big.jpg"), None, None, 50),
        story("17900000000012", "IMAGE", Some("big-chunked.jpg"), None, None, 49),
        story("17900000000013", "VIDEO", Some("big.mp4"), None, None, 48),
        story("17900000000014", "IMAGE", Some("small.jpg"), None, None, 47),
        story("17900000000015", "IMAGE", Some("notes.txt"), None, None, 46),
    ];
    shop.fake.account(
        ACCOUNT,
        FakeAccount {
            token: TOKEN.into(),
            username: "boutique".into(),
            stories,
            page_sizes: vec![25],
        },
    );
    let _worker = shop.worker(
        "w1",
        &[
            ("MEDIA_MAX_IMAGE_BYTES", "100000"),
            ("MEDIA_MAX_VIDEO_BYTES", "500000"),
            ("MEDIA_CHUNK_BYTES", "65536"),
        ],
    );
    let job = shop.pull().await;
    assert_eq!(shop.attempt(job, 1).await, (Some(true), None));
    let errors: Vec<(String, Option<String>, bool)> = shop
        .client
        .query(
            "select external_id, media_error, asset_id is not null from shop.story order by external_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(errors.len(), 5, "every story is kept");
    let reason = |i: usize| errors[i].1.clone().unwrap_or_default();
    assert!(
        reason(0).contains("bytes; at most 500000 are accepted"),
        "{}",
        reason(0)
    );
    assert!(
        reason(1).contains("image/jpeg files are limited to 100000 bytes"),
        "{}",
        reason(1)
    );
    assert!(
        reason(2).contains("video/mp4 files are limited to 500000 bytes"),
        "{}",
        reason(2)
    );
    assert_eq!(errors[3], ("17900000000014".into(), None, true));
    assert!(
        reason(4).contains("not an allowed image or video type"),
        "{}",
        reason(4)
    );
    assert_eq!(
        count(&shop.client, "select count(*) from shop.media_asset").await,
        1
    );
    assert_eq!(
        count(&shop.client, "select count(*) from pg_largeobject_metadata").await,
        0,
        "the refused video's large object was rolled back"
    );
    // Refusals are final: the next pull downloads nothing.
    let downloads = shop
        .fake
        .with(|s| s.calls.iter().filter(|(p, _)| p.starts_with("/cdn/")).count());
    let job = shop.pull().await;
    assert_eq!(shop.attempt(job, 1).await, (Some(true), None));
    assert_eq!(
        shop.fake
            .with(|s| s.calls.iter().filter(|(p, _)| p.starts_with("/cdn/")).count()),
        downloads
    );
}

#[tokio::test]
async fn caption_prices_in_four_currencies_become_inactive_draft_products() {
    let shop = Shop::new().await;
    shop.client
        .execute(
            "update shop.setting set value = 'true' where key = 'stories.create_drafts'",
            &[],
        )
        .await
        .unwrap();
    let captions = [
        (
            "Robe wax « Soleil » #wax #robe\nTaille unique, coton\n15 000 FCFA",
            "XOF",
            15_000i64,
        ),
        (
            "Ankara top #ankara #lagos\nSizes S-XL\n₦5,000 only",
            "NGN",
            500_000,
        ),
        ("Sac en cuir #cuir\nPrix : 25,90 €", "EUR", 2_590),
        ("Sneakers #shoes\nJust $19!", "USD", 1_900),
    ];
    let mut stories: Vec<FakeStory> = captions
        .iter()
        .enumerate()
        .map(|(i, (caption, ..))| {
            let name = format!("p{i}.jpg");
            shop.fake
                .blob(&name, fixtures::jpeg(50 + i as u32, 50), "image/jpeg");
            story(
                &format!("1790000000100{i}"),
                "IMAGE",
                Some(&name),
                None,
                Some(caption),
                40 - i as u32,
            )
        })
        .collect();
    shop.fake
        .blob("nocaption.jpg", fixtures::jpeg(33, 33), "image/jpeg");
    stories.push(story(
        "17900000001099",
        "IMAGE",
        Some("nocaption.jpg"),
        None,
        None,
        10,
    ));
    shop.fake.account(
        ACCOUNT,
        FakeAccount {
            token: TOKEN.into(),
            username: "boutique".into(),
            stories,
            page_sizes: vec![25],
        },
    );
    let _worker = shop.worker("w1", &[]);
    let job = shop.pull().await;
    assert_eq!(shop.attempt(job, 1).await, (Some(true), None));

    for (i, (_, currency, amount)) in captions.iter().enumerate() {
        let id = format!("1790000000100{i}");
        let row = shop
            .client
            .query_one(
                "select p.is_active, pr.currency_code::text, pr.amount, pm.asset_id = st.asset_id and pm.is_primary,
                        p.title, p.description,
                        (select array_agg(t.slug order by t.slug) from shop.product_tag pt join shop.tag t using (tag_id)
                         where pt.product_id = p.product_id),
                        exists (select from shop.story_product_link l where l.story_id = st.story_id and l.product_id = p.product_id),
                        st.caption_price_currency::text, st.caption_price_amount
                 from shop.story st join shop.product p on p.product_id = st.draft_product_id
                 join shop.price pr on pr.product_id = p.product_id
                 join shop.product_media pm on pm.product_id = p.product_id
                 where st.external_id = $1",
                &[&id],
            )
            .await
            .unwrap();
        assert!(!row.get::<_, bool>(0), "drafts are inactive");
        assert_eq!(
            (row.get::<_, String>(1), row.get::<_, i64>(2)),
            (currency.to_string(), *amount),
            "{id}"
        );
        assert!(row.get::<_, bool>(3), "the story's image is the primary image");
        assert!(!row.get::<_, String>(4).contains('#'));
        assert!(!row.get::<_, String>(5).is_empty());
        assert!(!row.get::<_, Vec<String>>(6).is_empty());
        assert!(row.get::<_, bool>(7), "the draft is linked to its story");
        assert_eq!(
            (row.get::<_, Option<String>>(8), row.get::<_, Option<i64>>(9)),
            (Some(currency.to_string()), Some(*amount))
        );
    }
    let wax = shop
        .client
        .query_one(
            "select p.title, (select array_agg(t.slug order by t.slug) from shop.product_tag pt join shop.tag t using (tag_id)
                              where pt.product_id = p.product_id)
             from shop.story st join shop.product p on p.product_id = st.draft_product_id where st.external_id = '17900000001000'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(wax.get::<_, String>(0), "Robe wax « Soleil »");
    assert_eq!(wax.get::<_, Vec<String>>(1), ["robe", "wax"]);
    assert_eq!(
        count(
            &shop.client,
            "select count(*) from shop.story where draft_product_id is null"
        )
        .await,
        1,
        "no draft without a caption"
    );
    assert_eq!(count(&shop.client, "select count(*) from shop.product").await, 4);
}

#[tokio::test]
async fn retention_deletes_old_unlinked_stories_with_their_media_and_keeps_linked_ones() {
    let shop = Shop::new().await;
    let stories = image_stories(&shop.fake, 4, |i| fixtures::jpeg(40 + i as u32, 40));
    shop.fake.account(
        ACCOUNT,
        FakeAccount {
            token: TOKEN.into(),
            username: "boutique".into(),
            stories,
            page_sizes: vec![25],
        },
    );
    let _worker = shop.worker("w1", &[]);
    let job = shop.pull().await;
    assert_eq!(shop.attempt(job, 1).await, (Some(true), None));
    let c = &shop.client;
    // Stories 0..2 are 100 days old; 1 is linked to a product; 2's image is also a
    // product's image; 3 is recent.
    let slugs = maef_tests::seed_products(c, "kept", 1).await;
    c.batch_execute(&format!(
        "update shop.story set posted_at = now() - interval '100 days' where external_id in ('17900000000000000', '17900000000000001', '17900000000000002');
         insert into shop.story_product_link (story_id, product_id)
             select story_id, (select product_id from shop.product where slug = '{0}') from shop.story where external_id = '17900000000000001';
         insert into shop.product_media (product_id, asset_id)
             select (select product_id from shop.product where slug = '{0}'), asset_id from shop.story where external_id = '17900000000000002';",
        slugs[0]
    ))
    .await
    .unwrap();
    let prune = || async {
        let job: i64 = c
            .query_one("select api.enqueue_job('prune_stories')", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(shop.attempt(job, 1).await, (Some(true), None));
    };
    // A longer retention keeps them all.
    c.execute(
        "update shop.setting set value = '200' where key = 'stories.retention_days'",
        &[],
    )
    .await
    .unwrap();
    prune().await;
    assert_eq!(shop.stories().await, 4);
    c.execute(
        "update shop.setting set value = '90' where key = 'stories.retention_days'",
        &[],
    )
    .await
    .unwrap();
    let doomed_asset: uuid::Uuid = c
        .query_one(
            "select asset_id from shop.story where external_id = '17900000000000000'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    prune().await;
    let left: Vec<String> = c
        .query("select external_id from shop.story order by external_id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(left, ["17900000000000001", "17900000000000003"]);
    assert!(c
        .query_opt(
            "select 1 from shop.media_asset where asset_id = $1",
            &[&doomed_asset]
        )
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        count(c, "select count(*) from shop.media_asset").await,
        3,
        "the product's image stays"
    );
    assert_eq!(
        count(
            c,
            "select count(*) from shop.audit_log where action = 'stories.pruned'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn expiring_user_tokens_are_renewed_and_refused_ones_need_reauth() {
    let shop = Shop::new().await;
    // A user token expiring in 5 days (renewable), one Meta no longer accepts, one
    // Page token (no expiry: not due).
    shop.connect("17841400000000002", "EAA-user-old", "user", Some(5.0 * 86_400.0))
        .await;
    shop.connect("17841400000000003", "EAA-revoked", "user", Some(3.0 * 86_400.0))
        .await;
    shop.fake.with(|s| {
        s.app = Some((
            "1234".into(),
            "app-secret".into(),
            "https://shop.example/cb".into(),
        ));
        s.long_lived
            .insert("EAA-user-old".into(), ("EAA-user-new".into(), 5_183_944));
    });
    let _worker = shop.worker(
        "w1",
        &[
            ("IG_APP_ID", "1234"),
            ("IG_APP_SECRET", "app-secret"),
            ("IG_REDIRECT_URI", "https://shop.example/cb"),
        ],
    );
    let job: i64 = shop
        .client
        .query_one("select api.enqueue_job('renew_instagram_tokens')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(shop.attempt(job, 1).await, (Some(true), None));
    let rows = shop
        .client
        .query(
            "select account_id, status, extract(epoch from expires_at - now())::float8 / 86400, token_sealed, token_key_id
             from shop.oauth_token order by account_id",
            &[],
        )
        .await
        .unwrap();
    let key = TokenKey::parse(KEY).unwrap();
    let renewed = &rows[1];
    assert_eq!(renewed.get::<_, String>(1), "active");
    assert!(renewed.get::<_, f64>(2) > 59.0, "about 60 days now");
    let token = key
        .open(
            "17841400000000002",
            &renewed.get::<_, String>(4),
            &renewed.get::<_, Vec<u8>>(3),
        )
        .unwrap();
    assert_eq!(token.expose(), "EAA-user-new");
    assert_eq!(rows[2].get::<_, String>(1), "needs_reauth");
    assert_eq!(
        rows[0].get::<_, String>(1),
        "active",
        "the Page token was left alone"
    );
    assert_eq!(
        count(
            &shop.client,
            "select count(*) from shop.audit_log where action = 'instagram.token_renewed'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &shop.client,
            "select count(*) from shop.audit_log where action = 'instagram.needs_reauth'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_download_slower_than_its_timeout_is_left_for_the_next_pull() {
    let shop = Shop::new().await;
    let stories = image_stories(&shop.fake, 2, |i| noisy_jpeg(200 + i as u32, i as u64 + 3));
    shop.fake.account(
        ACCOUNT,
        FakeAccount {
            token: TOKEN.into(),
            username: "boutique".into(),
            stories,
            page_sizes: vec![25],
        },
    );
    // Each 64 KiB takes 2 s to arrive; a download may take 1 s in all.
    shop.fake
        .with(|s| s.cdn_delay_per_64k = Some(Duration::from_secs(2)));
    let _worker = shop.worker("w1", &[("IG_DOWNLOAD_TIMEOUT_SECS", "1")]);
    let job = shop.pull().await;
    let (ok, error) = shop.attempt(job, 1).await;
    assert_eq!(ok, Some(false));
    let error = error.unwrap();
    assert!(
        error.contains("2 of 2 stories could not be fetched")
            && error.contains("IG_DOWNLOAD_TIMEOUT_SECS (1s)"),
        "{error}"
    );
    assert_eq!(shop.stories().await, 0, "nothing half-stored");
    // The CDN is fast again: the retry stores both.
    shop.fake.with(|s| s.cdn_delay_per_64k = None);
    shop.client
        .execute(
            "update shop.job_queue set run_at = now() where job_id = $1",
            &[&job],
        )
        .await
        .unwrap();
    assert_eq!(shop.attempt(job, 2).await, (Some(true), None));
    assert_eq!(shop.stories().await, 2);
}
