//! Reviews under real concurrency, over HTTP: hundreds of customers voting one review
//! helpful at once (each twice), and hundreds of submissions, edits, deletions, votes and
//! moderation decisions racing over a few products. After each, the consistency query
//! recomputes every aggregate from the rows (count, sum and histogram of approved
//! reviews per product; helpful votes per review) and compares.

use axum::http::{Method, StatusCode};
use futures::future::join_all;
use maef_api::auth::tokens::{TokenKeys, UserClaims};
use maef_tests::{
    http::{test_config, Reply, TestApp},
    shop::{seed_variant, signed_in},
};
use serde_json::{json, Value};
use tokio_postgres::Client;

/// Hundreds of requests queueing for 16 connections may wait seconds for their turn.
const CROWD: &[(&str, &str)] = &[
    ("DB_POOL_SIZE", "16"),
    ("DB_POOL_TIMEOUT_MS", "120000"),
    ("DB_STATEMENT_TIMEOUT_MS", "120000"),
    ("REQUEST_TIMEOUT_MS", "120000"),
];

/// Every aggregate that disagrees with the rows it counts; empty when consistent.
async fn aggregate_problems(client: &Client) -> Vec<String> {
    client
        .query(
            "with rows as (
                 select product_id, count(*) as n, sum(rating) as s,
                        count(*) filter (where rating = 1) as r1, count(*) filter (where rating = 2) as r2,
                        count(*) filter (where rating = 3) as r3, count(*) filter (where rating = 4) as r4,
                        count(*) filter (where rating = 5) as r5
                 from shop.review where status = 'approved' group by product_id)
             select format('product %s: stored %s/%s [%s %s %s %s %s], rows %s/%s [%s %s %s %s %s]', p.product_id,
                           a.review_count, a.rating_sum, a.rating_1, a.rating_2, a.rating_3, a.rating_4, a.rating_5,
                           x.n, x.s, x.r1, x.r2, x.r3, x.r4, x.r5)
             from shop.product p
             left join shop.product_rating a using (product_id)
             left join rows x using (product_id)
             where (coalesce(a.review_count, 0), coalesce(a.rating_sum, 0), coalesce(a.rating_1, 0), coalesce(a.rating_2, 0),
                    coalesce(a.rating_3, 0), coalesce(a.rating_4, 0), coalesce(a.rating_5, 0))
                   is distinct from
                   (coalesce(x.n, 0), coalesce(x.s, 0), coalesce(x.r1, 0), coalesce(x.r2, 0), coalesce(x.r3, 0),
                    coalesce(x.r4, 0), coalesce(x.r5, 0))
             union all
             select format('review %s: helpful_count %s, votes %s', r.review_id, r.helpful_count,
                           (select count(*) from shop.review_vote v where v.review_id = r.review_id))
             from shop.review r
             where r.helpful_count <> (select count(*) from shop.review_vote v where v.review_id = r.review_id)
             union all
             select format('review %s: has_media %s', r.review_id, r.has_media)
             from shop.review r
             where r.has_media <> exists (select from shop.review_media m where m.review_id = r.review_id)",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// `n` customers `c1@crowd.example`…, created in SQL, with access tokens signed like the
/// API's (registering hundreds through argon2 would test the password hash, not this).
async fn crowd(app: &TestApp, client: &Client, n: i32) -> Vec<String> {
    client
        .execute(
            "with u as (insert into shop.app_user (email) select 'c' || i || '@crowd.example' from generate_series(1, $1) i
                        returning user_id)
             insert into shop.user_role (user_id, role_id) select u.user_id, r.role_id from u, shop.role r where r.name = 'customer'",
            &[&n],
        )
        .await
        .unwrap();
    let keys = TokenKeys::from_config(&test_config(&app.db.url, CROWD)).unwrap();
    client
        .query(
            "select api._user_claims(user_id) from shop.app_user where email like 'c%@crowd.example'
             order by substr(email, 2, strpos(email, '@') - 2)::integer",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| {
            let claims: UserClaims = serde_json::from_value(row.get::<_, Value>(0)).unwrap();
            keys.issue(&claims).unwrap().0
        })
        .collect()
}

async fn call(app: &TestApp, method: Method, path: String, token: &str, body: Option<Value>) -> Reply {
    app.call(method, &path, Some(token), body).await
}

#[tokio::test]
async fn three_hundred_customers_voting_one_review_twice_at_once_count_once_each() {
    let app = TestApp::with(CROWD).await;
    let client = app.db.connect().await;
    seed_variant(&client, "ROBE-1", 15000, 2299, Some(10)).await;
    let tokens = crowd(&app, &client, 300).await;
    let author = signed_in(&app, "author@example.com", None).await;
    let review = app
        .call(
            Method::POST,
            "/api/v1/products/robe-1/reviews",
            Some(&author),
            Some(json!({"rating": 5, "body": "Une robe magnifique."})),
        )
        .await
        .json();
    let id = review["id"].as_i64().unwrap();
    client
        .execute(
            "update shop.review set status = 'approved' where review_id = $1",
            &[&id],
        )
        .await
        .unwrap();

    let path = format!("/api/v1/reviews/{id}/helpful");
    let votes = tokens
        .iter()
        .chain(tokens.iter())
        .map(|t| call(&app, Method::POST, path.clone(), t, None))
        .chain(std::iter::once(call(
            &app,
            Method::POST,
            path.clone(),
            &author,
            None,
        )));
    let replies = join_all(votes).await;
    let status = |code: StatusCode| replies.iter().filter(|r| r.status == code).count();
    assert_eq!(status(StatusCode::CREATED), 300, "one vote each");
    assert_eq!(
        status(StatusCode::CONFLICT),
        300,
        "the second of each pair is refused"
    );
    assert_eq!(status(StatusCode::FORBIDDEN), 1, "the author's own vote");
    assert!(replies
        .iter()
        .filter(|r| r.status == StatusCode::CONFLICT)
        .all(|r| r.problem_code() == "review_vote_exists"));
    let counted: i32 = client
        .query_one(
            "select helpful_count from shop.review where review_id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(counted, 300);
    let problems = aggregate_problems(&client).await;
    assert!(problems.is_empty(), "{problems:#?}");

    // Half take their vote back while the other half vote again (refused): 150 remain.
    let mixed = tokens.iter().enumerate().map(|(i, t)| {
        let method = if i % 2 == 0 { Method::DELETE } else { Method::POST };
        call(&app, method, path.clone(), t, None)
    });
    let replies = join_all(mixed).await;
    assert_eq!(replies.iter().filter(|r| r.status == StatusCode::OK).count(), 150);
    assert_eq!(
        replies
            .iter()
            .filter(|r| r.status == StatusCode::CONFLICT)
            .count(),
        150
    );
    let problems = aggregate_problems(&client).await;
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(
        maef_tests::count(&client, "select helpful_count::bigint from shop.review").await,
        150
    );
}

#[tokio::test]
async fn aggregates_stay_exact_under_hundreds_of_racing_submissions_edits_deletions_and_moderation() {
    let app = TestApp::with(CROWD).await;
    let client = app.db.connect().await;
    for sku in ["ROBE-1", "ROBE-2", "ROBE-3"] {
        seed_variant(&client, sku, 15000, 2299, Some(10)).await;
    }
    let tokens = crowd(&app, &client, 240).await;
    let manager = signed_in(&app, "manager@example.com", Some("manager")).await;
    let product = |i: usize| format!("/api/v1/products/robe-{}/reviews", 1 + i % 3);
    let rating = |i: usize, round: usize| ((i * 7 + round * 3) % 5 + 1) as i64;

    // Round 1: every customer reviews one product at once; a third of them twice at once
    // (the second submission must edit the first, never make a second row).
    let submissions = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| {
            call(
                &app,
                Method::POST,
                product(i),
                t,
                Some(json!({"rating": rating(i, 0), "body": "Premier avis, assez long."})),
            )
        })
        .chain(
            tokens
                .iter()
                .enumerate()
                .filter(|(i, _)| i % 3 == 0)
                .map(|(i, t)| {
                    call(
                        &app,
                        Method::POST,
                        product(i),
                        t,
                        Some(json!({"rating": rating(i, 1), "body": "Avis corrigé, assez long."})),
                    )
                }),
        );
    let replies = join_all(submissions).await;
    assert!(
        replies.iter().all(|r| r.status.is_success()),
        "{:?}",
        replies.iter().find(|r| !r.status.is_success()).map(Reply::text)
    );
    assert_eq!(
        maef_tests::count(&client, "select count(*) from shop.review").await,
        240
    );
    let ids: Vec<i64> = client
        .query("select review_id from shop.review order by review_id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();

    // Each customer's review, in customer order.
    let review_of: Vec<i64> = client
        .query(
            "select r.review_id from shop.review r join shop.app_user u using (user_id)
             order by substr(u.email, 2, strpos(u.email, '@') - 2)::integer",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(review_of.len(), tokens.len());

    // Round 2, all at once: the manager approves every review (and rejects every fifth),
    // authors edit a quarter of them (back to pending), delete a tenth, and everyone
    // votes on the review of the customer next to them.
    let mut work = Vec::new();
    // Where each vote sits in `work`, and the review it is for.
    let mut vote_at: Vec<(usize, i64)> = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let decision = if n % 5 == 0 {
            json!({"status": "rejected", "reason": "Hors sujet"})
        } else {
            json!({"status": "approved"})
        };
        work.push(call(
            &app,
            Method::POST,
            format!("/api/v1/admin/reviews/{id}/moderation"),
            &manager,
            Some(decision),
        ));
    }
    for (i, t) in tokens.iter().enumerate() {
        if i % 4 == 1 {
            work.push(call(
                &app,
                Method::POST,
                product(i),
                t,
                Some(json!({"rating": rating(i, 2), "body": "Edité pendant la modération."})),
            ));
        }
        if i % 10 == 6 {
            let own: i64 = client
                .query_one(
                    "select r.review_id from shop.review r join shop.app_user u using (user_id) where u.email = $1",
                    &[&format!("c{}@crowd.example", i + 1)],
                )
                .await
                .unwrap()
                .get(0);
            work.push(call(
                &app,
                Method::DELETE,
                format!("/api/v1/reviews/{own}"),
                t,
                None,
            ));
        }
        let target = review_of[(i + 1) % review_of.len()];
        vote_at.push((work.len(), target));
        work.push(call(
            &app,
            Method::POST,
            format!("/api/v1/reviews/{target}/helpful"),
            t,
            None,
        ));
    }
    let replies = join_all(work).await;
    // Votes on a review not (yet, or no longer) approved are 404; an own vote cannot
    // happen here; nothing is a server error.
    assert!(
        replies
            .iter()
            .all(|r| r.status.is_success() || r.status == StatusCode::NOT_FOUND),
        "{:?}",
        replies
            .iter()
            .filter(|r| !r.status.is_success() && r.status != StatusCode::NOT_FOUND)
            .map(Reply::text)
            .collect::<Vec<_>>()
    );
    let problems = aggregate_problems(&client).await;
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(
        maef_tests::count(&client, "select count(*) from shop.review").await,
        240 - 24
    );
    assert!(
        maef_tests::count(
            &client,
            "select count(*) from shop.review where status = 'approved'"
        )
        .await
            > 0
    );
    // Every vote answered 2xx is a row, unless its review was deleted since (its votes go
    // with it); no vote refused is. How many land depends on the race (a vote before its
    // review's approval is a 404), so the count is checked exactly, not as "some".
    let surviving: std::collections::HashSet<i64> = client
        .query("select review_id from shop.review", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let votes_kept = vote_at
        .iter()
        .filter(|(at, review)| replies[*at].status.is_success() && surviving.contains(review))
        .count() as i64;
    assert_eq!(
        maef_tests::count(&client, "select count(*) from shop.review_vote").await,
        votes_kept
    );

    // The public summary is the aggregate: the same numbers as the rows.
    for slug in ["robe-1", "robe-2", "robe-3"] {
        let page = app
            .call(
                Method::GET,
                &format!("/api/v1/products/{slug}/reviews"),
                None,
                None,
            )
            .await
            .json();
        let approved = maef_tests::count(
            &client,
            &format!("select count(*) from shop.review r join shop.product p using (product_id) where p.slug = '{slug}' and r.status = 'approved'"),
        )
        .await;
        assert_eq!(page["rating"]["count"], approved, "{slug}");
    }
}
