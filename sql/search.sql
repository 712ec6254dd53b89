-- Product search: full text (French + English, accent-insensitive, web-search syntax),
-- typo tolerance with trigrams when full text finds too little, ranking by
-- maef.search_score plus a rating signal (weights in shop.search_weight), highlights,
-- facets, suggestions. The HTTP route logs each search (query text and result count
-- only) through api.search_products_logged.

-- The query as both tsqueries (French and English stemming) OR-ed together — or only
-- the wider one when the other cannot match more: two plain conjunctions where one has
-- every word of the other ("sac en wax": French drops the stopword "en", English keeps
-- it; 'sac' & 'wax' | 'sac' & 'en' & 'wax' is 'sac' & 'wax'). The GIN scan then skips
-- the posting lists of the extra words (that of "en" holds a fifth of the catalogue).
-- websearch_to_tsquery accepts any text: quotes, -exclusion, OR; never a syntax error.
create function api._search_tsquery(p_q text)
returns tsquery
-- PL/pgSQL: its plan is kept (docs/contributing.md); a search asks several times.
language plpgsql stable parallel safe as $$
begin
    return (select case when numnode(f) = 0 then e
                when numnode(e) = 0 then f
                when f = e then f
                when f::text !~ '[|!<]' and e::text !~ '[|!<]' and f <@ e then f
                when f::text !~ '[|!<]' and e::text !~ '[|!<]' and e <@ f then e
                else f || e end
    from (select websearch_to_tsquery('shop.french_unaccent', p_q) as f,
                 websearch_to_tsquery('shop.english_unaccent', p_q) as e) q);
end
$$;

-- Validates and normalises a search text: 1..200 characters after trimming.
create function api._search_text(p_q text)
returns text
language plpgsql immutable as $$
declare
    v_q text := btrim(coalesce(p_q, ''));
begin
    if v_q = '' then
        raise exception using errcode = 'MA422', constraint = 'invalid_query',
            message = 'q must not be empty', hint = 'Pass the words to search for in q.';
    end if;
    if length(v_q) > 200 then
        raise exception using errcode = 'MA422', constraint = 'query_too_long',
            message = format('q has %s characters; at most 200 are allowed', length(v_q));
    end if;
    return v_q;
end
$$;

-- Matching active products with their score, from a bounded candidate set.
--
-- Ranking every match of a broad query does not scale: at a million products "robe"
-- matches 2% of the catalogue, and each match costs a heap visit, a ts_rank_cd and a
-- trigram similarity. So only a bounded set is ranked:
--   * p_cap full-text matches: for a common query the newest ones (found among the
--     p_probe newest products), else the first ones in table order from the GIN bitmap;
--     either scan stops after p_cap rows instead of visiting every match;
--   * plus the p_title_cap shortest titles equal to or starting with the query (the
--     btree of migrations/V8) that also match the full text: the exact-title and prefix
--     boosts are the strongest signals, so the cap must not hide them;
--   * plus, when full text finds fewer than p_min_fulltext products (a typo, a partial
--     word), the matches of the query with each word widened to its closest words in the
--     lexicon shop.search_word (migrations/V8), so "chausure" finds "chaussures" and
--     "addidas" "Adidas" — but only for plain queries: a query using web-search syntax
--     ("phrase", -exclusion, OR) says exactly what it wants.
-- While full text finds fewer than p_cap the set is every match and `exact` is true.
-- Otherwise `matches` estimates the total from how much of the catalogue (ids or
-- blocks) the scan covered to find p_cap. `matches` is the same on every row;
-- category_id and brand save the facets a lookup.
--
-- plan_cache_mode: the GIN and LIKE-prefix conditions are planned with the query's own
-- words (a generic plan cannot use a LIKE prefix as an index range). enable_seqscan =
-- off: a sequential scan for a common word could start mid-table (synchronize_seqscans)
-- and give the pages of one search different candidates. jit = off: a plan over a
-- million rows (or with the disabled sequential scan's cost) passes jit_above_cost, and
-- compiling it takes longer (40 ms) than running it.
create function api._search_matches(p_q text, p_min_fulltext integer, p_cap integer default 100,
                                    p_title_cap integer default 20, p_probe integer default 5000)
returns table (product_id bigint, score double precision, exact boolean, matches bigint,
               category_id bigint, brand text)
language plpgsql stable
set plan_cache_mode = force_custom_plan
set enable_seqscan = off
set jit = off as $$
declare
    v_tsq tsquery := api._search_tsquery(p_q);
    v_rank_tsq tsquery := v_tsq;
    v_norm text := shop.f_unaccent(lower(p_q));
    v_like text := replace(replace(replace(shop.f_unaccent(lower(p_q)), '\', '\\'), '%', '\%'), '_', '\_') || '%';
    v_plain boolean := p_q !~ '(^|\s)-\S|"|\sOR\s';
    v_fulltext bigint[] := '{}';
    v_sample bigint;
    v_titles bigint[];
    v_fuzzy bigint[] := '{}';
    v_word text;
    v_alt text;
    v_word_tsq tsquery;
    v_fuzzy_tsq tsquery;
    v_exact boolean;
    v_matches bigint;
    v_last_block numeric;
    v_oldest bigint;
    v_newest bigint;
    -- The ranking weights (shop.search_weight), read once rather than per candidate.
    w_text float8; w_trigram float8; w_exact float8; w_prefix float8; w_popularity float8; w_in_stock float8;
    w_rating float8;
begin
    select coalesce(max(s.weight) filter (where s.name = 'text'), 1.0),
           coalesce(max(s.weight) filter (where s.name = 'trigram'), 0.6),
           coalesce(max(s.weight) filter (where s.name = 'exact'), 2.0),
           coalesce(max(s.weight) filter (where s.name = 'prefix'), 0.5),
           coalesce(max(s.weight) filter (where s.name = 'popularity'), 0.3),
           coalesce(max(s.weight) filter (where s.name = 'in_stock'), 0.2),
           coalesce(max(s.weight) filter (where s.name = 'rating'), 0)
    into w_text, w_trigram, w_exact, w_prefix, w_popularity, w_in_stock, w_rating
    from shop.search_weight s;
    -- A common query (one product in 50 or more) finds p_cap matches among the p_probe
    -- newest products: walking the id index and testing each vector is cheap, while the
    -- GIN bitmap would first merge posting lists of 100 000 entries. A tenth of the walk
    -- tells whether it is worth it, so a rare query loses little to the test.
    select count(*) into v_sample
    from (select p.search_vector from shop.product p
          where p.is_active order by p.product_id desc limit p_probe / 10) y
    where y.search_vector @@ v_tsq;
    if v_sample * 10 >= p_cap then
        select coalesce(array_agg(x.product_id order by x.product_id desc), '{}') into v_fulltext
        from (select y.product_id from (select p.product_id, p.search_vector from shop.product p
                                        where p.is_active order by p.product_id desc limit p_probe) y
              where y.search_vector @@ v_tsq limit p_cap) x;
    end if;
    if cardinality(v_fulltext) = p_cap then
        -- The matches are assumed as dense over the older ids.
        select min(p.product_id), max(p.product_id) into v_oldest, v_newest from shop.product p where p.is_active;
        v_matches := round(p_cap::numeric * (v_newest - v_oldest + 1) / (v_newest - v_fulltext[p_cap] + 1));
    else
        -- A rarer query: the GIN bitmap, stopping after p_cap matches in table (block)
        -- order, so every page of one search sees the same candidates.
        select coalesce(array_agg(x.product_id), '{}'), max(x.blk) into v_fulltext, v_last_block
        from (select p.product_id, (p.ctid::text::point)[0] as blk from shop.product p
              where p.is_active and p.search_vector @@ v_tsq limit p_cap) x;
        if cardinality(v_fulltext) = p_cap then
            -- They came from the first v_last_block + 1 blocks; assumed as dense in the rest.
            v_matches := round(p_cap * (pg_relation_size('shop.product') / current_setting('block_size')::numeric)
                               / (v_last_block + 1));
        end if;
    end if;
    -- Shortest titles first in the btree's own (byte-wise, text_pattern_ops) order, so
    -- an exact title comes first and the scan stops after p_title_cap entries.
    select coalesce(array_agg(x.product_id), '{}') into v_titles
    from (select p.product_id, p.search_vector from shop.product p
          where p.is_active and shop.f_unaccent(lower(p.title)) like v_like
          order by shop.f_unaccent(lower(p.title)) using operator(pg_catalog.~<~) limit p_title_cap) x
    where x.search_vector @@ v_tsq;
    v_exact := cardinality(v_fulltext) < p_cap;
    if v_plain and cardinality(v_fulltext) < p_min_fulltext then
        -- Spelling correction: each word OR its 3 closest lexicon words (word_similarity
        -- at least 0.4 catches one or two wrong letters), all words required, searched
        -- with the full-text index like the query itself.
        perform set_config('pg_trgm.word_similarity_threshold', '0.4', true);
        for v_word in select distinct x.word from regexp_split_to_table(v_norm, '[^a-z0-9]+') x(word) where x.word <> '' loop
            v_word_tsq := api._search_tsquery(v_word);
            for v_alt in select s.word from shop.search_word s
                         where v_word operator(public.<%) s.word and s.word <> v_word
                         order by public.word_similarity(v_word, s.word) desc, s.word limit 3 loop
                v_word_tsq := v_word_tsq || api._search_tsquery(v_alt);
            end loop;
            v_fuzzy_tsq := case when v_fuzzy_tsq is null then v_word_tsq else v_fuzzy_tsq && v_word_tsq end;
        end loop;
        if v_fuzzy_tsq is not null then
            select coalesce(array_agg(x.product_id), '{}') into v_fuzzy
            from (select p.product_id from shop.product p
                  where p.is_active and p.search_vector @@ v_fuzzy_tsq limit p_cap) x;
            v_exact := v_exact and cardinality(v_fuzzy) < p_cap;
            -- Corrected words count as text matches in the ranking.
            v_rank_tsq := v_tsq || v_fuzzy_tsq;
        end if;
    end if;
    return query
    with candidates as (
        select distinct c.product_id from unnest(v_fulltext || v_titles || v_fuzzy) c(product_id)
    )
    select p.product_id,
           maef.search_score(
               ts_rank_cd(p.search_vector, v_rank_tsq, 32),
               public.word_similarity(v_norm, p.search_title),
               t.norm = v_norm,
               t.norm like v_like,
               coalesce(pop.units_sold, 0),
               p.in_stock,
               w_text, w_trigram, w_exact, w_prefix, w_popularity, w_in_stock)
           -- The rating signal (migrations/V29): the average of the approved reviews
           -- pulled towards 3 stars by 5 phantom reviews, scaled from 1..5 to 0..1, so a
           -- product without reviews scores 0.5, one 5-star review 0.58, fifty 0.96. Added
           -- here, beside the extension's score, with its weight from shop.search_weight.
           + w_rating * ((coalesce(rt.rating_sum, 0) + 15)::float8 / (coalesce(rt.review_count, 0) + 5) - 1) / 4,
           v_exact,
           coalesce(v_matches, count(*) over ()),
           p.category_id,
           p.brand
    from candidates c
    join shop.product p using (product_id)
    cross join lateral (select shop.f_unaccent(lower(p.title)) as norm) t
    left join shop.popular_products pop on pop.product_id = p.product_id
    left join shop.product_rating rt on rt.product_id = p.product_id;
end
$$;

-- A facet count of the candidate set scaled to the estimated total (scale 1: exact).
create function api._scaled(p_count bigint, p_scale double precision)
returns bigint
language sql immutable parallel safe as $$
    select case when p_scale = 1 then p_count else round(p_count * p_scale)::bigint end
$$;

-- Search: one page of results (best first, keyset-paginated), the total, highlights
-- (ts_headline, for the page only) and facet counts over the ranked candidates, scaled
-- to the estimated total when those are not every match.
create function api.search_products(p_q text, p_limit integer default 20, p_after text default null,
                                    p_currency text default null)
returns jsonb
language plpgsql stable security definer
set search_path = ''
set jit = off as $$  -- see api._search_matches
declare
    v_q text := api._search_text(p_q);
    v_limit integer := coalesce(p_limit, 20);
    v_after_score double precision;
    v_after_id bigint;
    v_tsq tsquery := api._search_tsquery(v_q);
    v_currency text := upper(p_currency);
    v_result jsonb;
begin
    if v_currency is not null and not exists (select from shop.currency where code = v_currency) then
        raise exception using errcode = 'MA422', constraint = 'invalid_currency',
            message = format('unknown currency %L', p_currency);
    end if;
    if v_limit not between 1 and 100 then
        raise exception using errcode = 'MA422', constraint = 'invalid_limit',
            message = format('limit must be between 1 and 100, not %s', v_limit);
    end if;
    if p_after is not null then
        if p_after !~ '^[0-9.eE+-]+\|[0-9]{1,18}$' then
            raise exception using errcode = 'MA422', constraint = 'invalid_cursor',
                message = 'after is not a cursor returned by this API';
        end if;
        v_after_score := split_part(p_after, '|', 1)::double precision;
        v_after_id := split_part(p_after, '|', 2)::bigint;
    end if;

    -- One statement (GET requests run READ ONLY: no temporary table): the matches are
    -- computed once and feed the page, the total and the facets.
    with hits as materialized (
        select m.product_id, m.score, m.exact, m.matches, m.category_id, m.brand from api._search_matches(v_q, 5) m
    ), scope as (
        -- Facet counts over a capped candidate set are scaled to the estimated total.
        select coalesce(bool_and(h.exact), true) as exact, coalesce(max(h.matches), 0) as matches,
               coalesce(max(h.matches)::float8 / count(*), 1) as scale
        from hits h
    ), page as (
        select h.product_id, h.score, row_number() over (order by h.score desc, h.product_id desc) as n
        from hits h
        where v_after_id is null or (h.score, h.product_id) < (v_after_score, v_after_id)
        order by h.score desc, h.product_id desc
        limit v_limit + 1
    )
    select jsonb_build_object(
        'query', v_q,
        'total', (select matches from scope),
        'total_exact', (select exact from scope),
        'facets_exact', (select exact from scope),
        'items', coalesce((
            select jsonb_agg(api._product_summary(p) || jsonb_build_object(
                       'score', round(pg.score::numeric, 4),
                       'highlight', ts_headline('shop.french_unaccent', p.title || ' — ' || p.description, v_tsq,
                                                'MaxFragments=1, MaxWords=18, MinWords=6, StartSel=<mark>, StopSel=</mark>'))
                   order by pg.score desc, pg.product_id desc)
            from page pg join shop.product p using (product_id) where pg.n <= v_limit), '[]'::jsonb),
        'next_cursor', (select pg.score::text || '|' || pg.product_id from page pg
                        where pg.n = v_limit and exists (select from page x where x.n > v_limit)),
        'facets', jsonb_build_object(
            'categories', coalesce((
                select jsonb_agg(jsonb_build_object('slug', c.slug, 'name', c.name, 'count', api._scaled(f.n, sc.scale)) order by f.n desc, c.slug)
                from (select h.category_id, count(*) as n from hits h
                      where h.category_id is not null group by h.category_id) f
                join shop.category c using (category_id) cross join scope sc), '[]'::jsonb),
            'brands', coalesce((
                select jsonb_agg(jsonb_build_object('brand', f.brand, 'count', api._scaled(f.n, sc.scale)) order by f.n desc, f.brand)
                from (select h.brand, count(*) as n from hits h
                      where h.brand is not null group by h.brand) f cross join scope sc), '[]'::jsonb),
            'tags', coalesce((
                select jsonb_agg(jsonb_build_object('slug', t.slug, 'name', t.name, 'count', api._scaled(f.n, sc.scale)) order by f.n desc, t.slug)
                from (select pt.tag_id, count(*) as n from hits h join shop.product_tag pt using (product_id)
                      group by pt.tag_id) f
                join shop.tag t using (tag_id) cross join scope sc), '[]'::jsonb),
            -- Products per attribute value of their active variants ({"color": "red"} …).
            'attributes', coalesce((
                select jsonb_agg(jsonb_build_object('name', f.key, 'value', f.value, 'count', api._scaled(f.n, sc.scale))
                                 order by f.key, f.n desc, f.value)
                from (select a.key, a.value, count(distinct v.product_id) as n
                      from hits h join shop.product_variant v using (product_id)
                      cross join lateral jsonb_each_text(v.attributes) a
                      where v.is_active group by a.key, a.value) f cross join scope sc), '[]'::jsonb),
            -- "From" prices in the requested currency, in five equal-width buckets
            -- between the lowest and highest (minor units; max is inclusive in the last).
            'price_buckets', case when v_currency is null then null else coalesce((
                with priced as (
                    select (select min(vp.amount) from api._variant_prices(h.product_id, now()) vp
                            where vp.currency_code = v_currency) as price
                    from hits h),
                bounds as (select min(price) as lo, max(price) as hi from priced where price is not null),
                bucketed as (
                    select least(width_bucket(p.price, b.lo, b.hi + 1, 5), 5) as bucket, b.lo, b.hi
                    from priced p, bounds b where p.price is not null)
                select jsonb_agg(jsonb_build_object(
                           'currency', v_currency,
                           'min', x.lo + (x.bucket - 1) * (x.hi + 1 - x.lo) / 5,
                           'max', x.lo + x.bucket * (x.hi + 1 - x.lo) / 5 - 1,
                           'count', api._scaled(x.n, sc.scale)) order by x.bucket)
                from (select bucket, lo, hi, count(*) as n from bucketed group by bucket, lo, hi) x
                cross join scope sc), '[]'::jsonb) end))
    into v_result;
    return v_result;
end
$$;
comment on function api.search_products(text, integer, text, text) is
    'Product search: {query, total, total_exact, facets_exact, items (summary + score + highlight), next_cursor, facets {categories, brands, tags, attributes, price_buckets (with p_currency)}}. A broad query ranks a bounded set of its matches (api._search_matches): total and facet counts are then estimates (total_exact, facets_exact false) and pages end with that set. q: 1..200 characters, web-search syntax ("phrase", -word, OR); typo-tolerant. Errors: MA422 invalid_query, query_too_long, invalid_limit, invalid_cursor.';

-- Autocomplete: at most 10 suggestions (categories first, then products) whose name has
-- a word starting with the typed prefix, accents and case ignored. Products whose title
-- starts with the prefix come first, from the title btree in its order (so a million
-- products cost ten index entries); titles or brands with a later word starting with it
-- (trigram index) only fill what is left, in table order.
create function api.search_suggest(p_q text)
returns jsonb
language plpgsql stable security definer
set search_path = ''
set plan_cache_mode = force_custom_plan
set jit = off as $$
declare
    v_norm text := shop.f_unaccent(lower(api._search_text(p_q)));
    -- Every character but letters, digits and spaces is escaped: a backslash before a
    -- letter or digit would be an invalid escape, and unaccent writes capitals (® is
    -- "(R)") and leaves other scripts' letters.
    v_pattern text := '(^|[^a-z0-9])' || regexp_replace(v_norm, '([^[:alnum:] ])', '\\\1', 'g');
    v_like text := replace(replace(replace(v_norm, '\', '\\'), '%', '\%'), '_', '\_') || '%';
    v_categories jsonb[];
    v_products jsonb[];
    v_others jsonb[] := '{}';
begin
    select coalesce(array_agg(x.item order by x.starts desc, x.name), '{}') into v_categories
    from (select jsonb_build_object('type', 'category', 'slug', c.slug, 'name', c.name) as item,
                 shop.f_unaccent(lower(c.name)) like v_like as starts, c.name
          from shop.category c
          where shop.f_unaccent(lower(c.name)) ~ v_pattern
          order by starts desc, c.name limit 3) x;
    select coalesce(array_agg(x.item order by x.n), '{}') into v_products
    from (select jsonb_build_object('type', 'product', 'slug', p.slug, 'title', p.title) as item,
                 row_number() over () as n
          from (select p.slug, p.title from shop.product p
                where p.is_active and shop.f_unaccent(lower(p.title)) like v_like
                order by shop.f_unaccent(lower(p.title)) using operator(pg_catalog.~<~)
                limit 10 - cardinality(v_categories)) p) x;
    if cardinality(v_categories) + cardinality(v_products) < 10 then
        select coalesce(array_agg(x.item order by x.title), '{}') into v_others
        from (select jsonb_build_object('type', 'product', 'slug', p.slug, 'title', p.title) as item, p.title
              from shop.product p
              where p.is_active and p.search_title like '%' || v_norm || '%' and p.search_title ~ v_pattern
                and not shop.f_unaccent(lower(p.title)) like v_like
              limit 10 - cardinality(v_categories) - cardinality(v_products)) x;
    end if;
    return to_jsonb(v_categories || v_products || v_others);
end
$$;
comment on function api.search_suggest(text) is
    'Autocomplete: up to 10 {type: category|product, slug, name|title} whose name has a word starting with q.';

-- Descriptions of the private helpers above, for \df+ in psql.
comment on function api._search_tsquery(text) is 'Private: the query parsed with websearch_to_tsquery in French and English (accent-insensitive), OR-ed when they differ.';
comment on function api._search_text(text) is 'Private: the trimmed query, or MA422 invalid_query / query_too_long.';
comment on function api._search_matches(text, integer, integer, integer, integer) is 'Private: at most p_cap full-text matches plus exact/prefix titles plus, for plain queries that find too little, matches of the spelling-corrected query, with their maef.search_score; exact = every match is there, matches = their number or an estimate.';
comment on function api._scaled(bigint, double precision) is 'Private: a facet count scaled from the candidate set to the estimated total.';

-- ---------------------------------------------------------------- who may call these
-- Deny by default: maef-api migrate revokes EXECUTE from PUBLIC, so a function is
-- callable only by its owner (maef-worker, DBAs) until it is granted here.
-- Everyone, anonymous callers included (public on purpose):
grant execute on function
    api.search_products(text,integer,text,text),
    api.search_suggest(text)
    to maef_anon, maef_customer, maef_staff, maef_admin;

-- The log line of a search (report.top_searches): the normalised query and the total,
-- nothing about who searched (migrations/V30).
create function api.log_search(p_q text, p_total bigint)
returns void
language sql security definer
set search_path = '' as $$
    insert into shop.search_log (query, results)
    values (left(regexp_replace(lower(btrim(p_q)), '\s+', ' ', 'g'), 200), p_total);
$$;
comment on function api.log_search(text, bigint) is
    'Logs one search (normalised query, total) in shop.search_log. Called by maef-api as its own login role after a search answered by a read replica; granted to no request role, so no client can write made-up lines.';

-- The search of the HTTP route: api.search_products, and the first page of each search
-- logged for report.top_searches. Later pages are the same search and are not logged.
-- With a read replica, maef-api calls api.search_products on the replica and
-- api.log_search on the primary instead (api/src/routes/search.rs).
create function api.search_products_logged(p_q text, p_limit integer default 20, p_after text default null,
                                           p_currency text default null)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_result jsonb := api.search_products(p_q, p_limit, p_after, p_currency);
begin
    if p_after is null then
        perform api.log_search(p_q, (v_result ->> 'total')::bigint);
    end if;
    return v_result;
end
$$;
comment on function api.search_products_logged(text, integer, text, text) is
    'api.search_products, logging the first page of each search in shop.search_log (normalised query and total; no user). Used by GET /api/v1/search without a read replica.';
grant execute on function api.search_products_logged(text,integer,text,text)
    to maef_anon, maef_customer, maef_staff, maef_admin;
