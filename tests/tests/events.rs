//! Domain events: written in the transaction of their change, tailed without gaps by
//! api.events_after even when transactions overlap, one NOTIFY per transaction, the
//! documented types emitted by the domains that exist, the admin listing, retention.

use std::{collections::HashSet, time::Duration};

use axum::http::{Method, StatusCode};
use futures::StreamExt;
use maef_tests::{count, http::TestApp, TestDb};
use serde_json::{json, Value};
use tokio_postgres::{AsyncMessage, Client, GenericClient, NoTls};

const PASSWORD: &str = "correct horse battery";

/// Emits one test event (a stock.low of a variant) on `client`'s current transaction.
async fn emit(client: &impl GenericClient, aggregate_id: &str) -> i64 {
    client
        .query_one(
            "select api._emit_event('stock.low', 'variant', $1::text, jsonb_build_object('variant_id', $1::text))",
            &[&aggregate_id],
        )
        .await
        .unwrap()
        .get(0)
}

/// Reads what `api.events_after` returns after `cursor` until it returns `want`
/// events (events become readable once every older transaction on the server has
/// ended, and other databases' transactions count too); returns the ids and the new
/// cursor.
async fn tail_until(client: &Client, cursor: Option<String>, want: usize) -> (Vec<i64>, Option<String>) {
    let mut ids = Vec::new();
    let mut cursor = cursor;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while ids.len() < want {
        assert!(
            std::time::Instant::now() < deadline,
            "only {ids:?} readable after 30 s"
        );
        let (more, next) = tail(client, cursor).await;
        ids.extend(more);
        cursor = next;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (ids, cursor)
}

/// Reads everything `api.events_after` returns after `cursor` now; returns the event
/// ids and the new cursor.
async fn tail(client: &Client, cursor: Option<String>) -> (Vec<i64>, Option<String>) {
    let rows = client
        .query(
            "select event_id, cursor from api.events_after($1, 1000)",
            &[&cursor],
        )
        .await
        .unwrap();
    let ids = rows.iter().map(|r| r.get(0)).collect();
    let last = rows.last().map(|r| r.get::<_, String>(1)).or(cursor);
    (ids, last)
}

#[tokio::test]
async fn an_event_commits_and_rolls_back_with_its_change() {
    let db = TestDb::new().await;
    let mut client = db.connect().await;
    let tx = client.transaction().await.unwrap();
    emit(&tx, "1").await;
    tx.rollback().await.unwrap();
    assert_eq!(count(&client, "select count(*) from shop.event").await, 0);
    let tx = client.transaction().await.unwrap();
    let id = emit(&tx, "2").await;
    tx.commit().await.unwrap();
    let (ids, cursor) = tail_until(&client, None, 1).await;
    assert_eq!(ids, vec![id]);
    assert!(tail(&client, cursor).await.0.is_empty());
}

/// The outbox gap: B takes a higher event id than A but commits first. A consumer
/// reading "id > cursor" would move past A's id and never see it; events_after holds B
/// back while A runs, then returns A and B, each once.
#[tokio::test]
async fn a_consumer_never_skips_an_event_whose_transaction_commits_after_a_later_one() {
    let db = TestDb::new().await;
    let consumer = db.connect().await;
    let (mut a, mut b) = (db.connect().await, db.connect().await);

    // Case 1: A writes first (lower id, lower xid), B commits first.
    let ta = a.transaction().await.unwrap();
    let first = emit(&ta, "a").await;
    let tb = b.transaction().await.unwrap();
    let second = emit(&tb, "b").await;
    assert!(first < second);
    tb.commit().await.unwrap();
    let visible_max: i64 = consumer
        .query_one("select max(event_id) from shop.event", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        visible_max, second,
        "the naive reader sees B's id while A's is invisible"
    );
    let (ids, cursor) = tail(&consumer, None).await;
    assert!(ids.is_empty(), "B must wait for A: {ids:?}");
    ta.commit().await.unwrap();
    let (ids, cursor) = tail_until(&consumer, cursor, 2).await;
    assert_eq!(ids, vec![first, second]);

    // Case 2: B's transaction id is older than A's, yet A writes its event first
    // (lower event id). B commits first: its event is safe to read at once (every
    // older transaction has ended), and A's comes next, after B's cursor.
    let tb = b.transaction().await.unwrap();
    tb.query_one("select pg_current_xact_id()", &[]).await.unwrap();
    let ta = a.transaction().await.unwrap();
    ta.query_one("select pg_current_xact_id()", &[]).await.unwrap();
    let third = emit(&ta, "a2").await;
    let fourth = emit(&tb, "b2").await;
    assert!(third < fourth);
    tb.commit().await.unwrap();
    let (ids, cursor) = tail_until(&consumer, cursor, 1).await;
    assert_eq!(ids, vec![fourth]);
    ta.commit().await.unwrap();
    let (ids, cursor) = tail_until(&consumer, cursor, 1).await;
    assert_eq!(ids, vec![third], "A's event comes after B's cursor, not skipped");
    let (ids, _) = tail(&consumer, cursor).await;
    assert!(ids.is_empty());
}

/// A transaction cannot write another database's events: one left open in another
/// database (an idle session, a long report elsewhere on the server) does not hold
/// this database's consumers back, while one open here does.
#[tokio::test]
async fn only_this_databases_running_transactions_hold_consumers_back() {
    let (db, other) = (TestDb::new().await, TestDb::new().await);
    let mut elsewhere = other.connect().await;
    let idle = elsewhere.transaction().await.unwrap();
    idle.query_one("select pg_current_xact_id()", &[]).await.unwrap();
    let client = db.connect().await;
    let first = emit(&client, "1").await;
    let (ids, cursor) = tail_until(&client, None, 1).await;
    assert_eq!(
        ids,
        vec![first],
        "readable while another database's transaction stays open"
    );
    let mut here = db.connect().await;
    let open = here.transaction().await.unwrap();
    open.query_one("select pg_current_xact_id()", &[]).await.unwrap();
    emit(&client, "2").await;
    assert!(
        tail(&client, cursor.clone()).await.0.is_empty(),
        "held back by this database's open transaction"
    );
    open.rollback().await.unwrap();
    assert_eq!(tail_until(&client, cursor, 1).await.0.len(), 1);
    idle.rollback().await.unwrap();
}

/// Real concurrency: 8 writers commit 400 events in transactions of random sizes and
/// durations while a consumer tails; it sees every committed event exactly once, and
/// none of the rolled-back ones.
#[tokio::test]
async fn a_tailing_consumer_sees_every_committed_event_once_under_concurrent_writers() {
    let db = TestDb::new().await;
    let mut writers = Vec::new();
    for w in 0..8 {
        let url = db.url.clone();
        writers.push(tokio::spawn(async move {
            let mut client = maef_tests::connect(&url).await;
            let mut committed = Vec::new();
            for t in 0..25 {
                let tx = client.transaction().await.unwrap();
                let mut ids = Vec::new();
                for e in 0..(1 + (w + t) % 3) {
                    ids.push(emit(&tx, &format!("{w}-{t}-{e}")).await);
                    tokio::time::sleep(Duration::from_millis(((w * 7 + t * 3) % 5) as u64)).await;
                }
                if (w + t) % 5 == 0 {
                    tx.rollback().await.unwrap();
                } else {
                    tx.commit().await.unwrap();
                    committed.extend(ids);
                }
            }
            committed
        }));
    }
    let consumer = db.connect().await;
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut done = false;
    while !done {
        done = writers.iter().all(|w| w.is_finished());
        let (ids, next) = tail(&consumer, cursor).await;
        seen.extend(ids);
        cursor = next;
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    // Every writer has committed: anything left is readable now (other databases'
    // transactions may still hold the horizon back for a moment).
    let mut expected: HashSet<i64> = HashSet::new();
    for w in writers {
        expected.extend(w.await.unwrap());
    }
    maef_tests::eventually(Duration::from_secs(30), "the last events readable", || {
        let consumer = &consumer;
        let cursor = cursor.clone();
        let need = expected.len();
        let have = seen.len();
        async move { have + tail(consumer, cursor).await.0.len() >= need }
    })
    .await;
    let (ids, _) = tail(&consumer, cursor).await;
    seen.extend(ids);
    let unique: HashSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "an event was returned twice");
    assert_eq!(unique, expected, "the consumer missed or invented events");
    assert_eq!(
        count(&consumer, "select count(*) from shop.event").await,
        expected.len() as i64
    );
}

#[tokio::test]
async fn events_after_refuses_bad_cursors_and_limits() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    for (cursor, limit, constraint) in [
        (Some("12"), 10, "invalid_cursor"),
        (Some("x:1"), 10, "invalid_cursor"),
        (None, 0, "invalid_limit"),
        (None, 10001, "invalid_limit"),
    ] {
        let err = client
            .query("select * from api.events_after($1, $2)", &[&cursor, &limit])
            .await
            .unwrap_err();
        let db_error = err.as_db_error().unwrap();
        assert_eq!(
            (db_error.code().code(), db_error.constraint()),
            ("MA422", Some(constraint))
        );
    }
}

#[tokio::test]
async fn a_transaction_notifies_maef_events_once_whatever_its_number_of_events() {
    let db = TestDb::new().await;
    let (listener, mut connection) = tokio_postgres::connect(&db.url, NoTls).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notification(n) = message {
                let _ = tx.send((n.channel().to_string(), n.payload().to_string()));
            }
        }
    });
    listener.batch_execute("LISTEN maef_events").await.unwrap();
    let mut client = db.connect().await;
    let t = client.transaction().await.unwrap();
    let first = emit(&t, "1").await;
    emit(&t, "2").await;
    emit(&t, "3").await;
    t.commit().await.unwrap();
    let (channel, payload) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(channel, "maef_events");
    let payload: Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(payload, json!({"event_id": first, "type": "stock.low"}));
    // A second transaction notifies again; nothing else arrived for the first.
    let t = client.transaction().await.unwrap();
    emit(&t, "4").await;
    t.commit().await.unwrap();
    let (_, payload) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_ne!(
        serde_json::from_str::<Value>(&payload).unwrap()["event_id"],
        json!(first)
    );
    assert!(rx.try_recv().is_err());
    // While one transaction is notifying (it holds the notifier's lock until it ends),
    // another stays silent: NOTIFY would serialise their commits, and the consumer
    // woken by the first reads what the second committed by then.
    let mut other = db.connect().await;
    let first_tx = client.transaction().await.unwrap();
    let notifier = emit(&first_tx, "5").await;
    let silent_tx = other.transaction().await.unwrap();
    emit(&silent_tx, "6").await;
    silent_tx.commit().await.unwrap();
    first_tx.commit().await.unwrap();
    let (_, payload) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&payload).unwrap()["event_id"],
        json!(notifier)
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(rx.try_recv().is_err(), "the second transaction stayed silent");
    // An event type outside the catalogue is refused.
    let err = client
        .query_one(
            "select api._emit_event('order.teleported', 'order', '1', '{}')",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(err.as_db_error().unwrap().constraint(), Some("event_type_fkey"));
}

fn event_types(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn registering_and_editing_products_emit_documented_events_admins_can_list() {
    let app = TestApp::new().await;
    let admin = app
        .token_with_role("admin@example.com", PASSWORD, Some("admin"))
        .await;
    let created = app
        .call(
            Method::POST,
            "/api/v1/products",
            Some(&admin),
            Some(json!({"title": "Wax dress", "variants": [{"name": "M", "sku": "WAX-M"}]})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let product_id = created.json()["product_id"].as_i64().unwrap();
    let updated = app
        .call(
            Method::PATCH,
            &format!("/api/v1/admin/products/{product_id}"),
            Some(&admin),
            Some(json!({"title": "Wax dress, blue", "is_featured": true})),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text());
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/api/v1/admin/products/{product_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text());

    let page = app
        .call(Method::GET, "/api/v1/admin/events?limit=10", Some(&admin), None)
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let page = page.json();
    assert_eq!(
        event_types(&page),
        [
            "product.deleted",
            "product.updated",
            "product.created",
            "customer.created"
        ],
        "newest first: {page}"
    );
    let items = page["items"].as_array().unwrap();
    assert_eq!(items[1]["payload"]["changed"], json!(["is_featured", "title"]));
    assert_eq!(items[1]["payload"]["title"], "Wax dress, blue");
    assert_eq!(items[2]["payload"]["variants"][0]["sku"], "WAX-M");
    assert_eq!(
        items[2]["aggregate"],
        json!({"type": "product", "id": product_id.to_string()})
    );
    assert_eq!(items[3]["payload"]["email"], "admin@example.com");
    assert!(items[3]["payload"].get("password_hash").is_none());

    // Paging and filters.
    let first = app
        .call(Method::GET, "/api/v1/admin/events?limit=1", Some(&admin), None)
        .await
        .json();
    let before = first["next_cursor"].as_str().unwrap();
    let second = app
        .call(
            Method::GET,
            &format!("/api/v1/admin/events?limit=1&before={before}"),
            Some(&admin),
            None,
        )
        .await
        .json();
    assert_eq!(event_types(&second), ["product.updated"]);
    let customers = app
        .call(
            Method::GET,
            "/api/v1/admin/events?type=customer.created",
            Some(&admin),
            None,
        )
        .await
        .json();
    assert_eq!(event_types(&customers), ["customer.created"]);
    let bad = app
        .call(Method::GET, "/api/v1/admin/events?limit=0", Some(&admin), None)
        .await;
    assert_eq!(
        (bad.status, bad.problem_code().as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_limit")
    );

    // The catalogue of types, and who may read any of this.
    let types = app
        .call(Method::GET, "/api/v1/admin/event-types", Some(&admin), None)
        .await;
    assert_eq!(types.status, StatusCode::OK);
    assert!(event_types(&types.json()).contains(&"order.paid".to_string()));
    let manager = app
        .token_with_role("manager@example.com", PASSWORD, Some("manager"))
        .await;
    let refused = app
        .call(Method::GET, "/api/v1/admin/events", Some(&manager), None)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let anonymous = app
        .call(Method::GET, "/api/v1/admin/event-types", None, None)
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

/// docs/events.md documents every type of the catalogue, and nothing else.
#[tokio::test]
async fn every_event_type_is_documented_and_every_documented_type_exists() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let rows = client
        .query("select type, version from shop.event_type", &[])
        .await
        .unwrap();
    let catalogue: HashSet<String> = rows
        .iter()
        .map(|r| format!("{} v{}", r.get::<_, String>(0), r.get::<_, i16>(1)))
        .collect();
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/events.md")).unwrap();
    // Each type has a heading "### `order.paid` (v1)".
    let documented: HashSet<String> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("### `"))
        .filter_map(|l| l.split_once("` ("))
        .map(|(t, rest)| format!("{t} {}", rest.trim_end_matches(')')))
        .collect();
    assert_eq!(documented, catalogue);
}

#[tokio::test]
async fn events_older_than_the_retention_are_pruned_with_their_deliveries() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let old = emit(&client, "old").await;
    let recent = emit(&client, "recent").await;
    // A delivery of the old event goes with it.
    client
        .batch_execute(&format!(
            "insert into shop.webhook_endpoint (url) values ('https://hooks.example.com/x');
             insert into shop.webhook_delivery (event_id, webhook_endpoint_id)
             select {old}, webhook_endpoint_id from shop.webhook_endpoint"
        ))
        .await
        .unwrap();
    client
        .execute(
            "update shop.event set occurred_at = now() - interval '31 days' where event_id = $1",
            &[&old],
        )
        .await
        .unwrap();
    let pruned: i64 = client
        .query_one("select api.prune_events()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(pruned, 1);
    let left: Vec<i64> = client
        .query("select event_id from shop.event", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(left, vec![recent]);
    assert_eq!(
        count(&client, "select count(*) from shop.webhook_delivery").await,
        0
    );
    // EVENT_RETENTION_DAYS is the setting's variable.
    let env: String = client
        .query_one(
            "select env from shop.setting where key = 'events.retention_days'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(env, "EVENT_RETENTION_DAYS");
}
