-- V1: the whole data model of maef, in the private schema `shop`.
--
-- Conventions (../shared/STYLE.md):
--   * singular table names; `<table>_id` foreign keys, except `user_id` (-> app_user)
--     and `order_id` (-> customer_order), shortened because they are everywhere;
--   * `user` and `order` are reserved words in SQL, so the tables are `app_user` and
--     `customer_order`: nobody has to remember to quote them in psql;
--   * money is bigint minor units + a currency code referencing shop.currency;
--   * created_at / updated_at are kept by one trigger helper, shop.set_updated_at();
--   * nothing here depends on schema api/report or on extension maef (principle 3).

create extension if not exists btree_gist;  -- exclusion constraints on price windows
create extension if not exists pg_trgm;     -- typo-tolerant search (catalog issue)
create extension if not exists unaccent;    -- accent-insensitive search (catalog issue)

create schema if not exists shop;
comment on schema shop is 'maef data: tables, indexes, constraints and the triggers that keep data consistent (owned by migrations).';

-- The database roles the API switches to per request (set_config('role', ...)).
-- Roles are cluster-wide: create them only when missing.
do $$
declare
    r text;
begin
    foreach r in array array['maef_anon', 'maef_customer', 'maef_staff', 'maef_admin'] loop
        if not exists (select from pg_roles where rolname = r) then
            execute format('create role %I nologin', r);
        end if;
        execute format('grant %I to %I', r, current_user);
    end loop;
end
$$;

-- Keeps updated_at current on every UPDATE.
create function shop.set_updated_at() returns trigger
language plpgsql as $$
begin
    new.updated_at := now();
    return new;
end
$$;

-- The id of the user making the request, from the JWT claims the API sets per
-- transaction; null for anonymous callers. Used by row-level security policies.
create function shop.current_user_id() returns uuid
language sql stable parallel safe as $$
    select nullif(current_setting('request.jwt.claims', true)::jsonb ->> 'sub', '')::uuid
$$;

-- ---------------------------------------------------------------- reference data
create table shop.currency (
    code     char(3) primary key check (code ~ '^[A-Z]{3}$'),
    exponent smallint not null check (exponent between 0 and 4),
    name     text not null
);
comment on table shop.currency is 'ISO 4217 currencies; exponent = number of minor-unit decimals (XOF 0, EUR 2).';
insert into shop.currency (code, exponent, name) values
    ('XOF', 0, 'West African CFA franc'),
    ('EUR', 2, 'Euro'),
    ('USD', 2, 'US dollar'),
    ('GBP', 2, 'Pound sterling'),
    ('NGN', 2, 'Nigerian naira'),
    ('GHS', 2, 'Ghanaian cedi');

-- ---------------------------------------------------------------- users & RBAC
create table shop.app_user (
    user_id       uuid primary key default gen_random_uuid(),
    email         text not null check (email = lower(btrim(email)) and email like '%_@_%'),
    username      text check (length(username) between 1 and 64),
    password_hash text,
    is_active     boolean not null default true,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now()
);
comment on table shop.app_user is 'Accounts. email is stored normalised (lower-case, trimmed), so it is unique case-insensitively.';
create unique index app_user_email_key on shop.app_user (lower(email));
create unique index app_user_username_key on shop.app_user (lower(username)) where username is not null;
create trigger app_user_updated_at before update on shop.app_user
    for each row execute function shop.set_updated_at();

create table shop.role (
    role_id     bigint generated always as identity primary key,
    name        text not null unique,
    description text not null default ''
);
insert into shop.role (name, description) values
    ('admin', 'Everything, including users and roles'),
    ('manager', 'Catalog, orders and media'),
    ('customer', 'A registered shopper');

create table shop.permission (
    permission_id bigint generated always as identity primary key,
    name          text not null unique check (name ~ '^[a-z_]+(:[a-z_]+)+$'),
    description   text not null default ''
);

create table shop.user_role (
    user_id uuid not null references shop.app_user on delete cascade,
    role_id bigint not null references shop.role on delete cascade,
    primary key (user_id, role_id)
);
create index user_role_role_id_idx on shop.user_role (role_id);

create table shop.role_permission (
    role_id       bigint not null references shop.role on delete cascade,
    permission_id bigint not null references shop.permission on delete cascade,
    primary key (role_id, permission_id)
);

-- ---------------------------------------------------------------- catalog
create table shop.category (
    category_id bigint generated always as identity primary key,
    parent_id   bigint references shop.category on delete restrict,
    name        text not null check (length(name) between 1 and 200),
    slug        text not null check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    description text not null default '',
    position    integer not null default 0,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now(),
    constraint category_slug_key unique (slug),
    constraint category_not_own_parent check (parent_id <> category_id)
);
create index category_parent_id_idx on shop.category (parent_id, position);
create trigger category_updated_at before update on shop.category
    for each row execute function shop.set_updated_at();

create table shop.product (
    product_id       bigint generated always as identity primary key,
    category_id      bigint references shop.category on delete set null,
    sku_root         text not null check (length(sku_root) between 1 and 64),
    title            text not null check (length(title) between 1 and 300),
    slug             text not null check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    description      text not null default '',
    long_description text not null default '',
    brand            text,
    specs            jsonb not null default '{}' check (jsonb_typeof(specs) = 'object'),
    is_active        boolean not null default true,
    is_featured      boolean not null default false,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    constraint product_slug_key unique (slug),
    constraint product_sku_root_key unique (sku_root)
);
create index product_category_id_idx on shop.product (category_id);
create index product_active_id_idx on shop.product (product_id) where is_active;
create index product_featured_idx on shop.product (created_at desc) where is_active and is_featured;
create trigger product_updated_at before update on shop.product
    for each row execute function shop.set_updated_at();

create table shop.product_variant (
    variant_id  bigint generated always as identity primary key,
    product_id  bigint not null references shop.product on delete cascade,
    name        text not null check (length(name) between 1 and 200),
    sku         text not null check (length(sku) between 1 and 64),
    attributes  jsonb not null default '{}' check (jsonb_typeof(attributes) = 'object'),
    position    integer not null default 0,
    is_active   boolean not null default true,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now(),
    constraint product_variant_sku_key unique (sku),
    constraint product_variant_attributes_key unique (product_id, attributes)
);
create index product_variant_product_id_idx on shop.product_variant (product_id, position);
create trigger product_variant_updated_at before update on shop.product_variant
    for each row execute function shop.set_updated_at();

-- A price belongs to a variant or (as the default for all its variants) to a product.
-- Windows [starts_at, ends_at) of one target and currency never overlap; a null bound
-- is open.
create table shop.price (
    price_id          bigint generated always as identity primary key,
    product_id        bigint references shop.product on delete cascade,
    variant_id        bigint references shop.product_variant on delete cascade,
    currency_code     char(3) not null references shop.currency,
    amount            bigint not null check (amount >= 0),
    compare_at_amount bigint check (compare_at_amount > amount),
    starts_at         timestamptz,
    ends_at           timestamptz,
    created_at        timestamptz not null default now(),
    constraint price_one_target check (num_nonnulls(product_id, variant_id) = 1),
    constraint price_window_valid check (starts_at < ends_at),
    constraint price_product_window_excl exclude using gist (
        product_id with =, currency_code with =, tstzrange(starts_at, ends_at) with &&
    ) where (variant_id is null),
    constraint price_variant_window_excl exclude using gist (
        variant_id with =, currency_code with =, tstzrange(starts_at, ends_at) with &&
    ) where (variant_id is not null)
);
comment on table shop.price is 'Prices in minor units; variant price overrides product price; windows [starts_at, ends_at) never overlap per target and currency.';
create index price_window_idx on shop.price (starts_at, ends_at);
create index price_product_id_idx on shop.price (product_id) where product_id is not null;
create index price_variant_id_idx on shop.price (variant_id) where variant_id is not null;

create table shop.inventory (
    variant_id          bigint primary key references shop.product_variant on delete cascade,
    qty_on_hand         integer not null default 0 check (qty_on_hand >= 0),
    qty_reserved        integer not null default 0,
    low_stock_threshold integer not null default 5 check (low_stock_threshold >= 0),
    updated_at          timestamptz not null default now(),
    constraint inventory_reserved_within_on_hand check (qty_reserved between 0 and qty_on_hand)
);
create trigger inventory_updated_at before update on shop.inventory
    for each row execute function shop.set_updated_at();

create table shop.tag (
    tag_id bigint generated always as identity primary key,
    name   text not null check (length(name) between 1 and 100),
    slug   text not null check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    constraint tag_slug_key unique (slug)
);

create table shop.product_tag (
    product_id bigint not null references shop.product on delete cascade,
    tag_id     bigint not null references shop.tag on delete cascade,
    primary key (product_id, tag_id)
);
create index product_tag_tag_id_idx on shop.product_tag (tag_id);

-- ---------------------------------------------------------------- media
-- Bytes live in PostgreSQL: small files in `data` (bytea, STORAGE EXTERNAL: already
-- compressed, and a range can be read without detoasting from the start), large ones
-- (videos) in a large object `lo_oid`. Exactly one of the two.
create table shop.media_asset (
    asset_id     uuid primary key default gen_random_uuid(),
    sha256       text not null check (sha256 ~ '^[0-9a-f]{64}$'),
    filename     text not null check (length(filename) between 1 and 255),
    mime_type    text not null,
    size_bytes   bigint not null check (size_bytes > 0),
    data         bytea,
    lo_oid       oid,
    width        integer check (width > 0),
    height       integer check (height > 0),
    duration_sec numeric(10, 3) check (duration_sec >= 0),
    owner_id     uuid references shop.app_user on delete set null,
    created_at   timestamptz not null default now(),
    constraint media_asset_sha256_key unique (sha256),
    constraint media_asset_one_storage check (num_nonnulls(data, lo_oid) = 1)
);
alter table shop.media_asset alter column data set storage external;
create index media_asset_owner_id_idx on shop.media_asset (owner_id);

-- A large object is not owned by the row pointing at it: unlink it with the row.
create function shop.unlink_media_large_object() returns trigger
language plpgsql as $$
begin
    if old.lo_oid is not null then
        perform lo_unlink(old.lo_oid);
    end if;
    return old;
end
$$;
create trigger media_asset_unlink_lo after delete on shop.media_asset
    for each row execute function shop.unlink_media_large_object();

create table shop.media_derivative (
    derivative_id bigint generated always as identity primary key,
    asset_id      uuid not null references shop.media_asset on delete cascade,
    kind          text not null check (kind in ('thumb', 'medium', 'webp')),
    mime_type     text not null,
    size_bytes    bigint not null check (size_bytes > 0),
    data          bytea not null,
    width         integer not null check (width > 0),
    height        integer not null check (height > 0),
    created_at    timestamptz not null default now(),
    constraint media_derivative_asset_kind_key unique (asset_id, kind)
);
alter table shop.media_derivative alter column data set storage external;

create table shop.product_media (
    product_id bigint not null references shop.product on delete cascade,
    asset_id   uuid not null references shop.media_asset on delete cascade,
    is_primary boolean not null default false,
    position   integer not null default 0,
    alt        text not null default '',
    primary key (product_id, asset_id)
);
create unique index product_media_one_primary_key on shop.product_media (product_id) where is_primary;
create index product_media_asset_id_idx on shop.product_media (asset_id);

-- ---------------------------------------------------------------- customers
create table shop.address (
    address_id  bigint generated always as identity primary key,
    user_id     uuid not null references shop.app_user on delete cascade,
    full_name   text not null,
    line1       text not null,
    line2       text not null default '',
    city        text not null,
    region      text not null default '',
    postal_code text not null default '',
    country     char(2) not null check (country ~ '^[A-Z]{2}$'),
    phone       text not null default '',
    is_default  boolean not null default false,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now()
);
create index address_user_id_idx on shop.address (user_id);
create trigger address_updated_at before update on shop.address
    for each row execute function shop.set_updated_at();

create table shop.cart (
    cart_id       uuid primary key default gen_random_uuid(),
    user_id       uuid references shop.app_user on delete cascade,
    currency_code char(3) not null references shop.currency,
    status        text not null default 'open' check (status in ('open', 'converted', 'abandoned')),
    coupon_code   text,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    expires_at    timestamptz not null default now() + interval '30 days'
);
create index cart_user_id_idx on shop.cart (user_id) where status = 'open';
create trigger cart_updated_at before update on shop.cart
    for each row execute function shop.set_updated_at();

create table shop.cart_item (
    cart_item_id bigint generated always as identity primary key,
    cart_id      uuid not null references shop.cart on delete cascade,
    variant_id   bigint not null references shop.product_variant on delete cascade,
    quantity     integer not null check (quantity between 1 and 10000),
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now(),
    constraint cart_item_cart_variant_key unique (cart_id, variant_id)
);
create trigger cart_item_updated_at before update on shop.cart_item
    for each row execute function shop.set_updated_at();

-- ---------------------------------------------------------------- orders
create table shop.customer_order (
    order_id         uuid primary key default gen_random_uuid(),
    order_number     bigint generated always as identity unique,
    user_id          uuid references shop.app_user on delete set null,
    cart_id          uuid references shop.cart on delete set null,
    email            text not null,
    status           text not null default 'pending' check (status in
                       ('pending', 'awaiting_payment', 'paid', 'fulfilled', 'shipped',
                        'delivered', 'cancelled', 'refunded')),
    currency_code    char(3) not null references shop.currency,
    subtotal_amount  bigint not null default 0 check (subtotal_amount >= 0),
    discount_amount  bigint not null default 0 check (discount_amount >= 0),
    shipping_amount  bigint not null default 0 check (shipping_amount >= 0),
    tax_amount       bigint not null default 0 check (tax_amount >= 0),
    total_amount     bigint not null default 0 check (total_amount >= 0),
    shipping_address jsonb,
    billing_address  jsonb,
    placed_at        timestamptz,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    constraint customer_order_total_adds_up check (
        total_amount = subtotal_amount - discount_amount + shipping_amount + tax_amount)
);
comment on table shop.customer_order is 'Orders ("order" is a reserved word). Amounts in minor units of currency_code.';
create index customer_order_status_idx on shop.customer_order (status);
create index customer_order_user_id_idx on shop.customer_order (user_id, created_at desc);
create trigger customer_order_updated_at before update on shop.customer_order
    for each row execute function shop.set_updated_at();

create table shop.order_item (
    order_item_id   bigint generated always as identity primary key,
    order_id        uuid not null references shop.customer_order on delete cascade,
    variant_id      bigint references shop.product_variant on delete set null,
    product_title   text not null,
    variant_name    text not null,
    sku             text not null,
    quantity        integer not null check (quantity > 0),
    unit_amount     bigint not null check (unit_amount >= 0),
    discount_amount bigint not null default 0 check (discount_amount >= 0),
    tax_amount      bigint not null default 0 check (tax_amount >= 0),
    total_amount    bigint not null check (total_amount >= 0)
);
create index order_item_order_id_idx on shop.order_item (order_id);

create table shop.shipment (
    shipment_id     bigint generated always as identity primary key,
    order_id        uuid not null references shop.customer_order on delete cascade,
    carrier         text not null default '',
    tracking_number text,
    status          text not null default 'pending' check (status in
                      ('pending', 'shipped', 'in_transit', 'delivered', 'returned')),
    address         jsonb,
    shipped_at      timestamptz,
    delivered_at    timestamptz,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);
create index shipment_order_id_idx on shop.shipment (order_id);
create trigger shipment_updated_at before update on shop.shipment
    for each row execute function shop.set_updated_at();

create table shop.payment (
    payment_id    uuid primary key default gen_random_uuid(),
    order_id      uuid not null references shop.customer_order on delete restrict,
    provider      text not null check (provider in ('stripe', 'fedapay', 'paystack')),
    provider_ref  text,
    status        text not null default 'pending' check (status in
                    ('pending', 'authorized', 'succeeded', 'failed', 'cancelled')),
    amount        bigint not null check (amount > 0),
    currency_code char(3) not null references shop.currency,
    raw           jsonb not null default '{}',
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    constraint payment_provider_ref_key unique (provider, provider_ref)
);
create index payment_order_id_idx on shop.payment (order_id);
create trigger payment_updated_at before update on shop.payment
    for each row execute function shop.set_updated_at();

create table shop.refund (
    refund_id     bigint generated always as identity primary key,
    payment_id    uuid not null references shop.payment on delete restrict,
    amount        bigint not null check (amount > 0),
    currency_code char(3) not null references shop.currency,
    reason        text not null default '',
    status        text not null default 'pending' check (status in ('pending', 'succeeded', 'failed')),
    provider_ref  text,
    created_at    timestamptz not null default now()
);
create index refund_payment_id_idx on shop.refund (payment_id);

-- ---------------------------------------------------------------- promotions & reviews
create table shop.promotion (
    promotion_id bigint generated always as identity primary key,
    name         text not null,
    rules        jsonb not null default '{}' check (jsonb_typeof(rules) = 'object'),
    priority     integer not null default 0,
    stacking     text not null default 'exclusive' check (stacking in ('exclusive', 'combinable', 'best_of')),
    starts_at    timestamptz,
    ends_at      timestamptz,
    is_active    boolean not null default true,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now(),
    constraint promotion_window_valid check (starts_at < ends_at)
);
create trigger promotion_updated_at before update on shop.promotion
    for each row execute function shop.set_updated_at();

create table shop.coupon (
    coupon_id          bigint generated always as identity primary key,
    promotion_id       bigint not null references shop.promotion on delete cascade,
    code               text not null check (length(code) between 1 and 64),
    starts_at          timestamptz,
    ends_at            timestamptz,
    is_active          boolean not null default true,
    usage_limit        integer check (usage_limit > 0),
    per_customer_limit integer check (per_customer_limit > 0),
    times_used         integer not null default 0 check (times_used >= 0),
    created_at         timestamptz not null default now(),
    constraint coupon_within_usage_limit check (usage_limit is null or times_used <= usage_limit),
    constraint coupon_window_valid check (starts_at < ends_at)
);
create unique index coupon_code_key on shop.coupon (lower(code));

create table shop.review (
    review_id  bigint generated always as identity primary key,
    product_id bigint not null references shop.product on delete cascade,
    user_id    uuid references shop.app_user on delete set null,
    rating     smallint not null check (rating between 1 and 5),
    title      text not null default '',
    body       text not null default '',
    status     text not null default 'pending' check (status in ('pending', 'approved', 'rejected')),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint review_product_user_key unique (product_id, user_id)
);
create index review_product_id_idx on shop.review (product_id) where status = 'approved';
create trigger review_updated_at before update on shop.review
    for each row execute function shop.set_updated_at();

-- ---------------------------------------------------------------- social
create table shop.story (
    story_id          bigint generated always as identity primary key,
    platform          text not null check (platform in ('instagram')),
    external_id       text not null,
    media_type        text not null check (media_type in ('IMAGE', 'VIDEO', 'CAROUSEL_ALBUM')),
    caption           text not null default '',
    posted_at         timestamptz not null,
    permalink         text,
    linked_product_id bigint references shop.product on delete set null,
    asset_id          uuid references shop.media_asset on delete set null,
    created_at        timestamptz not null default now(),
    constraint story_platform_external_id_key unique (platform, external_id)
);
create index story_platform_posted_at_idx on shop.story (platform, posted_at desc);

create table shop.story_product_link (
    story_id   bigint not null references shop.story on delete cascade,
    product_id bigint not null references shop.product on delete cascade,
    created_at timestamptz not null default now(),
    primary key (story_id, product_id)
);

create table shop.oauth_token (
    oauth_token_id bigint generated always as identity primary key,
    provider       text not null check (provider in ('instagram')),
    account_id     text not null,
    access_token   text not null,
    refresh_token  text,
    scopes         text[] not null default '{}',
    expires_at     timestamptz,
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now(),
    constraint oauth_token_provider_account_key unique (provider, account_id)
);
create trigger oauth_token_updated_at before update on shop.oauth_token
    for each row execute function shop.set_updated_at();

-- ---------------------------------------------------------------- jobs, audit, idempotency
create table shop.job_queue (
    job_id       bigint generated always as identity primary key,
    queue        text not null default 'default' check (length(queue) between 1 and 64),
    kind         text not null check (kind ~ '^[a-z][a-z0-9_]*$'),
    payload      jsonb not null default '{}',
    priority     smallint not null default 0,
    status       text not null default 'pending' check (status in
                   ('pending', 'running', 'completed', 'discarded', 'cancelled')),
    run_at       timestamptz not null default now(),
    attempt      integer not null default 0 check (attempt >= 0),
    max_attempts integer not null default 25 check (max_attempts > 0),
    unique_key   text,
    locked_by    text,
    locked_until timestamptz,
    last_error   text,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now(),
    finished_at  timestamptz,
    constraint job_queue_lease_consistent check ((status = 'running') = (locked_until is not null))
);
comment on table shop.job_queue is 'Background jobs. attempt is the fencing token of the current lease.';
-- Small partial index the claim query walks: only jobs waiting to run.
create index job_queue_ready_idx on shop.job_queue (queue, priority desc, run_at, job_id) where status = 'pending';
create index job_queue_lease_idx on shop.job_queue (locked_until) where status = 'running';
create unique index job_queue_unique_key on shop.job_queue (kind, unique_key)
    where unique_key is not null and status in ('pending', 'running');
create trigger job_queue_updated_at before update on shop.job_queue
    for each row execute function shop.set_updated_at();

create table shop.job_attempt (
    job_attempt_id bigint generated always as identity primary key,
    job_id         bigint not null references shop.job_queue on delete cascade,
    attempt        integer not null check (attempt > 0),
    worker         text not null,
    started_at     timestamptz not null default now(),
    finished_at    timestamptz,
    ok             boolean,
    error          text,
    constraint job_attempt_job_attempt_key unique (job_id, attempt)
);

create table shop.audit_log (
    audit_log_id bigint generated always as identity primary key,
    at           timestamptz not null default now(),
    actor_id     uuid references shop.app_user on delete set null,
    action       text not null,
    entity       text not null,
    entity_id    text,
    data         jsonb not null default '{}',
    request_id   text
);
create index audit_log_entity_idx on shop.audit_log (entity, entity_id, at desc);
create index audit_log_actor_idx on shop.audit_log (actor_id, at desc);

create table shop.idempotency_key (
    scope         text not null,           -- user id, or 'anon:<client>' for anonymous callers
    key           text not null check (length(key) between 1 and 255),
    method        text not null,
    path          text not null,
    request_hash  text not null,
    status_code   smallint,
    response_body bytea,
    created_at    timestamptz not null default now(),
    expires_at    timestamptz not null default now() + interval '24 hours',
    primary key (scope, key)
);
create index idempotency_key_expires_idx on shop.idempotency_key (expires_at);
