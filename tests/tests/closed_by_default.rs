//! Code is closed by default: who may call each SQL function is declared once, by the
//! GRANT next to it in its `sql/<domain>.sql`, and nothing else (PUBLIC, role
//! membership, a name pattern) opens it. Store policies live in `shop.setting`, which
//! `maef-api migrate` fills from the environment, so psql callers get HTTP's limits.

use maef_tests::TestDb;
use tokio_postgres::Client;

/// The roles requests run as.
const REQUEST_ROLES: [&str; 4] = ["maef_anon", "maef_customer", "maef_staff", "maef_admin"];

/// Every function of the code schemas with, per request role, whether the role may
/// execute it (effective privilege: PUBLIC and inherited grants count) and whether it
/// was granted to that role by name.
const PRIVILEGES: &str = "
    select p.oid::regprocedure::text as signature, r.rolname,
           has_function_privilege(r.oid, p.oid, 'EXECUTE') as effective,
           exists (select from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                   where a.grantee = r.oid and a.privilege_type = 'EXECUTE') as declared,
           exists (select from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                   where a.grantee = 0 and a.privilege_type = 'EXECUTE') as public
    from pg_proc p
    cross join pg_roles r
    where p.pronamespace in ('api'::regnamespace, 'report'::regnamespace, 'maef'::regnamespace)
      and r.rolname = any ($1)
    order by 1, 2";

async fn privileges(client: &Client) -> Vec<(String, String, bool, bool, bool)> {
    let roles: Vec<String> = REQUEST_ROLES.iter().map(|r| r.to_string()).collect();
    client
        .query(PRIVILEGES, &[&roles])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect()
}

#[tokio::test]
async fn every_function_is_executable_only_by_the_roles_its_file_grants_it_to() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let rows = privileges(&client).await;
    assert!(
        rows.len() > 400,
        "expected every code function, got {} rows",
        rows.len()
    );
    let open: Vec<String> = rows
        .iter()
        .filter(|(_, _, effective, declared, _)| *effective && !*declared)
        .map(|(f, role, ..)| format!("{f} executable by {role} without a grant to it"))
        .collect();
    assert!(open.is_empty(), "{open:#?}");
    let public: Vec<&String> = rows.iter().filter(|r| r.4).map(|r| &r.0).collect();
    assert!(public.is_empty(), "granted to PUBLIC: {public:?}");
    // Private helpers run only inside SECURITY DEFINER functions: no role calls them.
    let private: Vec<String> = rows
        .iter()
        .filter(|(f, _, effective, ..)| *effective && f.starts_with("api._"))
        .map(|(f, role, ..)| format!("{f} -> {role}"))
        .collect();
    assert!(private.is_empty(), "private helpers granted: {private:?}");
    // The extension's functions are reached through the API, never directly.
    let extension: Vec<String> = rows
        .iter()
        .filter(|(f, _, effective, ..)| *effective && f.starts_with("maef."))
        .map(|(f, role, ..)| format!("{f} -> {role}"))
        .collect();
    assert!(extension.is_empty(), "extension functions granted: {extension:?}");
}

/// For each SECURITY DEFINER API function granted to a request role: its name, the
/// roles it is granted to, and its body.
const DEFINERS: &str = "
    select p.proname::text, array_agg(r.rolname::text order by r.rolname), p.prosrc
    from pg_proc p
    join pg_roles r on has_function_privilege(r.oid, p.oid, 'EXECUTE') and r.rolname = any ($1)
    where p.pronamespace = 'api'::regnamespace and p.prosecdef and p.proname !~ '^_'
    group by p.oid, p.proname, p.prosrc";

/// The database role each application role's requests run as (`api._user_claims`).
const DB_ROLE_OF: [(&str, &str); 3] = [
    ("admin", "maef_admin"),
    ("manager", "maef_staff"),
    ("customer", "maef_customer"),
];

#[tokio::test]
async fn functions_closed_to_anonymous_callers_check_the_caller_and_their_grants_match_the_permission() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let roles: Vec<String> = REQUEST_ROLES.iter().map(|r| r.to_string()).collect();
    let definers = client.query(DEFINERS, &[&roles]).await.unwrap();
    assert!(
        definers.len() > 50,
        "{} granted definer functions",
        definers.len()
    );
    let scope_call = regex_lite_scope;
    let mut problems = Vec::new();
    for row in &definers {
        let (name, granted, body): (String, Vec<String>, String) = (row.get(0), row.get(1), row.get(2));
        let public = granted.iter().any(|r| r == "maef_anon");
        let checks_user = body.contains("api._require_user(") || body.contains("api._require_scope(");
        // Granting to maef_anon is the declaration "public on purpose"; every other
        // function must check who calls it, since a psql session may set any role.
        if !public && !checks_user {
            problems.push(format!(
                "{name}: not public, yet calls neither api._require_user nor api._require_scope"
            ));
        }
        // A function requiring permission P is granted only to the database roles of
        // application roles holding P.
        for scope in scope_call(&body) {
            let allowed: Vec<String> = client
                .query(
                    "select r.name from shop.role r join shop.role_permission rp using (role_id)
                     join shop.permission p using (permission_id) where p.name = $1",
                    &[&scope],
                )
                .await
                .unwrap()
                .iter()
                .filter_map(|r| {
                    let app_role: String = r.get(0);
                    DB_ROLE_OF
                        .iter()
                        .find(|(a, _)| *a == app_role)
                        .map(|(_, d)| d.to_string())
                })
                .collect();
            for role in &granted {
                if !allowed.contains(role) {
                    problems.push(format!(
                        "{name}: requires {scope} but is granted to {role}, whose users never hold it"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// The permissions named in `api._require_scope('…')` calls of a function body.
fn regex_lite_scope(body: &str) -> Vec<String> {
    body.match_indices("api._require_scope('")
        .filter_map(|(i, m)| {
            let rest = &body[i + m.len()..];
            rest.find('\'').map(|end| rest[..end].to_string())
        })
        .collect()
}

#[tokio::test]
async fn every_permission_a_route_can_require_is_a_permission_row() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let rows: Vec<String> = client
        .query("select name from shop.permission", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for scope in maef_api::caller::PERMISSIONS {
        assert!(
            rows.iter().any(|r| r == scope),
            "marker for {scope} has no shop.permission row"
        );
    }
}

#[tokio::test]
async fn a_new_api_function_added_without_a_grant_is_callable_by_no_request_role() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    // What a new sql/<domain>.sql would do if it forgot its GRANT.
    client
        .batch_execute(
            "create function api.mark_order_paid(p_order uuid) returns text
             language sql security definer set search_path = '' as $$ select 'paid' $$",
        )
        .await
        .unwrap();
    for role in REQUEST_ROLES {
        let err = client
            .batch_execute(&format!(
                "begin; set local role {role}; select api.mark_order_paid(gen_random_uuid()); commit;"
            ))
            .await
            .expect_err(role);
        client.batch_execute("rollback").await.unwrap();
        assert_eq!(
            err.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{role}: {err}"
        );
    }
    // Its owner (the worker, a DBA) still may.
    let owner: String = client
        .query_one("select api.mark_order_paid(gen_random_uuid())", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(owner, "paid");
}

#[tokio::test]
async fn migrate_writes_setting_variables_and_psql_callers_get_the_same_limits() {
    let db = TestDb::new().await;
    let mut client = db.connect().await;
    let env = |name: &str| match name {
        "RATE_LIMIT_PER_CLIENT" => Some("2".to_string()),
        "JWT_EXPIRES" => Some(" 900 ".to_string()),
        _ => None,
    };
    maef_api::migrate::run_with_env(&mut client, env).await.unwrap();
    assert_eq!(setting(&client, "auth.rate_limit_per_client").await, "2");
    assert_eq!(setting(&client, "auth.access_token_ttl_secs").await, "900");
    assert_eq!(
        setting(&client, "auth.rate_limit_per_account").await,
        "10",
        "unset variables change nothing"
    );
    // A DBA signing in from psql as an anonymous caller meets the same per-client limit.
    let attempt =
        "begin; set local role maef_anon; select api.login_lookup('x@example.com', 'psql'); commit;";
    client.batch_execute(attempt).await.unwrap();
    client.batch_execute(attempt).await.unwrap();
    let err = client.batch_execute(attempt).await.unwrap_err();
    client.batch_execute("rollback").await.unwrap();
    assert_eq!(err.as_db_error().unwrap().code().code(), "MA429", "{err}");

    for (value, expected) in [
        ("ten", "RATE_LIMIT_PER_ACCOUNT: 'ten' is not an integer"),
        ("0", "RATE_LIMIT_PER_ACCOUNT: must be between 1 and 100000"),
    ] {
        let err = maef_api::migrate::run_with_env(&mut client, |name| {
            (name == "RATE_LIMIT_PER_ACCOUNT").then(|| value.to_string())
        })
        .await
        .unwrap_err()
        .to_string();
        assert_eq!(err, expected);
    }
    assert_eq!(
        setting(&client, "auth.rate_limit_per_account").await,
        "10",
        "a refused value is not written"
    );
}

async fn setting(client: &Client, key: &str) -> String {
    client
        .query_one("select value::text from shop.setting where key = $1", &[&key])
        .await
        .unwrap()
        .get(0)
}
