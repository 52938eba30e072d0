#!/usr/bin/env bash
# Waits until LocalStack's init hook has created the test bucket (make
# localstack-up calls it after `docker compose up --wait`).
set -euo pipefail
endpoint=${FLOE_TEST_S3_ENDPOINT:-http://127.0.0.1:4566}
bucket=${FLOE_TEST_S3_BUCKET:-floe-test}
for _ in $(seq 1 120); do
	# 200: the bucket exists (LocalStack accepts anonymous requests).
	if [[ $(curl -s -o /dev/null -w '%{http_code}' -I "$endpoint/$bucket" || true) == 200 ]]; then
		echo "localstack: bucket $bucket ready at $endpoint"
		exit 0
	fi
	sleep 0.5
done
echo "localstack: bucket $bucket not ready at $endpoint after 60s; see: docker compose -f localstack/docker-compose.yml logs" >&2
exit 1
