//! Stories and the Instagram integration over HTTP (the real router, the real database,
//! the fake Graph API for Meta's side): the carousel's keyset pages, the admin's links,
//! drafts, hiding and on-demand pulls, the OAuth flow with its single-use state, tokens
//! given by an admin, and every 401/403/404/409/422 on the way.

use axum::http::{Method, StatusCode};
use maef_instagram::{Secret, TokenKey};
use maef_media::fixtures;
use maef_tests::{
    count,
    fake_graph::{FakeAccount, FakeGraph, FakePage},
    http::{Reply, TestApp},
    seed_products,
};
use serde_json::{json, Value};
use tokio_postgres::Client;

const PASSWORD: &str = "correct horse battery";
const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const REDIRECT: &str = "https://shop.example/api/v1/integrations/instagram/callback";

fn configured(fake: &FakeGraph) -> Vec<(&'static str, String)> {
    vec![
        ("OAUTH_TOKEN_KEY", KEY.into()),
        ("IG_GRAPH_BASE", fake.base()),
        ("IG_APP_ID", "1234".into()),
        ("IG_APP_SECRET", "app-secret".into()),
        ("IG_REDIRECT_URI", REDIRECT.into()),
    ]
}

async fn app_with(vars: &[(&'static str, String)]) -> TestApp {
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestApp::with(&pairs).await
}

/// Stores a story as the worker would: its image through api.ingest_media, then
/// api.save_instagram_story. `minute` orders them (higher is newer).
async fn story(client: &Client, id: &str, minute: u32, caption: &str, with_media: bool) -> i64 {
    let media = if with_media {
        let bytes = fixtures::jpeg(30 + minute, 20);
        let meta = json!({"filename": format!("{id}.jpg"), "mime_type": "image/jpeg", "size_bytes": bytes.len(),
                          "sha256": maef_media::sha256_hex(&bytes), "width": 30 + minute, "height": 20});
        let asset: Value = client
            .query_one("select api.ingest_media($1, $2)", &[&meta, &bytes])
            .await
            .unwrap()
            .get(0);
        json!({"asset_id": asset["asset_id"], "poster_asset_id": asset["asset_id"], "media_source": "media_url"})
    } else {
        json!({"media_source": "media_url", "media_error": "image/jpeg files are limited to 10 bytes"})
    };
    let item = json!({"id": id, "media_type": "IMAGE", "media_product_type": "STORY", "caption": caption,
                      "timestamp": format!("2026-12-06T09:{minute:02}:00+0000"),
                      "permalink": format!("https://www.instagram.com/stories/boutique/{id}/")});
    let facts = if caption.contains("FCFA") {
        json!({"title": "Robe wax", "description": "15 000 FCFA", "hashtags": ["wax"],
               "price": {"currency": "XOF", "amount": 15000, "text": "15 000 FCFA"}})
    } else {
        json!({"title": null, "description": "", "hashtags": []})
    };
    let saved: Value = client
        .query_one(
            "select api.save_instagram_story('17841400000000001', $1, $2, $3)",
            &[&item, &media, &facts],
        )
        .await
        .unwrap()
        .get(0);
    saved["story_id"].as_i64().unwrap()
}

async fn connect(client: &Client, account: &str, token: &str) {
    let key = TokenKey::parse(KEY).unwrap();
    let fields = json!({"account_id": account, "token_kind": "page", "key_id": key.id()});
    client
        .query_one(
            "select api._instagram_upsert_account($1, $2, null)",
            &[&fields, &key.seal(account, &Secret::new(token))],
        )
        .await
        .unwrap();
}

fn code(reply: &Reply) -> (StatusCode, String) {
    (reply.status, reply.problem_code())
}

#[tokio::test]
async fn the_carousel_pages_visible_stories_newest_first_with_media_and_active_products() {
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    let mut ids = Vec::new();
    for minute in 0..5 {
        ids.push(
            story(
                &client,
                &format!("1790000000000000{minute}"),
                minute,
                &format!("Story {minute}"),
                true,
            )
            .await,
        );
    }
    let hidden = story(&client, "17900000000000010", 30, "hidden", true).await;
    client
        .execute(
            "update shop.story set hidden_at = now() where story_id = $1",
            &[&hidden],
        )
        .await
        .unwrap();
    let mediumless = story(&client, "17900000000000011", 31, "too big", false).await;
    let slugs = seed_products(&client, "robe", 2).await;
    client
        .batch_execute(&format!(
            "update shop.product set is_active = false where slug = '{1}';
             insert into shop.story_product_link (story_id, product_id)
             select {0}, product_id from shop.product where slug in ('{1}', '{2}');",
            ids[2], slugs[1], slugs[0]
        ))
        .await
        .unwrap();

    // Keyset pages of 2: 4, 3 | 2, 1 | 0, each once, newest first.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(cursor) => format!("/api/v1/stories?limit=2&after={cursor}"),
            None => "/api/v1/stories?limit=2".into(),
        };
        let page = app.call(Method::GET, &path, None, None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        let page = page.json();
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_i64().unwrap()),
        );
        after = page["next_cursor"].as_str().map(|c| c.replace('|', "%7C"));
        if after.is_none() {
            break;
        }
        if seen.len() == 2 {
            // A story posted meanwhile does not shift the pages that follow.
            story(&client, "17900000000000099", 59, "newer", true).await;
        }
    }
    let expected: Vec<i64> = ids.iter().rev().copied().collect();
    assert_eq!(seen, expected);

    let page = app
        .call(Method::GET, "/api/v1/stories?limit=50", None, None)
        .await
        .json();
    let items = page["items"].as_array().unwrap();
    assert_eq!(
        items.len(),
        6,
        "hidden stories and stories without media are not served"
    );
    let linked = items.iter().find(|s| s["id"] == ids[2]).unwrap();
    assert_eq!(linked["media"]["mime_type"], "image/jpeg");
    let asset = linked["media"]["asset_id"].as_str().unwrap();
    assert_eq!(linked["media"]["url"], format!("/api/v1/media/{asset}"));
    assert_eq!(
        linked["media"]["variants"]["thumb"],
        format!("/api/v1/media/{asset}?variant=thumb")
    );
    assert_eq!(linked["posted_at"], "2026-12-06T09:02:00+00:00");
    assert_eq!(linked["expires_on_instagram_at"], "2026-12-07T09:02:00+00:00");
    let products = linked["products"].as_array().unwrap();
    assert_eq!(products.len(), 1, "inactive products are not shown");
    assert_eq!(products[0]["slug"], slugs[0].as_str());
    assert_eq!(products[0]["in_stock"], true);
    assert_eq!(
        products[0]["price_from"][1]["price_formatted"]
            .as_str()
            .map(|s| s.contains("15")),
        Some(true)
    );

    let only_linked = app
        .call(Method::GET, "/api/v1/stories?linked=true", None, None)
        .await
        .json();
    assert_eq!(only_linked["items"].as_array().unwrap().len(), 1);
    let unlinked = app
        .call(Method::GET, "/api/v1/stories?linked=false", None, None)
        .await
        .json();
    assert_eq!(unlinked["items"].as_array().unwrap().len(), 5);

    let one = app
        .call(Method::GET, &format!("/api/v1/stories/{}", ids[2]), None, None)
        .await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.json()["id"], ids[2]);
    for missing in [
        hidden.to_string(),
        mediumless.to_string(),
        "999999".into(),
        "abc".into(),
    ] {
        let reply = app
            .call(Method::GET, &format!("/api/v1/stories/{missing}"), None, None)
            .await;
        assert_eq!(
            code(&reply),
            (StatusCode::NOT_FOUND, "story_not_found".into()),
            "{missing}"
        );
    }
    // Cursors beyond PostgreSQL's timestamps: after every story, or before all of them.
    for (after, expected) in [("-999999999999999999%7C1", 0), ("999999999999999999%7C1", 6)] {
        let reply = app
            .call(
                Method::GET,
                &format!("/api/v1/stories?limit=50&after={after}"),
                None,
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(
            reply.json()["items"].as_array().unwrap().len(),
            expected,
            "{after}"
        );
    }
    for (query, expected) in [
        ("limit=0", "invalid_limit"),
        ("limit=51", "invalid_limit"),
        ("after=yesterday", "invalid_cursor"),
        ("linked=maybe", "invalid_query"),
        ("color=red", "invalid_query"),
    ] {
        let reply = app
            .call(Method::GET, &format!("/api/v1/stories?{query}"), None, None)
            .await;
        assert_eq!(
            code(&reply),
            (StatusCode::UNPROCESSABLE_ENTITY, expected.into()),
            "{query}"
        );
    }
}

#[tokio::test]
async fn managers_link_unlink_draft_and_hide_stories_and_others_may_not() {
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    let id = story(
        &client,
        "17900000000000001",
        1,
        "Robe wax #wax\n15 000 FCFA",
        true,
    )
    .await;
    let other = story(&client, "17900000000000002", 2, "plain", false).await;
    let slugs = seed_products(&client, "sac", 1).await;
    let product: i64 = client
        .query_one(
            "select product_id from shop.product where slug = $1",
            &[&slugs[0]],
        )
        .await
        .unwrap()
        .get(0);
    let manager = app
        .token_with_role("manager@example.com", PASSWORD, Some("manager"))
        .await;
    let customer = app.token_with_role("shopper@example.com", PASSWORD, None).await;

    let routes = [
        (Method::GET, "/api/v1/admin/stories".to_string()),
        (
            Method::PUT,
            format!("/api/v1/admin/stories/{id}/products/{product}"),
        ),
        (
            Method::DELETE,
            format!("/api/v1/admin/stories/{id}/products/{product}"),
        ),
        (Method::POST, format!("/api/v1/admin/stories/{id}/draft-product")),
        (Method::DELETE, format!("/api/v1/admin/stories/{id}")),
        (Method::POST, "/api/v1/stories/ingest/instagram".to_string()),
    ];
    for (method, path) in &routes {
        let anonymous = app.call(method.clone(), path, None, None).await;
        assert_eq!(
            code(&anonymous),
            (StatusCode::UNAUTHORIZED, "authentication_required".into()),
            "{method} {path}"
        );
        let shopper = app.call(method.clone(), path, Some(&customer), None).await;
        assert_eq!(
            code(&shopper),
            (StatusCode::FORBIDDEN, "permission_required".into()),
            "{method} {path}"
        );
    }

    let link = format!("/api/v1/admin/stories/{id}/products/{product}");
    let linked = app.call(Method::PUT, &link, Some(&manager), None).await;
    assert_eq!(linked.status, StatusCode::OK, "{}", linked.text());
    assert_eq!(linked.json()["created"], true);
    assert_eq!(linked.json()["story"]["links"][0]["product_id"], product);
    let again = app.call(Method::PUT, &link, Some(&manager), None).await;
    assert_eq!(again.json()["created"], false);
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.audit_log where action = 'story.product_linked'"
        )
        .await,
        1
    );
    for (path, expected) in [
        (
            format!("/api/v1/admin/stories/{id}/products/999999"),
            "product_not_found",
        ),
        (
            format!("/api/v1/admin/stories/999999/products/{product}"),
            "story_not_found",
        ),
        (
            format!("/api/v1/admin/stories/x/products/{product}"),
            "story_not_found",
        ),
    ] {
        let reply = app.call(Method::PUT, &path, Some(&manager), None).await;
        assert_eq!(code(&reply), (StatusCode::NOT_FOUND, expected.into()), "{path}");
    }
    let public = app
        .call(Method::GET, &format!("/api/v1/stories/{id}"), None, None)
        .await
        .json();
    assert_eq!(public["products"][0]["id"], product);
    let unlinked = app.call(Method::DELETE, &link, Some(&manager), None).await;
    assert_eq!(unlinked.status, StatusCode::OK);
    assert_eq!(unlinked.json()["links"], json!([]));
    let twice = app.call(Method::DELETE, &link, Some(&manager), None).await;
    assert_eq!(
        code(&twice),
        (StatusCode::NOT_FOUND, "story_link_not_found".into())
    );
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.audit_log where action = 'story.product_unlinked'"
        )
        .await,
        1
    );

    // A draft from the caption: inactive, priced in XOF, linked; asking again returns it.
    let draft_path = format!("/api/v1/admin/stories/{id}/draft-product");
    let draft = app.call(Method::POST, &draft_path, Some(&manager), None).await;
    assert_eq!(draft.status, StatusCode::CREATED, "{}", draft.text());
    let draft = draft.json();
    assert_eq!(draft["created"], true);
    assert_eq!(draft["product"]["is_active"], false);
    assert_eq!(draft["product"]["title"], "Robe wax");
    assert_eq!(draft["product"]["prices"][0]["currency_code"], "XOF");
    assert_eq!(draft["product"]["prices"][0]["amount"], 15000);
    assert_eq!(draft["product"]["tags"], json!(["wax"]));
    assert_eq!(draft["product"]["media"][0]["is_primary"], true);
    assert_eq!(draft["story"]["draft_product_id"], draft["product"]["product_id"]);
    let again = app.call(Method::POST, &draft_path, Some(&manager), None).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json()["created"], false);
    assert_eq!(
        again.json()["product"]["product_id"],
        draft["product"]["product_id"]
    );
    let missing = app
        .call(
            Method::POST,
            "/api/v1/admin/stories/999999/draft-product",
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(code(&missing), (StatusCode::NOT_FOUND, "story_not_found".into()));
    // The draft is not shown by the storefront (inactive), though linked.
    let public = app
        .call(Method::GET, &format!("/api/v1/stories/{id}"), None, None)
        .await
        .json();
    assert_eq!(public["products"], json!([]));

    // The admin list and its filters.
    let list = |query: &'static str| {
        let (app, manager) = (&app, manager.clone());
        async move {
            let reply = app
                .call(
                    Method::GET,
                    &format!("/api/v1/admin/stories?{query}"),
                    Some(&manager),
                    None,
                )
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.text());
            reply.json()["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_i64().unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list("").await, [other, id]);
    assert_eq!(list("has_media=false").await, [other]);
    assert_eq!(list("linked=true").await, [id]);
    assert_eq!(list("q=WAX").await, [id]);
    assert_eq!(list("account_id=17841400000000001&limit=1").await, [other]);
    let bad = app
        .call(
            Method::GET,
            "/api/v1/admin/stories?hidden=maybe",
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let facts = app
        .call(
            Method::GET,
            "/api/v1/admin/stories?linked=true",
            Some(&manager),
            None,
        )
        .await
        .json();
    assert_eq!(
        facts["items"][0]["caption_facts"]["price"],
        json!({"currency": "XOF", "amount": 15000, "text": "15 000 FCFA"})
    );

    // Hiding: gone from the storefront, listed for the admin, audited once.
    let hide = app
        .call(
            Method::DELETE,
            &format!("/api/v1/admin/stories/{id}"),
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(hide.status, StatusCode::OK);
    assert!(hide.json()["hidden_at"].is_string());
    app.call(
        Method::DELETE,
        &format!("/api/v1/admin/stories/{id}"),
        Some(&manager),
        None,
    )
    .await;
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.audit_log where action = 'story.hidden'"
        )
        .await,
        1
    );
    let gone = app
        .call(Method::GET, &format!("/api/v1/stories/{id}"), None, None)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(list("hidden=true").await, [id]);
    let missing = app
        .call(
            Method::DELETE,
            "/api/v1/admin/stories/999999",
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(code(&missing), (StatusCode::NOT_FOUND, "story_not_found".into()));
}

#[tokio::test]
async fn on_demand_ingest_queues_one_pull_per_account_at_a_time() {
    // Without OAUTH_TOKEN_KEY: not configured.
    let bare = TestApp::new().await;
    let manager = bare
        .token_with_role("manager@example.com", PASSWORD, Some("manager"))
        .await;
    let reply = bare
        .call(
            Method::POST,
            "/api/v1/stories/ingest/instagram",
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(
        code(&reply),
        (StatusCode::CONFLICT, "instagram_not_configured".into())
    );
    assert!(reply.json()["details"]
        .as_str()
        .unwrap()
        .contains("OAUTH_TOKEN_KEY"));

    let fake = FakeGraph::start().await;
    let app = app_with(&configured(&fake)).await;
    let client = app.db.connect().await;
    let manager = app
        .token_with_role("manager@example.com", PASSWORD, Some("manager"))
        .await;
    let none = app
        .call(
            Method::POST,
            "/api/v1/stories/ingest/instagram",
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(
        code(&none),
        (StatusCode::CONFLICT, "no_active_instagram_account".into())
    );
    connect(&client, "17841400000000001", "EAA-1").await;
    connect(&client, "17841400000000002", "EAA-2").await;
    let first = app
        .call(
            Method::POST,
            "/api/v1/stories/ingest/instagram",
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.text());
    let jobs = first.json()["jobs"].clone();
    assert_eq!(jobs.as_array().unwrap().len(), 2);
    // While those wait, asking again queues nothing more.
    let second = app
        .call(
            Method::POST,
            "/api/v1/stories/ingest/instagram",
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(second.json()["jobs"], jobs);
    let one = app
        .call(
            Method::POST,
            "/api/v1/stories/ingest/instagram?account_id=17841400000000002",
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(one.status, StatusCode::ACCEPTED);
    assert_eq!(one.json()["jobs"][0]["job_id"], jobs[1]["job_id"]);
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.job_queue where kind = 'pull_instagram_stories'"
        )
        .await,
        2
    );
    let unknown = app
        .call(
            Method::POST,
            "/api/v1/stories/ingest/instagram?account_id=999",
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(
        code(&unknown),
        (StatusCode::NOT_FOUND, "instagram_account_not_found".into())
    );
    let bad = app
        .call(
            Method::POST,
            "/api/v1/stories/ingest/instagram?accounts=1",
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(
        code(&bad),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_query".into())
    );
}

/// Sets up the fake's side of a Facebook Login: the app, a code, the user's Pages.
fn facebook_user(fake: &FakeGraph, code: &str, pages: Vec<FakePage>) {
    fake.with(|s| {
        s.app = Some(("1234".into(), "app-secret".into(), REDIRECT.into()));
        s.codes.insert(code.into(), format!("EAA-short-{code}"));
        s.long_lived.insert(
            format!("EAA-short-{code}"),
            (format!("EAA-long-{code}"), 5_183_944),
        );
        s.user_tokens.insert(format!("EAA-long-{code}"), pages);
    });
}

async fn authorize(app: &TestApp, token: &str) -> (String, Value) {
    let reply = app
        .call(
            Method::GET,
            "/api/v1/admin/integrations/instagram/authorize",
            Some(token),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let body = reply.json();
    let url = url::Url::parse(body["authorize_url"].as_str().unwrap()).unwrap();
    let state = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .to_string();
    (state, body)
}

#[tokio::test]
async fn the_oauth_flow_connects_the_instagram_accounts_of_the_admins_pages_once_per_state() {
    let fake = FakeGraph::start().await;
    let app = app_with(&configured(&fake)).await;
    let client = app.db.connect().await;
    let admin = app
        .token_with_role("admin@example.com", PASSWORD, Some("admin"))
        .await;
    let manager = app
        .token_with_role("manager@example.com", PASSWORD, Some("manager"))
        .await;
    facebook_user(
        &fake,
        "code-1",
        vec![
            FakePage {
                id: "1001".into(),
                name: "Boutique Dakar".into(),
                token: "EAA-page-1".into(),
                instagram: Some("17841400000000001".into()),
            },
            FakePage {
                id: "1002".into(),
                name: "Blog".into(),
                token: "EAA-page-2".into(),
                instagram: None,
            },
            FakePage {
                id: "1004".into(),
                name: "Boutique Abidjan".into(),
                token: "EAA-page-4".into(),
                instagram: Some("17841400000000004".into()),
            },
        ],
    );
    fake.account(
        "17841400000000001",
        FakeAccount {
            token: "EAA-page-1".into(),
            username: "boutique.dakar".into(),
            ..FakeAccount::default()
        },
    );
    fake.account(
        "17841400000000004",
        FakeAccount {
            token: "EAA-page-4".into(),
            username: "boutique.abidjan".into(),
            ..FakeAccount::default()
        },
    );

    for (token, expected) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some(&manager), StatusCode::FORBIDDEN),
    ] {
        let reply = app
            .call(
                Method::GET,
                "/api/v1/admin/integrations/instagram/authorize",
                token.map(String::as_str),
                None,
            )
            .await;
        assert_eq!(reply.status, expected);
    }
    let (state, body) = authorize(&app, &admin).await;
    let url = url::Url::parse(body["authorize_url"].as_str().unwrap()).unwrap();
    assert_eq!(url.path(), "/v26.0/dialog/oauth");
    let query: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["client_id"], "1234");
    assert_eq!(query["redirect_uri"], REDIRECT);
    assert_eq!(
        query["scope"],
        "instagram_basic,pages_show_list,pages_read_engagement"
    );
    assert!(state.len() >= 43, "256 random bits");
    // Only the state's sha256 is stored, bound to the admin.
    assert_eq!(
        count(&client, &format!("select count(*) from shop.oauth_state s join shop.app_user u using (user_id)
                                 where s.state_hash = encode(sha256(convert_to('{state}', 'utf8')), 'hex')
                                   and u.email = 'admin@example.com' and s.expires_at > now() + interval '9 minutes'")).await,
        1
    );

    let callback = format!("/api/v1/integrations/instagram/callback?code=code-1&state={state}");
    let reply = app.call(Method::GET, &callback, None, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let accounts = reply.json()["accounts"].clone();
    assert_eq!(
        accounts.as_array().unwrap().len(),
        2,
        "both Instagram accounts; the Page without one is skipped"
    );
    assert_eq!(accounts[1]["username"], "boutique.abidjan");
    assert_eq!(accounts[0]["account_id"], "17841400000000001");
    assert_eq!(accounts[0]["username"], "boutique.dakar");
    assert_eq!(accounts[0]["page_name"], "Boutique Dakar");
    assert_eq!(accounts[0]["token_kind"], "page");
    assert_eq!(
        accounts[0]["expires_at"],
        Value::Null,
        "Page tokens from long-lived user tokens do not expire"
    );
    assert!(!reply.text().contains("EAA"), "no token in the answer");
    // Sealed at rest: not in clear, opens with the key for this account only.
    let row = client
        .query_one(
            "select token_sealed, token_key_id, connected_by from shop.oauth_token where account_id = '17841400000000001'",
            &[],
        )
        .await
        .unwrap();
    let sealed: Vec<u8> = row.get(0);
    assert!(!sealed.windows(10).any(|w| w == b"EAA-page-1"));
    let key = TokenKey::parse(KEY).unwrap();
    assert_eq!(
        key.open("17841400000000001", &row.get::<_, String>(1), &sealed)
            .unwrap()
            .expose(),
        "EAA-page-1"
    );
    let admin_id: uuid::Uuid = client
        .query_one(
            "select user_id from shop.app_user where email = 'admin@example.com'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(row.get::<_, Option<uuid::Uuid>>(2), Some(admin_id));
    assert_eq!(
        count(&client, &format!("select count(*) from shop.audit_log where action = 'instagram.account_connected' and actor_id = '{admin_id}'")).await,
        2
    );
    // The exchanges: the code, then the long-lived token.
    let exchanges = fake.with(|s| {
        s.calls
            .iter()
            .filter(|(p, _)| p == "/oauth/access_token")
            .map(|(_, q)| q.clone())
            .collect::<Vec<_>>()
    });
    assert_eq!(exchanges.len(), 2);
    assert!(
        exchanges[0].contains("code=code-1") && exchanges[0].contains(&format!("redirect_uri={REDIRECT}"))
    );
    assert!(
        exchanges[1].contains("grant_type=fb_exchange_token")
            && exchanges[1].contains("fb_exchange_token=EAA-short-code-1")
    );

    // The state is single use: a replay goes no further than the database.
    let replay = app.call(Method::GET, &callback, None, None).await;
    assert_eq!(
        code(&replay),
        (StatusCode::BAD_REQUEST, "oauth_state_invalid".into())
    );
    assert!(replay.json()["message"]
        .as_str()
        .unwrap()
        .contains("already used"));
    assert_eq!(fake.with(|s| s.calls_to("/oauth/access_token")), 2);
    let unknown = app
        .call(
            Method::GET,
            "/api/v1/integrations/instagram/callback?code=code-1&state=forged",
            None,
            None,
        )
        .await;
    assert_eq!(
        code(&unknown),
        (StatusCode::BAD_REQUEST, "oauth_state_invalid".into())
    );

    // Expired.
    let (state, _) = authorize(&app, &admin).await;
    client
        .execute(
            "update shop.oauth_state set expires_at = now() - interval '1 second' where used_at is null",
            &[],
        )
        .await
        .unwrap();
    let expired = app
        .call(
            Method::GET,
            &format!("/api/v1/integrations/instagram/callback?code=code-1&state={state}"),
            None,
            None,
        )
        .await;
    assert_eq!(
        code(&expired),
        (StatusCode::BAD_REQUEST, "oauth_state_invalid".into())
    );
    assert!(expired.json()["message"].as_str().unwrap().contains("expired"));

    // Declined on Facebook: the state is used up all the same.
    let (state, _) = authorize(&app, &admin).await;
    let declined = app
        .call(
            Method::GET,
            &format!("/api/v1/integrations/instagram/callback?error=access_denied&error_reason=user_denied&error_description=Permissions+error&state={state}"),
            None,
            None,
        )
        .await;
    assert_eq!(
        code(&declined),
        (StatusCode::BAD_REQUEST, "instagram_authorization_denied".into())
    );
    assert!(declined.json()["details"]
        .as_str()
        .unwrap()
        .contains("user_denied"));
    let after = app
        .call(
            Method::GET,
            &format!("/api/v1/integrations/instagram/callback?code=code-1&state={state}"),
            None,
            None,
        )
        .await;
    assert_eq!(
        code(&after),
        (StatusCode::BAD_REQUEST, "oauth_state_invalid".into())
    );

    // A code Meta refuses, and missing parameters.
    let (state, _) = authorize(&app, &admin).await;
    let refused = app
        .call(
            Method::GET,
            &format!("/api/v1/integrations/instagram/callback?code=used&state={state}"),
            None,
            None,
        )
        .await;
    assert_eq!(
        code(&refused),
        (StatusCode::BAD_REQUEST, "instagram_code_rejected".into())
    );
    assert!(refused.json()["details"]
        .as_str()
        .unwrap()
        .contains("authorization code has been used"));
    for query in ["code=code-1", "state=abc"] {
        let reply = app
            .call(
                Method::GET,
                &format!("/api/v1/integrations/instagram/callback?{query}"),
                None,
                None,
            )
            .await;
        assert_eq!(
            code(&reply),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_query".into()),
            "{query}"
        );
    }

    // Meta failing half-way (the long-lived token is refused when listing Pages): 502.
    facebook_user(&fake, "code-4", vec![]);
    fake.with(|s| {
        s.user_tokens.remove("EAA-long-code-4");
    });
    let (state, _) = authorize(&app, &admin).await;
    let failed = app
        .call(
            Method::GET,
            &format!("/api/v1/integrations/instagram/callback?code=code-4&state={state}"),
            None,
            None,
        )
        .await;
    assert_eq!(
        code(&failed),
        (StatusCode::BAD_GATEWAY, "instagram_graph_error".into())
    );
    assert!(failed.json()["details"]
        .as_str()
        .unwrap()
        .contains("Graph API error 190"));
    assert!(!failed.text().contains("EAA-"), "{}", failed.text());

    // Pages without any Instagram account.
    facebook_user(
        &fake,
        "code-2",
        vec![FakePage {
            id: "1003".into(),
            name: "Blog".into(),
            token: "EAA-page-3".into(),
            instagram: None,
        }],
    );
    let (state, _) = authorize(&app, &admin).await;
    let nothing = app
        .call(
            Method::GET,
            &format!("/api/v1/integrations/instagram/callback?code=code-2&state={state}"),
            None,
            None,
        )
        .await;
    assert_eq!(
        code(&nothing),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "no_instagram_business_account".into()
        )
    );

    // A state whose admin lost the role since.
    facebook_user(&fake, "code-3", vec![]);
    let (state, _) = authorize(&app, &admin).await;
    client
        .execute("delete from shop.user_role where user_id = $1", &[&admin_id])
        .await
        .unwrap();
    let demoted = app
        .call(
            Method::GET,
            &format!("/api/v1/integrations/instagram/callback?code=code-3&state={state}"),
            None,
            None,
        )
        .await;
    assert_eq!(
        code(&demoted),
        (StatusCode::BAD_REQUEST, "oauth_state_invalid".into())
    );
}

#[tokio::test]
async fn without_the_apps_settings_the_integration_says_it_is_not_configured() {
    let app = TestApp::with(&[("OAUTH_TOKEN_KEY", KEY)]).await;
    let admin = app
        .token_with_role("admin@example.com", PASSWORD, Some("admin"))
        .await;
    let reply = app
        .call(
            Method::GET,
            "/api/v1/admin/integrations/instagram/authorize",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        code(&reply),
        (StatusCode::CONFLICT, "instagram_not_configured".into())
    );
    assert_eq!(
        serde_json::from_str::<Value>(reply.json()["details"].as_str().unwrap()).unwrap()["missing"],
        json!(["IG_APP_ID", "IG_APP_SECRET", "IG_REDIRECT_URI"])
    );
    let callback = app
        .call(
            Method::GET,
            "/api/v1/integrations/instagram/callback?code=a&state=b",
            None,
            None,
        )
        .await;
    assert_eq!(
        code(&callback),
        (StatusCode::CONFLICT, "instagram_not_configured".into())
    );
    let bare = TestApp::new().await;
    let admin = bare
        .token_with_role("admin@example.com", PASSWORD, Some("admin"))
        .await;
    let token = bare
        .call(
            Method::POST,
            "/api/v1/admin/integrations/instagram/token",
            Some(&admin),
            Some(json!({"account_id": "1784", "access_token": "EAA"})),
        )
        .await;
    assert_eq!(
        code(&token),
        (StatusCode::CONFLICT, "instagram_not_configured".into())
    );
    // The rest of the shop works.
    assert_eq!(
        bare.call(Method::GET, "/api/v1/stories", None, None).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_admins_token_is_checked_with_meta_then_sealed_and_accounts_are_listed_and_disconnected() {
    let fake = FakeGraph::start().await;
    let app = app_with(&configured(&fake)).await;
    let client = app.db.connect().await;
    let admin = app
        .token_with_role("admin@example.com", PASSWORD, Some("admin"))
        .await;
    let manager = app
        .token_with_role("manager@example.com", PASSWORD, Some("manager"))
        .await;
    fake.account(
        "17841400000000009",
        FakeAccount {
            token: "EAA-good".into(),
            username: "atelier".into(),
            ..FakeAccount::default()
        },
    );
    let path = "/api/v1/admin/integrations/instagram/token";

    let body = json!({"account_id": "17841400000000009", "access_token": "EAA-good"});
    for (token, expected) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some(&manager), StatusCode::FORBIDDEN),
    ] {
        let reply = app
            .call(Method::POST, path, token.map(String::as_str), Some(body.clone()))
            .await;
        assert_eq!(reply.status, expected);
    }
    let saved = app.call(Method::POST, path, Some(&admin), Some(body)).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    assert_eq!(saved.json()["username"], "atelier");
    assert_eq!(saved.json()["status"], "active");
    assert!(!saved.text().contains("EAA-good"));

    let refused = app
        .call(
            Method::POST,
            path,
            Some(&admin),
            Some(json!({"account_id": "17841400000000009", "access_token": "EAA-stolen-secret"})),
        )
        .await;
    assert_eq!(
        code(&refused),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "instagram_token_rejected".into()
        )
    );
    assert!(refused.json()["details"]
        .as_str()
        .unwrap()
        .contains("Graph API error 190"));
    assert!(
        !refused.text().contains("EAA-stolen-secret"),
        "the token is not echoed"
    );
    for bad in [
        json!({"account_id": "17841400000000009"}),
        json!({"account_id": "../etc", "access_token": "EAA-good"}),
        json!({"account_id": "17841400000000009", "access_token": "EAA-good", "token_kind": "app"}),
        json!({"account_id": "17841400000000009", "access_token": "EAA-good", "expires_in": 5}),
        json!({"account_id": "17841400000000009", "access_token": "", "token_kind": "user"}),
        json!({"account_id": "17841400000000009", "access_token": "EAA-good", "extra": 1}),
    ] {
        let reply = app
            .call(Method::POST, path, Some(&admin), Some(bad.clone()))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            reply.text()
        );
    }
    // A user token with its expiry.
    let user = app
        .call(
            Method::POST,
            path,
            Some(&admin),
            Some(json!({"account_id": "17841400000000009", "access_token": "EAA-good", "token_kind": "user", "expires_in": 5_183_944})),
        )
        .await;
    assert_eq!(user.status, StatusCode::OK);
    assert_eq!(user.json()["token_kind"], "user");
    let days: f64 = client
        .query_one(
            "select extract(epoch from expires_at - now())::float8 / 86400 from shop.oauth_token",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!((59.0..61.0).contains(&days), "{days}");

    let list = app
        .call(
            Method::GET,
            "/api/v1/admin/integrations/instagram/accounts",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json()["items"][0]["account_id"], "17841400000000009");
    assert!(!list.text().contains("EAA") && !list.text().contains("sealed"));
    for (token, expected) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some(&manager), StatusCode::FORBIDDEN),
    ] {
        for (method, path) in [
            (Method::GET, "/api/v1/admin/integrations/instagram/accounts"),
            (
                Method::DELETE,
                "/api/v1/admin/integrations/instagram/accounts/17841400000000009",
            ),
        ] {
            let reply = app.call(method, path, token.map(String::as_str), None).await;
            assert_eq!(reply.status, expected, "{path}");
        }
    }
    let gone = app
        .call(
            Method::DELETE,
            "/api/v1/admin/integrations/instagram/accounts/17841400000000009",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::OK);
    assert_eq!(
        gone.json(),
        json!({"account_id": "17841400000000009", "disconnected": true})
    );
    let again = app
        .call(
            Method::DELETE,
            "/api/v1/admin/integrations/instagram/accounts/17841400000000009",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        code(&again),
        (StatusCode::NOT_FOUND, "instagram_account_not_found".into())
    );
    assert_eq!(count(&client, "select count(*) from shop.oauth_token").await, 0);

    // Meta unreachable: 502, nothing stored.
    let offline = app_with(&[
        ("OAUTH_TOKEN_KEY", KEY.into()),
        ("IG_GRAPH_BASE", "http://127.0.0.1:9/v26.0".into()),
    ])
    .await;
    let admin = offline
        .token_with_role("admin@example.com", PASSWORD, Some("admin"))
        .await;
    let reply = offline
        .call(
            Method::POST,
            path,
            Some(&admin),
            Some(json!({"account_id": "17841400000000009", "access_token": "EAA-good"})),
        )
        .await;
    assert_eq!(
        code(&reply),
        (StatusCode::BAD_GATEWAY, "instagram_graph_error".into())
    );
    assert!(
        !reply.text().contains("EAA-good") && !reply.text().contains("127.0.0.1"),
        "{}",
        reply.text()
    );
}
