-- Orders: what customers, guests and staff read; the state changes other domains call
-- (payment marks an order paid, cash on delivery confirms it, the worker expires it,
-- staff cancel it or add notes). The three state machines (status, payment_status,
-- fulfillment_status), their allowed transitions and the timeline are enforced by the
-- data (migrations/V27__orders.sql): an illegal change raises MA409
-- order_transition_invalid naming machine, from and to, whoever attempts it.
--
-- Lock order (see V27): order row → coupon row → inventory rows in (product_id,
-- variant_id) order. Every function here that changes an order locks its row first.
--
-- Errors: MA404 order_not_found, MA409 order_transition_invalid (detail = {machine,
-- from, to}), MA422 invalid_field / invalid_filter / invalid_cursor / invalid_limit.

-- Says why the next state change of this transaction happens: the order_event trigger
-- copies it into the timeline. Cleared by passing ''.
create function api._order_note(p_note text)
returns void
language plpgsql as $$  -- PL/pgSQL: its plan is kept (see api._order_json)
begin
    perform set_config('maef.order_note', coalesce(p_note, ''), true);
end
$$;

-- The order with this number, optionally locked FOR UPDATE (first in the lock order).
create function api._order_by_number(p_number text, p_lock boolean default false)
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
    if v.order_id is null then
        raise exception using errcode = 'MA404', constraint = 'order_not_found', message = 'no such order';
    end if;
    return v;
end
$$;

-- An order as JSON: its lines (labels, unit prices, allocated discounts, taxes), totals,
-- shipping, addresses and timeline. p_staff adds what only staff see: the customer's
-- id, internal notes, who made each change, the stock reservations.
--
-- PL/pgSQL rather than SQL: a LANGUAGE sql function that the planner cannot inline (this
-- one has sub-selects) is parsed, analysed and planned at every call, which cost 1 ms of
-- a 4.5 ms checkout (pg_stat_user_functions); PL/pgSQL prepares its query once per
-- session. The same holds for the other helpers of the checkout path marked so.
create function api._order_json(o shop.customer_order, p_staff boolean)
returns jsonb
language plpgsql stable as $$
begin
    return (select jsonb_build_object(
        'id', o.order_id, 'number', o.order_number,
        'status', o.status, 'payment_status', o.payment_status, 'fulfillment_status', o.fulfillment_status,
        'email', o.email, 'currency', o.currency_code, 'exponent', c.exponent,
        'prices_include_tax', o.prices_include_tax,
        'lines', coalesce((select jsonb_agg(jsonb_build_object(
                     'id', i.order_item_id, 'variant_id', i.variant_id, 'product_id', i.product_id,
                     'sku', i.sku, 'product_title', i.product_title, 'variant_name', i.variant_name,
                     'product_slug', i.product_slug, 'quantity', i.quantity, 'unit_price', i.unit_amount,
                     'compare_at', i.compare_at_amount, 'subtotal', i.subtotal_amount, 'discounts', i.discounts,
                     'discount_total', i.discount_amount, 'total', i.total_amount, 'tax_rate_bp', i.tax_rate_bp,
                     'tax', i.tax_amount, 'backordered_quantity', i.backordered_quantity,
                     'quantity_shipped', i.quantity_shipped, 'quantity_cancelled', i.quantity_cancelled,
                     'quantity_returned', i.quantity_returned,
                     'quantity_delivered', d.delivered,
                     'quantity_returnable', greatest(d.delivered - d.in_returns, 0),
                     'returnable_until', d.last_delivered_at
                                         + make_interval(days => api._setting_int('returns.window_days')::integer))
                     order by i.order_item_id)
                   from shop.order_item i
                   -- What a return request may ask for (api.request_return's rule):
                   -- delivered units not already in a return that was not rejected.
                   cross join lateral (
                       select coalesce((select sum(si.quantity) from shop.shipment_item si
                                        join shop.shipment s using (shipment_id)
                                        where si.order_item_id = i.order_item_id and s.status = 'delivered'), 0)::integer as delivered,
                              coalesce((select sum(ri.quantity) from shop.return_item ri
                                        join shop.order_return r using (return_id)
                                        where ri.order_item_id = i.order_item_id and r.status <> 'rejected'), 0)::integer as in_returns,
                              (select max(s.delivered_at) from shop.shipment_item si join shop.shipment s using (shipment_id)
                               where si.order_item_id = i.order_item_id and s.status = 'delivered') as last_delivered_at) d
                   where i.order_id = o.order_id), '[]'),
        'subtotal', o.subtotal_amount, 'discount_total', o.discount_amount,
        'shipping_total', o.shipping_amount, 'shipping_tax', o.shipping_tax_amount,
        'tax_total', o.tax_amount, 'grand_total', o.total_amount,
        'grand_total_formatted', maef.format_money(o.total_amount, c.exponent, o.currency_code),
        'promotions', o.promotions, 'coupon_code', o.coupon_code,
        'shipping_method', o.shipping_method,
        'shipping_address', o.shipping_address, 'billing_address', o.billing_address,
        'customer_note', o.customer_note,
        'shipments', api._order_shipments_json(o.order_id),
        'placed_at', o.placed_at, 'reservation_expires_at', o.reservation_expires_at,
        -- api.customer_cancel_begin's rule, so a page offers the button only when it works.
        'cancellable_until',
            case when o.placed_at is not null and o.status not in ('cancelled', 'expired')
                      and not exists (select from shop.order_item i
                                      where i.order_id = o.order_id and i.quantity_shipped > 0)
                      and now() <= o.placed_at + make_interval(mins => api._setting_int('orders.cancel_window_minutes')::integer)
                 then o.placed_at + make_interval(mins => api._setting_int('orders.cancel_window_minutes')::integer) end,
        'created_at', o.created_at, 'updated_at', o.updated_at,
        'events', coalesce((select jsonb_agg(
                      jsonb_build_object('at', e.created_at, 'kind', e.kind, 'from', e.from_state, 'to', e.to_state,
                                         'note', e.note)
                      || case when p_staff then jsonb_build_object(
                             'is_internal', e.is_internal, 'actor_id', e.actor_id,
                             'actor_email', (select u.email from shop.app_user u where u.user_id = e.actor_id))
                         else '{}'::jsonb end
                      order by e.order_event_id)
                    from shop.order_event e where e.order_id = o.order_id and (p_staff or not e.is_internal)), '[]'))
    || case when p_staff then jsonb_build_object(
           'user_id', o.user_id,
           'reservations', coalesce((select jsonb_agg(jsonb_build_object(
                               'sku', v.sku, 'location', s.code, 'quantity', r.quantity,
                               'backordered', r.backordered, 'status', r.status) order by r.stock_reservation_id)
                             from shop.stock_reservation r
                             join shop.stock_location s on s.stock_location_id = r.stock_location_id
                             left join shop.product_variant v on v.variant_id = r.variant_id
                             where r.order_id = o.order_id), '[]'))
       else '{}'::jsonb end
    from shop.currency c where c.code = o.currency_code);
end
$$;

-- An order in a list.
create function api._order_summary(o shop.customer_order)
returns jsonb
language sql stable as $$
    select jsonb_build_object(
        'id', o.order_id, 'number', o.order_number, 'status', o.status, 'payment_status', o.payment_status,
        'fulfillment_status', o.fulfillment_status, 'email', o.email,
        'full_name', coalesce(o.shipping_address ->> 'full_name', o.billing_address ->> 'full_name'),
        'currency', o.currency_code, 'grand_total', o.total_amount,
        'grand_total_formatted', maef.format_money(o.total_amount, c.exponent, o.currency_code),
        'items', (select coalesce(sum(i.quantity), 0) from shop.order_item i where i.order_id = o.order_id),
        'placed_at', o.placed_at, 'reservation_expires_at', o.reservation_expires_at)
    from shop.currency c where c.code = o.currency_code
$$;

-- A keyset cursor "created_at|order_id" (newest first), or nulls.
create function api._order_cursor(p_after text, out after_at timestamptz, out after_id uuid)
language plpgsql immutable as $$
begin
    if p_after is not null then
        after_at := split_part(p_after, '|', 1)::timestamptz;
        after_id := split_part(p_after, '|', 2)::uuid;
    end if;
exception when others then
    raise exception using errcode = 'MA422', constraint = 'invalid_cursor',
        message = 'after is not a cursor returned by this API';
end
$$;

create function api._check_limit(p_limit integer)
returns integer
language plpgsql immutable as $$
begin
    if coalesce(p_limit, 20) not between 1 and 100 then
        raise exception using errcode = 'MA422', constraint = 'invalid_limit', message = 'limit must be between 1 and 100';
    end if;
    return coalesce(p_limit, 20);
end
$$;

-- The payload of order.placed (docs/events.md).
create function api._order_placed_payload(o shop.customer_order)
returns jsonb
language plpgsql stable as $$  -- PL/pgSQL: its plan is kept (see api._order_json)
begin
    return jsonb_build_object(
        'order_id', o.order_id, 'order_number', o.order_number, 'user_id', o.user_id, 'email', o.email,
        'status', o.status, 'currency', o.currency_code, 'subtotal_amount', o.subtotal_amount,
        'discount_amount', o.discount_amount, 'shipping_amount', o.shipping_amount, 'tax_amount', o.tax_amount,
        'total_amount', o.total_amount,
        'lines', coalesce((select jsonb_agg(jsonb_build_object(
                      'order_item_id', i.order_item_id, 'variant_id', i.variant_id, 'sku', i.sku,
                      'product_title', i.product_title, 'variant_name', i.variant_name, 'quantity', i.quantity,
                      'unit_amount', i.unit_amount, 'discount_amount', i.discount_amount, 'tax_amount', i.tax_amount,
                      'total_amount', i.total_amount) order by i.order_item_id)
                    from shop.order_item i where i.order_id = o.order_id), '[]'),
        'shipping_address', o.shipping_address, 'placed_at', o.placed_at, 'expires_at', o.reservation_expires_at);
end
$$;

-- ---------------------------------------------------------------- customers and guests

-- The signed-in customer's orders, newest first: {items, next_cursor}.
create function api.my_orders(p_limit integer default 20, p_after text default null)
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    v_user_id uuid := api._require_user();
    v_limit integer := api._check_limit(p_limit);
    c record;
    v_page jsonb;
begin
    select * into c from api._order_cursor(p_after);
    select jsonb_build_object(
        'items', coalesce(jsonb_agg(api._order_summary(o.ord) order by o.created_at desc, o.order_id desc)
                          filter (where o.n <= v_limit), '[]'),
        'next_cursor', case when count(*) > v_limit then
            (array_agg(o.created_at::text || '|' || o.order_id order by o.created_at desc, o.order_id desc))[v_limit] end)
    into v_page
    from (select x as ord, x.created_at, x.order_id,
                 row_number() over (order by x.created_at desc, x.order_id desc) as n
          from shop.customer_order x
          where x.user_id = v_user_id
            and (c.after_at is null or (x.created_at, x.order_id) < (c.after_at, c.after_id))
          order by x.created_at desc, x.order_id desc
          limit v_limit + 1) o;
    return v_page;
end
$$;
comment on function api.my_orders(integer, text) is
    'The signed-in customer''s orders newest first: {items, next_cursor} (limit 1..100). Errors: MA401, MA422 invalid_limit / invalid_cursor.';

-- One order: the signed-in customer's own, or any order whose guest token is given
-- (the token returned once at checkout). Anything else is "no such order", so numbers
-- cannot be probed.
create function api.order_by_number(p_number text, p_token text default null)
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    v shop.customer_order;
begin
    select * into v from shop.customer_order o where o.order_number = btrim(coalesce(p_number, ''));
    if v.order_id is null or not coalesce(
        (v.user_id is not null and v.user_id = shop.current_user_id())
        or (p_token is not null and v.access_token_hash = encode(sha256(convert_to(p_token, 'UTF8')), 'hex')), false) then
        raise exception using errcode = 'MA404', constraint = 'order_not_found', message = 'no such order',
            hint = 'Guests read their order with the token returned at checkout.';
    end if;
    return api._order_json(v, false);
end
$$;
comment on function api.order_by_number(text, text) is
    'An order for its customer (signed in) or a guest holding its token. Errors: MA404 order_not_found.';

-- ---------------------------------------------------------------- staff

-- Orders for staff, newest first: filters {"status", "payment_status", "q" (number,
-- e-mail or name), "from", "to" (placed between, ISO 8601), "limit", "after"}.
create function api.admin_list_orders(p_filter jsonb default '{}')
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    f jsonb := coalesce(p_filter, '{}');
    v_limit integer;
    v_from timestamptz;
    v_to timestamptz;
    v_q text := nullif(btrim(f ->> 'q'), '');
    c record;
    v_page jsonb;
begin
    perform api._require_scope('orders:read:any');
    perform api._reject_unknown(f, '$', array['status', 'payment_status', 'q', 'from', 'to', 'limit', 'after']);
    if f ->> 'status' is not null and f ->> 'status' not in
       ('awaiting_payment', 'confirmed', 'paid', 'partially_fulfilled', 'fulfilled', 'delivered', 'cancelled', 'expired') then
        raise exception using errcode = 'MA422', constraint = 'invalid_filter', message = 'unknown status', detail = '$.status',
            hint = 'One of awaiting_payment, confirmed, paid, partially_fulfilled, fulfilled, delivered, cancelled, expired.';
    end if;
    if f ->> 'payment_status' is not null and f ->> 'payment_status' not in
       ('none', 'pending', 'paid', 'partially_refunded', 'refunded') then
        raise exception using errcode = 'MA422', constraint = 'invalid_filter', message = 'unknown payment_status',
            detail = '$.payment_status', hint = 'One of none, pending, paid, partially_refunded, refunded.';
    end if;
    begin
        v_from := (f ->> 'from')::timestamptz;
        v_to := (f ->> 'to')::timestamptz;
    exception when invalid_datetime_format or datetime_field_overflow then
        raise exception using errcode = 'MA422', constraint = 'invalid_filter',
            message = 'from and to must be ISO 8601 dates or timestamps', detail = '$.from';
    end;
    begin
        v_limit := api._check_limit((f ->> 'limit')::integer);
    exception when invalid_text_representation or numeric_value_out_of_range then
        raise exception using errcode = 'MA422', constraint = 'invalid_limit', message = 'limit must be between 1 and 100';
    end;
    select * into c from api._order_cursor(f ->> 'after');
    select jsonb_build_object(
        'items', coalesce(jsonb_agg(api._order_summary(o.ord) order by o.created_at desc, o.order_id desc)
                          filter (where o.n <= v_limit), '[]'),
        'next_cursor', case when count(*) > v_limit then
            (array_agg(o.created_at::text || '|' || o.order_id order by o.created_at desc, o.order_id desc))[v_limit] end)
    into v_page
    from (select x as ord, x.created_at, x.order_id,
                 row_number() over (order by x.created_at desc, x.order_id desc) as n
          from shop.customer_order x
          where (c.after_at is null or (x.created_at, x.order_id) < (c.after_at, c.after_id))
            and (f ->> 'status' is null or x.status = f ->> 'status')
            and (f ->> 'payment_status' is null or x.payment_status = f ->> 'payment_status')
            and (v_from is null or x.placed_at >= v_from)
            and (v_to is null or x.placed_at < v_to)
            and (v_q is null
                 or x.order_number = v_q
                 or (v_q ~ '^[0-9]{1,12}$' and x.order_number like '%-' || lpad(v_q, 6, '0'))
                 or lower(x.email || ' ' || coalesce(x.shipping_address ->> 'full_name', '') || ' '
                          || coalesce(x.billing_address ->> 'full_name', '')) like '%' || lower(v_q) || '%')
          order by x.created_at desc, x.order_id desc
          limit v_limit + 1) o;
    return v_page;
end
$$;
comment on function api.admin_list_orders(jsonb) is
    'Orders newest first for staff: {items, next_cursor}; filters status, payment_status, q (number, e-mail, name), from/to (placed), limit, after. Needs orders:read:any. Errors: MA422 invalid_filter / invalid_limit / invalid_cursor / invalid_field.';

create function api.admin_order(p_number text)
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
begin
    perform api._require_scope('orders:read:any');
    return api._order_json(api._order_by_number(p_number), true);
end
$$;
comment on function api.admin_order(text) is
    'An order with everything staff see (internal notes, actors, reservations). Needs orders:read:any. Errors: MA404 order_not_found.';

-- Adds a note to the timeline: {"note", "internal"?: true (default; false: the
-- customer sees it)}.
create function api.admin_add_order_note(p_number text, p_note jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v shop.customer_order;
    v_text text;
    v_internal boolean;
begin
    perform api._require_scope('orders:write:any');
    perform api._reject_unknown(p_note, '$', array['note', 'internal']);
    v_text := btrim(api._text_field(p_note, 'note', '$', true));
    if length(v_text) not between 1 and 2000 then
        perform api._bad_field('$.note', 'must have 1 to 2000 characters');
    end if;
    v_internal := coalesce(api._bool_field(p_note, 'internal', '$'), true);
    v := api._order_by_number(p_number, true);
    insert into shop.order_event (order_id, kind, note, is_internal, actor_id)
    values (v.order_id, 'note', v_text, v_internal, shop.current_user_id());
    perform api._audit('order.note', 'order', v.order_number, p_note);
    return api._order_json(v, true);
end
$$;
comment on function api.admin_add_order_note(text, jsonb) is
    'Adds a note to an order''s timeline (internal by default). Needs orders:write:any. Errors: MA404 order_not_found, MA422 invalid_field.';

-- Cancels an unpaid order: {"reason"}. Its reservations are released (cancellation
-- movements), its coupon use given back. A paid or closed order cannot be cancelled
-- here (refunds come with fulfilment): MA409 order_transition_invalid.
create function api.admin_cancel_order(p_number text, p_body jsonb default '{}')
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v shop.customer_order;
    v_reason text;
begin
    perform api._require_scope('orders:write:any');
    perform api._reject_unknown(coalesce(p_body, '{}'), '$', array['reason']);
    v_reason := btrim(coalesce(api._text_field(coalesce(p_body, '{}'), 'reason', '$'), ''));
    if length(v_reason) > 500 then
        perform api._bad_field('$.reason', 'must have at most 500 characters');
    end if;
    v := api._order_by_number(p_number, true);
    v := api._cancel_order(v, 'cancelled', coalesce(nullif(v_reason, ''), 'cancelled by staff'));
    perform api._audit('order.cancel', 'order', v.order_number, jsonb_build_object('reason', v_reason));
    return api._order_json(v, true);
end
$$;
comment on function api.admin_cancel_order(text, jsonb) is
    'Cancels an unpaid order (awaiting payment or confirmed): reservations released, coupon use given back, timeline and audit written. Needs orders:write:any. Errors: MA404 order_not_found, MA409 order_transition_invalid.';

-- Closes an unpaid order as 'cancelled' or 'expired' (the caller holds its row lock):
-- the state change first (the trigger refuses an illegal one before anything moves),
-- then the coupon use, then the stock, in the lock order.
create function api._cancel_order(p_order shop.customer_order, p_status text, p_note text)
returns shop.customer_order
language plpgsql as $$
declare
    v shop.customer_order;
    v_released jsonb;
begin
    if p_order.status = p_status then  -- not a change, so the trigger would not see it
        perform shop.order_transition_refuse('status', p_order.status, p_status);
    end if;
    -- A paid order's stock was sold and its money captured: cancelling it puts the
    -- units back and refunds them (api.admin_cancellation_begin, sql/fulfilment.sql).
    if p_order.payment_status in ('paid', 'partially_refunded', 'refunded') then
        raise exception using errcode = 'MA409', constraint = 'order_transition_invalid',
            message = format('an order cannot go from status %s to %s here: it is paid', p_order.status, p_status),
            detail = json_build_object('machine', 'status', 'from', p_order.status, 'to', p_status)::text,
            hint = 'POST /api/v1/admin/orders/{number}/cancellations cancels a paid order and refunds it.';
    end if;
    perform api._order_note(p_note);
    update shop.customer_order set status = p_status, reservation_expires_at = null,
        payment_status = case when payment_status = 'pending' then 'none' else payment_status end
    where order_id = p_order.order_id returning * into v;
    perform api._order_note('');
    with gone as (delete from shop.coupon_redemption r where r.order_id = p_order.order_id returning r.coupon_id)
    update shop.coupon c set times_used = c.times_used - 1 from gone where c.coupon_id = gone.coupon_id;
    select coalesce(jsonb_agg(jsonb_build_object('variant_id', x.variant_id, 'quantity', x.quantity) order by x.variant_id), '[]')
    into v_released
    from (select r.variant_id, sum(r.quantity)::integer as quantity from shop.stock_reservation r
          where r.order_id = p_order.order_id and r.status = 'active' group by r.variant_id) x;
    perform api._close_order_reservations(p_order.order_id, case p_status when 'expired' then 'release' else 'cancellation' end,
                                          p_note);
    if p_status = 'expired' then
        perform api._emit_event('order.expired', 'order', v.order_id::text, jsonb_build_object(
            'order_id', v.order_id, 'order_number', v.order_number, 'expired_at', now(), 'released', v_released));
    else
        -- Staff cancellations are the only ones yet (customers' and failed payments'
        -- come with their issues); the free-text reason travels as `note`.
        perform api._emit_event('order.cancelled', 'order', v.order_id::text, jsonb_build_object(
            'order_id', v.order_id, 'order_number', v.order_number,
            'reason', coalesce(nullif(current_setting('maef.cancelled_by', true), ''), 'admin'), 'note', p_note,
            'cancelled_at', now(), 'restocked', true, 'released', v_released));
    end if;
    return v;
end
$$;

-- ---------------------------------------------------------------- called by other domains

-- Marks an order paid, in the caller's transaction (the payment's success): status paid
-- (from awaiting payment or confirmed; an order already shipped on cash on delivery
-- only changes its payment status), its reservations become sales (on hand goes down,
-- ledger rows), the timeline says why. Locks the order row first: an expiry racing with
-- it waits, or has already expired the order and this raises MA409
-- order_transition_invalid (expired → paid); the order ends paid or expired, never
-- both. Paying an already paid order changes nothing. p_payment: {"payment_id"?,
-- "provider"?, "reference"?, "note"?} for the timeline and the order.paid event.
-- Returns the order row: payment code calls this and needs no document;
-- api.mark_order_paid (a DBA, the tests) answers with the order as JSON.
create function api._mark_order_paid(p_order_id uuid, p_payment jsonb)
returns shop.customer_order
language plpgsql as $$
declare
    v shop.customer_order;
    v_note text := coalesce(nullif(btrim(p_payment ->> 'note'), ''),
                            btrim(concat_ws(' ', 'paid', 'with ' || (p_payment ->> 'provider'), p_payment ->> 'reference')));
begin
    select * into v from shop.customer_order o where o.order_id = p_order_id for update;
    if v.order_id is null then
        raise exception using errcode = 'MA404', constraint = 'order_not_found', message = 'no such order';
    end if;
    if v.payment_status in ('paid', 'partially_refunded', 'refunded') then
        return v;
    end if;
    perform api._order_note(v_note);
    update shop.customer_order
    set payment_status = 'paid',
        status = case when status in ('partially_fulfilled', 'fulfilled', 'delivered') then status else 'paid' end,
        reservation_expires_at = null
    where order_id = p_order_id returning * into v;
    perform api._order_note('');
    perform api._close_order_reservations(p_order_id, 'sale', coalesce(nullif(v_note, ''), 'paid'));
    perform api._emit_event('order.paid', 'order', v.order_id::text, jsonb_build_object(
        'order_id', v.order_id, 'order_number', v.order_number, 'currency', v.currency_code,
        'total_amount', v.total_amount, 'payment_id', p_payment ->> 'payment_id', 'provider', p_payment ->> 'provider',
        'paid_at', now()));
    -- The invoice is issued as this transaction commits, by the deferred trigger
    -- customer_order_invoice_at_commit (V35), so that the gapless counter is locked
    -- for the commit only (sql/invoices.sql).
    return v;
end
$$;

-- api._mark_order_paid answered with the staff's order document. Owner only.
create function api.mark_order_paid(p_order_id uuid, p_payment jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v shop.customer_order;
begin
    -- Two statements: the stable _order_json reads with its statement's snapshot, which
    -- must be taken after the payment's writes (the timeline) to see them.
    v := api._mark_order_paid(p_order_id, p_payment);
    return api._order_json(v, true);
end
$$;
comment on function api.mark_order_paid(uuid, jsonb) is
    'Marks an order paid in the caller''s transaction: status paid, reservations become sales (ledger), timeline event; its invoice is issued as the transaction commits (V35). Race-safe against expiry (order row locked first). Owner only (payments call it). Errors: MA404 order_not_found, MA409 order_transition_invalid.';

-- Confirms an unpaid order for payment on delivery: its reservations stop expiring and
-- its payment is pending; staff mark it paid when the money arrives, and fulfilment
-- turns its reservations into sales when it ships. Owner only (payments call it).
create function api.confirm_order(p_order_id uuid, p_note text)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v shop.customer_order;
begin
    select * into v from shop.customer_order o where o.order_id = p_order_id for update;
    if v.order_id is null then
        raise exception using errcode = 'MA404', constraint = 'order_not_found', message = 'no such order';
    end if;
    perform api._order_note(coalesce(nullif(btrim(p_note), ''), 'payment on delivery'));
    update shop.customer_order set status = 'confirmed', payment_status = 'pending', reservation_expires_at = null
    where order_id = p_order_id returning * into v;
    perform api._order_note('');
    return api._order_json(v, true);
end
$$;
comment on function api.confirm_order(uuid, text) is
    'Confirms an unpaid order (cash on delivery): reservations stop expiring, payment pending. Owner only. Errors: MA404 order_not_found, MA409 order_transition_invalid.';

-- Expires one unpaid order whose reservation time has passed, in the caller's
-- transaction: status expired, reservations released, coupon use given back. SKIP
-- LOCKED: an order being paid right now is left to its payment. Returns its number,
-- or null when none is due. maef-worker calls it in a loop, one order per transaction.
create function api.expire_next_order()
returns text
language plpgsql security definer
set search_path = '' as $$
declare
    v shop.customer_order;
begin
    select * into v from shop.customer_order o
    where o.status = 'awaiting_payment' and o.reservation_expires_at <= now()
    order by o.reservation_expires_at
    limit 1
    for update skip locked;
    if v.order_id is null then
        return null;
    end if;
    perform api._cancel_order(v, 'expired', 'reservation expired');
    return v.order_number;
end
$$;
comment on function api.expire_next_order() is
    'Expires the next unpaid order past its reservation time (stock released, coupon use returned); returns its number or null. Owner only (maef-worker, one order per transaction).';

-- Descriptions of the private helpers above, for \df+ in psql.
comment on function api._order_note(text) is 'Private: the note the order_event trigger writes with the next state change of this transaction.';
comment on function api._mark_order_paid(uuid, jsonb) is 'Private: api.mark_order_paid without the document (payment code calls it); returns the order row.';
comment on function api._order_by_number(text, boolean) is 'Private: the order with a number (optionally locked), else MA404 order_not_found.';
comment on function api._order_json(shop.customer_order, boolean) is 'Private: an order as JSON (lines, totals, addresses, timeline; more for staff).';
comment on function api._order_summary(shop.customer_order) is 'Private: an order in a list.';
comment on function api._order_cursor(text) is 'Private: a keyset cursor created_at|order_id, else MA422 invalid_cursor.';
comment on function api._check_limit(integer) is 'Private: a page size 1..100 (default 20), else MA422 invalid_limit.';
comment on function api._order_placed_payload(shop.customer_order) is 'Private: the payload of the order.placed event.';
comment on function api._cancel_order(shop.customer_order, text, text) is 'Private: closes an unpaid order as cancelled or expired (state, coupon use, stock, in lock order).';

-- ---------------------------------------------------------------- who may call these
-- Deny by default: maef-api migrate revokes EXECUTE from PUBLIC, so a function is
-- callable only by its owner (maef-worker, DBAs) until it is granted here.
-- Everyone, anonymous callers included (public on purpose: a guest reads their order
-- with its token; the function itself decides):
grant execute on function api.order_by_number(text,text) to maef_anon, maef_customer, maef_staff, maef_admin;
-- Signed-in users (each function checks the caller itself):
grant execute on function api.my_orders(integer,text) to maef_customer, maef_staff, maef_admin;
-- Managers and admins (each function checks its permission):
grant execute on function
    api.admin_list_orders(jsonb),
    api.admin_order(text),
    api.admin_add_order_note(text,jsonb),
    api.admin_cancel_order(text,jsonb)
    to maef_staff, maef_admin;
-- Not granted (owner only: payments, the worker, DBAs, other SECURITY DEFINER functions):
--   api.mark_order_paid, api.confirm_order, api.expire_next_order.
