// Package httpsend makes an HTTP/1.1 client send a small request in one
// write.
//
// net/http writes a request's headers and body separately (two writes, two
// packets on loopback, often two reads and a wake-up on the server) unless
// the body is one of the in-memory readers it knows (*bytes.Reader,
// *bytes.Buffer, *strings.Reader); Connect's unary request body is not
// one of them, although Connect knows its length. Transport reads such a
// body into a *bytes.Reader first, so headers and body leave together, as
// a PostgreSQL driver sends its messages.
package httpsend

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
)

// MaxBody is the largest body Transport buffers; larger bodies, and
// bodies of unknown length (streams), are sent as they are.
const MaxBody = 64 << 10

// Transport returns rt sending each request whose body has a known length
// of at most MaxBody in one write. It is safe for concurrent use if rt is.
func Transport(rt http.RoundTripper) http.RoundTripper { return transport{rt} }

type transport struct{ rt http.RoundTripper }

func (t transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength <= 0 || r.ContentLength > MaxBody {
		return t.rt.RoundTrip(r)
	}
	b := make([]byte, r.ContentLength)
	_, err := io.ReadFull(r.Body, b)
	// A RoundTripper closes the request body, even on errors.
	if cerr := r.Body.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("httpsend: read request body: %w", err)
	}
	// The request must not be changed: a shallow copy with the new body
	// (the RoundTripper contract).
	c := *r
	c.Body = io.NopCloser(bytes.NewReader(b))
	c.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return t.rt.RoundTrip(&c)
}
