-- V27: orders — the order's three state machines (status, payment_status,
-- fulfillment_status) enforced by one table of allowed transitions and a trigger, the
-- order timeline (shop.order_event, written by triggers so no change escapes it),
-- readable order numbers, guest access tokens, the copy of the quote each order keeps
-- (lines with labels, unit prices, allocated discounts and taxes; totals; shipping
-- method and its tax), and reservation expiry.
--
-- Lock order of every transaction that touches an order and stock (checkout, payment,
-- expiry, cancellation), so that none can deadlock another:
--   idempotency key (advisory) → order row → cart row → coupon row
--   → inventory rows in (product_id, variant_id) order → their stock levels.

-- ---------------------------------------------------------------- caller identity
-- A session that once set request.jwt.claims for a transaction (SET LOCAL, as every API
-- request and psql test does) reads it back as '' afterwards, not null: the V1 and V3
-- helpers then failed with "invalid input syntax for type json" in any later statement
-- of that session that runs a trigger or policy using them (the order timeline's
-- trigger does, as the worker and DBAs run it). An empty setting now means anonymous.
create or replace function shop.current_user_id() returns uuid
language sql stable parallel safe as $$
    select nullif(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub', '')::uuid
$$;
create or replace function shop.current_scopes() returns text[]
language sql stable parallel safe as $$
    select coalesce(string_to_array(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'scope', ' '), '{}')
$$;

-- ---------------------------------------------------------------- order numbers
-- "2026-000123": the year the order was placed and a store-wide counter (a sequence:
-- no hot counter row, never reused; a checkout that rolls back leaves a gap). Six
-- digits at least, so numbers of a year sort as text; order ids stay random UUIDs.
create sequence shop.order_number_seq;
select setval('shop.order_number_seq', greatest((select max(order_number) from shop.customer_order), 0) + 1, false);

create function shop.next_order_number() returns text
language sql volatile as $$
    select to_char(now() at time zone 'UTC', 'YYYY') || '-' || lpad(nextval('shop.order_number_seq')::text, 6, '0')
$$;
comment on function shop.next_order_number() is 'The next readable order number, e.g. 2026-000123.';

alter table shop.customer_order alter column order_number drop identity if exists;
alter table shop.customer_order
    alter column order_number type text
        using to_char(created_at at time zone 'UTC', 'YYYY') || '-' || lpad(order_number::text, 6, '0'),
    alter column order_number set default shop.next_order_number(),
    alter column order_number set not null;

-- ---------------------------------------------------------------- the state machines
alter table shop.customer_order drop constraint customer_order_status_check;
update shop.customer_order set status = case status
    when 'pending' then 'awaiting_payment' when 'shipped' then 'fulfilled' when 'refunded' then 'paid' else status end;
alter table shop.customer_order
    alter column status set default 'awaiting_payment',
    add constraint customer_order_status_check check (status in
        ('awaiting_payment', 'confirmed', 'paid', 'partially_fulfilled', 'fulfilled', 'delivered', 'cancelled', 'expired')),
    add column payment_status text not null default 'none' check (payment_status in
        ('none', 'pending', 'paid', 'partially_refunded', 'refunded')),
    add column fulfillment_status text not null default 'unfulfilled' check (fulfillment_status in
        ('unfulfilled', 'partially_fulfilled', 'fulfilled', 'delivered'));
update shop.customer_order set payment_status = 'paid' where status in ('paid', 'fulfilled', 'delivered');
update shop.customer_order set fulfillment_status = status where status in ('fulfilled', 'delivered');
alter table shop.customer_order
    -- The headline status mirrors fulfilment once it has started; before, nothing ships.
    add constraint customer_order_status_mirrors_fulfillment check (
        case when status in ('partially_fulfilled', 'fulfilled', 'delivered') then fulfillment_status = status
             else fulfillment_status = 'unfulfilled' end),
    add constraint customer_order_paid_has_payment check (
        status <> 'paid' or payment_status in ('paid', 'partially_refunded', 'refunded'));
comment on column shop.customer_order.status is
    'The order''s life: awaiting_payment → paid (or confirmed: payment on delivery) → partially_fulfilled → fulfilled → delivered; cancelled, expired. Transitions: shop.order_transition.';
comment on column shop.customer_order.payment_status is 'none → pending → paid → partially_refunded → refunded (shop.order_transition).';
comment on column shop.customer_order.fulfillment_status is 'unfulfilled → partially_fulfilled → fulfilled → delivered (shop.order_transition).';

-- The one place allowed transitions live. from_state null: a state an order may be
-- created in.
create table shop.order_transition (
    machine    text not null check (machine in ('status', 'payment_status', 'fulfillment_status')),
    from_state text,
    to_state   text not null,
    constraint order_transition_key unique nulls not distinct (machine, from_state, to_state)
);
comment on table shop.order_transition is
    'Allowed order state changes per machine (status, payment_status, fulfillment_status); from_state null = an initial state. Enforced by the customer_order_check_transition trigger.';
insert into shop.order_transition (machine, from_state, to_state) values
    ('status', null, 'awaiting_payment'),
    ('status', null, 'confirmed'),
    ('status', 'awaiting_payment', 'paid'),
    ('status', 'awaiting_payment', 'confirmed'),   -- cash on delivery: reservations stop expiring
    ('status', 'awaiting_payment', 'cancelled'),
    ('status', 'awaiting_payment', 'expired'),
    ('status', 'confirmed', 'paid'),
    ('status', 'confirmed', 'partially_fulfilled'), -- cash on delivery ships before it is paid
    ('status', 'confirmed', 'fulfilled'),
    ('status', 'confirmed', 'cancelled'),
    ('status', 'paid', 'partially_fulfilled'),
    ('status', 'paid', 'fulfilled'),
    ('status', 'partially_fulfilled', 'fulfilled'),
    ('status', 'fulfilled', 'delivered'),
    ('payment_status', null, 'none'),
    ('payment_status', null, 'pending'),
    ('payment_status', 'none', 'pending'),
    ('payment_status', 'none', 'paid'),
    ('payment_status', 'pending', 'none'),          -- a payment attempt failed
    ('payment_status', 'pending', 'paid'),
    ('payment_status', 'paid', 'partially_refunded'),
    ('payment_status', 'paid', 'refunded'),
    ('payment_status', 'partially_refunded', 'refunded'),
    ('fulfillment_status', null, 'unfulfilled'),
    ('fulfillment_status', 'unfulfilled', 'partially_fulfilled'),
    ('fulfillment_status', 'unfulfilled', 'fulfilled'),
    ('fulfillment_status', 'partially_fulfilled', 'fulfilled'),
    ('fulfillment_status', 'fulfilled', 'delivered');

-- Raises MA409 order_transition_invalid naming the machine, from and to.
create function shop.order_transition_refuse(p_machine text, p_from text, p_to text) returns void
language plpgsql as $$
begin
    if not exists (select from shop.order_transition t
                   where t.machine = p_machine and t.from_state is not distinct from p_from and t.to_state = p_to) then
        raise exception using errcode = 'MA409', constraint = 'order_transition_invalid',
            message = case when p_from is null
                           then format('an order cannot be created with %s %s', p_machine, p_to)
                           else format('an order cannot go from %s %s to %s', p_machine, p_from, p_to) end,
            detail = json_build_object('machine', p_machine, 'from', p_from, 'to', p_to)::text;
    end if;
end
$$;

create function shop.customer_order_check_transition() returns trigger
language plpgsql as $$
begin
    if tg_op = 'INSERT' then
        perform shop.order_transition_refuse('status', null, new.status);
        perform shop.order_transition_refuse('payment_status', null, new.payment_status);
        perform shop.order_transition_refuse('fulfillment_status', null, new.fulfillment_status);
        return new;
    end if;
    if new.status is distinct from old.status then
        perform shop.order_transition_refuse('status', old.status, new.status);
    end if;
    if new.payment_status is distinct from old.payment_status then
        perform shop.order_transition_refuse('payment_status', old.payment_status, new.payment_status);
    end if;
    if new.fulfillment_status is distinct from old.fulfillment_status then
        perform shop.order_transition_refuse('fulfillment_status', old.fulfillment_status, new.fulfillment_status);
    end if;
    return new;
end
$$;
create trigger customer_order_check_transition before insert or update of status, payment_status, fulfillment_status
    on shop.customer_order for each row execute function shop.customer_order_check_transition();

-- ---------------------------------------------------------------- the timeline
create table shop.order_event (
    order_event_id bigint generated always as identity primary key,
    order_id       uuid not null references shop.customer_order on delete cascade,
    kind           text not null check (kind in ('placed', 'status', 'payment_status', 'fulfillment_status', 'note')),
    from_state     text,
    to_state       text,
    note           text not null default '' check (length(note) <= 2000),
    is_internal    boolean not null default false,
    actor_id       uuid references shop.app_user on delete set null,
    created_at     timestamptz not null default now()
);
comment on table shop.order_event is
    'An order''s timeline: placed, each state change (who, when, from, to, note) and notes. is_internal: a staff note the customer does not see.';
create index order_event_order_idx on shop.order_event (order_id, order_event_id);

-- Every state change writes its event, whoever makes it (the SQL API, the worker, a DBA
-- in psql). A function may say why in the transaction-local setting maef.order_note.
create function shop.customer_order_record_event() returns trigger
language plpgsql as $$
declare
    v_note text := coalesce(current_setting('maef.order_note', true), '');
begin
    if tg_op = 'INSERT' then
        insert into shop.order_event (order_id, kind, to_state, note, actor_id)
        values (new.order_id, 'placed', new.status, v_note, shop.current_user_id());
        return null;
    end if;
    insert into shop.order_event (order_id, kind, from_state, to_state, note, actor_id)
    select new.order_id, c.kind, c.old_state, c.new_state, v_note, shop.current_user_id()
    from (values ('status', old.status, new.status),
                 ('payment_status', old.payment_status, new.payment_status),
                 ('fulfillment_status', old.fulfillment_status, new.fulfillment_status)) c(kind, old_state, new_state)
    where c.old_state is distinct from c.new_state;
    return null;
end
$$;
create trigger customer_order_record_event after insert or update of status, payment_status, fulfillment_status
    on shop.customer_order for each row execute function shop.customer_order_record_event();

-- ---------------------------------------------------------------- what an order keeps
alter table shop.customer_order
    add column prices_include_tax     boolean not null default false,
    add column shipping_tax_amount    bigint not null default 0 check (shipping_tax_amount >= 0),
    -- No foreign key: every order would lock the same few method rows (FOR KEY SHARE)
    -- at insert; the copy in shipping_method is what the order keeps.
    add column shipping_method_id     bigint,
    add column shipping_method        jsonb,
    add column coupon_id              bigint references shop.coupon on delete set null,
    add column coupon_code            text,
    add column promotions             jsonb not null default '[]' check (jsonb_typeof(promotions) = 'array'),
    add column customer_note          text not null default '' check (length(customer_note) <= 1000),
    add column access_token_hash      text check (access_token_hash ~ '^[0-9a-f]{64}$'),
    add column reservation_expires_at timestamptz,
    drop constraint customer_order_total_adds_up,
    -- With tax-inclusive prices the tax is inside the amounts, not added to them.
    add constraint customer_order_total_adds_up check (
        total_amount = subtotal_amount - discount_amount + shipping_amount
                       + case when prices_include_tax then 0 else tax_amount end),
    add constraint customer_order_shipping_tax_within_tax check (shipping_tax_amount <= tax_amount);
comment on column shop.customer_order.shipping_amount is 'What the customer pays for shipping, after shipping discounts.';
comment on column shop.customer_order.tax_amount is 'All tax: lines and shipping (included in the amounts when prices_include_tax).';
comment on column shop.customer_order.access_token_hash is 'Guest orders: SHA-256 (hex) of the secret token returned once at checkout.';
comment on column shop.customer_order.reservation_expires_at is 'Until when an unpaid order holds its stock; null once paid, confirmed or closed.';
create index customer_order_expiry_idx on shop.customer_order (reservation_expires_at) where status = 'awaiting_payment';
create index customer_order_user_keyset_idx on shop.customer_order (user_id, created_at desc, order_id desc);
create index customer_order_keyset_idx on shop.customer_order (created_at desc, order_id desc);
create index customer_order_payment_status_idx on shop.customer_order (payment_status);
-- Staff search by e-mail or name (q=): trigrams on both.
create index customer_order_search_idx on shop.customer_order using gin ((
    lower(email || ' ' || coalesce(shipping_address ->> 'full_name', '') || ' '
          || coalesce(billing_address ->> 'full_name', ''))) gin_trgm_ops);

alter table shop.order_item
    add column product_id           bigint,  -- a copy, like the title: no foreign key (a hot product's row)
    add column product_slug         text not null default '',
    add column compare_at_amount    bigint check (compare_at_amount >= 0),
    add column subtotal_amount      bigint,
    add column discounts            jsonb not null default '[]' check (jsonb_typeof(discounts) = 'array'),
    add column tax_rate_bp          integer not null default 0 check (tax_rate_bp between 0 and 10000),
    add column backordered_quantity integer not null default 0;
update shop.order_item set subtotal_amount = quantity * unit_amount;
alter table shop.order_item
    alter column subtotal_amount set not null,
    add constraint order_item_subtotal_adds_up check (subtotal_amount = quantity * unit_amount),
    add constraint order_item_total_adds_up check (total_amount = subtotal_amount - discount_amount),
    add constraint order_item_backordered_range check (backordered_quantity between 0 and quantity);
comment on column shop.order_item.discounts is 'The discounts allocated to this line by the quote: [{promotion_id, name, amount}].';
comment on column shop.order_item.backordered_quantity is 'Units reserved beyond the stock on hand (backorder allowed): they ship when stock arrives.';

-- ---------------------------------------------------------------- row-level security
alter table shop.order_event enable row level security;
create policy order_event_owner_read on shop.order_event for select
    using (not is_internal and exists (select from shop.customer_order o
                                       where o.order_id = order_event.order_id and o.user_id = shop.current_user_id()));
create policy order_event_staff on shop.order_event
    using (shop.has_scope('orders:read:any'))
    with check (shop.has_scope('orders:write:any'));
grant select on shop.order_event to maef_customer;
grant select, insert on shop.order_event to maef_staff, maef_admin;

alter table shop.stock_reservation enable row level security;
create policy stock_reservation_staff_read on shop.stock_reservation for select
    using (shop.has_scope('orders:read:any'));
grant select on shop.stock_reservation to maef_staff, maef_admin;

-- ---------------------------------------------------------------- popular products
-- Units sold now means units of paid orders (cash on delivery counts once paid).
drop materialized view shop.popular_products;
create materialized view shop.popular_products as
select v.product_id, sum(oi.quantity)::bigint as units_sold
from shop.order_item oi
join shop.customer_order o using (order_id)
join shop.product_variant v using (variant_id)
where o.payment_status in ('paid', 'partially_refunded')
  and o.placed_at >= now() - interval '30 days'
group by v.product_id;
create unique index popular_products_product_idx on shop.popular_products (product_id);

-- ---------------------------------------------------------------- expiry job
update shop.job_kind set description =
    'Expires unpaid orders past their reservation time (CHECKOUT_RESERVATION_TTL): stock released, coupon uses given back; one order per transaction.'
where kind = 'expire_stock_reservations';
