#!/usr/bin/env bash
# Builds bench/uws-fanout/fanout.cpp against uWebSockets 66dcff3 and uSockets 86097c4
# (Apache-2.0), extracted from ../shared/anchors/uwebsockets to a temporary directory, the way
# that directory's build.sh builds the echo example: epoll, no TLS, no compression.
# usage: bench/uws-fanout/build.sh [OUTDIR]   (default: bench/target/uwebsockets; prints the binary path)
# Environment: UWS_ANCHORS=dir holding the two tarballs. Needs g++ >= 10 and make.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
anchors=${UWS_ANCHORS:-"$here/../../../shared/anchors/uwebsockets"}
[[ -f $anchors/uWebSockets-66dcff3.tar.gz ]] || { echo "uWebSockets sources not found in $anchors (set UWS_ANCHORS)" >&2; exit 1; }
out=$(mkdir -p "${1:-$here/../target/uwebsockets}" && cd "${1:-$here/../target/uwebsockets}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar xzf "$anchors/uWebSockets-66dcff3.tar.gz" -C "$work"
tar xzf "$anchors/uSockets-86097c4.tar.gz" -C "$work"
(cd "$work/uSockets" && make -s WITH_OPENSSL=0 >/dev/null)
g++ -std=c++20 -O3 -march=native -flto -DLIBUS_NO_SSL -DUWS_NO_ZLIB \
  -I"$work/uWebSockets/src" -I"$work/uSockets/src" "$here/fanout.cpp" "$work"/uSockets/*.o \
  -o "$out/uws-fanout" -lpthread
echo "$out/uws-fanout"
