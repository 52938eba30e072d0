#!/usr/bin/env bash
# `make bench`: runs Floe's Go benchmarks (schema registry; manifest commits
# on memory, a local directory and S3 through versitygw; object store
# backends; write buffer; segments; flush, direct commits (and 16 direct
# writers on one partition, with and without turns), compaction and the
# merged scan against DuckDB on the same files; the SQL executor: point
# SELECT (fast path and DuckDB path), single-row and 1000-row INSERT,
# GROUP BY over 1M rows vs DuckDB on the same files, system vs shared
# table, system table initialisation, a view vs the same query written
# out; the API over loopback: single-row INSERT and PK SELECT latency,
# 16 concurrent users; live queries: fan-out, idle subscription memory,
# ramp of 100k subscriptions, hot table with 10k subscribers, insert →
# notification latency and subscribe with a 1000-row initial load over
# loopback) and rewrites the
# results table in docs/BENCHMARKS.md. COUNT (default 5) runs per benchmark;
# the table shows medians. Compare two runs with benchstat on the raw
# output kept in bench.out.
set -euo pipefail
cd "$(dirname "$0")/.."

count=${COUNT:-5}
./scripts/with-s3.sh go test -run '^$' -bench . -benchmem -count "$count" -timeout 30m \
	./lakehouse/schema ./manifest ./lakehouse/objstore ./lakehouse/wbuf ./lakehouse/segment \
	./lakehouse/tablestore ./lakehouse/tablestore/duckdbbench ./lakehouse/sqlexec ./server/api ./livequery | tee bench.out
# Live queries over loopback (the server package's other benchmarks are
# startup timings, run on their own).
go test -run '^$' -bench '^BenchmarkLive' -benchmem -count "$count" -timeout 30m ./server | tee -a bench.out

go run ./internal/tools/benchdoc -in bench.out -doc docs/BENCHMARKS.md \
	-cmd "make bench (COUNT=$count)" \
	-ratio "schema: uncached build / memoized lookup=ArrowSchema/uncached-build:ArrowSchema/cached" \
	-ratio "schema: uncached build / lookup by table id=ArrowSchema/uncached-build:ArrowSchema/cached-by-id" \
	-ratio "scan 200k/20 segments: Floe merged / DuckDB merged (same files)=Scan200k/floe-merged:Scan200k/duckdb-merged" \
	-ratio "scan 200k/20 segments: Floe merged / DuckDB raw read_parquet=Scan200k/floe-merged:Scan200k/duckdb-raw" \
	-ratio "GROUP BY 1M rows: DuckDB direct / Floe SQL (goal: at least 0.8)=GroupBy1M/duckdb-direct:GroupBy1M/floe" \
	-ratio "system.jobs / shared table of equal size (goal: at most 1.05)=SystemVsShared/system_jobs:SystemVsShared/jobs_like" \
	-ratio "GROUP BY 1M rows: through a view / written out (goal: at most 1.01, required 1.05)=View/groupby/view:View/groupby/direct" \
	-ratio "point lookup: through a view / written out (fixed cost of one view)=View/point/view:View/point/direct" \
	-ratio "point SELECT by primary key: DuckDB path / point-read fast path=PointSelect/duckdb:PointSelect/fast" \
	-ratio "lookup in a flushed 100k-row segment: decoded / indexed=LookupFlushed/unindexed:LookupFlushed/indexed" \
	-ratio "INSERT of 1 row inside a flushed key range / outside (goal: at most 1.2)=InsertIntoFlushedRange/rows=1:InsertOneRow/params" \
	-ratio "GROUP BY 1M rows: after one UPDATE / before (goal: at most 1.1)=GroupBy1M/floe-after-update:GroupBy1M/floe" \
	-ratio "GROUP BY 1M rows: after one UPDATE, flushed / before (goal: at most 1.1)=GroupBy1M/floe-after-update-flushed:GroupBy1M/floe" \
	-ratio "count(*) over 1M rows: after one UPDATE / before (goal: at most 1.1)=Scan1M/count/floe-after-update:Scan1M/count/floe" \
	-ratio "non-key filter over 1M rows: after one UPDATE / before (goal: at most 1.1)=Scan1M/non-key/floe-after-update:Scan1M/non-key/floe" \
	-ratio "INSERT with a timestamp literal / without (goal: at most 1.5)=InsertTimestampLiteral/timestamp:InsertTimestampLiteral/none" \
	-ratio "count(*) over 1M rows: Floe / DuckDB read_parquet (goal: at most 1.1)=Scan1M/count/floe:Scan1M/count/duckdb-direct" \
	-ratio "non-key filter over 1M rows: Floe / DuckDB read_parquet (goal: at most 1.1)=Scan1M/non-key/floe:Scan1M/non-key/duckdb-direct"
