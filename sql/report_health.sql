-- report.health: one row per figure an operator checks first when the shop is slow or
-- a deploy looks wrong (docs/operations.md). Each row: what is measured (metric), of
-- what (subject), its value and unit, and 'ok' or 'warn' against the threshold in the
-- comment below. Reads only catalogs and statistics views, so it is cheap.
--
-- Statistics of other sessions (pg_stat_activity's state, pg_stat_replication's lag)
-- are visible only to their own login role, superusers and members of pg_monitor /
-- pg_read_all_stats: run it as the role maef-api and maef-worker log in as (or grant
-- pg_monitor to the monitoring role), else those rows undercount.
--
-- Thresholds: a ready job older than 5 minutes, any dead (discarded) job, a replica
-- more than 10 s or 64 MB behind, a session idle in a transaction for more than 60 s,
-- a hot table with more than 20 % dead rows.
create view report.health as
with queues as (
    select queue,
           count(*) filter (where status = 'pending' and run_at <= now()) as ready,
           coalesce(extract(epoch from now() - min(run_at) filter (where status = 'pending' and run_at <= now())), 0) as oldest_ready_secs,
           count(*) filter (where status = 'discarded') as dead
    from shop.job_queue
    group by queue
), hot(relname) as (
    values ('job_queue'), ('job_attempt'), ('cart'), ('cart_item'), ('idempotency_key'),
           ('stock_level'), ('stock_reservation'), ('event'), ('audit_log'), ('webhook_delivery'),
           ('customer_order'), ('inventory')
), hot_tables as (
    select root.relname, sum(s.n_dead_tup)::numeric as dead, sum(s.n_live_tup)::numeric as live,
           sum(pg_total_relation_size(s.relid))::numeric as bytes
    from pg_stat_user_tables s
    join pg_class root on root.oid = coalesce(pg_partition_root(s.relid), s.relid)
    join hot h on h.relname = root.relname
    where s.schemaname = 'shop'
    group by root.relname
)
select 'queue_depth' as metric, queue as subject, ready::numeric as value, 'jobs' as unit,
       'ok' as status
from queues
union all
select 'queue_oldest_ready_age', queue, round(oldest_ready_secs::numeric, 1), 'seconds',
       case when oldest_ready_secs > 300 then 'warn' else 'ok' end
from queues
union all
select 'dead_jobs', queue, dead::numeric, 'jobs', case when dead > 0 then 'warn' else 'ok' end
from queues
union all
-- On the primary: each standby's replay lag (time, and bytes of WAL not yet replayed).
select 'replication_lag', coalesce(r.application_name, '') || '@' || coalesce(host(r.client_addr), 'local'),
       round(coalesce(extract(epoch from r.replay_lag), 0)::numeric, 3), 'seconds',
       case when coalesce(extract(epoch from r.replay_lag), 0) > 10 then 'warn' else 'ok' end
from pg_stat_replication r
union all
select 'replication_lag_bytes', coalesce(r.application_name, '') || '@' || coalesce(host(r.client_addr), 'local'),
       coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn), 0), 'bytes',
       case when coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn), 0) > 64 * 1024 * 1024 then 'warn' else 'ok' end
from pg_stat_replication r
where not pg_is_in_recovery()
union all
-- On a standby: how old the last replayed transaction is (grows while the primary is
-- idle too; compare with the primary's activity).
select 'replay_delay', 'this standby',
       round(coalesce(extract(epoch from now() - pg_last_xact_replay_timestamp()), 0)::numeric, 3), 'seconds',
       case when extract(epoch from now() - pg_last_xact_replay_timestamp()) > 10 then 'warn' else 'ok' end
where pg_is_in_recovery()
union all
select 'idle_in_transaction', 'sessions', count(*)::numeric, 'sessions',
       case when max(now() - state_change) > interval '60 seconds' then 'warn' else 'ok' end
from pg_stat_activity
where datname = current_database() and state in ('idle in transaction', 'idle in transaction (aborted)')
union all
select 'idle_in_transaction_longest', 'sessions',
       round(coalesce(extract(epoch from max(now() - state_change)), 0)::numeric, 1), 'seconds',
       case when max(now() - state_change) > interval '60 seconds' then 'warn' else 'ok' end
from pg_stat_activity
where datname = current_database() and state in ('idle in transaction', 'idle in transaction (aborted)')
union all
-- Bloat estimate of the hot tables: the share of dead rows vacuum has not reclaimed
-- yet (pg_stat_user_tables), beside the table's size on disk. A partitioned table
-- (audit_log, job_attempt, event: V33) is the sum of its partitions.
select 'dead_rows_share', 'shop.' || t.relname,
       round(100.0 * t.dead / greatest(t.live + t.dead, 1), 1), 'percent',
       case when t.dead > 1000 and t.dead > 0.2 * (t.live + t.dead) then 'warn' else 'ok' end
from hot_tables t
union all
select 'table_size', 'shop.' || t.relname, t.bytes, 'bytes', 'ok'
from hot_tables t;
comment on view report.health is
    'Operational health, one row per figure: queue_depth, queue_oldest_ready_age, dead_jobs (per queue); replication_lag and replication_lag_bytes (per standby, on the primary) or replay_delay (on a standby); idle_in_transaction and its longest age; dead_rows_share and table_size of the hot tables. status is warn past the thresholds in sql/report_health.sql. Run as the login role of maef-api/maef-worker or with pg_monitor to see every session.';

-- Staff read it like every report of schema report (psql, and `GET
-- /api/v1/admin/reports/health` with reports:read: sql/reports.sql lists the schema's
-- views); customers do not.
grant select on report.health to maef_staff, maef_admin;
