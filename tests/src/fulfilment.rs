//! Helpers of the fulfilment, returns and invoice suites: a shop selling in XOF
//! (Senegal, 18 % tax included) and EUR (France, 20 % included) with cash on delivery,
//! orders placed by guests and paid through the payments domain's own SQL (cash on
//! delivery confirmed by the guest, marked paid by staff, so a real succeeded payment
//! exists to refund), staff callers, signed carrier webhooks, and the consistency query
//! of fulfilment run after every race.

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use serde_json::{json, Value};
use tokio_postgres::Client;

use crate::{
    http::{Reply, TestApp},
    shop::{cart_total, fill_cart, idem, seed_variant, ship_to, signed_in, user, Who},
};

/// A test shop: the app, a client, a manager (token and SQL caller) and an admin token.
pub struct Shop {
    pub app: TestApp,
    pub client: Client,
    /// Bearer token of a manager (orders:read:any, orders:write:any).
    pub staff: String,
    /// The same manager as the database sees them.
    pub staff_who: Who,
    /// Bearer token of an admin (carriers:admin).
    pub admin: String,
}

/// A shop shipping to Senegal (2,000 XOF) and France (5.00 EUR), with 18 % and 20 %
/// tax included in prices, and cash on delivery in both. Its pool has 12 connections
/// (the races' concurrency at the database; the server is shared, so not more) and
/// requests wait up to a minute for one: a race queues, it does not time out.
pub async fn shop() -> Shop {
    shop_with(Vec::new()).await
}

/// [`shop`] with more configuration (a fake provider's variables).
pub async fn shop_with(extra: Vec<(String, String)>) -> Shop {
    let mut vars: Vec<(String, String)> = vec![
        ("DB_POOL_SIZE".into(), "12".into()),
        ("DB_POOL_TIMEOUT_MS".into(), "60000".into()),
        ("MAX_BODY_BYTES".into(), "65536".into()),
    ];
    vars.extend(extra);
    let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = TestApp::with(&refs).await;
    let client = app.db.connect().await;
    ship_to(&client, "SN", "XOF", 2000).await;
    ship_to(&client, "FR", "EUR", 500).await;
    client
        .batch_execute(
            "insert into shop.tax_rate (country, rate_bp) values ('SN', 1800), ('FR', 2000);
             update shop.setting set value = '\"SN, FR\"' where key = 'payments.cod_countries';",
        )
        .await
        .unwrap();
    let staff = signed_in(&app, "staff@example.com", Some("manager")).await;
    let admin = signed_in(&app, "admin@example.com", Some("admin")).await;
    let staff_who = user(&client, "staff@example.com", None).await;
    Shop {
        app,
        client,
        staff,
        staff_who,
        admin,
    }
}

/// A variant with XOF and EUR prices and `stock` units.
pub async fn variant(client: &Client, sku: &str, xof: i64, eur: i64, stock: i32) -> i64 {
    seed_variant(client, sku, xof, eur, Some(stock)).await
}

/// A placed order.
#[derive(Debug, Clone)]
pub struct Placed {
    pub number: String,
    /// The guest's token.
    pub token: String,
    pub total: i64,
    /// (order_item_id, variant_id, quantity) in line order.
    pub lines: Vec<(i64, i64, i32)>,
}

/// A guest's order of `items` in `currency` to `country` (SN or FR), with `coupon`.
pub async fn place(
    client: &Client,
    currency: &str,
    country: &str,
    items: &[(i64, i32)],
    coupon: Option<&str>,
) -> Placed {
    let mut guest = Who::guest();
    fill_cart(client, &mut guest, currency, country, items).await;
    if let Some(code) = coupon {
        guest
            .call(client, "select api.cart_apply_coupon($2, $1)::text", &[&code])
            .await
            .unwrap();
    }
    let total = cart_total(client, &guest).await;
    let address = if country == "FR" {
        json!({"full_name": "Awa Diop", "line1": "12 rue Carnot", "city": "Paris", "country": "FR",
               "postal_code": "75002", "phone": "06 12 34 56 78"})
    } else {
        json!({"full_name": "Awa Diop", "line1": "12 rue Carnot", "city": "Dakar", "country": country,
               "phone": "77 123 45 67"})
    };
    let body = json!({"email": "guest@example.com", "shipping_method": "standard", "expected_total": total,
                      "shipping_address": address});
    let key = uuid::Uuid::new_v4().to_string();
    let order = guest
        .call(
            client,
            "select api.checkout($2, $1, $3)::text",
            &[&body, &idem(&key, "h")],
        )
        .await
        .unwrap_or_else(|e| panic!("checkout: {e:?}"));
    let number = order["number"].as_str().unwrap().to_string();
    let lines = client
        .query(
            "select i.order_item_id, i.variant_id, i.quantity from shop.order_item i
             join shop.customer_order o using (order_id) where o.order_number = $1 order by i.order_item_id",
            &[&number],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    Placed {
        number,
        token: order["token"].as_str().unwrap().to_string(),
        total,
        lines,
    }
}

/// Pays a placed order the way a cash-on-delivery customer does: the guest picks cash on
/// delivery (`api.payment_begin`), then staff mark it paid (`api.admin_mark_order_paid`):
/// a succeeded payment of the order total, the order paid, its stock sold.
pub async fn pay(client: &Client, staff: &Who, order: &Placed) {
    let guest = Who::guest();
    let key = uuid::Uuid::new_v4().to_string();
    let offered: Vec<String> = vec![];
    guest
        .call(
            client,
            "select api.payment_begin($2, $3, $4, $5, $6)::text from (select $1::text) session",
            &[
                &order.number,
                &order.token,
                &json!({"provider": "cash_on_delivery"}),
                &idem(&key, "p"),
                &offered,
            ],
        )
        .await
        .unwrap_or_else(|e| panic!("cash on delivery: {e:?}"));
    staff
        .call(
            client,
            "select api.admin_mark_order_paid($2, $3)::text from (select $1::text) session",
            &[&order.number, &json!({})],
        )
        .await
        .unwrap_or_else(|e| panic!("mark paid: {e:?}"));
}

/// [`place`] then [`pay`].
pub async fn paid_order(shop: &Shop, currency: &str, country: &str, items: &[(i64, i32)]) -> Placed {
    let order = place(&shop.client, currency, country, items, None).await;
    pay(&shop.client, &shop.staff_who, &order).await;
    order
}

/// `POST /api/v1/admin/orders/{number}/shipments` as `token`.
pub async fn ship(
    app: &TestApp,
    token: &str,
    number: &str,
    lines: &[(i64, i32)],
    tracking: Option<&str>,
) -> Reply {
    let mut body = json!({"carrier": "dhl",
        "lines": lines.iter().map(|(id, q)| json!({"order_item_id": id, "quantity": q})).collect::<Vec<_>>()});
    if let Some(t) = tracking {
        body["tracking_number"] = json!(t);
    }
    app.call(
        Method::POST,
        &format!("/api/v1/admin/orders/{number}/shipments"),
        Some(token),
        Some(body),
    )
    .await
}

/// `POST /api/v1/admin/shipments/{id}/status`.
pub async fn move_shipment(app: &TestApp, token: &str, id: i64, status: &str) -> Reply {
    app.call(
        Method::POST,
        &format!("/api/v1/admin/shipments/{id}/status"),
        Some(token),
        Some(json!({"status": status})),
    )
    .await
}

/// Ships every line of `order` in one parcel with `tracking` and marks it delivered;
/// returns the shipment id.
pub async fn deliver_all(shop: &Shop, order: &Placed, tracking: &str) -> i64 {
    let lines: Vec<(i64, i32)> = order.lines.iter().map(|(id, _, q)| (*id, *q)).collect();
    let made = ship(&shop.app, &shop.staff, &order.number, &lines, Some(tracking)).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    let id = made.json()["shipment"]["id"].as_i64().unwrap();
    for status in ["shipped", "delivered"] {
        let moved = move_shipment(&shop.app, &shop.staff, id, status).await;
        assert_eq!(moved.status, StatusCode::OK, "{}", moved.text());
    }
    id
}

/// A POST with an `Idempotency-Key` and an optional bearer and order token.
pub async fn post_keyed(
    app: &TestApp,
    path: &str,
    bearer: Option<&str>,
    key: Option<&str>,
    body: Value,
) -> Reply {
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(b) = bearer {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {b}"));
    }
    if let Some(k) = key {
        builder = builder.header("idempotency-key", k);
    }
    app.send(builder.body(Body::from(body.to_string())).unwrap())
        .await
}

/// A GET with the guest's order token and an `Accept` header.
pub async fn get_with_token(app: &TestApp, path: &str, token: &str, accept: &str) -> Reply {
    app.send(
        Request::builder()
            .method(Method::GET)
            .uri(path)
            .header("x-order-token", token)
            .header(header::ACCEPT, accept)
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

/// Every way fulfilment could disagree with itself; empty when consistent:
/// - per line: shipped + cancelled ≤ ordered, returned ≤ shipped;
/// - per line: the counters equal the rows (shipment items, cancellation items,
///   received return items and parcels returned to sender);
/// - per payment: refunds (not failed) never above what was captured;
/// - per document kind and year: numbers 1..n, none missing, none twice.
pub async fn fulfilment_problems(client: &Client) -> Vec<String> {
    client
        .query(
            "select format('line %s: ordered %s, shipped %s (rows %s), cancelled %s (rows %s), returned %s (rows %s)',
                           i.order_item_id, i.quantity, i.quantity_shipped, s.units, i.quantity_cancelled, c.units,
                           i.quantity_returned, coalesce(r.units, 0) + coalesce(rts.units, 0))
             from shop.order_item i
             left join lateral (select coalesce(sum(si.quantity), 0) as units from shop.shipment_item si
                                where si.order_item_id = i.order_item_id) s on true
             left join lateral (select coalesce(sum(ci.quantity), 0) as units from shop.cancellation_item ci
                                where ci.order_item_id = i.order_item_id) c on true
             left join lateral (select sum(ri.quantity) as units from shop.return_item ri join shop.order_return x using (return_id)
                                where ri.order_item_id = i.order_item_id and x.status in ('received', 'refunded')) r on true
             left join lateral (select sum(si.quantity) as units from shop.shipment_item si join shop.shipment sh using (shipment_id)
                                where si.order_item_id = i.order_item_id and sh.status = 'returned_to_sender') rts on true
             where i.quantity_shipped + i.quantity_cancelled > i.quantity or i.quantity_returned > i.quantity_shipped
                or i.quantity_shipped <> s.units or i.quantity_cancelled <> c.units
                or i.quantity_returned <> coalesce(r.units, 0) + coalesce(rts.units, 0)
             union all
             select format('payment %s: refunds %s above captured %s', p.payment_id, sum(f.amount),
                           coalesce(p.amount_received, p.amount))
             from shop.payment p join shop.refund f using (payment_id)
             where f.status <> 'failed'
             group by p.payment_id having sum(f.amount) > coalesce(p.amount_received, p.amount)
             union all
             select format('%s %s: %s numbers from %s to %s, %s distinct', kind, year, count(*), min(sequence),
                           max(sequence), count(distinct sequence))
             from shop.invoice group by kind, year
             having min(sequence) <> 1 or max(sequence) <> count(*) or count(distinct sequence) <> count(*)",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Asserts [`fulfilment_problems`] and the stock consistency query find nothing.
pub async fn assert_fulfilment_consistent(client: &Client) {
    let problems = fulfilment_problems(client).await;
    assert!(problems.is_empty(), "fulfilment is inconsistent: {problems:#?}");
    crate::shop::assert_consistent(client).await;
}

/// A carrier event signed as a carrier signs it: (body, `Maef-Carrier-Signature`).
pub fn carrier_event(secret: &str, t: i64, event: &Value) -> (Vec<u8>, String) {
    let body = event.to_string().into_bytes();
    let signature = maef_payments::signature::sign_timestamped(secret, "v1", t, &body);
    (body, signature)
}

/// `POST /api/v1/webhooks/carrier/{carrier}` with the signature header (if any).
pub async fn send_carrier_event(
    app: &TestApp,
    carrier: &str,
    signature: Option<&str>,
    body: Vec<u8>,
) -> Reply {
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/webhooks/carrier/{carrier}"))
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(s) = signature {
        builder = builder.header("maef-carrier-signature", s);
    }
    app.send(builder.body(Body::from(body)).unwrap()).await
}
