#!/usr/bin/env bash
# with-s3.sh CMD [ARGS...]: runs CMD with the FLOE_TEST_S3_* variables set.
#
# If FLOE_TEST_S3_BUCKET is already set (LocalStack, MinIO, AWS, or a
# versitygw started with `make s3-up`), that server is used as is.
# Otherwise versitygw is started on loopback (installed on first use) for
# the duration of CMD and stopped afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z ${FLOE_TEST_S3_BUCKET:-} ]]; then
	eval "$(./scripts/s3-up.sh)"
	trap ./scripts/s3-down.sh EXIT
fi
echo "with-s3: S3 tests use ${FLOE_TEST_S3_ENDPOINT:-AWS} bucket $FLOE_TEST_S3_BUCKET" >&2
"$@"
