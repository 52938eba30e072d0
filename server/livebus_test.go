package server_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/floedb/floe/lakehouse/config"
	floev1 "github.com/floedb/floe/proto/floe/v1"
	"github.com/floedb/floe/proto/floe/v1/floev1connect"
	"github.com/floedb/floe/server/livebus/bustest"
)

// busWarehouse is a direct-mode warehouse on one object store with three
// server processes (each its own AppContext and data dir, talking over
// loopback only): fn0, a function that publishes nothing; live, a live
// node whose poll is too slow to matter (1h), so what reaches it comes
// over the bus; and fn1, a function that publishes to live over the bus.
type busWarehouse struct {
	fn0, live, fn1 *running
	root           string // a root token (the same secret signs them everywhere)
}

func startBusWarehouse(t testing.TB, kind string) *busWarehouse {
	t.Helper()
	objects := t.TempDir()
	natsURL := ""
	if kind == config.BusNATS {
		natsURL = bustest.RunNATS(t)
	}
	role := func(role, id string, more func(c *config.Config)) func(c *config.Config) {
		return func(c *config.Config) {
			c.Role, c.NodeID = role, id
			c.Storage.FS.Dir = objects
			c.Live.PollInterval.Duration = time.Hour
			if more != nil {
				more(c)
			}
		}
	}
	w := &busWarehouse{}
	w.fn0 = start(t, role(config.RoleFunction, "fn-0", nil))
	w.root = login(t, w.fn0, "root", rootPassword)
	w.fn0.sql(t, w.root, "CREATE SHARED TABLE public.feed (id BIGINT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	w.live = start(t, role(config.RoleLive, "live-1", func(c *config.Config) { c.Live.Bus, c.Live.NATSURL = kind, natsURL }))
	w.fn1 = start(t, role(config.RoleFunction, "fn-1", func(c *config.Config) {
		c.Live.Bus = kind
		if kind == config.BusNATS {
			c.Live.NATSURL = natsURL
		} else {
			c.Live.Nodes = w.live.url
		}
	}))
	return w
}

// TestLiveBusDeliversAcrossProcesses: over both buses, a change committed
// by a function reaches a subscriber of the live node over a Connect
// stream with its real op (an insert, an update with old values: the
// bus, not a replay from segments), and a change committed by a function
// that publishes nothing is filled from the object store, in _seq order,
// as soon as the next published batch reveals the gap.
func TestLiveBusDeliversAcrossProcesses(t *testing.T) {
	for _, kind := range []string{config.BusConnect, config.BusNATS} {
		t.Run(kind, func(t *testing.T) {
			w := startBusWarehouse(t, kind)
			ls, err := subscribe(t, w.live, w.root, "SUBSCRIBE TO public.feed WHERE v <> 'hidden'", false)
			if err != nil {
				t.Fatal(err)
			}
			defer ls.cancel()
			// Fail rather than hang if a change never arrives.
			defer time.AfterFunc(30*time.Second, ls.cancel).Stop()
			ls.initial(t)
			w.fn1.sql(t, w.root, "INSERT INTO public.feed VALUES (1, 'a')")
			w.fn1.sql(t, w.root, "UPDATE public.feed SET v = 'b' WHERE id = 1")
			w.fn0.sql(t, w.root, "INSERT INTO public.feed VALUES (2, 'gap')") // not published
			w.fn1.sql(t, w.root, "INSERT INTO public.feed VALUES (3, 'c')")
			var got []string
			last := ls.ack.SnapshotSeq
			for len(got) < 4 {
				c, rs := ls.next(t)
				if rs != nil || c.Seq != last+1 {
					t.Fatalf("got %v %v after _seq %d (want every _seq once, in order)", c, rs, last)
				}
				last = c.Seq
				got = append(got, changeText(c))
			}
			if want := "[insert 1,a/ update 1,b/1,a upsert 2,gap/ insert 3,c/]"; fmt.Sprint(got) != want {
				t.Fatalf("changes %q, want %q", got, want)
			}
			_, text := get(t, w.live.metricsURL+"/metrics")
			if metric(text, "floe_live_bus_gap_fills_total") < 1 || metric(text, "floe_live_bus_batches_total") < 3 {
				t.Fatalf("live bus metrics: gap fills %v, batches %v", metric(text, "floe_live_bus_gap_fills_total"), metric(text, "floe_live_bus_batches_total"))
			}
		})
	}
}

// A live node refuses a publish that is not signed with the warehouse's
// secret: Unauthenticated with the Floe code UNAUTHENTICATED.
func TestLiveBusRefusesUnauthenticatedPublish(t *testing.T) {
	w := startBusWarehouse(t, config.BusConnect)
	c := floev1connect.NewBusServiceClient(http.DefaultClient, w.live.url)
	req := connect.NewRequest(&floev1.PublishRequest{})
	req.Header().Set("Authorization", "Bearer "+w.root) // a user token is no bus credential
	_, err := c.Publish(context.Background(), req)
	if connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("publish with a user token: %v", err)
	}
	var ce *connect.Error
	if !asConnect(err, &ce) || len(ce.Details()) == 0 {
		t.Fatalf("no error detail: %v", err)
	}
	v, _ := ce.Details()[0].Value()
	if d, ok := v.(*floev1.ErrorDetail); !ok || d.Code != "UNAUTHENTICATED" {
		t.Fatalf("detail %v", v)
	}
}

func asConnect(err error, ce **connect.Error) bool {
	e, ok := err.(*connect.Error)
	*ce = e
	return ok
}

// BenchmarkLiveBusInsertToNotification measures, for each bus, the time
// from sending an INSERT to a function (a direct-path commit to the
// object store, here a local directory) to a subscriber of a separate
// live node receiving its change: p50 and p99 of the whole, and of the
// bus hop alone (from the INSERT's acknowledgement to the notification).
func BenchmarkLiveBusInsertToNotification(b *testing.B) {
	for _, kind := range []string{config.BusConnect, config.BusNATS} {
		b.Run(kind, func(b *testing.B) {
			w := startBusWarehouse(b, kind)
			c := floev1connect.NewLiveServiceClient(http.DefaultClient, w.live.url)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req := connect.NewRequest(&floev1.SubscribeRequest{Sql: "SUBSCRIBE TO public.feed WHERE v = 'x'"})
			req.Header().Set("Authorization", "Bearer "+w.root)
			s, err := c.Subscribe(ctx, req)
			if err != nil {
				b.Fatal(err)
			}
			for s.Receive() {
				if rows := s.Msg().GetRows(); rows != nil && rows.Last {
					break
				}
			}
			q := floev1connect.NewQueryServiceClient(http.DefaultClient, w.fn1.url)
			total := make([]time.Duration, 0, b.N)
			hop := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				ins := connect.NewRequest(&floev1.ExecuteSQLRequest{Sql: fmt.Sprintf("INSERT INTO public.feed VALUES (%d, 'x')", i)})
				ins.Header().Set("Authorization", "Bearer "+w.root)
				start := time.Now()
				if _, err := q.ExecuteSQL(ctx, ins); err != nil {
					b.Fatal(err)
				}
				acked := time.Now()
				for s.Receive() {
					if s.Msg().GetChange() != nil {
						break
					}
				}
				total = append(total, time.Since(start))
				hop = append(hop, time.Since(acked))
			}
			b.StopTimer()
			slices.Sort(total)
			slices.Sort(hop)
			b.ReportMetric(float64(total[len(total)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(total[len(total)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(hop[len(hop)/2].Microseconds())/1000, "hop-p50-ms")
			b.ReportMetric(float64(hop[len(hop)*99/100].Microseconds())/1000, "hop-p99-ms")
		})
	}
}
