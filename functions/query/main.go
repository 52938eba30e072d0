// Command bootstrap is the query Lambda function (runtime provided.al2023):
// it serves AuthService and QueryService through a Function URL, with the
// same engine and API wiring as `floe serve` (server.New) in the
// "function" role: no writer lease, no write buffer, every write committed
// to the object store (segment, then manifest) before it is acknowledged.
//
// Configuration comes from the FLOE_* environment variables that
// lakehouse/config reads (FLOE_STORAGE_S3_BUCKET, FLOE_AUTH_JWT_SECRET, …);
// the role is always "function", and the data dir defaults to /tmp/floe,
// the only writable directory of a Lambda container. FLOE_ROOT_PASSWORD
// sets the password of the root user if this warehouse has none yet.
//
// One server is built per container (at cold start) and reused by every
// invocation the container serves (warm reuse of the catalog, the schema
// registry and the segment cache). Function URL events (payload format
// 2.0) are adapted to the server's http.Handler by
// github.com/awslabs/aws-lambda-go-api-proxy; Connect unary calls over
// HTTP/1.1 (JSON or binary protobuf) work, streaming calls and gRPC do not
// (a Function URL in BUFFERED mode answers with one body and no trailers).
//
// With live nodes configured (FLOE_LIVE_NODES, or FLOE_LIVE_BUS=nats and
// FLOE_LIVE_NATS_URL) the changes an invocation committed are published
// to them before it answers (bounded by PublishFlushTimeout): Lambda
// freezes the container between invocations, so nothing may be left to
// background goroutines.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/floedb/floe/functions/internal/fnconfig"
	"github.com/floedb/floe/lakehouse/appctx"
	"github.com/floedb/floe/lakehouse/config"
	"github.com/floedb/floe/server"
)

// DefaultDataDir is the data dir when FLOE_DATA_DIR is unset: Lambda lets
// a function write only under /tmp.
const DefaultDataDir = fnconfig.DefaultDataDir

// PublishFlushTimeout bounds how long an invocation waits, after its
// answer is ready, for its committed changes to reach the live nodes
// (FLOE_LIVE_NODES or FLOE_LIVE_NATS_URL) before it answers.
const PublishFlushTimeout = 2 * time.Second

// Handler answers one Function URL invocation.
type Handler func(ctx context.Context, req events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error)

func main() {
	ctx := context.Background()
	cfg, err := loadConfig(os.Environ())
	if err != nil {
		fail(err)
	}
	h, closeFn, err := newHandler(ctx, cfg, os.Getenv("FLOE_ROOT_PASSWORD"))
	if err != nil {
		fail(err)
	}
	defer closeFn()
	lambda.Start(h)
}

// fail reports a cold-start error and exits; Lambda reports the init
// failure to the caller and retries with a fresh container.
func fail(err error) {
	slog.Error("query function cannot start", slog.String("error", err.Error()))
	os.Exit(1)
}

// loadConfig reads the FLOE_* variables of environ (fnconfig.Load: role
// function, data dir DefaultDataDir unless FLOE_DATA_DIR sets one, a node
// id per container unless FLOE_NODE_ID sets one).
func loadConfig(environ []string) (config.Config, error) {
	return fnconfig.Load(environ, "query")
}

// newHandler builds the AppContext and the server for cfg (role
// "function"), starts the memory guard of admission control, and returns
// the Lambda handler that serves Function URL events through the server's
// http.Handler, and the function that stops the guard and closes the
// server and the AppContext. rootPassword is the root user's password if
// the warehouse has no root user yet (empty: a random one that nobody is
// shown; create users with an existing system user instead).
func newHandler(ctx context.Context, cfg config.Config, rootPassword string) (Handler, func(), error) {
	if cfg.Role != config.RoleFunction {
		return nil, nil, fmt.Errorf("query function: role is %q, want %q", cfg.Role, config.RoleFunction)
	}
	app, err := appctx.New(ctx, cfg, appctx.Deps{})
	if err != nil {
		return nil, nil, fmt.Errorf("query function: %w", err)
	}
	srv, err := server.New(ctx, app, server.Options{RootPassword: rootPassword})
	if err != nil {
		app.Close()
		return nil, nil, fmt.Errorf("query function: %w", err)
	}
	guardCtx, stopGuard := context.WithCancel(context.WithoutCancel(ctx))
	guardDone := make(chan struct{})
	go func() {
		defer close(guardDone)
		srv.Node.Admission.Run(guardCtx)
	}()
	adapter := httpadapter.NewV2(srv.Handler)
	h := func(ctx context.Context, req events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
		resp, err := adapter.ProxyWithContext(ctx, toV2(req))
		// The environment is frozen once the handler returns: the changes
		// this invocation committed go to the live nodes first (bounded;
		// what misses the live nodes' bus they fill from S3).
		fctx, cancel := context.WithTimeout(ctx, PublishFlushTimeout)
		if ferr := srv.FlushPublishes(fctx); ferr != nil {
			app.Logger().LogAttrs(ctx, slog.LevelWarn, "live bus: publishes not flushed before the answer", slog.String("error", ferr.Error()))
		}
		cancel()
		if err != nil {
			return events.LambdaFunctionURLResponse{}, fmt.Errorf("query function: %s %s: %w", req.RequestContext.HTTP.Method, req.RawPath, err)
		}
		return events.LambdaFunctionURLResponse{StatusCode: resp.StatusCode, Headers: resp.Headers, Body: resp.Body,
			IsBase64Encoded: resp.IsBase64Encoded, Cookies: resp.Cookies}, nil
	}
	closeFn := func() {
		stopGuard()
		<-guardDone
		if err := srv.Close(); err != nil {
			app.Logger().LogAttrs(context.Background(), slog.LevelWarn, "closing the server", slog.String("error", err.Error()))
		}
		app.Close()
	}
	return h, closeFn, nil
}

// toV2 turns a Function URL event into the API Gateway HTTP API event the
// adapter takes: both are payload format 2.0, with the same fields.
func toV2(r events.LambdaFunctionURLRequest) events.APIGatewayV2HTTPRequest {
	rc := r.RequestContext
	return events.APIGatewayV2HTTPRequest{
		Version:               r.Version,
		RouteKey:              "$default",
		RawPath:               r.RawPath,
		RawQueryString:        r.RawQueryString,
		Cookies:               r.Cookies,
		Headers:               r.Headers,
		QueryStringParameters: r.QueryStringParameters,
		Body:                  r.Body,
		IsBase64Encoded:       r.IsBase64Encoded,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     "$default",
			AccountID:    rc.AccountID,
			Stage:        "$default",
			RequestID:    rc.RequestID,
			APIID:        rc.APIID,
			DomainName:   rc.DomainName,
			DomainPrefix: rc.DomainPrefix,
			Time:         rc.Time,
			TimeEpoch:    rc.TimeEpoch,
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    rc.HTTP.Method,
				Path:      rc.HTTP.Path,
				Protocol:  rc.HTTP.Protocol,
				SourceIP:  rc.HTTP.SourceIP,
				UserAgent: rc.HTTP.UserAgent,
			},
		},
	}
}
