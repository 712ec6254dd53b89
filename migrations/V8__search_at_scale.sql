-- V8: search at a million products. Ranking every match of a broad query ("robe" is
-- 3% of a catalog) costs a heap visit, a ts_rank_cd and a per-row stock subquery each;
-- sql/search.sql now ranks a bounded candidate set. What it needs from the data:
--   * shop.product.in_stock, kept by triggers, instead of an EXISTS over variants and
--     inventory per candidate (also the in_stock filter of product lists);
--   * a btree on the normalised title for exact-title and prefix candidates, which the
--     ranking boosts most and which must never be missed by the candidate cap;
--   * a lexicon of title and brand words for spelling correction.

-- ---------------------------------------------------------------- in_stock
-- True when at least one active variant has stock available (on hand > reserved).
alter table shop.product add column in_stock boolean not null default false;

create function shop.product_refresh_in_stock(p_product_id bigint) returns void
language plpgsql as $$
begin
    -- Lock the product first: two transactions taking the last unit of two variants of
    -- one product would otherwise each still see the other's variant in stock and both
    -- leave in_stock true. Once the lock is held (READ COMMITTED), the next statement's
    -- snapshot sees whatever the previous holder committed.
    perform from shop.product where product_id = p_product_id for no key update;
    update shop.product p
    set in_stock = x.available
    from (select exists (select from shop.product_variant v join shop.inventory i using (variant_id)
                         where v.product_id = p_product_id and v.is_active
                           and i.qty_on_hand > i.qty_reserved) as available) x
    where p.product_id = p_product_id and p.in_stock is distinct from x.available;
end
$$;

-- Only a change that can flip a product's flag takes the product lock: most stock
-- movements (12 on hand → 11) leave a variant available and change nothing.
create function shop.inventory_in_stock_refresh() returns trigger
language plpgsql as $$
declare
    v_product_id bigint;
begin
    if tg_op = 'UPDATE' and (old.qty_on_hand > old.qty_reserved) = (new.qty_on_hand > new.qty_reserved)
       and old.variant_id = new.variant_id then
        return null;
    end if;
    select v.product_id into v_product_id from shop.product_variant v
    where v.variant_id = case when tg_op = 'DELETE' then old.variant_id else new.variant_id end;
    if v_product_id is not null then  -- null: the variant itself is being deleted
        perform shop.product_refresh_in_stock(v_product_id);
    end if;
    return null;
end
$$;
create trigger inventory_in_stock_refresh after insert or update or delete on shop.inventory
    for each row execute function shop.inventory_in_stock_refresh();

create function shop.variant_in_stock_refresh() returns trigger
language plpgsql as $$
begin
    if tg_op in ('UPDATE', 'DELETE') then
        perform shop.product_refresh_in_stock(old.product_id);
    end if;
    if tg_op = 'UPDATE' and new.product_id <> old.product_id then
        perform shop.product_refresh_in_stock(new.product_id);
    end if;
    return null;
end
$$;
-- A new variant has no inventory row yet (its insert fires the trigger above).
create trigger variant_in_stock_refresh after update of is_active, product_id or delete on shop.product_variant
    for each row execute function shop.variant_in_stock_refresh();

update shop.product p set in_stock = true
where exists (select from shop.product_variant v join shop.inventory i using (variant_id)
              where v.product_id = p.product_id and v.is_active and i.qty_on_hand > i.qty_reserved);

-- ---------------------------------------------------------------- title lookups
-- The unaccented lower-case title alone (search_title also holds the brand), for the
-- exact-title (=) and prefix (LIKE 'q%') candidates; text_pattern_ops serves both.
create index product_norm_title_idx on shop.product (shop.f_unaccent(lower(title)) text_pattern_ops)
    where is_active;

-- ---------------------------------------------------------------- typo lexicon
-- Typo tolerance at scale: a trigram scan of every title for "chausure" visits every
-- title with a word starting with "c". Instead the distinct words of titles and brands
-- are kept here (thousands of rows, not millions); a misspelt word is matched against
-- them by trigram similarity, and the closest words are searched with the full-text
-- index. Words are only added: one no product uses any more finds nothing, harmlessly.
create table shop.search_word (
    word text primary key
);
create index search_word_trgm_idx on shop.search_word using gin (word gin_trgm_ops);

-- The words of an unaccented lower-case text: letters only, 3 to 40 of them (numbers
-- and short words are no use for spelling correction).
create function shop.search_words(p_text text) returns setof text
language sql immutable parallel safe as $$
    select distinct w from regexp_split_to_table(p_text, '[^a-z]+') w where length(w) between 3 and 40
$$;

create function shop.search_word_add() returns trigger
language plpgsql as $$
begin
    insert into shop.search_word (word) select shop.search_words(new.search_title) on conflict do nothing;
    return null;
end
$$;
create trigger search_word_add after insert or update of title, brand on shop.product
    for each row execute function shop.search_word_add();

insert into shop.search_word (word) select distinct shop.search_words(search_title) from shop.product
on conflict do nothing;

analyze shop.product;
