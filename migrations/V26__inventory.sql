-- V26: inventory — stock locations, stock per (variant, location), a movement ledger,
-- and reservations (written by checkout, V27's orders hold them).
--
-- shop.inventory stays the per-variant row every reader already uses (availability,
-- the in_stock flag of V8, backorder and low-stock policy): its qty_on_hand and
-- qty_reserved are the sums of the variant's shop.stock_level rows, kept in the same
-- transaction by the SQL API (sql/inventory.sql). It is also the variant's stock
-- mutex: every writer locks the variant's inventory row first, so the level rows under
-- it need no lock order of their own. A store with one location has one level per
-- variant and never sees the concept.
--
-- Every change of stock is a row of shop.stock_movement; for each (variant, location)
-- qty_on_hand is the sum of on_hand_delta and qty_reserved the sum of reserved_delta,
-- and qty_reserved is also the sum of the live (active) reservations. The tests check
-- all three after every concurrency test.

-- ---------------------------------------------------------------- locations
create table shop.stock_location (
    stock_location_id bigint generated always as identity primary key,
    code              text not null check (code ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length(code) <= 64),
    name              text not null check (length(name) between 1 and 200),
    kind              text not null default 'warehouse' check (kind in ('warehouse', 'shop')),
    priority          integer not null default 0,
    is_active         boolean not null default true,
    created_at        timestamptz not null default now(),
    updated_at        timestamptz not null default now(),
    constraint stock_location_code_key unique (code)
);
comment on table shop.stock_location is
    'Where stock is kept (warehouse, shop). Checkout reserves from active locations in ascending priority (then id), splitting a line when it must.';
create trigger stock_location_updated_at before update on shop.stock_location
    for each row execute function shop.set_updated_at();
insert into shop.stock_location (code, name, kind, priority) values ('main', 'Main warehouse', 'warehouse', 0);

-- ---------------------------------------------------------------- levels
create table shop.stock_level (
    variant_id        bigint not null references shop.inventory on delete cascade,
    stock_location_id bigint not null references shop.stock_location on delete restrict,
    qty_on_hand       integer not null default 0,
    qty_reserved      integer not null default 0,
    primary key (variant_id, stock_location_id),
    constraint stock_level_reserved_not_negative check (qty_reserved >= 0)
);
comment on table shop.stock_level is
    'Stock of a variant at a location. Without backorder, 0 <= qty_reserved <= qty_on_hand; with backorder, reservations beyond on-hand land on the first location and a sale may take on-hand below zero (units owed).';
create index stock_level_location_idx on shop.stock_level (stock_location_id);

-- Backorder lets reservations exceed, and sales take on-hand below, zero.
alter table shop.inventory
    drop constraint inventory_qty_on_hand_check,
    add constraint inventory_on_hand_not_negative check (qty_on_hand >= 0 or allow_backorder),
    drop constraint inventory_reserved_within_on_hand,
    add constraint inventory_reserved_within_on_hand check (
        qty_reserved >= 0 and (allow_backorder or qty_reserved <= qty_on_hand));
comment on column shop.inventory.qty_on_hand is 'Sum of the variant''s shop.stock_level.qty_on_hand (kept by the SQL API).';
comment on column shop.inventory.qty_reserved is 'Sum of the variant''s live reservations (shop.stock_reservation, status active).';

-- ---------------------------------------------------------------- the ledger
-- No foreign key to the variant or the location, on purpose: those are the hottest rows
-- of a shop, and a foreign-key check locks its parent row (FOR KEY SHARE) in every
-- reserving transaction, which turns concurrent reservations of one SKU into MultiXact
-- churn on that row. The SQL API writes movements only for levels it holds locked, and
-- the ledger, being history, outlives a deleted variant or location.
create table shop.stock_movement (
    stock_movement_id bigint generated always as identity primary key,
    variant_id        bigint not null,
    stock_location_id bigint not null,
    kind              text not null check (kind in
                        ('receipt', 'adjustment', 'sale', 'reservation', 'release', 'return', 'cancellation')),
    on_hand_delta     integer not null default 0,
    reserved_delta    integer not null default 0,
    quantity          integer generated always as (greatest(abs(on_hand_delta), abs(reserved_delta))) stored,
    reason            text not null default '' check (length(reason) <= 500),
    actor_id          uuid references shop.app_user on delete set null,
    order_id          uuid references shop.customer_order on delete set null,
    created_at        timestamptz not null default now(),
    constraint stock_movement_kind_deltas check (case kind
        when 'receipt' then on_hand_delta > 0 and reserved_delta = 0
        when 'return' then on_hand_delta > 0 and reserved_delta = 0
        when 'adjustment' then on_hand_delta <> 0 and reserved_delta = 0
        when 'reservation' then on_hand_delta = 0 and reserved_delta > 0
        when 'release' then on_hand_delta = 0 and reserved_delta < 0
        when 'cancellation' then on_hand_delta = 0 and reserved_delta < 0
        when 'sale' then on_hand_delta < 0 and reserved_delta between on_hand_delta and 0
    end)
);
comment on table shop.stock_movement is
    'Every change of stock: receipt, adjustment, return (on hand); reservation, release (expiry), cancellation (reserved); sale (a reservation leaving on hand). Levels are the sums of their deltas.';
create index stock_movement_variant_idx on shop.stock_movement (variant_id, stock_location_id, stock_movement_id);
create index stock_movement_order_idx on shop.stock_movement (order_id) where order_id is not null;

-- ---------------------------------------------------------------- reservations
-- No foreign key to the variant or the location either (see the ledger above).
create table shop.stock_reservation (
    stock_reservation_id bigint generated always as identity primary key,
    order_id             uuid not null references shop.customer_order on delete cascade,
    order_item_id        bigint not null references shop.order_item on delete cascade,
    variant_id           bigint not null,
    stock_location_id    bigint not null,
    quantity             integer not null check (quantity > 0),
    backordered          integer not null default 0,
    status               text not null default 'active' check (status in ('active', 'sold', 'released')),
    created_at           timestamptz not null default now(),
    closed_at            timestamptz,
    constraint stock_reservation_backordered_range check (backordered between 0 and quantity),
    constraint stock_reservation_closed_when_done check ((status = 'active') = (closed_at is null))
);
comment on table shop.stock_reservation is
    'Units of an order line held at a location until the order is paid (sold), expires or is cancelled (released). backordered: units reserved beyond on-hand.';
create index stock_reservation_order_idx on shop.stock_reservation (order_id);
create index stock_reservation_live_idx on shop.stock_reservation (variant_id, stock_location_id) where status = 'active';

-- ---------------------------------------------------------------- consistency triggers
-- A new inventory row (a new variant, a seed, a psql insert) opens its level at the
-- first location, with its initial stock as a receipt, so the ledger starts complete.
create function shop.inventory_open_stock() returns trigger
language plpgsql as $$
declare
    v_location bigint;
begin
    select l.stock_location_id into v_location from shop.stock_location l
    order by not l.is_active, l.priority, l.stock_location_id limit 1;
    insert into shop.stock_level (variant_id, stock_location_id, qty_on_hand, qty_reserved)
    values (new.variant_id, v_location, new.qty_on_hand, new.qty_reserved);
    if new.qty_on_hand <> 0 then
        insert into shop.stock_movement (variant_id, stock_location_id, kind, on_hand_delta, reason, actor_id)
        values (new.variant_id, v_location, case when new.qty_on_hand > 0 then 'receipt' else 'adjustment' end,
                new.qty_on_hand, 'initial stock', shop.current_user_id());
    end if;
    return null;
end
$$;
create trigger inventory_open_stock after insert on shop.inventory
    for each row execute function shop.inventory_open_stock();

-- A direct UPDATE of shop.inventory.qty_on_hand (a DBA in psql, an old script) becomes
-- an adjustment at the variant's first level, with its ledger row, so levels and
-- ledger stay true. The SQL API sets maef.stock_write for its own writes, which keep
-- levels and inventory together themselves; the WHEN clause keeps this trigger off
-- their path entirely.
create function shop.inventory_direct_change() returns trigger
language plpgsql as $$
declare
    v_delta integer := new.qty_on_hand - old.qty_on_hand;
    v_location bigint;
begin
    select l.stock_location_id into v_location
    from shop.stock_level l join shop.stock_location s using (stock_location_id)
    where l.variant_id = new.variant_id
    order by not s.is_active, s.priority, s.stock_location_id limit 1;
    if v_location is null then
        return new;  -- no level (rows loaded with triggers disabled): nothing to keep in step
    end if;
    update shop.stock_level set qty_on_hand = qty_on_hand + v_delta
    where variant_id = new.variant_id and stock_location_id = v_location;
    insert into shop.stock_movement (variant_id, stock_location_id, kind, on_hand_delta, reason, actor_id)
    values (new.variant_id, v_location, 'adjustment', v_delta, 'direct update of shop.inventory', shop.current_user_id());
    return new;
end
$$;
create trigger inventory_direct_change before update of qty_on_hand on shop.inventory
    for each row
    when (new.qty_on_hand is distinct from old.qty_on_hand
          and current_setting('maef.stock_write', true) is distinct from 'on')
    execute function shop.inventory_direct_change();

-- ---------------------------------------------------------------- existing stock
insert into shop.stock_level (variant_id, stock_location_id, qty_on_hand, qty_reserved)
select i.variant_id, l.stock_location_id, i.qty_on_hand, 0
from shop.inventory i cross join shop.stock_location l where l.code = 'main';
insert into shop.stock_movement (variant_id, stock_location_id, kind, on_hand_delta, reason)
select i.variant_id, l.stock_location_id, 'receipt', i.qty_on_hand, 'stock before the ledger (V26)'
from shop.inventory i cross join shop.stock_location l where l.code = 'main' and i.qty_on_hand > 0;
-- Nothing wrote qty_reserved before reservations existed.
update shop.inventory set qty_reserved = 0 where qty_reserved <> 0;

-- ---------------------------------------------------------------- store policy
insert into shop.setting (key, value, value_type, min_value, max_value, env, description) values
    ('checkout.reservation_ttl_secs', '900', 'integer', 60, 604800, 'CHECKOUT_RESERVATION_TTL',
     'How long checkout holds an unpaid order''s stock, in seconds (15 minutes by default); then the order expires.');
