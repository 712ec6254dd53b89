-- Fulfilment: carriers, shipments of order lines (partial fulfilment), their state
-- machine moved by staff or by signed carrier webhooks, the order's fulfilment and
-- delivered status following, and cancellations of orders or of unshipped lines (stock
-- back through the ledger, the refund of exactly those lines through the payments
-- refund path). The data model is migrations/V32__fulfilment.sql; docs/fulfilment.md
-- tells the whole story.
--
-- Every function that changes an order locks its row first (the lock order of V27:
-- order row → refund rows → inventory rows in (product_id, variant_id) order), so two
-- staff shipping the last units of a line, a cancellation racing a shipment, or a
-- carrier webhook racing staff queue on the order and the second sees the first's
-- counters: never more shipped or cancelled than ordered.
--
-- Functions here are plpgsql (bodies resolved when called): this file loads before
-- sql/orders.sql and sql/payments.sql, whose helpers it uses.
--
-- Errors: MA404 order_not_found / shipment_not_found / carrier_not_found; MA409
-- order_not_shippable, shipment_quantity_exceeds, shipment_transition_invalid,
-- order_transition_invalid, order_already_shipped, cancel_quantity_exceeds,
-- order_not_paid, tracking_number_taken; MA422 invalid_field (detail = JSON path),
-- cancellation_window_passed, idempotency_key_reused.

-- ---------------------------------------------------------------- helpers

-- A tracking URL from a carrier's template: {tracking} replaced by the number, with
-- the two characters the number may hold that a URL may not (space, slash) encoded.
create function api._tracking_url(p_template text, p_tracking text)
returns text
language plpgsql immutable as $$
begin
    if p_template is null or p_tracking is null then
        return null;
    end if;
    return replace(p_template, '{tracking}', replace(replace(p_tracking, ' ', '%20'), '/', '%2F'));
end
$$;

-- A carrier as JSON (never its secrets: only when they were made and until when).
create function api._carrier_json(c shop.carrier, p_staff boolean)
returns jsonb
language plpgsql stable as $$
begin
    return jsonb_build_object('code', c.code, 'name', c.name, 'tracking_url_template', c.tracking_url_template)
        || case when p_staff then jsonb_build_object(
               'id', c.carrier_id, 'is_active', c.is_active, 'created_at', c.created_at, 'updated_at', c.updated_at,
               'secrets', coalesce((select jsonb_agg(jsonb_build_object('created_at', s.created_at, 'expires_at', s.expires_at)
                                                     order by s.created_at)
                                    from shop.carrier_secret s
                                    where s.carrier_id = c.carrier_id and (s.expires_at is null or s.expires_at > now())), '[]'))
           else '{}'::jsonb end;
end
$$;

-- A shipment as JSON: carrier, tracking number and URL, lines, state times.
create function api._shipment_json(s shop.shipment)
returns jsonb
language plpgsql stable as $$
declare
    c shop.carrier;
begin
    select * into c from shop.carrier x where x.carrier_id = s.carrier_id;
    return jsonb_build_object(
        'id', s.shipment_id,
        'order_number', (select o.order_number from shop.customer_order o where o.order_id = s.order_id),
        'status', s.status,
        'carrier', jsonb_build_object('code', coalesce(c.code, s.carrier), 'name', coalesce(c.name, s.carrier)),
        'tracking_number', s.tracking_number,
        'tracking_url', api._tracking_url(c.tracking_url_template, s.tracking_number),
        'location', (select l.code from shop.stock_location l where l.stock_location_id = s.stock_location_id),
        'lines', coalesce((select jsonb_agg(jsonb_build_object(
                               'order_item_id', i.order_item_id, 'sku', i.sku, 'product_title', i.product_title,
                               'variant_name', i.variant_name, 'quantity', si.quantity) order by i.order_item_id)
                           from shop.shipment_item si join shop.order_item i using (order_item_id)
                           where si.shipment_id = s.shipment_id), '[]'),
        'shipped_at', s.shipped_at, 'in_transit_at', s.in_transit_at, 'delivered_at', s.delivered_at,
        'failed_at', s.failed_at, 'returned_at', s.returned_at, 'created_at', s.created_at, 'updated_at', s.updated_at);
end
$$;

-- An order's shipments, oldest first (the order page shows them).
create function api._order_shipments_json(p_order_id uuid)
returns jsonb
language plpgsql stable as $$
begin
    return coalesce((select jsonb_agg(api._shipment_json(s) order by s.shipment_id)
                     from shop.shipment s where s.order_id = p_order_id), '[]');
end
$$;

-- The fulfilment counters of an order's lines.
create function api._order_fulfilment_json(p_order_id uuid)
returns jsonb
language plpgsql stable as $$
begin
    return jsonb_build_object(
        'number', o.order_number, 'status', o.status, 'payment_status', o.payment_status,
        'fulfillment_status', o.fulfillment_status,
        'lines', coalesce((select jsonb_agg(jsonb_build_object(
                               'id', i.order_item_id, 'sku', i.sku, 'quantity', i.quantity,
                               'quantity_shipped', i.quantity_shipped, 'quantity_cancelled', i.quantity_cancelled,
                               'quantity_returned', i.quantity_returned) order by i.order_item_id)
                           from shop.order_item i where i.order_id = o.order_id), '[]'))
    from shop.customer_order o where o.order_id = p_order_id;
end
$$;

-- A timeline entry of an order (shipment, cancellation, return, invoice).
create function api._order_timeline(p_order_id uuid, p_kind text, p_from text, p_to text, p_note text,
                                    p_internal boolean default false)
returns void
language plpgsql as $$
begin
    insert into shop.order_event (order_id, kind, from_state, to_state, note, is_internal, actor_id)
    values (p_order_id, p_kind, p_from, p_to, left(coalesce(p_note, ''), 2000), p_internal, shop.current_user_id());
end
$$;

-- The lines of a request, [{order_item_id, quantity, …}], checked against the order:
-- each an object with a line of this order (listed once) and 1 ≤ quantity. p_extra
-- names further keys a line may have. Returns the lines with the order line's
-- variant_id, product_id and title added, in the inventory lock order.
create function api._request_lines(o shop.customer_order, p_lines jsonb, p_path text, p_extra text[] default '{}')
returns jsonb
language plpgsql stable as $$
declare
    v_line jsonb;
    v_item shop.order_item;
    v_out jsonb := '[]';
    i integer := 0;
begin
    if jsonb_typeof(p_lines) is distinct from 'array' or jsonb_array_length(p_lines) = 0 then
        perform api._bad_field(p_path, 'must be a non-empty array of {order_item_id, quantity}');
    end if;
    if jsonb_array_length(p_lines) > 500 then
        perform api._bad_field(p_path, 'at most 500 lines');
    end if;
    for v_line in select * from jsonb_array_elements(p_lines) loop
        perform api._reject_unknown(v_line, format('%s[%s]', p_path, i), array['order_item_id', 'quantity'] || p_extra);
        if api._int_field(v_line, 'order_item_id', format('%s[%s]', p_path, i), true) < 1 then
            perform api._bad_field(format('%s[%s].order_item_id', p_path, i), 'no such line in this order');
        end if;
        if api._int_field(v_line, 'quantity', format('%s[%s]', p_path, i), true) not between 1 and 1000000 then
            perform api._bad_field(format('%s[%s].quantity', p_path, i), 'must be between 1 and 1000000');
        end if;
        select * into v_item from shop.order_item x
        where x.order_item_id = (v_line ->> 'order_item_id')::bigint and x.order_id = o.order_id;
        if v_item.order_item_id is null then
            perform api._bad_field(format('%s[%s].order_item_id', p_path, i), 'no such line in this order');
        end if;
        if v_out @> jsonb_build_array(jsonb_build_object('order_item_id', v_item.order_item_id)) then
            perform api._bad_field(format('%s[%s].order_item_id', p_path, i), 'a line may be listed once');
        end if;
        v_out := v_out || jsonb_build_array(v_line || jsonb_build_object(
            'order_item_id', v_item.order_item_id, 'quantity', (v_line ->> 'quantity')::integer,
            'variant_id', v_item.variant_id, 'product_id', v_item.product_id,
            'title', v_item.product_title || case when v_item.variant_name in ('', 'Default') then ''
                                                   else ' — ' || v_item.variant_name end,
            'index', i));
        i := i + 1;
    end loop;
    return (select jsonb_agg(l order by (l ->> 'product_id')::bigint nulls last, (l ->> 'variant_id')::bigint nulls last,
                             (l ->> 'order_item_id')::bigint)
            from jsonb_array_elements(v_out) l);
end
$$;

-- Where a line's units were taken from: the location of its first sold (else live)
-- reservation, else the variant's first location.
create function api._line_location(p_order_item_id bigint, p_variant_id bigint)
returns bigint
language plpgsql stable as $$
begin
    return coalesce(
        (select r.stock_location_id from shop.stock_reservation r
         where r.order_item_id = p_order_item_id and r.status in ('sold', 'active')
         order by r.status = 'active', r.stock_reservation_id limit 1),
        api._first_location(p_variant_id));
end
$$;

-- Moves on-hand stock of a variant at a location by p_delta for an order, with its
-- ledger row (kind return, cancellation or adjustment). The caller holds the variant's
-- lock (api._lock_variants, in the lock order). Untracked variants are left alone.
create function api._order_stock_move(p_order_id uuid, p_variant_id bigint, p_location_id bigint, p_kind text,
                                      p_delta integer, p_reason text)
returns void
language plpgsql as $$
declare
    v_level shop.stock_level;
    v_backorder boolean;
begin
    if p_variant_id is null or p_delta = 0
       or not exists (select from shop.inventory i where i.variant_id = p_variant_id) then
        return;
    end if;
    perform api._stock_write();
    perform api._slots_take_back(p_variant_id);  -- parked units are free here (V34)
    insert into shop.stock_level (variant_id, stock_location_id) values (p_variant_id, p_location_id)
    on conflict do nothing;
    update shop.stock_level l set qty_on_hand = l.qty_on_hand + p_delta
    where l.variant_id = p_variant_id and l.stock_location_id = p_location_id returning * into v_level;
    select i.allow_backorder into v_backorder from shop.inventory i where i.variant_id = p_variant_id;
    if p_delta < 0 and not v_backorder and v_level.qty_on_hand < v_level.qty_reserved then
        raise exception using errcode = 'MA422', constraint = 'stock_below_reserved',
            message = format('the location has %s units on hand, %s reserved: it cannot ship %s more',
                             v_level.qty_on_hand - p_delta, v_level.qty_reserved, -p_delta),
            hint = 'Ship from the location the units were sold from (leave location out).';
    end if;
    update shop.inventory set qty_on_hand = qty_on_hand + p_delta where variant_id = p_variant_id;
    insert into shop.stock_movement (variant_id, stock_location_id, kind, on_hand_delta, reason, actor_id, order_id)
    values (p_variant_id, p_location_id, p_kind, p_delta, left(coalesce(p_reason, ''), 500), shop.current_user_id(), p_order_id);
end
$$;

-- Turns p_quantity live reserved units of a line into sales (cash on delivery: stock
-- leaves when it ships), splitting a reservation when only part of it ships; units on
-- hand go first, backordered ones last. The caller holds the variant's lock.
create function api._sell_line_units(p_order_id uuid, p_order_item_id bigint, p_quantity integer, p_reason text)
returns void
language plpgsql as $$
declare
    r shop.stock_reservation;
    v_left integer := p_quantity;
    v_take integer;
    v_back integer;
begin
    perform api._stock_write();
    for r in select * from shop.stock_reservation x
             where x.order_item_id = p_order_item_id and x.status = 'active'
             order by x.stock_reservation_id loop
        exit when v_left = 0;
        v_take := least(v_left, r.quantity);
        v_back := greatest(0, v_take - (r.quantity - r.backordered));
        if v_take = r.quantity then
            update shop.stock_reservation set status = 'sold', closed_at = now()
            where stock_reservation_id = r.stock_reservation_id;
        else
            update shop.stock_reservation set quantity = quantity - v_take, backordered = backordered - v_back
            where stock_reservation_id = r.stock_reservation_id;
            insert into shop.stock_reservation (order_id, order_item_id, variant_id, stock_location_id, quantity,
                                                backordered, status, closed_at)
            values (r.order_id, r.order_item_id, r.variant_id, r.stock_location_id, v_take, v_back, 'sold', now());
        end if;
        update shop.stock_level set qty_reserved = qty_reserved - v_take, qty_on_hand = qty_on_hand - v_take
        where variant_id = r.variant_id and stock_location_id = r.stock_location_id;
        update shop.inventory set qty_reserved = qty_reserved - v_take, qty_on_hand = qty_on_hand - v_take
        where variant_id = r.variant_id;
        insert into shop.stock_movement (variant_id, stock_location_id, kind, on_hand_delta, reserved_delta, reason,
                                         actor_id, order_id)
        values (r.variant_id, r.stock_location_id, 'sale', -v_take, -v_take, left(p_reason, 500),
                shop.current_user_id(), p_order_id);
        v_left := v_left - v_take;
    end loop;
end
$$;

-- Moves the order's fulfilment (and its headline status) to what its lines say:
-- nothing shipped → unfulfilled; every unit not cancelled shipped → fulfilled, and
-- delivered once every shipment not returned to its sender is delivered; else
-- partially fulfilled. Only forward: the transitions of V27 refuse anything else.
create function api._refresh_fulfilment(p_order_id uuid)
returns shop.customer_order
language plpgsql as $$
declare
    v shop.customer_order;
    v_open integer;
    v_shipped integer;
    v_to text;
begin
    select * into v from shop.customer_order o where o.order_id = p_order_id;
    select coalesce(sum(i.quantity - i.quantity_cancelled), 0), coalesce(sum(i.quantity_shipped), 0)
    into v_open, v_shipped from shop.order_item i where i.order_id = p_order_id;
    if v.status in ('cancelled', 'expired') or v_open = 0 or v_shipped = 0 then
        return v;
    end if;
    v_to := case when v_shipped < v_open then 'partially_fulfilled'
                 when exists (select from shop.shipment s where s.order_id = p_order_id and s.status = 'delivered')
                      and not exists (select from shop.shipment s where s.order_id = p_order_id
                                      and s.status not in ('delivered', 'returned_to_sender'))
                 then 'delivered'
                 else 'fulfilled' end;
    if v_to = 'delivered' and v.fulfillment_status <> 'fulfilled' and v.fulfillment_status <> 'delivered' then
        -- Shipped and delivered in one go: through fulfilled, as the machine says.
        update shop.customer_order set fulfillment_status = 'fulfilled', status = 'fulfilled'
        where order_id = p_order_id returning * into v;
    end if;
    if v.fulfillment_status is distinct from v_to then
        update shop.customer_order set fulfillment_status = v_to, status = v_to
        where order_id = p_order_id returning * into v;
        if v_to = 'delivered' then
            perform api._emit_event('order.delivered', 'order', v.order_id::text, jsonb_build_object(
                'order_id', v.order_id, 'order_number', v.order_number, 'delivered_at', now()));
        end if;
    end if;
    return v;
end
$$;

-- ---------------------------------------------------------------- carriers

-- Every carrier (staff pick one when shipping): {items}.
create function api.admin_list_carriers()
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
begin
    perform api._require_scope('orders:read:any');
    return jsonb_build_object('items', coalesce((select jsonb_agg(api._carrier_json(c, true) order by c.code)
                                                 from shop.carrier c), '[]'));
end
$$;
comment on function api.admin_list_carriers() is
    'Every carrier with its tracking URL template (never its secrets). Needs orders:read:any.';

create function api._carrier_apply(c shop.carrier, p jsonb, p_creating boolean)
returns shop.carrier
language plpgsql stable as $$
declare
    v_template text;
begin
    perform api._reject_unknown(p, '$', case when p_creating then array['code', 'name', 'tracking_url_template', 'is_active']
                                             else array['name', 'tracking_url_template', 'is_active'] end);
    if p_creating then
        c.code := api._text_field(p, 'code', '$', true);
        if c.code !~ '^[a-z0-9]+(-[a-z0-9]+)*$' or length(c.code) > 64 then
            perform api._bad_field('$.code', 'lowercase letters, digits and dashes (at most 64)');
        end if;
    end if;
    if p_creating or p ? 'name' then
        c.name := btrim(api._text_field(p, 'name', '$', true));
        if length(c.name) not between 1 and 200 then
            perform api._bad_field('$.name', 'must have 1 to 200 characters');
        end if;
    end if;
    if p ? 'tracking_url_template' then
        v_template := api._text_field(p, 'tracking_url_template', '$');
        if v_template is not null and (v_template !~ '^https://[^\s]+$' or position('{tracking}' in v_template) = 0
                                       or length(v_template) > 500) then
            perform api._bad_field('$.tracking_url_template', 'an https URL of at most 500 characters holding {tracking}');
        end if;
        c.tracking_url_template := v_template;
    end if;
    if p ? 'is_active' then
        c.is_active := coalesce(api._bool_field(p, 'is_active', '$'), true);
    end if;
    return c;
end
$$;

-- Creates a carrier {code, name, tracking_url_template?, is_active?} with a webhook
-- signing secret, returned once as "secret". Audited.
create function api.admin_create_carrier(p_carrier jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    c shop.carrier;
    v_secret text := api._webhook_new_secret();
begin
    perform api._require_scope('carriers:admin');
    c := api._carrier_apply(c, p_carrier, true);
    insert into shop.carrier (code, name, tracking_url_template, is_active)
    values (c.code, c.name, c.tracking_url_template, coalesce(c.is_active, true)) returning * into c;
    insert into shop.carrier_secret (carrier_id, secret) values (c.carrier_id, v_secret);
    perform api._audit('carrier.create', 'carrier', c.code, p_carrier);
    return api._carrier_json(c, true) || jsonb_build_object('secret', v_secret);
end
$$;
comment on function api.admin_create_carrier(jsonb) is
    'Creates a carrier {code, name, tracking_url_template?, is_active?} and its webhook secret, returned once. Needs carriers:admin. Errors: MA409 carrier_code_key, MA422 invalid_field.';

create function api.admin_update_carrier(p_code text, p_patch jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    c shop.carrier;
begin
    perform api._require_scope('carriers:admin');
    select * into c from shop.carrier x where x.code = p_code for update;
    if c.carrier_id is null then
        raise exception using errcode = 'MA404', constraint = 'carrier_not_found', message = 'no such carrier';
    end if;
    c := api._carrier_apply(c, p_patch, false);
    update shop.carrier set name = c.name, tracking_url_template = c.tracking_url_template, is_active = c.is_active
    where carrier_id = c.carrier_id returning * into c;
    perform api._audit('carrier.update', 'carrier', c.code, p_patch);
    return api._carrier_json(c, true);
end
$$;
comment on function api.admin_update_carrier(text, jsonb) is
    'Changes a carrier''s name, tracking URL template or is_active. Needs carriers:admin. Errors: MA404 carrier_not_found, MA422 invalid_field.';

-- Makes a new webhook secret (returned once); the current one stays valid for
-- p_overlap_secs (0: revoked now) so the carrier can switch without losing an event.
create function api.admin_rotate_carrier_secret(p_code text, p_overlap_secs integer default 86400)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    c shop.carrier;
    v_secret text := api._webhook_new_secret();
begin
    perform api._require_scope('carriers:admin');
    if p_overlap_secs is null or p_overlap_secs not between 0 and 604800 then
        perform api._bad_field('$.overlap_secs', 'must be between 0 and 604800');
    end if;
    select * into c from shop.carrier x where x.code = p_code for update;
    if c.carrier_id is null then
        raise exception using errcode = 'MA404', constraint = 'carrier_not_found', message = 'no such carrier';
    end if;
    update shop.carrier_secret set expires_at = now() + make_interval(secs => p_overlap_secs)
    where carrier_id = c.carrier_id and expires_at is null;
    insert into shop.carrier_secret (carrier_id, secret) values (c.carrier_id, v_secret);
    perform api._audit('carrier.rotate_secret', 'carrier', c.code, jsonb_build_object('overlap_secs', p_overlap_secs));
    return api._carrier_json(c, true) || jsonb_build_object('secret', v_secret);
end
$$;
comment on function api.admin_rotate_carrier_secret(text, integer) is
    'A new webhook secret for a carrier (returned once); the previous stays valid p_overlap_secs. Needs carriers:admin. Errors: MA404 carrier_not_found, MA422 invalid_field.';

-- What maef-api needs to verify a carrier's webhook: its valid secrets and the
-- timestamp tolerance, or null for an unknown or inactive carrier. Owner only.
create function api.carrier_webhook_secrets(p_code text)
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
begin
    return (select jsonb_build_object(
                'secrets', coalesce((select jsonb_agg(s.secret order by s.created_at desc) from shop.carrier_secret s
                                     where s.carrier_id = c.carrier_id and (s.expires_at is null or s.expires_at > now())), '[]'),
                'tolerance_secs', api._setting_int('fulfilment.carrier_webhook_tolerance_secs'))
            from shop.carrier c where c.code = p_code and c.is_active);
end
$$;
comment on function api.carrier_webhook_secrets(text) is
    'Owner only (maef-api): a carrier''s valid webhook secrets and the timestamp tolerance, or null.';

-- ---------------------------------------------------------------- shipments

-- Creates a shipment of order lines (POST /api/v1/admin/orders/{number}/shipments,
-- orders:write:any): p_body = {"lines": [{order_item_id, quantity}], "carrier",
-- "tracking_number"?, "location"?}. A line may ship across several parcels, never more
-- than ordered minus shipped or cancelled (409 shipment_quantity_exceeds). The order
-- must be paid (or confirmed for cash on delivery, whose reserved units become sales
-- now). Units shipped from another location than they were sold from are moved there
-- (two adjustments). The order's fulfilment follows; timeline, event, audit.
create function api.admin_create_shipment(p_number text, p_body jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    o shop.customer_order;
    c shop.carrier;
    s shop.shipment;
    v_lines jsonb;
    v_line jsonb;
    v_item shop.order_item;
    v_tracking text;
    v_location bigint;
    v_from bigint;
    v_q integer;
begin
    perform api._require_scope('orders:write:any');
    perform api._reject_unknown(coalesce(p_body, 'null'), '$', array['lines', 'carrier', 'tracking_number', 'location']);
    select * into c from shop.carrier x where x.code = api._text_field(p_body, 'carrier', '$', true) and x.is_active;
    if c.carrier_id is null then
        perform api._bad_field('$.carrier', 'no such active carrier');
    end if;
    v_tracking := nullif(btrim(api._text_field(p_body, 'tracking_number', '$')), '');
    if v_tracking !~ '^[A-Za-z0-9][A-Za-z0-9 ._/-]{0,99}$' then
        perform api._bad_field('$.tracking_number', 'letters, digits, spaces and . _ / - (at most 100)');
    end if;
    if api._text_field(p_body, 'location', '$') is not null then
        select l.stock_location_id into v_location from shop.stock_location l
        where l.code = p_body ->> 'location' and l.is_active;
        if v_location is null then
            perform api._bad_field('$.location', 'no such active stock location');
        end if;
    end if;
    o := api._order_by_number(p_number, true);
    if o.status not in ('paid', 'confirmed', 'partially_fulfilled') then
        raise exception using errcode = 'MA409', constraint = 'order_not_shippable',
            message = format('order %s is %s: only paid (or cash-on-delivery confirmed) orders ship', o.order_number,
                             replace(o.status, '_', ' ')),
            detail = jsonb_build_object('status', o.status, 'payment_status', o.payment_status)::text;
    end if;
    v_lines := api._request_lines(o, p_body -> 'lines', '$.lines');
    -- Counters are read under the order's lock: a concurrent shipment has committed or waits.
    for v_line in select * from jsonb_array_elements(v_lines) loop
        select * into v_item from shop.order_item i where i.order_item_id = (v_line ->> 'order_item_id')::bigint;
        v_q := (v_line ->> 'quantity')::integer;
        if v_q > v_item.quantity - v_item.quantity_shipped - v_item.quantity_cancelled then
            raise exception using errcode = 'MA409', constraint = 'shipment_quantity_exceeds',
                message = format('line %s: %s ordered, %s shipped, %s cancelled — %s more cannot ship',
                                 v_item.order_item_id, v_item.quantity, v_item.quantity_shipped,
                                 v_item.quantity_cancelled, v_q),
                detail = jsonb_build_object('order_item_id', v_item.order_item_id, 'ordered', v_item.quantity,
                                            'shipped', v_item.quantity_shipped, 'cancelled', v_item.quantity_cancelled,
                                            'requested', v_q)::text;
        end if;
    end loop;
    if v_tracking is not null and exists (select from shop.shipment x where x.carrier_id = c.carrier_id
                                          and x.tracking_number = v_tracking) then
        raise exception using errcode = 'MA409', constraint = 'tracking_number_taken',
            message = format('%s tracking number %s is already on another shipment', c.name, v_tracking);
    end if;
    insert into shop.shipment (order_id, carrier, carrier_id, tracking_number, address, stock_location_id, created_by)
    values (o.order_id, c.code, c.carrier_id, v_tracking, o.shipping_address, v_location, shop.current_user_id())
    returning * into s;
    perform api._lock_variants(array(select (l ->> 'variant_id')::bigint from jsonb_array_elements(v_lines) l
                                     where l ->> 'variant_id' is not null));
    for v_line in select * from jsonb_array_elements(v_lines) loop
        v_q := (v_line ->> 'quantity')::integer;
        insert into shop.shipment_item (shipment_id, order_item_id, quantity)
        values (s.shipment_id, (v_line ->> 'order_item_id')::bigint, v_q);
        update shop.order_item set quantity_shipped = quantity_shipped + v_q
        where order_item_id = (v_line ->> 'order_item_id')::bigint;
        v_from := api._line_location((v_line ->> 'order_item_id')::bigint, (v_line ->> 'variant_id')::bigint);
        -- Cash on delivery: the units leave stock as they ship.
        perform api._sell_line_units(o.order_id, (v_line ->> 'order_item_id')::bigint, v_q,
                                     format('shipment %s of order %s', s.shipment_id, o.order_number));
        if v_location is not null and v_from is not null and v_location <> v_from then
            perform api._order_stock_move(o.order_id, (v_line ->> 'variant_id')::bigint, v_from, 'adjustment', v_q,
                format('shipment %s of order %s left from another location', s.shipment_id, o.order_number));
            perform api._order_stock_move(o.order_id, (v_line ->> 'variant_id')::bigint, v_location, 'adjustment', -v_q,
                format('shipment %s of order %s', s.shipment_id, o.order_number));
        end if;
    end loop;
    if v_location is null then
        update shop.shipment set stock_location_id = api._line_location((v_lines -> 0 ->> 'order_item_id')::bigint,
                                                                        (v_lines -> 0 ->> 'variant_id')::bigint)
        where shipment_id = s.shipment_id returning * into s;
    end if;
    o := api._refresh_fulfilment(o.order_id);
    perform api._order_timeline(o.order_id, 'shipment', null, 'pending',
        format('shipment %s with %s: %s unit(s)', s.shipment_id, c.name,
               (select sum((l ->> 'quantity')::integer) from jsonb_array_elements(v_lines) l)));
    perform api._emit_event('shipment.created', 'shipment', s.shipment_id::text, jsonb_build_object(
        'shipment_id', s.shipment_id, 'order_id', o.order_id, 'order_number', o.order_number, 'carrier', c.code,
        'tracking_number', s.tracking_number, 'fulfillment_status', o.fulfillment_status,
        'lines', (select jsonb_agg(jsonb_build_object('order_item_id', (l ->> 'order_item_id')::bigint,
                                                      'quantity', (l ->> 'quantity')::integer))
                  from jsonb_array_elements(v_lines) l)));
    perform api._audit('shipment.create', 'order', o.order_number, jsonb_build_object(
        'shipment_id', s.shipment_id, 'body', p_body));
    return jsonb_build_object('shipment', api._shipment_json(s), 'order', api._order_fulfilment_json(o.order_id));
end
$$;
comment on function api.admin_create_shipment(text, jsonb) is
    'Ships units of order lines {lines, carrier, tracking_number?, location?}: never more than ordered minus shipped or cancelled; cash-on-delivery units become sales; fulfilment follows. Needs orders:write:any. Errors: MA404 order_not_found, MA409 order_not_shippable / shipment_quantity_exceeds / tracking_number_taken, MA422 invalid_field / stock_below_reserved.';

-- Moves a shipment to p_status (the caller holds the order's lock, then takes the
-- shipment's): state times, parcels returned to sender back on hand (their units count
-- as returned), the order's fulfilment and delivered status, timeline, event and the
-- customer's e-mail. Returns the outcome: applied, duplicate_state, or (p_strict
-- false) transition_refused; p_strict raises MA409 shipment_transition_invalid instead.
create function api._apply_shipment_status(p_shipment_id bigint, p_status text, p_note text, p_at timestamptz,
                                           p_source text, p_strict boolean)
returns text
language plpgsql as $$
declare
    s shop.shipment;
    o shop.customer_order;
    c shop.carrier;
    v_from text;
    v_at timestamptz := least(coalesce(p_at, now()), now());
    v_item record;
    v_data jsonb;
begin
    select * into s from shop.shipment x where x.shipment_id = p_shipment_id for update;
    v_from := s.status;
    if v_from = p_status then
        return 'duplicate_state';
    end if;
    if not exists (select from shop.shipment_transition t where t.from_state = v_from and t.to_state = p_status) then
        if p_strict then
            raise exception using errcode = 'MA409', constraint = 'shipment_transition_invalid',
                message = format('a shipment cannot go from %s to %s', v_from, p_status),
                detail = json_build_object('from', v_from, 'to', p_status)::text;
        end if;
        return 'transition_refused';
    end if;
    update shop.shipment set status = p_status,
        shipped_at = case when p_status = 'shipped' then v_at else coalesce(shipped_at, v_at) end,
        in_transit_at = case when p_status = 'in_transit' then v_at else in_transit_at end,
        delivered_at = case when p_status = 'delivered' then v_at else delivered_at end,
        failed_at = case when p_status = 'failed_delivery' then v_at else failed_at end,
        returned_at = case when p_status = 'returned_to_sender' then v_at else returned_at end
    where shipment_id = p_shipment_id returning * into s;
    select * into o from shop.customer_order x where x.order_id = s.order_id;
    select * into c from shop.carrier x where x.carrier_id = s.carrier_id;
    if p_status = 'returned_to_sender' then
        -- The parcel is back: its units count as returned (refundable) and go back on hand.
        perform api._lock_variants(array(select i.variant_id from shop.shipment_item si join shop.order_item i using (order_item_id)
                                         where si.shipment_id = s.shipment_id and i.variant_id is not null));
        for v_item in select si.order_item_id, si.quantity, i.variant_id from shop.shipment_item si
                      join shop.order_item i using (order_item_id) where si.shipment_id = s.shipment_id loop
            update shop.order_item set quantity_returned = quantity_returned + v_item.quantity
            where order_item_id = v_item.order_item_id;
            perform api._order_stock_move(o.order_id, v_item.variant_id,
                coalesce(s.stock_location_id, api._line_location(v_item.order_item_id, v_item.variant_id)),
                'return', v_item.quantity, format('shipment %s of order %s returned to sender', s.shipment_id, o.order_number));
        end loop;
    end if;
    o := api._refresh_fulfilment(o.order_id);
    perform api._order_timeline(o.order_id, 'shipment', v_from, p_status,
        concat_ws(' — ', format('shipment %s (%s%s)', s.shipment_id, coalesce(c.name, s.carrier),
                                coalesce(' ' || s.tracking_number, '')),
                  nullif(btrim(coalesce(p_note, '')), ''), case when p_source = 'carrier' then 'reported by the carrier' end));
    v_data := jsonb_build_object('shipment_id', s.shipment_id, 'order_id', o.order_id, 'order_number', o.order_number,
        'carrier', coalesce(c.code, s.carrier), 'tracking_number', s.tracking_number,
        'tracking_url', api._tracking_url(c.tracking_url_template, s.tracking_number), 'from', v_from, 'status', p_status,
        'source', p_source, 'at', v_at, 'carrier_name', coalesce(c.name, s.carrier),
        'shipped_at', s.shipped_at, 'delivered_at', s.delivered_at);
    perform api._emit_event(case p_status when 'shipped' then 'shipment.shipped' when 'in_transit' then 'shipment.in_transit'
                                          when 'delivered' then 'shipment.delivered'
                                          when 'failed_delivery' then 'shipment.delivery_failed'
                                          else 'shipment.returned_to_sender' end,
                            'shipment', s.shipment_id::text, v_data);
    if p_status = 'shipped' then
        perform api._queue_email('order_shipped', o.email, jsonb_build_object(
            'order_number', o.order_number, 'carrier', coalesce(c.name, s.carrier),
            'tracking_number', coalesce(s.tracking_number, ''),
            'tracking_url', api._tracking_url(c.tracking_url_template, s.tracking_number)), o.user_id);
    elsif p_status = 'delivered' then
        perform api._queue_email('order_delivered', o.email, jsonb_build_object('order_number', o.order_number), o.user_id);
    else
        perform api._queue_email('shipment_update', o.email, jsonb_build_object(
            'order_number', o.order_number, 'status', p_status, 'carrier', coalesce(c.name, s.carrier),
            'tracking_number', coalesce(s.tracking_number, ''),
            'tracking_url', api._tracking_url(c.tracking_url_template, s.tracking_number)), o.user_id);
    end if;
    return 'applied';
end
$$;

-- Staff move a shipment (POST /api/v1/admin/shipments/{id}/status): p_body =
-- {"status", "note"?, "tracking_number"? (set while it is not yet known)}. Audited.
create function api.admin_set_shipment_status(p_shipment_id bigint, p_body jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    s shop.shipment;
    v_status text;
    v_note text;
    v_tracking text;
begin
    perform api._require_scope('orders:write:any');
    perform api._reject_unknown(coalesce(p_body, 'null'), '$', array['status', 'note', 'tracking_number']);
    v_status := api._text_field(p_body, 'status', '$', true);
    if v_status not in ('shipped', 'in_transit', 'delivered', 'failed_delivery', 'returned_to_sender') then
        perform api._bad_field('$.status', 'one of shipped, in_transit, delivered, failed_delivery, returned_to_sender');
    end if;
    v_note := btrim(coalesce(api._text_field(p_body, 'note', '$'), ''));
    if length(v_note) > 1000 then
        perform api._bad_field('$.note', 'must have at most 1000 characters');
    end if;
    v_tracking := nullif(btrim(api._text_field(p_body, 'tracking_number', '$')), '');
    if v_tracking !~ '^[A-Za-z0-9][A-Za-z0-9 ._/-]{0,99}$' then
        perform api._bad_field('$.tracking_number', 'letters, digits, spaces and . _ / - (at most 100)');
    end if;
    -- The order first (the lock order), then the shipment.
    perform from shop.customer_order o
    where o.order_id = (select x.order_id from shop.shipment x where x.shipment_id = p_shipment_id) for update;
    select * into s from shop.shipment x where x.shipment_id = p_shipment_id for update;
    if s.shipment_id is null then
        raise exception using errcode = 'MA404', constraint = 'shipment_not_found', message = 'no such shipment';
    end if;
    if v_tracking is not null and v_tracking is distinct from s.tracking_number then
        if s.tracking_number is not null then
            perform api._bad_field('$.tracking_number', 'the shipment already has a tracking number');
        end if;
        if exists (select from shop.shipment x where x.carrier_id = s.carrier_id and x.tracking_number = v_tracking) then
            raise exception using errcode = 'MA409', constraint = 'tracking_number_taken',
                message = format('tracking number %s is already on another shipment', v_tracking);
        end if;
        update shop.shipment set tracking_number = v_tracking where shipment_id = s.shipment_id;
    end if;
    perform api._apply_shipment_status(s.shipment_id, v_status, v_note, now(), 'staff', true);
    perform api._audit('shipment.status', 'shipment', s.shipment_id::text, p_body);
    select * into s from shop.shipment x where x.shipment_id = p_shipment_id;
    return jsonb_build_object('shipment', api._shipment_json(s), 'order', api._order_fulfilment_json(s.order_id));
end
$$;
comment on function api.admin_set_shipment_status(bigint, jsonb) is
    'Moves a shipment {status, note?, tracking_number?} along its machine; the order''s fulfilment follows; event and e-mail. Needs orders:write:any. Errors: MA404 shipment_not_found, MA409 shipment_transition_invalid / tracking_number_taken / order_transition_invalid, MA422 invalid_field.';

create function api.admin_shipment(p_shipment_id bigint)
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    s shop.shipment;
begin
    perform api._require_scope('orders:read:any');
    select * into s from shop.shipment x where x.shipment_id = p_shipment_id;
    if s.shipment_id is null then
        raise exception using errcode = 'MA404', constraint = 'shipment_not_found', message = 'no such shipment';
    end if;
    return jsonb_build_object('shipment', api._shipment_json(s), 'order', api._order_fulfilment_json(s.order_id),
        'carrier_events', coalesce((select jsonb_agg(jsonb_build_object('event_id', e.event_id, 'status', e.status,
                                                                         'outcome', e.outcome, 'received_at', e.received_at)
                                                     order by e.carrier_event_id)
                                    from shop.carrier_event e where e.shipment_id = s.shipment_id), '[]'));
end
$$;
comment on function api.admin_shipment(bigint) is
    'A shipment with its order''s fulfilment counters and the carrier events received for it. Needs orders:read:any. Errors: MA404 shipment_not_found.';

-- Stores and applies one verified carrier webhook (owner only: maef-api calls it once
-- the signature is checked). p_event = {"id", "tracking_number", "status",
-- "occurred_at"?, "description"?}. Stored once per (carrier, id): a repeat answers
-- {"outcome": "duplicate"} and does nothing. An event older than the shipment's last
-- change is stale (carriers deliver out of order); a move the machine refuses is kept
-- as transition_refused. Returns {"outcome", "shipment_id"?}.
create function api.carrier_webhook(p_code text, p_event jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    c shop.carrier;
    s shop.shipment;
    v_event_id bigint;
    v_at timestamptz;
    v_outcome text;
begin
    select * into c from shop.carrier x where x.code = p_code;
    if c.carrier_id is null then
        raise exception using errcode = 'MA404', constraint = 'carrier_not_found', message = 'no such carrier';
    end if;
    begin
        -- An instant RFC 3339 cannot write back (before the year 1 UTC) counts as none.
        v_at := api._writable_instant((p_event ->> 'occurred_at')::timestamptz, '$.occurred_at');
    exception when others then
        v_at := null;
    end;
    insert into shop.carrier_event (carrier_id, event_id, status, outcome, payload)
    values (c.carrier_id, p_event ->> 'id', p_event ->> 'status', 'received', p_event)
    on conflict on constraint carrier_event_carrier_event_key do nothing
    returning carrier_event_id into v_event_id;
    if v_event_id is null then
        return jsonb_build_object('outcome', 'duplicate');
    end if;
    select x.* into s from shop.shipment x where x.carrier_id = c.carrier_id and x.tracking_number = p_event ->> 'tracking_number';
    if s.shipment_id is null then
        v_outcome := 'unknown_shipment';
    else
        -- The lock order: the order, then the shipment (taken by _apply_shipment_status).
        perform from shop.customer_order o where o.order_id = s.order_id for update;
        select * into s from shop.shipment x where x.shipment_id = s.shipment_id;
        if v_at is not null and v_at < greatest(s.shipped_at, s.in_transit_at, s.failed_at, s.delivered_at, s.returned_at) then
            v_outcome := 'stale';
        else
            v_outcome := api._apply_shipment_status(s.shipment_id, p_event ->> 'status',
                                                    left(p_event ->> 'description', 500), v_at, 'carrier', false);
        end if;
    end if;
    update shop.carrier_event set outcome = v_outcome, shipment_id = s.shipment_id where carrier_event_id = v_event_id;
    return jsonb_build_object('outcome', v_outcome, 'shipment_id', s.shipment_id);
end
$$;
comment on function api.carrier_webhook(text, jsonb) is
    'Owner only (maef-api after the signature check): stores a carrier event once and moves its shipment (forward along the machine; stale and refused moves kept). Returns {outcome, shipment_id}. Errors: MA404 carrier_not_found.';

-- ---------------------------------------------------------------- cancellations

-- A cancellation as JSON: what was cancelled, and the refund it started.
create function api._cancellation_json(x shop.cancellation)
returns jsonb
language plpgsql stable as $$
declare
    r shop.refund;
begin
    select * into r from shop.refund y where y.refund_id = x.refund_id;
    return jsonb_build_object(
        'id', x.cancellation_id, 'whole_order', x.whole_order, 'reason', x.reason, 'by', x.actor_kind,
        'created_at', x.created_at,
        'lines', coalesce((select jsonb_agg(jsonb_build_object('order_item_id', ci.order_item_id, 'sku', i.sku,
                                                               'quantity', ci.quantity) order by ci.order_item_id)
                           from shop.cancellation_item ci join shop.order_item i using (order_item_id)
                           where ci.cancellation_id = x.cancellation_id), '[]'),
        'refund', case when r.refund_id is null then null else jsonb_build_object(
                      'id', r.refund_id, 'amount', r.amount, 'currency', r.currency_code, 'status', r.status,
                      'method', r.method, 'shipping', r.shipping) end,
        'order', api._order_fulfilment_json(x.order_id));
end
$$;

-- Cancels a whole order or unshipped units of its lines (the caller holds the order's
-- lock and checked who may). p_lines null: the whole order. Unpaid orders cancel whole
-- only (api._cancel_order: reservations released, coupon use given back). A paid order
-- that has not shipped: units sold go back on hand (cancellation movements), and the
-- refund of exactly those lines (their allocated discounts and taxes; the shipping too
-- when nothing is left of the order) starts through the payments refund path with the
-- request's key. Returns {"action": "done" | "call", "cancellation_id", …} — "call"
-- carries what api.refund_begin returns for the provider call.
create function api._cancellation_begin(o shop.customer_order, p_actor text, p_lines jsonb, p_reason text,
                                        p_idem jsonb)
returns jsonb
language plpgsql as $$
declare
    x shop.cancellation;
    v_key text := (p_idem ->> 'scope') || ':' || (p_idem ->> 'key');
    v_lines jsonb;
    v_line jsonb;
    v_item shop.order_item;
    v_q integer;
    v_whole boolean;
    -- Sold: the reservations became sales at payment (a fully refunded order too).
    v_paid boolean := o.payment_status in ('paid', 'partially_refunded', 'refunded');
    v_ship boolean;
    v_amount bigint;
    v_refund_lines jsonb := '[]';
    v_refunded integer;
    v_begun jsonb;
    v_exponent smallint;
begin
    select * into x from shop.cancellation c where c.order_id = o.order_id and c.request_key = v_key;
    if x.cancellation_id is not null then
        if x.request_hash is distinct from p_idem ->> 'hash' then
            raise exception using errcode = 'MA422', constraint = 'idempotency_key_reused',
                message = 'this Idempotency-Key was used for a different request';
        end if;
        if x.refund_id is null then
            return jsonb_build_object('action', 'done', 'cancellation_id', x.cancellation_id,
                                      'body', api._cancellation_json(x));
        end if;
        -- The refund of this cancellation: replayed, or called again after a lost answer.
        v_begun := api._refund_begin(o.order_number, '{}', p_idem);
        return v_begun || jsonb_build_object('action', case when v_begun ->> 'action' = 'call' then 'call' else 'done' end,
                                             'cancellation_id', x.cancellation_id, 'body', api._cancellation_json(x));
    end if;
    if o.status in ('cancelled', 'expired') then
        perform shop.order_transition_refuse('status', o.status, 'cancelled');
    end if;
    if exists (select from shop.order_item i where i.order_id = o.order_id and i.quantity_shipped > 0) and p_lines is null then
        raise exception using errcode = 'MA409', constraint = 'order_already_shipped',
            message = format('order %s has shipped units: cancel its unshipped lines, or return what shipped', o.order_number),
            detail = jsonb_build_object('status', o.status, 'fulfillment_status', o.fulfillment_status)::text;
    end if;
    if p_lines is not null and not v_paid then
        raise exception using errcode = 'MA409', constraint = 'order_not_paid',
            message = format('order %s is not paid: cancel it whole, not line by line', o.order_number),
            detail = jsonb_build_object('status', o.status, 'payment_status', o.payment_status)::text;
    end if;
    if p_lines is null then
        select coalesce(jsonb_agg(jsonb_build_object('order_item_id', i.order_item_id,
                                                     'quantity', i.quantity - i.quantity_cancelled,
                                                     'variant_id', i.variant_id, 'product_id', i.product_id,
                                                     'title', i.product_title, 'index', 0)
                                  order by i.product_id nulls last, i.variant_id nulls last, i.order_item_id), '[]')
        into v_lines
        from shop.order_item i where i.order_id = o.order_id and i.quantity > i.quantity_cancelled;
    else
        v_lines := api._request_lines(o, p_lines, '$.lines');
        for v_line in select * from jsonb_array_elements(v_lines) loop
            select * into v_item from shop.order_item i where i.order_item_id = (v_line ->> 'order_item_id')::bigint;
            v_q := (v_line ->> 'quantity')::integer;
            if v_q > v_item.quantity - v_item.quantity_shipped - v_item.quantity_cancelled then
                raise exception using errcode = 'MA409', constraint = 'cancel_quantity_exceeds',
                    message = format('line %s: %s ordered, %s shipped, %s cancelled — %s more cannot be cancelled',
                                     v_item.order_item_id, v_item.quantity, v_item.quantity_shipped,
                                     v_item.quantity_cancelled, v_q),
                    detail = jsonb_build_object('order_item_id', v_item.order_item_id, 'ordered', v_item.quantity,
                                                'shipped', v_item.quantity_shipped,
                                                'cancelled', v_item.quantity_cancelled, 'requested', v_q)::text;
            end if;
        end loop;
    end if;
    insert into shop.cancellation (order_id, actor_kind, whole_order, reason, request_key, request_hash, created_by)
    values (o.order_id, p_actor, p_lines is null, p_reason, v_key, p_idem ->> 'hash', shop.current_user_id())
    returning * into x;
    insert into shop.cancellation_item (cancellation_id, order_item_id, quantity)
    select x.cancellation_id, (l ->> 'order_item_id')::bigint, (l ->> 'quantity')::integer
    from jsonb_array_elements(v_lines) l where (l ->> 'quantity')::integer > 0;
    update shop.order_item i set quantity_cancelled = i.quantity_cancelled + (l ->> 'quantity')::integer
    from jsonb_array_elements(v_lines) l where i.order_item_id = (l ->> 'order_item_id')::bigint;
    -- Whole when nothing of the order is left to ship or already shipped.
    v_whole := not exists (select from shop.order_item i where i.order_id = o.order_id
                           and (i.quantity_cancelled < i.quantity or i.quantity_shipped > 0));
    update shop.cancellation set whole_order = v_whole where cancellation_id = x.cancellation_id returning * into x;
    if not v_paid then
        -- Unpaid (awaiting payment, or confirmed for cash on delivery): reservations released.
        perform set_config('maef.cancelled_by', case p_actor when 'staff' then 'admin' else p_actor end, true);
        o := api._cancel_order(o, 'cancelled', p_reason);
        perform set_config('maef.cancelled_by', '', true);
    else
        -- Sold units back on hand where they were sold, in the inventory lock order.
        perform api._lock_variants(array(select (l ->> 'variant_id')::bigint from jsonb_array_elements(v_lines) l
                                         where l ->> 'variant_id' is not null));
        for v_line in select * from jsonb_array_elements(v_lines) loop
            perform api._order_stock_move(o.order_id, (v_line ->> 'variant_id')::bigint,
                api._line_location((v_line ->> 'order_item_id')::bigint, (v_line ->> 'variant_id')::bigint),
                'cancellation', (v_line ->> 'quantity')::integer, format('cancelled: %s', p_reason));
            -- What is left of the line to refund (a staff refund may have covered some).
            select coalesce(sum(ri.quantity), 0) into v_refunded from shop.refund_item ri join shop.refund r using (refund_id)
            where ri.order_item_id = (v_line ->> 'order_item_id')::bigint and r.status <> 'failed';
            select * into v_item from shop.order_item i where i.order_item_id = (v_line ->> 'order_item_id')::bigint;
            v_q := least((v_line ->> 'quantity')::integer, v_item.quantity - v_refunded);
            if v_q > 0 then
                v_refund_lines := v_refund_lines || jsonb_build_array(jsonb_build_object(
                    'order_item_id', v_item.order_item_id, 'quantity', v_q));
            end if;
        end loop;
        if v_whole then
            perform api._order_note(p_reason);
            update shop.customer_order set status = 'cancelled' where order_id = o.order_id returning * into o;
            perform api._order_note('');
            with gone as (delete from shop.coupon_redemption r where r.order_id = o.order_id returning r.coupon_id)
            update shop.coupon c set times_used = c.times_used - 1 from gone where c.coupon_id = gone.coupon_id;
            perform api._emit_event('order.cancelled', 'order', o.order_id::text, jsonb_build_object(
                'order_id', o.order_id, 'order_number', o.order_number,
                'reason', case p_actor when 'staff' then 'admin' else p_actor end, 'note', p_reason,
                'cancelled_at', now(), 'restocked', true,
                'released', (select jsonb_agg(jsonb_build_object('variant_id', (l ->> 'variant_id')::bigint,
                                                                 'quantity', (l ->> 'quantity')::integer))
                             from jsonb_array_elements(v_lines) l where l ->> 'variant_id' is not null)));
        else
            o := api._refresh_fulfilment(o.order_id);
            perform api._emit_event('order.lines_cancelled', 'order', o.order_id::text, jsonb_build_object(
                'order_id', o.order_id, 'order_number', o.order_number, 'cancellation_id', x.cancellation_id,
                'by', p_actor, 'reason', p_reason,
                'lines', (select jsonb_agg(jsonb_build_object('order_item_id', (l ->> 'order_item_id')::bigint,
                                                              'quantity', (l ->> 'quantity')::integer))
                          from jsonb_array_elements(v_lines) l)));
        end if;
        v_ship := v_whole and o.shipping_amount > 0
                  and not exists (select from shop.refund r where r.order_id = o.order_id and r.shipping and r.status <> 'failed');
        select a.amount into v_amount from api._refund_amounts(o, v_refund_lines, v_ship) a;
        if o.payment_status in ('paid', 'partially_refunded') and v_amount > 0 then
            v_begun := api._refund_begin(o.order_number, jsonb_build_object(
                'lines', v_refund_lines, 'shipping', v_ship,
                'reason', left(format('cancellation: %s', p_reason), 500)), p_idem);
            update shop.cancellation set refund_id = coalesce((v_begun -> 'refund' ->> 'id')::bigint,
                                                              (v_begun -> 'body' -> 'refund' ->> 'id')::bigint)
            where cancellation_id = x.cancellation_id returning * into x;
        end if;
    end if;
    perform api._order_timeline(o.order_id, 'cancellation', null, case when v_whole then 'cancelled' else 'lines_cancelled' end,
        format('%s by %s: %s', case when v_whole then 'order cancelled' else 'lines cancelled' end, p_actor, p_reason));
    select c.exponent into v_exponent from shop.currency c where c.code = o.currency_code;
    perform api._queue_email('order_cancelled', o.email, jsonb_build_object(
        'order_number', o.order_number, 'whole_order', v_whole, 'reason', p_reason,
        'lines', (select jsonb_agg(jsonb_build_object('title', l ->> 'title', 'quantity', (l ->> 'quantity')::integer))
                  from jsonb_array_elements(v_lines) l),
        'refund', (select maef.format_money(r.amount, v_exponent, r.currency_code) from shop.refund r
                   where r.refund_id = x.refund_id)), o.user_id);
    perform api._audit('order.cancellation', 'order', o.order_number, jsonb_build_object(
        'cancellation_id', x.cancellation_id, 'by', p_actor, 'whole_order', v_whole, 'reason', p_reason,
        'lines', v_lines, 'refund_id', x.refund_id));
    return coalesce(v_begun, '{}') || jsonb_build_object(
        'action', case when v_begun ->> 'action' = 'call' then 'call' else 'done' end,
        'cancellation_id', x.cancellation_id, 'body', api._cancellation_json(x));
end
$$;

-- Staff cancel an order or unshipped units of its lines (POST
-- /api/v1/admin/orders/{number}/cancellations, orders:write:any, Idempotency-Key
-- required): p_body = {"lines"?: [{order_item_id, quantity}], "reason"}.
create function api.admin_cancellation_begin(p_number text, p_body jsonb, p_idem jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_reason text;
begin
    perform api._require_scope('orders:write:any');
    if p_idem is null then
        raise exception using errcode = 'MA400', constraint = 'idempotency_key_required',
            message = 'a cancellation needs an Idempotency-Key header';
    end if;
    perform api._reject_unknown(coalesce(p_body, 'null'), '$', array['lines', 'reason']);
    v_reason := btrim(coalesce(api._text_field(p_body, 'reason', '$', true), ''));
    if length(v_reason) not between 1 and 500 then
        perform api._bad_field('$.reason', 'must have 1 to 500 characters');
    end if;
    return api._cancellation_begin(api._order_by_number(p_number, true), 'staff',
                                   nullif(p_body -> 'lines', 'null'::jsonb), v_reason, p_idem);
end
$$;
comment on function api.admin_cancellation_begin(text, jsonb, jsonb) is
    'Staff (orders:write:any): cancels an order or unshipped units of its lines {lines?, reason}; stock back; the refund of exactly those lines started (then api.refund_created/_create_failed). Returns {action: done|call, cancellation_id, body|refund…}. Errors: MA400 idempotency_key_required, MA404 order_not_found, MA409 order_transition_invalid / order_already_shipped / cancel_quantity_exceeds / order_not_paid / order_not_refundable, MA422 invalid_field / idempotency_key_reused / refund_exceeds_captured.';

-- A customer cancels their own order (or a guest with its token) within
-- orders.cancel_window_minutes of placing it, while it is unpaid or paid and not
-- shipped: POST /api/v1/orders/{number}/cancel {"reason"?}. Whole order only; a paid
-- order is refunded in full. One cancellation per order: a repeat is a replay.
create function api.customer_cancel_begin(p_number text, p_token text, p_body jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    o shop.customer_order;
    v_reason text;
begin
    perform api._reject_unknown(coalesce(p_body, '{}'), '$', array['reason']);
    v_reason := btrim(coalesce(api._text_field(coalesce(p_body, '{}'), 'reason', '$'), ''));
    if length(v_reason) > 500 then
        perform api._bad_field('$.reason', 'must have at most 500 characters');
    end if;
    o := api._order_for_payer(p_number, p_token, true);
    if not exists (select from shop.cancellation c where c.order_id = o.order_id and c.request_key = 'customer:cancel')
       and (o.placed_at is null
            or now() > o.placed_at + make_interval(mins => api._setting_int('orders.cancel_window_minutes')::integer)) then
        raise exception using errcode = 'MA422', constraint = 'cancellation_window_passed',
            message = format('order %s can no longer be cancelled online (%s minutes after it was placed)', o.order_number,
                             api._setting_int('orders.cancel_window_minutes')),
            hint = 'Contact the shop, or ask for a return once it is delivered.';
    end if;
    return api._cancellation_begin(o, 'customer', null, coalesce(nullif(v_reason, ''), 'cancelled by the customer'),
                                   jsonb_build_object('scope', 'customer', 'key', 'cancel', 'hash', 'customer:cancel'));
end
$$;
comment on function api.customer_cancel_begin(text, text, jsonb) is
    'A customer (or a guest with the token) cancels their whole order within orders.cancel_window_minutes while unpaid or paid and unshipped; a paid order is refunded in full. Returns as api.admin_cancellation_begin. Errors: MA404 order_not_found, MA409 order_transition_invalid / order_already_shipped, MA422 cancellation_window_passed / invalid_field.';

-- A cancellation's body after its refund was recorded (owner only: maef-api, once the
-- caller was checked by the begin step).
create function api.cancellation_result(p_cancellation_id bigint)
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    x shop.cancellation;
begin
    select * into x from shop.cancellation c where c.cancellation_id = p_cancellation_id;
    if x.cancellation_id is null then
        raise exception using errcode = 'MA404', constraint = 'cancellation_not_found', message = 'no such cancellation';
    end if;
    return api._cancellation_json(x);
end
$$;
comment on function api.cancellation_result(bigint) is 'Owner only (maef-api): a cancellation with its refund and the order''s counters.';

-- ---------------------------------------------------------------- erasure

-- The fulfilment part of erasing orders' personal data (api._anonymise_orders,
-- sql/privacy.sql): invoices' buyer reduced to the placeholder e-mail and the country
-- (the one change their trigger allows, in this transaction only), and the free text
-- that may quote the person — return notes, cancellation reasons, carrier event
-- payloads, return events — scrubbed of their strings.
create function api._anonymise_fulfilment(p_order_ids uuid[], p_needles text[], p_email text)
returns void
language plpgsql as $$
begin
    perform set_config('maef.invoice_erasure', 'on', true);
    update shop.invoice i
    set buyer = jsonb_build_object('email', coalesce(p_email, 'erased@invalid'),
                                   'address', api._country_only(i.buyer -> 'address'))
    where i.order_id = any (p_order_ids);
    perform set_config('maef.invoice_erasure', '', true);
    update shop.order_return r set note = api._scrub_text(r.note, p_needles), staff_note = api._scrub_text(r.staff_note, p_needles)
    where r.order_id = any (p_order_ids);
    update shop.cancellation c set reason = api._scrub_text(c.reason, p_needles) where c.order_id = any (p_order_ids);
    update shop.carrier_event e set payload = api._scrub_jsonb(e.payload, p_needles)
    where e.shipment_id in (select s.shipment_id from shop.shipment s where s.order_id = any (p_order_ids));
    update shop.event e set payload = api._scrub_jsonb(e.payload, p_needles)
    where e.aggregate_type = 'return'
      and e.aggregate_id in (select r.return_id::text from shop.order_return r where r.order_id = any (p_order_ids));
end
$$;
comment on function api._anonymise_fulfilment(uuid[], text[], text) is
    'Private: erasure of orders'' fulfilment data (invoice buyers to placeholder and country; return notes, cancellation reasons, carrier and return events scrubbed).';

-- ---------------------------------------------------------------- reports (psql)

-- Orders waiting to ship (paid or confirmed, not fully shipped), oldest first, with how
-- long they have waited since payment (or confirmation).
create view report.fulfilment as
select o.order_number, o.status, o.payment_status, o.fulfillment_status, o.currency_code as currency, o.total_amount,
       coalesce((select min(e.created_at) from shop.order_event e
                 where e.order_id = o.order_id and e.kind = 'status' and e.to_state in ('paid', 'confirmed')),
                o.placed_at) as ready_since,
       now() - coalesce((select min(e.created_at) from shop.order_event e
                         where e.order_id = o.order_id and e.kind = 'status' and e.to_state in ('paid', 'confirmed')),
                        o.placed_at) as waiting,
       (select sum(i.quantity - i.quantity_shipped - i.quantity_cancelled) from shop.order_item i
        where i.order_id = o.order_id) as units_to_ship,
       (select count(*) from shop.shipment s where s.order_id = o.order_id and s.status = 'pending') as shipments_pending
from shop.customer_order o
where o.status in ('paid', 'confirmed', 'partially_fulfilled')
order by ready_since;
comment on view report.fulfilment is 'Orders waiting to ship (paid or confirmed, not fully shipped): units left and how long they have waited.';

-- Descriptions of the private helpers above, for \df+ in psql.
comment on function api._tracking_url(text, text) is 'Private: a carrier''s tracking URL for a number ({tracking} replaced, encoded).';
comment on function api._carrier_json(shop.carrier, boolean) is 'Private: a carrier as JSON (staff: secrets'' dates, never the secrets).';
comment on function api._shipment_json(shop.shipment) is 'Private: a shipment as JSON (carrier, tracking URL, lines, state times).';
comment on function api._order_shipments_json(uuid) is 'Private: an order''s shipments, oldest first.';
comment on function api._order_fulfilment_json(uuid) is 'Private: an order''s states and its lines'' shipped, cancelled and returned units.';
comment on function api._order_timeline(uuid, text, text, text, text, boolean) is 'Private: a timeline entry (shipment, cancellation, return, invoice).';
comment on function api._request_lines(shop.customer_order, jsonb, text, text[]) is 'Private: request lines checked against the order, in the inventory lock order.';
comment on function api._line_location(bigint, bigint) is 'Private: the location a line''s units were sold (or reserved) at.';
comment on function api._order_stock_move(uuid, bigint, bigint, text, integer, text) is 'Private: on-hand stock moved for an order with its ledger row (caller holds the variant lock).';
comment on function api._sell_line_units(uuid, bigint, integer, text) is 'Private: live reserved units of a line become sales (cash on delivery shipping).';
comment on function api._refresh_fulfilment(uuid) is 'Private: the order''s fulfilment and status moved to what its lines and shipments say.';
comment on function api._carrier_apply(shop.carrier, jsonb, boolean) is 'Private: a carrier with validated fields applied.';
comment on function api._apply_shipment_status(bigint, text, text, timestamptz, text, boolean) is 'Private: moves a shipment (times, returned units, order fulfilment, timeline, event, e-mail).';
comment on function api._cancellation_json(shop.cancellation) is 'Private: a cancellation with its lines, refund and the order''s counters.';
comment on function api._cancellation_begin(shop.customer_order, text, jsonb, text, jsonb) is 'Private: cancels a whole order or unshipped units (stock back, refund of those lines started).';

-- ---------------------------------------------------------------- who may call these
-- Deny by default: maef-api migrate revokes EXECUTE from PUBLIC.
-- Everyone, anonymous callers included (public on purpose: a guest cancels with the
-- order's token; the function checks the caller itself):
grant execute on function api.customer_cancel_begin(text,text,jsonb) to maef_anon, maef_customer, maef_staff, maef_admin;
-- Managers and admins (each function checks its permission):
grant execute on function
    api.admin_list_carriers(),
    api.admin_create_shipment(text,jsonb),
    api.admin_set_shipment_status(bigint,jsonb),
    api.admin_shipment(bigint),
    api.admin_cancellation_begin(text,jsonb,jsonb)
    to maef_staff, maef_admin;
-- Admins (carriers:admin):
grant execute on function
    api.admin_create_carrier(jsonb),
    api.admin_update_carrier(text,jsonb),
    api.admin_rotate_carrier_secret(text,integer)
    to maef_admin;
grant select on report.fulfilment to maef_staff, maef_admin;
-- Not granted (owner only: maef-api after a verified webhook or a provider call):
--   api.carrier_webhook_secrets, api.carrier_webhook, api.cancellation_result.
