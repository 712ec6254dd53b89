//! Catalog administration of links, stock and prices over HTTP: tags on their own (create,
//! rename, delete, and search following them), one media link at a time (primary,
//! position, alt), stock levels and the product's in-stock flag kept by triggers,
//! price window changes.

use axum::http::{Method, StatusCode};
use maef_tests::http::TestApp;
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery";

/// A signed-in manager (the role holding catalog:write).
async fn manager(app: &TestApp) -> String {
    app.token_with_role("manager@example.com", PASSWORD, Some("manager"))
        .await
}

/// Creates a product with two variants (4 and 0 in stock) and the tag "wax"; its id.
async fn batik_dress(app: &TestApp, token: &str) -> i64 {
    let created = app
        .call(
            Method::POST,
            "/api/v1/products",
            Some(token),
            Some(json!({
                "title": "Robe longue",
                "variants": [
                    {"name": "M", "sku": "RL-M", "attributes": {"size": "M"}, "stock": {"qty_on_hand": 4}},
                    {"name": "L", "sku": "RL-L", "attributes": {"size": "L"}, "stock": {"qty_on_hand": 0}}
                ],
                "prices": [{"currency": "XOF", "amount": 25000}],
                "tags": ["wax"]
            })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    created.json()["product_id"].as_i64().unwrap()
}

/// Inserts a media asset (the upload itself is the media routes' business); its id.
async fn asset(app: &TestApp, name: &str) -> String {
    app.db
        .connect()
        .await
        .query_one(
            "insert into shop.media_asset (sha256, filename, mime_type, size_bytes, data, width, height)
             values (encode(sha256(convert_to($1, 'UTF8')), 'hex'), $1, 'image/png', 3, '\\x010203', 10, 10)
             returning asset_id::text",
            &[&name],
        )
        .await
        .unwrap()
        .get(0)
}

async fn search_slugs(app: &TestApp, q: &str) -> Vec<String> {
    app.call(Method::GET, &format!("/api/v1/search?q={q}"), None, None)
        .await
        .json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn tag_and_media_link_routes_need_a_catalog_writer() {
    let app = TestApp::new().await;
    let customer = app.sign_up("ada@example.com", PASSWORD).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let asset_path = "/api/v1/admin/products/1/media/7c9e6679-7425-40de-944b-e07fc1f90ae7";
    let routes = [
        (Method::POST, "/api/v1/admin/tags", Some(json!({"name": "Promo"}))),
        (
            Method::PATCH,
            "/api/v1/admin/tags/1",
            Some(json!({"name": "Promo"})),
        ),
        (Method::DELETE, "/api/v1/admin/tags/1", None),
        (Method::PUT, asset_path, Some(json!({}))),
        (Method::DELETE, asset_path, None),
    ];
    for (method, path, body) in routes {
        let anonymous = app.call(method.clone(), path, None, body.clone()).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        let refused = app.call(method.clone(), path, Some(&customer), body).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{method} {path}");
        assert_eq!(refused.problem_code(), "permission_required");
    }
}

#[tokio::test]
async fn a_tag_is_created_renamed_and_deleted_and_search_follows() {
    let app = TestApp::new().await;
    let token = manager(&app).await;
    batik_dress(&app, &token).await;

    let created = app
        .call(
            Method::POST,
            "/api/v1/admin/tags",
            Some(&token),
            Some(json!({"name": "Été"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    assert_eq!(created.json()["slug"], "ete", "slug from the name, unaccented");
    assert_eq!(created.json()["product_count"], 0);
    let duplicate = app
        .call(
            Method::POST,
            "/api/v1/admin/tags",
            Some(&token),
            Some(json!({"name": "ete"})),
        )
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    for bad in [
        json!({"name": "!!!"}),
        json!({"nom": "x"}),
        json!({"slug": "x"}),
        json!({"name": 3}),
    ] {
        let reply = app
            .call(
                Method::POST,
                "/api/v1/admin/tags",
                Some(&token),
                Some(bad.clone()),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            reply.text()
        );
    }

    let wax: i64 = app
        .db
        .connect()
        .await
        .query_one("select tag_id from shop.tag where slug = 'wax'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(search_slugs(&app, "batik").await, Vec::<String>::new());
    let renamed = app
        .call(
            Method::PATCH,
            &format!("/api/v1/admin/tags/{wax}"),
            Some(&token),
            Some(json!({"name": "Batik", "slug": "batik"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.text());
    assert_eq!(renamed.json()["product_count"], 1);
    assert_eq!(
        search_slugs(&app, "batik").await,
        ["robe-longue"],
        "the tag's products are re-indexed"
    );

    let deleted = app
        .call(
            Method::DELETE,
            &format!("/api/v1/admin/tags/{wax}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(search_slugs(&app, "batik").await, Vec::<String>::new());
    let page = app
        .call(Method::GET, "/api/v1/products/robe-longue", None, None)
        .await
        .json();
    assert_eq!(page["tags"], json!([]));
    for method in [Method::PATCH, Method::DELETE] {
        let missing = app
            .call(
                method,
                &format!("/api/v1/admin/tags/{wax}"),
                Some(&token),
                Some(json!({"name": "x"})),
            )
            .await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(missing.problem_code(), "tag_not_found");
    }
    let audited: i64 = app
        .db
        .connect()
        .await
        .query_one(
            "select count(*) from shop.audit_log where action like 'tag\\_%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audited, 3);
}

#[tokio::test]
async fn media_links_take_a_primary_a_position_and_an_alt_text() {
    let app = TestApp::new().await;
    let token = manager(&app).await;
    let id = batik_dress(&app, &token).await;
    let (front, back) = (asset(&app, "front.png").await, asset(&app, "back.png").await);
    let link = |asset: &str| format!("/api/v1/admin/products/{id}/media/{asset}");

    let first = app
        .call(Method::PUT, &link(&front), Some(&token), Some(json!({})))
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    assert_eq!(
        first.json()["media"][0]["is_primary"],
        true,
        "the first link is the primary"
    );
    let second = app
        .call(
            Method::PUT,
            &link(&back),
            Some(&token),
            Some(json!({"is_primary": true, "alt": "Vue de dos"})),
        )
        .await
        .json();
    let media = second["media"].as_array().unwrap();
    let by_asset = |a: &str| media.iter().find(|m| m["asset_id"] == a).unwrap().clone();
    assert_eq!(by_asset(&back)["is_primary"], true);
    assert_eq!(by_asset(&back)["position"], 1, "a new link goes last");
    assert_eq!(by_asset(&front)["is_primary"], false, "one primary per product");

    app.call(
        Method::PUT,
        &link(&front),
        Some(&token),
        Some(json!({"position": 5, "alt": "Face"})),
    )
    .await;
    let page = app
        .call(Method::GET, "/api/v1/products/robe-longue", None, None)
        .await
        .json();
    let shown: Vec<(&str, &str)> = page["media"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["asset_id"].as_str().unwrap(), m["alt"].as_str().unwrap()))
        .collect();
    assert_eq!(
        shown,
        [(back.as_str(), "Vue de dos"), (front.as_str(), "Face")],
        "primary first"
    );

    for (body, code) in [
        (json!({"position": "first"}), "invalid_field"),
        (json!({"main": true}), "invalid_field"),
    ] {
        let reply = app
            .call(Method::PUT, &link(&front), Some(&token), Some(body))
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(reply.problem_code(), code);
    }
    let malformed = app
        .call(Method::PUT, &link("not-a-uuid"), Some(&token), Some(json!({})))
        .await;
    assert_eq!(malformed.status, StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = app
        .call(
            Method::PUT,
            &link("7c9e6679-7425-40de-944b-e07fc1f90ae7"),
            Some(&token),
            Some(json!({})),
        )
        .await;
    assert_eq!(unknown.problem_code(), "media_asset_not_found");

    let unlinked = app.call(Method::DELETE, &link(&back), Some(&token), None).await;
    assert_eq!(unlinked.status, StatusCode::OK);
    assert_eq!(unlinked.json()["media"].as_array().unwrap().len(), 1);
    let again = app.call(Method::DELETE, &link(&back), Some(&token), None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(again.problem_code(), "product_media_not_found");
}

/// The product summary (lists, search) as the public sees it.
async fn summary(app: &TestApp) -> Value {
    app.call(Method::GET, "/api/v1/search?q=robe", None, None)
        .await
        .json()["items"][0]
        .clone()
}

#[tokio::test]
async fn stock_levels_set_the_stock_status_and_the_in_stock_flag() {
    let app = TestApp::new().await;
    let token = manager(&app).await;
    let id = batik_dress(&app, &token).await;
    let variants = app
        .db
        .connect()
        .await
        .query(
            "select variant_id from shop.product_variant where product_id = $1 order by sku desc",
            &[&id],
        )
        .await
        .unwrap();
    let (m, l): (i64, i64) = (variants[0].get(0), variants[1].get(0));
    let stock = |variant: i64, stock: Value| {
        let app = &app;
        let token = token.clone();
        async move {
            app.call(
                Method::PATCH,
                &format!("/api/v1/admin/variants/{variant}"),
                Some(&token),
                Some(json!({ "stock": stock })),
            )
            .await
        }
    };
    let statuses = || async {
        let page = app
            .call(Method::GET, "/api/v1/products/robe-longue", None, None)
            .await
            .json();
        page["variants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["stock_status"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(summary(&app).await["in_stock"], true);

    let sold_out = stock(m, json!({"qty_on_hand": 0})).await;
    assert_eq!(sold_out.status, StatusCode::OK, "{}", sold_out.text());
    assert_eq!(summary(&app).await["in_stock"], false, "no variant left in stock");
    let listed = app
        .call(Method::GET, "/api/v1/products?in_stock=true", None, None)
        .await
        .json();
    assert_eq!(listed["items"], json!([]));

    stock(l, json!({"qty_on_hand": 3, "low_stock_threshold": 2})).await;
    assert_eq!(summary(&app).await["in_stock"], true);
    assert_eq!(statuses().await, ["out_of_stock", "in_stock"]);
    stock(l, json!({"low_stock_threshold": 5})).await;
    assert_eq!(statuses().await, ["out_of_stock", "low_stock"]);

    // Deactivating the only variant in stock takes the product out of stock too.
    app.call(
        Method::PATCH,
        &format!("/api/v1/admin/variants/{l}"),
        Some(&token),
        Some(json!({"is_active": false})),
    )
    .await;
    assert_eq!(summary(&app).await["in_stock"], false);

    for bad in [
        json!({"qty_on_hand": -1}),
        json!({"qty_on_hand": "many"}),
        json!({"reserved": 1}),
    ] {
        let reply = stock(m, bad.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            reply.text()
        );
    }
}

#[tokio::test]
async fn two_sales_emptying_two_variants_at_once_leave_the_product_out_of_stock() {
    let app = TestApp::new().await;
    let token = manager(&app).await;
    let id = batik_dress(&app, &token).await;
    let (mut first, mut second) = (app.db.connect().await, app.db.connect().await);
    first
        .execute("update shop.inventory set qty_on_hand = 1 where variant_id in (select variant_id from shop.product_variant where sku = 'RL-L')", &[])
        .await
        .unwrap();

    // Each transaction empties one variant; neither sees the other's change before it
    // commits, so without the product lock both would leave in_stock true.
    let t1 = first.transaction().await.unwrap();
    t1.execute("update shop.inventory i set qty_on_hand = 0 from shop.product_variant v where v.variant_id = i.variant_id and v.sku = 'RL-M'", &[])
        .await
        .unwrap();
    let racing = tokio::spawn(async move {
        let t2 = second.transaction().await.unwrap();
        t2.execute("update shop.inventory i set qty_on_hand = 0 from shop.product_variant v where v.variant_id = i.variant_id and v.sku = 'RL-L'", &[])
            .await
            .unwrap();
        t2.commit().await.unwrap();
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    t1.commit().await.unwrap();
    racing.await.unwrap();

    let in_stock: bool = first
        .query_one("select in_stock from shop.product where product_id = $1", &[&id])
        .await
        .unwrap()
        .get(0);
    assert!(!in_stock);
}

#[tokio::test]
async fn a_price_window_is_changed_and_may_not_overlap_another() {
    let app = TestApp::new().await;
    let token = manager(&app).await;
    let id = batik_dress(&app, &token).await;
    let path = |price: i64| format!("/api/v1/admin/prices/{price}");
    let current: i64 = app
        .db
        .connect()
        .await
        .query_one("select price_id from shop.price where product_id = $1", &[&id])
        .await
        .unwrap()
        .get(0);

    // The current price ends when a future one starts, with a compare-at price.
    let changed = app
        .call(
            Method::PATCH,
            &path(current),
            Some(&token),
            Some(json!({"amount": 22000, "compare_at_amount": 25000, "ends_at": "2030-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());
    assert_eq!(changed.json()["prices"][0]["amount"], 22000);
    let page = app
        .call(Method::GET, "/api/v1/products/robe-longue", None, None)
        .await
        .json();
    assert_eq!(page["price_from"][0]["compare_at_amount"], 25000);
    let later = app
        .call(
            Method::POST,
            "/api/v1/admin/prices",
            Some(&token),
            Some(json!({"product_id": id, "currency": "XOF", "amount": 20000, "starts_at": "2030-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(later.status, StatusCode::CREATED, "{}", later.text());
    let future = later.json()["prices"][1]["price_id"].as_i64().unwrap();

    // Reopening the current window's end would overlap the future one.
    let overlap = app
        .call(
            Method::PATCH,
            &path(current),
            Some(&token),
            Some(json!({"ends_at": null})),
        )
        .await;
    assert_eq!(overlap.status, StatusCode::CONFLICT);
    for bad in [
        json!({"amount": -1}),
        json!({"starts_at": "soon"}),
        json!({"currency": "EUR"}),
    ] {
        let reply = app
            .call(Method::PATCH, &path(future), Some(&token), Some(bad.clone()))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            reply.text()
        );
    }
    let missing = app
        .call(
            Method::PATCH,
            &path(future + 100),
            Some(&token),
            Some(json!({"amount": 1})),
        )
        .await;
    assert_eq!(missing.problem_code(), "price_not_found");
    assert_eq!(
        app.call(Method::PATCH, &path(future), None, Some(json!({"amount": 1})))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}
