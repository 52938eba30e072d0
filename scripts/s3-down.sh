#!/usr/bin/env bash
# Stops a versitygw that scripts/s3-up.sh started and removes its state
# directory: the one of FLOE_S3_PID_FILE when it is set (the shell that ran
# `eval "$(make -s s3-up)"`), otherwise every gateway s3-up recorded in
# FLOE_S3_REGISTRY (default .floe-s3/ in the checkout), so that
# `make s3-down` works from a new shell too.
set -euo pipefail
registry=${FLOE_S3_REGISTRY:-$(cd "$(dirname "$0")/.." && pwd)/.floe-s3}

# stop_one PIDFILE STATEDIR: stops the gateway and removes its state.
stop_one() {
	local pidfile=$1 state=$2 pid
	if [[ -f $pidfile ]]; then
		pid=$(cat "$pidfile")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		kill -9 "$pid" 2>/dev/null || true
		echo "s3-down: stopped versitygw (pid $pid)" >&2
	fi
	if [[ -n $state && $state == */floe-s3.* ]]; then
		rm -rf "$state"
	fi
	# Forget the registry entry of this gateway.
	if [[ -d $registry ]]; then
		grep -lxF "export FLOE_S3_PID_FILE=$pidfile" "$registry"/*.env 2>/dev/null | xargs -r rm -f
	fi
}

if [[ -n ${FLOE_S3_PID_FILE:-} ]]; then
	stop_one "$FLOE_S3_PID_FILE" "${FLOE_S3_DIR:-}"
	exit 0
fi
shopt -s nullglob
entries=("$registry"/*.env)
if ((${#entries[@]} == 0)); then
	echo "s3-down: no versitygw recorded in $registry; nothing to stop" >&2
	exit 0
fi
for e in "${entries[@]}"; do
	pidfile=$(sed -n 's/^export FLOE_S3_PID_FILE=//p' "$e")
	state=$(sed -n 's/^export FLOE_S3_DIR=//p' "$e")
	stop_one "$pidfile" "$state"
	rm -f "$e"
done
