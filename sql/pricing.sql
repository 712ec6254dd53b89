-- Pricing: price resolution, tax, coupons, the quote of a cart, coupon redemption. The
-- arithmetic is in the extension (maef.quote_cart, IMMUTABLE); these functions gather the
-- data it needs at one instant and check who may see what. Administration is in
-- pricing_admin.sql (promotions, coupons) and pricing_settings.sql (tax, shipping, store
-- settings, tiers, customer groups).

-- The category and all its ancestors, nearest first (rules on a parent category match
-- products of its descendants; tax rates inherit the same way).
create function api._category_path(p_category_id bigint)
returns bigint[]
language sql stable parallel safe as $$
    with recursive up(category_id, parent_id, depth) as (
        select category_id, parent_id, 0 from shop.category where category_id = p_category_id
        union all
        select c.category_id, c.parent_id, up.depth + 1
        from shop.category c join up on c.category_id = up.parent_id
        where up.depth < 50
    )
    select coalesce(array_agg(category_id order by depth), '{}') from up
$$;
comment on function api._category_path(bigint) is 'Private: a category id and its ancestors, nearest first.';

-- Tax rate in basis points: the nearest category of the path with a rate in the
-- country, else the country's standard rate, else 0.
create function api._tax_rate_bp(p_country char(2), p_path bigint[])
returns integer
language sql stable parallel safe as $$
    select coalesce(
        (select t.rate_bp from shop.tax_rate t
         join unnest(p_path) with ordinality as a(category_id, n) on a.category_id = t.category_id
         where t.country = p_country order by a.n limit 1),
        (select t.rate_bp from shop.tax_rate t where t.country = p_country and t.category_id is null),
        0)
$$;
comment on function api._tax_rate_bp(char, bigint[]) is 'Private: tax rate (basis points) for a country and category path.';

-- Unit price of a variant for a quantity and a customer at an instant: the base price
-- (variant price over product price, in its window), lowered by the best volume tier or
-- customer-group price the line qualifies for.
create function api._unit_price(p_variant_id bigint, p_currency char(3), p_quantity integer,
                                p_user_id uuid, p_at timestamptz)
returns table (amount bigint, compare_at bigint)
language sql stable parallel safe as $$
    -- The base price comes from api._variant_prices, the one place that resolves a
    -- variant's price (variant over product, active window); tiers only lower it.
    select least(b.amount, t.amount), b.compare_at_amount
    from shop.product_variant v
    cross join lateral api._variant_prices(v.product_id, p_at) b
    left join lateral (
        select min(pt.amount) as amount from shop.price_tier pt
        where pt.variant_id = v.variant_id and pt.currency_code = p_currency
          and pt.min_quantity <= p_quantity
          and (pt.customer_group_id is null or pt.customer_group_id in (
                select m.customer_group_id from shop.customer_group_member m where m.user_id = p_user_id))
    ) t on true
    where v.variant_id = p_variant_id and b.variant_id = v.variant_id and b.currency_code = p_currency
$$;
comment on function api._unit_price(bigint, char, integer, uuid, timestamptz) is
    'Private: unit price (base price lowered by tiers and group price lists) and compare-at price.';

-- Whether a coupon code can be used now by a customer, and why not.
create function api._coupon_status(p_code text, p_user_id uuid, p_at timestamptz)
returns table (coupon_id bigint, promotion_id bigint, status text)
language sql stable as $$
    select c.coupon_id, c.promotion_id, case
        when not c.is_active or not p.is_active then 'inactive'
        when c.starts_at > p_at or p.starts_at > p_at then 'not_started'
        when c.ends_at <= p_at or p.ends_at <= p_at then 'expired'
        when c.usage_limit is not null and c.times_used >= c.usage_limit then 'exhausted'
        when c.per_customer_limit is not null and p_user_id is not null
             and (select count(*) from shop.coupon_redemption r
                  where r.coupon_id = c.coupon_id and r.user_id = p_user_id) >= c.per_customer_limit
            then 'customer_limit_reached'
        else 'valid'
    end
    from shop.coupon c join shop.promotion p on p.promotion_id = c.promotion_id
    where lower(c.code) = lower(btrim(p_code))
$$;
comment on function api._coupon_status(text, uuid, timestamptz) is
    'Private: coupon id, promotion id and status (valid, inactive, not_started, expired, exhausted, customer_limit_reached).';

-- The engine's input for a cart at an instant (see maef_core::pricing::model), as
-- `json` text: json_build_object writes text directly, where jsonb_build_object builds
-- and sorts a binary tree that maef.quote_cart would only turn back into text (about a
-- third of the gathering's time). Also returns the SKUs of cart items no longer sold
-- (inactive, or without a price in the cart's currency), in cart order.
-- Planning the lines query costs about four times executing it, and with parameters the
-- plan cache would keep choosing custom plans: a generic plan is forced (the query's
-- shape does not depend on the values).
create function api._quote_input(p_cart shop.cart, p_at timestamptz, out input json, out unavailable text[],
                                 out shipping_method json)
language plpgsql stable
set plan_cache_mode = force_generic_plan as $$
declare
    v_tax_inclusive boolean;
    v_country char(2);
    v_exponent smallint;
    v_coupon_promotion bigint;
    v_coupon_status text;
    v_country_rate integer;
    v_groups bigint[];
    v_group_codes text[];
    v_lines json;
    v_shipping json;
begin
    -- The cart's settings in one statement (each statement of a PL/pgSQL function has a
    -- fixed cost): exponent, tax-inclusive prices, the country quoted and its standard
    -- rate (api._tax_rate_bp with no category), the customer's groups.
    select cur.exponent, coalesce(s.prices_include_tax, false), coalesce(p_cart.shipping_country, s.default_country)
    into v_exponent, v_tax_inclusive, v_country
    from shop.currency cur left join shop.store_setting s on s.currency_code = cur.code
    where cur.code = p_cart.currency_code;
    select coalesce((select t.rate_bp from shop.tax_rate t where t.country = v_country and t.category_id is null), 0),
           coalesce(array_agg(m.customer_group_id), '{}'), coalesce(array_agg(g.code), '{}')
    into v_country_rate, v_groups, v_group_codes
    from shop.customer_group_member m join shop.customer_group g on g.customer_group_id = m.customer_group_id
    where m.user_id = p_cart.user_id;
    if p_cart.coupon_code is not null then
        select s.promotion_id, s.status into v_coupon_promotion, v_coupon_status
        from api._coupon_status(p_cart.coupon_code, p_cart.user_id, p_at) s;
    end if;
    -- One set-based query (no per-line function calls): it is most of a quote's cost.
    -- Same resolution as api._unit_price and api._tax_rate_bp. The price lookups are
    -- LATERAL so that each is an index probe by variant or product, whatever the plan.
    with recursive item as (
        select ci.cart_item_id, ci.variant_id, ci.quantity, v.product_id, p.category_id, p.brand,
               v.sku, v.name as variant_name, p.title as product_title, p.slug as product_slug,
               v.is_active and p.is_active as is_active
        from shop.cart_item ci
        join shop.product_variant v on v.variant_id = ci.variant_id
        join shop.product p on p.product_id = v.product_id
        where ci.cart_id = p_cart.cart_id),
    up(start_id, category_id, parent_id, depth) as (
        select c.category_id, c.category_id, c.parent_id, 0 from shop.category c
        where c.category_id in (select category_id from item)
        union all
        select up.start_id, c.category_id, c.parent_id, up.depth + 1
        from shop.category c join up on c.category_id = up.parent_id where up.depth < 50),
    path as (
        select up.start_id, array_agg(up.category_id order by up.depth) as ids,
               (select t.rate_bp from shop.tax_rate t join up u2 on u2.category_id = t.category_id
                where u2.start_id = up.start_id and t.country = v_country
                order by u2.depth limit 1) as rate_bp
        from up group by up.start_id),
    priced as (
        select i.*, path.ids, path.rate_bp, coalesce(vp.amount, pp.amount) as base,
               case when vp.amount is not null then vp.compare_at_amount else pp.compare_at_amount end as compare_at,
               i.is_active and coalesce(vp.amount, pp.amount) is not null as sold
        from item i
        left join path on path.start_id = i.category_id
        left join lateral (
            select x.amount, x.compare_at_amount from shop.price x
            where x.variant_id = i.variant_id and x.currency_code = p_cart.currency_code
              and tstzrange(x.starts_at, x.ends_at) @> p_at limit 1) vp on true
        left join lateral (
            select x.amount, x.compare_at_amount from shop.price x
            where x.product_id = i.product_id and x.variant_id is null and x.currency_code = p_cart.currency_code
              and tstzrange(x.starts_at, x.ends_at) @> p_at limit 1) pp on true)
    select json_agg(json_build_object(
               'line_id', i.cart_item_id, 'variant_id', i.variant_id, 'product_id', i.product_id,
               'quantity', i.quantity,
               'unit_price', least(i.base, tier.amount),
               'compare_at', i.compare_at,
               'categories', coalesce(i.ids, '{}'),
               -- a key lookup per tag: a join here was planned as a hash of every tag,
               -- rebuilt for each line
               'tags', coalesce((select array_agg((select t.slug from shop.tag t where t.tag_id = pt.tag_id))
                                 from shop.product_tag pt where pt.product_id = i.product_id), '{}'),
               'brand', i.brand,
               'tax_rate_bp', coalesce(i.rate_bp, v_country_rate),
               'label', json_build_object('sku', i.sku, 'variant_name', i.variant_name,
                                          'product_title', i.product_title, 'product_slug', i.product_slug))
               order by i.cart_item_id) filter (where i.sold),
           array_agg(i.sku order by i.cart_item_id) filter (where not i.sold)
    into v_lines, unavailable
    from priced i
    left join lateral (
        select min(pt.amount) as amount from shop.price_tier pt
        where pt.variant_id = i.variant_id and pt.currency_code = p_cart.currency_code
          and pt.min_quantity <= i.quantity
          and (pt.customer_group_id is null or pt.customer_group_id = any (v_groups))) tier on i.sold;
    -- Shipping: the method the shopper chose when it is offered here, else the first
    -- offered (sql/shipping.sql); the engine takes its one rate.
    select json_build_object('amount', s.amount, 'free_over', s.free_over, 'tax_rate_bp', v_country_rate),
           json_build_object('code', m.code, 'name', m.name, 'kind', m.kind, 'min_days', m.min_days,
                             'max_days', m.max_days)
    into v_shipping, shipping_method
    from shop.shipping_rate s join shop.shipping_method m using (shipping_method_id)
    where s.country = v_country and s.currency_code = p_cart.currency_code and m.is_active
    order by (m.shipping_method_id = p_cart.shipping_method_id) is true desc, m.position, s.amount, m.shipping_method_id
    limit 1;
    input := json_build_object(
        'currency', p_cart.currency_code,
        'exponent', v_exponent,
        'tax_inclusive', v_tax_inclusive,
        'lines', coalesce(v_lines, '[]'),
        'promotions', coalesce((
            select json_agg(json_build_object(
                'promotion_id', pr.promotion_id, 'name', pr.name, 'priority', pr.priority,
                'stacking', pr.stacking, 'rules', pr.rules,
                'via_coupon', pr.promotion_id is not distinct from v_coupon_promotion))
            from shop.promotion pr
            where pr.is_active and tstzrange(pr.starts_at, pr.ends_at) @> p_at and pr.rules ? 'action'
              -- a promotion with coupons (or marked coupon_required) needs its coupon
              and (pr.promotion_id is not distinct from v_coupon_promotion
                   or (coalesce(pr.rules #>> '{conditions,coupon_required}', 'false') <> 'true'
                       and not exists (select from shop.coupon c where c.promotion_id = pr.promotion_id)))), '[]'),
        'coupon', case when p_cart.coupon_code is not null then
            json_build_object('code', p_cart.coupon_code, 'status', coalesce(v_coupon_status, 'unknown')) end,
        'customer', json_build_object(
            'groups', v_group_codes,
            'first_order', p_cart.user_id is null or not exists (
                select from shop.customer_order o where o.user_id = p_cart.user_id and o.placed_at is not null)),
        'shipping', v_shipping);
end
$$;
comment on function api._quote_input(shop.cart, timestamptz) is
    'Private: the maef.quote input document of a cart (json), the SKUs of its items no longer sold, and the shipping method quoted (json, null when none is offered).';

-- A cart's quote as returned to clients: the engine's result (each line's `label`
-- carries its SKU, variant name, product title and slug), the cart's identity, the
-- formatted grand total and an item_unavailable message per item no longer sold
-- (left out of the totals), plus the shipping method quoted. maef.quote_cart does all
-- of it from JSON text but the method, which its input has no place for.
create function api._cart_quote(p_cart shop.cart)
returns json
language plpgsql stable as $$
declare
    v_input json;
    v_unavailable text[];
    v_method json;
begin
    select q.input, q.unavailable, q.shipping_method into v_input, v_unavailable, v_method
    from api._quote_input(p_cart, now()) q;
    -- json, not jsonb: parsing the 12 kB quote into jsonb would cost twice the engine.
    -- For the same reason the method is spliced into the text: the engine writes one
    -- compact JSON object, so its last character is its closing brace.
    return (left(maef.quote_cart(v_input::text, p_cart.cart_id::text, p_cart.coupon_code, p_cart.shipping_country,
                                 v_unavailable), -1)
            || ',"shipping_method":' || coalesce(v_method::text, 'null') || '}')::json;
end
$$;
comment on function api._cart_quote(shop.cart) is 'Private: the full quote of a cart, with item labels and messages.';

-- The quote of a cart, for its owner (signed in), its guest (holding the session id),
-- or staff who read orders.
create function api.cart_quote(p_cart_id uuid, p_session text default null)
returns json
language plpgsql stable security definer
set search_path = '' as $$
declare
    v_cart shop.cart;
begin
    select * into v_cart from shop.cart c where c.cart_id = p_cart_id;
    if not found or not coalesce(
        v_cart.user_id = shop.current_user_id()
        or (v_cart.user_id is null and v_cart.session_hash = encode(sha256(convert_to(coalesce(p_session, ''), 'UTF8')), 'hex'))
        or shop.has_scope('orders:read:any'), false) then
        raise exception using errcode = 'MA404', constraint = 'cart_not_found', message = 'no such cart';
    end if;
    return api._cart_quote(v_cart);
end
$$;
comment on function api.cart_quote(uuid, text) is
    'Quote of a cart (lines with allocated discounts, totals, messages) for its owner, its guest session, or staff with orders:read:any. Errors: MA404 cart_not_found.';

-- EU Omnibus: the lowest price a variant had over the 30 days before an instant.
create function api.lowest_price_30d(p_variant_id bigint, p_currency char(3), p_at timestamptz default now())
returns bigint
-- PL/pgSQL: a SQL function with a SET clause is never inlined and was planned at every
-- call (docs/contributing.md); a product page asks twice.
language plpgsql stable parallel safe security definer
set search_path = '' as $$
begin
    return (select min(h.amount)
    from shop.price_history h
    join shop.product_variant v on v.variant_id = p_variant_id
    where h.currency_code = p_currency and h.amount is not null
      and (h.variant_id = p_variant_id or (h.variant_id is null and h.product_id = v.product_id))
      and h.changed_at <= p_at
      -- a price row counts if its window overlapped the 30 days
      and tstzrange(h.starts_at, h.ends_at) && tstzrange(p_at - interval '30 days', p_at, '[]')
      and (h.changed_at >= p_at - interval '30 days'
           or not exists (select from shop.price_history n where n.price_id = h.price_id
                          and n.price_history_id > h.price_history_id and n.changed_at < p_at - interval '30 days')));
end
$$;
comment on function api.lowest_price_30d(bigint, char, timestamptz) is
    'Lowest price (minor units) of a variant (or its product) in a currency over the 30 days before p_at (EU Omnibus).';

-- Consumes one use of a coupon, atomically: the conditional UPDATE takes the coupon's
-- row lock, so concurrent redemptions queue and each re-checks the limit after the one
-- before commits — no double spend. The per-customer count is read after that lock.
create function api.redeem_coupon(p_code text, p_order_id uuid default null)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_user_id uuid := shop.current_user_id();
    v_coupon shop.coupon;
    v_status text;
begin
    select s.status into v_status from api._coupon_status(p_code, v_user_id, now()) s;
    if v_status is null then
        raise exception using errcode = 'MA404', constraint = 'coupon_not_found', message = 'no coupon has this code';
    end if;
    update shop.coupon c set times_used = c.times_used + 1
    where lower(c.code) = lower(btrim(p_code)) and c.is_active
      and (c.usage_limit is null or c.times_used < c.usage_limit)
      and tstzrange(c.starts_at, c.ends_at) @> now()
    returning * into v_coupon;
    if not found then
        raise exception using errcode = 'MA409', constraint = 'coupon_' || case when v_status = 'valid' then 'exhausted' else v_status end,
            message = 'this coupon cannot be used';
    end if;
    if v_coupon.per_customer_limit is not null and v_user_id is not null
       and (select count(*) from shop.coupon_redemption r
            where r.coupon_id = v_coupon.coupon_id and r.user_id = v_user_id) >= v_coupon.per_customer_limit then
        raise exception using errcode = 'MA409', constraint = 'coupon_customer_limit_reached',
            message = 'you have used this coupon as often as allowed';
    end if;
    insert into shop.coupon_redemption (coupon_id, user_id, order_id) values (v_coupon.coupon_id, v_user_id, p_order_id);
    return jsonb_build_object('coupon_id', v_coupon.coupon_id, 'promotion_id', v_coupon.promotion_id,
                              'times_used', v_coupon.times_used, 'usage_limit', v_coupon.usage_limit);
end
$$;
comment on function api.redeem_coupon(text, uuid) is
    'Consumes one use of a coupon (checkout calls it), race-free. Errors: MA404 coupon_not_found, MA409 coupon_exhausted / coupon_expired / coupon_inactive / coupon_not_started / coupon_customer_limit_reached, 23505 coupon_redemption_order_key.';

-- ---------------------------------------------------------------- who may call these
-- Deny by default: maef-api migrate revokes EXECUTE from PUBLIC, so a function is
-- callable only by its owner (maef-worker, DBAs) until it is granted here.
-- Everyone, anonymous callers included (public on purpose):
grant execute on function
    api.cart_quote(uuid,text),
    api.lowest_price_30d(bigint,character,timestamp with time zone)
    to maef_anon, maef_customer, maef_staff, maef_admin;
-- Not granted (owner only): api.redeem_coupon, which checkout calls inside its own
-- transaction; a direct call would consume a coupon use without an order.
