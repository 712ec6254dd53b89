-- V33: the append-only tables that grow with traffic — shop.audit_log, shop.job_attempt
-- and shop.event — become range-partitioned by month (UTC) of their time column, so
-- that retention drops a month as one partition instead of deleting its rows one by
-- one (each DELETE writes WAL, dead rows and index entries for vacuum to clean), and
-- vacuum and indexes work on one month at a time. Partitions are named
-- <table>_pYYYYMM; a default partition <table>_default takes a row no partition covers
-- (a backdated row, or a month the maintain_partitions job has not created yet), so no
-- insert ever fails for want of a partition. The job creates the coming months ahead
-- (api.maintain_partitions, sql/partitions.sql); the retention functions drop the
-- months that are wholly past retention (docs/scaling.md#partitioning).
--
-- Rows are copied into the new tables (one transaction): a copy of a month of audit
-- rows costs what their insert did. A database with years of rows can run this
-- migration in a maintenance window, or shorten the retention first.
--
-- What partitioning changes in the model:
-- - A primary key must contain the partition key: audit_log (audit_log_id, at),
--   job_attempt (job_id, attempt, finished_at), event (event_id, occurred_at). Ids stay
--   unique (identity columns); a job attempt stays unique per (job_id, attempt) within
--   its month by an index of each partition, and across months by construction (an
--   attempt row is written once, under the job row's lock, for its current attempt).
-- - No foreign key can reference a partitioned table by a column that is not its whole
--   key: webhook_delivery.event_id loses its reference to shop.event, and
--   api.prune_events deletes the deliveries of the events it deletes (the cascade it
--   replaces).
-- - job_attempt.finished_at becomes NOT NULL (every attempt row is written when the
--   attempt ends).

-- The code schemas are dropped and re-created by every `maef-api migrate` once the
-- migrations are applied (api/src/migrate.rs, reload_code). Views of the report schema
-- (report.jobs, report.job_stats…) depend on the tables renamed below, and a database
-- migrated before this version has them: drop the schema first, as the reload would
-- (no data depends on it: the reload refuses to run when something does).
drop schema if exists report cascade;

-- Moves shop.<p_table> into a new table of the same columns (defaults, identity,
-- checks, comments, storage) partitioned by month of p_key: one partition per month
-- from the oldest row's to p_ahead months after the current one, and the default.
-- The old table's storage parameters (autovacuum settings) go to each partition;
-- indexes, keys and grants are the caller's.
create function pg_temp.partition_by_month(p_table text, p_key text, p_ahead integer) returns void
language plpgsql as $$
declare
    v_old text := p_table || '_unpartitioned';
    v_first date;
    v_month date;
    v_options text;
    v_comment text := obj_description(format('shop.%I', p_table)::regclass, 'pg_class');
begin
    select array_to_string(reloptions, ', ') into v_options from pg_class where oid = format('shop.%I', p_table)::regclass;
    execute format('alter table shop.%I rename to %I', p_table, v_old);
    execute format('create table shop.%I (like shop.%I including defaults including identity including constraints
                    including comments including storage) partition by range (%I)', p_table, v_old, p_key);
    execute format('comment on table shop.%I is %L', p_table, v_comment);
    execute format('select date_trunc(''month'', min(%I) at time zone ''UTC'')::date from shop.%I', p_key, v_old)
        into v_first;
    v_month := least(coalesce(v_first, current_date), date_trunc('month', now() at time zone 'UTC')::date);
    v_month := date_trunc('month', v_month)::date;
    while v_month <= (date_trunc('month', now() at time zone 'UTC') + make_interval(months => p_ahead))::date loop
        execute format('create table shop.%I partition of shop.%I for values from (%L) to (%L)',
                       p_table || '_p' || to_char(v_month, 'YYYYMM'), p_table,
                       v_month::timestamp at time zone 'UTC', (v_month + interval '1 month')::timestamp at time zone 'UTC');
        if v_options is not null then
            execute format('alter table shop.%I set (%s)', p_table || '_p' || to_char(v_month, 'YYYYMM'), v_options);
        end if;
        v_month := (v_month + interval '1 month')::date;
    end loop;
    execute format('create table shop.%I partition of shop.%I default', p_table || '_default', p_table);
    execute format('insert into shop.%I overriding system value select * from shop.%I', p_table, v_old);
end
$$;

-- ---------------------------------------------------------------- audit_log
select pg_temp.partition_by_month('audit_log', 'at', 3);
drop table shop.audit_log_unpartitioned;
alter table shop.audit_log add constraint audit_log_pkey primary key (audit_log_id, at),
    add constraint audit_log_actor_id_fkey foreign key (actor_id) references shop.app_user on delete set null;
create index audit_log_entity_idx on shop.audit_log (entity, entity_id, at desc);
create index audit_log_actor_idx on shop.audit_log (actor_id, at desc);
select setval(pg_get_serial_sequence('shop.audit_log', 'audit_log_id'),
              coalesce((select max(audit_log_id) from shop.audit_log), 0) + 1, false);

-- ---------------------------------------------------------------- job_attempt
update shop.job_attempt set finished_at = coalesce(started_at, now()) where finished_at is null;
select pg_temp.partition_by_month('job_attempt', 'finished_at', 3);
drop table shop.job_attempt_unpartitioned;
alter table shop.job_attempt alter column finished_at set not null;
alter table shop.job_attempt add constraint job_attempt_pkey primary key (job_id, attempt, finished_at);
create index job_attempt_finished_brin on shop.job_attempt using brin (finished_at) with (pages_per_range = 32);
do $$
declare
    v_partition regclass;
begin
    for v_partition in select inhrelid::regclass from pg_inherits where inhparent = 'shop.job_attempt'::regclass loop
        execute format('create unique index on %s (job_id, attempt)', v_partition);
    end loop;
end
$$;

-- ---------------------------------------------------------------- event
alter table shop.webhook_delivery drop constraint webhook_delivery_event_id_fkey;
select pg_temp.partition_by_month('event', 'occurred_at', 3);
drop table shop.event_unpartitioned;
alter table shop.event add constraint event_pkey primary key (event_id, occurred_at),
    add constraint event_type_fkey foreign key (type) references shop.event_type;
create index event_xid_idx on shop.event (xid, event_id);
create index event_occurred_at_brin on shop.event using brin (occurred_at);
create index event_aggregate_idx on shop.event (aggregate_type, aggregate_id);
select setval(pg_get_serial_sequence('shop.event', 'event_id'),
              coalesce((select max(event_id) from shop.event), 0) + 1, false);
-- The deliveries of an event are found (and deleted with it) by its id.
create index webhook_delivery_event_idx on shop.webhook_delivery (event_id);
comment on column shop.webhook_delivery.event_id is
    'The event delivered (shop.event is partitioned, so no foreign key: api.prune_events deletes an event''s deliveries with it).';

-- ---------------------------------------------------------------- the job
insert into shop.job_kind (kind, timeout, description) values
    ('maintain_partitions', '5 minutes',
     'Creates the coming months'' partitions of the partitioned tables (audit_log, job_attempt, event) ahead, moving any row their default partition holds for those months.');
insert into shop.job_schedule (name, kind, cron, payload) values
    ('maintain_partitions', 'maintain_partitions', '7 0 * * *', '{}');
