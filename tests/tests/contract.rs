//! The contract check bites: responses that drift from the OpenAPI document are
//! reported (these call the harness directly, so they pass in strict mode too).

use maef_tests::contract::violation;
use serde_json::json;

fn product_page(item: serde_json::Value) -> Vec<u8> {
    json!({"items": [item], "next_cursor": null})
        .to_string()
        .into_bytes()
}

fn summary() -> serde_json::Value {
    json!({"id": 1, "slug": "robe", "title": "Robe", "brand": null, "is_featured": false,
           "category": {"slug": "robes", "name": "Robes"},
           "price_from": [{"currency": "XOF", "amount": 15000, "price_formatted": "15,000 XOF",
                           "compare_at_amount": null, "compare_at_formatted": null}],
           "in_stock": true, "rating": {"average": null, "count": 0}, "image": null})
}

#[test]
fn a_body_of_the_documented_shape_passes() {
    let body = product_page(summary());
    assert_eq!(
        violation("GET", "/api/v1/products", 200, "application/json", &body),
        None
    );
}

#[test]
fn a_field_added_by_sql_without_the_document_is_a_violation() {
    let mut item = summary();
    item["popularity"] = json!(3);
    let found = violation(
        "GET",
        "/api/v1/products",
        200,
        "application/json",
        &product_page(item),
    );
    assert!(
        found.as_deref().is_some_and(|v| v.contains("popularity")),
        "{found:?}"
    );
}

#[test]
fn a_field_dropped_or_retyped_by_sql_is_a_violation() {
    let mut dropped = summary();
    dropped.as_object_mut().unwrap().remove("brand");
    let found = violation(
        "GET",
        "/api/v1/products",
        200,
        "application/json",
        &product_page(dropped),
    );
    assert!(found.as_deref().is_some_and(|v| v.contains("brand")), "{found:?}");

    let mut retyped = summary();
    retyped["id"] = json!("1");
    assert!(violation(
        "GET",
        "/api/v1/products",
        200,
        "application/json",
        &product_page(retyped)
    )
    .is_some());
}

#[test]
fn an_undocumented_status_or_content_type_is_a_violation() {
    let problem = json!({"code": "x", "message": "x", "details": null, "hint": null}).to_string();
    let found = violation(
        "GET",
        "/api/v1/products",
        418,
        "application/problem+json",
        problem.as_bytes(),
    );
    assert!(found.as_deref().is_some_and(|v| v.contains("418")), "{found:?}");

    let found = violation("GET", "/api/v1/products", 200, "text/html", b"<html></html>");
    assert!(
        found.as_deref().is_some_and(|v| v.contains("text/html")),
        "{found:?}"
    );
}

#[test]
fn an_error_body_that_is_not_a_problem_is_a_violation() {
    let found = violation(
        "GET",
        "/api/v1/products/x",
        404,
        "application/problem+json",
        br#"{"error": "gone"}"#,
    );
    assert!(found.is_some(), "{found:?}");
}

#[test]
fn a_path_outside_the_document_may_only_be_a_404() {
    assert!(violation("GET", "/api/v1/nowhere", 200, "application/json", b"{}").is_some());
    let problem = json!({"code": "not_found", "message": "x", "details": null, "hint": null}).to_string();
    assert_eq!(
        violation(
            "GET",
            "/api/v1/nowhere",
            404,
            "application/problem+json",
            problem.as_bytes()
        ),
        None
    );
}
