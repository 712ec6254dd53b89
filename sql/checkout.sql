-- Checkout: the cart becomes an order in one transaction, or nothing happens.
--
--   1. The Idempotency-Key (required) is taken, waiting for a concurrent duplicate to
--      finish and replaying its response (api._idempotency_begin with p_wait).
--   2. The request is checked, the caller's open cart locked (a second checkout of the
--      same cart waits, then finds it converted).
--   3. The destination (shipping address, inline or from the address book) and the
--      shipping method are set on the cart; the quote is computed by the same engine as
--      the cart's (api._quote_input → maef.quote_cart). Its grand total must equal
--      expected_total, else 409 price_changed carrying the new quote.
--   4. The order is written with a copy of the quote: lines with labels, unit prices,
--      allocated discounts and taxes; totals; shipping method and its tax; addresses.
--   5. The cart is closed and the response stored with the key (before the locks).
--   6. The coupon is redeemed (api.redeem_coupon: row lock, limits re-checked).
--   7. Stock is reserved, variants locked in (product_id, variant_id) order, last, so
--      the hottest locks are held for the shortest time (api._reserve_order_stock);
--      all of it commits together.
--
-- Lock order: idempotency key → cart row → coupon row → inventory rows (sorted) →
-- their levels and stock slots; the same as payment, expiry and cancellation (see
-- V27), so none of them can deadlock another. A checkout whose units come from stock
-- slots locks slot rows only, last, and waits for nothing while it holds them
-- (sql/inventory.sql, api._reserve_order_stock).
--
-- Errors (nothing written): MA400 idempotency_key_required, MA404 cart_not_found (also
-- once the cart is checked out) / address_not_found / shipping_method_not_found, MA410
-- cart_expired, MA409 price_changed (detail = the new quote) / insufficient_stock
-- (detail = the short lines) / coupon_* (coupon_not_applicable: its conditions are not
-- met), MA422 cart_empty /
-- item_unavailable / shipping_method_unavailable / invalid_field (detail = JSON path)
-- / invalid_email / idempotency_key_reused.

-- The caller's open cart, locked; a clear error for an expired one.
create function api._checkout_cart(p_session text)
returns shop.cart
language plpgsql as $$
declare
    v_user_id uuid := shop.current_user_id();
    v_hash text;
    v shop.cart;
begin
    -- Two queries, each by its own index: one query with a CASE choosing the condition
    -- cannot use either, and once PL/pgSQL switched to a generic plan it read every
    -- cart, hashing the session for each (80 ms a checkout among 36,000 carts).
    if v_user_id is not null then
        select * into v from shop.cart c
        where c.user_id = v_user_id and c.status = 'open'
        order by c.created_at desc limit 1
        for update;
    else
        v_hash := api._session_hash(coalesce(p_session, ''));
        select * into v from shop.cart c
        where c.session_hash = v_hash and c.user_id is null and c.status = 'open'
        for update;
    end if;
    if v.cart_id is null then
        raise exception using errcode = 'MA404', constraint = 'cart_not_found', message = 'there is no open cart',
            hint = 'POST /api/v1/cart first (guests send the X-Cart-Session header).';
    end if;
    if v.expires_at <= now() then
        raise exception using errcode = 'MA410', constraint = 'cart_expired', message = 'this cart has expired',
            hint = 'Open a new cart.';
    end if;
    return v;
end
$$;

-- The shipping or billing address of a checkout: inline (validated and normalised) or
-- from the signed-in customer's address book; null when neither key is given.
create function api._checkout_address(p_request jsonb, p_key text, p_kind text)
returns jsonb
language plpgsql stable as $$
declare
    v_user_id uuid := shop.current_user_id();
    v_id bigint;
    v shop.address;
begin
    if p_request ? p_key and p_request ? (p_key || '_id') then
        perform api._bad_field('$.' || p_key || '_id', format('give either %s or %s_id', p_key, p_key));
    end if;
    if p_request ? p_key and jsonb_typeof(p_request -> p_key) <> 'null' then
        return api._normalize_address(p_request -> p_key, '$.' || p_key);
    end if;
    v_id := api._int_field(p_request, p_key || '_id', '$');
    if v_id is null then
        return null;
    end if;
    if v_user_id is null then
        perform api._bad_field('$.' || p_key || '_id', 'sign in to use your address book, or give the address inline');
    end if;
    select * into v from shop.address a where a.address_id = v_id and a.user_id = v_user_id;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'address_not_found',
            message = 'no such address in your address book', detail = '$.' || p_key || '_id';
    end if;
    if v.kind not in (p_kind, 'both') then
        perform api._bad_field('$.' || p_key || '_id', format('this is a %s address', v.kind));
    end if;
    return api._address_json(v) - array['id', 'kind', 'is_default_shipping', 'is_default_billing', 'created_at', 'updated_at'];
end
$$;

-- Places an order from the caller's cart (see the top of this file). p_request:
-- {"email"? (required for guests), "shipping_address"? | "shipping_address_id"?,
--  "billing_address"? | "billing_address_id"? (default: the shipping address),
--  "shipping_method", "expected_total", "note"?}. Returns the order; a guest's also
-- carries "token", the secret that reads it later (returned once, stored hashed).
create function api.checkout(p_request jsonb, p_session text default null, p_idem jsonb default null)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_user_id uuid := shop.current_user_id();
    v_idem jsonb := p_idem;
    v_result jsonb;
    v_cart shop.cart;
    v_expected bigint;
    v_email text;
    v_note text;
    v_shipping jsonb;
    v_billing jsonb;
    v_method shop.shipping_method;
    v_input json;
    v_unavailable text[];
    v_method_json json;
    v_quote_text text;
    v_quote jsonb;
    v_coupon_id bigint;
    v_coupon_promotion bigint;
    v_coupon_status text;
    v_short jsonb;
    v_order shop.customer_order;
    v_token text;
begin
    if v_idem is null then
        raise exception using errcode = 'MA400', constraint = 'idempotency_key_required',
            message = 'checkout needs an Idempotency-Key', hint = 'Send a new UUID per checkout attempt, and the same one when retrying it.';
    end if;
    -- Guests share no scope: their key is scoped by their cart session.
    if v_user_id is null then
        v_idem := v_idem || jsonb_build_object('scope', 'guest:' || api._session_hash(coalesce(p_session, '')));
    end if;
    v_result := api._idempotency_begin(v_idem, true);
    if v_result is not null then
        return v_result;
    end if;

    -- The request.
    perform api._reject_unknown(p_request, '$', array['email', 'shipping_address', 'shipping_address_id',
        'billing_address', 'billing_address_id', 'shipping_method', 'expected_total', 'note']);
    v_expected := api._bounded_int_field(p_request, 'expected_total', '$', 0, 999999999999999, true);
    if v_user_id is null then
        v_email := api._normalize_email(api._text_field(p_request, 'email', '$', true));
    else
        -- IF, not CASE: the planner folds an immutable call on a constant null in an
        -- untaken CASE branch, and _normalize_email(null) raises.
        v_email := nullif(api._text_field(p_request, 'email', '$'), '');
        if v_email is null then
            select u.email into v_email from shop.app_user u where u.user_id = v_user_id;
        else
            v_email := api._normalize_email(v_email);
        end if;
    end if;
    v_note := btrim(coalesce(api._text_field(p_request, 'note', '$'), ''));
    if length(v_note) > 1000 then
        perform api._bad_field('$.note', 'must have at most 1000 characters');
    end if;
    v_shipping := api._checkout_address(p_request, 'shipping_address', 'shipping');
    v_billing := coalesce(api._checkout_address(p_request, 'billing_address', 'billing'), v_shipping);

    -- The cart, locked: a second checkout of it waits here.
    v_cart := api._checkout_cart(p_session);
    if not exists (select from shop.cart_item i where i.cart_id = v_cart.cart_id) then
        raise exception using errcode = 'MA422', constraint = 'cart_empty', message = 'the cart is empty',
            hint = 'Add items first.';
    end if;
    if v_shipping is not null then
        v_cart.shipping_country := v_shipping ->> 'country';
    end if;
    v_method := api._offered_shipping_method(v_cart, api._text_field(p_request, 'shipping_method', '$', true),
                                             '$.shipping_method');
    if v_method.kind = 'delivery' and v_shipping is null then
        perform api._bad_field('$.shipping_address', format('is required for %s', v_method.name));
    end if;
    v_cart.shipping_method_id := v_method.shipping_method_id;

    -- The quote, by the cart's engine.
    select q.input, q.unavailable, q.shipping_method into v_input, v_unavailable, v_method_json
    from api._quote_input(v_cart, now()) q;
    if cardinality(v_unavailable) > 0 then
        raise exception using errcode = 'MA422', constraint = 'item_unavailable',
            message = format('no longer for sale: %s', array_to_string(v_unavailable, ', ')),
            detail = to_jsonb(v_unavailable)::text, hint = 'Remove these items from the cart.';
    end if;
    -- A coupon that can no longer be used fails the checkout naming why (before the
    -- price check: the total changed because of it).
    if v_cart.coupon_code is not null then
        select s.coupon_id, s.promotion_id, s.status into v_coupon_id, v_coupon_promotion, v_coupon_status
        from api._coupon_status(v_cart.coupon_code, v_user_id, now()) s;
        if v_coupon_status is distinct from 'valid' then
            raise exception using errcode = 'MA409',
                constraint = 'coupon_' || coalesce(v_coupon_status, 'not_found'),
                message = format('coupon %s cannot be used: %s', v_cart.coupon_code,
                                 replace(coalesce(v_coupon_status, 'not_found'), '_', ' ')),
                hint = 'Remove the coupon (DELETE /api/v1/cart/coupon), then check out again.';
        end if;
    end if;
    v_quote_text := maef.quote_cart(v_input::text, v_cart.cart_id::text, v_cart.coupon_code, v_cart.shipping_country,
                                    v_unavailable);
    v_quote := v_quote_text::jsonb;
    if (v_quote ->> 'grand_total')::bigint <> v_expected then
        raise exception using errcode = 'MA409', constraint = 'price_changed',
            message = format('the total is now %s, not %s', v_quote ->> 'grand_total_formatted',
                             maef.format_money(v_expected, (v_quote ->> 'exponent')::integer, v_cart.currency_code)),
            detail = (v_quote || jsonb_build_object('shipping_method', v_method_json))::text,
            hint = 'details hold the new quote: show it, then check out with its grand_total as expected_total.';
    end if;

    -- A valid coupon whose conditions the cart does not meet is not consumed for nothing.
    if v_cart.coupon_code is not null
       and not exists (select from jsonb_array_elements(v_quote -> 'promotions') p
                       where (p ->> 'promotion_id')::bigint = v_coupon_promotion) then
        raise exception using errcode = 'MA409', constraint = 'coupon_not_applicable',
            message = format('coupon %s does not apply to this cart', v_cart.coupon_code),
            hint = 'Meet its conditions (the quote''s messages say which), or remove it.';
    end if;

    -- Stock, optimistically and without a lock: most checkouts that will fail for stock
    -- fail here, before they take a lock or an order number.
    select jsonb_agg(jsonb_build_object('sku', v.sku, 'variant_id', v.variant_id, 'requested', ci.quantity,
                                        'available', greatest(a.available, 0))
                     order by v.product_id, v.variant_id)
    into v_short
    from shop.cart_item ci
    join shop.inventory i on i.variant_id = ci.variant_id
    join shop.product_variant v on v.variant_id = ci.variant_id
    -- Units parked in stock slots (V34) are counted in qty_reserved but free.
    cross join lateral (select i.qty_on_hand - i.qty_reserved
                               + case when i.reservation_slots > 0 then shop.stock_parked(i.variant_id) else 0 end
                               as available) a
    where ci.cart_id = v_cart.cart_id and not i.allow_backorder and a.available < ci.quantity;
    if v_short is not null then
        perform api._raise_short(v_short);
    end if;

    -- The order, a copy of the quote.
    if v_user_id is null then
        v_token := replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
    end if;
    insert into shop.customer_order (
        user_id, cart_id, email, currency_code, subtotal_amount, discount_amount, shipping_amount, tax_amount,
        total_amount, prices_include_tax, shipping_tax_amount, shipping_method_id, shipping_method, coupon_id,
        coupon_code, promotions, customer_note, access_token_hash, shipping_address, billing_address, placed_at,
        reservation_expires_at)
    values (
        v_user_id, v_cart.cart_id, v_email, v_cart.currency_code, (v_quote ->> 'subtotal')::bigint,
        (v_quote ->> 'discount_total')::bigint, (v_quote ->> 'shipping_total')::bigint, (v_quote ->> 'tax_total')::bigint,
        (v_quote ->> 'grand_total')::bigint, (v_quote ->> 'tax_inclusive')::boolean,
        (v_quote #>> '{shipping,tax}')::bigint, v_method.shipping_method_id,
        v_method_json::jsonb || jsonb_build_object('rate', (v_quote #>> '{shipping,amount}')::bigint,
                                                   'discounts', v_quote #> '{shipping,discounts}'),
        v_coupon_id, (select c.code from shop.coupon c where c.coupon_id = v_coupon_id), v_quote -> 'promotions',
        v_note, encode(sha256(convert_to(v_token, 'UTF8')), 'hex'), v_shipping, v_billing, now(),
        now() + api._setting_secs('checkout.reservation_ttl_secs'))
    returning * into v_order;
    insert into shop.order_item (order_id, variant_id, product_id, product_title, variant_name, sku, product_slug,
                                 quantity, unit_amount, compare_at_amount, subtotal_amount, discount_amount, discounts,
                                 tax_rate_bp, tax_amount, total_amount)
    select v_order.order_id, v.variant_id, v.product_id, l #>> '{label,product_title}', l #>> '{label,variant_name}',
           l #>> '{label,sku}', coalesce(l #>> '{label,product_slug}', ''), (l ->> 'quantity')::integer,
           (l ->> 'unit_price')::bigint, (l ->> 'compare_at')::bigint, (l ->> 'subtotal')::bigint,
           (l ->> 'discount_total')::bigint, l -> 'discounts', (l ->> 'tax_rate_bp')::integer, (l ->> 'tax')::bigint,
           (l ->> 'total')::bigint
    from jsonb_array_elements(v_quote -> 'lines') with ordinality as x(l, n)
    join shop.product_variant v on v.variant_id = (l ->> 'variant_id')::bigint
    order by x.n;

    update shop.cart set status = 'converted', shipping_country = v_cart.shipping_country,
        shipping_method_id = v_cart.shipping_method_id
    where cart_id = v_cart.cart_id;
    -- The response and its idempotency record before the stock: what remains after the
    -- coupon's and the variants' locks is then the reservation and the commit.
    v_result := api._order_json(v_order, false);
    if v_token is not null then
        v_result := v_result || jsonb_build_object('token', v_token);
    end if;
    perform api._idempotency_finish(v_idem, 201, v_result);
    perform api._emit_event('order.placed', 'order', v_order.order_id::text, api._order_placed_payload(v_order));

    -- The coupon use, then the stock (the lock order).
    if v_coupon_id is not null then
        perform api.redeem_coupon(v_cart.coupon_code, v_order.order_id);
    end if;
    if api._reserve_order_stock(v_order.order_id) then
        -- Backordered lines changed the order: the response says so.
        select * into v_order from shop.customer_order o where o.order_id = v_order.order_id;
        v_result := api._order_json(v_order, false);
        if v_token is not null then
            v_result := v_result || jsonb_build_object('token', v_token);
        end if;
        update shop.idempotency_key k set response_body = convert_to(v_result::text, 'UTF8')
        where k.scope = v_idem ->> 'scope' and k.key = v_idem ->> 'key';
    end if;
    return v_result;
end
$$;
comment on function api.checkout(jsonb, text, jsonb) is
    'Places an order from the caller''s cart in one transaction: quote checked against expected_total, lines copied, coupon redeemed, stock reserved, cart closed; idempotent (key required; a concurrent duplicate waits and gets the same response). Errors: MA400 idempotency_key_required, MA404 cart_not_found / address_not_found / shipping_method_not_found, MA409 price_changed (detail = new quote) / insufficient_stock (detail = short lines) / coupon_* , MA410 cart_expired, MA422 cart_empty / item_unavailable / shipping_method_unavailable / invalid_field / invalid_email / idempotency_key_reused.';

-- Descriptions of the private helpers above, for \df+ in psql.
comment on function api._checkout_cart(text) is 'Private: the caller''s open cart locked FOR UPDATE; MA404 cart_not_found, MA410 cart_expired.';
comment on function api._checkout_address(jsonb, text, text) is 'Private: a checkout address, inline (validated) or from the caller''s address book.';

-- ---------------------------------------------------------------- who may call these
-- Deny by default: maef-api migrate revokes EXECUTE from PUBLIC, so a function is
-- callable only by its owner (maef-worker, DBAs) until it is granted here.
-- Everyone, anonymous callers included (public on purpose: guests check out):
grant execute on function api.checkout(jsonb,text,jsonb) to maef_anon, maef_customer, maef_staff, maef_admin;
