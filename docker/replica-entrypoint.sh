#!/bin/bash
# The streaming replica of docker/compose.yaml: on first start (empty data directory)
# clones the primary with pg_basebackup -R (which writes standby.signal and
# primary_conninfo), then runs the image's usual entrypoint, which finds the data
# directory initialised and starts the server as a hot standby.
set -euo pipefail
: "${PRIMARY_HOST:?set PRIMARY_HOST}"
: "${REPLICATION_PASSWORD:?set REPLICATION_PASSWORD}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    export PGPASSWORD="$REPLICATION_PASSWORD"
    until pg_basebackup -h "$PRIMARY_HOST" -U replicator -D "$PGDATA" -R -X stream -c fast; do
        echo "replica: the primary is not ready for a base backup yet; retrying" >&2
        rm -rf "${PGDATA:?}"/*
        sleep 2
    done
    chmod 0700 "$PGDATA"
fi
exec docker-entrypoint.sh "$@"
