#!/usr/bin/env bash
# The whole test suite (`make test`), with the S3 acceptance and commit
# tests running against a real S3 server (see with-s3.sh for which one).
#
# Packages whose code runs goroutines or shares memory (go statements,
# sync, channels, atomics outside _test.go files) run with -race; the
# others (parsers, encoders, pure logic) run without it, which is several
# times faster and loses nothing: the race detector only reports races in
# code that has concurrency. Both sets run in one `go test` each, packages
# in parallel (go test -p, default GOMAXPROCS). At the end the time of
# every package is printed, slowest first.
#
# Extra arguments go to both `go test` runs (e.g. -run, -short).
set -euo pipefail
cd "$(dirname "$0")/.."

# concurrent reports whether the package in directory $1 has concurrency
# in its non-test code.
concurrent() {
	local files
	files=$(find "$1" -maxdepth 1 -name '*.go' ! -name '*_test.go')
	[[ -n $files ]] && grep -qE 'go func|go [A-Za-z_.]+\(|sync\.|chan |atomic\.' $files
}

# Tests that run the test binary as child processes (crash, power-loss and
# cross-process commit trials) test guarantees across processes, not
# memory races, and -race slows every child several times (tablestore alone
# took 500+ s): they run in the plain pass, with their full trial counts.
readonly multiprocess='^(TestCrash|TestCrashRecovery|TestPowerLoss|TestDirectMultiProcess|TestMultiProcessFS|TestMultiProcessS3|TestCommitCrossProcess)$'

# The Lambda emulator tests run on their own, with -v: their log shows the
# Connect answers of the functions and the cold start measured.
readonly rie=github.com/floedb/floe/functions/rie

race=() plain=()
while IFS=$'\t' read -r pkg dir; do
	if [[ $pkg == "$rie" ]]; then continue; fi
	if concurrent "$dir"; then race+=("$pkg"); else plain+=("$pkg"); fi
done < <(go list -f '{{.ImportPath}}{{"\t"}}{{.Dir}}' ./...)

log=$(mktemp)
cleanup() { rm -f "$log"; }
# S3 as with-s3.sh: the server of FLOE_TEST_S3_* if set, else a versitygw
# started for this run.
if [[ -z ${FLOE_TEST_S3_BUCKET:-} ]]; then
	eval "$(./scripts/s3-up.sh)"
	cleanup() { rm -f "$log"; ./scripts/s3-down.sh; }
fi
trap cleanup EXIT
echo "test: S3 tests use ${FLOE_TEST_S3_ENDPOINT:-AWS} bucket $FLOE_TEST_S3_BUCKET" >&2

status=0
start=$SECONDS
echo "test: go test -race on ${#race[@]} packages with concurrency, plain on ${#plain[@]} without" >&2
go test -race -count=1 -timeout 20m -skip "$multiprocess" "$@" "${race[@]}" 2>&1 | tee -a "$log" || status=1
go test -count=1 -timeout 20m "$@" "${plain[@]}" 2>&1 | tee -a "$log" || status=1
echo "test: the multi-process trials without -race" >&2
go test -count=1 -timeout 20m -run "$multiprocess" "$@" ./lakehouse/wbuf ./lakehouse/tablestore ./lakehouse/objstore ./manifest 2>&1 |
	tee -a "$log" || status=1

echo "test: the Lambda functions under the Runtime Interface Emulator (-v)" >&2
go test -count=1 -timeout 20m -v "$@" "$rie" 2>&1 | tee -a "$log" || status=1

# The heap bound of large segment writes cannot be measured under -race
# (the detector inflates the heap), so that test runs once more without it.
go test -count=1 -run '^TestLargeWriteHeapIsBounded$' -v ./lakehouse/segment | grep -E '^(--- |ok|FAIL)' || status=1

echo
echo "== time per package (slowest first); whole run $((SECONDS - start)) s"
awk '($1 == "ok" || $1 == "FAIL") && $3 ~ /^[0-9.]+s$/ {
	t = $3; sub(/s$/, "", t); pass = seen[$2]++ ? " (multi-process trials, no -race)" : ""
	printf "%9.1f s  %-4s %s%s\n", t, $1, $2, pass }' "$log" | sort -rn
exit $status
