-- The job queue's SQL API (first slice: enqueue, claim, complete, fail).
-- Used by the API (enqueue inside a request's transaction), the worker and DBAs.
-- Workers are woken by NOTIFY on channel `maef_jobs` (payload: the queue name); they
-- also poll, so a lost notification only delays a job.

-- Adds a job; returns its id. Transactional: it exists only if the caller commits.
create function api.enqueue_job(
    p_kind text,
    p_payload jsonb default '{}',
    p_queue text default 'default',
    p_priority smallint default 0,
    p_run_at timestamptz default now(),
    p_max_attempts integer default 25,
    p_unique_key text default null)
returns bigint
language plpgsql security definer
set search_path = '' as $$
declare
    v_job_id bigint;
begin
    insert into shop.job_queue (kind, payload, queue, priority, run_at, max_attempts, unique_key)
    values (p_kind, coalesce(p_payload, '{}'), p_queue, p_priority, coalesce(p_run_at, now()), p_max_attempts, p_unique_key)
    on conflict (kind, unique_key) where unique_key is not null and status in ('pending', 'running')
    do nothing
    returning job_id into v_job_id;
    if v_job_id is null then
        -- A pending or running job with this unique key exists: keep it.
        select job_id into v_job_id from shop.job_queue
        where kind = p_kind and unique_key = p_unique_key and status in ('pending', 'running');
    end if;
    -- Identical notifications in one transaction are folded into one by PostgreSQL.
    perform pg_notify('maef_jobs', p_queue);
    return v_job_id;
end
$$;
comment on function api.enqueue_job(text, jsonb, text, smallint, timestamptz, integer, text) is
    'Enqueues a job (kind, payload, queue, priority, run_at, max_attempts, unique_key) and returns its id; with a unique_key, an existing pending/running job of the same kind and key is kept and its id returned. Notifies channel maef_jobs.';

-- Claims up to p_limit ready jobs of the given kinds for a worker, with a lease.
-- Ready means pending and due, or running with an expired lease (its worker died or
-- hung): such a job is taken over, its old attempt closed as 'lease expired', and the
-- new attempt number fences the old worker out. A job whose attempts are exhausted is
-- not taken over (it stays visible in report.job_stats for a DBA).
-- SKIP LOCKED lets many workers claim concurrently without waiting on each other.
create function api.claim_jobs(p_worker text, p_kinds text[], p_limit integer default 1,
                               p_lease interval default '30 seconds')
returns table (job_id bigint, kind text, payload jsonb, attempt integer, locked_until timestamptz)
language sql security definer
set search_path = '' as $$
    with ready as (
        select j.job_id, j.status as previous_status, j.attempt as previous_attempt
        from shop.job_queue j
        where j.kind = any (p_kinds)
          and ((j.status = 'pending' and j.run_at <= now())
               or (j.status = 'running' and j.locked_until < now() and j.attempt < j.max_attempts))
        order by j.priority desc, j.run_at, j.job_id
        limit greatest(p_limit, 0)
        for update skip locked
    ), claimed as (
        update shop.job_queue j
        set status = 'running', attempt = j.attempt + 1, locked_by = p_worker,
            locked_until = now() + p_lease
        from ready where j.job_id = ready.job_id
        returning j.job_id, j.kind, j.payload, j.attempt, j.locked_until
    ), expired as (
        update shop.job_attempt a
        set finished_at = now(), ok = false, error = 'lease expired'
        from ready
        where ready.previous_status = 'running' and a.job_id = ready.job_id
          and a.attempt = ready.previous_attempt and a.finished_at is null
    ), attempts as (
        insert into shop.job_attempt (job_id, attempt, worker)
        select c.job_id, c.attempt, p_worker from claimed c
    )
    select * from claimed order by job_id
$$;
comment on function api.claim_jobs(text, text[], integer, interval) is
    'Claims up to p_limit ready jobs of the given kinds (pending and due, or running with an expired lease), FOR UPDATE SKIP LOCKED, by priority, run_at, id; leases them to p_worker. The returned attempt is the fencing token for complete_job/fail_job.';

-- Marks a claimed job completed. Returns false for a stale attempt (lease lost).
create function api.complete_job(p_job_id bigint, p_attempt integer)
returns boolean
language plpgsql security definer
set search_path = '' as $$
begin
    update shop.job_queue
    set status = 'completed', locked_by = null, locked_until = null, finished_at = now(), last_error = null
    where job_id = p_job_id and attempt = p_attempt and status = 'running';
    if not found then
        return false;
    end if;
    update shop.job_attempt set finished_at = now(), ok = true
    where job_id = p_job_id and attempt = p_attempt;
    return true;
end
$$;
comment on function api.complete_job(bigint, integer) is
    'Completes a running job if p_attempt is still its current attempt; false when the attempt is stale.';

-- Records a failed attempt: the job runs again after an exponential backoff, or is
-- discarded once max_attempts is reached. Returns false for a stale attempt.
create function api.fail_job(p_job_id bigint, p_attempt integer, p_error text)
returns boolean
language plpgsql security definer
set search_path = '' as $$
begin
    update shop.job_queue
    set status = case when attempt >= max_attempts then 'discarded' else 'pending' end,
        -- backoff: attempt^4 + 3 seconds (3 s, 19 s, 84 s, 259 s, ...), plus up to 10% jitter
        run_at = now() + (power(attempt, 4) + 3) * (1 + random() * 0.1) * interval '1 second',
        locked_by = null, locked_until = null, last_error = p_error,
        finished_at = case when attempt >= max_attempts then now() end
    where job_id = p_job_id and attempt = p_attempt and status = 'running';
    if not found then
        return false;
    end if;
    update shop.job_attempt set finished_at = now(), ok = false, error = p_error
    where job_id = p_job_id and attempt = p_attempt;
    return true;
end
$$;
comment on function api.fail_job(bigint, integer, text) is
    'Records a failed attempt: retried after (attempt^4 + 3) s (+ up to 10% jitter), or discarded after max_attempts; false when the attempt is stale.';
