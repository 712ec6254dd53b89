#!/usr/bin/env bash
# `make bench-events`: figures of the events outbox and outbound webhooks, each against a
# baseline measured in the same run on the same server:
#   1. the cost of an event in a business transaction: pgbench runs an order-like
#      transaction (decrement a stock row, insert an order row) without, then with
#      api._emit_event (the order.placed event and its NOTIFY); for each, transactions/s
#      and the server CPU per transaction (utime + stime of pgbench's backends, read in
#      /proc over the middle of the run, divided by the transactions counted by the
#      order sequence over the same interval). The difference is the overhead per event.
#   2. events written per second: transactions of 10 events each.
#   3. webhook deliveries per second to a local receiver (worker/examples/webhook_sink):
#      BENCH_EVENTS events dispatched (timed: api.dispatch_events, one transaction), then
#      delivered by BENCH_WORKERS maef-worker processes (WORKER_ONCE: timed from their
#      launch to their exit, as make bench-jobs times a drain); baseline: the same number
#      of noop jobs drained by the same workers.
# Options (environment): BENCH_SECONDS (10 per pgbench run), BENCH_CLIENTS (4),
# BENCH_EVENTS (20000), BENCH_WORKERS (2), BENCH_CONCURRENCY (50 slots each),
# BENCH_SINK_PORT (18471), BENCH_DB_SUFFIX. The load average is printed before each
# measurement: the machine may be shared.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_RUN="${BENCH_SECONDS:-10}"
CLIENTS="${BENCH_CLIENTS:-4}"
EVENTS="${BENCH_EVENTS:-20000}"
WORKERS="${BENCH_WORKERS:-2}"
CONCURRENCY="${BENCH_CONCURRENCY:-50}"
SINK_PORT="${BENCH_SINK_PORT:-18471}"
SUFFIX="${BENCH_DB_SUFFIX:-}"
BENCH_DIR="$PWD/.run/bench"
mkdir -p "$BENCH_DIR"

# Keeps the installed extension: the server may be shared with another checkout.
MAEF_PROFILE=perf MAEF_SETUP_SKIP_EXTENSION="${MAEF_SETUP_SKIP_EXTENSION:-1}" scripts/setup.sh "maef_bench_events$SUFFIX"
# shellcheck source=/dev/null
source .run/env
URL="$DATABASE_URL"
DB="maef_bench_events$SUFFIX"
psql_q() { psql -w -X -q -v ON_ERROR_STOP=1 "$URL" "$@"; }
value() { psql -w -X -tA "$URL" -c "$1"; }
now_ns() { date +%s%N; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
TICK=$(getconf CLK_TCK)

echo "==> building maef-worker and the webhook sink with the perf profile" >&2
cargo build --quiet --profile perf -p maef-worker --example webhook_sink
BIN="${CARGO_TARGET_DIR:-target}/perf"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

psql_q -c "update shop.job_schedule set enabled = false" \
    -c "create schema if not exists bench" \
    -c "drop table if exists bench.stock, bench.order_sim" \
    -c "create table bench.stock (variant_id integer primary key, qty integer not null)" \
    -c "insert into bench.stock select i, 1000000000 from generate_series(1, 1000) i" \
    -c "create table bench.order_sim (order_id bigserial primary key, variant_id integer, qty integer, total bigint, payload jsonb, created_at timestamptz not null default now())" \
    -c "truncate shop.event cascade" -c "truncate shop.job_queue, shop.job_attempt"

cat > "$BENCH_DIR/order_plain.sql" <<'SQL'
\set v random(1, 1000)
BEGIN;
UPDATE bench.stock SET qty = qty - 1 WHERE variant_id = :v;
INSERT INTO bench.order_sim (variant_id, qty, total, payload) VALUES (:v, 1, 15000, '{"lines": [{"sku": "WAX-M", "quantity": 1}]}');
COMMIT;
SQL
cat > "$BENCH_DIR/order_event.sql" <<'SQL'
\set v random(1, 1000)
BEGIN;
UPDATE bench.stock SET qty = qty - 1 WHERE variant_id = :v;
INSERT INTO bench.order_sim (variant_id, qty, total, payload) VALUES (:v, 1, 15000, '{"lines": [{"sku": "WAX-M", "quantity": 1}]}');
SELECT api._emit_event('order.placed', 'order', currval('bench.order_sim_order_id_seq')::text, jsonb_build_object('order_id', currval('bench.order_sim_order_id_seq'), 'variant_id', :v::integer, 'currency', 'XOF', 'total_amount', 15000, 'lines', jsonb_build_array(jsonb_build_object('sku', 'WAX-M', 'quantity', 1))));
COMMIT;
SQL
cat > "$BENCH_DIR/events_only.sql" <<'SQL'
\set v random(1, 1000)
BEGIN;
SELECT count(api._emit_event('stock.low', 'variant', :v::text, jsonb_build_object('variant_id', :v::integer, 'available', 3))) FROM generate_series(1, 10);
COMMIT;
SQL

# CPU ticks (user + system) of this benchmark's pgbench backends.
backend_ticks() {
    local total=0 pid
    for pid in $(value "select pid from pg_stat_activity where datname = '$DB' and application_name = 'pgbench'"); do
        if [ -r "/proc/$pid/stat" ]; then
            total=$((total + $(sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')))
        fi
    done
    echo "$total"
}
# run SCRIPT SEQUENCE: pgbench for SECONDS_RUN; over its middle, transactions/s from the
# sequence and server CPU µs per transaction. Prints "tps cpu_us".
run() {
    local script="$1" sequence="$2"
    pgbench -n -M prepared -c "$CLIENTS" -j 2 -T "$SECONDS_RUN" -f "$BENCH_DIR/$script" "$URL" > "$BENCH_DIR/pgbench-$script.txt" 2>&1 &
    local bench=$!
    sleep 1
    local s0 c0 t0 s1 c1 t1
    s0=$(value "select last_value from $sequence"); c0=$(backend_ticks); t0=$(now_ns)
    sleep $((SECONDS_RUN - 2))
    s1=$(value "select last_value from $sequence"); c1=$(backend_ticks); t1=$(now_ns)
    wait "$bench"
    awk -v s0="$s0" -v s1="$s1" -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v tick="$TICK" -v per="${3:-1}" \
        'BEGIN { n = (s1 - s0) / per; printf "%.0f %.1f\n", n / ((t1 - t0) / 1e9), (c1 - c0) * 1e6 / tick / n }'
}

echo "==> 1. order-like transactions without, then with, an event ($CLIENTS clients, ${SECONDS_RUN}s each)" >&2
psql_q -c "vacuum analyze bench.stock, bench.order_sim, shop.event"
echo "    load average: $(loadavg)" >&2
read -r plain_tps plain_cpu < <(run order_plain.sql bench.order_sim_order_id_seq)
psql_q -c "vacuum analyze bench.stock, bench.order_sim, shop.event"
echo "    load average: $(loadavg)" >&2
read -r event_tps event_cpu < <(run order_event.sql bench.order_sim_order_id_seq)
echo "==> 2. events alone: transactions of 10 events" >&2
echo "    load average: $(loadavg)" >&2
EVENT_SEQ=$(value "select pg_get_serial_sequence('shop.event', 'event_id')")
read -r burst_eps burst_cpu < <(run events_only.sql "$EVENT_SEQ")
events_written=$(value "select count(*) from shop.event")

echo "==> 3. webhook deliveries to a local receiver ($WORKERS workers x $CONCURRENCY slots, $EVENTS events)" >&2
"$BIN/examples/webhook_sink" "127.0.0.1:$SINK_PORT" &
PIDS+=($!)
psql_q -c "truncate shop.event cascade" -c "truncate shop.job_queue, shop.job_attempt, shop.webhook_endpoint cascade" \
    -c "update shop.event_consumer set after_xid = '0', after_event_id = 0" \
    -c "with e as (insert into shop.webhook_endpoint (url, event_types) values ('http://127.0.0.1:$SINK_PORT/hook', '{*}') returning webhook_endpoint_id)
        insert into shop.webhook_secret (webhook_endpoint_id, secret) select webhook_endpoint_id, api._webhook_new_secret() from e"
start_workers() { # $1: WORKER_ONCE
    for w in $(seq 1 "$WORKERS"); do
        RUST_LOG=warn DATABASE_URL="$URL" WORKER_ID="bench-$w" WORKER_CONCURRENCY="$CONCURRENCY" WORKER_POLL_MS=1000 \
            WORKER_ONCE="$1" WEBHOOK_ALLOW_PRIVATE=1 WORKER_DISPATCH_EVENTS=0 "$BIN/maef-worker" &
        PIDS+=($!)
    done
}
wait_workers() { wait "${PIDS[@]:1}"; PIDS=("${PIDS[0]}"); }
emit_and_dispatch() { # $1: events; prints the dispatch seconds
    psql_q -c "select count(api._emit_event('stock.low', 'variant', i::text, jsonb_build_object('variant_id', i, 'available', 3))) from generate_series(1, $1) i" >/dev/null
    local t0 t1
    t0=$(now_ns)
    until [ "$(value "select count(*) from shop.webhook_delivery")" -ge "$1" ]; do
        value "select api.dispatch_events($1)" >/dev/null
    done
    t1=$(now_ns)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'
}
drain() { # prints the seconds from the workers' launch to their exit
    local t0 t1
    psql_q -c "vacuum analyze shop.job_queue, shop.job_attempt, shop.webhook_delivery, shop.event"
    echo "    load average: $(loadavg)" >&2
    t0=$(now_ns); start_workers 1; wait_workers; t1=$(now_ns)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'
}
# Warm-up (untimed): the workers' code, the receiver, the server's buffers.
emit_and_dispatch 2000 >/dev/null
drain >/dev/null
psql_q -c "truncate shop.event cascade" -c "truncate shop.job_queue, shop.job_attempt"
dispatch_s=$(emit_and_dispatch "$EVENTS")
deliver_s=$(drain)
delivered=$(value "select count(*) from shop.webhook_delivery where status = 'succeeded'")
[ "$delivered" = "$EVENTS" ] || { echo "only $delivered of $EVENTS deliveries succeeded" >&2; exit 1; }
psql_q -c "truncate shop.job_queue, shop.job_attempt" \
    -c "select count(*) from api.enqueue_jobs((select jsonb_agg(jsonb_build_object('kind', 'noop')) from generate_series(1, $EVENTS)))" >/dev/null
noop_s=$(drain)

awk -v pt="$plain_tps" -v pc="$plain_cpu" -v et="$event_tps" -v ec="$event_cpu" -v be="$burst_eps" -v bc="$burst_cpu" \
    -v n="$EVENTS" -v ds="$dispatch_s" -v ws="$deliver_s" -v ns="$noop_s" -v c="$CLIENTS" -v w="$WORKERS" -v k="$CONCURRENCY" \
    -v written="$events_written" 'BEGIN {
    printf "\nmake bench-events (%d pgbench clients; %d workers x %d slots; %d events)\n", c, w, k, n
    printf "  order-like transaction, no event      : %7d tx/s   %6.1f us server CPU per tx\n", pt, pc
    printf "  the same with api._emit_event         : %7d tx/s   %6.1f us server CPU per tx\n", et, ec
    printf "  => overhead of one event              : %+6.1f us server CPU (%+.0f%% tx/s)\n", ec - pc, (et / pt - 1) * 100
    printf "  events alone, 10 per transaction      : %7d events/s %4.1f us server CPU per event (%d written)\n", be, bc, written
    printf "  dispatch (deliveries + jobs, 1 tx)    : %7.0f events/s (%.2f s)\n", n / ds, ds
    printf "  webhook deliveries to a local receiver: %7.0f /s       (%.2f s)\n", n / ws, ws
    printf "  baseline: noop jobs, same workers     : %7.0f /s       (%.2f s)\n", n / ns, ns
}'
