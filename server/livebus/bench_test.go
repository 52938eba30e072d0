package livebus_test

import (
	"context"
	"iter"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/tablestore"
	"github.com/floedb/floe/livequery"
	"github.com/floedb/floe/manifest"
	"github.com/floedb/floe/server/livebus"
	"github.com/floedb/floe/server/livebus/bustest"
)

// noReads is a Reader for a gate that never meets a gap.
type noReads struct{}

func (noReads) ReadChanges(context.Context, *manifest.Table, string, uint64, uint64) iter.Seq2[tablestore.ChangeRow, error] {
	return func(func(tablestore.ChangeRow, error) bool) {}
}

// BenchmarkBusHop measures the bus alone, for each transport: from a
// writer's Publish of a one-row batch to the subscriber on the live side
// (Handler or SubscribeNATS → Gate → Manager) having the event, over
// loopback; p50 and p99. The commit before the publish is not included.
func BenchmarkBusHop(b *testing.B) {
	key := livebus.DeriveKey([]byte("0123456789abcdef0123456789abcdef"))
	for _, kind := range []string{"connect", "nats"} {
		b.Run(kind, func(b *testing.B) {
			m := livequery.New("live", livequery.DefaultLimits, nil)
			g := livequery.NewGate(m, noReads{})
			var tr livebus.Transport
			switch kind {
			case "connect":
				mux := http.NewServeMux()
				mux.Handle(livebus.Handler(key, g, livebus.HandlerOptions{}))
				srv := httptest.NewServer(mux)
				defer srv.Close()
				tr = livebus.NewConnectTransport(srv.URL, key, nil)
			case "nats":
				url := bustest.RunNATS(b)
				lnc, err := livebus.DialNATS(url, "live")
				if err != nil {
					b.Fatal(err)
				}
				defer lnc.Close()
				if _, err := livebus.SubscribeNATS(lnc, "bench", key, g, nil, nil); err != nil {
					b.Fatal(err)
				}
				pnc, err := livebus.DialNATS(url, "fn")
				if err != nil {
					b.Fatal(err)
				}
				tr = livebus.NewNATSTransport(pnc, "bench", key, true)
			}
			p := livebus.NewPublisher(livebus.PublisherOptions{NodeID: "fn"}, tr)
			defer p.Close()
			s, err := m.Subscribe(m.Connect("alice"), livequery.Spec{User: "alice", Table: tbl, Partition: "alice", Columns: []int{0, 1}})
			if err != nil {
				b.Fatal(err)
			}
			s.Start(0, nil)
			ctx := context.Background()
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				seq := uint64(i + 1)
				batch := tablestore.ChangeBatch{Table: tbl, Partition: "alice", FirstSeq: seq, LastSeq: seq,
					Rows: []tablestore.ChangeRow{{Seq: seq, Op: tablestore.OpInsert, Values: row.Row{row.BigInt(int64(i)), row.Text("x"), row.Null(), row.Null()}}}}
				start := time.Now()
				p.Publish(batch)
				ev, err := s.Next(ctx)
				if err != nil || ev.Seq != seq {
					b.Fatalf("event %+v, %v; want _seq %d", ev, err, seq)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
