#!/usr/bin/env bash
# `make bench-scale`: figures for operating maef at scale (docs/operations.md), each
# against a baseline measured in the same run:
#   * PgBouncer: pgbench on api.product_by_slug with prepared statements (the baseline),
#     with unnamed statements (-M extended), and unnamed through PgBouncer in transaction
#     mode; then maef-api GET /api/v1/products/{slug} (wrk) direct with prepared
#     statements (the baseline), direct with DB_PREPARED_STATEMENTS=off, and through
#     PgBouncer with it off;
#   * deploys: `maef-api migrate` while ~300 req/s of product reads and cart writes run
#     (tests/benches/deploy.rs): failed requests, latency before/while/after, and the
#     pause (longest time without a response while it ran, against the same figure
#     before it).
# Options (environment): BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 8),
# BENCH_RATE (default 300). BENCH_SKIP_SETUP=1 reuses DATABASE_URL (migrated, with
# products) and the binaries in BENCH_BIN_DIR (default target/perf).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN="${BENCH_SECONDS:-10}"
CONNECTIONS="${BENCH_CONNECTIONS:-8}"
PORT="${BENCH_PORT:-18090}"
POOLER_PORT="${BENCH_POOLER_PORT:-16439}"

if [ "${BENCH_SKIP_SETUP:-0}" != 1 ]; then
    MAEF_PROFILE=perf scripts/setup.sh maef_bench_scale
    # shellcheck source=/dev/null
    source .run/env
    BIN_DIR="${CARGO_TARGET_DIR:-target}/perf"
    RUST_LOG=warn "$BIN_DIR/maef-demo" >/dev/null
else
    BIN_DIR="${BENCH_BIN_DIR:-target/perf}"
fi
: "${DATABASE_URL:?DATABASE_URL is not set}"
psql -w -qAt "$DATABASE_URL" -c "update shop.inventory set qty_on_hand = greatest(qty_on_hand, 1000000)" >/dev/null
SLUG="$(psql -w -tA "$DATABASE_URL" -c "select slug from shop.product where is_active order by product_id limit 1")"

# ---------------------------------------------------------------- PgBouncer
PGB_DIR="$PWD/.run/pgbouncer-bench"
mkdir -p "$PGB_DIR"
DB_USER="$(psql -w -tA "$DATABASE_URL" -c "select current_user")"
DB_NAME="$(psql -w -tA "$DATABASE_URL" -c "select current_database()")"
DB_PASSWORD="$(sed -E 's#^[a-z]+://[^:/@]+:([^@]*)@.*#\1#' <<<"$DATABASE_URL")"
DB_HOSTPORT="$(sed -E 's#^[a-z]+://[^@]*@([^/]+)/.*#\1#' <<<"$DATABASE_URL")"
printf '"%s" "%s"\n' "$DB_USER" "$DB_PASSWORD" > "$PGB_DIR/userlist.txt"
cat > "$PGB_DIR/pgbouncer.ini" <<INI
[databases]
* = host=${DB_HOSTPORT%:*} port=${DB_HOSTPORT##*:}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $POOLER_PORT
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $PGB_DIR/userlist.txt
pool_mode = transaction
default_pool_size = $CONNECTIONS
max_client_conn = 1000
server_reset_query =
ignore_startup_parameters = extra_float_digits
logfile =
pidfile =
INI
chmod -R a+rX "$PGB_DIR"
as_pgbouncer_user=()
[ "$(id -u)" = 0 ] && as_pgbouncer_user=(-u postgres)
pgbouncer "${as_pgbouncer_user[@]}" "$PGB_DIR/pgbouncer.ini" 2>"$PGB_DIR/log" &
PGB=$!
API=""
cleanup() {
    [ -n "$API" ] && { kill -TERM "$API" 2>/dev/null; wait "$API" 2>/dev/null || true; }
    kill -TERM "$PGB" 2>/dev/null; wait "$PGB" 2>/dev/null || true
}
trap cleanup EXIT
until (exec 3<>"/dev/tcp/127.0.0.1/$POOLER_PORT") 2>/dev/null; do
    kill -0 $PGB 2>/dev/null || { echo "pgbouncer died: $(cat "$PGB_DIR/log")" >&2; exit 1; }
    sleep 0.05
done
POOLED_URL="postgres://$DB_USER:$DB_PASSWORD@127.0.0.1:$POOLER_PORT/$DB_NAME"

printf "select api.product_by_slug('%s');\n" "$SLUG" > .run/pgbench-scale.sql
# run_pgbench NAME MODE URL: sets NAME_tps.
run_pgbench() {
    echo "==> pgbench -M $2: $1, $CONNECTIONS clients, ${SECONDS_PER_RUN}s" >&2
    pgbench -n -M "$2" -c "$CONNECTIONS" -j 2 -T "$SECONDS_PER_RUN" -f .run/pgbench-scale.sql "$3" > ".run/pgbench-$1.txt" 2>&1
    printf -v "${1}_tps" '%s' "$(awk -F'= ' '/^tps/ {split($2, a, " "); print a[1]}' ".run/pgbench-$1.txt")"
}
run_pgbench prepared prepared "$DATABASE_URL"
run_pgbench unnamed extended "$DATABASE_URL"
run_pgbench pooled extended "$POOLED_URL"

to_ms() { awk '{ v=$1; if (v ~ /us$/) { sub(/us$/,"",v); print v/1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v); print v } else { sub(/s$/,"",v); print v*1000 } }'; }
# serve URL [VAR=value...]: starts maef-api on $PORT, waits for /readyz.
serve() {
    local url=$1; shift
    env "$@" DATABASE_URL="$url" JWT_SECRET="bench-secret-bench-secret-bench-secret" \
        BIND_ADDR="127.0.0.1:$PORT" RUST_LOG=warn DB_POOL_SIZE="$CONNECTIONS" "$BIN_DIR/maef-api" serve &
    API=$!
    until curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; do
        kill -0 "$API" 2>/dev/null || { echo "maef-api died" >&2; exit 1; }
        sleep 0.02
    done
}
stop() { kill -TERM "$API"; wait "$API" 2>/dev/null || true; API=""; }
# run_wrk NAME: wrk on the product page; fails on non-2xx; sets NAME_rps/_p50/_p99.
run_wrk() {
    local url="http://127.0.0.1:$PORT/api/v1/products/$SLUG"
    curl -fs "$url" >/dev/null
    echo "==> wrk: $1, $CONNECTIONS connections, ${SECONDS_PER_RUN}s" >&2
    wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency "$url" > ".run/wrk-$1.txt"
    local bad; bad=$(awk '/Non-2xx/ {print $NF}' ".run/wrk-$1.txt")
    [ -z "$bad" ] || { echo "wrk $1 saw $bad non-2xx responses" >&2; exit 1; }
    printf -v "${1}_rps" '%s' "$(awk '/^Requests\/sec/ {print $2}' ".run/wrk-$1.txt")"
    printf -v "${1}_p50" '%s' "$(awk '$1=="50%" {print $2}' ".run/wrk-$1.txt" | to_ms)"
    printf -v "${1}_p99" '%s' "$(awk '$1=="99%" {print $2}' ".run/wrk-$1.txt" | to_ms)"
}
serve "$DATABASE_URL"; run_wrk api_prepared; stop
serve "$DATABASE_URL" DB_PREPARED_STATEMENTS=off; run_wrk api_unnamed; stop
serve "$POOLED_URL" DB_PREPARED_STATEMENTS=off; run_wrk api_pooled; stop

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf '\n%-56s %12s\n' "figure (load average: $(cut -d' ' -f1-3 /proc/loadavg))" "value"
printf '%-56s %12.0f\n' "pgbench product_by_slug tx/s, prepared (baseline)" "$prepared_tps"
printf '%-56s %12.0f   (ratio %s)\n' "pgbench, unnamed statements (-M extended)" "$unnamed_tps" "$(ratio "$unnamed_tps" "$prepared_tps")"
printf '%-56s %12.0f   (ratio %s)\n' "pgbench, unnamed, through PgBouncer (transaction)" "$pooled_tps" "$(ratio "$pooled_tps" "$prepared_tps")"
printf '%-56s %12.0f   p50 %.2f ms, p99 %.2f ms\n' "maef-api GET product req/s, prepared (baseline)" "$api_prepared_rps" "$api_prepared_p50" "$api_prepared_p99"
printf '%-56s %12.0f   p50 %.2f ms, p99 %.2f ms (ratio %s)\n' "maef-api, DB_PREPARED_STATEMENTS=off" "$api_unnamed_rps" "$api_unnamed_p50" "$api_unnamed_p99" "$(ratio "$api_unnamed_rps" "$api_prepared_rps")"
printf '%-56s %12.0f   p50 %.2f ms, p99 %.2f ms (ratio %s)\n' "maef-api through PgBouncer, off" "$api_pooled_rps" "$api_pooled_p50" "$api_pooled_p99" "$(ratio "$api_pooled_rps" "$api_prepared_rps")"

# ---------------------------------------------------------------- deploy under load
serve "$DATABASE_URL"
echo "==> maef-api migrate under ${BENCH_RATE:-300} req/s" >&2
export DATABASE_URL BENCH_API="http://127.0.0.1:$PORT" BENCH_MIGRATE_BIN="$(realpath "$BIN_DIR/maef-api")"
if [ -n "${BENCH_DEPLOY_BIN:-}" ]; then
    "$BENCH_DEPLOY_BIN"
else
    cargo bench --quiet --profile perf -p maef-tests --bench deploy
fi
