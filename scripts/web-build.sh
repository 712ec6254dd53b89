#!/usr/bin/env bash
# Builds the storefront into web/dist for `make run`, once: again only when its
# sources, its lockfile or the API's OpenAPI document changed (a stamp of their
# hashes is kept in web/dist). `npm ci` runs only when the lockfile changed
# (scripts/web-install.sh). The types are regenerated from the binary's document
# first, so a route change reaches the build (the tests check the committed file).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${MAEF_BIN:-target/debug}"
scripts/web-install.sh
stamp="$( { "$BIN/maef-api" openapi; cat web/package-lock.json web/index.html web/vite.config.ts web/tsconfig.json;
            find web/src web/public web/scripts -type f -print0 | sort -z | xargs -0 cat; } | sha256sum | cut -d' ' -f1)"
if [ "$(cat web/dist/.maef-build.sha256 2>/dev/null)" = "$stamp" ]; then
    exit 0
fi
echo "==> building the storefront (web/dist)" >&2
(cd web && MAEF_BIN="$BIN" npm run --silent gen:api > /dev/null && npm run --silent build > ../.run/web-build.log 2>&1) \
    || { tail -30 .run/web-build.log >&2; echo "storefront build failed (log: .run/web-build.log)" >&2; exit 1; }
echo "$stamp" > web/dist/.maef-build.sha256
