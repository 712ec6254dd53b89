-- Catalog administration: categories, products (with variants, prices, stock, tags and
-- media in one call), variants, prices, stock, tags, media links. Every function needs
-- catalog:write and writes an audit row in the same transaction.
--
-- Errors: MA422 with the JSON path of a bad field (invalid_field, details = path),
-- MA404 *_not_found, 23505 unique keys (409), 23P01 overlapping price windows (409),
-- 23514 category_no_cycle (422).

-- A slug from a title: lower-case, accents removed, runs of other characters turned
-- into single dashes; made unique in p_table by a -2, -3… suffix.
create function api._slugify(p_text text, p_table text)
returns text
language plpgsql stable as $$
declare
    v_base text := trim(both '-' from regexp_replace(shop.f_unaccent(lower(coalesce(p_text, ''))), '[^a-z0-9]+', '-', 'g'));
    v_slug text;
    v_n integer := 1;
    v_taken boolean;
begin
    if v_base = '' then
        v_base := 'item';
    end if;
    v_base := left(v_base, 80);
    v_slug := v_base;
    loop
        execute format('select exists (select from shop.%I where slug = $1)', p_table) into v_taken using v_slug;
        if p_table = 'product' and not v_taken then
            v_taken := exists (select from shop.product_slug_history where slug = v_slug);
        end if;
        exit when not v_taken;
        v_n := v_n + 1;
        v_slug := v_base || '-' || v_n;
    end loop;
    return v_slug;
end
$$;

-- Raises MA422 naming the JSON path of a field with the wrong type or value.
create function api._bad_field(p_path text, p_problem text)
returns void
language plpgsql immutable as $$
begin
    raise exception using errcode = 'MA422', constraint = 'invalid_field',
        message = format('%s: %s', p_path, p_problem), detail = p_path;
end
$$;

-- p_at, refused (MA422 at p_path) unless RFC 3339 can write it back: an instant from
-- 0001-01-01 to 9999-12-31 UTC. PostgreSQL takes 0001-01-01T00:00:00+02:00 (1 BC in UTC)
-- and writes it "0000-12-31T22:00:00+00:00 BC", which no client can parse.
create function api._writable_instant(p_at timestamptz, p_path text)
returns timestamptz
language plpgsql immutable as $$
begin
    if p_at < '0001-01-01 00:00:00+00' or p_at >= '10000-01-01 00:00:00+00' then
        perform api._bad_field(p_path, 'must be an instant from the year 1 to 9999 in UTC');
    end if;
    return p_at;
end
$$;

-- The text at p_key of an object, checked to be a string (or absent / null).
create function api._text_field(p_obj jsonb, p_key text, p_path text, p_required boolean default false)
returns text
language plpgsql immutable as $$
begin
    if p_obj -> p_key is null or jsonb_typeof(p_obj -> p_key) = 'null' then
        if p_required then
            perform api._bad_field(p_path || '.' || p_key, 'is required');
        end if;
        return null;
    end if;
    if jsonb_typeof(p_obj -> p_key) <> 'string' then
        perform api._bad_field(p_path || '.' || p_key, 'must be a string');
    end if;
    return p_obj ->> p_key;
end
$$;

-- A whole number at p_key (or null when absent).
create function api._int_field(p_obj jsonb, p_key text, p_path text, p_required boolean default false)
returns bigint
language plpgsql immutable as $$
begin
    if p_obj -> p_key is null or jsonb_typeof(p_obj -> p_key) = 'null' then
        if p_required then
            perform api._bad_field(p_path || '.' || p_key, 'is required');
        end if;
        return null;
    end if;
    if jsonb_typeof(p_obj -> p_key) <> 'number' or (p_obj ->> p_key) !~ '^-?[0-9]{1,18}$' then
        perform api._bad_field(p_path || '.' || p_key, 'must be a whole number');
    end if;
    return (p_obj ->> p_key)::bigint;
end
$$;

create function api._bool_field(p_obj jsonb, p_key text, p_path text)
returns boolean
language plpgsql immutable as $$
begin
    if p_obj -> p_key is null or jsonb_typeof(p_obj -> p_key) = 'null' then
        return null;
    end if;
    if jsonb_typeof(p_obj -> p_key) <> 'boolean' then
        perform api._bad_field(p_path || '.' || p_key, 'must be true or false');
    end if;
    return (p_obj ->> p_key)::boolean;
end
$$;

create function api._reject_unknown(p_obj jsonb, p_path text, p_allowed text[])
returns void
language plpgsql immutable as $$
declare
    v_key text;
begin
    if jsonb_typeof(p_obj) <> 'object' then
        perform api._bad_field(p_path, 'must be an object');
    end if;
    select k into v_key from jsonb_object_keys(p_obj) k where not (k = any (p_allowed)) limit 1;
    if v_key is not null then
        perform api._bad_field(p_path || '.' || v_key, format('unknown field (allowed: %s)', array_to_string(p_allowed, ', ')));
    end if;
end
$$;

create function api._category_id(p_slug text, p_path text)
returns bigint
language plpgsql stable as $$
declare
    v_id bigint;
begin
    if p_slug is null then
        return null;
    end if;
    select category_id into v_id from shop.category where slug = p_slug;
    if v_id is null then
        perform api._bad_field(p_path, format('no category has the slug %L', p_slug));
    end if;
    return v_id;
end
$$;

-- Adds one price row (product-level when p_variant_id is null).
create function api._add_price(p_product_id bigint, p_variant_id bigint, p_price jsonb, p_path text)
returns bigint
language plpgsql as $$
declare
    v_id bigint;
    v_currency text;
begin
    perform api._reject_unknown(p_price, p_path, array['currency', 'amount', 'compare_at_amount', 'starts_at', 'ends_at']);
    v_currency := upper(api._text_field(p_price, 'currency', p_path, true));
    if not exists (select from shop.currency where code = v_currency) then
        perform api._bad_field(p_path || '.currency', format('unknown currency %L', v_currency));
    end if;
    begin
        insert into shop.price (product_id, variant_id, currency_code, amount, compare_at_amount, starts_at, ends_at)
        values (case when p_variant_id is null then p_product_id end, p_variant_id, v_currency,
                api._int_field(p_price, 'amount', p_path, true), api._int_field(p_price, 'compare_at_amount', p_path),
                api._writable_instant((api._text_field(p_price, 'starts_at', p_path))::timestamptz, p_path || '.starts_at'),
                api._writable_instant((api._text_field(p_price, 'ends_at', p_path))::timestamptz, p_path || '.ends_at'))
        returning price_id into v_id;
    exception when invalid_datetime_format or datetime_field_overflow then
        perform api._bad_field(p_path, 'starts_at and ends_at must be ISO 8601 timestamps');
    end;
    return v_id;
end
$$;

-- Adds one variant with its stock and prices.
create function api._add_variant(p_product_id bigint, p_variant jsonb, p_path text)
returns bigint
language plpgsql as $$
declare
    v_id bigint;
    v_stock jsonb := coalesce(p_variant -> 'stock', '{}');
    v_i integer := 0;
    v_price jsonb;
begin
    perform api._reject_unknown(p_variant, p_path, array['name', 'sku', 'attributes', 'position', 'is_active', 'stock', 'prices']);
    if p_variant ? 'attributes' and jsonb_typeof(p_variant -> 'attributes') <> 'object' then
        perform api._bad_field(p_path || '.attributes', 'must be an object such as {"color": "red", "size": "M"}');
    end if;
    insert into shop.product_variant (product_id, name, sku, attributes, position, is_active)
    values (p_product_id, api._text_field(p_variant, 'name', p_path, true), api._text_field(p_variant, 'sku', p_path, true),
            coalesce(p_variant -> 'attributes', '{}'), coalesce(api._int_field(p_variant, 'position', p_path), 0),
            coalesce(api._bool_field(p_variant, 'is_active', p_path), true))
    returning variant_id into v_id;
    perform api._reject_unknown(v_stock, p_path || '.stock',
                                array['qty_on_hand', 'low_stock_threshold', 'allow_backorder', 'reservation_slots']);
    insert into shop.inventory (variant_id, qty_on_hand, low_stock_threshold, allow_backorder, reservation_slots)
    values (v_id, coalesce(api._int_field(v_stock, 'qty_on_hand', p_path || '.stock'), 0),
            coalesce(api._int_field(v_stock, 'low_stock_threshold', p_path || '.stock'), 5),
            coalesce(api._bool_field(v_stock, 'allow_backorder', p_path || '.stock'), false),
            coalesce(api._bounded_int_field(v_stock, 'reservation_slots', p_path || '.stock', 0, 64), 0));
    if p_variant ? 'prices' and jsonb_typeof(p_variant -> 'prices') <> 'array' then
        perform api._bad_field(p_path || '.prices', 'must be an array');
    end if;
    for v_price in select value from jsonb_array_elements(coalesce(p_variant -> 'prices', '[]')) loop
        perform api._add_price(p_product_id, v_id, v_price, format('%s.prices[%s]', p_path, v_i));
        v_i := v_i + 1;
    end loop;
    return v_id;
end
$$;

-- The admin view of a product: every field, active or not, with variants, stock and
-- prices (all windows).
create function api._product_admin_json(p_product_id bigint)
returns jsonb
language sql stable as $$
    select to_jsonb(p) - 'search_vector' - 'search_title' || jsonb_build_object(
        'category', (select c.slug from shop.category c where c.category_id = p.category_id),
        'tags', coalesce((select jsonb_agg(t.slug order by t.slug) from shop.product_tag pt join shop.tag t using (tag_id)
                          where pt.product_id = p.product_id), '[]'),
        'prices', coalesce((select jsonb_agg(to_jsonb(pr) - 'product_id' - 'variant_id' order by pr.price_id)
                            from shop.price pr where pr.product_id = p.product_id), '[]'),
        'media', coalesce((select jsonb_agg(to_jsonb(pm) - 'product_id' order by pm.position)
                           from shop.product_media pm where pm.product_id = p.product_id), '[]'),
        'variants', coalesce((
            select jsonb_agg(to_jsonb(v) - 'product_id' || jsonb_build_object(
                       -- qty_reserved: what orders hold; units parked in stock slots apart (V34).
                       'stock', (select to_jsonb(i) - 'variant_id' || jsonb_build_object(
                                            'qty_reserved', i.qty_reserved - parked.n, 'qty_in_slots', parked.n)
                                 from shop.inventory i cross join lateral (select shop.stock_parked(i.variant_id) as n) parked
                                 where i.variant_id = v.variant_id),
                       'prices', coalesce((select jsonb_agg(to_jsonb(pr) - 'product_id' - 'variant_id' order by pr.price_id)
                                           from shop.price pr where pr.variant_id = v.variant_id), '[]'))
                   order by v.position, v.variant_id)
            from shop.product_variant v where v.product_id = p.product_id), '[]'))
    from shop.product p where p.product_id = p_product_id
$$;

create function api._set_product_tags(p_product_id bigint, p_tags jsonb, p_path text)
returns void
language plpgsql as $$
declare
    v_tag text;
    v_slug text;
begin
    if jsonb_typeof(p_tags) <> 'array' then
        perform api._bad_field(p_path, 'must be an array of tag names');
    end if;
    delete from shop.product_tag where product_id = p_product_id;
    for v_tag in select value from jsonb_array_elements_text(p_tags) loop
        v_slug := api._tag_slug(v_tag, p_path);  -- sql/catalog_links.sql
        insert into shop.tag (name, slug) values (v_tag, v_slug) on conflict (slug) do nothing;
        insert into shop.product_tag (product_id, tag_id)
        select p_product_id, tag_id from shop.tag where slug = v_slug
        on conflict do nothing;
    end loop;
end
$$;

create function api._set_product_media(p_product_id bigint, p_media jsonb, p_path text)
returns void
language plpgsql as $$
declare
    v_item jsonb;
    v_i integer := 0;
    v_asset uuid;
begin
    if jsonb_typeof(p_media) <> 'array' then
        perform api._bad_field(p_path, 'must be an array of asset ids or {asset_id, is_primary, position, alt}');
    end if;
    delete from shop.product_media where product_id = p_product_id;
    for v_item in select value from jsonb_array_elements(p_media) loop
        if jsonb_typeof(v_item) = 'string' then
            v_item := jsonb_build_object('asset_id', v_item);
        end if;
        perform api._reject_unknown(v_item, format('%s[%s]', p_path, v_i), array['asset_id', 'is_primary', 'position', 'alt']);
        begin
            v_asset := api._text_field(v_item, 'asset_id', format('%s[%s]', p_path, v_i), true)::uuid;
        exception when invalid_text_representation then
            perform api._bad_field(format('%s[%s].asset_id', p_path, v_i), 'must be a media asset id (UUID)');
        end;
        if not exists (select from shop.media_asset where asset_id = v_asset) then
            perform api._bad_field(format('%s[%s].asset_id', p_path, v_i), 'no media asset has this id');
        end if;
        insert into shop.product_media (product_id, asset_id, is_primary, position, alt)
        values (p_product_id, v_asset,
                coalesce(api._bool_field(v_item, 'is_primary', p_path), v_i = 0),
                coalesce(api._int_field(v_item, 'position', p_path), v_i),
                coalesce(api._text_field(v_item, 'alt', p_path), ''));
        v_i := v_i + 1;
    end loop;
end
$$;

-- ---------------------------------------------------------------- products

-- The payload of product.* events (version 1, docs/events.md): the product's own
-- fields and its variants' identities; prices and stock are not in it (a consumer
-- reads them through the API when "changed" names them).
create function api._product_event_payload(p_product_id bigint, p_changed text[] default null)
returns jsonb
language sql stable
set search_path = '' as $$
    select jsonb_build_object(
        'id', p.product_id, 'slug', p.slug, 'sku_root', p.sku_root, 'title', p.title, 'brand', p.brand,
        'category', (select c.slug from shop.category c where c.category_id = p.category_id),
        'is_active', p.is_active, 'is_featured', p.is_featured, 'updated_at', p.updated_at,
        'variants', coalesce((select jsonb_agg(jsonb_build_object('id', v.variant_id, 'sku', v.sku, 'name', v.name,
                                                                  'attributes', v.attributes, 'is_active', v.is_active)
                                               order by v.position, v.variant_id)
                              from shop.product_variant v where v.product_id = p.product_id), '[]'::jsonb))
        || case when p_changed is null then '{}'::jsonb else jsonb_build_object('changed', to_jsonb(p_changed)) end
    from shop.product p where p.product_id = p_product_id
$$;

-- product.updated for one product, naming what changed.
create function api._emit_product_updated(p_product_id bigint, p_changed text[])
returns void
language plpgsql
set search_path = '' as $$
begin
    perform api._emit_event('product.updated', 'product', p_product_id::text,
                            api._product_event_payload(p_product_id, p_changed));
end
$$;

-- Creates a product with its variants (each with stock and prices), product-level
-- prices, tags and media, atomically (the mobile app's one-call flow).
create function api.create_product(p_product jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_id bigint;
    v_title text;
    v_slug text;
    v_i integer := 0;
    v_item jsonb;
begin
    perform api._require_scope('catalog:write');
    perform api._reject_unknown(p_product, '$', array['title', 'slug', 'sku_root', 'description', 'long_description', 'brand',
        'specs', 'category', 'is_active', 'is_featured', 'variants', 'prices', 'tags', 'media']);
    v_title := api._text_field(p_product, 'title', '$', true);
    v_slug := coalesce(api._text_field(p_product, 'slug', '$'), api._slugify(v_title, 'product'));
    if p_product ? 'specs' and jsonb_typeof(p_product -> 'specs') <> 'object' then
        perform api._bad_field('$.specs', 'must be an object');
    end if;
    if jsonb_typeof(coalesce(p_product -> 'variants', '[]')) <> 'array' or jsonb_array_length(coalesce(p_product -> 'variants', '[]')) = 0 then
        perform api._bad_field('$.variants', 'must be a non-empty array (a product is sold through its variants)');
    end if;
    insert into shop.product (category_id, sku_root, title, slug, description, long_description, brand, specs, is_active, is_featured)
    values (api._category_id(api._text_field(p_product, 'category', '$'), '$.category'),
            coalesce(api._text_field(p_product, 'sku_root', '$'), upper(left(v_slug, 64))),
            v_title, v_slug,
            coalesce(api._text_field(p_product, 'description', '$'), ''),
            coalesce(api._text_field(p_product, 'long_description', '$'), ''),
            api._text_field(p_product, 'brand', '$'),
            coalesce(p_product -> 'specs', '{}'),
            coalesce(api._bool_field(p_product, 'is_active', '$'), true),
            coalesce(api._bool_field(p_product, 'is_featured', '$'), false))
    returning product_id into v_id;
    for v_item in select value from jsonb_array_elements(p_product -> 'variants') loop
        perform api._add_variant(v_id, v_item, format('$.variants[%s]', v_i));
        v_i := v_i + 1;
    end loop;
    v_i := 0;
    for v_item in select value from jsonb_array_elements(coalesce(p_product -> 'prices', '[]')) loop
        perform api._add_price(v_id, null, v_item, format('$.prices[%s]', v_i));
        v_i := v_i + 1;
    end loop;
    perform api._set_product_tags(v_id, coalesce(p_product -> 'tags', '[]'), '$.tags');
    perform api._set_product_media(v_id, coalesce(p_product -> 'media', '[]'), '$.media');
    perform api._audit('product_created', 'product', v_id::text, p_product);
    perform api._emit_event('product.created', 'product', v_id::text, api._product_event_payload(v_id));
    return api._product_admin_json(v_id);
end
$$;
comment on function api.create_product(jsonb) is
    'Creates a product with variants (stock, prices), product prices, tags and media in one transaction; slug generated from the title when absent. Needs catalog:write.';

-- Changes a product's own fields; "tags" and "media" replace the lists.
create function api.update_product(p_product_id bigint, p_patch jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_before jsonb;
begin
    perform api._require_scope('catalog:write');
    v_before := api._product_admin_json(p_product_id);
    if v_before is null then
        raise exception using errcode = 'MA404', constraint = 'product_not_found', message = 'no such product';
    end if;
    perform api._reject_unknown(p_patch, '$', array['title', 'slug', 'sku_root', 'description', 'long_description', 'brand',
        'specs', 'category', 'is_active', 'is_featured', 'tags', 'media']);
    if p_patch ? 'specs' and jsonb_typeof(p_patch -> 'specs') <> 'object' then
        perform api._bad_field('$.specs', 'must be an object');
    end if;
    update shop.product p set
        title = coalesce(api._text_field(p_patch, 'title', '$'), p.title),
        slug = coalesce(api._text_field(p_patch, 'slug', '$'), p.slug),
        sku_root = coalesce(api._text_field(p_patch, 'sku_root', '$'), p.sku_root),
        description = coalesce(api._text_field(p_patch, 'description', '$'), p.description),
        long_description = coalesce(api._text_field(p_patch, 'long_description', '$'), p.long_description),
        brand = case when p_patch ? 'brand' then api._text_field(p_patch, 'brand', '$') else p.brand end,
        specs = coalesce(p_patch -> 'specs', p.specs),
        category_id = case when p_patch ? 'category'
                           then api._category_id(api._text_field(p_patch, 'category', '$'), '$.category')
                           else p.category_id end,
        is_active = coalesce(api._bool_field(p_patch, 'is_active', '$'), p.is_active),
        is_featured = coalesce(api._bool_field(p_patch, 'is_featured', '$'), p.is_featured)
    where p.product_id = p_product_id;
    if p_patch ? 'tags' then
        perform api._set_product_tags(p_product_id, p_patch -> 'tags', '$.tags');
    end if;
    if p_patch ? 'media' then
        perform api._set_product_media(p_product_id, p_patch -> 'media', '$.media');
    end if;
    perform api._audit('product_updated', 'product', p_product_id::text, jsonb_build_object('before', v_before, 'patch', p_patch));
    perform api._emit_product_updated(p_product_id, array(select k from jsonb_object_keys(p_patch) k order by k));
    return api._product_admin_json(p_product_id);
end
$$;
comment on function api.update_product(bigint, jsonb) is 'Updates product fields (slug changes keep the old slug as a redirect); tags/media replace the lists. Needs catalog:write.';

create function api.delete_product(p_product_id bigint)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_payload jsonb;
begin
    perform api._require_scope('catalog:write');
    v_payload := api._product_event_payload(p_product_id) - 'variants' - 'updated_at';
    delete from shop.product where product_id = p_product_id;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'product_not_found', message = 'no such product';
    end if;
    perform api._audit('product_deleted', 'product', p_product_id::text);
    perform api._emit_event('product.deleted', 'product', p_product_id::text, v_payload);
    return jsonb_build_object('deleted', p_product_id);
end
$$;
comment on function api.delete_product(bigint) is 'Deletes a product with its variants, prices and links (order lines keep their copies). Needs catalog:write.';

create function api.add_variant(p_product_id bigint, p_variant jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_id bigint;
begin
    perform api._require_scope('catalog:write');
    if not exists (select from shop.product where product_id = p_product_id) then
        raise exception using errcode = 'MA404', constraint = 'product_not_found', message = 'no such product';
    end if;
    v_id := api._add_variant(p_product_id, p_variant, '$');
    perform api._audit('variant_created', 'product_variant', v_id::text, p_variant);
    perform api._emit_product_updated(p_product_id, array['variants']);
    return api._product_admin_json(p_product_id);
end
$$;
comment on function api.add_variant(bigint, jsonb) is 'Adds a variant (with stock and prices) to a product. Needs catalog:write.';

create function api.update_variant(p_variant_id bigint, p_patch jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_product_id bigint;
begin
    perform api._require_scope('catalog:write');
    perform api._reject_unknown(p_patch, '$', array['name', 'sku', 'attributes', 'position', 'is_active', 'stock']);
    if p_patch ? 'attributes' and jsonb_typeof(p_patch -> 'attributes') <> 'object' then
        perform api._bad_field('$.attributes', 'must be an object');
    end if;
    update shop.product_variant v set
        name = coalesce(api._text_field(p_patch, 'name', '$'), v.name),
        sku = coalesce(api._text_field(p_patch, 'sku', '$'), v.sku),
        attributes = coalesce(p_patch -> 'attributes', v.attributes),
        position = coalesce(api._int_field(p_patch, 'position', '$'), v.position),
        is_active = coalesce(api._bool_field(p_patch, 'is_active', '$'), v.is_active)
    where v.variant_id = p_variant_id
    returning v.product_id into v_product_id;
    if v_product_id is null then
        raise exception using errcode = 'MA404', constraint = 'variant_not_found', message = 'no such variant';
    end if;
    if p_patch ? 'stock' then
        perform api._reject_unknown(p_patch -> 'stock', '$.stock',
                                    array['qty_on_hand', 'low_stock_threshold', 'allow_backorder', 'reservation_slots']);
        -- A new on-hand total is a stock adjustment for the difference, with its ledger
        -- row (sql/inventory.sql); the policy fields are plain updates.
        -- Absent or null: unchanged (as for the policy fields below).
        if coalesce(jsonb_typeof(p_patch -> 'stock' -> 'qty_on_hand'), 'null') <> 'null' then
            perform api._set_variant_on_hand(p_variant_id,
                api._bounded_int_field(p_patch -> 'stock', 'qty_on_hand', '$.stock', 0, 100000000, true)::integer,
                'set through PATCH /api/v1/admin/variants/' || p_variant_id);
        end if;
        update shop.inventory i set
            low_stock_threshold = coalesce(api._int_field(p_patch -> 'stock', 'low_stock_threshold', '$.stock'), i.low_stock_threshold),
            allow_backorder = coalesce(api._bool_field(p_patch -> 'stock', 'allow_backorder', '$.stock'), i.allow_backorder),
            -- A hot variant's stock slots (docs/checkout.md#stock-slots); a change takes
            -- the parked units back (V34's trigger), the next reservation parks them again.
            reservation_slots = coalesce(api._bounded_int_field(p_patch -> 'stock', 'reservation_slots', '$.stock', 0, 64),
                                         i.reservation_slots)
        where i.variant_id = p_variant_id;
    end if;
    perform api._audit('variant_updated', 'product_variant', p_variant_id::text, p_patch);
    perform api._emit_product_updated(v_product_id,
        case when p_patch ? 'stock' then array['stock', 'variants'] else array['variants'] end);
    return api._product_admin_json(v_product_id);
end
$$;
comment on function api.update_variant(bigint, jsonb) is 'Updates a variant and/or its stock ({"stock": {"qty_on_hand": 12, "low_stock_threshold": 3, "allow_backorder": false, "reservation_slots": 32}}; a new qty_on_hand is an adjustment movement for the difference). Needs catalog:write. Errors: MA422 stock_below_reserved.';

create function api.delete_variant(p_variant_id bigint)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_product_id bigint;
begin
    perform api._require_scope('catalog:write');
    delete from shop.product_variant where variant_id = p_variant_id returning product_id into v_product_id;
    if v_product_id is null then
        raise exception using errcode = 'MA404', constraint = 'variant_not_found', message = 'no such variant';
    end if;
    perform api._audit('variant_deleted', 'product_variant', p_variant_id::text);
    perform api._emit_product_updated(v_product_id, array['variants']);
    return api._product_admin_json(v_product_id);
end
$$;
comment on function api.delete_variant(bigint) is 'Deletes a variant. Needs catalog:write.';

-- Adds a price to a product (product_id) or a variant (variant_id).
create function api.add_price(p_price jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_product_id bigint := api._int_field(p_price, 'product_id', '$');
    v_variant_id bigint := api._int_field(p_price, 'variant_id', '$');
    v_id bigint;
begin
    perform api._require_scope('catalog:write');
    if (v_product_id is null) = (v_variant_id is null) then
        perform api._bad_field('$', 'give exactly one of product_id and variant_id');
    end if;
    if v_variant_id is not null then
        select product_id into v_product_id from shop.product_variant where variant_id = v_variant_id;
    end if;
    if not exists (select from shop.product where product_id = v_product_id) then
        raise exception using errcode = 'MA404', constraint = 'product_not_found', message = 'no such product or variant';
    end if;
    v_id := api._add_price(v_product_id, v_variant_id, p_price - 'product_id' - 'variant_id', '$');
    perform api._audit('price_created', 'price', v_id::text, p_price);
    perform api._emit_product_updated(v_product_id, array['prices']);
    return api._product_admin_json(v_product_id);
end
$$;
comment on function api.add_price(jsonb) is 'Adds a price window {product_id | variant_id, currency, amount, compare_at_amount?, starts_at?, ends_at?}; overlapping windows are refused (409). Needs catalog:write.';

-- Changes a price window: amount, compare_at_amount, starts_at, ends_at (null clears a
-- bound or the compare-at price). Its target and currency stay: delete and add instead.
create function api.update_price(p_price_id bigint, p_patch jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_product_id bigint;
begin
    perform api._require_scope('catalog:write');
    perform api._reject_unknown(p_patch, '$', array['amount', 'compare_at_amount', 'starts_at', 'ends_at']);
    begin
        update shop.price pr set
            amount = coalesce(api._int_field(p_patch, 'amount', '$'), pr.amount),
            compare_at_amount = case when p_patch ? 'compare_at_amount'
                                     then api._int_field(p_patch, 'compare_at_amount', '$') else pr.compare_at_amount end,
            starts_at = case when p_patch ? 'starts_at'
                             then api._writable_instant((api._text_field(p_patch, 'starts_at', '$'))::timestamptz, '$.starts_at')
                             else pr.starts_at end,
            ends_at = case when p_patch ? 'ends_at'
                           then api._writable_instant((api._text_field(p_patch, 'ends_at', '$'))::timestamptz, '$.ends_at')
                           else pr.ends_at end
        where pr.price_id = p_price_id
        returning coalesce(pr.product_id, (select v.product_id from shop.product_variant v where v.variant_id = pr.variant_id))
        into v_product_id;
    exception when invalid_datetime_format or datetime_field_overflow then
        perform api._bad_field('$', 'starts_at and ends_at must be ISO 8601 timestamps');
    end;
    if v_product_id is null then
        raise exception using errcode = 'MA404', constraint = 'price_not_found', message = 'no such price';
    end if;
    perform api._audit('price_updated', 'price', p_price_id::text, p_patch);
    perform api._emit_product_updated(v_product_id, array['prices']);
    return api._product_admin_json(v_product_id);
end
$$;
comment on function api.update_price(bigint, jsonb) is 'Changes a price window {amount?, compare_at_amount?, starts_at?, ends_at?} (null clears); overlapping windows are refused (409). Errors: MA404 price_not_found, MA422 invalid_field. Needs catalog:write.';

create function api.delete_price(p_price_id bigint)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_product_id bigint;
begin
    perform api._require_scope('catalog:write');
    delete from shop.price pr where pr.price_id = p_price_id
    returning coalesce(pr.product_id, (select v.product_id from shop.product_variant v where v.variant_id = pr.variant_id))
    into v_product_id;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'price_not_found', message = 'no such price';
    end if;
    perform api._audit('price_deleted', 'price', p_price_id::text);
    perform api._emit_product_updated(v_product_id, array['prices']);
    return api._product_admin_json(v_product_id);
end
$$;
comment on function api.delete_price(bigint) is 'Deletes a price window. Needs catalog:write.';

-- ---------------------------------------------------------------- categories

create function api.create_category(p_category jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_id bigint;
    v_name text;
begin
    perform api._require_scope('catalog:write');
    perform api._reject_unknown(p_category, '$', array['name', 'slug', 'parent', 'position', 'description']);
    v_name := api._text_field(p_category, 'name', '$', true);
    insert into shop.category (name, slug, parent_id, position, description)
    values (v_name, coalesce(api._text_field(p_category, 'slug', '$'), api._slugify(v_name, 'category')),
            api._category_id(api._text_field(p_category, 'parent', '$'), '$.parent'),
            coalesce(api._int_field(p_category, 'position', '$'), 0),
            coalesce(api._text_field(p_category, 'description', '$'), ''))
    returning category_id into v_id;
    perform api._audit('category_created', 'category', v_id::text, p_category);
    return (select to_jsonb(c) from shop.category c where c.category_id = v_id);
end
$$;
comment on function api.create_category(jsonb) is 'Creates a category {name, slug?, parent (slug)?, position?, description?}. Needs catalog:write.';

-- Updates a category; {"parent": "slug"} moves it with its subtree ({"parent": null}
-- makes it top-level); a move under its own descendant is refused (422).
create function api.update_category(p_category_id bigint, p_patch jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
begin
    perform api._require_scope('catalog:write');
    perform api._reject_unknown(p_patch, '$', array['name', 'slug', 'parent', 'position', 'description']);
    update shop.category c set
        name = coalesce(api._text_field(p_patch, 'name', '$'), c.name),
        slug = coalesce(api._text_field(p_patch, 'slug', '$'), c.slug),
        parent_id = case when p_patch ? 'parent'
                         then api._category_id(api._text_field(p_patch, 'parent', '$'), '$.parent')
                         else c.parent_id end,
        position = coalesce(api._int_field(p_patch, 'position', '$'), c.position),
        description = coalesce(api._text_field(p_patch, 'description', '$'), c.description)
    where c.category_id = p_category_id;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'category_not_found', message = 'no such category';
    end if;
    perform api._audit('category_updated', 'category', p_category_id::text, p_patch);
    return (select to_jsonb(c) from shop.category c where c.category_id = p_category_id);
end
$$;
comment on function api.update_category(bigint, jsonb) is 'Updates or moves a category (with its subtree); cycles refused with 23514 category_no_cycle. Needs catalog:write.';

create function api.delete_category(p_category_id bigint)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
begin
    perform api._require_scope('catalog:write');
    delete from shop.category where category_id = p_category_id;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'category_not_found', message = 'no such category';
    end if;
    perform api._audit('category_deleted', 'category', p_category_id::text);
    return jsonb_build_object('deleted', p_category_id);
end
$$;
comment on function api.delete_category(bigint) is 'Deletes an empty category (one with children is refused: 409 category_parent_id_fkey); its products lose their category. Needs catalog:write.';

-- Descriptions of the private helpers above, for \df+ in psql.
comment on function api._slugify(text, text) is 'Private: a unique slug from a title (lower-case, unaccented, dashes, -2/-3 suffix) for table product or category.';
comment on function api._bad_field(text, text) is 'Private: raises MA422 invalid_field with the JSON path in DETAIL.';
comment on function api._writable_instant(timestamptz, text) is 'Private: the instant, or MA422 invalid_field at its path when RFC 3339 cannot write it back (outside the years 1 to 9999 UTC).';
comment on function api._text_field(jsonb, text, text, boolean) is 'Private: a string field of a JSON object, or MA422 naming its path.';
comment on function api._int_field(jsonb, text, text, boolean) is 'Private: a whole-number field of a JSON object, or MA422 naming its path.';
comment on function api._bool_field(jsonb, text, text) is 'Private: a boolean field of a JSON object, or MA422 naming its path.';
comment on function api._reject_unknown(jsonb, text, text[]) is 'Private: MA422 naming the path of the first field not in the allowed list.';
comment on function api._category_id(text, text) is 'Private: the id of a category slug, or MA422 naming the path.';
comment on function api._add_price(bigint, bigint, jsonb, text) is 'Private: inserts one validated price window for a product or a variant.';
comment on function api._add_variant(bigint, jsonb, text) is 'Private: inserts one validated variant with its stock and prices.';
comment on function api._product_admin_json(bigint) is 'Private: every field of a product (active or not) with variants, stock, prices, tags and media.';
comment on function api._set_product_tags(bigint, jsonb, text) is 'Private: replaces a product''s tags, creating missing tags by name.';
comment on function api._product_event_payload(bigint, text[]) is 'Private: the payload of product.* events (v1): own fields, variants'' identities, and "changed" when given.';
comment on function api._emit_product_updated(bigint, text[]) is 'Private: emits product.updated naming what changed (fields, variants, prices, stock).';
comment on function api._set_product_media(bigint, jsonb, text) is 'Private: replaces a product''s media links (asset ids or {asset_id, is_primary, position, alt}).';

-- ---------------------------------------------------------------- who may call these
-- Deny by default: maef-api migrate revokes EXECUTE from PUBLIC, so a function is
-- callable only by its owner (maef-worker, DBAs) until it is granted here.
-- Managers and admins (each function checks its permission):
grant execute on function
    api.create_product(jsonb),
    api.update_product(bigint,jsonb),
    api.delete_product(bigint),
    api.add_variant(bigint,jsonb),
    api.update_variant(bigint,jsonb),
    api.delete_variant(bigint),
    api.add_price(jsonb),
    api.update_price(bigint,jsonb),
    api.delete_price(bigint),
    api.create_category(jsonb),
    api.update_category(bigint,jsonb),
    api.delete_category(bigint)
    to maef_staff, maef_admin;
