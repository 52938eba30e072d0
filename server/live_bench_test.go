package server_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	floev1 "github.com/floedb/floe/proto/floe/v1"
	"github.com/floedb/floe/proto/floe/v1/floev1connect"
)

// BenchmarkLiveInsertToNotification measures, on one node over loopback,
// the time from sending an INSERT (ExecuteSQL) to the subscriber receiving
// its change on a Subscribe stream (p50, p99), and beside it the INSERT's
// own round trip (ack-p50, ack-p99: the write path with its WAL sync, which
// the notification waits for too) and how often the change arrived before
// the INSERT's response (notify-first-%).
func BenchmarkLiveInsertToNotification(b *testing.B) {
	r := start(b, nil)
	root := login(b, r, "root", rootPassword)
	r.sql(b, root, "CREATE SHARED TABLE public.lat (id BIGINT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	c := floev1connect.NewLiveServiceClient(http.DefaultClient, r.url)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := connect.NewRequest(&floev1.SubscribeRequest{Sql: "SUBSCRIBE TO public.lat WHERE v = 'x'"})
	req.Header().Set("Authorization", "Bearer "+root)
	s, err := c.Subscribe(ctx, req)
	if err != nil {
		b.Fatal(err)
	}
	for s.Receive() { // ack, then the (empty) initial rows
		if rows := s.Msg().GetRows(); rows != nil && rows.Last {
			break
		}
	}
	// The receiver stamps each change as it arrives.
	arrived := make(chan time.Time, 16)
	go func() {
		defer close(arrived)
		for s.Receive() {
			if s.Msg().GetChange() != nil {
				arrived <- time.Now()
			}
		}
	}()
	q := floev1connect.NewQueryServiceClient(http.DefaultClient, r.url)
	lat := make([]time.Duration, 0, b.N)
	ack := make([]time.Duration, 0, b.N)
	first := 0
	b.ResetTimer()
	for i := range b.N {
		ins := connect.NewRequest(&floev1.ExecuteSQLRequest{Sql: fmt.Sprintf("INSERT INTO public.lat VALUES (%d, 'x')", i)})
		ins.Header().Set("Authorization", "Bearer "+root)
		start := time.Now()
		if _, err := q.ExecuteSQL(ctx, ins); err != nil {
			b.Fatal(err)
		}
		acked := time.Now()
		at, ok := <-arrived
		if !ok {
			b.Fatal(s.Err())
		}
		if at.Before(acked) {
			first++
		}
		lat = append(lat, at.Sub(start))
		ack = append(ack, acked.Sub(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	slices.Sort(ack)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
	b.ReportMetric(ms(ack[len(ack)/2]), "ack-p50-ms")
	b.ReportMetric(ms(ack[len(ack)*99/100]), "ack-p99-ms")
	b.ReportMetric(100*float64(first)/float64(b.N), "notify-first-%")
}

// BenchmarkLiveSubscribeInitialLoad measures Subscribe with a 1000-row
// initial load: from the call to the last initial row.
func BenchmarkLiveSubscribeInitialLoad(b *testing.B) {
	r := start(b, nil)
	root := login(b, r, "root", rootPassword)
	r.sql(b, root, "CREATE SHARED TABLE public.init (id BIGINT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
	var vals []string
	for i := range 1000 {
		vals = append(vals, fmt.Sprintf("(%d, 'row %d')", i, i))
	}
	r.sql(b, root, "INSERT INTO public.init VALUES "+strings.Join(vals, ","))
	c := floev1connect.NewLiveServiceClient(http.DefaultClient, r.url)
	b.ResetTimer()
	for range b.N {
		ctx, cancel := context.WithCancel(context.Background())
		req := connect.NewRequest(&floev1.SubscribeRequest{Sql: "SUBSCRIBE TO public.init OPTIONS (batch_size = 1000)"})
		req.Header().Set("Authorization", "Bearer "+root)
		s, err := c.Subscribe(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for s.Receive() {
			if rows := s.Msg().GetRows(); rows != nil {
				n += len(rows.Rows)
				if rows.Last {
					break
				}
			}
		}
		if n != 1000 {
			b.Fatalf("%d rows", n)
		}
		cancel()
	}
}
