#!/usr/bin/env bash
# A local primary and its streaming replica, on their own ports in a directory of their
# own, for tests/tests/replica.rs and for trying DATABASE_READ_URL by hand. It never
# touches the shared cluster on 5432: the pair is a new cluster (initdb) whose replica
# is made with pg_basebackup, both from the Debian PostgreSQL binaries, whose extension
# directory already holds `maef` (installed server-wide), so `maef-api migrate` works
# on the primary as on any cluster.
#
#   scripts/replica.sh start DIR PRIMARY_PORT REPLICA_PORT   make and start the pair
#   scripts/replica.sh stop-replica DIR                        stop the replica only
#   scripts/replica.sh start-replica DIR                       start it again
#   scripts/replica.sh stop DIR                                stop both, remove DIR
#   scripts/replica.sh test [CARGO TEST ARGS]                  a pair of its own as the test
#       server, the read routes of every TestApp on its replica: HTTP suites run against
#       the replica pool, e.g. `scripts/replica.sh test -p maef-tests --test search`
#
# Choose ports below the kernel's ephemeral range (32768 and up on Linux): a port in it
# may be taken by an outgoing connection's source port (the replica's own connection
# to the primary, for one) just before the replica binds it.
#
# Both listen on 127.0.0.1 only. Role `maef` (password `maef`, CREATEDB CREATEROLE,
# like scripts/setup.sh makes it, plus pg_monitor to read the replication lag and, in
# every database made from template1, the right to pause the replay) owns
# what the tests create; `postgres` connects over DIR's socket without a password.
# Run as root (the servers then run as `postgres`) or as postgres.
set -euo pipefail

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"

die() { echo "replica.sh: $*" >&2; exit 1; }

# Runs a command as the postgres user (the servers refuse to run as root).
as_postgres() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start_server() { # DATA_DIR LOG
    as_postgres "$PG_BIN/pg_ctl" -D "$1" -l "$2" -w -t 60 start >/dev/null \
        || { tail -20 "$2" >&2; die "could not start $1"; }
}

stop_server() { # DATA_DIR
    if [ -f "$1/postmaster.pid" ]; then
        as_postgres "$PG_BIN/pg_ctl" -D "$1" -m fast -w -t 60 stop >/dev/null || true
    fi
}

cmd="${1:-}"
dir="${2:-}"
if [ "$cmd" = test ]; then
    # Ports below the ephemeral range, free on 127.0.0.1.
    port=$((20000 + RANDOM % 9000))
    while (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null || (echo >"/dev/tcp/127.0.0.1/$((port + 1))") 2>/dev/null; do
        port=$((20000 + RANDOM % 9000))
    done
    pair="$(mktemp -d /tmp/maef-replica-test.XXXXXX)"
    rmdir "$pair"
    trap '"$0" stop "$pair"' EXIT
    "$0" start "$pair" "$port" "$((port + 1))" >/dev/null
    cd "$(dirname "$0")/.."
    shift
    # The pair is the test server for this run (its template and databases die with it).
    MAEF_TEST_ADMIN_URL="postgres://maef:maef@127.0.0.1:$port/postgres" \
    MAEF_TEST_REPLICA_URL="postgres://maef:maef@127.0.0.1:$((port + 1))/postgres" \
    MAEF_CONTRACT="${MAEF_CONTRACT:-strict}" \
        cargo test "$@"
    exit
fi

[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: $0 start|stop|stop-replica|start-replica DIR [PRIMARY_PORT REPLICA_PORT] | test [CARGO TEST ARGS]"

case "$cmd" in
start)
    primary_port="${3:?primary port}"
    replica_port="${4:?replica port}"
    [ ! -e "$dir/primary" ] || die "$dir already holds a pair (stop it first)"
    mkdir -p "$dir"
    [ "$(id -u)" != 0 ] || chown postgres: "$dir"
    chmod 700 "$dir"
    # The shared cluster's settings that change results: UTF-8, C.UTF-8 collation, UTC.
    as_postgres "$PG_BIN/initdb" -D "$dir/primary" -U postgres -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    cat >>"$dir/primary/postgresql.conf" <<CONF
# scripts/replica.sh
listen_addresses = '127.0.0.1'
port = $primary_port
unix_socket_directories = '$dir'
max_connections = 80
shared_buffers = 64MB
timezone = 'UTC'
wal_level = replica
max_wal_senders = 4
wal_keep_size = 256MB
hot_standby = on
# Long reads on the replica hold back vacuum on the primary instead of being cancelled
# by recovery conflicts.
hot_standby_feedback = on
# Calls of api.* functions per server (pg_stat_user_functions): shows which server
# answered what.
track_functions = pl
# A throw-away cluster: durability is not the point, and the disk is shared.
fsync = off
full_page_writes = off
CONF
    # Written whole: the first matching line wins, and initdb's own lines would ask the
    # base backup for a password.
    cat >"$dir/primary/pg_hba.conf" <<HBA
local all         all                   trust
host  replication postgres 127.0.0.1/32 trust
host  all         all      127.0.0.1/32 scram-sha-256
HBA
    start_server "$dir/primary" "$dir/primary.log"
    as_postgres "$PG_BIN/psql" -w -X -q -h "$dir" -p "$primary_port" -U postgres -d postgres -v ON_ERROR_STOP=1 <<'SQL'
create role maef login password 'maef' createdb createrole;
grant pg_monitor to maef;
SQL
    # Tests pause the replica's replay to hold it behind the primary on purpose. Function
    # privileges live in each database: granted in template1, every new one has them.
    as_postgres "$PG_BIN/psql" -w -X -q -h "$dir" -p "$primary_port" -U postgres -d template1 -v ON_ERROR_STOP=1 <<'SQL'
grant execute on function pg_wal_replay_pause(), pg_wal_replay_resume(), pg_is_wal_replay_paused() to maef;
SQL
    # The replica: a base backup streaming the WAL, with standby.signal and
    # primary_conninfo written by -R.
    as_postgres "$PG_BIN/pg_basebackup" -w -h 127.0.0.1 -p "$primary_port" -U postgres \
        -D "$dir/replica" -R -X stream -c fast >/dev/null
    echo "port = $replica_port" | as_postgres tee -a "$dir/replica/postgresql.auto.conf" >/dev/null
    start_server "$dir/replica" "$dir/replica.log"
    echo "primary=postgres://maef:maef@127.0.0.1:$primary_port"
    echo "replica=postgres://maef:maef@127.0.0.1:$replica_port"
    ;;
stop-replica)
    stop_server "$dir/replica"
    ;;
start-replica)
    start_server "$dir/replica" "$dir/replica.log"
    ;;
stop)
    stop_server "$dir/replica"
    stop_server "$dir/primary"
    case "$dir" in
    /tmp/* | "${TMPDIR:-/tmp}"/*) rm -rf "$dir" ;;
    *) echo "replica.sh: left $dir in place (not under a temporary directory)" >&2 ;;
    esac
    ;;
*)
    die "unknown command $cmd"
    ;;
esac
