# The two commands (see README): `make run` and `make test`. Both set up everything
# they need on a fresh Debian 12 machine (scripts/setup.sh) and are safe to repeat.
SHELL := /bin/bash
.DEFAULT_GOAL := help
.PHONY: help run test fuzz-api bench bench-jobs bench-search bench-media bench-events bench-checkout bench-stories bench-reports bench-payments bench-scale bench-partitions lint check-links setup

help:
	@echo "make run    - set up, load the demo shop, build the storefront, run maef-api on :8000 (shop at /, API at /api/v1, explorer at /docs) and maef-worker"
	@echo "make test   - set up, run every test suite, the storefront's browser tests included (non-zero exit on failure)"
	@echo "make fuzz-api - set up, fuzz every OpenAPI operation of the real API with schemathesis (docs/api-contract.md)"
	@echo "make bench  - benchmark GET /api/v1/products/{slug} against pgbench"
	@echo "make bench-jobs - job queue: maef-worker vs graphile-worker and pgmq (jobs/s, latency)"
	@echo "make bench-search - search latency on a generated catalog vs an ILIKE baseline"
	@echo "make bench-checkout - checkout: hot-SKU reservations vs the single-row limit (pgbench), whole checkout over HTTP (orders/s, p95)"
	@echo "make bench-media - media: download MB/s vs nginx, slow readers, upload MB/s, thumbnails vs vipsthumbnail"
	@echo "make bench-events - events: server CPU per event in an order-like transaction, events/s, webhook deliveries/s vs noop jobs"
	@echo "make bench-scale - operating at scale: unnamed statements and PgBouncer vs prepared (pgbench, wrk), maef-api migrate under 300 req/s (failures, pause)"
	@echo "make bench-stories - Instagram stories: stories/s from a fake Graph API vs plain HTTP fetch, worker RSS on a 100 MB video"
	@echo "make bench-reports - each report's latency on a generated year of 200,000 orders: live vs materialized, and a scan floor"
	@echo "make bench-partitions - prune cost of a month of audit rows: batched DELETE + VACUUM (before V33) vs dropping its partition"
	@echo "make bench-payments - payments: verified Stripe webhooks applied/s (8 connections) vs forged and duplicate baselines; what a provider call adds to POST .../payments"
	@echo "make lint   - check-links, cargo fmt --check and cargo clippy -D warnings (what CI runs, with setup and test)"
	@echo "make check-links - every relative link of README.md and docs/*.md resolves"

run:
	@scripts/run.sh

test:
	@scripts/test.sh

fuzz-api:
	@scripts/setup.sh maef
	@scripts/fuzz-api.sh

bench:
	@scripts/bench.sh

bench-search:
	@scripts/bench-search.sh

bench-jobs:
	@scripts/bench-jobs.sh

bench-media:
	@scripts/bench-media.sh

bench-scale:
	@scripts/bench-scale.sh

bench-partitions:
	@scripts/bench-partitions.sh

bench-checkout:
	@scripts/bench-checkout.sh

bench-events:
	@scripts/bench-events.sh

bench-stories:
	@scripts/bench-stories.sh

bench-reports:
	@scripts/bench-reports.sh

bench-payments:
	@scripts/bench-payments.sh

setup:
	@scripts/setup.sh

check-links:
	@scripts/check-links.sh

lint: check-links
	cargo fmt --all --check
	cargo clippy --quiet -p maef-core -p maef-media -p maef-outbound -p maef-instagram -p maef-payments -p maef-telemetry -p maef-api -p maef-worker -p maef-demo -p maef-tests --all-targets -- -D warnings
	cd extension && cargo clippy --quiet --all-targets -- -D warnings
