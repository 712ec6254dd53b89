#!/usr/bin/env bash
# `make bench-stories`: Instagram stories ingestion figures, in one run on this machine
# (tests/benches/stories.rs says what is measured and how):
#   * stories ingested per second by maef-worker from the fake Graph API and CDN of the
#     tests (pages of 20 image stories of 1-2 MB), against a baseline measured in the
#     same run: the same files fetched sequentially by a plain HTTP client;
#   * maef-worker's RSS while it ingests a 100 MB video (streamed into a large object),
#     against its idle RSS.
# Options (environment): BENCH_STORIES_PAGES (3), BENCH_STORIES_VIDEO_MB (100),
# BENCH_SETUP (1; 0 skips scripts/setup.sh when the machine is set up already),
# MAEF_SETUP_SKIP_EXTENSION=1 (a shared server: keep the installed extension).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${BENCH_SETUP:-1}" = 0 ] || MAEF_PROFILE=perf scripts/setup.sh maef_bench_stories
# shellcheck source=/dev/null
source .run/env
echo "==> building maef-worker and the benchmark (perf profile)" >&2
cargo build --quiet --profile perf -p maef-worker
# The benchmark's databases are cloned from a template of this run; dropped after.
export MAEF_TEST_RUN_ID="bench_stories_$$"
cargo bench --quiet --profile perf -p maef-tests --bench stories
psql -w -q "$MAEF_TEST_ADMIN_URL" -c "drop database if exists maef_tmpl_$MAEF_TEST_RUN_ID" 2>/dev/null || true
