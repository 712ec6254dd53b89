//! Checkout under real concurrency: hundreds of clients racing for the last units, carts
//! locking the same SKUs in opposite orders, one Idempotency-Key sent twenty times at
//! once, a coupon's last uses, and payments racing reservation expiry; then the same
//! races on hot variants whose stock is split over stock slots, with staff changing
//! their stock while checkouts run. After each, the consistency query
//! (`maef_tests::shop::stock_problems`) proves no unit or coupon use was lost or
//! counted twice.

use std::{collections::HashMap, sync::Arc};

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use futures::future::join_all;
use maef_tests::{
    http::{Reply, TestApp},
    shop::{assert_consistent, checkout_body, seed_variant, ship_to, sql_error, Who},
};
use serde_json::Value;
use tokio_postgres::Client;

/// Pool and timeouts for hundreds of requests queueing for 16 connections: a request
/// may wait its turn for seconds, which is not what these tests are about.
const CROWD: &[(&str, &str)] = &[
    ("DB_POOL_SIZE", "16"),
    ("DB_POOL_TIMEOUT_MS", "120000"),
    ("DB_STATEMENT_TIMEOUT_MS", "120000"),
    ("REQUEST_TIMEOUT_MS", "120000"),
];

/// `n` guest carts `s1`…`sn` in XOF to Senegal, each holding `lines` (variant,
/// quantity) in that order: the rows `api.cart_open` and `api.cart_add_item` write,
/// inserted in bulk. Returns their sessions.
async fn guest_carts(client: &Client, n: i32, lines: &[(i64, i32)]) -> Vec<String> {
    guest_cart_range(client, 1, n, lines).await
}

/// Guest carts `s{from}`…`s{to}` (see [`guest_carts`]).
async fn guest_cart_range(client: &Client, from: i32, to: i32, lines: &[(i64, i32)]) -> Vec<String> {
    let sessions: Vec<String> = (from..=to).map(|i| format!("s{i}")).collect();
    client
        .execute(
            "insert into shop.cart (currency_code, session_hash, shipping_country)
             select 'XOF', encode(sha256(convert_to(s, 'UTF8')), 'hex'), 'SN' from unnest($1::text[]) s",
            &[&sessions],
        )
        .await
        .unwrap();
    // One statement per line, so every cart's lines get ids in the order given.
    for (variant, quantity) in lines {
        client
            .execute(
                "insert into shop.cart_item (cart_id, variant_id, quantity)
                 select c.cart_id, $1, $2 from shop.cart c
                 where c.session_hash in (select encode(sha256(convert_to(s, 'UTF8')), 'hex') from unnest($3::text[]) s)",
                &[variant, quantity, &sessions],
            )
            .await
            .unwrap();
    }
    sessions
}

/// The grand total of guest cart `session`.
async fn total(client: &Client, session: &str) -> i64 {
    let who = Who {
        session: Some(session.to_string()),
        ..Who::guest()
    };
    maef_tests::shop::cart_total(client, &who).await
}

async fn post_checkout(app: &TestApp, session: &str, key: String, body: &Value) -> Reply {
    app.send(
        Request::builder()
            .method(Method::POST)
            .uri("/api/v1/checkout")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-cart-session", session)
            .header("idempotency-key", key.as_str())
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await
}

/// Status and problem code (or "created") of each reply, counted.
fn tally(replies: &[Reply]) -> HashMap<(u16, String), usize> {
    let mut counts = HashMap::new();
    for r in replies {
        let code = if r.status == StatusCode::CREATED {
            "created".to_string()
        } else {
            r.problem_code()
        };
        *counts.entry((r.status.as_u16(), code)).or_insert(0) += 1;
    }
    counts
}

/// Checks every session's cart out at once (key `key-<session>`) and tallies the replies.
async fn check_out_all(app: &TestApp, sessions: &[String], body: &Value) -> HashMap<(u16, String), usize> {
    let replies = join_all(
        sessions
            .iter()
            .map(|s| post_checkout(app, s, format!("key-{s}"), body)),
    )
    .await;
    tally(&replies)
}

/// Checks every session's cart out, one after the other, each an order.
async fn check_out_one_by_one(app: &TestApp, sessions: &[String], body: &Value) {
    for s in sessions {
        let reply = post_checkout(app, s, format!("key-{s}"), body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    }
}

/// The tally of a race where `created` checkouts won and `short` were refused for stock.
fn created_and_short(created: usize, short: usize) -> HashMap<(u16, String), usize> {
    HashMap::from([
        ((201, "created".to_string()), created),
        ((409, "insufficient_stock".to_string()), short),
    ])
}

async fn count(client: &Client, sql: &str) -> i64 {
    maef_tests::count(client, sql).await
}

#[tokio::test]
async fn five_hundred_checkouts_of_the_last_ten_units_make_exactly_ten_orders() {
    let app = TestApp::with(CROWD).await;
    let client = app.db.connect().await;
    ship_to(&client, "SN", "XOF", 2000).await;
    let variant = seed_variant(&client, "LAST-TEN", 15000, 2299, Some(10)).await;
    let sessions = guest_carts(&client, 500, &[(variant, 1)]).await;
    let body = checkout_body(total(&client, &sessions[0]).await);
    assert_eq!(
        check_out_all(&app, &sessions, &body).await,
        created_and_short(10, 490),
        "no 5xx, no deadlock, nothing else"
    );
    assert_eq!(
        count(&client, "select count(*) from shop.customer_order").await,
        10
    );
    assert_eq!(
        count(
            &client,
            "select count(distinct order_number) from shop.customer_order"
        )
        .await,
        10
    );
    let row = client
        .query_one(
            "select qty_on_hand, qty_reserved from shop.inventory where variant_id = $1",
            &[&variant],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, i32>(0), row.get::<_, i32>(1)), (10, 10));
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.cart where status = 'converted'"
        )
        .await,
        10
    );
    assert_consistent(&client).await;
}

#[tokio::test]
async fn carts_locking_two_skus_in_opposite_orders_never_deadlock() {
    opposite_orders(0, 0).await;
}

/// A slotted variant's slot rows are locked after inventory rows by the locked path, and
/// a transaction holding slot rows waits for no lock: carts mixing it with a plain
/// variant, in both orders, do not deadlock either.
#[tokio::test]
async fn carts_mixing_a_slotted_and_a_plain_sku_in_opposite_orders_never_deadlock() {
    opposite_orders(8, 0).await;
}

/// Both SKUs slotted: an order takes one slot of each (the second one missing rolls the
/// first back and the order takes the locked path), in both line orders.
#[tokio::test]
async fn carts_of_two_slotted_skus_in_opposite_orders_never_deadlock() {
    opposite_orders(8, 4).await;
}

/// 200 carts of two SKUs with 60 units each, half listing them in each order, checked
/// out at once; SKU A has `slots_a` stock slots, B `slots_b`.
async fn opposite_orders(slots_a: i16, slots_b: i16) {
    let app = TestApp::with(CROWD).await;
    let client = app.db.connect().await;
    ship_to(&client, "SN", "XOF", 2000).await;
    let a = seed_variant(&client, "PAIR-A", 15000, 2299, Some(60)).await;
    let b = seed_variant(&client, "PAIR-B", 9000, 1299, Some(60)).await;
    set_slots(&client, a, slots_a, 5).await;
    set_slots(&client, b, slots_b, 5).await;
    // Carts s1…s100 list A then B; s101…s200 list B then A (their cart lines, and so
    // their order lines, come in that order).
    let forward = guest_carts(&client, 100, &[(a, 1), (b, 1)]).await;
    let backward = guest_cart_range(&client, 101, 200, &[(b, 1), (a, 1)]).await;
    let reversed: i64 = count(
        &client,
        &format!(
            "select count(*) from shop.cart c where (select variant_id from shop.cart_item i where i.cart_id = c.cart_id
             order by cart_item_id limit 1) = {b}"
        ),
    )
    .await;
    assert_eq!(reversed, 100, "half the carts list B first");
    let sessions: Vec<String> = forward.into_iter().chain(backward).collect();
    let body = checkout_body(total(&client, &sessions[0]).await);
    assert_eq!(total(&client, &sessions[150]).await, body["expected_total"]);
    // With A slotted, two orders first, one after the other: the first parks the units
    // (slots start empty), the second takes A's line from a slot, and B's too when B is
    // slotted (else B's under its lock: api._reserve_mixed). Whether orders of the race
    // below find free slots depends on timing (a miss sends an order to the locked path,
    // which holds the slots while it refills them), so the slot paths are proven here
    // and the race proves only what must hold.
    let mut created = 0;
    if slots_a > 0 {
        let primers = guest_cart_range(&client, 201, 202, &[(a, 1), (b, 1)]).await;
        check_out_one_by_one(&app, &primers, &body).await;
        assert_eq!(
            slot_traffic(&client, a).await,
            (1, 1),
            "A: one order from a slot, one fill"
        );
        let b_slotted = if slots_b > 0 { (1, 1) } else { (0, 0) };
        assert_eq!(
            slot_traffic(&client, b).await,
            b_slotted,
            "B: the same order's other line"
        );
        created = 2;
    }
    // Interleave the two kinds so that they meet.
    let mut order: Vec<String> = Vec::new();
    for i in 0..100 {
        order.push(sessions[i].clone());
        order.push(sessions[100 + i].clone());
    }
    assert_eq!(
        check_out_all(&app, &order, &body).await,
        created_and_short(60 - created, 140 + created),
        "no deadlock_detected, no 5xx"
    );
    let row = client
        .query_one(
            "select sum(qty_reserved)::bigint, bool_and(qty_reserved = 60), sum(shop.stock_parked(variant_id))::bigint
             from shop.inventory",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (row.get::<_, i64>(0), row.get::<_, bool>(1), row.get::<_, i64>(2)),
        (120, true, 0),
        "every unit held by an order, none left parked"
    );
    assert_consistent(&client).await;
}

/// An order mixing a slotted and a plain SKU takes the slotted line from a slot and
/// reserves only the plain one under its variant's lock (api._reserve_mixed); a plain
/// line short of stock sends it to the locked path, which refuses the order listing that
/// line and leaves the parked units as they were; a backordered plain line is accepted
/// and flagged beside a line from a slot.
#[tokio::test]
async fn an_order_mixing_a_slotted_and_a_plain_sku_takes_its_slotted_line_from_a_slot() {
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    ship_to(&client, "SN", "XOF", 2000).await;
    let hot = seed_variant(&client, "MIX-HOT", 15000, 2299, Some(30)).await;
    let plain = seed_variant(&client, "MIX-PLAIN", 9000, 1299, Some(3)).await;
    let backorder = seed_variant(&client, "MIX-LATER", 5000, 799, Some(0)).await;
    client
        .execute(
            "update shop.inventory set allow_backorder = true where variant_id = $1",
            &[&backorder],
        )
        .await
        .unwrap();
    set_slots(&client, hot, 4, 2).await;
    let check_out = |session: String| {
        let (app, client) = (&app, &client);
        async move {
            let body = checkout_body(total(client, &session).await);
            post_checkout(app, &session, format!("key-{session}"), &body).await
        }
    };
    let parked = || {
        let client = &client;
        async move { count(client, &format!("select shop.stock_parked({hot})::bigint")).await }
    };
    // Alone, the first order parks 30 - 1 - (2 + 1) = 26 units.
    let first = guest_cart_range(&client, 1, 1, &[(hot, 1)]).await.remove(0);
    assert_eq!(check_out(first).await.status, StatusCode::CREATED);
    assert_eq!((slot_traffic(&client, hot).await, parked().await), ((0, 1), 26));

    let mixed = guest_cart_range(&client, 2, 2, &[(plain, 2), (hot, 1)])
        .await
        .remove(0);
    let reply = check_out(mixed).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(
        (slot_traffic(&client, hot).await, parked().await),
        ((1, 1), 25),
        "the hot line from a slot, no refill"
    );
    let plain_row = format!("select qty_reserved::bigint from shop.inventory where variant_id = {plain}");
    assert_eq!(count(&client, &plain_row).await, 2);

    let short = guest_cart_range(&client, 3, 3, &[(hot, 1), (plain, 2)])
        .await
        .remove(0);
    let refused = check_out(short).await;
    assert_eq!(refused.problem_code(), "insufficient_stock", "{}", refused.text());
    let lines: Value = serde_json::from_str(refused.json()["details"].as_str().unwrap()).unwrap();
    assert_eq!(
        lines,
        serde_json::json!([{"sku": "MIX-PLAIN", "variant_id": plain, "requested": 2, "available": 1}])
    );
    assert_eq!(
        (
            slot_traffic(&client, hot).await,
            parked().await,
            count(&client, &plain_row).await
        ),
        ((1, 1), 25, 2),
        "nothing written"
    );

    let later = guest_cart_range(&client, 4, 4, &[(hot, 1), (backorder, 1)])
        .await
        .remove(0);
    let reply = check_out(later).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!((slot_traffic(&client, hot).await, parked().await), ((2, 1), 24));
    assert_eq!(
        count(
            &client,
            &format!(
                "select backordered_quantity::bigint from shop.order_item where variant_id = {backorder}"
            )
        )
        .await,
        1,
        "the plain line is backordered"
    );
    assert_eq!(
        count(&client, "select count(*) from shop.customer_order").await,
        3
    );
    assert_consistent(&client).await;
}

/// Gives `variant` `slots` stock slots and a low-stock threshold, as staff do.
async fn set_slots(client: &Client, variant: i64, slots: i16, threshold: i32) {
    client
        .execute(
            "update shop.inventory set reservation_slots = $2, low_stock_threshold = $3 where variant_id = $1",
            &[&variant, &slots, &threshold],
        )
        .await
        .unwrap();
}

/// Reservations of `variant` taken from its stock slots, and slot fills, in the ledger.
async fn slot_traffic(client: &Client, variant: i64) -> (i64, i64) {
    let row = client
        .query_one(
            "select count(*) filter (where kind = 'reservation' and slot_delta < 0),
                    count(*) filter (where kind = 'slot_fill')
             from shop.stock_movement where variant_id = $1",
            &[&variant],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn the_same_idempotency_key_sent_twenty_times_at_once_makes_one_order_and_one_body() {
    let app = TestApp::with(CROWD).await;
    let client = app.db.connect().await;
    ship_to(&client, "SN", "XOF", 2000).await;
    let variant = seed_variant(&client, "ONCE", 15000, 2299, Some(5)).await;
    let sessions = guest_carts(&client, 1, &[(variant, 2)]).await;
    let body = checkout_body(total(&client, &sessions[0]).await);
    let replies =
        join_all((0..20).map(|_| post_checkout(&app, &sessions[0], "one-key".to_string(), &body))).await;
    for r in &replies {
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        assert_eq!(
            r.body, replies[0].body,
            "every duplicate gets the first one's response"
        );
    }
    assert!(replies[0].json()["token"].is_string());
    assert_eq!(
        count(&client, "select count(*) from shop.customer_order").await,
        1
    );
    assert_eq!(
        count(&client, "select count(*) from shop.stock_reservation").await,
        1
    );
    assert_eq!(
        count(&client, "select qty_reserved::bigint from shop.inventory").await,
        2
    );
    // Later, the same key still answers the same order.
    let late = post_checkout(&app, &sessions[0], "one-key".to_string(), &body).await;
    assert_eq!(late.body, replies[0].body);
    assert_consistent(&client).await;
}

#[tokio::test]
async fn fifty_checkouts_racing_for_a_coupons_last_five_uses_redeem_it_exactly_five_times() {
    let app = TestApp::with(CROWD).await;
    let client = app.db.connect().await;
    ship_to(&client, "SN", "XOF", 2000).await;
    let variant = seed_variant(&client, "PROMO", 15000, 2299, Some(100)).await;
    client
        .execute(
            "with p as (insert into shop.promotion (name, rules)
                        values ('Five', '{\"conditions\": {\"coupon_required\": true}, \"action\": {\"type\": \"percent_off_items\", \"percent\": 20}}')
                        returning promotion_id)
             insert into shop.coupon (promotion_id, code, usage_limit) select promotion_id, 'FIVE', 5 from p",
            &[],
        )
        .await
        .unwrap();
    let sessions = guest_carts(&client, 50, &[(variant, 1)]).await;
    client
        .execute("update shop.cart set coupon_code = 'FIVE'", &[])
        .await
        .unwrap();
    let body = checkout_body(total(&client, &sessions[0]).await);
    assert_eq!(body["expected_total"], 12000 + 2000);
    let replies = join_all(
        sessions
            .iter()
            .map(|s| post_checkout(&app, s, format!("k-{s}"), &body)),
    )
    .await;
    let counts = tally(&replies);
    assert_eq!(counts.get(&(201, "created".to_string())), Some(&5), "{counts:?}");
    // The losers learn why: the coupon is used up (seen by the quote or at redemption).
    assert_eq!(
        counts
            .get(&(409, "coupon_exhausted".to_string()))
            .copied()
            .unwrap_or(0),
        45,
        "{counts:?}"
    );
    assert_eq!(
        count(&client, "select times_used::bigint from shop.coupon").await,
        5
    );
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.coupon_redemption where order_id is not null"
        )
        .await,
        5
    );
    assert_eq!(
        count(&client, "select qty_reserved::bigint from shop.inventory").await,
        5
    );
    assert_consistent(&client).await;
}

/// Places `n` guest orders of one unit each (through `api.checkout`, as guests do) and
/// returns their ids in ascending reservation expiry, all expired by now.
async fn expired_orders(client: &Client, variant: i64, n: i32) -> Vec<uuid::Uuid> {
    let sessions = guest_carts(client, n, &[(variant, 1)]).await;
    let body = checkout_body(total(client, &sessions[0]).await);
    for s in &sessions {
        let who = Who {
            session: Some(s.clone()),
            ..Who::guest()
        };
        who.call(
            client,
            "select api.checkout($2, $1, $3)::text",
            &[&body, &maef_tests::shop::idem(s, "h")],
        )
        .await
        .unwrap();
    }
    client
        .execute(
            "update shop.customer_order o set reservation_expires_at = now() - interval '1 hour' + x.n * interval '1 ms'
             from (select order_id, row_number() over (order by order_number) as n from shop.customer_order) x
             where x.order_id = o.order_id",
            &[],
        )
        .await
        .unwrap();
    client
        .query(
            "select order_id from shop.customer_order order by reservation_expires_at",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn payments_racing_reservation_expiry_end_each_order_paid_or_expired_never_both() {
    payments_racing_expiry(0).await;
}

/// The same with the orders' units taken from stock slots: a sale or a release closes a
/// slot reservation at the level like any other.
#[tokio::test]
async fn payments_racing_expiry_of_reservations_taken_from_slots_end_each_order_one_way() {
    payments_racing_expiry(4).await;
}

async fn payments_racing_expiry(slots: i16) {
    let db = maef_tests::TestDb::new().await;
    let client = db.connect().await;
    ship_to(&client, "SN", "XOF", 2000).await;
    let variant = seed_variant(&client, "RACE", 15000, 2299, Some(100)).await;
    set_slots(&client, variant, slots, 5).await;
    let orders = expired_orders(&client, variant, 80).await;
    if slots > 0 {
        let (from_slots, fills) = slot_traffic(&client, variant).await;
        assert!(
            from_slots > 0 && fills > 0,
            "slots used: {from_slots} reservations, {fills} fills"
        );
    }
    // Two expirers walk from the oldest reservation, as maef-worker does (one order per
    // transaction); two payers pay from the newest. They meet in the middle.
    let queue = Arc::new(tokio::sync::Mutex::new(orders.clone()));
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let connection = db.connect().await;
        tasks.push(tokio::spawn(async move {
            let mut expired = Vec::new();
            while let Some(number) = connection
                .query_one("select api.expire_next_order()", &[])
                .await
                .unwrap()
                .get::<_, Option<String>>(0)
            {
                expired.push(number);
            }
            (expired, Vec::new())
        }));
    }
    for _ in 0..2 {
        let connection = db.connect().await;
        let queue = queue.clone();
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            loop {
                let Some(id) = queue.lock().await.pop() else { break };
                let result = connection
                    .query_one(
                        "select api.mark_order_paid($1, '{\"provider\": \"race\"}')::text",
                        &[&id],
                    )
                    .await;
                outcomes.push((id, result.map(|_| ()).map_err(|e| sql_error(&e))));
            }
            (Vec::new(), outcomes)
        }));
    }
    let mut expired_numbers = Vec::new();
    let mut payments = Vec::new();
    for task in tasks {
        let (e, p) = task.await.unwrap();
        expired_numbers.extend(e);
        payments.extend(p);
    }
    assert_eq!(payments.len(), 80, "every order had a payment attempt");
    let mut paid = 0;
    for (id, outcome) in &payments {
        let row = client
            .query_one(
                "select o.status, o.payment_status, o.order_number,
                        (select string_agg(distinct r.status, ',') from shop.stock_reservation r where r.order_id = o.order_id)
                 from shop.customer_order o where o.order_id = $1",
                &[id],
            )
            .await
            .unwrap();
        let (status, payment, number, reservations): (String, String, String, String) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        match outcome {
            Ok(()) => {
                paid += 1;
                assert_eq!(
                    (status.as_str(), payment.as_str(), reservations.as_str()),
                    ("paid", "paid", "sold")
                );
                assert!(!expired_numbers.contains(&number), "{number} paid and expired");
            }
            Err(code) => {
                assert_eq!(
                    code,
                    &("MA409".to_string(), "order_transition_invalid".to_string())
                );
                assert_eq!(
                    (status.as_str(), payment.as_str(), reservations.as_str()),
                    ("expired", "none", "released")
                );
                assert!(
                    expired_numbers.contains(&number),
                    "{number} refused payment but not expired by the race"
                );
            }
        }
    }
    assert_eq!(paid + expired_numbers.len(), 80, "each order ended one way");
    // Both sides won some: the two really met (about half each on this machine).
    assert!(
        paid > 0 && !expired_numbers.is_empty(),
        "{paid} paid, {} expired",
        expired_numbers.len()
    );
    // Nothing held by orders any more (units parked in slots are free).
    let row = client
        .query_one(
            "select qty_on_hand::bigint, (qty_reserved - shop.stock_parked(variant_id))::bigint from shop.inventory",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (row.get::<_, i64>(0), row.get::<_, i64>(1)),
        (100 - paid as i64, 0)
    );
    assert_consistent(&client).await;
}

#[tokio::test]
async fn sql_checkouts_from_many_sessions_of_opposite_line_orders_never_deadlock() {
    let db = maef_tests::TestDb::new().await;
    let client = db.connect().await;
    ship_to(&client, "SN", "XOF", 2000).await;
    let a = seed_variant(&client, "SQL-A", 1000, 100, Some(25)).await;
    let b = seed_variant(&client, "SQL-B", 1000, 100, Some(25)).await;
    // 20 sessions, each checking out 3 carts: half list A first, half B first.
    let mut sessions = Vec::new();
    for i in 0..60 {
        let mut who = Who::guest();
        let lines = if i % 2 == 0 {
            [(a, 1), (b, 1)]
        } else {
            [(b, 1), (a, 1)]
        };
        maef_tests::shop::fill_cart(&client, &mut who, "XOF", "SN", &lines).await;
        sessions.push(who);
    }
    let body = checkout_body(maef_tests::shop::cart_total(&client, &sessions[0]).await);
    let mut tasks = Vec::new();
    for chunk in sessions.chunks(3) {
        let connection = db.connect().await;
        let chunk = chunk.to_vec();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let mut codes = Vec::new();
            for who in chunk {
                let key = who.session.clone().unwrap();
                codes.push(
                    who.call(
                        &connection,
                        "select api.checkout($2, $1, $3)::text",
                        &[&body, &maef_tests::shop::idem(&key, "h")],
                    )
                    .await
                    .map(|_| "created".to_string())
                    .map_err(|(state, constraint)| format!("{state} {constraint}")),
                );
            }
            codes
        }));
    }
    let mut created = 0;
    for task in tasks {
        for code in task.await.unwrap() {
            match code {
                Ok(_) => created += 1,
                Err(e) => assert_eq!(e, "MA409 insufficient_stock"),
            }
        }
    }
    assert_eq!(created, 25);
    assert_consistent(&client).await;
}

/// A hot variant in stock slots, 500 shoppers at once for its 120 units: exactly 120
/// orders, most of them reserved from the slots without waiting for the variant's row;
/// the last units (never parked: slots keep the low-stock threshold + 1 units at the
/// level) go by the locked path, which raises stock.low once and takes the product out
/// of stock.
#[tokio::test]
async fn five_hundred_checkouts_of_a_slotted_variant_sell_exactly_its_stock() {
    let app = TestApp::with(CROWD).await;
    let client = app.db.connect().await;
    ship_to(&client, "SN", "XOF", 2000).await;
    let variant = seed_variant(&client, "FLASH", 15000, 2299, Some(120)).await;
    set_slots(&client, variant, 8, 5).await;
    let sessions = guest_carts(&client, 500, &[(variant, 1)]).await;
    let body = checkout_body(total(&client, &sessions[0]).await);
    assert_eq!(
        check_out_all(&app, &sessions, &body).await,
        created_and_short(120, 380),
        "no 5xx, no deadlock, nothing else"
    );
    let row = client
        .query_one(
            "select i.qty_on_hand, i.qty_reserved, shop.stock_parked(i.variant_id), p.in_stock
             from shop.inventory i join shop.product_variant v using (variant_id) join shop.product p using (product_id)
             where i.variant_id = $1",
            &[&variant],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            row.get::<_, i32>(0),
            row.get::<_, i32>(1),
            row.get::<_, i32>(2),
            row.get::<_, bool>(3)
        ),
        (120, 120, 0, false)
    );
    let (from_slots, fills) = slot_traffic(&client, variant).await;
    assert!(
        from_slots >= 57 && fills >= 1,
        "at least half the 114 parkable units were reserved from the slots (99-112 here): {from_slots}, {fills} fills"
    );
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.event where type = 'stock.low'"
        )
        .await,
        1,
        "stock.low once, when the threshold was crossed"
    );
    assert_consistent(&client).await;
}

/// Checkouts of a slotted variant (alone, and beside a plain one in both orders) while
/// staff change its stock in psql, its low-stock threshold and its number of slots —
/// each change takes the parked units back, waiting for reservations in flight on the
/// slots. Every checkout ends in an order or a clear 409; nothing is oversold, and what
/// orders hold is exactly what the ledger and the reservations say.
#[tokio::test]
async fn slotted_checkouts_racing_stock_changes_by_staff_stay_exact() {
    let app = TestApp::with(CROWD).await;
    let client = app.db.connect().await;
    ship_to(&client, "SN", "XOF", 2000).await;
    let a = seed_variant(&client, "HOT-A", 15000, 2299, Some(150)).await;
    let b = seed_variant(&client, "PLAIN-B", 9000, 1299, Some(100)).await;
    set_slots(&client, a, 8, 3).await;
    let mut sessions = guest_carts(&client, 150, &[(a, 1)]).await;
    sessions.extend(guest_cart_range(&client, 151, 225, &[(a, 1), (b, 1)]).await);
    sessions.extend(guest_cart_range(&client, 226, 300, &[(b, 1), (a, 1)]).await);
    let single = checkout_body(total(&client, &sessions[0]).await);
    let pair = checkout_body(total(&client, &sessions[150]).await);
    // Two orders before the race, one after the other: the first parks A's units (its
    // slots start empty), the second is reserved from a slot. In the race, how many find
    // units in the slots depends on timing (each staff change empties them until a
    // locked-path order parks again), so the slot path is proven here.
    let primers: Vec<String> = sessions.drain(..2).collect();
    check_out_one_by_one(&app, &primers, &single).await;
    assert_eq!(
        slot_traffic(&client, a).await,
        (1, 1),
        "one order from a slot, one fill"
    );
    let staff = app.db.connect().await;
    let changes = tokio::spawn(async move {
        for n in 0..30 {
            let change = match n % 3 {
                0 => "update shop.inventory set qty_on_hand = qty_on_hand + 2 where variant_id = $1",
                1 => "update shop.inventory set low_stock_threshold = 3 + (low_stock_threshold + 1) % 2 where variant_id = $1",
                _ => "update shop.inventory set reservation_slots = 4 + reservation_slots % 8 where variant_id = $1",
            };
            staff.execute(change, &[&a]).await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    });
    let replies = join_all(sessions.iter().enumerate().map(|(i, s)| {
        let body = if i < 148 { &single } else { &pair };
        post_checkout(&app, s, format!("key-{s}"), body)
    }))
    .await;
    changes.await.unwrap();
    let counts = tally(&replies);
    let created = counts.get(&(201, "created".to_string())).copied().unwrap_or(0);
    let short = counts
        .get(&(409, "insufficient_stock".to_string()))
        .copied()
        .unwrap_or(0);
    assert_eq!(created + short, 298, "only orders and clear 409s: {counts:?}");
    assert!(created >= 148, "{counts:?}");
    // What orders hold of A is exactly its live reservations, which its level counts
    // beside the parked units; none sold beyond what is on hand.
    let row = client
        .query_one(
            "select (select coalesce(sum(oi.quantity), 0) from shop.order_item oi where oi.variant_id = $1)::bigint,
                    (i.qty_reserved - shop.stock_parked(i.variant_id))::bigint,
                    i.qty_on_hand::bigint, i.qty_reserved <= i.qty_on_hand
             from shop.inventory i where i.variant_id = $1",
            &[&a],
        )
        .await
        .unwrap();
    let (ordered, held, on_hand, within): (i64, i64, i64, bool) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!(ordered, held, "units ordered = units held by reservations");
    assert_eq!(on_hand, 150 + 20, "the ten receipts of two units each");
    assert!(within && held <= on_hand);
    assert_eq!(
        count(&client, "select count(*) from shop.customer_order").await as usize,
        created + 2
    );
    assert_consistent(&client).await;
}
