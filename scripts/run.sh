#!/usr/bin/env bash
# `make run`: set up, load the demo shop, build the storefront (once), then run
# maef-api on :8000 — the API at /api/v1, the storefront at /, the API explorer at
# /docs — and maef-worker until Ctrl-C (both are stopped gracefully). Everything runs
# optimised (the perf profile: release without fat LTO, built once and reused).
set -euo pipefail
cd "$(dirname "$0")/.."
# The demo shop takes cash on delivery where its demo customers live (a store policy
# `migrate` writes; docs/payments.md): the storefront's checkout then ends confirmed
# without any payment provider's keys. Set COD_COUNTRIES to change it.
export COD_COUNTRIES="${COD_COUNTRIES:-SN,CI,BJ,FR}"
MAEF_PROFILE=perf scripts/setup.sh maef
# shellcheck source=/dev/null
source .run/env
BIN="${CARGO_TARGET_DIR:-target}/perf"

# A development JWT secret, generated once and kept out of git.
if [ -z "${JWT_SECRET:-}" ]; then
    [ -s .run/jwt_secret ] || head -c 48 /dev/urandom | base64 | tr -d '\n' > .run/jwt_secret
    JWT_SECRET="$(cat .run/jwt_secret)"
    export JWT_SECRET
fi
export BIND_ADDR="${BIND_ADDR:-0.0.0.0:8000}"
export RUST_LOG="${RUST_LOG:-info}"
export WEB_DIR="${WEB_DIR:-$PWD/web/dist}"

"$BIN/maef-demo"
MAEF_BIN="$BIN" scripts/web-build.sh

"$BIN/maef-worker" &
WORKER=$!
"$BIN/maef-api" serve &
API=$!
trap 'kill -TERM $API $WORKER 2>/dev/null; wait $API $WORKER 2>/dev/null' INT TERM EXIT
echo "==> storefront on http://localhost:${BIND_ADDR##*:}/ (API: /api/v1, explorer: /docs), maef-worker running; Ctrl-C stops both" >&2
wait -n $API $WORKER
