-- Outbound webhooks (migration V21, docs/events.md): endpoints, their signing secrets,
-- deliveries and the delivery log.
--
-- Admins manage endpoints over HTTP (webhooks:write, audited). maef-api checks a URL's
-- addresses (no loopback, private, link-local or metadata address) before calling
-- these functions, and maef-worker checks them again at each delivery (DNS may have
-- changed); SQL checks the URL's shape only, since it cannot resolve names.
--
-- A delivery's life: pending (one deliver_webhook job; api.webhook_delivery_begin hands
-- the worker the URL, body and secrets; api.webhook_delivery_record logs the attempt
-- and decides) → succeeded (2xx) | pending again after a backoff delay (any other
-- answer or none) | failed (the retry window is over, or the endpoint answered 410 or
-- was disabled while failing) | cancelled (the endpoint was disabled or deleted).

-- A new signing secret: `whsec_` + base64 of 32 bytes. PostgreSQL 15 has no
-- gen_random_bytes without pgcrypto: the bytes are the SHA-256 of two random UUIDs
-- (gen_random_uuid draws from pg_strong_random: 244 random bits), within the 24 to 64
-- bytes Standard Webhooks asks for.
create function api._webhook_new_secret()
returns text
language sql volatile
set search_path = '' as $$
    select 'whsec_' || encode(sha256(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())), 'base64')
$$;

-- The admin view of an endpoint (never its secrets: only when they were made and until
-- when a rotated one is still valid).
create function api._webhook_endpoint_json(p_endpoint_id bigint)
returns jsonb
language sql stable
set search_path = '' as $$
    select jsonb_build_object(
        'id', w.webhook_endpoint_id, 'url', w.url, 'description', w.description,
        'event_types', to_jsonb(w.event_types), 'enabled', w.enabled,
        'disabled_at', w.disabled_at, 'disabled_reason', w.disabled_reason,
        'failing_since', w.failing_since, 'last_success_at', w.last_success_at,
        'created_at', w.created_at, 'updated_at', w.updated_at,
        'secrets', coalesce((select jsonb_agg(jsonb_build_object('created_at', s.created_at, 'expires_at', s.expires_at)
                                              order by s.created_at desc)
                             from shop.webhook_secret s
                             where s.webhook_endpoint_id = w.webhook_endpoint_id
                               and (s.expires_at is null or s.expires_at > now())), '[]'::jsonb))
    from shop.webhook_endpoint w where w.webhook_endpoint_id = p_endpoint_id
$$;

-- Checks the fields of an endpoint (create: p_creating, url required) and returns the
-- event types as an array when given. Patterns: a type of shop.event_type, a family
-- ('order.*') of at least one type, or '*'.
create function api._webhook_check_fields(p_fields jsonb, p_creating boolean)
returns text[]
language plpgsql stable
set search_path = '' as $$
declare
    v_url text;
    v_types text[];
    v_bad text;
begin
    perform api._reject_unknown(p_fields, '$', array['url', 'description', 'event_types', 'enabled']);
    v_url := api._text_field(p_fields, 'url', '$', p_creating);
    if v_url is not null and (v_url !~ '^https?://[^/?#@[:space:]]+(/[^[:space:]]*)?$' or length(v_url) > 2048) then
        perform api._bad_field('$.url', 'must be an http(s) URL without credentials, at most 2048 characters');
    end if;
    if length(api._text_field(p_fields, 'description', '$')) > 500 then
        perform api._bad_field('$.description', 'must be at most 500 characters');
    end if;
    perform api._bool_field(p_fields, 'enabled', '$');
    if p_fields ? 'event_types' then
        if jsonb_typeof(p_fields -> 'event_types') <> 'array'
           or jsonb_array_length(p_fields -> 'event_types') not between 1 and 100
           or exists (select from jsonb_array_elements(p_fields -> 'event_types') t where jsonb_typeof(t) <> 'string') then
            perform api._bad_field('$.event_types', 'must be an array of 1 to 100 event types (a type, ''family.*'' or ''*'')');
        end if;
        v_types := array(select distinct t from jsonb_array_elements_text(p_fields -> 'event_types') t order by t);
        select t into v_bad from unnest(v_types) t
        where t <> '*'
          and not exists (select from shop.event_type et where et.type = t)
          and not (t ~ '^[a-z][a-z0-9_]*\.\*$'
                   and exists (select from shop.event_type et where split_part(et.type, '.', 1) || '.*' = t))
        limit 1;
        if v_bad is not null then
            perform api._bad_field('$.event_types', format('%L is not an event type (GET /api/v1/admin/event-types lists them)', v_bad));
        end if;
    end if;
    return v_types;
end
$$;

-- ---------------------------------------------------------------- endpoints (admin)

-- Creates an endpoint {url, description?, event_types? (default ["*"]), enabled?} and
-- its signing secret, returned once as "secret".
create function api.admin_create_webhook_endpoint(p_endpoint jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_types text[];
    v_id bigint;
    v_secret text := api._webhook_new_secret();
    v_enabled boolean;
begin
    perform api._require_scope('webhooks:write');
    v_types := api._webhook_check_fields(p_endpoint, true);
    v_enabled := coalesce(api._bool_field(p_endpoint, 'enabled', '$'), true);
    insert into shop.webhook_endpoint (url, description, event_types, enabled, disabled_at, disabled_reason)
    values (p_endpoint ->> 'url', coalesce(p_endpoint ->> 'description', ''), coalesce(v_types, '{*}'), v_enabled,
            case when not v_enabled then now() end, case when not v_enabled then 'created disabled' end)
    returning webhook_endpoint_id into v_id;
    insert into shop.webhook_secret (webhook_endpoint_id, secret) values (v_id, v_secret);
    perform api._audit('webhook_endpoint_created', 'webhook_endpoint', v_id::text, p_endpoint);
    return api._webhook_endpoint_json(v_id) || jsonb_build_object('secret', v_secret);
end
$$;
comment on function api.admin_create_webhook_endpoint(jsonb) is
    'Creates a webhook endpoint {url, description?, event_types? (default ["*"]), enabled?} with a signing secret, returned once as "secret". Audited. Errors: MA422 invalid_field. Needs webhooks:write.';

create function api.admin_list_webhook_endpoints()
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
begin
    perform api._require_scope('webhooks:write');
    return jsonb_build_object('items', coalesce((
        select jsonb_agg(api._webhook_endpoint_json(w.webhook_endpoint_id) order by w.webhook_endpoint_id)
        from shop.webhook_endpoint w), '[]'::jsonb));
end
$$;
comment on function api.admin_list_webhook_endpoints() is 'Every webhook endpoint {items} (never the secrets). Needs webhooks:write.';

create function api.admin_get_webhook_endpoint(p_endpoint_id bigint)
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    v_endpoint jsonb;
begin
    perform api._require_scope('webhooks:write');
    v_endpoint := api._webhook_endpoint_json(p_endpoint_id);
    if v_endpoint is null then
        raise exception using errcode = 'MA404', constraint = 'webhook_endpoint_not_found', message = 'no such webhook endpoint';
    end if;
    return v_endpoint;
end
$$;
comment on function api.admin_get_webhook_endpoint(bigint) is 'One webhook endpoint. Errors: MA404 webhook_endpoint_not_found. Needs webhooks:write.';

-- Changes an endpoint's url, description, event types or enabled. Enabling a disabled
-- endpoint clears its failure run (its deliveries missed meanwhile can be retried).
create function api.admin_update_webhook_endpoint(p_endpoint_id bigint, p_patch jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_before jsonb;
    v_types text[];
    v_enabled boolean;
begin
    perform api._require_scope('webhooks:write');
    v_before := api._webhook_endpoint_json(p_endpoint_id);
    if v_before is null then
        raise exception using errcode = 'MA404', constraint = 'webhook_endpoint_not_found', message = 'no such webhook endpoint';
    end if;
    v_types := api._webhook_check_fields(p_patch, false);
    v_enabled := api._bool_field(p_patch, 'enabled', '$');
    update shop.webhook_endpoint w set
        url = coalesce(p_patch ->> 'url', w.url),
        description = coalesce(p_patch ->> 'description', w.description),
        event_types = coalesce(v_types, w.event_types),
        enabled = coalesce(v_enabled, w.enabled),
        disabled_at = case when v_enabled is null then w.disabled_at
                           when v_enabled then null
                           else coalesce(w.disabled_at, now()) end,
        disabled_reason = case when v_enabled is null then w.disabled_reason
                               when v_enabled then null
                               else coalesce(w.disabled_reason, 'disabled by an admin') end,
        failing_since = case when v_enabled and not w.enabled then null else w.failing_since end
    where w.webhook_endpoint_id = p_endpoint_id;
    perform api._audit('webhook_endpoint_updated', 'webhook_endpoint', p_endpoint_id::text,
                       jsonb_build_object('before', v_before - 'secrets', 'patch', p_patch));
    return api._webhook_endpoint_json(p_endpoint_id);
end
$$;
comment on function api.admin_update_webhook_endpoint(bigint, jsonb) is
    'Changes {url, description, event_types, enabled}; enabling clears the failure run. Audited. Errors: MA404 webhook_endpoint_not_found, MA422 invalid_field. Needs webhooks:write.';

-- Deletes an endpoint with its secrets and delivery log; its pending deliveries' jobs
-- find nothing to do.
create function api.admin_delete_webhook_endpoint(p_endpoint_id bigint)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_url text;
begin
    perform api._require_scope('webhooks:write');
    delete from shop.webhook_endpoint where webhook_endpoint_id = p_endpoint_id returning url into v_url;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'webhook_endpoint_not_found', message = 'no such webhook endpoint';
    end if;
    perform api._audit('webhook_endpoint_deleted', 'webhook_endpoint', p_endpoint_id::text, jsonb_build_object('url', v_url));
    return jsonb_build_object('deleted', p_endpoint_id);
end
$$;
comment on function api.admin_delete_webhook_endpoint(bigint) is
    'Deletes a webhook endpoint, its secrets and delivery log. Audited. Errors: MA404 webhook_endpoint_not_found. Needs webhooks:write.';

-- Makes a new signing secret (returned once) and keeps the previous ones valid for
-- p_overlap_secs (0: revoked now), during which every request carries one signature
-- per valid secret, so receivers can switch without losing a delivery.
create function api.admin_rotate_webhook_secret(p_endpoint_id bigint, p_overlap_secs integer default 86400)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_secret text := api._webhook_new_secret();
    v_overlap integer := coalesce(p_overlap_secs, 86400);
begin
    perform api._require_scope('webhooks:write');
    if v_overlap not between 0 and 604800 then
        raise exception using errcode = 'MA422', constraint = 'invalid_overlap',
            message = 'overlap_secs must be between 0 and 604800 (7 days)';
    end if;
    perform from shop.webhook_endpoint where webhook_endpoint_id = p_endpoint_id for update;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'webhook_endpoint_not_found', message = 'no such webhook endpoint';
    end if;
    update shop.webhook_secret
    set expires_at = least(coalesce(expires_at, 'infinity'), now() + make_interval(secs => v_overlap))
    where webhook_endpoint_id = p_endpoint_id and (expires_at is null or expires_at > now());
    insert into shop.webhook_secret (webhook_endpoint_id, secret) values (p_endpoint_id, v_secret);
    perform api._audit('webhook_secret_rotated', 'webhook_endpoint', p_endpoint_id::text,
                       jsonb_build_object('overlap_secs', v_overlap));
    return api._webhook_endpoint_json(p_endpoint_id) || jsonb_build_object('secret', v_secret);
end
$$;
comment on function api.admin_rotate_webhook_secret(bigint, integer) is
    'New signing secret (returned once as "secret"); older ones stay valid p_overlap_secs (0..604800, default a day). Audited. Errors: MA404 webhook_endpoint_not_found, MA422 invalid_overlap. Needs webhooks:write.';

-- ---------------------------------------------------------------- deliveries (admin)

create function api._webhook_delivery_json(p_delivery_id bigint, p_with_attempts boolean)
returns jsonb
language sql stable
set search_path = '' as $$
    select jsonb_build_object(
        'id', d.webhook_delivery_id, 'endpoint_id', d.webhook_endpoint_id,
        'event_id', d.event_id, 'event_type', e.type, 'status', d.status, 'attempts', d.attempts,
        'next_attempt_at', d.next_attempt_at, 'last_attempt_at', d.last_attempt_at,
        'last_status_code', d.last_status_code, 'last_error', d.last_error,
        'delivered_at', d.delivered_at, 'created_at', d.created_at)
        || case when p_with_attempts then jsonb_build_object('attempts_log', coalesce((
               select jsonb_agg(jsonb_build_object(
                          'attempt', a.attempt, 'started_at', a.started_at, 'latency_ms', a.latency_ms,
                          'status_code', a.status_code, 'error', a.error, 'response_excerpt', a.response_excerpt)
                      order by a.attempt)
               from shop.webhook_attempt a where a.webhook_delivery_id = d.webhook_delivery_id), '[]'::jsonb))
           else '{}'::jsonb end
    from shop.webhook_delivery d join shop.event e using (event_id)
    where d.webhook_delivery_id = p_delivery_id
$$;

-- An endpoint's deliveries, newest first (keyset by id), optionally of one status.
create function api.admin_list_webhook_deliveries(p_endpoint_id bigint, p_limit integer default 50,
                                                  p_before bigint default null, p_status text default null)
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    v_limit integer := coalesce(p_limit, 50);
    v_page jsonb;
begin
    perform api._require_scope('webhooks:write');
    if v_limit not between 1 and 200 then
        raise exception using errcode = 'MA422', constraint = 'invalid_limit', message = 'limit must be between 1 and 200';
    end if;
    if p_status is not null and p_status not in ('pending', 'succeeded', 'failed', 'cancelled') then
        raise exception using errcode = 'MA422', constraint = 'invalid_status',
            message = 'status must be pending, succeeded, failed or cancelled';
    end if;
    if not exists (select from shop.webhook_endpoint where webhook_endpoint_id = p_endpoint_id) then
        raise exception using errcode = 'MA404', constraint = 'webhook_endpoint_not_found', message = 'no such webhook endpoint';
    end if;
    select jsonb_build_object(
        'items', coalesce(jsonb_agg(api._webhook_delivery_json(s.webhook_delivery_id, false)
                                    order by s.webhook_delivery_id desc) filter (where s.n <= v_limit), '[]'::jsonb),
        'next_cursor', case when count(*) > v_limit then
                           (min(s.webhook_delivery_id) filter (where s.n <= v_limit))::text end)
    into v_page
    from (select d.webhook_delivery_id, row_number() over (order by d.webhook_delivery_id desc) as n
          from shop.webhook_delivery d
          where d.webhook_endpoint_id = p_endpoint_id
            and (p_before is null or d.webhook_delivery_id < p_before)
            and (p_status is null or d.status = p_status)
          order by d.webhook_delivery_id desc
          limit v_limit + 1) s;
    return v_page;
end
$$;
comment on function api.admin_list_webhook_deliveries(bigint, integer, bigint, text) is
    'An endpoint''s deliveries newest first {items, next_cursor}; filter status. Errors: MA404 webhook_endpoint_not_found, MA422. Needs webhooks:write.';

-- One delivery with its log of attempts.
create function api.admin_get_webhook_delivery(p_endpoint_id bigint, p_delivery_id bigint)
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    v_delivery jsonb;
begin
    perform api._require_scope('webhooks:write');
    select api._webhook_delivery_json(d.webhook_delivery_id, true) into v_delivery
    from shop.webhook_delivery d
    where d.webhook_delivery_id = p_delivery_id and d.webhook_endpoint_id = p_endpoint_id;
    if v_delivery is null then
        raise exception using errcode = 'MA404', constraint = 'webhook_delivery_not_found', message = 'no such delivery for this endpoint';
    end if;
    return v_delivery;
end
$$;
comment on function api.admin_get_webhook_delivery(bigint, bigint) is
    'A delivery with its attempts (status code, latency, error, response excerpt). Errors: MA404 webhook_delivery_not_found. Needs webhooks:write.';

-- Delivers again now, whatever the delivery's state (a receiver that lost it, a
-- delivery failed or cancelled while the endpoint was down): a new retry window
-- starts; a job already waiting for the delivery is moved to now rather than doubled.
create function api.admin_retry_webhook_delivery(p_endpoint_id bigint, p_delivery_id bigint)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_enabled boolean;
    v_job_id bigint;
begin
    perform api._require_scope('webhooks:write');
    select w.enabled into v_enabled
    from shop.webhook_delivery d join shop.webhook_endpoint w using (webhook_endpoint_id)
    where d.webhook_delivery_id = p_delivery_id and d.webhook_endpoint_id = p_endpoint_id
    for update of d;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'webhook_delivery_not_found', message = 'no such delivery for this endpoint';
    end if;
    if not v_enabled then
        raise exception using errcode = 'MA409', constraint = 'webhook_endpoint_disabled',
            message = 'this endpoint is disabled', hint = 'Enable it first (PATCH with {"enabled": true}).';
    end if;
    v_job_id := api.enqueue_job('deliver_webhook', jsonb_build_object('webhook_delivery_id', p_delivery_id),
                                'webhooks', 0, now(), 1000, 'webhook_delivery:' || p_delivery_id, 'replace');
    update shop.webhook_delivery
    set status = 'pending', window_started_at = null, next_attempt_at = now(), job_id = v_job_id
    where webhook_delivery_id = p_delivery_id;
    perform api._audit('webhook_delivery_retried', 'webhook_delivery', p_delivery_id::text,
                       jsonb_build_object('endpoint_id', p_endpoint_id));
    return api._webhook_delivery_json(p_delivery_id, false);
end
$$;
comment on function api.admin_retry_webhook_delivery(bigint, bigint) is
    'Delivers again now (new retry window; an existing waiting job is moved to now). Audited. Errors: MA404 webhook_delivery_not_found, MA409 webhook_endpoint_disabled. Needs webhooks:write.';

-- ---------------------------------------------------------------- delivery (maef-worker)

-- The delay before attempt n + 1 of a delivery whose attempt n failed, before jitter:
-- webhooks.retry_base_secs × 3^(n-1), capped at webhooks.retry_max_delay_secs. With the
-- defaults: 5 s, 15 s, 45 s, 2 min 15, 6 min 45, 20 min, 1 h, 3 h, 9 h, then 12 h.
create function api.webhook_retry_delay(p_attempt integer)
returns interval
language sql stable
set search_path = '' as $$
    select make_interval(secs => least(
        api._setting_int('webhooks.retry_base_secs') * power(3::numeric, least(greatest(p_attempt, 1) - 1, 30)),
        api._setting_int('webhooks.retry_max_delay_secs'))::double precision)
$$;
comment on function api.webhook_retry_delay(integer) is
    'Delay after a delivery''s failed attempt n, before ±20% jitter: least(retry_base_secs × 3^(n-1), retry_max_delay_secs).';

-- Disables an endpoint that keeps failing (or answered 410 Gone): audited (no actor),
-- its other pending deliveries cancelled, and every active admin e-mailed.
create function api._webhook_disable(p_endpoint shop.webhook_endpoint, p_reason text, p_last_error text)
returns void
language plpgsql
set search_path = '' as $$
declare
    v_admin record;
begin
    update shop.webhook_endpoint
    set enabled = false, disabled_at = now(), disabled_reason = p_reason
    where webhook_endpoint_id = p_endpoint.webhook_endpoint_id;
    update shop.webhook_delivery set status = 'cancelled', next_attempt_at = null
    where webhook_endpoint_id = p_endpoint.webhook_endpoint_id and status = 'pending';
    insert into shop.audit_log (action, entity, entity_id, data)
    values ('webhook_endpoint_disabled', 'webhook_endpoint', p_endpoint.webhook_endpoint_id::text,
            jsonb_build_object('reason', p_reason, 'url', p_endpoint.url, 'failing_since', p_endpoint.failing_since,
                               'last_error', p_last_error));
    for v_admin in
        select u.user_id, u.email from shop.app_user u
        where u.is_active and u.erased_at is null
          and exists (select from shop.user_role ur join shop.role r using (role_id)
                      where ur.user_id = u.user_id and r.name = 'admin')
        order by u.email
    loop
        perform api._queue_email('webhook_endpoint_disabled', v_admin.email, jsonb_build_object(
            'endpoint_id', p_endpoint.webhook_endpoint_id, 'endpoint_url', p_endpoint.url,
            'failing_since', coalesce(p_endpoint.failing_since, now()), 'last_error', coalesce(p_last_error, p_reason)),
            v_admin.user_id);
    end loop;
end
$$;

-- Start of an attempt (deliver_webhook job p_job_id, attempt p_job_attempt): the
-- request to make, or nothing to do (the delivery or its endpoint is gone, it already
-- succeeded, failed or was cancelled, the endpoint is disabled), in which case the job
-- is completed here. The body is the same bytes at every attempt:
-- {"id": "evt_<event id>", "type", "version", "timestamp" (the event's, ISO 8601 UTC),
--  "aggregate": {"type", "id"}, "data": payload}; webhook_id ("evt_<event id>") is the
-- receivers' deduplication key; secrets are every valid secret, newest first.
create function api.webhook_delivery_begin(p_delivery_id bigint, p_job_id bigint, p_job_attempt integer)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_delivery shop.webhook_delivery;
    v_endpoint shop.webhook_endpoint;
    v_event shop.event;
    v_skip text;
begin
    select * into v_delivery from shop.webhook_delivery where webhook_delivery_id = p_delivery_id for update;
    if not found then
        v_skip := 'the delivery no longer exists (endpoint deleted or event pruned)';
    else
        select * into v_endpoint from shop.webhook_endpoint where webhook_endpoint_id = v_delivery.webhook_endpoint_id;
        if v_delivery.status <> 'pending' then
            v_skip := format('the delivery is %s', v_delivery.status);
        elsif not v_endpoint.enabled then
            update shop.webhook_delivery set status = 'cancelled', next_attempt_at = null
            where webhook_delivery_id = p_delivery_id;
            v_skip := 'the endpoint is disabled';
        end if;
    end if;
    if v_skip is not null then
        perform api.complete_job(p_job_id, p_job_attempt);
        return jsonb_build_object('action', 'skip', 'reason', v_skip);
    end if;
    update shop.webhook_delivery
    set job_id = p_job_id, window_started_at = coalesce(window_started_at, now())
    where webhook_delivery_id = p_delivery_id;
    select * into v_event from shop.event where event_id = v_delivery.event_id;
    return jsonb_build_object(
        'action', 'deliver',
        'url', v_endpoint.url,
        'webhook_id', 'evt_' || v_event.event_id,
        'attempt', v_delivery.attempts + 1,
        'timeout_secs', api._setting_int('webhooks.timeout_secs'),
        'secrets', to_jsonb(array(select s.secret from shop.webhook_secret s
                                  where s.webhook_endpoint_id = v_endpoint.webhook_endpoint_id
                                    and (s.expires_at is null or s.expires_at > now())
                                  order by s.created_at desc, s.webhook_secret_id desc)),
        'body', jsonb_build_object(
                    'id', 'evt_' || v_event.event_id, 'type', v_event.type, 'version', v_event.version,
                    'timestamp', to_char(v_event.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                    'aggregate', jsonb_build_object('type', v_event.aggregate_type, 'id', v_event.aggregate_id),
                    'data', v_event.payload)::text);
end
$$;
comment on function api.webhook_delivery_begin(bigint, bigint, integer) is
    'maef-worker: what to send for a delivery ({action: deliver, url, body, secrets, webhook_id, timeout_secs, attempt}), or {action: skip, reason} with the job completed.';

-- End of an attempt: logs it and decides, in one transaction with the job's fate.
-- 2xx: succeeded (job completed; the endpoint's failure run ends). Otherwise (another
-- status, or p_status_code null when there was no answer: p_error says why): 410 Gone
-- disables the endpoint; an endpoint failing for webhooks.disable_after_secs is
-- disabled; past the retry window the delivery is failed; else it is retried after
-- webhook_retry_delay ±20% jitter (at least p_retry_after_secs, the receiver's
-- Retry-After, within the cap; never past the window's end), through api.fail_job.
-- A stale job attempt (its lease was taken over) only logs the attempt.
-- Returns {outcome: succeeded | retrying | failed | disabled | stale, next_attempt_at}.
create function api.webhook_delivery_record(p_delivery_id bigint, p_job_id bigint, p_job_attempt integer,
                                            p_started_at timestamptz, p_latency_ms integer, p_status_code integer,
                                            p_error text, p_response_excerpt text,
                                            p_retry_after_secs integer default null)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_delivery shop.webhook_delivery;
    v_endpoint shop.webhook_endpoint;
    v_attempt integer;
    v_error text := case when p_status_code between 200 and 299 then null
                         else coalesce(p_error, format('HTTP %s', p_status_code)) end;
    v_deadline timestamptz;
    v_next timestamptz;
begin
    select * into v_delivery from shop.webhook_delivery where webhook_delivery_id = p_delivery_id for update;
    if not found then
        perform api.complete_job(p_job_id, p_job_attempt);
        return jsonb_build_object('outcome', 'stale');
    end if;
    v_attempt := v_delivery.attempts + 1;
    insert into shop.webhook_attempt (webhook_delivery_id, attempt, started_at, latency_ms, status_code, error,
                                      response_excerpt, job_id)
    values (p_delivery_id, v_attempt, p_started_at, p_latency_ms, p_status_code, v_error,
            left(p_response_excerpt, 2048), p_job_id);
    update shop.webhook_delivery
    set attempts = v_attempt, last_attempt_at = p_started_at, last_status_code = p_status_code, last_error = v_error
    where webhook_delivery_id = p_delivery_id;
    -- Only the attempt holding the job decides what happens next.
    perform from shop.job_queue
    where job_id = p_job_id and attempt = p_job_attempt and locked_until is not null
    for update;
    if not found then
        return jsonb_build_object('outcome', 'stale');
    end if;
    if p_status_code between 200 and 299 then
        update shop.webhook_delivery
        set status = 'succeeded', delivered_at = now(), next_attempt_at = null
        where webhook_delivery_id = p_delivery_id;
        -- The endpoint's row is written only when its failure run ends or its last
        -- success is a minute old: concurrent deliveries to one endpoint would
        -- otherwise queue on its row lock.
        update shop.webhook_endpoint set failing_since = null, last_success_at = now()
        where webhook_endpoint_id = v_delivery.webhook_endpoint_id
          and (failing_since is not null or last_success_at is null or last_success_at < now() - interval '1 minute');
        perform api.complete_job(p_job_id, p_job_attempt);
        return jsonb_build_object('outcome', 'succeeded');
    end if;

    select * into v_endpoint from shop.webhook_endpoint
    where webhook_endpoint_id = v_delivery.webhook_endpoint_id for update;

    if v_endpoint.failing_since is null then
        update shop.webhook_endpoint set failing_since = p_started_at
        where webhook_endpoint_id = v_endpoint.webhook_endpoint_id;
        v_endpoint.failing_since := p_started_at;
    end if;
    if p_status_code = 410 or v_endpoint.failing_since <= now() - api._setting_secs('webhooks.disable_after_secs') then
        perform api._webhook_disable(v_endpoint,
            case when p_status_code = 410 then 'the endpoint answered 410 Gone'
                 else format('every attempt failed since %s', v_endpoint.failing_since) end,
            v_error);
        update shop.webhook_delivery set status = 'failed', next_attempt_at = null
        where webhook_delivery_id = p_delivery_id;
        perform api.complete_job(p_job_id, p_job_attempt);
        return jsonb_build_object('outcome', 'disabled');
    end if;

    v_deadline := coalesce(v_delivery.window_started_at, p_started_at) + api._setting_secs('webhooks.retry_window_secs');
    if now() >= v_deadline then
        update shop.webhook_delivery set status = 'failed', next_attempt_at = null
        where webhook_delivery_id = p_delivery_id;
        perform api.complete_job(p_job_id, p_job_attempt);
        return jsonb_build_object('outcome', 'failed');
    end if;
    v_next := least(now() + greatest(api.webhook_retry_delay(v_attempt) * (0.8 + random() * 0.4),
                                     least(make_interval(secs => coalesce(p_retry_after_secs, 0)),
                                           api._setting_secs('webhooks.retry_max_delay_secs'))),
                    v_deadline);
    update shop.webhook_delivery set next_attempt_at = v_next where webhook_delivery_id = p_delivery_id;
    perform api.fail_job(p_job_id, p_job_attempt, v_error, v_next - now());
    return jsonb_build_object('outcome', 'retrying', 'next_attempt_at', v_next);
end
$$;
comment on function api.webhook_delivery_record(bigint, bigint, integer, timestamptz, integer, integer, text, text, integer) is
    'maef-worker: logs an attempt and decides (succeeded, retrying after webhook_retry_delay ±20% jitter or Retry-After, failed past webhooks.retry_window_secs, disabled on 410 or after webhooks.disable_after_secs of failures, stale); the job is completed or failed in the same transaction.';

-- ---------------------------------------------------------------- reports

-- Each endpoint's health for psql: its state and its deliveries of the last 24 hours.
create view report.webhook_endpoints as
select w.webhook_endpoint_id, w.url, w.enabled, w.disabled_reason, w.failing_since, w.last_success_at,
       count(d.webhook_delivery_id) filter (where d.status = 'pending') as pending,
       count(d.webhook_delivery_id) filter (where d.status = 'succeeded') as succeeded_24h,
       count(d.webhook_delivery_id) filter (where d.status = 'failed') as failed_24h,
       count(d.webhook_delivery_id) filter (where d.status = 'cancelled') as cancelled_24h,
       coalesce(sum(d.attempts), 0) as attempts_24h
from shop.webhook_endpoint w
left join shop.webhook_delivery d
  on d.webhook_endpoint_id = w.webhook_endpoint_id and d.created_at > now() - interval '24 hours'
group by w.webhook_endpoint_id;
comment on view report.webhook_endpoints is
    'Webhook endpoints: enabled, failing since, last success, and their deliveries of the last 24 hours by status.';

-- Descriptions of the private helpers above, for \df+ in psql.
comment on function api._webhook_new_secret() is 'Private: a new signing secret, whsec_ + base64 of 32 random bytes.';
comment on function api._webhook_endpoint_json(bigint) is 'Private: the admin view of an endpoint (no secret, only when each valid one was made and expires).';
comment on function api._webhook_check_fields(jsonb, boolean) is 'Private: checks an endpoint''s fields (MA422 invalid_field naming the path); returns the event types.';
comment on function api._webhook_delivery_json(bigint, boolean) is 'Private: a delivery, with its attempts when asked.';
comment on function api._webhook_disable(shop.webhook_endpoint, text, text) is 'Private: disables an endpoint, cancels its pending deliveries, audits and e-mails the admins.';

-- ---------------------------------------------------------------- who may call these
-- Deny by default: maef-api migrate revokes EXECUTE from PUBLIC, so a function is
-- callable only by its owner (maef-worker, DBAs) until it is granted here.
-- Admins (each function checks webhooks:write):
grant execute on function
    api.admin_create_webhook_endpoint(jsonb),
    api.admin_list_webhook_endpoints(),
    api.admin_get_webhook_endpoint(bigint),
    api.admin_update_webhook_endpoint(bigint,jsonb),
    api.admin_delete_webhook_endpoint(bigint),
    api.admin_rotate_webhook_secret(bigint,integer),
    api.admin_list_webhook_deliveries(bigint,integer,bigint,text),
    api.admin_get_webhook_delivery(bigint,bigint),
    api.admin_retry_webhook_delivery(bigint,bigint)
    to maef_admin;
-- Staff read the reports (this file loads after sql/report.sql's grant on the schema).
grant select on report.webhook_endpoints to maef_staff, maef_admin;
-- Not granted (owner only: maef-worker, DBAs): api.webhook_delivery_begin,
-- api.webhook_delivery_record, api.webhook_retry_delay.
