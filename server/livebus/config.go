package livebus

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/nats-io/nats.go"

	"github.com/floedb/floe/lakehouse/config"
)

// NewPublisherFromConfig returns the Publisher of a process that publishes
// its committed changes (cfg.Publishes: a function with live.nodes or
// live.nats_url), or nil when it publishes nothing.
func NewPublisherFromConfig(cfg *config.Config, nodeID string, log *slog.Logger) (*Publisher, error) {
	if err := CheckFaultEnv(); err != nil {
		return nil, err
	}
	if !cfg.Publishes() {
		return nil, nil
	}
	key := DeriveKey([]byte(cfg.Auth.JWTSecret))
	var ts []Transport
	switch cfg.Live.Bus {
	case config.BusNATS:
		nc, err := DialNATS(cfg.Live.NATSURL, nodeID)
		if err != nil {
			return nil, err
		}
		ts = append(ts, NewNATSTransport(nc, cfg.Live.NATSSubject, key, true))
	default:
		for _, u := range cfg.LiveNodes() {
			ts = append(ts, NewConnectTransport(u, key, nil))
		}
	}
	return NewPublisher(PublisherOptions{NodeID: nodeID, Logger: log}, ts...), nil
}

// Receiver is a live node's end of the bus: the BusService handler, and
// the NATS subscription with bus "nats".
type Receiver struct {
	// Path and Handler serve BusService.Publish; mount them on the API's
	// mux.
	Path    string
	Handler http.Handler
	nc      *nats.Conn
}

// NewReceiver builds the receiving end of a live node, delivering to
// sink. maxRequestBytes bounds a Publish (server.max_request_bytes).
func NewReceiver(cfg *config.Config, nodeID string, sink Sink, maxRequestBytes int, log *slog.Logger) (*Receiver, error) {
	key := DeriveKey([]byte(cfg.Auth.JWTSecret))
	r := &Receiver{}
	r.Path, r.Handler = Handler(key, sink, HandlerOptions{MaxRequestBytes: maxRequestBytes, Logger: log})
	if cfg.Live.Bus == config.BusNATS {
		nc, err := DialNATS(cfg.Live.NATSURL, nodeID)
		if err != nil {
			return nil, err
		}
		if _, err := SubscribeNATS(nc, cfg.Live.NATSSubject, key, sink, log, nil); err != nil {
			nc.Close()
			return nil, err
		}
		r.nc = nc
	}
	return r, nil
}

// Close ends the NATS subscription, if any.
func (r *Receiver) Close() error {
	if r == nil || r.nc == nil {
		return nil
	}
	err := r.nc.Drain()
	if errors.Is(err, nats.ErrConnectionClosed) {
		err = nil
	}
	return err
}
