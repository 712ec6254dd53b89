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
    select i.qty_on_hand - i.qty_reserved, i.low_stock_threshold into v_available, v_threshold
    from shop.inventory i where i.variant_id = p_variant_id;
    return case
        when coalesce(v_available, 0) <= 0 then 'out_of_stock'
        when v_available <= v_threshold then 'low_stock'
        else 'in_stock'
    end;
end
$$;
comment on function api._stock_status(bigint) is
    'Private: in_stock, low_stock or out_of_stock for a variant (available = on hand - reserved).';

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
        'in_stock', exists (
            select from shop.product_variant v join shop.inventory i using (variant_id)
            where v.product_id = p.product_id and v.is_active and i.qty_on_hand > i.qty_reserved),
        'image', (select jsonb_build_object('asset_id', pm.asset_id, 'url', '/api/v1/media/' || pm.asset_id, 'alt', pm.alt)
                  from shop.product_media pm where pm.product_id = p.product_id
                  order by pm.is_primary desc, pm.position limit 1));
end
$$;
comment on function api._product_summary(shop.product) is
    'Private: the list form of a product (prices "from", stock flag, primary image).';

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

-- One page of active products in product_id order (keyset pagination).
create function api.list_products(p_limit integer default 20, p_after text default null)
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    v_limit integer := coalesce(p_limit, 20);
    v_after bigint := 0;
    v_page jsonb;
begin
    if v_limit not between 1 and 100 then
        raise exception using errcode = 'MA422', constraint = 'invalid_limit',
            message = format('limit must be between 1 and 100, not %s', v_limit),
            hint = 'Omit limit for pages of 20.';
    end if;
    if p_after is not null then
        if p_after !~ '^[0-9]{1,18}$' then
            raise exception using errcode = 'MA422', constraint = 'invalid_cursor',
                message = 'after is not a cursor returned by this API',
                hint = 'Pass the next_cursor of the previous page, or omit after.';
        end if;
        v_after := p_after::bigint;
    end if;

    select jsonb_build_object(
        'items', coalesce(jsonb_agg(api._product_summary(page.p) order by (page.p).product_id)
                          filter (where page.n <= v_limit), '[]'::jsonb),
        'next_cursor', case when count(*) > v_limit
                            then (max((page.p).product_id) filter (where page.n <= v_limit))::text end)
    into v_page
    from (select p, row_number() over (order by p.product_id) as n
          from shop.product p
          where p.is_active and p.product_id > v_after
          order by p.product_id
          limit v_limit + 1) page;
    return v_page;
end
$$;
comment on function api.list_products(integer, text) is
    'A page of active products: {items: [summary...], next_cursor}. limit 1..100 (default 20); after = previous next_cursor. Errors: MA422 invalid_limit, invalid_cursor.';

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
begin
    select * into p from shop.product where slug = p_slug and is_active;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'product_not_found',
            message = format('no product has the slug %L', p_slug);
    end if;
    return api._product_summary(p) - 'image' || jsonb_build_object(
        'sku_root', p.sku_root,
        'description', p.description,
        'long_description', p.long_description,
        'specs', p.specs,
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
    'A product page: summary fields plus variants (prices, stock_status), media, tags, breadcrumbs and up to 4 related products. Errors: MA404 product_not_found.';
