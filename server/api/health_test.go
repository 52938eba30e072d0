package api_test

import (
	"context"
	"io"
	"net/http"
	"strings"
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

// HealthPath answers a plain HTTP/1.1 GET without a token from the same
// state as the gRPC health check: 200 while serving, 503 once the node is
// fenced, 200 again after; other methods are refused.
func TestHealthPathFollowsServing(t *testing.T) {
	var serving atomic.Bool
	serving.Store(true)
	s := startServer(t, nil, func(o *api.Options) { o.Serving = serving.Load })
	// HTTP/1.1 only, as an ALB health checker speaks.
	hc := &http.Client{Transport: &http.Transport{}}
	get := func(method string) (int, string, *http.Response) {
		t.Helper()
		req, err := http.NewRequest(method, s.url+api.HealthPath, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		if res.ProtoMajor != 1 {
			t.Fatalf("%s %s over %s, want HTTP/1.1", method, api.HealthPath, res.Proto)
		}
		return res.StatusCode, string(body), res
	}
	if code, body, res := get(http.MethodGet); code != http.StatusOK || body != "SERVING\n" || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET %s while serving: %d %q %v", api.HealthPath, code, body, res.Header)
	}
	if code, _, _ := get(http.MethodHead); code != http.StatusOK {
		t.Fatalf("HEAD %s while serving: %d", api.HealthPath, code)
	}
	serving.Store(false)
	if code, body, _ := get(http.MethodGet); code != http.StatusServiceUnavailable || body != "NOT_SERVING\n" {
		t.Fatalf("GET %s while fenced: %d %q", api.HealthPath, code, body)
	}
	serving.Store(true)
	if code, _, _ := get(http.MethodGet); code != http.StatusOK {
		t.Fatalf("GET %s serving again: %d", api.HealthPath, code)
	}
	if code, _, res := get(http.MethodPost); code != http.StatusMethodNotAllowed || !strings.Contains(res.Header.Get("Allow"), http.MethodGet) {
		t.Fatalf("POST %s: %d Allow %q, want 405 allowing GET", api.HealthPath, code, res.Header.Get("Allow"))
	}
}
