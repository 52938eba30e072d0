#!/usr/bin/env bash
# Runs the connect-es example's tests against a fresh Floe server: builds
# bin/floe (unless FLOE_BIN names a binary), starts it on a free loopback port
# with a new data dir and root password, runs `npm ci` when node_modules is
# missing, then `npm test`. Exits with the tests' status; prints the server
# log when anything fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/floe-connect-es.XXXXXX")
log=$tmp/floe.log
pid=""
cleanup() {
  status=$?
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ] && [ -s "$log" ]; then
    echo "--- floe server log ---" >&2
    cat "$log" >&2
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bin=${FLOE_BIN:-}
if [ -z "$bin" ]; then
  (cd "$repo" && go build -o bin/floe ./cmd/floe)
  bin=$repo/bin/floe
fi

# Port 0: the kernel picks a free port, and the server logs the one it got.
export FLOE_ROOT_PASSWORD="example-$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
"$bin" serve --data_dir "$tmp/data" --server.listen 127.0.0.1:0 >"$log" 2>&1 &
pid=$!

addr=""
for _ in $(seq 300); do # up to 60 s
  addr=$(sed -n 's/.*node started.*addr[=":]*\([0-9.]*:[0-9][0-9]*\).*/\1/p' "$log" | head -n1)
  [ -n "$addr" ] && break
  kill -0 "$pid" 2>/dev/null || { echo "run.sh: floe exited before it was ready" >&2; exit 1; }
  sleep 0.2
done
[ -n "$addr" ] || { echo "run.sh: floe not ready after 60 s" >&2; exit 1; }
export FLOE_SERVER="http://$addr"

cd "$here"
if [ ! -d node_modules ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm test --silent
