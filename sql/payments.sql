-- Payments: paying an order (Stripe, FedaPay, Paystack, cash on delivery), what the
-- providers' webhooks and re-fetches say, refunds, and the staff views. The data model
-- is migrations/V28__payments.sql; docs/payments.md tells the whole story.
--
-- A provider call never happens inside a transaction. A request that pays or refunds
-- makes three short transactions: *begin* (the row is written, idempotently, under the
-- order's lock: api.payment_begin, api.refund_begin, as the caller), the provider call
-- (maef-api, no transaction), then *record* (api.payment_created / _create_failed,
-- api.refund_created / _create_failed, owner only: only code holding the provider keys
-- records what a provider said). Webhooks are applied by api.payment_webhook and
-- re-fetches by api.payment_verified, owner only for the same reason: maef-api calls
-- them after checking the signature, maef-worker after re-fetching the transaction.
--
-- Lock order (V27): order row → payment row → refund rows → inventory rows. A payment's
-- success marks the order paid in the same transaction (api._mark_order_paid).
--
-- Errors: MA404 order_not_found / payment_not_found; MA409 order_not_payable,
-- idempotency_key_in_flight, order_not_refundable, refund_failed,
-- refund_outcome_unknown, not_cash_on_delivery; MA422 invalid_field (detail = JSON
-- path), payment_provider_unavailable, currency_not_supported,
-- cash_on_delivery_unavailable, idempotency_key_reused, refund_exceeds_captured,
-- refund_quantity_exceeds, shipping_already_refunded, refund_empty.

-- ---------------------------------------------------------------- helpers

-- How far along a payment is: a state is applied only when it ranks higher than the
-- current one, so a late or repeated notification never undoes a later one.
create function api._payment_rank(p_status text)
returns integer
language sql immutable parallel safe as $$
    select case p_status when 'pending' then 0 when 'processing' then 1 when 'failed' then 2
                         when 'cancelled' then 2 when 'succeeded' then 3 when 'needs_review' then 3 end
$$;

-- A 422 invalid_field naming the JSON path.
create function api._payment_bad_field(p_path text, p_message text)
returns void
language plpgsql as $$
begin
    raise exception using errcode = 'MA422', constraint = 'invalid_field', message = p_message, detail = p_path;
end
$$;

-- The order a customer (signed in, their own) or a guest (with its token) pays,
-- optionally locked; anything else is order_not_found, as for reading it.
create function api._order_for_payer(p_number text, p_token text, p_lock boolean)
returns shop.customer_order
language plpgsql as $$
declare
    v shop.customer_order;
begin
    if p_lock then
        select * into v from shop.customer_order o where o.order_number = btrim(coalesce(p_number, '')) for update;
    else
        select * into v from shop.customer_order o where o.order_number = btrim(coalesce(p_number, ''));
    end if;
    if v.order_id is null or not coalesce(
        (v.user_id is not null and v.user_id = shop.current_user_id())
        or (p_token is not null and v.access_token_hash = encode(sha256(convert_to(p_token, 'UTF8')), 'hex')), false) then
        raise exception using errcode = 'MA404', constraint = 'order_not_found', message = 'no such order',
            hint = 'Guests pay their order with the token returned at checkout (X-Order-Token).';
    end if;
    return v;
end
$$;

-- The countries and amounts where cash on delivery is offered (store policies).
create function api._cod_refusal(o shop.customer_order)
returns text
language plpgsql stable as $$
declare
    v_countries text[] := array(select upper(btrim(c)) from unnest(string_to_array(api._setting_text('payments.cod_countries'), ',')) c
                                where btrim(c) <> '');
    v_country text := upper(coalesce(o.shipping_address ->> 'country', o.billing_address ->> 'country', ''));
    v_limit bigint;
begin
    if not (v_country = any (v_countries)) then
        return format('cash on delivery is not offered for deliveries to %s', coalesce(nullif(v_country, ''), 'no address'));
    end if;
    select split_part(btrim(x), ':', 2)::bigint into v_limit
    from unnest(string_to_array(api._setting_text('payments.cod_max_amounts'), ',')) x
    where upper(split_part(btrim(x), ':', 1)) = o.currency_code and split_part(btrim(x), ':', 2) ~ '^\d{1,18}$'
    limit 1;
    if v_limit is not null and o.total_amount > v_limit then
        return format('cash on delivery is offered up to %s', maef.format_money(v_limit,
            (select c.exponent from shop.currency c where c.code = o.currency_code), o.currency_code));
    end if;
    return null;
end
$$;

-- A refund as JSON.
create function api._refund_json(r shop.refund, p_staff boolean)
returns jsonb
language plpgsql stable as $$  -- PL/pgSQL: its plan is kept (see api._order_json)
begin
    return (select jsonb_build_object(
        'id', r.refund_id, 'payment_id', r.payment_id, 'amount', r.amount, 'currency', r.currency_code,
        'status', r.status, 'method', r.method, 'reason', r.reason, 'shipping', r.shipping,
        'lines', coalesce((select jsonb_agg(jsonb_build_object('order_item_id', i.order_item_id, 'quantity', i.quantity,
                                                               'amount', i.amount) order by i.order_item_id)
                           from shop.refund_item i where i.refund_id = r.refund_id), '[]'),
        'created_at', r.created_at, 'succeeded_at', r.succeeded_at)
    || case when p_staff then jsonb_build_object(
           'restock', r.restock, 'provider_ref', r.provider_ref, 'failure_code', r.failure_code,
           'failure_message', r.failure_message, 'created_by', r.created_by)
       else '{}'::jsonb end);
end
$$;

-- A payment as its customer sees it; p_staff adds the review and provider details.
create function api._payment_json(p shop.payment, p_staff boolean)
returns jsonb
language plpgsql stable as $$  -- PL/pgSQL: its plan is kept (see api._order_json)
begin
    return (select jsonb_build_object(
        'id', p.payment_id, 'provider', p.provider, 'status', p.status, 'amount', p.amount,
        'currency', p.currency_code, 'exponent', c.exponent,
        'amount_formatted', maef.format_money(p.amount, c.exponent, p.currency_code),
        'failure_code', p.failure_code, 'failure_message', p.failure_message,
        'created_at', p.created_at, 'succeeded_at', p.succeeded_at,
        'refunded', coalesce((select sum(r.amount) from shop.refund r
                              where r.payment_id = p.payment_id and r.status = 'succeeded'), 0),
        'refunds', coalesce((select jsonb_agg(api._refund_json(r, p_staff) order by r.refund_id)
                             from shop.refund r where r.payment_id = p.payment_id), '[]'))
    || case when p_staff then jsonb_build_object(
           'provider_ref', p.provider_ref, 'amount_received', p.amount_received, 'review_reason', p.review_reason,
           'attempt', p.attempt, 'last_checked_at', p.last_checked_at,
           'events', (select count(*) from shop.payment_event e where e.payment_id = p.payment_id))
       else '{}'::jsonb end
    from shop.currency c where c.code = p.currency_code);
end
$$;

-- The 201 body of a payment request: the payment, what the client does next, the
-- order's state.
create function api._payment_response(p shop.payment)
returns jsonb
language plpgsql stable as $$  -- PL/pgSQL: its plan is kept (see api._order_json)
begin
    return (select api._payment_json(p, false) || jsonb_build_object(
        'next_action', coalesce(p.client_data, jsonb_build_object('type', 'none')),
        'order', jsonb_build_object('number', o.order_number, 'status', o.status, 'payment_status', o.payment_status,
                                    'reservation_expires_at', o.reservation_expires_at))
    from shop.customer_order o where o.order_id = p.order_id);
end
$$;

-- The order_confirmation e-mail's context (docs/email.md): amounts formatted.
create function api._order_confirmation_email(o shop.customer_order)
returns bigint
language plpgsql as $$  -- PL/pgSQL: its plan is kept (see api._order_json)
begin
    return (select api._queue_email('order_confirmation', o.email, jsonb_build_object(
        'order_number', o.order_number,
        'lines', coalesce((select jsonb_agg(jsonb_build_object(
                     'title', i.product_title, 'variant', i.variant_name, 'quantity', i.quantity,
                     'unit_price', maef.format_money(i.unit_amount, c.exponent, o.currency_code),
                     'total', maef.format_money(i.total_amount, c.exponent, o.currency_code)) order by i.order_item_id)
                   from shop.order_item i where i.order_id = o.order_id), '[]'),
        'subtotal', maef.format_money(o.subtotal_amount, c.exponent, o.currency_code),
        'discount', maef.format_money(o.discount_amount, c.exponent, o.currency_code),
        'shipping', maef.format_money(o.shipping_amount, c.exponent, o.currency_code),
        'tax', maef.format_money(o.tax_amount, c.exponent, o.currency_code),
        'total', maef.format_money(o.total_amount, c.exponent, o.currency_code),
        'shipping_address', jsonb_build_object(
            'full_name', coalesce(a ->> 'full_name', ''), 'line1', coalesce(a ->> 'line1', ''),
            'line2', coalesce(a ->> 'line2', ''), 'city', coalesce(a ->> 'city', ''),
            'region', coalesce(a ->> 'region', ''), 'postal_code', coalesce(a ->> 'postal_code', ''),
            'country', coalesce(a ->> 'country', ''))),
        o.user_id)
    from shop.currency c, coalesce(o.shipping_address, o.billing_address, '{}'::jsonb) a
    where c.code = o.currency_code);
end
$$;

-- Whether the order has another payment still able to succeed.
create function api._order_has_open_payment(p_order_id uuid, p_except uuid)
returns boolean
language sql stable as $$
    select exists (select from shop.payment p where p.order_id = p_order_id and p.payment_id <> p_except
                   and p.status in ('pending', 'processing'))
$$;

-- ---------------------------------------------------------------- paying an order

-- Offered ways to pay an order: the configured providers (p_offered, from the API's
-- keys) that accept its currency, and cash on delivery where the store allows it.
create function api.payment_options(p_number text, p_token text, p_offered text[])
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    v shop.customer_order := api._order_for_payer(p_number, p_token, false);
begin
    return jsonb_build_object(
        'order', jsonb_build_object('number', v.order_number, 'status', v.status, 'payment_status', v.payment_status,
                                    'currency', v.currency_code, 'grand_total', v.total_amount),
        'providers', coalesce((select jsonb_agg(jsonb_build_object('provider', p.provider, 'name', p.name, 'kind', p.kind)
                                                order by array_position(array['stripe', 'fedapay', 'paystack', 'cash_on_delivery'], p.provider))
                               from shop.payment_provider p
                               where (p.provider = 'cash_on_delivery' and api._cod_refusal(v) is null)
                                  or (p.provider <> 'cash_on_delivery' and p.provider = any (coalesce(p_offered, '{}'))
                                      and (p.currencies is null or v.currency_code = any (p.currencies)))), '[]'));
end
$$;
comment on function api.payment_options(text, text, text[]) is
    'The ways to pay an order (customer or guest with its token): configured providers (p_offered) accepting its currency, and cash on delivery where allowed. Errors: MA404 order_not_found.';

-- Starts paying an order (POST /api/v1/orders/{number}/payments), under the order's
-- lock. p_body = {"provider"}; p_idem = the request's Idempotency-Key (required);
-- p_offered = the providers whose keys the API has. Returns one of:
--   {"action": "replay", "body": …}  — this key already created its payment: the same 201 body;
--   {"action": "done", "body": …}    — cash on delivery: the order is confirmed, nothing to call;
--   {"action": "call", "payment": …, "order": …} — the caller now calls the provider (no
--     transaction open) and records the answer with api.payment_created or
--     api.payment_create_failed. Until then (payments.creation_lease_secs) a duplicate
--     with the same key answers 409 idempotency_key_in_flight, so the provider is never
--     called twice at once for one payment; after a failure, the same key calls it again
--     for the same payment (Stripe gets the same Idempotency-Key, derived from it).
create function api.payment_begin(p_number text, p_token text, p_body jsonb, p_idem jsonb, p_offered text[])
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_order shop.customer_order;
    v_provider shop.payment_provider;
    v_pay shop.payment;
    v_key text;
    v_refusal text;
    v_exponent smallint;
begin
    if p_idem is null then
        raise exception using errcode = 'MA400', constraint = 'idempotency_key_required',
            message = 'paying an order needs an Idempotency-Key header';
    end if;
    if jsonb_typeof(p_body) is distinct from 'object' or jsonb_typeof(p_body -> 'provider') is distinct from 'string' then
        perform api._payment_bad_field('$.provider', 'provider is required: stripe, fedapay, paystack or cash_on_delivery');
    end if;
    if exists (select from jsonb_object_keys(p_body) k where k <> 'provider') then
        perform api._payment_bad_field('$', 'only provider may be given');
    end if;
    -- The order row first (the lock order): a concurrent expiry waits or has won.
    v_order := api._order_for_payer(p_number, p_token, true);
    select * into v_provider from shop.payment_provider p where p.provider = p_body ->> 'provider';
    if v_provider.provider is null then
        perform api._payment_bad_field('$.provider', 'provider must be stripe, fedapay, paystack or cash_on_delivery');
    end if;
    if v_provider.kind = 'online' and not (v_provider.provider = any (coalesce(p_offered, '{}'))) then
        raise exception using errcode = 'MA422', constraint = 'payment_provider_unavailable',
            message = format('%s is not offered by this shop', v_provider.provider),
            detail = to_jsonb(coalesce(p_offered, '{}'))::text,
            hint = 'GET /api/v1/orders/{number}/payment-options lists the ways to pay this order.';
    end if;
    if v_provider.currencies is not null and not (v_order.currency_code = any (v_provider.currencies)) then
        raise exception using errcode = 'MA422', constraint = 'currency_not_supported',
            message = format('%s does not accept %s', v_provider.provider, v_order.currency_code),
            detail = to_jsonb(v_provider.currencies)::text;
    end if;
    v_key := (p_idem ->> 'scope') || ':' || (p_idem ->> 'key');
    select * into v_pay from shop.payment p where p.order_id = v_order.order_id and p.request_key = v_key for update;
    if v_pay.payment_id is not null then
        if v_pay.request_hash is distinct from p_idem ->> 'hash' then
            raise exception using errcode = 'MA422', constraint = 'idempotency_key_reused',
                message = 'this Idempotency-Key was used for a different request',
                hint = 'Use a new key for a new payment attempt.';
        end if;
        if v_pay.response is not null then
            return jsonb_build_object('action', 'replay', 'body', v_pay.response);
        end if;
        if v_pay.creating_until > now() then
            raise exception using errcode = 'MA409', constraint = 'idempotency_key_in_flight',
                message = 'a request with this Idempotency-Key is calling the payment provider',
                hint = 'Retry in a few seconds to get its response.';
        end if;
    end if;
    if v_order.status <> 'awaiting_payment' then
        raise exception using errcode = 'MA409', constraint = 'order_not_payable',
            message = format('order %s is %s, not awaiting payment', v_order.order_number, v_order.status),
            detail = jsonb_build_object('status', v_order.status, 'payment_status', v_order.payment_status)::text;
    end if;
    if v_order.total_amount <= 0 then
        raise exception using errcode = 'MA409', constraint = 'order_not_payable',
            message = 'this order has nothing to pay';
    end if;
    if v_provider.provider = 'cash_on_delivery' then
        v_refusal := api._cod_refusal(v_order);
        if v_refusal is not null then
            raise exception using errcode = 'MA422', constraint = 'cash_on_delivery_unavailable', message = v_refusal;
        end if;
    end if;
    if v_pay.payment_id is null then
        insert into shop.payment (order_id, provider, amount, currency_code, request_key, request_hash, created_by)
        values (v_order.order_id, v_provider.provider, v_order.total_amount, v_order.currency_code, v_key,
                p_idem ->> 'hash', shop.current_user_id())
        returning * into v_pay;
    end if;
    if v_provider.provider = 'cash_on_delivery' then
        perform api.confirm_order(v_order.order_id, 'cash on delivery chosen');
        select * into v_order from shop.customer_order o where o.order_id = v_order.order_id;
        perform api._order_confirmation_email(v_order);
        update shop.payment p set response = api._payment_response(p) where p.payment_id = v_pay.payment_id
        returning * into v_pay;
        return jsonb_build_object('action', 'done', 'body', v_pay.response);
    end if;
    -- Online: this request now holds the payment while it calls the provider.
    update shop.payment p
    set attempt = p.attempt + 1, status = 'pending', failure_code = null, failure_message = null,
        creating_until = now() + api._setting_secs('payments.creation_lease_secs')
    where p.payment_id = v_pay.payment_id returning * into v_pay;
    if v_order.payment_status = 'none' then
        perform api._order_note(format('paying with %s', v_provider.provider));
        update shop.customer_order set payment_status = 'pending' where order_id = v_order.order_id;
        perform api._order_note('');
    end if;
    select c.exponent into v_exponent from shop.currency c where c.code = v_order.currency_code;
    return jsonb_build_object(
        'action', 'call',
        'payment', jsonb_build_object('id', v_pay.payment_id, 'provider', v_pay.provider, 'attempt', v_pay.attempt,
                                      'provider_ref', v_pay.provider_ref, 'amount', v_pay.amount,
                                      'currency', v_pay.currency_code, 'exponent', v_exponent),
        'order', jsonb_build_object('number', v_order.order_number, 'email', v_order.email,
                                    'full_name', coalesce(v_order.billing_address ->> 'full_name',
                                                          v_order.shipping_address ->> 'full_name', ''),
                                    'country', coalesce(v_order.billing_address ->> 'country',
                                                        v_order.shipping_address ->> 'country', '')));
end
$$;
comment on function api.payment_begin(text, text, jsonb, jsonb, text[]) is
    'Starts paying an order (customer, or guest with its token): the payment row, idempotent per Idempotency-Key; cash on delivery confirms the order. Returns {action: replay|done|call, …}. Errors: MA400 idempotency_key_required, MA404 order_not_found, MA409 order_not_payable / idempotency_key_in_flight, MA422 invalid_field / payment_provider_unavailable / currency_not_supported / cash_on_delivery_unavailable / idempotency_key_reused.';

-- Records what the provider answered to the creation (owner only: maef-api after the
-- call). p_result = {"provider_ref", "client": {what the client needs}}. Returns the
-- 201 body, stored for retries; a second recording returns the first's body.
create function api.payment_created(p_payment_id uuid, p_result jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v shop.payment;
begin
    select * into v from shop.payment p where p.payment_id = p_payment_id for update;
    if v.payment_id is null then
        raise exception using errcode = 'MA404', constraint = 'payment_not_found', message = 'no such payment';
    end if;
    if v.response is not null then
        return v.response;
    end if;
    update shop.payment p
    set provider_ref = coalesce(p_result ->> 'provider_ref', p.provider_ref), client_data = p_result -> 'client',
        creating_until = null
    where p.payment_id = p_payment_id returning * into v;
    update shop.payment p set response = api._payment_response(v) where p.payment_id = p_payment_id
    returning * into v;
    return v.response;
end
$$;
comment on function api.payment_created(uuid, jsonb) is
    'Owner only (maef-api): records the provider''s answer to a payment''s creation ({provider_ref, client}); returns the 201 body (the stored one on a repeat). Errors: MA404 payment_not_found.';

-- Records a failed creation call (owner only). p_error = {"kind": "api" | "timeout" |
-- "transport" | "decode", "http_status", "code", "message", "provider_ref"?}. A
-- provider's refusal (an error envelope with a 4xx status) means nothing was created
-- there: the payment is failed. A timeout, 5xx or unreadable answer leaves it pending:
-- the provider may have created it, and the same key (or reconciliation, once the
-- reference is known) settles it.
create function api.payment_create_failed(p_payment_id uuid, p_error jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v shop.payment;
    v_order shop.customer_order;
    v_refused boolean := p_error ->> 'kind' = 'api' and coalesce((p_error ->> 'http_status')::integer, 0) between 400 and 499;
begin
    select * into v_order from shop.customer_order o
    where o.order_id = (select p.order_id from shop.payment p where p.payment_id = p_payment_id) for update;
    select * into v from shop.payment p where p.payment_id = p_payment_id for update;
    if v.payment_id is null then
        raise exception using errcode = 'MA404', constraint = 'payment_not_found', message = 'no such payment';
    end if;
    if v.response is not null or v.status <> 'pending' then
        return api._payment_json(v, true);
    end if;
    update shop.payment p
    set creating_until = null,
        provider_ref = coalesce(p.provider_ref, p_error ->> 'provider_ref'),
        failure_code = left(coalesce(p_error ->> 'code', p_error ->> 'kind'), 200),
        failure_message = left(p_error ->> 'message', 1000),
        status = case when v_refused then 'failed' else p.status end
    where p.payment_id = p_payment_id returning * into v;
    if v_refused and v_order.payment_status = 'pending' and v_order.status = 'awaiting_payment'
       and not api._order_has_open_payment(v_order.order_id, v.payment_id) then
        perform api._order_note(format('%s refused the payment: %s', v.provider, v.failure_code));
        update shop.customer_order set payment_status = 'none' where order_id = v_order.order_id;
        perform api._order_note('');
    end if;
    return api._payment_json(v, true);
end
$$;
comment on function api.payment_create_failed(uuid, jsonb) is
    'Owner only (maef-api): records a failed creation call; a 4xx refusal fails the payment, a timeout/5xx leaves it pending. Errors: MA404 payment_not_found.';

-- Applies what a provider says about a payment — a webhook (Stripe) or a re-fetch
-- (FedaPay, Paystack, reconciliation) — in the caller's transaction. p_obs =
-- {"status": pending|processing|succeeded|failed|cancelled, "amount" (minor units),
-- "currency", "provider_ref"?, "failure_code"?, "failure_message"?}. Forward only. A
-- success whose amount or currency differs, or for an order already paid, expired or
-- cancelled, is needs_review (audited; the order is not touched); otherwise payment
-- succeeded, order paid (reservations become sales), payment.succeeded and the
-- confirmation e-mail, all in this transaction. Returns what it did.
create function api._payment_apply(p_payment_id uuid, p_obs jsonb, p_source text)
returns text
language plpgsql as $$
declare
    v_order shop.customer_order;
    v shop.payment;
    v_status text := p_obs ->> 'status';
    v_amount bigint;
    v_currency text := upper(p_obs ->> 'currency');
    v_reason text;
begin
    if jsonb_typeof(p_obs -> 'amount') = 'number' then
        v_amount := (p_obs ->> 'amount')::numeric::bigint;
    end if;
    select * into v_order from shop.customer_order o
    where o.order_id = (select p.order_id from shop.payment p where p.payment_id = p_payment_id) for update;
    select * into v from shop.payment p where p.payment_id = p_payment_id for update;
    if v.payment_id is null then
        return 'unknown_payment';
    end if;
    update shop.payment p set last_checked_at = now(),
        provider_ref = coalesce(p.provider_ref, p_obs ->> 'provider_ref')
    where p.payment_id = v.payment_id;
    if api._payment_rank(v_status) is null then
        return 'ignored';
    end if;
    if api._payment_rank(v_status) <= api._payment_rank(v.status) then
        return 'stale';
    end if;
    if v_status = 'processing' then
        update shop.payment set status = 'processing' where payment_id = v.payment_id;
        return 'applied';
    end if;
    if v_status in ('failed', 'cancelled') then
        update shop.payment
        set status = v_status, failure_code = left(p_obs ->> 'failure_code', 200),
            failure_message = left(p_obs ->> 'failure_message', 1000)
        where payment_id = v.payment_id returning * into v;
        perform api._emit_event('payment.failed', 'payment', v.payment_id::text, jsonb_build_object(
            'payment_id', v.payment_id, 'order_id', v.order_id, 'order_number', v_order.order_number,
            'provider', v.provider, 'provider_ref', v.provider_ref, 'amount', v.amount, 'currency', v.currency_code,
            'failure_code', v.failure_code, 'failure_message', v.failure_message));
        if v_order.status = 'awaiting_payment' then
            if v_order.payment_status = 'pending' and not api._order_has_open_payment(v_order.order_id, v.payment_id) then
                perform api._order_note(format('%s payment %s: %s', v.provider, v_status,
                                               coalesce(v.failure_code, 'no reason given')));
                update shop.customer_order set payment_status = 'none' where order_id = v_order.order_id;
                perform api._order_note('');
            end if;
            perform api._queue_email('payment_failed', v_order.email, jsonb_build_object(
                'order_number', v_order.order_number,
                'total', maef.format_money(v_order.total_amount,
                                           (select c.exponent from shop.currency c where c.code = v_order.currency_code),
                                           v_order.currency_code),
                'reason', coalesce(v.failure_message, v.failure_code, v_status),
                'retry_link', replace(api._setting_text('payments.retry_url'), '{number}', v_order.order_number)),
                v_order.user_id);
        end if;
        return 'applied';
    end if;
    -- Succeeded.
    if v_amount is distinct from v.amount or v_currency is distinct from v.currency_code::text then
        v_reason := 'amount_mismatch';
    elsif v_order.payment_status in ('paid', 'partially_refunded', 'refunded') then
        v_reason := 'already_paid';
    elsif v_order.status not in ('awaiting_payment', 'confirmed') then
        v_reason := 'order_closed';
    end if;
    if v_reason is not null then
        update shop.payment
        set status = 'needs_review', review_reason = v_reason, amount_received = v_amount, succeeded_at = now()
        where payment_id = v.payment_id returning * into v;
        perform api._audit('payment.needs_review', 'payment', v.payment_id::text, jsonb_build_object(
            'reason', v_reason, 'order_number', v_order.order_number, 'order_status', v_order.status,
            'expected', jsonb_build_object('amount', v.amount, 'currency', v.currency_code),
            'received', jsonb_build_object('amount', v_amount, 'currency', v_currency), 'source', p_source));
        return 'needs_review:' || v_reason;
    end if;
    update shop.payment
    set status = 'succeeded', amount_received = v_amount, succeeded_at = now(), failure_code = null, failure_message = null
    where payment_id = v.payment_id returning * into v;
    perform api._mark_order_paid(v_order.order_id, jsonb_build_object(
        'payment_id', v.payment_id, 'provider', v.provider, 'reference', v.provider_ref));
    perform api._emit_event('payment.succeeded', 'payment', v.payment_id::text, jsonb_build_object(
        'payment_id', v.payment_id, 'order_id', v.order_id, 'order_number', v_order.order_number,
        'provider', v.provider, 'provider_ref', v.provider_ref, 'amount', v.amount, 'currency', v.currency_code,
        'succeeded_at', v.succeeded_at));
    perform api._order_confirmation_email(v_order);
    return 'applied';
end
$$;

-- Applies a re-fetched payment (owner only: maef-worker's verify_payment job, in the
-- transaction that completes the job). Returns {"outcome"}.
create function api.payment_verified(p_payment_id uuid, p_obs jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
begin
    return jsonb_build_object('outcome', api._payment_apply(p_payment_id, p_obs, 'verify'));
end
$$;
comment on function api.payment_verified(uuid, jsonb) is
    'Owner only (maef-worker): applies a payment re-fetched from its provider ({status, amount, currency, …}); forward only; success marks the order paid in this transaction.';

-- What maef-worker needs to re-fetch a payment, or null (unknown, not online, or not
-- yet known to its provider).
create function api.payment_to_verify(p_payment_id uuid)
returns jsonb
language sql stable security definer
set search_path = '' as $$
    select jsonb_build_object('id', p.payment_id, 'provider', p.provider, 'provider_ref', p.provider_ref,
                              'status', p.status, 'amount', p.amount, 'currency', p.currency_code, 'exponent', c.exponent)
    from shop.payment p
    join shop.payment_provider pp on pp.provider = p.provider and pp.kind = 'online'
    join shop.currency c on c.code = p.currency_code
    where p.payment_id = p_payment_id and p.provider_ref is not null
$$;
comment on function api.payment_to_verify(uuid) is
    'Owner only (maef-worker): {id, provider, provider_ref, status, amount, currency, exponent} of an online payment known to its provider, else null.';

-- Enqueues a verify_payment job for every online payment still pending or processing
-- after payments.reconcile_after_secs (and not checked since), within a week of its
-- creation: lost webhooks are caught this way. Owner only (the reconcile_payments
-- schedule). Returns how many were enqueued.
create function api.enqueue_payment_reconciliation(p_limit integer default 1000)
returns integer
language plpgsql security definer
set search_path = '' as $$
declare
    v_after interval := api._setting_secs('payments.reconcile_after_secs');
    v_count integer := 0;
    v_id uuid;
begin
    for v_id in
        select p.payment_id from shop.payment p
        join shop.payment_provider pp on pp.provider = p.provider and pp.kind = 'online'
        where p.status in ('pending', 'processing') and p.provider_ref is not null
          and p.created_at < now() - v_after and p.created_at > now() - interval '7 days'
          and (p.last_checked_at is null or p.last_checked_at < now() - v_after)
        order by p.created_at
        limit p_limit
        for update of p skip locked
    loop
        perform api.enqueue_job('verify_payment', jsonb_build_object('payment_id', v_id), 'default', 0, now(), 10,
                                'verify_payment:' || v_id);
        update shop.payment set last_checked_at = now() where payment_id = v_id;
        v_count := v_count + 1;
    end loop;
    return v_count;
end
$$;
comment on function api.enqueue_payment_reconciliation(integer) is
    'Owner only (reconcile_payments schedule): enqueues verify_payment for online payments pending longer than payments.reconcile_after_secs; returns the count.';

-- ---------------------------------------------------------------- provider webhooks

-- Stores and applies one verified provider webhook (owner only: maef-api calls it once
-- the signature is checked). p_event = {"event_id", "type", "object": "payment" |
-- "refund" | "other", "payment_hint"? (our payment id, from metadata or reference),
-- "provider_ref"?, "observed"? (as api._payment_apply), "refund_hint"?, "refund_ref"?,
-- "refund"? ({status, amount, failure_code?, failure_message?}), "payload" (the event as
-- sent)}. The event is stored once: a repeat answers {"outcome": "duplicate"} and does
-- nothing. A payment event of a provider whose webhooks must be verified enqueues a
-- verify_payment job (only the re-fetch marks the order paid); one for no known payment
-- is kept (outcome unknown_payment).
create function api.payment_webhook(p_provider text, p_event jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_event_id bigint;
    v_payment shop.payment;
    v_refund shop.refund;
    v_verify boolean;
    v_outcome text;
    v_hint text := p_event ->> 'payment_hint';
begin
    insert into shop.payment_event (provider, event_id, event_type, payload)
    values (p_provider, left(p_event ->> 'event_id', 300), left(coalesce(p_event ->> 'type', ''), 200),
            coalesce(p_event -> 'payload', '{}'))
    on conflict (provider, event_id) do nothing
    returning payment_event_id into v_event_id;
    if v_event_id is null then
        return jsonb_build_object('outcome', 'duplicate');
    end if;
    if v_hint ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
        select * into v_payment from shop.payment p where p.payment_id = v_hint::uuid and p.provider = p_provider;
    end if;
    if v_payment.payment_id is null and p_event ->> 'provider_ref' is not null then
        select * into v_payment from shop.payment p where p.provider = p_provider and p.provider_ref = p_event ->> 'provider_ref';
    end if;
    if p_event ->> 'object' = 'payment' then
        if v_payment.payment_id is null then
            v_outcome := 'unknown_payment';
        else
            select pp.verify_webhooks into v_verify from shop.payment_provider pp where pp.provider = p_provider;
            if v_verify then
                perform api.enqueue_job('verify_payment', jsonb_build_object('payment_id', v_payment.payment_id),
                                        'default', 0, now(), 10, 'verify_payment:' || v_payment.payment_id);
                v_outcome := 'verification_enqueued';
            else
                v_outcome := api._payment_apply(v_payment.payment_id, p_event -> 'observed', 'webhook');
            end if;
        end if;
    elsif p_event ->> 'object' = 'refund' then
        if p_event ->> 'refund_hint' ~ '^\d{1,18}$' then
            select * into v_refund from shop.refund r where r.refund_id = (p_event ->> 'refund_hint')::bigint;
        end if;
        if v_refund.refund_id is null and p_event ->> 'refund_ref' is not null then
            select r.* into v_refund from shop.refund r join shop.payment p using (payment_id)
            where p.provider = p_provider and r.provider_ref = p_event ->> 'refund_ref';
        end if;
        if v_refund.refund_id is null and v_payment.payment_id is not null then
            -- Paystack's refund events name the transaction, not our refund: the oldest
            -- pending refund of that amount on that payment.
            select * into v_refund from shop.refund r
            where r.payment_id = v_payment.payment_id and r.status = 'pending'
              and r.amount = (p_event #>> '{refund,amount}')::numeric
            order by r.refund_id limit 1;
        end if;
        if v_refund.refund_id is null then
            v_outcome := 'unknown_refund';
        else
            v_outcome := api._refund_apply(v_refund.refund_id, p_event -> 'refund', p_event ->> 'refund_ref');
        end if;
    else
        v_outcome := 'ignored';
    end if;
    update shop.payment_event
    set outcome = v_outcome, payment_id = coalesce(v_payment.payment_id, v_refund.payment_id), refund_id = v_refund.refund_id
    where payment_event_id = v_event_id;
    return jsonb_build_object('outcome', v_outcome);
end
$$;
comment on function api.payment_webhook(text, jsonb) is
    'Owner only (maef-api, after checking the signature): stores a provider webhook once by (provider, event id) and applies it (or enqueues its verification). Returns {outcome}; a repeat is {outcome: duplicate}.';

-- ---------------------------------------------------------------- cash on delivery

-- Staff mark a cash-on-delivery order paid when the courier brings the money
-- (orders:write:any): the payment succeeds, the order is paid (its reservations become
-- sales, unless it already shipped), payment.succeeded; audited. p_body = {"note"?}.
create function api.admin_mark_order_paid(p_number text, p_body jsonb default '{}')
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_order shop.customer_order;
    v shop.payment;
    v_note text := btrim(coalesce(p_body ->> 'note', ''));
begin
    perform api._require_scope('orders:write:any');
    if length(v_note) > 500 then
        perform api._payment_bad_field('$.note', 'note is at most 500 characters');
    end if;
    v_order := api._order_by_number(p_number, true);
    select * into v from shop.payment p
    where p.order_id = v_order.order_id and p.provider = 'cash_on_delivery' and p.status = 'pending'
    order by p.created_at desc limit 1
    for update;
    if v.payment_id is null then
        raise exception using errcode = 'MA409', constraint = 'not_cash_on_delivery',
            message = format('order %s has no cash-on-delivery payment awaiting its money', v_order.order_number),
            detail = jsonb_build_object('status', v_order.status, 'payment_status', v_order.payment_status)::text;
    end if;
    update shop.payment set status = 'succeeded', amount_received = amount, succeeded_at = now()
    where payment_id = v.payment_id returning * into v;
    -- The order as it now is, for the answer (paid).
    v_order := api._mark_order_paid(v_order.order_id, jsonb_build_object(
        'payment_id', v.payment_id, 'provider', 'cash_on_delivery',
        'note', coalesce(nullif(v_note, ''), 'cash collected on delivery')));
    perform api._emit_event('payment.succeeded', 'payment', v.payment_id::text, jsonb_build_object(
        'payment_id', v.payment_id, 'order_id', v.order_id, 'order_number', v_order.order_number,
        'provider', v.provider, 'provider_ref', null, 'amount', v.amount, 'currency', v.currency_code,
        'succeeded_at', v.succeeded_at));
    perform api._audit('order.mark_paid', 'order', v_order.order_id::text, jsonb_build_object(
        'order_number', v_order.order_number, 'payment_id', v.payment_id, 'amount', v.amount, 'note', v_note));
    return api._order_payments_json(v_order);
end
$$;
comment on function api.admin_mark_order_paid(text, jsonb) is
    'Staff (orders:write:any): a cash-on-delivery order''s money was collected: payment succeeded, order paid; audited. Errors: MA404 order_not_found, MA409 not_cash_on_delivery / order_transition_invalid, MA422 invalid_field.';

-- ---------------------------------------------------------------- refunds

-- Settles a pending refund (the caller holds the order and refund locks): succeeded
-- moves the order's payment status (partially refunded, refunded), writes
-- refund.succeeded and queues the refund e-mail. Forward only.
create function api._refund_settle(p_refund_id bigint, p_status text, p_failure jsonb, p_ref text)
returns text
language plpgsql as $$
declare
    r shop.refund;
    v shop.payment;
    v_order shop.customer_order;
    v_refunded bigint;
    v_exponent smallint;
begin
    select * into r from shop.refund where refund_id = p_refund_id;
    update shop.refund set provider_ref = coalesce(provider_ref, p_ref) where refund_id = p_refund_id and p_ref is not null;
    if p_status not in ('succeeded', 'failed') then
        return case when p_status = 'pending' then 'stale' else 'ignored' end;
    end if;
    if r.status <> 'pending' then
        return 'stale';
    end if;
    if p_status = 'failed' then
        update shop.refund set status = 'failed', failure_code = left(p_failure ->> 'code', 200),
            failure_message = left(p_failure ->> 'message', 1000), creating_until = null
        where refund_id = p_refund_id;
        perform api._audit('refund.failed', 'refund', p_refund_id::text, coalesce(p_failure, '{}'));
        return 'applied';
    end if;
    update shop.refund set status = 'succeeded', succeeded_at = now(), creating_until = null
    where refund_id = p_refund_id returning * into r;
    select * into v from shop.payment where payment_id = r.payment_id;
    select * into v_order from shop.customer_order where order_id = r.order_id;
    select c.exponent into v_exponent from shop.currency c where c.code = r.currency_code;
    if v.status = 'succeeded' then
        select coalesce(sum(x.amount), 0) into v_refunded from shop.refund x
        where x.payment_id = v.payment_id and x.status = 'succeeded';
        perform api._order_note(format('refunded %s', maef.format_money(r.amount, v_exponent, r.currency_code)));
        update shop.customer_order
        set payment_status = case when v_refunded >= coalesce(v.amount_received, v.amount) then 'refunded'
                                  else 'partially_refunded' end
        where order_id = v_order.order_id;
        perform api._order_note('');
    end if;
    -- The credit note of the refund, numbered without gaps (sql/invoices.sql).
    perform api._issue_credit_note(r.refund_id);
    perform api._emit_event('refund.succeeded', 'refund', r.refund_id::text, jsonb_build_object(
        'refund_id', r.refund_id, 'payment_id', r.payment_id, 'order_id', r.order_id,
        'order_number', v_order.order_number, 'amount', r.amount, 'currency', r.currency_code,
        'reason', r.reason, 'method', r.method, 'provider_ref', r.provider_ref, 'succeeded_at', r.succeeded_at));
    perform api._queue_email('refund', v_order.email, jsonb_build_object(
        'order_number', v_order.order_number,
        'amount', maef.format_money(r.amount, v_exponent, r.currency_code), 'reason', r.reason), v_order.user_id);
    return 'applied';
end
$$;

-- Applies a refund status from a provider webhook: locks order then refund (the lock
-- order), forward only.
create function api._refund_apply(p_refund_id bigint, p_refund jsonb, p_ref text)
returns text
language plpgsql as $$
begin
    perform from shop.customer_order o
    where o.order_id = (select r.order_id from shop.refund r where r.refund_id = p_refund_id) for update;
    perform from shop.refund r where r.refund_id = p_refund_id for update;
    return api._refund_settle(p_refund_id, p_refund ->> 'status', p_refund, p_ref);
end
$$;

-- A refund's amount and lines, computed from the order (the caller holds the order and
-- payment locks). p_lines = [{order_item_id, quantity}]. Each line returns its total
-- and tax (when prices exclude tax) pro rata, rounded so that refunding a line in parts
-- never adds up to more than refunding it whole: the amount for units k+1..k+q is
-- floor(T·(k+q)/n) − floor(T·k/n). Shipping (with its tax) once.
create function api._refund_amounts(o shop.customer_order, p_lines jsonb, p_shipping boolean,
                                    out lines jsonb, out amount bigint)
language plpgsql stable as $$
declare
    v_line jsonb;
    v_item shop.order_item;
    v_qty integer;
    v_done integer;
    v_total bigint;
    v_part bigint;
    i integer := 0;
begin
    lines := '[]';
    amount := 0;
    if jsonb_typeof(p_lines) is distinct from 'array' then
        perform api._payment_bad_field('$.lines', 'lines must be an array');
    end if;
    for v_line in select * from jsonb_array_elements(p_lines) loop
        if jsonb_typeof(v_line -> 'order_item_id') is distinct from 'number' or jsonb_typeof(v_line -> 'quantity') is distinct from 'number'
           or (v_line ->> 'quantity') !~ '^\d{1,9}$' or (v_line ->> 'order_item_id') !~ '^\d{1,18}$'
           or (v_line ->> 'quantity')::integer < 1 then
            perform api._payment_bad_field(format('$.lines[%s]', i), 'each line is {order_item_id, quantity ≥ 1}');
        end if;
        select * into v_item from shop.order_item oi
        where oi.order_item_id = (v_line ->> 'order_item_id')::bigint and oi.order_id = o.order_id;
        if v_item.order_item_id is null then
            perform api._payment_bad_field(format('$.lines[%s].order_item_id', i), 'no such line in this order');
        end if;
        if lines @> jsonb_build_array(jsonb_build_object('order_item_id', v_item.order_item_id)) then
            perform api._payment_bad_field(format('$.lines[%s].order_item_id', i), 'a line may be listed once');
        end if;
        v_qty := (v_line ->> 'quantity')::integer;
        select coalesce(sum(ri.quantity), 0) into v_done from shop.refund_item ri join shop.refund r using (refund_id)
        where ri.order_item_id = v_item.order_item_id and r.status <> 'failed';
        if v_done + v_qty > v_item.quantity then
            raise exception using errcode = 'MA422', constraint = 'refund_quantity_exceeds',
                message = format('line %s: %s of %s units are already refunded, %s more asked',
                                 v_item.order_item_id, v_done, v_item.quantity, v_qty),
                detail = format('$.lines[%s].quantity', i);
        end if;
        v_total := v_item.total_amount + case when o.prices_include_tax then 0 else v_item.tax_amount end;
        v_part := floor(v_total::numeric * (v_done + v_qty) / v_item.quantity)::bigint
                  - floor(v_total::numeric * v_done / v_item.quantity)::bigint;
        lines := lines || jsonb_build_array(jsonb_build_object(
            'order_item_id', v_item.order_item_id, 'variant_id', v_item.variant_id, 'product_id', v_item.product_id,
            'quantity', v_qty, 'amount', v_part));
        amount := amount + v_part;
        i := i + 1;
    end loop;
    if p_shipping then
        if exists (select from shop.refund r where r.order_id = o.order_id and r.shipping and r.status <> 'failed') then
            raise exception using errcode = 'MA422', constraint = 'shipping_already_refunded',
                message = 'the shipping of this order is already refunded', detail = '$.shipping';
        end if;
        amount := amount + o.shipping_amount + case when o.prices_include_tax then 0 else o.shipping_tax_amount end;
    end if;
end
$$;

-- Starts a refund (POST /api/v1/admin/orders/{number}/refunds, orders:write:any),
-- under the order's lock. p_body = {"lines": [{order_item_id, quantity}], "shipping",
-- "amount"?, "reason", "restock", "payment_id"?}. The amount is computed from the lines
-- (allocated discounts and taxes included) and the shipping, or given; it may never
-- exceed what was captured minus what is refunded or being refunded. Restocked lines go
-- back on hand (return movements) now. A provider without a refund API (FedaPay, cash)
-- records a manual refund, settled at once. Returns {"action": "replay" | "done" |
-- "call", …} as api.payment_begin does; "call" is followed by api.refund_created or
-- api.refund_create_failed. Audited.
create function api.refund_begin(p_number text, p_body jsonb, p_idem jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
begin
    perform api._require_scope('orders:write:any');
    return api._refund_begin(p_number, p_body, p_idem);
end
$$;

-- The body of api.refund_begin, without its permission check: fulfilment's
-- cancellations and returns (sql/fulfilment.sql, sql/returns.sql) start their refunds
-- through it, so every refund takes the same path (lines, caps, idempotency, provider).
create function api._refund_begin(p_number text, p_body jsonb, p_idem jsonb)
returns jsonb
language plpgsql
set search_path = '' as $$
declare
    v_order shop.customer_order;
    v_pay shop.payment;
    r shop.refund;
    v_key text;
    v_lines jsonb;
    v_computed bigint;
    v_amount bigint;
    v_captured bigint;
    v_committed bigint;
    v_reason text;
    v_method text;
    v_line jsonb;
    v_exponent smallint;
begin
    if p_idem is null then
        raise exception using errcode = 'MA400', constraint = 'idempotency_key_required',
            message = 'a refund needs an Idempotency-Key header';
    end if;
    if jsonb_typeof(p_body) is distinct from 'object' then
        perform api._payment_bad_field('$', 'the body must be an object');
    end if;
    if exists (select from jsonb_object_keys(p_body) k
               where k not in ('lines', 'shipping', 'amount', 'reason', 'restock', 'payment_id')) then
        perform api._payment_bad_field('$', 'unknown field');
    end if;
    v_order := api._order_by_number(p_number, true);
    v_key := (p_idem ->> 'scope') || ':' || (p_idem ->> 'key');
    select * into r from shop.refund x where x.order_id = v_order.order_id and x.request_key = v_key for update;
    if r.refund_id is not null then
        if r.request_hash is distinct from p_idem ->> 'hash' then
            raise exception using errcode = 'MA422', constraint = 'idempotency_key_reused',
                message = 'this Idempotency-Key was used for a different request';
        end if;
        if r.response is not null then
            return jsonb_build_object('action', 'replay', 'body', r.response);
        end if;
        if r.creating_until > now() then
            raise exception using errcode = 'MA409', constraint = 'idempotency_key_in_flight',
                message = 'a request with this Idempotency-Key is calling the payment provider',
                hint = 'Retry in a few seconds to get its response.';
        end if;
        if r.status = 'failed' then
            raise exception using errcode = 'MA409', constraint = 'refund_failed',
                message = format('this refund failed: %s', coalesce(r.failure_message, r.failure_code, 'no reason given')),
                detail = jsonb_build_object('refund_id', r.refund_id, 'failure_code', r.failure_code)::text,
                hint = 'Use a new Idempotency-Key to try another refund.';
        end if;
        select * into v_pay from shop.payment p where p.payment_id = r.payment_id for update;
        if v_pay.provider = 'paystack' and r.attempt > 0 then
            -- Paystack's refund API takes no idempotency key: calling again might refund twice.
            raise exception using errcode = 'MA409', constraint = 'refund_outcome_unknown',
                message = 'Paystack did not answer this refund: it may or may not have been made',
                detail = jsonb_build_object('refund_id', r.refund_id)::text,
                hint = 'Its refund webhook settles it; check the Paystack dashboard before trying again.';
        end if;
    else
        -- Which payment: the order's applied one, or a payment of the order needing review.
        if p_body ? 'payment_id' then
            if (p_body ->> 'payment_id') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
                perform api._payment_bad_field('$.payment_id', 'payment_id must be a payment id of this order');
            end if;
            select * into v_pay from shop.payment p
            where p.payment_id = (p_body ->> 'payment_id')::uuid and p.order_id = v_order.order_id
              and p.status in ('succeeded', 'needs_review')
            for update;
        else
            select * into v_pay from shop.payment p
            where p.order_id = v_order.order_id and p.status = 'succeeded' for update;
        end if;
        if v_pay.payment_id is null then
            raise exception using errcode = 'MA409', constraint = 'order_not_refundable',
                message = format('order %s has no captured payment to refund', v_order.order_number),
                detail = jsonb_build_object('status', v_order.status, 'payment_status', v_order.payment_status)::text;
        end if;
        v_reason := btrim(coalesce(p_body ->> 'reason', ''));
        if jsonb_typeof(p_body -> 'reason') is distinct from 'string' or v_reason = '' or length(v_reason) > 500 then
            perform api._payment_bad_field('$.reason', 'reason is required (1 to 500 characters)');
        end if;
        if (p_body ? 'shipping' and jsonb_typeof(p_body -> 'shipping') <> 'boolean')
           or (p_body ? 'restock' and jsonb_typeof(p_body -> 'restock') <> 'boolean') then
            perform api._payment_bad_field(case when jsonb_typeof(p_body -> 'shipping') <> 'boolean' then '$.shipping'
                                                else '$.restock' end, 'shipping and restock are booleans');
        end if;
        if v_pay.status = 'needs_review' and (jsonb_array_length(coalesce(nullif(p_body -> 'lines', 'null'), '[]')) > 0
                                               or coalesce((p_body ->> 'shipping')::boolean, false)) then
            perform api._payment_bad_field('$.lines', 'a payment not applied to the order is refunded by amount, without lines');
        end if;
        select x.lines, x.amount into v_lines, v_computed
        from api._refund_amounts(v_order, coalesce(nullif(p_body -> 'lines', 'null'), '[]'),
                                 coalesce((p_body ->> 'shipping')::boolean, false)) x;
        if p_body ? 'amount' and p_body -> 'amount' <> 'null' then
            if jsonb_typeof(p_body -> 'amount') <> 'number' or (p_body ->> 'amount') !~ '^\d{1,15}$' then
                perform api._payment_bad_field('$.amount', 'amount is a whole number of minor units');
            end if;
            v_amount := (p_body ->> 'amount')::bigint;
        elsif v_pay.status = 'needs_review' then
            v_amount := coalesce(v_pay.amount_received, v_pay.amount);
        else
            v_amount := v_computed;
        end if;
        if v_amount <= 0 then
            raise exception using errcode = 'MA422', constraint = 'refund_empty',
                message = 'nothing to refund: give lines, shipping or an amount';
        end if;
        v_captured := coalesce(v_pay.amount_received, v_pay.amount);
        select coalesce(sum(x.amount), 0) into v_committed from shop.refund x
        where x.payment_id = v_pay.payment_id and x.status <> 'failed';
        if v_amount > v_captured - v_committed then
            raise exception using errcode = 'MA422', constraint = 'refund_exceeds_captured',
                message = format('%s asked, but only %s of the %s captured is left to refund',
                                 v_amount, v_captured - v_committed, v_captured),
                detail = jsonb_build_object('captured', v_captured, 'refunded', v_committed, 'requested', v_amount)::text;
        end if;
        select case when pp.refund_api then 'provider' else 'manual' end into v_method
        from shop.payment_provider pp where pp.provider = v_pay.provider;
        insert into shop.refund (payment_id, order_id, amount, currency_code, reason, method, shipping, restock,
                                 request_key, request_hash, created_by)
        values (v_pay.payment_id, v_order.order_id, v_amount, v_pay.currency_code, v_reason, v_method,
                coalesce((p_body ->> 'shipping')::boolean, false), coalesce((p_body ->> 'restock')::boolean, false),
                v_key, p_idem ->> 'hash', shop.current_user_id())
        returning * into r;
        insert into shop.refund_item (refund_id, order_item_id, quantity, amount)
        select r.refund_id, (l ->> 'order_item_id')::bigint, (l ->> 'quantity')::integer, (l ->> 'amount')::bigint
        from jsonb_array_elements(v_lines) l;
        if r.restock then
            -- Back on hand where they were sold, in the inventory lock order.
            for v_line in select l from jsonb_array_elements(v_lines) l
                          where l ->> 'variant_id' is not null
                          order by (l ->> 'product_id')::bigint nulls last, (l ->> 'variant_id')::bigint loop
                perform api._adjust_stock((v_line ->> 'variant_id')::bigint,
                    coalesce((select sr.stock_location_id from shop.stock_reservation sr
                              where sr.order_item_id = (v_line ->> 'order_item_id')::bigint and sr.status = 'sold'
                              order by sr.stock_reservation_id limit 1),
                             api._first_location((v_line ->> 'variant_id')::bigint)),
                    'return', (v_line ->> 'quantity')::integer,
                    format('refund %s of order %s', r.refund_id, v_order.order_number));
            end loop;
        end if;
        perform api._audit('order.refund', 'order', v_order.order_id::text, jsonb_build_object(
            'order_number', v_order.order_number, 'refund_id', r.refund_id, 'payment_id', v_pay.payment_id,
            'amount', v_amount, 'computed', v_computed, 'method', v_method, 'reason', v_reason,
            'restock', r.restock, 'lines', v_lines));
        if v_method = 'manual' then
            perform api._refund_settle(r.refund_id, 'succeeded', null, null);
            select * into v_order from shop.customer_order o where o.order_id = v_order.order_id;
            update shop.refund x set response = api._order_payments_json(v_order) || jsonb_build_object(
                'refund', api._refund_json(x, true))
            where x.refund_id = r.refund_id returning * into r;
            return jsonb_build_object('action', 'done', 'body', r.response);
        end if;
    end if;
    update shop.refund x set attempt = x.attempt + 1,
        creating_until = now() + api._setting_secs('payments.creation_lease_secs')
    where x.refund_id = r.refund_id returning * into r;
    select c.exponent into v_exponent from shop.currency c where c.code = r.currency_code;
    return jsonb_build_object(
        'action', 'call',
        'refund', jsonb_build_object('id', r.refund_id, 'amount', r.amount, 'currency', r.currency_code,
                                     'exponent', v_exponent, 'reason', r.reason, 'attempt', r.attempt),
        'payment', jsonb_build_object('id', v_pay.payment_id, 'provider', v_pay.provider,
                                      'provider_ref', v_pay.provider_ref),
        'order', jsonb_build_object('number', v_order.order_number));
end
$$;
comment on function api.refund_begin(text, jsonb, jsonb) is
    'Staff (orders:write:any): starts a refund of an order''s captured payment — amount from lines and shipping (or given), never beyond captured minus refunded; restock; manual for providers without a refund API. Returns {action: replay|done|call, …}. Errors: MA400, MA404 order_not_found, MA409 order_not_refundable / idempotency_key_in_flight / refund_failed / refund_outcome_unknown, MA422 invalid_field / refund_exceeds_captured / refund_quantity_exceeds / shipping_already_refunded / refund_empty / idempotency_key_reused.';

-- Records the provider's answer to a refund (owner only: maef-api). p_result =
-- {"provider_ref", "status": pending|succeeded|failed, "failure_code"?,
-- "failure_message"?}. Returns the 201 body (stored for retries).
create function api.refund_created(p_refund_id bigint, p_result jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    r shop.refund;
    v_order shop.customer_order;
begin
    select * into v_order from shop.customer_order o
    where o.order_id = (select x.order_id from shop.refund x where x.refund_id = p_refund_id) for update;
    select * into r from shop.refund x where x.refund_id = p_refund_id for update;
    if r.refund_id is null then
        raise exception using errcode = 'MA404', constraint = 'refund_not_found', message = 'no such refund';
    end if;
    if r.response is not null then
        return r.response;
    end if;
    update shop.refund set provider_ref = coalesce(p_result ->> 'provider_ref', provider_ref), creating_until = null
    where refund_id = p_refund_id;
    perform api._refund_settle(p_refund_id, p_result ->> 'status', p_result, p_result ->> 'provider_ref');
    select * into v_order from shop.customer_order o where o.order_id = v_order.order_id;
    update shop.refund x set response = api._order_payments_json(v_order) || jsonb_build_object('refund', api._refund_json(x, true))
    where x.refund_id = p_refund_id returning * into r;
    return r.response;
end
$$;
comment on function api.refund_created(bigint, jsonb) is
    'Owner only (maef-api): records the provider''s answer to a refund ({provider_ref, status}); returns the 201 body. Errors: MA404 refund_not_found.';

-- Records a failed refund call (owner only). A 4xx refusal fails the refund (what it
-- held of the captured amount is free again); a timeout or 5xx leaves it pending.
create function api.refund_create_failed(p_refund_id bigint, p_error jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    r shop.refund;
begin
    perform from shop.customer_order o
    where o.order_id = (select x.order_id from shop.refund x where x.refund_id = p_refund_id) for update;
    select * into r from shop.refund x where x.refund_id = p_refund_id for update;
    if r.refund_id is null then
        raise exception using errcode = 'MA404', constraint = 'refund_not_found', message = 'no such refund';
    end if;
    if r.response is not null or r.status <> 'pending' then
        return api._refund_json(r, true);
    end if;
    update shop.refund x set creating_until = null, failure_code = left(coalesce(p_error ->> 'code', p_error ->> 'kind'), 200),
        failure_message = left(p_error ->> 'message', 1000)
    where x.refund_id = p_refund_id returning * into r;
    if p_error ->> 'kind' = 'api' and coalesce((p_error ->> 'http_status')::integer, 0) between 400 and 499 then
        perform api._refund_settle(p_refund_id, 'failed', jsonb_build_object('code', r.failure_code, 'message', r.failure_message), null);
        select * into r from shop.refund x where x.refund_id = p_refund_id;
    end if;
    return api._refund_json(r, true);
end
$$;
comment on function api.refund_create_failed(bigint, jsonb) is
    'Owner only (maef-api): records a failed refund call; a 4xx refusal fails it, a timeout/5xx leaves it pending. Errors: MA404 refund_not_found.';

-- ---------------------------------------------------------------- reading

-- An order's payments and refunds for its customer (or a guest with the token).
create function api.order_payments(p_number text, p_token text default null)
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    v shop.customer_order := api._order_for_payer(p_number, p_token, false);
begin
    return jsonb_build_object(
        'order', jsonb_build_object('number', v.order_number, 'status', v.status, 'payment_status', v.payment_status),
        'payments', coalesce((select jsonb_agg(api._payment_json(p, false) || jsonb_build_object(
                                  'next_action', case when p.status in ('pending', 'processing') then p.client_data end)
                              order by p.created_at)
                              from shop.payment p where p.order_id = v.order_id), '[]'));
end
$$;
comment on function api.order_payments(text, text) is
    'An order''s payments and refunds, for its customer or a guest with its token. Errors: MA404 order_not_found.';

-- An order's payments and refunds for staff, with what is left to refund.
create function api._order_payments_json(v shop.customer_order)
returns jsonb
language plpgsql stable as $$  -- PL/pgSQL: its plan is kept (see api._order_json)
begin
    return (select jsonb_build_object(
        'order', jsonb_build_object('number', v.order_number, 'status', v.status, 'payment_status', v.payment_status,
                                    'currency', v.currency_code, 'grand_total', v.total_amount),
        'captured', coalesce((select sum(coalesce(p.amount_received, p.amount)) from shop.payment p
                              where p.order_id = v.order_id and p.status = 'succeeded'), 0),
        'refunded', coalesce((select sum(r.amount) from shop.refund r where r.order_id = v.order_id and r.status = 'succeeded'), 0),
        'refund_pending', coalesce((select sum(r.amount) from shop.refund r where r.order_id = v.order_id and r.status = 'pending'), 0),
        'payments', coalesce((select jsonb_agg(api._payment_json(p, true) order by p.created_at)
                              from shop.payment p where p.order_id = v.order_id), '[]')));
end
$$;

create function api.admin_order_payments(p_number text)
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
begin
    perform api._require_scope('orders:read:any');
    return api._order_payments_json(api._order_by_number(p_number, false));
end
$$;
comment on function api.admin_order_payments(text) is
    'Staff (orders:read:any): an order''s payments (provider references, review reasons), refunds, captured and refunded totals. Errors: MA404 order_not_found.';

-- Payments for staff, newest first: {"status"?, "provider"?, "limit"?, "after"?}.
-- status=needs_review lists the money to refund.
create function api.admin_list_payments(p_filter jsonb default '{}')
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    v_limit integer;
    v_after_at timestamptz;
    v_after_id uuid;
    v_items jsonb;
    v_last record;
begin
    perform api._require_scope('orders:read:any');
    if p_filter ->> 'status' is not null and api._payment_rank(p_filter ->> 'status') is null then
        raise exception using errcode = 'MA422', constraint = 'invalid_filter', message = 'unknown payment status',
            detail = 'status';
    end if;
    if p_filter ->> 'provider' is not null
       and not exists (select from shop.payment_provider pp where pp.provider = p_filter ->> 'provider') then
        raise exception using errcode = 'MA422', constraint = 'invalid_filter', message = 'unknown provider',
            detail = 'provider';
    end if;
    v_limit := api._check_limit((p_filter ->> 'limit')::integer);
    select c.after_at, c.after_id into v_after_at, v_after_id from api._order_cursor(p_filter ->> 'after') c;
    select coalesce(jsonb_agg(x.j order by x.created_at desc, x.payment_id desc), '[]') into v_items
    from (select p.created_at, p.payment_id,
                 api._payment_json(p, true) || jsonb_build_object('order_number', o.order_number) as j
          from shop.payment p join shop.customer_order o using (order_id)
          where (p_filter ->> 'status' is null or p.status = p_filter ->> 'status')
            and (p_filter ->> 'provider' is null or p.provider = p_filter ->> 'provider')
            and (v_after_at is null or (p.created_at, p.payment_id) < (v_after_at, v_after_id))
          order by p.created_at desc, p.payment_id desc
          limit v_limit) x;
    select p.created_at, p.payment_id into v_last from shop.payment p
    where p.payment_id = (v_items -> -1 ->> 'id')::uuid;
    return jsonb_build_object('items', v_items, 'next_cursor',
        case when jsonb_array_length(v_items) = v_limit then v_last.created_at::text || '|' || v_last.payment_id::text end);
end
$$;
comment on function api.admin_list_payments(jsonb) is
    'Staff (orders:read:any): payments newest first, filtered by status and provider (keyset pages). Errors: MA422 invalid_filter / invalid_limit / invalid_cursor.';

-- ---------------------------------------------------------------- reports (psql)

-- Money per day, provider and currency: captured (payments that succeeded that day,
-- applied or needing review) and refunded (refunds that succeeded that day).
create view report.payments_daily as
with captured as (
    select date_trunc('day', p.succeeded_at) as day, p.provider, p.currency_code,
           count(*) filter (where p.status = 'succeeded') as payments,
           coalesce(sum(coalesce(p.amount_received, p.amount)) filter (where p.status = 'succeeded'), 0) as captured,
           count(*) filter (where p.status = 'needs_review') as needs_review
    from shop.payment p where p.succeeded_at is not null
    group by 1, 2, 3
), refunded as (
    select date_trunc('day', r.succeeded_at) as day, p.provider, r.currency_code, count(*) as refunds,
           sum(r.amount) as refunded
    from shop.refund r join shop.payment p using (payment_id) where r.status = 'succeeded'
    group by 1, 2, 3
)
select coalesce(c.day, r.day)::date as day, coalesce(c.provider, r.provider) as provider,
       coalesce(c.currency_code, r.currency_code) as currency, coalesce(c.payments, 0) as payments,
       coalesce(c.captured, 0) as captured, coalesce(r.refunds, 0) as refunds, coalesce(r.refunded, 0) as refunded,
       coalesce(c.needs_review, 0) as needs_review
from captured c full join refunded r on r.day = c.day and r.provider = c.provider and r.currency_code = c.currency_code
order by 1 desc, 2, 3;
comment on view report.payments_daily is 'Captured and refunded money per day, provider and currency (minor units).';

-- What needs a person: money captured but not applied (to refund), payments the
-- provider has not settled for an hour, refunds pending for a day, refunds that failed.
create view report.payment_problems as
select 'needs_review' as problem, o.order_number, p.provider, p.payment_id, null::bigint as refund_id,
       coalesce(p.amount_received, p.amount) as amount, p.currency_code as currency, p.review_reason as detail, p.succeeded_at as since
from shop.payment p join shop.customer_order o using (order_id)
where p.status = 'needs_review'
  and coalesce(p.amount_received, p.amount) > coalesce((select sum(r.amount) from shop.refund r
                                                        where r.payment_id = p.payment_id and r.status <> 'failed'), 0)
union all
select 'payment_unsettled', o.order_number, p.provider, p.payment_id, null, p.amount, p.currency_code,
       p.status || coalesce(': ' || p.failure_code, ''), p.created_at
from shop.payment p join shop.customer_order o using (order_id)
where p.status in ('pending', 'processing') and p.provider <> 'cash_on_delivery' and p.provider_ref is not null
  and p.created_at < now() - interval '1 hour' and o.status in ('awaiting_payment', 'paid')
union all
select case r.status when 'failed' then 'refund_failed' else 'refund_pending' end, o.order_number, p.provider,
       p.payment_id, r.refund_id, r.amount, r.currency_code, coalesce(r.failure_code, r.status), r.created_at
from shop.refund r join shop.payment p using (payment_id) join shop.customer_order o on o.order_id = r.order_id
where (r.status = 'pending' and r.created_at < now() - interval '1 day')
   or (r.status = 'failed' and r.created_at > now() - interval '30 days');
comment on view report.payment_problems is
    'Payments and refunds that need a person: captured but not applied (needs_review), unsettled for an hour, refunds pending a day or failed.';

-- Descriptions of the private helpers above, for \df+ in psql.
comment on function api._payment_rank(text) is 'Private: how far along a payment status is (forward-only updates).';
comment on function api._payment_bad_field(text, text) is 'Private: raises MA422 invalid_field with the JSON path.';
comment on function api._order_for_payer(text, text, boolean) is 'Private: the order of a customer or a guest with its token (optionally locked), else MA404 order_not_found.';
comment on function api._cod_refusal(shop.customer_order) is 'Private: why cash on delivery is not offered for an order (country, amount), or null.';
comment on function api._payment_json(shop.payment, boolean) is 'Private: a payment as JSON (more for staff).';
comment on function api._refund_json(shop.refund, boolean) is 'Private: a refund as JSON (more for staff).';
comment on function api._payment_response(shop.payment) is 'Private: the 201 body of a payment request.';
comment on function api._order_confirmation_email(shop.customer_order) is 'Private: queues the order_confirmation e-mail.';
comment on function api._order_has_open_payment(uuid, uuid) is 'Private: whether another payment of the order is still pending or processing.';
comment on function api._payment_apply(uuid, jsonb, text) is 'Private: applies a provider''s view of a payment (forward only); success marks the order paid.';
comment on function api._refund_settle(bigint, text, jsonb, text) is 'Private: settles a pending refund (succeeded: order payment status, event, e-mail; failed).';
comment on function api._refund_apply(bigint, jsonb, text) is 'Private: locks and settles a refund from a provider webhook.';
comment on function api._order_payments_json(shop.customer_order) is 'Private: an order''s payments, refunds and totals for staff.';
comment on function api._refund_begin(text, jsonb, jsonb) is 'Private: api.refund_begin without its permission check (cancellations and returns refund through it).';
comment on function api._refund_amounts(shop.customer_order, jsonb, boolean) is 'Private: a refund''s lines and amount from the order (pro rata, never more than whole lines).';

-- ---------------------------------------------------------------- who may call these
-- Deny by default: maef-api migrate revokes EXECUTE from PUBLIC, so a function is
-- callable only by its owner (maef-api's recording steps and webhooks, maef-worker,
-- DBAs) until it is granted here.
-- Everyone, anonymous callers included (public on purpose: a guest pays and reads
-- their order with its token; each function checks the caller itself):
grant execute on function
    api.payment_options(text,text,text[]),
    api.payment_begin(text,text,jsonb,jsonb,text[]),
    api.order_payments(text,text)
    to maef_anon, maef_customer, maef_staff, maef_admin;
-- Managers and admins (each function checks its permission):
grant execute on function
    api.admin_order_payments(text),
    api.admin_list_payments(jsonb),
    api.admin_mark_order_paid(text,jsonb),
    api.refund_begin(text,jsonb,jsonb)
    to maef_staff, maef_admin;
-- Not granted (owner only: what a provider said is recorded only by code holding its
-- keys — maef-api after a call or a verified webhook, maef-worker after a re-fetch):
--   api.payment_created, api.payment_create_failed, api.payment_webhook,
--   api.payment_verified, api.payment_to_verify, api.enqueue_payment_reconciliation,
--   api.refund_created, api.refund_create_failed.
