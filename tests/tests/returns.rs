//! Returns (RMA) over HTTP: a customer returns delivered units within the window with
//! reasons; undelivered lines, too many units and a return past the window are
//! refused; staff approve or reject, receive (only resellable units go back on hand:
//! the ledger says so), and refund through the payments refund path — the shipping only
//! when the whole order came back or the reason is the shop's fault.

use axum::{
    body::Body,
    http::{Method, Request, StatusCode},
};
use maef_tests::{
    count,
    fulfilment::{
        assert_fulfilment_consistent, deliver_all, get_with_token, paid_order, post_keyed, shop, variant,
        Placed, Shop,
    },
    http::Reply,
};
use serde_json::{json, Value};

/// `POST /api/v1/orders/{number}/returns` as the guest holding the order's token.
async fn ask(shop: &Shop, order: &Placed, lines: Value) -> Reply {
    shop.app
        .send(
            Request::builder()
                .method(Method::POST)
                .uri(format!("/api/v1/orders/{}/returns", order.number))
                .header("content-type", "application/json")
                .header("x-order-token", &order.token)
                .body(Body::from(
                    json!({"lines": lines, "note": "does not fit"}).to_string(),
                ))
                .unwrap(),
        )
        .await
}

async fn staff_post(shop: &Shop, path: &str, body: Value) -> Reply {
    shop.app
        .call(Method::POST, path, Some(&shop.staff), Some(body))
        .await
}

#[tokio::test]
async fn a_delivered_line_comes_back_restocked_when_resellable_and_refunded_by_the_rule() {
    let shop = shop().await;
    let robe = variant(&shop.client, "ROBE", 15000, 2299, 20).await;
    let pagne = variant(&shop.client, "PAGNE", 8000, 1250, 20).await;
    let order = paid_order(&shop, "XOF", "SN", &[(robe, 2), (pagne, 1)]).await;
    let (robe_line, pagne_line) = (order.lines[0].0, order.lines[1].0);

    let before = order_lines(&shop, &order).await;
    assert_eq!(
        (
            before[0]["quantity_delivered"].clone(),
            before[0]["quantity_returnable"].clone(),
            before[0]["returnable_until"].clone()
        ),
        (json!(0), json!(0), Value::Null),
        "nothing delivered: nothing returnable, no deadline"
    );

    // Nothing delivered yet: refused.
    let early = ask(
        &shop,
        &order,
        json!([{"order_item_id": robe_line, "quantity": 1, "reason": "wrong_size"}]),
    )
    .await;
    assert_eq!(
        (early.status, early.problem_code().as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "line_not_delivered")
    );
    deliver_all(&shop, &order, "JD-RET-1").await;

    let reasons = shop
        .app
        .call(Method::GET, "/api/v1/return-reasons", None, None)
        .await;
    assert_eq!(reasons.status, StatusCode::OK, "{}", reasons.text());
    assert!(reasons.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["code"] == "damaged" && r["shop_fault"] == true));

    // Bad requests: unknown reason, more than delivered, a line listed twice.
    let bad_reason = ask(
        &shop,
        &order,
        json!([{"order_item_id": robe_line, "quantity": 1, "reason": "bored"}]),
    )
    .await;
    assert_eq!(
        bad_reason.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        bad_reason.text()
    );
    assert_eq!(bad_reason.json()["details"], "$.lines[0].reason");
    let too_many = ask(
        &shop,
        &order,
        json!([{"order_item_id": robe_line, "quantity": 3, "reason": "wrong_size"}]),
    )
    .await;
    assert_eq!(
        (too_many.status, too_many.problem_code().as_str()),
        (StatusCode::CONFLICT, "return_quantity_exceeds")
    );

    // One robe (changed mind: the customer's choice) and the pagne (damaged: our fault).
    let asked = ask(
        &shop,
        &order,
        json!([{"order_item_id": robe_line, "quantity": 1, "reason": "changed_mind"},
                                          {"order_item_id": pagne_line, "quantity": 1, "reason": "damaged"}]),
    )
    .await;
    assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.text());
    let rma = asked.json();
    assert_eq!(rma["status"], "requested");
    assert_eq!(
        rma["lines"][0]["reason_label"], "Changement d'avis",
        "the store's default language is French"
    );
    let id = rma["id"].as_i64().unwrap();
    // The same units cannot be asked twice while this return is open.
    let twice = ask(
        &shop,
        &order,
        json!([{"order_item_id": pagne_line, "quantity": 1, "reason": "damaged"}]),
    )
    .await;
    assert_eq!(twice.problem_code(), "return_quantity_exceeds");
    // The order says what is left to return, and until when (14 days after delivery).
    let after = order_lines(&shop, &order).await;
    assert_eq!(
        [&after[0], &after[1]].map(|l| (
            l["quantity_delivered"].as_i64(),
            l["quantity_returnable"].as_i64()
        )),
        [(Some(2), Some(1)), (Some(1), Some(0))]
    );
    let until: bool = shop
        .client
        .query_one(
            "select $1::text::timestamptz = max(s.delivered_at) + interval '14 days' from shop.shipment s \
             join shop.customer_order o using (order_id) where o.order_number = $2",
            &[&after[0]["returnable_until"].as_str().unwrap(), &order.number],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        until,
        "returnable_until is the delivery plus the window: {}",
        after[0]
    );

    // Out of order: receiving or refunding before approval.
    let receive_body = json!({"lines": [{"order_item_id": robe_line, "condition": "resellable"},
                                        {"order_item_id": pagne_line, "condition": "damaged"}]});
    let early = staff_post(
        &shop,
        &format!("/api/v1/admin/returns/{id}/receive"),
        receive_body.clone(),
    )
    .await;
    assert_eq!(
        (early.status, early.problem_code().as_str()),
        (StatusCode::CONFLICT, "return_transition_invalid")
    );
    let early = post_keyed(
        &shop.app,
        &format!("/api/v1/admin/returns/{id}/refund"),
        Some(&shop.staff),
        Some("r0"),
        json!({}),
    )
    .await;
    assert_eq!(
        (early.status, early.problem_code().as_str()),
        (StatusCode::CONFLICT, "return_transition_invalid")
    );

    let approved = staff_post(
        &shop,
        &format!("/api/v1/admin/returns/{id}/decision"),
        json!({"decision": "approve"}),
    )
    .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text());
    assert_eq!(approved.json()["status"], "approved");
    let partial = staff_post(
        &shop,
        &format!("/api/v1/admin/returns/{id}/receive"),
        json!({"lines": [{"order_item_id": robe_line, "condition": "resellable"}]}),
    )
    .await;
    assert_eq!(
        partial.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "every line's condition: {}",
        partial.text()
    );

    let on_hand_before = count(
        &shop.client,
        "select sum(qty_on_hand)::bigint from shop.inventory",
    )
    .await;
    let received = staff_post(
        &shop,
        &format!("/api/v1/admin/returns/{id}/receive"),
        receive_body,
    )
    .await;
    assert_eq!(received.status, StatusCode::OK, "{}", received.text());
    assert_eq!(received.json()["lines"][0]["restocked"], 1);
    assert_eq!(received.json()["lines"][1]["restocked"], 0);
    // The ledger: one return movement, of the resellable robe only.
    let moves = shop.client.query(
        "select variant_id, on_hand_delta from shop.stock_movement where kind = 'return' order by stock_movement_id", &[]).await.unwrap();
    assert_eq!(
        moves
            .iter()
            .map(|r| (r.get::<_, i64>(0), r.get::<_, i32>(1)))
            .collect::<Vec<_>>(),
        vec![(robe, 1)]
    );
    assert_eq!(
        count(
            &shop.client,
            "select sum(qty_on_hand)::bigint from shop.inventory"
        )
        .await,
        on_hand_before + 1
    );

    // The refund: one robe (15,000) and the pagne (8,000), and the shipping (2,000)
    // because a reason (damaged) is the shop's fault.
    let refunded = post_keyed(
        &shop.app,
        &format!("/api/v1/admin/returns/{id}/refund"),
        Some(&shop.staff),
        Some("r1"),
        json!({}),
    )
    .await;
    assert_eq!(refunded.status, StatusCode::CREATED, "{}", refunded.text());
    let refunded = refunded.json();
    assert_eq!(refunded["status"], "refunded");
    assert_eq!(refunded["refund"]["amount"], 15_000 + 8_000 + 2_000);
    assert_eq!(refunded["refund"]["shipping"], true);
    // The same key: the same answer; a new key: already refunded.
    let replay = post_keyed(
        &shop.app,
        &format!("/api/v1/admin/returns/{id}/refund"),
        Some(&shop.staff),
        Some("r1"),
        json!({}),
    )
    .await;
    assert_eq!(replay.json()["refund"]["id"], refunded["refund"]["id"]);
    let again = post_keyed(
        &shop.app,
        &format!("/api/v1/admin/returns/{id}/refund"),
        Some(&shop.staff),
        Some("r2"),
        json!({}),
    )
    .await;
    assert_eq!(
        (again.status, again.problem_code().as_str()),
        (StatusCode::CONFLICT, "return_transition_invalid")
    );

    // The customer sees the return; staff list it by status.
    let mine = shop
        .app
        .send(
            Request::builder()
                .method(Method::GET)
                .uri(format!("/api/v1/orders/{}/returns", order.number))
                .header("x-order-token", &order.token)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.text());
    assert_eq!(mine.json()["items"][0]["status"], "refunded");
    let listed = shop
        .app
        .call(
            Method::GET,
            "/api/v1/admin/returns?status=refunded",
            Some(&shop.staff),
            None,
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text());
    assert_eq!(listed.json()["items"].as_array().unwrap().len(), 1);
    let bad = shop
        .app
        .call(
            Method::GET,
            "/api/v1/admin/returns?status=lost",
            Some(&shop.staff),
            None,
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

    // One event, one e-mail and one timeline entry per step.
    for kind in [
        "return.requested",
        "return.approved",
        "return.received",
        "return.refunded",
    ] {
        assert_eq!(
            count(
                &shop.client,
                &format!("select count(*) from shop.event where type = '{kind}'")
            )
            .await,
            1,
            "{kind}"
        );
    }
    assert_eq!(
        count(
            &shop.client,
            "select count(*) from shop.email_message where kind = 'return_update'"
        )
        .await,
        4
    );
    assert_eq!(
        count(
            &shop.client,
            "select count(*) from shop.order_event where kind = 'return'"
        )
        .await,
        4
    );
    assert_eq!(
        count(
            &shop.client,
            "select count(*) from shop.audit_log where action like 'return.%'"
        )
        .await,
        4
    );
    assert_fulfilment_consistent(&shop.client).await;
}

#[tokio::test]
async fn a_return_past_the_window_is_refused_and_a_rejection_says_why() {
    let shop = shop().await;
    let robe = variant(&shop.client, "ROBE", 15000, 2299, 20).await;
    let order = paid_order(&shop, "XOF", "SN", &[(robe, 2)]).await;
    let line = order.lines[0].0;
    let shipment = deliver_all(&shop, &order, "JD-LATE").await;

    // Delivered fifteen days ago: past the 14 days of RETURN_WINDOW_DAYS.
    shop.client
        .execute(
            "update shop.shipment set delivered_at = now() - interval '15 days' where shipment_id = $1",
            &[&shipment],
        )
        .await
        .unwrap();
    let late = ask(
        &shop,
        &order,
        json!([{"order_item_id": line, "quantity": 1, "reason": "wrong_size"}]),
    )
    .await;
    assert_eq!(
        (late.status, late.problem_code().as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "return_window_passed")
    );
    assert_eq!(late.json()["details"], "$.lines[0].order_item_id");
    // The policy is a setting: a longer window lets it through.
    shop.client
        .execute(
            "update shop.setting set value = '30' where key = 'returns.window_days'",
            &[],
        )
        .await
        .unwrap();
    let asked = ask(
        &shop,
        &order,
        json!([{"order_item_id": line, "quantity": 2, "reason": "wrong_size"}]),
    )
    .await;
    assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.text());
    let id = asked.json()["id"].as_i64().unwrap();

    let silent = staff_post(
        &shop,
        &format!("/api/v1/admin/returns/{id}/decision"),
        json!({"decision": "reject"}),
    )
    .await;
    assert_eq!(
        silent.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a rejection needs a note: {}",
        silent.text()
    );
    let rejected = staff_post(
        &shop,
        &format!("/api/v1/admin/returns/{id}/decision"),
        json!({"decision": "reject", "note": "worn"}),
    )
    .await;
    assert_eq!(rejected.status, StatusCode::OK, "{}", rejected.text());
    let again = staff_post(
        &shop,
        &format!("/api/v1/admin/returns/{id}/decision"),
        json!({"decision": "approve"}),
    )
    .await;
    assert_eq!(
        (again.status, again.problem_code().as_str()),
        (StatusCode::CONFLICT, "return_transition_invalid")
    );
    // A rejected return frees its units: the customer may ask again (all of the order
    // coming back: the shipping is refunded though no reason is the shop's fault).
    let second = ask(
        &shop,
        &order,
        json!([{"order_item_id": line, "quantity": 2, "reason": "wrong_size"}]),
    )
    .await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text());
    let id = second.json()["id"].as_i64().unwrap();
    staff_post(
        &shop,
        &format!("/api/v1/admin/returns/{id}/decision"),
        json!({"decision": "approve"}),
    )
    .await;
    let received = staff_post(
        &shop,
        &format!("/api/v1/admin/returns/{id}/receive"),
        json!({"lines": [{"order_item_id": line, "condition": "damaged"}]}),
    )
    .await;
    assert_eq!(received.status, StatusCode::OK, "{}", received.text());
    assert_eq!(
        count(
            &shop.client,
            "select count(*) from shop.stock_movement where kind = 'return'"
        )
        .await,
        0,
        "damaged: no restock"
    );
    let refunded = post_keyed(
        &shop.app,
        &format!("/api/v1/admin/returns/{id}/refund"),
        Some(&shop.staff),
        Some("k"),
        json!({}),
    )
    .await;
    assert_eq!(refunded.status, StatusCode::CREATED, "{}", refunded.text());
    assert_eq!(
        refunded.json()["refund"]["amount"],
        order.total,
        "the whole order came back: lines and shipping"
    );
    assert_eq!(
        count(
            &shop.client,
            "select count(*) from shop.customer_order where payment_status = 'refunded'"
        )
        .await,
        1
    );

    // Other callers: a wrong token reads nothing, a customer cannot decide.
    let wrong = shop
        .app
        .send(
            Request::builder()
                .method(Method::GET)
                .uri(format!("/api/v1/orders/{}/returns", order.number))
                .header("x-order-token", "nope")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::NOT_FOUND);
    let customer = maef_tests::shop::signed_in(&shop.app, "c@example.com", None).await;
    let denied = shop
        .app
        .call(
            Method::POST,
            &format!("/api/v1/admin/returns/{id}/decision"),
            Some(&customer),
            Some(json!({"decision": "approve"})),
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let missing = shop
        .app
        .call(
            Method::GET,
            "/api/v1/admin/returns/999999",
            Some(&shop.staff),
            None,
        )
        .await;
    assert_eq!(
        (missing.status, missing.problem_code().as_str()),
        (StatusCode::NOT_FOUND, "return_not_found")
    );
    assert_fulfilment_consistent(&shop.client).await;
}

/// The order's lines as its customer reads them.
async fn order_lines(shop: &Shop, order: &Placed) -> Vec<Value> {
    let path = format!("/api/v1/orders/{}", order.number);
    let page = get_with_token(&shop.app, &path, &order.token, "application/json").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    page.json()["lines"].as_array().unwrap().clone()
}
