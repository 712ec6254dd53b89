-- V36: shop.stock_parked (V34) as PL/pgSQL. As a LANGUAGE sql function with a sub-select
-- the planner never inlines it, so every call parsed and planned its query again
-- (~0.1 ms, once per cart change or checkout of a slotted variant); PL/pgSQL keeps the
-- plan for the session (docs/contributing.md). Same signature, same result.
create or replace function shop.stock_parked(p_variant_id bigint) returns integer
language plpgsql stable parallel safe as $$
begin
    return (select coalesce(sum(s.qty_free), 0)::integer from shop.stock_slot s where s.variant_id = p_variant_id);
end
$$;
