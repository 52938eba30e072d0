package livequery_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
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

// BenchmarkRamp100k measures registering and starting 100,000
// subscriptions (each its own equality filter, one connection per 20, as
// many users as connections) on one manager: the ramp time of a node
// taking 100k subscribers, without the network and the initial loads.
func BenchmarkRamp100k(b *testing.B) {
	const n = 100_000
	specs := make([]livequery.Spec, n)
	for i := range specs {
		specs[i] = spec(b, "alice", fmt.Sprintf("room = 'r%d'", i))
	}
	b.ResetTimer()
	for range b.N {
		m := livequery.New("n1", livequery.Limits{MaxPerUser: n, MaxPerConnection: 20, QueueLength: 1024}, nil)
		var c string
		for i := range n {
			if i%20 == 0 {
				c = m.Connect("alice")
			}
			s, err := m.Subscribe(c, specs[i])
			if err != nil {
				b.Fatal(err)
			}
			s.Start(0, nil)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/100k-subs")
}

// BenchmarkHotTable10k measures notifications per second on one hot
// table with 10,000 subscribers whose filters all match: each op is one
// single-row change fanned out to every subscriber, each drained by its
// own goroutine (as each stream's pump is).
func BenchmarkHotTable10k(b *testing.B) {
	const n = 10_000
	m := livequery.New("n1", livequery.Limits{MaxPerUser: n, MaxPerConnection: n, QueueLength: 1 << 20}, nil)
	c := m.Connect("alice")
	subs := make([]*livequery.Subscription, n)
	for i := range subs {
		s, err := m.Subscribe(c, spec(b, "alice", "n >= 0"))
		if err != nil {
			b.Fatal(err)
		}
		s.Start(0, nil)
		subs[i] = s
	}
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ResetTimer()
	for _, s := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range b.N {
				if _, err := s.Next(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	for i := range b.N {
		m.OnTableChange(batch("alice", uint64(i+1), tablestore.ChangeRow{Op: tablestore.OpInsert, Values: r(int64(i), "hot", 1)}))
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "notifications/s")
}
