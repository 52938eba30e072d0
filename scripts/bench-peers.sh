#!/usr/bin/env bash
# `make bench-peers`: runs the same workloads against Floe (a real `floe
# serve` over loopback Connect), PostgreSQL (pgx) and DuckDB (read_parquet
# on Floe's own segment files) in one run, interleaved, and rewrites the
# peers section of docs/BENCHMARKS.md. Not part of CI.
#
# PostgreSQL comes from the Debian archive (apt-get install postgresql) when
# its binaries are missing. A throw-away cluster is created in a temporary
# directory and started on loopback with fsync and synchronous_commit on;
# PostgreSQL refuses to run as root, so under root the cluster belongs to
# the `postgres` system user. ROUNDS (default 3) rounds per workload; the
# tables show medians. PEERS_ARGS passes extra flags to the Go program
# (bench/peers, built with -tags peers).
set -euo pipefail
cd "$(dirname "$0")/.."

pgbin=""
find_pg() {
	pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
}
find_pg
if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then
	echo "bench-peers: installing PostgreSQL from the Debian archive" >&2
	if [ "$(id -u)" -eq 0 ]; then
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
	else
		sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
	fi
	find_pg
fi

tmp=$(mktemp -d /tmp/floe-peers.XXXXXX)
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
	chown postgres "$tmp"
	as_pg=(runuser -u postgres --)
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 55432)

cleanup() {
	"${as_pg[@]}" "$pgbin/pg_ctl" -D "$tmp/pg" -m fast -w stop >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

"${as_pg[@]}" "$pgbin/initdb" -D "$tmp/pg" -U bench -A trust -E UTF8 --no-instructions >/dev/null
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$tmp/pg" -l "$tmp/pg.log" -w start \
	-o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$tmp -c fsync=on -c synchronous_commit=on -c full_page_writes=on" >/dev/null
pgver=$("$pgbin/postgres" --version)

go build -o "$tmp/floe" ./cmd/floe
go run -tags peers ./bench/peers \
	-floe "$tmp/floe" -pg "postgres://bench@127.0.0.1:$port/postgres?sslmode=disable" \
	-pg-version "$pgver" -rounds "${ROUNDS:-3}" -doc docs/BENCHMARKS.md ${PEERS_ARGS:-} | tee bench-peers.out
