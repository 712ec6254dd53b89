#!/usr/bin/env bash
# `make bench-search`: search latency on a generated catalog, compared in the same run
# with the naive baseline (ILIKE '%q%' over title and description).
#   BENCH_PRODUCTS (default 100000; the issue's figures also ask for 1000000)
#   BENCH_ROUNDS   (default 3): each of the 50 queries is timed this many times.
# Prints p50/p95/p99 per engine and the speed-up, plus index sizes and build times.
set -euo pipefail
cd "$(dirname "$0")/.."
PRODUCTS="${BENCH_PRODUCTS:-100000}"
ROUNDS="${BENCH_ROUNDS:-3}"
DB=maef_bench_search

scripts/setup.sh "$DB" >/dev/null
# shellcheck source=/dev/null
source .run/env
psql() { command psql -w -q -X -v ON_ERROR_STOP=1 "$DATABASE_URL" "$@"; }

have=$(psql -tAc "select count(*) from shop.product")
if [ "$have" != "$PRODUCTS" ]; then
    echo "==> generating $PRODUCTS products (triggers build the search vectors)" >&2
    psql -c "truncate shop.product cascade"
    psql <<SQL
\timing on
select setseed(0.42);
insert into shop.category (name, slug) values ('Mode', 'mode'), ('Maison', 'maison'), ('Électronique', 'electronique'), ('Sport', 'sport')
on conflict (slug) do nothing;
with words as (
    select array['Robe','Chemise','Chaussures','Sandales','Sac','Ceinture','Montre','Lampe','Coussin','Théière',
                 'Écran','Casque','Enceinte','Veste','Pull','Jupe','Tapis','Ballon','Lunettes','Cafetière',
                 'Dress','Shirt','Shoes','Bag','Watch','Lamp','Pillow','Speaker','Jacket','Sweater'] as nouns,
           array['en wax','en cuir','en lin','en coton','bogolan','d''été','imprimée','légère','sans fil','étanche',
                 'leather','cotton','wireless','waterproof','vintage','classic','premium','slim','oversize','bio'] as adjs,
           array['Dakar Wax Studio','Maison Bamako','Cuirs de Kano','Adidas','Nike','Samsung','Sony','JBL','Ikea','Decathlon',
                 'Zara','Levi''s','Apple','Bodum','Garmin','Ray-Ban','Clarks','Salomon','Lenovo','Dell'] as brands,
           array['Idéal pour l''été, tissu respirant.','Finitions soignées, fabriqué à la main.','Garantie deux ans.',
                 'Lightweight and durable for everyday use.','Perfect gift for the holidays.','Livraison rapide à Dakar et Abidjan.'] as blurbs
)
insert into shop.product (category_id, sku_root, title, slug, brand, description)
select (i % 4) + (select min(category_id) from shop.category),
       'B-' || i,
       nouns[1 + (random() * 29)::int] || ' ' || adjs[1 + (random() * 19)::int] || ' ' || i,
       'bench-' || i,
       brands[1 + (random() * 19)::int],
       blurbs[1 + (random() * 5)::int] || ' ' || blurbs[1 + (random() * 5)::int]
from words, generate_series(1, $PRODUCTS) i;
SQL
    psql -c "vacuum analyze shop.product"
fi

echo "==> index sizes" >&2
psql -c "select indexrelid::regclass as index, pg_size_pretty(pg_relation_size(indexrelid)) as size
         from pg_index where indrelid = 'shop.product'::regclass and indexrelid::regclass::text ~ '(search|trgm)'"

# 50 queries: exact titles, words, typos, prefixes, phrases, exclusions, facet-heavy commons.
cat > .run/search-queries.txt <<'Q'
robe
chemise en lin
chaussures
chausure
sandales cuir
sac en wax
ceinture
montre
lampe bogolan
coussin
theiere
ecran
casque sans fil
enceinte etanche
veste
pull
jupe imprimee
tapis
ballon
lunettes
cafetiere
dress
shirt cotton
shoes
bag leather
watch
lamp vintage
pillow
speaker wireless
jacket
sweater oversize
adidas
addidas
samsnug
nike
dakar wax studio
maison bamako
cuirs de kano
"robe en wax"
"leather bag"
robe -wax
shoes OR sandales
ete
été
cuir
wax
premium
classic slim
garantie deux ans
rob
Q

cat > .run/search-bench.sql <<'SQL'
create temporary table timings (engine text, ms double precision);
-- psql variables are not expanded inside $$ blocks: pass them through a table and a setting.
create temporary table queries as select q from unnest(string_to_array(:'queries', E'\n')) q where q <> '';
select set_config('bench.rounds', :'rounds', false);
do $$
declare
    q text;
    t0 timestamptz;
    r integer;
    dummy jsonb;
    n bigint;
begin
    for r in 1 .. current_setting('bench.rounds')::integer loop
        for q in select queries.q from queries loop
            t0 := clock_timestamp();
            dummy := api.search_products(q, 20);
            insert into timings values ('maef api.search_products', extract(epoch from clock_timestamp() - t0) * 1000);
            t0 := clock_timestamp();
            select count(*) into n from (
                select product_id from shop.product
                where title ilike '%' || replace(q, '"', '') || '%' or description ilike '%' || replace(q, '"', '') || '%'
                order by product_id limit 20) x;
            insert into timings values ('baseline ILIKE', extract(epoch from clock_timestamp() - t0) * 1000);
        end loop;
    end loop;
end
$$;
select engine,
       round(percentile_cont(0.5) within group (order by ms)::numeric, 2) as p50_ms,
       round(percentile_cont(0.95) within group (order by ms)::numeric, 2) as p95_ms,
       round(percentile_cont(0.99) within group (order by ms)::numeric, 2) as p99_ms,
       count(*) as runs
from timings group by engine order by engine;
select round((select percentile_cont(0.95) within group (order by ms) from timings where engine = 'baseline ILIKE')::numeric
           / (select percentile_cont(0.95) within group (order by ms) from timings where engine like 'maef%')::numeric, 1)
       as "speed-up at p95 (baseline / maef)";
SQL
echo "==> timing 50 queries x $ROUNDS rounds on $PRODUCTS products" >&2
psql -v rounds="$ROUNDS" -v queries="$(cat .run/search-queries.txt)" -f .run/search-bench.sql
