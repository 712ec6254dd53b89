//! Demo orders: the second part of the demo shop. A new user of `make run` finds orders
//! in every state a shop sees — awaiting payment, paid, confirmed for cash on delivery,
//! fulfilled, delivered, cancelled, expired — each placed the way a shopper places one
//! (a guest cart, `api.checkout` under the anonymous role) and moved through the order
//! state machine by the functions payments, expiry and staff use, so the timeline, the
//! stock ledger and the reservations are those of real orders.
//!
//! Shipping methods and rates come first: standard and express delivery and pickup in
//! the Dakar shop, priced for the demo's West-African and European destinations.

use anyhow::Context;
use serde_json::{json, Value};
use tokio_postgres::{Client, Transaction};

/// E-mail domain of the demo customers: an order with it means the part is loaded.
const DEMO_DOMAIN: &str = "demo.maef.test";

/// Same key as the catalog's: the two parts never load at the same time.
const DEMO_LOCK: i64 = 0x6d61_6566_6465_6d6f;

/// (method, country, currency, amount, free over), minor units.
const RATES: &[(&str, &str, &str, i64, Option<i64>)] = &[
    ("standard", "SN", "XOF", 2_000, Some(50_000)),
    ("standard", "CI", "XOF", 3_000, Some(75_000)),
    ("standard", "BJ", "XOF", 3_000, Some(75_000)),
    ("standard", "TG", "XOF", 3_000, Some(75_000)),
    ("standard", "FR", "EUR", 590, Some(6_000)),
    ("standard", "BE", "EUR", 790, Some(8_000)),
    ("standard", "DE", "EUR", 790, Some(8_000)),
    ("express", "SN", "XOF", 5_000, None),
    ("express", "FR", "EUR", 1_290, None),
    ("pickup-dakar", "SN", "XOF", 0, None),
];

/// What happens to a demo order after checkout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Left awaiting payment (its reservation held three days, so the demo keeps it).
    Awaiting,
    Paid,
    /// Cash on delivery: confirmed, stock held, payment pending.
    Confirmed,
    Fulfilled,
    Delivered,
    Cancelled,
    Expired,
}

/// A demo order: who, where, how shipped, how many units of which demo variant (by
/// position among the variants with stock), and its fate.
struct DemoOrder {
    name: &'static str,
    email: &'static str,
    address: Value,
    currency: &'static str,
    method: &'static str,
    lines: &'static [(usize, i32)],
    fate: Fate,
    hours_ago: i32,
}

fn orders() -> Vec<DemoOrder> {
    let dakar = json!({"line1": "12 rue Carnot", "city": "Dakar", "country": "SN", "phone": "77 123 45 67"});
    let abidjan = json!({"line1": "Rue des Jardins, Cocody", "city": "Abidjan", "country": "CI", "phone": "07 07 12 34 56"});
    let cotonou =
        json!({"line1": "Quartier Haie Vive", "city": "Cotonou", "country": "BJ", "phone": "97 12 34 56"});
    let paris = json!({"line1": "8 rue du Sentier", "city": "Paris", "postal_code": "75002", "country": "FR", "phone": "06 12 34 56 78"});
    let lome =
        json!({"line1": "Boulevard du 13 Janvier", "city": "Lomé", "country": "TG", "phone": "90 12 34 56"});
    vec![
        DemoOrder {
            name: "Awa Diop",
            email: "awa",
            address: dakar.clone(),
            currency: "XOF",
            method: "standard",
            lines: &[(0, 1), (3, 2)],
            fate: Fate::Delivered,
            hours_ago: 240,
        },
        DemoOrder {
            name: "Kouassi Yao",
            email: "kouassi",
            address: abidjan,
            currency: "XOF",
            method: "standard",
            lines: &[(5, 1)],
            fate: Fate::Fulfilled,
            hours_ago: 120,
        },
        DemoOrder {
            name: "Claire Martin",
            email: "claire",
            address: paris.clone(),
            currency: "EUR",
            method: "express",
            lines: &[(7, 1), (8, 1)],
            fate: Fate::Paid,
            hours_ago: 50,
        },
        DemoOrder {
            name: "Mariama Ba",
            email: "mariama",
            address: dakar.clone(),
            currency: "XOF",
            method: "standard",
            lines: &[(10, 3)],
            fate: Fate::Confirmed,
            hours_ago: 30,
        },
        DemoOrder {
            name: "Rodrigue Houngbo",
            email: "rodrigue",
            address: cotonou,
            currency: "XOF",
            method: "standard",
            lines: &[(12, 1)],
            fate: Fate::Cancelled,
            hours_ago: 26,
        },
        DemoOrder {
            name: "Ama Mensah",
            email: "ama",
            address: lome,
            currency: "XOF",
            method: "standard",
            lines: &[(14, 2)],
            fate: Fate::Expired,
            hours_ago: 20,
        },
        DemoOrder {
            name: "Louis Bernard",
            email: "louis",
            address: paris,
            currency: "EUR",
            method: "standard",
            lines: &[(16, 1)],
            fate: Fate::Paid,
            hours_ago: 6,
        },
        DemoOrder {
            name: "Fatou Ndiaye",
            email: "fatou",
            address: dakar.clone(),
            currency: "XOF",
            method: "pickup-dakar",
            lines: &[(18, 1), (1, 1)],
            fate: Fate::Awaiting,
            hours_ago: 2,
        },
        DemoOrder {
            name: "Ibrahima Sarr",
            email: "ibrahima",
            address: dakar,
            currency: "XOF",
            method: "express",
            lines: &[(20, 1)],
            fate: Fate::Awaiting,
            hours_ago: 1,
        },
    ]
}

/// What one [`load`] call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrdersSummary {
    /// Orders placed, by final status (`status:count`), or empty when already loaded.
    pub statuses: Vec<String>,
    /// True when the demo orders were already there: nothing was written.
    pub already_loaded: bool,
}

/// Loads the shipping methods and the demo orders in one transaction; idempotent (an
/// order from the demo domain means it is done). Needs the demo catalog.
///
/// # Errors
/// The database cannot be reached, or a checkout or state change is refused (the
/// catalog is missing, say). Nothing is written then.
pub async fn load(client: &mut Client) -> anyhow::Result<OrdersSummary> {
    let tx = client.transaction().await?;
    tx.execute("select pg_advisory_xact_lock($1)", &[&DEMO_LOCK])
        .await?;
    let loaded: bool = tx
        .query_one(
            "select exists (select from shop.customer_order where email like '%@' || $1)",
            &[&DEMO_DOMAIN],
        )
        .await?
        .get(0);
    if loaded {
        tx.rollback().await?;
        return Ok(OrdersSummary {
            statuses: Vec::new(),
            already_loaded: true,
        });
    }
    shipping(&tx).await?;
    for order in orders() {
        place(&tx, &order)
            .await
            .with_context(|| format!("placing the demo order of {}", order.name))?;
    }
    // A flash-sale item, as a shop sets one up for a product it expects to sell out in
    // minutes: the demo variant with the most free stock gets stock slots
    // (docs/checkout.md#stock-slots); the next checkout of it parks its units there.
    tx.execute(
        "update shop.inventory set reservation_slots = 16 where variant_id = (
             select i.variant_id from shop.inventory i join shop.product_variant v using (variant_id)
             join shop.product p using (product_id)
             where p.sku_root like 'DEMO-%' and v.is_active and p.is_active
             order by i.qty_on_hand - i.qty_reserved desc, v.sku limit 1)",
        &[],
    )
    .await?;
    let statuses = tx
        .query(
            "select status || ':' || count(*) from shop.customer_order where email like '%@' || $1
             group by status order by status",
            &[&DEMO_DOMAIN],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    tx.commit().await.context("committing the demo orders")?;
    Ok(OrdersSummary {
        statuses,
        already_loaded: false,
    })
}

/// The express and pickup methods beside the standard one, and every demo rate.
async fn shipping(tx: &Transaction<'_>) -> anyhow::Result<()> {
    tx.batch_execute(
        "insert into shop.shipping_method (code, name, description, kind, min_days, max_days, position) values
             ('express', 'Express', 'Delivered the next working day', 'delivery', 1, 1, 1),
             ('pickup-dakar', 'Retrait en boutique — Dakar', 'Ready in two hours at the Plateau shop', 'pickup', 0, 0, 2)
         on conflict (code) do nothing",
    )
    .await?;
    for (method, country, currency, amount, free_over) in RATES {
        tx.execute(
            "insert into shop.shipping_rate (shipping_method_id, country, currency_code, amount, free_over)
             select shipping_method_id, $2, $3, $4, $5 from shop.shipping_method where code = $1
             on conflict do nothing",
            &[method, country, currency, amount, free_over],
        )
        .await
        .with_context(|| format!("demo rate {method} {country} {currency}"))?;
    }
    Ok(())
}

/// Places one order as a guest would, then gives it its fate.
async fn place(tx: &Transaction<'_>, order: &DemoOrder) -> anyhow::Result<()> {
    // The demo variants still in stock, in a stable order.
    let variants: Vec<i64> = tx
        .query(
            "select v.variant_id from shop.product_variant v
             join shop.product p using (product_id) join shop.inventory i using (variant_id)
             where p.sku_root like 'DEMO-%' and v.is_active and p.is_active and i.qty_on_hand - i.qty_reserved >= 5
             order by v.sku",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    anyhow::ensure!(variants.len() > 20, "the demo catalog is not loaded");
    tx.batch_execute("set local role maef_anon; select set_config('request.jwt.claims', '{\"role\": \"maef_anon\"}', true)")
        .await?;
    let country = order.address["country"].as_str().unwrap_or("SN");
    let opened: Value = tx
        .query_one(
            "select api.cart_open($1::text::char(3), null, $2::text::char(2))::jsonb",
            &[&order.currency, &country],
        )
        .await?
        .get(0);
    let session = opened["session"].as_str().unwrap_or_default().to_string();
    for (index, quantity) in order.lines {
        tx.query_one(
            "select api.cart_add_item($1, $2, $3)::text",
            &[&variants[*index], quantity, &session],
        )
        .await?;
    }
    tx.query_one(
        "select api.cart_set_shipping_method($1, $2)::text",
        &[&order.method, &session],
    )
    .await?;
    let total: i64 = tx
        .query_one(
            "select (api.cart($1)::jsonb ->> 'grand_total')::bigint",
            &[&session],
        )
        .await?
        .get(0);
    let mut address = order.address.clone();
    address["full_name"] = json!(order.name);
    let request = json!({
        "email": format!("{}@{DEMO_DOMAIN}", order.email),
        "shipping_address": address,
        "shipping_method": order.method,
        "expected_total": total,
    });
    let idem = json!({"scope": "anon", "key": format!("demo-{}", order.email), "method": "POST",
                      "path": "/api/v1/checkout", "hash": "demo"});
    let placed: Value = tx
        .query_one("select api.checkout($1, $2, $3)", &[&request, &session, &idem])
        .await?
        .get(0);
    tx.batch_execute("reset role").await?;
    let id: uuid::Uuid = placed["id"].as_str().unwrap_or_default().parse()?;
    fate(tx, id, order.fate).await?;
    // Spread the orders over the last days, as a shop's list looks.
    tx.execute(
        "with o as (update shop.customer_order set created_at = created_at - make_interval(hours => $2),
                        placed_at = placed_at - make_interval(hours => $2)
                    where order_id = $1 returning order_id)
         update shop.order_event set created_at = created_at - make_interval(hours => $2)
         where order_id in (select order_id from o)",
        &[&id, &order.hours_ago],
    )
    .await?;
    Ok(())
}

/// Moves a placed order to its final state through the functions that do it for real.
async fn fate(tx: &Transaction<'_>, id: uuid::Uuid, fate: Fate) -> anyhow::Result<()> {
    let paid =
        "select api.mark_order_paid($1, '{\"provider\": \"stripe\", \"reference\": \"pi_demo\"}')::text";
    match fate {
        Fate::Awaiting => {
            tx.execute(
                "update shop.customer_order set reservation_expires_at = now() + interval '3 days' where order_id = $1",
                &[&id],
            )
            .await?;
        }
        Fate::Paid => {
            tx.query_one(paid, &[&id]).await?;
        }
        Fate::Confirmed => {
            tx.query_one("select api.confirm_order($1, 'cash on delivery')::text", &[&id])
                .await?;
        }
        Fate::Fulfilled | Fate::Delivered => {
            // Shipments come with the fulfilment issue; until then the demo moves the
            // order as a DBA would, with a note on its timeline.
            tx.query_one(paid, &[&id]).await?;
            tx.batch_execute("select set_config('maef.order_note', 'shipped with the demo courier', true)")
                .await?;
            tx.execute(
                "update shop.customer_order set status = 'fulfilled', fulfillment_status = 'fulfilled' where order_id = $1",
                &[&id],
            )
            .await?;
            if fate == Fate::Delivered {
                tx.batch_execute("select set_config('maef.order_note', 'delivered', true)")
                    .await?;
                tx.execute(
                    "update shop.customer_order set status = 'delivered', fulfillment_status = 'delivered' where order_id = $1",
                    &[&id],
                )
                .await?;
            }
            tx.batch_execute("select set_config('maef.order_note', '', true)")
                .await?;
        }
        Fate::Cancelled => {
            tx.query_one(
                "select (api._cancel_order(o, 'cancelled', 'the customer changed their mind')).order_number
                 from shop.customer_order o where order_id = $1",
                &[&id],
            )
            .await?;
        }
        Fate::Expired => {
            tx.execute(
                "update shop.customer_order set reservation_expires_at = now() - interval '1 minute' where order_id = $1",
                &[&id],
            )
            .await?;
            let expired: Option<String> = tx.query_one("select api.expire_next_order()", &[]).await?.get(0);
            anyhow::ensure!(expired.is_some(), "the demo order did not expire");
        }
    }
    Ok(())
}
