-- Returns (RMA): a customer asks to return delivered units within returns.window_days
-- of their delivery, with a reason from shop.return_reason; staff approve or reject,
-- mark the parcel received with each line's condition (resellable units go back on
-- hand, damaged ones do not), then refund through the payments refund path. Each step
-- is a state change the data enforces (shop.return_transition), audited, with its
-- timeline entry, event and e-mail. The data model is migrations/V32__fulfilment.sql.
--
-- The refund of a return is the returned lines' amounts (their allocated discounts and
-- taxes, pro rata: api._refund_amounts) and the shipping only when the whole order has
-- come back or one of the reasons is the shop's fault (shop.return_reason.shop_fault).
--
-- Lock order: order row → return row → refund rows → inventory rows.
--
-- Errors: MA404 order_not_found / return_not_found; MA409 return_transition_invalid,
-- return_quantity_exceeds; MA422 invalid_field, line_not_delivered,
-- return_window_passed, invalid_filter / invalid_limit.

-- A return as JSON (p_staff adds the staff note and who decided).
create function api._return_json(x shop.order_return, p_staff boolean)
returns jsonb
language plpgsql stable as $$
declare
    r shop.refund;
begin
    select * into r from shop.refund y where y.refund_id = x.refund_id;
    return jsonb_build_object(
        'id', x.return_id, 'rma_number', x.rma_number,
        'order_number', (select o.order_number from shop.customer_order o where o.order_id = x.order_id),
        'status', x.status, 'note', x.note, 'staff_note', case when p_staff or x.status = 'rejected' then x.staff_note else '' end,
        'lines', coalesce((select jsonb_agg(jsonb_build_object(
                               'order_item_id', ri.order_item_id, 'sku', i.sku, 'product_title', i.product_title,
                               'variant_name', i.variant_name, 'quantity', ri.quantity, 'reason', ri.reason,
                               'reason_label', case when api._email_locale(o.user_id) = 'fr' then rr.label_fr else rr.label_en end,
                               'condition', ri.condition, 'restocked', ri.restocked) order by ri.order_item_id)
                           from shop.return_item ri join shop.order_item i using (order_item_id)
                           join shop.return_reason rr on rr.code = ri.reason
                           join shop.customer_order o on o.order_id = i.order_id
                           where ri.return_id = x.return_id), '[]'),
        'refund', case when r.refund_id is null then null else jsonb_build_object(
                      'id', r.refund_id, 'amount', r.amount, 'currency', r.currency_code, 'status', r.status,
                      'method', r.method, 'shipping', r.shipping) end,
        'requested_at', x.requested_at, 'decided_at', x.decided_at, 'received_at', x.received_at,
        'refunded_at', x.refunded_at, 'updated_at', x.updated_at);
end
$$;

-- The return locked with its order (the order first: the lock order).
create function api._return_locked(p_return_id bigint)
returns shop.order_return
language plpgsql as $$
declare
    x shop.order_return;
begin
    perform from shop.customer_order o
    where o.order_id = (select y.order_id from shop.order_return y where y.return_id = p_return_id) for update;
    select * into x from shop.order_return y where y.return_id = p_return_id for update;
    if x.return_id is null then
        raise exception using errcode = 'MA404', constraint = 'return_not_found', message = 'no such return';
    end if;
    return x;
end
$$;

-- What each change of a return does besides its state: timeline, event, e-mail, audit.
create function api._return_changed(x shop.order_return, p_from text, p_message text)
returns void
language plpgsql as $$
declare
    o shop.customer_order;
begin
    select * into o from shop.customer_order y where y.order_id = x.order_id;
    perform api._order_timeline(o.order_id, 'return', p_from, x.status,
        concat_ws(' — ', format('return %s', x.rma_number), nullif(p_message, '')));
    perform api._emit_event('return.' || x.status, 'return', x.return_id::text, jsonb_build_object(
        'return_id', x.return_id, 'rma_number', x.rma_number, 'order_id', o.order_id, 'order_number', o.order_number,
        'status', x.status, 'from', p_from, 'refund_id', x.refund_id, 'user_id', o.user_id, 'reason', x.note,
        'requested_at', x.requested_at, 'message', coalesce(p_message, ''),
        'lines', (select jsonb_agg(jsonb_build_object('order_item_id', ri.order_item_id, 'quantity', ri.quantity,
                                                      'reason', ri.reason, 'condition', ri.condition,
                                                      'restocked', ri.restocked) order by ri.order_item_id)
                  from shop.return_item ri where ri.return_id = x.return_id)));
    perform api._queue_email('return_update', o.email, jsonb_build_object(
        'order_number', o.order_number, 'status', x.status, 'message', coalesce(p_message, '')), o.user_id);
    perform api._audit('return.' || x.status, 'return', x.rma_number, jsonb_build_object(
        'order_number', o.order_number, 'from', p_from, 'message', p_message));
end
$$;

-- ---------------------------------------------------------------- customers

-- The reasons a customer may give, in their language: {items: [{code, label, shop_fault}]}.
create function api.return_reasons()
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    v_locale text := api._email_locale(shop.current_user_id());
begin
    return jsonb_build_object('items', coalesce((select jsonb_agg(jsonb_build_object(
            'code', r.code, 'label', case when v_locale = 'fr' then r.label_fr else r.label_en end,
            'label_en', r.label_en, 'label_fr', r.label_fr, 'shop_fault', r.shop_fault) order by r.position, r.code)
        from shop.return_reason r where r.is_active), '[]'));
end
$$;
comment on function api.return_reasons() is 'The active return reasons with their labels (fr, en) and whether they are the shop''s fault.';

-- Asks to return delivered units (POST /api/v1/orders/{number}/returns, the order's
-- customer or a guest with its token): p_body = {"lines": [{order_item_id, quantity,
-- reason}], "note"?}. Each line: units delivered (in delivered shipments), not already
-- in another return that was not rejected, delivered within returns.window_days.
create function api.request_return(p_number text, p_token text, p_body jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    o shop.customer_order;
    x shop.order_return;
    v_lines jsonb;
    v_line jsonb;
    v_note text;
    v_delivered integer;
    v_returning integer;
    v_last timestamptz;
    v_window integer := api._setting_int('returns.window_days')::integer;
    v_path text;
begin
    perform api._reject_unknown(coalesce(p_body, 'null'), '$', array['lines', 'note']);
    v_note := btrim(coalesce(api._text_field(p_body, 'note', '$'), ''));
    if length(v_note) > 2000 then
        perform api._bad_field('$.note', 'must have at most 2000 characters');
    end if;
    o := api._order_for_payer(p_number, p_token, true);
    v_lines := api._request_lines(o, p_body -> 'lines', '$.lines', array['reason']);
    for v_line in select * from jsonb_array_elements(v_lines) loop
        v_path := format('$.lines[%s]', v_line ->> 'index');
        if not exists (select from shop.return_reason r
                       where r.code = api._text_field(v_line, 'reason', v_path, true) and r.is_active) then
            perform api._bad_field(v_path || '.reason', 'no such return reason (GET /api/v1/return-reasons)');
        end if;
        select coalesce(sum(si.quantity), 0), max(s.delivered_at) into v_delivered, v_last
        from shop.shipment_item si join shop.shipment s using (shipment_id)
        where si.order_item_id = (v_line ->> 'order_item_id')::bigint and s.status = 'delivered';
        if v_delivered = 0 then
            raise exception using errcode = 'MA422', constraint = 'line_not_delivered',
                message = format('line %s has not been delivered: only delivered items can be returned', v_line ->> 'order_item_id'),
                detail = v_path || '.order_item_id';
        end if;
        if now() > v_last + make_interval(days => v_window) then
            raise exception using errcode = 'MA422', constraint = 'return_window_passed',
                message = format('line %s was delivered on %s: returns are accepted for %s days after delivery',
                                 v_line ->> 'order_item_id', to_char(v_last at time zone 'UTC', 'YYYY-MM-DD'), v_window),
                detail = v_path || '.order_item_id', hint = 'Contact the shop.';
        end if;
        select coalesce(sum(ri.quantity), 0) into v_returning from shop.return_item ri join shop.order_return r using (return_id)
        where ri.order_item_id = (v_line ->> 'order_item_id')::bigint and r.status <> 'rejected';
        if (v_line ->> 'quantity')::integer > v_delivered - v_returning then
            raise exception using errcode = 'MA409', constraint = 'return_quantity_exceeds',
                message = format('line %s: %s delivered, %s already in returns — %s more cannot be returned',
                                 v_line ->> 'order_item_id', v_delivered, v_returning, v_line ->> 'quantity'),
                detail = jsonb_build_object('order_item_id', (v_line ->> 'order_item_id')::bigint, 'delivered', v_delivered,
                                            'returning', v_returning, 'requested', (v_line ->> 'quantity')::integer)::text;
        end if;
    end loop;
    insert into shop.order_return (order_id, note, requested_by) values (o.order_id, v_note, shop.current_user_id())
    returning * into x;
    insert into shop.return_item (return_id, order_item_id, quantity, reason)
    select x.return_id, (l ->> 'order_item_id')::bigint, (l ->> 'quantity')::integer, l ->> 'reason'
    from jsonb_array_elements(v_lines) l;
    perform api._return_changed(x, null, v_note);
    return api._return_json(x, false);
end
$$;
comment on function api.request_return(text, text, jsonb) is
    'A customer (or guest with the token) asks to return delivered units {lines: [{order_item_id, quantity, reason}], note?} within returns.window_days of delivery. Errors: MA404 order_not_found, MA409 return_quantity_exceeds, MA422 invalid_field / line_not_delivered / return_window_passed.';

-- An order's returns for its customer (or a guest with the token): {items}.
create function api.order_returns(p_number text, p_token text default null)
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    o shop.customer_order := api._order_for_payer(p_number, p_token, false);
begin
    return jsonb_build_object('items', coalesce((select jsonb_agg(api._return_json(x, false) order by x.return_id)
                                                 from shop.order_return x where x.order_id = o.order_id), '[]'));
end
$$;
comment on function api.order_returns(text, text) is 'An order''s returns for its customer or a guest with its token. Errors: MA404 order_not_found.';

-- ---------------------------------------------------------------- staff

-- Returns newest first: {"status"?, "limit"?, "after"? (the last id seen)}.
create function api.admin_list_returns(p_filter jsonb default '{}')
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    f jsonb := coalesce(p_filter, '{}');
    v_limit integer;
    v_after bigint;
    v_items jsonb;
begin
    perform api._require_scope('orders:read:any');
    perform api._reject_unknown(f, '$', array['status', 'limit', 'after']);
    if f ->> 'status' is not null and f ->> 'status' not in ('requested', 'approved', 'rejected', 'received', 'refunded') then
        raise exception using errcode = 'MA422', constraint = 'invalid_filter', message = 'unknown return status',
            detail = '$.status', hint = 'One of requested, approved, rejected, received, refunded.';
    end if;
    begin
        v_limit := api._check_limit((f ->> 'limit')::integer);
        v_after := (f ->> 'after')::bigint;
    exception when invalid_text_representation or numeric_value_out_of_range then
        raise exception using errcode = 'MA422', constraint = 'invalid_filter', message = 'limit and after are whole numbers';
    end;
    select coalesce(jsonb_agg(api._return_json(x, true) order by x.return_id desc), '[]') into v_items
    from (select * from shop.order_return y
          where (f ->> 'status' is null or y.status = f ->> 'status') and (v_after is null or y.return_id < v_after)
          order by y.return_id desc limit v_limit) x;
    return jsonb_build_object('items', v_items, 'next_cursor',
        case when jsonb_array_length(v_items) = v_limit then (v_items -> -1 ->> 'id') end);
end
$$;
comment on function api.admin_list_returns(jsonb) is
    'Returns newest first for staff {status?, limit?, after?}: {items, next_cursor}. Needs orders:read:any. Errors: MA422 invalid_filter / invalid_limit / invalid_field.';

create function api.admin_return(p_return_id bigint)
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    x shop.order_return;
begin
    perform api._require_scope('orders:read:any');
    select * into x from shop.order_return y where y.return_id = p_return_id;
    if x.return_id is null then
        raise exception using errcode = 'MA404', constraint = 'return_not_found', message = 'no such return';
    end if;
    return api._return_json(x, true);
end
$$;
comment on function api.admin_return(bigint) is 'A return for staff. Needs orders:read:any. Errors: MA404 return_not_found.';

-- Approves or rejects a requested return: p_body = {"decision": "approve" | "reject",
-- "note"? (required to reject: the customer reads it)}.
create function api.admin_decide_return(p_return_id bigint, p_body jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    x shop.order_return;
    v_decision text;
    v_note text;
    v_from text;
begin
    perform api._require_scope('orders:write:any');
    perform api._reject_unknown(coalesce(p_body, 'null'), '$', array['decision', 'note']);
    v_decision := api._text_field(p_body, 'decision', '$', true);
    if v_decision not in ('approve', 'reject') then
        perform api._bad_field('$.decision', 'approve or reject');
    end if;
    v_note := btrim(coalesce(api._text_field(p_body, 'note', '$'), ''));
    if length(v_note) > 2000 or (v_decision = 'reject' and v_note = '') then
        perform api._bad_field('$.note', 'a rejection needs a note (at most 2000 characters)');
    end if;
    x := api._return_locked(p_return_id);
    v_from := x.status;
    update shop.order_return set status = case v_decision when 'approve' then 'approved' else 'rejected' end,
        staff_note = v_note, decided_by = shop.current_user_id(), decided_at = now()
    where return_id = x.return_id returning * into x;
    perform api._return_changed(x, v_from, v_note);
    return api._return_json(x, true);
end
$$;
comment on function api.admin_decide_return(bigint, jsonb) is
    'Approves or rejects a requested return {decision, note?}. Needs orders:write:any. Errors: MA404 return_not_found, MA409 return_transition_invalid, MA422 invalid_field.';

-- Marks an approved return received: p_body = {"lines": [{order_item_id, condition:
-- resellable | damaged}] (every line of the return), "note"?}. Resellable units go back
-- on hand (return movements) where they were sold; damaged ones do not. The units
-- count as returned on their order lines.
create function api.admin_receive_return(p_return_id bigint, p_body jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    x shop.order_return;
    v_from text;
    v_note text;
    v_line jsonb;
    v_item record;
    i integer := 0;
    v_seen bigint[] := '{}';
begin
    perform api._require_scope('orders:write:any');
    perform api._reject_unknown(coalesce(p_body, 'null'), '$', array['lines', 'note']);
    v_note := btrim(coalesce(api._text_field(p_body, 'note', '$'), ''));
    if length(v_note) > 2000 then
        perform api._bad_field('$.note', 'must have at most 2000 characters');
    end if;
    if jsonb_typeof(p_body -> 'lines') is distinct from 'array' then
        perform api._bad_field('$.lines', 'must be an array of {order_item_id, condition}');
    end if;
    x := api._return_locked(p_return_id);
    for v_line in select * from jsonb_array_elements(p_body -> 'lines') loop
        perform api._reject_unknown(v_line, format('$.lines[%s]', i), array['order_item_id', 'condition']);
        if api._text_field(v_line, 'condition', format('$.lines[%s]', i), true) not in ('resellable', 'damaged') then
            perform api._bad_field(format('$.lines[%s].condition', i), 'resellable or damaged');
        end if;
        if not exists (select from shop.return_item ri where ri.return_id = x.return_id
                       and ri.order_item_id = api._int_field(v_line, 'order_item_id', format('$.lines[%s]', i), true))
           or (v_line ->> 'order_item_id')::bigint = any (v_seen) then
            perform api._bad_field(format('$.lines[%s].order_item_id', i), 'a line of this return, listed once');
        end if;
        v_seen := v_seen || (v_line ->> 'order_item_id')::bigint;
        i := i + 1;
    end loop;
    if cardinality(v_seen) <> (select count(*) from shop.return_item ri where ri.return_id = x.return_id) then
        perform api._bad_field('$.lines', 'give the condition of every line of the return');
    end if;
    v_from := x.status;
    update shop.order_return set status = 'received', received_at = now(),
        staff_note = case when v_note = '' then staff_note else v_note end
    where return_id = x.return_id returning * into x;
    update shop.return_item ri set condition = l ->> 'condition',
        restocked = case when l ->> 'condition' = 'resellable' then ri.quantity else 0 end
    from jsonb_array_elements(p_body -> 'lines') l
    where ri.return_id = x.return_id and ri.order_item_id = (l ->> 'order_item_id')::bigint;
    perform api._lock_variants(array(select oi.variant_id from shop.return_item ri join shop.order_item oi using (order_item_id)
                                     where ri.return_id = x.return_id and ri.restocked > 0 and oi.variant_id is not null));
    for v_item in select ri.order_item_id, ri.quantity, ri.restocked, oi.variant_id
                  from shop.return_item ri join shop.order_item oi using (order_item_id)
                  where ri.return_id = x.return_id order by ri.order_item_id loop
        update shop.order_item set quantity_returned = quantity_returned + v_item.quantity
        where order_item_id = v_item.order_item_id;
        if v_item.restocked > 0 then
            perform api._order_stock_move(x.order_id, v_item.variant_id,
                api._line_location(v_item.order_item_id, v_item.variant_id), 'return', v_item.restocked,
                format('return %s (resellable)', x.rma_number));
        end if;
    end loop;
    perform api._return_changed(x, v_from, v_note);
    return api._return_json(x, true);
end
$$;
comment on function api.admin_receive_return(bigint, jsonb) is
    'Marks an approved return received {lines: [{order_item_id, condition}], note?}: resellable units restocked (ledger), damaged not. Needs orders:write:any. Errors: MA404 return_not_found, MA409 return_transition_invalid, MA422 invalid_field.';

-- Refunds a received return (POST /api/v1/admin/returns/{id}/refund, Idempotency-Key
-- required): the returned lines, and the shipping when the whole order came back or a
-- reason is the shop's fault, through the payments refund path. Returns {"action":
-- "done" | "call", "return_id", …} as api.admin_cancellation_begin; the return is
-- refunded when its refund starts (its refund's own status is in the body). A return
-- whose refund failed may be refunded again with a new key.
create function api.return_refund_begin(p_return_id bigint, p_idem jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    x shop.order_return;
    o shop.customer_order;
    v_key text := (p_idem ->> 'scope') || ':' || (p_idem ->> 'key');
    v_lines jsonb;
    v_shipping boolean;
    v_begun jsonb;
    v_from text;
begin
    perform api._require_scope('orders:write:any');
    if p_idem is null then
        raise exception using errcode = 'MA400', constraint = 'idempotency_key_required',
            message = 'a refund needs an Idempotency-Key header';
    end if;
    x := api._return_locked(p_return_id);
    select * into o from shop.customer_order y where y.order_id = x.order_id;
    if x.refund_id is not null and exists (select from shop.refund r where r.refund_id = x.refund_id
                                           and (r.request_key = v_key or r.status <> 'failed')) then
        -- This key's refund (replayed or called again), or a live refund already made.
        if not exists (select from shop.refund r where r.refund_id = x.refund_id and r.request_key = v_key) then
            raise exception using errcode = 'MA409', constraint = 'return_transition_invalid',
                message = format('return %s is already refunded', x.rma_number),
                detail = json_build_object('from', x.status, 'to', 'refunded')::text;
        end if;
        v_begun := api._refund_begin(o.order_number, '{}', p_idem);
        return v_begun || jsonb_build_object('action', case when v_begun ->> 'action' = 'call' then 'call' else 'done' end,
                                             'return_id', x.return_id, 'body', api._return_json(x, true));
    end if;
    if x.status <> 'received' and not (x.status = 'refunded' and x.refund_id is not null) then
        raise exception using errcode = 'MA409', constraint = 'return_transition_invalid',
            message = format('return %s is %s: only a received return is refunded', x.rma_number, x.status),
            detail = json_build_object('from', x.status, 'to', 'refunded')::text;
    end if;
    select jsonb_agg(jsonb_build_object('order_item_id', ri.order_item_id, 'quantity', ri.quantity) order by ri.order_item_id)
    into v_lines from shop.return_item ri where ri.return_id = x.return_id;
    -- The documented shipping rule: the whole order came back, or the shop's fault.
    v_shipping := o.shipping_amount > 0
        and not exists (select from shop.refund r where r.order_id = o.order_id and r.shipping and r.status <> 'failed')
        and (not exists (select from shop.order_item i where i.order_id = o.order_id
                         and i.quantity_returned < i.quantity - i.quantity_cancelled)
             or exists (select from shop.return_item ri join shop.return_reason rr on rr.code = ri.reason
                        where ri.return_id = x.return_id and rr.shop_fault));
    v_begun := api._refund_begin(o.order_number, jsonb_build_object(
        'lines', v_lines, 'shipping', v_shipping, 'reason', format('return %s', x.rma_number)), p_idem);
    v_from := x.status;
    update shop.order_return set status = 'refunded', refunded_at = now(), refund_shipping = v_shipping,
        refund_id = coalesce((v_begun -> 'refund' ->> 'id')::bigint, (v_begun -> 'body' -> 'refund' ->> 'id')::bigint)
    where return_id = x.return_id returning * into x;
    if v_from <> 'refunded' then
        perform api._return_changed(x, v_from, '');
    end if;
    return v_begun || jsonb_build_object('action', case when v_begun ->> 'action' = 'call' then 'call' else 'done' end,
                                         'return_id', x.return_id, 'body', api._return_json(x, true));
end
$$;
comment on function api.return_refund_begin(bigint, jsonb) is
    'Staff (orders:write:any): refunds a received return (lines; shipping when the whole order came back or a reason is the shop''s fault) through the refund path. Returns {action: done|call, return_id, body|refund…}. Errors: MA400, MA404 return_not_found, MA409 return_transition_invalid / order_not_refundable / refund_failed, MA422 refund_exceeds_captured / refund_quantity_exceeds / idempotency_key_reused.';

-- A return after its refund was recorded (owner only: maef-api).
create function api.return_result(p_return_id bigint)
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    x shop.order_return;
begin
    select * into x from shop.order_return y where y.return_id = p_return_id;
    if x.return_id is null then
        raise exception using errcode = 'MA404', constraint = 'return_not_found', message = 'no such return';
    end if;
    return api._return_json(x, true);
end
$$;
comment on function api.return_result(bigint) is 'Owner only (maef-api): a return with its refund, after the provider call.';

-- ---------------------------------------------------------------- reports (psql)

-- Per product: units delivered, units asked back (returns not rejected), the return
-- rate and the reasons given.
create view report.returns as
with delivered as (
    select i.product_id, max(i.product_title) as product_title, sum(si.quantity) as units_delivered
    from shop.shipment_item si join shop.shipment s using (shipment_id) join shop.order_item i using (order_item_id)
    where s.status = 'delivered' group by i.product_id
), returned as (
    select i.product_id, ri.reason, sum(ri.quantity) as units
    from shop.return_item ri join shop.order_return r using (return_id) join shop.order_item i using (order_item_id)
    where r.status <> 'rejected' group by i.product_id, ri.reason
)
select d.product_id, d.product_title, d.units_delivered,
       coalesce((select sum(x.units) from returned x where x.product_id is not distinct from d.product_id), 0) as units_returned,
       round(100.0 * coalesce((select sum(x.units) from returned x where x.product_id is not distinct from d.product_id), 0)
             / nullif(d.units_delivered, 0), 1) as return_rate_pct,
       coalesce((select jsonb_object_agg(x.reason, x.units) from returned x where x.product_id is not distinct from d.product_id),
                '{}') as reasons
from delivered d
order by return_rate_pct desc nulls last, units_returned desc;
comment on view report.returns is 'Per product: units delivered and returned (returns not rejected), the return rate and the reasons.';

comment on function api._return_json(shop.order_return, boolean) is 'Private: a return as JSON (lines, reasons in the customer''s language, refund).';
comment on function api._return_locked(bigint) is 'Private: a return locked after its order, else MA404 return_not_found.';
comment on function api._return_changed(shop.order_return, text, text) is 'Private: timeline, event, e-mail and audit of a return''s change.';

-- ---------------------------------------------------------------- who may call these
-- Everyone, anonymous callers included (public on purpose: the reasons are public, and a
-- guest returns with the order's token; each function checks the caller itself):
grant execute on function
    api.return_reasons(),
    api.request_return(text,text,jsonb),
    api.order_returns(text,text)
    to maef_anon, maef_customer, maef_staff, maef_admin;
-- Managers and admins (each function checks its permission):
grant execute on function
    api.admin_list_returns(jsonb),
    api.admin_return(bigint),
    api.admin_decide_return(bigint,jsonb),
    api.admin_receive_return(bigint,jsonb),
    api.return_refund_begin(bigint,jsonb)
    to maef_staff, maef_admin;
grant select on report.returns to maef_staff, maef_admin;
-- Not granted (owner only: maef-api after the provider call): api.return_result.
