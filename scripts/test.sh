#!/usr/bin/env bash
# The whole test suite (`make test`): go test -race over every package, with
# the S3 acceptance and commit tests running against a real S3 server (see
# with-s3.sh for which one).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/with-s3.sh go test -race -count=1 -timeout 20m "$@" ./...

# The heap bound of large segment writes cannot be measured under -race
# (the detector inflates the heap), so that test runs once more without it.
go test -count=1 -run '^TestLargeWriteHeapIsBounded$' -v ./lakehouse/segment | grep -E '^(--- |ok|FAIL)'

