# Floe — make targets. `make help` lists them.
SHELL := /bin/bash
GO    ?= go
GOBIN := $(shell $(GO) env GOPATH)/bin

# Pinned tool versions, installed with `go install` (the module proxy is the
# only registry needed).
STATICCHECK_PKG := honnef.co/go/tools/cmd/staticcheck@v0.8.2
VERSITYGW_PKG   := github.com/versity/versitygw/cmd/versitygw@v1.8.0
RIE_PKG         := github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d

FUZZTIME ?= 30s

.PHONY: help run build test test-unit bench bench-peers lint fmt tools tools-gen generate generate-check \
        example-ts fuzz reliability s3-up s3-down localstack-up localstack-test localstack-down deploy clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

run: build ## start a Floe node with embedded defaults (data in ./floe-data)
	./bin/floe serve

build: ## build bin/floe
	$(GO) build -o bin/floe ./cmd/floe

# The Lambda functions (functions/README.md "Packaging"): one fully static
# binary each (glibc, libstdc++ and DuckDB linked in, so it runs on
# provided.al2023 whatever its glibc), for the host's architecture. The
# linker warns that DuckDB's dlopen (extensions), getpwuid and getaddrinfo
# (its HTTP client) need glibc's shared libraries at run time: Floe never
# calls those paths (extensions and external access are off).
LAMBDA_FUNCTIONS := query maintenance
LAMBDA_TAGS      := lambda.norpc netgo osusergo
LAMBDA_LDFLAGS   := -s -w -linkmode external -extldflags '-static'

.PHONY: build-lambda
build-lambda: ## build build/lambda/<function>/bootstrap (static, provided.al2023) and build/lambda/<function>.zip for query and maintenance
	@set -e; for fn in $(LAMBDA_FUNCTIONS); do \
	  mkdir -p build/lambda/$$fn; \
	  echo "build-lambda: $$fn"; \
	  CGO_ENABLED=1 $(GO) build -trimpath -tags '$(LAMBDA_TAGS)' -ldflags "$(LAMBDA_LDFLAGS)" \
	    -o build/lambda/$$fn/bootstrap ./functions/$$fn; \
	  rm -f build/lambda/$$fn.zip; (cd build/lambda/$$fn && zip -q -9 ../$$fn.zip bootstrap); \
	done; ls -l build/lambda/*/bootstrap build/lambda/*.zip

test: ## the whole test suite (-race on packages with concurrency, plain elsewhere; time per package at the end), S3 tests against versitygw (or FLOE_TEST_S3_* if set)
	./scripts/test.sh

test-unit: ## the test suite without an S3 server (S3 tests skip)
	$(GO) test -race -count=1 ./...

bench: ## run the benchmarks and rewrite the table in docs/BENCHMARKS.md
	./scripts/bench.sh

bench-peers: ## Floe vs PostgreSQL (installed from Debian if missing) and DuckDB, same workloads; rewrites the peers table in docs/BENCHMARKS.md
	./scripts/bench-peers.sh

lint: ## gofmt, go vet, staticcheck, go mod tidy check
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@test -x $(GOBIN)/staticcheck || $(GO) install $(STATICCHECK_PKG)
	$(GOBIN)/staticcheck ./...
	$(GO) mod tidy -diff

fmt: ## gofmt the tree
	gofmt -w $$(git ls-files '*.go')

tools: ## install the pinned tools (staticcheck, versitygw, aws-lambda-rie)
	$(GO) install $(STATICCHECK_PKG)
	$(GO) install $(VERSITYGW_PKG)
	$(GO) install $(RIE_PKG)

tools-gen: ## install buf, protoc-gen-go and protoc-gen-connect-go at the versions pinned in tools/go.mod
	cd tools && $(GO) install github.com/bufbuild/buf/cmd/buf google.golang.org/protobuf/cmd/protoc-gen-go \
	  connectrpc.com/connect/cmd/protoc-gen-connect-go

generate: tools-gen ## lint the protos and regenerate the Go API code (offline: local plugins only)
	PATH="$(GOBIN):$$PATH" buf lint
	PATH="$(GOBIN):$$PATH" buf generate

generate-check: generate ## fail if the committed generated code differs from a fresh generation
	@git diff --exit-code -- proto || { echo "generated code is stale: run make generate and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- proto)" || { git status --porcelain -- proto; echo "untracked generated files: run make generate and commit"; exit 1; }

example-ts: build ## run the TypeScript (connect-es) example against a real node (needs Node.js 20+ and npm)
	FLOE_BIN=$(CURDIR)/bin/floe ./examples/connect-es/run.sh

fuzz: ## fuzz the manifest decoders, the SQL lexer/parser, the query guard and the point-read recogniser for FUZZTIME each (default 30s)
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeCatalog$$' -fuzztime $(FUZZTIME) ./manifest
	$(GO) test -run '^$$' -fuzz '^FuzzDecodePartition$$' -fuzztime $(FUZZTIME) ./manifest
	$(GO) test -run '^$$' -fuzz '^FuzzLex$$' -fuzztime $(FUZZTIME) ./lakehouse/sqlparse
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./lakehouse/sqlparse
	$(GO) test -run '^$$' -fuzz '^FuzzBind$$' -fuzztime $(FUZZTIME) ./lakehouse/sqlbind
	$(GO) test -run '^$$' -fuzz '^FuzzPointShape$$' -fuzztime $(FUZZTIME) ./lakehouse/sqlexec

# Trials run for RELIABILITY_DURATION (split between the fs store and S3);
# setup, the final check and the build add about a minute.
RELIABILITY_DURATION ?= 7m

reliability: ## the randomized reliability suite (kill -9, SIGSTOP take-over, object-store faults) on fs and S3 (RELIABILITY_DURATION, default 7m; docs/RELIABILITY.md)
	set -o pipefail; FLOE_RELIABILITY_DURATION=$(RELIABILITY_DURATION) ./scripts/with-s3.sh \
	  $(GO) test -count=1 -timeout 20m -run '^TestReliability$$' -v ./e2e/reliability | \
	  grep --line-buffered -E '^(reliability:| *--- |ok|FAIL|PASS)|violation|kept in|\[(fs|s3)\] (episode|seed)|: trials='

s3-up: ## start versitygw on loopback and print the FLOE_TEST_S3_* exports
	./scripts/s3-up.sh

s3-down: ## stop the versitygw started by s3-up (from any shell: s3-up records it in .floe-s3/)
	./scripts/s3-down.sh

# LocalStack (localstack/README.md). The endpoint and bucket match
# localstack/docker-compose.yml and its init hook.
LOCALSTACK_ENV := FLOE_TEST_S3_ENDPOINT=http://127.0.0.1:4566 FLOE_TEST_S3_BUCKET=floe-test \
	FLOE_TEST_S3_ACCESS_KEY=test FLOE_TEST_S3_SECRET_KEY=test FLOE_TEST_S3_REGION=us-east-1 FLOE_TEST_S3_PATH_STYLE=true

localstack-up: ## start LocalStack (S3, Lambda) in Docker and wait until its bucket exists
	@docker compose version >/dev/null 2>&1 || { echo "localstack-up needs Docker with the compose plugin (docker compose); see localstack/README.md" >&2; exit 1; }
	docker compose -f localstack/docker-compose.yml up -d --wait
	./localstack/wait-ready.sh

localstack-test: ## the test suite CI runs (scripts/test.sh) with its S3 tests against LocalStack instead of versitygw
	$(LOCALSTACK_ENV) ./scripts/test.sh $(ARGS)

localstack-down: ## stop LocalStack and drop its state
	docker compose -f localstack/docker-compose.yml down -v

deploy: ## build the Lambda functions (make build-lambda) and deploy template.yaml with the AWS SAM CLI (sam deploy --guided)
	@command -v sam >/dev/null || { echo "make deploy needs the AWS SAM CLI (sam), which is not on PATH:" >&2; \
	  echo "  https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/install-sam-cli.html" >&2; exit 1; }
	$(MAKE) build-lambda
	@# No "sam build": template.yaml points CodeUri at the bootstrap binaries
	@# make build-lambda just built (cgo + DuckDB; sam build has no builder
	@# for provided.al2023 without a Makefile per function). sam deploy
	@# zips and uploads build/lambda/<function>/ as they are.
	sam deploy --guided --template-file template.yaml --capabilities CAPABILITY_IAM

clean: ## remove build output and the local data directory
	rm -rf bin build floe-data
