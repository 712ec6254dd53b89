//! The demo shop `make run` loads: into a migrated database, once.

use maef_tests::{count, TestDb};

#[tokio::test]
async fn the_demo_shop_loads_once_and_its_products_are_for_sale() {
    let db = TestDb::new().await;
    let mut client = db.connect().await;
    let first = maef_demo::load(&mut client).await.unwrap();
    assert!(first[0].starts_with("catalog: "), "{first:?}");
    assert!(!first[0].contains("already"), "{first:?}");
    assert!(first[2].starts_with("stories: 6 stories, 3 linked"), "{first:?}");
    // The carousel has something to show: stories with media, some showing products.
    let carousel: serde_json::Value = client
        .query_one("select api.list_stories(null, 50, null)", &[])
        .await
        .unwrap()
        .get(0);
    let items = carousel["items"].as_array().unwrap();
    assert_eq!(items.len(), 6);
    assert_eq!(
        items
            .iter()
            .filter(|s| !s["products"].as_array().unwrap().is_empty())
            .count(),
        3
    );
    assert_eq!(
        items[0]["caption_facts"],
        serde_json::Value::Null,
        "the public form"
    );
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.story where caption_price_currency = 'XOF'"
        )
        .await,
        4
    );
    let products = count(&client, "select count(*) from shop.product where is_active").await;
    assert!(products >= 50, "{products} active products");
    // Every demo product is priced, stocked and has its image, as a shopper expects.
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.product p where not exists (select from shop.price x where x.product_id = p.product_id)
               and not exists (select from shop.price x join shop.product_variant v using (variant_id) where v.product_id = p.product_id)"
        )
        .await,
        0
    );
    assert_eq!(
        count(&client, "select count(*) from shop.product p where not exists (select from shop.product_media m where m.product_id = p.product_id and m.is_primary)").await,
        0
    );
    // Orders in every state, placed through checkout, their stock consistent.
    assert!(first[1].starts_with("orders: "), "{first:?}");
    let states = count(&client, "select count(distinct status) from shop.customer_order").await;
    assert_eq!(states, 7, "{first:?}");
    maef_tests::shop::assert_consistent(&client).await;
    // A flash-sale item in stock slots, as the README shows.
    assert_eq!(
        count(
            &client,
            "select count(*) from shop.inventory where reservation_slots = 16"
        )
        .await,
        1
    );
    let again = maef_demo::load(&mut client).await.unwrap();
    assert_eq!(
        again,
        vec![
            "catalog: already loaded".to_string(),
            "orders: already loaded".to_string(),
            "stories: already loaded".to_string()
        ]
    );
    assert_eq!(
        count(&client, "select count(*) from shop.product where is_active").await,
        products
    );
}
