//! Inventory: stock adjustments over HTTP (a ledger movement each, audited), PATCH of a
//! variant's on-hand total and a DBA's direct UPDATE both writing adjustments, stock
//! locations reserved in priority order (a line split when it must, inactive locations
//! skipped), the low-stock report, and the consistency of levels, ledger and
//! reservations after each.

use axum::http::{Method, StatusCode};
use maef_tests::{
    http::TestApp,
    shop::{
        as_role, assert_consistent, cart_total, checkout_body, fill_cart, idem, seed_variant, ship_to,
        signed_in, sql_error, user, Who,
    },
    TestDb,
};
use serde_json::{json, Value};
use tokio_postgres::Client;

async fn count(client: &Client, sql: &str) -> i64 {
    maef_tests::count(client, sql).await
}

/// The (kind, on-hand delta, reserved delta, reason) of a variant's movements, oldest first.
async fn movements(client: &Client, variant: i64) -> Vec<(String, i32, i32, String)> {
    client
        .query(
            "select kind, on_hand_delta, reserved_delta, reason from shop.stock_movement
             where variant_id = $1 order by stock_movement_id",
            &[&variant],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

fn m(kind: &str, on_hand: i32, reserved: i32, reason: &str) -> (String, i32, i32, String) {
    (kind.into(), on_hand, reserved, reason.into())
}

#[tokio::test]
async fn stock_adjustments_are_ledger_movements_audited_and_refused_below_the_reserved_units() {
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    ship_to(&client, "SN", "XOF", 2000).await;
    let variant = seed_variant(&client, "SHOE-40", 30000, 4599, Some(5)).await;
    let manager = signed_in(&app, "manager@example.com", Some("manager")).await;
    let customer = signed_in(&app, "c@example.com", None).await;
    let path = format!("/api/v1/admin/variants/{variant}/stock-adjustments");
    let adjust = |body: Value| {
        let (app, manager, path) = (&app, &manager, &path);
        async move { app.call(Method::POST, path, Some(manager), Some(body)).await }
    };
    let received = adjust(json!({"kind": "receipt", "delta": 20, "reason": "delivery 1234"})).await;
    assert_eq!(received.status, StatusCode::CREATED, "{}", received.text());
    assert_eq!(received.json()["qty_on_hand"], 25);
    assert_eq!(received.json()["movements"][0]["kind"], "receipt");
    let counted = adjust(json!({"qty_on_hand": 23, "reason": "stock count"})).await;
    assert_eq!(counted.json()["qty_on_hand"], 23);
    assert_eq!(counted.json()["movements"][0]["on_hand_delta"], -2);
    // Three units go to an order; on hand can then not drop below them.
    let mut guest = Who::guest();
    fill_cart(&client, &mut guest, "XOF", "SN", &[(variant, 3)]).await;
    let body = checkout_body(cart_total(&client, &guest).await);
    guest
        .call(
            &client,
            "select api.checkout($2, $1, $3)::text",
            &[&body, &idem("k", "h")],
        )
        .await
        .unwrap();
    let too_far = adjust(json!({"delta": -21, "reason": "flood"})).await;
    assert_eq!(too_far.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(too_far.problem_code(), "stock_below_reserved");
    let damaged = adjust(json!({"delta": -20, "reason": "flood"})).await;
    assert_eq!(damaged.status, StatusCode::CREATED);
    assert_eq!(
        (
            damaged.json()["qty_on_hand"].as_i64(),
            damaged.json()["available"].as_i64()
        ),
        (Some(3), Some(0))
    );
    for (body, field) in [
        (json!({"delta": -1}), "$.reason"),
        (json!({"delta": 1, "qty_on_hand": 4, "reason": "x"}), "$.delta"),
        (json!({"reason": "x"}), "$.delta"),
        (json!({"delta": 0, "reason": "x"}), "$.delta"),
        (json!({"kind": "receipt", "delta": -1}), "$.delta"),
        (
            json!({"location": "attic", "delta": 1, "reason": "x"}),
            "$.location",
        ),
    ] {
        let r = adjust(body.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(r.problem_code(), "invalid_field", "{body}");
        assert_eq!(r.json()["details"], field, "{body}");
    }
    let theft = adjust(json!({"kind": "theft", "delta": -1, "reason": "x"})).await;
    assert_eq!(theft.problem_code(), "invalid_body", "not a kind of adjustment");
    let missing = app
        .call(
            Method::POST,
            "/api/v1/admin/variants/999999/stock-adjustments",
            Some(&manager),
            Some(json!({"delta": 1, "reason": "x"})),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let forbidden = app
        .call(
            Method::POST,
            &path,
            Some(&customer),
            Some(json!({"delta": 1, "reason": "x"})),
        )
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(
        movements(&client, variant).await,
        vec![
            m("receipt", 5, 0, "initial stock"),
            m("receipt", 20, 0, "delivery 1234"),
            m("adjustment", -2, 0, "stock count"),
            m("reservation", 0, 3, "checkout"),
            m("adjustment", -20, 0, "flood"),
        ]
    );
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.audit_log where action like 'stock.%'"
        )
        .await,
        3
    );
    let shown = app
        .call(
            Method::GET,
            &format!("/api/v1/admin/variants/{variant}/stock"),
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.text());
    assert_eq!(shown.json()["levels"][0]["location"], "main");
    assert_eq!(shown.json()["movements"].as_array().unwrap().len(), 5);
    assert_eq!(
        shown.json()["movements"][1]["order_number"]
            .as_str()
            .map(str::len),
        Some(11)
    );
    assert_consistent(&client).await;
}

#[tokio::test]
async fn setting_on_hand_through_the_variant_and_updating_it_in_psql_both_write_adjustments() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let variant = seed_variant(&client, "HAT", 5000, 900, Some(10)).await;
    let staff = user(&client, "m@example.com", Some("manager")).await;
    let patched = as_role(
        &client,
        &staff.role,
        &staff.claims,
        "select api.update_variant($1, $2)",
        &[
            &variant,
            &json!({"stock": {"qty_on_hand": 14, "low_stock_threshold": 2, "allow_backorder": true}}),
        ],
    )
    .await
    .unwrap();
    let product: Value = patched[0].get(0);
    assert_eq!(product["variants"][0]["stock"]["qty_on_hand"], 14);
    assert_eq!(product["variants"][0]["stock"]["allow_backorder"], true);
    // A DBA's direct write is recorded too.
    client
        .execute(
            "update shop.inventory set qty_on_hand = qty_on_hand - 4 where variant_id = $1",
            &[&variant],
        )
        .await
        .unwrap();
    let actor: Option<uuid::Uuid> = client
        .query_one(
            "select actor_id from shop.stock_movement where reason like 'set through%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(actor.is_some(), "the staff member who changed it");
    assert_eq!(
        movements(&client, variant).await,
        vec![
            m("receipt", 10, 0, "initial stock"),
            m(
                "adjustment",
                4,
                0,
                &format!("set through PATCH /api/v1/admin/variants/{variant}")
            ),
            m("adjustment", -4, 0, "direct update of shop.inventory"),
        ]
    );
    // A null on-hand total is "unchanged", as the document says: the threshold changes,
    // no movement is written.
    let threshold_only = as_role(
        &client,
        &staff.role,
        &staff.claims,
        "select api.update_variant($1, $2)",
        &[
            &variant,
            &json!({"stock": {"qty_on_hand": null, "low_stock_threshold": 7}}),
        ],
    )
    .await
    .unwrap();
    let product: Value = threshold_only[0].get(0);
    assert_eq!(product["variants"][0]["stock"]["qty_on_hand"], 10);
    assert_eq!(product["variants"][0]["stock"]["low_stock_threshold"], 7);
    assert_eq!(movements(&client, variant).await.len(), 3);
    let negative = as_role(
        &client,
        &staff.role,
        &staff.claims,
        "select api.update_variant($1, $2)",
        &[&variant, &json!({"stock": {"qty_on_hand": -1}})],
    )
    .await
    .unwrap_err();
    assert_eq!(sql_error(&negative), ("MA422".into(), "invalid_field".into()));
    assert_consistent(&client).await;
}

#[tokio::test]
async fn checkout_reserves_from_locations_in_priority_order_splitting_a_line_and_skipping_inactive_ones() {
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    ship_to(&client, "SN", "XOF", 2000).await;
    let manager = signed_in(&app, "manager@example.com", Some("manager")).await;
    let variant = seed_variant(&client, "BAG", 20000, 3000, Some(2)).await;
    for (body, status) in [
        (
            json!({"code": "dakar-shop", "name": "Dakar shop", "kind": "shop", "priority": 10}),
            StatusCode::CREATED,
        ),
        (
            json!({"code": "thies", "name": "Thiès depot", "priority": 20}),
            StatusCode::CREATED,
        ),
        (json!({"code": "thies", "name": "Again"}), StatusCode::CONFLICT),
        (
            json!({"code": "Bad Code", "name": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (json!({"name": "no code"}), StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let r = app
            .call(
                Method::POST,
                "/api/v1/admin/stock-locations",
                Some(&manager),
                Some(body.clone()),
            )
            .await;
        assert_eq!(r.status, status, "{body}: {}", r.text());
    }
    let adjust = |location: &'static str, delta: i64| {
        let (app, manager) = (&app, &manager);
        async move {
            let r = app
                .call(
                    Method::POST,
                    &format!("/api/v1/admin/variants/{variant}/stock-adjustments"),
                    Some(manager),
                    Some(json!({"kind": "receipt", "location": location, "delta": delta})),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        }
    };
    adjust("dakar-shop", 3).await;
    adjust("thies", 10).await;
    // main (priority 0) 2, dakar-shop 3, thies 10: 6 units take 2 + 3 + 1.
    let mut first = Who::guest();
    fill_cart(&client, &mut first, "XOF", "SN", &[(variant, 6)]).await;
    let body = checkout_body(cart_total(&client, &first).await);
    first
        .call(
            &client,
            "select api.checkout($2, $1, $3)::text",
            &[&body, &idem("a", "h")],
        )
        .await
        .unwrap();
    assert_eq!(
        held(&client).await,
        vec![("main".into(), 2), ("dakar-shop".into(), 3), ("thies".into(), 1)]
    );
    // Thiès closes: its 9 units still count as on hand but are not reserved any more.
    let locations = app
        .call(Method::GET, "/api/v1/admin/stock-locations", Some(&manager), None)
        .await
        .json();
    let thies = locations
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["code"] == "thies")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let closed = app
        .call(
            Method::PATCH,
            &format!("/api/v1/admin/stock-locations/{thies}"),
            Some(&manager),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.text());
    let mut second = Who::guest();
    fill_cart(&client, &mut second, "XOF", "SN", &[(variant, 1)]).await;
    let body = checkout_body(cart_total(&client, &second).await);
    let refused = second
        .call(
            &client,
            "select api.checkout($2, $1, $3)::text",
            &[&body, &idem("b", "h")],
        )
        .await
        .unwrap_err();
    assert_eq!(refused, ("MA409".into(), "insufficient_stock".into()));
    // Paid, the first order's units leave each location they were held at.
    let id: uuid::Uuid = client
        .query_one("select order_id from shop.customer_order", &[])
        .await
        .unwrap()
        .get(0);
    client
        .query_one("select api.mark_order_paid($1, '{}')::text", &[&id])
        .await
        .unwrap();
    let levels: Vec<(String, i32, i32)> = client
        .query(
            "select s.code, l.qty_on_hand, l.qty_reserved from shop.stock_level l join shop.stock_location s using (stock_location_id) order by s.priority",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        levels,
        vec![
            ("main".into(), 0, 0),
            ("dakar-shop".into(), 0, 0),
            ("thies".into(), 9, 0)
        ]
    );
    assert_consistent(&client).await;
    let unknown = app
        .call(
            Method::PATCH,
            "/api/v1/admin/stock-locations/999999",
            Some(&manager),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_low_stock_report_lists_variants_at_or_below_their_threshold_least_first() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    seed_variant(&client, "PLENTY", 1000, 100, Some(50)).await;
    let low = seed_variant(&client, "LOW", 1000, 100, Some(4)).await;
    seed_variant(&client, "OUT", 1000, 100, Some(0)).await;
    seed_variant(&client, "UNTRACKED", 1000, 100, None).await;
    client
        .execute(
            "update shop.inventory set low_stock_threshold = 5 where variant_id = $1",
            &[&low],
        )
        .await
        .unwrap();
    let rows: Vec<(String, i32, Value)> = client
        .query(
            "select sku, available, available_by_location from report.low_stock",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("OUT".into(), 0, json!({"main": 0})),
            ("LOW".into(), 4, json!({"main": 4}))
        ]
    );
    assert_eq!(
        count(&client, "select count(*) from report.stock_inconsistencies").await,
        0
    );
    // The DBA view of the same consistency check notices a hand-made mistake.
    client
        .execute(
            "update shop.stock_level set qty_reserved = 1 where variant_id = $1",
            &[&low],
        )
        .await
        .unwrap();
    assert!(count(&client, "select count(*) from report.stock_inconsistencies").await >= 2);
}

/// Units held by live reservations per location, in priority order.
async fn held(client: &Client) -> Vec<(String, i32)> {
    client
        .query(
            "select s.code, sum(r.quantity)::int from shop.stock_reservation r join shop.stock_location s using (stock_location_id)
             where r.status = 'active' group by s.code, s.priority order by s.priority",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, i32>(1)))
        .collect()
}

#[tokio::test]
async fn a_variant_gaining_a_second_location_while_a_reservation_waits_is_split_by_the_general_path() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let variant = seed_variant(&client, "RACE-SPLIT", 1000, 100, Some(3)).await;
    client
        .batch_execute("insert into shop.stock_location (code, name, priority) values ('annex', 'Annex', 5)")
        .await
        .unwrap();
    // An order of 3 units, written as checkout writes it before it reserves.
    let order: uuid::Uuid = client
        .query_one(
            "with o as (insert into shop.customer_order (email, currency_code, subtotal_amount, total_amount)
                        values ('x@example.com', 'XOF', 3000, 3000) returning order_id),
                  i as (insert into shop.order_item (order_id, variant_id, product_title, variant_name, sku, quantity,
                                                     unit_amount, subtotal_amount, total_amount)
                        select order_id, $1, 'P', 'V', 'RACE-SPLIT', 3, 1000, 3000, 3000 from o)
             select order_id from o",
            &[&variant],
        )
        .await
        .unwrap()
        .get(0);
    // A stock move holds the variant's lock while the reservation starts: the
    // reservation saw one level with 3 units; once it gets the lock, main has 1 and the
    // annex 5.
    let receiver = db.connect().await;
    receiver
        .batch_execute(&format!(
            "begin; select from shop.inventory where variant_id = {variant} for update"
        ))
        .await
        .unwrap();
    let reserver = db.connect().await;
    let pid: i32 = reserver
        .query_one("select pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    let running = tokio::spawn(async move {
        reserver
            .query_one("select api._reserve_order_stock($1)::text", &[&order])
            .await
            .map(|_| ())
    });
    maef_tests::eventually(std::time::Duration::from_secs(10), "the reservation waiting for the lock", || {
        let client = &client;
        async move {
            client
                .query_one(
                    "select exists (select from pg_stat_activity where pid = $1 and wait_event_type = 'Lock')",
                    &[&pid],
                )
                .await
                .unwrap()
                .get(0)
        }
    })
    .await;
    receiver
        .batch_execute(&format!(
            "select api._adjust_stock({variant}, (select stock_location_id from shop.stock_location where code = 'annex'),
                                     'receipt', 5, 'delivery');
             select api._adjust_stock({variant}, (select stock_location_id from shop.stock_location where code = 'main'),
                                     'adjustment', -2, 'moved to the annex'); commit"
        ))
        .await
        .unwrap();
    running.await.unwrap().unwrap();
    assert_eq!(held(&client).await, vec![("main".into(), 1), ("annex".into(), 2)]);
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.stock_movement where kind = 'reservation'"
        )
        .await,
        2,
        "the fast path's rows were undone"
    );
    assert_consistent(&client).await;
}

/// Checks a guest cart of `quantity` units of `variant` out through `api.checkout`.
async fn guest_checkout(
    client: &Client,
    variant: i64,
    quantity: i32,
    key: &str,
) -> Result<Value, (String, String)> {
    let mut guest = Who::guest();
    fill_cart(client, &mut guest, "XOF", "SN", &[(variant, quantity)]).await;
    let body = checkout_body(cart_total(client, &guest).await);
    guest
        .call(
            client,
            "select api.checkout($2, $1, $3)::text",
            &[&body, &idem(key, "h")],
        )
        .await
}

/// Stock slots of a hot variant: set over HTTP (0 to 64), filled on the locked path with
/// the units beyond the low-stock threshold + 1, taken by the next checkouts; shown to
/// staff apart from what orders hold, invisible to shoppers (availability, the cart's
/// quantity check, the product page), and taken back by a count, a closed location or a
/// tampering check.
#[tokio::test]
async fn a_hot_variants_stock_slots_are_set_over_http_and_invisible_to_shoppers() {
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    ship_to(&client, "SN", "XOF", 2000).await;
    let variant = seed_variant(&client, "FLASH-TEE", 5000, 900, Some(20)).await;
    let manager = signed_in(&app, "manager@example.com", Some("manager")).await;
    let patch = |body: Value| {
        let (app, manager) = (&app, &manager);
        async move {
            app.call(
                Method::PATCH,
                &format!("/api/v1/admin/variants/{variant}"),
                Some(manager),
                Some(body),
            )
            .await
        }
    };
    let stock = || {
        let (app, manager) = (&app, &manager);
        async move {
            let reply = app
                .call(
                    Method::GET,
                    &format!("/api/v1/admin/variants/{variant}/stock"),
                    Some(manager),
                    None,
                )
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
            reply.json()
        }
    };
    let too_many = patch(json!({"stock": {"reservation_slots": 65}})).await;
    assert_eq!(
        too_many.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        too_many.text()
    );
    assert_eq!(too_many.problem_code(), "invalid_field");
    assert_eq!(too_many.json()["details"], "$.stock.reservation_slots");
    let set = patch(json!({"stock": {"reservation_slots": 4, "low_stock_threshold": 5}})).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    assert_eq!(set.json()["variants"][0]["stock"]["reservation_slots"], 4);

    // The first checkout takes the locked path and parks 20 - 2 - (5 + 1) = 12 units.
    guest_checkout(&client, variant, 2, "k1").await.unwrap();
    let s = stock().await;
    assert_eq!(
        (
            &s["qty_on_hand"],
            &s["qty_reserved"],
            &s["qty_in_slots"],
            &s["available"],
            &s["reservation_slots"]
        ),
        (&json!(20), &json!(2), &json!(12), &json!(18), &json!(4))
    );
    assert_eq!(s["levels"][0]["qty_in_slots"], 12);
    assert_eq!(s["levels"][0]["available"], 18);
    assert_eq!(s["movements"][0]["kind"], "slot_fill");
    assert_eq!(s["movements"][0]["slot_delta"], 12);
    // The next one takes its unit from a slot.
    guest_checkout(&client, variant, 1, "k2").await.unwrap();
    let s = stock().await;
    assert_eq!(
        (&s["qty_reserved"], &s["qty_in_slots"], &s["available"]),
        (&json!(3), &json!(11), &json!(17))
    );
    assert_eq!(
        (
            &s["movements"][0]["kind"],
            &s["movements"][0]["reserved_delta"],
            &s["movements"][0]["slot_delta"]
        ),
        (&json!("reservation"), &json!(1), &json!(-1))
    );
    // Shoppers see the parked units as available: 17 fit in a cart, 18 do not.
    let page = app
        .call(Method::GET, "/api/v1/products/flash-tee", None, None)
        .await;
    assert_eq!(page.json()["variants"][0]["stock_status"], "in_stock");
    let mut shopper = Who::guest();
    fill_cart(&client, &mut shopper, "XOF", "SN", &[(variant, 17)]).await;
    let over = shopper
        .call(
            &client,
            "select api.cart_add_item($2, $3, $1)::text",
            &[&variant, &1],
        )
        .await
        .unwrap_err();
    assert_eq!(over, ("MA422".into(), "insufficient_stock".into()));
    // The product's admin document says the same as the stock route.
    let product = patch(json!({"stock": {"reservation_slots": 4}})).await.json();
    assert_eq!(product["variants"][0]["stock"]["qty_reserved"], 3);
    assert_eq!(product["variants"][0]["stock"]["qty_in_slots"], 11);

    // A count lower than the free units takes the parked units back first.
    let counted = patch(json!({"stock": {"qty_on_hand": 5}})).await;
    assert_eq!(counted.status, StatusCode::OK, "{}", counted.text());
    let s = stock().await;
    assert_eq!(
        (
            &s["qty_on_hand"],
            &s["qty_reserved"],
            &s["qty_in_slots"],
            &s["available"]
        ),
        (&json!(5), &json!(3), &json!(0), &json!(2))
    );
    let low: Vec<String> = maef_tests::column(
        &client,
        "select format('%s %s', sku, available) from report.low_stock",
    )
    .await;
    assert_eq!(low, vec!["FLASH-TEE 2".to_string()]);

    // Restocked, parked again by the next checkout; closing the location takes its
    // parked units back, and nothing can be reserved from it.
    patch(json!({"stock": {"qty_on_hand": 40}})).await;
    guest_checkout(&client, variant, 1, "k3").await.unwrap();
    assert_eq!(stock().await["qty_in_slots"], 40 - 4 - 6);
    let main: i64 = client
        .query_one(
            "select stock_location_id from shop.stock_location where code = 'main'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let closed = app
        .call(
            Method::PATCH,
            &format!("/api/v1/admin/stock-locations/{main}"),
            Some(&manager),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.text());
    assert_eq!(stock().await["qty_in_slots"], 0);
    let refused = guest_checkout(&client, variant, 1, "k4").await.unwrap_err();
    assert_eq!(refused, ("MA409".into(), "insufficient_stock".into()));
    assert_consistent(&client).await;

    // The ledger refuses deltas its kind may not have (a reservation from a slot moves
    // exactly its units out of the slots).
    for (kind, reserved, slot) in [
        ("reservation", 1, -2),
        ("slot_fill", 0, -1),
        ("slot_drain", 1, -1),
    ] {
        let refused = client
            .execute(
                "insert into shop.stock_movement (variant_id, stock_location_id, kind, reserved_delta, slot_delta)
                 values ($1, $2, $3, $4, $5)",
                &[&variant, &main, &kind, &reserved, &slot],
            )
            .await
            .unwrap_err();
        assert_eq!(
            sql_error(&refused).1,
            "stock_movement_kind_deltas",
            "{kind} {reserved} {slot}"
        );
    }

    // The consistency check notices a slot changed by hand.
    client
        .execute(
            "update shop.stock_slot set qty_free = 3 where variant_id = $1 and slot = 0",
            &[&variant],
        )
        .await
        .unwrap();
    let problems: Vec<String> =
        maef_tests::column(&client, "select problem from report.stock_inconsistencies").await;
    assert!(
        problems.contains(&"parked units differ from ledger".to_string())
            && problems.contains(&"reserved differs from live reservations and parked units".to_string()),
        "{problems:?}"
    );
}
