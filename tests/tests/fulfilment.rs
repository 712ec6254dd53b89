//! Shipments and cancellations over HTTP against the real database: partial shipments up
//! to the ordered quantity and no further (two hundred staff racing for the last units),
//! the shipment machine and the order following it, what the customer sees, signed
//! carrier webhooks (valid, forged, stale, replayed, out of order, unknown), staff
//! cancellations refunding exactly the cancelled lines (hand-computed with a percentage
//! coupon and tax-inclusive prices in XOF and EUR), customer cancellations within the
//! window, and concurrent cancellations — each followed by the consistency queries.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{Method, StatusCode};
use futures::future::join_all;
use maef_tests::{
    count,
    fake_provider::Fault,
    fake_stripe::{self, FakeStripe},
    fulfilment::{
        assert_fulfilment_consistent, carrier_event, move_shipment, paid_order, place, post_keyed,
        send_carrier_event, ship, shop, variant, Shop,
    },
    shop::{user, Who},
};
use serde_json::{json, Value};

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

async fn order_states(shop: &Shop, number: &str) -> (String, String) {
    let row = shop
        .client
        .query_one(
            "select status, fulfillment_status from shop.customer_order where order_number = $1",
            &[&number],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn a_line_ships_across_parcels_up_to_the_ordered_quantity_and_no_further() {
    let shop = shop().await;
    let robe = variant(&shop.client, "ROBE", 15000, 2299, 20).await;
    let pagne = variant(&shop.client, "PAGNE", 8000, 1250, 20).await;
    let order = paid_order(&shop, "XOF", "SN", &[(robe, 3), (pagne, 1)]).await;
    let (robe_line, pagne_line) = (order.lines[0].0, order.lines[1].0);

    let first = ship(
        &shop.app,
        &shop.staff,
        &order.number,
        &[(robe_line, 2)],
        Some("JD0001"),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    let first = first.json();
    assert_eq!(first["shipment"]["status"], "pending");
    assert_eq!(
        first["shipment"]["tracking_url"],
        "https://www.dhl.com/global-en/home/tracking/tracking-express.html?submit=1&tracking-id=JD0001"
    );
    assert_eq!(first["order"]["fulfillment_status"], "partially_fulfilled");
    assert_eq!(first["order"]["lines"][0]["quantity_shipped"], 2);

    // Two more of a line with one left: refused, naming the counts; nothing written.
    let over = ship(&shop.app, &shop.staff, &order.number, &[(robe_line, 2)], None).await;
    assert_eq!(over.status, StatusCode::CONFLICT, "{}", over.text());
    assert_eq!(over.problem_code(), "shipment_quantity_exceeds");
    let details: Value = serde_json::from_str(over.json()["details"].as_str().unwrap()).unwrap();
    assert_eq!(
        details,
        json!({"order_item_id": robe_line, "ordered": 3, "shipped": 2, "cancelled": 0, "requested": 2})
    );
    assert_eq!(count(&shop.client, "select count(*) from shop.shipment").await, 1);

    let second = ship(
        &shop.app,
        &shop.staff,
        &order.number,
        &[(robe_line, 1), (pagne_line, 1)],
        Some("JD0002"),
    )
    .await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text());
    assert_eq!(second.json()["order"]["fulfillment_status"], "fulfilled");
    assert_eq!(
        order_states(&shop, &order.number).await,
        ("fulfilled".into(), "fulfilled".into())
    );
    let nothing_left = ship(&shop.app, &shop.staff, &order.number, &[(pagne_line, 1)], None).await;
    assert_eq!(
        nothing_left.status,
        StatusCode::CONFLICT,
        "{}",
        nothing_left.text()
    );
    assert_eq!(nothing_left.problem_code(), "order_not_shippable");

    // The machine: pending cannot be delivered; shipped → in transit → delivered.
    let (one, two) = (
        first["shipment"]["id"].as_i64().unwrap(),
        second.json()["shipment"]["id"].as_i64().unwrap(),
    );
    let skip = move_shipment(&shop.app, &shop.staff, one, "delivered").await;
    assert_eq!(skip.status, StatusCode::CONFLICT, "{}", skip.text());
    assert_eq!(skip.problem_code(), "shipment_transition_invalid");
    for status in ["shipped", "in_transit", "delivered"] {
        let moved = move_shipment(&shop.app, &shop.staff, one, status).await;
        assert_eq!(moved.status, StatusCode::OK, "{}", moved.text());
        assert_eq!(moved.json()["shipment"]["status"], status, "the answer shows it");
    }
    // One parcel delivered of two: the order is not delivered yet.
    assert_eq!(
        order_states(&shop, &order.number).await,
        ("fulfilled".into(), "fulfilled".into())
    );
    let mut moved = None;
    for status in ["shipped", "delivered"] {
        let reply = move_shipment(&shop.app, &shop.staff, two, status).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(reply.json()["shipment"]["status"], status);
        moved = Some(reply.json());
    }
    // The last answer already shows the order delivered, as the database does.
    assert_eq!(moved.unwrap()["order"]["status"], "delivered");
    assert_eq!(
        order_states(&shop, &order.number).await,
        ("delivered".into(), "delivered".into())
    );

    // The customer's order page: shipments, lines, tracking URLs and the timeline.
    let page = maef_tests::fulfilment::get_with_token(
        &shop.app,
        &format!("/api/v1/orders/{}", order.number),
        &order.token,
        "application/json",
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let page = page.json();
    assert_eq!(page["shipments"].as_array().unwrap().len(), 2);
    assert_eq!(page["shipments"][1]["lines"].as_array().unwrap().len(), 2);
    assert!(page["shipments"][1]["tracking_url"]
        .as_str()
        .unwrap()
        .ends_with("JD0002"));
    assert_eq!(page["lines"][0]["quantity_shipped"], 3);
    let kinds: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "shipment").count(), 2 + 5);

    // Each change: an event and an e-mail to the customer.
    assert_eq!(
        count(
            &shop.client,
            "select count(*) from shop.event where type = 'shipment.shipped'"
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &shop.client,
            "select count(*) from shop.event where type = 'shipment.delivered'"
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &shop.client,
            "select count(*) from shop.event where type = 'order.delivered'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&shop.client, "select count(*) from shop.email_message where kind in ('order_shipped', 'order_delivered', 'shipment_update')").await,
        2 + 2 + 1
    );
    assert_fulfilment_consistent(&shop.client).await;
}

#[tokio::test]
async fn what_cannot_ship_is_refused_with_a_clear_problem() {
    let shop = shop().await;
    let robe = variant(&shop.client, "ROBE", 15000, 2299, 20).await;
    let unpaid = place(&shop.client, "XOF", "SN", &[(robe, 1)], None).await;
    let line = unpaid.lines[0].0;

    let refused = ship(&shop.app, &shop.staff, &unpaid.number, &[(line, 1)], None).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text());
    assert_eq!(refused.problem_code(), "order_not_shippable");

    let customer = maef_tests::shop::signed_in(&shop.app, "c@example.com", None).await;
    assert_eq!(
        ship(&shop.app, &customer, &unpaid.number, &[(line, 1)], None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let anonymous = shop
        .app
        .call(
            Method::POST,
            &format!("/api/v1/admin/orders/{}/shipments", unpaid.number),
            None,
            Some(json!({"carrier": "dhl", "lines": [{"order_item_id": line, "quantity": 1}]})),
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    let paid = paid_order(&shop, "XOF", "SN", &[(robe, 2)]).await;
    let paid_line = paid.lines[0].0;
    for (body, path) in [
        (
            json!({"carrier": "pigeon", "lines": [{"order_item_id": paid_line, "quantity": 1}]}),
            "$.carrier",
        ),
        (
            json!({"carrier": "dhl", "lines": [{"order_item_id": line, "quantity": 1}]}),
            "$.lines[0].order_item_id",
        ),
        (
            json!({"carrier": "dhl", "lines": [{"order_item_id": paid_line, "quantity": 1},
                                            {"order_item_id": paid_line, "quantity": 1}]}),
            "$.lines[1].order_item_id",
        ),
        (
            json!({"carrier": "dhl", "location": "nowhere", "lines": [{"order_item_id": paid_line, "quantity": 1}]}),
            "$.location",
        ),
    ] {
        let r = shop
            .app
            .call(
                Method::POST,
                &format!("/api/v1/admin/orders/{}/shipments", paid.number),
                Some(&shop.staff),
                Some(body),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        assert_eq!(r.json()["details"], path, "{}", r.text());
    }
    let empty = shop
        .app
        .call(
            Method::POST,
            &format!("/api/v1/admin/orders/{}/shipments", paid.number),
            Some(&shop.staff),
            Some(json!({"carrier": "dhl", "lines": []})),
        )
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", empty.text());

    // A tracking number is one parcel's.
    assert_eq!(
        ship(
            &shop.app,
            &shop.staff,
            &paid.number,
            &[(paid_line, 1)],
            Some("T1")
        )
        .await
        .status,
        StatusCode::CREATED
    );
    let taken = ship(
        &shop.app,
        &shop.staff,
        &paid.number,
        &[(paid_line, 1)],
        Some("T1"),
    )
    .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert_eq!(taken.problem_code(), "tracking_number_taken");

    // A cancelled order ships nothing.
    let cancelled = paid_order(&shop, "XOF", "SN", &[(robe, 1)]).await;
    let c = post_keyed(
        &shop.app,
        &format!("/api/v1/admin/orders/{}/cancellations", cancelled.number),
        Some(&shop.staff),
        Some("k-cancel"),
        json!({"reason": "customer called"}),
    )
    .await;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.text());
    let after = ship(
        &shop.app,
        &shop.staff,
        &cancelled.number,
        &[(cancelled.lines[0].0, 1)],
        None,
    )
    .await;
    assert_eq!(after.status, StatusCode::CONFLICT);
    assert_eq!(after.problem_code(), "order_not_shippable");
    assert_fulfilment_consistent(&shop.client).await;
}

#[tokio::test]
async fn two_hundred_staff_shipping_the_last_units_of_a_line_ship_it_exactly_once() {
    let shop = shop().await;
    let robe = variant(&shop.client, "ROBE", 15000, 2299, 100).await;
    let order = paid_order(&shop, "XOF", "SN", &[(robe, 50)]).await;
    let line = order.lines[0].0;
    let replies = join_all((0..200).map(|i| {
        let app = &shop.app;
        let staff = &shop.staff;
        let number = &order.number;
        async move { ship(app, staff, number, &[(line, 1)], Some(&format!("RACE{i}"))).await }
    }))
    .await;
    let shipped = replies.iter().filter(|r| r.status == StatusCode::CREATED).count();
    // Refused: more than is left (shipment_quantity_exceeds), or nothing left at all
    // (the order is fulfilled: order_not_shippable).
    let refused = replies
        .iter()
        .filter(|r| {
            r.status == StatusCode::CONFLICT
                && matches!(
                    r.problem_code().as_str(),
                    "shipment_quantity_exceeds" | "order_not_shippable"
                )
        })
        .count();
    assert_eq!(
        (shipped, refused),
        (50, 150),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(
        count(
            &shop.client,
            "select sum(quantity)::bigint from shop.shipment_item"
        )
        .await,
        50
    );
    assert_eq!(order_states(&shop, &order.number).await.1, "fulfilled");
    assert_fulfilment_consistent(&shop.client).await;
}

async fn shipment_status(shop: &Shop, id: i64) -> String {
    shop.client
        .query_one("select status from shop.shipment where shipment_id = $1", &[&id])
        .await
        .unwrap()
        .get(0)
}

/// An RFC 3339 instant `minutes` ago, as the database's clock says.
async fn minutes_ago(shop: &Shop, minutes: i32) -> String {
    shop.client
        .query_one(
            "select to_char((now() - make_interval(mins => $1)) at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
            &[&minutes],
        )
        .await
        .unwrap()
        .get(0)
}

/// Creates carrier `code` through the API and returns its signing secret.
async fn carrier(shop: &Shop, code: &str) -> String {
    let made = shop
        .app
        .call(Method::POST, "/api/v1/admin/carriers", Some(&shop.admin),
              Some(json!({"code": code, "name": "Speedy", "tracking_url_template": "https://speedy.example/t/{tracking}"})))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    made.json()["secret"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn carrier_webhooks_move_shipments_only_when_signed_fresh_and_new() {
    let shop = shop().await;
    let robe = variant(&shop.client, "ROBE", 15000, 2299, 20).await;
    let secret = carrier(&shop, "speedy").await;
    // Staff need orders:write:any for shipments, carriers:admin for carriers.
    let denied = shop
        .app
        .call(
            Method::POST,
            "/api/v1/admin/carriers",
            Some(&shop.staff),
            Some(json!({"code": "x", "name": "X"})),
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);

    let order = paid_order(&shop, "XOF", "SN", &[(robe, 1)]).await;
    let made = shop
        .app
        .call(
            Method::POST,
            &format!("/api/v1/admin/orders/{}/shipments", order.number),
            Some(&shop.staff),
            Some(json!({"carrier": "speedy", "tracking_number": "SP 42/A",
                          "lines": [{"order_item_id": order.lines[0].0, "quantity": 1}]})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    assert_eq!(
        made.json()["shipment"]["tracking_url"],
        "https://speedy.example/t/SP%2042%2FA"
    );
    let id = made.json()["shipment"]["id"].as_i64().unwrap();
    assert_eq!(
        move_shipment(&shop.app, &shop.staff, id, "shipped").await.status,
        StatusCode::OK
    );
    // The parcel left four hours ago; the carrier reports since then.
    shop.client
        .execute(
            "update shop.shipment set shipped_at = now() - interval '4 hours' where shipment_id = $1",
            &[&id],
        )
        .await
        .unwrap();

    let event = |id: &str, status: &str, at: &str| json!({"id": id, "tracking_number": "SP 42/A", "status": status, "occurred_at": at});

    // Forged (another secret), stale, missing, malformed: 400, nothing changes.
    let in_transit = event("evt_1", "in_transit", &minutes_ago(&shop, 120).await);
    let (body, forged) = carrier_event("whsec_not_the_secret_at_all_00000000000", now(), &in_transit);
    let r = send_carrier_event(&shop.app, "speedy", Some(&forged), body.clone()).await;
    assert_eq!(
        (r.status, r.problem_code().as_str()),
        (StatusCode::BAD_REQUEST, "invalid_signature")
    );
    let (_, stale) = carrier_event(&secret, now() - 3600, &in_transit);
    let r = send_carrier_event(&shop.app, "speedy", Some(&stale), body.clone()).await;
    assert_eq!(
        (r.status, r.problem_code().as_str()),
        (StatusCode::BAD_REQUEST, "invalid_signature")
    );
    assert!(
        r.json()["message"].as_str().unwrap().contains("tolerance"),
        "{}",
        r.text()
    );
    let r = send_carrier_event(&shop.app, "speedy", None, body.clone()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = send_carrier_event(&shop.app, "speedy", Some("t=abc"), body.clone()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // A valid signature over a changed body is forged too.
    let (_, signed) = carrier_event(&secret, now(), &in_transit);
    let mut changed = body.clone();
    changed.extend_from_slice(b" ");
    assert_eq!(
        send_carrier_event(&shop.app, "speedy", Some(&signed), changed)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(shipment_status(&shop, id).await, "shipped");
    let r = send_carrier_event(&shop.app, "nobody", Some(&signed), body.clone()).await;
    assert_eq!(
        (r.status, r.problem_code().as_str()),
        (StatusCode::NOT_FOUND, "carrier_not_found")
    );

    // Valid: applied once; the same event again is a duplicate.
    let r = send_carrier_event(&shop.app, "speedy", Some(&signed), body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json(), json!({"outcome": "applied", "shipment_id": id}));
    assert_eq!(shipment_status(&shop, id).await, "in_transit");
    let (body2, signed2) = carrier_event(&secret, now(), &in_transit);
    let r = send_carrier_event(&shop.app, "speedy", Some(&signed2), body2).await;
    assert_eq!(r.json()["outcome"], "duplicate");

    // Out of order: an event older than the last change is kept as stale.
    let older = event("evt_0", "shipped", &minutes_ago(&shop, 180).await);
    let (b, s) = carrier_event(&secret, now(), &older);
    assert_eq!(
        send_carrier_event(&shop.app, "speedy", Some(&s), b).await.json()["outcome"],
        "stale"
    );
    // An unknown parcel is kept, not applied.
    let unknown = json!({"id": "evt_9", "tracking_number": "NOPE", "status": "delivered"});
    let (b, s) = carrier_event(&secret, now(), &unknown);
    assert_eq!(
        send_carrier_event(&shop.app, "speedy", Some(&s), b).await.json()["outcome"],
        "unknown_shipment"
    );
    // An unreadable event (signed) is 400 invalid_event.
    let (b, s) = carrier_event(&secret, now(), &json!({"id": "evt_x", "status": "lost"}));
    let r = send_carrier_event(&shop.app, "speedy", Some(&s), b).await;
    assert_eq!(
        (r.status, r.problem_code().as_str()),
        (StatusCode::BAD_REQUEST, "invalid_event")
    );

    // A rotated secret: the old one still verifies during the overlap, the new one too.
    let rotated = shop
        .app
        .call(
            Method::POST,
            "/api/v1/admin/carriers/speedy/rotate-secret",
            Some(&shop.admin),
            None,
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text());
    let new_secret = rotated.json()["secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, secret);
    let delivered = event("evt_2", "delivered", &minutes_ago(&shop, 60).await);
    let (b, s) = carrier_event(&secret, now(), &delivered);
    let r = send_carrier_event(&shop.app, "speedy", Some(&s), b).await;
    assert_eq!(r.json()["outcome"], "applied", "{}", r.text());
    assert_eq!(shipment_status(&shop, id).await, "delivered");
    assert_eq!(
        order_states(&shop, &order.number).await,
        ("delivered".into(), "delivered".into())
    );
    let late = event("evt_3", "in_transit", &minutes_ago(&shop, 30).await);
    let (b, s) = carrier_event(&new_secret, now(), &late);
    assert_eq!(
        send_carrier_event(&shop.app, "speedy", Some(&s), b).await.json()["outcome"],
        "transition_refused"
    );
    // Each event is stored once, and the staff view lists them.
    let detail = shop
        .app
        .call(
            Method::GET,
            &format!("/api/v1/admin/shipments/{id}"),
            Some(&shop.staff),
            None,
        )
        .await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.text());
    assert_eq!(detail.json()["carrier_events"].as_array().unwrap().len(), 4);
    assert_eq!(
        count(&shop.client, "select count(*) from shop.carrier_event").await,
        5
    );
    // Secrets never leave: the carrier list shows dates only.
    let list = shop
        .app
        .call(Method::GET, "/api/v1/admin/carriers", Some(&shop.staff), None)
        .await;
    assert!(!list.text().contains("whsec_"), "{}", list.text());
    assert_fulfilment_consistent(&shop.client).await;
}

/// A 10 % coupon on items.
async fn coupon(shop: &Shop, code: &str) {
    shop.client
        .execute(
            "with p as (insert into shop.promotion (name, rules) values ('Promo ' || $1, $2) returning promotion_id)
             insert into shop.coupon (promotion_id, code) select promotion_id, $1 from p",
            &[&code, &json!({"conditions": {"coupon_required": true},
                             "action": {"type": "percent_off_items", "percent": 10}})],
        )
        .await
        .unwrap();
}

async fn cancel(shop: &Shop, number: &str, key: &str, body: Value) -> maef_tests::http::Reply {
    post_keyed(
        &shop.app,
        &format!("/api/v1/admin/orders/{number}/cancellations"),
        Some(&shop.staff),
        Some(key),
        body,
    )
    .await
}

#[tokio::test]
async fn cancelling_lines_refunds_exactly_them_with_coupon_and_tax_included_in_xof_and_eur() {
    let shop = shop().await;
    coupon(&shop, "TEN").await;
    let robe = variant(&shop.client, "ROBE", 15000, 2299, 20).await;
    let pagne = variant(&shop.client, "PAGNE", 8000, 1250, 20).await;
    for (currency, country, expected) in [
        // XOF: robe 2 × 15,000 and pagne 8,000; 10 % off → robe line 27,000, pagne 7,200
        // (tax included: the refund is the lines' totals). Cancelling 1 robe refunds
        // 27,000 / 2 = 13,500; then the pagne: 7,200; then the last robe: 13,500 and the
        // shipping 2,000 (nothing left to ship).
        ("XOF", "SN", [13_500i64, 7_200, 13_500 + 2_000]),
        // EUR: robe 2 × 22.99 = 45.98 → 41.38 after 10 % (4.598 rounded: 4.60 off), pagne
        // 12.50 → 11.25. One robe: floor(4138 / 2) = 2069; the pagne 1125; the last robe
        // 4138 − 2069 = 2069 and the shipping 500.
        ("EUR", "FR", [2_069, 1_125, 2_069 + 500]),
    ] {
        let order = place(
            &shop.client,
            currency,
            country,
            &[(robe, 2), (pagne, 1)],
            Some("TEN"),
        )
        .await;
        maef_tests::fulfilment::pay(&shop.client, &shop.staff_who, &order).await;
        let (robe_line, pagne_line) = (order.lines[0].0, order.lines[1].0);
        let (robe_total, pagne_total): (i64, i64) = {
            let r = shop
                .client
                .query_one(
                    "select (select total_amount from shop.order_item where order_item_id = $1),
                        (select total_amount from shop.order_item where order_item_id = $2)",
                    &[&robe_line, &pagne_line],
                )
                .await
                .unwrap();
            (r.get(0), r.get(1))
        };
        assert_eq!(
            (robe_total, pagne_total),
            (expected[0] * 2, expected[1]),
            "{currency}: the coupon's allocation"
        );

        let one = cancel(
            &shop,
            &order.number,
            &format!("{currency}-1"),
            json!({"lines": [{"order_item_id": robe_line, "quantity": 1}], "reason": "out of stock"}),
        )
        .await;
        assert_eq!(one.status, StatusCode::CREATED, "{}", one.text());
        let one = one.json();
        assert_eq!(one["refund"]["amount"], expected[0], "{currency}");
        assert_eq!(one["refund"]["status"], "succeeded");
        assert_eq!(one["refund"]["method"], "manual");
        assert_eq!(one["whole_order"], false);
        assert_eq!(one["order"]["lines"][0]["quantity_cancelled"], 1);
        // The same key again: the same cancellation, nothing more refunded.
        let again = cancel(
            &shop,
            &order.number,
            &format!("{currency}-1"),
            json!({"lines": [{"order_item_id": robe_line, "quantity": 1}], "reason": "out of stock"}),
        )
        .await;
        assert_eq!(again.status, StatusCode::CREATED, "{}", again.text());
        assert_eq!(again.json()["id"], one["id"]);

        let two = cancel(
            &shop,
            &order.number,
            &format!("{currency}-2"),
            json!({"lines": [{"order_item_id": pagne_line, "quantity": 1}], "reason": "damaged"}),
        )
        .await;
        assert_eq!(two.json()["refund"]["amount"], expected[1], "{}", two.text());
        let three = cancel(
            &shop,
            &order.number,
            &format!("{currency}-3"),
            json!({"lines": [{"order_item_id": robe_line, "quantity": 1}], "reason": "out of stock"}),
        )
        .await;
        let three = three.json();
        assert_eq!(three["refund"]["amount"], expected[2], "{three}");
        assert_eq!(three["whole_order"], true);
        assert_eq!(three["refund"]["shipping"], true);
        assert_eq!(
            (&three["order"]["status"], &three["order"]["payment_status"]),
            (&json!("cancelled"), &json!("refunded")),
            "the answer shows the order as it now is"
        );
        let refunded: i64 = shop.client.query_one(
            "select sum(r.amount)::bigint from shop.refund r join shop.customer_order o using (order_id) where o.order_number = $1",
            &[&order.number]).await.unwrap().get(0);
        assert_eq!(
            refunded, order.total,
            "{currency}: everything cancelled, everything refunded"
        );
        let row = shop
            .client
            .query_one(
                "select status, payment_status from shop.customer_order where order_number = $1",
                &[&order.number],
            )
            .await
            .unwrap();
        assert_eq!(
            (row.get::<_, String>(0), row.get::<_, String>(1)),
            ("cancelled".into(), "refunded".into())
        );
        // The coupon use came back with the whole order.
        assert_eq!(count(&shop.client, &format!(
            "select count(*) from shop.coupon_redemption r join shop.customer_order o using (order_id) where o.order_number = '{}'",
            order.number)).await, 0);
    }
    assert_eq!(
        count(
            &shop.client,
            "select times_used::bigint from shop.coupon where code = 'TEN'"
        )
        .await,
        0
    );
    // Stock: every unit back on hand through cancellation movements.
    assert_eq!(
        count(
            &shop.client,
            "select sum(qty_on_hand)::bigint from shop.inventory"
        )
        .await,
        40
    );
    assert_eq!(
        count(
            &shop.client,
            "select count(*) from shop.stock_movement where kind = 'cancellation' and on_hand_delta > 0"
        )
        .await,
        6
    );
    assert_fulfilment_consistent(&shop.client).await;
}

#[tokio::test]
async fn what_cannot_be_cancelled_is_refused_and_customers_cancel_within_the_window() {
    let shop = shop().await;
    let robe = variant(&shop.client, "ROBE", 15000, 2299, 20).await;
    let order = paid_order(&shop, "XOF", "SN", &[(robe, 2)]).await;
    let line = order.lines[0].0;
    assert_eq!(
        ship(&shop.app, &shop.staff, &order.number, &[(line, 1)], None)
            .await
            .status,
        StatusCode::CREATED
    );

    let whole = cancel(&shop, &order.number, "a", json!({"reason": "too late"})).await;
    assert_eq!(
        (whole.status, whole.problem_code().as_str()),
        (StatusCode::CONFLICT, "order_already_shipped")
    );
    let too_many = cancel(
        &shop,
        &order.number,
        "b",
        json!({"lines": [{"order_item_id": line, "quantity": 2}], "reason": "x"}),
    )
    .await;
    assert_eq!(
        (too_many.status, too_many.problem_code().as_str()),
        (StatusCode::CONFLICT, "cancel_quantity_exceeds")
    );
    let no_key = post_keyed(
        &shop.app,
        &format!("/api/v1/admin/orders/{}/cancellations", order.number),
        Some(&shop.staff),
        None,
        json!({"reason": "x"}),
    )
    .await;
    assert_eq!(
        (no_key.status, no_key.problem_code().as_str()),
        (StatusCode::BAD_REQUEST, "idempotency_key_required")
    );
    let no_reason = cancel(&shop, &order.number, "c", json!({"reason": " "})).await;
    assert_eq!(
        no_reason.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        no_reason.text()
    );
    let reused = cancel(
        &shop,
        &order.number,
        "d",
        json!({"lines": [{"order_item_id": line, "quantity": 1}], "reason": "x"}),
    )
    .await;
    assert_eq!(reused.status, StatusCode::CREATED, "{}", reused.text());
    let other_body = cancel(
        &shop,
        &order.number,
        "d",
        json!({"lines": [{"order_item_id": line, "quantity": 1}], "reason": "y"}),
    )
    .await;
    assert_eq!(other_body.problem_code(), "idempotency_key_reused");
    // The unshipped unit cancelled: what is left has shipped, the order is fulfilled.
    assert_eq!(order_states(&shop, &order.number).await.1, "fulfilled");

    // The customer: an unpaid order within the window → cancelled, stock released.
    let unpaid = place(&shop.client, "XOF", "SN", &[(robe, 3)], None).await;
    let path = format!("/api/v1/orders/{}/cancel", unpaid.number);
    let wrong_token = shop
        .app
        .send(
            axum::http::Request::builder()
                .method(Method::POST)
                .uri(&path)
                .header("content-type", "application/json")
                .header("x-order-token", "nope")
                .body(axum::body::Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(
        wrong_token.status,
        StatusCode::NOT_FOUND,
        "{}",
        wrong_token.text()
    );
    assert!(
        cancellable_until(&shop, &unpaid).await.is_string(),
        "placed, unshipped, within the window: the page may offer the button"
    );
    let mine = customer_cancel(&shop, &unpaid).await;
    assert_eq!(mine.status, StatusCode::CREATED, "{}", mine.text());
    assert_eq!(cancellable_until(&shop, &unpaid).await, Value::Null, "cancelled");
    assert_eq!(mine.json()["refund"], Value::Null);
    assert_eq!(mine.json()["by"], "customer");
    assert_eq!(order_states(&shop, &unpaid.number).await.0, "cancelled");
    assert_eq!(
        customer_cancel(&shop, &unpaid).await.json()["id"],
        mine.json()["id"],
        "asking again is a replay"
    );

    // Paid, not shipped, within the window: cancelled and refunded in full.
    let paid = paid_order(&shop, "XOF", "SN", &[(robe, 1)]).await;
    let r = customer_cancel(&shop, &paid).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["refund"]["amount"], paid.total);

    // Past the window: 422.
    let late = paid_order(&shop, "XOF", "SN", &[(robe, 1)]).await;
    shop.client.execute("update shop.customer_order set placed_at = now() - interval '61 minutes' where order_number = $1",
                        &[&late.number]).await.unwrap();
    let r = customer_cancel(&shop, &late).await;
    assert_eq!(
        (r.status, r.problem_code().as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "cancellation_window_passed")
    );
    assert_eq!(
        cancellable_until(&shop, &late).await,
        Value::Null,
        "past the window"
    );
    // Shipped: 409 even within the window.
    let shipped = paid_order(&shop, "XOF", "SN", &[(robe, 1)]).await;
    assert_eq!(
        ship(
            &shop.app,
            &shop.staff,
            &shipped.number,
            &[(shipped.lines[0].0, 1)],
            None
        )
        .await
        .status,
        StatusCode::CREATED
    );
    let r = customer_cancel(&shop, &shipped).await;
    assert_eq!(
        (r.status, r.problem_code().as_str()),
        (StatusCode::CONFLICT, "order_already_shipped")
    );
    assert_eq!(cancellable_until(&shop, &shipped).await, Value::Null, "shipped");
    assert_fulfilment_consistent(&shop.client).await;
}

async fn on_hand(shop: &Shop, variant: i64) -> (i32, i32) {
    let r = shop
        .client
        .query_one(
            "select qty_on_hand, qty_reserved from shop.inventory where variant_id = $1",
            &[&variant],
        )
        .await
        .unwrap();
    (r.get(0), r.get(1))
}

async fn customer_cancel(shop: &Shop, order: &maef_tests::fulfilment::Placed) -> maef_tests::http::Reply {
    shop.app
        .send(
            axum::http::Request::builder()
                .method(Method::POST)
                .uri(format!("/api/v1/orders/{}/cancel", order.number))
                .header("content-type", "application/json")
                .header("x-order-token", &order.token)
                .body(axum::body::Body::from(
                    json!({"reason": "changed my mind"}).to_string(),
                ))
                .unwrap(),
        )
        .await
}

#[tokio::test]
async fn concurrent_cancellations_and_refunds_never_refund_a_unit_twice_or_above_captured() {
    let shop = shop().await;
    let robe = variant(&shop.client, "ROBE", 15000, 2299, 100).await;
    let order = paid_order(&shop, "XOF", "SN", &[(robe, 10)]).await;
    let line = order.lines[0].0;
    // 150 staff each cancel one unit (their own key) while 50 others refund one unit
    // through the refunds route: 10 units at most, each refunded once.
    let cancels = (0..150).map(|i| {
        let shop = &shop;
        let number = &order.number;
        async move {
            cancel(
                shop,
                number,
                &format!("race-{i}"),
                json!({"lines": [{"order_item_id": line, "quantity": 1}], "reason": "race"}),
            )
            .await
        }
    });
    let refunds = (0..50).map(|i| {
        let shop = &shop;
        let number = &order.number;
        async move {
            post_keyed(
                &shop.app,
                &format!("/api/v1/admin/orders/{number}/refunds"),
                Some(&shop.staff),
                Some(&format!("refund-{i}")),
                json!({"lines": [{"order_item_id": line, "quantity": 1}], "reason": "goodwill"}),
            )
            .await
        }
    });
    let (cancels, refunds) = tokio::join!(join_all(cancels), join_all(refunds));
    let cancelled = cancels.iter().filter(|r| r.status == StatusCode::CREATED).count();
    for r in cancels.iter().chain(refunds.iter()) {
        assert!(
            matches!(r.status.as_u16(), 201 | 409 | 422),
            "{} {}",
            r.status,
            r.text()
        );
    }
    assert_eq!(cancelled, 10, "every unit cancelled once");
    let units_refunded = count(
        &shop.client,
        "select coalesce(sum(quantity), 0)::bigint from shop.refund_item",
    )
    .await;
    assert_eq!(
        units_refunded, 10,
        "each unit refunded once, by a refund or a cancellation"
    );
    let refunded = count(&shop.client, "select sum(amount)::bigint from shop.refund").await;
    // Ten units of 15,000 and the shipping (2,000) if the last cancellation emptied the
    // order; never above what was captured.
    assert!(refunded <= order.total, "{refunded} > {}", order.total);
    assert_eq!(
        count(
            &shop.client,
            "select coalesce(sum(ri.amount), 0)::bigint from shop.refund_item ri"
        )
        .await,
        150_000
    );
    assert_fulfilment_consistent(&shop.client).await;
}

#[tokio::test]
async fn cash_on_delivery_units_leave_stock_as_they_ship_and_a_parcel_back_to_sender_is_restocked() {
    let shop = shop().await;
    let robe = variant(&shop.client, "ROBE", 15000, 2299, 10).await;
    let order = place(&shop.client, "XOF", "SN", &[(robe, 4)], None).await;
    let guest = Who::guest();
    let offered: Vec<String> = vec![];
    guest
        .call(
            &shop.client,
            "select api.payment_begin($2, $3, $4, $5, $6)::text from (select $1::text) session",
            &[
                &order.number,
                &order.token,
                &json!({"provider": "cash_on_delivery"}),
                &maef_tests::shop::idem("cod", "h"),
                &offered,
            ],
        )
        .await
        .unwrap();
    assert_eq!(on_hand(&shop, robe).await, (10, 4));
    let made = ship(
        &shop.app,
        &shop.staff,
        &order.number,
        &[(order.lines[0].0, 3)],
        None,
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    assert_eq!(
        on_hand(&shop, robe).await,
        (7, 1),
        "three sold as they ship, one still held"
    );
    let id = made.json()["shipment"]["id"].as_i64().unwrap();
    for status in ["shipped", "failed_delivery", "returned_to_sender"] {
        let r = move_shipment(&shop.app, &shop.staff, id, status).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    assert_eq!(
        on_hand(&shop, robe).await,
        (10, 1),
        "the parcel came back on hand"
    );
    let line = shop
        .client
        .query_one(
            "select quantity_shipped, quantity_returned from shop.order_item where order_item_id = $1",
            &[&order.lines[0].0],
        )
        .await
        .unwrap();
    assert_eq!((line.get::<_, i32>(0), line.get::<_, i32>(1)), (3, 3));
    assert_eq!(
        count(
            &shop.client,
            "select count(*) from shop.email_message where kind = 'shipment_update'"
        )
        .await,
        2
    );
    // Paying the rest sells the held unit; the books balance.
    let staff = user(&shop.client, "staff@example.com", None).await;
    staff
        .call(
            &shop.client,
            "select api.admin_mark_order_paid($2, $3)::text from (select $1::text) session",
            &[&order.number, &json!({})],
        )
        .await
        .unwrap();
    assert_eq!(on_hand(&shop, robe).await, (9, 0));
    assert_fulfilment_consistent(&shop.client).await;
}

/// Pays `order` with Stripe over HTTP: the PaymentIntent at the fake, then Stripe's
/// signed `payment_intent.succeeded`.
async fn pay_with_stripe(shop: &Shop, stripe: &FakeStripe, order: &maef_tests::fulfilment::Placed) {
    let paid = shop
        .app
        .send(
            axum::http::Request::builder()
                .method(Method::POST)
                .uri(format!("/api/v1/orders/{}/payments", order.number))
                .header("content-type", "application/json")
                .header("x-order-token", &order.token)
                .header("idempotency-key", format!("pay-{}", order.number))
                .body(axum::body::Body::from(json!({"provider": "stripe"}).to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.text());
    let pi = paid.json()["next_action"]["client_secret"]
        .as_str()
        .unwrap()
        .split("_secret_")
        .next()
        .unwrap()
        .to_string();
    let intent = stripe.set_status(&pi, "succeeded", None);
    let (body, signature) = FakeStripe::event(
        &format!("evt_{pi}"),
        "payment_intent.succeeded",
        &intent,
        fake_stripe::WEBHOOK_SECRET,
        now(),
    );
    let applied = send_signed(
        &shop.app,
        "/api/v1/webhooks/stripe",
        "stripe-signature",
        &signature,
        body,
    )
    .await;
    assert_eq!(applied.json()["outcome"], "applied", "{}", applied.text());
}

async fn send_signed(
    app: &maef_tests::http::TestApp,
    path: &str,
    header: &str,
    signature: &str,
    body: Vec<u8>,
) -> maef_tests::http::Reply {
    app.send(
        axum::http::Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("content-type", "application/json")
            .header(header, signature)
            .body(axum::body::Body::from(body))
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn a_stripe_paid_order_is_refunded_at_stripe_when_cancelled_and_a_refused_refund_leaves_the_cancellation_standing(
) {
    let stripe = FakeStripe::start().await;
    let shop = maef_tests::fulfilment::shop_with(stripe.env()).await;
    let robe = variant(&shop.client, "ROBE", 15000, 2299, 20).await;

    // The customer cancels within the window: Stripe refunds the whole order.
    let order = place(&shop.client, "XOF", "SN", &[(robe, 2)], None).await;
    pay_with_stripe(&shop, &stripe, &order).await;
    let cancelled = customer_cancel(&shop, &order).await;
    assert_eq!(cancelled.status, StatusCode::CREATED, "{}", cancelled.text());
    let body = cancelled.json();
    assert_eq!(body["refund"]["method"], "provider");
    assert_eq!(body["refund"]["amount"], order.total);
    assert_eq!(body["refund"]["status"], "succeeded", "{body}");
    assert_eq!(stripe.calls_to("POST /v1/refunds"), 1);
    // Asking again replays: Stripe is not called twice.
    assert_eq!(customer_cancel(&shop, &order).await.json()["id"], body["id"]);
    assert_eq!(stripe.calls_to("POST /v1/refunds"), 1);
    assert_eq!(
        count(
            &shop.client,
            "select count(*) from shop.invoice where kind = 'credit_note'"
        )
        .await,
        1
    );

    // Staff cancel a line; Stripe refuses the refund: 502, the cancellation stands.
    let second = place(&shop.client, "XOF", "SN", &[(robe, 2)], None).await;
    pay_with_stripe(&shop, &stripe, &second).await;
    stripe.faults.push(Fault::Status(
        400,
        json!({"error": {"type": "invalid_request_error", "code": "charge_disputed", "message": "Disputed"}}),
    ));
    let refused = cancel(
        &shop,
        &second.number,
        "s-1",
        json!({"lines": [{"order_item_id": second.lines[0].0, "quantity": 1}], "reason": "damaged in store"}),
    )
    .await;
    assert_eq!(
        (refused.status, refused.problem_code().as_str()),
        (StatusCode::BAD_GATEWAY, "payment_provider_refused")
    );
    let line = shop
        .client
        .query_one(
            "select quantity_cancelled from shop.order_item where order_item_id = $1",
            &[&second.lines[0].0],
        )
        .await
        .unwrap();
    assert_eq!(line.get::<_, i32>(0), 1);
    assert_eq!(
        count(
            &shop.client,
            "select count(*) from report.payment_problems where problem = 'refund_failed'"
        )
        .await,
        1
    );
    // Staff then refund the line by hand (the failed refund holds nothing).
    let by_hand = post_keyed(
        &shop.app,
        &format!("/api/v1/admin/orders/{}/refunds", second.number),
        Some(&shop.staff),
        Some("by-hand"),
        json!({"lines": [{"order_item_id": second.lines[0].0, "quantity": 1}],
                                                     "reason": "cancelled line"}),
    )
    .await;
    assert_eq!(by_hand.status, StatusCode::CREATED, "{}", by_hand.text());
    assert_eq!(stripe.calls_to("POST /v1/refunds"), 3);
    assert_fulfilment_consistent(&shop.client).await;
}

/// The order's `cancellable_until`, as its customer reads it.
async fn cancellable_until(shop: &Shop, order: &maef_tests::fulfilment::Placed) -> Value {
    let path = format!("/api/v1/orders/{}", order.number);
    let page =
        maef_tests::fulfilment::get_with_token(&shop.app, &path, &order.token, "application/json").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    page.json()["cancellable_until"].clone()
}
