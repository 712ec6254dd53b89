-- Loaded last: who may call what. Functions are EXECUTE-able by PUBLIC by default, so
-- revoke that, then grant the public API (names without a leading underscore) to the
-- request roles. Private helpers (`_name`) run only inside SECURITY DEFINER functions.

revoke all on all functions in schema api from public;
grant usage on schema api to maef_anon, maef_customer, maef_staff, maef_admin;
grant usage on schema maef to maef_anon, maef_customer, maef_staff, maef_admin;

do $$
declare
    f regprocedure;
begin
    for f in
        select p.oid::regprocedure from pg_proc p
        where p.pronamespace = 'api'::regnamespace and p.proname !~ '^_'
          -- the job queue is for the worker and DBAs, not for HTTP callers
          and p.proname not in ('claim_jobs', 'complete_job', 'complete_jobs', 'fail_job', 'enqueue_job',
                                'enqueue_jobs', 'heartbeat_jobs', 'release_jobs', 'cancel_job', 'retry_job',
                                'rescue_expired_jobs', 'enqueue_due_schedules', 'prune_jobs',
                                'prune_expired_idempotency_keys', 'refresh_materialized_views', 'job_backoff', 'cron_next')
    loop
        execute format('grant execute on function %s to maef_anon, maef_customer, maef_staff, maef_admin', f);
    end loop;
end
$$;

grant usage on schema report to maef_staff, maef_admin;
grant select on all tables in schema report to maef_staff, maef_admin;
