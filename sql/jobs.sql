-- The job queue's SQL API. Used by the API (enqueue inside a request's transaction),
-- the worker (claim, heartbeat, complete, fail, release) and DBAs in psql (everything,
-- plus cancel, retry, prune and schedules). Not granted to HTTP roles (see the end of this file).
--
-- Life of a job: pending → running (claimed with a lease) → completed | pending again
-- (failed, backing off) | discarded (attempts exhausted) | cancelled.
-- `attempt` is the fencing token: every claim increments it, and complete/fail/heartbeat
-- must present it, so a worker whose lease expired cannot touch the job any more.
--
-- Storage (V7): shop.job_queue holds live jobs and dead letters (discarded, cancelled,
-- kept for inspection and retry until pruned). Completing a job deletes its row and
-- writes its shop.job_attempt row in the same statement: the attempt row, which carries
-- kind, queue and unique key, is the completed job's history (report.jobs shows both as one list).
-- Every finished attempt (completed, failed, timed out, lease expired, cancelled,
-- released) is one job_attempt row, written when it finishes, never at claim time.
--
-- Workers are woken by NOTIFY on channel `maef_jobs`, payload `{"queue": q, "count": n}`,
-- at most one per queue per transaction; they also poll, so a lost notification delays.

-- Sends the queue's notification unless this transaction already sent one for that
-- queue (tracked in a transaction-local setting, so a rolled-back savepoint forgets it
-- together with its notification). n is the number of jobs of the notifying statement:
-- a hint for how many workers to wake; workers drain until a claim comes back short.
create function api._notify_jobs(p_queue text, p_count bigint)
returns void
language plpgsql
set search_path = '' as $$
declare
    v_sent text[] := coalesce(nullif(current_setting('maef.notified_queues', true), '')::text[], '{}');
begin
    if p_count > 0 and not (p_queue = any (v_sent)) then
        perform set_config('maef.notified_queues', (v_sent || p_queue)::text, true);
        perform pg_notify('maef_jobs', json_build_object('queue', p_queue, 'count', p_count)::text);
    end if;
end
$$;
comment on function api._notify_jobs(text, bigint) is
    'Private: NOTIFY maef_jobs once per queue per transaction, with a job count.';

-- Adds a job; returns its id. Transactional: it exists (and is notified) only if the
-- caller commits. With a unique key, a pending or running job of the same kind and key
-- is kept: mode 'skip' returns it unchanged; mode 'replace' (debounce) moves a pending
-- one to the new run_at and payload (a running one cannot be changed and is returned
-- as is). The partial unique index makes this race-free: concurrent callers wait on
-- each other's insert, then see the winner.
create function api.enqueue_job(
    p_kind text,
    p_payload jsonb default '{}',
    p_queue text default 'default',
    p_priority integer default 0,
    p_run_at timestamptz default now(),
    p_max_attempts integer default 25,
    p_unique_key text default null,
    p_unique_mode text default 'skip')
returns bigint
language plpgsql security definer
set search_path = '' as $$
declare
    v_job_id bigint;
begin
    if p_unique_mode not in ('skip', 'replace') then
        raise exception using errcode = 'MA422', constraint = 'job_unique_mode',
            message = format('unique mode must be skip or replace, not %L', p_unique_mode);
    end if;
    loop
        if p_unique_mode = 'replace' then
            insert into shop.job_queue as j (kind, payload, queue, priority, run_at, max_attempts, unique_key)
            values (p_kind, coalesce(p_payload, '{}'), p_queue, p_priority, coalesce(p_run_at, now()), p_max_attempts, p_unique_key)
            on conflict (kind, unique_key) where unique_key is not null and status in ('pending', 'running')
            do update set run_at = excluded.run_at, payload = excluded.payload, updated_at = now()
                where j.status = 'pending'
            returning job_id into v_job_id;
        else
            insert into shop.job_queue (kind, payload, queue, priority, run_at, max_attempts, unique_key)
            values (p_kind, coalesce(p_payload, '{}'), p_queue, p_priority, coalesce(p_run_at, now()), p_max_attempts, p_unique_key)
            on conflict (kind, unique_key) where unique_key is not null and status in ('pending', 'running')
            do nothing
            returning job_id into v_job_id;
        end if;
        exit when v_job_id is not null;
        -- Kept: a pending job (skip) or a running one (either mode).
        select job_id into v_job_id from shop.job_queue
        where kind = p_kind and unique_key = p_unique_key and status in ('pending', 'running');
        if v_job_id is not null then
            return v_job_id;
        end if;
        -- The conflicting job finished between our insert and our read: insert again.
    end loop;
    perform api._notify_jobs(p_queue, 1);
    return v_job_id;
end
$$;
comment on function api.enqueue_job(text, jsonb, text, integer, timestamptz, integer, text, text) is
    'Enqueues a job and returns its id (transactional). Options: queue, priority (higher first), run_at, max_attempts, unique_key with unique_mode skip (keep the pending/running job) or replace (debounce: move the pending job''s run_at and payload). Notifies maef_jobs once per queue per transaction.';

-- Bulk enqueue: one INSERT for any number of jobs, one notification per queue.
-- p_jobs is a JSON array of {kind, payload?, queue?, priority?, run_at?, max_attempts?,
-- unique_key?}; a job whose unique key is taken is skipped. Returns the new ids.
create function api.enqueue_jobs(p_jobs jsonb)
returns table (job_id bigint)
language plpgsql security definer
set search_path = '' as $$
declare
    v_ids bigint[];
    v_queues text[];
    v_counts bigint[];
begin
    with inserted as (
        insert into shop.job_queue (kind, payload, queue, priority, run_at, max_attempts, unique_key)
        select s.kind, coalesce(s.payload, '{}'), coalesce(s.queue, 'default'), coalesce(s.priority, 0),
               coalesce(s.run_at, now()), coalesce(s.max_attempts, 25), s.unique_key
        from jsonb_to_recordset(p_jobs) as s(kind text, payload jsonb, queue text, priority smallint,
                                               run_at timestamptz, max_attempts integer, unique_key text)
        on conflict (kind, unique_key) where unique_key is not null and status in ('pending', 'running')
        do nothing
        returning shop.job_queue.job_id, shop.job_queue.queue
    ), per_queue as (
        select i.queue, count(*) as n from inserted i group by i.queue
    )
    select array(select i.job_id from inserted i order by i.job_id),
           array(select q.queue from per_queue q order by q.queue),
           array(select q.n from per_queue q order by q.queue)
    into v_ids, v_queues, v_counts;
    for i in 1 .. coalesce(array_length(v_queues, 1), 0) loop
        perform api._notify_jobs(v_queues[i], v_counts[i]);
    end loop;
    return query select unnest(v_ids);
end
$$;
comment on function api.enqueue_jobs(jsonb) is
    'Bulk enqueue: p_jobs is a JSON array of {kind, payload, queue, priority, run_at, max_attempts, unique_key}; jobs whose unique key is taken are skipped. One INSERT, one notification per queue; returns the new job ids.';

-- Puts running jobs whose lease expired back to pending (their worker died or hung):
-- the attempt counts (a job_attempt row 'lease expired'), and a job out of attempts is
-- discarded. Called by every claim (cheap: the lease index holds only running jobs),
-- so a crashed worker's jobs are rescued within one poll interval of the lease end.
create function api.rescue_expired_jobs()
returns integer
language plpgsql security definer
set search_path = '' as $$
declare
    v_count integer;
begin
    with expired as (
        select j.job_id from shop.job_queue j
        where j.status = 'running' and j.locked_until < now()
        order by j.locked_until
        limit 1000
        for update skip locked
    ), rescued as (
        update shop.job_queue j
        set status = case when j.attempt >= j.max_attempts then 'discarded' else 'pending' end,
            finished_at = case when j.attempt >= j.max_attempts then now() end,
            run_at = now(), locked_until = null, last_error = 'lease expired', updated_at = now()
        from expired where j.job_id = expired.job_id
        returning j.job_id, j.attempt, j.locked_by, j.attempted_at, j.kind, j.queue, j.unique_key
    )
    insert into shop.job_attempt (job_id, attempt, worker, started_at, finished_at, ok, error, kind, queue, unique_key)
    select r.job_id, r.attempt, coalesce(r.locked_by, '?'), coalesce(r.attempted_at, now()), now(), false, 'lease expired',
           r.kind, r.queue, r.unique_key
    from rescued r
    -- Any unique index of the partition: (job_id, attempt) within the month (V33).
    on conflict do nothing;
    get diagnostics v_count = row_count;
    return v_count;
end
$$;
comment on function api.rescue_expired_jobs() is
    'Puts running jobs whose lease expired back to pending (attempt counted, job_attempt row ''lease expired''), or discards them when out of attempts. Returns how many.';

-- Claims up to p_limit ready jobs (pending and due) of the given kinds (null: any kind,
-- so a worker fails kinds it has no handler for instead of leaving them unseen),
-- optionally of the given queues, for a worker: FOR UPDATE SKIP LOCKED over the small
-- partial ready index, by priority (higher first), run_at, id. Each claimed job gets a
-- lease (locked_by, locked_until) and a new attempt number, the fencing token that
-- complete/fail/heartbeat must present. Also returns the kind's timeout.
-- The claim itself is api.complete_and_claim_jobs's (nothing to complete, no cursor).
create function api.claim_jobs(p_worker text, p_kinds text[], p_limit integer default 1,
                               p_lease interval default '30 seconds', p_queues text[] default null)
returns table (job_id bigint, kind text, payload jsonb, attempt integer, locked_until timestamptz,
               timeout interval, queue text)
language plpgsql security definer
set search_path = '' as $$
begin
    return query
    select c.job_id, c.kind, c.payload, c.attempt, c.locked_until, c.timeout, c.queue
    from api.complete_and_claim_jobs('{}', '{}', p_worker, p_kinds, p_limit, p_lease, p_queues) c
    where c.job_id is not null;
end
$$;
comment on function api.claim_jobs(text, text[], integer, interval, text[]) is
    'Claims up to p_limit ready jobs of the given kinds (null: any) and queues (null: any): FOR UPDATE SKIP LOCKED, by priority desc, run_at, id; leases them to p_worker. The returned attempt is the fencing token; timeout is the kind''s (shop.job_kind, default 5 minutes). Rescues expired leases first.';

-- Completes many jobs in one statement: deletes their rows and writes their attempt
-- rows (ok), which are the completed jobs' history. A pair (job, attempt) whose attempt
-- is not the job's current running attempt (lease expired, job cancelled) is ignored:
-- returns only the ids actually completed. The row lock the DELETE takes makes a
-- concurrent stale completion, fail or rescue wait and then find no row.
-- "Running" is tested as `locked_until is not null` (the same thing, by the constraint
-- job_queue_lease_consistent) rather than `status = 'running'`, which lures the cached
-- generic plan into the partial lease index: guessing 10 ids and 1 running job, it
-- compared every pair (measured: from the sixth call on, 2,000 completions took 2 to 4 s
-- instead of 50 ms). This way each pair is one primary-key lookup.
create function api.complete_jobs(p_job_ids bigint[], p_attempts integer[])
returns table (job_id bigint)
language plpgsql security definer
set search_path = '' as $$
begin
    return query
    with done as (
        delete from shop.job_queue j
        using unnest(p_job_ids, p_attempts) as t(job_id, attempt)
        where j.job_id = t.job_id and j.attempt = t.attempt and j.locked_until is not null
        returning j.job_id, j.attempt, j.locked_by, j.attempted_at, j.run_at, j.kind, j.queue, j.unique_key
    ), attempts as (
        insert into shop.job_attempt (job_id, attempt, worker, started_at, ready_at, finished_at, ok, kind, queue, unique_key)
        select d.job_id, d.attempt, d.locked_by, d.attempted_at, d.run_at, now(), true, d.kind, d.queue, d.unique_key
        from done d
    )
    select d.job_id from done d;
end
$$;
comment on function api.complete_jobs(bigint[], integer[]) is
    'Completes many running jobs in one statement (the job rows are deleted; their shop.job_attempt rows, ok, are the history); each id is paired with its attempt (fencing token). Returns the ids completed; stale pairs are ignored.';

-- The worker's one round trip per batch: completes the jobs it finished (as
-- complete_jobs), then claims up to p_limit ready jobs (as claim_jobs), in one
-- transaction. Returns the claimed jobs, with their priority and run_at (the worker's
-- next cursor, below) and, in done_count, how many of the finished jobs were completed
-- (the rest were stale); with no job claimed, one row of nulls carries it.
--
-- The claim locks the ready index's first rows (FOR UPDATE SKIP LOCKED) in one
-- statement, then updates them by ctid in the next: the locked rows are handed to the
-- UPDATE as an array of their ctids, fetched directly (a row locked by this transaction
-- cannot move or change before the UPDATE): as a join, the planner hashed the whole
-- table once batches reached a few hundred jobs (measured: a 1,000-job claim over
-- 50,000 pending jobs spent 49 of its 89 ms there), and as ids, each one was a descent
-- of the primary key. A job is never claimed twice: its row lock is held until commit,
-- and a ctid naming a version the UPDATE does not see (a debounce that moved a pending
-- job while the lock was being taken) updates nothing, leaving the job pending for the
-- next claim.
--
-- Cursor (p_after_*: the priority, run_at and id of the last job, in claim order, of the
-- caller's previous claim; null: none). Every claimed job leaves a dead entry at the
-- front of the ready index until vacuum removes it, and a claim from the index's start
-- steps over all of them: while a long transaction anywhere on the server holds back
-- the xmin horizon they cannot even be marked dead, and each costs a heap visit
-- (measured: 50,000 jobs into a drain, 1,093 buffers and 7 of the claim's 11 ms to
-- reach the first live entry). With a cursor the claim starts its index scan right
-- after the previous batch, at the same priority, unless a ready job of a higher
-- priority exists (checked first: priority order is kept). A job that became ready
-- behind the cursor (an enqueue whose run_at is older than the cursor's, a debounce
-- moving run_at back) is claimed when the claim from the cursor comes back short (it
-- then goes on from the index's start, in the same call) or when the caller drops its
-- cursor: maef-worker drops it at every poll interval, so such a job waits at most
-- that long on a queue busy enough never to come back short.
create function api.complete_and_claim_jobs(p_job_ids bigint[], p_attempts integer[],
                                            p_worker text, p_kinds text[], p_limit integer,
                                            p_lease interval default '30 seconds', p_queues text[] default null,
                                            p_after_priority smallint default null,
                                            p_after_run_at timestamptz default null,
                                            p_after_id bigint default null)
returns table (job_id bigint, kind text, payload jsonb, attempt integer, locked_until timestamptz,
               timeout interval, queue text, done_count integer, priority smallint, run_at timestamptz)
language plpgsql security definer
set search_path = '' as $$
declare
    v_done integer := 0;
    v_claimed integer := 0;
    v_rows integer;
    v_ctids tid[];
begin
    if cardinality(p_job_ids) > 0 then
        select count(*) into v_done from api.complete_jobs(p_job_ids, p_attempts);
    end if;
    perform api.rescue_expired_jobs();
    -- Pass 1 from the cursor (if any, and no higher priority is ready); pass 2 from the
    -- index's start for what pass 1 did not fill. Pass 1's rows are running by then, so
    -- pass 2 cannot take them again.
    for v_pass in 1 .. 2 loop
        if v_pass = 1 then
            continue when p_after_id is null or p_limit <= 0;
            -- A ready job of a higher priority? Ordered as the index, so that even the
            -- generic plan walks its few entries before the cursor's priority (as an
            -- EXISTS, it scanned the whole table).
            perform from shop.job_queue r
            where r.status = 'pending' and r.priority > p_after_priority and r.run_at <= now()
              and (p_kinds is null or r.kind = any (p_kinds)) and (p_queues is null or r.queue = any (p_queues))
            order by r.priority desc, r.run_at, r.job_id
            limit 1;
            continue when found;
            v_ctids := array(
                select r.ctid
                from shop.job_queue r
                where r.status = 'pending' and r.priority = p_after_priority
                  and (r.run_at, r.job_id) > (p_after_run_at, p_after_id) and r.run_at <= now()
                  and (p_kinds is null or r.kind = any (p_kinds)) and (p_queues is null or r.queue = any (p_queues))
                order by r.run_at, r.job_id
                limit p_limit
                for update skip locked);
        else
            exit when v_claimed >= p_limit;
            v_ctids := array(
                select r.ctid
                from shop.job_queue r
                where r.status = 'pending' and r.run_at <= now()
                  and (p_kinds is null or r.kind = any (p_kinds)) and (p_queues is null or r.queue = any (p_queues))
                order by r.priority desc, r.run_at, r.job_id
                limit greatest(p_limit - v_claimed, 0)
                for update skip locked);
        end if;
        continue when cardinality(v_ctids) = 0;
        return query
        with claimed as (
            update shop.job_queue j
            set status = 'running', attempt = j.attempt + 1, locked_by = p_worker,
                locked_until = now() + p_lease, attempted_at = now(), updated_at = now()
            where j.ctid = any (v_ctids)
            returning j.job_id, j.kind, j.payload, j.attempt, j.locked_until, j.queue, j.priority, j.run_at
        )
        select c.job_id, c.kind, c.payload, c.attempt, c.locked_until,
               coalesce(k.timeout, interval '5 minutes'), c.queue, v_done, c.priority, c.run_at
        from claimed c left join shop.job_kind k on k.kind = c.kind
        order by c.job_id;
        get diagnostics v_rows = row_count;
        v_claimed := v_claimed + v_rows;
    end loop;
    if v_claimed = 0 then
        return query select null::bigint, null::text, null::jsonb, null::integer, null::timestamptz,
                            null::interval, null::text, v_done, null::smallint, null::timestamptz;
    end if;
end
$$;
comment on function api.complete_and_claim_jobs(bigint[], integer[], text, text[], integer, interval, text[], smallint, timestamptz, bigint) is
    'One round trip for a worker: completes the finished jobs (as complete_jobs: ids paired with attempts), then claims up to p_limit jobs (as claim_jobs), starting after the cursor p_after_priority/p_after_run_at/p_after_id (the last job of the previous claim, in claim order) unless a higher priority is ready, then from the ready index''s start if short. done_count says how many completions were accepted; with nothing claimed, one row of nulls carries it.';

-- One job: true when completed, false when the attempt is stale.
create function api.complete_job(p_job_id bigint, p_attempt integer)
returns boolean
language sql security definer
set search_path = '' as $$
    select exists (select from api.complete_jobs(array[p_job_id], array[p_attempt]))
$$;
comment on function api.complete_job(bigint, integer) is
    'Completes a running job if p_attempt is still its current attempt; false when the attempt is stale.';

-- The retry delay after failed attempt n (n >= 1), before jitter:
--   n^4 + 3 seconds, capped at 7 days: 4 s, 19 s, 84 s, 259 s, 628 s, … (25 attempts
--   span about 19 days). Jitter adds up to 10% so failing batches spread out.
create function api.job_backoff(p_attempt integer)
returns interval
language sql immutable parallel safe
set search_path = '' as $$
    select least(power(greatest(p_attempt, 1), 4) + 3, 7 * 86400) * interval '1 second'
$$;
comment on function api.job_backoff(integer) is
    'Retry delay after failed attempt n, before jitter: least(n^4 + 3 s, 7 days); fail_job adds 0-10% jitter.';

-- Records a failed attempt: the job runs again after job_backoff(attempt) plus up to
-- 10% jitter (or after p_retry_in when given), or is discarded (dead letter, kept for
-- inspection) once max_attempts is reached. Returns false for a stale attempt.
create function api.fail_job(p_job_id bigint, p_attempt integer, p_error text,
                             p_retry_in interval default null)
returns boolean
language plpgsql security definer
set search_path = '' as $$
declare
    v_job shop.job_queue;
begin
    select * into v_job from shop.job_queue
    where job_id = p_job_id and attempt = p_attempt and status = 'running'
    for update;
    if not found then
        return false;
    end if;
    update shop.job_queue
    set status = case when attempt >= max_attempts then 'discarded' else 'pending' end,
        run_at = case when attempt >= max_attempts then run_at
                      else now() + coalesce(p_retry_in, api.job_backoff(attempt) * (1 + random() * 0.1)) end,
        locked_until = null, last_error = p_error,
        finished_at = case when attempt >= max_attempts then now() end, updated_at = now()
    where job_id = p_job_id;
    insert into shop.job_attempt (job_id, attempt, worker, started_at, ready_at, finished_at, ok, error, kind, queue, unique_key)
    values (p_job_id, p_attempt, v_job.locked_by, v_job.attempted_at, v_job.run_at, now(), false, p_error,
            v_job.kind, v_job.queue, v_job.unique_key);
    return true;
end
$$;
comment on function api.fail_job(bigint, integer, text, interval) is
    'Records a failed attempt: retried after job_backoff(attempt) = least(attempt^4 + 3 s, 7 days) plus 0-10% jitter (or p_retry_in), or discarded after max_attempts; false when the attempt is stale.';

-- Extends the leases of jobs a worker is still running (long jobs call it every third
-- of their lease). Returns the ids still held; a missing id was lost (lease expired and
-- rescued, or cancelled) and its worker should stop working on it.
create function api.heartbeat_jobs(p_worker text, p_job_ids bigint[], p_attempts integer[],
                                   p_lease interval default '30 seconds')
returns table (job_id bigint)
language plpgsql security definer
set search_path = '' as $$
begin
    return query
    update shop.job_queue j
    set locked_until = now() + p_lease, updated_at = now()
    from unnest(p_job_ids, p_attempts) as t(job_id, attempt)
    where j.job_id = t.job_id and j.attempt = t.attempt and j.locked_until is not null -- running: see complete_jobs
      and j.locked_by = p_worker
    returning j.job_id;
end
$$;
comment on function api.heartbeat_jobs(text, bigint[], integer[], interval) is
    'Extends the leases of running jobs held by p_worker with these attempts; returns the ids still held.';

-- A stopping worker gives back jobs it will not finish: they are pending again at once
-- and the attempt is not counted as a failure (max_attempts grows by one, as Oban's
-- snooze does, while the attempt number keeps fencing the old holder out).
create function api.release_jobs(p_worker text, p_job_ids bigint[], p_attempts integer[])
returns integer
language plpgsql security definer
set search_path = '' as $$
declare
    v_count integer;
    v_queues text[];
    v_queue text;
begin
    with released as (
        update shop.job_queue j
        set status = 'pending', run_at = now(), locked_until = null, max_attempts = j.max_attempts + 1,
            updated_at = now()
        from unnest(p_job_ids, p_attempts) as t(job_id, attempt)
        where j.job_id = t.job_id and j.attempt = t.attempt and j.locked_until is not null -- running: see complete_jobs
          and j.locked_by = p_worker
        returning j.job_id, j.attempt, j.attempted_at, j.queue, j.kind, j.unique_key
    ), attempts as (
        insert into shop.job_attempt (job_id, attempt, worker, started_at, finished_at, ok, error, kind, queue, unique_key)
        select r.job_id, r.attempt, p_worker, r.attempted_at, now(), null, 'released: worker stopping', r.kind, r.queue,
               r.unique_key
        from released r
    )
    select count(*), array(select distinct r.queue from released r) into v_count, v_queues from released;
    foreach v_queue in array v_queues loop
        perform api._notify_jobs(v_queue, 1);
    end loop;
    return v_count;
end
$$;
comment on function api.release_jobs(text, bigint[], integer[]) is
    'Gives running jobs back (pending now) without counting a failed attempt; used by a stopping worker. Returns how many.';

-- Cancels a pending or running job (a running job's worker finds its attempt stale and
-- stops at its next heartbeat). False when the job had already finished (a completed
-- job has no row any more: MA404 names its history).
create function api.cancel_job(p_job_id bigint)
returns boolean
language plpgsql security definer
set search_path = '' as $$
declare
    v_job shop.job_queue;
begin
    select * into v_job from shop.job_queue where job_id = p_job_id for update;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'job_not_found',
            message = format('job %s does not exist', p_job_id),
            hint = 'A completed job leaves shop.job_queue: its history is in shop.job_attempt (report.jobs).';
    end if;
    if v_job.status not in ('pending', 'running') then
        return false;
    end if;
    update shop.job_queue set status = 'cancelled', locked_until = null, finished_at = now(), updated_at = now()
    where job_id = p_job_id;
    if v_job.status = 'running' then
        insert into shop.job_attempt (job_id, attempt, worker, started_at, finished_at, ok, error, kind, queue, unique_key)
        values (p_job_id, v_job.attempt, v_job.locked_by, v_job.attempted_at, now(), false, 'cancelled',
                v_job.kind, v_job.queue, v_job.unique_key);
    end if;
    return true;
end
$$;
comment on function api.cancel_job(bigint) is
    'Cancels a pending or running job; false if it had already finished; MA404 job_not_found.';

-- Runs a job again now: a discarded or cancelled job becomes pending (with one more
-- attempt allowed if it ran out), a pending one is moved to now. MA409 while it is
-- running; MA404 for a completed job (its row is gone: enqueue it anew); 23505 if
-- another pending job holds its unique key.
create function api.retry_job(p_job_id bigint)
returns boolean
language plpgsql security definer
set search_path = '' as $$
declare
    v_job shop.job_queue;
begin
    select * into v_job from shop.job_queue where job_id = p_job_id for update;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'job_not_found',
            message = format('job %s does not exist', p_job_id),
            hint = 'A completed job leaves shop.job_queue: its history is in shop.job_attempt (report.jobs).';
    end if;
    if v_job.status = 'running' then
        raise exception using errcode = 'MA409', constraint = 'job_running',
            message = format('job %s is running', p_job_id);
    end if;
    update shop.job_queue
    set status = 'pending', run_at = now(), finished_at = null, locked_until = null, updated_at = now(),
        max_attempts = greatest(max_attempts, attempt + 1)
    where job_id = p_job_id;
    perform api._notify_jobs(v_job.queue, 1);
    return true;
end
$$;
comment on function api.retry_job(bigint) is
    'Makes a discarded, cancelled or pending job run now (one more attempt if exhausted); MA404 job_not_found (also for a completed job, whose row is gone), MA409 job_running.';

-- Deletes the history older than p_older_than: dead letters (discarded, cancelled job
-- rows) and attempt rows, among them the completed jobs' (whose ok attempt is all that
-- is left of them). At most p_limit rows of each per call, so each call is a short
-- transaction: call until it returns less than p_limit. Returns the finished jobs
-- deleted: dead letters plus completed jobs' attempt rows.
create function api.prune_jobs(p_older_than interval default '7 days', p_limit integer default 10000)
returns bigint
language plpgsql security definer
set search_path = '' as $$
declare
    v_dead bigint;
    v_completed bigint;
    v_dropped bigint;
begin
    delete from shop.job_queue where job_id in (
        select job_id from shop.job_queue
        where status in ('discarded', 'cancelled') and finished_at < now() - p_older_than
        order by finished_at limit p_limit);
    get diagnostics v_dead = row_count;
    -- No order: the BRIN index finds old rows but cannot sort them, and any p_limit of
    -- them will do.
    -- Whole months past the period go as partitions (V33); the rest row by row.
    v_dropped := (api._drop_expired_partitions('job_attempt', now() - p_older_than)).ok_rows;
    with pruned as (
        delete from shop.job_attempt where (job_id, attempt, finished_at) in (
            select job_id, attempt, finished_at from shop.job_attempt
            where finished_at < now() - p_older_than limit p_limit)
        returning ok
    )
    select count(*) filter (where ok) into v_completed from pruned;
    return v_dead + v_completed + v_dropped;
end
$$;
comment on function api.prune_jobs(interval, integer) is
    'Deletes up to p_limit dead letters (discarded, cancelled jobs) and p_limit attempt rows (the completed jobs'' history among them) older than p_older_than; returns the finished jobs deleted (dead letters plus completed jobs).';

-- Deletes expired idempotency keys (their replay window is over).
create function api.prune_expired_idempotency_keys(p_limit integer default 10000)
returns bigint
language plpgsql security definer
set search_path = '' as $$
declare
    v_count bigint;
begin
    delete from shop.idempotency_key where (scope, key) in (
        select scope, key from shop.idempotency_key where expires_at < now()
        order by expires_at limit p_limit);
    get diagnostics v_count = row_count;
    return v_count;
end
$$;
comment on function api.prune_expired_idempotency_keys(integer) is
    'Deletes up to p_limit expired shop.idempotency_key rows; returns how many.';

-- Refreshes every materialized view of schemas shop and report (today
-- shop.popular_products and shop.category_counts, migration V5). Concurrently when the
-- view has a unique index, so readers are never blocked.
create function api.refresh_materialized_views()
returns integer
language plpgsql security definer
set search_path = '' as $$
declare
    v record;
    v_count integer := 0;
begin
    for v in
        select m.schemaname, m.matviewname, m.ispopulated,
               exists (select from pg_index i
                       where i.indrelid = format('%I.%I', m.schemaname, m.matviewname)::regclass
                         and i.indisunique) as has_unique
        from pg_matviews m where m.schemaname in ('shop', 'report')
    loop
        execute format('refresh materialized view %s %I.%I',
                       case when v.has_unique and v.ispopulated then 'concurrently' else '' end,
                       v.schemaname, v.matviewname);
        v_count := v_count + 1;
    end loop;
    return v_count;
end
$$;
comment on function api.refresh_materialized_views() is
    'Refreshes every materialized view of schemas shop and report (concurrently when possible); returns how many.';

-- One cron field as the sorted list of values it allows: '*', 'a', 'a-b', '*/n',
-- 'a-b/n', 'a/n' and comma lists of those. Numbers only (no month or day names).
create function api._cron_field(p_field text, p_min integer, p_max integer)
returns integer[]
language plpgsql immutable
set search_path = '' as $$
declare
    v_part text;
    v_m text[];
    v_lo integer;
    v_hi integer;
    v_step integer;
    v_out integer[] := '{}';
begin
    foreach v_part in array string_to_array(p_field, ',') loop
        v_m := regexp_match(v_part, '^(\*|(\d+)(?:-(\d+))?)(?:/(\d+))?$');
        if v_m is null then
            raise exception using errcode = '22023', message = format('bad cron field %L', p_field);
        end if;
        v_step := coalesce(v_m[4]::integer, 1);
        if v_m[1] = '*' then
            v_lo := p_min; v_hi := p_max;
        else
            v_lo := v_m[2]::integer;
            v_hi := coalesce(v_m[3]::integer, case when v_m[4] is null then v_lo else p_max end);
        end if;
        if v_lo < p_min or v_hi > p_max or v_lo > v_hi or v_step < 1 then
            raise exception using errcode = '22023', message = format('bad cron field %L (range %s-%s)', p_field, p_min, p_max);
        end if;
        v_out := v_out || array(select generate_series(v_lo, v_hi, v_step));
    end loop;
    return array(select distinct x from unnest(v_out) x order by x);
end
$$;
comment on function api._cron_field(text, integer, integer) is 'Private: values allowed by one cron field.';

-- The first minute strictly after p_after matched by a 5-field cron expression
-- (minute hour day-of-month month day-of-week, UTC). As in Vixie cron, when both
-- day-of-month and day-of-week are restricted, a day matching either runs.
create function api.cron_next(p_cron text, p_after timestamptz)
returns timestamptz
language plpgsql immutable
set search_path = '' as $$
declare
    v_f text[] := regexp_split_to_array(trim(p_cron), '\s+');
    v_minutes integer[];
    v_hours integer[];
    v_doms integer[];
    v_months integer[];
    v_dows integer[];
    v_start timestamp := date_trunc('minute', p_after at time zone 'UTC') + interval '1 minute';
    v_day date := v_start::date;
    v_h integer;
    v_m integer;
    v_dom_ok boolean;
    v_dow_ok boolean;
    v_day_ok boolean;
begin
    if array_length(v_f, 1) is distinct from 5 then
        raise exception using errcode = '22023', message = format('cron expression %L needs 5 fields', p_cron);
    end if;
    v_minutes := api._cron_field(v_f[1], 0, 59);
    v_hours := api._cron_field(v_f[2], 0, 23);
    v_doms := api._cron_field(v_f[3], 1, 31);
    v_months := api._cron_field(v_f[4], 1, 12);
    v_dows := array(select distinct x % 7 from unnest(api._cron_field(v_f[5], 0, 7)) x);
    -- Walk days (at most 5 years: '0 0 29 2 *' needs 4), then hours and minutes.
    for i in 0 .. 5 * 366 loop
        if extract(month from v_day)::integer = any (v_months) then
            v_dom_ok := extract(day from v_day)::integer = any (v_doms);
            v_dow_ok := extract(dow from v_day)::integer = any (v_dows);
            v_day_ok := (v_f[3] <> '*' and v_f[5] <> '*' and (v_dom_ok or v_dow_ok))
                        or ((v_f[3] = '*' or v_f[5] = '*') and v_dom_ok and v_dow_ok);
            if v_day_ok then
                foreach v_h in array v_hours loop
                    continue when v_day = v_start::date and v_h < extract(hour from v_start);
                    foreach v_m in array v_minutes loop
                        continue when v_day = v_start::date and v_h = extract(hour from v_start)
                                      and v_m < extract(minute from v_start);
                        return (v_day + make_interval(hours => v_h, mins => v_m)) at time zone 'UTC';
                    end loop;
                end loop;
            end if;
        end if;
        v_day := v_day + 1;
    end loop;
    raise exception using errcode = '22023', message = format('cron expression %L never runs', p_cron);
end
$$;
comment on function api.cron_next(text, timestamptz) is
    'First minute strictly after p_after matched by a 5-field cron expression (UTC; day-of-month or day-of-week as in Vixie cron).';

-- Enqueues every due schedule once and moves it to its next time bucket. Any number of
-- workers call this every poll: the schedule row is locked (SKIP LOCKED) and advanced in
-- the same transaction as the enqueue, so a bucket is enqueued once without a leader;
-- the job's unique key names the bucket as a second guard. Missed buckets (no worker
-- was running) are not caught up: one job runs, then the schedule moves past now().
create function api.enqueue_due_schedules()
returns integer
language plpgsql security definer
set search_path = '' as $$
declare
    s shop.job_schedule;
    v_job_id bigint;
    v_count integer := 0;
begin
    for s in
        select * from shop.job_schedule
        where enabled and next_run_at <= now()
        order by next_run_at
        for update skip locked
    loop
        v_job_id := api.enqueue_job(s.kind, s.payload, s.queue, s.priority, s.next_run_at, 25,
            format('schedule:%s@%s', s.name, to_char(s.next_run_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')));
        update shop.job_schedule
        set last_run_at = s.next_run_at, last_job_id = v_job_id,
            next_run_at = case
                when s.every is not null then
                    s.next_run_at + s.every * (floor(extract(epoch from now() - s.next_run_at)
                                                     / extract(epoch from s.every)) + 1)
                else api.cron_next(s.cron, greatest(now(), s.next_run_at)) end
        where name = s.name;
        v_count := v_count + 1;
    end loop;
    return v_count;
end
$$;
comment on function api.enqueue_due_schedules() is
    'Enqueues each due schedule once (unique key schedule:<name>@<bucket>) and advances next_run_at past now(); safe to call from every worker. Returns how many were enqueued.';

-- ---------------------------------------------------------------- who may call these
-- Deny by default: maef-api migrate revokes EXECUTE from PUBLIC, so a function is
-- callable only by its owner (maef-worker, DBAs) until it is granted here.
-- Not granted (owner only: the worker, DBAs, other SECURITY DEFINER functions):
--   api.enqueue_job, api.enqueue_jobs, api.rescue_expired_jobs, api.claim_jobs, api.complete_jobs,
--   api.complete_and_claim_jobs, api.complete_job, api.job_backoff, api.fail_job,
--   api.heartbeat_jobs, api.release_jobs, api.cancel_job, api.retry_job, api.prune_jobs,
--   api.prune_expired_idempotency_keys, api.refresh_materialized_views, api.cron_next,
--   api.enqueue_due_schedules.
