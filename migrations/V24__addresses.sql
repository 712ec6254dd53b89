-- V24: addresses — a kind (shipping, billing or both), one default per kind, and the
-- per-country rules the SQL API validates them with (required fields, postal-code
-- pattern, phone numbering for E.164). Orders keep a normalised copy of each address
-- (customer_order.shipping_address / billing_address), so an address can change or
-- go without rewriting history.

-- ---------------------------------------------------------------- per-country rules
create table shop.address_format (
    country             char(2) primary key check (country ~ '^[A-Z]{2}$'),
    name                text not null,
    required_fields     text[] not null default '{line1,city}'
                        check (required_fields <@ '{line1,city,region,postal_code,phone}'::text[]),
    postal_code_pattern text,
    postal_code_example text,
    postal_code_split   smallint check (postal_code_split between 1 and 5),
    region_pattern      text,
    phone_code          text not null check (phone_code ~ '^[1-9][0-9]{0,2}$'),
    phone_trunk_prefix  text check (phone_trunk_prefix ~ '^[0-9]$'),
    phone_min_digits    smallint not null check (phone_min_digits between 4 and 14),
    phone_max_digits    smallint not null check (phone_max_digits between 4 and 14),
    constraint address_format_phone_digits_order check (phone_min_digits <= phone_max_digits)
);
comment on table shop.address_format is
    'Address rules per country: required fields, postal-code pattern (upper-cased, single spaces) and example, region pattern, phone country code, trunk prefix and national number length (E.164).';
comment on column shop.address_format.postal_code_split is
    'When set, the normalised postal code has one space before its last N characters (GB and CA: "SW1A 1AA", "K1A 0B1").';
comment on column shop.address_format.phone_min_digits is
    'Digits of the national significant number (after the country code, without the trunk prefix).';

insert into shop.address_format (country, name, required_fields, postal_code_pattern, postal_code_example,
                                 postal_code_split, region_pattern, phone_code, phone_trunk_prefix,
                                 phone_min_digits, phone_max_digits) values
    -- West Africa: couriers call before delivering, so the phone is required; Benin,
    -- Côte d'Ivoire and Togo have no postal codes in use.
    ('BJ', 'Benin',         '{line1,city,phone}',        null, null, null, null, '229', null, 8, 10),
    ('CI', 'Côte d''Ivoire', '{line1,city,phone}',       null, null, null, null, '225', null, 8, 10),
    ('SN', 'Senegal',       '{line1,city,phone}',        '^[0-9]{5}$', '12500', null, null, '221', null, 9, 9),
    ('TG', 'Togo',          '{line1,city,phone}',        null, null, null, null, '228', null, 8, 8),
    ('NG', 'Nigeria',       '{line1,city,region,phone}', '^[0-9]{6}$', '100001', null, null, '234', '0', 7, 10),
    ('GH', 'Ghana',         '{line1,city,region,phone}', '^[A-Z]{2}-?[0-9]{3,4}-?[0-9]{3,4}$', 'GA-123-4567', null, null, '233', '0', 9, 9),
    ('FR', 'France',        '{line1,city,postal_code}',  '^[0-9]{5}$', '75002', null, null, '33', '0', 9, 9),
    ('BE', 'Belgium',       '{line1,city,postal_code}',  '^[0-9]{4}$', '1000', null, null, '32', '0', 8, 9),
    ('DE', 'Germany',       '{line1,city,postal_code}',  '^[0-9]{5}$', '10115', null, null, '49', '0', 6, 13),
    ('GB', 'United Kingdom', '{line1,city,postal_code}', '^(GIR ?0AA|[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2})$', 'SW1A 1AA', 3, null, '44', '0', 9, 10),
    ('US', 'United States', '{line1,city,region,postal_code}', '^[0-9]{5}(-[0-9]{4})?$', '94103', null, '^[A-Z]{2}$', '1', '1', 10, 10),
    ('CA', 'Canada',        '{line1,city,region,postal_code}', '^[A-Z][0-9][A-Z] ?[0-9][A-Z][0-9]$', 'K1A 0B1', 3, '^[A-Z]{2}$', '1', '1', 10, 10);

-- Everyone may read the rules (clients build their address forms from them).
grant select on shop.address_format to maef_anon, maef_customer, maef_staff, maef_admin;

-- ---------------------------------------------------------------- addresses
alter table shop.address
    add column kind text not null default 'both' check (kind in ('shipping', 'billing', 'both')),
    add column company text not null default '' check (length(company) <= 200),
    add column is_default_shipping boolean not null default false,
    add column is_default_billing boolean not null default false,
    add constraint address_default_matches_kind check (
        (not is_default_shipping or kind in ('shipping', 'both'))
        and (not is_default_billing or kind in ('billing', 'both')));
-- The old single flag: the newest default address of each user keeps both defaults.
update shop.address a set is_default_shipping = true, is_default_billing = true
where a.is_default and not exists (
    select from shop.address b where b.user_id = a.user_id and b.is_default and b.address_id > a.address_id);
alter table shop.address drop column is_default;
create unique index address_one_default_shipping on shop.address (user_id) where is_default_shipping;
create unique index address_one_default_billing on shop.address (user_id) where is_default_billing;
comment on column shop.address.phone is 'E.164 (+22997123456) once validated by the SQL API.';

-- The SQL API (api.create_address, …) validates each field against shop.address_format
-- and normalises it; row-level security (V3) keeps each customer to their own rows,
-- through the API and through direct SQL alike.

insert into shop.setting (key, value, value_type, min_value, max_value, env, description) values
    ('addresses.max_per_user', '50', 'integer', 1, 10000, 'ADDRESSES_MAX_PER_USER',
     'Addresses a customer may keep in their address book.');
