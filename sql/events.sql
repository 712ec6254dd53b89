-- Domain events: the transactional outbox (migration V20, docs/events.md).
--
-- Writers: SECURITY DEFINER functions of each domain call api._emit_event in the
-- transaction of the change, so an event exists if and only if its change committed.
-- Readers: api.events_after (a psql consumer tailing the stream), api.dispatch_events
-- (maef-worker: one webhook delivery per subscribed endpoint), the admin listing.
--
-- Order and the late-commit gap: event ids are allocated when the row is inserted, not
-- when its transaction commits, so a consumer reading "id > cursor" would skip an event
-- whose transaction committed after a higher id became visible. Consumers read instead
-- in (xid, event_id) order, xid being the writing transaction's id, and only events
-- whose xid is below the horizon (api._event_horizon): the oldest transaction of this
-- database still running. Every transaction below it has ended, so no event can appear
-- behind the cursor any more. The price: an event is readable only once every
-- transaction of this database that took an id before its own has ended (a
-- long-running writing transaction delays consumers, never writers).
--
-- Wake-ups: NOTIFY maef_events, once per transaction, payload
-- {"event_id": first id, "type": first type}; a hint only (consumers also poll).

-- Sends maef_events' notification unless this transaction already did (tracked in a
-- transaction-local setting, so a rolled-back savepoint forgets it together with its
-- notification), as api._notify_jobs does for the job queue — and unless another
-- transaction of this database is notifying right now. NOTIFY holds a server-wide lock
-- from the commit's start to its end, WAL flush included, so notifying transactions
-- commit one at a time (measured by make bench-events: an order-like transaction went
-- from 1,960 to 1,250 tx/s with a NOTIFY each). A consumer woken by one notification
-- reads everything committed by then, so one notifier at a time is enough while
-- events keep coming; a transaction that finds the advisory lock taken stays silent,
-- and its events are read at the consumer's next wake-up or poll (WORKER_POLL_MS).
create function api._notify_events(p_event_id bigint, p_type text)
returns void
language plpgsql
set search_path = '' as $$
begin
    if coalesce(current_setting('maef.events_notified', true), '') <> 'on' then
        perform set_config('maef.events_notified', 'on', true);
        if pg_try_advisory_xact_lock(7881692313338408564) then -- 'maefevnt'
            perform pg_notify('maef_events', json_build_object('event_id', p_event_id, 'type', p_type)::text);
        end if;
    end if;
end
$$;
comment on function api._notify_events(bigint, text) is
    'Private: NOTIFY maef_events once per transaction ({event_id, type} of its first event), skipped while another transaction of the database holds the notifier''s advisory lock (NOTIFY serialises commits).';

-- Writes one event in the caller's transaction and returns its id. Called by the
-- SECURITY DEFINER functions that make the change (never granted): p_type must be a
-- row of shop.event_type (23503 event_type_fkey otherwise), p_payload an object
-- following the type's schema in docs/events.md, p_version that schema's version.
create function api._emit_event(p_type text, p_aggregate_type text, p_aggregate_id text, p_payload jsonb,
                                p_version smallint default 1)
returns bigint
language plpgsql
set search_path = '' as $$
declare
    v_event_id bigint;
begin
    insert into shop.event (type, version, aggregate_type, aggregate_id, payload)
    values (p_type, coalesce(p_version, 1), p_aggregate_type, p_aggregate_id, coalesce(p_payload, '{}'))
    returning event_id into v_event_id;
    perform api._notify_events(v_event_id, p_type);
    return v_event_id;
end
$$;
comment on function api._emit_event(text, text, text, jsonb, smallint) is
    'Private: writes a domain event (type from shop.event_type, payload per docs/events.md) in the caller''s transaction; returns its id. NOTIFY maef_events once per transaction.';

-- The consumers' horizon: no event with a smaller xid can ever appear. It is the
-- snapshot's xmax, or the oldest transaction still running in it, leaving out those
-- known to run in another database of the server (a transaction writes to one
-- database only, so theirs cannot be our events; without this, one idle session in
-- any database would stall every consumer). Known: its transaction-id lock is held
-- by a backend connected to another database. Anything not known (a prepared
-- transaction, a lock not seen) counts: the horizon is only ever too low, which delays
-- and never skips.
create function api._event_horizon()
returns xid8
language sql stable
set search_path = '' as $$
    with snapshot as (
        select pg_catalog.pg_current_snapshot() as s
    ), elsewhere as (
        select l.transactionid::text as xid32
        from pg_catalog.pg_locks l
        join pg_catalog.pg_stat_activity a on a.pid = l.pid
        where l.locktype = 'transactionid' and l.mode = 'ExclusiveLock' and l.granted
          and a.datid is distinct from (select d.oid from pg_catalog.pg_database d
                                        where d.datname = pg_catalog.current_database())
    )
    select coalesce(
        (select min(x) from snapshot, pg_catalog.pg_snapshot_xip(snapshot.s) x
         where (x::text::numeric % 4294967296)::text not in (select xid32 from elsewhere)),
        (select pg_catalog.pg_snapshot_xmax(s) from snapshot))
$$;
comment on function api._event_horizon() is
    'Private: the xid below which every transaction of this database has ended (other databases'' running transactions left out): consumers read events below it.';

-- A consumer's cursor: '<xid>:<event_id>' of the last event it handled.
create function api._parse_event_cursor(p_cursor text, out o_xid xid8, out o_event_id bigint)
language plpgsql immutable
set search_path = '' as $$
begin
    if p_cursor is null or p_cursor = '' then
        o_xid := '0';
        o_event_id := 0;
        return;
    end if;
    if p_cursor !~ '^[0-9]{1,20}:[0-9]{1,19}$' then
        raise exception using errcode = 'MA422', constraint = 'invalid_cursor',
            message = 'cursor is not one returned by api.events_after (<xid>:<event_id>)';
    end if;
    o_xid := split_part(p_cursor, ':', 1)::xid8;
    o_event_id := split_part(p_cursor, ':', 2)::bigint;
end
$$;
comment on function api._parse_event_cursor(text) is 'Private: the (xid, event_id) of an events_after cursor; MA422 invalid_cursor.';

-- The events after a cursor, oldest first, that no running transaction can still
-- precede: (xid, event_id) > cursor and xid below api._event_horizon().
-- Each row carries its own cursor; pass the last one to the next call (null: from the
-- oldest event kept). Gap-free: a consumer that always passes the last cursor it got
-- sees every committed event exactly once, however transactions overlap.
create function api.events_after(p_cursor text default null, p_limit integer default 100)
returns table (event_id bigint, type text, version smallint, aggregate_type text, aggregate_id text,
               occurred_at timestamptz, payload jsonb, cursor text)
language plpgsql stable security definer
set search_path = '' as $$
declare
    v_after record;
    v_horizon xid8 := api._event_horizon();
begin
    select * into v_after from api._parse_event_cursor(p_cursor);
    if coalesce(p_limit, 0) not between 1 and 10000 then
        raise exception using errcode = 'MA422', constraint = 'invalid_limit',
            message = 'limit must be between 1 and 10000';
    end if;
    return query
    select e.event_id, e.type, e.version, e.aggregate_type, e.aggregate_id, e.occurred_at, e.payload,
           e.xid::text || ':' || e.event_id
    from shop.event e
    where (e.xid, e.event_id) > (v_after.o_xid, v_after.o_event_id)
      and e.xid < v_horizon
    order by e.xid, e.event_id
    limit p_limit;
end
$$;
comment on function api.events_after(text, integer) is
    'Tails the events: those after the cursor (null: from the oldest kept), oldest first, only below the oldest transaction of this database still running, so a late commit never lands behind a cursor. Each row has its cursor; pass the last one next. MA422 invalid_cursor, invalid_limit.';

-- Whether an event type matches an endpoint's subscriptions: the type itself, its
-- family ('order.*') or '*'.
create function api._event_type_matches(p_type text, p_patterns text[])
returns boolean
language sql immutable parallel safe
set search_path = '' as $$
    select '*' = any (p_patterns) or p_type = any (p_patterns)
           or split_part(p_type, '.', 1) || '.*' = any (p_patterns)
$$;
comment on function api._event_type_matches(text, text[]) is
    'Private: true when the type is subscribed by one of the patterns (the type, ''family.*'' or ''*'').';

-- The webhook dispatcher (maef-worker runs it on each maef_events notification and
-- each poll): reads up to p_limit events after the 'webhooks' consumer's cursor (as
-- events_after), creates one delivery per event and enabled endpoint subscribed to its
-- type (endpoints created after the event do not get it) with its deliver_webhook job,
-- and moves the cursor, in one transaction. The cursor row is locked SKIP LOCKED, so
-- concurrent workers never dispatch the same events (one of them returns 0), and the
-- unique (event, endpoint) key is a second guard. Returns the events consumed.
create function api.dispatch_events(p_limit integer default 500)
returns integer
language plpgsql security definer
set search_path = '' as $$
declare
    v_consumer shop.event_consumer;
    v_ids bigint[];
    v_last_xid xid8;
    v_last_id bigint;
    v_jobs bigint;
    v_horizon xid8;
begin
    select * into v_consumer from shop.event_consumer where name = 'webhooks' for update skip locked;
    if not found then
        return 0; -- another worker is dispatching
    end if;
    v_horizon := api._event_horizon();
    select array_agg(b.event_id order by b.xid, b.event_id),
           (array_agg(b.xid order by b.xid desc, b.event_id desc))[1],
           (array_agg(b.event_id order by b.xid desc, b.event_id desc))[1]
    into v_ids, v_last_xid, v_last_id
    from (select e.event_id, e.xid from shop.event e
          where (e.xid, e.event_id) > (v_consumer.after_xid, v_consumer.after_event_id)
            and e.xid < v_horizon
          order by e.xid, e.event_id
          limit p_limit) b;
    if v_ids is null then
        return 0;
    end if;
    with deliveries as (
        insert into shop.webhook_delivery (event_id, webhook_endpoint_id)
        select e.event_id, w.webhook_endpoint_id
        from shop.event e
        join shop.webhook_endpoint w
          on w.enabled and w.created_at <= e.occurred_at and api._event_type_matches(e.type, w.event_types)
        where e.event_id = any (v_ids)
        order by e.event_id, w.webhook_endpoint_id
        on conflict (event_id, webhook_endpoint_id) do nothing
        returning webhook_delivery_id
    )
    select count(*) into v_jobs
    from api.enqueue_jobs((select coalesce(jsonb_agg(jsonb_build_object(
                               'kind', 'deliver_webhook', 'queue', 'webhooks', 'max_attempts', 1000,
                               'payload', jsonb_build_object('webhook_delivery_id', d.webhook_delivery_id),
                               'unique_key', 'webhook_delivery:' || d.webhook_delivery_id)), '[]')
                           from deliveries d));
    update shop.event_consumer set after_xid = v_last_xid, after_event_id = v_last_id where name = 'webhooks';
    return cardinality(v_ids);
end
$$;
comment on function api.dispatch_events(integer) is
    'maef-worker''s webhook dispatcher: one delivery (and deliver_webhook job) per event and subscribed enabled endpoint, for up to p_limit events after the webhooks consumer''s cursor, which it moves; concurrent callers skip (0). Returns the events consumed.';

-- Deletes events older than events.retention_days (their webhook deliveries and
-- attempts with them), at most p_limit per call: call until it returns less.
create function api.prune_events(p_limit integer default 10000)
returns bigint
language plpgsql security definer
set search_path = '' as $$
declare
    v_count bigint;
begin
    delete from shop.event where event_id in (
        select event_id from shop.event
        where occurred_at < now() - make_interval(days => api._setting_int('events.retention_days')::integer)
        limit p_limit);
    get diagnostics v_count = row_count;
    perform api._count_retention('events', v_count);  -- report.retention (sql/privacy.sql)
    return v_count;
end
$$;
comment on function api.prune_events(integer) is
    'Deletes up to p_limit events older than events.retention_days (with their webhook deliveries); returns how many.';

-- ---------------------------------------------------------------- administration

-- The events, newest first (keyset by id), optionally of one type or one aggregate:
-- for looking, not tailing (use api.events_after to consume).
create function api.admin_list_events(p_limit integer default 50, p_before bigint default null,
                                      p_type text default null, p_aggregate_type text default null,
                                      p_aggregate_id text default null)
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    v_limit integer := coalesce(p_limit, 50);
    v_page jsonb;
begin
    perform api._require_scope('webhooks:write');
    if v_limit not between 1 and 200 then
        raise exception using errcode = 'MA422', constraint = 'invalid_limit',
            message = 'limit must be between 1 and 200';
    end if;
    select jsonb_build_object(
        'items', coalesce(jsonb_agg(jsonb_build_object(
                     'id', s.event_id, 'type', s.type, 'version', s.version,
                     'aggregate', jsonb_build_object('type', s.aggregate_type, 'id', s.aggregate_id),
                     'occurred_at', s.occurred_at, 'payload', s.payload) order by s.event_id desc)
                 filter (where s.n <= v_limit), '[]'::jsonb),
        'next_cursor', case when count(*) > v_limit then
                           (min(s.event_id) filter (where s.n <= v_limit))::text end)
    into v_page
    from (select e.*, row_number() over (order by e.event_id desc) as n
          from shop.event e
          where (p_before is null or e.event_id < p_before)
            and (p_type is null or e.type = p_type)
            and (p_aggregate_type is null or e.aggregate_type = p_aggregate_type)
            and (p_aggregate_id is null or e.aggregate_id = p_aggregate_id)
          order by e.event_id desc
          limit v_limit + 1) s;
    return v_page;
end
$$;
comment on function api.admin_list_events(integer, bigint, text, text, text) is
    'Events newest first {items, next_cursor} (pass next_cursor as p_before); filters type and aggregate. Needs webhooks:write.';

-- The event types an endpoint may subscribe to, with their payload versions.
create function api.admin_list_event_types()
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
begin
    perform api._require_scope('webhooks:write');
    return (select jsonb_build_object('items', coalesce(jsonb_agg(jsonb_build_object(
                       'type', t.type, 'version', t.version, 'aggregate_type', t.aggregate_type,
                       'description', t.description) order by t.type), '[]'::jsonb))
            from shop.event_type t);
end
$$;
comment on function api.admin_list_event_types() is 'Every event type with its payload version and description. Needs webhooks:write.';

-- ---------------------------------------------------------------- who may call these
-- Deny by default: maef-api migrate revokes EXECUTE from PUBLIC, so a function is
-- callable only by its owner (maef-worker, DBAs) until it is granted here.
-- Admins (each function checks webhooks:write):
grant execute on function
    api.admin_list_events(integer,bigint,text,text,text),
    api.admin_list_event_types()
    to maef_admin;
-- Not granted (owner only: maef-worker, DBAs and psql consumers, other SECURITY
-- DEFINER functions): api.events_after, api.dispatch_events, api.prune_events.
