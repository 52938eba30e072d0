#!/usr/bin/env bash
# `make bench`: runs Floe's Go benchmarks (schema registry; manifest commits
# on memory, a local directory and S3 through versitygw; object store
# backends) and rewrites the
# results table in docs/BENCHMARKS.md. COUNT (default 5) runs per benchmark;
# the table shows medians. Compare two runs with benchstat on the raw
# output kept in bench.out.
set -euo pipefail
cd "$(dirname "$0")/.."

count=${COUNT:-5}
./scripts/with-s3.sh go test -run '^$' -bench . -benchmem -count "$count" -timeout 30m \
	./lakehouse/schema ./manifest ./lakehouse/objstore | tee bench.out

go run ./internal/tools/benchdoc -in bench.out -doc docs/BENCHMARKS.md \
	-cmd "make bench (COUNT=$count)" \
	-ratio "schema: uncached build / memoized lookup=ArrowSchema/uncached-build:ArrowSchema/cached" \
	-ratio "schema: uncached build / lookup by table id=ArrowSchema/uncached-build:ArrowSchema/cached-by-id"
