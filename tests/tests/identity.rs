//! Identity and access over HTTP: accounts, tokens, sessions, password reset,
//! idempotency keys, rate limits, GDPR — against a real database.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use maef_tests::http::TestApp;
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery";

fn bearer(tokens: &Value) -> String {
    tokens["access_token"].as_str().unwrap().to_string()
}

/// Signs up `email`, gives it `role` in SQL, signs in again for a token with its scopes.
async fn user_with_role(app: &TestApp, email: &str, role: &str) -> Value {
    app.sign_up(email, PASSWORD).await;
    maef_tests::grant_role(&app.db.connect().await, email, role).await;
    app.login(email, PASSWORD).await.json()
}

#[tokio::test]
async fn an_account_registers_signs_in_reads_its_profile_and_signs_out() {
    let app = TestApp::new().await;
    let created = app
        .call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({"email": " Ada@Example.COM ", "password": PASSWORD, "username": "ada"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    assert_eq!(created.json()["email"], "ada@example.com", "e-mail normalised");
    assert_eq!(created.json()["roles"], json!(["customer"]));
    assert!(
        !created.text().contains("argon2"),
        "the hash never leaves the database"
    );

    let again = app
        .call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({"email": "ADA@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.problem_code(), "app_user_email_key");

    let tokens = app.login("ada@EXAMPLE.com", PASSWORD).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text());
    let tokens = tokens.json();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    let me = app
        .call(Method::GET, "/api/v1/users/me", Some(&bearer(&tokens)), None)
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json()["username"], "ada");

    let renamed = app
        .call(
            Method::PATCH,
            "/api/v1/users/me",
            Some(&bearer(&tokens)),
            Some(json!({"username": "countess"})),
        )
        .await;
    assert_eq!(renamed.json()["username"], "countess");
    let refused = app
        .call(
            Method::PATCH,
            "/api/v1/users/me",
            Some(&bearer(&tokens)),
            Some(json!({"email": "x@y.z"})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.problem_code(), "unknown_fields");

    let refresh = tokens["refresh_token"].as_str().unwrap();
    let out = app
        .call(
            Method::POST,
            "/api/v1/auth/logout",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let after = app
        .call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert_eq!(after.problem_code(), "invalid_refresh_token");
}

#[tokio::test]
async fn weak_passwords_and_bad_emails_are_refused() {
    let app = TestApp::new().await;
    for (email, password, code) in [
        ("a@example.com", "short", "weak_password"),
        ("a@example.com", "password123", "weak_password"),
        ("bob@example.com", "bob@example.com", "weak_password"),
        ("not-an-email", PASSWORD, "invalid_email"),
    ] {
        let reply = app
            .call(
                Method::POST,
                "/api/v1/auth/register",
                None,
                Some(json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{email} {password}"
        );
        assert_eq!(reply.problem_code(), code);
    }
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_401() {
    let app = TestApp::new().await;
    app.sign_up("ada@example.com", PASSWORD).await;
    let wrong = app.login("ada@example.com", "wrong horse battery").await;
    let unknown = app.login("nobody@example.com", PASSWORD).await;
    assert_eq!(
        (wrong.status, unknown.status),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    assert_eq!(wrong.body, unknown.body);
    assert!(wrong.headers[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_refresh_token_revokes_the_whole_session() {
    let app = TestApp::new().await;
    let first = app.sign_up("ada@example.com", PASSWORD).await;
    let old = first["refresh_token"].as_str().unwrap().to_string();
    let rotated = app
        .call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": old})),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text());
    let rotated = rotated.json();
    let new = rotated["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert_eq!(
        app.call(Method::GET, "/api/v1/users/me", Some(&bearer(&rotated)), None)
            .await
            .status,
        StatusCode::OK
    );

    // A thief replays the old token: the session (family) is revoked, audit row written.
    let replay = app
        .call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": old})),
        )
        .await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert_eq!(replay.problem_code(), "refresh_token_reused");
    let legit = app
        .call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": new})),
        )
        .await;
    assert_eq!(
        legit.status,
        StatusCode::UNAUTHORIZED,
        "the newer token of the family is revoked too"
    );
    assert_eq!(legit.problem_code(), "invalid_refresh_token");
    let audited: i64 = app
        .db
        .connect()
        .await
        .query_one(
            "select count(*) from shop.audit_log where action = 'refresh_token_reused'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audited, 1);
}

fn forge(claims: Value, secret: &str, alg: jsonwebtoken::Algorithm) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(alg),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn forged_expired_and_malformed_tokens_are_401_with_a_challenge() {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
    let app = TestApp::new().await;
    let tokens = app.sign_up("ada@example.com", PASSWORD).await;
    let real = bearer(&tokens);
    let sub = app
        .call(Method::GET, "/api/v1/users/me", Some(&real), None)
        .await
        .json()["id"]
        .clone();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let claims = |exp: u64, nbf: u64| json!({"sub": sub, "role": "maef_admin", "scope": "users:admin", "exp": exp, "iat": now, "nbf": nbf, "jti": uuid::Uuid::new_v4()});
    let secret = "test-secret-test-secret-test-secret!";
    let parts: Vec<&str> = real.split('.').collect();
    let mut payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["role"] = "maef_admin".into();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        parts[2]
    );
    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims(now + 600, now).to_string())
    );

    let cases = [
        ("alg none", alg_none),
        (
            "wrong key",
            forge(
                claims(now + 600, now),
                "another-secret-another-secret-another",
                jsonwebtoken::Algorithm::HS256,
            ),
        ),
        (
            "wrong algorithm",
            forge(claims(now + 600, now), secret, jsonwebtoken::Algorithm::HS512),
        ),
        (
            "expired",
            forge(
                claims(now - 600, now - 1200),
                secret,
                jsonwebtoken::Algorithm::HS256,
            ),
        ),
        (
            "not yet valid",
            forge(
                claims(now + 7200, now + 3600),
                secret,
                jsonwebtoken::Algorithm::HS256,
            ),
        ),
        ("tampered payload", tampered),
        ("garbage", "not.a.jwt".to_string()),
    ];
    for (what, token) in cases {
        let reply = app
            .call(Method::GET, "/api/v1/users/me", Some(&token), None)
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(reply.problem_code(), "invalid_token", "{what}");
        let challenge = reply.headers[header::WWW_AUTHENTICATE].to_str().unwrap();
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{what}: {challenge}"
        );
    }
    let basic = app
        .send(
            Request::get("/api/v1/users/me")
                .header(header::AUTHORIZATION, "Basic YWRhOnB3")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(basic.status, StatusCode::UNAUTHORIZED);
    // A token signed with the right key for the right user still works.
    let good = forge(claims(now + 600, now), secret, jsonwebtoken::Algorithm::HS256);
    assert_eq!(
        app.call(Method::GET, "/api/v1/users/me", Some(&good), None)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_deactivated_users_token_stops_working_at_the_next_request() {
    let app = TestApp::new().await;
    let admin = user_with_role(&app, "root@example.com", "admin").await;
    let customer = app.sign_up("ada@example.com", PASSWORD).await;
    let id = app
        .call(Method::GET, "/api/v1/users/me", Some(&bearer(&customer)), None)
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let off = app
        .call(
            Method::PATCH,
            &format!("/api/v1/admin/users/{id}"),
            Some(&bearer(&admin)),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.text());
    let me = app
        .call(Method::GET, "/api/v1/users/me", Some(&bearer(&customer)), None)
        .await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    assert_eq!(me.problem_code(), "account_inactive");
    // Products too: every route goes through the identity statement.
    assert_eq!(
        app.call(Method::GET, "/api/v1/products", Some(&bearer(&customer)), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let refresh = app
        .call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": customer["refresh_token"]})),
        )
        .await;
    assert_eq!(refresh.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.login("ada@example.com", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    let audit = app
        .call(
            Method::GET,
            "/api/v1/admin/audit?entity=user",
            Some(&bearer(&admin)),
            None,
        )
        .await
        .json();
    assert_eq!(audit["items"][0]["action"], "user_updated");
    assert_eq!(audit["items"][0]["entity_id"], id.as_str());
}

/// The reset link in the `password_reset` e-mail queued for `email`, if any.
async fn reset_token_sent_to(app: &TestApp, email: &str) -> Option<String> {
    let rows = app
        .db
        .connect()
        .await
        .query(
            "select data ->> 'link' from shop.email_message where kind = 'password_reset' and to_address = $1
             order by email_message_id desc",
            &[&email],
        )
        .await
        .unwrap();
    rows.first()
        .map(|r| r.get::<_, String>(0).rsplit("token=").next().unwrap().to_string())
}

#[tokio::test]
async fn a_password_reset_is_single_use_and_never_reveals_whether_an_account_exists() {
    let app = TestApp::new().await;
    let session = app.sign_up("ada@example.com", PASSWORD).await;
    let known = app
        .call(
            Method::POST,
            "/api/v1/auth/password-reset",
            None,
            Some(json!({"email": "ada@example.com"})),
        )
        .await;
    let unknown = app
        .call(
            Method::POST,
            "/api/v1/auth/password-reset",
            None,
            Some(json!({"email": "ghost@example.com"})),
        )
        .await;
    assert_eq!(
        (known.status, unknown.status),
        (StatusCode::ACCEPTED, StatusCode::ACCEPTED)
    );
    assert_eq!(known.body, unknown.body);
    assert!(reset_token_sent_to(&app, "ghost@example.com").await.is_none());
    let token = reset_token_sent_to(&app, "ada@example.com")
        .await
        .expect("a password_reset e-mail with the link");

    let confirm = |new: &'static str| json!({"token": token, "new_password": new});
    let weak = app
        .call(
            Method::POST,
            "/api/v1/auth/password-reset/confirm",
            None,
            Some(confirm("short")),
        )
        .await;
    assert_eq!(weak.problem_code(), "weak_password");
    let done = app
        .call(
            Method::POST,
            "/api/v1/auth/password-reset/confirm",
            None,
            Some(confirm("a brand new passphrase")),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    let again = app
        .call(
            Method::POST,
            "/api/v1/auth/password-reset/confirm",
            None,
            Some(confirm("yet another passphrase")),
        )
        .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(again.problem_code(), "invalid_reset_token");

    assert_eq!(
        app.login("ada@example.com", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login("ada@example.com", "a brand new passphrase")
            .await
            .status,
        StatusCode::OK
    );
    let old_session = app
        .call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": session["refresh_token"]})),
        )
        .await;
    assert_eq!(
        old_session.status,
        StatusCode::UNAUTHORIZED,
        "a reset ends every session"
    );
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one() {
    let app = TestApp::new().await;
    let tokens = app.sign_up("ada@example.com", PASSWORD).await;
    let path = "/api/v1/users/me/password";
    let wrong = app
        .call(
            Method::POST,
            path,
            Some(&bearer(&tokens)),
            Some(json!({"current_password": "nope nope nope", "new_password": "a brand new passphrase"})),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let ok = app
        .call(
            Method::POST,
            path,
            Some(&bearer(&tokens)),
            Some(json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"})),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
    assert_eq!(
        app.login("ada@example.com", "a brand new passphrase")
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_response_and_refuses_another_body() {
    let app = TestApp::new().await;
    let register = |key: &str, email: &str| {
        Request::post("/api/v1/auth/register")
            .header(header::CONTENT_TYPE, "application/json")
            .header("idempotency-key", key)
            .body(Body::from(
                json!({"email": email, "password": PASSWORD}).to_string(),
            ))
            .unwrap()
    };
    let first = app.send(register("key-1", "ada@example.com")).await;
    let second = app.send(register("key-1", "ada@example.com")).await;
    assert_eq!(
        (first.status, second.status),
        (StatusCode::CREATED, StatusCode::CREATED)
    );
    assert_eq!(first.json(), second.json(), "the stored response is replayed");
    let other = app.send(register("key-1", "bob@example.com")).await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(other.problem_code(), "idempotency_key_reused");
    let bad_key = app.send(register("", "carol@example.com")).await;
    assert_eq!(bad_key.status, StatusCode::BAD_REQUEST);
    let users: i64 = app
        .db
        .connect()
        .await
        .query_one("select count(*) from shop.app_user", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(users, 1);
}

#[tokio::test]
async fn fifty_concurrent_identical_requests_have_exactly_one_effect() {
    let app = std::sync::Arc::new(
        TestApp::with(&[
            ("DB_POOL_SIZE", "10"),
            ("DB_POOL_TIMEOUT_MS", "10000"),
            ("DB_CONNECT_TIMEOUT_MS", "10000"),
        ])
        .await,
    );
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            app.send(
                Request::post("/api/v1/auth/register")
                    .header(header::CONTENT_TYPE, "application/json")
                    .header("idempotency-key", "same-key")
                    .body(Body::from(
                        json!({"email": "ada@example.com", "password": PASSWORD}).to_string(),
                    ))
                    .unwrap(),
            )
            .await
            .status
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
    assert!(statuses.contains(&StatusCode::CREATED));
    let client = app.db.connect().await;
    let users: i64 = client
        .query_one("select count(*) from shop.app_user", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(users, 1, "exactly one account");
    let keys: i64 = client
        .query_one("select count(*) from shop.idempotency_key", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(keys, 1);
}

#[tokio::test]
async fn login_is_rate_limited_per_account_and_recovers_after_the_window() {
    let app = TestApp::new().await;
    app.sign_up("ada@example.com", PASSWORD).await; // one attempt used
                                                    // The limits are store policies a DBA sets in SQL (or RATE_LIMIT_* at migrate).
    app.db
        .connect()
        .await
        .batch_execute(
            "update shop.setting set value = '3' where key = 'auth.rate_limit_per_account';
             update shop.setting set value = '2' where key = 'auth.rate_limit_window_secs';
             delete from shop.rate_limit_counter;",
        )
        .await
        .unwrap();
    // Windows are aligned on the epoch: start just after a boundary so the four
    // attempts below (a few milliseconds) fall in one 2-second window.
    let into_window = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() % 2000;
    tokio::time::sleep(Duration::from_millis((2000 - into_window) as u64 + 20)).await;
    for _ in 0..3 {
        assert_eq!(
            app.login("ada@example.com", "wrong horse battery").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let limited = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.problem_code(), "rate_limited");
    let retry: u64 = limited.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    // Another account from another address is not affected.
    let bob = app
        .send(
            Request::post("/api/v1/auth/login")
                .header(header::CONTENT_TYPE, "application/json")
                .header("x-forwarded-for", "198.51.100.9")
                .body(Body::from(
                    json!({"email": "bob@example.com", "password": PASSWORD}).to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(bob.status, StatusCode::UNAUTHORIZED);
    tokio::time::sleep(Duration::from_secs(retry)).await;
    assert_eq!(
        app.login("ada@example.com", PASSWORD).await.status,
        StatusCode::OK,
        "recovered after the window"
    );
}

#[tokio::test]
async fn gdpr_export_holds_the_users_data_and_erasure_anonymises_it() {
    let app = TestApp::new().await;
    let tokens = app.sign_up("ada@example.com", PASSWORD).await;
    let client = app.db.connect().await;
    client
        .batch_execute(
            "insert into shop.address (user_id, full_name, line1, city, country)
             select user_id, 'Ada Lovelace', '12 St James Sq', 'London', 'GB' from shop.app_user;
             insert into shop.customer_order (user_id, email, currency_code, subtotal_amount, total_amount, shipping_address)
             select user_id, email, 'EUR', 1000, 1000, '{\"name\": \"Ada Lovelace\"}' from shop.app_user;",
        )
        .await
        .unwrap();
    let export = app
        .call(
            Method::GET,
            "/api/v1/users/me/export",
            Some(&bearer(&tokens)),
            None,
        )
        .await
        .json();
    assert_eq!(export["profile"]["email"], "ada@example.com");
    assert_eq!(export["addresses"][0]["full_name"], "Ada Lovelace");
    assert_eq!(export["orders"][0]["total_amount"], 1000);
    assert!(
        !export.to_string().contains("argon2"),
        "no password hash in the export"
    );

    let erased = app
        .call(Method::DELETE, "/api/v1/users/me", Some(&bearer(&tokens)), None)
        .await;
    assert_eq!(erased.status, StatusCode::NO_CONTENT);
    let row = client
        .query_one(
            "select u.email, u.password_hash is null, (select count(*) from shop.address),
                    o.email, o.shipping_address is null, o.total_amount
             from shop.app_user u join shop.customer_order o using (user_id)",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, String>(0).starts_with("erased-"));
    assert!(row.get::<_, bool>(1));
    assert_eq!(row.get::<_, i64>(2), 0);
    assert!(
        row.get::<_, String>(3).starts_with("erased-"),
        "the order is kept without the e-mail"
    );
    assert!(row.get::<_, bool>(4));
    assert_eq!(row.get::<_, i64>(5), 1000, "amounts kept for accounting");
    assert_eq!(
        app.call(Method::GET, "/api/v1/users/me", Some(&bearer(&tokens)), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login("ada@example.com", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    // The address is free again.
    app.sign_up("ada@example.com", PASSWORD).await;
}

#[tokio::test]
async fn admins_list_users_by_keyset_with_filters() {
    let app = TestApp::new().await;
    let admin = user_with_role(&app, "root@example.com", "admin").await;
    for i in 0..5 {
        app.call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({"email": format!("user{i}@example.com"), "password": PASSWORD})),
        )
        .await;
    }
    let token = bearer(&admin);
    let mut seen = Vec::new();
    let mut path = "/api/v1/admin/users?limit=2&role=customer".to_string();
    loop {
        let page = app.call(Method::GET, &path, Some(&token), None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        let page = page.json();
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["email"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => {
                path = format!(
                    "/api/v1/admin/users?limit=2&role=customer&after={}",
                    c.replace('+', "%2B").replace(' ', "%20").replace('|', "%7C")
                )
            }
            None => break,
        }
    }
    seen.sort();
    assert_eq!(
        seen.len(),
        6,
        "5 customers + the admin, who registered as a customer: {seen:?}"
    );
    let filtered = app
        .call(Method::GET, "/api/v1/admin/users?email=user3", Some(&token), None)
        .await
        .json();
    assert_eq!(filtered["items"].as_array().unwrap().len(), 1);
    let bad = app
        .call(Method::GET, "/api/v1/admin/users?limit=0", Some(&token), None)
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn the_openapi_document_shows_each_routes_security_requirement() {
    let app = TestApp::new().await;
    let doc = app
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await
        .json();
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert_eq!(
        doc["paths"]["/api/v1/admin/users"]["get"]["security"][0]["bearer"],
        json!(["users:admin"])
    );
    assert_eq!(
        doc["paths"]["/api/v1/users/me"]["get"]["security"][0]["bearer"],
        json!([])
    );
    // Public routes need nothing (the empty requirement) but take a token if sent
    // (a bad one is a 401 there too).
    assert_eq!(
        doc["paths"]["/api/v1/products"]["get"]["security"],
        json!([{}, {"bearer": []}]),
        "public routes: token optional"
    );
}
