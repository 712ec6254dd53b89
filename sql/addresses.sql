-- Addresses: the signed-in customer's address book (kind shipping, billing or both; one
-- default per kind) and the validation every address goes through, stored or given
-- inline at checkout: per-country rules from shop.address_format (required fields,
-- postal-code pattern, region pattern, phone numbering). Values are normalised —
-- whitespace collapsed, postal codes and regions upper-cased (GB/CA with their space),
-- phones in E.164 — so orders and couriers see one spelling.
--
-- Errors: MA422 invalid_field (detail = the JSON path: "$.postal_code",
-- "$.shipping_address.phone"), MA404 address_not_found, MA422 address_limit_reached.

-- The text at p_key with runs of whitespace collapsed to one space, trimmed, at most
-- p_max characters; '' when absent (or MA422 when required).
create function api._address_text(p_obj jsonb, p_key text, p_path text, p_max integer, p_required boolean)
returns text
language plpgsql immutable as $$
declare
    v text := btrim(regexp_replace(coalesce(api._text_field(p_obj, p_key, p_path), ''), '\s+', ' ', 'g'));
begin
    if p_required and v = '' then
        perform api._bad_field(p_path || '.' || p_key, 'is required');
    end if;
    if length(v) > p_max then
        perform api._bad_field(p_path || '.' || p_key, format('must have at most %s characters', p_max));
    end if;
    return v;
end
$$;

-- A phone number in E.164 ("+22997123456"): separators dropped, a leading 00 read as +,
-- a national number (with or without its trunk prefix, "06…" in France) given the
-- country's code; a number with another country's code is accepted when E.164-shaped.
create function api._normalize_phone(p_phone text, p_format shop.address_format, p_path text)
returns text
language plpgsql immutable as $$
declare
    v text := regexp_replace(p_phone, '[\s().\-/]', '', 'g');
    v_nsn text;
    v_international boolean;
begin
    if v ~ '^00' then
        v := '+' || substr(v, 3);
    end if;
    v_international := v ~ '^\+';
    v := ltrim(v, '+');
    if v !~ '^[0-9]{4,15}$' then
        perform api._bad_field(p_path, 'must be a phone number: digits, spaces, dashes, an optional leading +');
    end if;
    if v_international and left(v, length(p_format.phone_code)) <> p_format.phone_code then
        -- Another country's number (a relative abroad): E.164 allows 15 digits at most.
        if length(v) < 8 then
            perform api._bad_field(p_path, 'is too short for an international number');
        end if;
        return '+' || v;
    end if;
    v_nsn := case when v_international then substr(v, length(p_format.phone_code) + 1) else v end;
    -- "+33 (0)6 12 34 56 78" and "06 12 34 56 78" both carry the trunk prefix.
    if p_format.phone_trunk_prefix is not null and left(v_nsn, 1) = p_format.phone_trunk_prefix
       and length(v_nsn) - 1 >= p_format.phone_min_digits then
        v_nsn := substr(v_nsn, 2);
    end if;
    if length(v_nsn) not between p_format.phone_min_digits and p_format.phone_max_digits then
        perform api._bad_field(p_path, format('is not a %s phone number (%s digits after +%s)', p_format.name,
            case when p_format.phone_min_digits = p_format.phone_max_digits then p_format.phone_min_digits::text
                 else p_format.phone_min_digits || ' to ' || p_format.phone_max_digits end,
            p_format.phone_code));
    end if;
    return '+' || p_format.phone_code || v_nsn;
end
$$;

-- A validated, normalised address (without kind and default flags) from JSON:
-- {full_name, company?, line1, line2?, city, region?, postal_code?, country, phone?}.
-- p_extra: other keys the caller accepts (kind, is_default), checked by the caller.
create function api._normalize_address(p_address jsonb, p_path text, p_extra text[] default '{}')
returns jsonb
language plpgsql stable as $$
declare
    v_format shop.address_format;
    v_country text;
    v_region text;
    v_postal text;
    v_phone text;
begin
    if p_address is null or jsonb_typeof(p_address) <> 'object' then
        perform api._bad_field(p_path, 'must be an object');
    end if;
    perform api._reject_unknown(p_address, p_path, array['full_name', 'company', 'line1', 'line2', 'city', 'region',
                                                         'postal_code', 'country', 'phone'] || p_extra);
    v_country := upper(btrim(api._text_field(p_address, 'country', p_path, true)));
    select * into v_format from shop.address_format f where f.country = v_country;
    if not found then
        perform api._bad_field(p_path || '.country', format('we do not deliver to %L; supported countries: %s', v_country,
            (select string_agg(f.country, ', ' order by f.country) from shop.address_format f)));
    end if;
    v_region := api._address_text(p_address, 'region', p_path, 100, 'region' = any (v_format.required_fields));
    if v_format.region_pattern is not null and v_region <> '' then
        v_region := upper(v_region);
        if v_region !~ v_format.region_pattern then
            perform api._bad_field(p_path || '.region', format('must be a %s state or province code such as %s',
                v_format.name, case v_country when 'US' then 'CA' else 'ON' end));
        end if;
    end if;
    v_postal := upper(api._address_text(p_address, 'postal_code', p_path, 16, 'postal_code' = any (v_format.required_fields)));
    if v_postal <> '' and v_format.postal_code_pattern is not null then
        if v_postal !~ v_format.postal_code_pattern then
            perform api._bad_field(p_path || '.postal_code', format('is not a %s postal code (for example %s)',
                                                                   v_format.name, v_format.postal_code_example));
        end if;
        if v_format.postal_code_split is not null then
            v_postal := replace(v_postal, ' ', '');
            v_postal := left(v_postal, -v_format.postal_code_split) || ' ' || right(v_postal, v_format.postal_code_split);
        end if;
    end if;
    v_phone := api._address_text(p_address, 'phone', p_path, 32, 'phone' = any (v_format.required_fields));
    if v_phone <> '' then
        v_phone := api._normalize_phone(v_phone, v_format, p_path || '.phone');
    end if;
    return jsonb_build_object(
        'full_name', api._address_text(p_address, 'full_name', p_path, 200, true),
        'company', api._address_text(p_address, 'company', p_path, 200, false),
        'line1', api._address_text(p_address, 'line1', p_path, 200, true),
        'line2', api._address_text(p_address, 'line2', p_path, 200, false),
        'city', api._address_text(p_address, 'city', p_path, 100, 'city' = any (v_format.required_fields)),
        'region', v_region,
        'postal_code', v_postal,
        'country', v_country,
        'phone', v_phone);
end
$$;

-- An address as clients see it.
create function api._address_json(a shop.address)
returns jsonb
language sql stable as $$
    select jsonb_build_object(
        'id', a.address_id, 'kind', a.kind, 'full_name', a.full_name, 'company', a.company,
        'line1', a.line1, 'line2', a.line2, 'city', a.city, 'region', a.region,
        'postal_code', a.postal_code, 'country', a.country, 'phone', a.phone,
        'is_default_shipping', a.is_default_shipping, 'is_default_billing', a.is_default_billing,
        'created_at', a.created_at, 'updated_at', a.updated_at)
$$;

-- The kind at p_key ('shipping', 'billing', 'both'), or null when absent.
create function api._address_kind(p_obj jsonb, p_path text)
returns text
language plpgsql immutable as $$
declare
    v text := api._text_field(p_obj, 'kind', p_path);
begin
    if v is not null and v not in ('shipping', 'billing', 'both') then
        perform api._bad_field(p_path || '.kind', 'must be shipping, billing or both');
    end if;
    return v;
end
$$;

-- Stores an address row (new or changed) with its defaults: is_default makes it the
-- default of each kind it serves (the previous one stops being it); the first address
-- of a kind becomes its default; a kind it no longer serves loses its default.
create function api._save_address(p_user_id uuid, p_address_id bigint, p_fields jsonb, p_kind text,
                                  p_is_default boolean)
returns shop.address
language plpgsql as $$
declare
    v shop.address;
    v_ship boolean := p_kind in ('shipping', 'both');
    v_bill boolean := p_kind in ('billing', 'both');
    v_default_ship boolean;
    v_default_bill boolean;
begin
    select coalesce(p_is_default, a.is_default_shipping, false) and v_ship,
           coalesce(p_is_default, a.is_default_billing, false) and v_bill
    into v_default_ship, v_default_bill
    from (select) x left join shop.address a on a.address_id = p_address_id;
    -- The first address of a kind is its default.
    v_default_ship := v_default_ship or (v_ship and coalesce(p_is_default, true) and not exists (
        select from shop.address a where a.user_id = p_user_id and a.is_default_shipping and a.address_id is distinct from p_address_id));
    v_default_bill := v_default_bill or (v_bill and coalesce(p_is_default, true) and not exists (
        select from shop.address a where a.user_id = p_user_id and a.is_default_billing and a.address_id is distinct from p_address_id));
    if v_default_ship then
        update shop.address set is_default_shipping = false
        where user_id = p_user_id and is_default_shipping and address_id is distinct from p_address_id;
    end if;
    if v_default_bill then
        update shop.address set is_default_billing = false
        where user_id = p_user_id and is_default_billing and address_id is distinct from p_address_id;
    end if;
    if p_address_id is null then
        insert into shop.address (user_id, kind, full_name, company, line1, line2, city, region, postal_code, country,
                                  phone, is_default_shipping, is_default_billing)
        values (p_user_id, p_kind, p_fields ->> 'full_name', p_fields ->> 'company', p_fields ->> 'line1',
                p_fields ->> 'line2', p_fields ->> 'city', p_fields ->> 'region', p_fields ->> 'postal_code',
                p_fields ->> 'country', p_fields ->> 'phone', v_default_ship, v_default_bill)
        returning * into v;
    else
        update shop.address set kind = p_kind, full_name = p_fields ->> 'full_name', company = p_fields ->> 'company',
            line1 = p_fields ->> 'line1', line2 = p_fields ->> 'line2', city = p_fields ->> 'city',
            region = p_fields ->> 'region', postal_code = p_fields ->> 'postal_code', country = p_fields ->> 'country',
            phone = p_fields ->> 'phone', is_default_shipping = v_default_ship, is_default_billing = v_default_bill
        where address_id = p_address_id
        returning * into v;
    end if;
    return v;
end
$$;

-- Serialises the address-book writes of one user (defaults are per user).
create function api._lock_address_book(p_user_id uuid)
returns void
language sql as $$
    select pg_advisory_xact_lock(hashtextextended('address_book:' || p_user_id::text, 0))
$$;

-- ---------------------------------------------------------------- the address book

create function api.my_addresses()
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    v_user_id uuid := api._require_user();
begin
    return coalesce((select jsonb_agg(api._address_json(a)
                                      order by a.is_default_shipping desc, a.is_default_billing desc, a.address_id desc)
                     from shop.address a where a.user_id = v_user_id), '[]');
end
$$;
comment on function api.my_addresses() is
    'The signed-in customer''s addresses, defaults first. Errors: MA401.';

-- Adds an address: {kind?, full_name, company?, line1, line2?, city, region?,
-- postal_code?, country, phone?, is_default?}.
create function api.create_address(p_address jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_user_id uuid := api._require_user();
    v_fields jsonb := api._normalize_address(p_address, '$', array['kind', 'is_default']);
    v shop.address;
begin
    perform api._lock_address_book(v_user_id);
    if (select count(*) from shop.address a where a.user_id = v_user_id) >= api._setting_int('addresses.max_per_user') then
        raise exception using errcode = 'MA422', constraint = 'address_limit_reached',
            message = format('an address book holds at most %s addresses', api._setting_int('addresses.max_per_user')),
            hint = 'Delete an address you no longer use.';
    end if;
    v := api._save_address(v_user_id, null, v_fields, coalesce(api._address_kind(p_address, '$'), 'both'),
                           api._bool_field(p_address, 'is_default', '$'));
    return api._address_json(v);
end
$$;
comment on function api.create_address(jsonb) is
    'Adds an address to the signed-in customer''s book, validated against shop.address_format (first of its kind becomes the default). Errors: MA401, MA422 invalid_field (detail = JSON path) / address_limit_reached.';

-- Changes an address: the same keys as creation; the result is validated whole (a new
-- country brings its own rules).
create function api.update_address(p_address_id bigint, p_patch jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_user_id uuid := api._require_user();
    v shop.address;
    v_merged jsonb;
begin
    if p_patch is null or jsonb_typeof(p_patch) <> 'object' then
        perform api._bad_field('$', 'must be an object');
    end if;
    perform api._lock_address_book(v_user_id);
    select * into v from shop.address a where a.address_id = p_address_id and a.user_id = v_user_id for update;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'address_not_found', message = 'no such address in your address book';
    end if;
    v_merged := (api._address_json(v) - array['id', 'kind', 'is_default_shipping', 'is_default_billing',
                                              'created_at', 'updated_at']) || p_patch;
    v := api._save_address(v_user_id, p_address_id, api._normalize_address(v_merged, '$', array['kind', 'is_default']),
                           coalesce(api._address_kind(p_patch, '$'), v.kind), api._bool_field(p_patch, 'is_default', '$'));
    return api._address_json(v);
end
$$;
comment on function api.update_address(bigint, jsonb) is
    'Changes an address of the signed-in customer (validated whole; is_default true/false). Errors: MA401, MA404 address_not_found, MA422 invalid_field.';

-- Deletes an address; when it was a default, the newest other address of that kind
-- takes its place. Orders keep their own copies.
create function api.delete_address(p_address_id bigint)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_user_id uuid := api._require_user();
    v shop.address;
begin
    perform api._lock_address_book(v_user_id);
    delete from shop.address a where a.address_id = p_address_id and a.user_id = v_user_id returning * into v;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'address_not_found', message = 'no such address in your address book';
    end if;
    if v.is_default_shipping then
        update shop.address set is_default_shipping = true
        where address_id = (select a.address_id from shop.address a where a.user_id = v_user_id
                            and a.kind in ('shipping', 'both') order by a.address_id desc limit 1);
    end if;
    if v.is_default_billing then
        update shop.address set is_default_billing = true
        where address_id = (select a.address_id from shop.address a where a.user_id = v_user_id
                            and a.kind in ('billing', 'both') order by a.address_id desc limit 1);
    end if;
    return jsonb_build_object('deleted', p_address_id);
end
$$;
comment on function api.delete_address(bigint) is
    'Deletes an address of the signed-in customer (a default passes to the newest other address of its kind). Errors: MA401, MA404 address_not_found.';

-- The address rules of every supported country, for building forms.
create function api.address_formats()
returns jsonb
language sql stable security definer
set search_path = '' as $$
    select coalesce(jsonb_agg(jsonb_build_object(
        'country', f.country, 'name', f.name, 'required_fields', f.required_fields,
        'postal_code_pattern', f.postal_code_pattern, 'postal_code_example', f.postal_code_example,
        'region_pattern', f.region_pattern, 'phone_code', '+' || f.phone_code) order by f.country), '[]')
    from shop.address_format f
$$;
comment on function api.address_formats() is 'Address rules per supported country (required fields, postal-code pattern and example, phone code).';

-- Descriptions of the private helpers above, for \df+ in psql.
comment on function api._address_text(jsonb, text, text, integer, boolean) is 'Private: an address text field, whitespace collapsed, length-checked (MA422 invalid_field).';
comment on function api._normalize_phone(text, shop.address_format, text) is 'Private: a phone number in E.164 for a country''s rules, else MA422 invalid_field.';
comment on function api._normalize_address(jsonb, text, text[]) is 'Private: a validated, normalised address object (country rules from shop.address_format), else MA422 invalid_field naming the JSON path.';
comment on function api._address_json(shop.address) is 'Private: an address book entry as JSON.';
comment on function api._address_kind(jsonb, text) is 'Private: the kind field of an address (shipping, billing, both).';
comment on function api._save_address(uuid, bigint, jsonb, text, boolean) is 'Private: inserts or updates an address and moves the per-kind defaults.';
comment on function api._lock_address_book(uuid) is 'Private: serialises one user''s address-book writes (transaction advisory lock).';

-- ---------------------------------------------------------------- who may call these
-- Deny by default: maef-api migrate revokes EXECUTE from PUBLIC, so a function is
-- callable only by its owner (maef-worker, DBAs) until it is granted here.
-- Everyone, anonymous callers included (public on purpose):
grant execute on function api.address_formats() to maef_anon, maef_customer, maef_staff, maef_admin;
-- Signed-in users (each function checks the caller itself):
grant execute on function
    api.my_addresses(),
    api.create_address(jsonb),
    api.update_address(bigint,jsonb),
    api.delete_address(bigint)
    to maef_customer, maef_staff, maef_admin;
