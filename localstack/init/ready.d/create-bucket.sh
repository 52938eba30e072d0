#!/bin/sh
# LocalStack ready hook: create the bucket the integration suite uses.
set -eu
awslocal s3api create-bucket --bucket "${FLOE_TEST_BUCKET:-floe-test}" >/dev/null
echo "floe: bucket ${FLOE_TEST_BUCKET:-floe-test} ready"
