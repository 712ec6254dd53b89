-- Pricing settings administration (pricing:write, audited in the same transaction):
-- tax rates, shipping rates, the per-currency store setting (prices tax-inclusive or
-- not, default country); volume tiers and customer groups are in price_lists.sql. The
-- quote reads these tables directly (api._quote_input), so a change applies to the next
-- quote.
--
-- Each record is validated by one `_<thing>_apply(record, fields)` helper shared by
-- creation and update: keys absent keep their value, null clears an optional field,
-- unknown keys are refused. Errors: MA422 invalid_field (detail = the JSON path),
-- MA404 *_not_found, 23505 on a duplicate key (409: tax_rate_country_category_key,
-- shipping_rate_method_country_currency_key, price_tier_key, customer_group_code_key).
-- Shipping methods themselves are administered in shipping.sql.

-- A country code (ISO 3166 alpha-2, upper case) at p_key.
create function api._country_field(p_obj jsonb, p_key text, p_path text, p_required boolean default false)
returns char(2)
language plpgsql immutable as $$
declare
    v text := api._text_field(p_obj, p_key, p_path, p_required);
begin
    if v !~ '^[A-Z]{2}$' then
        perform api._bad_field(p_path || '.' || p_key, 'must be an ISO 3166 alpha-2 code such as FR');
    end if;
    return v;
end
$$;

-- A known currency code at p_key.
create function api._currency_field(p_obj jsonb, p_key text, p_path text, p_required boolean default false)
returns char(3)
language plpgsql stable as $$
declare
    v text := upper(api._text_field(p_obj, p_key, p_path, p_required));
begin
    if v is not null and not exists (select from shop.currency where code = v) then
        perform api._bad_field(p_path || '.' || p_key, format('unknown currency %L', v));
    end if;
    return v;
end
$$;

-- A whole number at p_key within [p_min, p_max] (or null when absent).
create function api._bounded_int_field(p_obj jsonb, p_key text, p_path text, p_min bigint, p_max bigint,
                                       p_required boolean default false)
returns bigint
language plpgsql immutable as $$
declare
    v bigint := api._int_field(p_obj, p_key, p_path, p_required);
begin
    if v not between p_min and p_max then
        perform api._bad_field(p_path || '.' || p_key, format('must be between %s and %s', p_min, p_max));
    end if;
    return v;
end
$$;

-- Raises MA422 naming each required key missing from a creation document.
create function api._require_fields(p_obj jsonb, p_keys text[])
returns void
language plpgsql immutable as $$
declare
    v_key text;
begin
    foreach v_key in array p_keys loop
        if not coalesce(p_obj ? v_key, false) or jsonb_typeof(p_obj -> v_key) = 'null' then
            perform api._bad_field('$.' || v_key, 'is required');
        end if;
    end loop;
end
$$;

-- ---------------------------------------------------------------- tax rates

create function api._tax_rate_apply(p shop.tax_rate, p_fields jsonb)
returns shop.tax_rate
language plpgsql stable as $$
declare
    v shop.tax_rate := p;
begin
    perform api._reject_unknown(p_fields, '$', array['country', 'category_id', 'rate_bp', 'name']);
    if p_fields ? 'country' then
        v.country := api._country_field(p_fields, 'country', '$', true);
    end if;
    if p_fields ? 'category_id' then
        v.category_id := api._int_field(p_fields, 'category_id', '$');
        if v.category_id is not null and not exists (select from shop.category where category_id = v.category_id) then
            perform api._bad_field('$.category_id', 'no such category');
        end if;
    end if;
    if p_fields ? 'rate_bp' then
        v.rate_bp := api._bounded_int_field(p_fields, 'rate_bp', '$', 0, 10000, true);
    end if;
    if p_fields ? 'name' then
        v.name := coalesce(api._text_field(p_fields, 'name', '$'), '');
    end if;
    return v;
end
$$;

create function api._tax_rate_json(p shop.tax_rate)
returns jsonb
language sql stable as $$
    select to_jsonb(p) || jsonb_build_object('category_slug',
        (select c.slug from shop.category c where c.category_id = p.category_id))
$$;

create function api.admin_list_tax_rates()
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
begin
    perform api._require_scope('pricing:write');
    return coalesce((select jsonb_agg(api._tax_rate_json(t) order by t.country, t.category_id nulls first)
                     from shop.tax_rate t), '[]');
end
$$;
comment on function api.admin_list_tax_rates() is 'Every tax rate (country standard rates first). Needs pricing:write.';

-- Creates a tax rate: {"country", "rate_bp", "category_id"?, "name"?}; without a
-- category it is the country's standard rate.
create function api.admin_create_tax_rate(p_rate jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v shop.tax_rate;
begin
    perform api._require_scope('pricing:write');
    perform api._require_fields(p_rate, array['country', 'rate_bp']);
    v := api._tax_rate_apply(v, p_rate);
    insert into shop.tax_rate (country, category_id, rate_bp, name)
    values (v.country, v.category_id, v.rate_bp, coalesce(v.name, ''))
    returning * into v;
    perform api._audit('tax_rate.create', 'tax_rate', v.tax_rate_id::text, to_jsonb(v));
    return api._tax_rate_json(v);
end
$$;
comment on function api.admin_create_tax_rate(jsonb) is
    'Creates a tax rate (basis points) for a country, optionally a category. Needs pricing:write. Errors: MA422 invalid_field, 23505 tax_rate_country_category_key.';

create function api.admin_update_tax_rate(p_tax_rate_id bigint, p_patch jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v shop.tax_rate;
    v_before jsonb;
begin
    perform api._require_scope('pricing:write');
    select * into v from shop.tax_rate where tax_rate_id = p_tax_rate_id for update;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'tax_rate_not_found', message = 'no such tax rate';
    end if;
    v_before := to_jsonb(v);
    v := api._tax_rate_apply(v, p_patch);
    update shop.tax_rate t set country = v.country, category_id = v.category_id, rate_bp = v.rate_bp, name = v.name
    where t.tax_rate_id = p_tax_rate_id returning * into v;
    perform api._audit('tax_rate.update', 'tax_rate', p_tax_rate_id::text,
                       jsonb_build_object('before', v_before, 'patch', p_patch));
    return api._tax_rate_json(v);
end
$$;
comment on function api.admin_update_tax_rate(bigint, jsonb) is
    'Changes a tax rate. Needs pricing:write. Errors: MA404 tax_rate_not_found, MA422 invalid_field, 23505 tax_rate_country_category_key.';

create function api.admin_delete_tax_rate(p_tax_rate_id bigint)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v shop.tax_rate;
begin
    perform api._require_scope('pricing:write');
    delete from shop.tax_rate where tax_rate_id = p_tax_rate_id returning * into v;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'tax_rate_not_found', message = 'no such tax rate';
    end if;
    perform api._audit('tax_rate.delete', 'tax_rate', p_tax_rate_id::text, to_jsonb(v));
    return jsonb_build_object('deleted', p_tax_rate_id);
end
$$;
comment on function api.admin_delete_tax_rate(bigint) is 'Deletes a tax rate. Needs pricing:write. Errors: MA404 tax_rate_not_found.';

-- ---------------------------------------------------------------- shipping rates

create function api._shipping_rate_apply(p shop.shipping_rate, p_fields jsonb)
returns shop.shipping_rate
language plpgsql stable as $$
declare
    v shop.shipping_rate := p;
begin
    perform api._reject_unknown(p_fields, '$', array['shipping_method', 'country', 'currency', 'amount', 'free_over']);
    if p_fields ? 'shipping_method' then
        select m.shipping_method_id into v.shipping_method_id from shop.shipping_method m
        where m.code = api._text_field(p_fields, 'shipping_method', '$', true);
        if not found then
            perform api._bad_field('$.shipping_method', 'no shipping method has this code');
        end if;
    end if;
    if p_fields ? 'country' then
        v.country := api._country_field(p_fields, 'country', '$', true);
    end if;
    if p_fields ? 'currency' then
        v.currency_code := api._currency_field(p_fields, 'currency', '$', true);
    end if;
    if p_fields ? 'amount' then
        v.amount := api._bounded_int_field(p_fields, 'amount', '$', 0, 999999999999, true);
    end if;
    if p_fields ? 'free_over' then
        v.free_over := api._bounded_int_field(p_fields, 'free_over', '$', 0, 999999999999);
    end if;
    return v;
end
$$;

-- A rate with the code of its shipping method.
create function api._shipping_rate_json(p shop.shipping_rate)
returns jsonb
language sql stable as $$
    select to_jsonb(p) || jsonb_build_object('shipping_method',
        (select m.code from shop.shipping_method m where m.shipping_method_id = p.shipping_method_id))
$$;

create function api.admin_list_shipping_rates()
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
begin
    perform api._require_scope('pricing:write');
    return coalesce((select jsonb_agg(api._shipping_rate_json(s) order by s.country, s.currency_code, s.shipping_method_id)
                     from shop.shipping_rate s), '[]');
end
$$;
comment on function api.admin_list_shipping_rates() is 'Every shipping rate with its method''s code. Needs pricing:write.';

-- Creates a shipping rate: {"shipping_method"?, "country", "currency", "amount",
-- "free_over"?} (minor units); without a method it is a rate of "standard".
create function api.admin_create_shipping_rate(p_rate jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v shop.shipping_rate;
begin
    perform api._require_scope('pricing:write');
    perform api._require_fields(p_rate, array['country', 'currency', 'amount']);
    select m.shipping_method_id into v.shipping_method_id from shop.shipping_method m where m.code = 'standard';
    v := api._shipping_rate_apply(v, p_rate);
    if v.shipping_method_id is null then
        perform api._bad_field('$.shipping_method', 'is required (there is no standard method)');
    end if;
    insert into shop.shipping_rate (shipping_method_id, country, currency_code, amount, free_over)
    values (v.shipping_method_id, v.country, v.currency_code, v.amount, v.free_over)
    returning * into v;
    perform api._audit('shipping_rate.create', 'shipping_rate', v.shipping_rate_id::text, to_jsonb(v));
    return api._shipping_rate_json(v);
end
$$;
comment on function api.admin_create_shipping_rate(jsonb) is
    'Creates a shipping method''s rate per country and currency (the standard method''s when none is named), free over a threshold. Needs pricing:write. Errors: MA422 invalid_field, 23505 shipping_rate_method_country_currency_key.';

create function api.admin_update_shipping_rate(p_shipping_rate_id bigint, p_patch jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v shop.shipping_rate;
    v_before jsonb;
begin
    perform api._require_scope('pricing:write');
    select * into v from shop.shipping_rate where shipping_rate_id = p_shipping_rate_id for update;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'shipping_rate_not_found', message = 'no such shipping rate';
    end if;
    v_before := to_jsonb(v);
    v := api._shipping_rate_apply(v, p_patch);
    update shop.shipping_rate s set shipping_method_id = v.shipping_method_id, country = v.country,
        currency_code = v.currency_code, amount = v.amount, free_over = v.free_over
    where s.shipping_rate_id = p_shipping_rate_id returning * into v;
    perform api._audit('shipping_rate.update', 'shipping_rate', p_shipping_rate_id::text,
                       jsonb_build_object('before', v_before, 'patch', p_patch));
    return api._shipping_rate_json(v);
end
$$;
comment on function api.admin_update_shipping_rate(bigint, jsonb) is
    'Changes a shipping rate (its method too). Needs pricing:write. Errors: MA404 shipping_rate_not_found, MA422 invalid_field, 23505 shipping_rate_method_country_currency_key.';

create function api.admin_delete_shipping_rate(p_shipping_rate_id bigint)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v shop.shipping_rate;
begin
    perform api._require_scope('pricing:write');
    delete from shop.shipping_rate where shipping_rate_id = p_shipping_rate_id returning * into v;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'shipping_rate_not_found', message = 'no such shipping rate';
    end if;
    perform api._audit('shipping_rate.delete', 'shipping_rate', p_shipping_rate_id::text, to_jsonb(v));
    return jsonb_build_object('deleted', p_shipping_rate_id);
end
$$;
comment on function api.admin_delete_shipping_rate(bigint) is 'Deletes a shipping rate. Needs pricing:write. Errors: MA404 shipping_rate_not_found.';

-- ---------------------------------------------------------------- store settings

create function api.admin_list_store_settings()
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
begin
    perform api._require_scope('pricing:write');
    return coalesce((select jsonb_agg(to_jsonb(s) order by s.currency_code) from shop.store_setting s), '[]');
end
$$;
comment on function api.admin_list_store_settings() is 'The price settings of every currency (tax-inclusive or not, default country). Needs pricing:write.';

-- Sets a currency's price settings: {"prices_include_tax"?, "default_country"?}.
-- Absent keys keep their value; a currency without a setting yet needs default_country
-- (prices_include_tax then defaults to true). Changing prices_include_tax changes how
-- every catalog price of the currency is read: quotes after the change differ.
create function api.admin_set_store_setting(p_currency text, p_setting jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v shop.store_setting;
    v_before jsonb;
begin
    perform api._require_scope('pricing:write');
    -- text, not char(3): a cast to char(3) would silently cut 'EURO' to 'EUR'
    if not exists (select from shop.currency where code::text = upper(p_currency)) then
        raise exception using errcode = 'MA404', constraint = 'currency_not_found', message = 'no such currency';
    end if;
    perform api._reject_unknown(p_setting, '$', array['prices_include_tax', 'default_country']);
    select * into v from shop.store_setting where currency_code = upper(p_currency) for update;
    v_before := to_jsonb(v);
    if v.currency_code is null then
        perform api._require_fields(p_setting, array['default_country']);
        v.currency_code := upper(p_currency);
        v.prices_include_tax := true;
    end if;
    if p_setting ? 'prices_include_tax' then
        v.prices_include_tax := api._bool_field(p_setting, 'prices_include_tax', '$');
        if v.prices_include_tax is null then
            perform api._bad_field('$.prices_include_tax', 'must be true or false');
        end if;
    end if;
    if p_setting ? 'default_country' then
        v.default_country := api._country_field(p_setting, 'default_country', '$', true);
    end if;
    insert into shop.store_setting (currency_code, prices_include_tax, default_country)
    values (v.currency_code, v.prices_include_tax, v.default_country)
    on conflict (currency_code) do update
        set prices_include_tax = excluded.prices_include_tax, default_country = excluded.default_country
    returning * into v;
    perform api._audit('store_setting.set', 'store_setting', v.currency_code,
                       jsonb_build_object('before', v_before, 'patch', p_setting));
    return to_jsonb(v);
end
$$;
comment on function api.admin_set_store_setting(text, jsonb) is
    'Sets a currency''s price settings (prices_include_tax, default_country), creating them if missing. Needs pricing:write. Errors: MA404 currency_not_found, MA422 invalid_field.';

-- Descriptions of the private helpers above, for \df+ in psql.
comment on function api._country_field(jsonb, text, text, boolean) is 'Private: an ISO 3166 alpha-2 field of a JSON object, else MA422 invalid_field.';
comment on function api._currency_field(jsonb, text, text, boolean) is 'Private: a known currency code field of a JSON object, else MA422 invalid_field.';
comment on function api._bounded_int_field(jsonb, text, text, bigint, bigint, boolean) is 'Private: a whole number field within bounds, else MA422 invalid_field.';
comment on function api._require_fields(jsonb, text[]) is 'Private: MA422 invalid_field naming the first required key missing.';
comment on function api._tax_rate_apply(shop.tax_rate, jsonb) is 'Private: a tax rate with validated fields applied.';
comment on function api._tax_rate_json(shop.tax_rate) is 'Private: a tax rate as JSON with its category slug.';
comment on function api._shipping_rate_apply(shop.shipping_rate, jsonb) is 'Private: a shipping rate with validated fields applied.';
comment on function api._shipping_rate_json(shop.shipping_rate) is 'Private: a shipping rate as JSON with its method''s code.';

-- ---------------------------------------------------------------- who may call these
-- Deny by default: maef-api migrate revokes EXECUTE from PUBLIC, so a function is
-- callable only by its owner (maef-worker, DBAs) until it is granted here.
-- Managers and admins (each function checks its permission):
grant execute on function
    api.admin_list_tax_rates(),
    api.admin_create_tax_rate(jsonb),
    api.admin_update_tax_rate(bigint,jsonb),
    api.admin_delete_tax_rate(bigint),
    api.admin_list_shipping_rates(),
    api.admin_create_shipping_rate(jsonb),
    api.admin_update_shipping_rate(bigint,jsonb),
    api.admin_delete_shipping_rate(bigint),
    api.admin_list_store_settings(),
    api.admin_set_store_setting(text,jsonb)
    to maef_staff, maef_admin;
