#!/usr/bin/env bash
# `cargo test` for a developer's inner loop, without the set-up and the fuzz of
# `make test`: `scripts/cargo-test.sh -p maef-tests --test checkout`. The run's test
# databases are dropped at the end (a bare `cargo test` leaves them until the next
# `make test` drops them as stale), and responses are checked strictly against the
# OpenAPI document, as in `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=/dev/null
source .run/env
MAEF_TEST_RUN_ID="r$(date +%s)x$$"
export MAEF_TEST_RUN_ID MAEF_CONTRACT="${MAEF_CONTRACT:-strict}"
trap 'scripts/drop-test-databases.sh run "$MAEF_TEST_RUN_ID"' EXIT
cargo test "$@"
