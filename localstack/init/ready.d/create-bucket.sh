#!/bin/sh
# LocalStack ready hook: create the bucket the integration suite uses
# (idempotent: an existing bucket is kept).
set -eu
bucket=${FLOE_TEST_BUCKET:-floe-test}
awslocal s3api head-bucket --bucket "$bucket" 2>/dev/null || awslocal s3api create-bucket --bucket "$bucket" >/dev/null
echo "floe: bucket $bucket ready"
