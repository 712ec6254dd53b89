//! Pricing at the SQL level: `maef.quote`, `api.cart_quote` over real catalog rows
//! (price windows, tiers, tax by category, shipping, coupons), rule validation, price
//! history, and the coupon redemption race.

use maef_tests::{seed_products, TestDb};
use serde_json::{json, Value};
use tokio_postgres::Client;

/// Seeds `n` products (EUR 22.99 incl. tax, stock 10) and an open guest EUR cart
/// holding one unit of each; returns (cart id, session, variant ids).
async fn guest_cart(client: &Client, n: i32) -> (String, String, Vec<i64>) {
    seed_products(client, "q", n).await;
    let session = "guest-session-secret";
    let cart_id: String = client
        .query_one(
            "insert into shop.cart (currency_code, session_hash)
             values ('EUR', encode(sha256(convert_to($1, 'UTF8')), 'hex')) returning cart_id::text",
            &[&session],
        )
        .await
        .unwrap()
        .get(0);
    let variants: Vec<i64> = client
        .query(
            "select variant_id from shop.product_variant order by variant_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    client
        .execute(
            "insert into shop.cart_item (cart_id, variant_id, quantity)
             select $1::text::uuid, variant_id, 1 from shop.product_variant",
            &[&cart_id],
        )
        .await
        .unwrap();
    (cart_id, session.to_string(), variants)
}

async fn quote(client: &Client, cart_id: &str, session: &str) -> Value {
    client
        .query_one("select api.cart_quote($1::text::uuid, $2)", &[&cart_id, &session])
        .await
        .unwrap()
        .get(0)
}

fn code_of(err: &tokio_postgres::Error) -> (String, String) {
    let db = err
        .as_db_error()
        .unwrap_or_else(|| panic!("not a server error: {err}"));
    (
        db.code().code().to_string(),
        db.constraint().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn maef_quote_is_immutable_parallel_safe_and_prices_a_document() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let volatility: String = client
        .query_one("select provolatile::text || proparallel::text from pg_proc where oid = 'maef.quote(jsonb)'::regprocedure", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(volatility, "is");
    let input = json!({"currency": "XOF", "exponent": 0, "lines": [
        {"line_id": 1, "variant_id": 1, "quantity": 3, "unit_price": 2500}]});
    let q: Value = client
        .query_one("select maef.quote($1)", &[&input])
        .await
        .unwrap()
        .get(0);
    assert_eq!(q["grand_total"], 7500);
}

#[tokio::test]
async fn cart_quote_uses_the_store_setting_category_tax_and_shipping_threshold() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let (cart, session, _) = guest_cart(&client, 2).await;
    client
        .batch_execute(
            "insert into shop.tax_rate (country, rate_bp) values ('FR', 2000);
             insert into shop.shipping_rate (country, currency_code, amount, free_over) values ('FR', 'EUR', 499, 10000);",
        )
        .await
        .unwrap();
    let q = quote(&client, &cart, &session).await;
    // 2 × 22.99 = 45.98 incl. 20 %: tax per line 22.99 × 20/120 = 3.8317 → 3.83; shipping
    // 4.99 incl. → 0.8317 → 0.83; grand 45.98 + 4.99 = 50.97
    assert_eq!(q["subtotal"], 4598);
    assert_eq!(q["tax_inclusive"], true);
    assert_eq!(q["tax_total"], 383 + 383 + 83);
    assert_eq!(q["grand_total"], 5097);
    assert_eq!(q["grand_total_formatted"], "50.97 EUR");
    assert_eq!(q["lines"][0]["label"]["sku"], "Q-1-D");
    assert_eq!(q["messages"][0]["code"], "free_shipping_remaining");
}

#[tokio::test]
async fn a_category_tax_rate_applies_to_products_of_its_descendants() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let (cart, session, _) = guest_cart(&client, 1).await;
    client
        .batch_execute(
            "insert into shop.category (name, slug) values ('Food', 'food');
             update shop.category set parent_id = (select category_id from shop.category where slug = 'food') where slug = 'test';
             insert into shop.tax_rate (country, rate_bp) values ('FR', 2000);
             insert into shop.tax_rate (country, category_id, rate_bp)
                 select 'FR', category_id, 550 from shop.category where slug = 'food';",
        )
        .await
        .unwrap();
    let q = quote(&client, &cart, &session).await;
    // 22.99 incl. 5.5 %: 2299 × 550 / 10550 = 119.85 → 1.20
    assert_eq!(q["lines"][0]["tax_rate_bp"], 550);
    assert_eq!(q["tax_total"], 120);
}

#[tokio::test]
async fn a_volume_tier_lowers_the_unit_price_from_its_minimum_quantity() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let (cart, session, variants) = guest_cart(&client, 1).await;
    client
        .execute(
            "insert into shop.price_tier (variant_id, currency_code, min_quantity, amount) values ($1, 'EUR', 3, 1999)",
            &[&variants[0]],
        )
        .await
        .unwrap();
    assert_eq!(
        quote(&client, &cart, &session).await["lines"][0]["unit_price"],
        2299
    );
    client
        .execute("update shop.cart_item set quantity = 3", &[])
        .await
        .unwrap();
    let q = quote(&client, &cart, &session).await;
    assert_eq!(q["lines"][0]["unit_price"], 1999);
    assert_eq!(q["subtotal"], 5997);
}

#[tokio::test]
async fn a_scheduled_sale_price_applies_only_inside_its_window() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let (cart, session, variants) = guest_cart(&client, 1).await;
    client
        .execute(
            "insert into shop.price (variant_id, currency_code, amount, starts_at, ends_at)
             values ($1, 'EUR', 1500, now() + interval '1 day', now() + interval '2 days')",
            &[&variants[0]],
        )
        .await
        .unwrap();
    assert_eq!(quote(&client, &cart, &session).await["subtotal"], 2299);
    client
        .execute(
            "update shop.price set starts_at = now() - interval '1 hour' where variant_id = $1",
            &[&variants[0]],
        )
        .await
        .unwrap();
    assert_eq!(quote(&client, &cart, &session).await["subtotal"], 1500);
}

#[tokio::test]
async fn a_coupon_promotion_applies_with_its_code_and_an_expired_one_says_so() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let (cart, session, _) = guest_cart(&client, 2).await;
    client
        .batch_execute(
            r#"insert into shop.promotion (name, rules, stacking) values
                 ('Spring', '{"action": {"type": "percent_off_items", "percent": 10}}', 'exclusive');
               insert into shop.coupon (promotion_id, code) select promotion_id, 'Spring10' from shop.promotion;"#,
        )
        .await
        .unwrap();
    // Without the code the promotion (which has a coupon) does not apply.
    assert_eq!(quote(&client, &cart, &session).await["discount_total"], 0);
    client
        .execute("update shop.cart set coupon_code = 'SPRING10'", &[])
        .await
        .unwrap();
    let q = quote(&client, &cart, &session).await;
    // 45.98 × 10 % = 4.598 → 4.60, split 2.30 + 2.30
    assert_eq!(q["discount_total"], 460);
    assert_eq!(q["lines"][0]["discounts"][0]["name"], "Spring");
    client
        .execute("update shop.coupon set starts_at = now() - interval '2 days', ends_at = now() - interval '1 day'", &[])
        .await
        .unwrap();
    let q = quote(&client, &cart, &session).await;
    assert_eq!(q["discount_total"], 0);
    assert_eq!(q["messages"][0]["code"], "coupon_expired");
}

#[tokio::test]
async fn cart_quote_refuses_a_stranger_without_the_session() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let (cart, _, _) = guest_cart(&client, 1).await;
    let err = client
        .query_one("select api.cart_quote($1::text::uuid, 'wrong')", &[&cart])
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), ("MA404".into(), "cart_not_found".into()));
}

#[tokio::test]
async fn invalid_promotion_rules_are_refused_naming_the_json_path() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    client
        .batch_execute(r#"select set_config('request.jwt.claims', '{"sub": "00000000-0000-0000-0000-000000000001", "scope": "promotions:write"}', false)"#)
        .await
        .unwrap();
    let bad = json!({"name": "Bad", "rules": {"action": {"type": "percent_off_items", "percent": 120}}});
    let err = client
        .query_one("select api.admin_create_promotion($1)", &[&bad])
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), ("MA422".into(), "promotion_rules_invalid".into()));
    let db_err = err.as_db_error().unwrap();
    assert_eq!(db_err.detail(), Some("$.action.percent"));
    assert!(
        db_err.message().contains("must be between 1 and 100"),
        "{}",
        db_err.message()
    );
}

#[tokio::test]
async fn every_price_change_is_recorded_and_the_lowest_price_of_30_days_is_kept() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    seed_products(&client, "h", 1).await;
    let variant: i64 = client
        .query_one("select variant_id from shop.product_variant", &[])
        .await
        .unwrap()
        .get(0);
    client
        .execute(
            "update shop.price set amount = 1999 where currency_code = 'EUR'",
            &[],
        )
        .await
        .unwrap();
    client
        .execute(
            "update shop.price set amount = 2499 where currency_code = 'EUR'",
            &[],
        )
        .await
        .unwrap();
    let changes: i64 = client
        .query_one(
            "select count(*) from shop.price_history where currency_code = 'EUR'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(changes, 3, "insert + two updates");
    let lowest: i64 = client
        .query_one("select api.lowest_price_30d($1, 'EUR')", &[&variant])
        .await
        .unwrap()
        .get(0);
    assert_eq!(lowest, 1999);
    // Changes older than 30 days do not count, except the one in force when they began.
    client
        .execute("update shop.price_history set changed_at = changed_at - interval '40 days' where amount in (2299, 1999)", &[])
        .await
        .unwrap();
    let lowest: i64 = client
        .query_one("select api.lowest_price_30d($1, 'EUR')", &[&variant])
        .await
        .unwrap()
        .get(0);
    assert_eq!(lowest, 1999, "1999 was still the price 30 days ago");
}

#[tokio::test]
async fn a_hundred_concurrent_redemptions_of_a_ten_use_coupon_give_exactly_ten() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    client
        .batch_execute(
            r#"insert into shop.promotion (name, rules) values ('Ten', '{"action": {"type": "free_shipping"}}');
               insert into shop.coupon (promotion_id, code, usage_limit) select promotion_id, 'RACE', 10 from shop.promotion;"#,
        )
        .await
        .unwrap();
    // 25 connections × 4 attempts each = 100 redemptions racing on one coupon row.
    let mut tasks = Vec::new();
    for _ in 0..25 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let c = db.connect().await;
            let mut results = Vec::new();
            for _ in 0..4 {
                results.push(
                    c.query_one("select api.redeem_coupon('race')", &[])
                        .await
                        .map_err(|e| code_of(&e)),
                );
            }
            results
        }));
    }
    let mut ok = 0;
    for t in tasks {
        for r in t.await.unwrap() {
            match r {
                Ok(_) => ok += 1,
                Err(code) => assert_eq!(code, ("MA409".into(), "coupon_exhausted".into())),
            }
        }
    }
    assert_eq!(ok, 10);
    let row = client
        .query_one(
            "select times_used, (select count(*) from shop.coupon_redemption) from shop.coupon",
            &[],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, i32>(0), row.get::<_, i64>(1)), (10, 10));
}

#[tokio::test]
async fn the_product_page_shows_the_lowest_price_of_the_last_30_days() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let slug = seed_products(&client, "omnibus", 1).await.remove(0);
    client
        .execute(
            "update shop.price set amount = 1899 where currency_code = 'EUR'",
            &[],
        )
        .await
        .unwrap();
    client
        .execute(
            "update shop.price set amount = 2599 where currency_code = 'EUR'",
            &[],
        )
        .await
        .unwrap();
    let page: Value = client
        .query_one("select api.product_by_slug($1)", &[&slug])
        .await
        .unwrap()
        .get(0);
    let eur = page["variants"][0]["prices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["currency"] == "EUR")
        .unwrap()
        .clone();
    assert_eq!(
        (eur["amount"].as_i64(), eur["lowest_price_30d"].as_i64()),
        (Some(2599), Some(1899))
    );
}

#[tokio::test]
async fn a_customer_cannot_redeem_a_coupon_beyond_their_own_limit() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let user: String = client
        .query_one(
            "insert into shop.app_user (email) values ('limit@example.com') returning user_id::text",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    client
        .batch_execute(&format!(
            r#"insert into shop.promotion (name, rules) values ('Once', '{{"action": {{"type": "free_shipping"}}}}');
               insert into shop.coupon (promotion_id, code, per_customer_limit) select promotion_id, 'ONCE', 1 from shop.promotion;
               select set_config('request.jwt.claims', '{{"sub": "{user}"}}', false);"#
        ))
        .await
        .unwrap();
    assert!(client
        .query_one("select api.redeem_coupon('once')", &[])
        .await
        .is_ok());
    let err = client
        .query_one("select api.redeem_coupon('ONCE')", &[])
        .await
        .unwrap_err();
    assert_eq!(
        code_of(&err),
        ("MA409".into(), "coupon_customer_limit_reached".into())
    );
    let used: i32 = client
        .query_one("select times_used from shop.coupon", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(used, 1, "the refused redemption rolled back its increment");
}

#[tokio::test]
async fn a_customer_group_price_list_applies_to_its_members_only() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    seed_products(&client, "group", 1).await;
    let row = client
        .query_one(
            "with u as (insert into shop.app_user (email) values ('pro@example.com') returning user_id),
                  g as (insert into shop.customer_group (code, name) values ('pro', 'Professionals') returning customer_group_id),
                  t as (insert into shop.price_tier (variant_id, currency_code, amount, customer_group_id)
                        select (select variant_id from shop.product_variant), 'EUR', 1999, customer_group_id from g),
                  c as (insert into shop.cart (user_id, currency_code) select user_id, 'EUR' from u returning cart_id, user_id),
                  i as (insert into shop.cart_item (cart_id, variant_id, quantity)
                        select cart_id, (select variant_id from shop.product_variant), 1 from c)
             select c.cart_id::text, c.user_id::text, (select customer_group_id from g) from c",
            &[],
        )
        .await
        .unwrap();
    let (cart, user, group): (String, String, i64) = (row.get(0), row.get(1), row.get(2));
    client
        .execute(
            "select set_config('request.jwt.claims', $1, false)",
            &[&json!({"sub": user}).to_string()],
        )
        .await
        .unwrap();
    let price = |q: Value| q["lines"][0]["unit_price"].as_i64();
    assert_eq!(
        price(quote(&client, &cart, "").await),
        Some(2299),
        "not a member yet"
    );
    client
        .execute(
            "insert into shop.customer_group_member (customer_group_id, user_id) values ($1, $2::text::uuid)",
            &[&group, &user],
        )
        .await
        .unwrap();
    assert_eq!(price(quote(&client, &cart, "").await), Some(1999));
}

#[tokio::test]
async fn items_no_longer_sold_are_left_out_of_the_totals_and_named_in_a_message() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let (cart, session, variants) = guest_cart(&client, 4).await;
    // One product taken off sale, one variant deactivated, one without a EUR price.
    client
        .batch_execute(
            "update shop.product set is_active = false where slug = 'q-2';
             update shop.product_variant set is_active = false where sku = 'Q-3-D';
             delete from shop.price where currency_code = 'EUR'
                 and product_id = (select product_id from shop.product where slug = 'q-4');",
        )
        .await
        .unwrap();
    let q = quote(&client, &cart, &session).await;
    let lines: Vec<i64> = q["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["variant_id"].as_i64().unwrap())
        .collect();
    assert_eq!(lines, [variants[0]]);
    assert_eq!(q["subtotal"], 2299);
    let texts: Vec<&str> = q["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["code"] == "item_unavailable")
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "Q-2-D is no longer available",
            "Q-3-D is no longer available",
            "Q-4-D is no longer available"
        ]
    );
    assert_eq!(q["cart_id"], cart);
}
