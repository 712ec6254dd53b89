//! A streaming replica behind the read routes (`DATABASE_READ_URL`): catalog, product
//! pages, search, media and stories are answered by the replica; a client that just
//! wrote reads its writes from the primary; a replica that stops answering is replaced
//! by the primary with no failed request, and `/readyz` says so. The pair is made by
//! `scripts/replica.sh` on ports of its own; the replication lag is measured and
//! printed (`--nocapture`).
//!
//! Routing is proved by holding the replica behind on purpose (`pg_wal_replay_pause`):
//! what the primary has and the replica has not replayed yet is absent from a route's
//! answer exactly when that route is served by the replica.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use maef_media::fixtures;
use maef_tests::{
    connect, count,
    http::{router_for, test_config, TestApp},
    prometheus::sum,
    replica::{caught_up, ReplicaPair},
    seed_products, TestDb,
};
use serde_json::{json, Value};
use tokio_postgres::Client;

const PASSWORD: &str = "correct horse battery";
const METRICS_TOKEN: &str = "metrics-token-metrics-token-metrics-token";

/// The instance's metrics, as Prometheus scrapes them.
async fn metrics(app: &TestApp) -> String {
    let request = axum::http::Request::builder()
        .uri("/metrics")
        .header("authorization", format!("Bearer {METRICS_TOKEN}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let reply = app.send(request).await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.text()
}

/// Makes the pair, a migrated database on the primary, and waits for the replica to
/// have it.
async fn pair_with_database() -> (ReplicaPair, String, Client, Client) {
    let pair = ReplicaPair::start();
    let name = "maef_replica".to_string();
    let admin = connect(&pair.primary_url("postgres")).await;
    admin
        .batch_execute(&format!("create database {name}"))
        .await
        .unwrap();
    let (mut client, connection) = tokio_postgres::connect(&pair.primary_url(&name), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    maef_api::migrate::run(&mut client)
        .await
        .expect("migrating on the primary");
    caught_up(&admin, &connect(&pair.replica_url("postgres")).await).await;
    let replica = connect(&pair.replica_url(&name)).await;
    (pair, name, client, replica)
}

/// The replication lag of small commits: `n` writes, each timed from its commit on the
/// primary to its replay on the replica.
async fn measure_lag(primary: &Client, replica: &Client, n: usize) -> Vec<Duration> {
    let mut lags = Vec::with_capacity(n);
    primary
        .batch_execute("create table if not exists lag_probe (i integer primary key)")
        .await
        .unwrap();
    for i in 0..n {
        primary
            .execute("insert into lag_probe values ($1)", &[&(i as i32)])
            .await
            .unwrap();
        lags.push(caught_up(primary, replica).await);
    }
    lags.sort();
    lags
}

/// A published story with its image, stored as the worker stores one.
async fn story(client: &Client) -> i64 {
    let bytes = fixtures::jpeg(32, 20);
    let meta = json!({"filename": "story.jpg", "mime_type": "image/jpeg", "size_bytes": bytes.len(),
                      "sha256": maef_media::sha256_hex(&bytes), "width": 32, "height": 20});
    let asset: Value = client
        .query_one("select api.ingest_media($1, $2)", &[&meta, &bytes])
        .await
        .unwrap()
        .get(0);
    let media = json!({"asset_id": asset["asset_id"], "poster_asset_id": asset["asset_id"], "media_source": "media_url"});
    let item = json!({"id": "17900000000000001", "media_type": "IMAGE", "media_product_type": "STORY",
                      "caption": "Nouvelle collection", "timestamp": "2026-12-06T09:00:00+0000",
                      "permalink": "https://www.instagram.com/stories/boutique/17900000000000001/"});
    let facts = json!({"title": null, "description": "", "hashtags": []});
    let saved: Value = client
        .query_one(
            "select api.save_instagram_story('17841400000000001', $1, $2, $3)",
            &[&item, &media, &facts],
        )
        .await
        .unwrap()
        .get(0);
    saved["story_id"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_go_to_the_replica_writers_read_their_writes_and_a_lost_replica_is_replaced() {
    let (pair, name, primary, replica) = pair_with_database().await;
    let slugs = seed_products(&primary, "wax", 3).await;
    caught_up(&primary, &replica).await;

    // ------------------------------------------------ the lag, measured
    let lags = measure_lag(&primary, &replica, 200).await;
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    println!(
        "replication lag of a small commit (commit on the primary → replayed on the replica, {} samples): \
         p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        lags.len(),
        ms(&lags[lags.len() / 2]),
        ms(&lags[lags.len() * 95 / 100]),
        ms(lags.last().unwrap())
    );
    let streaming: i64 = count(
        &primary,
        "select count(*) from pg_stat_replication where state = 'streaming'",
    )
    .await;
    assert_eq!(streaming, 1, "the replica streams from the primary");
    let health = primary
        .query(
            "select metric, status from report.health where metric like 'replication_lag%'",
            &[],
        )
        .await
        .unwrap();
    assert!(
        !health.is_empty(),
        "report.health shows the replica's lag on the primary"
    );

    // ------------------------------------------------ the app: primary + replica pools
    let db = TestDb {
        name: name.clone(),
        url: pair.primary_url(&name),
    };
    let read_url = pair.replica_url(&name);
    let config = test_config(
        &db.url,
        &[
            ("DATABASE_READ_URL", read_url.as_str()),
            ("REPLICA_RETRY_MS", "300"),
            // Long enough that the checks below run inside the window.
            ("READ_YOUR_WRITES_MS", "60000"),
            ("DB_CONNECT_TIMEOUT_MS", "1000"),
            ("METRICS_TOKEN", METRICS_TOKEN),
        ],
    );
    let app = TestApp {
        router: router_for(&config),
        db,
        pooler: None,
        replica: None,
    };
    let manager = app
        .token_with_role("manager@example.com", PASSWORD, Some("manager"))
        .await;
    caught_up(&primary, &replica).await;

    // Everything the replica has is served as usual.
    let listed = app.call(Method::GET, "/api/v1/products", None, None).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text());
    assert_eq!(listed.json()["items"].as_array().unwrap().len(), 3);
    let page = app
        .call(Method::GET, &format!("/api/v1/products/{}", slugs[0]), None, None)
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let found = app.call(Method::GET, "/api/v1/search?q=wax", None, None).await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.text());
    assert_eq!(found.json()["total"], 3);

    // ------------------------------------------------ routing: hold the replica behind
    replica
        .batch_execute("select pg_wal_replay_pause()")
        .await
        .unwrap();
    // A write through the API: the manager's client gets a primary-reads token.
    let created = app
        .call(
            Method::POST,
            "/api/v1/products",
            Some(&manager),
            Some(json!({
                "title": "Boubou brodé indigo",
                "description": "Boubou en bazin brodé.",
                "variants": [{"name": "Unique", "sku": "BOUBOU-1", "stock": {"qty_on_hand": 2}}],
                "prices": [{"currency": "XOF", "amount": 45000}]
            })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let token = created
        .headers
        .get("x-primary-reads")
        .expect("a write answers with a primary-reads token")
        .to_str()
        .unwrap()
        .to_string();
    let cookie = created
        .headers
        .get("set-cookie")
        .expect("and the same token as a cookie")
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.starts_with(&format!("maef_primary_reads={token};")),
        "{cookie}"
    );
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    // A search is logged on the primary even when the replica answers it.
    let logged_before = count(&primary, "select count(*) from shop.search_log").await;

    // Another client (no token) is answered by the replica, which has not replayed the
    // new product: every read route shows the replica's state.
    let page = app
        .call(Method::GET, "/api/v1/products/boubou-brode-indigo", None, None)
        .await;
    assert_eq!(
        page.status,
        StatusCode::NOT_FOUND,
        "served by the replica: {}",
        page.text()
    );
    let listed = app.call(Method::GET, "/api/v1/products", None, None).await.json();
    assert_eq!(listed["items"].as_array().unwrap().len(), 3, "the replica's list");
    let found = app.call(Method::GET, "/api/v1/search?q=boubou", None, None).await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.text());
    assert_eq!(found.json()["total"], 0, "the replica's index");
    let suggested = app
        .call(Method::GET, "/api/v1/search/suggest?q=bou", None, None)
        .await
        .json();
    assert_eq!(suggested, json!([]), "the replica's suggestions");
    let looked_up = app
        .call(
            Method::POST,
            "/api/v1/products/lookup",
            None,
            Some(json!({"slugs": ["boubou-brode-indigo", slugs[0]]})),
        )
        .await;
    assert_eq!(looked_up.status, StatusCode::OK, "{}", looked_up.text());
    assert_eq!(
        looked_up.json().as_array().unwrap().len(),
        1,
        "{}",
        looked_up.text()
    );
    assert!(
        looked_up.headers.get("x-primary-reads").is_none(),
        "a read-only POST wrote nothing: no token"
    );
    assert_eq!(
        count(&primary, "select count(*) from shop.search_log").await,
        logged_before + 1,
        "the search served by the replica was logged on the primary"
    );

    // The writer, presenting its token (header or cookie), reads its own writes.
    let with_token = |path: &str, header: (&str, String)| {
        axum::http::Request::builder()
            .method(Method::GET)
            .uri(path)
            .header(header.0, header.1)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let own = app
        .send(with_token(
            "/api/v1/products/boubou-brode-indigo",
            ("x-primary-reads", token.clone()),
        ))
        .await;
    assert_eq!(
        own.status,
        StatusCode::OK,
        "read-your-writes (header): {}",
        own.text()
    );
    let own = app
        .send(with_token(
            "/api/v1/search?q=boubou",
            ("cookie", format!("theme=dark; maef_primary_reads={token}")),
        ))
        .await;
    assert_eq!(own.json()["total"], 1, "read-your-writes (cookie)");
    // A forged expiry or a made-up token does not pin reads to the primary.
    let (expiry, signature) = token.split_once('.').unwrap();
    let forged = format!("{}.{signature}", expiry.parse::<u64>().unwrap() + 3_600_000);
    for bad in [forged, "1.00".to_string(), "garbage".to_string()] {
        let stale = app
            .send(with_token(
                "/api/v1/products/boubou-brode-indigo",
                ("x-primary-reads", bad.clone()),
            ))
            .await;
        assert_eq!(
            stale.status,
            StatusCode::NOT_FOUND,
            "token {bad}: still the replica"
        );
    }

    // Replay resumes: the replica catches up and every client sees the product.
    replica
        .batch_execute("select pg_wal_replay_resume()")
        .await
        .unwrap();
    let held = caught_up(&primary, &replica).await;
    println!(
        "catching up after the pause: {:.1} ms",
        held.as_secs_f64() * 1000.0
    );
    let page = app
        .call(Method::GET, "/api/v1/products/boubou-brode-indigo", None, None)
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());

    // ------------------------------------------------ media and stories on the replica
    replica
        .batch_execute("select pg_wal_replay_pause()")
        .await
        .unwrap();
    let story_id = story(&primary).await;
    let story = app
        .call(Method::GET, &format!("/api/v1/stories/{story_id}"), None, None)
        .await;
    assert_eq!(
        story.status,
        StatusCode::NOT_FOUND,
        "served by the replica: {}",
        story.text()
    );
    let png = fixtures::png(12, 8);
    let uploaded = app.upload(Some(&manager), "tiny.png", &png).await;
    assert_eq!(uploaded.status, StatusCode::CREATED, "{}", uploaded.text());
    let asset = uploaded.json()["asset_id"].as_str().unwrap().to_string();
    // Media bytes are immutable: a miss on the replica (an upload it has not replayed)
    // is asked again of the primary, so a fresh upload is served at once to anyone.
    let bytes = app
        .call(Method::GET, &format!("/api/v1/media/{asset}"), None, None)
        .await;
    assert_eq!(bytes.status, StatusCode::OK, "{}", bytes.text());
    assert_eq!(bytes.body, png);
    replica
        .batch_execute("select pg_wal_replay_resume()")
        .await
        .unwrap();
    caught_up(&primary, &replica).await;
    let story = app
        .call(Method::GET, &format!("/api/v1/stories/{story_id}"), None, None)
        .await;
    assert_eq!(story.status, StatusCode::OK, "{}", story.text());
    let bytes = app
        .call(Method::GET, &format!("/api/v1/media/{asset}"), None, None)
        .await;
    assert_eq!(bytes.body, png, "from the replica now");

    // ------------------------------------------------ the replica stops: the primary answers
    let ready = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.json(), json!({"status": "ready", "replica": "ok"}));
    let fallbacks_before = sum(&metrics(&app).await, "maef_db_replica_fallbacks_total", &[]);
    pair.stop_replica();
    for path in [
        "/api/v1/products".to_string(),
        "/api/v1/products/boubou-brode-indigo".to_string(),
        "/api/v1/search?q=boubou".to_string(),
        "/api/v1/search/suggest?q=bou".to_string(),
        "/api/v1/categories".to_string(),
        format!("/api/v1/stories/{story_id}"),
        format!("/api/v1/media/{asset}"),
    ] {
        let reply = app.call(Method::GET, &path, None, None).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{path} with the replica down: {}",
            reply.text()
        );
    }
    let ready = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(
        ready.status,
        StatusCode::OK,
        "degraded, still serving: {}",
        ready.text()
    );
    assert_eq!(
        ready.json(),
        json!({"status": "degraded", "replica": "unreachable"})
    );
    let scraped = metrics(&app).await;
    assert!(
        sum(&scraped, "maef_db_replica_fallbacks_total", &[]) > fallbacks_before,
        "the reads the stopped replica failed were answered by the primary: {scraped}"
    );
    assert!(sum(&scraped, "maef_db_reads_total", &[("server", "replica")]) >= 10.0);
    assert!(sum(&scraped, "maef_db_read_pool_connections", &[("state", "max")]) == 4.0);

    // Back: after REPLICA_RETRY_MS the replica is used again.
    pair.start_replica();
    let replica = connect(&pair.replica_url(&name)).await;
    caught_up(&primary, &replica).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let ready = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.json(), json!({"status": "ready", "replica": "ok"}));
    replica
        .batch_execute("select pg_wal_replay_pause()")
        .await
        .unwrap();
    primary
        .batch_execute(
            "update shop.product set title = 'Boubou brodé bleu nuit' where slug = 'boubou-brode-indigo'",
        )
        .await
        .unwrap();
    let page = app
        .call(Method::GET, "/api/v1/products/boubou-brode-indigo", None, None)
        .await
        .json();
    assert_eq!(
        page["title"], "Boubou brodé indigo",
        "the replica serves reads again"
    );
    replica
        .batch_execute("select pg_wal_replay_resume()")
        .await
        .unwrap();
}
