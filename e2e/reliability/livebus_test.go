package reliability

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/floedb/floe/lakehouse/config"
	floev1 "github.com/floedb/floe/proto/floe/v1"
	"github.com/floedb/floe/proto/floe/v1/floev1connect"
	"github.com/floedb/floe/server/livebus"
	"github.com/floedb/floe/server/livebus/bustest"
)

// busSecret is the warehouse's shared auth.jwt_secret: it signs user
// tokens on every process and derives the live bus key.
const busSecret = "livebus-e2e-shared-secret-0123456789"

// busProcs are real `floe serve` processes (the floe_faultinject build) on
// one direct-mode warehouse in a local object-store directory: fn0, a
// function that publishes nothing; live, a live node whose manifest poll
// is 1h (so what reaches it promptly came over the bus, or was filled
// from the object store because a received batch revealed a gap); fn1, a
// function publishing to live over the bus, losing each publish with
// probability drop (FLOE_FAULT_BUS).
type busProcs struct {
	fn0, live, fn1 *proc
	root           string
}

func startBusProcs(t testing.TB, kind string, drop float64) *busProcs {
	t.Helper()
	root := t.TempDir()
	objects := filepath.Join(root, "objects")
	natsURL := ""
	if kind == config.BusNATS {
		natsURL = bustest.RunNATS(t)
	}
	env := []string{"FLOE_AUTH_JWT_SECRET=" + busSecret}
	start := func(id, role string, args []string, extraEnv ...string) *proc {
		args = append([]string{"--role", role, "--storage.fs.dir", objects, "--live.poll_interval", "1h"}, args...)
		p, err := startProc(floeBin, root, id, filepath.Join(root, id), false, "", args, append(env, extraEnv...))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			p.signal(15)
			if err := p.wait(60 * time.Second); err != nil && !p.exited {
				p.kill9()
			}
		})
		return p
	}
	b := &busProcs{}
	b.fn0 = start("fn-0", config.RoleFunction, nil)
	ctx := context.Background()
	var err error
	if b.root, err = login(ctx, b.fn0.url, "root", rootPassword); err != nil {
		t.Fatal(err)
	}
	if _, err := execSQL(ctx, b.fn0.url, b.root, "CREATE SHARED TABLE public.feed (id BIGINT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')"); err != nil {
		t.Fatal(err)
	}
	busArgs := []string{"--live.bus", kind}
	if kind == config.BusNATS {
		busArgs = append(busArgs, "--live.nats_url", natsURL)
	}
	b.live = start("live-1", config.RoleLive, busArgs)
	fnArgs := append([]string(nil), busArgs...)
	if kind == config.BusConnect {
		fnArgs = append(fnArgs, "--live.nodes", b.live.url)
	}
	b.fn1 = start("fn-1", config.RoleFunction, fnArgs, fmt.Sprintf("%s=drop=%g,seed=7", livebus.FaultEnv, drop))
	return b
}

// change is one change received on a Subscribe stream.
type change struct {
	op  string
	seq uint64
	id  int64
	at  time.Time
}

// subscribeAll subscribes to public.feed on the live node and sends every
// change it receives on the returned channel, until ctx ends.
func subscribeAll(t testing.TB, ctx context.Context, url, token string) (snapshot uint64, changes <-chan change) {
	t.Helper()
	c := floev1connect.NewLiveServiceClient(http.DefaultClient, url)
	req := connect.NewRequest(&floev1.SubscribeRequest{Sql: "SUBSCRIBE TO public.feed"})
	req.Header().Set("Authorization", "Bearer "+token)
	s, err := c.Subscribe(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for s.Receive() {
		m := s.Msg()
		if a := m.GetAck(); a != nil {
			snapshot = a.SnapshotSeq
		}
		if rows := m.GetRows(); rows != nil && rows.Last {
			break
		}
	}
	out := make(chan change, 1<<16)
	go func() {
		defer close(out)
		for s.Receive() {
			ch := s.Msg().GetChange()
			if ch == nil {
				continue
			}
			c := change{op: ch.Op, seq: ch.Seq, at: time.Now()}
			vals := ch.GetRow().GetValues()
			if len(vals) == 0 {
				vals = ch.GetOld().GetValues()
			}
			if len(vals) > 0 {
				c.id, _ = strconv.ParseInt(strings.TrimSuffix(vals[0].GetStringValue(), ".0"), 10, 64)
				if n := vals[0].GetNumberValue(); n != 0 {
					c.id = int64(n)
				}
			}
			out <- c
		}
	}()
	return snapshot, out
}

var publishedDropped = regexp.MustCompile(`floe_live_bus_published_total\{result="dropped"\} (\S+)`)

func metricOf(t testing.TB, url string, re *regexp.Regexp) float64 {
	t.Helper()
	res, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	m := re.FindSubmatch(b)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// TestLiveBusAcrossProcesses: over both buses, changes committed by
// separate function processes reach a subscriber of a separate live node
// over a real Connect stream, every _seq exactly once and in order,
// although the publishing function loses half of its publishes (fault
// injection) and another function publishes nothing: the live node fills
// each gap from the object store when the next batch reveals it (its poll
// is 1h, so it plays no part).
func TestLiveBusAcrossProcesses(t *testing.T) {
	for _, kind := range []string{config.BusConnect, config.BusNATS} {
		t.Run(kind, func(t *testing.T) {
			b := startBusProcs(t, kind, 0.5)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			snapshot, changes := subscribeAll(t, ctx, b.live.url, b.root)
			ins := func(p *proc, id int) {
				t.Helper()
				if _, err := execSQL(ctx, p.url, b.root, fmt.Sprintf("INSERT INTO public.feed VALUES (%d, 'v%d')", id, id)); err != nil {
					t.Fatal(err)
				}
			}
			const n = 40
			for i := 1; i <= n; i++ {
				if i%10 == 0 {
					ins(b.fn0, i) // committed, never published
				} else {
					ins(b.fn1, i)
				}
			}
			// The last publishes may have been lost too: write sentinels
			// until one arrives; it brings every change before it.
			var got []change
			want := uint64(n)
			for k := 1; ; k++ {
				ins(b.fn1, 1000+k)
				want++
				deadline := time.After(2 * time.Second)
			wait:
				for uint64(len(got)) < want {
					select {
					case c, ok := <-changes:
						if !ok {
							t.Fatalf("stream ended after %d changes", len(got))
						}
						got = append(got, c)
					case <-deadline:
						break wait
					}
				}
				if uint64(len(got)) >= want {
					break
				}
				if k == 50 {
					t.Fatalf("after 50 sentinels: %d changes of %d", len(got), want)
				}
			}
			// Nothing more arrives (no duplicate of anything).
			select {
			case c := <-changes:
				t.Fatalf("unexpected change %+v after all %d", c, want)
			case <-time.After(500 * time.Millisecond):
			}
			ops := map[string]int{}
			for i, c := range got {
				if c.seq != snapshot+uint64(i)+1 {
					t.Fatalf("change %d has _seq %d, want %d: every _seq exactly once, in order", i, c.seq, snapshot+uint64(i)+1)
				}
				ops[c.op]++
			}
			ids := make([]int64, 0, n)
			for _, c := range got[:n] {
				ids = append(ids, c.id)
			}
			for i, id := range ids {
				if id != int64(i+1) {
					t.Fatalf("change %d is row %d, want %d", i, id, i+1)
				}
			}
			// Both paths delivered: inserts came over the bus, upserts
			// were read from the object store to fill gaps.
			if ops["insert"] == 0 || ops["upsert"] == 0 {
				t.Fatalf("ops %v: want inserts (the bus) and upserts (gap fills)", ops)
			}
			if d := metricOf(t, b.fn1.url, publishedDropped); d < 1 {
				t.Fatalf("fn-1 dropped %v publishes, want some (fault injection)", d)
			}
			if g := metricOf(t, b.live.url, regexp.MustCompile(`(?m)^floe_live_bus_gap_fills_total (\S+)`)); g < 1 {
				t.Fatalf("live-1 filled %v gaps", g)
			}
			t.Logf("%s: %d changes, ops %v", kind, len(got), ops)
		})
	}
}

// BenchmarkLiveBusAcrossProcesses measures, for each bus, the time from
// sending an INSERT to a function process to a subscriber of a separate
// live-node process receiving its change (real `floe serve` processes,
// loopback, a local object-store directory, no fault injection): p50 and
// p99 of the whole, and of the bus hop (from the INSERT's answer to the
// notification).
func BenchmarkLiveBusAcrossProcesses(b *testing.B) {
	for _, kind := range []string{config.BusConnect, config.BusNATS} {
		b.Run(kind, func(b *testing.B) {
			p := startBusProcs(b, kind, 0)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, changes := subscribeAll(b, ctx, p.live.url, p.root)
			q := floev1connect.NewQueryServiceClient(http.DefaultClient, p.fn1.url)
			total := make([]time.Duration, 0, b.N)
			hop := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				req := connect.NewRequest(&floev1.ExecuteSQLRequest{Sql: fmt.Sprintf("INSERT INTO public.feed VALUES (%d, 'x')", i)})
				req.Header().Set("Authorization", "Bearer "+p.root)
				start := time.Now()
				if _, err := q.ExecuteSQL(ctx, req); err != nil {
					b.Fatal(err)
				}
				acked := time.Now()
				select {
				case c := <-changes:
					total = append(total, c.at.Sub(start))
					hop = append(hop, max(0, c.at.Sub(acked)))
				case <-time.After(30 * time.Second):
					b.Fatal("no notification within 30s")
				}
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
