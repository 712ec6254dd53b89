#!/usr/bin/env bash
# `make bench-payments`: the payment figures of issue 16, in one run on this machine
# (tests/benches/payments.rs says what is measured and how):
#   * verified Stripe webhooks applied per second over 8 connections (each marks an
#     order paid), against baselines measured in the same run: the same requests with a
#     forged signature (no database) and the same events again (duplicates);
#   * POST /api/v1/orders/{number}/payments with a provider call (Stripe against the
#     local fake) and without (cash on delivery), alternating, p50 and p95.
# Options (environment): BENCH_PAYMENTS_EVENTS (2000), BENCH_PAYMENTS_REQUESTS (200),
# BENCH_SETUP (1; 0 skips scripts/setup.sh when the machine is set up already),
# MAEF_SETUP_SKIP_EXTENSION=1 (a shared server: keep the installed extension).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${BENCH_SETUP:-1}" = 0 ] || MAEF_PROFILE=perf scripts/setup.sh maef_bench_payments
# shellcheck source=/dev/null
source .run/env
# The benchmark's database is cloned from a template of this run (a test run's name, so
# scripts/drop-test-databases.sh knows it); both are dropped once the benchmark exits.
MAEF_TEST_RUN_ID="r$(date +%s)x$$"
export MAEF_TEST_RUN_ID
trap 'scripts/drop-test-databases.sh run "$MAEF_TEST_RUN_ID"' EXIT
cargo bench --quiet --profile perf -p maef-tests --bench payments
