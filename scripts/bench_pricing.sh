#!/usr/bin/env bash
# Pricing figures (issue 7): quotes per second of a 20-line cart with 10 active
# promotions through `select api.cart_quote(...)` under pgbench, split into data
# gathering (api._quote_input) and the engine (maef.quote_cart on the same document,
# JSON text in and out, as api.cart_quote calls it; and the older jsonb maef.quote for
# comparison), the time of one quote in a warm session (wall clock and the backend's CPU
# time, which other work on the machine disturbs less), and the engine's time per cart
# from the Rust benchmark (cargo bench -p maef-core).
# Options (environment): BENCH_SECONDS (default 10), BENCH_CLIENTS (default 2),
# BENCH_DB (default maef_pricing_bench).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN="${BENCH_SECONDS:-10}"
CLIENTS="${BENCH_CLIENTS:-2}"
DB="${BENCH_DB:-maef_pricing_bench}"

# setup.sh installs the optimised (perf) build of the extension the figures need.
[ -n "${SKIP_SETUP:-}" ] || MAEF_PROFILE=perf scripts/setup.sh "$DB"
# shellcheck source=/dev/null
source .run/env
URL="$(printf '%s' "$DATABASE_URL" | sed -E "s#/[^/?]*(\\?.*)?\$#/${DB}\\1#")"
cargo build -q --profile perf -p maef-api && DATABASE_URL="$URL" "${CARGO_TARGET_DIR:-target}/perf/maef-api" migrate >/dev/null

echo "==> seeding 20 products, 10 promotions and a 20-line guest cart" >&2
CART=$(psql -w -q -tA -v ON_ERROR_STOP=1 "$URL" <<'SQL'
begin;
delete from shop.cart where session_hash = encode(sha256('bench-session'::bytea), 'hex');
delete from shop.promotion where name like 'bench %';
delete from shop.product where slug like 'bench-pricing-%';
insert into shop.category (name, slug) values ('Bench', 'bench-pricing') on conflict (slug) do nothing;
insert into shop.tax_rate (country, rate_bp) values ('FR', 2000) on conflict do nothing;
insert into shop.shipping_rate (country, currency_code, amount, free_over) values ('FR', 'EUR', 499, 50000)
    on conflict do nothing;
with p as (
    insert into shop.product (category_id, sku_root, title, slug, brand)
    select (select category_id from shop.category where slug = 'bench-pricing'), 'BP-' || i, 'Bench ' || i,
           'bench-pricing-' || i, case when i % 2 = 0 then 'Acme' else 'Other' end
    from generate_series(1, 20) i returning product_id, sku_root),
v as (insert into shop.product_variant (product_id, name, sku) select product_id, 'Default', sku_root || '-D' from p
      returning variant_id, product_id)
insert into shop.price (product_id, currency_code, amount) select product_id, 'EUR', 500 + product_id % 97 * 137 from v;
insert into shop.promotion (name, priority, stacking, rules)
select 'bench ' || i, 10 - i, s, jsonb_build_object('conditions', jsonb_build_object('min_subtotal', 1000),
       'action', a, 'combines_with', '["product", "order", "shipping"]'::jsonb)
from (values
    (1, 'combinable', '{"type": "percent_off_items", "percent": 10}'::jsonb),
    (2, 'combinable', '{"type": "amount_off_items", "amount": 50}'),
    (3, 'exclusive', '{"type": "fixed_price", "amount": 900}'),
    (4, 'combinable', '{"type": "buy_x_get_y", "buy": 2, "get": 1}'),
    (5, 'combinable', '{"type": "percent_off_order", "percent": 5}'),
    (6, 'best_of', '{"type": "amount_off_order", "amount": 1000}'),
    (7, 'combinable', '{"type": "free_shipping"}'),
    (8, 'combinable', '{"type": "percent_off_items", "percent": 15}'),
    (9, 'best_of', '{"type": "buy_x_get_y", "buy": 1, "get": 1, "percent": 50}'),
    (10, 'exclusive', '{"type": "amount_off_order", "amount": 2500}')) x(i, s, a);
with c as (insert into shop.cart (currency_code, session_hash)
           values ('EUR', encode(sha256('bench-session'::bytea), 'hex')) returning cart_id)
insert into shop.cart_item (cart_id, variant_id, quantity)
select c.cart_id, v.variant_id, 1 + v.variant_id % 4 from c, shop.product_variant v
join shop.product p using (product_id) where p.slug like 'bench-pricing-%';
commit;
select cart_id from shop.cart where session_hash = encode(sha256('bench-session'::bytea), 'hex');
SQL
)
lines=$(psql -w -tA "$URL" -c "select json_array_length(api.cart_quote('$CART', 'bench-session') -> 'lines')")
[ "$lines" = 20 ] || { echo "expected a 20-line quote, got $lines" >&2; exit 1; }
INPUT=$(psql -w -tA "$URL" -c "select q.input from shop.cart c, api._quote_input(c, now()) q where cart_id = '$CART'" | sed "s/'/''/g")

run() { # run NAME SQL: pgbench one statement, prints tps and mean latency
    printf '%s\n' "$2" > ".run/pgbench-$1.sql"
    pgbench -n -M prepared -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_PER_RUN" -f ".run/pgbench-$1.sql" "$URL" > ".run/pgbench-$1.txt" 2>&1
    local tps lat
    tps=$(awk -F'= ' '/^tps/ {split($2, a, " "); print a[1]}' ".run/pgbench-$1.txt")
    lat=$(awk -F'= ' '/^latency average/ {split($2, a, " "); print a[1]}' ".run/pgbench-$1.txt")
    printf '%-44s %10.0f quotes/s  %7.3f ms mean latency\n' "$1" "$tps" "$lat"
}
echo "==> pgbench: $CLIENTS clients, ${SECONDS_PER_RUN}s each" >&2
run "api.cart_quote (gather + engine + labels)" "select api.cart_quote('$CART', 'bench-session');"
run "api._quote_input (gather only)" "select q.input from shop.cart c, api._quote_input(c, now()) q where cart_id = '$CART';"
# random() keeps the planner from folding an IMMUTABLE call on constants into its result
# (as the cart id, or as a key the engine ignores).
run "maef.quote_cart (engine, JSON text)" "select maef.quote_cart('$INPUT', random()::text, null, null, null)::json;"
run "maef.quote (engine, jsonb in and out)" "select maef.quote('$INPUT'::jsonb || jsonb_build_object('r', random()));"
# One session, warmed up (plans cached), 1000 quotes: the time of one quote inside the
# database, without client round trips.
# Prints the mean wall-clock ms and the mean backend CPU ms (from /proc/PID/schedstat,
# so only where psql runs on the database's machine; "-" elsewhere).
loop() { # loop SQL-EXPRESSION: "wall-ms cpu-ms" per evaluation over 1000 evaluations
    {
        echo 'select pg_backend_pid() as pid \gset'
        echo '\setenv PID :pid'
        echo "select count($1) from generate_series(1, 50) g \\g /dev/null"
        echo '\! echo "S $(cut -d" " -f1 /proc/$PID/schedstat 2>/dev/null || echo -)"'
        echo '\timing on'
        echo "select count($1) from generate_series(1, 1000) g \\g /dev/null"
        echo '\timing off'
        echo '\! echo "E $(cut -d" " -f1 /proc/$PID/schedstat 2>/dev/null || echo -)"'
    } | psql -w -q -X "$URL" | awk '/^S/ {s=$2} /^Time/ {t=$2} /^E/ {e=$2}
        END {printf "%.3f ms wall  ", t/1000; if (s == "-" || e == "-") print "- ms CPU"; else printf "%.3f ms CPU\n", (e-s)/1e9}'
}
printf '%-44s %s\n' "one api.cart_quote in a warm session" "$(loop "api.cart_quote('$CART', 'bench-session')")"
printf '%-44s %s\n' "one gathering (api._quote_input)" "$(loop "api._quote_input((select c from shop.cart c where cart_id = '$CART'), now())")"
printf '%-44s %s\n' "one maef.quote_cart (JSON text)" "$(loop "maef.quote_cart('$INPUT', g::text, null, null, null)::json")"
printf '%-44s %s\n' "one maef.quote (jsonb)" "$(loop "maef.quote('$INPUT'::jsonb || jsonb_build_object('r', g))")"
echo "==> engine (cargo bench -p maef-core --bench quote)" >&2
cargo bench -q -p maef-core --bench quote 2>/dev/null
