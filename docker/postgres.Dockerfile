# syntax=docker/dockerfile:1
# PostgreSQL 16 with the maef extension (pgrx) installed. Build context: the repo root.
#   docker build -f docker/postgres.Dockerfile -t maef-postgres .

# ---- build: compile and package the extension against PGDG's PostgreSQL 16 headers ----
FROM rust:1.95-bookworm AS build

# PGDG apt repository (the same packages the official postgres image is built from), so
# pg_config reports the same lib/share paths as the runtime image below.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl gnupg \
 && install -d /usr/share/postgresql-common/pgdg \
 && curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc \
      https://www.postgresql.org/media/keys/ACCC4CF8.asc \
 && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \
      > /etc/apt/sources.list.d/pgdg.list \
 && apt-get update \
 && apt-get install -y --no-install-recommends \
      postgresql-server-dev-16 clang libclang-dev pkg-config libssl-dev \
 && rm -rf /var/lib/apt/lists/*
# clang/libclang-dev: bindgen in pgrx-pg-sys. libssl-dev: cargo-pgrx itself links OpenSSL
# (ureq's native-tls feature).

# Before COPY . so this slow layer survives source changes. The registry cache mount
# only speeds up re-downloads; it is never part of the image.
RUN --mount=type=cache,id=maef-pg-cargo-registry,target=/usr/local/cargo/registry \
    cargo install cargo-pgrx --version 0.18.1 --locked
# Registers the system PostgreSQL 16 in ~/.pgrx/config.toml (downloads nothing).
RUN cargo pgrx init --pg16=/usr/lib/postgresql/16/bin/pg_config

WORKDIR /build
# The whole workspace: cargo needs every member's manifest (see .dockerignore).
COPY . .
# `package` defaults to --release. --out-dir pins the output away from target/; under it
# pgrx mirrors pg_config's absolute paths:
#   /pkg/usr/lib/postgresql/16/lib/maef.so                       (pkglibdir)
#   /pkg/usr/share/postgresql/16/extension/maef.control, maef--<version>.sql
# No cache mount on target/: every image is a clean, reproducible build.
RUN --mount=type=cache,id=maef-pg-cargo-registry,target=/usr/local/cargo/registry \
    cargo pgrx package -p maef \
      --pg-config /usr/lib/postgresql/16/bin/pg_config \
      --no-default-features --features pg16 \
      --out-dir /pkg

# ---- runtime: the official image (includes contrib: btree_gist, pg_trgm, unaccent) ----
FROM postgres:16-bookworm
# Explicit source paths: if pg_config's layout ever differed, the build fails here
# instead of producing an image without the extension.
COPY --from=build /pkg/usr/lib/postgresql/16/lib/ /usr/lib/postgresql/16/lib/
COPY --from=build /pkg/usr/share/postgresql/16/extension/ /usr/share/postgresql/16/extension/
# CREATE EXTENSION maef is done by `maef-api migrate`, not by an init script.
# Streaming replication (docker/compose.yaml): a primary initialised with
# REPLICATION_PASSWORD gets the `replicator` role and its pg_hba line; a container
# started with the replica entrypoint clones its primary (pg_basebackup) on first start.
COPY --chmod=0755 docker/initdb/replication.sh /docker-entrypoint-initdb.d/10-replication.sh
COPY --chmod=0755 docker/replica-entrypoint.sh /usr/local/bin/maef-replica-entrypoint
