#!/usr/bin/env bash
# Prepares this machine for maef, idempotently and quietly:
#   system packages (with Node.js and Chromium for the storefront), cargo-pgrx, a
#   PostgreSQL server, the `maef` login role and database, the extension installed
#   into the server, migrations applied.
#
# Usage: scripts/setup.sh [database-name]     (default: maef)
# Writes the connection settings to .run/env (sourced by the Makefile targets).
#
# Which server: DATABASE_URL if set; else one answering on 127.0.0.1:5432; else the
# local Debian cluster, started (and created) here.
set -euo pipefail

cd "$(dirname "$0")/.."
DB_NAME="${1:-maef}"
PGRX_VERSION=0.18.1
mkdir -p .run

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# ---------------------------------------------------------------- packages
# chromium: the storefront's browser tests (web/e2e, playwright-core drives it; no
# browser is downloaded). Node.js: the storefront's build (web/, Vite), any 18.19+.
PACKAGES=(postgresql-15 postgresql-contrib postgresql-server-dev-15 clang libclang-dev
          pkg-config sudo build-essential libssl-dev wrk curl pgbouncer chromium)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A Node.js already on the PATH (Debian's, NodeSource's, nvm's) is kept when it is
# recent enough; otherwise Debian's (18.19 on Debian 12) with its npm.
node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$node_major" -lt 18 ] || ! command -v npm >/dev/null; then
    missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
    say "installing system packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

command -v cargo >/dev/null || die "cargo is not installed (install Rust with rustup first)"
if ! cargo pgrx --version 2>/dev/null | grep -q "$PGRX_VERSION"; then
    say "installing cargo-pgrx $PGRX_VERSION (about 6 minutes, once)"
    cargo install cargo-pgrx --version "$PGRX_VERSION" --locked --quiet
fi

# ---------------------------------------------------------------- server
superuser_psql() {
    # A superuser session on the chosen server: TCP with trust auth, else the local
    # socket as the postgres OS user.
    if psql -w -h 127.0.0.1 -p 5432 -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1; then
        psql -w -q -h 127.0.0.1 -p 5432 -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"
    else
        as_root runuser -u postgres -- psql -q -d postgres -v ON_ERROR_STOP=1 "$@"
    fi
}

if [ -n "${DATABASE_URL:-}" ]; then
    ADMIN_URL="$(printf '%s' "$DATABASE_URL" | sed -E 's#/[^/?]*(\?.*)?$#/postgres\1#')"
    APP_URL="$(printf '%s' "$DATABASE_URL" | sed -E "s#/[^/?]*(\\?.*)?\$#/${DB_NAME}\\1#")"
    [ "$DB_NAME" = maef ] && APP_URL="$DATABASE_URL"
    psql -w "$ADMIN_URL" -tAc 'select 1' >/dev/null || die "cannot connect with DATABASE_URL"
    if ! psql -w "$ADMIN_URL" -tAc "select 1 from pg_database where datname = '$DB_NAME'" | grep -q 1; then
        psql -w -q "$ADMIN_URL" -c "create database \"$DB_NAME\""
    fi
    SERVER_MAJOR="$(psql -w "$ADMIN_URL" -tAc 'show server_version_num' | cut -c1-2)"
else
    if ! pg_isready -q -h 127.0.0.1 -p 5432; then
        if ! pg_lsclusters -h 2>/dev/null | grep -q '^15 *main'; then
            say "creating the PostgreSQL 15 cluster"
            as_root pg_createcluster 15 main >/dev/null
        fi
        say "starting PostgreSQL 15"
        as_root pg_ctlcluster 15 main start
        for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
        pg_isready -q -h 127.0.0.1 -p 5432 || die "PostgreSQL did not start"
    fi
    # The owner role of maef's databases; CREATEROLE for the request roles created by
    # migrations, CREATEDB for the test databases.
    superuser_psql <<'SQL'
do $$ begin
    if not exists (select from pg_roles where rolname = 'maef') then
        create role maef login password 'maef' createdb createrole;
    end if;
end $$;
SQL
    if ! superuser_psql -tAc "select 1 from pg_database where datname = '$DB_NAME'" | grep -q 1; then
        superuser_psql -c "create database \"$DB_NAME\" owner maef"
    fi
    ADMIN_URL="postgres://maef:maef@127.0.0.1:5432/postgres"
    APP_URL="postgres://maef:maef@127.0.0.1:5432/$DB_NAME"
    SERVER_MAJOR="$(superuser_psql -tAc 'show server_version_num' | cut -c1-2)"
fi

# ---------------------------------------------------------------- extension
PG_CONFIG="/usr/lib/postgresql/$SERVER_MAJOR/bin/pg_config"
if [ ! -x "$PG_CONFIG" ]; then
    say "installing postgresql-server-dev-$SERVER_MAJOR for the server's version"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-server-dev-$SERVER_MAJOR" >/dev/null
fi
if ! grep -q "^pg$SERVER_MAJOR = " "${PGRX_HOME:-$HOME/.pgrx}/config.toml" 2>/dev/null; then
    cargo pgrx init "--pg$SERVER_MAJOR=$PG_CONFIG" >/dev/null
fi
# The extension is always built optimised (the perf profile: release without fat LTO),
# for `make run`, the benchmarks and the tests alike: one build, reused by all, and the
# figures measure what runs. It is packaged, then installed file by file through a
# rename, never by overwriting a file in place: a backend that has the old .so mapped
# keeps it (overwriting a loaded library in place can crash running backends), and an
# unchanged file is not touched at all.
# MAEF_SETUP_SKIP_EXTENSION=1 (benchmarks on a shared server): keep the installed
# extension, so a benchmark never replaces the build another checkout installed.
if [ "${MAEF_SETUP_SKIP_EXTENSION:-0}" = 1 ] && [ -f "$("$PG_CONFIG" --sharedir)/extension/maef.control" ]; then
    say "keeping the installed extension maef (MAEF_SETUP_SKIP_EXTENSION=1)"
else
    FEATURES=()
    [ "$SERVER_MAJOR" = 15 ] || FEATURES=(--no-default-features --features "pg$SERVER_MAJOR")
    PACKAGE_DIR="$(realpath -m "${CARGO_TARGET_DIR:-target}")/pgrx-package/pg$SERVER_MAJOR"
    say "building extension maef (optimised) for PostgreSQL $SERVER_MAJOR"
    (cd extension && cargo pgrx package --profile perf --pg-config "$PG_CONFIG" --out-dir "$PACKAGE_DIR" \
        "${FEATURES[@]}" >../.run/pgrx-install.log 2>&1) \
        || { tail -30 .run/pgrx-install.log >&2; die "extension build failed (log: .run/pgrx-install.log)"; }
    changed=0
    while IFS= read -r -d '' file; do
        dest="/${file#"$PACKAGE_DIR"/}"
        cmp -s "$file" "$dest" && continue
        mode=0644; [[ "$file" == *.so ]] && mode=0755
        as_root install -D -m "$mode" "$file" "$dest.maef-new"
        as_root mv -f "$dest.maef-new" "$dest"
        changed=1
    done < <(find "$PACKAGE_DIR" -type f -print0)
    [ "$changed" = 1 ] && say "installed extension maef into PostgreSQL $SERVER_MAJOR"
fi

# ---------------------------------------------------------------- migrate
# MAEF_PROFILE: `dev` (tests, the default) or `perf` (`make run`, benchmarks).
PROFILE="${MAEF_PROFILE:-dev}"
say "building maef-api, maef-worker and maef-demo ($PROFILE profile)"
cargo build --quiet --profile "$PROFILE" -p maef-api -p maef-worker -p maef-demo
BIN="${CARGO_TARGET_DIR:-target}/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")"
say "migrating database $DB_NAME"
DATABASE_URL="$APP_URL" RUST_LOG=warn "$BIN/maef-api" migrate >/dev/null

cat > .run/env <<EOF
export DATABASE_URL='$APP_URL'
export MAEF_TEST_ADMIN_URL='$ADMIN_URL'
export MAEF_PG_MAJOR='$SERVER_MAJOR'
export MAEF_BIN='$BIN'
EOF
