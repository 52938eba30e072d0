package livebus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/tablestore"
	floev1 "github.com/floedb/floe/proto/floe/v1"
	"github.com/floedb/floe/proto/floe/v1/floev1connect"
)

// ConnectTransport publishes to one live node with BusService.Publish.
type ConnectTransport struct {
	url    string
	key    Key
	client floev1connect.BusServiceClient
	clock  func() time.Time
}

// NewConnectTransport returns a transport to the live node at baseURL
// (e.g. "http://live-1:7878"), signing with key. hc nil: a client of its
// own that keeps connections open.
func NewConnectTransport(baseURL string, key Key, hc *http.Client) *ConnectTransport {
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: 90 * time.Second}}
	}
	return &ConnectTransport{url: baseURL, key: key, client: floev1connect.NewBusServiceClient(hc, baseURL), clock: time.Now}
}

// Name returns the live node's URL.
func (c *ConnectTransport) Name() string { return c.url }

// Send publishes batches in one call.
func (c *ConnectTransport) Send(ctx context.Context, batches []*floev1.BusChangeBatch) error {
	msg := &floev1.PublishRequest{Batches: batches}
	body, err := bodyOf(msg)
	if err != nil {
		return err
	}
	req := connect.NewRequest(msg)
	req.Header().Set("Authorization", "Bearer "+c.key.Credential(c.clock(), body))
	if _, err := c.client.Publish(ctx, req); err != nil {
		return fmt.Errorf("BusService.Publish to %s: %w", c.url, err)
	}
	return nil
}

// Close implements Transport.
func (c *ConnectTransport) Close() error { return nil }

// HandlerOptions configure Handler.
type HandlerOptions struct {
	// MaxRequestBytes bounds one Publish request. Default: 64 MiB.
	MaxRequestBytes int
	Logger          *slog.Logger
	// Clock checks credential timestamps. Default: time.Now.
	Clock func() time.Time
	// Received, when set, counts the batches received (after
	// verification).
	Received func(n int)
}

// Handler returns the path and handler of BusService for a live node: it
// verifies each call's credential with key, decodes its batches and hands
// them to sink in order. Unauthenticated calls are refused with
// Unauthenticated (Floe code UNAUTHENTICATED), malformed batches with
// InvalidArgument (INVALID_ARGUMENT); nothing of a refused call is
// delivered.
func Handler(key Key, sink Sink, opts HandlerOptions) (string, http.Handler) {
	if opts.MaxRequestBytes <= 0 {
		opts.MaxRequestBytes = 64 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	h := &busHandler{key: key, sink: sink, opts: opts, log: opts.Logger.With(slog.String("component", "live-bus"))}
	return floev1connect.NewBusServiceHandler(h, connect.WithReadMaxBytes(opts.MaxRequestBytes))
}

type busHandler struct {
	key  Key
	sink Sink
	opts HandlerOptions
	log  *slog.Logger
}

func (h *busHandler) Publish(ctx context.Context, req *connect.Request[floev1.PublishRequest]) (*connect.Response[floev1.PublishResponse], error) {
	cred := req.Header().Get("Authorization")
	tok, _ := cutBearer(cred)
	body, err := bodyOf(req.Msg)
	if err != nil {
		return nil, connectError(dberr.Wrap(dberr.InvalidArgument, err, "live bus: the publish cannot be encoded"))
	}
	if err := h.key.Verify(tok, body, h.opts.Clock()); err != nil {
		h.log.LogAttrs(ctx, slog.LevelWarn, "live bus: refused an unauthenticated publish", slog.String("peer", req.Peer().Addr), slog.Any("error", err))
		return nil, connectError(err)
	}
	batches := req.Msg.GetBatches()
	decoded := make([]tablestore.ChangeBatch, 0, len(batches))
	for _, m := range batches {
		b, err := Decode(m)
		if err != nil {
			return nil, connectError(err)
		}
		decoded = append(decoded, b)
	}
	if h.opts.Received != nil {
		h.opts.Received(len(decoded))
	}
	for _, b := range decoded {
		h.sink.Deliver(ctx, b)
	}
	return connect.NewResponse(&floev1.PublishResponse{Accepted: uint32(len(decoded))}), nil
}

// bodyOf is what a Connect publish's credential signs: the request in
// protobuf's deterministic encoding, which the publisher and the live node
// (one Floe version) compute alike from the same message, whatever the
// wire codec (binary or JSON) carried it.
func bodyOf(m *floev1.PublishRequest) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("live bus: encode a publish: %w", err)
	}
	return b, nil
}

func cutBearer(h string) (string, bool) {
	const p = "Bearer "
	if len(h) > len(p) && (h[:len(p)] == p || h[:len(p)] == "bearer ") {
		return h[len(p):], true
	}
	return "", false
}

// connectError is err as a Connect error carrying a floe.v1.ErrorDetail
// with its Floe code, as the API's errors do.
func connectError(err error) *connect.Error {
	code := dberr.CodeOf(err)
	cc := connect.CodeInternal
	switch code {
	case dberr.Unauthenticated:
		cc = connect.CodeUnauthenticated
	case dberr.InvalidArgument:
		cc = connect.CodeInvalidArgument
	}
	msg := err.Error()
	var de *dberr.Error
	if errors.As(err, &de) {
		msg = de.Msg
	}
	out := connect.NewError(cc, errors.New(msg))
	if d, derr := connect.NewErrorDetail(&floev1.ErrorDetail{Code: string(code)}); derr == nil {
		out.AddDetail(d)
	}
	return out
}
