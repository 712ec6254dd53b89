-- Catalog reads: the category tree, product pages and product lists.
--
-- Public functions are SECURITY DEFINER with an empty search_path (every name is
-- schema-qualified), so anonymous callers read through them without table grants.
-- Private helpers start with `_` and are not granted to anyone.
--
-- Performance: a SQL-language function that is not inlined is re-planned at every
-- call. So helpers are either inlinable SQL (one SELECT without subqueries, no SET
-- clause, volatility no stricter than their body) or PL/pgSQL, whose plans are cached
-- per session. Helpers run inside a public function's empty search_path anyway.

-- Current price rows of a product at an instant: per active variant and currency, the
-- variant's own price if it has one, else the product's.
create function api._variant_prices(p_product_id bigint, p_at timestamptz)
returns table (variant_id bigint, currency_code char(3), exponent smallint, amount bigint, compare_at_amount bigint)
language sql stable parallel safe
as $$
    select v.variant_id, c.code, c.exponent,
           coalesce(vp.amount, pp.amount),
           case when vp.price_id is not null then vp.compare_at_amount else pp.compare_at_amount end
    from shop.product_variant v
    cross join shop.currency c
    left join shop.price vp on vp.variant_id = v.variant_id and vp.currency_code = c.code
         and tstzrange(vp.starts_at, vp.ends_at) @> p_at
    left join shop.price pp on pp.product_id = v.product_id and pp.variant_id is null and pp.currency_code = c.code
         and tstzrange(pp.starts_at, pp.ends_at) @> p_at
    where v.product_id = p_product_id and v.is_active
      and (vp.price_id is not null or pp.price_id is not null)
$$;
comment on function api._variant_prices(bigint, timestamptz) is
    'Private: effective price per active variant and currency of a product at an instant (variant price over product price).';

-- One price as JSON, with display strings from the extension.
create function api._price_json(p_currency char(3), p_exponent smallint, p_amount bigint, p_compare_at bigint)
returns jsonb
language sql stable parallel safe
as $$
    select jsonb_build_object(
        'currency', p_currency,
        'amount', p_amount,
        'price_formatted', maef.format_money(p_amount, p_exponent, p_currency),
        'compare_at_amount', p_compare_at,
        'compare_at_formatted', maef.format_money(p_compare_at, p_exponent, p_currency))
$$;
comment on function api._price_json(char, smallint, bigint, bigint) is
    'Private: a price as {currency, amount, price_formatted, compare_at_amount, compare_at_formatted}.';

-- Stock status shown to shoppers: never the exact quantity.
create function api._stock_status(p_variant_id bigint)
returns text
language plpgsql stable parallel safe
as $$
declare
    v_available integer;
    v_threshold integer;
begin
    select i.qty_on_hand - i.qty_reserved + case when i.reservation_slots > 0 then shop.stock_parked(i.variant_id) else 0 end,
           i.low_stock_threshold
    into v_available, v_threshold
    from shop.inventory i where i.variant_id = p_variant_id;
    return case
        when coalesce(v_available, 0) <= 0 then 'out_of_stock'
        when v_available <= v_threshold then 'low_stock'
        else 'in_stock'
    end;
end
$$;
comment on function api._stock_status(bigint) is
    'Private: in_stock, low_stock or out_of_stock for a variant (available = on hand - reserved + parked in slots).';

-- A product as shown in lists.
create function api._product_summary(p shop.product)
returns jsonb
language plpgsql stable parallel safe
as $$
begin
    return jsonb_build_object(
        'id', p.product_id,
        'slug', p.slug,
        'title', p.title,
        'brand', p.brand,
        'is_featured', p.is_featured,
        'category', (select jsonb_build_object('slug', c.slug, 'name', c.name)
                     from shop.category c where c.category_id = p.category_id),
        'price_from', coalesce((
            select jsonb_agg(api._price_json(f.currency_code, f.exponent, f.amount, f.compare_at_amount)
                             order by f.currency_code)
            from (select distinct on (vp.currency_code) vp.*
                  from api._variant_prices(p.product_id, now()) vp
                  order by vp.currency_code, vp.amount) f), '[]'::jsonb),
        -- Kept by triggers on inventory and variants (migrations/V8).
        'in_stock', p.in_stock,
        -- Kept by triggers on reviews (migrations/V29, sql/reviews.sql).
        'rating', api._rating_json(p.product_id, false),
        'image', (select jsonb_build_object('asset_id', pm.asset_id, 'url', '/api/v1/media/' || pm.asset_id, 'alt', pm.alt)
                  from shop.product_media pm where pm.product_id = p.product_id
                  order by pm.is_primary desc, pm.position limit 1));
end
$$;
comment on function api._product_summary(shop.product) is
    'Private: the list form of a product (prices "from", stock flag, rating {average, count}, primary image).';

-- Builds one category node with its children, recursively.
create function api._category_node(p_category_id bigint)
returns jsonb
language plpgsql stable
as $$
begin
    return (
        select jsonb_build_object(
            'id', c.category_id, 'slug', c.slug, 'name', c.name, 'description', c.description,
            'position', c.position,
            'product_count', coalesce((select cc.product_count from shop.category_counts cc
                                       where cc.category_id = c.category_id), 0),
            'children', coalesce((select jsonb_agg(api._category_node(k.category_id) order by k.position, k.name)
                                  from shop.category k where k.parent_id = c.category_id), '[]'::jsonb))
        from shop.category c where c.category_id = p_category_id);
end
$$;
comment on function api._category_node(bigint) is 'Private: a category and its subtree as JSON.';

-- The public category tree.
create function api.list_categories()
returns jsonb
language sql stable security definer
set search_path = '' as $$
    select coalesce(jsonb_agg(api._category_node(c.category_id) order by c.position, c.name), '[]'::jsonb)
    from shop.category c where c.parent_id is null
$$;
comment on function api.list_categories() is
    'The category tree: top-level categories ordered by position, each with nested "children".';

-- Raises MA422 naming the allowed values when p_value is not one of them.
create function api._require_one_of(p_what text, p_value text, p_allowed text[])
returns void
language plpgsql immutable as $$
begin
    if p_value is not null and not (p_value = any (p_allowed)) then
        raise exception using errcode = 'MA422', constraint = 'invalid_' || p_what,
            message = format('%s %L is not allowed', p_what, p_value),
            hint = format('Allowed: %s.', array_to_string(p_allowed, ', '));
    end if;
end
$$;

-- One page of active products, filtered and sorted, keyset-paginated.
--
-- p_filters (all optional): category (slug; includes descendants), brand, tag (slug),
-- currency + min_price / max_price (minor units; a price filter needs a currency),
-- in_stock, featured ("true"/"false"), q (full-text, same syntax as search), sort
-- (relevance, price_asc, price_desc, newest, popular, rating; default: catalog order),
-- "attr.<name>" = value (a variant with that attribute value).
--
-- Every sort is turned into one ascending numeric key (descending sorts negate it) so
-- one keyset condition (key, id) > (after_key, after_id) serves them all; the cursor
-- is "key|id".
create function api.list_products(p_limit integer default 20, p_after text default null,
                                  p_filters jsonb default '{}')
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    f jsonb := coalesce(p_filters, '{}');
    v_limit integer := coalesce(p_limit, 20);
    v_after_key numeric;
    v_after_id bigint;
    v_unknown text;
    v_sort text := f ->> 'sort';
    v_currency text := upper(f ->> 'currency');
    v_min bigint;
    v_max bigint;
    v_category_ids bigint[];
    v_attrs jsonb;
    v_tsq tsquery;
    v_page jsonb;
begin
    if v_limit not between 1 and 100 then
        raise exception using errcode = 'MA422', constraint = 'invalid_limit',
            message = format('limit must be between 1 and 100, not %s', v_limit),
            hint = 'Omit limit for pages of 20.';
    end if;
    select string_agg(k, ', ' order by k) into v_unknown from jsonb_object_keys(f) k
    where k not in ('category', 'brand', 'tag', 'currency', 'min_price', 'max_price', 'in_stock', 'featured', 'q', 'sort')
      and k !~ '^attr\.[a-z0-9_]{1,64}$';
    if v_unknown is not null then
        raise exception using errcode = 'MA422', constraint = 'unknown_filter',
            message = format('unknown filter(s): %s', v_unknown),
            hint = 'Allowed: category, brand, tag, currency, min_price, max_price, in_stock, featured, q, sort, attr.<name>.';
    end if;
    perform api._require_one_of('sort', v_sort, array['relevance', 'price_asc', 'price_desc', 'newest', 'popular', 'rating']);
    perform api._require_one_of('in_stock', f ->> 'in_stock', array['true', 'false']);
    perform api._require_one_of('featured', f ->> 'featured', array['true', 'false']);
    if (f ? 'min_price' or f ? 'max_price' or v_sort in ('price_asc', 'price_desc')) and v_currency is null then
        raise exception using errcode = 'MA422', constraint = 'currency_required',
            message = 'price filters and price sorts need a currency', hint = 'Add currency=XOF or currency=EUR.';
    end if;
    if v_currency is not null and not exists (select from shop.currency where code = v_currency) then
        raise exception using errcode = 'MA422', constraint = 'invalid_currency',
            message = format('unknown currency %L', v_currency);
    end if;
    begin
        v_min := (f ->> 'min_price')::bigint;
        v_max := (f ->> 'max_price')::bigint;
    exception when others then
        raise exception using errcode = 'MA422', constraint = 'invalid_price',
            message = 'min_price and max_price are whole numbers of minor units (cents; francs for XOF)';
    end;
    if v_sort = 'relevance' and f ->> 'q' is null then
        raise exception using errcode = 'MA422', constraint = 'q_required', message = 'sort=relevance needs q';
    end if;
    if f ? 'q' then
        v_tsq := api._search_tsquery(api._search_text(f ->> 'q'));
    end if;
    if f ? 'category' then
        with recursive tree as (
            select category_id from shop.category where slug = f ->> 'category'
            union all
            select c.category_id from shop.category c join tree t on c.parent_id = t.category_id)
        select array_agg(category_id) into v_category_ids from tree;
        v_category_ids := coalesce(v_category_ids, '{}');
    end if;
    select jsonb_object_agg(substr(key, 6), value) into v_attrs from jsonb_each(f) where key like 'attr.%';
    if p_after is not null then
        if p_after !~ '^-?[0-9]+(\.[0-9]+)?\|[0-9]{1,18}$' then
            raise exception using errcode = 'MA422', constraint = 'invalid_cursor',
                message = 'after is not a cursor returned by this API',
                hint = 'Pass the next_cursor of the previous page, or omit after.';
        end if;
        v_after_key := split_part(p_after, '|', 1)::numeric;
        v_after_id := split_part(p_after, '|', 2)::bigint;
    end if;

    with candidates as (
        select p, pr.price,
               case v_sort
                   when 'newest' then -extract(epoch from p.created_at)
                   when 'price_asc' then pr.price
                   when 'price_desc' then -pr.price
                   when 'popular' then -coalesce(pop.units_sold, 0)
                   -- Best average first (4 decimals), then most reviews; unrated last.
                   when 'rating' then -(coalesce(round(rt.rating_sum::numeric / nullif(rt.review_count, 0), 4), 0) * 100000000000
                                        + least(coalesce(rt.review_count, 0), 9999999))
                   when 'relevance' then -round(ts_rank_cd(p.search_vector, v_tsq, 32)::numeric, 6)
                   else 0
               end as k
        from shop.product p
        left join lateral (
            select min(vp.amount) as price from api._variant_prices(p.product_id, now()) vp
            where vp.currency_code = v_currency) pr on v_currency is not null
        left join shop.popular_products pop on pop.product_id = p.product_id and v_sort = 'popular'
        left join shop.product_rating rt on rt.product_id = p.product_id and v_sort = 'rating'
        where p.is_active
          and (v_category_ids is null or p.category_id = any (v_category_ids))
          and (f ->> 'brand' is null or lower(p.brand) = lower(f ->> 'brand'))
          and (f ->> 'tag' is null or exists (select from shop.product_tag pt join shop.tag t using (tag_id)
                                               where pt.product_id = p.product_id and t.slug = f ->> 'tag'))
          and (f ->> 'featured' is null or p.is_featured = (f ->> 'featured')::boolean)
          and (v_tsq is null or p.search_vector @@ v_tsq)
          and (v_attrs is null or exists (select from shop.product_variant v
                                          where v.product_id = p.product_id and v.is_active and v.attributes @> v_attrs))
          and (f ->> 'in_stock' is null or (f ->> 'in_stock')::boolean = p.in_stock)
    ), filtered as (
        select * from candidates c
        where (v_currency is null or (v_min is null and v_max is null and v_sort not in ('price_asc', 'price_desc'))
               or (c.price is not null and c.price >= coalesce(v_min, c.price) and c.price <= coalesce(v_max, c.price)))
          and (v_after_id is null or (c.k, (c.p).product_id) > (v_after_key, v_after_id))
        order by c.k, (c.p).product_id
        limit v_limit + 1
    ), page as (
        select f2.*, row_number() over (order by f2.k, (f2.p).product_id) as n from filtered f2
    )
    select jsonb_build_object(
        'items', coalesce(jsonb_agg(api._product_summary(page.p) order by page.n) filter (where page.n <= v_limit), '[]'::jsonb),
        'next_cursor', (select pg.k::text || '|' || (pg.p).product_id from page pg
                        where pg.n = v_limit and exists (select from page x where x.n > v_limit)))
    into v_page
    from page;
    return v_page;
end
$$;
comment on function api.list_products(integer, text, jsonb) is
    'A page of active products: {items, next_cursor}. Filters (jsonb): category (with descendants), brand, tag, currency + min_price/max_price (minor units), in_stock, featured, q, attr.<name>; sort: relevance|price_asc|price_desc|newest|popular|rating (best average, then most reviews). Errors: MA422 invalid_limit, invalid_cursor, unknown_filter, invalid_sort, currency_required, invalid_price, q_required.';

-- Summaries of several products by slug, in the order asked.
create function api.lookup_products(p_slugs text[])
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
begin
    if cardinality(p_slugs) > 100 then
        raise exception using errcode = 'MA422', constraint = 'too_many_slugs',
            message = format('at most 100 slugs per lookup, not %s', cardinality(p_slugs));
    end if;
    return (
        select coalesce(jsonb_agg(api._product_summary(p) order by s.ord), '[]'::jsonb)
        from unnest(p_slugs) with ordinality as s(slug, ord)
        join shop.product p on p.slug = s.slug and p.is_active);
end
$$;
comment on function api.lookup_products(text[]) is
    'Summaries of the active products with these slugs (at most 100), in the order given; unknown slugs are left out.';

-- A product page.
create function api.product_by_slug(p_slug text)
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    p shop.product;
    v_redirect jsonb;
begin
    select * into p from shop.product where slug = p_slug and is_active;
    if not found then
        -- An old slug of a product that was renamed: tell the caller where it moved.
        select jsonb_build_object('redirect', cur.slug) into v_redirect
        from shop.product_slug_history h join shop.product cur using (product_id)
        where h.slug = p_slug and cur.is_active;
        if v_redirect is not null then
            return v_redirect;
        end if;
        raise exception using errcode = 'MA404', constraint = 'product_not_found',
            message = format('no product has the slug %L', p_slug);
    end if;
    return api._product_summary(p) - 'image' || jsonb_build_object(
        'sku_root', p.sku_root,
        'description', p.description,
        'long_description', p.long_description,
        'specs', p.specs,
        'rating', api._rating_json(p.product_id, true),
        'created_at', p.created_at,
        'updated_at', p.updated_at,
        'breadcrumbs', coalesce((
            with recursive up as (
                select c.category_id, c.parent_id, c.slug, c.name, 0 as depth
                from shop.category c where c.category_id = p.category_id
                union all
                select c.category_id, c.parent_id, c.slug, c.name, up.depth + 1
                from shop.category c join up on c.category_id = up.parent_id
                where up.depth < 32)
            select jsonb_agg(jsonb_build_object('slug', slug, 'name', name) order by depth desc) from up), '[]'::jsonb),
        'tags', coalesce((
            select jsonb_agg(jsonb_build_object('slug', t.slug, 'name', t.name) order by t.name)
            from shop.product_tag pt join shop.tag t using (tag_id) where pt.product_id = p.product_id), '[]'::jsonb),
        'variants', coalesce((
            select jsonb_agg(jsonb_build_object(
                       'id', v.variant_id, 'sku', v.sku, 'name', v.name, 'attributes', v.attributes,
                       'stock_status', api._stock_status(v.variant_id),
                       'prices', coalesce((
                           -- lowest_price_30d: the EU Omnibus reference price (sql/pricing.sql)
                           select jsonb_agg(api._price_json(vp.currency_code, vp.exponent, vp.amount, vp.compare_at_amount)
                                            || jsonb_build_object('lowest_price_30d',
                                                                  api.lowest_price_30d(v.variant_id, vp.currency_code))
                                            order by vp.currency_code)
                           from api._variant_prices(p.product_id, now()) vp where vp.variant_id = v.variant_id), '[]'::jsonb))
                   order by v.position, v.variant_id)
            from shop.product_variant v where v.product_id = p.product_id and v.is_active), '[]'::jsonb),
        'media', coalesce((
            select jsonb_agg(jsonb_build_object(
                       'asset_id', a.asset_id, 'url', '/api/v1/media/' || a.asset_id, 'alt', pm.alt,
                       'is_primary', pm.is_primary, 'mime_type', a.mime_type, 'width', a.width, 'height', a.height)
                   order by pm.is_primary desc, pm.position)
            from shop.product_media pm join shop.media_asset a using (asset_id)
            where pm.product_id = p.product_id), '[]'::jsonb),
        'related', coalesce((
            select jsonb_agg(api._product_summary(r) order by r.is_featured desc, r.product_id)
            from (select * from shop.product r
                  where r.category_id = p.category_id and r.product_id <> p.product_id and r.is_active
                  order by r.is_featured desc, r.product_id limit 4) r), '[]'::jsonb));
end
$$;
comment on function api.product_by_slug(text) is
    'A product page: summary fields (rating with its histogram) plus variants (prices, stock_status), media, tags, breadcrumbs and up to 4 related products; {"redirect": slug} for a former slug of a renamed product. Errors: MA404 product_not_found.';

-- Refreshes the derived catalog views without blocking readers (scheduled job; also
-- callable from psql). Returns the time it took.
create function api.refresh_catalog_views()
returns interval
language plpgsql security definer
set search_path = '' as $$
declare
    v_started timestamptz := clock_timestamp();
begin
    refresh materialized view concurrently shop.popular_products;
    refresh materialized view concurrently shop.category_counts;
    return clock_timestamp() - v_started;
end
$$;
comment on function api.refresh_catalog_views() is
    'REFRESH MATERIALIZED VIEW CONCURRENTLY shop.popular_products and shop.category_counts; returns the duration.';

-- Descriptions of the private helpers above, for \df+ in psql.
comment on function api._require_one_of(text, text, text[]) is 'Private: MA422 invalid_<what> naming the allowed values when the value is not one of them.';

-- ---------------------------------------------------------------- who may call these
-- Deny by default: maef-api migrate revokes EXECUTE from PUBLIC, so a function is
-- callable only by its owner (maef-worker, DBAs) until it is granted here.
-- Everyone, anonymous callers included (public on purpose):
grant execute on function
    api.list_categories(),
    api.list_products(integer,text,jsonb),
    api.lookup_products(text[]),
    api.product_by_slug(text)
    to maef_anon, maef_customer, maef_staff, maef_admin;
-- Not granted (owner only: the worker, DBAs, other SECURITY DEFINER functions):
--   api.refresh_catalog_views.
