#!/usr/bin/env bash
# Starts a local S3-compatible server (versitygw, posix backend) for Floe's
# tests and prints the environment that points the tests at it:
#
#   eval "$(scripts/s3-up.sh)"
#   go test ./...
#   scripts/s3-down.sh     # also from a new shell: see below
#
# Every gateway it starts is recorded in FLOE_S3_REGISTRY (default
# .floe-s3/ in the checkout, git-ignored) as <port>.env, holding the
# exports below; scripts/s3-down.sh stops the one of FLOE_S3_PID_FILE, or
# without it (a new shell) every gateway recorded there.
#
# stdout carries only `export NAME=value` lines; progress goes to stderr.
# Knobs (environment):
#   FLOE_S3_PORT     port on 127.0.0.1 (default 7070, or the next free one)
#   FLOE_S3_DIR      state directory (data, log, pid) on a filesystem with
#                    user xattrs (default: a new temporary directory)
#   FLOE_S3_BUCKET   bucket name to export (default floe-test); the tests
#                    create it on first use
#   VERSITYGW        versitygw binary (default $(go env GOPATH)/bin/versitygw,
#                    installed with `go install` if missing)
set -euo pipefail

readonly versitygw_version=v1.8.0
readonly access_key=floe-test-access
readonly secret_key=floe-test-secret-key
readonly bucket=${FLOE_S3_BUCKET:-floe-test}
registry=${FLOE_S3_REGISTRY:-$(cd "$(dirname "$0")/.." && pwd)/.floe-s3}

log() { echo "s3-up: $*" >&2; }

bin=${VERSITYGW:-$(go env GOPATH)/bin/versitygw}
if [[ ! -x $bin ]]; then
	log "installing versitygw $versitygw_version into $(dirname "$bin")"
	GOBIN=$(dirname "$bin") go install "github.com/versity/versitygw/cmd/versitygw@$versitygw_version" >&2
fi

# port_busy reports whether something accepts connections on the port.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if [[ -n ${FLOE_S3_PORT:-} ]]; then
	port=$FLOE_S3_PORT
	if port_busy "$port"; then
		log "port $port (FLOE_S3_PORT) is in use"
		exit 1
	fi
else
	port=7070
	while port_busy "$port"; do
		port=$((port + 1))
		if ((port > 7170)); then
			log "no free port in 7070-7170"
			exit 1
		fi
	done
fi

# start launches the gateway on $state in the background, detached from
# our stdout so that `eval "$(...)"` does not wait for it.
start() {
	mkdir -p "$state/data"
	logfile=$state/versitygw.log
	pidfile=$state/versitygw.pid
	nohup "$bin" --port "127.0.0.1:$port" --access "$access_key" --secret "$secret_key" \
		--region us-east-1 --keep-alive --quiet \
		posix "$state/data" </dev/null >"$logfile" 2>&1 &
	echo $! >"$pidfile"
}

# wait_ready waits until the gateway answers HTTP; it fails if the gateway
# exits or stays silent for 10s.
wait_ready() {
	local pid
	pid=$(cat "$pidfile")
	for _ in $(seq 1 200); do
		if ! kill -0 "$pid" 2>/dev/null; then
			return 1
		fi
		if command -v curl >/dev/null; then
			# Any HTTP status (403 for an anonymous request) means it serves.
			[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/" || true) != 000 ]] && return 0
		elif port_busy "$port"; then
			return 0
		fi
		sleep 0.05
	done
	log "versitygw did not answer on port $port within 10s; see $logfile"
	kill "$pid" 2>/dev/null || true
	return 1
}

# Object metadata, the ETag that conditional puts compare included, must
# live in user xattrs: versitygw refuses to start on a filesystem without
# them. Its alternative, --sidecar metadata, is NOT safe for Floe: the
# sidecar ETag is published before the data, so a GET can return an old
# body with the new ETag, and If-Match read-modify-write loses updates.
# So look for a directory with xattrs instead.
if [[ -n ${FLOE_S3_DIR:-} ]]; then
	parents=("")
else
	parents=("${TMPDIR:-/tmp}" /tmp /var/tmp /dev/shm "${HOME:-/root}")
fi
started=
tried=()
for parent in "${parents[@]}"; do
	if [[ -z $parent ]]; then
		state=$FLOE_S3_DIR
	elif [[ -d $parent && -w $parent ]]; then
		state=$(mktemp -d "$parent/floe-s3.XXXXXX")
	else
		continue
	fi
	tried+=("$state")
	start
	if wait_ready; then
		started=1
		break
	fi
	if ! grep -q xattr "$logfile"; then
		log "versitygw exited; log:"
		cat "$logfile" >&2
		exit 1
	fi
	log "no user xattrs under $state; trying elsewhere"
	[[ -z $parent ]] || rm -rf "$state"
done
if [[ -z $started ]]; then
	log "no directory with user xattrs among: ${tried[*]}; set FLOE_S3_DIR to one"
	exit 1
fi
log "versitygw serving $state/data on 127.0.0.1:$port (pid $(cat "$pidfile"), log $logfile)"

env_lines() {
	cat <<ENV
export FLOE_TEST_S3_BUCKET=$bucket
export FLOE_TEST_S3_ENDPOINT=http://127.0.0.1:$port
export FLOE_TEST_S3_REGION=us-east-1
export FLOE_TEST_S3_ACCESS_KEY=$access_key
export FLOE_TEST_S3_SECRET_KEY=$secret_key
export FLOE_TEST_S3_PATH_STYLE=true
export FLOE_S3_DIR=$state
export FLOE_S3_PID_FILE=$pidfile
ENV
}
mkdir -p "$registry"
env_lines >"$registry/$port.env"
env_lines
