#!/usr/bin/env bash
# Builds the hub demo page that `switchboard serve` serves at / into web/dist:
# npm ci in web/ (the centrifuge SDK, pinned in web/package-lock.json), then
# copies web/src/index.html and web/src/*.{js,css} plus the SDK's own browser
# build (node_modules/centrifuge/dist/centrifuge.js) into web/dist (gitignored).
# No bundler: the page is plain JS using the SDK's global `Centrifuge`.
#
# Needs node and npm (scripts/install-deps.sh installs them and runs this).
# Idempotent: npm ci runs only when web/package-lock.json changed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WEB="$ROOT/web"
DIST="$WEB/dist"
STAMP="$WEB/node_modules/.installed-lock"

log() { printf 'build-web: %s\n' "$*"; }

command -v npm >/dev/null || { log "npm not found: install node and npm (scripts/install-deps.sh as root)" >&2; exit 1; }

if [[ -f "$WEB/node_modules/centrifuge/dist/centrifuge.js" ]] && cmp -s "$WEB/package-lock.json" "$STAMP"; then
    log "present: centrifuge $(node -p "require('$WEB/node_modules/centrifuge/package.json').version")"
else
    log "npm ci in $WEB"
    # --ignore-scripts: the page only needs the SDK's prebuilt browser file.
    (cd "$WEB" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    cp "$WEB/package-lock.json" "$STAMP"
fi

# Built into a temporary directory and moved into place, so that a running
# server never serves a half-copied tree.
STAGE="$(mktemp -d "$WEB/.dist.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/assets"
cp "$WEB/src/index.html" "$STAGE/index.html"
cp "$WEB/src/app.js" "$WEB/src/style.css" "$STAGE/assets/"
cp "$WEB/node_modules/centrifuge/dist/centrifuge.js" "$WEB/node_modules/centrifuge/dist/centrifuge.js.map" "$STAGE/assets/"
chmod -R a+rX "$STAGE"
rm -rf "$DIST"
mv "$STAGE" "$DIST"
trap - EXIT
log "built $DIST (centrifuge $(node -p "require('$WEB/node_modules/centrifuge/package.json').version"))"
