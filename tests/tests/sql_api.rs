//! SQL API tests: `api.*` called with tokio-postgres, as a DBA in psql or the worker
//! would, against a database cloned from the migrated template.

use maef_tests::{seed_products, TestDb};
use serde_json::Value;

async fn json(
    client: &tokio_postgres::Client,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Value {
    client.query_one(sql, params).await.unwrap().get(0)
}

fn sqlstate(err: &tokio_postgres::Error) -> (String, Option<String>) {
    let db = err
        .as_db_error()
        .unwrap_or_else(|| panic!("not a server error: {err}"));
    (db.code().code().to_string(), db.constraint().map(String::from))
}

#[tokio::test]
async fn migrate_is_idempotent_and_reloads_code_without_touching_data() {
    let db = TestDb::new().await;
    let mut client = db.connect().await;
    seed_products(&client, "keep", 3).await;
    let report = maef_api::migrate::run(&mut client).await.unwrap();
    assert!(
        report.applied.is_empty(),
        "template already migrated: {:?}",
        report.applied
    );
    assert!(report.sql_files >= 3);
    let count: i64 = client
        .query_one("select count(*) from shop.product", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 3, "reloading code must not touch data");
    assert!(maef_api::migrate::pending(&mut client).await.unwrap().is_empty());
}

#[tokio::test]
async fn reload_refuses_when_data_depends_on_code() {
    let db = TestDb::new().await;
    let mut client = db.connect().await;
    client
        .batch_execute(
            "alter table shop.product add column shown_price text default maef.format_money(1, 0, 'XOF')",
        )
        .await
        .unwrap();
    let err = maef_api::migrate::run(&mut client).await.unwrap_err().to_string();
    assert!(err.contains("depend on reloadable code"), "{err}");
    assert!(err.contains("shop.product"), "names the dependent object: {err}");
    // Nothing was dropped: the column and the code are still there.
    let formatted: String = client
        .query_one("select maef.format_money(150000, 0, 'XOF')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(formatted, "150,000 XOF");
}

#[tokio::test]
async fn no_data_object_depends_on_code_after_migrate() {
    let db = TestDb::new().await;
    let mut client = db.connect().await;
    // Running migrate again performs the dependency check against the real model.
    maef_api::migrate::run(&mut client)
        .await
        .expect("the real data model must not depend on api/report/maef");
}

#[tokio::test]
async fn list_products_pages_by_keyset_and_validates_its_arguments() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let slugs = seed_products(&client, "page", 5).await;
    let first = json(&client, "select api.list_products(2, null)", &[]).await;
    let items = first["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["slug"], slugs[0].as_str());
    let cursor = first["next_cursor"].as_str().unwrap().to_string();
    let last = json(&client, "select api.list_products(10, $1)", &[&cursor]).await;
    assert_eq!(last["items"].as_array().unwrap().len(), 3);
    assert!(last["next_cursor"].is_null());

    for (limit, after) in [(0, None), (101, None), (10, Some("abc")), (10, Some("-1"))] {
        let err = client
            .query_one("select api.list_products($1, $2)", &[&limit, &after])
            .await
            .unwrap_err();
        let (code, constraint) = sqlstate(&err);
        assert_eq!(code, "MA422", "limit={limit} after={after:?}");
        assert!(matches!(
            constraint.as_deref(),
            Some("invalid_limit" | "invalid_cursor")
        ));
    }
}

#[tokio::test]
async fn product_json_has_formatted_prices_variants_and_stock_status() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let slug = seed_products(&client, "shape", 1).await.remove(0);
    client
        .execute(
            "update shop.price set compare_at_amount = 3000 where currency_code = 'EUR'",
            &[],
        )
        .await
        .unwrap();
    let product = json(&client, "select api.product_by_slug($1)", &[&slug]).await;
    let prices = product["price_from"].as_array().unwrap();
    assert_eq!(prices.len(), 2);
    assert_eq!(prices[0]["currency"], "EUR");
    assert_eq!(prices[0]["price_formatted"], "22.99 EUR");
    assert_eq!(prices[0]["compare_at_formatted"], "30.00 EUR");
    assert_eq!(prices[1]["price_formatted"], "15,000 XOF");
    assert!(prices[1]["compare_at_amount"].is_null());
    let variant = &product["variants"][0];
    assert_eq!(variant["stock_status"], "in_stock");
    assert_eq!(variant["prices"].as_array().unwrap().len(), 2);
    assert_eq!(product["breadcrumbs"][0]["slug"], "test");
    for field in [
        "id",
        "sku_root",
        "title",
        "description",
        "specs",
        "tags",
        "media",
        "related",
    ] {
        assert!(product.get(field).is_some(), "missing {field}");
    }

    client
        .execute("update shop.inventory set qty_on_hand = 3", &[])
        .await
        .unwrap();
    let low = json(&client, "select api.product_by_slug($1)", &[&slug]).await;
    assert_eq!(low["variants"][0]["stock_status"], "low_stock");
    client
        .execute("update shop.inventory set qty_reserved = 3", &[])
        .await
        .unwrap();
    let out = json(&client, "select api.product_by_slug($1)", &[&slug]).await;
    assert_eq!(out["variants"][0]["stock_status"], "out_of_stock");
    assert_eq!(out["in_stock"], false);
}

#[tokio::test]
async fn an_unknown_or_inactive_slug_raises_ma404() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let slug = seed_products(&client, "gone", 1).await.remove(0);
    client
        .execute("update shop.product set is_active = false", &[])
        .await
        .unwrap();
    for s in [slug.as_str(), "never-existed"] {
        let err = client
            .query_one("select api.product_by_slug($1)", &[&s])
            .await
            .unwrap_err();
        assert_eq!(sqlstate(&err), ("MA404".into(), Some("product_not_found".into())));
    }
}

#[tokio::test]
async fn variant_prices_override_product_prices_within_their_window() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let slug = seed_products(&client, "window", 1).await.remove(0);
    client
        .batch_execute(
            "insert into shop.price (variant_id, currency_code, amount, starts_at, ends_at)
             select variant_id, 'EUR', 1999, now() - interval '1 day', now() + interval '1 day' from shop.product_variant;
             insert into shop.price (variant_id, currency_code, amount, starts_at)
             select variant_id, 'EUR', 999, now() + interval '1 day' from shop.product_variant;",
        )
        .await
        .unwrap();
    let product = json(&client, "select api.product_by_slug($1)", &[&slug]).await;
    assert_eq!(product["variants"][0]["prices"][0]["amount"], 1999);
}

#[tokio::test]
async fn overlapping_price_windows_and_reservations_beyond_stock_are_refused() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    seed_products(&client, "rules", 1).await;
    let err = client
        .execute("insert into shop.price (product_id, currency_code, amount) select product_id, 'EUR', 1 from shop.product", &[])
        .await
        .unwrap_err();
    assert_eq!(
        sqlstate(&err),
        ("23P01".into(), Some("price_product_window_excl".into()))
    );
    let err = client
        .execute("update shop.inventory set qty_reserved = qty_on_hand + 1", &[])
        .await
        .unwrap_err();
    assert_eq!(
        sqlstate(&err),
        ("23514".into(), Some("inventory_reserved_within_on_hand".into()))
    );
    let err = client
        .execute(
            "insert into shop.app_user (email) values ('Mixed@Example.com')",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err).0, "23514", "emails are stored normalised");
    client
        .execute(
            "insert into shop.app_user (email) values ('ada@example.com')",
            &[],
        )
        .await
        .unwrap();
    let err = client
        .execute(
            "insert into shop.app_user (email) values ('ada@example.com')",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(
        sqlstate(&err),
        ("23505".into(), Some("app_user_email_key".into()))
    );
}

#[tokio::test]
async fn anonymous_callers_reach_the_api_but_not_the_tables_or_the_queue() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    seed_products(&client, "anon", 2).await;
    client
        .batch_execute("begin; set local role maef_anon")
        .await
        .unwrap();
    let page = json(&client, "select api.list_products(10, null)", &[]).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    client.batch_execute("savepoint s").await.unwrap();
    let err = client.query("select * from shop.product", &[]).await.unwrap_err();
    assert_eq!(sqlstate(&err).0, "42501");
    client.batch_execute("rollback to savepoint s").await.unwrap();
    let err = client
        .query("select api.claim_jobs('w', array['noop'], 1, '30 s')", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err).0, "42501");
    client.batch_execute("rollback to savepoint s").await.unwrap();
    let err = client
        .query("select api._stock_status(1)", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err).0, "42501", "private helpers are not callable");
    client.batch_execute("rollback").await.unwrap();
}

#[tokio::test]
async fn money_helpers_are_installed_and_round_half_to_even() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let row = client
        .query_one(
            "select maef.format_money(150000, 0, 'XOF'), maef.format_money(1999, 2, 'EUR'),
                    maef.to_minor_units(19.995, 2), maef.to_minor_units(2.5, 0), maef.to_major_units(1999, 2)::text",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "150,000 XOF");
    assert_eq!(row.get::<_, String>(1), "19.99 EUR");
    assert_eq!(row.get::<_, i64>(2), 2000);
    assert_eq!(row.get::<_, i64>(3), 2);
    assert_eq!(row.get::<_, String>(4), "19.99");
    let err = client
        .query_one("select maef.format_money(1, 9, 'EUR')", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err).0, "22023");
}

#[tokio::test]
async fn rate_limit_windows_older_than_a_day_are_pruned() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    client
        .batch_execute(
            "insert into shop.rate_limit_counter (bucket, window_start, hits) values
                 ('login:client:a', now() - interval '2 days', 3), ('login:client:a', now(), 1)",
        )
        .await
        .unwrap();
    let pruned: i32 = client
        .query_one("select api.prune_rate_limit_counters()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(pruned, 1);
    let left: i64 = client
        .query_one("select count(*) from shop.rate_limit_counter", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 1, "the current window stays");
}
