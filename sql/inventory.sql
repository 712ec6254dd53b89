-- Inventory: stock per (variant, location), the movement ledger, reservations, and
-- the stock administration (catalog:write, audited). The data model and its invariants
-- are described in migrations/V26__inventory.sql; in short, shop.inventory holds each
-- variant's totals and is its stock mutex, shop.stock_level the detail per location,
-- shop.stock_movement every change, shop.stock_reservation the units held for orders.
--
-- Lock order (the same in every function here and in their callers, so that no two
-- stock writers can deadlock): the order row (callers), then the variants' inventory
-- rows in (product_id, variant_id) order, all of them before any is updated
-- (api._lock_variants); level rows are only touched under their variant's lock. The
-- in_stock trigger of V8 locks a product row when a variant's availability flips;
-- updating inventory rows in the same (product_id, variant_id) order takes those
-- product locks in product order too.
--
-- Errors: MA409 insufficient_stock (detail = JSON array of the short lines), MA404
-- variant_not_found / stock_location_not_found, MA422 invalid_field (detail = JSON
-- path) / stock_below_reserved, 23505 stock_location_code_key.

-- Marks this transaction's stock writes as the SQL API's (V26's inventory_direct_change
-- trigger then leaves them alone: levels and ledger are written here).
create function api._stock_write()
returns void
language plpgsql as $$  -- PL/pgSQL: its plan is kept (see api._order_json)
begin
    perform set_config('maef.stock_write', 'on', true);
end
$$;

-- Locks the inventory rows of these variants in (product_id, variant_id) order.
-- PERFORM runs the query to its end, and LockRows sits above the sort, so the rows are
-- locked one after the other in that order.
create function api._lock_variants(p_variant_ids bigint[])
returns void
language plpgsql as $$
begin
    perform from shop.inventory i join shop.product_variant v on v.variant_id = i.variant_id
    where i.variant_id = any (p_variant_ids)
    order by v.product_id, i.variant_id
    for no key update of i;
end
$$;

-- A 409 insufficient_stock for lines short of stock (p_short: [{sku, variant_id,
-- requested, available}]), before anything is locked or written.
create function api._raise_short(p_short jsonb)
returns void
language plpgsql immutable as $$
begin
    raise exception using errcode = 'MA409', constraint = 'insufficient_stock',
        message = case when jsonb_array_length(p_short) = 1
                       then format('only %s of %s left in stock', p_short -> 0 ->> 'available', p_short -> 0 ->> 'sku')
                       else format('%s items are short of stock', jsonb_array_length(p_short)) end,
        detail = p_short::text,
        hint = 'Lower the quantities to what is available (details list each short line), then check out again.';
end
$$;

-- Emits stock.low (docs/events.md) when a change took a variant's available stock
-- (on hand - reserved) from above its low-stock threshold to at or below it: once per
-- crossing, not at every sale below it. p_before: available before the change.
create function api._stock_low_crossed(p_variant_id bigint, p_before integer)
returns void
language plpgsql as $$
declare
    v record;
begin
    select i.qty_on_hand, i.qty_reserved, i.qty_on_hand - i.qty_reserved as available, i.low_stock_threshold,
           pv.product_id, pv.sku
    into v
    from shop.inventory i join shop.product_variant pv on pv.variant_id = i.variant_id
    where i.variant_id = p_variant_id;
    if p_before > v.low_stock_threshold and v.available <= v.low_stock_threshold then
        perform api._emit_event('stock.low', 'variant', p_variant_id::text, jsonb_build_object(
            'variant_id', p_variant_id, 'product_id', v.product_id, 'sku', v.sku, 'available', v.available,
            'qty_on_hand', v.qty_on_hand, 'qty_reserved', v.qty_reserved, 'low_stock_threshold', v.low_stock_threshold));
    end if;
end
$$;

-- Reserves one line from the variant's active locations in priority order (split over
-- locations when it must; backordered units at the first). The caller holds the
-- variant's lock. Returns the shortage ({sku, variant_id, requested, available}) of a
-- line without backorder that does not fit, else null (and reserves).
create function api._reserve_line(p_order_id uuid, p_item bigint, p_variant bigint, p_quantity integer,
                                  p_sku text, p_backorder boolean, p_actor uuid)
returns jsonb
language plpgsql as $$
declare
    v_locations bigint[];
    v_free integer[];
    v_take_locations bigint[] := '{}';
    v_take integer[] := '{}';
    v_back integer[] := '{}';
    v_left integer := p_quantity;
    v_available integer;
    v_first bigint;
    v_before integer;
    i integer;
begin
    select coalesce(array_agg(l.stock_location_id order by s.priority, s.stock_location_id), '{}'),
           coalesce(array_agg(greatest(l.qty_on_hand - l.qty_reserved, 0) order by s.priority, s.stock_location_id), '{}')
    into v_locations, v_free
    from shop.stock_level l join shop.stock_location s on s.stock_location_id = l.stock_location_id
    where l.variant_id = p_variant and s.is_active;
    v_available := coalesce((select sum(f) from unnest(v_free) f), 0);
    if v_available < p_quantity and not p_backorder then
        return jsonb_build_object('sku', p_sku, 'variant_id', p_variant, 'requested', p_quantity, 'available', v_available);
    end if;
    if cardinality(v_locations) = 0 then
        -- Backorder with no level at an active location: hold the units at the first
        -- active location.
        select s.stock_location_id into v_first from shop.stock_location s
        where s.is_active order by s.priority, s.stock_location_id limit 1;
        if v_first is null then
            return jsonb_build_object('sku', p_sku, 'variant_id', p_variant, 'requested', p_quantity, 'available', 0);
        end if;
        insert into shop.stock_level (variant_id, stock_location_id) values (p_variant, v_first) on conflict do nothing;
        v_locations := array[v_first];
        v_free := array[0];
    end if;
    for i in 1 .. cardinality(v_locations) loop
        exit when v_left = 0;
        if v_free[i] > 0 then
            v_take_locations := v_take_locations || v_locations[i];
            v_take := v_take || least(v_free[i], v_left);
            v_back := v_back || 0;
            v_left := v_left - least(v_free[i], v_left);
        end if;
    end loop;
    if v_left > 0 then  -- backorder: the rest waits at the first location
        if cardinality(v_take_locations) > 0 and v_take_locations[1] = v_locations[1] then
            v_take[1] := v_take[1] + v_left;
            v_back[1] := v_left;
        else
            v_take_locations := v_locations[1] || v_take_locations;
            v_take := v_left || v_take;
            v_back := v_left || v_back;
        end if;
    end if;
    with a as (select * from unnest(v_take_locations, v_take, v_back) as a(location_id, quantity, backordered)),
    lv as (
        update shop.stock_level l set qty_reserved = l.qty_reserved + a.quantity
        from a where l.variant_id = p_variant and l.stock_location_id = a.location_id),
    held as (
        insert into shop.stock_reservation (order_id, order_item_id, variant_id, stock_location_id, quantity, backordered)
        select p_order_id, p_item, p_variant, a.location_id, a.quantity, a.backordered from a),
    moved as (
        insert into shop.stock_movement (variant_id, stock_location_id, kind, reserved_delta, reason, actor_id, order_id)
        select p_variant, a.location_id, 'reservation', a.quantity, 'checkout', p_actor, p_order_id from a)
    update shop.inventory set qty_reserved = qty_reserved + p_quantity where variant_id = p_variant
    returning qty_on_hand - qty_reserved + p_quantity into v_before;
    perform api._stock_low_crossed(p_variant, v_before);
    if p_quantity > v_available then
        update shop.order_item set backordered_quantity = p_quantity - v_available where order_item_id = p_item;
    end if;
    return null;
end
$$;

-- Takes a variant's parked units back to its level (V34): slots, levels and ledger by
-- shop.stock_slots_take_back, the inventory total here. The caller holds the variant's
-- lock. Returns the units taken back.
create function api._slots_take_back(p_variant_id bigint)
returns integer
language plpgsql as $$
declare
    v_parked integer := shop.stock_slots_take_back(p_variant_id);
begin
    if v_parked > 0 then
        update shop.inventory set qty_reserved = qty_reserved - v_parked where variant_id = p_variant_id;
    end if;
    return v_parked;
end
$$;

-- Parks a slotted variant's free units beyond its low-stock threshold in its K slots,
-- evenly (slot_fill). Only for a variant with one level, at an active location (slots
-- hold that location's units). The caller holds the variant's lock and has taken the
-- slots back (they are empty).
create function api._slots_refill(p_variant_id bigint)
returns void
language plpgsql as $$
declare
    v_slots integer;
    v_threshold integer;
    v_location bigint;
    v_free integer;
    v_park integer;
begin
    select i.reservation_slots, i.low_stock_threshold into v_slots, v_threshold
    from shop.inventory i where i.variant_id = p_variant_id;
    if coalesce(v_slots, 0) = 0 then
        return;
    end if;
    select min(l.stock_location_id), min(l.qty_on_hand - l.qty_reserved) into v_location, v_free
    from shop.stock_level l join shop.stock_location s on s.stock_location_id = l.stock_location_id
    where l.variant_id = p_variant_id
    having count(*) = 1 and bool_and(s.is_active);
    -- At least threshold + 1 units stay at the level: see V34.
    v_park := coalesce(v_free, 0) - (v_threshold + 1);
    if v_location is null or v_park <= 0 then
        return;
    end if;
    insert into shop.stock_slot (variant_id, slot, stock_location_id, qty_free)
    select p_variant_id, g, v_location, v_park / v_slots + case when g < v_park % v_slots then 1 else 0 end
    from generate_series(0, v_slots - 1) g
    on conflict (variant_id, slot) do update
    set qty_free = excluded.qty_free, stock_location_id = excluded.stock_location_id;
    update shop.stock_level set qty_reserved = qty_reserved + v_park
    where variant_id = p_variant_id and stock_location_id = v_location;
    update shop.inventory set qty_reserved = qty_reserved + v_park where variant_id = p_variant_id;
    insert into shop.stock_movement (variant_id, stock_location_id, kind, slot_delta, reason, actor_id)
    values (p_variant_id, v_location, 'slot_fill', v_park, 'parked for concurrent reservations',
            shop.current_user_id());
end
$$;

-- Reserves the lines of an order from their variants' slots, and writes their
-- reservation and ledger rows; the inventory and level rows are not touched. Returns
-- true, or raises MA5SL when a line finds no slot with its units. The caller runs it in
-- a subtransaction, which MA5SL rolls back, locks included.
--
-- p_wait false: each line takes a slot that has its units and that no other
-- transaction holds (FOR UPDATE SKIP LOCKED); it never waits. A row that changed since
-- the statement began is re-read once locked and, when it no longer has the units,
-- passed over but left locked: hence the rollback on a miss, as such a lock kept into
-- the locked path would wait for the variant's row while holding a slot (the reverse of
-- the lock order).
-- p_wait true (one-line orders whose slots were all busy, in a fresh subtransaction
-- that holds no slot): waits for one slot that had the units, chosen by its key alone
-- (so no row is locked but that one), and takes them if it still has them.
create function api._reserve_from_slots(p_order_id uuid, p_items bigint[], p_variants bigint[],
                                        p_quantities integer[], p_slots integer[], p_actor uuid, p_wait boolean)
returns boolean
language plpgsql as $$
declare
    v_locations bigint[] := '{}';
    v_location bigint;
    v_slot smallint;
    i integer;
begin
    for i in 1 .. cardinality(p_items) loop
        if not p_wait then
            -- Each session tries its own slot first (its pid modulo K: one index probe),
            -- then the others from there on, so sessions spread over the slots.
            with s as (
                select x.slot from shop.stock_slot x
                where x.variant_id = p_variants[i] and x.slot = pg_backend_pid() % p_slots[i]
                  and x.qty_free >= p_quantities[i]
                for update skip locked)
            update shop.stock_slot y set qty_free = y.qty_free - p_quantities[i]
            from s where y.variant_id = p_variants[i] and y.slot = s.slot
            returning y.stock_location_id into v_location;
            if v_location is null then
                with s as (
                    select x.slot from shop.stock_slot x
                    where x.variant_id = p_variants[i] and x.qty_free >= p_quantities[i]
                    order by (x.slot + pg_backend_pid()) % 64
                    limit 1 for update skip locked)
                update shop.stock_slot y set qty_free = y.qty_free - p_quantities[i]
                from s where y.variant_id = p_variants[i] and y.slot = s.slot
                returning y.stock_location_id into v_location;
            end if;
        else
            select x.slot into v_slot from shop.stock_slot x
            where x.variant_id = p_variants[i] and x.qty_free >= p_quantities[i]
            order by (x.slot + pg_backend_pid()) % 64 limit 1;
            perform from shop.stock_slot x where x.variant_id = p_variants[i] and x.slot = v_slot for update;
            update shop.stock_slot y set qty_free = y.qty_free - p_quantities[i]
            where y.variant_id = p_variants[i] and y.slot = v_slot and y.qty_free >= p_quantities[i]
            returning y.stock_location_id into v_location;
        end if;
        if v_location is null then
            raise exception using errcode = 'MA5SL', message = 'a line found no stock slot';
        end if;
        v_locations := v_locations || v_location;
        v_location := null;
    end loop;
    with a as (select * from unnest(p_items, p_variants, p_quantities, v_locations)
                         as a(item, variant, quantity, location_id)),
    held as (
        insert into shop.stock_reservation (order_id, order_item_id, variant_id, stock_location_id, quantity)
        select p_order_id, a.item, a.variant, a.location_id, a.quantity from a)
    insert into shop.stock_movement (variant_id, stock_location_id, kind, reserved_delta, slot_delta, reason,
                                     actor_id, order_id)
    select a.variant, a.location_id, 'reservation', a.quantity, -a.quantity, 'checkout', p_actor, p_order_id from a;
    return true;
end
$$;

-- Reserves an order of slotted and plain lines (p_slots: each line's K, 0 for a plain
-- one) without the locked path's cost for the slotted ones: the plain lines by the
-- general path under their variants' locks, then the slotted lines from their slots,
-- skipping busy ones (api._reserve_from_slots). Slot rows come after inventory rows, as
-- the lock order wants, and once it holds a slot the transaction waits for nothing.
-- Raises MA5SL when a plain line is short or a slotted line finds no slot: the caller
-- runs it in a subtransaction, rolled back then, locks included, and takes the locked
-- path, which reports every short line. Returns true.
create function api._reserve_mixed(p_order_id uuid, p_items bigint[], p_variants bigint[], p_quantities integer[],
                                   p_skus text[], p_backorders boolean[], p_slots integer[], p_actor uuid)
returns boolean
language plpgsql as $$
declare
    v_plain integer[] := array(select g from generate_subscripts(p_slots, 1) g where p_slots[g] = 0 order by g);
    v_slotted integer[] := array(select g from generate_subscripts(p_slots, 1) g where p_slots[g] > 0 order by g);
    i integer;
begin
    perform api._stock_write();
    perform api._lock_variants(array(select p_variants[g] from unnest(v_plain) g));
    foreach i in array v_plain loop
        if api._reserve_line(p_order_id, p_items[i], p_variants[i], p_quantities[i], p_skus[i], p_backorders[i],
                             p_actor) is not null then
            raise exception using errcode = 'MA5SL', message = 'a plain line is short';
        end if;
    end loop;
    return api._reserve_from_slots(p_order_id,
        array(select p_items[g] from unnest(v_slotted) with ordinality x(g, n) order by n),
        array(select p_variants[g] from unnest(v_slotted) with ordinality x(g, n) order by n),
        array(select p_quantities[g] from unnest(v_slotted) with ordinality x(g, n) order by n),
        array(select p_slots[g] from unnest(v_slotted) with ordinality x(g, n) order by n),
        p_actor, false);
end
$$;

-- Reserves the stock of every line of an order, from active locations in priority
-- order (splitting a line over locations when it must). A line of a variant without
-- backorder and short of stock makes the whole call fail with MA409 insufficient_stock
-- listing every short line and what is available; with backorder the missing units
-- are reserved at the line's first location and flagged (order_item.backordered_quantity,
-- stock_reservation.backordered). Variants without an inventory row are not tracked.
-- Returns true when a line was backordered (its order line changed).
--
-- Fast path. Most variants have one level (every variant of a one-location store): for
-- them the reservation and ledger rows are written *before* any lock — they wait for
-- nobody — and under the lock only two rows change, in one statement: the inventory
-- row (its conditional UPDATE is the availability check and takes the variant's lock)
-- and the level. The hottest lock is then held for little more than the single-row
-- UPDATE the benchmark compares with. A line whose variant gained a second level in the
-- meantime (a receipt at another location) is undone and taken by the general path,
-- under the lock already held.
--
-- Stock slots (V34). An order whose every tracked line is of a slotted variant first
-- tries its variants' slots (api._reserve_from_slots), with no lock waited for; an
-- order mixing slotted and plain lines reserves the plain ones under their locks, then
-- tries the slots (api._reserve_mixed). When a line finds no slot with its units (or a
-- plain line is short), the order takes the locked path below, where a slotted line
-- takes its variant's parked units back, is reserved by the general path (exact
-- availability, threshold crossing, backorder) and parks what is free again.
--
-- Lock order with slots: a transaction holding slot rows waits for no other lock (its
-- slot takes skip locked rows, and it writes only its own rows afterwards); the locked
-- path takes slot rows only after its variants' inventory rows. So slot locks come
-- after inventory locks for everybody, and nobody waits for a lock while holding one.
create function api._reserve_order_stock(p_order_id uuid)
returns boolean
language plpgsql as $$
declare
    v_actor uuid := shop.current_user_id();
    v_items bigint[];
    v_variants bigint[];
    v_quantities integer[];
    v_skus text[];
    v_backorders boolean[];
    v_locations bigint[];
    v_slots integer[];
    v_from_slots boolean := false;
    v_available integer;
    v_reserved boolean;
    v_threshold integer;
    v_short jsonb := '[]';
    v_line_short jsonb;
    v_backordered boolean := false;
    i integer;
begin
    -- The tracked lines in lock order, each with its level when the variant has exactly
    -- one, at an active location (read without a lock; checked again under it; not read
    -- for slotted variants, which do not take the fast path).
    select coalesce(array_agg(oi.order_item_id order by v.product_id, oi.variant_id), '{}'),
           coalesce(array_agg(oi.variant_id order by v.product_id, oi.variant_id), '{}'),
           coalesce(array_agg(oi.quantity order by v.product_id, oi.variant_id), '{}'),
           coalesce(array_agg(oi.sku order by v.product_id, oi.variant_id), '{}'),
           coalesce(array_agg(inv.allow_backorder order by v.product_id, oi.variant_id), '{}'),
           coalesce(array_agg(one.location_id order by v.product_id, oi.variant_id), '{}'),
           coalesce(array_agg(inv.reservation_slots order by v.product_id, oi.variant_id), '{}')
    into v_items, v_variants, v_quantities, v_skus, v_backorders, v_locations, v_slots
    from shop.order_item oi
    join shop.inventory inv on inv.variant_id = oi.variant_id
    join shop.product_variant v on v.variant_id = oi.variant_id
    left join lateral (
        select min(l.stock_location_id) as location_id from shop.stock_level l
        join shop.stock_location s on s.stock_location_id = l.stock_location_id
        where l.variant_id = oi.variant_id and inv.reservation_slots = 0
        having count(*) = 1 and bool_and(s.is_active)) one on true
    where oi.order_id = p_order_id;
    if cardinality(v_items) = 0 then
        return false;
    end if;
    -- Every line slotted: from the slots if they have the units (see above).
    if 0 <> all (v_slots) then
        begin
            v_from_slots := api._reserve_from_slots(p_order_id, v_items, v_variants, v_quantities, v_slots, v_actor, false);
        exception when sqlstate 'MA5SL' then
            v_from_slots := false;  -- rolled back to the block's start, slot locks included
        end;
        if not v_from_slots and cardinality(v_items) = 1 then
            begin  -- every slot with the units was busy: wait for one
                v_from_slots := api._reserve_from_slots(p_order_id, v_items, v_variants, v_quantities, v_slots, v_actor, true);
            exception when sqlstate 'MA5SL' then
                v_from_slots := false;
            end;
        end if;
        if v_from_slots then
            return false;
        end if;
    elsif 0 <> any (v_slots) then
        -- Slotted and plain lines: the plain ones under their variants' locks, then the
        -- slotted ones from their slots (see api._reserve_mixed); else the locked path.
        begin
            v_from_slots := api._reserve_mixed(p_order_id, v_items, v_variants, v_quantities, v_skus, v_backorders,
                                               v_slots, v_actor);
        exception when sqlstate 'MA5SL' then
            v_from_slots := false;  -- rolled back to the block's start, every lock included
        end;
        if v_from_slots then
            return exists (select from shop.order_item oi where oi.order_id = p_order_id and oi.backordered_quantity > 0);
        end if;
    end if;
    perform api._stock_write();  -- the inventory rows change below (not by the slots)
    -- Fast-path rows first, outside any lock (slotted lines take the general path).
    with a as (select * from unnest(v_items, v_variants, v_quantities, v_locations, v_slots)
                        as a(item, variant, quantity, location_id, slots)
               where a.location_id is not null and a.slots = 0),
    held as (
        insert into shop.stock_reservation (order_id, order_item_id, variant_id, stock_location_id, quantity)
        select p_order_id, a.item, a.variant, a.location_id, a.quantity from a)
    insert into shop.stock_movement (variant_id, stock_location_id, kind, reserved_delta, reason, actor_id, order_id)
    select a.variant, a.location_id, 'reservation', a.quantity, 'checkout', v_actor, p_order_id from a;
    -- Several variants: all locked first, in order (see the lock order above). One
    -- variant: its UPDATE below is the lock, unless it is slotted (its slots are locked
    -- after it).
    if cardinality(v_variants) > 1 or 0 <> any (v_slots) then
        perform api._lock_variants(v_variants);
    end if;
    for i in 1 .. cardinality(v_items) loop
        if v_slots[i] > 0 then
            -- A slotted line: its parked units back, the general path, then park again.
            perform api._slots_take_back(v_variants[i]);
            v_line_short := api._reserve_line(p_order_id, v_items[i], v_variants[i], v_quantities[i], v_skus[i],
                                              v_backorders[i], v_actor);
            if v_line_short is null then
                perform api._slots_refill(v_variants[i]);
            else
                v_short := v_short || v_line_short;
            end if;
            continue;
        end if;
        if v_locations[i] is null then
            v_line_short := api._reserve_line(p_order_id, v_items[i], v_variants[i], v_quantities[i], v_skus[i],
                                              v_backorders[i], v_actor);
            if v_line_short is not null then
                v_short := v_short || v_line_short;
            end if;
            continue;
        end if;
        with inv as (
            update shop.inventory set qty_reserved = qty_reserved + v_quantities[i]
            where variant_id = v_variants[i] and (allow_backorder or qty_on_hand - qty_reserved >= v_quantities[i])
            returning qty_on_hand - qty_reserved + v_quantities[i] as available, allow_backorder, low_stock_threshold),
        lv as (
            update shop.stock_level l set qty_reserved = l.qty_reserved + v_quantities[i]
            from inv
            where l.variant_id = v_variants[i] and l.stock_location_id = v_locations[i]
              and (inv.allow_backorder or l.qty_on_hand - l.qty_reserved >= v_quantities[i])
            returning 1)
        select inv.available, inv.low_stock_threshold, exists (select from lv)
        into v_available, v_threshold, v_reserved from inv;
        if v_available is null then
            -- Short: nothing changed under the lock; the line's rows go with the error.
            v_short := v_short || jsonb_build_object('sku', v_skus[i], 'variant_id', v_variants[i],
                'requested', v_quantities[i], 'available',
                (select greatest(x.qty_on_hand - x.qty_reserved, 0) from shop.inventory x where x.variant_id = v_variants[i]));
        elsif not v_reserved then
            -- The variant has more than one level now: undo and take the general path.
            update shop.inventory set qty_reserved = qty_reserved - v_quantities[i] where variant_id = v_variants[i];
            delete from shop.stock_reservation where order_item_id = v_items[i];
            delete from shop.stock_movement
            where order_id = p_order_id and variant_id = v_variants[i] and kind = 'reservation';
            v_line_short := api._reserve_line(p_order_id, v_items[i], v_variants[i], v_quantities[i], v_skus[i],
                                              v_backorders[i], v_actor);
            if v_line_short is not null then
                v_short := v_short || v_line_short;
            end if;
        elsif v_available < v_quantities[i] then
            -- Backorder: the units beyond what was available are flagged.
            if v_available > v_threshold then
                perform api._stock_low_crossed(v_variants[i], v_available);
            end if;
            update shop.stock_reservation set backordered = v_quantities[i] - greatest(v_available, 0)
            where order_item_id = v_items[i];
            update shop.order_item set backordered_quantity = v_quantities[i] - greatest(v_available, 0)
            where order_item_id = v_items[i];
            v_backordered := true;
        elsif v_available > v_threshold and v_available - v_quantities[i] <= v_threshold then
            perform api._stock_low_crossed(v_variants[i], v_available);
        end if;
        v_available := null;
    end loop;
    if jsonb_array_length(v_short) > 0 then
        perform api._raise_short(v_short);
    end if;
    -- The general path flags its backordered lines itself.
    return v_backordered or exists (select from shop.order_item oi
                                    where oi.order_id = p_order_id and oi.backordered_quantity > 0);
end
$$;

-- Closes an order's live reservations: 'sale' turns them into sales (on hand and
-- reserved both go down), 'release' (expiry) and 'cancellation' give the units back.
-- The caller holds the order row lock. Returns the units closed.
create function api._close_order_reservations(p_order_id uuid, p_kind text, p_reason text)
returns integer
language plpgsql as $$
declare
    v_actor uuid := shop.current_user_id();
    v_variants bigint[];
    v_quantities integer[];
    i integer;
begin
    if p_kind not in ('sale', 'release', 'cancellation') then
        raise exception 'api._close_order_reservations: unknown kind %', p_kind;
    end if;
    perform api._stock_write();
    perform api._lock_variants(array(select distinct sr.variant_id from shop.stock_reservation sr
                                     where sr.order_id = p_order_id and sr.status = 'active'));
    with closed as (
        update shop.stock_reservation sr set status = case p_kind when 'sale' then 'sold' else 'released' end,
                                             closed_at = now()
        where sr.order_id = p_order_id and sr.status = 'active'
        returning sr.variant_id, sr.stock_location_id, sr.quantity),
    per_level as (
        select c.variant_id, c.stock_location_id, sum(c.quantity)::integer as quantity
        from closed c group by c.variant_id, c.stock_location_id),
    lv as (
        update shop.stock_level l
        set qty_reserved = l.qty_reserved - p.quantity,
            qty_on_hand = l.qty_on_hand - case when p_kind = 'sale' then p.quantity else 0 end
        from per_level p where l.variant_id = p.variant_id and l.stock_location_id = p.stock_location_id),
    moved as (
        insert into shop.stock_movement (variant_id, stock_location_id, kind, on_hand_delta, reserved_delta, reason,
                                         actor_id, order_id)
        select p.variant_id, p.stock_location_id, p_kind, case when p_kind = 'sale' then -p.quantity else 0 end,
               -p.quantity, p_reason, v_actor, p_order_id
        from per_level p)
    select coalesce(array_agg(x.variant_id order by x.product_id, x.variant_id), '{}'),
           coalesce(array_agg(x.quantity order by x.product_id, x.variant_id), '{}')
    into v_variants, v_quantities
    from (select p.variant_id, v.product_id, sum(p.quantity)::integer as quantity
          from per_level p join shop.product_variant v on v.variant_id = p.variant_id
          group by p.variant_id, v.product_id) x;
    -- Totals in (product_id, variant_id) order: see the lock order at the top.
    for i in 1 .. cardinality(v_variants) loop
        update shop.inventory
        set qty_reserved = qty_reserved - v_quantities[i],
            qty_on_hand = qty_on_hand - case when p_kind = 'sale' then v_quantities[i] else 0 end
        where variant_id = v_variants[i];
    end loop;
    return coalesce((select sum(q) from unnest(v_quantities) q), 0);
end
$$;

-- Changes the on-hand stock of a variant at a location by p_delta (a receipt, return
-- or adjustment), with its ledger row. Creates the inventory row of an untracked
-- variant. Without backorder, on hand may not go below the units reserved there.
create function api._adjust_stock(p_variant_id bigint, p_location_id bigint, p_kind text, p_delta integer,
                                  p_reason text)
returns void
language plpgsql as $$
declare
    v_level shop.stock_level;
    v_backorder boolean;
begin
    perform api._stock_write();
    insert into shop.inventory (variant_id) values (p_variant_id) on conflict do nothing;
    perform api._lock_variants(array[p_variant_id]);
    -- Parked units back first: they are free, and may belong to another location. The
    -- next reservation parks them again.
    perform api._slots_take_back(p_variant_id);
    insert into shop.stock_level (variant_id, stock_location_id) values (p_variant_id, p_location_id)
    on conflict do nothing;
    update shop.stock_level l set qty_on_hand = l.qty_on_hand + p_delta
    where l.variant_id = p_variant_id and l.stock_location_id = p_location_id
    returning * into v_level;
    select i.allow_backorder into v_backorder from shop.inventory i where i.variant_id = p_variant_id;
    if not v_backorder and v_level.qty_on_hand < v_level.qty_reserved then
        raise exception using errcode = 'MA422', constraint = 'stock_below_reserved',
            message = format('%s units are reserved at this location; on hand cannot go below them (it would be %s)',
                             v_level.qty_reserved, v_level.qty_on_hand),
            hint = 'Cancel or wait for the orders holding them, or allow backorder.';
    end if;
    update shop.inventory set qty_on_hand = qty_on_hand + p_delta where variant_id = p_variant_id;
    insert into shop.stock_movement (variant_id, stock_location_id, kind, on_hand_delta, reason, actor_id)
    values (p_variant_id, p_location_id, p_kind, p_delta, coalesce(p_reason, ''), shop.current_user_id());
    if p_delta < 0 then
        perform api._stock_low_crossed(p_variant_id, (
            select i.qty_on_hand - i.qty_reserved - p_delta from shop.inventory i where i.variant_id = p_variant_id)::integer);
    end if;
end
$$;

-- Sets a variant's total on hand (PATCH /admin/variants/{id} {"stock": {"qty_on_hand"}}):
-- the difference is one adjustment; an increase goes to the first active location, a
-- decrease comes from the free units of locations in reverse priority order.
create function api._set_variant_on_hand(p_variant_id bigint, p_target integer, p_reason text)
returns void
language plpgsql as $$
declare
    v_current integer;
    v_left integer;
    l record;
begin
    if p_target is null or p_target < 0 then
        perform api._bad_field('$.stock.qty_on_hand', 'must be a whole number, 0 or more');
    end if;
    perform api._stock_write();
    insert into shop.inventory (variant_id) values (p_variant_id) on conflict do nothing;
    perform api._lock_variants(array[p_variant_id]);
    perform api._slots_take_back(p_variant_id);  -- the free units below include the parked ones
    select i.qty_on_hand into v_current from shop.inventory i where i.variant_id = p_variant_id;
    if p_target > v_current then
        perform api._adjust_stock(p_variant_id, api._first_location(p_variant_id), 'adjustment', p_target - v_current, p_reason);
        return;
    end if;
    v_left := v_current - p_target;
    for l in select lv.stock_location_id, lv.qty_on_hand - lv.qty_reserved as free
             from shop.stock_level lv join shop.stock_location s on s.stock_location_id = lv.stock_location_id
             where lv.variant_id = p_variant_id and lv.qty_on_hand > lv.qty_reserved
             order by s.is_active, s.priority desc, s.stock_location_id desc loop
        exit when v_left = 0;
        perform api._adjust_stock(p_variant_id, l.stock_location_id, 'adjustment', -least(l.free, v_left), p_reason);
        v_left := v_left - least(l.free, v_left);
    end loop;
    if v_left > 0 then
        raise exception using errcode = 'MA422', constraint = 'stock_below_reserved',
            message = format('%s units are reserved; on hand cannot go below them', (
                select i.qty_reserved from shop.inventory i where i.variant_id = p_variant_id)),
            detail = '$.stock.qty_on_hand',
            hint = 'Cancel or wait for the orders holding them, or allow backorder.';
    end if;
end
$$;

-- The location new stock of a variant goes to: the first active one by priority.
create function api._first_location(p_variant_id bigint)
returns bigint
language sql stable as $$
    select s.stock_location_id from shop.stock_location s
    order by not s.is_active, s.priority, s.stock_location_id limit 1
$$;

-- A variant's stock for staff: totals, levels per location and the latest movements.
-- qty_reserved is what orders hold; units parked in stock slots (V34, counted in the
-- rows' qty_reserved) are shown apart, as qty_in_slots, and are available.
create function api._variant_stock_json(p_variant_id bigint)
returns jsonb
language sql stable as $$
    select jsonb_build_object(
        'variant_id', v.variant_id, 'sku', v.sku, 'tracked', i.variant_id is not null,
        'qty_on_hand', coalesce(i.qty_on_hand, 0), 'qty_reserved', coalesce(i.qty_reserved - parked.n, 0),
        'qty_in_slots', parked.n, 'reservation_slots', coalesce(i.reservation_slots, 0),
        'available', coalesce(i.qty_on_hand - i.qty_reserved + parked.n, 0),
        'allow_backorder', coalesce(i.allow_backorder, false), 'low_stock_threshold', i.low_stock_threshold,
        'levels', coalesce((select jsonb_agg(jsonb_build_object(
                                'location', s.code, 'name', s.name, 'priority', s.priority, 'is_active', s.is_active,
                                'qty_on_hand', l.qty_on_hand, 'qty_reserved', l.qty_reserved - lp.n,
                                'qty_in_slots', lp.n, 'available', l.qty_on_hand - l.qty_reserved + lp.n)
                                order by s.priority, s.stock_location_id)
                            from shop.stock_level l join shop.stock_location s using (stock_location_id)
                            cross join lateral (
                                select coalesce(sum(x.qty_free), 0)::integer as n from shop.stock_slot x
                                where x.variant_id = l.variant_id and x.stock_location_id = l.stock_location_id) lp
                            where l.variant_id = v.variant_id), '[]'),
        'movements', coalesce((select jsonb_agg(m.j order by m.id desc) from (
                                   select mv.stock_movement_id as id, jsonb_build_object(
                                       'id', mv.stock_movement_id, 'at', mv.created_at, 'kind', mv.kind,
                                       'location', s.code, 'on_hand_delta', mv.on_hand_delta,
                                       'reserved_delta', mv.reserved_delta, 'slot_delta', mv.slot_delta,
                                       'quantity', mv.quantity,
                                       'reason', mv.reason, 'actor_id', mv.actor_id,
                                       'order_number', (select o.order_number from shop.customer_order o
                                                        where o.order_id = mv.order_id)) as j
                                   from shop.stock_movement mv join shop.stock_location s using (stock_location_id)
                                   where mv.variant_id = v.variant_id
                                   order by mv.stock_movement_id desc limit 50) m), '[]'))
    from shop.product_variant v left join shop.inventory i on i.variant_id = v.variant_id
    cross join lateral (select shop.stock_parked(v.variant_id) as n) parked
    where v.variant_id = p_variant_id
$$;

-- ---------------------------------------------------------------- administration

create function api.admin_variant_stock(p_variant_id bigint)
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    v jsonb;
begin
    perform api._require_scope('catalog:read');
    v := api._variant_stock_json(p_variant_id);
    if v is null then
        raise exception using errcode = 'MA404', constraint = 'variant_not_found', message = 'no such variant';
    end if;
    return v;
end
$$;
comment on function api.admin_variant_stock(bigint) is
    'A variant''s stock: totals, levels per location, the 50 latest movements. Needs catalog:read. Errors: MA404 variant_not_found.';

-- Records a stock change of a variant: {"kind"?: "adjustment" | "receipt" | "return",
-- "location"?: code (default: the first active), "delta": ±units | "qty_on_hand": a
-- count taken at the location, "reason": text (required for adjustments)}.
create function api.admin_adjust_stock(p_variant_id bigint, p_adjustment jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_kind text;
    v_location bigint;
    v_delta bigint;
    v_count bigint;
    v_reason text;
begin
    perform api._require_scope('catalog:write');
    if not exists (select from shop.product_variant where variant_id = p_variant_id) then
        raise exception using errcode = 'MA404', constraint = 'variant_not_found', message = 'no such variant';
    end if;
    perform api._reject_unknown(p_adjustment, '$', array['kind', 'location', 'delta', 'qty_on_hand', 'reason']);
    v_kind := coalesce(api._text_field(p_adjustment, 'kind', '$'), 'adjustment');
    if v_kind not in ('adjustment', 'receipt', 'return') then
        perform api._bad_field('$.kind', 'must be adjustment, receipt or return');
    end if;
    if p_adjustment ? 'location' then
        select s.stock_location_id into v_location from shop.stock_location s
        where s.code = api._text_field(p_adjustment, 'location', '$', true);
        if v_location is null then
            perform api._bad_field('$.location', 'no stock location has this code');
        end if;
    else
        v_location := api._first_location(p_variant_id);
    end if;
    v_reason := btrim(coalesce(api._text_field(p_adjustment, 'reason', '$'), ''));
    if length(v_reason) > 500 then
        perform api._bad_field('$.reason', 'must have at most 500 characters');
    end if;
    if v_kind = 'adjustment' and v_reason = '' then
        perform api._bad_field('$.reason', 'is required for an adjustment (a count, damage, loss…)');
    end if;
    if (p_adjustment ? 'delta') = (p_adjustment ? 'qty_on_hand') then
        perform api._bad_field('$.delta', 'give either delta or qty_on_hand');
    end if;
    if p_adjustment ? 'delta' then
        v_delta := api._bounded_int_field(p_adjustment, 'delta', '$', -1000000, 1000000, true);
    else
        v_count := api._bounded_int_field(p_adjustment, 'qty_on_hand', '$', 0, 100000000, true);
        perform api._stock_write();
        insert into shop.inventory (variant_id) values (p_variant_id) on conflict do nothing;
        perform api._lock_variants(array[p_variant_id]);
        v_delta := v_count - coalesce((select l.qty_on_hand from shop.stock_level l
                                       where l.variant_id = p_variant_id and l.stock_location_id = v_location), 0);
    end if;
    if v_delta = 0 then
        perform api._bad_field('$.delta', 'changes nothing');
    end if;
    if v_kind in ('receipt', 'return') and v_delta < 0 then
        perform api._bad_field('$.delta', format('a %s adds stock: it must be positive', v_kind));
    end if;
    perform api._adjust_stock(p_variant_id, v_location, v_kind, v_delta::integer, v_reason);
    perform api._audit('stock.' || v_kind, 'product_variant', p_variant_id::text,
                       p_adjustment || jsonb_build_object('delta', v_delta));
    return api._variant_stock_json(p_variant_id);
end
$$;
comment on function api.admin_adjust_stock(bigint, jsonb) is
    'Records a receipt, return or adjustment of a variant''s stock at a location (delta or counted qty_on_hand), with its ledger row; audited. Needs catalog:write. Errors: MA404 variant_not_found, MA422 invalid_field / stock_below_reserved.';

create function api._stock_location_json(s shop.stock_location)
returns jsonb
language sql stable as $$
    select jsonb_build_object('id', s.stock_location_id, 'code', s.code, 'name', s.name, 'kind', s.kind,
                              'priority', s.priority, 'is_active', s.is_active,
                              'created_at', s.created_at, 'updated_at', s.updated_at)
$$;

create function api._stock_location_apply(p shop.stock_location, p_fields jsonb)
returns shop.stock_location
language plpgsql stable as $$
declare
    v shop.stock_location := p;
begin
    perform api._reject_unknown(p_fields, '$', array['code', 'name', 'kind', 'priority', 'is_active']);
    if p_fields ? 'code' then
        v.code := lower(btrim(api._text_field(p_fields, 'code', '$', true)));
        if v.code !~ '^[a-z0-9]+(-[a-z0-9]+)*$' or length(v.code) > 64 then
            perform api._bad_field('$.code', 'must be lower-case letters, digits and single dashes (at most 64)');
        end if;
    end if;
    if p_fields ? 'name' then
        v.name := btrim(api._text_field(p_fields, 'name', '$', true));
        if length(v.name) not between 1 and 200 then
            perform api._bad_field('$.name', 'must have 1 to 200 characters');
        end if;
    end if;
    if p_fields ? 'kind' then
        v.kind := api._text_field(p_fields, 'kind', '$', true);
        if v.kind not in ('warehouse', 'shop') then
            perform api._bad_field('$.kind', 'must be warehouse or shop');
        end if;
    end if;
    if p_fields ? 'priority' then
        v.priority := api._bounded_int_field(p_fields, 'priority', '$', -100000, 100000, true);
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

create function api.admin_list_stock_locations()
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
begin
    perform api._require_scope('catalog:read');
    return coalesce((select jsonb_agg(api._stock_location_json(s) order by s.priority, s.stock_location_id)
                     from shop.stock_location s), '[]');
end
$$;
comment on function api.admin_list_stock_locations() is 'Stock locations in reservation order (priority, then id). Needs catalog:read.';

-- Creates a location: {"code", "name", "kind"?, "priority"?, "is_active"?}.
create function api.admin_create_stock_location(p_location jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v shop.stock_location;
begin
    perform api._require_scope('catalog:write');
    perform api._require_fields(p_location, array['code', 'name']);
    v.kind := 'warehouse';
    v.priority := 0;
    v.is_active := true;
    v := api._stock_location_apply(v, p_location);
    insert into shop.stock_location (code, name, kind, priority, is_active)
    values (v.code, v.name, v.kind, v.priority, v.is_active) returning * into v;
    perform api._audit('stock_location.create', 'stock_location', v.stock_location_id::text, to_jsonb(v));
    return api._stock_location_json(v);
end
$$;
comment on function api.admin_create_stock_location(jsonb) is
    'Creates a stock location (lower priority reserves first). Needs catalog:write. Errors: MA422 invalid_field, 23505 stock_location_code_key.';

-- Changes a location; a deactivated location keeps its stock but checkout no longer
-- reserves from it.
create function api.admin_update_stock_location(p_stock_location_id bigint, p_patch jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v shop.stock_location;
    v_before jsonb;
begin
    perform api._require_scope('catalog:write');
    select * into v from shop.stock_location where stock_location_id = p_stock_location_id for update;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'stock_location_not_found', message = 'no such stock location';
    end if;
    v_before := to_jsonb(v);
    v := api._stock_location_apply(v, p_patch);
    update shop.stock_location s set code = v.code, name = v.name, kind = v.kind, priority = v.priority,
        is_active = v.is_active
    where s.stock_location_id = p_stock_location_id returning * into v;
    if not v.is_active then
        -- Checkout no longer reserves here: units parked in slots here go back (V34).
        perform api._stock_write();
        perform api._lock_variants(array(select distinct x.variant_id from shop.stock_slot x
                                         where x.stock_location_id = p_stock_location_id and x.qty_free > 0));
        perform api._slots_take_back(x.variant_id)
        from (select distinct y.variant_id from shop.stock_slot y
              where y.stock_location_id = p_stock_location_id and y.qty_free > 0) x
        order by x.variant_id;
    end if;
    perform api._audit('stock_location.update', 'stock_location', p_stock_location_id::text,
                       jsonb_build_object('before', v_before, 'patch', p_patch));
    return api._stock_location_json(v);
end
$$;
comment on function api.admin_update_stock_location(bigint, jsonb) is
    'Changes a stock location (name, kind, priority, is_active). Needs catalog:write. Errors: MA404 stock_location_not_found, MA422 invalid_field, 23505 stock_location_code_key.';

-- ---------------------------------------------------------------- reports

-- Active variants at or below their low-stock threshold (available = on hand -
-- reserved), least available first, with what each location has. Units parked in
-- stock slots are free (V34): slots never hold a variant's last threshold + 1 units,
-- but a variant is listed by its true availability all the same.
create view report.low_stock as
with parked as (select x.variant_id, x.stock_location_id, sum(x.qty_free)::integer as n
                from shop.stock_slot x group by x.variant_id, x.stock_location_id),
parked_total as (select variant_id, sum(n)::integer as n from parked group by variant_id)
select v.variant_id, v.sku, p.title as product_title, v.name as variant_name,
       i.qty_on_hand, i.qty_reserved - coalesce(pt.n, 0) as qty_reserved,
       i.qty_on_hand - i.qty_reserved + coalesce(pt.n, 0) as available,
       i.low_stock_threshold, i.allow_backorder,
       (select jsonb_object_agg(s.code, l.qty_on_hand - l.qty_reserved + coalesce(pk.n, 0) order by s.priority)
        from shop.stock_level l join shop.stock_location s using (stock_location_id)
        left join parked pk on pk.variant_id = l.variant_id and pk.stock_location_id = l.stock_location_id
        where l.variant_id = v.variant_id) as available_by_location
from shop.inventory i
join shop.product_variant v on v.variant_id = i.variant_id
join shop.product p on p.product_id = v.product_id
left join parked_total pt on pt.variant_id = i.variant_id
where v.is_active and p.is_active and i.qty_on_hand - i.qty_reserved + coalesce(pt.n, 0) <= i.low_stock_threshold
order by i.qty_on_hand - i.qty_reserved + coalesce(pt.n, 0), v.sku;
comment on view report.low_stock is
    'Active variants whose available stock (on hand - reserved) is at or below their threshold, least first, with availability per location.';

-- Every way stock could disagree with itself; empty when consistent. Levels against the
-- ledger, the live reservations and the parked units (V34: level reserved = live
-- reservations + parked = Σ reserved_delta + Σ slot_delta), slots against the ledger,
-- inventory totals against levels, negatives without backorder.
create view report.stock_inconsistencies as
with ledger as (
    select variant_id, stock_location_id, sum(on_hand_delta) as on_hand, sum(reserved_delta) as reserved,
           sum(slot_delta) as parked
    from shop.stock_movement group by variant_id, stock_location_id),
live as (
    select variant_id, stock_location_id, sum(quantity) as reserved
    from shop.stock_reservation where status = 'active' group by variant_id, stock_location_id),
slots as (
    select variant_id, stock_location_id, sum(qty_free) as parked
    from shop.stock_slot group by variant_id, stock_location_id),
levels as (
    select variant_id, sum(qty_on_hand) as on_hand, sum(qty_reserved) as reserved
    from shop.stock_level group by variant_id)
select l.variant_id, l.stock_location_id, 'level differs from ledger' as problem,
       jsonb_build_object('level', jsonb_build_array(l.qty_on_hand, l.qty_reserved),
                          'ledger', jsonb_build_array(coalesce(g.on_hand, 0), coalesce(g.reserved + g.parked, 0))) as data
from shop.stock_level l left join ledger g using (variant_id, stock_location_id)
where l.qty_on_hand <> coalesce(g.on_hand, 0) or l.qty_reserved <> coalesce(g.reserved + g.parked, 0)
union all
select l.variant_id, l.stock_location_id, 'reserved differs from live reservations and parked units',
       jsonb_build_object('reserved', l.qty_reserved, 'live', coalesce(r.reserved, 0), 'parked', coalesce(s.parked, 0))
from shop.stock_level l left join live r using (variant_id, stock_location_id)
left join slots s using (variant_id, stock_location_id)
where l.qty_reserved <> coalesce(r.reserved, 0) + coalesce(s.parked, 0)
union all
select coalesce(s.variant_id, g.variant_id), coalesce(s.stock_location_id, g.stock_location_id),
       'parked units differ from ledger',
       jsonb_build_object('slots', coalesce(s.parked, 0), 'ledger', coalesce(g.parked, 0))
from slots s full join (select * from ledger where parked <> 0) g using (variant_id, stock_location_id)
where coalesce(s.parked, 0) <> coalesce(g.parked, 0)
union all
select i.variant_id, null, 'inventory totals differ from levels',
       jsonb_build_object('inventory', jsonb_build_array(i.qty_on_hand, i.qty_reserved),
                          'levels', jsonb_build_array(coalesce(s.on_hand, 0), coalesce(s.reserved, 0)))
from shop.inventory i left join levels s using (variant_id)
where i.qty_on_hand <> coalesce(s.on_hand, 0) or i.qty_reserved <> coalesce(s.reserved, 0)
union all
select l.variant_id, l.stock_location_id, 'negative or over-reserved without backorder',
       jsonb_build_object('on_hand', l.qty_on_hand, 'reserved', l.qty_reserved)
from shop.stock_level l join shop.inventory i using (variant_id)
where not i.allow_backorder and (l.qty_on_hand < 0 or l.qty_reserved > l.qty_on_hand);
comment on view report.stock_inconsistencies is
    'Stock that disagrees with itself (levels vs ledger and live reservations, inventory vs levels, negatives without backorder); empty when consistent.';

-- Descriptions of the private helpers above, for \df+ in psql.
comment on function api._stock_low_crossed(bigint, integer) is 'Private: emits stock.low when a variant''s available stock crossed its low-stock threshold downwards.';
comment on function api._raise_short(jsonb) is 'Private: MA409 insufficient_stock listing the short lines.';
comment on function api._stock_write() is 'Private: marks the transaction''s stock writes as the SQL API''s (the direct-change trigger stays off).';
comment on function api._lock_variants(bigint[]) is 'Private: locks variants'' inventory rows in (product_id, variant_id) order — the stock lock order.';
comment on function api._slots_take_back(bigint) is 'Private: takes a variant''s parked units back from its stock slots (slots, levels, ledger, inventory total); the caller holds the variant''s lock.';
comment on function api._slots_refill(bigint) is 'Private: parks a slotted variant''s free units beyond its low-stock threshold + 1 in its stock slots; the caller holds the variant''s lock.';
comment on function api._reserve_from_slots(uuid, bigint[], bigint[], integer[], integer[], uuid, boolean) is 'Private: reserves an order''s lines from their variants'' stock slots (skipping busy slots, or waiting for one); MA5SL when a line finds none.';
comment on function api._reserve_mixed(uuid, bigint[], bigint[], integer[], text[], boolean[], integer[], uuid) is 'Private: reserves an order of slotted and plain lines — plain ones under their variants'' locks, slotted ones from their slots; MA5SL (caller rolls back) when a plain line is short or a slotted line finds no slot.';
comment on function api._reserve_order_stock(uuid) is 'Private: reserves every line of an order from active locations in priority order (one-level variants by a fast path); MA409 insufficient_stock listing the short lines.';
comment on function api._reserve_line(uuid, bigint, bigint, integer, text, boolean, uuid) is 'Private: reserves one line over active locations under its variant''s lock; returns its shortage or null.';
comment on function api._close_order_reservations(uuid, text, text) is 'Private: turns an order''s live reservations into sales, or releases them (release, cancellation), with ledger rows.';
comment on function api._adjust_stock(bigint, bigint, text, integer, text) is 'Private: changes on-hand stock at a location (receipt, return, adjustment) with its ledger row.';
comment on function api._set_variant_on_hand(bigint, integer, text) is 'Private: sets a variant''s total on hand through adjustments (up at the first location, down from free units).';
comment on function api._first_location(bigint) is 'Private: the location new stock goes to (first active by priority).';
comment on function api._variant_stock_json(bigint) is 'Private: a variant''s stock totals, levels and latest movements.';
comment on function api._stock_location_json(shop.stock_location) is 'Private: a stock location as JSON.';
comment on function api._stock_location_apply(shop.stock_location, jsonb) is 'Private: a stock location with validated fields applied.';

-- ---------------------------------------------------------------- who may call these
-- Deny by default: maef-api migrate revokes EXECUTE from PUBLIC, so a function is
-- callable only by its owner (maef-worker, DBAs) until it is granted here.
-- Managers and admins (each function checks its permission):
grant execute on function
    api.admin_variant_stock(bigint),
    api.admin_adjust_stock(bigint,jsonb),
    api.admin_list_stock_locations(),
    api.admin_create_stock_location(jsonb),
    api.admin_update_stock_location(bigint,jsonb)
    to maef_staff, maef_admin;
-- Staff read the reports.
grant select on report.low_stock, report.stock_inconsistencies to maef_staff, maef_admin;
