#!/usr/bin/env bash
# `make bench-reports`: each report's latency on a generated year of orders (goal: every
# report <= 200 ms on this machine), against a baseline measured in the same run:
#   * live: every report computed from the rows alone (before the report materialized
#     views are first refreshed, they hold no day and every report takes its live path);
#   * materialized: the same after api.refresh_materialized_views() (the schedule's job),
#     with how long that refresh took;
#   * the floor: one sequential aggregate over the year's orders (count and sum).
# Each figure is the median of BENCH_ROUNDS runs (default 5) after one warm-up, timed in
# the server (clock_timestamp around the query, rows counted, not sent), for the default
# range (30 days) and for the whole year. Then: the JSON form over the API function
# (api.admin_report) for the year, and one GDPR erasure of a customer with orders.
# Options (environment): BENCH_ORDERS (default 200000), BENCH_ROUNDS (default 5),
# BENCH_DATABASE_URL (use this database as it is, migrated, instead of setting one up:
# development machines shared with others), BENCH_KEEP_DB=1 (keep the set-up database).
set -euo pipefail
cd "$(dirname "$0")/.."
ORDERS="${BENCH_ORDERS:-200000}"
ROUNDS="${BENCH_ROUNDS:-5}"
DB=maef_bench_reports
ADMIN="${MAEF_TEST_ADMIN_URL:-postgres://maef:maef@127.0.0.1:5432/postgres}"

if [ -n "${BENCH_DATABASE_URL:-}" ]; then
    URL="$BENCH_DATABASE_URL"
else
    [ -f .run/env ] && cp .run/env .run/env.before-bench
    psql -w -q "$ADMIN" -c "drop database if exists $DB" 2>/dev/null || true
    MAEF_PROFILE=perf MAEF_SETUP_SKIP_EXTENSION="${MAEF_SETUP_SKIP_EXTENSION:-1}" scripts/setup.sh "$DB" >/dev/null
    # shellcheck source=/dev/null
    source .run/env
    URL="$DATABASE_URL"
    if [ -f .run/env.before-bench ]; then mv .run/env.before-bench .run/env; fi
fi
psql_q() { command psql -w -X -q -v ON_ERROR_STOP=1 "$URL" "$@"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

echo "==> generating a year of $ORDERS orders (load average $(loadavg))" >&2
started=$(date +%s)
psql_q <<SQL
set maintenance_work_mem = '256MB';
do \$\$ begin perform setseed(0.19); end \$\$;
-- Bulk load with the row triggers off: rows are written in their final states.
alter table shop.customer_order disable trigger user;
alter table shop.order_item disable trigger user;
alter table shop.product disable trigger user;
alter table shop.product_variant disable trigger user;
alter table shop.cart disable trigger user;
insert into shop.category (name, slug) select 'Cat ' || i, 'cat-' || i from generate_series(1, 20) i;
insert into shop.product (category_id, sku_root, title, slug, brand)
select (select min(category_id) from shop.category where slug like 'cat-%') + i % 20, 'R-' || i, 'Produit ' || i, 'r-' || i,
       'Marque ' || (i % 50)
from generate_series(1, 2000) i;
insert into shop.product_variant (product_id, name, sku) select product_id, 'Default', sku_root || '-D' from shop.product where sku_root like 'R-%';
-- Stock: every variant at the default location and 60 % of them at a second one.
insert into shop.stock_location (code, name) values ('annexe', 'Annexe') on conflict do nothing;
insert into shop.inventory (variant_id, qty_on_hand) select variant_id, 3 + variant_id % 40 from shop.product_variant where sku like 'R-%';
insert into shop.price (product_id, currency_code, amount)
select product_id, c, case c when 'XOF' then (5 + product_id % 40) * 1000 else (5 + product_id % 40) * 150 end
from shop.product cross join (values ('XOF'), ('EUR')) x(c) where sku_root like 'R-%';
insert into shop.promotion (name) select 'Promo ' || i from generate_series(1, 10) i;
insert into shop.coupon (promotion_id, code) select promotion_id, 'CODE' || promotion_id from shop.promotion;
insert into shop.app_user (email) select 'c' || i || '@bench.example' from generate_series(1, 60000) i;
create temporary table bench_user as select row_number() over (order by user_id) as n, user_id from shop.app_user where email like '%@bench.example';
create temporary table bench_variant as
select row_number() over (order by v.variant_id) as n, v.variant_id, v.product_id, p.title, v.sku, p.slug
from shop.product_variant v join shop.product p using (product_id) where p.sku_root like 'R-%';
-- Orders: spread over the last 365 days; 90 % XOF, 10 % EUR; 70 % by accounts.
create temporary table bench_order as
select gen_random_uuid() as order_id, i,
       now() - (random() * interval '365 days') as placed_at,
       case when random() < 0.9 then 'XOF' else 'EUR' end as currency,
       case when random() < 0.7 then 1 + (random() * 59999)::int end as user_n,
       1 + (random() * 3)::int as lines,
       random() as r
from generate_series(1, $ORDERS) i;
create temporary table bench_item as
select o.order_id, o.currency, v.variant_id, v.product_id, v.title, v.sku, v.slug,
       1 + (random() * 2)::int as quantity,
       case o.currency when 'XOF' then (5 + (v.n % 40)) * 1000 else (5 + (v.n % 40)) * 150 end as unit,
       case when o.r < 0.2 then 1 else 0 end as discounted
from bench_order o
cross join lateral generate_series(1, o.lines) l
join bench_variant v on v.n = 1 + ((o.i * 7919 + l * 104729) % 2000);
create temporary table bench_total as
select order_id, sum(quantity * unit) as subtotal, sum(discounted * (quantity * unit / 10)) as discount
from bench_item group by order_id;
insert into shop.customer_order (order_id, user_id, email, status, payment_status, currency_code, subtotal_amount,
                                 discount_amount, shipping_amount, tax_amount, total_amount, placed_at, created_at,
                                 coupon_id, coupon_code, promotions, shipping_address)
select o.order_id, u.user_id, coalesce('c' || o.user_n || '@bench.example', 'g' || o.i || '@guest.example'),
       case when o.r < 0.87 then 'paid' when o.r < 0.95 then 'expired' else 'cancelled' end,
       case when o.r < 0.85 then 'paid' when o.r < 0.86 then 'partially_refunded' when o.r < 0.87 then 'refunded' else 'none' end,
       o.currency, t.subtotal, t.discount, case o.currency when 'XOF' then 2000 else 500 end, 0,
       t.subtotal - t.discount + case o.currency when 'XOF' then 2000 else 500 end, o.placed_at, o.placed_at,
       case when o.r < 0.05 then c.coupon_id end, case when o.r < 0.05 then c.code end,
       case when o.r < 0.2 then jsonb_build_array(jsonb_build_object('promotion_id', c.promotion_id, 'name', 'Promo',
                                                                    'class', 'order', 'amount', t.discount)) else '[]' end,
       jsonb_build_object('full_name', 'Client ' || o.i, 'line1', o.i || ' rue du Banc', 'city', 'Dakar', 'country', 'SN')
from bench_order o
join bench_total t using (order_id)
left join bench_user u on u.n = o.user_n
join shop.coupon c on c.code = 'CODE' || (select min(promotion_id) from shop.promotion) + o.i % 10;
insert into shop.order_item (order_id, variant_id, product_id, product_title, variant_name, sku, product_slug, quantity,
                             unit_amount, subtotal_amount, discount_amount, total_amount)
select order_id, variant_id, product_id, title, 'Default', sku, slug, quantity, unit, quantity * unit,
       discounted * (quantity * unit / 10), quantity * unit - discounted * (quantity * unit / 10)
from bench_item;
insert into shop.payment (order_id, provider, status, amount, currency_code, created_at, succeeded_at)
select order_id, (array['stripe', 'fedapay', 'paystack'])[1 + (abs(hashtext(order_id::text)) % 3)],
       case when payment_status = 'none' then 'failed' else 'succeeded' end, total_amount, currency_code, placed_at,
       case when payment_status <> 'none' then placed_at end
from shop.customer_order where email like '%.example' and total_amount > 0;
insert into shop.refund (payment_id, order_id, amount, currency_code, status, created_at, succeeded_at)
select p.payment_id, p.order_id, case when o.payment_status = 'refunded' then p.amount else p.amount / 2 end, p.currency_code,
       'succeeded', p.created_at + interval '3 days', p.created_at + interval '3 days'
from shop.payment p join shop.customer_order o using (order_id)
where o.payment_status in ('partially_refunded', 'refunded');
-- Carts: the 30 days retention keeps (about 3 per paid order), half with items.
insert into shop.cart (user_id, currency_code, status, created_at, updated_at)
select null, 'XOF', case when i % 3 = 0 then 'converted' else 'open' end,
       now() - random() * interval '30 days', now() - random() * interval '30 days'
from generate_series(1, ($ORDERS * 3 / 12)) i;
insert into shop.cart_item (cart_id, variant_id, quantity)
select cart_id, (select min(variant_id) from bench_variant) + abs(hashtext(cart_id::text)) % 2000, 1
from shop.cart where abs(hashtext(cart_id::text)) % 2 = 0;
-- 90 days of searches, 5,000 a day.
insert into shop.search_log (searched_at, query, results)
select now() - random() * interval '90 days', 'requete ' || (abs(hashtext(i::text)) % 3000), abs(hashtext(i::text)) % 40
from generate_series(1, 450000) i;
alter table shop.customer_order enable trigger user;
alter table shop.order_item enable trigger user;
alter table shop.product enable trigger user;
alter table shop.product_variant enable trigger user;
alter table shop.cart enable trigger user;
-- The funnel of the days whose carts retention already deleted.
do \$\$ begin perform report._record_funnel_days(); end \$\$;
set client_min_messages = error;
vacuum analyze;
SQL
echo "    generated in $(( $(date +%s) - started )) s: $(psql_q -tAc "select count(*) || ' orders, ' || (select count(*) from shop.order_item) || ' lines' from shop.customer_order")" >&2

psql_q <<'SQL'
create schema if not exists bench;
-- The median of p_rounds runs of a query (after one warm-up), in ms, timed in the server.
-- Every column of every row is turned into text, so the planner cannot skip computing one.
create or replace function bench.median_ms(p_sql text, p_rounds integer) returns numeric
language plpgsql as $$
declare
    v_times numeric[] := '{}';
    v_start timestamptz;
    v_rows bigint;
begin
    execute format('select sum(length(q::text)) from (%s) q', p_sql) into v_rows;
    for i in 1..p_rounds loop
        v_start := clock_timestamp();
        execute format('select sum(length(q::text)) from (%s) q', p_sql) into v_rows;
        v_times := v_times || (extract(epoch from clock_timestamp() - v_start) * 1000)::numeric;
    end loop;
    return (select round(percentile_cont(0.5) within group (order by t)::numeric, 1) from unnest(v_times) t);
end
$$;
-- One run of a statement, in ms.
create or replace function bench.once_ms(p_sql text) returns numeric
language plpgsql as $$
declare
    v_start timestamptz := clock_timestamp();
begin
    execute p_sql;
    return round((extract(epoch from clock_timestamp() - v_start) * 1000)::numeric, 1);
end
$$;
create or replace function bench.reports() returns table (name text, sql_30d text, sql_year text)
language sql as $$
    select p.proname::text,
           format('select * from report.%I()', p.proname),
           case when 'p_from' = any (p.proargnames)
                then format('select * from report.%I(p_from => current_date - 365)', p.proname)
                else format('select * from report.%I()', p.proname) end
    from pg_proc p where p.pronamespace = 'report'::regnamespace and p.proname !~ '^_'
    union all
    select c.relname::text, format('select * from report.%I', c.relname), format('select * from report.%I', c.relname)
    from pg_class c where c.relnamespace = 'report'::regnamespace and c.relkind = 'v' and c.relname !~ '^_'
      and c.relname not in ('jobs', 'job_stats', 'job_schedules', 'emails', 'webhook_endpoints', 'stock_inconsistencies')
$$;
SQL

floor=$(psql_q -tAc "select bench.median_ms('select currency_code, count(*), sum(total_amount) from shop.customer_order group by 1', $ROUNDS)")
echo "==> live (no materialized day yet), $ROUNDS rounds each (load average $(loadavg))" >&2
psql_q -tA -F'|' -c "select name, bench.median_ms(sql_30d, $ROUNDS), bench.median_ms(sql_year, $ROUNDS) from bench.reports() order by 1" > .run/bench-reports-live.txt
refresh_ms=$(psql_q -tAc "select bench.once_ms('select api.refresh_materialized_views()')")
refresh_again_ms=$(psql_q -tAc "select bench.once_ms('select api.refresh_materialized_views()')")
echo "==> materialized (first refresh $refresh_ms ms, then concurrently $refresh_again_ms ms; load average $(loadavg))" >&2
psql_q -tA -F'|' -c "select name, bench.median_ms(sql_30d, $ROUNDS), bench.median_ms(sql_year, $ROUNDS) from bench.reports() order by 1" > .run/bench-reports-mat.txt
json_ms=$(psql_q -tAc "select set_config('request.jwt.claims', '{\"sub\": \"00000000-0000-0000-0000-000000000000\", \"scope\": \"reports:read\"}', false);
                       select bench.median_ms('select api.admin_report(''sales_by_product'', jsonb_build_object(''from'', (current_date - 365)::text))::text', $ROUNDS)" | tail -1)
erase_ms=$(psql_q -tAc "select bench.once_ms(format('select api._erase_user(%L)', (select user_id from shop.app_user where email = 'c17@bench.example')))")

printf '\n%-26s %14s %14s %14s %14s\n' "report" "live 30 d" "live year" "mat. 30 d" "mat. year"
printf '%-26s %14s %14s %14s %14s\n' "" "(ms, median)" "" "" ""
join -t'|' .run/bench-reports-live.txt .run/bench-reports-mat.txt | while IFS='|' read -r name l30 lyear m30 myear; do
    over=""
    awk -v a="$m30" -v b="$myear" 'BEGIN { exit !(a > 200 || b > 200) }' && over="  > 200 ms"
    printf '%-26s %14s %14s %14s %14s%s\n' "$name" "$l30" "$lyear" "$m30" "$myear" "$over"
done
echo
echo "floor: one aggregate over the year's $ORDERS orders: $floor ms"
echo "refresh of every materialized view: first $refresh_ms ms, then (concurrently, the schedule's job every 5 min) $refresh_again_ms ms"
echo "GET /api/v1/admin/reports/sales_by_product for the year, its SQL (JSON built): $json_ms ms"
echo "one GDPR erasure of a customer with orders: $erase_ms ms"
echo "load average: $(loadavg); $(nproc) cores"

[ -n "${BENCH_DATABASE_URL:-}" ] || [ "${BENCH_KEEP_DB:-0}" = 1 ] || psql -w -q "$ADMIN" -c "drop database if exists $DB" 2>/dev/null || true
