#!/usr/bin/env bash
# `make bench`: figures for the thin-API request path, compared in the same run with
# PostgreSQL itself:
#   * maef-api: req/s, p50, p99 of GET /api/v1/products/{slug} at 8 connections (wrk);
#   * pgbench: the same api.product_by_slug call with 8 clients (the baseline);
#   * the ratio maef-api / pgbench (goal >= 0.8);
#   * maef-api idle RSS (goal < 30 MB) and time from start to /readyz 200;
#   * identity: logins/s with the real argon2id parameters, and the same product GET
#     with a bearer token vs anonymous (cost of token check + role switch; goal >= 0.9),
#     plus an authenticated GET /api/v1/users/me.
# Options (environment): BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 8).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN="${BENCH_SECONDS:-10}"
CONNECTIONS="${BENCH_CONNECTIONS:-8}"
PORT="${BENCH_PORT:-18088}"

# The benchmark hammers one account from one address: lift the rate limits (store
# policies, written into the database by the migration setup.sh runs).
export RATE_LIMIT_PER_ACCOUNT=100000 RATE_LIMIT_PER_CLIENT=1000000
MAEF_PROFILE=perf scripts/setup.sh maef_bench
# shellcheck source=/dev/null
source .run/env
BIN="${CARGO_TARGET_DIR:-target}/perf/maef-api"
RUST_LOG=warn "${BIN%/*}/maef-demo" >/dev/null
SLUG="$(psql -w -tA "$DATABASE_URL" -c "select slug from shop.product where is_active order by product_id limit 1")"

export JWT_SECRET="bench-secret-bench-secret-bench-secret"
export BIND_ADDR="127.0.0.1:$PORT" RUST_LOG=warn DB_POOL_SIZE="$CONNECTIONS"
start_ns=$(date +%s%N)
"$BIN" serve &
API=$!
trap 'kill -TERM $API 2>/dev/null; wait $API 2>/dev/null || true' EXIT
until curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; do
    kill -0 $API 2>/dev/null || { echo "maef-api died" >&2; exit 1; }
    sleep 0.005
done
ready_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
sleep 1
idle_rss_kb=$(awk '/^VmRSS/ {print $2}' /proc/$API/status)

to_ms() { awk '{ v=$1; if (v ~ /us$/) { sub(/us$/,"",v); print v/1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v); print v } else { sub(/s$/,"",v); print v*1000 } }'; }
# run_wrk NAME URL [wrk options...]: runs wrk, fails on non-2xx, sets NAME_rps/_p50/_p99.
run_wrk() {
    local name=$1 url=$2; shift 2
    echo "==> wrk: $name ($url), $CONNECTIONS connections, ${SECONDS_PER_RUN}s" >&2
    wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency "$@" "$url" > ".run/wrk-$name.txt"
    local bad; bad=$(awk '/Non-2xx/ {print $NF}' ".run/wrk-$name.txt")
    [ -z "$bad" ] || { echo "wrk $name saw $bad non-2xx responses" >&2; exit 1; }
    printf -v "${name}_rps" '%s' "$(awk '/^Requests\/sec/ {print $2}' ".run/wrk-$name.txt")"
    printf -v "${name}_p50" '%s' "$(awk '$1=="50%" {print $2}' ".run/wrk-$name.txt" | to_ms)"
    printf -v "${name}_p99" '%s' "$(awk '$1=="99%" {print $2}' ".run/wrk-$name.txt" | to_ms)"
}
BASE="http://127.0.0.1:$PORT"
curl -fs "$BASE/api/v1/products/$SLUG" >/dev/null   # warm the pool
run_wrk product "$BASE/api/v1/products/$SLUG"
api_rps=$product_rps api_p50=$product_p50 api_p99=$product_p99

# Identity: one account, real argon2id parameters (ARGON2_* defaults).
BENCH_EMAIL="bench-$(date +%s)@example.com" BENCH_PASSWORD="bench correct horse battery"
curl -fs -o /dev/null -H 'Content-Type: application/json' \
    -d "{\"email\":\"$BENCH_EMAIL\",\"password\":\"$BENCH_PASSWORD\"}" "$BASE/api/v1/auth/register"
TOKEN=$(curl -fs -H 'Content-Type: application/json' -d "{\"email\":\"$BENCH_EMAIL\",\"password\":\"$BENCH_PASSWORD\"}" \
    "$BASE/api/v1/auth/login" | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
cat > .run/login.lua <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"$BENCH_EMAIL","password":"$BENCH_PASSWORD"}'
LUA
run_wrk login "$BASE/api/v1/auth/login" -s .run/login.lua
run_wrk product_auth "$BASE/api/v1/products/$SLUG" -H "Authorization: Bearer $TOKEN"
run_wrk me "$BASE/api/v1/users/me" -H "Authorization: Bearer $TOKEN"

echo "==> pgbench: select api.product_by_slug('$SLUG'), $CONNECTIONS clients, ${SECONDS_PER_RUN}s" >&2
printf "select api.product_by_slug('%s');\n" "$SLUG" > .run/pgbench.sql
pgbench -n -M prepared -c "$CONNECTIONS" -j 2 -T "$SECONDS_PER_RUN" -f .run/pgbench.sql "$DATABASE_URL" > .run/pgbench.txt 2>&1
pg_tps=$(awk -F'= ' '/^tps/ {split($2, a, " "); print a[1]}' .run/pgbench.txt)
pg_lat=$(awk -F'= ' '/^latency average/ {split($2, a, " "); print a[1]}' .run/pgbench.txt)

kill -TERM $API; wait $API 2>/dev/null || true; trap - EXIT

ratio=$(awk -v a="$api_rps" -v b="$pg_tps" 'BEGIN { printf "%.2f", a / b }')
auth_ratio=$(awk -v a="$product_auth_rps" -v b="$product_rps" 'BEGIN { printf "%.2f", a / b }')
printf '\n%-44s %12s\n' "figure" "value"
printf '%-44s %12.0f\n' "maef-api GET /products/{slug} req/s" "$api_rps"
printf '%-44s %12.3f\n' "maef-api p50 latency (ms)" "$api_p50"
printf '%-44s %12.3f\n' "maef-api p99 latency (ms)" "$api_p99"
printf '%-44s %12.0f\n' "pgbench api.product_by_slug tx/s (baseline)" "$pg_tps"
printf '%-44s %12.3f\n' "pgbench average latency (ms)" "$pg_lat"
printf '%-44s %12s   (goal >= 0.8)\n' "ratio maef-api / pgbench" "$ratio"
printf '%-44s %12.1f   (goal < 30)\n' "maef-api idle RSS (MB)" "$(awk -v k="$idle_rss_kb" 'BEGIN { print k/1024 }')"
printf '%-44s %12d\n' "maef-api start to /readyz 200 (ms)" "$ready_ms"
printf '%-44s %12.0f   (argon2id m=19456 KiB, t=2, p=1)\n' "logins/s" "$login_rps"
printf '%-44s %12.3f\n' "login p50 latency (ms)" "$login_p50"
printf '%-44s %12.0f\n' "GET /products/{slug} with a bearer token req/s" "$product_auth_rps"
printf '%-44s %12s   (goal >= 0.9)\n' "ratio authenticated / anonymous" "$auth_ratio"
printf '%-44s %12.0f\n' "GET /users/me (authenticated) req/s" "$me_rps"
