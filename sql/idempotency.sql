-- Idempotency keys: one mechanism for every critical POST.
--
-- An api function that accepts p_idem (null when the request had no Idempotency-Key)
-- calls api._idempotency_begin first and returns its result when it is not null (a
-- replay), and api._idempotency_finish last, in the same transaction as its effect, so
-- the effect and the stored response commit together: exactly once.
--
-- p_idem = {"scope": user id or "anon", "key": ..., "method": ..., "path": ...,
--           "hash": keyed fingerprint of the request body (computed by the API)}.

-- Returns the stored response of a completed request with this key, or null to go on.
-- Raises MA409 idempotency_key_in_flight while another request holds the key (or, with
-- p_wait, waits for it to end and then replays its response: checkout does, so that a
-- client retrying at once gets the order, not an error), and MA422
-- idempotency_key_reused when the key was used for a different request.
create function api._idempotency_begin(p_idem jsonb, p_wait boolean default false)
returns jsonb
language plpgsql as $$
declare
    v_row shop.idempotency_key;
begin
    if p_idem is null then
        return null;
    end if;
    -- Held until this transaction ends: a concurrent duplicate cannot take it. Waiting
    -- for it is bounded by statement_timeout.
    if p_wait then
        perform pg_advisory_xact_lock(hashtextextended((p_idem ->> 'scope') || ':' || (p_idem ->> 'key'), 0));
    elsif not pg_try_advisory_xact_lock(hashtextextended((p_idem ->> 'scope') || ':' || (p_idem ->> 'key'), 0)) then
        raise exception using errcode = 'MA409', constraint = 'idempotency_key_in_flight',
            message = 'a request with this Idempotency-Key is still being processed',
            hint = 'Retry after it completes to get its response.';
    end if;
    select * into v_row from shop.idempotency_key
    where scope = p_idem ->> 'scope' and key = p_idem ->> 'key';
    if found and v_row.expires_at <= now() then
        delete from shop.idempotency_key where scope = v_row.scope and key = v_row.key;
        return null;
    end if;
    if not found then
        return null;
    end if;
    if v_row.request_hash <> p_idem ->> 'hash' or v_row.method <> p_idem ->> 'method' or v_row.path <> p_idem ->> 'path' then
        raise exception using errcode = 'MA422', constraint = 'idempotency_key_reused',
            message = 'this Idempotency-Key was used for a different request',
            hint = 'Use a new key for a new request.';
    end if;
    return convert_from(v_row.response_body, 'UTF8')::jsonb;
end
$$;

-- Stores the response of the request holding the key (same transaction as its effect).
create function api._idempotency_finish(p_idem jsonb, p_status integer, p_body jsonb)
returns void
language plpgsql as $$  -- PL/pgSQL: its plan is kept (see api._order_json)
begin
    if p_idem is not null then
        insert into shop.idempotency_key (scope, key, method, path, request_hash, status_code, response_body)
        values (p_idem ->> 'scope', p_idem ->> 'key', p_idem ->> 'method', p_idem ->> 'path', p_idem ->> 'hash',
                p_status, convert_to(p_body::text, 'UTF8'));
    end if;
end
$$;

-- Descriptions of the private helpers above, for \df+ in psql.
comment on function api._idempotency_begin(jsonb, boolean) is 'Private: takes an Idempotency-Key: returns the stored response to replay, or null to proceed; MA409 in flight (or waits, p_wait), MA422 reused.';
comment on function api._idempotency_finish(jsonb, integer, jsonb) is 'Private: stores the response of the request holding the key, in the transaction of its effect.';
