#!/usr/bin/env bash
# Stops the versitygw that scripts/s3-up.sh started (FLOE_S3_PID_FILE) and
# removes its state directory.
set -euo pipefail
pidfile=${FLOE_S3_PID_FILE:-}
if [[ -z $pidfile || ! -f $pidfile ]]; then
	echo "s3-down: FLOE_S3_PID_FILE is not set or missing; nothing to stop" >&2
	exit 0
fi
pid=$(cat "$pidfile")
kill "$pid" 2>/dev/null || true
for _ in $(seq 1 100); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.05
done
kill -9 "$pid" 2>/dev/null || true
if [[ -n ${FLOE_S3_DIR:-} && $FLOE_S3_DIR == */floe-s3.* ]]; then
	rm -rf "$FLOE_S3_DIR"
fi
