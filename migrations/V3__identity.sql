-- V3: identity and access — permissions, refresh tokens, password resets, rate-limit
-- counters, row-level security on customer data, GDPR erasure marker.
--
-- Request roles (created in V1): maef_anon, maef_customer, maef_staff (managers),
-- maef_admin. The API switches to one of them per transaction and sets
-- request.jwt.claims = {"sub": user id, "role": ..., "scope": "perm perm ..."}.

-- ---------------------------------------------------------------- permissions
insert into shop.permission (name, description) values
    ('catalog:read', 'Read the catalog, including inactive products'),
    ('catalog:write', 'Create, change and delete catalog entries'),
    ('media:write', 'Upload media and request derivatives'),
    ('orders:read:own', 'Read own orders'),
    ('orders:read:any', 'Read every order'),
    ('orders:write:any', 'Change any order (status, shipments, refunds)'),
    ('reviews:moderate', 'Approve or reject reviews'),
    ('users:admin', 'List users, change roles and deactivate accounts'),
    ('audit:read', 'Read the audit log'),
    ('jobs:admin', 'Inspect, retry and cancel background jobs');

insert into shop.role_permission (role_id, permission_id)
select r.role_id, p.permission_id
from shop.role r
join shop.permission p on
    r.name = 'admin'
    or (r.name = 'manager' and p.name in ('catalog:read', 'catalog:write', 'media:write', 'orders:read:own',
                                          'orders:read:any', 'orders:write:any', 'reviews:moderate'))
    or (r.name = 'customer' and p.name in ('orders:read:own'));

-- The permissions granted to the current request (the JWT's space-separated scope).
-- Used by policies, so it is created here with the data, not in the reloadable code.
create function shop.current_scopes() returns text[]
language sql stable parallel safe as $$
    select coalesce(string_to_array(current_setting('request.jwt.claims', true)::jsonb ->> 'scope', ' '), '{}')
$$;

create function shop.has_scope(p_scope text) returns boolean
language sql stable parallel safe as $$
    select p_scope = any (shop.current_scopes())
$$;

-- ---------------------------------------------------------------- accounts
alter table shop.app_user
    add column erased_at timestamptz,
    add column last_login_at timestamptz;
comment on column shop.app_user.erased_at is 'Set when personal data was erased on request (GDPR); the row stays for accounting references.';

-- Refresh tokens: opaque random strings; only their SHA-256 is stored. A token is used
-- once: using it marks it used and issues the next one in the same family. Using an
-- already-used token means it was stolen or replayed: the whole family is revoked.
create table shop.refresh_token (
    refresh_token_id bigint generated always as identity primary key,
    token_hash       text not null check (token_hash ~ '^[0-9a-f]{64}$'),
    family_id        uuid not null,
    user_id          uuid not null references shop.app_user on delete cascade,
    issued_at        timestamptz not null default now(),
    expires_at       timestamptz not null,
    used_at          timestamptz,
    revoked_at       timestamptz,
    constraint refresh_token_hash_key unique (token_hash)
);
create index refresh_token_family_idx on shop.refresh_token (family_id);
create index refresh_token_user_idx on shop.refresh_token (user_id) where revoked_at is null;

create table shop.password_reset_token (
    password_reset_token_id bigint generated always as identity primary key,
    token_hash              text not null check (token_hash ~ '^[0-9a-f]{64}$'),
    user_id                 uuid not null references shop.app_user on delete cascade,
    created_at              timestamptz not null default now(),
    expires_at              timestamptz not null,
    used_at                 timestamptz,
    constraint password_reset_token_hash_key unique (token_hash)
);
create index password_reset_token_user_idx on shop.password_reset_token (user_id);

-- Rate-limit counters live in PostgreSQL (not in the API's memory) so every API
-- instance shares them, and UNLOGGED because losing them in a crash only resets the
-- limits: no WAL is written for each login attempt.
create unlogged table shop.rate_limit_counter (
    bucket       text not null,            -- e.g. 'login:ip:203.0.113.7', 'login:email:ada@example.com'
    window_start timestamptz not null,
    hits         integer not null default 0,
    primary key (bucket, window_start)
);

-- ---------------------------------------------------------------- row-level security
-- Customers see and change only their own rows; staff see them per permission. The
-- same rules apply to an HTTP request and to a psql session that sets the role and
-- claims (SECURITY DEFINER api functions, owned by the table owner, bypass RLS and
-- enforce ownership themselves).
grant usage on schema shop to maef_customer, maef_staff, maef_admin;
grant execute on function shop.current_user_id(), shop.current_scopes(), shop.has_scope(text)
    to maef_anon, maef_customer, maef_staff, maef_admin;

alter table shop.address enable row level security;
create policy address_owner on shop.address
    using (user_id = shop.current_user_id())
    with check (user_id = shop.current_user_id());
create policy address_staff_read on shop.address for select
    using (shop.has_scope('orders:read:any'));
grant select, insert, update, delete on shop.address to maef_customer, maef_staff, maef_admin;

alter table shop.cart enable row level security;
create policy cart_owner on shop.cart
    using (user_id = shop.current_user_id())
    with check (user_id = shop.current_user_id());
create policy cart_staff_read on shop.cart for select
    using (shop.has_scope('orders:read:any'));
grant select, insert, update, delete on shop.cart to maef_customer, maef_staff, maef_admin;

alter table shop.cart_item enable row level security;
create policy cart_item_owner on shop.cart_item
    using (exists (select from shop.cart c where c.cart_id = cart_item.cart_id and c.user_id = shop.current_user_id()))
    with check (exists (select from shop.cart c where c.cart_id = cart_item.cart_id and c.user_id = shop.current_user_id()));
create policy cart_item_staff_read on shop.cart_item for select
    using (shop.has_scope('orders:read:any'));
grant select, insert, update, delete on shop.cart_item to maef_customer, maef_staff, maef_admin;

alter table shop.customer_order enable row level security;
create policy customer_order_owner_read on shop.customer_order for select
    using (user_id = shop.current_user_id());
create policy customer_order_staff on shop.customer_order
    using (shop.has_scope('orders:read:any'))
    with check (shop.has_scope('orders:write:any'));
grant select on shop.customer_order to maef_customer;
grant select, insert, update on shop.customer_order to maef_staff, maef_admin;

alter table shop.order_item enable row level security;
create policy order_item_owner_read on shop.order_item for select
    using (exists (select from shop.customer_order o where o.order_id = order_item.order_id and o.user_id = shop.current_user_id()));
create policy order_item_staff on shop.order_item
    using (shop.has_scope('orders:read:any'))
    with check (shop.has_scope('orders:write:any'));
grant select on shop.order_item to maef_customer;
grant select, insert, update on shop.order_item to maef_staff, maef_admin;

alter table shop.shipment enable row level security;
create policy shipment_owner_read on shop.shipment for select
    using (exists (select from shop.customer_order o where o.order_id = shipment.order_id and o.user_id = shop.current_user_id()));
create policy shipment_staff on shop.shipment
    using (shop.has_scope('orders:read:any'))
    with check (shop.has_scope('orders:write:any'));
grant select on shop.shipment to maef_customer;
grant select, insert, update on shop.shipment to maef_staff, maef_admin;

alter table shop.payment enable row level security;
create policy payment_owner_read on shop.payment for select
    using (exists (select from shop.customer_order o where o.order_id = payment.order_id and o.user_id = shop.current_user_id()));
create policy payment_staff on shop.payment
    using (shop.has_scope('orders:read:any'))
    with check (shop.has_scope('orders:write:any'));
grant select on shop.payment to maef_customer;
grant select, insert, update on shop.payment to maef_staff, maef_admin;

alter table shop.refund enable row level security;
create policy refund_owner_read on shop.refund for select
    using (exists (select from shop.payment p join shop.customer_order o using (order_id)
                   where p.payment_id = refund.payment_id and o.user_id = shop.current_user_id()));
create policy refund_staff on shop.refund
    using (shop.has_scope('orders:read:any'))
    with check (shop.has_scope('orders:write:any'));
grant select on shop.refund to maef_customer;
grant select, insert, update on shop.refund to maef_staff, maef_admin;

alter table shop.review enable row level security;
create policy review_public_read on shop.review for select
    using (status = 'approved' or user_id = shop.current_user_id() or shop.has_scope('reviews:moderate'));
create policy review_owner_write on shop.review for insert
    with check (user_id = shop.current_user_id());
create policy review_owner_update on shop.review for update
    using (user_id = shop.current_user_id() or shop.has_scope('reviews:moderate'))
    with check (user_id = shop.current_user_id() or shop.has_scope('reviews:moderate'));
create policy review_owner_delete on shop.review for delete
    using (user_id = shop.current_user_id() or shop.has_scope('reviews:moderate'));
grant select on shop.review to maef_anon;
grant select, insert, update, delete on shop.review to maef_customer, maef_staff, maef_admin;
grant usage on schema shop to maef_anon;
