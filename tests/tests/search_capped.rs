//! Search over more matches than it ranks: a broad query ranks a bounded candidate set
//! (sql/search.sql, api._search_matches), says that its total and facet counts are
//! estimates, and still pages through what it returns exactly once. And spelling
//! correction from the lexicon of title and brand words.

use std::collections::BTreeSet;

use axum::http::Method;
use maef_tests::http::TestApp;
use serde_json::Value;

/// `count` generated products titled "Pagne <adjective> <i>", in two brands.
async fn pagnes(app: &TestApp, count: i32) {
    app.db
        .connect()
        .await
        .execute(
            "insert into shop.product (sku_root, title, slug, brand)
             select 'P-' || i, 'Pagne ' || (array['wax', 'bazin', 'kente'])[1 + i % 3] || ' ' || i, 'pagne-' || i,
                    case when i % 2 = 0 then 'Uniwax' else 'Vlisco' end
             from generate_series(1, $1) i",
            &[&count],
        )
        .await
        .unwrap();
}

async fn get(app: &TestApp, path: &str) -> Value {
    let reply = app.call(Method::GET, path, None, None).await;
    assert!(reply.status.is_success(), "{path}: {}", reply.text());
    reply.json()
}

#[tokio::test]
async fn a_few_matches_are_counted_exactly() {
    let app = TestApp::new().await;
    pagnes(&app, 30).await;
    let result = get(&app, "/api/v1/search?q=pagne").await;
    assert_eq!(result["total"], 30);
    assert_eq!(result["total_exact"], true);
    assert_eq!(result["facets_exact"], true);
    assert_eq!(
        result["facets"]["brands"],
        serde_json::json!([{"brand": "Uniwax", "count": 15}, {"brand": "Vlisco", "count": 15}])
    );
}

#[tokio::test]
async fn a_broad_query_estimates_its_total_and_facets_and_pages_through_its_candidates_once() {
    let app = TestApp::new().await;
    pagnes(&app, 600).await;
    let first = get(&app, "/api/v1/search?q=pagne&limit=100").await;
    assert_eq!(first["total_exact"], false);
    assert_eq!(first["facets_exact"], false);
    let total = first["total"].as_i64().unwrap();
    assert!((300..=1200).contains(&total), "an estimate of 600: {total}");
    // Facet counts are scaled to the estimated total.
    let brands: i64 = first["facets"]["brands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_i64().unwrap())
        .sum();
    assert!((brands - total).abs() <= 2, "{brands} vs {total}");

    let mut seen = Vec::new();
    let mut page = first;
    loop {
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["slug"].as_str().unwrap().to_string()),
        );
        let Some(cursor) = page["next_cursor"].as_str() else {
            break;
        };
        let after = cursor.replace('|', "%7C").replace('+', "%2B");
        page = get(&app, &format!("/api/v1/search?q=pagne&limit=100&after={after}")).await;
    }
    let unique: BTreeSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no product twice");
    assert!(
        (100..600).contains(&seen.len()),
        "the ranked candidates, not every match: {}",
        seen.len()
    );
}

#[tokio::test]
async fn a_misspelt_word_is_corrected_from_the_words_of_titles_and_brands() {
    let app = TestApp::new().await;
    pagnes(&app, 3).await;
    let client = app.db.connect().await;
    client
        .execute(
            "insert into shop.product (sku_root, title, slug, brand) values ('N-1', 'Boubou brodé', 'boubou', 'Ndiaga Couture')",
            &[],
        )
        .await
        .unwrap();
    let words: i64 = client
        .query_one(
            "select count(*) from shop.search_word where word in ('boubou', 'brode', 'ndiaga', 'couture')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(words, 4, "the trigger keeps the lexicon");

    for typo in ["ndiaaga", "boubouu%20brod", "vliscco"] {
        let found = get(&app, &format!("/api/v1/search?q={typo}")).await;
        assert!(found["total"].as_i64().unwrap() >= 1, "{typo}: {found}");
    }
    // Web-search syntax is taken literally: no correction.
    let strict = get(&app, "/api/v1/search?q=%22ndiaaga%22").await;
    assert_eq!(strict["total"], 0);
}

#[tokio::test]
async fn new_products_go_straight_into_the_search_indexes_with_no_pending_list() {
    // A GIN pending list (fastupdate) is scanned in full by every search until a vacuum
    // merges it: migrations/V11 turns it off on the product search indexes.
    let app = TestApp::new().await;
    pagnes(&app, 200).await;
    let client = app.db.connect().await;
    for index in [
        "shop.product_search_vector_idx",
        "shop.product_search_title_trgm_idx",
    ] {
        let pending: i64 = client
            .query_one(
                &format!("select gin_clean_pending_list('{index}'::regclass)"),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(pending, 0, "{index} kept a pending list");
    }
    let found = get(&app, "/api/v1/search?q=bazin").await;
    assert!(found["total"].as_i64().unwrap() >= 60, "{found}");
}
