#!/usr/bin/env bash
# `make bench-media`: media figures, in one run on this machine:
#   * download MB/s of a 10 MiB asset (bytea) through maef-api at 1 and 16 connections,
#     against nginx (Debian nginx-light, sendfile) serving the same bytes from disk
#     (goal >= 0.5x nginx): once through maef-api's chunk cache (MEDIA_CACHE_BYTES, the
#     default; the counterpart of nginx's page cache), once through a second maef-api
#     with the cache off (MEDIA_CACHE_BYTES=0: every byte read from PostgreSQL);
#   * 100 concurrent slow readers (64 KiB/s each, curl --limit-rate) on the cache-off
#     instance, so every chunk is a database read: maef-api RSS and active database
#     connections sampled every second (goal: flat);
#   * upload MB/s of 50 MiB files (large-object path) and 10 MiB files (bytea path);
#   * thumbnails per second on 12-megapixel JPEGs: maef's derivative code (one image
#     per core, as the worker runs it) against `vipsthumbnail -s 320` (Debian
#     libvips-tools) on the same files (goal >= 0.5x).
# Options (environment): BENCH_SECONDS (10), BENCH_PORT (18092), BENCH_NGINX_PORT
# (18093), BENCH_NOCACHE_PORT (18094), BENCH_PHOTOS (8), BENCH_SLOW_READERS (100), BENCH_SETUP (1; 0 skips
# scripts/setup.sh when the machine is set up already).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${BENCH_SECONDS:-10}"
PORT="${BENCH_PORT:-18092}"
NGINX_PORT="${BENCH_NGINX_PORT:-18093}"
NOCACHE_PORT="${BENCH_NOCACHE_PORT:-18094}"
PHOTOS="${BENCH_PHOTOS:-8}"
READERS="${BENCH_SLOW_READERS:-100}"
DB=maef_bench_media
DIR="$PWD/.run/bench-media"
mkdir -p "$DIR/www" "$DIR/photos" "$DIR/uploads"

# Uploads sign in often from one address: lift the rate limits (store policies the
# migration writes into the database).
export RATE_LIMIT_PER_ACCOUNT=100000 RATE_LIMIT_PER_CLIENT=1000000
[ "${BENCH_SETUP:-1}" = 0 ] || MAEF_PROFILE=perf scripts/setup.sh "$DB"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
# shellcheck source=/dev/null
source .run/env
URL="$(printf '%s' "$MAEF_TEST_ADMIN_URL" | sed -E "s#/[^/?]*\$#/$DB#")"
psql -w "$MAEF_TEST_ADMIN_URL" -tAc "select 1 from pg_database where datname = '$DB'" | grep -q 1 ||
    psql -w -q "$MAEF_TEST_ADMIN_URL" -c "create database $DB"

missing=()
command -v nginx >/dev/null || missing+=(nginx-light)
command -v vipsthumbnail >/dev/null || missing+=(libvips-tools)
command -v wrk >/dev/null || missing+=(wrk)
if [ ${#missing[@]} -gt 0 ]; then
    echo "==> installing ${missing[*]} (benchmark only)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

echo "==> building maef-api, maef-worker and the thumbnail benchmark (perf profile)" >&2
cargo build --quiet --profile perf -p maef-api -p maef-worker
cargo build --quiet --profile perf -p maef-media --example thumbs
BIN="${CARGO_TARGET_DIR:-target}/perf"
DATABASE_URL="$URL" RUST_LOG=warn "$BIN/maef-api" migrate >/dev/null

# ---------------------------------------------------------------- servers
export DATABASE_URL="$URL" JWT_SECRET="bench-secret-bench-secret-bench-secret" RUST_LOG=warn
export BIND_ADDR="127.0.0.1:$PORT" DB_POOL_SIZE=16 MEDIA_QUOTA_BYTES=100000000000 MEDIA_MAX_UPLOADS=8
"$BIN/maef-api" serve &
API_CACHED=$!
BIND_ADDR="127.0.0.1:$NOCACHE_PORT" MEDIA_CACHE_BYTES=0 "$BIN/maef-api" serve &
API=$!
cat > "$DIR/nginx.conf" <<NGINX
worker_processes 2;
daemon off;
pid $DIR/nginx.pid;
error_log $DIR/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    server { listen 127.0.0.1:$NGINX_PORT; root $DIR/www; }
}
NGINX
nginx -p "$DIR" -c "$DIR/nginx.conf" &
NGINX_PID=$!
trap 'kill -TERM $API $API_CACHED $NGINX_PID 2>/dev/null; wait $API $API_CACHED $NGINX_PID 2>/dev/null || true' EXIT
for port in "$PORT" "$NOCACHE_PORT"; do
    until curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
        kill -0 $API 2>/dev/null && kill -0 $API_CACHED 2>/dev/null || { echo "maef-api died" >&2; exit 1; }
        sleep 0.05
    done
done
BASE="http://127.0.0.1:$PORT"
NOCACHE="http://127.0.0.1:$NOCACHE_PORT"

EMAIL="bench-$(date +%s)@example.com" PASSWORD="bench correct horse battery"
curl -fs -o /dev/null -H 'Content-Type: application/json' \
    -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" "$BASE/api/v1/auth/register"
psql -w -q "$URL" -c "insert into shop.user_role (user_id, role_id) select u.user_id, r.role_id
    from shop.app_user u, shop.role r where u.email = '$EMAIL' and r.name = 'manager'"
TOKEN=$(curl -fs -H 'Content-Type: application/json' -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" \
    "$BASE/api/v1/auth/login" | sed -E 's/.*"access_token":"([^"]+)".*/\1/')

# A file that sniffs as MP4: an ftyp box, then random bytes (incompressible, like video).
make_video() { # $1 path, $2 bytes
    { printf '\0\0\0\030ftypisom\0\0\002\0isomiso2'; head -c $(( $2 - 24 )) /dev/urandom; } > "$1"
}
upload() { # $1 path → prints "seconds url"
    curl -fs -o "$DIR/upload.json" -w '%{time_total}' -H "Authorization: Bearer $TOKEN" \
        -F "file=@$1;type=application/octet-stream" "$BASE/api/v1/media/upload"
    printf ' %s\n' "$(sed -E 's/.*"url": ?"([^"]+)".*/\1/' "$DIR/upload.json")"
}
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", b / 1048576 / s }'; }

# ---------------------------------------------------------------- download
make_video "$DIR/www/ten.mp4" $((10 << 20))
read -r _ TEN_URL < <(upload "$DIR/www/ten.mp4")
for base in "$BASE" "$NOCACHE"; do
    cmp -s <(curl -fs "$base$TEN_URL") "$DIR/www/ten.mp4" || { echo "downloaded bytes differ ($base)" >&2; exit 1; }
done
# wrk's "Transfer/sec: 1.23GB" → MB/s
wrk_mbps() { # $1 connections, $2 url
    local threads=$(( $1 < 2 ? 1 : 2 ))
    wrk -t"$threads" -c"$1" -d"${SECS}s" "$2" > "$DIR/wrk.txt"
    local bad; bad=$(awk '/Non-2xx/ {print $NF}' "$DIR/wrk.txt")
    [ -z "$bad" ] || { echo "wrk saw $bad non-2xx responses on $2" >&2; exit 1; }
    awk '/^Transfer\/sec/ { v=$2; u=v; sub(/[0-9.]+/, "", u); sub(/[A-Za-z]+$/, "", v);
         f = (u=="GB") ? 1024 : (u=="MB") ? 1 : (u=="KB") ? 1/1024 : 1/1048576; printf "%.0f", v*f }' "$DIR/wrk.txt"
}
echo "==> download: 10 MiB, ${SECS}s per run" >&2
maef_1=$(wrk_mbps 1 "$BASE$TEN_URL");   nginx_1=$(wrk_mbps 1 "http://127.0.0.1:$NGINX_PORT/ten.mp4")
maef_16=$(wrk_mbps 16 "$BASE$TEN_URL"); nginx_16=$(wrk_mbps 16 "http://127.0.0.1:$NGINX_PORT/ten.mp4")
db_1=$(wrk_mbps 1 "$NOCACHE$TEN_URL");   db_16=$(wrk_mbps 16 "$NOCACHE$TEN_URL")

# ---------------------------------------------------------------- slow readers
echo "==> $READERS slow readers at 64 KiB/s for 20 s" >&2
rss() { awk '/^VmRSS/ {print $2}' "/proc/$API/status"; }
rss_before=$(rss)
# Each reader's outcome: curl exits 28 when --max-time ends a transfer still going (the
# expected end: 10 MiB take 160 s at 64 KiB/s); 18 or 56 would mean the server cut it.
rm -f "$DIR/readers.txt"
for _ in $(seq "$READERS"); do
    { rc=0; got=$(curl -s -o /dev/null -w '%{size_download}' --limit-rate 64k --max-time 20 "$NOCACHE$TEN_URL") || rc=$?
      echo "$got $rc" >> "$DIR/readers.txt"; } &  # one write per reader: lines stay whole
done
rss_max=0 active_max=0 backends_max=0 rss_series=""
for t in $(seq 18); do
    sleep 1
    r=$(rss); [ "$r" -gt "$rss_max" ] && rss_max=$r
    case $t in 3|6|9|12|15|18) rss_series="$rss_series ${t}s:$((r / 1024))MB" ;; esac
    read -r active backends < <(psql -w -tA -F' ' "$MAEF_TEST_ADMIN_URL" -c "
        select count(*) filter (where state = 'active'), count(*) from pg_stat_activity
        where datname = '$DB' and backend_type = 'client backend'")
    [ "$active" -gt "$active_max" ] && active_max=$active
    [ "$backends" -gt "$backends_max" ] && backends_max=$backends
done
wait_readers() { while [ "$(jobs -rp | grep -vcE "^($API|$API_CACHED|$NGINX_PID)\$")" -gt 0 ]; do sleep 0.5; done; }
wait_readers
rss_after=$(rss)
readers_ok=$(awk '$2 == 28 || $2 == 0' "$DIR/readers.txt" | wc -l)
readers_mb=$(awk '{ t += $1 } END { printf "%.1f", t / NR / 1048576 }' "$DIR/readers.txt")

# ---------------------------------------------------------------- upload
echo "==> upload: 3 x 50 MiB (large object), 3 x 10 MiB (bytea)" >&2
upload_rate() { # $1 bytes → MB/s over 3 distinct files
    local total=0
    for i in 1 2 3; do
        make_video "$DIR/uploads/u$i.mp4" "$1"
        read -r secs _ < <(upload "$DIR/uploads/u$i.mp4")
        total=$(awk -v a="$total" -v b="$secs" 'BEGIN { print a + b }')
    done
    mbps $(( 3 * $1 )) "$total"
}
up_50=$(upload_rate $((50 << 20)))
up_10=$(upload_rate $((10 << 20)))

# ---------------------------------------------------------------- thumbnails
echo "==> thumbnails: $PHOTOS 12-megapixel JPEGs" >&2
"$BIN/examples/thumbs" generate "$DIR/photos" "$PHOTOS"
CORES=$(nproc)
read -r _ maef_thumbs < <("$BIN/examples/thumbs" run "$DIR/photos" "$CORES" | grep thumb_only)
read -r _ maef_all < <("$BIN/examples/thumbs" run "$DIR/photos" "$CORES" | grep all_three)
mkdir -p "$DIR/vips"
start=$(date +%s%N)
vipsthumbnail -s 320 -o "$DIR/vips/%s.jpg" "$DIR"/photos/photo-*.jpg
vips_secs=$(awk -v ns=$(( $(date +%s%N) - start )) 'BEGIN { print ns / 1e9 }')
vips_thumbs=$(awk -v n="$PHOTOS" -v s="$vips_secs" 'BEGIN { printf "%.2f", n / s }')

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }
cat <<EOF

media benchmark ($(nproc) cores; maef-api, PostgreSQL, nginx and the clients on one machine)
  load average before: ${LOAD_BEFORE}
  GET 10 MiB, 1 connection:    maef ${maef_1} MB/s   nginx ${nginx_1} MB/s   ratio $(ratio "$maef_1" "$nginx_1") (goal >= 0.5)
  GET 10 MiB, 16 connections:  maef ${maef_16} MB/s   nginx ${nginx_16} MB/s   ratio $(ratio "$maef_16" "$nginx_16") (goal >= 0.5)
      (maef-api's chunk cache, MEDIA_CACHE_BYTES; each request still asks api.media_info)
  the same, cache off (MEDIA_CACHE_BYTES=0, every byte read from PostgreSQL):
      1 connection ${db_1} MB/s (ratio $(ratio "$db_1" "$nginx_1")), 16 connections ${db_16} MB/s (ratio $(ratio "$db_16" "$nginx_16"))
  ${READERS} slow readers (64 KiB/s, 20 s, cache off): maef-api RSS before $((rss_before / 1024)) MB, during${rss_series}
      (max $((rss_max / 1024)) MB), after $((rss_after / 1024)) MB; its database connections: at most ${backends_max} open,
      ${active_max} running a statement at a sample (none is held between chunks); ${readers_ok} of ${READERS}
      readers still receiving at the end (none cut off), ${readers_mb} MiB each on average (the kernel's
      socket buffers take megabytes before --limit-rate's reads pace the transfer)
  upload: 50 MiB files ${up_50} MB/s (large object), 10 MiB files ${up_10} MB/s (bytea)
  thumbnails, 12 MP JPEG: maef ${maef_thumbs}/s (thumb only, ${CORES} threads), ${maef_all}/s (thumb+medium+webp);
      vipsthumbnail ${vips_thumbs}/s; ratio $(ratio "$maef_thumbs" "$vips_thumbs") (goal >= 0.5)
EOF
