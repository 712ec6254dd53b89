//! Addresses: the per-country rules (required fields, postal codes, regions, phones in
//! E.164) for every supported country, the address book over HTTP with one default per
//! kind, and row-level security keeping each customer to their own addresses through
//! HTTP and SQL alike.

use axum::http::{Method, StatusCode};
use maef_tests::{
    http::TestApp,
    shop::{as_role, signed_in, sql_error, user},
};
use serde_json::{json, Value};

#[tokio::test]
async fn an_address_of_each_supported_country_is_normalised_to_one_spelling() {
    let app = TestApp::new().await;
    let token = signed_in(&app, "ada@example.com", None).await;
    // (country, region, postal code, phone as typed) → (region, postal code, E.164)
    let cases = [
        ("BJ", "", "", "97 12 34 56", "", "", "+22997123456"),
        ("BJ", "", "", "01 97 12 34 56", "", "", "+2290197123456"),
        ("CI", "", "", "07 07 12 34 56", "", "", "+2250707123456"),
        ("SN", "", "12500", "77-123-45-67", "", "12500", "+221771234567"),
        ("TG", "", "", "+228 90 12 34 56", "", "", "+22890123456"),
        (
            "NG",
            "Lagos",
            "100001",
            "0803 123 4567",
            "Lagos",
            "100001",
            "+2348031234567",
        ),
        (
            "GH",
            "Greater Accra",
            "ga-123-4567",
            "024 123 4567",
            "Greater Accra",
            "GA-123-4567",
            "+233241234567",
        ),
        ("FR", "", "75002", "06 12 34 56 78", "", "75002", "+33612345678"),
        (
            "FR",
            "",
            "75002",
            "+33 (0)6 12 34 56 78",
            "",
            "75002",
            "+33612345678",
        ),
        ("BE", "", "1000", "0470 12 34 56", "", "1000", "+32470123456"),
        ("DE", "", "10115", "030 1234567", "", "10115", "+49301234567"),
        (
            "GB",
            "",
            "sw1a1aa",
            "020 7946 0958",
            "",
            "SW1A 1AA",
            "+442079460958",
        ),
        (
            "US",
            "ca",
            "94103",
            "(415) 555-0123",
            "CA",
            "94103",
            "+14155550123",
        ),
        (
            "CA",
            "on",
            "k1a0b1",
            "1-613-555-0199",
            "ON",
            "K1A 0B1",
            "+16135550199",
        ),
        (
            "FR",
            "",
            "75002",
            "00 44 20 7946 0958",
            "",
            "75002",
            "+442079460958",
        ),
    ];
    for (country, region, postal, phone, want_region, want_postal, want_phone) in cases {
        let r = app
            .call(
                Method::POST,
                "/api/v1/users/me/addresses",
                Some(&token),
                Some(json!({"full_name": "  Ada   Lovelace ", "line1": "1 Main St", "city": "City",
                            "region": region, "postal_code": postal, "country": country.to_lowercase(), "phone": phone})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{country} {phone}: {}", r.text());
        let a = r.json();
        assert_eq!(
            (
                a["country"].as_str(),
                a["region"].as_str(),
                a["postal_code"].as_str(),
                a["phone"].as_str()
            ),
            (
                Some(country),
                Some(want_region),
                Some(want_postal),
                Some(want_phone)
            ),
            "{country} {phone}"
        );
        assert_eq!(a["full_name"], "Ada Lovelace");
        let id = a["id"].as_i64().unwrap();
        let gone = app
            .call(
                Method::DELETE,
                &format!("/api/v1/users/me/addresses/{id}"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(gone.status, StatusCode::OK);
    }
    let formats = app.call(Method::GET, "/api/v1/address-formats", None, None).await;
    assert_eq!(formats.status, StatusCode::OK);
    let countries: Vec<String> = formats
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["country"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        countries,
        ["BE", "BJ", "CA", "CI", "DE", "FR", "GB", "GH", "NG", "SN", "TG", "US"]
    );
}

#[tokio::test]
async fn an_address_breaking_its_countrys_rules_is_a_422_naming_the_field() {
    let app = TestApp::new().await;
    let token = signed_in(&app, "ada@example.com", None).await;
    let base = json!({"full_name": "Ada", "line1": "1 rue", "city": "Paris", "postal_code": "75002", "country": "FR"});
    let with = |patch: Value| {
        let mut body = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    let cases = [
        (with(json!({"country": "XX"})), "$.country"),
        (with(json!({"country": null})), "$.country"),
        (with(json!({"postal_code": "7500"})), "$.postal_code"),
        (with(json!({"postal_code": null})), "$.postal_code"),
        (with(json!({"city": " "})), "$.city"),
        (with(json!({"full_name": null})), "$.full_name"),
        (with(json!({"phone": "06 12 34"})), "$.phone"),
        (with(json!({"phone": "call me"})), "$.phone"),
        (with(json!({"line1": "x".repeat(201)})), "$.line1"),
        (
            with(json!({"country": "US", "region": "California", "postal_code": "94103"})),
            "$.region",
        ),
        (with(json!({"country": "US", "postal_code": "94103"})), "$.region"),
        (with(json!({"country": "SN", "postal_code": ""})), "$.phone"),
        (
            with(json!({"country": "NG", "postal_code": "", "phone": "08031234567"})),
            "$.region",
        ),
        (
            with(json!({"country": "GB", "postal_code": "12345"})),
            "$.postal_code",
        ),
    ];
    for (body, field) in cases {
        let r = app
            .call(
                Method::POST,
                "/api/v1/users/me/addresses",
                Some(&token),
                Some(body.clone()),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(r.problem_code(), "invalid_field", "{body}");
        assert_eq!(r.json()["details"], field, "{body}");
    }
    // An unknown key or kind does not fit the body's type at all.
    for body in [with(json!({"floor": 3})), with(json!({"kind": "holiday"}))] {
        let r = app
            .call(
                Method::POST,
                "/api/v1/users/me/addresses",
                Some(&token),
                Some(body.clone()),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(r.problem_code(), "invalid_body", "{body}");
    }
    let listed = app
        .call(Method::GET, "/api/v1/users/me/addresses", Some(&token), None)
        .await;
    assert_eq!(listed.json(), json!([]), "nothing was kept");
}

#[tokio::test]
async fn the_address_book_keeps_one_default_per_kind() {
    let app = TestApp::new().await;
    let token = signed_in(&app, "ada@example.com", None).await;
    let add = |body: Value| {
        let (app, token) = (&app, &token);
        async move {
            let r = app
                .call(
                    Method::POST,
                    "/api/v1/users/me/addresses",
                    Some(token),
                    Some(body),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
            r.json()
        }
    };
    let address = |city: &str, kind: &str| json!({"kind": kind, "full_name": "Ada", "line1": "1 rue", "city": city, "postal_code": "75002", "country": "FR"});
    let home = add(address("Paris", "both")).await;
    assert_eq!(
        (
            home["is_default_shipping"].as_bool(),
            home["is_default_billing"].as_bool()
        ),
        (Some(true), Some(true)),
        "the first is the default"
    );
    let work = add(address("Lyon", "shipping")).await;
    assert_eq!(work["is_default_shipping"], false);
    let billing = add({
        let mut b = address("Nice", "billing");
        b["is_default"] = json!(true);
        b
    })
    .await;
    assert_eq!(
        (
            billing["is_default_billing"].as_bool(),
            billing["is_default_shipping"].as_bool()
        ),
        (Some(true), Some(false))
    );
    let patched = app
        .call(
            Method::PATCH,
            &format!("/api/v1/users/me/addresses/{}", work["id"]),
            Some(&token),
            Some(json!({"is_default": true, "postal_code": "69001"})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text());
    assert_eq!(patched.json()["postal_code"], "69001");
    let book = app
        .call(Method::GET, "/api/v1/users/me/addresses", Some(&token), None)
        .await
        .json();
    let defaults = |flag: &str| {
        book.as_array()
            .unwrap()
            .iter()
            .filter(|a| a[flag] == true)
            .map(|a| a["city"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(defaults("is_default_shipping"), ["Lyon"]);
    assert_eq!(defaults("is_default_billing"), ["Nice"]);
    // Changing a field to break the rules is refused; a new country brings its rules.
    let bad = app
        .call(
            Method::PATCH,
            &format!("/api/v1/users/me/addresses/{}", home["id"]),
            Some(&token),
            Some(json!({"country": "US"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.json()["details"], "$.region");
    // Deleting a default hands it to the newest other address of its kind.
    let gone = app
        .call(
            Method::DELETE,
            &format!("/api/v1/users/me/addresses/{}", billing["id"]),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(gone.json(), json!({"deleted": billing["id"]}));
    let book = app
        .call(Method::GET, "/api/v1/users/me/addresses", Some(&token), None)
        .await
        .json();
    let paris = book
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["city"] == "Paris")
        .unwrap()
        .clone();
    assert_eq!(paris["is_default_billing"], true);
}

#[tokio::test]
async fn a_customer_reaches_only_their_own_addresses_through_http_and_sql() {
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    let token_a = signed_in(&app, "a@example.com", None).await;
    let token_b = signed_in(&app, "b@example.com", None).await;
    let body =
        json!({"full_name": "A", "line1": "1 rue", "city": "Lomé", "country": "TG", "phone": "90123456"});
    let mine = app
        .call(
            Method::POST,
            "/api/v1/users/me/addresses",
            Some(&token_a),
            Some(body.clone()),
        )
        .await
        .json();
    let path = format!("/api/v1/users/me/addresses/{}", mine["id"]);
    for (method, body) in [
        (Method::PATCH, Some(json!({"city": "Kara"}))),
        (Method::DELETE, None),
    ] {
        let r = app.call(method.clone(), &path, Some(&token_b), body).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method}");
        assert_eq!(r.problem_code(), "address_not_found");
    }
    assert_eq!(
        app.call(Method::GET, "/api/v1/users/me/addresses", Some(&token_b), None)
            .await
            .json(),
        json!([])
    );
    assert_eq!(
        app.call(Method::GET, "/api/v1/users/me/addresses", None, None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // SQL: row-level security on the table, ownership in the functions.
    let b = user(&client, "b@example.com", None).await;
    let a = user(&client, "a@example.com", None).await;
    let rows = as_role(
        &client,
        &b.role,
        &b.claims,
        "select count(*) from shop.address",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 0);
    let rows = as_role(
        &client,
        &a.role,
        &a.claims,
        "select count(*) from shop.address",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 1);
    let id = mine["id"].as_i64().unwrap();
    let err = as_role(
        &client,
        &b.role,
        &b.claims,
        "select api.update_address($1, '{\"city\": \"Kara\"}')",
        &[&id],
    )
    .await
    .unwrap_err();
    assert_eq!(sql_error(&err), ("MA404".into(), "address_not_found".into()));
    let staff = user(&client, "m@example.com", Some("manager")).await;
    let rows = as_role(
        &client,
        &staff.role,
        &staff.claims,
        "select count(*) from shop.address",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(
        rows[0].get::<_, i64>(0),
        1,
        "staff who read orders read addresses"
    );
    // The book has a size: shop.setting addresses.max_per_user (ADDRESSES_MAX_PER_USER),
    // here lowered by a DBA.
    client
        .execute(
            "update shop.setting set value = '2' where key = 'addresses.max_per_user'",
            &[],
        )
        .await
        .unwrap();
    let second = app
        .call(
            Method::POST,
            "/api/v1/users/me/addresses",
            Some(&token_a),
            Some(body.clone()),
        )
        .await;
    assert_eq!(second.status, StatusCode::CREATED);
    let third = app
        .call(
            Method::POST,
            "/api/v1/users/me/addresses",
            Some(&token_a),
            Some(body),
        )
        .await;
    assert_eq!(third.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(third.problem_code(), "address_limit_reached");
}
