# The Floe live node: `floe serve` in the live role (FLOE_ROLE=live), for a
# serverless warehouse whose writers are the Lambda functions. See
# functions/README.md ("Live node image").
#
#   docker build -t floe-live .
#   docker run -p 7878:7878 -e FLOE_STORAGE_S3_BUCKET=... -e FLOE_AUTH_JWT_SECRET=... floe-live
#
# Build stage: the same fully static link as `make build-lambda` (cgo for
# DuckDB; glibc and libstdc++ linked in; netgo and osusergo so that Go
# itself calls neither getaddrinfo nor getpwuid), so the image needs no C
# library at all. Build on the target architecture (docker buildx
# --platform linux/arm64 on an arm64 builder, or under emulation): cgo does
# not cross-compile here.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -tags 'netgo osusergo' \
      -ldflags "-s -w -linkmode external -extldflags '-static'" -o /out/floe ./cmd/floe \
 && mkdir -p /out/data

# Run stage: distroless static (CA certificates for HTTPS to S3, tzdata, a
# nonroot user; no shell, no libc).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/floe /usr/local/bin/floe
COPY --from=build --chown=65532:65532 /out/data /data
# The live role: reads and live-query subscriptions, no writes, no writer
# lease, no write buffer. The data dir holds only the segment cache.
# Storage (FLOE_STORAGE_BACKEND=s3, FLOE_STORAGE_S3_BUCKET, _PREFIX,
# _REGION; credentials from the task role) and FLOE_AUTH_JWT_SECRET (the
# functions' secret) come from the task definition.
ENV FLOE_ROLE=live \
    FLOE_DATA_DIR=/data \
    FLOE_SERVER_LISTEN=0.0.0.0:7878 \
    FLOE_STORAGE_BACKEND=s3 \
    FLOE_LOG_FORMAT=json
EXPOSE 7878
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/floe", "serve"]
