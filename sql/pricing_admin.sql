-- Promotion and coupon administration (promotions:write, audited in the same
-- transaction). Rules are validated by the extension when saved; coupon fields by
-- api._coupon_apply. Errors: MA422 promotion_rules_invalid / invalid_field (detail = the
-- JSON path), MA404 *_not_found, 23505 coupon_code_key (409).

-- Raises MA422 naming the JSON path when a rules document does not fit the schema.
create function api._check_promotion_rules(p_rules jsonb)
returns void
language plpgsql stable as $$
declare
    v_error jsonb := maef.validate_promotion_rules(coalesce(p_rules, 'null'::jsonb));
begin
    if v_error is not null then
        raise exception using errcode = 'MA422', constraint = 'promotion_rules_invalid',
            message = format('rules%s: %s', substr(v_error ->> 'path', 2), v_error ->> 'message'),
            detail = v_error ->> 'path';
    end if;
end
$$;

create function api._promotion_json(p shop.promotion)
returns jsonb
language sql stable as $$
    select to_jsonb(p) || jsonb_build_object('coupons', coalesce((
        select jsonb_agg(to_jsonb(c) order by c.coupon_id) from shop.coupon c where c.promotion_id = p.promotion_id), '[]'))
$$;

-- Creates a promotion: {"name", "rules", "priority"?, "stacking"?, "starts_at"?, "ends_at"?, "is_active"?}.
create function api.admin_create_promotion(p_promotion jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v shop.promotion;
begin
    perform api._require_scope('promotions:write');
    perform api._check_promotion_rules(p_promotion -> 'rules');
    insert into shop.promotion (name, rules, priority, stacking, starts_at, ends_at, is_active)
    values (p_promotion ->> 'name', p_promotion -> 'rules', coalesce((p_promotion ->> 'priority')::integer, 0),
            coalesce(p_promotion ->> 'stacking', 'exclusive'), api._writable_instant((p_promotion ->> 'starts_at')::timestamptz, '$.starts_at'),
            api._writable_instant((p_promotion ->> 'ends_at')::timestamptz, '$.ends_at'), coalesce((p_promotion ->> 'is_active')::boolean, true))
    returning * into v;
    perform api._audit('promotion.create', 'promotion', v.promotion_id::text, to_jsonb(v));
    return api._promotion_json(v);
end
$$;
comment on function api.admin_create_promotion(jsonb) is
    'Creates a promotion after validating its rules. Needs promotions:write. Errors: MA422 promotion_rules_invalid (detail = JSON path), 23502/23514.';

-- Changes fields of a promotion (same keys as creation).
create function api.admin_update_promotion(p_promotion_id bigint, p_patch jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v shop.promotion;
begin
    perform api._require_scope('promotions:write');
    if p_patch ? 'rules' then
        perform api._check_promotion_rules(p_patch -> 'rules');
    end if;
    update shop.promotion p set
        name = coalesce(p_patch ->> 'name', p.name),
        rules = coalesce(p_patch -> 'rules', p.rules),
        priority = coalesce((p_patch ->> 'priority')::integer, p.priority),
        stacking = coalesce(p_patch ->> 'stacking', p.stacking),
        starts_at = case when p_patch ? 'starts_at' then api._writable_instant((p_patch ->> 'starts_at')::timestamptz, '$.starts_at') else p.starts_at end,
        ends_at = case when p_patch ? 'ends_at' then api._writable_instant((p_patch ->> 'ends_at')::timestamptz, '$.ends_at') else p.ends_at end,
        is_active = coalesce((p_patch ->> 'is_active')::boolean, p.is_active)
    where p.promotion_id = p_promotion_id
    returning * into v;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'promotion_not_found', message = 'no such promotion';
    end if;
    perform api._audit('promotion.update', 'promotion', p_promotion_id::text, p_patch);
    return api._promotion_json(v);
end
$$;
comment on function api.admin_update_promotion(bigint, jsonb) is
    'Changes a promotion. Needs promotions:write. Errors: MA404 promotion_not_found, MA422 promotion_rules_invalid.';

create function api.admin_delete_promotion(p_promotion_id bigint)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
begin
    perform api._require_scope('promotions:write');
    delete from shop.promotion where promotion_id = p_promotion_id;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'promotion_not_found', message = 'no such promotion';
    end if;
    perform api._audit('promotion.delete', 'promotion', p_promotion_id::text);
    return jsonb_build_object('deleted', p_promotion_id);
end
$$;
comment on function api.admin_delete_promotion(bigint) is 'Deletes a promotion and its coupons. Needs promotions:write.';

create function api.admin_list_promotions()
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
begin
    perform api._require_scope('promotions:write');
    return coalesce((select jsonb_agg(api._promotion_json(p) order by p.priority desc, p.promotion_id)
                     from shop.promotion p), '[]');
end
$$;
comment on function api.admin_list_promotions() is 'Every promotion with its coupons. Needs promotions:write.';

-- A timestamp at p_key (ISO 8601 text, or null when absent or null).
create function api._time_field(p_obj jsonb, p_key text, p_path text)
returns timestamptz
language plpgsql stable as $$
declare
    v_text text := api._text_field(p_obj, p_key, p_path);
begin
    return api._writable_instant(v_text::timestamptz, p_path || '.' || p_key);
exception when invalid_datetime_format or datetime_field_overflow or invalid_text_representation then
    perform api._bad_field(p_path || '.' || p_key, 'must be an ISO 8601 timestamp');
end
$$;

-- A coupon with the fields of p_fields applied (keys absent keep their value; null
-- clears an optional field). Shared by creation and update so both validate alike.
create function api._coupon_apply(p_coupon shop.coupon, p_fields jsonb)
returns shop.coupon
language plpgsql stable as $$
declare
    v shop.coupon := p_coupon;
begin
    perform api._reject_unknown(p_fields, '$', array['code', 'starts_at', 'ends_at', 'usage_limit',
                                                     'per_customer_limit', 'is_active']);
    if p_fields ? 'code' then
        v.code := btrim(api._text_field(p_fields, 'code', '$', true));
        if length(v.code) not between 1 and 64 then
            perform api._bad_field('$.code', 'must have 1 to 64 characters');
        end if;
    end if;
    if p_fields ? 'starts_at' then
        v.starts_at := api._time_field(p_fields, 'starts_at', '$');
    end if;
    if p_fields ? 'ends_at' then
        v.ends_at := api._time_field(p_fields, 'ends_at', '$');
    end if;
    if v.starts_at >= v.ends_at then
        perform api._bad_field('$.ends_at', 'must be after starts_at');
    end if;
    if p_fields ? 'usage_limit' then
        v.usage_limit := api._int_field(p_fields, 'usage_limit', '$');
        if v.usage_limit not between 1 and 2147483647 then
            perform api._bad_field('$.usage_limit', 'must be a positive whole number or null');
        end if;
        if v.usage_limit < v.times_used then
            perform api._bad_field('$.usage_limit', format('is below the %s uses already made', v.times_used));
        end if;
    end if;
    if p_fields ? 'per_customer_limit' then
        v.per_customer_limit := api._int_field(p_fields, 'per_customer_limit', '$');
        if v.per_customer_limit not between 1 and 2147483647 then
            perform api._bad_field('$.per_customer_limit', 'must be a positive whole number or null');
        end if;
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

-- Creates a coupon: {"code", "starts_at"?, "ends_at"?, "usage_limit"?, "per_customer_limit"?, "is_active"?}.
create function api.admin_create_coupon(p_promotion_id bigint, p_coupon jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v shop.coupon;
begin
    perform api._require_scope('promotions:write');
    if not exists (select from shop.promotion where promotion_id = p_promotion_id) then
        raise exception using errcode = 'MA404', constraint = 'promotion_not_found', message = 'no such promotion';
    end if;
    v.is_active := true;
    v.times_used := 0;
    if not coalesce(p_coupon ? 'code', false) then
        perform api._bad_field('$.code', 'is required');
    end if;
    v := api._coupon_apply(v, p_coupon);
    insert into shop.coupon (promotion_id, code, starts_at, ends_at, usage_limit, per_customer_limit, is_active)
    values (p_promotion_id, v.code, v.starts_at, v.ends_at, v.usage_limit, v.per_customer_limit, v.is_active)
    returning * into v;
    perform api._audit('coupon.create', 'coupon', v.coupon_id::text, to_jsonb(v));
    return to_jsonb(v);
end
$$;
comment on function api.admin_create_coupon(bigint, jsonb) is
    'Creates a coupon of a promotion. Needs promotions:write. Errors: MA404 promotion_not_found, MA422 invalid_field (detail = JSON path), 23505 coupon_code_key (codes are unique case-insensitively).';

-- Changes fields of a coupon (same keys as creation; null clears a window end or a
-- limit). Its promotion and its use count are not editable: uses are counted by
-- api.redeem_coupon only, and a limit cannot go below them.
create function api.admin_update_coupon(p_coupon_id bigint, p_patch jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v shop.coupon;
    v_before jsonb;
begin
    perform api._require_scope('promotions:write');
    -- FOR UPDATE: a redemption committing meanwhile cannot slip under a lowered limit.
    select * into v from shop.coupon where coupon_id = p_coupon_id for update;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'coupon_not_found', message = 'no such coupon';
    end if;
    v_before := to_jsonb(v);
    v := api._coupon_apply(v, p_patch);
    update shop.coupon c set code = v.code, starts_at = v.starts_at, ends_at = v.ends_at,
        usage_limit = v.usage_limit, per_customer_limit = v.per_customer_limit, is_active = v.is_active
    where c.coupon_id = p_coupon_id
    returning * into v;
    perform api._audit('coupon.update', 'coupon', p_coupon_id::text,
                       jsonb_build_object('before', v_before, 'patch', p_patch));
    return to_jsonb(v);
end
$$;
comment on function api.admin_update_coupon(bigint, jsonb) is
    'Changes a coupon (code, window, limits, is_active). Needs promotions:write. Errors: MA404 coupon_not_found, MA422 invalid_field (detail = JSON path), 23505 coupon_code_key.';

create function api.admin_delete_coupon(p_coupon_id bigint)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
begin
    perform api._require_scope('promotions:write');
    delete from shop.coupon where coupon_id = p_coupon_id;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'coupon_not_found', message = 'no such coupon';
    end if;
    perform api._audit('coupon.delete', 'coupon', p_coupon_id::text);
    return jsonb_build_object('deleted', p_coupon_id);
end
$$;
comment on function api.admin_delete_coupon(bigint) is 'Deletes a coupon. Needs promotions:write.';

-- Descriptions of the private helpers above, for \df+ in psql.
comment on function api._time_field(jsonb, text, text) is 'Private: a timestamp field of a JSON object (ISO 8601), else MA422 invalid_field naming its path.';
comment on function api._coupon_apply(shop.coupon, jsonb) is 'Private: a coupon with validated fields applied (creation and update share it).';
comment on function api._check_promotion_rules(jsonb) is 'Private: MA422 promotion_rules_invalid naming the JSON path when maef.validate_promotion_rules finds an error.';
comment on function api._promotion_json(shop.promotion) is 'Private: a promotion as JSON with its coupons.';

-- ---------------------------------------------------------------- who may call these
-- Deny by default: maef-api migrate revokes EXECUTE from PUBLIC, so a function is
-- callable only by its owner (maef-worker, DBAs) until it is granted here.
-- Managers and admins (each function checks its permission):
grant execute on function
    api.admin_create_promotion(jsonb),
    api.admin_update_promotion(bigint,jsonb),
    api.admin_delete_promotion(bigint),
    api.admin_list_promotions(),
    api.admin_create_coupon(bigint,jsonb),
    api.admin_update_coupon(bigint,jsonb),
    api.admin_delete_coupon(bigint)
    to maef_staff, maef_admin;
