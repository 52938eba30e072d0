package livequery

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RegisterMetrics registers m's live-query metrics with reg, read at each
// scrape: connections, subscriptions, the events waiting in subscriber
// queues, and totals of queued events, resyncs (queue overflows), change
// batches fanned out and the time spent fanning them out.
func RegisterMetrics(reg prometheus.Registerer, m *Manager) error {
	queued := func() float64 {
		m.mu.RLock()
		subs := make([]*Subscription, 0, len(m.subs))
		for _, s := range m.subs {
			subs = append(subs, s)
		}
		m.mu.RUnlock()
		n := 0
		for _, s := range subs {
			s.mu.Lock()
			n += len(s.queue)
			s.mu.Unlock()
		}
		return float64(n)
	}
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "floe_live_connections", Help: "Open live-query connections (streams)."},
			func() float64 { return float64(m.Stats().Connections) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "floe_live_subscriptions", Help: "Live subscriptions on this node."},
			func() float64 { return float64(m.Stats().Subscriptions) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "floe_live_queued_events", Help: "Events waiting in subscriber queues."}, queued),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "floe_live_events_total", Help: "Events queued for subscribers."},
			func() float64 { return float64(m.events.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "floe_live_resyncs_total", Help: "Subscriptions ended by a queue overflow (resync sent)."},
			func() float64 { return float64(m.resyncs.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "floe_live_fanout_batches_total", Help: "Change batches matched against subscriptions."},
			func() float64 { return float64(m.batches.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "floe_live_fanout_seconds_total", Help: "Time spent matching change batches against subscriptions."},
			func() float64 { return time.Duration(m.fanoutNs.Load()).Seconds() }),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// RegisterGateMetrics registers g's totals with reg: batches received over
// the bus, duplicates dropped, gaps filled from the object store (and
// their rows), rows found by the poll.
func RegisterGateMetrics(reg prometheus.Registerer, g *Gate) error {
	counter := func(name, help string, v func(GateStats) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v(g.Stats())) })
	}
	for _, c := range []prometheus.Collector{
		counter("floe_live_bus_batches_total", "Change batches received from writer processes (bus).", func(s GateStats) int64 { return s.Received }),
		counter("floe_live_bus_duplicates_total", "Received change batches dropped as already delivered.", func(s GateStats) int64 { return s.Duplicates }),
		counter("floe_live_bus_gap_fills_total", "Gaps before a received batch filled from the object store.", func(s GateStats) int64 { return s.GapFills }),
		counter("floe_live_bus_gap_rows_total", "Changes read from the object store to fill gaps.", func(s GateStats) int64 { return s.GapRows }),
		counter("floe_live_poll_rows_total", "Changes found by the live node's poll of committed changes.", func(s GateStats) int64 { return s.Polled }),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
