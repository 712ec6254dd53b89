#!/usr/bin/env bash
# The storefront's checks (part of `make test`; docs/storefront.md):
#   1. web/src/api/schema.d.ts is what the current OpenAPI document generates
#      (`maef-api openapi` → openapi-typescript), so a route change breaks the build;
#   2. the build: type-check, bundle, the API explorer vendored, the first page's
#      JavaScript + CSS within 150 KB gzipped;
#   3. the browser tests (web/e2e/, node's test runner): Debian's Chromium driven by
#      playwright-core against the real maef-api (serving the build) and maef-worker
#      on a fresh database with the demo shop, FedaPay pointed at the Rust tests' fake
#      (target/debug/fake-providers). Screenshots go to target/web-e2e/.
# Arguments go to `node --test`: `scripts/test-web.sh --test-name-pattern=after-sales`
# runs those scenarios only.
# Needs node, npm and chromium (scripts/setup.sh installs them) and the debug
# binaries (cargo build -p maef-api -p maef-worker, and -p maef-tests --bin
# fake-providers; `cargo test` builds it too). Exits non-zero on any failure; drops
# its database and stops what it started at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${MAEF_TEST_ADMIN_URL:-}" ] || source .run/env  # written by scripts/setup.sh
BIN="${MAEF_BIN:-target/debug}"
OUT=target/web-e2e

scripts/web-install.sh
echo "==> storefront: generated API types are current" >&2
(cd web && MAEF_BIN="$BIN" npm run --silent check:api)
echo "==> storefront: build (type-check, bundle, budget)" >&2
(cd web && npm run --silent build)

# A database of its own, named like the other test databases so an interrupted run's
# is dropped by scripts/drop-test-databases.sh.
RUN="${MAEF_TEST_RUN_ID:-r$(date +%s)x$$}"
DB="maef_t_${RUN}_web"
API_PID= WORKER_PID= FAKES_PID=
cleanup() {
    for pid in $API_PID $WORKER_PID $FAKES_PID; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
    psql -w -q "$MAEF_TEST_ADMIN_URL" -c "drop database if exists \"$DB\"" 2>/dev/null ||
        psql -w -q "$MAEF_TEST_ADMIN_URL" -c "drop database if exists \"$DB\" with (force)" || true
}
trap cleanup EXIT
rm -rf "$OUT" && mkdir -p "$OUT"
psql -w -q "$MAEF_TEST_ADMIN_URL" -c "create database \"$DB\""
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export DATABASE_URL="${MAEF_TEST_ADMIN_URL%/*}/$DB"
export JWT_SECRET="web-$RUN-web-$RUN-web-$RUN"
export BIND_ADDR="127.0.0.1:$PORT" WEB_DIR="$PWD/web/dist" LOG_FORMAT=json RUST_LOG=warn
export ARGON2_MEMORY_KIB=1024 ARGON2_ITERATIONS=1
# Payments: cash on delivery offered in the demo's countries (a store policy, written
# by `migrate`); FedaPay answered by the local fake; the providers send shoppers back
# to this storefront's return page.
export COD_COUNTRIES="SN,CI,FR"
export PAYMENT_CALLBACK_URL="http://$BIND_ADDR/orders/{number}/paid"
[ -x "$BIN/fake-providers" ] || { echo "missing $BIN/fake-providers: cargo build -p maef-tests --bin fake-providers" >&2; exit 1; }
"$BIN/fake-providers" > "$OUT/fake-providers.env" 2> "$OUT/fake-providers.log" &
FAKES_PID=$!
for _ in $(seq 100); do grep -q '^FAKE_PROVIDERS_CONTROL=' "$OUT/fake-providers.env" && break; sleep 0.1; done
grep -q '^FAKE_PROVIDERS_CONTROL=' "$OUT/fake-providers.env"
set -a
# shellcheck source=/dev/null
source "$OUT/fake-providers.env"
set +a
"$BIN/maef-api" migrate > "$OUT/setup.log"
"$BIN/maef-api" demo >> "$OUT/setup.log" 2>&1
ADMIN_EMAIL="web-admin@example.com" ADMIN_PASSWORD="web-admin-password-$RUN"
MAEF_ADMIN_PASSWORD="$ADMIN_PASSWORD" "$BIN/maef-api" create-admin --email "$ADMIN_EMAIL" >> "$OUT/setup.log"
"$BIN/maef-worker" > "$OUT/worker.log" 2>&1 &
WORKER_PID=$!
"$BIN/maef-api" serve > "$OUT/api.log" 2>&1 &
API_PID=$!
for _ in $(seq 100); do curl -sf "http://$BIND_ADDR/readyz" > /dev/null && break; sleep 0.1; done
curl -sf "http://$BIND_ADDR/readyz" > /dev/null

echo "==> storefront: browser tests (Chromium) against maef-api on :$PORT" >&2
cd web
MAEF_BASE_URL="http://$BIND_ADDR" MAEF_ADMIN_EMAIL="$ADMIN_EMAIL" MAEF_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
    SCREENSHOT_DIR="$PWD/../$OUT" CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}" \
    node --test --test-reporter=spec "$@" e2e/
