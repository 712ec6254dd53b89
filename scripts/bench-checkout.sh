#!/usr/bin/env bash
# `make bench-checkout`: checkout figures, each against a baseline measured in the same
# run (docs/checkout.md has the method and the figures):
#   1. Hot SKU, 16 clients (pgbench) on one variant:
#      a. the single-row limit: UPDATE shop.inventory SET qty_reserved = qty_reserved + 1
#         WHERE variant_id = … AND qty_on_hand - qty_reserved >= 1 (one row, one commit);
#      b. maef's reservation: api._reserve_order_stock of a one-line order (the
#         variant's lock, its level, the reservation row, the ledger row, the totals);
#      c. a whole checkout in SQL (api.checkout of a one-line guest cart);
#      d. api._reserve_order_stock of two-line orders: the hot SKU and one of 1,000
#         others (a shopper who buys the hot item and something else);
#      then b, c and d again with the hot variant's stock split over BENCH_SLOTS stock
#      slots (docs/checkout.md#stock-slots): b', c' and d'.
#      Goal: b' >= 1 x a (the moonshot: 3 x).
#   2. Whole checkout over HTTP (wrk, 8 connections) across 1,000 SKUs, two lines per
#      cart: orders/s, p50, p95, p99. Goal: p95 <= 50 ms.
# The machine's load average is printed next to the figures: other work on it moves them.
# Options (environment): BENCH_SECONDS (default 10), BENCH_CLIENTS (default 16),
# BENCH_SLOTS (default 32: the hot variant's stock slots for b' and c'),
# BENCH_CONNECTIONS (default 8), MAEF_SETUP_SKIP_EXTENSION (default 1: keep the
# installed extension, the server may be shared), BENCH_KEEP_DB=1 (keep the database,
# dropped at the end otherwise: the disk may be shared too).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN="${BENCH_SECONDS:-10}"
CLIENTS="${BENCH_CLIENTS:-16}"
CONNECTIONS="${BENCH_CONNECTIONS:-8}"
SLOTS="${BENCH_SLOTS:-32}"
PORT="${BENCH_PORT:-18089}"
DB=maef_bench_checkout
ADMIN="${MAEF_TEST_ADMIN_URL:-postgres://maef:maef@127.0.0.1:5432/postgres}"
mkdir -p .run/bench-checkout
OUT=.run/bench-checkout

# A fresh database each run: orders, carts and the ledger of the previous run would
# change the figures.
psql -w -q "$ADMIN" -c "drop database if exists $DB" 2>/dev/null || true
MAEF_PROFILE=perf MAEF_SETUP_SKIP_EXTENSION="${MAEF_SETUP_SKIP_EXTENSION:-1}" scripts/setup.sh "$DB"
# shellcheck source=/dev/null
source .run/env
URL="$DATABASE_URL"
BIN="${MAEF_BIN:-${CARGO_TARGET_DIR:-target}/perf}"
psql_q() { psql -w -X -q -v ON_ERROR_STOP=1 "$URL" "$@"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# Carts: enough for the longest run at a generous rate (a checkout consumes its cart);
# orders for two reservation runs (without and with slots), the second one fast.
CARTS_SQL=$(( SECONDS_PER_RUN * 5000 ))
ORDERS_SQL=$(( SECONDS_PER_RUN * 15000 ))
ORDERS_MIXED=$(( SECONDS_PER_RUN * 10000 ))
CARTS_HTTP=$(( SECONDS_PER_RUN * 1500 ))
echo "==> seeding: one hot variant, 1,000 SKUs, $ORDERS_SQL one-line and $ORDERS_MIXED two-line orders and $CARTS_SQL carts on the hot SKU, 2 x $CARTS_HTTP two-line carts" >&2
psql_q <<SQL
insert into shop.category (name, slug) values ('Bench', 'bench-checkout');
with p as (
    insert into shop.product (category_id, sku_root, title, slug)
    select (select category_id from shop.category where slug = 'bench-checkout'), 'BC-' || i, 'Bench ' || i, 'bench-checkout-' || i
    from generate_series(0, 1001) i returning product_id, sku_root),
v as (insert into shop.product_variant (product_id, name, sku) select product_id, 'Default', sku_root from p
      returning variant_id, product_id),
pr as (insert into shop.price (product_id, currency_code, amount) select product_id, 'XOF', 10000 from v)
insert into shop.inventory (variant_id, qty_on_hand) select variant_id, 100000000 from v;
insert into shop.shipping_rate (shipping_method_id, country, currency_code, amount)
select shipping_method_id, 'SN', 'XOF', 2000 from shop.shipping_method where code = 'standard';
create schema bench;
create function bench.variant(p_sku text) returns bigint language sql stable as
    \$\$ select variant_id from shop.product_variant where sku = p_sku \$\$;
-- 1b: one-line orders of the hot SKU (BC-0), written as checkout writes them before it
-- reserves; bench.next hands each transaction its own order.
create sequence bench.next;
create table bench.reserve (n bigint primary key, order_id uuid not null);
with o as (
    insert into shop.customer_order (email, currency_code, subtotal_amount, total_amount, placed_at, reservation_expires_at)
    select 'bench@example.com', 'XOF', 10000, 10000, now(), now() + interval '1 day' from generate_series(1, $ORDERS_SQL)
    returning order_id),
n as (select order_id, row_number() over () as n from o),
i as (insert into shop.order_item (order_id, variant_id, product_id, product_title, variant_name, sku, quantity,
                                   unit_amount, subtotal_amount, total_amount)
      select order_id, bench.variant('BC-0'), null, 'Bench 0', 'Default', 'BC-0', 1, 10000, 10000, 10000 from n)
insert into bench.reserve select n, order_id from n;
-- 1d: two-line orders, the hot SKU and one of BC-1…BC-1000.
create sequence bench.next_mixed;
create table bench.mixed (n bigint primary key, order_id uuid not null);
with o as (
    insert into shop.customer_order (email, currency_code, subtotal_amount, total_amount, placed_at, reservation_expires_at)
    select 'bench@example.com', 'XOF', 20000, 20000, now(), now() + interval '1 day' from generate_series(1, $ORDERS_MIXED)
    returning order_id),
n as (select order_id, row_number() over () as n from o),
i as (insert into shop.order_item (order_id, variant_id, product_id, product_title, variant_name, sku, quantity,
                                   unit_amount, subtotal_amount, total_amount)
      select order_id, bench.variant(sku), null, 'Bench', 'Default', sku, 1, 10000, 10000, 10000
      from n cross join lateral (values ('BC-0'), ('BC-' || (1 + n % 1000))) x(sku))
insert into bench.mixed select n, order_id from n;
-- 1c: guest carts h1..hN holding one unit of the hot SKU.
create sequence bench.hot_cart;
insert into shop.cart (currency_code, session_hash, shipping_country)
select 'XOF', encode(sha256(convert_to('h' || g, 'UTF8')), 'hex'), 'SN' from generate_series(1, $CARTS_SQL) g;
insert into shop.cart_item (cart_id, variant_id, quantity) select cart_id, bench.variant('BC-0'), 1 from shop.cart;
-- 2: guest carts for the two wrk threads (t0-1…, t1-1…), two lines among BC-1…BC-1000.
insert into shop.cart (currency_code, session_hash, shipping_country)
select 'XOF', encode(sha256(convert_to('t' || t || '-' || g, 'UTF8')), 'hex'), 'SN'
from generate_series(0, 1) t, generate_series(1, $CARTS_HTTP) g;
insert into shop.cart_item (cart_id, variant_id, quantity)
select c.cart_id, bench.variant('BC-' || (1 + (abs(hashtext(c.cart_id::text)) + k * 500) % 1000)), 1
from shop.cart c cross join (values (0), (1)) x(k)
where c.session_hash not in (select encode(sha256(convert_to('h' || g, 'UTF8')), 'hex') from generate_series(1, $CARTS_SQL) g);
vacuum analyze shop.product, shop.product_variant, shop.price, shop.inventory, shop.stock_level, shop.stock_movement,
    shop.customer_order, shop.order_item, shop.order_event, shop.cart, shop.cart_item, bench.reserve, bench.mixed;
SQL
BODY_HOT='{"email": "bench@example.com", "shipping_method": "standard", "expected_total": 12000, "shipping_address": {"full_name": "Bench", "line1": "1 rue", "city": "Dakar", "country": "SN", "phone": "771234567"}}'
BODY_HTTP='{"email": "bench@example.com", "shipping_method": "standard", "expected_total": 22000, "shipping_address": {"full_name": "Bench", "line1": "1 rue", "city": "Dakar", "country": "SN", "phone": "771234567"}}'
HOT=$(psql -w -tA "$URL" -c "select bench.variant('BC-0')")
# The baseline updates its own row (BC-1001, same table, same triggers): twenty thousand
# versions of BC-0's row would otherwise crowd its page before maef's runs.
ROW=$(psql -w -tA "$URL" -c "select bench.variant('BC-1001')")

# run_pgbench NAME FILE: 16 clients for SECONDS_PER_RUN; sets NAME_tps and NAME_lat.
run_pgbench() {
    local name=$1 file=$2
    echo "==> pgbench $name: $CLIENTS clients, ${SECONDS_PER_RUN}s (load average $(loadavg))" >&2
    pgbench -n -M prepared -c "$CLIENTS" -j 2 -T "$SECONDS_PER_RUN" -f "$file" "$URL" > "$OUT/pgbench-$name.txt" 2>&1 \
        || { tail -5 "$OUT/pgbench-$name.txt" >&2; exit 1; }
    if grep -q '^number of failed transactions: [1-9]' "$OUT/pgbench-$name.txt"; then
        echo "pgbench $name had failed transactions" >&2; exit 1
    fi
    printf -v "${name}_tps" '%s' "$(awk -F'= ' '/^tps/ {split($2, a, " "); print a[1]}' "$OUT/pgbench-$name.txt")"
    printf -v "${name}_lat" '%s' "$(awk -F'= ' '/^latency average/ {split($2, a, " "); print a[1]}' "$OUT/pgbench-$name.txt")"
    printf -v "${name}_load" '%s' "$(loadavg)"
}

cat > "$OUT/row.sql" <<SQL
update shop.inventory set qty_reserved = qty_reserved + 1 where variant_id = $ROW and qty_on_hand - qty_reserved >= 1;
SQL
cat > "$OUT/reserve.sql" <<'SQL'
select api._reserve_order_stock((select order_id from bench.reserve where n = (select nextval('bench.next'))));
SQL
cat > "$OUT/mixed.sql" <<'SQL'
select api._reserve_order_stock((select order_id from bench.mixed where n = (select nextval('bench.next_mixed'))));
SQL
cat > "$OUT/checkout.sql" <<SQL
select api.checkout('$BODY_HOT', 'h' || n, jsonb_build_object('scope', 'anon', 'key', 'k' || n, 'method', 'POST',
                                                               'path', '/api/v1/checkout', 'hash', 'h'))::text
from (select nextval('bench.hot_cart') as n) x;
SQL
settle() { psql_q -c "vacuum shop.inventory, shop.stock_level" 2>/dev/null; }
settle
run_pgbench row "$OUT/row.sql"
# The baseline reserved units without reservations: give them back.
psql_q -c "update shop.inventory set qty_reserved = 0 where variant_id = $ROW"
settle
run_pgbench reserve "$OUT/reserve.sql"
settle
run_pgbench checkout "$OUT/checkout.sql"
settle
run_pgbench mixed "$OUT/mixed.sql"
# The same with the hot variant's free units split over stock slots.
psql_q -c "update shop.inventory set reservation_slots = $SLOTS where variant_id = $HOT"
settle
run_pgbench reserve_slots "$OUT/reserve.sql"
settle
run_pgbench checkout_slots "$OUT/checkout.sql"
settle
run_pgbench mixed_slots "$OUT/mixed.sql"

echo "==> consistency after the hot-SKU runs" >&2
inconsistent=$(psql -w -tA "$URL" -c "select count(*) from report.stock_inconsistencies")
oversold=$(psql -w -tA "$URL" -c "select count(*) from shop.inventory where not allow_backorder and qty_reserved > qty_on_hand")

# 2. HTTP: maef-api on the perf build, wrk with unique sessions and keys per request.
export JWT_SECRET="bench-secret-bench-secret-bench-secret"
export BIND_ADDR="127.0.0.1:$PORT" RUST_LOG=warn DB_POOL_SIZE="$CONNECTIONS"
"$BIN/maef-api" serve &
API=$!
trap 'kill -TERM $API 2>/dev/null; wait $API 2>/dev/null || true' EXIT
until curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; do
    kill -0 $API 2>/dev/null || { echo "maef-api died" >&2; exit 1; }
    sleep 0.05
done
cat > "$OUT/checkout.lua" <<LUA
-- Each wrk thread checks out its own carts t<thread>-1, t<thread>-2, … once each.
local threads = 0
function setup(thread)
    thread:set("id", threads)
    threads = threads + 1
end
function init(args)
    n = 0
end
function request()
    n = n + 1
    local session = "t" .. id .. "-" .. n
    return wrk.format("POST", "/api/v1/checkout", {
        ["Content-Type"] = "application/json",
        ["X-Cart-Session"] = session,
        ["Idempotency-Key"] = "key-" .. session,
    }, '$BODY_HTTP')
end
function done(summary, latency, requests)
    io.write(string.format("p50_ms %.3f\np95_ms %.3f\np99_ms %.3f\n",
        latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
LUA
echo "==> wrk POST /api/v1/checkout: $CONNECTIONS connections, ${SECONDS_PER_RUN}s (load average $(loadavg))" >&2
http_load=$(loadavg)
wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -s "$OUT/checkout.lua" "http://127.0.0.1:$PORT" > "$OUT/wrk.txt"
bad=$(awk '/Non-2xx/ {print $NF}' "$OUT/wrk.txt")
[ -z "$bad" ] || { echo "wrk saw $bad non-2xx responses" >&2; cat "$OUT/wrk.txt" >&2; exit 1; }
http_rps=$(awk '/^Requests\/sec/ {print $2}' "$OUT/wrk.txt")
http_p50=$(awk '/^p50_ms/ {print $2}' "$OUT/wrk.txt")
http_p95=$(awk '/^p95_ms/ {print $2}' "$OUT/wrk.txt")
http_p99=$(awk '/^p99_ms/ {print $2}' "$OUT/wrk.txt")
kill -TERM $API; wait $API 2>/dev/null || true; trap - EXIT
orders=$(psql -w -tA "$URL" -c "select count(*) from shop.customer_order where email = 'bench@example.com' and cart_id is not null")
inconsistent_after=$(psql -w -tA "$URL" -c "select count(*) from report.stock_inconsistencies")

ratio=$(awk -v a="$reserve_tps" -v b="$row_tps" 'BEGIN { printf "%.2f", a / b }')
ratio_slots=$(awk -v a="$reserve_slots_tps" -v b="$row_tps" 'BEGIN { printf "%.2f", a / b }')
printf '\n%-58s %12s   %s\n' "figure" "value" "load average during the run"
printf '%-58s %12.0f   %s\n' "1a. single-row UPDATE, 16 clients, tx/s (baseline)" "$row_tps" "$row_load"
printf '%-58s %12.0f   %s\n' "1b. api._reserve_order_stock, hot SKU, 16 clients, res/s" "$reserve_tps" "$reserve_load"
printf '%-58s %12s\n' "    ratio 1b / 1a" "$ratio"
printf '%-58s %12.0f   %s\n' "1c. api.checkout in SQL, hot SKU, 16 clients, orders/s" "$checkout_tps" "$checkout_load"
printf '%-58s %12.3f\n' "    1c average latency (ms)" "$checkout_lat"
printf '%-58s %12.0f   %s\n' "1d. as 1b, two-line orders: hot SKU + one of 1,000, res/s" "$mixed_tps" "$mixed_load"
printf '%-58s %12.0f   %s\n' "1b'. as 1b, hot SKU in $SLOTS stock slots, res/s" "$reserve_slots_tps" "$reserve_slots_load"
printf '%-58s %12s   (goal >= 1.0, moonshot >= 3.0)\n' "    ratio 1b' / 1a" "$ratio_slots"
printf '%-58s %12.0f   %s\n' "1c'. as 1c, hot SKU in $SLOTS stock slots, orders/s" "$checkout_slots_tps" "$checkout_slots_load"
printf '%-58s %12.3f\n' "    1c' average latency (ms)" "$checkout_slots_lat"
printf '%-58s %12.0f   %s\n' "1d'. as 1d, hot SKU in $SLOTS stock slots, res/s" "$mixed_slots_tps" "$mixed_slots_load"
printf '%-58s %12s\n' "    ratio 1d' / 1d" "$(awk -v a="$mixed_slots_tps" -v b="$mixed_tps" 'BEGIN { printf "%.2f", a / b }')"
printf '%-58s %12.0f   %s\n' "2. POST /api/v1/checkout, 1,000 SKUs, 8 conns, orders/s" "$http_rps" "$http_load"
printf '%-58s %12.3f\n' "   p50 latency (ms)" "$http_p50"
printf '%-58s %12.3f   (goal <= 50)\n' "   p95 latency (ms)" "$http_p95"
printf '%-58s %12.3f\n' "   p99 latency (ms)" "$http_p99"
printf '%-58s %12s\n' "orders placed over HTTP (checked in SQL)" "$orders"
printf '%-58s %12s\n' "stock inconsistencies after the runs (must be 0)" "$(( inconsistent + inconsistent_after ))"
printf '%-58s %12s\n' "variants reserved beyond on hand (must be 0)" "$oversold"
[ "${BENCH_KEEP_DB:-0}" = 1 ] || psql -w -q "$ADMIN" -c "drop database if exists $DB" 2>/dev/null || true
