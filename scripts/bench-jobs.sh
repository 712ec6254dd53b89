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
# BENCH_PGMQ_BATCH (100), BENCH_WARMUP (10000 jobs), BENCH_GRAPHILE_DEFAULT (1; 0 skips the
# slow unbatched graphile-worker run), BENCH_DB_SUFFIX (appended to the three benchmark
# databases' names, so several checkouts can bench on one server without colliding).
#
# Same treatment for the three systems, so a run is fair and a second run straight
# after the first measures the same thing:
#   1. a warm-up: the system drains BENCH_WARMUP jobs with the same consumers (untimed),
#      so its code, catalog caches and the server's buffers are warm;
#   2. the timed jobs are bulk-enqueued (untimed for graphile-worker and pgmq);
#   3. settle: VACUUM ANALYZE of the system's queue tables (no dead tuples or dead index
#      entries left by the warm-up or an earlier run; fresh statistics), a CHECKPOINT
#      (so no checkpoint's full-page writes land in one system's drain and not
#      another's; skipped with a note when the role may not checkpoint), and the
#      previous system's databases vacuumed or dropped (no autovacuum of its leftovers
#      runs during the next system's drain);
#   4. the timed drain, from the launch of the consumers until the queue is empty.
# The load average before each drain is printed: the machine may be shared.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS="${BENCH_JOBS:-200000}"
RATE="${BENCH_RATE:-1000}"
RATE_SECONDS="${BENCH_RATE_SECONDS:-10}"
WORKERS="${BENCH_WORKERS:-2}"
CONCURRENCY="${BENCH_CONCURRENCY:-500}"
PGMQ_BATCH="${BENCH_PGMQ_BATCH:-100}"
WARMUP="${BENCH_WARMUP:-10000}"
GRAPHILE_DEFAULT="${BENCH_GRAPHILE_DEFAULT:-1}"
SUFFIX="${BENCH_DB_SUFFIX:-}"
GRAPHILE_VERSION=0.17.3
PGMQ_VERSION=0.33.7
BENCH_DIR="$PWD/.run/bench"
mkdir -p "$BENCH_DIR"

# Keeps the installed extension: the server may be shared with another checkout.
MAEF_PROFILE=perf MAEF_SETUP_SKIP_EXTENSION="${MAEF_SETUP_SKIP_EXTENSION:-1}" scripts/setup.sh "maef_bench_jobs$SUFFIX"
# shellcheck source=/dev/null
source .run/env
ADMIN_URL="${MAEF_TEST_ADMIN_URL:?setup writes MAEF_TEST_ADMIN_URL}"
url_of() { echo "${ADMIN_URL%/*}/$1"; }
psql_q() { psql -w -X -q -v ON_ERROR_STOP=1 "$@"; }
now_ns() { date +%s%N; }
elapsed_s() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
per_s() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
# CHECKPOINT needs a superuser or pg_checkpoint: as the app role if it may, else as the
# postgres OS user on the local cluster (root only), else skipped with a note.
checkpoint() {
    psql -w -X -q "$1" -c checkpoint 2>/dev/null && return
    if [ "$(id -u)" = 0 ] && runuser -u postgres -- psql -X -q -c checkpoint 2>/dev/null; then
        return
    fi
    echo "    (no CHECKPOINT: the role may not checkpoint)" >&2
}
# settle URL TABLES: step 3 above, then the load average of the drain to come.
settle() {
    psql_q "$1" -c "vacuum analyze $2"
    checkpoint "$1"
    echo "    load average before the drain: $(loadavg)" >&2
}

echo "==> building maef-worker with the perf profile" >&2
cargo build --quiet --profile perf -p maef-worker
WORKER_BIN="${CARGO_TARGET_DIR:-target}/perf/maef-worker"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# ------------------------------------------------------------------ maef
MAEF_URL="$DATABASE_URL"
declare -A LOADS
psql_q "$MAEF_URL" -c "update shop.job_schedule set enabled = false" \
    -c "truncate shop.job_queue, shop.job_attempt" -c "vacuum analyze shop.job_queue, shop.job_attempt"
maef_enqueue() { # $1: how many noop jobs, in statements of at most 50,000
    for ((done_ = 0; done_ < $1; done_ += 50000)); do
        n=$(( $1 - done_ < 50000 ? $1 - done_ : 50000 ))
        psql_q "$MAEF_URL" -c "select count(*) from api.enqueue_jobs((select jsonb_agg(jsonb_build_object('kind', 'noop')) from generate_series(1, $n)))" >/dev/null
    done
}
start_workers() { # $1: 1 to drain and exit (WORKER_ONCE, as graphile-worker --once), 0 to keep running
    for w in $(seq 1 "$WORKERS"); do
        RUST_LOG=warn DATABASE_URL="$MAEF_URL" WORKER_ID="bench-$w" WORKER_CONCURRENCY="$CONCURRENCY" \
            WORKER_POLL_MS=1000 WORKER_ONCE="$1" "$WORKER_BIN" &
        PIDS+=($!)
    done
}
wait_workers() { wait "${PIDS[@]}"; PIDS=(); }
stop_workers() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait "${PIDS[@]}" 2>/dev/null || true; PIDS=(); }
# Drained: no pending and no running job (used after the latency run). The drains are
# timed by the workers' exit instead (WORKER_ONCE): polling with psql cost a new
# session and an index walk over the drained jobs' dead entries every 50 ms, close to
# half a core near the end, which graphile-worker and pgmq did not pay.
drained_sql="select not exists (select from shop.job_queue where status = 'pending')
                and not exists (select from shop.job_queue where status = 'running')"
wait_drained() { until [ "$(psql -w -X -tA "$MAEF_URL" -c "$drained_sql")" = t ]; do sleep 0.05; done; }
if [ "$WARMUP" -gt 0 ]; then
    echo "==> maef: warm-up, $WARMUP jobs" >&2
    maef_enqueue "$WARMUP"
    start_workers 1
    wait_workers
    psql_q "$MAEF_URL" -c "truncate shop.job_queue, shop.job_attempt"
fi
echo "==> maef: bulk-enqueue $JOBS noop jobs" >&2
t0=$(now_ns)
maef_enqueue "$JOBS"
t1=$(now_ns)
maef_enqueue_s=$(elapsed_s "$t0" "$t1")
settle "$MAEF_URL" "shop.job_queue, shop.job_attempt"
LOADS[maef]=$(loadavg)
echo "==> maef: drain with $WORKERS maef-worker x $CONCURRENCY slots" >&2
wal0=$(psql -w -X -tA "$MAEF_URL" -c "select pg_current_wal_lsn()")
t0=$(now_ns)
start_workers 1
wait_workers
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
start_workers 0
sleep 0.5
LOADS[latency]=$(loadavg)
echo "select api.enqueue_job('noop');" > "$BENCH_DIR/enqueue.sql"
# 16 clients: each enqueue commits (and NOTIFY serialises commits), so fewer clients
# cannot sustain the rate on a slow-fsync disk; -R spreads the transactions evenly.
pgbench -n -M prepared -c 16 -j 2 -R "$RATE" -T "$RATE_SECONDS" -f "$BENCH_DIR/enqueue.sql" "$MAEF_URL" > "$BENCH_DIR/pgbench-enqueue.txt" 2>&1
wait_drained
read -r lat_p50 lat_p95 lat_n < <(psql -w -X -tA -F' ' "$MAEF_URL" -c "
    select round((1000 * extract(epoch from percentile_cont(0.5) within group (order by started_at - ready_at)))::numeric, 2),
           round((1000 * extract(epoch from percentile_cont(0.95) within group (order by started_at - ready_at)))::numeric, 2),
           count(*)
    from shop.job_attempt where ok")
stop_workers
# Leaves nothing for autovacuum to do during the other systems' drains.
psql_q "$MAEF_URL" -c "truncate shop.job_queue, shop.job_attempt" -c "vacuum analyze shop.job_queue, shop.job_attempt"

# ------------------------------------------------------------------ graphile-worker
GRAPHILE_DIR="$BENCH_DIR/graphile-worker"
if [ ! -x "$GRAPHILE_DIR/node_modules/.bin/graphile-worker" ]; then
    echo "==> installing graphile-worker $GRAPHILE_VERSION into $GRAPHILE_DIR (npm)" >&2
    mkdir -p "$GRAPHILE_DIR"
    (cd "$GRAPHILE_DIR" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund "graphile-worker@$GRAPHILE_VERSION" >/dev/null)
fi
mkdir -p "$GRAPHILE_DIR/tasks"
echo 'module.exports = async () => {};' > "$GRAPHILE_DIR/tasks/noop.js"
GRAPHILE_DB="maef_bench_graphile$SUFFIX"
GRAPHILE_URL=$(url_of "$GRAPHILE_DB")
graphile_add() { # $1: how many jobs
    for ((done_ = 0; done_ < $1; done_ += 50000)); do
        local n=$(( $1 - done_ < 50000 ? $1 - done_ : 50000 ))
        psql_q "$GRAPHILE_URL" -c "select count(*) from graphile_worker.add_jobs(array(
            select json_populate_record(null::graphile_worker.job_spec, json_build_object('identifier', 'noop', 'payload', '{}'::json))
            from generate_series(1, $n)))" >/dev/null
    done
}
graphile_drain() { # $1: processes; waits until each has drained and exited
    local gpids=()
    for _ in $(seq 1 "$1"); do
        (cd "$GRAPHILE_DIR" && node_modules/.bin/graphile-worker --once >/dev/null 2>&1) &
        gpids+=($!)
    done
    wait "${gpids[@]}"
}
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
    if [ "$WARMUP" -gt 0 ]; then
        echo "    warm-up, $WARMUP jobs" >&2
        graphile_add "$WARMUP"
        graphile_drain "$procs"
    fi
    graphile_add "$JOBS"
    settle "$GRAPHILE_URL" "graphile_worker._private_jobs, graphile_worker._private_job_queues, graphile_worker._private_tasks"
    LOADS[graphile_$mode]=$(loadavg)
    local t0 t1
    t0=$(now_ns)
    graphile_drain "$procs"
    t1=$(now_ns)
    local left
    left=$(psql -w -X -tA "$GRAPHILE_URL" -c "select count(*) from graphile_worker.jobs")
    [ "$left" = 0 ] || { echo "graphile-worker ($mode) left $left jobs" >&2; exit 1; }
    per_s "$JOBS" "$(elapsed_s "$t0" "$t1")"
}
echo "==> graphile-worker $GRAPHILE_VERSION: add_jobs $JOBS, drain with 2 x 24 (batched)" >&2
graphile_run batched > "$BENCH_DIR/graphile-batched.rate"
graphile_batched=$(cat "$BENCH_DIR/graphile-batched.rate")
if [ "$GRAPHILE_DEFAULT" = 1 ]; then
    echo "==> graphile-worker $GRAPHILE_VERSION: add_jobs $JOBS, drain with 2 x 24 (default, unbatched)" >&2
    graphile_run default > "$BENCH_DIR/graphile-default.rate"
    graphile_default=$(cat "$BENCH_DIR/graphile-default.rate")
else
    graphile_default=skipped
fi
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
PGMQ_DB="maef_bench_pgmq$SUFFIX"
PGMQ_URL=$(url_of "$PGMQ_DB")
psql_q "$ADMIN_URL" -c "drop database if exists $PGMQ_DB" -c "create database $PGMQ_DB"
# An extension script: drop psql meta-commands (its CREATE EXTENSION guard).
grep -v '^\\' "$PGMQ_SQL" | psql_q "$PGMQ_URL" >/dev/null
psql_q "$PGMQ_URL" -c "select pgmq.create('bench')" >/dev/null
pgmq_send() { # $1: how many messages
    for ((done_ = 0; done_ < $1; done_ += 50000)); do
        n=$(( $1 - done_ < 50000 ? $1 - done_ : 50000 ))
        psql_q "$PGMQ_URL" -c "select count(*) from pgmq.send_batch('bench', array(select '{}'::jsonb from generate_series(1, $n)))" >/dev/null
    done
}
echo "select pgmq.delete('bench', array(select msg_id from pgmq.read('bench', 30, $PGMQ_BATCH)));" > "$BENCH_DIR/pgmq.sql"
# Each of the 4 clients runs its share of read+delete transactions.
pgmq_drain() { # $1: how many messages
    pgbench -n -M prepared -c 4 -j 2 -t $(( $1 / (4 * PGMQ_BATCH) )) -f "$BENCH_DIR/pgmq.sql" "$PGMQ_URL" > "$BENCH_DIR/pgbench-pgmq.txt" 2>&1
}
if [ "$WARMUP" -gt 0 ]; then
    echo "==> pgmq: warm-up, $WARMUP messages" >&2
    pgmq_send "$WARMUP"
    pgmq_drain "$WARMUP"
fi
echo "==> pgmq: send_batch $JOBS, then read($PGMQ_BATCH)+delete by pgbench, 4 clients, until drained" >&2
pgmq_send "$JOBS"
settle "$PGMQ_URL" "pgmq.q_bench, pgmq.a_bench"
LOADS[pgmq]=$(loadavg)
# The rate is the messages deleted over the wall time.
before=$(psql -w -X -tA "$PGMQ_URL" -c "select count(*) from pgmq.q_bench")
t0=$(now_ns)
pgmq_drain "$JOBS"
t1=$(now_ns)
after=$(psql -w -X -tA "$PGMQ_URL" -c "select count(*) from pgmq.q_bench")
pgmq_rate=$(per_s "$(( before - after ))" "$(elapsed_s "$t0" "$t1")")
psql_q "$ADMIN_URL" -c "drop database if exists $PGMQ_DB"

# ------------------------------------------------------------------ figures
ratio() { case "$2" in skipped) echo skipped ;; *) awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }' ;; esac; }
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
printf '%-58s %s\n' "load average before maef's drain" "${LOADS[maef]}"
printf '%-58s %s\n' "load average before the latency run" "${LOADS[latency]}"
printf '%-58s %s\n' "load average before graphile-worker batched's drain" "${LOADS[graphile_batched]}"
printf '%-58s %s\n' "load average before graphile-worker default's drain" "${LOADS[graphile_default]:-skipped}"
printf '%-58s %s\n' "load average before pgmq's drain" "${LOADS[pgmq]}"
