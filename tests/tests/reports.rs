//! The shop's reports: the sales figures (materialized past days plus live ones) agree
//! with a brute-force sum of the orders; every report of schema `report` is documented
//! (its COMMENT), runs for staff in psql, and answers over HTTP as JSON and as CSV;
//! `reports:read` is required; bad parameters are 422 problems; funnel, searches (CSV
//! formula neutralised), customers and payments give the expected figures.

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use maef_tests::{
    http::{Reply, TestApp},
    shop::{as_role, seed_variant, signed_in},
};
use serde_json::{json, Value};
use tokio_postgres::Client;

/// Inserts an order placed `days_ago` (0: now) in `currency`, paid unless `paid` is
/// false, with `lines` (product slug, quantity, unit amount, line discount), shipping,
/// and optionally a promotion (id, amount) through coupon `code`. Returns its id.
#[allow(clippy::too_many_arguments)]
async fn order(
    client: &Client,
    days_ago: i32,
    currency: &str,
    customer: &str,
    lines: &[(&str, i32, i64, i64)],
    shipping: i64,
    paid: bool,
    promotion: Option<(i64, i64, &str)>,
) -> uuid::Uuid {
    let subtotal: i64 = lines.iter().map(|l| i64::from(l.1) * l.2).sum();
    let line_discounts: i64 = lines.iter().map(|l| l.3).sum();
    let order_discount = promotion.map_or(0, |p| p.1);
    let discount = line_discounts + order_discount;
    let total = subtotal - discount + shipping;
    let promotions = match promotion {
        Some((id, amount, _)) => {
            json!([{"promotion_id": id, "name": "Promo", "class": "order", "amount": amount}])
        }
        None => json!([]),
    };
    let code = promotion.map(|p| p.2.to_string());
    let id: uuid::Uuid = client
        .query_one(
            "insert into shop.customer_order (email, currency_code, subtotal_amount, discount_amount, shipping_amount,
                                              total_amount, placed_at, created_at, promotions, coupon_code, coupon_id)
             values ($1, $2::text::char(3), $3, $4, $5, $6, now() - make_interval(days => $7), now() - make_interval(days => $7),
                     $8, $9, (select coupon_id from shop.coupon where code = $9))
             returning order_id",
            &[&customer, &currency, &subtotal, &discount, &shipping, &total, &days_ago, &promotions, &code],
        )
        .await
        .unwrap()
        .get(0);
    for (slug, quantity, unit, line_discount) in lines {
        client
            .execute(
                "insert into shop.order_item (order_id, product_id, product_title, variant_name, sku, quantity, unit_amount,
                                              subtotal_amount, discount_amount, total_amount)
                 select $1, p.product_id, p.title, 'Default', p.sku_root, $3, $4, $3::integer * $4::bigint, $5, $3::integer * $4::bigint - $5::bigint
                 from shop.product p where p.slug = $2",
                &[&id, slug, quantity, unit, line_discount],
            )
            .await
            .unwrap();
    }
    if paid {
        client
            .execute(
                "update shop.customer_order set status = 'paid', payment_status = 'paid' where order_id = $1",
                &[&id],
            )
            .await
            .unwrap();
    }
    id
}

async fn get(app: &TestApp, path: &str, token: &str) -> Reply {
    app.call(Method::GET, path, Some(token), None).await
}

async fn get_csv(app: &TestApp, path: &str, token: &str) -> Reply {
    app.send(
        Request::builder()
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::ACCEPT, "text/csv")
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

/// A catalogue of three products in two categories and two brands, and a manager.
async fn shop(app: &TestApp, client: &Client) -> String {
    for sku in ["ROBE-1", "ROBE-2", "SAC-1"] {
        seed_variant(client, sku, 15000, 2299, Some(10)).await;
    }
    client
        .batch_execute(
            "insert into shop.category (name, slug) values ('Sacs', 'sacs');
             update shop.product set category_id = (select category_id from shop.category where slug = 'sacs'),
                                     brand = 'Maroquin' where slug = 'sac-1';
             insert into shop.promotion (promotion_id, name) overriding system value values (900, 'Soldes');
             insert into shop.coupon (promotion_id, code) values (900, 'SOLDES10');",
        )
        .await
        .unwrap();
    signed_in(app, "manager@example.com", Some("manager")).await
}

#[tokio::test]
async fn sales_reports_agree_with_a_brute_force_sum_over_materialized_and_live_days() {
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    let manager = shop(&app, &client).await;
    order(
        &client,
        3,
        "XOF",
        "a@x.sn",
        &[("robe-1", 2, 15000, 0), ("sac-1", 1, 30000, 5000)],
        2000,
        true,
        None,
    )
    .await;
    order(
        &client,
        3,
        "EUR",
        "b@x.fr",
        &[("robe-2", 1, 2299, 0)],
        500,
        true,
        None,
    )
    .await;
    order(
        &client,
        2,
        "XOF",
        "a@x.sn",
        &[("robe-2", 3, 15000, 0)],
        2000,
        true,
        Some((900, 4500, "SOLDES10")),
    )
    .await;
    order(
        &client,
        2,
        "XOF",
        "c@x.sn",
        &[("robe-1", 1, 15000, 0)],
        0,
        false,
        None,
    )
    .await; // unpaid: not a sale
    let refunded = order(
        &client,
        1,
        "XOF",
        "d@x.sn",
        &[("sac-1", 1, 30000, 0)],
        2000,
        true,
        None,
    )
    .await;
    client
        .execute(
            "with p as (insert into shop.payment (order_id, provider, status, amount, currency_code, succeeded_at)
                        values ($1, 'stripe', 'succeeded', 32000, 'XOF', now()) returning payment_id, order_id)
             insert into shop.refund (payment_id, order_id, amount, currency_code, status, succeeded_at)
             select payment_id, order_id, 12000, 'XOF', 'succeeded', now() from p",
            &[&refunded],
        )
        .await
        .unwrap();
    client
        .execute(
            "update shop.customer_order set payment_status = 'partially_refunded' where order_id = $1",
            &[&refunded],
        )
        .await
        .unwrap();
    // Past days come from the materialized views once refreshed; today is live.
    client
        .query_one("select api.refresh_materialized_views()", &[])
        .await
        .unwrap();
    order(
        &client,
        0,
        "XOF",
        "e@x.sn",
        &[("robe-1", 1, 15000, 1000)],
        2000,
        true,
        None,
    )
    .await;

    let expected: Vec<Value> = client
        .query(
            "with d as (
                 select (o.placed_at at time zone 'UTC')::date as day, o.currency_code::text as currency, count(*) as orders,
                        sum((select sum(quantity) from shop.order_item i where i.order_id = o.order_id))::bigint as units,
                        sum(subtotal_amount)::bigint as gross, sum(discount_amount)::bigint as discounts,
                        sum(shipping_amount)::bigint as shipping, sum(total_amount)::bigint as total
                 from shop.customer_order o where payment_status <> 'none' group by 1, 2),
             r as (select (created_at at time zone 'UTC')::date as day, currency_code::text as currency, sum(amount)::bigint as refunds
                   from shop.refund where status = 'succeeded' group by 1, 2)
             select jsonb_build_object('period', coalesce(d.day, r.day), 'currency', coalesce(d.currency, r.currency),
                                       'orders', coalesce(d.orders, 0), 'units', coalesce(d.units, 0),
                                       'gross', coalesce(d.gross, 0), 'discounts', coalesce(d.discounts, 0),
                                       'shipping', coalesce(d.shipping, 0), 'tax', 0, 'total', coalesce(d.total, 0),
                                       'refunds', coalesce(r.refunds, 0),
                                       'net', coalesce(d.total, 0) - coalesce(r.refunds, 0))
             from d full join r using (day, currency)
             order by coalesce(d.day, r.day), coalesce(d.currency, r.currency)",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        expected.len(),
        5,
        "three past days and today, two currencies on one day"
    );
    let report = get(&app, "/api/v1/admin/reports/sales?from=2000-01-01", &manager).await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.text());
    let report = report.json();
    assert_eq!(report["rows"], json!(expected));
    assert_eq!(report["columns"][0], "period");

    // The same figures per month, and per product / category / brand / coupon.
    let monthly = get(
        &app,
        "/api/v1/admin/reports/sales?from=2000-01-01&grain=month&currency=xof",
        &manager,
    )
    .await
    .json();
    let xof_total: i64 = expected
        .iter()
        .filter(|r| r["currency"] == "XOF")
        .map(|r| r["total"].as_i64().unwrap())
        .sum();
    let month_total: i64 = monthly["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["total"].as_i64().unwrap())
        .sum();
    assert_eq!(month_total, xof_total);
    let products = get(
        &app,
        "/api/v1/admin/reports/sales_by_product?from=2000-01-01&currency=XOF",
        &manager,
    )
    .await
    .json();
    let by_product: Vec<(String, i64, i64)> = products["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["sku_root"].as_str().unwrap().to_string(),
                r["units"].as_i64().unwrap(),
                r["net"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        by_product,
        vec![
            ("SAC-1".to_string(), 2, 55000),  // 30000 - 5000, and 30000
            ("ROBE-2".to_string(), 3, 45000), // 3 × 15000 (the promotion is order-level)
            ("ROBE-1".to_string(), 3, 44000), // 2 × 15000, and 15000 - 1000 today (live)
        ]
    );
    let categories = get(
        &app,
        "/api/v1/admin/reports/sales_by_category?from=2000-01-01&currency=XOF",
        &manager,
    )
    .await
    .json();
    let by_category: Vec<(Value, i64)> = categories["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["category"].clone(), r["net"].as_i64().unwrap()))
        .collect();
    assert_eq!(by_category, vec![(json!("test"), 89000), (json!("sacs"), 55000)]);
    let brands = get(
        &app,
        "/api/v1/admin/reports/sales_by_brand?from=2000-01-01&currency=XOF",
        &manager,
    )
    .await
    .json();
    assert_eq!(brands["rows"][0]["brand"], "Brand");
    assert_eq!(brands["rows"][1]["brand"], "Maroquin");
    let coupons = get(
        &app,
        "/api/v1/admin/reports/sales_by_coupon?from=2000-01-01",
        &manager,
    )
    .await
    .json();
    assert_eq!(
        coupons["rows"],
        json!([{"coupon_code": "SOLDES10", "promotion_id": 900, "promotion": "Soldes", "currency": "XOF",
                "uses": 1, "discount": 4500, "revenue": 42500}])
    );
    let refunds = get(
        &app,
        "/api/v1/admin/reports/refund_rate_by_product?from=2000-01-01&currency=XOF",
        &manager,
    )
    .await
    .json();
    assert_eq!(refunds["rows"][0]["product"], "Product SAC-1");
    assert_eq!(refunds["rows"][0]["refund_rate"], 0.5);

    // CSV: the same rows, streamed, with a header.
    let csv = get_csv(&app, "/api/v1/admin/reports/sales?from=2000-01-01", &manager).await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.text());
    assert!(csv.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = csv.text();
    let lines: Vec<&str> = text.split_terminator("\r\n").collect();
    assert_eq!(
        lines[0],
        "period,currency,orders,units,gross,discounts,shipping,tax,total,refunds,net"
    );
    assert_eq!(lines.len(), 1 + expected.len());
    let first = &expected[0];
    assert_eq!(
        lines[1],
        format!(
            "{},{},{},{},{},{},{},0,{},{},{}",
            first["period"].as_str().unwrap(),
            first["currency"].as_str().unwrap(),
            first["orders"],
            first["units"],
            first["gross"],
            first["discounts"],
            first["shipping"],
            first["total"],
            first["refunds"],
            first["net"]
        )
    );
}

#[tokio::test]
async fn reports_are_for_staff_and_bad_parameters_are_422_problems() {
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    let manager = shop(&app, &client).await;
    let customer = signed_in(&app, "ada@example.com", None).await;
    assert_eq!(
        app.call(Method::GET, "/api/v1/admin/reports", None, None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let refused = get(&app, "/api/v1/admin/reports", &customer).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.problem_code(), "permission_required");
    assert_eq!(
        get(&app, "/api/v1/admin/reports/sales", &customer).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get_csv(&app, "/api/v1/admin/reports/sales", &customer)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    for (path, status, code) in [
        (
            "/api/v1/admin/reports/no_such_report",
            StatusCode::NOT_FOUND,
            "report_not_found",
        ),
        (
            "/api/v1/admin/reports/_sales_daily",
            StatusCode::NOT_FOUND,
            "report_not_found",
        ),
        (
            "/api/v1/admin/reports/funnel?grain=week",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_parameter",
        ),
        (
            "/api/v1/admin/reports/low_stock?from=2026-01-01",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_parameter",
        ),
        (
            "/api/v1/admin/reports/sales?from=2026-02-30",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_parameter",
        ),
        (
            "/api/v1/admin/reports/sales?from=yesterday",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_parameter",
        ),
        (
            "/api/v1/admin/reports/sales?from=2026-03-01&to=2026-02-01",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_range",
        ),
        (
            "/api/v1/admin/reports/sales?currency=ZZZ",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_currency",
        ),
        (
            "/api/v1/admin/reports/sales?grain=year",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_grain",
        ),
        (
            "/api/v1/admin/reports/top_searches?results=some",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_results",
        ),
        (
            "/api/v1/admin/reports/top_searches?limit=0",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_limit",
        ),
        (
            "/api/v1/admin/reports/sales?limit=ten",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_query",
        ),
        (
            "/api/v1/admin/reports/sales?colour=red",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_query",
        ),
    ] {
        for reply in [
            get(&app, path, &manager).await,
            get_csv(&app, path, &manager).await,
        ] {
            assert_eq!(reply.status, status, "{path}: {}", reply.text());
            assert_eq!(reply.problem_code(), code, "{path}");
        }
    }
}

#[tokio::test]
async fn every_report_is_documented_runs_in_psql_for_staff_and_over_http_as_json_and_csv() {
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    let manager = shop(&app, &client).await;
    order(
        &client,
        1,
        "XOF",
        "a@x.sn",
        &[("robe-1", 1, 15000, 0)],
        2000,
        true,
        None,
    )
    .await;
    let undocumented: Vec<String> = client
        .query(
            "select p.proname::text from pg_proc p
             where p.pronamespace = 'report'::regnamespace and obj_description(p.oid, 'pg_proc') is null
             union all
             select c.relname::text from pg_class c
             where c.relnamespace = 'report'::regnamespace and c.relkind in ('v', 'm')
               and obj_description(c.oid, 'pg_class') is null",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        undocumented.is_empty(),
        "\\dv+ / \\df+ would not say what these answer: {undocumented:?}"
    );

    let listed = get(&app, "/api/v1/admin/reports", &manager).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text());
    let listed = listed.json();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    for expected in [
        "sales",
        "sales_by_product",
        "sales_by_category",
        "sales_by_brand",
        "sales_by_coupon",
        "sales_by_promotion",
        "funnel",
        "abandoned_carts",
        "low_stock",
        "stock_value",
        "top_searches",
        "payments",
        "refund_rate_by_product",
        "customers",
        "top_customers",
        "retention",
        "review_moderation",
    ] {
        assert!(names.contains(&expected), "{expected} is not listed");
    }
    for report in listed.as_array().unwrap() {
        let name = report["name"].as_str().unwrap();
        let json = get(&app, &format!("/api/v1/admin/reports/{name}"), &manager).await;
        assert_eq!(json.status, StatusCode::OK, "{name}: {}", json.text());
        let json = json.json();
        let csv = get_csv(&app, &format!("/api/v1/admin/reports/{name}"), &manager).await;
        assert_eq!(csv.status, StatusCode::OK, "{name}: {}", csv.text());
        assert_eq!(
            csv.text().split_terminator("\r\n").count() as i64,
            1 + json["row_count"].as_i64().unwrap(),
            "{name}: a header and every row"
        );
        // From psql, as a staff login without any claims (a shop owner's account).
        let sql = if report["kind"] == "view" {
            format!("select count(*) from report.{name}")
        } else {
            format!("select count(*) from report.{name}()")
        };
        let rows = as_role(&client, "maef_staff", &json!({}), &sql, &[]).await;
        assert!(rows.is_ok(), "{name} in psql: {rows:?}");
    }
    let sales = as_role(
        &client,
        "maef_staff",
        &json!({}),
        "select sum(total)::bigint from report.sales()",
        &[],
    )
    .await
    .unwrap()[0]
        .get::<_, i64>(0);
    assert_eq!(sales, 17000);
    // Customers cannot read reports from psql either.
    let denied = as_role(
        &client,
        "maef_customer",
        &json!({}),
        "select * from report.sales()",
        &[],
    )
    .await;
    assert!(denied.is_err());
}

#[tokio::test]
async fn funnel_searches_customers_and_payments_count_what_happened() {
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    let manager = shop(&app, &client).await;
    // Today: three carts, two with items; two checkouts, one paid.
    client
        .batch_execute(
            "insert into shop.cart (currency_code) select 'XOF' from generate_series(1, 3);
             insert into shop.cart_item (cart_id, variant_id, quantity)
             select c.cart_id, (select min(variant_id) from shop.product_variant), 1
             from (select cart_id from shop.cart order by cart_id limit 2) c;",
        )
        .await
        .unwrap();
    order(
        &client,
        0,
        "XOF",
        "new@x.sn",
        &[("robe-1", 1, 15000, 0)],
        0,
        true,
        None,
    )
    .await;
    order(
        &client,
        0,
        "XOF",
        "late@x.sn",
        &[("robe-1", 1, 15000, 0)],
        0,
        false,
        None,
    )
    .await;
    order(
        &client,
        40,
        "XOF",
        "back@x.sn",
        &[("robe-2", 1, 15000, 0)],
        0,
        true,
        None,
    )
    .await;
    order(
        &client,
        0,
        "XOF",
        "back@x.sn",
        &[("robe-2", 1, 15000, 0)],
        0,
        true,
        None,
    )
    .await;
    let funnel = get(&app, "/api/v1/admin/reports/funnel?from=2000-01-01", &manager)
        .await
        .json();
    let today = funnel["rows"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(today["carts_created"], 3);
    assert_eq!(today["carts_with_items"], 2);
    assert_eq!(today["checkouts"], 3);
    assert_eq!(today["paid_orders"], 2);

    let customers = get(&app, "/api/v1/admin/reports/customers?currency=XOF", &manager)
        .await
        .json();
    assert_eq!(
        customers["rows"],
        json!([{"currency": "XOF", "customers": 2, "new_customers": 1, "returning_customers": 1, "orders": 2,
                "revenue": 30000, "repeat_customers": 1, "repeat_purchase_rate": 0.5, "average_lifetime_value": 22500}])
    );

    // Searches through the API are logged without who searched; the CSV neutralises a
    // query a spreadsheet would run as a formula.
    for q in ["robe", "robe", "=HYPERLINK(\"http://evil\")", "introuvable"] {
        let r = app
            .call(
                Method::GET,
                &format!("/api/v1/search?q={}", urlencode(q)),
                None,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{q}");
    }
    let without = get(
        &app,
        "/api/v1/admin/reports/top_searches?results=without",
        &manager,
    )
    .await
    .json();
    let queries: Vec<&str> = without["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["query"].as_str().unwrap())
        .collect();
    assert_eq!(queries, ["=hyperlink(\"http://evil\")", "introuvable"]);
    let top = get(&app, "/api/v1/admin/reports/top_searches?results=with", &manager)
        .await
        .json();
    assert_eq!(top["rows"][0]["query"], "robe");
    assert_eq!(top["rows"][0]["searches"], 2);
    let csv = get_csv(
        &app,
        "/api/v1/admin/reports/top_searches?results=without",
        &manager,
    )
    .await
    .text();
    assert!(csv.contains("\"'=hyperlink(\"\"http://evil\"\")\""), "{csv}");

    client
        .batch_execute(
            "insert into shop.payment (order_id, provider, status, amount, currency_code, succeeded_at)
             select order_id, 'fedapay', 'succeeded', total_amount, currency_code, now() from shop.customer_order where payment_status = 'paid';
             insert into shop.payment (order_id, provider, status, amount, currency_code)
             select order_id, 'stripe', 'failed', total_amount, currency_code from shop.customer_order where payment_status = 'none';",
        )
        .await
        .unwrap();
    let payments = get(&app, "/api/v1/admin/reports/payments?from=2000-01-01", &manager)
        .await
        .json();
    assert_eq!(
        payments["rows"],
        json!([{"provider": "fedapay", "status": "succeeded", "currency": "XOF", "payments": 3, "amount": 45000, "refunds": 0, "refunded_amount": 0},
               {"provider": "stripe", "status": "failed", "currency": "XOF", "payments": 1, "amount": 15000, "refunds": 0, "refunded_amount": 0}])
    );
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
