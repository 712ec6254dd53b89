//! Transactional e-mail end to end: maef-worker sends real SMTP to a local server (the
//! message parsed here: headers, both parts, the reset link), the reset link's page and
//! its POST, retries after a temporary refusal with one e-mail in the end, permanent
//! refusals, the send record stopping a second send, two workers racing on one e-mail,
//! the log mode and the outbox route, locales, and template editing with previews.

use std::{collections::HashSet, time::Duration};

use axum::http::{Method, StatusCode};
use maef_tests::{count, eventually, fakes::SmtpServer, http::TestApp, WorkerProcess};
use mail_parser::{HeaderValue, MessageParser, MimeHeaders};
use serde_json::{json, Value};
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio_postgres::Client;

const PASSWORD: &str = "correct horse battery";

/// Tests that run worker processes take turns, two at a time.
static PROCESS_TESTS: Semaphore = Semaphore::const_new(2);

async fn turn() -> SemaphorePermit<'static> {
    PROCESS_TESTS.acquire().await.unwrap()
}

/// A worker sending through `smtp` (or to the log when `None`).
fn worker(app: &TestApp, id: &str, smtp: Option<&SmtpServer>) -> WorkerProcess {
    let url = smtp.map(SmtpServer::url);
    let mut env = vec![
        ("MAIL_FROM", "Shop <no-reply@shop.test>"),
        ("WORKER_POLL_MS", "100"),
    ];
    if let Some(url) = &url {
        env.push(("SMTP_URL", url));
    }
    WorkerProcess::spawn(&app.db.url, id, &env)
}

async fn app() -> TestApp {
    let app = TestApp::new().await;
    maef_tests::disable_schedules(&app.db.connect().await).await;
    app
}

async fn register(app: &TestApp, email: &str, locale: Option<&str>) {
    let mut body = json!({"email": email, "password": PASSWORD});
    if let Some(locale) = locale {
        body["locale"] = json!(locale);
    }
    let created = app
        .call(Method::POST, "/api/v1/auth/register", None, Some(body))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
}

/// Queues an e-mail as a domain would, in its own transaction.
async fn queue(client: &Client, kind: &str, to: &str, data: Value) -> i64 {
    client
        .query_one("select api._queue_email($1, $2, $3)", &[&kind, &to, &data])
        .await
        .unwrap()
        .get(0)
}

fn header_text(message: &mail_parser::Message, name: &str) -> String {
    match message.header(name) {
        Some(HeaderValue::Text(t)) => t.to_string(),
        Some(HeaderValue::TextList(list)) => list.join(" "),
        other => panic!("header {name}: {other:?}"),
    }
}

#[tokio::test]
async fn a_password_reset_email_leaves_over_smtp_and_its_link_resets_the_password() {
    let _turn = turn().await;
    let app = app().await;
    let smtp = SmtpServer::start().await;
    let _worker = worker(&app, "mailer", Some(&smtp));
    register(&app, "ada@example.com", Some("en")).await;
    let asked = app
        .call(
            Method::POST,
            "/api/v1/auth/password-reset",
            None,
            Some(json!({"email": "ada@example.com"})),
        )
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED);
    eventually(
        Duration::from_secs(30),
        "the welcome and reset e-mails",
        || async { smtp.messages().len() >= 2 },
    )
    .await;

    let raw = smtp
        .messages()
        .into_iter()
        .find(|m| String::from_utf8_lossy(&m.data).contains("reset your password"))
        .expect("a reset e-mail");
    assert_eq!(raw.mail_from, "no-reply@shop.test");
    assert_eq!(raw.rcpt_to, ["ada@example.com"]);
    let message = MessageParser::default().parse(&raw.data).unwrap();
    assert_eq!(message.subject(), Some("maef: reset your password"));
    let from = message.from().unwrap().first().unwrap();
    assert_eq!(
        (from.name(), from.address()),
        (Some("Shop"), Some("no-reply@shop.test"))
    );
    assert_eq!(
        message.to().unwrap().first().unwrap().address(),
        Some("ada@example.com")
    );
    let message_id = message.message_id().unwrap().to_string();
    assert!(
        message_id.starts_with("maef.") && message_id.ends_with("@shop.test"),
        "{message_id}"
    );
    let email_id: i64 = message_id.split('.').nth(1).unwrap().parse().unwrap();
    assert_eq!(
        header_text(&message, "X-Maef-Idempotency-Key"),
        format!("maef-email-{email_id}")
    );
    let content_type = message.content_type().unwrap();
    assert_eq!(
        (content_type.ctype(), content_type.subtype()),
        ("multipart", Some("alternative"))
    );
    let text = message.body_text(0).unwrap().to_string();
    let html = message.body_html(0).unwrap().to_string();
    let prefix = "http://localhost:8000/reset-password?token=";
    let link = text
        .split_whitespace()
        .find(|w| w.starts_with(prefix))
        .expect("the link in the text part")
        .to_string();
    assert!(
        html.contains(&format!("href=\"{link}\"")),
        "the same link in the HTML part: {html}"
    );
    assert!(text.contains("60 minutes"), "{text}");

    // The record: sent over SMTP with this Message-ID. The worker writes it after the
    // SMTP server accepted the message, so a loaded machine may show the message first.
    let client = app.db.connect().await;
    eventually(
        Duration::from_secs(30),
        "the reset e-mail recorded as sent",
        || async {
            client
                .query_one(
                    "select status = 'sent' from shop.email_message where email_message_id = $1",
                    &[&email_id],
                )
                .await
                .unwrap()
                .get::<_, bool>(0)
        },
    )
    .await;
    let row = client
        .query_one("select status, transport, message_id, attempts from shop.email_message where email_message_id = $1", &[&email_id])
        .await
        .unwrap();
    let (status, transport, recorded, attempts): (String, String, String, i32) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!(
        (status.as_str(), transport.as_str(), attempts),
        ("sent", "smtp", 1)
    );
    assert_eq!(recorded, format!("<{message_id}>"));

    // The link's page, then the POST it makes.
    let token = &link[prefix.len()..];
    let page = app
        .call(Method::GET, &format!("/reset-password?token={token}"), None, None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.content_type, "text/html; charset=utf-8");
    for (name, value) in [
        ("cache-control", "no-store"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
    ] {
        assert_eq!(page.headers[name], value);
    }
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.starts_with("default-src 'none'; script-src 'sha256-") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    let body = page.text();
    assert!(body.contains("<label for=\"password\"") && body.contains("autocomplete=\"new-password\""));
    assert!(body.contains("/api/v1/auth/password-reset/confirm") && body.contains("role=\"status\""));
    assert!(!body.contains(token), "the page does not echo the token");
    let confirmed = app
        .call(
            Method::POST,
            "/api/v1/auth/password-reset/confirm",
            None,
            Some(json!({"token": token, "new_password": "a brand new passphrase"})),
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text());
    assert_eq!(
        app.login("ada@example.com", "a brand new passphrase")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.login("ada@example.com", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn an_smtp_server_failing_then_accepting_gets_the_email_once() {
    let _turn = turn().await;
    let app = app().await;
    let smtp = SmtpServer::start().await;
    smtp.refuse_next("451 4.3.0 try again later");
    let client = app.db.connect().await;
    let id = queue(
        &client,
        "welcome",
        "ada@example.com",
        json!({"email": "ada@example.com", "username": "ada"}),
    )
    .await;
    let _worker = worker(&app, "mailer", Some(&smtp));
    eventually(Duration::from_secs(30), "the e-mail accepted", || async {
        !smtp.messages().is_empty()
    })
    .await;
    eventually(Duration::from_secs(10), "the send recorded", || async {
        count(
            &client,
            "select count(*) from shop.email_message where status = 'sent'",
        )
        .await
            == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!((smtp.refused(), smtp.messages().len()), (1, 1));
    let row = client
        .query_one(
            "select attempts, last_error, status from shop.email_message where email_message_id = $1",
            &[&id],
        )
        .await
        .unwrap();
    let (attempts, last_error, status): (i32, Option<String>, String) = (row.get(0), row.get(1), row.get(2));
    assert_eq!((attempts, last_error, status.as_str()), (2, None, "sent"));
    let failed: String = client
        .query_one(
            "select error from shop.job_attempt where kind = 'send_email' and not ok",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(failed.contains("451"), "{failed}");
}

#[tokio::test]
async fn a_permanent_refusal_fails_the_email_without_retrying() {
    let _turn = turn().await;
    let app = app().await;
    let smtp = SmtpServer::start().await;
    smtp.refuse_next("550 5.1.1 no such mailbox");
    let client = app.db.connect().await;
    let id = queue(
        &client,
        "welcome",
        "nobody@example.com",
        json!({"email": "nobody@example.com", "username": null}),
    )
    .await;
    let _worker = worker(&app, "mailer", Some(&smtp));
    eventually(Duration::from_secs(30), "the e-mail failed", || async {
        count(
            &client,
            "select count(*) from shop.email_message where status = 'failed'",
        )
        .await
            == 1
    })
    .await;
    let last_error: String = client
        .query_one(
            "select last_error from shop.email_message where email_message_id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert!(last_error.contains("550"), "{last_error}");
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.job_queue where kind = 'send_email'"
        )
        .await,
        0,
        "no retry left"
    );
    assert_eq!((smtp.refused(), smtp.messages().len()), (1, 0));
}

#[tokio::test]
async fn a_job_for_an_email_already_sent_sends_nothing() {
    let _turn = turn().await;
    let app = app().await;
    let smtp = SmtpServer::start().await;
    let client = app.db.connect().await;
    let id = queue(
        &client,
        "order_delivered",
        "ada@example.com",
        json!({"order_number": 1042}),
    )
    .await;
    let _worker = worker(&app, "mailer", Some(&smtp));
    eventually(Duration::from_secs(30), "the e-mail sent", || async {
        count(
            &client,
            "select count(*) from shop.email_message where status = 'sent'",
        )
        .await
            == 1
    })
    .await;
    // The job runs again, as after a lost acknowledgement or a lease taken over.
    let again: i64 = client
        .query_one("select api.enqueue_job('send_email', jsonb_build_object('email_message_id', $1::bigint), 'email')", &[&id])
        .await
        .unwrap()
        .get(0);
    eventually(Duration::from_secs(30), "the second job completed", || async {
        count(
            &client,
            &format!("select count(*) from report.jobs where job_id = {again} and status = 'completed'"),
        )
        .await
            == 1
    })
    .await;
    assert_eq!(smtp.messages().len(), 1, "sent once");
    let attempts: i32 = client
        .query_one(
            "select attempts from shop.email_message where email_message_id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(attempts, 1);
}

/// Two jobs per e-mail (a duplicate, as a lost acknowledgement or a re-enqueue would
/// make), two workers, a slow SMTP server so that attempts overlap: each e-mail is
/// sent once, and every job finishes.
#[tokio::test]
async fn two_workers_racing_on_the_same_emails_send_each_once() {
    let _turn = turn().await;
    let app = app().await;
    let smtp = SmtpServer::start().await;
    smtp.slow(Duration::from_millis(300));
    let client = app.db.connect().await;
    let mut ids = Vec::new();
    for i in 0..20 {
        let id = queue(
            &client,
            "order_delivered",
            &format!("c{i}@example.com"),
            json!({"order_number": i}),
        )
        .await;
        client
            .execute("select api.enqueue_job('send_email', jsonb_build_object('email_message_id', $1::bigint), 'email')", &[&id])
            .await
            .unwrap();
        ids.push(id);
    }
    let _workers: Vec<WorkerProcess> = (0..2)
        .map(|w| worker(&app, &format!("w{w}"), Some(&smtp)))
        .collect();
    eventually(Duration::from_secs(90), "every job finished", || async {
        count(
            &client,
            "select count(*) from shop.job_queue where kind = 'send_email'",
        )
        .await
            == 0
    })
    .await;
    let messages = smtp.messages();
    assert_eq!(messages.len(), 20, "each e-mail sent once");
    let recipients: HashSet<String> = messages.iter().map(|m| m.rcpt_to[0].clone()).collect();
    assert_eq!(recipients.len(), 20);
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.email_message where status = 'sent' and attempts = 1"
        )
        .await,
        20
    );
    assert_eq!(
        count(
            &client,
            "select count(*) from report.jobs where kind = 'send_email' and status = 'completed'"
        )
        .await,
        40
    );
}

#[tokio::test]
async fn without_smtp_url_emails_go_to_the_log_and_the_outbox_route() {
    let _turn = turn().await;
    let app = app().await;
    let admin = app
        .token_with_role("admin@example.com", PASSWORD, Some("admin"))
        .await;
    let _worker = worker(&app, "logger", None);
    register(&app, "ada@example.com", None).await;
    app.call(
        Method::POST,
        "/api/v1/auth/password-reset",
        None,
        Some(json!({"email": "ada@example.com"})),
    )
    .await;
    let client = app.db.connect().await;
    eventually(Duration::from_secs(30), "three e-mails logged", || async {
        count(
            &client,
            "select count(*) from shop.email_message where status = 'logged'",
        )
        .await
            == 3
    })
    .await;
    let page = app
        .call(
            Method::GET,
            "/api/v1/admin/outbox/emails?kind=password_reset",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let page = page.json();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let reset = &items[0];
    assert_eq!(
        (
            reset["to"].as_str(),
            reset["status"].as_str(),
            reset["transport"].as_str()
        ),
        (Some("ada@example.com"), Some("logged"), Some("log"))
    );
    assert!(reset["body_text"]
        .as_str()
        .unwrap()
        .contains("/reset-password?token="));
    assert!(reset["body_html"].as_str().unwrap().contains("<a href="));
    assert_eq!(reset["locale"], "fr", "the store default");
    let all = app
        .call(
            Method::GET,
            "/api/v1/admin/outbox/emails?limit=2",
            Some(&admin),
            None,
        )
        .await
        .json();
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    let older = app
        .call(
            Method::GET,
            &format!(
                "/api/v1/admin/outbox/emails?before={}",
                all["next_cursor"].as_str().unwrap()
            ),
            Some(&admin),
            None,
        )
        .await
        .json();
    assert_eq!(older["items"].as_array().unwrap().len(), 1);
    let bad = app
        .call(
            Method::GET,
            "/api/v1/admin/outbox/emails?status=lost",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        (bad.status, bad.problem_code().as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_status")
    );
    let manager = app
        .token_with_role("manager@example.com", PASSWORD, Some("manager"))
        .await;
    let refused = app
        .call(Method::GET, "/api/v1/admin/outbox/emails", Some(&manager), None)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    // report.emails: to, kind, status, job, for psql.
    let rows = client
        .query(
            "select to_address, kind, status, job_id from report.emails order by email_message_id",
            &[],
        )
        .await
        .unwrap();
    let kinds: Vec<(String, String, String)> = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    assert_eq!(
        kinds[2],
        ("ada@example.com".into(), "password_reset".into(), "logged".into())
    );
    assert!(rows.iter().all(|r| r.get::<_, Option<i64>>(3).is_some()));
}

#[tokio::test]
async fn the_customers_locale_else_the_store_default_chooses_the_language() {
    let _turn = turn().await;
    let app = app().await;
    let client = app.db.connect().await;
    register(&app, "fr@example.com", Some("fr")).await;
    register(&app, "default@example.com", None).await;
    client
        .execute(
            "update shop.setting set value = '\"en\"' where key = 'email.default_locale'",
            &[],
        )
        .await
        .unwrap();
    register(&app, "later@example.com", None).await;
    let locales: Vec<(String, String)> = client
        .query(
            "select to_address, locale from shop.email_message order by email_message_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        locales,
        [
            ("fr@example.com".into(), "fr".into()),
            ("default@example.com".into(), "fr".into()),
            ("later@example.com".into(), "en".into())
        ]
    );
    // The profile field: set, shown, cleared; anything else refused.
    let token = app.login("later@example.com", PASSWORD).await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let me = app
        .call(
            Method::PATCH,
            "/api/v1/users/me",
            Some(&token),
            Some(json!({"locale": "fr"})),
        )
        .await;
    assert_eq!(
        (me.status, me.json()["locale"].as_str()),
        (StatusCode::OK, Some("fr"))
    );
    let bad = app
        .call(
            Method::PATCH,
            "/api/v1/users/me",
            Some(&token),
            Some(json!({"locale": "de"})),
        )
        .await;
    assert_eq!(
        (bad.status, bad.json()["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("app_user_locale_valid"))
    );
    let bad = app
        .call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({"email": "x@example.com", "password": PASSWORD, "locale": "de"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    // The worker renders each in its language.
    let _worker = worker(&app, "logger", None);
    eventually(Duration::from_secs(30), "three e-mails logged", || async {
        count(
            &client,
            "select count(*) from shop.email_message where status = 'logged'",
        )
        .await
            == 3
    })
    .await;
    let subjects: Vec<String> = client
        .query(
            "select subject from shop.email_message order by email_message_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        subjects,
        ["Bienvenue chez maef", "Bienvenue chez maef", "Welcome to maef"]
    );
}

#[tokio::test]
async fn admins_preview_and_save_templates_and_broken_ones_are_refused() {
    let _turn = turn().await;
    let app = app().await;
    let admin = app
        .token_with_role("admin@example.com", PASSWORD, Some("admin"))
        .await;
    let list = app
        .call(Method::GET, "/api/v1/admin/email-templates", Some(&admin), None)
        .await;
    assert_eq!(list.status, StatusCode::OK);
    // Every kind (domains add theirs: fulfilment's shipment_update and order_cancelled…)
    // in fr and en.
    let kinds = maef_tests::count(&app.db.connect().await, "select count(*) from shop.email_kind").await;
    assert!(kinds >= 12, "the seeded kinds are there: {kinds}");
    assert_eq!(
        list.json()["items"].as_array().unwrap().len() as i64,
        kinds * 2,
        "every kind in fr and en"
    );
    let path = "/api/v1/admin/email-templates/order_shipped/en";
    let template = app.call(Method::GET, path, Some(&admin), None).await;
    assert_eq!(template.status, StatusCode::OK);
    assert_eq!(template.json()["sample"]["carrier"], "DHL");

    let preview = app
        .call(
            Method::POST,
            &format!("{path}/preview"),
            Some(&admin),
            Some(json!({"data": {"carrier": "<Gozem>"}})),
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.text());
    let preview = preview.json();
    assert_eq!(preview["subject"], "maef: order #1042 is on its way");
    assert!(preview["text"].as_str().unwrap().contains("with <Gozem>."));
    assert!(
        preview["html"].as_str().unwrap().contains("with &lt;Gozem&gt;."),
        "escaped in HTML"
    );
    let draft = app
        .call(
            Method::POST,
            &format!("{path}/preview"),
            Some(&admin),
            Some(json!({"body_html": "<p>{% if carrier %}</p>"})),
        )
        .await;
    assert_eq!(
        (draft.status, draft.problem_code().as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "email_template_invalid")
    );
    assert_eq!(draft.json()["details"], "body_html");

    let broken = json!({"subject": "Shipped {{ order_numbr }}", "body_text": "ok", "body_html": "<p>ok</p>"});
    let refused = app.call(Method::PUT, path, Some(&admin), Some(broken)).await;
    assert_eq!(
        (refused.status, refused.problem_code().as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "email_template_invalid")
    );
    assert!(refused.json()["message"].as_str().unwrap().contains("subject"));
    let good = json!({"subject": "Order {{ order_number }} shipped by {{ carrier }}",
                      "body_text": "Tracking: {{ tracking_number }}", "body_html": "<p>Tracking: {{ tracking_number }}</p>"});
    let saved = app.call(Method::PUT, path, Some(&admin), Some(good)).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    assert_eq!(
        saved.json()["subject"],
        "Order {{ order_number }} shipped by {{ carrier }}"
    );
    let client = app.db.connect().await;
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.audit_log where action = 'email_template_updated'"
        )
        .await,
        1
    );

    for missing in [
        "/api/v1/admin/email-templates/order_teleported/en",
        "/api/v1/admin/email-templates/order_shipped/de",
    ] {
        let reply = app.call(Method::GET, missing, Some(&admin), None).await;
        assert_eq!(
            (reply.status, reply.problem_code().as_str()),
            (StatusCode::NOT_FOUND, "email_template_not_found")
        );
    }
    let manager = app
        .token_with_role("manager@example.com", PASSWORD, Some("manager"))
        .await;
    assert_eq!(
        app.call(Method::GET, path, Some(&manager), None).await.status,
        StatusCode::FORBIDDEN
    );

    // The next e-mail of that kind uses the saved template.
    client
        .execute(
            "update shop.setting set value = '\"en\"' where key = 'email.default_locale'",
            &[],
        )
        .await
        .unwrap();
    queue(
        &client,
        "order_shipped",
        "ada@example.com",
        json!({"order_number": 7, "carrier": "Gozem", "tracking_number": "GZ1", "tracking_url": null}),
    )
    .await;
    let _worker = worker(&app, "logger", None);
    eventually(Duration::from_secs(30), "the e-mail logged", || async {
        count(
            &client,
            "select count(*) from shop.email_message where kind = 'order_shipped' and status = 'logged'",
        )
        .await
            == 1
    })
    .await;
    let subject: String = client
        .query_one(
            "select subject from shop.email_message where kind = 'order_shipped'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(subject, "Order 7 shipped by Gozem");
}
