# syntax=docker/dockerfile:1
# PgBouncer in transaction pooling mode in front of maef's PostgreSQL, from Debian 12's
# own package (1.18, the version docs/operations.md#pgbouncer and tests/tests/pgbouncer.rs
# use: maef-api runs behind it with DB_PREPARED_STATEMENTS=off). Build context: the
# repo root.
#   docker build -f docker/pgbouncer.Dockerfile -t maef-pgbouncer .
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends pgbouncer \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o postgres -g postgres /etc/pgbouncer/run
COPY docker/pgbouncer/pgbouncer.ini /etc/pgbouncer/pgbouncer.ini
COPY docker/pgbouncer/entrypoint.sh /usr/local/bin/pgbouncer-entrypoint
# The Debian package's own system user (its uid is given at install, so by name);
# pgbouncer refuses to run as root.
# hadolint ignore=DL3066
USER postgres
EXPOSE 6432
ENTRYPOINT ["/usr/local/bin/pgbouncer-entrypoint"]
