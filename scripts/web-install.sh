#!/usr/bin/env bash
# Installs the storefront's npm packages (web/node_modules) exactly as the lockfile
# says, and only when the lockfile changed since the last install: `npm ci` takes
# about 20 s, a no-op check none. Install scripts are off (web/.npmrc): nothing runs
# at install time, and nothing downloads a browser (the tests use Debian's chromium).
set -euo pipefail
cd "$(dirname "$0")/../web"
STAMP=node_modules/.maef-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
    echo "==> storefront: npm ci (web/package-lock.json changed)" >&2
    npm ci --no-audit --no-fund --loglevel=error
    echo "$want" > "$STAMP"
fi
