//! Catalog administration over HTTP: the one-call product creation, field errors naming
//! their JSON path, permissions, audit, price windows, category moves.

use axum::http::{Method, StatusCode};
use maef_tests::http::TestApp;
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery";

async fn manager(app: &TestApp) -> String {
    app.token_with_role("manager@example.com", PASSWORD, Some("manager"))
        .await
}

fn robe() -> Value {
    json!({
        "title": "Robe d'été à fleurs",
        "brand": "Dakar Wax Studio",
        "description": "Robe légère.",
        "variants": [
            {"name": "M", "sku": "ROBE-M", "attributes": {"size": "M"}, "stock": {"qty_on_hand": 4},
             "prices": [{"currency": "EUR", "amount": 3900}]},
            {"name": "L", "sku": "ROBE-L", "attributes": {"size": "L"}, "stock": {"qty_on_hand": 0}}
        ],
        "prices": [{"currency": "XOF", "amount": 25000}, {"currency": "EUR", "amount": 4200, "compare_at_amount": 5000}],
        "tags": ["Été", "wax"]
    })
}

#[tokio::test]
async fn a_manager_creates_a_whole_product_in_one_call_and_it_is_public_at_once() {
    let app = TestApp::new().await;
    let token = manager(&app).await;
    let created = app
        .call(Method::POST, "/api/v1/products", Some(&token), Some(robe()))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let product = created.json();
    assert_eq!(
        product["slug"], "robe-d-ete-a-fleurs",
        "slug from the title, unaccented"
    );
    assert_eq!(product["variants"].as_array().unwrap().len(), 2);
    assert_eq!(product["tags"], json!(["ete", "wax"]));

    let page = app
        .call(Method::GET, "/api/v1/products/robe-d-ete-a-fleurs", None, None)
        .await
        .json();
    assert_eq!(page["variants"][0]["stock_status"], "low_stock");
    assert_eq!(page["variants"][1]["stock_status"], "out_of_stock");
    let m_eur = page["variants"][0]["prices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["currency"] == "EUR")
        .unwrap()
        .clone();
    assert_eq!(
        m_eur["amount"], 3900,
        "the variant price overrides the product price"
    );
    let found = app
        .call(Method::GET, "/api/v1/search?q=fleurs", None, None)
        .await
        .json();
    assert_eq!(found["items"][0]["slug"], "robe-d-ete-a-fleurs");

    // Same title again: a unique slug is made.
    let mut second = robe();
    second["variants"] = json!([{"name": "S", "sku": "ROBE2-S"}]);
    let again = app
        .call(Method::POST, "/api/v1/products", Some(&token), Some(second))
        .await;
    assert_eq!(again.json()["slug"], "robe-d-ete-a-fleurs-2");
    let audited: i64 = app
        .db
        .connect()
        .await
        .query_one(
            "select count(*) from shop.audit_log where action = 'product_created'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audited, 2);
}

#[tokio::test]
async fn a_bad_field_is_a_422_naming_its_path_and_nothing_is_written() {
    let app = TestApp::new().await;
    let token = manager(&app).await;
    let mut bad = robe();
    bad["variants"][1]["prices"] = json!([{"currency": "EUR", "amount": "cheap"}]);
    let reply = app
        .call(Method::POST, "/api/v1/products", Some(&token), Some(bad))
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.problem_code(), "invalid_field");
    assert_eq!(reply.json()["details"], "$.variants[1].prices[0].amount");
    for (body, path) in [
        (json!({"variants": [{"name": "x", "sku": "x"}]}), "$.title"),
        (json!({"title": "x", "variants": []}), "$.variants"),
        (
            json!({"title": "x", "colour": "red", "variants": [{"name": "x", "sku": "x"}]}),
            "$.colour",
        ),
        (
            json!({"title": "x", "category": "nowhere", "variants": [{"name": "x", "sku": "x"}]}),
            "$.category",
        ),
    ] {
        let reply = app
            .call(Method::POST, "/api/v1/products", Some(&token), Some(body))
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(reply.json()["details"], path);
    }
    let count: i64 = app
        .db
        .connect()
        .await
        .query_one("select count(*) from shop.product", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 0, "nothing half-written");
    let duplicate_sku =
        json!({"title": "a", "variants": [{"name": "a", "sku": "DUP"}, {"name": "b", "sku": "DUP"}]});
    let reply = app
        .call(
            Method::POST,
            "/api/v1/products",
            Some(&token),
            Some(duplicate_sku),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.problem_code(), "product_variant_sku_key");
}

#[tokio::test]
async fn only_catalog_writers_may_write() {
    let app = TestApp::new().await;
    let customer = app.sign_up("ada@example.com", PASSWORD).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.call(Method::POST, "/api/v1/products", None, Some(robe()))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let reply = app
        .call(Method::POST, "/api/v1/products", Some(&customer), Some(robe()))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.problem_code(), "permission_required");
}

#[tokio::test]
async fn products_variants_prices_and_categories_are_edited_moved_and_deleted() {
    let app = TestApp::new().await;
    let token = manager(&app).await;
    let product = app
        .call(Method::POST, "/api/v1/products", Some(&token), Some(robe()))
        .await
        .json();
    let id = product["product_id"].as_i64().unwrap();
    let variant = product["variants"][0]["variant_id"].as_i64().unwrap();

    let renamed = app
        .call(
            Method::PATCH,
            &format!("/api/v1/admin/products/{id}"),
            Some(&token),
            Some(json!({"slug": "robe-fleurie", "is_featured": true})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.text());
    let old = app
        .call(Method::GET, "/api/v1/products/robe-d-ete-a-fleurs", None, None)
        .await;
    assert_eq!(old.status, StatusCode::MOVED_PERMANENTLY);

    let stock = app
        .call(
            Method::PATCH,
            &format!("/api/v1/admin/variants/{variant}"),
            Some(&token),
            Some(json!({"stock": {"qty_on_hand": 50}})),
        )
        .await;
    assert_eq!(stock.json()["variants"][0]["stock"]["qty_on_hand"], 50);

    let overlapping = app
        .call(
            Method::POST,
            "/api/v1/admin/prices",
            Some(&token),
            Some(json!({"product_id": id, "currency": "XOF", "amount": 1})),
        )
        .await;
    assert_eq!(overlapping.status, StatusCode::CONFLICT);
    assert_eq!(overlapping.problem_code(), "price_product_window_excl");
    let later = app
        .call(
            Method::POST,
            "/api/v1/admin/prices",
            Some(&token),
            Some(json!({"variant_id": variant, "currency": "XOF", "amount": 20000, "starts_at": "2099-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(later.status, StatusCode::CREATED, "{}", later.text());

    let create = |name: &str, parent: Option<&str>| json!({"name": name, "parent": parent});
    let mode = app
        .call(
            Method::POST,
            "/api/v1/admin/categories",
            Some(&token),
            Some(create("Mode", None)),
        )
        .await
        .json();
    let femme = app
        .call(
            Method::POST,
            "/api/v1/admin/categories",
            Some(&token),
            Some(create("Femme", Some("mode"))),
        )
        .await
        .json();
    assert_eq!(femme["slug"], "femme");
    let cycle = app
        .call(
            Method::PATCH,
            &format!("/api/v1/admin/categories/{}", mode["category_id"]),
            Some(&token),
            Some(json!({"parent": "femme"})),
        )
        .await;
    assert_eq!(cycle.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(cycle.problem_code(), "category_no_cycle");
    let in_use = app
        .call(
            Method::DELETE,
            &format!("/api/v1/admin/categories/{}", mode["category_id"]),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        in_use.status,
        StatusCode::CONFLICT,
        "a category with children stays"
    );

    let gone = app
        .call(
            Method::DELETE,
            &format!("/api/v1/admin/products/{id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::OK);
    assert_eq!(
        app.call(Method::GET, "/api/v1/products/robe-fleurie", None, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let missing = app
        .call(
            Method::DELETE,
            &format!("/api/v1/admin/products/{id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}
