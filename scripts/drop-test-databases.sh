#!/usr/bin/env bash
# Drops test databases: those of one run (`scripts/drop-test-databases.sh run <id>`) or
# those of runs older than N minutes (`scripts/drop-test-databases.sh older <minutes>`).
# Test databases are named maef_t_<run>_…, maef_tmpl_<run> and maef_fuzz_<run>, with
# run = r<epoch>x<pid> (tests/src/lib.rs). A database still in use by a live run is
# left alone unless it belongs to a run older than an hour (a killed run).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=/dev/null
[ -n "${MAEF_TEST_ADMIN_URL:-}" ] || source .run/env
case "${1:-}" in
    run) condition="run = '${2:?run id}'" ;;
    older) condition="epoch < extract(epoch from now()) - 60 * ${2:?minutes}" ;;
    *) echo "usage: $0 run <id> | older <minutes>" >&2; exit 2 ;;
esac
psql -w -q "$MAEF_TEST_ADMIN_URL" -tAc "
    select datname, epoch < extract(epoch from now()) - 3600 from (
        select datname, substring(datname from '^maef_(?:t|tmpl|fuzz)_r([0-9]+)x') :: bigint as epoch,
               substring(datname from '^maef_(?:t|tmpl|fuzz)_(r[0-9]+x[0-9]+)') as run
        from pg_database) d
    where epoch is not null and ($condition)" -F ' ' |
    while read -r db stale; do
        [ -n "$db" ] || continue
        # A plain drop first: it cancels autovacuum workers, which FORCE may not signal
        # as a non-superuser; FORCE then ends the sessions of a killed run.
        psql -w -q "$MAEF_TEST_ADMIN_URL" -c "drop database if exists \"$db\"" 2>/dev/null ||
            { [ "$stale" = t ] && psql -w -q "$MAEF_TEST_ADMIN_URL" -c "drop database if exists \"$db\" with (force)"; } ||
            true
    done
