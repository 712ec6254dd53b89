-- Reports for psql users (schema report, reloaded at each deploy).

-- Queue health per queue and kind: job counts by state, the age of the oldest job
-- waiting to run, and over the last hour the enqueue→start latency (attempt start
-- minus the moment the job was due) and the failed attempts. Live jobs and dead letters
-- are counted in shop.job_queue; completed jobs, whose rows are deleted at completion,
-- are their ok attempts in shop.job_attempt (kept until pruned, 7 days by default).
create view report.job_stats as
with jobs as (
    select queue, kind,
           count(*) filter (where status = 'pending' and run_at <= now()) as ready,
           count(*) filter (where status = 'pending' and run_at > now()) as scheduled,
           count(*) filter (where status = 'running') as running,
           count(*) filter (where status = 'discarded') as discarded,
           count(*) filter (where status = 'cancelled') as cancelled,
           now() - min(run_at) filter (where status = 'pending' and run_at <= now()) as oldest_ready_age
    from shop.job_queue
    group by queue, kind
), completed as (
    select a.queue, a.kind, count(*) as completed
    from shop.job_attempt a
    where a.ok
    group by a.queue, a.kind
), attempts as (
    select a.queue, a.kind,
           percentile_cont(0.5) within group (order by a.started_at - a.ready_at)
               filter (where a.ready_at is not null) as latency_p50,
           percentile_cont(0.95) within group (order by a.started_at - a.ready_at)
               filter (where a.ready_at is not null) as latency_p95,
           count(*) filter (where a.ok = false) as failures_last_hour,
           count(*) filter (where a.ok) as completed_last_hour
    from shop.job_attempt a
    where a.finished_at >= now() - interval '1 hour' and a.started_at >= now() - interval '1 hour'
    group by a.queue, a.kind
), keys as (
    select queue, kind from jobs union select queue, kind from completed union select queue, kind from attempts
)
select k.queue, k.kind,
       coalesce(j.ready, 0) as ready, coalesce(j.scheduled, 0) as scheduled,
       coalesce(j.running, 0) as running, coalesce(c.completed, 0) as completed,
       coalesce(j.discarded, 0) as discarded, coalesce(j.cancelled, 0) as cancelled,
       j.oldest_ready_age, a.latency_p50, a.latency_p95,
       coalesce(a.failures_last_hour, 0) as failures_last_hour,
       coalesce(a.completed_last_hour, 0) as completed_last_hour
from keys k
left join jobs j on j.queue = k.queue and j.kind = k.kind
left join completed c on c.queue = k.queue and c.kind = k.kind
left join attempts a on a.queue = k.queue and a.kind = k.kind;
comment on view report.job_stats is
    'Per queue and kind: jobs ready, scheduled, running, completed (ok attempts kept in shop.job_attempt), discarded, cancelled; oldest ready job age; over the last hour enqueue→start latency p50/p95 and failed/completed attempts.';

-- Every job as one list: live jobs and dead letters from shop.job_queue, completed jobs
-- from their ok attempt in shop.job_attempt (their rows are deleted at completion).
-- For psql users and tests asking "what became of job N".
create view report.jobs as
select j.job_id, j.queue, j.kind, j.status, j.attempt, j.run_at, j.unique_key, j.locked_by,
       j.last_error, j.created_at, j.finished_at
from shop.job_queue j
union all
select a.job_id, a.queue, a.kind, 'completed', a.attempt, a.ready_at, a.unique_key, a.worker,
       null, null, a.finished_at
from shop.job_attempt a
where a.ok;
comment on view report.jobs is
    'Every job: live jobs and dead letters (shop.job_queue) and completed jobs (their ok shop.job_attempt row; run_at is when it was due, locked_by the worker that ran it, created_at unknown).';

-- Schedules and when they run next.
create view report.job_schedules as
select name, kind, coalesce(every::text, cron) as timing, enabled, next_run_at, last_run_at, last_job_id
from shop.job_schedule;
comment on view report.job_schedules is 'Recurring jobs: timing (interval or cron), next and last run.';

create view report.catalog_overview as
select c.slug as category, count(p.product_id) filter (where p.is_active) as active_products,
       count(p.product_id) filter (where not p.is_active) as inactive_products
from shop.category c
left join shop.product p on p.category_id = c.category_id
group by c.slug;
comment on view report.catalog_overview is 'Active and inactive products per category.';

-- ---------------------------------------------------------------- who may read these
-- Staff read the reports (maef-api migrate grants schema usage; no function here).
grant select on all tables in schema report to maef_staff, maef_admin;
