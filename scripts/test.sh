#!/usr/bin/env bash
# The full test suite: lint gates, unit/integration/property tests (including
# interop against real third-party peers and real proxies), and the strict
# Autobahn|Testsuite gate in both roles.
#
# Environment:
#   SWITCHBOARD_SKIP_INSTALL=1   do not run scripts/install-deps.sh first
#   SWITCHBOARD_SKIP_AUTOBAHN=1  skip the Autobahn gate (prints that it skipped)
#   AUTOBAHN_CASES / AUTOBAHN_EXCLUDE   passed to scripts/autobahn.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

if [ "${SWITCHBOARD_SKIP_INSTALL:-0}" != 1 ]; then
    if [ "$(id -u)" = 0 ]; then
        ./scripts/install-deps.sh
    else
        echo "test.sh: not root, not installing test peers; run 'sudo scripts/install-deps.sh' once" >&2
    fi
fi

step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy (all targets, warnings denied)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
step "cargo doc (warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features --locked
step "cargo test"
cargo test --workspace --all-features --locked --no-fail-fast

if [ "${SWITCHBOARD_SKIP_AUTOBAHN:-0}" = 1 ]; then
    step "Autobahn gate SKIPPED (SWITCHBOARD_SKIP_AUTOBAHN=1)"
else
    step "Autobahn|Testsuite gate (strict, both roles)"
    ./scripts/autobahn.sh
fi
