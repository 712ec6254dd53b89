#!/bin/bash
# Runs once, when the primary's data directory is first initialised (the official
# image runs /docker-entrypoint-initdb.d/*): a role for the streaming replica and the
# pg_hba line that lets it connect for replication. The replica (db-replica in
# compose.yaml) clones the primary with pg_basebackup as that role.
# Without REPLICATION_PASSWORD (a primary with no replica) it does nothing.
set -euo pipefail
if [ -z "${REPLICATION_PASSWORD:-}" ]; then
    exit 0
fi
psql -v ON_ERROR_STOP=1 -v password="$REPLICATION_PASSWORD" \
     --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
create role replicator with replication login password :'password';
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
