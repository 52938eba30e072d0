package httpsend_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/floedb/floe/internal/httpsend"
)

// countingConn counts the writes of a client connection.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

// opaqueBody is a body net/http does not know to be in memory (as
// Connect's unary request body).
type opaqueBody struct{ io.Reader }

func (opaqueBody) Close() error { return nil }

// A request with a body of known length leaves in one write with
// Transport and in two (headers, then body) without; the server gets the
// same body either way, and a body of unknown length is streamed as
// before.
func TestOneWritePerRequest(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = w.Write(b)
	}))
	defer srv.Close()
	var writes atomic.Int64
	base := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		return countingConn{c, &writes}, err
	}}
	defer base.CloseIdleConnections()
	body := strings.Repeat("x", 100)
	send := func(rt http.RoundTripper, length int64) (int64, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, srv.URL, opaqueBody{strings.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = length
		before := writes.Load()
		res, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		got, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return writes.Load() - before, string(got)
	}
	for _, tc := range []struct {
		name   string
		rt     http.RoundTripper
		length int64
		writes int64
	}{
		{"plain transport", base, int64(len(body)), 2},
		{"httpsend", httpsend.Transport(base), int64(len(body)), 1},
		{"httpsend, unknown length (chunked)", httpsend.Transport(base), -1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, got := send(tc.rt, tc.length)
			if got != body {
				t.Fatalf("server got %q, want %q", got, body)
			}
			if n < tc.writes || (tc.writes == 1 && n != 1) {
				t.Errorf("%d writes, want %d", n, tc.writes)
			}
		})
	}
}

// A body shorter than its declared length is an error, as with net/http.
func TestShortBody(t *testing.T) {
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:1", opaqueBody{bytes.NewReader([]byte("ab"))})
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = 10
	if _, err := httpsend.Transport(http.DefaultTransport).RoundTrip(req); err == nil {
		t.Fatal("a short body was sent")
	}
}
