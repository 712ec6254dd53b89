#!/usr/bin/env bash
# `make fuzz-api`: a property-based fuzz of every operation of the OpenAPI document
# (schemathesis, pinned, in a venv under target/) against the real maef-api binary on
# a fresh database (migrated, demo catalog loaded). Four runs, in this order:
#   anonymous   - no token;
#   customer    - a throw-away customer's token, every operation but erasure;
#   erasure     - that customer erasing itself;
#   admin       - an administrator's token, every operation but the caller's erasure
#                 and password change; hooks.py keeps it from demoting or deactivating
#                 itself (it may deactivate any other user it finds, hence last).
# Checks: no server error, every status, content type, header and body as documented,
# every schema-valid request accepted or refused only for a missing entity, a conflict,
# a permission or throttling (the rules no schema can state are listed, by code, in
# scripts/fuzz-api/hooks.py). Exits non-zero on any failure. docs/api-contract.md has
# the method. FUZZ_EXAMPLES (default 50): test cases per operation and phase;
# FUZZ_SEED: a fixed seed (make test sets one), else a random one (printed).
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
VENV=target/fuzz-venv
EXAMPLES="${FUZZ_EXAMPLES:-50}"

[ -n "${MAEF_TEST_ADMIN_URL:-}" ] || source .run/env  # written by scripts/setup.sh
if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    echo "==> installing schemathesis $SCHEMATHESIS_VERSION into $VENV" >&2
    if ! python3 -c 'import ensurepip, venv' 2> /dev/null; then  # Debian splits venv out
        if [ "$(id -u)" = 0 ]; then apt-get install -y -qq python3-venv > /dev/null; else sudo apt-get install -y -qq python3-venv > /dev/null; fi
    fi
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
cargo build --quiet -p maef-api -p maef-demo  # maef-api demo runs maef-demo

RUN="fuzz_r$(date +%s)x$$"
DB="maef_$RUN"
OUT="target/fuzz-api"
rm -rf "$OUT" && mkdir -p "$OUT"
API_PID=
cleanup() {
    [ -n "$API_PID" ] && kill "$API_PID" 2>/dev/null && wait "$API_PID" 2>/dev/null || true
    psql -w -q "$MAEF_TEST_ADMIN_URL" -c "drop database if exists \"$DB\"" 2>/dev/null ||
        psql -w -q "$MAEF_TEST_ADMIN_URL" -c "drop database if exists \"$DB\" with (force)" || true
}
trap cleanup EXIT

psql -w -q "$MAEF_TEST_ADMIN_URL" -c "create database \"$DB\""
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export DATABASE_URL="${MAEF_TEST_ADMIN_URL%/*}/$DB"
export JWT_SECRET="fuzz-$RUN-fuzz-$RUN-fuzz"
export BIND_ADDR="127.0.0.1:$PORT" ARGON2_MEMORY_KIB=1024 ARGON2_ITERATIONS=1 LOG_FORMAT=json
# /metrics is served only with METRICS_TOKEN set (404 otherwise): set it so the fuzz
# checks its bearer rule (no or a wrong token → 401) like every other protected route.
export METRICS_TOKEN="fuzz-metrics-$RUN-metrics"
# Sign-ins and resets are throttled per client address; the fuzz is one client.
export RATE_LIMIT_PER_CLIENT=100000 RATE_LIMIT_PER_ACCOUNT=100000
target/debug/maef-api migrate > "$OUT/setup.log"
target/debug/maef-api demo >> "$OUT/setup.log"
ADMIN_EMAIL="fuzz-admin@example.com" ADMIN_PASSWORD="fuzz-admin-password-$RUN"
MAEF_ADMIN_PASSWORD="$ADMIN_PASSWORD" target/debug/maef-api create-admin --email "$ADMIN_EMAIL" >> "$OUT/setup.log"
target/debug/maef-api serve > "$OUT/api.log" 2>&1 &
API_PID=$!
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 100); do curl -sf "$BASE/readyz" > /dev/null && break; sleep 0.1; done
curl -sf "$BASE/readyz" > /dev/null

json_field() { python3 -c "import json, sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }
login() {
    curl -sf -H 'Content-Type: application/json' \
        -d "{\"email\": \"$1\", \"password\": \"$2\"}" "$BASE/api/v1/auth/login" | json_field access_token
}
ADMIN_TOKEN=$(login "$ADMIN_EMAIL" "$ADMIN_PASSWORD")
ADMIN_ID=$(curl -sf -H "Authorization: Bearer $ADMIN_TOKEN" "$BASE/api/v1/users/me" | json_field id)
CUSTOMER_EMAIL="fuzz-customer@example.com" CUSTOMER_PASSWORD="fuzz-customer-password-$RUN"
curl -sf -H 'Content-Type: application/json' \
    -d "{\"email\": \"$CUSTOMER_EMAIL\", \"password\": \"$CUSTOMER_PASSWORD\"}" "$BASE/api/v1/auth/register" > /dev/null
CUSTOMER_TOKEN=$(login "$CUSTOMER_EMAIL" "$CUSTOMER_PASSWORD")

# The user the administrator's run changes (roles, is_active, groups): not the customer,
# whose run needs it active.
VICTIM_ID=$(curl -sf -H 'Content-Type: application/json' \
    -d "{\"email\": \"fuzz-other@example.com\", \"password\": \"$CUSTOMER_PASSWORD\"}" \
    "$BASE/api/v1/auth/register" | json_field id)

# Ids of existing rows, for hooks.py to use in half the path parameters.
ids() { psql -w -qAt "$DATABASE_URL" -c "select coalesce(json_agg(v), '[]') from ($1) q(v)"; }
FUZZ_KNOWN_IDS=$(python3 -c 'import json, sys; print(json.dumps(json.loads(sys.argv[1])))' "{
  \"/api/v1/products/{slug}\": {\"slug\": $(ids "select slug from shop.product limit 20")},
  \"/api/v1/admin/products/{id}\": {\"id\": $(ids "select product_id from shop.product limit 20")},
  \"/api/v1/admin/products/{id}/variants\": {\"id\": $(ids "select product_id from shop.product limit 20")},
  \"/api/v1/admin/products/{id}/media/{asset_id}\": {\"id\": $(ids "select product_id from shop.product limit 20"),
      \"asset_id\": $(ids "select asset_id from shop.media_asset limit 20")},
  \"/api/v1/admin/variants/{id}\": {\"id\": $(ids "select variant_id from shop.product_variant limit 20")},
  \"/api/v1/admin/variants/{id}/price-tiers\": {\"id\": $(ids "select variant_id from shop.product_variant limit 20")},
  \"/api/v1/admin/prices/{id}\": {\"id\": $(ids "select price_id from shop.price limit 20")},
  \"/api/v1/admin/categories/{id}\": {\"id\": $(ids "select category_id from shop.category")},
  \"/api/v1/admin/tags/{id}\": {\"id\": $(ids "select tag_id from shop.tag limit 20")},
  \"/api/v1/media/{asset_id}\": {\"asset_id\": $(ids "select asset_id from shop.media_asset limit 20")},
  \"/api/v1/media/{asset_id}/derivatives\": {\"asset_id\": $(ids "select asset_id from shop.media_asset limit 20")},
  \"/api/v1/admin/promotions/{id}\": {\"id\": $(ids "select promotion_id from shop.promotion")},
  \"/api/v1/admin/promotions/{id}/coupons\": {\"id\": $(ids "select promotion_id from shop.promotion")},
  \"/api/v1/admin/coupons/{id}\": {\"id\": $(ids "select coupon_id from shop.coupon")},
  \"/api/v1/admin/tax-rates/{id}\": {\"id\": $(ids "select tax_rate_id from shop.tax_rate")},
  \"/api/v1/admin/shipping-rates/{id}\": {\"id\": $(ids "select shipping_rate_id from shop.shipping_rate")},
  \"/api/v1/admin/price-tiers/{id}\": {\"id\": $(ids "select price_tier_id from shop.price_tier")},
  \"/api/v1/admin/customer-groups/{id}\": {\"id\": $(ids "select customer_group_id from shop.customer_group")},
  \"/api/v1/admin/customer-groups/{id}/members/{user_id}\": {
      \"id\": $(ids "select customer_group_id from shop.customer_group"), \"user_id\": [\"$VICTIM_ID\"]},
  \"/api/v1/admin/users/{id}\": {\"id\": [\"$VICTIM_ID\"]},
  \"/api/v1/admin/shipping-methods/{id}\": {\"id\": $(ids "select shipping_method_id from shop.shipping_method")},
  \"/api/v1/admin/stock-locations/{id}\": {\"id\": $(ids "select stock_location_id from shop.stock_location")},
  \"/api/v1/admin/variants/{id}/stock\": {\"id\": $(ids "select variant_id from shop.product_variant limit 20")},
  \"/api/v1/admin/variants/{id}/stock-adjustments\": {\"id\": $(ids "select variant_id from shop.product_variant limit 20")},
  \"/api/v1/orders/{number}\": {\"number\": $(ids "select order_number from shop.customer_order")},
  \"/api/v1/admin/orders/{number}\": {\"number\": $(ids "select order_number from shop.customer_order")},
  \"/api/v1/admin/orders/{number}/notes\": {\"number\": $(ids "select order_number from shop.customer_order")},
  \"/api/v1/admin/orders/{number}/cancel\": {\"number\": $(ids "select order_number from shop.customer_order")},
  \"/api/v1/admin/orders/{number}/shipments\": {\"number\": $(ids "select order_number from shop.customer_order")},
  \"/api/v1/admin/orders/{number}/cancellations\": {\"number\": $(ids "select order_number from shop.customer_order")},
  \"/api/v1/orders/{number}/cancel\": {\"number\": $(ids "select order_number from shop.customer_order")},
  \"/api/v1/orders/{number}/returns\": {\"number\": $(ids "select order_number from shop.customer_order")},
  \"/api/v1/orders/{number}/invoice\": {\"number\": $(ids "select order_number from shop.customer_order")},
  \"/api/v1/orders/{number}/documents\": {\"number\": $(ids "select order_number from shop.customer_order")},
  \"/api/v1/admin/shipments/{id}\": {\"id\": $(ids "select shipment_id from shop.shipment")},
  \"/api/v1/admin/shipments/{id}/status\": {\"id\": $(ids "select shipment_id from shop.shipment")},
  \"/api/v1/admin/returns/{id}\": {\"id\": $(ids "select return_id from shop.order_return")},
  \"/api/v1/admin/carriers/{code}\": {\"code\": $(ids "select code from shop.carrier")},
  \"/api/v1/webhooks/carrier/{carrier}\": {\"carrier\": $(ids "select code from shop.carrier")}
}")
export FUZZ_KNOWN_IDS
export PYTHONPATH="scripts/fuzz-api" SCHEMATHESIS_HOOKS=hooks
export FUZZ_PROTECTED_USER_ID="$ADMIN_ID" FUZZ_VICTIM_ID="$VICTIM_ID"
export FUZZ_ACCEPTED_LOG="$OUT/accepted-422.jsonl"
status=0
fuzz() { # $1: run name; then extra schemathesis arguments
    local name=$1
    shift
    echo "==> fuzz ($name)" >&2
    "$VENV/bin/schemathesis" --config-file scripts/fuzz-api/schemathesis.toml run "$BASE/api/v1/openapi.json" \
        --max-examples "$EXAMPLES" --checks all --exclude-checks negative_data_rejection --workers 2 --no-color --generation-database none \
        --report ndjson --report-ndjson-path "$OUT/$name.ndjson" ${FUZZ_SEED:+--seed "$FUZZ_SEED"} "$@" \
        > "$OUT/$name.txt" 2>&1 || status=1
    sed -n '/= SUMMARY =/,$p' "$OUT/$name.txt" >&2
}
fuzz anonymous
fuzz customer -H "Authorization: Bearer $CUSTOMER_TOKEN" --exclude-name "DELETE /api/v1/users/me"
# Then the customer erases itself (its token answers 401 from then on).
fuzz erasure -H "Authorization: Bearer $CUSTOMER_TOKEN" --include-name "DELETE /api/v1/users/me"
# Last, as it may deactivate or demote any user it finds but itself.
fuzz admin -H "Authorization: Bearer $ADMIN_TOKEN" \
    --exclude-name "DELETE /api/v1/users/me" --exclude-name "POST /api/v1/users/me/password"

echo "==> 422s to schema-valid requests accepted as rules no schema can state (scripts/fuzz-api/hooks.py)" >&2
if [ -s "$FUZZ_ACCEPTED_LOG" ]; then
    python3 -c 'import collections, json, sys
counts = collections.Counter(json.loads(l)["rule"] for l in open(sys.argv[1]))
for rule, n in counts.most_common(): print(f"{n:6}  {rule}")' "$FUZZ_ACCEPTED_LOG" >&2
else
    echo "     none" >&2
fi
if grep -q '"level": *"ERROR"\|"level":"ERROR"' "$OUT/api.log"; then
    echo "==> maef-api logged errors (see $OUT/api.log):" >&2
    grep '"level": *"ERROR"\|"level":"ERROR"' "$OUT/api.log" | head -20 >&2
    status=1
fi
echo "fuzz-api: $([ $status = 0 ] && echo passed || echo FAILED) (reports in $OUT/)" >&2
exit $status
