-- Volume tiers, customer groups and their price lists (pricing:write, audited in the
-- same transaction). A price list is the set of shop.price_tier rows naming a customer
-- group; a line pays the lowest tier it qualifies for when below the base price (see
-- api._unit_price and api._quote_input). Field helpers (api._currency_field, …) and the
-- validation conventions are those of pricing_settings.sql: MA422 invalid_field (detail
-- = the JSON path), MA404 *_not_found, 23505 price_tier_key / customer_group_code_key.

-- ---------------------------------------------------------------- customer groups

create function api._customer_group_apply(p shop.customer_group, p_fields jsonb)
returns shop.customer_group
language plpgsql immutable as $$
declare
    v shop.customer_group := p;
begin
    perform api._reject_unknown(p_fields, '$', array['code', 'name']);
    if p_fields ? 'code' then
        v.code := api._text_field(p_fields, 'code', '$', true);
        if v.code !~ '^[a-z0-9]+(-[a-z0-9]+)*$' or length(v.code) > 64 then
            perform api._bad_field('$.code', 'must be lower-case letters, digits and dashes (up to 64), such as vip or trade-eu');
        end if;
    end if;
    if p_fields ? 'name' then
        v.name := btrim(api._text_field(p_fields, 'name', '$', true));
        if length(v.name) not between 1 and 200 then
            perform api._bad_field('$.name', 'must have 1 to 200 characters');
        end if;
    end if;
    return v;
end
$$;

create function api._customer_group_json(p shop.customer_group)
returns jsonb
language sql stable as $$
    select to_jsonb(p) || jsonb_build_object('member_count',
        (select count(*) from shop.customer_group_member m where m.customer_group_id = p.customer_group_id))
$$;

create function api.admin_list_customer_groups()
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
begin
    perform api._require_scope('pricing:write');
    return coalesce((select jsonb_agg(api._customer_group_json(g) order by g.code) from shop.customer_group g), '[]');
end
$$;
comment on function api.admin_list_customer_groups() is 'Every customer group with its member count. Needs pricing:write.';

-- Creates a customer group: {"code", "name"}; promotions name groups by code.
create function api.admin_create_customer_group(p_group jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v shop.customer_group;
begin
    perform api._require_scope('pricing:write');
    perform api._require_fields(p_group, array['code', 'name']);
    v := api._customer_group_apply(v, p_group);
    insert into shop.customer_group (code, name) values (v.code, v.name) returning * into v;
    perform api._audit('customer_group.create', 'customer_group', v.customer_group_id::text, to_jsonb(v));
    return api._customer_group_json(v);
end
$$;
comment on function api.admin_create_customer_group(jsonb) is
    'Creates a customer group (code, name). Needs pricing:write. Errors: MA422 invalid_field, 23505 customer_group_code_key.';

create function api.admin_update_customer_group(p_customer_group_id bigint, p_patch jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v shop.customer_group;
    v_before jsonb;
begin
    perform api._require_scope('pricing:write');
    select * into v from shop.customer_group where customer_group_id = p_customer_group_id for update;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'customer_group_not_found', message = 'no such customer group';
    end if;
    v_before := to_jsonb(v);
    v := api._customer_group_apply(v, p_patch);
    update shop.customer_group g set code = v.code, name = v.name
    where g.customer_group_id = p_customer_group_id returning * into v;
    perform api._audit('customer_group.update', 'customer_group', p_customer_group_id::text,
                       jsonb_build_object('before', v_before, 'patch', p_patch));
    return api._customer_group_json(v);
end
$$;
comment on function api.admin_update_customer_group(bigint, jsonb) is
    'Renames a customer group or changes its code (promotions naming the old code stop matching). Needs pricing:write. Errors: MA404 customer_group_not_found, MA422 invalid_field, 23505 customer_group_code_key.';

create function api.admin_delete_customer_group(p_customer_group_id bigint)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v shop.customer_group;
begin
    perform api._require_scope('pricing:write');
    delete from shop.customer_group where customer_group_id = p_customer_group_id returning * into v;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'customer_group_not_found', message = 'no such customer group';
    end if;
    perform api._audit('customer_group.delete', 'customer_group', p_customer_group_id::text, to_jsonb(v));
    return jsonb_build_object('deleted', p_customer_group_id);
end
$$;
comment on function api.admin_delete_customer_group(bigint) is
    'Deletes a customer group, its memberships and its price list. Needs pricing:write. Errors: MA404 customer_group_not_found.';

-- Adds a user to a group (idempotent).
create function api.admin_add_customer_group_member(p_customer_group_id bigint, p_user_id uuid)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v shop.customer_group;
begin
    perform api._require_scope('pricing:write');
    select * into v from shop.customer_group where customer_group_id = p_customer_group_id;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'customer_group_not_found', message = 'no such customer group';
    end if;
    if not exists (select from shop.app_user where user_id = p_user_id) then
        raise exception using errcode = 'MA404', constraint = 'user_not_found', message = 'no such user';
    end if;
    insert into shop.customer_group_member (customer_group_id, user_id) values (p_customer_group_id, p_user_id)
    on conflict do nothing;
    if found then
        perform api._audit('customer_group.add_member', 'customer_group', p_customer_group_id::text,
                           jsonb_build_object('user_id', p_user_id));
    end if;
    return api._customer_group_json(v);
end
$$;
comment on function api.admin_add_customer_group_member(bigint, uuid) is
    'Adds a user to a customer group (idempotent). Needs pricing:write. Errors: MA404 customer_group_not_found / user_not_found.';

create function api.admin_remove_customer_group_member(p_customer_group_id bigint, p_user_id uuid)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v shop.customer_group;
begin
    perform api._require_scope('pricing:write');
    select * into v from shop.customer_group where customer_group_id = p_customer_group_id;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'customer_group_not_found', message = 'no such customer group';
    end if;
    delete from shop.customer_group_member where customer_group_id = p_customer_group_id and user_id = p_user_id;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'customer_group_member_not_found',
            message = 'this user is not in the group';
    end if;
    perform api._audit('customer_group.remove_member', 'customer_group', p_customer_group_id::text,
                       jsonb_build_object('user_id', p_user_id));
    return api._customer_group_json(v);
end
$$;
comment on function api.admin_remove_customer_group_member(bigint, uuid) is
    'Removes a user from a customer group. Needs pricing:write. Errors: MA404 customer_group_not_found / customer_group_member_not_found.';

-- ---------------------------------------------------------------- volume tiers and price lists

-- Fields: {"currency", "amount", "min_quantity"? (1..999, default 1), "customer_group"?
-- (a group code; null = every customer)}. A tier is a price list row: a line pays the
-- lowest tier it qualifies for when below the base price (see api._unit_price).
create function api._price_tier_apply(p shop.price_tier, p_fields jsonb)
returns shop.price_tier
language plpgsql stable as $$
declare
    v shop.price_tier := p;
    v_group text;
begin
    perform api._reject_unknown(p_fields, '$', array['currency', 'amount', 'min_quantity', 'customer_group']);
    if p_fields ? 'currency' then
        v.currency_code := api._currency_field(p_fields, 'currency', '$', true);
    end if;
    if p_fields ? 'amount' then
        v.amount := api._bounded_int_field(p_fields, 'amount', '$', 0, 999999999999, true);
    end if;
    if p_fields ? 'min_quantity' then
        v.min_quantity := coalesce(api._bounded_int_field(p_fields, 'min_quantity', '$', 1, 999), 1);
    end if;
    if p_fields ? 'customer_group' then
        v_group := api._text_field(p_fields, 'customer_group', '$');
        v.customer_group_id := null;
        if v_group is not null then
            select g.customer_group_id into v.customer_group_id from shop.customer_group g where g.code = v_group;
            if v.customer_group_id is null then
                perform api._bad_field('$.customer_group', format('no customer group has the code %L', v_group));
            end if;
        end if;
    end if;
    return v;
end
$$;

create function api._price_tier_json(p shop.price_tier)
returns jsonb
language sql stable as $$
    select to_jsonb(p) || jsonb_build_object('customer_group',
        (select g.code from shop.customer_group g where g.customer_group_id = p.customer_group_id))
$$;

create function api.admin_list_price_tiers(p_variant_id bigint)
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
begin
    perform api._require_scope('pricing:write');
    if not exists (select from shop.product_variant where variant_id = p_variant_id) then
        raise exception using errcode = 'MA404', constraint = 'variant_not_found', message = 'no such variant';
    end if;
    return coalesce((select jsonb_agg(api._price_tier_json(t)
                                      order by t.currency_code, t.customer_group_id nulls first, t.min_quantity)
                     from shop.price_tier t where t.variant_id = p_variant_id), '[]');
end
$$;
comment on function api.admin_list_price_tiers(bigint) is
    'The volume tiers and customer-group prices of a variant. Needs pricing:write. Errors: MA404 variant_not_found.';

create function api.admin_create_price_tier(p_variant_id bigint, p_tier jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v shop.price_tier;
begin
    perform api._require_scope('pricing:write');
    if not exists (select from shop.product_variant where variant_id = p_variant_id) then
        raise exception using errcode = 'MA404', constraint = 'variant_not_found', message = 'no such variant';
    end if;
    perform api._require_fields(p_tier, array['currency', 'amount']);
    v.min_quantity := 1;
    v := api._price_tier_apply(v, p_tier);
    insert into shop.price_tier (variant_id, currency_code, min_quantity, amount, customer_group_id)
    values (p_variant_id, v.currency_code, v.min_quantity, v.amount, v.customer_group_id)
    returning * into v;
    perform api._audit('price_tier.create', 'price_tier', v.price_tier_id::text, to_jsonb(v));
    return api._price_tier_json(v);
end
$$;
comment on function api.admin_create_price_tier(bigint, jsonb) is
    'Adds a volume tier or customer-group price to a variant. Needs pricing:write. Errors: MA404 variant_not_found, MA422 invalid_field, 23505 price_tier_key.';

create function api.admin_update_price_tier(p_price_tier_id bigint, p_patch jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v shop.price_tier;
    v_before jsonb;
begin
    perform api._require_scope('pricing:write');
    select * into v from shop.price_tier where price_tier_id = p_price_tier_id for update;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'price_tier_not_found', message = 'no such price tier';
    end if;
    v_before := to_jsonb(v);
    v := api._price_tier_apply(v, p_patch);
    update shop.price_tier t set currency_code = v.currency_code, min_quantity = v.min_quantity, amount = v.amount,
        customer_group_id = v.customer_group_id
    where t.price_tier_id = p_price_tier_id returning * into v;
    perform api._audit('price_tier.update', 'price_tier', p_price_tier_id::text,
                       jsonb_build_object('before', v_before, 'patch', p_patch));
    return api._price_tier_json(v);
end
$$;
comment on function api.admin_update_price_tier(bigint, jsonb) is
    'Changes a volume tier or customer-group price. Needs pricing:write. Errors: MA404 price_tier_not_found, MA422 invalid_field, 23505 price_tier_key.';

create function api.admin_delete_price_tier(p_price_tier_id bigint)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v shop.price_tier;
begin
    perform api._require_scope('pricing:write');
    delete from shop.price_tier where price_tier_id = p_price_tier_id returning * into v;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'price_tier_not_found', message = 'no such price tier';
    end if;
    perform api._audit('price_tier.delete', 'price_tier', p_price_tier_id::text, to_jsonb(v));
    return jsonb_build_object('deleted', p_price_tier_id);
end
$$;
comment on function api.admin_delete_price_tier(bigint) is 'Deletes a volume tier or customer-group price. Needs pricing:write. Errors: MA404 price_tier_not_found.';

-- Descriptions of the private helpers above, for \df+ in psql.
comment on function api._customer_group_apply(shop.customer_group, jsonb) is 'Private: a customer group with validated fields applied.';
comment on function api._customer_group_json(shop.customer_group) is 'Private: a customer group as JSON with its member count.';
comment on function api._price_tier_apply(shop.price_tier, jsonb) is 'Private: a price tier with validated fields applied.';
comment on function api._price_tier_json(shop.price_tier) is 'Private: a price tier as JSON with its customer group code.';

-- ---------------------------------------------------------------- who may call these
-- Deny by default: maef-api migrate revokes EXECUTE from PUBLIC, so a function is
-- callable only by its owner (maef-worker, DBAs) until it is granted here.
-- Managers and admins (each function checks its permission):
grant execute on function
    api.admin_list_customer_groups(),
    api.admin_create_customer_group(jsonb),
    api.admin_update_customer_group(bigint,jsonb),
    api.admin_delete_customer_group(bigint),
    api.admin_add_customer_group_member(bigint,uuid),
    api.admin_remove_customer_group_member(bigint,uuid),
    api.admin_list_price_tiers(bigint),
    api.admin_create_price_tier(bigint,jsonb),
    api.admin_update_price_tier(bigint,jsonb),
    api.admin_delete_price_tier(bigint)
    to maef_staff, maef_admin;
