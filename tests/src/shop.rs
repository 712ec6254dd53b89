//! Helpers of the checkout, inventory, order, address and shipping suites: variants with
//! stock and prices, carts made through the SQL API (as a guest or a signed-in user, the
//! way `api.cart_*` is called by the routes), SQL calls under a request role, signed-in
//! HTTP callers, and the stock consistency query run after every concurrency test.

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use serde_json::{json, Value};
use tokio_postgres::{types::ToSql, Client, Row};
use tower::ServiceExt;

use crate::http::TestApp;

/// Password of every account these helpers create.
pub const PASSWORD: &str = "correct horse battery staple";

/// Inserts an active product with one variant (`sku`), an XOF and a EUR price and
/// `stock` units on hand (none when `None`: an untracked variant); returns the
/// variant id. Inventory rows inserted this way open their stock level and ledger
/// (migration V26's trigger), as the catalog's own writes do.
pub async fn seed_variant(client: &Client, sku: &str, xof: i64, eur: i64, stock: Option<i32>) -> i64 {
    client
        .execute(
            "insert into shop.category (name, slug) values ('Test', 'test') on conflict (slug) do nothing",
            &[],
        )
        .await
        .unwrap();
    let slug = sku.to_lowercase();
    let variant: i64 = client
        .query_one(
            "with p as (insert into shop.product (category_id, sku_root, title, slug, brand)
                        values ((select category_id from shop.category where slug = 'test'), $1, 'Product ' || $1, $2, 'Brand')
                        returning product_id),
                  v as (insert into shop.product_variant (product_id, name, sku)
                        select product_id, 'Default', $1 from p returning variant_id),
                  pr as (insert into shop.price (product_id, currency_code, amount)
                         select product_id, c, a from p, (values ('XOF', $3::bigint), ('EUR', $4::bigint)) x(c, a))
             select variant_id from v",
            &[&sku, &slug, &xof, &eur],
        )
        .await
        .unwrap()
        .get(0);
    if let Some(stock) = stock {
        client
            .execute(
                "insert into shop.inventory (variant_id, qty_on_hand) values ($1, $2)",
                &[&variant, &stock],
            )
            .await
            .unwrap();
    }
    variant
}

/// A rate of the standard shipping method.
pub async fn ship_to(client: &Client, country: &str, currency: &str, amount: i64) {
    client
        .execute(
            "insert into shop.shipping_rate (shipping_method_id, country, currency_code, amount)
             select shipping_method_id, $1, $2, $3 from shop.shipping_method where code = 'standard'",
            &[&country, &currency, &amount],
        )
        .await
        .unwrap();
}

/// Runs `sql` in its own transaction as a request role with JWT claims, as the API (or a
/// DBA in psql) would; commits on success, rolls back on error. The client must not be
/// shared with concurrent tasks.
pub async fn as_role(
    client: &Client,
    role: &str,
    claims: &Value,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, tokio_postgres::Error> {
    client.batch_execute("begin").await.unwrap();
    client
        .execute(
            "select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)",
            &[&role, &claims.to_string()],
        )
        .await
        .unwrap();
    let result = client.query(sql, params).await;
    client
        .batch_execute(if result.is_ok() { "commit" } else { "rollback" })
        .await
        .unwrap();
    result
}

/// The claims of an anonymous caller.
pub fn anonymous() -> Value {
    json!({"role": "maef_anon"})
}

/// A caller as the database sees it: role and claims.
#[derive(Debug, Clone)]
pub struct Who {
    /// The request role.
    pub role: String,
    /// The JWT claims.
    pub claims: Value,
    /// A guest's cart session.
    pub session: Option<String>,
}

impl Who {
    /// A guest without a cart yet.
    pub fn guest() -> Self {
        Self {
            role: "maef_anon".into(),
            claims: anonymous(),
            session: None,
        }
    }

    /// One JSON text value from `sql` run as this caller (`$1` is the guest session,
    /// further parameters follow), or the error's (SQLSTATE, constraint).
    pub async fn call(
        &self,
        client: &Client,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Value, (String, String)> {
        let mut all: Vec<&(dyn ToSql + Sync)> = vec![&self.session];
        all.extend_from_slice(params);
        match as_role(client, &self.role, &self.claims, sql, &all).await {
            Ok(rows) => Ok(serde_json::from_str(&rows[0].get::<_, String>(0)).unwrap()),
            Err(e) => Err(sql_error(&e)),
        }
    }
}

/// (SQLSTATE, constraint) of a database error.
pub fn sql_error(e: &tokio_postgres::Error) -> (String, String) {
    let db = e
        .as_db_error()
        .unwrap_or_else(|| panic!("not a database error: {e}"));
    (
        db.code().code().to_string(),
        db.constraint().unwrap_or_default().to_string(),
    )
}

/// A signed-in customer (or `role`) as the database sees them: the claims
/// `api._user_claims` gives the account `email`, created with that role when missing.
pub async fn user(client: &Client, email: &str, role: Option<&str>) -> Who {
    client
        .execute(
            "insert into shop.app_user (email, password_hash) values ($1, 'x') on conflict do nothing",
            &[&email],
        )
        .await
        .unwrap();
    client
        .execute(
            "insert into shop.user_role (user_id, role_id)
             select u.user_id, r.role_id from shop.app_user u, shop.role r
             where u.email = $1 and r.name = coalesce($2, 'customer') on conflict do nothing",
            &[&email, &role],
        )
        .await
        .unwrap();
    let claims: Value = client
        .query_one(
            "select api._user_claims(user_id) from shop.app_user where email = $1",
            &[&email],
        )
        .await
        .unwrap()
        .get(0);
    Who {
        role: claims["role"].as_str().unwrap().to_string(),
        claims,
        session: None,
    }
}

/// Opens `who`'s cart (currency, destination) through `api.cart_open` and adds the
/// `items` (variant, quantity) through `api.cart_add_item`; a guest gets its session.
pub async fn fill_cart(client: &Client, who: &mut Who, currency: &str, country: &str, items: &[(i64, i32)]) {
    let opened = who
        .call(
            client,
            "select api.cart_open($2::text::char(3), $1, $3::text::char(2))::text",
            &[&currency, &country],
        )
        .await
        .unwrap();
    if who.role == "maef_anon" {
        who.session = Some(opened["session"].as_str().unwrap().to_string());
    }
    for (variant, quantity) in items {
        who.call(
            client,
            "select api.cart_add_item($2, $3, $1)::text",
            &[variant, quantity],
        )
        .await
        .unwrap();
    }
}

/// The grand total of `who`'s cart quote.
pub async fn cart_total(client: &Client, who: &Who) -> i64 {
    who.call(client, "select api.cart($1)::text", &[]).await.unwrap()["grand_total"]
        .as_i64()
        .unwrap()
}

/// A checkout request to the default test address in Senegal.
pub fn checkout_body(expected_total: i64) -> Value {
    json!({
        "email": "guest@example.com",
        "shipping_method": "standard",
        "expected_total": expected_total,
        "shipping_address": {"full_name": "Awa Diop", "line1": "12 rue Carnot", "city": "Dakar",
                             "country": "SN", "phone": "77 123 45 67"}
    })
}

/// The `p_idem` argument the API builds for an Idempotency-Key.
pub fn idem(key: &str, hash: &str) -> Value {
    json!({"scope": "anon", "key": key, "method": "POST", "path": "/api/v1/checkout", "hash": hash})
}

/// Every way stock, reservations, orders and coupons could disagree; empty when all is
/// consistent. Written independently of `report.stock_inconsistencies`:
/// - per (variant, location): on hand = sum of the ledger's on-hand deltas; reserved =
///   live reservations + units parked in stock slots = sum of the ledger's reserved
///   deltas + sum of its slot deltas; parked units = sum of the slot deltas; nothing
///   negative or over-reserved without backorder;
/// - per variant: the inventory row's totals = the sums of its levels;
/// - live reservations only on orders awaiting payment or confirmed, and none left on
///   paid, expired or cancelled orders;
/// - each coupon's use count = its redemption rows.
pub async fn stock_problems(client: &Client) -> Vec<String> {
    client
        .query(
            "with ledger as (select variant_id, stock_location_id, sum(on_hand_delta) as on_hand,
                                    sum(reserved_delta) as reserved, sum(slot_delta) as parked
                             from shop.stock_movement group by 1, 2),
                  live as (select variant_id, stock_location_id, sum(quantity) as reserved
                           from shop.stock_reservation where status = 'active' group by 1, 2),
                  slots as (select variant_id, stock_location_id, sum(qty_free) as parked
                            from shop.stock_slot group by 1, 2)
             select format('variant %s at %s: level %s/%s, ledger %s/%s+%s, live reservations %s, parked %s',
                           l.variant_id, l.stock_location_id, l.qty_on_hand, l.qty_reserved,
                           coalesce(g.on_hand, 0), coalesce(g.reserved, 0), coalesce(g.parked, 0),
                           coalesce(r.reserved, 0), coalesce(s.parked, 0))
             from shop.stock_level l
             join shop.inventory i using (variant_id)
             left join ledger g using (variant_id, stock_location_id)
             left join live r using (variant_id, stock_location_id)
             left join slots s using (variant_id, stock_location_id)
             where l.qty_on_hand <> coalesce(g.on_hand, 0)
                or l.qty_reserved <> coalesce(g.reserved, 0) + coalesce(g.parked, 0)
                or l.qty_reserved <> coalesce(r.reserved, 0) + coalesce(s.parked, 0)
                or coalesce(g.parked, 0) <> coalesce(s.parked, 0) or l.qty_reserved < 0
                or (not i.allow_backorder and (l.qty_on_hand < 0 or l.qty_reserved > l.qty_on_hand))
             union all
             select format('variant %s: inventory %s/%s, levels %s/%s', i.variant_id, i.qty_on_hand,
                           i.qty_reserved, s.on_hand, s.reserved)
             from shop.inventory i
             left join (select variant_id, sum(qty_on_hand) as on_hand, sum(qty_reserved) as reserved
                        from shop.stock_level group by 1) s using (variant_id)
             where i.qty_on_hand is distinct from s.on_hand or i.qty_reserved is distinct from s.reserved
             union all
             select format('order %s (%s) has %s live reservation(s)', o.order_number, o.status, count(*))
             from shop.stock_reservation r join shop.customer_order o using (order_id)
             where r.status = 'active' and o.status not in ('awaiting_payment', 'confirmed')
             group by o.order_number, o.status
             union all
             select format('coupon %s: times_used %s, redemptions %s', c.code, c.times_used,
                           (select count(*) from shop.coupon_redemption r where r.coupon_id = c.coupon_id))
             from shop.coupon c
             where c.times_used <> (select count(*) from shop.coupon_redemption r where r.coupon_id = c.coupon_id)",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Asserts [`stock_problems`] finds nothing.
/// Also asserts that `report.stock_inconsistencies`, the staff's own check, agrees.
pub async fn assert_consistent(client: &Client) {
    let problems = stock_problems(client).await;
    assert!(problems.is_empty(), "stock is inconsistent: {problems:#?}");
    let reported: Vec<String> = crate::column(
        client,
        "select format('%s %s: %s %s', variant_id, stock_location_id, problem, data)
         from report.stock_inconsistencies",
    )
    .await;
    assert!(
        reported.is_empty(),
        "report.stock_inconsistencies disagrees: {reported:#?}"
    );
}

/// Registers `email` (with `role`, or a plain customer) and returns the access token of
/// a sign-in. Registration is the identity domain's route, whose 201 body the contract
/// does not describe yet, so it is sent without the contract check; the sign-in is
/// checked as usual.
pub async fn signed_in(app: &TestApp, email: &str, role: Option<&str>) -> String {
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/auth/register")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"email": email, "password": PASSWORD}).to_string(),
        ))
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED, "registering {email}");
    if let Some(role) = role {
        crate::grant_role(&app.db.connect().await, email, role).await;
    }
    let login = app.login(email, PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text());
    login.json()["access_token"].as_str().unwrap().to_string()
}
