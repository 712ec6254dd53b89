//! Every SQL function and report of the address, shipping, checkout, inventory and order
//! domains called from SQL as each request role — anonymous, customer, staff, admin —
//! as a psql session setting a role and claims would: who may call what is the grant
//! in each SQL file plus the permission each function checks, the same as over HTTP.

use maef_tests::{
    shop::{anonymous, as_role, seed_variant, sql_error, user},
    TestDb,
};
use serde_json::json;

/// What a call gives a role: done, refused by the grant (42501), or refused by the
/// function itself with this SQLSTATE (the call was allowed).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    Ok,
    NoGrant,
    Refused(&'static str),
}
use Outcome::{NoGrant, Ok as Done, Refused};

#[tokio::test]
async fn each_role_reaches_exactly_the_functions_granted_and_permitted_to_it() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let variant = seed_variant(&client, "MATRIX", 1000, 100, Some(5)).await;
    let customer = user(&client, "c@example.com", None).await;
    let staff = user(&client, "m@example.com", Some("manager")).await;
    let admin = user(&client, "a@example.com", Some("admin")).await;
    // An admin session whose claims lack the permission: refused by the function itself.
    let admin_without_scope = json!({"sub": admin.claims["sub"], "role": "maef_admin", "scope": ""});
    let roles = [
        ("maef_anon", anonymous()),
        ("maef_customer", customer.claims.clone()),
        ("maef_staff", staff.claims.clone()),
        ("maef_admin", admin.claims.clone()),
        ("maef_admin", admin_without_scope),
    ];
    let address =
        r#"'{"full_name": "A", "line1": "1 rue", "city": "Paris", "postal_code": "75002", "country": "FR"}'"#;
    let v = variant;
    // (call, outcome for [anonymous, customer, staff, admin, admin without permission])
    let matrix: Vec<(String, [Outcome; 5])> = vec![
        (
            "select api.address_formats()::text".into(),
            [Done, Done, Done, Done, Done],
        ),
        (
            "select api.my_addresses()::text".into(),
            [NoGrant, Done, Done, Done, Done],
        ),
        (
            format!("select api.create_address({address})::text"),
            [NoGrant, Done, Done, Done, Done],
        ),
        (
            "select api.update_address(0, '{}')::text".into(),
            [
                NoGrant,
                Refused("MA404"),
                Refused("MA404"),
                Refused("MA404"),
                Refused("MA404"),
            ],
        ),
        (
            "select api.delete_address(0)::text".into(),
            [
                NoGrant,
                Refused("MA404"),
                Refused("MA404"),
                Refused("MA404"),
                Refused("MA404"),
            ],
        ),
        (
            "select api.cart_shipping_methods(null)::text".into(),
            [Refused("MA404"); 5],
        ),
        (
            "select api.cart_set_shipping_method('standard', null)::text".into(),
            [Refused("MA404"); 5],
        ),
        (
            "select api.checkout('{}', null, null)::text".into(),
            [Refused("MA400"); 5],
        ),
        (
            "select api.my_orders(10, null)::text".into(),
            [NoGrant, Done, Done, Done, Done],
        ),
        (
            "select api.order_by_number('2026-000001', null)::text".into(),
            [Refused("MA404"); 5],
        ),
        (
            "select api.admin_list_orders('{}')::text".into(),
            [NoGrant, NoGrant, Done, Done, Refused("MA403")],
        ),
        (
            "select api.admin_order('2026-000001')::text".into(),
            [
                NoGrant,
                NoGrant,
                Refused("MA404"),
                Refused("MA404"),
                Refused("MA403"),
            ],
        ),
        (
            "select api.admin_add_order_note('2026-000001', '{\"note\": \"x\"}')::text".into(),
            [
                NoGrant,
                NoGrant,
                Refused("MA404"),
                Refused("MA404"),
                Refused("MA403"),
            ],
        ),
        (
            "select api.admin_cancel_order('2026-000001', '{}')::text".into(),
            [
                NoGrant,
                NoGrant,
                Refused("MA404"),
                Refused("MA404"),
                Refused("MA403"),
            ],
        ),
        (
            format!("select api.admin_variant_stock({v})::text"),
            [NoGrant, NoGrant, Done, Done, Refused("MA403")],
        ),
        (
            format!("select api.admin_adjust_stock({v}, '{{\"kind\": \"receipt\", \"delta\": 1}}')::text"),
            [NoGrant, NoGrant, Done, Done, Refused("MA403")],
        ),
        (
            "select api.admin_list_stock_locations()::text".into(),
            [NoGrant, NoGrant, Done, Done, Refused("MA403")],
        ),
        (
            "select api.admin_create_stock_location('{\"name\": \"x\"}')::text".into(),
            [
                NoGrant,
                NoGrant,
                Refused("MA422"),
                Refused("MA422"),
                Refused("MA403"),
            ],
        ),
        (
            "select api.admin_update_stock_location(0, '{}')::text".into(),
            [
                NoGrant,
                NoGrant,
                Refused("MA404"),
                Refused("MA404"),
                Refused("MA403"),
            ],
        ),
        (
            "select api.admin_list_shipping_methods()::text".into(),
            [NoGrant, NoGrant, Done, Done, Refused("MA403")],
        ),
        (
            "select api.admin_create_shipping_method('{}')::text".into(),
            [
                NoGrant,
                NoGrant,
                Refused("MA422"),
                Refused("MA422"),
                Refused("MA403"),
            ],
        ),
        (
            "select api.admin_update_shipping_method(0, '{}')::text".into(),
            [
                NoGrant,
                NoGrant,
                Refused("MA404"),
                Refused("MA404"),
                Refused("MA403"),
            ],
        ),
        (
            "select api.admin_delete_shipping_method(0)::text".into(),
            [
                NoGrant,
                NoGrant,
                Refused("MA404"),
                Refused("MA404"),
                Refused("MA403"),
            ],
        ),
        (
            "select api.mark_order_paid(gen_random_uuid(), '{}')::text".into(),
            [NoGrant; 5],
        ),
        (
            "select api.confirm_order(gen_random_uuid(), '')::text".into(),
            [NoGrant; 5],
        ),
        ("select api.expire_next_order()::text".into(), [NoGrant; 5]),
        (
            "select count(*)::text from report.low_stock".into(),
            [NoGrant, NoGrant, Done, Done, Done],
        ),
        (
            "select count(*)::text from report.stock_inconsistencies".into(),
            [NoGrant, NoGrant, Done, Done, Done],
        ),
    ];
    let mut problems = Vec::new();
    for (sql, expected) in &matrix {
        for ((role, claims), want) in roles.iter().zip(expected) {
            let got = match as_role(&client, role, claims, sql, &[]).await {
                Ok(_) => "ok".to_string(),
                Err(e) => sql_error(&e).0,
            };
            let wanted = match want {
                Done => "ok",
                NoGrant => "42501",
                Refused(state) => state,
            };
            if got != wanted {
                problems.push(format!(
                    "{role} {}: {sql}: expected {want:?}, got {got:?}",
                    claims["scope"]
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    // The owner (maef-worker, a DBA) runs what no request role may.
    let none: Option<String> = client
        .query_one("select api.expire_next_order()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(none, None);
}
