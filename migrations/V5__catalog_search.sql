-- V5: catalog search and catalog integrity — the search vector kept by triggers, the
-- French/English accent-insensitive text search configurations, trigram support for
-- typos, search weights, slug history (old URLs redirect), and no cycles in categories.

-- ---------------------------------------------------------------- text search
-- Accent-insensitive French and English configurations: words are unaccented, then
-- stemmed. A product's vector holds both stemmings, and a query is parsed with both,
-- so "chaussure" finds "chaussures", "shoes" finds "shoe" and "ete" finds "été".
create text search configuration shop.french_unaccent (copy = pg_catalog.french);
alter text search configuration shop.french_unaccent
    alter mapping for hword, hword_part, word with unaccent, french_stem;
create text search configuration shop.english_unaccent (copy = pg_catalog.english);
alter text search configuration shop.english_unaccent
    alter mapping for hword, hword_part, word with unaccent, english_stem;

-- unaccent() is STABLE (its dictionary could change), so it cannot appear in an index
-- or a generated column; this wrapper names the dictionary explicitly and is declared
-- IMMUTABLE, the usual PostgreSQL idiom for unaccented indexes.
create function shop.f_unaccent(text) returns text
language sql immutable parallel safe strict as $$
    select public.unaccent('public.unaccent'::regdictionary, $1)
$$;

-- The weighted vector of a product: title (A), brand and tags (B), description (C),
-- each in both languages.
create function shop.product_search_vector(p_title text, p_brand text, p_description text, p_tags text)
returns tsvector
language sql stable parallel safe as $$
    select setweight(to_tsvector('shop.french_unaccent', coalesce(p_title, '')), 'A')
        || setweight(to_tsvector('shop.english_unaccent', coalesce(p_title, '')), 'A')
        || setweight(to_tsvector('shop.french_unaccent', coalesce(p_brand, '') || ' ' || coalesce(p_tags, '')), 'B')
        || setweight(to_tsvector('shop.english_unaccent', coalesce(p_brand, '') || ' ' || coalesce(p_tags, '')), 'B')
        || setweight(to_tsvector('shop.french_unaccent', coalesce(p_description, '')), 'C')
        || setweight(to_tsvector('shop.english_unaccent', coalesce(p_description, '')), 'C')
$$;

create function shop.product_tag_names(p_product_id bigint) returns text
language sql stable parallel safe as $$
    select coalesce(string_agg(t.name, ' ' order by t.name), '')
    from shop.product_tag pt join shop.tag t using (tag_id)
    where pt.product_id = p_product_id
$$;

alter table shop.product
    add column search_vector tsvector not null default '',
    -- Unaccented lower-case title and brand, for trigram (typo) matching and prefixes.
    add column search_title text generated always as (shop.f_unaccent(lower(title || ' ' || coalesce(brand, '')))) stored;

create function shop.product_search_refresh() returns trigger
language plpgsql as $$
begin
    new.search_vector := shop.product_search_vector(new.title, new.brand, new.description,
                                                    shop.product_tag_names(new.product_id));
    return new;
end
$$;
create trigger product_search_refresh before insert or update of title, brand, description on shop.product
    for each row execute function shop.product_search_refresh();

-- Tag links and tag renames change products' vectors too.
create function shop.refresh_product_search_vector(p_product_id bigint) returns void
language sql as $$
    update shop.product p
    set search_vector = shop.product_search_vector(p.title, p.brand, p.description, shop.product_tag_names(p.product_id))
    where p.product_id = p_product_id
$$;

create function shop.product_tag_search_refresh() returns trigger
language plpgsql as $$
begin
    perform shop.refresh_product_search_vector(case when tg_op = 'DELETE' then old.product_id else new.product_id end);
    return null;
end
$$;
create trigger product_tag_search_refresh after insert or delete on shop.product_tag
    for each row execute function shop.product_tag_search_refresh();

create function shop.tag_search_refresh() returns trigger
language plpgsql as $$
begin
    perform shop.refresh_product_search_vector(pt.product_id)
    from shop.product_tag pt where pt.tag_id = new.tag_id;
    return null;
end
$$;
create trigger tag_search_refresh after update of name on shop.tag
    for each row execute function shop.tag_search_refresh();

-- Existing products get their vector now.
update shop.product p
set search_vector = shop.product_search_vector(p.title, p.brand, p.description, shop.product_tag_names(p.product_id));

create index product_search_vector_idx on shop.product using gin (search_vector);
create index product_search_title_trgm_idx on shop.product using gin (search_title gin_trgm_ops);
create index category_name_trgm_idx on shop.category using gin (shop.f_unaccent(lower(name)) gin_trgm_ops);

-- Ranking weights of maef.search_score, changeable by a DBA without a deploy.
create table shop.search_weight (
    name   text primary key check (name in ('text', 'trigram', 'exact', 'prefix', 'popularity', 'in_stock')),
    weight double precision not null check (weight >= 0)
);
insert into shop.search_weight (name, weight) values
    ('text', 1.0), ('trigram', 0.6), ('exact', 2.0), ('prefix', 0.5), ('popularity', 0.3), ('in_stock', 0.2);

-- ---------------------------------------------------------------- slug history
-- When a product's slug changes, the old one keeps pointing at the product so old links
-- redirect (301) to the new URL.
create table shop.product_slug_history (
    slug        text primary key,
    product_id  bigint not null references shop.product on delete cascade,
    replaced_at timestamptz not null default now()
);
create index product_slug_history_product_idx on shop.product_slug_history (product_id);

create function shop.product_slug_history_keep() returns trigger
language plpgsql as $$
begin
    if new.slug is distinct from old.slug then
        insert into shop.product_slug_history (slug, product_id) values (old.slug, old.product_id)
        on conflict (slug) do update set product_id = excluded.product_id, replaced_at = now();
        -- A slug in use again is no longer a redirect.
        delete from shop.product_slug_history where slug = new.slug;
    end if;
    return null;
end
$$;
create trigger product_slug_history_keep after update of slug on shop.product
    for each row execute function shop.product_slug_history_keep();

-- ---------------------------------------------------------------- category tree
-- A category may not become its own ancestor. Raised as a check violation (23514, 422
-- over HTTP) naming the rule category_no_cycle.
create function shop.category_refuse_cycle() returns trigger
language plpgsql as $$
begin
    if new.parent_id is not null and exists (
        with recursive up as (
            select c.category_id, c.parent_id from shop.category c where c.category_id = new.parent_id
            union all
            select c.category_id, c.parent_id from shop.category c join up on c.category_id = up.parent_id)
        select from up where up.category_id = new.category_id) then
        raise exception using errcode = '23514', constraint = 'category_no_cycle',
            message = format('category %s cannot be moved under its own descendant %s', new.category_id, new.parent_id);
    end if;
    return new;
end
$$;
create trigger category_refuse_cycle before insert or update of parent_id on shop.category
    for each row execute function shop.category_refuse_cycle();

-- ---------------------------------------------------------------- derived catalog data
-- Refreshed CONCURRENTLY by api.refresh_catalog_views() (a scheduled job), so reads are
-- never blocked; the unique indexes are what CONCURRENTLY requires.

-- Units sold per product over the last 30 days of paid orders (sort=popular, ranking).
create materialized view shop.popular_products as
select v.product_id, sum(oi.quantity)::bigint as units_sold
from shop.order_item oi
join shop.customer_order o using (order_id)
join shop.product_variant v using (variant_id)
where o.status in ('paid', 'fulfilled', 'shipped', 'delivered')
  and o.placed_at >= now() - interval '30 days'
group by v.product_id;
create unique index popular_products_product_idx on shop.popular_products (product_id);

-- Active products per category, descendants included (the category tree's counts).
create materialized view shop.category_counts as
with recursive tree (ancestor_id, category_id) as (
    select category_id, category_id from shop.category
    union all
    select t.ancestor_id, c.category_id from tree t join shop.category c on c.parent_id = t.category_id
)
select t.ancestor_id as category_id, count(p.product_id) filter (where p.is_active) as product_count
from tree t
left join shop.product p on p.category_id = t.category_id
group by t.ancestor_id;
create unique index category_counts_category_idx on shop.category_counts (category_id);
