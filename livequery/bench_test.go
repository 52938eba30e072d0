package livequery_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/floedb/floe/lakehouse/tablestore"
	"github.com/floedb/floe/livequery"
)

// BenchmarkFanout10k: one insert against 10,000 subscriptions of one
// partition. indexed: each filter fixes room to its own value, so one
// subscription is checked; scan: the filters have no equality, so all
// are (the cost the index avoids).
func BenchmarkFanout10k(b *testing.B) {
	for _, mode := range []string{"indexed", "scan"} {
		b.Run(mode, func(b *testing.B) {
			m := livequery.New("n1", livequery.Limits{MaxPerUser: 20000, MaxPerConnection: 20000, QueueLength: 1 << 30}, nil)
			c := m.Connect("alice")
			subs := make([]*livequery.Subscription, 10000)
			for i := range subs {
				where := fmt.Sprintf("room = 'r%d'", i)
				if mode == "scan" {
					where = fmt.Sprintf("n < %d", -i)
				}
				s, err := m.Subscribe(c, spec(b, "alice", where))
				if err != nil {
					b.Fatal(err)
				}
				s.Start(0, nil)
				subs[i] = s
			}
			b.ResetTimer()
			for i := range b.N {
				m.OnTableChange(batch("alice", uint64(i+1), tablestore.ChangeRow{Op: tablestore.OpInsert, Values: r(int64(i), "r77", 1)}))
				if i%1000 == 999 {
					b.StopTimer()
					for {
						if _, ok, _ := subs[77].TryNext(); !ok {
							break
						}
					}
					b.StartTimer()
				}
			}
		})
	}
}

// BenchmarkIdleSubscriptionMemory reports the heap held per idle
// subscription (indexed, one equality value) and how many fit in 1 GiB.
func BenchmarkIdleSubscriptionMemory(b *testing.B) {
	const n = 100_000
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		m := livequery.New("n1", livequery.Limits{MaxPerUser: n, MaxPerConnection: n, QueueLength: 16}, nil)
		c := m.Connect("alice")
		for i := range n {
			s, err := m.Subscribe(c, spec(b, "alice", fmt.Sprintf("room = 'r%d'", i)))
			if err != nil {
				b.Fatal(err)
			}
			s.Start(0, nil)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		per := float64(after.HeapAlloc-before.HeapAlloc) / n
		b.ReportMetric(per, "B/sub")
		b.ReportMetric(float64(1<<30)/per, "subs/GiB")
		runtime.KeepAlive(m)
	}
}
