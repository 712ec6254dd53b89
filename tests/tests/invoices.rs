//! Invoices and credit notes: issued when an order is paid and when a refund succeeds,
//! numbered per year without gaps even with hundreds of payments at once and a payment
//! rolled back in the middle; immutable; rendered as HTML and as a PDF that parses back
//! with its number, lines and totals, in the customer's language.

use axum::http::{Method, StatusCode};
use futures::future::join_all;
use maef_tests::{
    count,
    fulfilment::{
        assert_fulfilment_consistent, fulfilment_problems, get_with_token, paid_order, pay, place,
        post_keyed, shop, variant, Placed,
    },
    shop::sql_error,
};
use serde_json::json;

/// The guest picks cash on delivery (the order is confirmed, its payment pending).
async fn confirm_cash_on_delivery(client: &tokio_postgres::Client, order: &Placed) {
    let offered: Vec<String> = vec![];
    maef_tests::shop::Who::guest()
        .call(
            client,
            "select api.payment_begin($2, $3, $4, $5, $6)::text from (select $1::text) session",
            &[
                &order.number,
                &order.token,
                &json!({"provider": "cash_on_delivery"}),
                &maef_tests::shop::idem(&order.number, "h"),
                &offered,
            ],
        )
        .await
        .unwrap();
}

/// The year the database issues numbers in (UTC).
async fn year(client: &tokio_postgres::Client) -> i32 {
    client
        .query_one("select extract(year from now() at time zone 'UTC')::integer", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn paying_issues_an_invoice_and_a_refund_a_credit_note_rendered_as_html_and_pdf() {
    let shop = shop().await;
    let robe = variant(&shop.client, "ROBE", 15000, 2299, 20).await;
    let unpaid = place(&shop.client, "EUR", "FR", &[(robe, 2)], None).await;
    let none = get_with_token(
        &shop.app,
        &format!("/api/v1/orders/{}/invoice", unpaid.number),
        &unpaid.token,
        "text/html",
    )
    .await;
    assert_eq!(
        (none.status, none.problem_code().as_str()),
        (StatusCode::NOT_FOUND, "invoice_not_found")
    );
    pay(&shop.client, &shop.staff_who, &unpaid).await;
    let order = unpaid;
    let number = format!("F-{}-000001", year(&shop.client).await);

    let html = get_with_token(
        &shop.app,
        &format!("/api/v1/orders/{}/invoice", order.number),
        &order.token,
        "text/html",
    )
    .await;
    assert_eq!(html.status, StatusCode::OK, "{}", html.text());
    let page = html.text();
    assert!(
        page.contains(&format!("Facture {number}")),
        "French by default: {page}"
    );
    assert!(page.contains("45.98 EUR"), "{page}");
    assert!(page.contains("20 %"), "the tax rate per line: {page}");

    let pdf = get_with_token(
        &shop.app,
        &format!("/api/v1/orders/{}/invoice", order.number),
        &order.token,
        "application/pdf",
    )
    .await;
    assert_eq!(pdf.status, StatusCode::OK);
    let doc = lopdf::Document::load_mem(&pdf.body).expect("the PDF parses");
    let text = doc.extract_text(&[1]).expect("its text extracts");
    assert!(text.contains(&number), "{text}");
    assert!(text.contains("Facture"), "{text}");
    assert!(text.contains("45.98 EUR"), "{text}");
    assert!(text.contains("Awa Diop"), "the buyer: {text}");

    // A partial refund issues a credit note naming the invoice.
    let refund = post_keyed(
        &shop.app,
        &format!("/api/v1/admin/orders/{}/refunds", order.number),
        Some(&shop.staff),
        Some("cn-1"),
        json!({"lines": [{"order_item_id": order.lines[0].0, "quantity": 1}], "reason": "late"}),
    )
    .await;
    assert_eq!(refund.status, StatusCode::CREATED, "{}", refund.text());
    let docs = get_with_token(
        &shop.app,
        &format!("/api/v1/orders/{}/documents", order.number),
        &order.token,
        "application/json",
    )
    .await;
    assert_eq!(docs.status, StatusCode::OK, "{}", docs.text());
    let items = docs.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2);
    let credit = format!("AV-{}-000001", year(&shop.client).await);
    assert_eq!(items[1]["number"], credit);
    assert_eq!(items[1]["total"], 2299);
    let note = get_with_token(
        &shop.app,
        &format!("/api/v1/orders/{}/documents/{credit}", order.number),
        &order.token,
        "application/pdf, text/html;q=0.5",
    )
    .await;
    assert_eq!(note.status, StatusCode::OK);
    let text = lopdf::Document::load_mem(&note.body)
        .unwrap()
        .extract_text(&[1])
        .unwrap();
    assert!(
        text.contains("Avoir") && text.contains(&number) && text.contains("22.99 EUR"),
        "{text}"
    );
    // Tax per rate: 22.99 at 20 % included is 19.16 + 3.83.
    let breakdown: serde_json::Value = shop
        .client
        .query_one(
            "select tax_breakdown from shop.invoice where number = $1",
            &[&credit],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(breakdown, json!([{"rate_bp": 2000, "base": 1916, "tax": 383}]));

    // Staff read any order's invoice; another guest reads nothing; the accountant lists.
    let staff = shop
        .app
        .call(
            Method::GET,
            &format!("/api/v1/orders/{}/invoice", order.number),
            Some(&shop.staff),
            None,
        )
        .await;
    assert_eq!(staff.status, StatusCode::OK);
    let stranger = get_with_token(
        &shop.app,
        &format!("/api/v1/orders/{}/invoice", order.number),
        "not-the-token",
        "text/html",
    )
    .await;
    assert_eq!(stranger.status, StatusCode::NOT_FOUND);
    let listed = shop
        .app
        .call(
            Method::GET,
            "/api/v1/admin/invoices?kind=credit_note",
            Some(&shop.staff),
            None,
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text());
    assert_eq!(listed.json()["items"][0]["number"], credit);

    // Immutable, even for the owner in psql.
    let changed = shop
        .client
        .execute("update shop.invoice set total_amount = 0", &[])
        .await
        .unwrap_err();
    assert_eq!(sql_error(&changed), ("MA409".into(), "invoice_immutable".into()));
    let deleted = shop
        .client
        .execute("delete from shop.invoice", &[])
        .await
        .unwrap_err();
    assert_eq!(sql_error(&deleted).1, "invoice_immutable");
    let buyer = shop
        .client
        .execute("update shop.invoice set buyer = '{}'", &[])
        .await
        .unwrap_err();
    assert_eq!(
        sql_error(&buyer).1,
        "invoice_immutable",
        "only an erasure changes the buyer"
    );

    // Erasing the buyer's data (docs/privacy.md) reduces the buyer to a placeholder and
    // the country; numbers, lines and amounts stay as issued.
    let all_but_buyer = "select jsonb_agg(to_jsonb(i) - 'buyer' order by invoice_id) from shop.invoice i";
    let before: serde_json::Value = shop.client.query_one(all_but_buyer, &[]).await.unwrap().get(0);
    shop.client
        .execute(
            "select api._anonymise_orders(array[order_id], array['Awa Diop', '12 rue Carnot', 'guest@example.com'], null)
             from shop.customer_order where order_number = $1",
            &[&order.number],
        )
        .await
        .unwrap();
    let after: serde_json::Value = shop.client.query_one(all_but_buyer, &[]).await.unwrap().get(0);
    assert_eq!(before, after);
    for row in shop
        .client
        .query("select buyer from shop.invoice", &[])
        .await
        .unwrap()
    {
        let buyer: serde_json::Value = row.get(0);
        assert_eq!(buyer["address"], json!({"country": "FR"}), "{buyer}");
        assert!(!buyer.to_string().contains("Awa"), "{buyer}");
    }
    assert_fulfilment_consistent(&shop.client).await;
}

#[tokio::test]
async fn two_hundred_orders_paid_at_once_get_invoice_numbers_one_to_n_at_commit_and_a_rollback_leaves_no_hole(
) {
    let shop = shop().await;
    let robe = variant(&shop.client, "ROBE", 1000, 100, 1000).await;
    let mut orders: Vec<Placed> = Vec::new();
    for _ in 0..200 {
        orders.push(place(&shop.client, "XOF", "SN", &[(robe, 1)], None).await);
    }
    // Every order confirmed for cash on delivery, then 200 staff requests marking them
    // paid at once (each issues its invoice in its payment's transaction).
    for order in &orders {
        confirm_cash_on_delivery(&shop.client, order).await;
    }
    let replies = join_all(orders.iter().map(|order| {
        let path = format!("/api/v1/admin/orders/{}/mark-paid", order.number);
        let (app, staff) = (&shop.app, &shop.staff);
        async move { app.call(Method::POST, &path, Some(staff), Some(json!({}))).await }
    }))
    .await;
    assert!(
        replies.iter().all(|r| r.status == StatusCode::OK),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );

    // The invoice is numbered as its payment commits (V35): while a payment's transaction
    // is open it has no invoice and holds no number, so another payment committing
    // meanwhile (of another variant: a sale locks its variant's stock) is not held
    // behind it and takes the next number.
    let pagne = variant(&shop.client, "PAGNE", 1000, 100, 10).await;
    let rolled = place(&shop.client, "XOF", "SN", &[(robe, 1)], None).await;
    let other = place(&shop.client, "XOF", "SN", &[(pagne, 1)], None).await;
    confirm_cash_on_delivery(&shop.client, &other).await;
    let order_id: uuid::Uuid = shop
        .client
        .query_one(
            "select order_id from shop.customer_order where order_number = $1",
            &[&rolled.number],
        )
        .await
        .unwrap()
        .get(0);
    shop.client.batch_execute("begin").await.unwrap();
    shop.client
        .execute("select api.mark_order_paid($1, '{}')", &[&order_id])
        .await
        .unwrap();
    let own_invoices = format!("select count(*) from shop.invoice where order_id = '{order_id}'");
    assert_eq!(count(&shop.client, &own_invoices).await, 0);
    let meanwhile = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        shop.app.call(
            Method::POST,
            &format!("/api/v1/admin/orders/{}/mark-paid", other.number),
            Some(&shop.staff),
            Some(json!({})),
        ),
    )
    .await
    .expect("a payment committing while another is open is not held behind it");
    assert_eq!(meanwhile.status, StatusCode::OK, "{}", meanwhile.text());
    // A payment that rolls back after its invoice took a number (issued at once here,
    // as a failing commit would): the number comes back.
    shop.client
        .batch_execute("set constraints shop.customer_order_invoice_at_commit immediate")
        .await
        .unwrap();
    assert_eq!(count(&shop.client, &own_invoices).await, 1);
    assert_eq!(
        count(&shop.client, "select max(sequence)::bigint from shop.invoice").await,
        202
    );
    shop.client.batch_execute("rollback").await.unwrap();
    let last = paid_order(&shop, "XOF", "SN", &[(robe, 1)]).await;

    let numbers: Vec<i32> = shop
        .client
        .query(
            "select sequence from shop.invoice where kind = 'invoice' order by sequence",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        numbers,
        (1..=202).collect::<Vec<i32>>(),
        "1..202: no gap, no duplicate"
    );
    let last_number: String = shop.client.query_one(
        "select i.number from shop.invoice i join shop.customer_order o using (order_id) where o.order_number = $1",
        &[&last.number]).await.unwrap().get(0);
    assert_eq!(
        last_number,
        format!("F-{}-000202", year(&shop.client).await),
        "the rolled-back number was reused"
    );
    let report = shop
        .client
        .query_one(
            "select gapless, issued, counter from report.invoice_numbering where kind = 'invoice'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            report.get::<_, bool>(0),
            report.get::<_, i64>(1),
            report.get::<_, i32>(2)
        ),
        (true, 202, 202)
    );
    assert!(fulfilment_problems(&shop.client).await.is_empty());
    assert_fulfilment_consistent(&shop.client).await;
}
