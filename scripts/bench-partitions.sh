#!/usr/bin/env bash
# `make bench-partitions`: the prune cost of one month of audit rows before and after
# monthly partitioning (migrations/V33, issue #22), in the same run:
#   * before (the baseline): the month deleted as api.apply_retention did it before
#     V33 — batches of 5,000 rows, each its own transaction — then the VACUUM that
#     reclaims them (a DELETE only marks rows dead);
#   * after: the same month, in its own partition, dropped (api._drop_expired_partitions).
# Both tables have shop.audit_log's columns and indexes, and hold BENCH_ROWS rows
# (default 1,000,000) in the month pruned plus as many in the month kept. Printed for
# each: elapsed time, WAL written, and how many rows the table still has.
# It needs only psql and a role that may create databases (MAEF_TEST_ADMIN_URL, from
# .run/env): a scratch database is created and dropped.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${BENCH_ROWS:-1000000}"
# shellcheck source=/dev/null
[ -n "${MAEF_TEST_ADMIN_URL:-}" ] || source .run/env
DB="maef_bench_partitions_$$"
BASE="${MAEF_TEST_ADMIN_URL%/*}"
trap 'psql -w -q "$MAEF_TEST_ADMIN_URL" -c "drop database if exists $DB" >/dev/null 2>&1 || true' EXIT
psql -w -q "$MAEF_TEST_ADMIN_URL" -c "create database $DB" >/dev/null

psql -w -q -X "$BASE/$DB" -v ON_ERROR_STOP=1 -v rows="$ROWS" <<'SQL'
\pset footer off
-- shop.audit_log's shape (V1), unpartitioned, and partitioned by month (V33).
create table before_log (
    audit_log_id bigint generated always as identity primary key,
    at timestamptz not null default now(), actor_id uuid, action text not null,
    entity text not null, entity_id text, data jsonb not null default '{}', request_id text);
create index on before_log (entity, entity_id, at desc);
create index on before_log (actor_id, at desc);
create table after_log (
    audit_log_id bigint generated always as identity,
    at timestamptz not null default now(), actor_id uuid, action text not null,
    entity text not null, entity_id text, data jsonb not null default '{}', request_id text,
    primary key (audit_log_id, at)) partition by range (at);
create index on after_log (entity, entity_id, at desc);
create index on after_log (actor_id, at desc);
create table after_log_old partition of after_log for values from ('2026-01-01') to ('2026-02-01');
create table after_log_kept partition of after_log for values from ('2026-02-01') to ('2026-03-01');

-- One month pruned, one month kept: rows like the catalog's audit (an admin, an
-- entity, a small JSON diff).
insert into before_log (at, actor_id, action, entity, entity_id, data, request_id)
select timestamptz '2026-01-01' + (i * interval '1 month' / :rows) + m * interval '1 month',
       md5((i % 50)::text)::uuid, 'product_updated', 'product', (i % 20000)::text,
       jsonb_build_object('title', 'Robe wax ' || i, 'price', i % 50000, 'by', 'manager'), md5(i::text)
from generate_series(0, :rows - 1) i, generate_series(0, 1) m;
insert into after_log (at, actor_id, action, entity, entity_id, data, request_id)
select at, actor_id, action, entity, entity_id, data, request_id from before_log;
vacuum analyze before_log;
vacuum analyze after_log;
-- (a CHECKPOINT here would need pg_checkpoint: the figures include no checkpoint either way)

create procedure prune_before() language plpgsql as $$
declare
    v_count integer;
begin
    loop
        delete from before_log l where l.audit_log_id in (
            select x.audit_log_id from before_log x where x.at < '2026-02-01' order by x.audit_log_id limit 5000);
        get diagnostics v_count = row_count;
        commit;
        exit when v_count = 0;
    end loop;
end
$$;
create table figures (what text, seconds numeric, wal_mb numeric, rows_left bigint);

-- Before: batched DELETE, then the VACUUM that makes the space reusable.
select pg_current_wal_lsn() as lsn, clock_timestamp() as t \gset
call prune_before();
insert into figures select 'before: DELETE in batches of 5,000',
    round(extract(epoch from clock_timestamp() - :'t'::timestamptz)::numeric, 2),
    round(pg_wal_lsn_diff(pg_current_wal_lsn(), :'lsn') / 1048576.0, 1), (select count(*) from before_log);
select pg_current_wal_lsn() as lsn, clock_timestamp() as t \gset
vacuum before_log;
insert into figures select 'before: VACUUM after it',
    round(extract(epoch from clock_timestamp() - :'t'::timestamptz)::numeric, 2),
    round(pg_wal_lsn_diff(pg_current_wal_lsn(), :'lsn') / 1048576.0, 1), (select count(*) from before_log);

-- After: the month is one partition, dropped.
select pg_current_wal_lsn() as lsn, clock_timestamp() as t \gset
drop table after_log_old;
insert into figures select 'after: DROP of the month''s partition',
    round(extract(epoch from clock_timestamp() - :'t'::timestamptz)::numeric, 3),
    round(pg_wal_lsn_diff(pg_current_wal_lsn(), :'lsn') / 1048576.0, 2), (select count(*) from after_log);

\echo
\echo Prune of one month of audit rows (:rows rows; as many kept in the next month)
select what, seconds, wal_mb as "WAL MB", rows_left as "rows left" from figures;
SQL
