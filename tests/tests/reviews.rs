//! Reviews: submission (HTML stripped, verified purchase computed from paid orders, one
//! review per customer and product with its history), every bad input, moderation (queue,
//! approve, reject with reason, reply with its e-mail, audit), the public keyset listing
//! with its sorts and filters checked against a brute-force ordering, helpful votes,
//! row-level security, the rating in product summaries, `sort=rating`, the rating signal
//! of search, and the `review.submitted` event.

use axum::http::{Method, StatusCode};
use maef_tests::{
    http::TestApp,
    shop::{
        as_role, cart_total, checkout_body, fill_cart, idem, seed_variant, ship_to, signed_in, sql_error,
        user, Who,
    },
};
use serde_json::{json, Value};
use tokio_postgres::Client;

async fn count(client: &Client, sql: &str) -> i64 {
    maef_tests::count(client, sql).await
}

/// Places and pays an order of one unit of `variant` for `who` (as payments would).
async fn buy(client: &Client, who: &mut Who, variant: i64) {
    fill_cart(client, who, "XOF", "SN", &[(variant, 1)]).await;
    let mut body = checkout_body(cart_total(client, who).await);
    body.as_object_mut().unwrap().remove("email");
    let order = who
        .call(
            client,
            "select api.checkout($2, $1, $3)::text",
            &[&body, &idem(&uuid::Uuid::new_v4().to_string(), "h")],
        )
        .await
        .unwrap();
    let id: uuid::Uuid = order["id"].as_str().unwrap().parse().unwrap();
    client
        .query_one(
            "select api.mark_order_paid($1, '{\"provider\": \"test\"}')::text",
            &[&id],
        )
        .await
        .unwrap();
}

/// A shop with products `robe-1`, `robe-2` (15,000 XOF) shipping to Senegal.
async fn shop(client: &Client) -> (i64, i64) {
    ship_to(client, "SN", "XOF", 2000).await;
    (
        seed_variant(client, "ROBE-1", 15000, 2299, Some(100)).await,
        seed_variant(client, "ROBE-2", 15000, 2299, Some(100)).await,
    )
}

async fn set_setting(client: &Client, key: &str, value: Value) {
    let n = client
        .execute(
            "update shop.setting set value = $2 where key = $1",
            &[&key, &value],
        )
        .await
        .unwrap();
    assert_eq!(n, 1, "{key}");
}

fn review(rating: i64, body: &str) -> Value {
    json!({"rating": rating, "title": "Avis", "body": body})
}

#[tokio::test]
async fn a_review_is_plain_text_verified_only_after_a_paid_order_and_a_second_post_edits_it_keeping_history()
{
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    let (robe1, _) = shop(&client).await;
    let buyer = signed_in(&app, "buyer@example.com", None).await;
    let browser = signed_in(&app, "browser@example.com", None).await;
    let mut buyer_who = user(&client, "buyer@example.com", None).await;
    buy(&client, &mut buyer_who, robe1).await;

    let created = app
        .call(
            Method::POST,
            "/api/v1/products/robe-1/reviews",
            Some(&buyer),
            Some(json!({"rating": 5, "title": "<b>Superbe</b> robe",
                        "body": "<p>Tissu <i>épais</i> &amp; coupe parfaite.</p><script>alert('x')</script>\n\n\n\nMerci &lt;3"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let created = created.json();
    assert_eq!(created["title"], "Superbe robe");
    assert_eq!(created["body"], "Tissu épais & coupe parfaite.\n\nMerci <3");
    assert_eq!(created["verified_purchase"], true);
    assert_eq!(created["status"], "pending", "moderated by default");
    assert_eq!(created["created"], true);

    let other = app
        .call(
            Method::POST,
            "/api/v1/products/robe-1/reviews",
            Some(&browser),
            Some(review(4, "Jamais achetée mais jolie.")),
        )
        .await;
    assert_eq!(other.status, StatusCode::CREATED);
    assert_eq!(other.json()["verified_purchase"], false, "no order: not verified");

    // The client cannot claim a verified purchase: the field is not part of the body.
    let claimed = app
        .call(
            Method::POST,
            "/api/v1/products/robe-1/reviews",
            Some(&browser),
            Some(json!({"rating": 5, "body": "Vraiment vérifiée !", "verified_purchase": true})),
        )
        .await;
    assert_eq!(claimed.status, StatusCode::UNPROCESSABLE_ENTITY);

    // With auto-approval of verified purchases, the buyer's edit is published at once,
    // the other reviewer's stays in the queue.
    set_setting(&client, "reviews.auto_approve_verified", json!(true)).await;
    let edited = app
        .call(
            Method::POST,
            "/api/v1/products/robe-1/reviews",
            Some(&buyer),
            Some(review(4, "Après lavage, toujours belle.")),
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK, "an edit answers 200");
    let edited = edited.json();
    assert_eq!(edited["created"], false);
    assert_eq!(edited["id"], created["id"]);
    assert_eq!(edited["status"], "approved");
    assert!(edited["edited_at"].is_string());
    assert_eq!(
        count(&client, "select count(*) from shop.review").await,
        2,
        "one review per customer and product"
    );
    let history: (i16, String) = {
        let row = client
            .query_one(
                "select rating, body from shop.review_revision where review_id = $1",
                &[&created["id"].as_i64().unwrap()],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(
        history,
        (5, "Tissu épais & coupe parfaite.\n\nMerci <3".to_string())
    );
    let again = app
        .call(
            Method::POST,
            "/api/v1/products/robe-1/reviews",
            Some(&browser),
            Some(review(3, "Bof, finalement.")),
        )
        .await;
    assert_eq!(again.json()["status"], "pending");

    // The author sees both statuses; the public sees the approved one only, escaped by
    // nobody but the client (plain text).
    let mine = app
        .call(Method::GET, "/api/v1/users/me/reviews", Some(&buyer), None)
        .await;
    assert_eq!(mine.status, StatusCode::OK);
    assert_eq!(mine.json().as_array().unwrap().len(), 1);
    let public = app
        .call(Method::GET, "/api/v1/products/robe-1/reviews", None, None)
        .await;
    assert_eq!(public.status, StatusCode::OK, "{}", public.text());
    let public = public.json();
    assert_eq!(public["items"].as_array().unwrap().len(), 1);
    assert_eq!(public["items"][0]["rating"], 4);
    assert_eq!(
        public["rating"],
        json!({"average": 4.0, "count": 1, "histogram": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0}})
    );

    // review.submitted was emitted for each submission, in its transaction.
    let events: Vec<Value> = client
        .query(
            "select payload from shop.event where type = 'review.submitted' order by event_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(events.len(), 4);
    assert_eq!(events[2]["status"], "approved");
    assert_eq!(events[2]["edited"], true);
    assert_eq!(events[2]["verified_purchase"], true);
}

#[tokio::test]
async fn bad_reviews_are_422_problems_and_nothing_is_written() {
    // Bodies of 5000 characters and more: above the tests' default body limit.
    let app = TestApp::with(&[("MAX_BODY_BYTES", "65536")]).await;
    let client = app.db.connect().await;
    shop(&client).await;
    let token = signed_in(&app, "ada@example.com", None).await;
    let long_title = "t".repeat(151);
    let long_body = "b".repeat(5001);
    // Long in HTML, short once stripped.
    let html_padding = format!("<div class=\"{}\">ok</div>", "x".repeat(500));
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"rating": 0, "body": "Assez long pour passer."}),
            "review_rating_check",
        ),
        (
            json!({"rating": 6, "body": "Assez long pour passer."}),
            "review_rating_check",
        ),
        (
            json!({"rating": -3, "body": "Assez long pour passer."}),
            "review_rating_check",
        ),
        (
            json!({"rating": "5", "body": "Assez long pour passer."}),
            "invalid_body",
        ),
        (
            json!({"rating": 4.5, "body": "Assez long pour passer."}),
            "invalid_body",
        ),
        (json!({"body": "Assez long pour passer."}), "invalid_body"),
        (json!({"rating": 5}), "invalid_body"),
        (json!({"rating": 5, "body": "court"}), "review_body_too_short"),
        (
            json!({"rating": 5, "body": html_padding}),
            "review_body_too_short",
        ),
        (
            json!({"rating": 5, "body": "<script>un long script qui disparaît</script>"}),
            "review_body_too_short",
        ),
        (json!({"rating": 5, "body": long_body}), "review_body_too_long"),
        (
            json!({"rating": 5, "title": long_title, "body": "Assez long pour passer."}),
            "review_title_too_long",
        ),
        (
            json!({"rating": 5, "body": "Assez long pour passer.", "media": ["0b1e9a4c-5d2f-4b8e-9c1a-3f6d7e8a9b0c"]}),
            "review_media_invalid",
        ),
        (
            json!({"rating": 5, "body": "Assez long pour passer.", "status": "approved"}),
            "invalid_body",
        ),
        (json!([1, 2]), "invalid_body"),
    ];
    for (body, code) in cases {
        let r = app
            .call(
                Method::POST,
                "/api/v1/products/robe-1/reviews",
                Some(&token),
                Some(body.clone()),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{code}: {}", r.text());
        assert_eq!(r.problem_code(), code, "{}", r.text());
    }
    // Photos: the author's own uploads only, at most reviews.max_media (5). Uploading
    // needs media:write, which admins hold (who also hold reviews:write).
    let admin = admin_token(&app, &client).await;
    let mut assets = Vec::new();
    for i in 0..6u8 {
        let uploaded = app.upload(Some(&admin), &format!("p{i}.png"), &tiny_png(i)).await;
        assert_eq!(uploaded.status, StatusCode::CREATED, "{}", uploaded.text());
        assets.push(uploaded.json()["asset_id"].clone());
    }
    let not_mine = app
        .call(
            Method::POST,
            "/api/v1/products/robe-1/reviews",
            Some(&token),
            Some(json!({"rating": 5, "body": "Assez long pour passer.", "media": [assets[0]]})),
        )
        .await;
    assert_eq!(
        not_mine.problem_code(),
        "review_media_invalid",
        "another user's upload"
    );
    let too_many = app
        .call(
            Method::POST,
            "/api/v1/products/robe-1/reviews",
            Some(&admin),
            Some(json!({"rating": 5, "body": "Assez long pour passer.", "media": assets})),
        )
        .await;
    assert_eq!(too_many.problem_code(), "review_media_invalid", "six photos");
    assert_eq!(count(&client, "select count(*) from shop.review").await, 0);
    let with_photos = app
        .call(
            Method::POST,
            "/api/v1/products/robe-1/reviews",
            Some(&admin),
            Some(json!({"rating": 5, "body": "Assez long pour passer.", "media": [assets[1], assets[2], assets[1]]})),
        )
        .await;
    assert_eq!(with_photos.status, StatusCode::CREATED, "{}", with_photos.text());
    let media = with_photos.json()["media"].as_array().unwrap().len();
    assert_eq!(media, 2, "a photo listed twice is attached once");
    assert_eq!(
        count(&client, "select count(*) from shop.review where has_media").await,
        1
    );
    client.execute("delete from shop.review", &[]).await.unwrap();

    let valid = review(5, "Assez long pour passer.");
    let anonymous = app
        .call(
            Method::POST,
            "/api/v1/products/robe-1/reviews",
            None,
            Some(valid.clone()),
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    // Staff are not customers: a manager may not review the shop's products.
    let manager = staff_only(&app, &client, "manager@example.com").await;
    let staff = app
        .call(
            Method::POST,
            "/api/v1/products/robe-1/reviews",
            Some(&manager),
            Some(valid.clone()),
        )
        .await;
    assert_eq!(staff.status, StatusCode::FORBIDDEN);
    assert_eq!(staff.problem_code(), "permission_required");
    let unknown = app
        .call(
            Method::POST,
            "/api/v1/products/no-such-robe/reviews",
            Some(&token),
            Some(valid.clone()),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.problem_code(), "product_not_found");
    // The same rule from psql: a customer session without reviews:write is refused.
    let mut who = user(&client, "ada@example.com", None).await;
    who.claims["scope"] = json!("orders:read:own");
    let refused = as_role(
        &client,
        &who.role,
        &who.claims,
        "select api.submit_review('robe-1', $1)::text",
        &[&valid],
    )
    .await
    .unwrap_err();
    assert_eq!(
        sql_error(&refused),
        ("MA403".to_string(), "permission_required".to_string())
    );
    assert_eq!(count(&client, "select count(*) from shop.review").await, 0);

    // Bad listing parameters.
    for (query, code) in [
        ("sort=best", "invalid_sort"),
        ("rating=6", "invalid_rating"),
        ("rating=0", "invalid_rating"),
        ("limit=0", "invalid_limit"),
        ("limit=101", "invalid_limit"),
        ("after=nonsense", "invalid_cursor"),
        ("verified=maybe", "invalid_query"),
        ("colour=red", "invalid_query"),
    ] {
        let r = app
            .call(
                Method::GET,
                &format!("/api/v1/products/robe-1/reviews?{query}"),
                None,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(r.problem_code(), code, "{query}");
    }
}

/// A manager's token, without the customer role registration gave them (as an admin
/// sets a staff account: `roles: ["manager"]`).
async fn staff_only(app: &TestApp, client: &Client, email: &str) -> String {
    signed_in(app, email, Some("manager")).await;
    client
        .execute(
            "delete from shop.user_role where role_id = (select role_id from shop.role where name = 'customer')
               and user_id = (select user_id from shop.app_user where email = $1)",
            &[&email],
        )
        .await
        .unwrap();
    app.login(email, maef_tests::shop::PASSWORD).await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A token of the (created once) admin `root@example.com`.
async fn admin_token(app: &TestApp, client: &Client) -> String {
    let exists = count(
        client,
        "select count(*) from shop.app_user where email = 'root@example.com'",
    )
    .await;
    if exists == 0 {
        return signed_in(app, "root@example.com", Some("admin")).await;
    }
    app.login("root@example.com", maef_tests::shop::PASSWORD)
        .await
        .json()["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A valid 1×1 PNG whose pixel differs with `seed` (distinct sha256 per seed).
fn tiny_png(seed: u8) -> Vec<u8> {
    let mut bytes = Vec::new();
    let image = image::RgbImage::from_pixel(1, 1, image::Rgb([seed, 0, 0]));
    image
        .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
        .unwrap();
    bytes
}

#[tokio::test]
async fn moderators_work_the_queue_reject_with_a_reason_reply_by_email_and_every_decision_is_audited() {
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    shop(&client).await;
    let ada = signed_in(&app, "ada@example.com", None).await;
    let bob = signed_in(&app, "bob@example.com", None).await;
    let manager = signed_in(&app, "manager@example.com", Some("manager")).await;
    set_setting(&client, "reviews.filter_links", json!(true)).await;
    let first = app
        .call(
            Method::POST,
            "/api/v1/products/robe-1/reviews",
            Some(&ada),
            Some(review(5, "Parfaite, je recommande.")),
        )
        .await
        .json();
    let spam = app
        .call(
            Method::POST,
            "/api/v1/products/robe-1/reviews",
            Some(&bob),
            Some(review(1, "Moins cher sur www.example-robes.com !")),
        )
        .await
        .json();

    // Customers cannot moderate.
    let refused = app
        .call(Method::GET, "/api/v1/admin/reviews", Some(&ada), None)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let refused = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/reviews/{}/moderation", first["id"]),
            Some(&ada),
            Some(json!({"status": "approved"})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let anonymous = app.call(Method::GET, "/api/v1/admin/reviews", None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    let queue = app
        .call(Method::GET, "/api/v1/admin/reviews", Some(&manager), None)
        .await;
    assert_eq!(queue.status, StatusCode::OK, "{}", queue.text());
    let queue = queue.json();
    let ids: Vec<&Value> = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["id"])
        .collect();
    assert_eq!(ids, vec![&first["id"], &spam["id"]], "oldest first");
    assert_eq!(queue["items"][1]["flags"], json!(["link"]));
    assert_eq!(queue["items"][0]["email"], "ada@example.com");
    let flagged = app
        .call(
            Method::GET,
            "/api/v1/admin/reviews?flagged=true",
            Some(&manager),
            None,
        )
        .await
        .json();
    assert_eq!(flagged["items"].as_array().unwrap().len(), 1);

    let moderate = |id: &Value, body: Value| {
        let path = format!("/api/v1/admin/reviews/{id}/moderation");
        let (app, manager) = (&app, &manager);
        async move { app.call(Method::POST, &path, Some(manager), Some(body)).await }
    };
    let no_reason = moderate(&spam["id"], json!({"status": "rejected"})).await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(no_reason.problem_code(), "reason_required");
    let bad_status = moderate(&spam["id"], json!({"status": "deleted"})).await;
    assert_eq!(bad_status.problem_code(), "invalid_status");
    let missing = moderate(&json!(999999), json!({"status": "approved"})).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.problem_code(), "review_not_found");
    let rejected = moderate(&spam["id"], json!({"status": "rejected", "reason": "Publicité"})).await;
    assert_eq!(rejected.status, StatusCode::OK, "{}", rejected.text());
    assert_eq!(rejected.json()["moderated_by"], "manager@example.com");
    let approved = moderate(&first["id"], json!({"status": "approved"})).await;
    assert_eq!(approved.json()["status"], "approved");

    // The author sees the reason.
    let bobs = app
        .call(Method::GET, "/api/v1/users/me/reviews", Some(&bob), None)
        .await
        .json();
    assert_eq!(bobs[0]["status"], "rejected");
    assert_eq!(bobs[0]["moderation_reason"], "Publicité");

    // The shop's reply: plain text under the review, e-mailed to the author.
    let empty = app
        .call(
            Method::PUT,
            &format!("/api/v1/admin/reviews/{}/reply", first["id"]),
            Some(&manager),
            Some(json!({"body": "<p></p>"})),
        )
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    let replied = app
        .call(
            Method::PUT,
            &format!("/api/v1/admin/reviews/{}/reply", first["id"]),
            Some(&manager),
            Some(json!({"body": "<b>Merci</b> Ada !"})),
        )
        .await;
    assert_eq!(replied.status, StatusCode::OK, "{}", replied.text());
    let public = app
        .call(Method::GET, "/api/v1/products/robe-1/reviews", None, None)
        .await
        .json();
    assert_eq!(public["items"][0]["reply"]["body"], "Merci Ada !");
    let mail = client
        .query_one(
            "select to_address, data from shop.email_message where kind = 'review_reply'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(mail.get::<_, String>(0), "ada@example.com");
    let data: Value = mail.get(1);
    assert_eq!(data["reply"], "Merci Ada !");
    assert_eq!(data["product_link"], "http://localhost:8000/products/robe-1");
    let removed = app
        .call(
            Method::DELETE,
            &format!("/api/v1/admin/reviews/{}/reply", first["id"]),
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(removed.json()["reply"], Value::Null);

    let audit: Vec<String> = client
        .query(
            "select action from shop.audit_log where entity = 'review' order by audit_log_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        audit,
        [
            "review_rejected",
            "review_approved",
            "review_replied",
            "review_reply_removed"
        ]
    );

    // The rating follows approvals: one approved 5.
    let page = app
        .call(Method::GET, "/api/v1/products/robe-1", None, None)
        .await
        .json();
    assert_eq!(page["rating"]["count"], 1);
    assert_eq!(page["rating"]["average"], 5.0);
    // Un-approving takes it back out.
    moderate(&first["id"], json!({"status": "rejected", "reason": "Doublon"})).await;
    let page = app
        .call(Method::GET, "/api/v1/products/robe-1", None, None)
        .await
        .json();
    assert_eq!(
        page["rating"],
        json!({"average": null, "count": 0, "histogram": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}})
    );
}

/// Inserts `n` approved reviews of product `slug` by new customers, with ratings,
/// helpful counts, verified flags and photos spread over them (the rows the SQL API
/// writes; ids in insertion order).
async fn seed_reviews(client: &Client, slug: &str, n: i32) {
    client
        .batch_execute(&format!(
            "insert into shop.app_user (email) select 'r' || i || '@example.com' from generate_series(1, {n}) i;
             insert into shop.review (product_id, user_id, rating, title, body, status, submitted_at)
             select p.product_id, u.user_id, 1 + (i * 7) % 5, 'T' || i, 'Body ' || i, 'approved',
                    now() - make_interval(mins => (i * 37) % 50)
             from generate_series(1, {n}) i
             join shop.app_user u on u.email = 'r' || i || '@example.com'
             cross join shop.product p where p.slug = '{slug}';
             update shop.review set verified_purchase = review_id % 3 = 0, helpful_count = (review_id * 13) % 7;"
        ))
        .await
        .unwrap();
    client
        .batch_execute(
            "insert into shop.media_asset (sha256, filename, mime_type, size_bytes, data)
             select encode(sha256(('a' || review_id)::bytea), 'hex'), 'p.png', 'image/png', 1, '\\x00'
             from shop.review where review_id % 4 = 0;
             insert into shop.review_media (review_id, asset_id)
             select r.review_id, a.asset_id from shop.review r
             join shop.media_asset a on a.sha256 = encode(sha256(('a' || r.review_id)::bytea), 'hex');",
        )
        .await
        .unwrap();
}

async fn all_pages(app: &TestApp, query: &str) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!(
                "/api/v1/products/robe-1/reviews?limit=7&{query}&after={}",
                a.replace('|', "%7C")
            ),
            None => format!("/api/v1/products/robe-1/reviews?limit=7&{query}"),
        };
        let page = app.call(Method::GET, &path, None, None).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.text());
        let page = page.json();
        ids.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_i64().unwrap()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => after = Some(c.to_string()),
            None => return ids,
        }
    }
}

#[tokio::test]
async fn every_sort_and_filter_pages_through_the_approved_reviews_in_order_without_repeats() {
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    shop(&client).await;
    seed_reviews(&client, "robe-1", 40).await;
    client
        .execute(
            "update shop.review set status = 'pending' where review_id in (5, 6)",
            &[],
        )
        .await
        .unwrap();
    for (query, order_by, filter) in [
        ("sort=recent", "submitted_at desc, review_id desc", "true"),
        ("", "submitted_at desc, review_id desc", "true"),
        ("sort=helpful", "helpful_count desc, review_id desc", "true"),
        ("sort=rating_desc", "rating desc, review_id desc", "true"),
        ("sort=rating_asc", "rating asc, review_id desc", "true"),
        (
            "sort=rating_desc&rating=4",
            "rating desc, review_id desc",
            "rating = 4",
        ),
        (
            "verified=true",
            "submitted_at desc, review_id desc",
            "verified_purchase",
        ),
        (
            "verified=false&sort=helpful",
            "helpful_count desc, review_id desc",
            "not verified_purchase",
        ),
        (
            "with_media=true",
            "submitted_at desc, review_id desc",
            "has_media",
        ),
        (
            "with_media=false&rating=2",
            "submitted_at desc, review_id desc",
            "not has_media and rating = 2",
        ),
    ] {
        let expected: Vec<i64> = client
            .query(
                &format!("select review_id from shop.review where status = 'approved' and {filter} order by {order_by}"),
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(!expected.is_empty(), "{query}: the fixture has rows for it");
        assert_eq!(all_pages(&app, query).await, expected, "{query}");
    }
    assert_eq!(
        count(&client, "select count(*) from shop.review where has_media").await,
        10
    );
}

#[tokio::test]
async fn helpful_votes_are_one_per_customer_never_on_ones_own_review_and_only_on_published_ones() {
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    shop(&client).await;
    set_setting(&client, "reviews.auto_approve_verified", json!(true)).await;
    let author = signed_in(&app, "author@example.com", None).await;
    let reader = signed_in(&app, "reader@example.com", None).await;
    let pending = app
        .call(
            Method::POST,
            "/api/v1/products/robe-1/reviews",
            Some(&author),
            Some(review(4, "En attente de moderation.")),
        )
        .await
        .json();
    let id = pending["id"].as_i64().unwrap();
    let path = format!("/api/v1/reviews/{id}/helpful");
    let not_published = app.call(Method::POST, &path, Some(&reader), None).await;
    assert_eq!(
        not_published.status,
        StatusCode::NOT_FOUND,
        "a pending review takes no votes"
    );
    client
        .execute(
            "update shop.review set status = 'approved' where review_id = $1",
            &[&id],
        )
        .await
        .unwrap();

    let own = app.call(Method::POST, &path, Some(&author), None).await;
    assert_eq!(own.status, StatusCode::FORBIDDEN);
    assert_eq!(own.problem_code(), "own_review_vote");
    let voted = app.call(Method::POST, &path, Some(&reader), None).await;
    assert_eq!(voted.status, StatusCode::CREATED, "{}", voted.text());
    assert_eq!(
        voted.json(),
        json!({"review_id": id, "voted": true, "helpful_count": 1})
    );
    let twice = app.call(Method::POST, &path, Some(&reader), None).await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert_eq!(twice.problem_code(), "review_vote_exists");
    let anonymous = app.call(Method::POST, &path, None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let manager = staff_only(&app, &client, "manager@example.com").await;
    let staff_vote = app.call(Method::POST, &path, Some(&manager), None).await;
    assert_eq!(staff_vote.status, StatusCode::FORBIDDEN);
    assert_eq!(staff_vote.problem_code(), "permission_required");
    let unknown = app
        .call(
            Method::POST,
            "/api/v1/reviews/987654/helpful",
            Some(&reader),
            None,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let not_a_number = app
        .call(Method::POST, "/api/v1/reviews/abc/helpful", Some(&reader), None)
        .await;
    assert_eq!(not_a_number.status, StatusCode::NOT_FOUND);

    let withdrawn = app.call(Method::DELETE, &path, Some(&reader), None).await;
    assert_eq!(
        withdrawn.json(),
        json!({"review_id": id, "voted": false, "helpful_count": 0})
    );
    let again = app.call(Method::DELETE, &path, Some(&reader), None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(again.problem_code(), "review_vote_not_found");

    // Deleting: the author may; another customer gets 404; a moderator may (audited).
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/api/v1/reviews/{id}"),
            Some(&reader),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NOT_FOUND);
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/api/v1/reviews/{id}"),
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(deleted.json(), json!({"id": id, "deleted": true}));
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.audit_log where action = 'review_deleted'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn row_level_security_keeps_direct_sql_to_published_reviews_and_ones_own_and_writes_to_the_api() {
    let db = maef_tests::TestDb::new().await;
    let client = db.connect().await;
    shop(&client).await;
    seed_reviews(&client, "robe-1", 6).await;
    client
        .execute(
            "update shop.review set status = 'pending' where review_id in (1, 2)",
            &[],
        )
        .await
        .unwrap();
    let anon = json!({"role": "maef_anon"});
    let seen = as_role(
        &client,
        "maef_anon",
        &anon,
        "select count(*) from shop.review",
        &[],
    )
    .await
    .unwrap()[0]
        .get::<_, i64>(0);
    assert_eq!(seen, 4, "anonymous: approved only");
    let r1 = user(&client, "r1@example.com", None).await;
    let own = as_role(
        &client,
        &r1.role,
        &r1.claims,
        "select count(*) from shop.review",
        &[],
    )
    .await
    .unwrap()[0]
        .get::<_, i64>(0);
    assert_eq!(own, 5, "approved ones and one's own pending review");
    // No direct writes: verified_purchase, status and counts belong to the database.
    for sql in [
        "insert into shop.review (product_id, user_id, rating, status, verified_purchase) select 1, shop.current_user_id(), 5, 'approved', true",
        "update shop.review set status = 'approved', verified_purchase = true where review_id = 1",
        "update shop.review set helpful_count = 1000",
        "insert into shop.review_vote (review_id, user_id) values (3, shop.current_user_id())",
    ] {
        let e = as_role(&client, &r1.role, &r1.claims, sql, &[]).await.unwrap_err();
        assert_eq!(sql_error(&e).0, "42501", "{sql}");
    }
    // Even the owner (a DBA) cannot store a verified purchase that is not one.
    client
        .execute(
            "update shop.review set verified_purchase = true, body = body || ' ' where review_id = 1",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.review where review_id = 1 and verified_purchase"
        )
        .await,
        0
    );
    // And an aggregate that does not add up is refused by its constraints.
    let e = client
        .execute(
            "update shop.product_rating set review_count = review_count + 1",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(sql_error(&e).1, "product_rating_count_adds_up");
}

#[tokio::test]
async fn products_carry_their_rating_sort_by_it_and_search_ranks_well_rated_products_higher() {
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    shop(&client).await;
    seed_variant(&client, "ROBE-3", 15000, 2299, Some(5)).await;
    seed_variant(&client, "ROBE-4", 15000, 2299, Some(5)).await;
    // robe-2: 4.5 over two reviews; robe-3: 5 over one; robe-4: 4.5 over four; robe-1: none.
    client
        .batch_execute(
            "insert into shop.app_user (email) select 'v' || i || '@example.com' from generate_series(1, 7) i;
             insert into shop.review (product_id, user_id, rating, status)
             select p.product_id, u.user_id, x.rating, 'approved'
             from (values ('robe-2', 1, 4), ('robe-2', 2, 5), ('robe-3', 1, 5),
                          ('robe-4', 1, 4), ('robe-4', 2, 5), ('robe-4', 3, 4), ('robe-4', 4, 5)) x(slug, u, rating)
             join shop.product p on p.slug = x.slug
             join shop.app_user u on u.email = 'v' || x.u || '@example.com';",
        )
        .await
        .unwrap();
    let list = app
        .call(Method::GET, "/api/v1/products?sort=rating&limit=2", None, None)
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text());
    let list = list.json();
    let slugs: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap())
        .collect();
    assert_eq!(
        slugs,
        ["robe-3", "robe-4"],
        "best average first, then the most reviews"
    );
    assert_eq!(list["items"][0]["rating"], json!({"average": 5.0, "count": 1}));
    let next = app
        .call(
            Method::GET,
            &format!(
                "/api/v1/products?sort=rating&limit=2&after={}",
                list["next_cursor"].as_str().unwrap().replace('|', "%7C")
            ),
            None,
            None,
        )
        .await
        .json();
    let slugs: Vec<&str> = next["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["robe-2", "robe-1"], "unrated last");
    assert_eq!(next["items"][1]["rating"], json!({"average": null, "count": 0}));

    // Search: the four titles match "robe" equally; the rating signal orders them by
    // their rating pulled towards 3 (robe-4 > robe-2 > robe-3 > robe-1 without reviews).
    let search = app.call(Method::GET, "/api/v1/search?q=robe", None, None).await;
    assert_eq!(search.status, StatusCode::OK, "{}", search.text());
    let ranked: Vec<String> = search.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ranked, ["robe-4", "robe-2", "robe-3", "robe-1"]);
    // Without the weight, the rating changes nothing (ties by newest id).
    client
        .execute(
            "update shop.search_weight set weight = 0 where name = 'rating'",
            &[],
        )
        .await
        .unwrap();
    let search = app
        .call(Method::GET, "/api/v1/search?q=robe", None, None)
        .await
        .json();
    let ranked: Vec<&str> = search["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap())
        .collect();
    assert_eq!(ranked, ["robe-4", "robe-3", "robe-2", "robe-1"]);
    // Each first page of a search is logged for the reports, without who searched.
    let logged = client
        .query(
            "select query, results from shop.search_log order by search_log_id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(logged.len(), 2);
    assert_eq!(logged[0].get::<_, String>(0), "robe");
    assert_eq!(logged[0].get::<_, i64>(1), 4);
}
