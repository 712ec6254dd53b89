-- V4: pricing — store settings, tax and shipping rates, volume tiers and customer-group
-- price lists, price history (EU Omnibus "lowest price in 30 days"), coupon redemptions,
-- guest carts, backorders.
--
-- Data never depends on code: the only function here is the price-history trigger,
-- created with the data. The quote engine (maef.quote) and the SQL API (sql/pricing.sql,
-- sql/cart.sql) are reloadable code.

-- ---------------------------------------------------------------- store settings
create table shop.store_setting (
    currency_code      char(3) primary key references shop.currency,
    prices_include_tax boolean not null default true,
    default_country    char(2) not null check (default_country ~ '^[A-Z]{2}$')
);
comment on table shop.store_setting is 'Per currency: whether catalog prices include tax, and the country quoted before the shopper gives one.';
insert into shop.store_setting (currency_code, prices_include_tax, default_country) values
    ('XOF', true, 'SN'), ('EUR', true, 'FR'), ('USD', false, 'US'),
    ('GBP', true, 'GB'), ('NGN', true, 'NG'), ('GHS', true, 'GH');

-- ---------------------------------------------------------------- tax
-- A country's standard rate has category_id null; a category rate applies to the
-- category and its descendants (the nearest ancestor with a rate wins).
create table shop.tax_rate (
    tax_rate_id bigint generated always as identity primary key,
    country     char(2) not null check (country ~ '^[A-Z]{2}$'),
    category_id bigint references shop.category on delete cascade,
    rate_bp     integer not null check (rate_bp between 0 and 10000),
    name        text not null default '',
    constraint tax_rate_country_category_key unique nulls not distinct (country, category_id)
);
comment on table shop.tax_rate is 'Tax rates in basis points (2000 = 20 %) by country, optionally by category (descendants inherit).';
comment on column shop.tax_rate.rate_bp is 'Basis points: 2000 = 20 %, 550 = 5.5 %.';

-- ---------------------------------------------------------------- shipping
create table shop.shipping_rate (
    shipping_rate_id bigint generated always as identity primary key,
    country          char(2) not null check (country ~ '^[A-Z]{2}$'),
    currency_code    char(3) not null references shop.currency,
    amount           bigint not null check (amount >= 0),
    free_over        bigint check (free_over >= 0),
    constraint shipping_rate_country_currency_key unique (country, currency_code)
);
comment on table shop.shipping_rate is 'Flat shipping rate per destination country and currency; free when the discounted merchandise reaches free_over.';

-- ---------------------------------------------------------------- customer groups, tiers
create table shop.customer_group (
    customer_group_id bigint generated always as identity primary key,
    code              text not null check (code ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    name              text not null,
    constraint customer_group_code_key unique (code)
);

create table shop.customer_group_member (
    customer_group_id bigint not null references shop.customer_group on delete cascade,
    user_id           uuid not null references shop.app_user on delete cascade,
    primary key (customer_group_id, user_id)
);
create index customer_group_member_user_idx on shop.customer_group_member (user_id);

-- Volume tiers (min_quantity > 1) and customer-group price lists (customer_group_id set)
-- in one table: a line pays the lowest tier it qualifies for, if below the base price.
create table shop.price_tier (
    price_tier_id     bigint generated always as identity primary key,
    variant_id        bigint not null references shop.product_variant on delete cascade,
    currency_code     char(3) not null references shop.currency,
    min_quantity      integer not null default 1 check (min_quantity between 1 and 999),
    amount            bigint not null check (amount >= 0),
    customer_group_id bigint references shop.customer_group on delete cascade,
    constraint price_tier_key unique nulls not distinct (variant_id, currency_code, min_quantity, customer_group_id)
);
create index price_tier_variant_idx on shop.price_tier (variant_id, currency_code);

-- ---------------------------------------------------------------- price history
create table shop.price_history (
    price_history_id  bigint generated always as identity primary key,
    price_id          bigint not null,
    product_id        bigint,
    variant_id        bigint,
    currency_code     char(3) not null,
    amount            bigint,
    compare_at_amount bigint,
    starts_at         timestamptz,
    ends_at           timestamptz,
    change            text not null check (change in ('insert', 'update', 'delete')),
    changed_at        timestamptz not null default now()
);
comment on table shop.price_history is 'Every change of shop.price (kept after the price is deleted): the source of lowest_price_30d.';
create index price_history_variant_idx on shop.price_history (variant_id, currency_code, changed_at);
create index price_history_product_idx on shop.price_history (product_id, currency_code, changed_at);

create function shop.record_price_history() returns trigger
language plpgsql as $$
declare
    r shop.price := case when tg_op = 'DELETE' then old else new end;
begin
    insert into shop.price_history (price_id, product_id, variant_id, currency_code, amount,
                                    compare_at_amount, starts_at, ends_at, change)
    values (r.price_id, r.product_id, r.variant_id, r.currency_code,
            case when tg_op = 'DELETE' then null else r.amount end,
            r.compare_at_amount, r.starts_at, r.ends_at, lower(tg_op));
    return null;
end
$$;
create trigger price_history_record after insert or update or delete on shop.price
    for each row execute function shop.record_price_history();
-- Prices that exist before this migration start their history now.
insert into shop.price_history (price_id, product_id, variant_id, currency_code, amount,
                                compare_at_amount, starts_at, ends_at, change)
select price_id, product_id, variant_id, currency_code, amount, compare_at_amount, starts_at, ends_at, 'insert'
from shop.price;

-- ---------------------------------------------------------------- coupons
create table shop.coupon_redemption (
    coupon_redemption_id bigint generated always as identity primary key,
    coupon_id            bigint not null references shop.coupon on delete cascade,
    user_id              uuid references shop.app_user on delete set null,
    order_id             uuid references shop.customer_order on delete set null,
    redeemed_at          timestamptz not null default now(),
    constraint coupon_redemption_order_key unique (coupon_id, order_id)
);
comment on table shop.coupon_redemption is 'One row per use of a coupon; coupon.times_used counts them under the coupon row lock.';
create index coupon_redemption_user_idx on shop.coupon_redemption (coupon_id, user_id);
create index coupon_promotion_idx on shop.coupon (promotion_id);

-- ---------------------------------------------------------------- carts
alter table shop.cart
    add column session_hash     text check (session_hash ~ '^[0-9a-f]{64}$'),
    add column shipping_country char(2) check (shipping_country ~ '^[A-Z]{2}$'),
    add column merged_into      uuid references shop.cart on delete set null;
comment on column shop.cart.session_hash is 'Guest carts: SHA-256 (hex) of the secret session id the client holds; null for user carts.';
create unique index cart_session_hash_key on shop.cart (session_hash) where session_hash is not null;
create unique index cart_one_open_per_user on shop.cart (user_id) where status = 'open' and user_id is not null;

alter table shop.inventory
    add column allow_backorder boolean not null default false;
comment on column shop.inventory.allow_backorder is 'When true, carts may hold more than the available quantity.';

-- ---------------------------------------------------------------- permissions
insert into shop.permission (name, description) values
    ('promotions:write', 'Create, change and delete promotions and coupons');
insert into shop.role_permission (role_id, permission_id)
select r.role_id, p.permission_id
from shop.role r join shop.permission p on p.name = 'promotions:write'
where r.name in ('admin', 'manager');
