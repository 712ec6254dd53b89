//! Orders after checkout: customers' keyset pages and row-level security, guests by
//! token, staff lists with filters, notes, cancellation, the state machines enforced for
//! every writer (psql included), cash-on-delivery confirmation, payment against expiry,
//! the expiry job in maef-worker, and popular products counting paid orders.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use maef_tests::{
    http::TestApp,
    shop::{
        as_role, assert_consistent, cart_total, checkout_body, fill_cart, idem, seed_variant, ship_to,
        signed_in, sql_error, user, Who,
    },
    TestDb, WorkerProcess,
};
use serde_json::{json, Value};
use tokio_postgres::Client;

async fn count(client: &Client, sql: &str) -> i64 {
    maef_tests::count(client, sql).await
}

/// A shop selling one variant (`stock` units, 15,000 XOF) to Senegal.
async fn shop(client: &Client, stock: i32) -> i64 {
    ship_to(client, "SN", "XOF", 2000).await;
    seed_variant(client, "ROBE-M", 15000, 2299, Some(stock)).await
}

/// Places an order of `quantity` units for `who` (a new cart each time) and returns it.
async fn place(client: &Client, who: &mut Who, variant: i64, quantity: i32, name: &str) -> Value {
    fill_cart(client, who, "XOF", "SN", &[(variant, quantity)]).await;
    let mut body = checkout_body(cart_total(client, who).await);
    body["shipping_address"]["full_name"] = json!(name);
    if who.role != "maef_anon" {
        body.as_object_mut().unwrap().remove("email");
    }
    let key = format!("{name}-{}", uuid::Uuid::new_v4());
    who.call(
        client,
        "select api.checkout($2, $1, $3)::text",
        &[&body, &idem(&key, "h")],
    )
    .await
    .unwrap()
}

fn number(order: &Value) -> String {
    order["number"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn customers_page_through_their_own_orders_and_never_reach_anyone_elses() {
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    let variant = shop(&client, 100).await;
    let token_a = signed_in(&app, "a@example.com", None).await;
    let token_b = signed_in(&app, "b@example.com", None).await;
    let mut a = user(&client, "a@example.com", None).await;
    let mut b = user(&client, "b@example.com", None).await;
    let mut numbers = Vec::new();
    for i in 0..5 {
        numbers.push(number(
            &place(&client, &mut a, variant, 1, &format!("A{i}")).await,
        ));
    }
    let b_order = number(&place(&client, &mut b, variant, 2, "B").await);
    numbers.reverse(); // newest first

    let mut seen = Vec::new();
    let mut path = "/api/v1/orders?limit=2".to_string();
    loop {
        let page = app.call(Method::GET, &path, Some(&token_a), None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        let page = page.json();
        seen.extend(page["items"].as_array().unwrap().iter().map(number));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/orders?limit=2&after={}", urlencode(cursor)),
            None => break,
        }
    }
    assert_eq!(seen, numbers);
    let theirs = app
        .call(Method::GET, "/api/v1/orders", Some(&token_b), None)
        .await
        .json();
    assert_eq!(theirs["items"].as_array().unwrap().len(), 1);
    assert_eq!(theirs["items"][0]["number"], b_order.as_str());
    assert_eq!(theirs["items"][0]["items"], 2);
    let other = app
        .call(
            Method::GET,
            &format!("/api/v1/orders/{b_order}"),
            Some(&token_a),
            None,
        )
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert_eq!(other.problem_code(), "order_not_found");
    for (path, code) in [
        ("/api/v1/orders?limit=0", "invalid_limit"),
        ("/api/v1/orders?limit=101", "invalid_limit"),
        ("/api/v1/orders?after=garbage", "invalid_cursor"),
        ("/api/v1/orders?limit=ten", "invalid_query"),
    ] {
        let r = app.call(Method::GET, path, Some(&token_a), None).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        assert_eq!(r.problem_code(), code, "{path}");
    }
    let anonymous = app.call(Method::GET, "/api/v1/orders", None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    // The same rules from SQL: row-level security on the tables, ownership in the API.
    let mine = |sql: &'static str| {
        let (client, a) = (&client, &a);
        async move { as_role(client, &a.role, &a.claims, sql, &[]).await.unwrap()[0].get::<_, i64>(0) }
    };
    assert_eq!(mine("select count(*) from shop.customer_order").await, 5);
    assert_eq!(mine("select count(*) from shop.order_item").await, 5);
    assert_eq!(mine("select count(*) from shop.order_event").await, 5);
    let listed = as_role(
        &client,
        &a.role,
        &a.claims,
        "select api.my_orders(100, null)",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(listed[0].get::<_, Value>(0)["items"].as_array().unwrap().len(), 5);
    let refused = a
        .call(&client, "select api.order_by_number($2, $1)::text", &[&b_order])
        .await
        .unwrap_err();
    assert_eq!(refused, ("MA404".into(), "order_not_found".into()));
    for sql in [
        "select api.admin_list_orders('{}')::text",
        "select api.admin_order('x')::text",
    ] {
        let err = as_role(&client, &a.role, &a.claims, sql, &[]).await.unwrap_err();
        assert_eq!(sql_error(&err).0, "42501", "{sql}");
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn staff_find_orders_by_status_payment_number_email_name_and_date() {
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    let variant = shop(&client, 100).await;
    let manager = signed_in(&app, "manager@example.com", Some("manager")).await;
    let customer = signed_in(&app, "c@example.com", None).await;
    let mut orders = Vec::new();
    for name in ["Awa Diop", "Kofi Mensah", "Chiamaka Obi"] {
        let mut guest = Who::guest();
        orders.push(place(&client, &mut guest, variant, 1, name).await);
    }
    let paid_id: uuid::Uuid = orders[1]["id"].as_str().unwrap().parse().unwrap();
    client
        .query_one(
            "select api.mark_order_paid($1, '{\"provider\": \"stripe\"}')::text",
            &[&paid_id],
        )
        .await
        .unwrap();
    let list = |query: String| {
        let (app, manager) = (&app, &manager);
        async move {
            let r = app
                .call(
                    Method::GET,
                    &format!("/api/v1/admin/orders{query}"),
                    Some(manager),
                    None,
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text());
            r.json()["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(number)
                .collect::<Vec<_>>()
        }
    };
    let n = |i: usize| number(&orders[i]);
    assert_eq!(list(String::new()).await, vec![n(2), n(1), n(0)]);
    assert_eq!(list("?status=paid".into()).await, vec![n(1)]);
    assert_eq!(list("?payment_status=none".into()).await, vec![n(2), n(0)]);
    assert_eq!(list(format!("?q={}", n(2))).await, vec![n(2)]);
    let digits = n(0)
        .rsplit('-')
        .next()
        .unwrap()
        .trim_start_matches('0')
        .to_string();
    assert_eq!(
        list(format!("?q={digits}")).await,
        vec![n(0)],
        "the last digits of a number"
    );
    assert_eq!(list("?q=kofi".into()).await, vec![n(1)]);
    assert_eq!(list("?q=GUEST%40example".into()).await.len(), 3);
    assert_eq!(
        list("?from=2000-01-01&to=2000-12-31".into()).await,
        Vec::<String>::new()
    );
    assert_eq!(list("?limit=1".into()).await.len(), 1);
    for (query, code) in [
        ("?status=lost", "invalid_filter"),
        ("?payment_status=maybe", "invalid_filter"),
        ("?from=yesterday-ish", "invalid_filter"),
        ("?after=nope", "invalid_cursor"),
        ("?colour=red", "invalid_query"),
    ] {
        let r = app
            .call(
                Method::GET,
                &format!("/api/v1/admin/orders{query}"),
                Some(&manager),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(r.problem_code(), code, "{query}");
    }
    let forbidden = app
        .call(Method::GET, "/api/v1/admin/orders", Some(&customer), None)
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    // The staff view: reservations and who did what.
    let detail = app
        .call(
            Method::GET,
            &format!("/api/v1/admin/orders/{}", n(1)),
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.text());
    let detail = detail.json();
    assert_eq!(detail["reservations"][0]["status"], "sold");
    assert_eq!(detail["reservations"][0]["location"], "main");
    assert_eq!(detail["events"][1]["note"], "paid with stripe");
    let missing = app
        .call(
            Method::GET,
            "/api/v1/admin/orders/1999-000000",
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn staff_notes_join_the_timeline_and_internal_ones_stay_hidden_from_the_customer() {
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    let variant = shop(&client, 10).await;
    let manager = signed_in(&app, "manager@example.com", Some("manager")).await;
    let customer_token = signed_in(&app, "c@example.com", None).await;
    let mut customer = user(&client, "c@example.com", None).await;
    let order = place(&client, &mut customer, variant, 1, "C").await;
    let path = format!("/api/v1/admin/orders/{}/notes", number(&order));
    let internal = app
        .call(
            Method::POST,
            &path,
            Some(&manager),
            Some(json!({"note": "Customer called about the size"})),
        )
        .await;
    assert_eq!(internal.status, StatusCode::CREATED, "{}", internal.text());
    let public = app
        .call(
            Method::POST,
            &path,
            Some(&manager),
            Some(json!({"note": "Ships Monday", "internal": false})),
        )
        .await;
    assert_eq!(public.status, StatusCode::CREATED);
    let staff_view = public.json();
    let notes: Vec<(&str, bool, &str)> = staff_view["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "note")
        .map(|e| {
            (
                e["note"].as_str().unwrap(),
                e["is_internal"].as_bool().unwrap(),
                e["actor_email"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        notes,
        vec![
            ("Customer called about the size", true, "manager@example.com"),
            ("Ships Monday", false, "manager@example.com")
        ]
    );
    let theirs = app
        .call(
            Method::GET,
            &format!("/api/v1/orders/{}", number(&order)),
            Some(&customer_token),
            None,
        )
        .await
        .json();
    let their_notes: Vec<&str> = theirs["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "note")
        .map(|e| e["note"].as_str().unwrap())
        .collect();
    assert_eq!(their_notes, vec!["Ships Monday"]);
    assert!(
        theirs["events"][0].get("actor_email").is_none(),
        "customers do not see who"
    );
    for (body, status) in [
        (json!({"note": ""}), StatusCode::UNPROCESSABLE_ENTITY),
        (
            json!({"note": "x".repeat(2001)}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let r = app.call(Method::POST, &path, Some(&manager), Some(body)).await;
        assert_eq!(r.status, status);
    }
    let refused = app
        .call(
            Method::POST,
            &path,
            Some(&customer_token),
            Some(json!({"note": "hi"})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.audit_log where action = 'order.note'"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn cancelling_an_unpaid_order_gives_back_its_stock_and_coupon_use_and_a_paid_one_is_refused() {
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    let variant = shop(&client, 10).await;
    client
        .batch_execute(
            r#"with p as (insert into shop.promotion (name, rules)
                          values ('Ten', '{"conditions": {"coupon_required": true}, "action": {"type": "percent_off_items", "percent": 10}}')
                          returning promotion_id)
               insert into shop.coupon (promotion_id, code, usage_limit) select promotion_id, 'TEN', 1 from p;"#,
        )
        .await
        .unwrap();
    let manager = signed_in(&app, "manager@example.com", Some("manager")).await;
    let mut guest = Who::guest();
    fill_cart(&client, &mut guest, "XOF", "SN", &[(variant, 3)]).await;
    guest
        .call(&client, "select api.cart_apply_coupon('TEN', $1)::text", &[])
        .await
        .unwrap();
    let body = checkout_body(cart_total(&client, &guest).await);
    let order = guest
        .call(
            &client,
            "select api.checkout($2, $1, $3)::text",
            &[&body, &idem("c", "h")],
        )
        .await
        .unwrap();
    assert_eq!(
        count(&client, "select times_used::bigint from shop.coupon").await,
        1
    );
    let cancelled = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/orders/{}/cancel", number(&order)),
            Some(&manager),
            Some(json!({"reason": "customer asked"})),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.text());
    let cancelled = cancelled.json();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["reservation_expires_at"], Value::Null);
    assert_eq!(cancelled["reservations"][0]["status"], "released");
    let last = cancelled["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["from"].as_str(), last["to"].as_str(), last["note"].as_str()),
        (
            Some("awaiting_payment"),
            Some("cancelled"),
            Some("customer asked")
        )
    );
    assert_eq!(
        count(&client, "select times_used::bigint from shop.coupon").await,
        0,
        "coupon use given back"
    );
    assert_eq!(
        count(&client, "select qty_reserved::bigint from shop.inventory").await,
        0
    );
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.stock_movement where kind = 'cancellation'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.audit_log where action = 'order.cancel'"
        )
        .await,
        1
    );
    assert_consistent(&client).await;

    // Twice, or a paid order: the machine refuses, naming from and to.
    let again = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/orders/{}/cancel", number(&order)),
            Some(&manager),
            Some(json!({})),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.problem_code(), "order_transition_invalid");
    let mut second = Who::guest();
    let paid = place(&client, &mut second, variant, 1, "P").await;
    let id: uuid::Uuid = paid["id"].as_str().unwrap().parse().unwrap();
    client
        .query_one("select api.mark_order_paid($1, '{}')::text", &[&id])
        .await
        .unwrap();
    let refused = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/orders/{}/cancel", number(&paid)),
            Some(&manager),
            Some(json!({})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(refused.problem_code(), "order_transition_invalid");
    let details: Value = serde_json::from_str(refused.json()["details"].as_str().unwrap()).unwrap();
    assert_eq!(
        details,
        json!({"machine": "status", "from": "paid", "to": "cancelled"})
    );
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.stock_movement where kind = 'sale'"
        )
        .await,
        1
    );
    let unknown = app
        .call(
            Method::POST,
            "/api/v1/admin/orders/2000-000001/cancel",
            Some(&manager),
            Some(json!({})),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_consistent(&client).await;
}

#[tokio::test]
async fn the_state_machines_are_enforced_for_every_writer_psql_included_and_each_change_is_on_the_timeline() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let variant = shop(&client, 10).await;
    let mut guest = Who::guest();
    let order = place(&client, &mut guest, variant, 1, "G").await;
    let id: uuid::Uuid = order["id"].as_str().unwrap().parse().unwrap();
    // A DBA skipping steps.
    for (column, to) in [
        ("status", "delivered"),
        ("payment_status", "refunded"),
        ("fulfillment_status", "delivered"),
    ] {
        let err = client
            .execute(
                &format!("update shop.customer_order set {column} = $2 where order_id = $1"),
                &[&id, &to],
            )
            .await
            .unwrap_err();
        assert_eq!(
            sql_error(&err),
            ("MA409".into(), "order_transition_invalid".into()),
            "{column}"
        );
        let detail: Value = serde_json::from_str(err.as_db_error().unwrap().detail().unwrap()).unwrap();
        assert_eq!(detail["machine"], column);
        assert_eq!(detail["to"], to);
    }
    let err = client
        .execute(
            "insert into shop.customer_order (email, currency_code, status, payment_status) values ('x@example.com', 'XOF', 'paid', 'paid')",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(
        sql_error(&err).1,
        "order_transition_invalid",
        "an order is not born paid"
    );
    // Allowed steps, by a DBA with a note: each is an event, actor unknown (psql).
    client
        .batch_execute(&format!(
            "begin; select set_config('maef.order_note', 'paid in cash at the counter', true);
             update shop.customer_order set payment_status = 'paid', status = 'paid' where order_id = '{id}'; commit;"
        ))
        .await
        .unwrap();
    client
        .execute("update shop.customer_order set status = 'fulfilled', fulfillment_status = 'fulfilled' where order_id = $1", &[&id])
        .await
        .unwrap();
    let err = client
        .execute(
            "update shop.customer_order set status = 'delivered' where order_id = $1",
            &[&id],
        )
        .await
        .unwrap_err();
    assert_eq!(
        sql_error(&err).1,
        "customer_order_status_mirrors_fulfillment",
        "status and fulfilment move together"
    );
    let events: Vec<(String, Option<String>, Option<String>, String)> = client
        .query(
            "select kind, from_state, to_state, note from shop.order_event where order_id = $1 order by order_event_id",
            &[&id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let s = |v: &str| Some(v.to_string());
    let year: i32 = client
        .query_one("select extract(year from now() at time zone 'UTC')::integer", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        events,
        vec![
            ("placed".into(), None, s("awaiting_payment"), String::new()),
            (
                "status".into(),
                s("awaiting_payment"),
                s("paid"),
                "paid in cash at the counter".into()
            ),
            (
                "payment_status".into(),
                s("none"),
                s("paid"),
                "paid in cash at the counter".into()
            ),
            // Paid by any writer, the order gets its invoice as the payment commits (V35).
            (
                "invoice".into(),
                None,
                s("issued"),
                format!("invoice F-{year}-000001 issued")
            ),
            ("status".into(), s("paid"), s("fulfilled"), String::new()),
            (
                "fulfillment_status".into(),
                s("unfulfilled"),
                s("fulfilled"),
                String::new()
            ),
        ]
    );
    assert!(count(&client, "select count(*) from shop.order_transition").await >= 20);
}

#[tokio::test]
async fn cash_on_delivery_confirmation_stops_expiry_and_payment_later_sells_the_stock() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let variant = shop(&client, 10).await;
    let mut guest = Who::guest();
    let order = place(&client, &mut guest, variant, 2, "COD").await;
    let id: uuid::Uuid = order["id"].as_str().unwrap().parse().unwrap();
    let confirmed: Value = client
        .query_one("select api.confirm_order($1, 'cash on delivery')", &[&id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        (confirmed["status"].as_str(), confirmed["payment_status"].as_str()),
        (Some("confirmed"), Some("pending"))
    );
    assert_eq!(confirmed["reservation_expires_at"], Value::Null);
    client
        .execute(
            "update shop.customer_order set placed_at = now() - interval '1 day'",
            &[],
        )
        .await
        .unwrap();
    let expired: Option<String> = client
        .query_one("select api.expire_next_order()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(expired, None, "a confirmed order's stock stays held");
    assert_eq!(
        count(&client, "select qty_reserved::bigint from shop.inventory").await,
        2
    );
    let paid: Value = client
        .query_one(
            "select api.mark_order_paid($1, '{\"note\": \"courier brought the cash\"}')",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        (paid["status"].as_str(), paid["payment_status"].as_str()),
        (Some("paid"), Some("paid"))
    );
    // Paying again changes nothing (a duplicate notification) but what the first
    // payment's commit added: its invoice (V35), issued once.
    let again: Value = client
        .query_one("select api.mark_order_paid($1, '{}')", &[&id])
        .await
        .unwrap()
        .get(0);
    let (before, after) = (
        paid["events"].as_array().unwrap(),
        again["events"].as_array().unwrap(),
    );
    assert_eq!(after[..before.len()], before[..]);
    assert_eq!(after.len(), before.len() + 1, "{after:?}");
    assert_eq!(after[before.len()]["kind"], "invoice");
    let row = client
        .query_one("select qty_on_hand, qty_reserved from shop.inventory", &[])
        .await
        .unwrap();
    assert_eq!((row.get::<_, i32>(0), row.get::<_, i32>(1)), (8, 0));
    assert_consistent(&client).await;
}

#[tokio::test]
async fn expiry_skips_an_order_being_paid_and_a_late_payment_of_an_expired_order_is_refused() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let variant = shop(&client, 10).await;
    // Two products: a payment holds its variants' stock rows until it commits, and this
    // test holds one open on purpose.
    let other = seed_variant(&client, "ROBE-L", 15000, 2299, Some(10)).await;
    let (mut g1, mut g2) = (Who::guest(), Who::guest());
    let first = place(&client, &mut g1, variant, 1, "First").await;
    let second = place(&client, &mut g2, other, 1, "Second").await;
    client
        .execute(
            "update shop.customer_order set reservation_expires_at = now() - interval '1 minute'",
            &[],
        )
        .await
        .unwrap();
    let first_id: uuid::Uuid = first["id"].as_str().unwrap().parse().unwrap();
    // A payment of the first order is in flight: its transaction holds the order row.
    let payer = db.connect().await;
    payer.batch_execute("begin").await.unwrap();
    payer
        .query_one("select api.mark_order_paid($1, '{}')::text", &[&first_id])
        .await
        .unwrap();
    let expired: Vec<Option<String>> = vec![
        client
            .query_one("select api.expire_next_order()", &[])
            .await
            .unwrap()
            .get(0),
        client
            .query_one("select api.expire_next_order()", &[])
            .await
            .unwrap()
            .get(0),
    ];
    assert_eq!(
        expired,
        vec![Some(number(&second)), None],
        "the order being paid is skipped"
    );
    payer.batch_execute("commit").await.unwrap();
    let statuses: Vec<String> = client
        .query(
            "select status from shop.customer_order order by order_number",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(statuses, vec!["paid", "expired"]);
    // The second order's payment arrives late: refused, naming expired → paid.
    let second_id: uuid::Uuid = second["id"].as_str().unwrap().parse().unwrap();
    let err = client
        .query_one("select api.mark_order_paid($1, '{}')::text", &[&second_id])
        .await
        .unwrap_err();
    assert_eq!(
        sql_error(&err),
        ("MA409".into(), "order_transition_invalid".into())
    );
    assert!(
        err.as_db_error()
            .unwrap()
            .message()
            .contains("from status expired to paid"),
        "{err}"
    );
    assert_consistent(&client).await;
}

#[tokio::test]
async fn the_expiry_job_in_maef_worker_releases_stock_and_coupon_uses_of_unpaid_orders() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    maef_tests::disable_schedules(&client).await;
    let variant = shop(&client, 10).await;
    client
        .batch_execute(
            r#"with p as (insert into shop.promotion (name, rules)
                          values ('Ten', '{"conditions": {"coupon_required": true}, "action": {"type": "percent_off_items", "percent": 10}}')
                          returning promotion_id)
               insert into shop.coupon (promotion_id, code) select promotion_id, 'TEN' from p;"#,
        )
        .await
        .unwrap();
    let mut orders = Vec::new();
    for i in 0..3 {
        let mut guest = Who::guest();
        fill_cart(&client, &mut guest, "XOF", "SN", &[(variant, 2)]).await;
        guest
            .call(&client, "select api.cart_apply_coupon('TEN', $1)::text", &[])
            .await
            .unwrap();
        let body = checkout_body(cart_total(&client, &guest).await);
        orders.push(
            guest
                .call(
                    &client,
                    "select api.checkout($2, $1, $3)::text",
                    &[&body, &idem(&format!("e{i}"), "h")],
                )
                .await
                .unwrap(),
        );
    }
    // Two are past their reservation time, one is not.
    client
        .execute(
            "update shop.customer_order set reservation_expires_at = now() - interval '1 second' where order_number <> $1",
            &[&number(&orders[2])],
        )
        .await
        .unwrap();
    assert_eq!(
        count(&client, "select times_used::bigint from shop.coupon").await,
        3
    );
    client
        .query_one("select api.enqueue_job('expire_stock_reservations')", &[])
        .await
        .unwrap();
    let _worker = WorkerProcess::spawn(&db.url, "expirer", &[]);
    maef_tests::eventually(Duration::from_secs(20), "the job ran", || {
        let client = &client;
        async move {
            count(client, "select count(*) from report.jobs where kind = 'expire_stock_reservations' and status = 'completed'").await == 1
        }
    })
    .await;
    let statuses: Vec<String> = client
        .query(
            "select status from shop.customer_order order by order_number",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(statuses, vec!["expired", "expired", "awaiting_payment"]);
    assert_eq!(
        count(&client, "select times_used::bigint from shop.coupon").await,
        1,
        "two uses given back"
    );
    assert_eq!(
        count(&client, "select qty_reserved::bigint from shop.inventory").await,
        2
    );
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.stock_movement where kind = 'release'"
        )
        .await,
        2
    );
    let note: String = client
        .query_one(
            "select note from shop.order_event where to_state = 'expired' limit 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(note, "reservation expired");
    assert_consistent(&client).await;
}

#[tokio::test]
async fn popular_products_count_the_units_of_paid_orders_only() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let variant = shop(&client, 20).await;
    let (mut g1, mut g2) = (Who::guest(), Who::guest());
    let paid = place(&client, &mut g1, variant, 3, "Paid").await;
    place(&client, &mut g2, variant, 5, "Unpaid").await;
    let id: uuid::Uuid = paid["id"].as_str().unwrap().parse().unwrap();
    client
        .query_one("select api.mark_order_paid($1, '{}')::text", &[&id])
        .await
        .unwrap();
    client
        .batch_execute("refresh materialized view shop.popular_products")
        .await
        .unwrap();
    assert_eq!(
        count(&client, "select units_sold from shop.popular_products").await,
        3
    );
    // Staff read the reports; a customer cannot.
    let staff = user(&client, "m@example.com", Some("manager")).await;
    let rows = as_role(
        &client,
        &staff.role,
        &staff.claims,
        "select count(*) from report.low_stock",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 0);
}

#[tokio::test]
async fn each_change_of_an_order_and_a_low_stock_crossing_is_a_domain_event_of_its_transaction() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let variant = shop(&client, 8).await; // low-stock threshold 5 (the default)
    let (mut g1, mut g2, mut g3) = (Who::guest(), Who::guest(), Who::guest());
    let paid = place(&client, &mut g1, variant, 2, "Paid").await; // 8 → 6 available
    let expired = place(&client, &mut g2, variant, 1, "Expired").await; // 6 → 5: crosses 5
    let cancelled = place(&client, &mut g3, variant, 1, "Cancelled").await; // 5 → 4: already low
    let id = |o: &Value| -> uuid::Uuid { o["id"].as_str().unwrap().parse().unwrap() };
    client
        .query_one(
            "select api.mark_order_paid($1, '{\"payment_id\": \"pay_1\", \"provider\": \"stripe\"}')::text",
            &[&id(&paid)],
        )
        .await
        .unwrap();
    client
        .execute("update shop.customer_order set reservation_expires_at = now() - interval '1 second' where order_id = $1", &[&id(&expired)])
        .await
        .unwrap();
    client
        .query_one("select api.expire_next_order()", &[])
        .await
        .unwrap();
    client
        .query_one(
            "select (api._cancel_order(o, 'cancelled', 'out of stock in the shop')).order_number from shop.customer_order o where order_id = $1",
            &[&id(&cancelled)],
        )
        .await
        .unwrap();
    let all = events(&client).await;
    let types: Vec<&str> = all.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "order.placed",
            "order.placed",
            "stock.low",
            "order.placed",
            "order.paid",
            // Paying issues the invoice in the same transaction (fulfilment, docs/fulfilment.md).
            "invoice.issued",
            "order.expired",
            "order.cancelled"
        ]
    );
    let placed = &all[0].1;
    assert_eq!(placed["order_number"], paid["number"]);
    assert_eq!(placed["status"], "awaiting_payment");
    assert_eq!(placed["lines"][0]["quantity"], 2);
    assert_eq!(placed["shipping_address"]["country"], "SN");
    assert!(placed["expires_at"].is_string());
    assert_eq!(all[2].1["available"], 5);
    assert_eq!(all[2].1["sku"], "ROBE-M");
    assert_eq!(all[4].1["payment_id"], "pay_1");
    assert_eq!(all[4].1["provider"], "stripe");
    assert_eq!(
        all[6].1["released"],
        json!([{"variant_id": variant, "quantity": 1}])
    );
    assert_eq!(all[7].1["reason"], "admin");
    assert_eq!(all[7].1["note"], "out of stock in the shop");
    // A refused checkout emits nothing: the event is part of the transaction.
    let mut g4 = Who::guest();
    fill_cart(&client, &mut g4, "XOF", "SN", &[(variant, 1)]).await;
    g4.call(
        &client,
        "select api.checkout($2, $1, $3)::text",
        &[&checkout_body(1), &idem("x", "h")],
    )
    .await
    .unwrap_err();
    assert_eq!(events(&client).await.len(), all.len());
}

/// Every event written so far: (type, payload), oldest first.
async fn events(client: &Client) -> Vec<(String, Value)> {
    client
        .query("select type, payload from shop.event order by event_id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, Value>(1)))
        .collect()
}
