package sqlexec

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/access"
	"github.com/floedb/floe/lakehouse/admission"
	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/sqlparse"
)

// A read-only statement whose engine work does not stop at the deadline
// is answered at deadline + abandonGrace, and keeps its query slot until
// the work really ends; a write is always waited for.
func TestBoundedAnswersAtTheDeadline(t *testing.T) {
	ctrl := admission.New(admission.Config{Slots: 2}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil)
	x := &Executor{opts: Options{QueryTimeout: 200 * time.Millisecond, Admission: ctrl},
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	release := make(chan struct{})
	stuck := func(ctx context.Context, _ *limits) (Result, error) {
		<-release // an engine call that checks no interrupt
		return Result{}, ctx.Err()
	}
	sel, err := sqlparse.Parse("SELECT 1")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = x.bounded(context.Background(), access.Principal{UserID: "alice"}, sel[0], stuck)
	if took := time.Since(start); took > x.opts.QueryTimeout+time.Second {
		t.Errorf("answered after %s", took)
	}
	var de *dberr.Error
	if !errors.As(err, &de) || de.Code != dberr.Timeout {
		t.Fatalf("got %v, want TIMEOUT", err)
	}
	if ctrl.Running() != 1 {
		t.Fatalf("the abandoned statement holds %d slots, want 1 until it stops", ctrl.Running())
	}
	close(release)
	for i := 0; ctrl.Running() != 0; i++ {
		if i > 500 {
			t.Fatal("the slot was not given back")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// A write waits for its real outcome.
	ins, err := sqlparse.Parse("INSERT INTO t VALUES (1)")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	slow := func(ctx context.Context, _ *limits) (Result, error) {
		<-ctx.Done()
		time.Sleep(2 * abandonGrace)
		close(done)
		return Result{Message: "INSERT 1"}, nil
	}
	res, err := x.bounded(context.Background(), access.Principal{UserID: "alice"}, ins[0], slow)
	select {
	case <-done:
	default:
		t.Fatal("the write was answered before it finished")
	}
	if err != nil || res.Message != "INSERT 1" {
		t.Fatalf("write: %v, %v", res, err)
	}
}
