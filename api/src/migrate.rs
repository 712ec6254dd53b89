//! `maef-api migrate`: applies the data migrations, then reloads the code.
//!
//! Two kinds of objects live in the database (ARCHITECTURE principle 3):
//! - **data** (`migrations/`, schema `shop`): applied once each, forward-only, by refinery;
//! - **code** (extension `maef`, schemas `api` and `report` from `sql/*.sql`): dropped and
//!   re-created at every run, in one transaction, so a deploy never leaves half-old code.
//!
//! Code is **closed by default**: EXECUTE is revoked from PUBLIC (for the functions the
//! migrating role creates from now on, and again for every code function after the
//! load), so a function is callable only by its owner — maef-worker and DBAs — until
//! its own `sql/<domain>.sql` grants it to the request roles that may call it.
//!
//! Store policies (`shop.setting`, migration V12) are then overridden from the
//! environment: each setting row names its variable (`RATE_LIMIT_PER_ACCOUNT`, …), and
//! a variable that is set is written into its row, checked against the row's type and
//! bounds; a bad value stops the migration with the variable's name.
//!
//! Before dropping code, [`reload_code`] checks that no data object (a column default, a
//! constraint, a trigger, a policy, a view outside the code schemas…) depends on it: such
//! a dependency would be dropped silently by CASCADE, so it is refused with its name.

use tokio_postgres::{Client, Transaction};

mod embedded {
    refinery::embed_migrations!("../migrations");
}
include!(concat!(env!("OUT_DIR"), "/sql_files.rs"));

/// Where refinery records applied migrations. Schema-qualified: the unqualified name
/// would follow `search_path`, whose `"$user"` entry resolves to schema `maef` once the
/// extension exists when the database role is called `maef`.
const HISTORY_TABLE: &str = "public.refinery_schema_history";

fn runner() -> refinery::Runner {
    let mut runner = embedded::migrations::runner();
    runner.set_migration_table_name(HISTORY_TABLE);
    runner.set_grouped(false)
}

/// Session advisory lock key serialising concurrent `migrate` runs.
const MIGRATE_LOCK: i64 = 0x6d61_6566_6d69_6772; // "maefmigr"

/// Schemas the code reload owns; everything in them is dropped and re-created.
pub const CODE_SCHEMAS: [&str; 3] = ["api", "report", "maef"];

/// What a migrate run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateReport {
    /// Names of the migrations applied by this run (empty when already current).
    pub applied: Vec<String>,
    /// Number of SQL files loaded.
    pub sql_files: usize,
}

/// Applies the embedded migrations up to `version` only, without reloading the code
/// schemas: for upgrade tests, which build a database as an older release left it (its
/// migrations, plus the code objects that release had) and then run [`run`].
///
/// # Errors
/// A failing migration.
pub async fn apply_up_to(client: &mut Client, version: i32) -> anyhow::Result<()> {
    runner()
        .set_target(refinery::Target::Version(version))
        .run_async(client)
        .await?;
    Ok(())
}

/// Applies pending migrations, then reloads the extension and every `sql/*.sql` file.
/// Idempotent; concurrent runs wait for each other.
///
/// # Errors
/// A failing migration, a missing extension on the server, a data object depending on
/// code, or a SQL file that does not load (the error names the file).
pub async fn run(client: &mut Client) -> anyhow::Result<MigrateReport> {
    run_with_env(client, |name| std::env::var(name).ok()).await
}

/// [`run`] with the environment read through `env` (tests pass a map).
///
/// # Errors
/// Those of [`run`], and a setting variable whose value does not fit its setting.
pub async fn run_with_env(
    client: &mut Client,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<MigrateReport> {
    client
        .execute("select pg_advisory_lock($1)", &[&MIGRATE_LOCK])
        .await?;
    let result = run_locked(client, &env).await;
    // The lock is released with the session anyway; unlocking early lets waiters go.
    let _ = client
        .execute("select pg_advisory_unlock($1)", &[&MIGRATE_LOCK])
        .await;
    result
}

async fn run_locked(
    client: &mut Client,
    env: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<MigrateReport> {
    let report = runner().run_async(client).await?;
    let applied = report
        .applied_migrations()
        .iter()
        .map(|m| m.to_string())
        .collect();
    let tx = client.transaction().await?;
    reload_code(&tx).await?;
    apply_setting_overrides(&tx, env).await?;
    tx.commit().await?;
    Ok(MigrateReport {
        applied,
        sql_files: SQL_FILES.len(),
    })
}

/// Names of embedded migrations not yet applied to the database.
///
/// # Errors
/// The database cannot be queried.
pub async fn pending(client: &mut Client) -> anyhow::Result<Vec<String>> {
    let applied = runner().get_applied_migrations_async(client).await?;
    let applied: std::collections::HashSet<i64> = applied.iter().map(|m| i64::from(m.version())).collect();
    Ok(runner()
        .get_migrations()
        .iter()
        .filter(|m| !applied.contains(&i64::from(m.version())))
        .map(|m| m.to_string())
        .collect())
}

/// Drops and re-creates the code schemas inside `tx`.
async fn reload_code(tx: &Transaction<'_>) -> anyhow::Result<()> {
    refuse_data_depending_on_code(tx).await?;
    tx.batch_execute(
        "drop schema if exists report cascade;
         drop schema if exists api cascade;
         drop extension if exists maef;
         alter default privileges revoke execute on functions from public;",
    )
    .await?;
    tx.batch_execute("create extension maef").await.map_err(|e| {
        anyhow::anyhow!(
            "cannot create extension maef ({}); is it installed on the server? run `make setup` (scripts/setup.sh)",
            e.as_db_error()
                .map_or_else(|| e.to_string(), |d| d.message().to_string())
        )
    })?;
    tx.batch_execute(
        "create schema api; comment on schema api is 'maef SQL API: the functions every caller uses (reloaded at each deploy)';
         create schema report; comment on schema report is 'maef psql reports (reloaded at each deploy)';
         grant usage on schema api to maef_anon, maef_customer, maef_staff, maef_admin;
         grant usage on schema report to maef_staff, maef_admin;",
    )
    .await?;
    for (name, sql) in SQL_FILES {
        tx.batch_execute(sql).await.map_err(|e| {
            let msg = e.as_db_error().map_or_else(
                || e.to_string(),
                |d| format!("{}: {}", d.code().code(), d.message()),
            );
            anyhow::anyhow!("sql/{name} failed to load: {msg}")
        })?;
    }
    // Belt and braces for functions created by another role (a superuser running the
    // migration, say), whose default privileges were not changed above.
    tx.batch_execute("revoke execute on all functions in schema api, report, maef from public")
        .await?;
    Ok(())
}

/// Writes the environment's value of each setting's variable into its row.
async fn apply_setting_overrides(
    tx: &Transaction<'_>,
    env: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    let rows = tx
        .query(
            "select key, env, value_type, min_value, max_value from shop.setting where env is not null order by key",
            &[],
        )
        .await?;
    for row in rows {
        let (key, var, value_type): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        let Some(raw) = env(&var) else { continue };
        let value =
            setting_value(&value_type, raw.trim()).map_err(|problem| anyhow::anyhow!("{var}: {problem}"))?;
        tx.execute(
            "update shop.setting set value = $2 where key = $1 and value is distinct from $2",
            &[&key, &value],
        )
        .await
        .map_err(|e| {
            let (min, max): (Option<i64>, Option<i64>) = (row.get(3), row.get(4));
            match e.as_db_error() {
                Some(db) if db.constraint() == Some("setting_value_within_bounds") => anyhow::anyhow!(
                    "{var}: must be between {} and {}",
                    min.map_or("-".into(), |m| m.to_string()),
                    max.map_or("-".into(), |m| m.to_string())
                ),
                _ => anyhow::anyhow!("{var}: {e}"),
            }
        })?;
    }
    Ok(())
}

/// The JSON value of a setting from its variable's text.
fn setting_value(value_type: &str, raw: &str) -> Result<serde_json::Value, String> {
    match value_type {
        "integer" => raw
            .parse::<i64>()
            .map(serde_json::Value::from)
            .map_err(|_| format!("'{raw}' is not an integer")),
        "boolean" => match raw {
            "true" | "1" => Ok(true.into()),
            "false" | "0" => Ok(false.into()),
            _ => Err(format!("'{raw}' is not true/false")),
        },
        _ => Ok(raw.into()),
    }
}

/// Lists data objects (outside the code schemas) that depend on a code object, and
/// refuses to go on if there is any.
async fn refuse_data_depending_on_code(tx: &Transaction<'_>) -> anyhow::Result<()> {
    let rows = tx.query(DATA_ON_CODE_DEPENDENCIES, &[]).await?;
    if rows.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = rows
        .iter()
        .map(|r| format!("{} -> {}", r.get::<_, String>(0), r.get::<_, String>(1)))
        .collect();
    anyhow::bail!(
        "data objects depend on reloadable code (ARCHITECTURE principle 3); move the helper into a migration: {}",
        list.join("; ")
    )
}

/// Dependencies from an object outside `api`/`report`/`maef` to an object inside them.
/// The dependent's schema is found through its catalog (a default or trigger belongs to
/// its table's schema, a rewrite rule to its view's).
const DATA_ON_CODE_DEPENDENCIES: &str = r#"
with code_ns as (
    select oid from pg_namespace where nspname in ('api', 'report', 'maef')
), code_objects as (
    select 'pg_proc'::regclass as classid, oid as objid from pg_proc where pronamespace in (select oid from code_ns)
    union all select 'pg_type'::regclass, oid from pg_type where typnamespace in (select oid from code_ns)
    union all select 'pg_class'::regclass, oid from pg_class where relnamespace in (select oid from code_ns)
    union all select 'pg_namespace'::regclass, oid from code_ns
), dependent as (
    select d.classid, d.objid, d.objsubid, d.refclassid, d.refobjid, d.refobjsubid,
           case d.classid
               when 'pg_class'::regclass then (select relnamespace from pg_class where oid = d.objid)
               when 'pg_proc'::regclass then (select pronamespace from pg_proc where oid = d.objid)
               when 'pg_type'::regclass then (select typnamespace from pg_type where oid = d.objid)
               when 'pg_constraint'::regclass then (select connamespace from pg_constraint where oid = d.objid)
               when 'pg_attrdef'::regclass then (select c.relnamespace from pg_attrdef a join pg_class c on c.oid = a.adrelid where a.oid = d.objid)
               when 'pg_trigger'::regclass then (select c.relnamespace from pg_trigger t join pg_class c on c.oid = t.tgrelid where t.oid = d.objid)
               when 'pg_policy'::regclass then (select c.relnamespace from pg_policy p join pg_class c on c.oid = p.polrelid where p.oid = d.objid)
               when 'pg_rewrite'::regclass then (select c.relnamespace from pg_rewrite r join pg_class c on c.oid = r.ev_class where r.oid = d.objid)
               when 'pg_namespace'::regclass then d.objid
               when 'pg_extension'::regclass then (select extnamespace from pg_extension where oid = d.objid)
           end as dependent_ns
    from pg_depend d
    join code_objects o on o.classid = d.refclassid and o.objid = d.refobjid
    where d.deptype in ('n', 'a')
)
select pg_describe_object(classid, objid, objsubid), pg_describe_object(refclassid, refobjid, refobjsubid)
from dependent
where dependent_ns is null or dependent_ns not in (select oid from code_ns)
order by 1
"#;
