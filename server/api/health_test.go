package api_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"

	"github.com/floedb/floe/server/api"
)

// The health check follows Options.Serving (the node's writer lease): a
// fenced node says NOT_SERVING for the server and every service, and a
// watcher sees the change.
func TestHealthFollowsServing(t *testing.T) {
	var serving atomic.Bool
	serving.Store(true)
	s := startServer(t, nil, func(o *api.Options) { o.Serving = serving.Load })
	hc := grpchealth.NewClient(h2cClient(), s.url, connect.WithGRPC())
	check := func(want grpchealth.Status) {
		t.Helper()
		for _, svc := range append([]string{""}, api.Services...) {
			res, err := hc.Check(context.Background(), &grpchealth.CheckRequest{Service: svc})
			if err != nil || res.Status != want {
				t.Fatalf("health of %q: %v %v, want %v", svc, res, err, want)
			}
		}
	}
	check(grpchealth.StatusServing)
	serving.Store(false)
	check(grpchealth.StatusNotServing)
	if _, err := hc.Check(context.Background(), &grpchealth.CheckRequest{Service: "no.such.Service"}); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("health of an unknown service: %v", err)
	}

	// Watch: the current status first, then each change.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	events := hc.Watch(ctx, &grpchealth.CheckRequest{})
	next := func(want grpchealth.Status) {
		t.Helper()
		ev, ok := <-events
		if !ok || ev.Err != nil || ev.Response.Status != want {
			t.Fatalf("watch event %+v (open %v), want %v", ev, ok, want)
		}
	}
	next(grpchealth.StatusNotServing)
	serving.Store(true)
	next(grpchealth.StatusServing)
}
