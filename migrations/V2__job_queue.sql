-- The job queue, second slice (issue 6): per-kind settings, schedules, the columns the
-- batched API and its reports need, a claim index without the queue prefix, and
-- autovacuum settings for tables that churn.

-- When the current attempt started (the running attempt has no job_attempt row yet:
-- attempts are written when they finish, halving the writes per job).
alter table shop.job_queue add column attempted_at timestamptz;
comment on column shop.job_queue.attempted_at is 'Start of the current (or last) attempt.';

-- When the attempt's job became due: enqueue→start latency is started_at - ready_at.
alter table shop.job_attempt add column ready_at timestamptz;
comment on column shop.job_attempt.ready_at is 'When the job was due for this attempt (its run_at at claim time).';
comment on column shop.job_attempt.ok is 'true: completed; false: failed, timed out or lease expired; null: released at shutdown (not counted as a failure).';

-- Claims run over every kind and queue the worker handles, ordered by priority then
-- run_at: the V1 index leads with queue, which forces a sort across queues.
drop index shop.job_queue_ready_idx;
create index job_queue_ready_idx on shop.job_queue (priority desc, run_at, job_id) where status = 'pending';
-- Pruning walks finished jobs by age; reports walk recent attempts.
create index job_queue_finished_idx on shop.job_queue (finished_at)
    where status in ('completed', 'discarded', 'cancelled');
create index job_attempt_finished_idx on shop.job_attempt (finished_at);

-- The queue tables are updated many times per row and pruned in bulk: vacuum them
-- after 1% of dead rows (not the default 20%) so the partial ready index stays small.
alter table shop.job_queue set (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,
    autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.05,
    autovacuum_vacuum_cost_delay = 1);
alter table shop.job_attempt set (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.05,
    autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_cost_delay = 1);

-- Per-kind settings. A kind without a row gets the defaults of the columns.
create table shop.job_kind (
    kind         text primary key check (kind ~ '^[a-z][a-z0-9_]*$'),
    timeout      interval not null default '5 minutes' check (timeout > interval '0'),
    description  text not null default '',
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now()
);
comment on table shop.job_kind is 'Per-kind job settings: timeout (the worker fails an attempt running longer).';
create trigger job_kind_updated_at before update on shop.job_kind
    for each row execute function shop.set_updated_at();

insert into shop.job_kind (kind, timeout, description) values
    ('noop', '1 minute', 'Does nothing (or fails on request): proves the queue end to end.'),
    ('write_audit', '1 minute', 'Writes one shop.audit_log row, in the transaction that completes the job.'),
    ('pull_instagram_stories', '5 minutes', 'Pulls Instagram stories. No-op until the stories issue lands.'),
    ('expire_stock_reservations', '1 minute', 'Expires stock reservations. No-op until reservations exist in the model.'),
    ('refresh_materialized_views', '10 minutes', 'Refreshes every materialized view of schemas shop and report.'),
    ('prune_jobs', '10 minutes', 'Deletes finished jobs and attempts older than the payload''s older_than (default 7 days).'),
    ('prune_idempotency_keys', '5 minutes', 'Deletes expired shop.idempotency_key rows.');

-- Schedules: any number of workers enqueue due schedules; the row lock plus the
-- advance of next_run_at in the same statement make each time bucket run once.
create table shop.job_schedule (
    name          text primary key check (name ~ '^[a-z][a-z0-9_]*$'),
    kind          text not null check (kind ~ '^[a-z][a-z0-9_]*$'),
    payload       jsonb not null default '{}',
    queue         text not null default 'default' check (length(queue) between 1 and 64),
    priority      smallint not null default 0,
    every         interval check (every >= interval '1 second'),
    cron          text check (cron ~ '^\S+ \S+ \S+ \S+ \S+$'),
    enabled       boolean not null default true,
    next_run_at   timestamptz not null default now(),
    last_run_at   timestamptz,
    last_job_id   bigint,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    constraint job_schedule_one_timing check ((every is null) <> (cron is null))
);
comment on table shop.job_schedule is 'Recurring jobs: an interval (every) or a 5-field cron expression in UTC; next_run_at is the next time bucket.';
create index job_schedule_due_idx on shop.job_schedule (next_run_at) where enabled;
create trigger job_schedule_updated_at before update on shop.job_schedule
    for each row execute function shop.set_updated_at();

insert into shop.job_schedule (name, kind, every, cron, payload) values
    ('pull_instagram_stories', 'pull_instagram_stories', '10 minutes', null, '{}'),
    ('expire_stock_reservations', 'expire_stock_reservations', '1 minute', null, '{}'),
    ('refresh_materialized_views', 'refresh_materialized_views', '5 minutes', null, '{}'),
    ('prune_jobs', 'prune_jobs', null, '17 * * * *', '{"older_than": "7 days"}'),
    ('prune_idempotency_keys', 'prune_idempotency_keys', null, '*/15 * * * *', '{}');
