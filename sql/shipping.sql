-- Shipping methods: how an order reaches the customer (standard, express, pickup in
-- store…), each priced per (country, currency) by shop.shipping_rate with an optional
-- free-over threshold. The cart remembers the method the shopper chose
-- (shop.cart.shipping_method_id); the quote (api._quote_input) feeds the pricing engine
-- the chosen method's rate, or the first available one (position, then price) while
-- none is chosen, and shows it as the quote's "shipping_method".
--
-- Administration needs pricing:write and is audited in the same transaction, like tax
-- and shipping rates (sql/pricing_settings.sql, where rates are administered).
-- Errors: MA404 shipping_method_not_found, MA422 shipping_method_unavailable /
-- invalid_field (detail = JSON path), 23505 shipping_method_code_key (409).

-- The country a cart is quoted for: its shipping country, else its currency's default.
create function api._cart_country(p_cart shop.cart)
returns char(2)
language plpgsql stable as $$  -- PL/pgSQL: its plan is kept (see api._order_json)
begin
    return coalesce(p_cart.shipping_country,
                    (select s.default_country from shop.store_setting s where s.currency_code = p_cart.currency_code));
end
$$;

-- The methods offered to a cart: active, with a rate for its country and currency, in
-- the order the quote picks a default (position, price, id).
create function api._shipping_options(p_cart shop.cart)
returns table (method shop.shipping_method, rate shop.shipping_rate)
language sql stable as $$
    select m, s
    from shop.shipping_rate s join shop.shipping_method m using (shipping_method_id)
    where s.country = api._cart_country(p_cart) and s.currency_code = p_cart.currency_code and m.is_active
    order by m.position, s.amount, m.shipping_method_id
$$;

-- A method as the quote and the cart show it.
create function api._shipping_method_brief(m shop.shipping_method)
returns json
language sql immutable as $$
    select json_build_object('code', m.code, 'name', m.name, 'kind', m.kind, 'min_days', m.min_days,
                             'max_days', m.max_days)
$$;

-- A method with its rates, for administration.
create function api._shipping_method_json(m shop.shipping_method)
returns jsonb
language sql stable as $$
    select jsonb_build_object(
        'id', m.shipping_method_id, 'code', m.code, 'name', m.name, 'description', m.description,
        'kind', m.kind, 'min_days', m.min_days, 'max_days', m.max_days, 'position', m.position,
        'is_active', m.is_active, 'created_at', m.created_at, 'updated_at', m.updated_at,
        'rates', coalesce((select jsonb_agg(jsonb_build_object(
                               'shipping_rate_id', s.shipping_rate_id, 'country', s.country,
                               'currency_code', s.currency_code, 'amount', s.amount, 'free_over', s.free_over)
                               order by s.country, s.currency_code)
                           from shop.shipping_rate s where s.shipping_method_id = m.shipping_method_id), '[]'))
$$;

-- ---------------------------------------------------------------- the shopper's choice

-- The methods offered to the caller's cart, each with what it costs for this cart (the
-- engine's quote with that method: free-over thresholds and free-shipping promotions
-- included) and whether it is the one the quote uses now.
create function api.cart_shipping_methods(p_session text default null)
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    v_cart shop.cart := api._my_cart(p_session);
    v_current text;
    v_result jsonb := '[]';
    o record;
    v_priced shop.cart;
    v_input json;
    v_quote jsonb;
begin
    select q.shipping_method ->> 'code' into v_current from api._quote_input(v_cart, now()) q;
    for o in select * from api._shipping_options(v_cart) loop
        v_priced := v_cart;
        v_priced.shipping_method_id := (o.method).shipping_method_id;
        select q.input into v_input from api._quote_input(v_priced, now()) q;
        v_quote := maef.quote_cart(v_input::text, v_cart.cart_id::text, v_cart.coupon_code, v_cart.shipping_country,
                                   null)::jsonb;
        v_result := v_result || jsonb_build_object(
            'code', (o.method).code, 'name', (o.method).name, 'description', (o.method).description,
            'kind', (o.method).kind, 'min_days', (o.method).min_days, 'max_days', (o.method).max_days,
            'rate', (o.rate).amount, 'free_over', (o.rate).free_over,
            'price', v_quote -> 'shipping_total', 'tax', v_quote -> 'shipping' -> 'tax',
            'grand_total', v_quote -> 'grand_total', 'currency', v_cart.currency_code,
            'selected', (o.method).code = v_current);
    end loop;
    return jsonb_build_object('country', api._cart_country(v_cart), 'currency', v_cart.currency_code,
                              'methods', v_result);
end
$$;
comment on function api.cart_shipping_methods(text) is
    'Shipping methods offered for the caller''s cart (its country and currency), each with its price for this cart and whether the quote uses it. Errors: MA404 cart_not_found.';

-- Chooses the cart's shipping method by code and returns the quote.
create function api.cart_set_shipping_method(p_code text, p_session text default null)
returns json
language plpgsql security definer
set search_path = '' as $$
declare
    v_cart shop.cart := api._my_cart(p_session, true);
    v_method shop.shipping_method := api._offered_shipping_method(v_cart, p_code, '$.code');
begin
    update shop.cart set shipping_method_id = v_method.shipping_method_id
    where cart_id = v_cart.cart_id returning * into v_cart;
    return api._cart_quote(v_cart);
end
$$;
comment on function api.cart_set_shipping_method(text, text) is
    'Chooses the shipping method of the caller''s cart; returns the quote. Errors: MA404 cart_not_found / shipping_method_not_found, MA422 shipping_method_unavailable.';

-- The active method with this code, offered for the cart's country and currency.
create function api._offered_shipping_method(p_cart shop.cart, p_code text, p_path text)
returns shop.shipping_method
language plpgsql stable as $$
declare
    v shop.shipping_method;
begin
    select * into v from shop.shipping_method m where m.code = lower(btrim(coalesce(p_code, ''))) and m.is_active;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'shipping_method_not_found',
            message = format('no shipping method has the code %L', p_code), detail = p_path,
            hint = 'GET /api/v1/cart/shipping-methods lists the methods offered for the cart.';
    end if;
    if not exists (select from shop.shipping_rate s
                   where s.shipping_method_id = v.shipping_method_id and s.country = api._cart_country(p_cart)
                     and s.currency_code = p_cart.currency_code) then
        raise exception using errcode = 'MA422', constraint = 'shipping_method_unavailable',
            message = format('%s is not offered to %s in %s', v.name, api._cart_country(p_cart), p_cart.currency_code),
            detail = p_path,
            hint = 'GET /api/v1/cart/shipping-methods lists the methods offered for the cart.';
    end if;
    return v;
end
$$;

-- ---------------------------------------------------------------- administration

create function api._shipping_method_apply(p shop.shipping_method, p_fields jsonb)
returns shop.shipping_method
language plpgsql stable as $$
declare
    v shop.shipping_method := p;
begin
    perform api._reject_unknown(p_fields, '$', array['code', 'name', 'description', 'kind', 'min_days', 'max_days',
                                                     'position', 'is_active', 'rates']);
    if p_fields ? 'code' then
        v.code := lower(btrim(api._text_field(p_fields, 'code', '$', true)));
        if v.code !~ '^[a-z0-9]+(-[a-z0-9]+)*$' or length(v.code) > 64 then
            perform api._bad_field('$.code', 'must be lower-case letters, digits and single dashes (at most 64), such as express');
        end if;
    end if;
    if p_fields ? 'name' then
        v.name := btrim(api._text_field(p_fields, 'name', '$', true));
        if length(v.name) not between 1 and 200 then
            perform api._bad_field('$.name', 'must have 1 to 200 characters');
        end if;
    end if;
    if p_fields ? 'description' then
        v.description := coalesce(api._text_field(p_fields, 'description', '$'), '');
        if length(v.description) > 2000 then
            perform api._bad_field('$.description', 'must have at most 2000 characters');
        end if;
    end if;
    if p_fields ? 'kind' then
        v.kind := api._text_field(p_fields, 'kind', '$', true);
        if v.kind not in ('delivery', 'pickup') then
            perform api._bad_field('$.kind', 'must be delivery or pickup');
        end if;
    end if;
    if p_fields ? 'min_days' then
        v.min_days := api._bounded_int_field(p_fields, 'min_days', '$', 0, 365);
    end if;
    if p_fields ? 'max_days' then
        v.max_days := api._bounded_int_field(p_fields, 'max_days', '$', 0, 365);
    end if;
    if v.min_days > v.max_days then
        perform api._bad_field('$.max_days', 'must not be below min_days');
    end if;
    if p_fields ? 'position' then
        v.position := api._bounded_int_field(p_fields, 'position', '$', -100000, 100000, true);
    end if;
    if p_fields ? 'is_active' then
        v.is_active := api._bool_field(p_fields, 'is_active', '$');
        if v.is_active is null then
            perform api._bad_field('$.is_active', 'must be true or false');
        end if;
    end if;
    return v;
end
$$;

create function api.admin_list_shipping_methods()
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
begin
    perform api._require_scope('pricing:write');
    return coalesce((select jsonb_agg(api._shipping_method_json(m) order by m.position, m.shipping_method_id)
                     from shop.shipping_method m), '[]');
end
$$;
comment on function api.admin_list_shipping_methods() is 'Every shipping method with its rates. Needs pricing:write.';

-- Creates a method: {"code", "name", "description"?, "kind"?, "min_days"?, "max_days"?,
-- "position"?, "is_active"?, "rates"?: [{"country", "currency", "amount", "free_over"?}]}.
create function api.admin_create_shipping_method(p_method jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v shop.shipping_method;
    v_rate jsonb;
    v_i integer := 0;
begin
    perform api._require_scope('pricing:write');
    perform api._require_fields(p_method, array['code', 'name']);
    v.kind := 'delivery';
    v.position := 0;
    v.is_active := true;
    v.description := '';
    v := api._shipping_method_apply(v, p_method);
    insert into shop.shipping_method (code, name, description, kind, min_days, max_days, position, is_active)
    values (v.code, v.name, v.description, v.kind, v.min_days, v.max_days, v.position, v.is_active)
    returning * into v;
    if p_method ? 'rates' and jsonb_typeof(p_method -> 'rates') <> 'array' then
        perform api._bad_field('$.rates', 'must be an array');
    end if;
    for v_rate in select value from jsonb_array_elements(coalesce(p_method -> 'rates', '[]')) loop
        perform api._insert_shipping_rate(v.shipping_method_id, v_rate, format('$.rates[%s]', v_i));
        v_i := v_i + 1;
    end loop;
    perform api._audit('shipping_method.create', 'shipping_method', v.shipping_method_id::text,
                       api._shipping_method_json(v));
    return api._shipping_method_json(v);
end
$$;
comment on function api.admin_create_shipping_method(jsonb) is
    'Creates a shipping method, optionally with its rates. Needs pricing:write. Errors: MA422 invalid_field, 23505 shipping_method_code_key / shipping_rate_method_country_currency_key.';

-- Inserts one rate {"country", "currency", "amount", "free_over"?} of a method.
create function api._insert_shipping_rate(p_method_id bigint, p_rate jsonb, p_path text)
returns shop.shipping_rate
language plpgsql as $$
declare
    v shop.shipping_rate;
begin
    if jsonb_typeof(p_rate) <> 'object' then
        perform api._bad_field(p_path, 'must be an object');
    end if;
    perform api._reject_unknown(p_rate, p_path, array['country', 'currency', 'amount', 'free_over']);
    insert into shop.shipping_rate (shipping_method_id, country, currency_code, amount, free_over)
    values (p_method_id, api._country_field(p_rate, 'country', p_path, true),
            api._currency_field(p_rate, 'currency', p_path, true),
            api._bounded_int_field(p_rate, 'amount', p_path, 0, 999999999999, true),
            api._bounded_int_field(p_rate, 'free_over', p_path, 0, 999999999999))
    returning * into v;
    return v;
end
$$;

-- Changes fields of a method (rates are changed through /admin/shipping-rates).
create function api.admin_update_shipping_method(p_shipping_method_id bigint, p_patch jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v shop.shipping_method;
    v_before jsonb;
begin
    perform api._require_scope('pricing:write');
    select * into v from shop.shipping_method where shipping_method_id = p_shipping_method_id for update;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'shipping_method_not_found', message = 'no such shipping method';
    end if;
    if p_patch ? 'rates' then
        perform api._bad_field('$.rates', 'change rates through /api/v1/admin/shipping-rates');
    end if;
    v_before := to_jsonb(v);
    v := api._shipping_method_apply(v, p_patch);
    update shop.shipping_method m set code = v.code, name = v.name, description = v.description, kind = v.kind,
        min_days = v.min_days, max_days = v.max_days, position = v.position, is_active = v.is_active
    where m.shipping_method_id = p_shipping_method_id returning * into v;
    perform api._audit('shipping_method.update', 'shipping_method', p_shipping_method_id::text,
                       jsonb_build_object('before', v_before, 'patch', p_patch));
    return api._shipping_method_json(v);
end
$$;
comment on function api.admin_update_shipping_method(bigint, jsonb) is
    'Changes a shipping method (not its rates). Needs pricing:write. Errors: MA404 shipping_method_not_found, MA422 invalid_field, 23505 shipping_method_code_key.';

-- Deletes a method and its rates; carts that chose it fall back to the default, orders
-- keep their copy of it.
create function api.admin_delete_shipping_method(p_shipping_method_id bigint)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_before jsonb;
begin
    perform api._require_scope('pricing:write');
    select api._shipping_method_json(m) into v_before from shop.shipping_method m
    where m.shipping_method_id = p_shipping_method_id;
    delete from shop.shipping_method where shipping_method_id = p_shipping_method_id;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'shipping_method_not_found', message = 'no such shipping method';
    end if;
    perform api._audit('shipping_method.delete', 'shipping_method', p_shipping_method_id::text, v_before);
    return jsonb_build_object('deleted', p_shipping_method_id);
end
$$;
comment on function api.admin_delete_shipping_method(bigint) is
    'Deletes a shipping method and its rates. Needs pricing:write. Errors: MA404 shipping_method_not_found.';

-- Descriptions of the private helpers above, for \df+ in psql.
comment on function api._cart_country(shop.cart) is 'Private: the country a cart is quoted for (its shipping country, else its currency''s default).';
comment on function api._shipping_options(shop.cart) is 'Private: the methods offered to a cart with their rates, in default order.';
comment on function api._shipping_method_brief(shop.shipping_method) is 'Private: a method as the quote shows it.';
comment on function api._shipping_method_json(shop.shipping_method) is 'Private: a method with its rates, for administration.';
comment on function api._offered_shipping_method(shop.cart, text, text) is 'Private: the active method with a code offered for a cart, else MA404 / MA422.';
comment on function api._shipping_method_apply(shop.shipping_method, jsonb) is 'Private: a method with validated fields applied.';
comment on function api._insert_shipping_rate(bigint, jsonb, text) is 'Private: inserts one validated rate of a method.';

-- ---------------------------------------------------------------- who may call these
-- Deny by default: maef-api migrate revokes EXECUTE from PUBLIC, so a function is
-- callable only by its owner (maef-worker, DBAs) until it is granted here.
-- Everyone, anonymous callers included (public on purpose: guests shop too):
grant execute on function
    api.cart_shipping_methods(text),
    api.cart_set_shipping_method(text,text)
    to maef_anon, maef_customer, maef_staff, maef_admin;
-- Managers and admins (each function checks its permission):
grant execute on function
    api.admin_list_shipping_methods(),
    api.admin_create_shipping_method(jsonb),
    api.admin_update_shipping_method(bigint,jsonb),
    api.admin_delete_shipping_method(bigint)
    to maef_staff, maef_admin;
