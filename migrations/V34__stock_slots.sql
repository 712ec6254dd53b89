-- V34: stock slots. A hot variant (a flash sale, a story that sells out in minutes) can
-- have its free units split over K slot rows, so that concurrent reservations each take
-- a slot instead of queueing on the variant's inventory row: a single row commits one
-- transaction at a time, K rows commit K at a time (docs/checkout.md#stock-slots).
--
-- The model, in one paragraph. shop.inventory.reservation_slots (K, 0 = off) is set by
-- staff. Units are *parked* in a variant's slots (shop.stock_slot.qty_free) under the
-- variant's lock, and parked units count as reserved at their level: level.qty_reserved
-- = the live reservations + the units parked in slots. A reservation that takes units
-- from a slot changes the slot row only (its CHECK forbids a negative count, so nothing
-- can be oversold), writes its reservation and ledger rows, and never touches the
-- inventory or level rows. Sales, expiry and cancellations are unchanged: they close
-- reservations at the level, as before.
--
-- The ledger keeps both: reserved_delta is the change of units reserved for orders
-- (its sum is the live reservations, as before), slot_delta the change of units parked
-- in slots (its sum is the slots' qty_free). A reservation from a slot has
-- reserved_delta = q and slot_delta = -q; parking is a slot_fill (slot_delta > 0), taking
-- units back a slot_drain (slot_delta < 0). For each (variant, location):
--   level.qty_on_hand  = Σ on_hand_delta
--   level.qty_reserved = Σ reserved_delta + Σ slot_delta = live reservations + Σ slot qty_free
--
-- Slots only ever hold units beyond the variant's low-stock threshold: parking leaves
-- at least threshold + 1 free units at the level. A reservation from a slot therefore
-- never takes the variant to or below its threshold, nor out of stock; those crossings
-- happen on the locked path, where the stock.low event and the product's in_stock flag
-- are kept exactly as for any variant. Readers that show availability add the parked
-- units back (shop.stock_parked).

-- The code schemas are re-created by every migrate (api/src/migrate.rs); the report
-- views read shop.stock_movement, whose quantity column is re-made below.
drop schema if exists report cascade;

alter table shop.inventory
    add column reservation_slots smallint not null default 0,
    add constraint inventory_reservation_slots_range check (reservation_slots between 0 and 64);
comment on column shop.inventory.reservation_slots is
    'Stock slots of a hot variant (0: none). With K > 0, free units beyond the low-stock threshold are parked in K rows of shop.stock_slot and concurrent reservations take them in parallel.';
comment on column shop.inventory.qty_reserved is
    'Sum of the variant''s live reservations (shop.stock_reservation, status active) plus the units parked in its stock slots.';
comment on column shop.stock_level.qty_reserved is
    'Live reservations at this location plus the units parked in the variant''s slots here.';

create table shop.stock_slot (
    variant_id        bigint not null references shop.inventory on delete cascade,
    slot              smallint not null check (slot between 0 and 63),
    stock_location_id bigint not null references shop.stock_location on delete restrict,
    qty_free          integer not null default 0,
    primary key (variant_id, slot),
    constraint stock_slot_free_not_negative check (qty_free >= 0)
) with (fillfactor = 50);  -- room on the page for HOT updates: a slot row changes at every sale
comment on table shop.stock_slot is
    'Free units of a hot variant parked for lock-free reservations (V34): a reservation takes units from one slot (FOR UPDATE SKIP LOCKED); parked units count as reserved at their level.';
create index stock_slot_location_idx on shop.stock_slot (stock_location_id) where qty_free > 0;

-- ---------------------------------------------------------------- the ledger
alter table shop.stock_movement
    add column slot_delta integer not null default 0,
    drop constraint stock_movement_kind_check,
    drop constraint stock_movement_kind_deltas;
-- quantity also counts parked units (a generated column cannot change its expression in
-- PostgreSQL 15: dropped and made again, which rewrites the ledger once).
alter table shop.stock_movement
    drop column quantity,
    add column quantity integer generated always as (
        greatest(abs(on_hand_delta), abs(reserved_delta), abs(slot_delta))) stored;
-- Which deltas each kind may have, as a function: the executor rebuilds a CHECK's
-- expression from its stored text for every INSERT statement, and this nine-branch CASE
-- written inline cost ~9% of a reservation's CPU (measured with perf: stringToNode under
-- ExecConstraints); a call is one small node, and PL/pgSQL keeps the body compiled.
create function shop.stock_movement_deltas_valid(p_kind text, p_on_hand integer, p_reserved integer, p_slot integer)
returns boolean
language plpgsql immutable parallel safe as $$
begin
    return case p_kind
        when 'receipt' then p_on_hand > 0 and p_reserved = 0 and p_slot = 0
        when 'return' then p_on_hand > 0 and p_reserved = 0 and p_slot = 0
        when 'adjustment' then p_on_hand <> 0 and p_reserved = 0 and p_slot = 0
        when 'reservation' then p_on_hand = 0 and p_reserved > 0 and p_slot in (0, -p_reserved)
        when 'release' then p_on_hand = 0 and p_reserved < 0 and p_slot = 0
        -- V32: a shipped unit cancelled goes back on hand.
        when 'cancellation' then ((p_on_hand = 0 and p_reserved < 0) or (p_on_hand > 0 and p_reserved = 0))
                                 and p_slot = 0
        when 'sale' then p_on_hand < 0 and p_reserved between p_on_hand and 0 and p_slot = 0
        when 'slot_fill' then p_on_hand = 0 and p_reserved = 0 and p_slot > 0
        when 'slot_drain' then p_on_hand = 0 and p_reserved = 0 and p_slot < 0
        else false
    end;
end
$$;
comment on function shop.stock_movement_deltas_valid(text, integer, integer, integer) is
    'The deltas (on hand, reserved, parked in slots) a ledger row of this kind may have: the stock_movement_kind_deltas check.';
alter table shop.stock_movement
    add constraint stock_movement_kind_check check (kind in
        ('receipt', 'adjustment', 'sale', 'reservation', 'release', 'return', 'cancellation', 'slot_fill', 'slot_drain')),
    add constraint stock_movement_kind_deltas check (
        shop.stock_movement_deltas_valid(kind, on_hand_delta, reserved_delta, slot_delta));
comment on column shop.stock_movement.slot_delta is
    'Change of the units parked in stock slots (V34): + a slot_fill, - a slot_drain or a reservation taken from a slot.';

-- ---------------------------------------------------------------- helpers
-- Units parked in a variant's slots: what availability readers add back to
-- qty_on_hand - qty_reserved.
create function shop.stock_parked(p_variant_id bigint) returns integer
language sql stable parallel safe as $$
    select coalesce(sum(s.qty_free), 0)::integer from shop.stock_slot s where s.variant_id = p_variant_id
$$;
comment on function shop.stock_parked(bigint) is
    'Units parked in a variant''s stock slots (counted in qty_reserved, free for shoppers).';

-- Takes every parked unit of a variant back to its level (slot_drain ledger rows),
-- waiting for reservations in flight on its slots. Returns the units taken back; the
-- caller holds the variant's lock and lowers shop.inventory.qty_reserved by them (the
-- inventory row may be the one its trigger is updating).
create function shop.stock_slots_take_back(p_variant_id bigint) returns integer
language plpgsql as $$
declare
    v_slots smallint[];
    v_locations bigint[];
    v_free integer[];
begin
    -- Two statements: the lock (which waits for a reservation holding a slot, then
    -- reads its committed count), then the update under it.
    select coalesce(array_agg(s.slot), '{}'), coalesce(array_agg(s.stock_location_id), '{}'),
           coalesce(array_agg(s.qty_free), '{}')
    into v_slots, v_locations, v_free
    from (select x.slot, x.stock_location_id, x.qty_free from shop.stock_slot x
          where x.variant_id = p_variant_id and x.qty_free > 0 order by x.slot for update) s;
    if cardinality(v_slots) = 0 then
        return 0;
    end if;
    update shop.stock_slot set qty_free = 0 where variant_id = p_variant_id and slot = any (v_slots);
    with per_location as (
        select t.location_id, sum(t.free)::integer as n from unnest(v_locations, v_free) as t(location_id, free)
        group by t.location_id),
    lv as (
        update shop.stock_level l set qty_reserved = l.qty_reserved - p.n
        from per_location p where l.variant_id = p_variant_id and l.stock_location_id = p.location_id)
    insert into shop.stock_movement (variant_id, stock_location_id, kind, slot_delta, reason, actor_id)
    select p_variant_id, p.location_id, 'slot_drain', -p.n, 'slots taken back', shop.current_user_id()
    from per_location p;
    return (select sum(f) from unnest(v_free) f);
end
$$;
comment on function shop.stock_slots_take_back(bigint) is
    'Moves a variant''s parked units back to its levels (slot_drain); the caller holds the variant''s lock and lowers inventory.qty_reserved by the result.';

-- A change of the slot policy (K, the threshold that bounds what may be parked,
-- backorder) takes the parked units back; the next reservation on the locked path
-- parks them again under the new policy. Slots beyond the new K go.
create function shop.inventory_slot_policy_changed() returns trigger
language plpgsql as $$
begin
    new.qty_reserved := new.qty_reserved - shop.stock_slots_take_back(new.variant_id);
    delete from shop.stock_slot where variant_id = new.variant_id and slot >= new.reservation_slots;
    return new;
end
$$;
create trigger inventory_slot_policy_changed before update of reservation_slots, low_stock_threshold, allow_backorder
    on shop.inventory for each row
    when (new.reservation_slots is distinct from old.reservation_slots
          or new.low_stock_threshold is distinct from old.low_stock_threshold
          or new.allow_backorder is distinct from old.allow_backorder)
    execute function shop.inventory_slot_policy_changed();

-- A direct UPDATE of qty_on_hand (V26) takes the parked units back first, so that a
-- count lower than the free units is not refused for units that are only parked.
create or replace function shop.inventory_direct_change() returns trigger
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
    new.qty_reserved := new.qty_reserved - shop.stock_slots_take_back(new.variant_id);
    update shop.stock_level set qty_on_hand = qty_on_hand + v_delta
    where variant_id = new.variant_id and stock_location_id = v_location;
    insert into shop.stock_movement (variant_id, stock_location_id, kind, on_hand_delta, reason, actor_id)
    values (new.variant_id, v_location, 'adjustment', v_delta, 'direct update of shop.inventory', shop.current_user_id());
    return new;
end
$$;

-- The product's in_stock flag (V8) counts parked units as available. Parking always
-- leaves a free unit at the level, so this changes no answer; it keeps the flag right
-- if a level is ever changed by hand while units are parked.
create or replace function shop.product_refresh_in_stock(p_product_id bigint) returns void
language plpgsql as $$
begin
    -- Lock the product first: see V8.
    perform from shop.product where product_id = p_product_id for no key update;
    update shop.product p
    set in_stock = x.available
    from (select exists (select from shop.product_variant v join shop.inventory i using (variant_id)
                         where v.product_id = p_product_id and v.is_active
                           and (i.qty_on_hand > i.qty_reserved
                                or (i.reservation_slots > 0 and shop.stock_parked(i.variant_id) > 0))) as available) x
    where p.product_id = p_product_id and p.in_stock is distinct from x.available;
end
$$;
