#!/usr/bin/env bash
# The whole test suite (`make test`): go test -race over every package, with
# the S3 acceptance and commit tests running against a real S3 server (see
# with-s3.sh for which one).
set -euo pipefail
cd "$(dirname "$0")/.."
exec ./scripts/with-s3.sh go test -race -count=1 -timeout 20m "$@" ./...
