-- Catalog administration of what products link to: tags on their own (create, rename,
-- delete) and one product media link at a time (primary, position, alt). Products can
-- also replace both lists at once (sql/catalog_admin.sql, "tags" and "media").
-- Every function needs catalog:write and is audited.

-- ---------------------------------------------------------------- tags

-- A tag as the admin API shows it, with the number of products carrying it.
create function api._tag_json(p_tag_id bigint)
returns jsonb
language sql stable as $$
    select jsonb_build_object('id', t.tag_id, 'name', t.name, 'slug', t.slug,
                              'product_count', (select count(*) from shop.product_tag pt where pt.tag_id = t.tag_id))
    from shop.tag t where t.tag_id = p_tag_id
$$;

-- A tag slug from a name, as api._set_product_tags makes them ("Été" → "ete").
create function api._tag_slug(p_name text, p_path text)
returns text
language plpgsql immutable as $$
declare
    v_slug text := trim(both '-' from regexp_replace(shop.f_unaccent(lower(p_name)), '[^a-z0-9]+', '-', 'g'));
begin
    if v_slug = '' then
        perform api._bad_field(p_path, format('tag %L has no letters or digits', p_name));
    end if;
    return v_slug;
end
$$;

create function api.create_tag(p_tag jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_name text;
    v_id bigint;
begin
    perform api._require_scope('catalog:write');
    perform api._reject_unknown(p_tag, '$', array['name', 'slug']);
    v_name := api._text_field(p_tag, 'name', '$', true);
    insert into shop.tag (name, slug)
    values (v_name, coalesce(api._text_field(p_tag, 'slug', '$'), api._tag_slug(v_name, '$.name')))
    returning tag_id into v_id;
    perform api._audit('tag_created', 'tag', v_id::text, p_tag);
    return api._tag_json(v_id);
end
$$;
comment on function api.create_tag(jsonb) is
    'Creates a tag {name, slug?} (slug from the name when absent). Errors: 409 tag_slug_key, MA422 invalid_field. Needs catalog:write.';

-- Renaming a tag re-indexes its products (trigger tag_search_refresh, migrations/V5).
create function api.update_tag(p_tag_id bigint, p_patch jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
begin
    perform api._require_scope('catalog:write');
    perform api._reject_unknown(p_patch, '$', array['name', 'slug']);
    update shop.tag t set
        name = coalesce(api._text_field(p_patch, 'name', '$'), t.name),
        slug = coalesce(api._text_field(p_patch, 'slug', '$'), t.slug)
    where t.tag_id = p_tag_id;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'tag_not_found', message = 'no such tag';
    end if;
    perform api._audit('tag_updated', 'tag', p_tag_id::text, p_patch);
    return api._tag_json(p_tag_id);
end
$$;
comment on function api.update_tag(bigint, jsonb) is
    'Renames a tag {name?, slug?}; its products'' search vectors follow. Errors: MA404 tag_not_found, 409 tag_slug_key, MA422 invalid_field. Needs catalog:write.';

-- Deleting a tag unlinks it from its products (and their search vectors drop it).
create function api.delete_tag(p_tag_id bigint)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
begin
    perform api._require_scope('catalog:write');
    delete from shop.tag where tag_id = p_tag_id;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'tag_not_found', message = 'no such tag';
    end if;
    perform api._audit('tag_deleted', 'tag', p_tag_id::text);
    return jsonb_build_object('deleted', p_tag_id);
end
$$;
comment on function api.delete_tag(bigint) is
    'Deletes a tag and its links to products. Errors: MA404 tag_not_found. Needs catalog:write.';

-- ---------------------------------------------------------------- product media links

-- Links a media asset to a product, or changes the link: {is_primary?, position?, alt?}.
-- A new primary demotes the previous one (one primary per product). A new link goes
-- last unless a position is given, and is primary when it is the product's first.
create function api.set_product_media(p_product_id bigint, p_asset_id uuid, p_link jsonb default '{}')
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_link jsonb := coalesce(p_link, '{}');
    v_primary boolean;
begin
    perform api._require_scope('catalog:write');
    perform api._reject_unknown(v_link, '$', array['is_primary', 'position', 'alt']);
    v_primary := api._bool_field(v_link, 'is_primary', '$');
    if not exists (select from shop.product where product_id = p_product_id for no key update) then
        raise exception using errcode = 'MA404', constraint = 'product_not_found', message = 'no such product';
    end if;
    if not exists (select from shop.media_asset where asset_id = p_asset_id) then
        raise exception using errcode = 'MA404', constraint = 'media_asset_not_found', message = 'no such media asset';
    end if;
    if v_primary then
        update shop.product_media set is_primary = false
        where product_id = p_product_id and asset_id <> p_asset_id and is_primary;
    end if;
    insert into shop.product_media as pm (product_id, asset_id, is_primary, position, alt)
    values (p_product_id, p_asset_id,
            coalesce(v_primary, not exists (select from shop.product_media where product_id = p_product_id and is_primary)),
            coalesce(api._int_field(v_link, 'position', '$'),
                     (select coalesce(max(position) + 1, 0) from shop.product_media where product_id = p_product_id)),
            coalesce(api._text_field(v_link, 'alt', '$'), ''))
    on conflict (product_id, asset_id) do update set
        is_primary = coalesce(v_primary, pm.is_primary),
        position = coalesce(api._int_field(v_link, 'position', '$'), pm.position),
        alt = coalesce(api._text_field(v_link, 'alt', '$'), pm.alt);
    perform api._audit('product_media_set', 'product', p_product_id::text,
                       v_link || jsonb_build_object('asset_id', p_asset_id));
    return api._product_admin_json(p_product_id);
end
$$;
comment on function api.set_product_media(bigint, uuid, jsonb) is
    'Links a media asset to a product or updates the link {is_primary?, position?, alt?}; a new primary demotes the old one. Errors: MA404 product_not_found, media_asset_not_found, MA422 invalid_field. Needs catalog:write.';

create function api.delete_product_media(p_product_id bigint, p_asset_id uuid)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
begin
    perform api._require_scope('catalog:write');
    delete from shop.product_media where product_id = p_product_id and asset_id = p_asset_id;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'product_media_not_found',
            message = 'this asset is not linked to this product';
    end if;
    perform api._audit('product_media_deleted', 'product', p_product_id::text, jsonb_build_object('asset_id', p_asset_id));
    return api._product_admin_json(p_product_id);
end
$$;
comment on function api.delete_product_media(bigint, uuid) is
    'Unlinks a media asset from a product (the asset stays). Errors: MA404 product_media_not_found. Needs catalog:write.';

-- Descriptions of the private helpers above, for \df+ in psql.
comment on function api._tag_json(bigint) is 'Private: a tag {id, name, slug, product_count}.';
comment on function api._tag_slug(text, text) is 'Private: the slug of a tag name (unaccented, dashes), or MA422 naming the path.';

-- ---------------------------------------------------------------- who may call these
-- Deny by default: maef-api migrate revokes EXECUTE from PUBLIC, so a function is
-- callable only by its owner (maef-worker, DBAs) until it is granted here.
-- Managers and admins (each function checks its permission):
grant execute on function
    api.create_tag(jsonb),
    api.update_tag(bigint,jsonb),
    api.delete_tag(bigint),
    api.set_product_media(bigint,uuid,jsonb),
    api.delete_product_media(bigint,uuid)
    to maef_staff, maef_admin;
