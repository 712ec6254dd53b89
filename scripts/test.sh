#!/usr/bin/env bash
# `make test`: set up, then run every suite against the real server and extension:
#   1. cargo test: pure unit tests (maef-core, api, worker), SQL API, HTTP and
#      end-to-end tests (tests/), each test in its own database cloned from a template,
#      every HTTP response checked against the OpenAPI document (MAEF_CONTRACT=strict);
#   2. cargo pgrx test: the extension's in-database #[pg_test]s, in a throw-away
#      cluster run as the postgres user (initdb refuses root);
#   3. scripts/fuzz-api.sh: schemathesis against the real maef-api, every operation of
#      the OpenAPI document, anonymous and signed in (docs/api-contract.md; about 5
#      minutes at 20 examples per operation);
#   4. scripts/test-web.sh: the storefront — its generated API types are current, it
#      builds within its budget, and a shopper's scenarios pass in Chromium against the
#      real maef-api and maef-worker (docs/storefront.md; about 2 minutes).
# Exits non-zero on any failure; drops the run's databases at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh maef
# shellcheck source=/dev/null
source .run/env
MAEF_TEST_RUN_ID="r$(date +%s)x$$"
export MAEF_TEST_RUN_ID
# Every response a test receives is validated against the OpenAPI document, and a
# violation fails the test (docs/api-contract.md). MAEF_CONTRACT=record lists the
# violations in target/contract-violations.txt instead, for exploring.
export MAEF_CONTRACT="${MAEF_CONTRACT:-strict}"

# At the end this run drops its own test databases; at the start, those of runs older
# than an hour (killed runs, bare `cargo test` runs) go too. Another run in progress on
# the same server is left alone.
scripts/drop-test-databases.sh older 60
cleanup() { scripts/drop-test-databases.sh run "$MAEF_TEST_RUN_ID"; }
trap cleanup EXIT

LOG=.run/test.log
: > "$LOG"
echo "==> cargo test (unit, SQL API, HTTP, end-to-end)" >&2
cargo build --quiet -p maef-api -p maef-worker
# default-members: everything but the pgrx crate, tested below. --no-fail-fast: every
# suite runs, so one run lists every failure (the exit status is still non-zero).
cargo test --quiet --no-fail-fast 2>&1 | tee -a "$LOG"

echo "==> cargo pgrx test (extension, in-database)" >&2
PGRX_DATA=/var/tmp/maef-pgrx-test
if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGRX_DATA" && chown postgres:postgres "$PGRX_DATA"
    (cd extension && cargo pgrx test "pg$MAEF_PG_MAJOR" --runas postgres --pgdata "$PGRX_DATA/data") 2>&1 | tee -a "$LOG"
else
    (cd extension && cargo pgrx test "pg$MAEF_PG_MAJOR") 2>&1 | tee -a "$LOG"
fi

echo "==> make fuzz-api (the OpenAPI contract, from outside; a fixed seed, so a failure reproduces)" >&2
FUZZ_EXAMPLES="${FUZZ_EXAMPLES:-20}" FUZZ_SEED="${FUZZ_SEED:-20261206}" scripts/fuzz-api.sh 2>&1 | tee -a "$LOG"

echo "==> storefront (types current, build and budget, browser tests in Chromium)" >&2
scripts/test-web.sh 2>&1 | tee -a "$LOG"

# One closing line for the whole run (pipefail above already stopped on a failure):
# cargo's "test result:" lines and node's test runner's "ℹ pass N" / "ℹ fail N".
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     /^ℹ pass [0-9]+$/ { p += $3 } /^ℹ fail [0-9]+$/ { f += $3 }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$LOG"
