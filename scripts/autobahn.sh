#!/usr/bin/env bash
# The Autobahn|Testsuite gate: runs the public conformance suite against
# Switchboard's echo server (fuzzingclient) and client (fuzzingserver), in
# parallel, strict: every case must be OK or INFORMATIONAL.
#
#   scripts/autobahn.sh                 # all 517 cases, both roles
#   AUTOBAHN_CASES='1.*,2.*' scripts/autobahn.sh
#   AUTOBAHN_EXCLUDE='12.*,13.*' scripts/autobahn.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS=${AUTOBAHN_TOOLS:-$ROOT/../shared/tools/autobahn}
[ -x "$TOOLS/run-server-suite.sh" ] || { echo "autobahn: $TOOLS not found; set AUTOBAHN_TOOLS to shared/tools/autobahn" >&2; exit 2; }
CASES=${AUTOBAHN_CASES:-*}
EXCLUDE=${AUTOBAHN_EXCLUDE:-}
OUT=${AUTOBAHN_OUTDIR:-$ROOT/autobahn-reports}
SERVER_PORT=${AUTOBAHN_SERVER_PORT:-9002}
CLIENT_PORT=${AUTOBAHN_CLIENT_PORT:-9011}
export AUTOBAHN_STRICT=1

"$TOOLS/setup.sh" >/dev/null
cargo build --release --locked -p switchboard --example autobahn-server --example autobahn-client
BIN=$ROOT/target/release/examples

xargs_exclude=()
[ -n "$EXCLUDE" ] && xargs_exclude=(-x "$EXCLUDE")

"$BIN/autobahn-server" "$SERVER_PORT" >"$OUT.server.log" 2>&1 &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    (exec 3<>/dev/tcp/127.0.0.1/$SERVER_PORT) 2>/dev/null && break
    sleep 0.1
done

mkdir -p "$OUT"
set +e
"$TOOLS/run-server-suite.sh" "${xargs_exclude[@]}" -o "$OUT/servers" "$SERVER_PORT" "$CASES" switchboard \
    >"$OUT/server-suite.log" 2>&1 &
srv_suite=$!
"$TOOLS/run-client-suite.sh" "${xargs_exclude[@]}" -o "$OUT/clients" -p "$CLIENT_PORT" -a switchboard \
    ${CASES:+"$CASES"} -- "$BIN/autobahn-client" >"$OUT/client-suite.log" 2>&1 &
cli_suite=$!
wait $srv_suite; srv_rc=$?
wait $cli_suite; cli_rc=$?
set -e

echo "== Autobahn server role (fuzzingclient)"; tail -n 25 "$OUT/server-suite.log"
echo "== Autobahn client role (fuzzingserver)"; tail -n 25 "$OUT/client-suite.log"
if [ $srv_rc -ne 0 ] || [ $cli_rc -ne 0 ]; then
    echo "autobahn: FAILED (server role exit $srv_rc, client role exit $cli_rc); reports in $OUT" >&2
    exit 1
fi
echo "autobahn: every case OK or INFORMATIONAL in both roles"
