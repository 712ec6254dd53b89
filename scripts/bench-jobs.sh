#!/usr/bin/env bash
# `make bench-jobs`: job queue figures, all on the same PostgreSQL, in one run:
#   * maef: bulk-enqueue N `noop` jobs (api.enqueue_jobs), drain them with maef-worker
#     processes: jobs/s; then enqueue→start latency p50/p95 at a steady rate (pgbench -R
#     enqueues one job per transaction, workers running; latency read from job_attempt);
#   * graphile-worker 0.17.3 (npm, Node 20): bulk add_jobs N, drain with `--once` and a
#     no-op task, in its performance test's configuration (2 processes x 24 jobs, local
#     queue of 500, batched completion) and in its default configuration;
#   * pgmq (SQL embedded in the `pgmq` crate): send_batch N, then read+delete loops by
#     pgbench: messages/s;
#   * the ratios against the goals (maef >= 2x graphile batched, >= 1x pgmq, p95 <= 50 ms).
# The comparison tools are installed under .run/bench at bench time; they are never a
# dependency of maef. Options (environment): BENCH_JOBS (200000), BENCH_RATE (1000 jobs/s),
# BENCH_RATE_SECONDS (10), BENCH_WORKERS (2 processes), BENCH_CONCURRENCY (500 slots each:
# a claim takes as many jobs as there are free slots, and batches of a few hundred jobs
# spread each statement's fixed cost and each claim's walk over the ready index's dead
# entries thinly; graphile-worker's local queue of 500 per process plays
# the same part),
# BENCH_PGMQ_BATCH (100).
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS="${BENCH_JOBS:-200000}"
RATE="${BENCH_RATE:-1000}"
RATE_SECONDS="${BENCH_RATE_SECONDS:-10}"
WORKERS="${BENCH_WORKERS:-2}"
CONCURRENCY="${BENCH_CONCURRENCY:-500}"
PGMQ_BATCH="${BENCH_PGMQ_BATCH:-100}"
GRAPHILE_VERSION=0.17.3
PGMQ_VERSION=0.33.7
BENCH_DIR="$PWD/.run/bench"
mkdir -p "$BENCH_DIR"

scripts/setup.sh maef_bench_jobs
# shellcheck source=/dev/null
source .run/env
ADMIN_URL="${MAEF_TEST_ADMIN_URL:?setup writes MAEF_TEST_ADMIN_URL}"
url_of() { echo "${ADMIN_URL%/*}/$1"; }
psql_q() { psql -w -X -q -v ON_ERROR_STOP=1 "$@"; }
now_ns() { date +%s%N; }
elapsed_s() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
per_s() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }

echo "==> building maef-worker with the perf profile" >&2
cargo build --quiet --profile perf -p maef-worker
WORKER_BIN="${CARGO_TARGET_DIR:-target}/perf/maef-worker"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# ------------------------------------------------------------------ maef
MAEF_URL="$DATABASE_URL"
psql_q "$MAEF_URL" -c "update shop.job_schedule set enabled = false" \
    -c "truncate shop.job_queue, shop.job_attempt" -c "vacuum analyze shop.job_queue, shop.job_attempt"
echo "==> maef: bulk-enqueue $JOBS noop jobs" >&2
t0=$(now_ns)
for ((done_ = 0; done_ < JOBS; done_ += 50000)); do
    n=$(( JOBS - done_ < 50000 ? JOBS - done_ : 50000 ))
    psql_q "$MAEF_URL" -c "select count(*) from api.enqueue_jobs((select jsonb_agg(jsonb_build_object('kind', 'noop')) from generate_series(1, $n)))" >/dev/null
done
t1=$(now_ns)
maef_enqueue_s=$(elapsed_s "$t0" "$t1")
psql_q "$MAEF_URL" -c "vacuum analyze shop.job_queue"
start_workers() {
    for w in $(seq 1 "$WORKERS"); do
        RUST_LOG=warn DATABASE_URL="$MAEF_URL" WORKER_ID="bench-$w" WORKER_CONCURRENCY="$CONCURRENCY" \
            WORKER_POLL_MS=1000 "$WORKER_BIN" &
        PIDS+=($!)
    done
}
stop_workers() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait "${PIDS[@]}" 2>/dev/null || true; PIDS=(); }
echo "==> maef: drain with $WORKERS maef-worker x $CONCURRENCY slots" >&2
wal0=$(psql -w -X -tA "$MAEF_URL" -c "select pg_current_wal_lsn()")
t0=$(now_ns)
start_workers
# Drained: no pending and no running job. Each test walks its small partial index; a
# test on the whole table would walk the drained jobs' dead rows from the table's
# start at every poll, costing the server a good part of a core near the end.
drained_sql="select not exists (select from shop.job_queue where status = 'pending')
                and not exists (select from shop.job_queue where status = 'running')"
until [ "$(psql -w -X -tA "$MAEF_URL" -c "$drained_sql")" = t ]; do
    sleep 0.05
done
t1=$(now_ns)
maef_drain_s=$(elapsed_s "$t0" "$t1")
# WAL of the whole server over the drain: other databases' writes count too.
maef_wal=$(psql -w -X -tA "$MAEF_URL" -c "select round(pg_wal_lsn_diff(pg_current_wal_lsn(), '$wal0') / $JOBS)")
# A completed job's row is deleted; its ok attempt row is its history.
completed=$(psql -w -X -tA "$MAEF_URL" -c "select count(*) from shop.job_attempt where ok")
[ "$completed" = "$JOBS" ] || { echo "maef: $completed of $JOBS completed" >&2; exit 1; }
maef_rate=$(per_s "$JOBS" "$maef_drain_s")

echo "==> maef: latency at $RATE jobs/s for ${RATE_SECONDS}s (pgbench -R, 16 clients, one job per transaction)" >&2
psql_q "$MAEF_URL" -c "truncate shop.job_queue, shop.job_attempt"
echo "select api.enqueue_job('noop');" > "$BENCH_DIR/enqueue.sql"
# 16 clients: each enqueue commits (and NOTIFY serialises commits), so fewer clients
# cannot sustain the rate on a slow-fsync disk; -R spreads the transactions evenly.
pgbench -n -M prepared -c 16 -j 2 -R "$RATE" -T "$RATE_SECONDS" -f "$BENCH_DIR/enqueue.sql" "$MAEF_URL" > "$BENCH_DIR/pgbench-enqueue.txt" 2>&1
until [ "$(psql -w -X -tA "$MAEF_URL" -c "$drained_sql")" = t ]; do sleep 0.05; done
read -r lat_p50 lat_p95 lat_n < <(psql -w -X -tA -F' ' "$MAEF_URL" -c "
    select round((1000 * extract(epoch from percentile_cont(0.5) within group (order by started_at - ready_at)))::numeric, 2),
           round((1000 * extract(epoch from percentile_cont(0.95) within group (order by started_at - ready_at)))::numeric, 2),
           count(*)
    from shop.job_attempt where ok")
stop_workers

# ------------------------------------------------------------------ graphile-worker
GRAPHILE_DIR="$BENCH_DIR/graphile-worker"
if [ ! -x "$GRAPHILE_DIR/node_modules/.bin/graphile-worker" ]; then
    echo "==> installing graphile-worker $GRAPHILE_VERSION into $GRAPHILE_DIR (npm)" >&2
    mkdir -p "$GRAPHILE_DIR"
    (cd "$GRAPHILE_DIR" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund "graphile-worker@$GRAPHILE_VERSION" >/dev/null)
fi
mkdir -p "$GRAPHILE_DIR/tasks"
echo 'module.exports = async () => {};' > "$GRAPHILE_DIR/tasks/noop.js"
GRAPHILE_DB=maef_bench_graphile
GRAPHILE_URL=$(url_of "$GRAPHILE_DB")
graphile_run() { # $1: batched|default → prints jobs/s
    local mode=$1 procs concurrency
    if [ "$mode" = batched ]; then
        procs=2; concurrency=24
        cat > "$GRAPHILE_DIR/graphile.config.js" <<EOF
module.exports = { worker: { connectionString: "$GRAPHILE_URL", concurrentJobs: 24,
  localQueue: { size: 500, refetchDelay: { durationMs: 10 } },
  completeJobBatchDelay: 0, failJobBatchDelay: 0 } };
EOF
    else
        procs=2; concurrency=24
        cat > "$GRAPHILE_DIR/graphile.config.js" <<EOF
module.exports = { worker: { connectionString: "$GRAPHILE_URL", concurrentJobs: 24 } };
EOF
    fi
    psql_q "$ADMIN_URL" -c "drop database if exists $GRAPHILE_DB" -c "create database $GRAPHILE_DB"
    (cd "$GRAPHILE_DIR" && node_modules/.bin/graphile-worker --schema-only >/dev/null)
    for ((done_ = 0; done_ < JOBS; done_ += 50000)); do
        local n=$(( JOBS - done_ < 50000 ? JOBS - done_ : 50000 ))
        psql_q "$GRAPHILE_URL" -c "select count(*) from graphile_worker.add_jobs(array(
            select json_populate_record(null::graphile_worker.job_spec, json_build_object('identifier', 'noop', 'payload', '{}'::json))
            from generate_series(1, $n)))" >/dev/null
    done
    psql_q "$GRAPHILE_URL" -c "vacuum analyze graphile_worker._private_jobs"
    local t0 t1 gpids=()
    t0=$(now_ns)
    for _ in $(seq 1 "$procs"); do
        (cd "$GRAPHILE_DIR" && node_modules/.bin/graphile-worker --once >/dev/null 2>&1) &
        gpids+=($!)
    done
    wait "${gpids[@]}"
    t1=$(now_ns)
    local left
    left=$(psql -w -X -tA "$GRAPHILE_URL" -c "select count(*) from graphile_worker.jobs")
    [ "$left" = 0 ] || { echo "graphile-worker ($mode) left $left jobs" >&2; exit 1; }
    per_s "$JOBS" "$(elapsed_s "$t0" "$t1")"
}
echo "==> graphile-worker $GRAPHILE_VERSION: add_jobs $JOBS, drain with 2 x 24 (batched)" >&2
graphile_batched=$(graphile_run batched)
echo "==> graphile-worker $GRAPHILE_VERSION: add_jobs $JOBS, drain with 2 x 24 (default, unbatched)" >&2
graphile_default=$(graphile_run default)
psql_q "$ADMIN_URL" -c "drop database if exists $GRAPHILE_DB"

# ------------------------------------------------------------------ pgmq
PGMQ_DIR="$BENCH_DIR/pgmq-sql"
mkdir -p "$PGMQ_DIR/src"
cat > "$PGMQ_DIR/Cargo.toml" <<EOF
[package]
name = "pgmq-sql"
version = "0.0.0"
edition = "2021"
publish = false
[dependencies]
pgmq = { version = "=$PGMQ_VERSION", default-features = false, features = ["install-sql-embedded"] }
[workspace]
EOF
echo 'fn main() {}' > "$PGMQ_DIR/src/main.rs"
echo "==> fetching the pgmq $PGMQ_VERSION crate for its embedded SQL" >&2
(cd "$PGMQ_DIR" && cargo fetch --quiet)
PGMQ_SQL=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"pgmq-$PGMQ_VERSION"/src/install/embedded/sql/pgmq.sql | head -1)
PGMQ_DB=maef_bench_pgmq
PGMQ_URL=$(url_of "$PGMQ_DB")
psql_q "$ADMIN_URL" -c "drop database if exists $PGMQ_DB" -c "create database $PGMQ_DB"
# An extension script: drop psql meta-commands (its CREATE EXTENSION guard).
grep -v '^\\' "$PGMQ_SQL" | psql_q "$PGMQ_URL" >/dev/null
psql_q "$PGMQ_URL" -c "select pgmq.create('bench')" >/dev/null
echo "==> pgmq: send_batch $JOBS, then read($PGMQ_BATCH)+delete by pgbench, 4 clients, until drained" >&2
for ((done_ = 0; done_ < JOBS; done_ += 50000)); do
    n=$(( JOBS - done_ < 50000 ? JOBS - done_ : 50000 ))
    psql_q "$PGMQ_URL" -c "select count(*) from pgmq.send_batch('bench', array(select '{}'::jsonb from generate_series(1, $n)))" >/dev/null
done
psql_q "$PGMQ_URL" -c "vacuum analyze pgmq.q_bench"
echo "select pgmq.delete('bench', array(select msg_id from pgmq.read('bench', 30, $PGMQ_BATCH)));" > "$BENCH_DIR/pgmq.sql"
# Each of the 4 clients runs its share of read+delete transactions; the rate is the
# messages deleted over the wall time.
before=$(psql -w -X -tA "$PGMQ_URL" -c "select count(*) from pgmq.q_bench")
t0=$(now_ns)
pgbench -n -M prepared -c 4 -j 2 -t $(( JOBS / (4 * PGMQ_BATCH) )) -f "$BENCH_DIR/pgmq.sql" "$PGMQ_URL" > "$BENCH_DIR/pgbench-pgmq.txt" 2>&1
t1=$(now_ns)
after=$(psql -w -X -tA "$PGMQ_URL" -c "select count(*) from pgmq.q_bench")
pgmq_rate=$(per_s "$(( before - after ))" "$(elapsed_s "$t0" "$t1")")
psql_q "$ADMIN_URL" -c "drop database if exists $PGMQ_DB"

# ------------------------------------------------------------------ figures
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf '\n%-58s %12s\n' "figure ($JOBS jobs, same PostgreSQL)" "value"
printf '%-58s %12s\n' "maef bulk enqueue (api.enqueue_jobs), jobs/s" "$(per_s "$JOBS" "$maef_enqueue_s")"
printf '%-58s %12s\n' "maef drain, $WORKERS maef-worker x $CONCURRENCY slots, jobs/s" "$maef_rate"
printf '%-58s %12s\n' "maef drain, WAL bytes per job (whole server)" "$maef_wal"
printf '%-58s %12s\n' "maef enqueue->start latency p50 at $RATE jobs/s (ms)" "$lat_p50"
printf "%-58s %12s   (goal <= 50; %s jobs)\n" "maef enqueue->start latency p95 at $RATE jobs/s (ms)" "$lat_p95" "$lat_n"
printf '%-58s %12s\n' "graphile-worker $GRAPHILE_VERSION batched (2 x 24), jobs/s" "$graphile_batched"
printf '%-58s %12s\n' "graphile-worker $GRAPHILE_VERSION default (2 x 24), jobs/s" "$graphile_default"
printf '%-58s %12s\n' "pgmq read($PGMQ_BATCH)+delete, 4 pgbench clients, msgs/s" "$pgmq_rate"
printf '%-58s %12s   (goal >= 2)\n' "ratio maef / graphile-worker batched" "$(ratio "$maef_rate" "$graphile_batched")"
printf '%-58s %12s\n' "ratio maef / graphile-worker default" "$(ratio "$maef_rate" "$graphile_default")"
printf '%-58s %12s   (goal >= 1)\n' "ratio maef / pgmq read+delete" "$(ratio "$maef_rate" "$pgmq_rate")"
