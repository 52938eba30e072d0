package api_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"

	floev1 "github.com/floedb/floe/proto/floe/v1"
)

// reportLatency reports the p50 and p99 of samples in microseconds.
func reportLatency(b *testing.B, samples []time.Duration) {
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	at := func(q float64) float64 {
		return float64(samples[min(len(samples)-1, int(q*float64(len(samples))))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
}

// benchSetup starts a node and returns a logged-in client (Connect
// protocol, binary protobuf, HTTP/1.1 over loopback) of a user.
func benchSetup(b *testing.B) (*server, *clients) {
	s := startServer(b, nil)
	root := s.login("root", rootPassword)
	root.exec(b, "CREATE USER alice WITH PASSWORD 'alice-pass-1' ROLE service")
	root.exec(b, "CREATE USER TABLE notes (id BIGINT PRIMARY KEY, body TEXT)")
	s.logs = &syncBuffer{}
	return s, s.login("alice", "alice-pass-1")
}

func insertReq(id int64) *connect.Request[floev1.ExecuteSQLRequest] {
	return connect.NewRequest(&floev1.ExecuteSQLRequest{Sql: "INSERT INTO notes VALUES ($1, $2)",
		Params: []*structpb.Value{structpb.NewNumberValue(float64(id)), structpb.NewStringValue("a note")}})
}

func selectReq(id int64) *connect.Request[floev1.ExecuteSQLRequest] {
	return connect.NewRequest(&floev1.ExecuteSQLRequest{Sql: "SELECT id, body FROM notes WHERE id = $1",
		Params: []*structpb.Value{structpb.NewNumberValue(float64(id))}})
}

// BenchmarkAPIInsertOneRow: one single-row INSERT per call over loopback
// Connect (goal: p50 ≤ 150 µs).
func BenchmarkAPIInsertOneRow(b *testing.B) {
	_, c := benchSetup(b)
	ctx := context.Background()
	samples := make([]time.Duration, 0, 1<<16)
	b.ResetTimer()
	for i := int64(0); b.Loop(); i++ {
		start := time.Now()
		if _, err := c.query.ExecuteSQL(ctx, insertReq(i)); err != nil {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(start))
	}
	reportLatency(b, samples)
}

// BenchmarkAPIPointSelect: SELECT by primary key over loopback Connect on
// a table of 10k rows, flushed to a segment (goal: p50 ≤ 200 µs).
func BenchmarkAPIPointSelect(b *testing.B) {
	_, c := benchSetup(b)
	c.exec(b, "INSERT INTO notes SELECT i, 'note ' || i FROM range(10000) t(i); FLUSH TABLE notes")
	ctx := context.Background()
	samples := make([]time.Duration, 0, 1<<16)
	b.ResetTimer()
	for i := int64(0); b.Loop(); i++ {
		start := time.Now()
		res, err := c.query.ExecuteSQL(ctx, selectReq(i%10000))
		if err != nil || len(res.Msg.GetResults()[0].GetRows()) != 1 {
			b.Fatal(err, res)
		}
		samples = append(samples, time.Since(start))
	}
	reportLatency(b, samples)
}

// BenchmarkAPIPointSelectProtocol: BenchmarkAPIPointSelect's call (the
// Connect protocol, binary protobuf) over HTTP/1.1 and over cleartext
// HTTP/2 (h2c), alternating per call so that a busy machine slows both
// alike: which transport costs less per unary call.
func BenchmarkAPIPointSelectProtocol(b *testing.B) {
	s, c := benchSetup(b)
	c.exec(b, "INSERT INTO notes SELECT i, 'note ' || i FROM range(10000) t(i); FLUSH TABLE notes")
	cs := map[string]*clients{"http1": c, "h2c": s.clientsOver(h2cClient(), c.token)}
	names := []string{"http1", "h2c"}
	ctx := context.Background()
	samples := map[string][]time.Duration{}
	for i := int64(0); b.Loop(); i++ {
		for _, name := range names {
			start := time.Now()
			res, err := cs[name].query.ExecuteSQL(ctx, selectReq(i%10000))
			if err != nil || len(res.Msg.GetResults()[0].GetRows()) != 1 {
				b.Fatal(err, res)
			}
			samples[name] = append(samples[name], time.Since(start))
		}
	}
	for _, name := range names {
		d := samples[name]
		slices.Sort(d)
		b.ReportMetric(float64(d[len(d)/2].Nanoseconds())/1e3, name+"-p50-µs")
	}
}

// BenchmarkAPIInsertShared16: 16 clients, each logged in as its own
// service user, each running single-row INSERTs into one SHARED table (one
// partition, as bench-peers' insert workload); reports rows per second.
func BenchmarkAPIInsertShared16(b *testing.B) {
	s, _ := benchSetup(b)
	const n = 16
	root := s.login("root", rootPassword)
	root.exec(b, "CREATE SHARED TABLE shared (id BIGINT PRIMARY KEY, body TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	cs := s.users(b, root, n, "svc%02d", " ROLE service")
	ctx := context.Background()
	var next atomic.Int64
	runConcurrent(b, cs, "rows/s", func(c *clients) func(k int) error {
		return func(int) error {
			req := connect.NewRequest(&floev1.ExecuteSQLRequest{Sql: "INSERT INTO shared VALUES ($1, $2)",
				Params: []*structpb.Value{structpb.NewNumberValue(float64(next.Add(1))), structpb.NewStringValue("a row")}})
			_, err := c.query.ExecuteSQL(ctx, req)
			return err
		}
	})
}

// runConcurrent runs b.N calls (at least one per client), divided among
// the clients, each client's calls in order on its own goroutine; call(c)
// returns client c's call k. It reports calls per second as unit and the
// latency of all calls; a failed call ends its client's share.
func runConcurrent(b *testing.B, cs []*clients, unit string, call func(c *clients) func(k int) error) {
	var mu sync.Mutex
	samples := make([]time.Duration, 0, 1<<16)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	per := max(1, b.N/len(cs))
	for _, c := range cs {
		do := call(c)
		wg.Go(func() {
			local := make([]time.Duration, 0, per)
			for k := range per {
				t0 := time.Now()
				if err := do(k); err != nil {
					b.Error(err)
					return
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			samples = append(samples, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	b.ReportMetric(float64(per*len(cs))/time.Since(start).Seconds(), unit)
	reportLatency(b, samples)
}

// BenchmarkAPIConcurrent16: 16 clients, each logged in as its own user,
// each alternating a single-row INSERT and a primary-key SELECT of its
// rows; reports calls per second and the latency of all calls.
func BenchmarkAPIConcurrent16(b *testing.B) {
	s, _ := benchSetup(b)
	const n = 16
	root := s.login("root", rootPassword)
	cs := s.users(b, root, n, "user%02d", "")
	ctx := context.Background()
	var next atomic.Int64
	runConcurrent(b, cs, "calls/s", func(c *clients) func(k int) error {
		var last int64
		return func(k int) error {
			req := selectReq(last)
			if k%2 == 0 {
				last = next.Add(1)
				req = insertReq(last)
			}
			res, err := c.query.ExecuteSQL(ctx, req)
			if err != nil {
				return err
			}
			if k%2 == 1 && len(res.Msg.GetResults()[0].GetRows()) != 1 {
				return fmt.Errorf("row %d not found", last)
			}
			return nil
		}
	})
}

// users creates n users named by the format name (with the index), with
// the CREATE USER suffix extra, and logs each in.
func (s *server) users(b *testing.B, root *clients, n int, name, extra string) []*clients {
	b.Helper()
	cs := make([]*clients, n)
	for i := range cs {
		user := fmt.Sprintf(name, i)
		root.exec(b, "CREATE USER "+user+" WITH PASSWORD 'user-password'"+extra)
		cs[i] = s.login(user, "user-password")
	}
	return cs
}
