#!/bin/sh
# Writes PgBouncer's auth file from the environment, then runs it in the foreground.
set -eu
: "${PGBOUNCER_USER:?set PGBOUNCER_USER}"
: "${PGBOUNCER_PASSWORD:?set PGBOUNCER_PASSWORD}"
umask 077
printf '"%s" "%s"\n' "$PGBOUNCER_USER" "$PGBOUNCER_PASSWORD" > /etc/pgbouncer/run/userlist.txt
exec pgbouncer /etc/pgbouncer/pgbouncer.ini
