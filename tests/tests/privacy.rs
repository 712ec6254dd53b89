//! The data lifecycle (GDPR) end to end: a customer with an address book, a paid order,
//! a review, consents, e-mails, audit rows and events exports all of it, erases
//! themselves, and afterwards their e-mail, name, username, phone and street address
//! appear in no text, JSON or byte column of the database, while their order's totals
//! still sum in the sales report and their review stays, anonymous. Erasure by an
//! administrator on request, consents, and the retention job with its counts.

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use maef_tests::{
    http::TestApp,
    shop::{cart_total, checkout_body, fill_cart, seed_variant, ship_to, signed_in, user, PASSWORD},
    WorkerProcess,
};
use serde_json::{json, Value};
use tokio_postgres::Client;

async fn count(client: &Client, sql: &str) -> i64 {
    maef_tests::count(client, sql).await
}

/// Every (table, column) of schema shop holding text, JSON or bytes, with the rows where
/// one of `needles` occurs (case-insensitive for text; byte-exact for bytea).
async fn occurrences(client: &Client, needles: &[&str]) -> Vec<String> {
    let columns = client
        .query(
            "select c.table_name::text, c.column_name::text, c.data_type::text
             from information_schema.columns c
             join information_schema.tables t using (table_schema, table_name)
             where c.table_schema = 'shop' and t.table_type = 'BASE TABLE'
               and (c.data_type in ('text', 'character varying', 'character', 'jsonb', 'json', 'bytea')
                    or c.udt_name in ('_text', '_varchar'))
             order by 1, 2",
            &[],
        )
        .await
        .unwrap();
    assert!(columns.len() > 100, "{} columns", columns.len());
    let mut found = Vec::new();
    for row in &columns {
        let (table, column, kind): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        for needle in needles {
            let condition = if kind == "bytea" {
                format!("position(convert_to($1, 'UTF8') in {column}) > 0")
            } else {
                format!("{column}::text ilike '%' || $1 || '%'")
            };
            let n: i64 = client
                .query_one(
                    &format!("select count(*) from shop.{table} where {condition}"),
                    &[needle],
                )
                .await
                .unwrap()
                .get(0);
            if n > 0 {
                found.push(format!("{needle:?} in shop.{table}.{column} ({n} rows)"));
            }
        }
    }
    found
}

async fn sales_today(app: &TestApp, token: &str) -> Value {
    let r = app
        .call(
            Method::GET,
            "/api/v1/admin/reports/sales?currency=XOF",
            Some(token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()
}

#[tokio::test]
async fn an_erased_customer_appears_nowhere_while_their_order_still_sums_in_the_sales_report() {
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    ship_to(&client, "SN", "XOF", 2000).await;
    let variant = seed_variant(&client, "ROBE-1", 15000, 2299, Some(10)).await;
    let token = signed_in(&app, "mariama.tall@example.com", None).await;
    let admin = signed_in(&app, "root@example.com", Some("admin")).await;
    let manager = signed_in(&app, "manager@example.com", Some("manager")).await;

    // Her data: a username, an address, a consent, a paid order with a note, a review.
    let patched = app
        .call(
            Method::PATCH,
            "/api/v1/users/me",
            Some(&token),
            Some(json!({"username": "mariamatall"})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK);
    let address = app
        .call(
            Method::POST,
            "/api/v1/users/me/addresses",
            Some(&token),
            Some(json!({"full_name": "Mariama Sangare-Tall", "line1": "12 rue Carnot", "city": "Dakar", "country": "SN",
                        "phone": "77 123 45 67", "company": "Analytical Engines"})),
        )
        .await;
    assert_eq!(address.status, StatusCode::CREATED, "{}", address.text());
    let consent = app
        .call(
            Method::PUT,
            "/api/v1/users/me/consents/marketing_email",
            Some(&token),
            Some(json!({"granted": true, "version": "v1"})),
        )
        .await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.text());
    let mut ada = user(&client, "mariama.tall@example.com", None).await;
    fill_cart(&client, &mut ada, "XOF", "SN", &[(variant, 2)]).await;
    let mut body = checkout_body(cart_total(&client, &ada).await);
    body.as_object_mut().unwrap().remove("email");
    body["shipping_address"]["full_name"] = json!("Mariama Sangare-Tall");
    body["note"] = json!("Appeler Mariama Sangare-Tall au 77 123 45 67");
    let order = app
        .send(
            Request::builder()
                .method(Method::POST)
                .uri("/api/v1/checkout")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header("idempotency-key", "ada-1")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(order.status, StatusCode::CREATED, "{}", order.text());
    let order = order.json();
    let order_id: uuid::Uuid = order["id"].as_str().unwrap().parse().unwrap();
    client
        .query_one(
            "select api.mark_order_paid($1, '{\"provider\": \"test\", \"note\": \"paid by Mariama Sangare-Tall\"}')::text",
            &[&order_id],
        )
        .await
        .unwrap();
    // A provider's webhook repeats her e-mail and name (Paystack's `customer` object).
    client
        .execute(
            "with p as (insert into shop.payment (order_id, provider, status, amount, currency_code, provider_ref)
                        values ($1, 'paystack', 'failed', 100, 'XOF', 'maef-ada-1') returning payment_id)
             insert into shop.payment_event (provider, event_id, event_type, payment_id, payload)
             select 'paystack', 'charge.failed:maef-ada-1', 'charge.failed', payment_id,
                    '{\"event\": \"charge.failed\", \"data\": {\"customer\": {\"email\": \"mariama.tall@example.com\",
                      \"first_name\": \"Mariama\", \"last_name\": \"Sangare-Tall\"}}}'
             from p",
            &[&order_id],
        )
        .await
        .unwrap();
    let note = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/orders/{}/notes", order["number"].as_str().unwrap()),
            Some(&manager),
            Some(json!({"note": "Mariama Sangare-Tall a appelé depuis le +221771234567"})),
        )
        .await;
    assert_eq!(note.status, StatusCode::CREATED, "{}", note.text());
    let reviewed = app
        .call(
            Method::POST,
            "/api/v1/products/robe-1/reviews",
            Some(&token),
            Some(json!({"rating": 4, "title": "Très bien", "body": "Livrée rapidement au 12 rue Carnot, merci !"})),
        )
        .await;
    assert_eq!(reviewed.status, StatusCode::CREATED, "{}", reviewed.text());
    let review_id = reviewed.json()["id"].as_i64().unwrap();
    client
        .execute(
            "update shop.review set status = 'approved' where review_id = $1",
            &[&review_id],
        )
        .await
        .unwrap();
    // An administrator's change to her account audits her profile (with her e-mail).
    let ada_id = client
        .query_one(
            "select user_id from shop.app_user where email = 'mariama.tall@example.com'",
            &[],
        )
        .await
        .unwrap()
        .get::<_, uuid::Uuid>(0);
    let updated = app
        .call(
            Method::PATCH,
            &format!("/api/v1/admin/users/{ada_id}"),
            Some(&admin),
            Some(json!({"is_active": true})),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK);

    // The export holds all of it.
    let export = app
        .call(Method::GET, "/api/v1/users/me/export", Some(&token), None)
        .await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.text());
    let export = export.json();
    assert_eq!(export["profile"]["username"], "mariamatall");
    assert_eq!(export["addresses"][0]["full_name"], "Mariama Sangare-Tall");
    assert_eq!(export["orders"][0]["total_amount"], order["grand_total"]);
    assert_eq!(export["orders"][0]["items"].as_array().unwrap().len(), 1);
    assert!(export["orders"][0]["payments"].is_array());
    assert_eq!(export["reviews"][0]["rating"], 4);
    assert_eq!(export["consents"][0]["purpose"], "marketing_email");
    assert!(
        !export.to_string().contains("password"),
        "no secrets in the export"
    );

    let before = sales_today(&app, &manager).await;
    let total_before: i64 = before["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["total"].as_i64().unwrap())
        .sum();
    assert_eq!(total_before, order["grand_total"].as_i64().unwrap());

    let needles = [
        "mariama.tall@example.com",
        "Mariama Sangare-Tall",
        "Sangare-Tall",
        "mariamatall",
        "+221771234567",
        "77 123 45 67",
        "12 rue Carnot",
        "Analytical Engines",
    ];
    assert!(
        !occurrences(&client, &needles).await.is_empty(),
        "the fixture holds her data"
    );

    let erased = app
        .call(Method::DELETE, "/api/v1/users/me", Some(&token), None)
        .await;
    assert_eq!(erased.status, StatusCode::NO_CONTENT, "{}", erased.text());
    let after_token = app
        .call(Method::GET, "/api/v1/users/me", Some(&token), None)
        .await;
    assert_eq!(
        after_token.status,
        StatusCode::UNAUTHORIZED,
        "the token stops working at once"
    );

    let left = occurrences(&client, &needles).await;
    assert!(left.is_empty(), "personal data left after erasure: {left:#?}");
    // (A sign-in attempt with the address afterwards is new data: its rate-limit
    // counter, pruned within a day.)
    let login = app.login("mariama.tall@example.com", PASSWORD).await;
    assert_eq!(login.status, StatusCode::UNAUTHORIZED);

    // The accounting record stays: the same totals in the sales report, the order's
    // amounts, lines and country.
    let after = sales_today(&app, &manager).await;
    assert_eq!(after["rows"], before["rows"]);
    let kept = client
        .query_one(
            "select total_amount, tax_amount, shipping_address, personal_data_erased_at is not null,
                    (select count(*) from shop.order_item i where i.order_id = o.order_id)
             from shop.customer_order o where order_id = $1",
            &[&order_id],
        )
        .await
        .unwrap();
    assert_eq!(kept.get::<_, i64>(0), order["grand_total"].as_i64().unwrap());
    assert_eq!(kept.get::<_, Value>(2), json!({"country": "SN"}));
    assert!(kept.get::<_, bool>(3));
    assert_eq!(kept.get::<_, i64>(4), 1);
    // Her review stays, anonymous, with its rating in the aggregate and its text less
    // her own strings.
    let reviews = app
        .call(Method::GET, "/api/v1/products/robe-1/reviews", None, None)
        .await
        .json();
    assert_eq!(reviews["items"][0]["author"], Value::Null);
    assert_eq!(
        reviews["items"][0]["body"],
        "Livrée rapidement au [erased], merci !"
    );
    assert_eq!(reviews["items"][0]["verified_purchase"], true);
    assert_eq!(reviews["rating"]["count"], 1);
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.retention_run where policy = 'erased_users'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn administrators_erase_on_request_with_a_reason_and_never_an_admin_or_twice() {
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    signed_in(&app, "bob@example.com", None).await;
    let admin = signed_in(&app, "root@example.com", Some("admin")).await;
    let customer = signed_in(&app, "eve@example.com", None).await;
    let id = |email: &'static str| {
        let client = &client;
        async move {
            client
                .query_one("select user_id from shop.app_user where email = $1", &[&email])
                .await
                .unwrap()
                .get::<_, uuid::Uuid>(0)
        }
    };
    let bob = id("bob@example.com").await;
    let path = format!("/api/v1/admin/users/{bob}/erasure");
    let refused = app
        .call(Method::POST, &path, Some(&customer), Some(json!({"reason": "x"})))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let no_reason = app
        .call(Method::POST, &path, Some(&admin), Some(json!({"reason": "   "})))
        .await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(no_reason.problem_code(), "invalid_field");
    let missing = app.call(Method::POST, &path, Some(&admin), Some(json!({}))).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/users/{}/erasure", uuid::Uuid::new_v4()),
            Some(&admin),
            Some(json!({"reason": "ticket 1"})),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.problem_code(), "user_not_found");
    let root = id("root@example.com").await;
    let admin_target = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/users/{root}/erasure"),
            Some(&admin),
            Some(json!({"reason": "ticket 2"})),
        )
        .await;
    assert_eq!(admin_target.status, StatusCode::CONFLICT);
    assert_eq!(admin_target.problem_code(), "cannot_erase_admin");

    let erased = app
        .call(
            Method::POST,
            &path,
            Some(&admin),
            Some(json!({"reason": "Demande par e-mail, ticket 4312"})),
        )
        .await;
    assert_eq!(erased.status, StatusCode::OK, "{}", erased.text());
    assert_eq!(
        erased.json(),
        json!({"id": bob, "status": "erased", "orders": 0, "reviews": 0})
    );
    let twice = app
        .call(
            Method::POST,
            &path,
            Some(&admin),
            Some(json!({"reason": "again"})),
        )
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert_eq!(twice.problem_code(), "already_erased");
    let audit: Value = client
        .query_one(
            "select data from shop.audit_log where action = 'erased' and entity_id = $1",
            &[&bob.to_string()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audit["reason"], "Demande par e-mail, ticket 4312");
    assert_eq!(audit["by"], "admin");
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.app_user where email like 'bob@%'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn consents_are_given_and_withdrawn_with_their_history() {
    let app = TestApp::new().await;
    let token = signed_in(&app, "ada@example.com", None).await;
    let initial = app
        .call(Method::GET, "/api/v1/users/me/consents", Some(&token), None)
        .await;
    assert_eq!(initial.status, StatusCode::OK, "{}", initial.text());
    assert!(initial.json()["consents"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["granted"] == false));
    for granted in [true, false] {
        let r = app
            .call(
                Method::PUT,
                "/api/v1/users/me/consents/marketing_email",
                Some(&token),
                Some(json!({"granted": granted, "version": "2026-01"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    let now = app
        .call(Method::GET, "/api/v1/users/me/consents", Some(&token), None)
        .await
        .json();
    let marketing = now["consents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["purpose"] == "marketing_email")
        .unwrap()
        .clone();
    assert_eq!(marketing["granted"], false);
    assert_eq!(marketing["version"], "2026-01");
    assert_eq!(now["history"].as_array().unwrap().len(), 2);
    let bad = app
        .call(
            Method::PUT,
            "/api/v1/users/me/consents/tracking",
            Some(&token),
            Some(json!({"granted": true})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.problem_code(), "invalid_purpose");
    let bad = app
        .call(
            Method::PUT,
            "/api/v1/users/me/consents/terms",
            Some(&token),
            Some(json!({"granted": "yes"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let anonymous = app
        .call(Method::GET, "/api/v1/users/me/consents", None, None)
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_retention_job_records_the_funnel_then_deletes_and_anonymises_what_is_past_its_time_and_counts_it(
) {
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    maef_tests::disable_schedules(&client).await;
    let variant = seed_variant(&client, "ROBE-1", 15000, 2299, Some(10)).await;
    // Carts: two abandoned 40 days ago (one with an item), one fresh, one converted long ago.
    client
        .batch_execute(&format!(
            "insert into shop.cart (currency_code, created_at, updated_at, status) values
                 ('XOF', now() - interval '40 days', now() - interval '40 days', 'open'),
                 ('XOF', now() - interval '40 days', now() - interval '40 days', 'abandoned'),
                 ('XOF', now(), now(), 'open'),
                 ('XOF', now() - interval '60 days', now() - interval '60 days', 'converted');
             insert into shop.cart_item (cart_id, variant_id, quantity)
                 select cart_id, {variant}, 1 from shop.cart where status = 'open' and created_at < now() - interval '1 day';
             insert into shop.audit_log (at, action, entity) values (now() - interval '400 days', 'old', 'x'), (now(), 'new', 'x');
             insert into shop.search_log (searched_at, query, results) values (now() - interval '100 days', 'robe', 3), (now(), 'robe', 3);"
        ))
        .await
        .unwrap();
    // A guest order placed eleven years ago, paid (its accounting period is over).
    let old_order: uuid::Uuid = client
        .query_one(
            "insert into shop.customer_order (email, currency_code, subtotal_amount, total_amount, placed_at, created_at,
                                              shipping_address, customer_note)
             values ('old.guest@example.com', 'XOF', 15000, 15000, now() - interval '11 years', now() - interval '11 years',
                     '{\"full_name\": \"Old Guest\", \"line1\": \"1 avenue Ancienne\", \"city\": \"Dakar\", \"country\": \"SN\", \"phone\": \"+221770000000\"}',
                     'sonner deux fois')
             returning order_id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    client
        .execute(
            "update shop.customer_order set status = 'paid', payment_status = 'paid' where order_id = $1",
            &[&old_order],
        )
        .await
        .unwrap();
    let recent_guest = count(&client, "select count(*) from shop.customer_order").await;
    assert_eq!(recent_guest, 1);

    // Run by maef-worker, as the daily schedule would.
    client
        .query_one("select api.enqueue_job('apply_retention', '{}')", &[])
        .await
        .unwrap();
    let _worker = WorkerProcess::spawn(&app.db.url, "retention-worker", &[]);
    maef_tests::eventually(
        std::time::Duration::from_secs(30),
        "the apply_retention job completes",
        || async {
            count(
                &client,
                "select count(*) from report.jobs where kind = 'apply_retention' and status = 'completed'",
            )
            .await
                == 1
        },
    )
    .await;

    assert_eq!(
        count(&client, "select count(*) from shop.cart").await,
        1,
        "only the fresh cart is left"
    );
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.audit_log where action = 'old'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.audit_log where action = 'new'"
        )
        .await,
        1
    );
    assert_eq!(count(&client, "select count(*) from shop.search_log").await, 1);
    let order = client
        .query_one(
            "select email, shipping_address, customer_note, total_amount, personal_data_erased_at is not null
             from shop.customer_order where order_id = $1",
            &[&old_order],
        )
        .await
        .unwrap();
    assert_eq!(order.get::<_, String>(0), format!("erased-{old_order}@invalid"));
    assert_eq!(order.get::<_, Value>(1), json!({"country": "SN"}));
    assert_eq!(order.get::<_, String>(2), "");
    assert_eq!(order.get::<_, i64>(3), 15000, "the amounts stay");
    assert!(order.get::<_, bool>(4));
    let counted: Vec<(String, i64)> = client
        .query(
            "select policy, deleted::bigint from report.retention order by policy",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        counted,
        [
            ("abandoned_carts".to_string(), 2),
            ("audit_log".to_string(), 1),
            ("converted_carts".to_string(), 1),
            ("guest_order_pii".to_string(), 1),
            ("search_log".to_string(), 1),
        ]
    );
    // The funnel of the carts' days was recorded before they were deleted.
    let funnel = client
        .query_one(
            "select carts_created, carts_with_items from shop.funnel_day where day = ((now() - interval '40 days') at time zone 'UTC')::date",
            &[],
        )
        .await
        .unwrap();
    assert_eq!((funnel.get::<_, i32>(0), funnel.get::<_, i32>(1)), (2, 1));
    let reported = client
        .query_one(
            "select carts_created from report.funnel(((now() - interval '40 days') at time zone 'UTC')::date,
                                                     ((now() - interval '40 days') at time zone 'UTC')::date)",
            &[],
        )
        .await
        .unwrap()
        .get::<_, i32>(0);
    assert_eq!(reported, 2, "the report still has the deleted carts' day");
    // A second run finds nothing more to do and records nothing.
    let again: Value = client
        .query_one("select api.apply_retention()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(again["abandoned_carts"], 0);
    assert_eq!(again["more"], false);
    assert_eq!(count(&client, "select count(*) from shop.retention_run").await, 5);
}
