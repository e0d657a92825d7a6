#!/usr/bin/env bash
# Installs the third-party peers that the interop tests drive (see interop/README.md):
#   Debian: ca-certificates chromium nginx haproxy caddy tinyproxy microsocks dante-server redis-server jq
#           nats-server mosquitto (bench/fanout.sh and crates/cli/tests/bench_pubsub.rs)
#   PyPI:   websockets, centrifuge-python (pinned in interop/python/requirements.txt) into interop/.venv
#   npm:    ws, playwright-core, centrifuge (pinned in interop/package-lock.json) into interop/node_modules
#   web:    the hub demo page into web/dist (scripts/build-web.sh: centrifuge pinned in web/package-lock.json)
#
# Run as root on Debian 12 (bookworm). Idempotent: when everything is present it
# only checks and prints "present" lines (about a second). It never starts a
# service (tests start their own nginx/haproxy/... on loopback) and never downloads
# a browser (playwright-core drives Debian's /usr/bin/chromium).
#
# Environment: PYTHON (default: python3 on PATH) chooses the interpreter for the venv.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
INTEROP="$ROOT/interop"
VENV="$INTEROP/.venv"
APT_PACKAGES=(ca-certificates chromium nginx haproxy caddy tinyproxy microsocks dante-server redis-server jq nats-server mosquitto)

log() { printf 'install-deps: %s\n' "$*"; }

if [[ $EUID -ne 0 ]]; then
    log "must run as root (apt-get install); re-run with sudo" >&2
    exit 1
fi

# ---------------------------------------------------------------- Debian packages
APT_UPDATED=0
apt_update_once() {
    if [[ $APT_UPDATED -eq 0 ]]; then
        log "apt-get update"
        apt-get update -qq
        APT_UPDATED=1
    fi
}

is_installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

apt_install() {
    # Keep apt's postinst scripts from starting nginx/redis/haproxy/... : tests
    # own those processes and need their ports free. Docker images already ship a
    # policy-rc.d that denies starts; elsewhere we add one just for this install.
    local added_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        added_policy=1
    fi
    apt_update_once
    log "apt-get install $*"
    local rc=0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" || rc=$?
    if [[ $added_policy -eq 1 ]]; then rm -f /usr/sbin/policy-rc.d; fi
    return $rc
}

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    if is_installed "$pkg"; then log "present: $pkg (apt)"; else missing+=("$pkg"); fi
done
if ((${#missing[@]})); then apt_install "${missing[@]}"; fi
for pkg in "${APT_PACKAGES[@]}"; do
    is_installed "$pkg" || { log "FAILED to install $pkg" >&2; exit 1; }
done
[[ -x /usr/bin/chromium ]] || { log "/usr/bin/chromium missing after install" >&2; exit 1; }

# ------------------------------------------------------------- toolchains (python, node)
PYTHON="${PYTHON:-$(command -v python3 || true)}"
if [[ -z "$PYTHON" ]]; then
    apt_install python3 python3-venv
    PYTHON=/usr/bin/python3
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    apt_install nodejs npm
fi

# ---------------------------------------------------------------- Python venv
REQS="$INTEROP/python/requirements.txt"
STAMP_PY="$VENV/.installed-requirements"
if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import websockets, centrifuge' 2>/dev/null \
    && cmp -s "$REQS" "$STAMP_PY"; then
    log "present: $("$VENV/bin/python" -c 'import websockets; print("websockets", websockets.__version__)') (pip, $VENV)"
else
    # A venv whose interpreter vanished (pyenv upgrade, copied tree) is rebuilt whole.
    if [[ -d "$VENV" ]] && ! "$VENV/bin/python" -c '' 2>/dev/null; then
        log "rebuilding broken venv $VENV"
        rm -rf "$VENV"
    fi
    if [[ ! -x "$VENV/bin/python" ]]; then
        log "python venv $VENV (from $PYTHON)"
        if ! "$PYTHON" -m venv "$VENV"; then
            rm -rf "$VENV"
            apt_install python3-venv
            "$PYTHON" -m venv "$VENV"
        fi
    fi
    log "pip install -r $REQS"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQS"
    cp "$REQS" "$STAMP_PY"
    log "installed: $("$VENV/bin/python" -c 'import websockets; print("websockets", websockets.__version__)')"
fi

# ---------------------------------------------------------------- Node packages
LOCK="$INTEROP/package-lock.json"
STAMP_NODE="$INTEROP/node_modules/.installed-lock"
if [[ -d "$INTEROP/node_modules/ws" && -d "$INTEROP/node_modules/playwright-core" && -d "$INTEROP/node_modules/centrifuge" ]] \
    && cmp -s "$LOCK" "$STAMP_NODE"; then
    log "present: ws, playwright-core (npm, $INTEROP/node_modules)"
else
    log "npm ci (ws, playwright-core) in $INTEROP"
    # playwright-core never downloads browsers, the variable makes that explicit.
    (cd "$INTEROP" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
    cp "$LOCK" "$STAMP_NODE"
    log "installed: ws $(node -p "require('$INTEROP/node_modules/ws/package.json').version"), playwright-core $(node -p "require('$INTEROP/node_modules/playwright-core/package.json').version")"
fi

# ---------------------------------------------------------------- the hub demo page
# web/dist (served at / by switchboard serve): npm ci in web/ and copy the page
# and the centrifuge SDK's browser build; crates/cli/tests/hub_browser.rs needs it.
"$ROOT/scripts/build-web.sh"

log "done"
