//! The authorization matrix: anonymous, customer A, customer B, manager, admin × every
//! route so far, asserting the exact status — and the same rules at the SQL level, as a
//! DBA's psql session with a role and claims would see them.

use axum::http::{Method, StatusCode};
use maef_tests::{http::TestApp, seed_products};
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery";

struct Cast {
    a: Value,
    b: Value,
    manager: Value,
    admin: Value,
    a_id: String,
}

async fn cast(app: &TestApp) -> Cast {
    let client = app.db.connect().await;
    let mut sessions = Vec::new();
    for (email, role) in [
        ("a@example.com", None),
        ("b@example.com", None),
        ("manager@example.com", Some("manager")),
        ("admin@example.com", Some("admin")),
    ] {
        app.sign_up(email, PASSWORD).await;
        if let Some(role) = role {
            maef_tests::grant_role(&client, email, role).await;
        }
        sessions.push(app.login(email, PASSWORD).await.json());
    }
    let a_id: String = client
        .query_one(
            "select user_id::text from shop.app_user where email = 'a@example.com'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let mut it = sessions.into_iter();
    Cast {
        a: it.next().unwrap(),
        b: it.next().unwrap(),
        manager: it.next().unwrap(),
        admin: it.next().unwrap(),
        a_id,
    }
}

#[tokio::test]
async fn every_route_answers_each_kind_of_caller_with_the_exact_status() {
    let app = TestApp::new().await;
    let slug = seed_products(&app.db.connect().await, "matrix", 1)
        .await
        .remove(0);
    let cast = cast(&app).await;
    const OK: StatusCode = StatusCode::OK;
    const NO: StatusCode = StatusCode::UNAUTHORIZED;
    const FORBIDDEN: StatusCode = StatusCode::FORBIDDEN;
    let product = format!("/api/v1/products/{slug}");
    let a_admin_path = format!("/api/v1/admin/users/{}", cast.a_id);
    // (method, path, body, [anonymous, customer A, customer B, manager, admin])
    let matrix: Vec<(Method, &str, Option<Value>, [StatusCode; 5])> = vec![
        (Method::GET, "/api/v1/products", None, [OK; 5]),
        (Method::GET, product.as_str(), None, [OK; 5]),
        (Method::GET, "/api/v1/categories", None, [OK; 5]),
        (
            Method::POST,
            "/api/v1/products/lookup",
            Some(json!({"slugs": [slug]})),
            [OK; 5],
        ),
        (Method::GET, "/api/v1/users/me", None, [NO, OK, OK, OK, OK]),
        (
            Method::PATCH,
            "/api/v1/users/me",
            Some(json!({})),
            [NO, OK, OK, OK, OK],
        ),
        (Method::GET, "/api/v1/users/me/export", None, [NO, OK, OK, OK, OK]),
        (
            Method::GET,
            "/api/v1/admin/users",
            None,
            [NO, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK],
        ),
        (
            Method::PATCH,
            a_admin_path.as_str(),
            Some(json!({"is_active": true})),
            [NO, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK],
        ),
        (
            Method::GET,
            "/api/v1/admin/audit",
            None,
            [NO, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK],
        ),
        (Method::GET, "/healthz", None, [OK; 5]),
        (Method::GET, "/api/v1/openapi.json", None, [OK; 5]),
    ];
    let callers: [(&str, Option<String>); 5] = [
        ("anonymous", None),
        (
            "customer A",
            Some(cast.a["access_token"].as_str().unwrap().to_string()),
        ),
        (
            "customer B",
            Some(cast.b["access_token"].as_str().unwrap().to_string()),
        ),
        (
            "manager",
            Some(cast.manager["access_token"].as_str().unwrap().to_string()),
        ),
        (
            "admin",
            Some(cast.admin["access_token"].as_str().unwrap().to_string()),
        ),
    ];
    for (method, path, body, expected) in &matrix {
        for ((who, token), want) in callers.iter().zip(expected) {
            let reply = app
                .call(method.clone(), path, token.as_deref(), body.clone())
                .await;
            assert_eq!(reply.status, *want, "{who} {method} {path}: {}", reply.text());
            if !reply.status.is_success() {
                reply.problem_code();
            }
        }
    }
    // Each customer's profile is their own.
    let me_b = app
        .call(Method::GET, "/api/v1/users/me", callers[2].1.as_deref(), None)
        .await
        .json();
    assert_eq!(me_b["email"], "b@example.com");
}

/// Runs `sql` in a transaction as `role` with the claims of `token`'s session.
async fn as_caller(
    client: &tokio_postgres::Client,
    role: &str,
    claims: Value,
    sql: &str,
) -> Result<Vec<tokio_postgres::Row>, tokio_postgres::Error> {
    client.batch_execute("begin").await.unwrap();
    client
        .execute(
            "select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)",
            &[&role, &claims.to_string()],
        )
        .await
        .unwrap();
    let result = client.query(sql, &[]).await;
    client.batch_execute("rollback").await.unwrap();
    result
}

#[tokio::test]
async fn at_the_sql_level_a_customer_sees_and_changes_only_their_own_rows() {
    let app = TestApp::new().await;
    cast(&app).await;
    let client = app.db.connect().await;
    client
        .batch_execute(
            "insert into shop.address (user_id, full_name, line1, city, country)
             select user_id, email, '1 Main St', 'Dakar', 'SN' from shop.app_user where email in ('a@example.com', 'b@example.com');
             insert into shop.customer_order (user_id, email, currency_code, subtotal_amount, total_amount)
             select user_id, email, 'XOF', 5000, 5000 from shop.app_user where email in ('a@example.com', 'b@example.com');",
        )
        .await
        .unwrap();
    let id = |email: &str| {
        let client = &client;
        let email = email.to_string();
        async move {
            client
                .query_one(
                    "select user_id::text from shop.app_user where email = $1",
                    &[&email],
                )
                .await
                .unwrap()
                .get::<_, String>(0)
        }
    };
    let (a, b) = (id("a@example.com").await, id("b@example.com").await);
    let customer_a = json!({"sub": a, "role": "maef_customer", "scope": "orders:read:own"});
    let manager = json!({"sub": id("manager@example.com").await, "role": "maef_staff", "scope": "orders:read:any orders:write:any"});

    let seen =
        |rows: Vec<tokio_postgres::Row>| rows.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>();
    let a_addresses = as_caller(
        &client,
        "maef_customer",
        customer_a.clone(),
        "select full_name from shop.address",
    )
    .await
    .unwrap();
    assert_eq!(seen(a_addresses), vec!["a@example.com"]);
    let a_orders = as_caller(
        &client,
        "maef_customer",
        customer_a.clone(),
        "select email from shop.customer_order",
    )
    .await
    .unwrap();
    assert_eq!(seen(a_orders), vec!["a@example.com"]);
    let export = as_caller(
        &client,
        "maef_customer",
        customer_a.clone(),
        "select api.export_me()::text",
    )
    .await
    .unwrap();
    let export: Value = serde_json::from_str(&export[0].get::<_, String>(0)).unwrap();
    assert_eq!(export["orders"].as_array().unwrap().len(), 1);
    assert_eq!(export["profile"]["email"], "a@example.com");

    // Changing B's rows: invisible to update, refused for insert.
    let touched = as_caller(
        &client,
        "maef_customer",
        customer_a.clone(),
        &format!("with u as (update shop.address set city = 'Lomé' where user_id = '{b}' returning 1) select count(*)::text from u"),
    )
    .await
    .unwrap();
    assert_eq!(seen(touched), vec!["0"]);
    let planted = as_caller(
        &client,
        "maef_customer",
        customer_a.clone(),
        &format!("insert into shop.address (user_id, full_name, line1, city, country) values ('{b}', 'x', 'x', 'x', 'SN') returning 'no'"),
    )
    .await
    .unwrap_err();
    assert_eq!(
        planted.as_db_error().unwrap().code().code(),
        "42501",
        "row-level security refuses it"
    );

    let admin_only = as_caller(
        &client,
        "maef_customer",
        customer_a.clone(),
        "select api.admin_list_users()::text",
    )
    .await
    .unwrap_err();
    // Refused twice over: customers have no EXECUTE grant, and the function checks the
    // users:admin permission itself (as a session with the admin role but without the
    // permission shows).
    assert_eq!(admin_only.as_db_error().unwrap().code().code(), "42501");
    let no_permission = as_caller(
        &client,
        "maef_admin",
        customer_a.clone(),
        "select api.admin_list_users()::text",
    )
    .await
    .unwrap_err();
    assert_eq!(no_permission.as_db_error().unwrap().code().code(), "MA403");

    // A manager reads every order but cannot edit customers' addresses.
    let all_orders = as_caller(
        &client,
        "maef_staff",
        manager.clone(),
        "select email from shop.customer_order order by email",
    )
    .await
    .unwrap();
    assert_eq!(seen(all_orders), vec!["a@example.com", "b@example.com"]);
    let edited = as_caller(
        &client,
        "maef_staff",
        manager,
        "with u as (update shop.address set city = 'x' returning 1) select count(*)::text from u",
    )
    .await
    .unwrap();
    assert_eq!(seen(edited), vec!["0"]);

    // Anonymous sessions have no access to customer tables at all.
    let anonymous = as_caller(
        &client,
        "maef_anon",
        json!({"role": "maef_anon"}),
        "select full_name from shop.address",
    )
    .await
    .unwrap_err();
    assert_eq!(anonymous.as_db_error().unwrap().code().code(), "42501");
    let anonymous_me = as_caller(
        &client,
        "maef_anon",
        json!({"role": "maef_anon"}),
        "select api.me()::text",
    )
    .await
    .unwrap_err();
    assert_eq!(anonymous_me.as_db_error().unwrap().code().code(), "42501");
    let claimless_me = as_caller(
        &client,
        "maef_customer",
        json!({"role": "maef_customer"}),
        "select api.me()::text",
    )
    .await
    .unwrap_err();
    assert_eq!(claimless_me.as_db_error().unwrap().code().code(), "MA401");
}
