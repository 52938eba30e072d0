package sqlexec

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/floedb/floe/lakehouse/admission"
	"github.com/floedb/floe/lakehouse/tablestore"
	"github.com/floedb/floe/manifest"
)

// syncWatch is a WritePath whose durable records what was held while the
// write waited for its sync.
type syncWatch struct {
	WritePath
	ctrl     *admission.Controller
	unlocked *bool
	// running and wasUnlocked are the query slots taken and whether the
	// partition lock was released when durable ran.
	running     int
	wasUnlocked bool
}

func (w *syncWatch) Apply(context.Context, *manifest.Table, string, []tablestore.Change) (func() error, error) {
	return func() error {
		w.running, w.wasUnlocked = w.ctrl.Running(), *w.unlocked
		return nil
	}, nil
}

// A statement's write waits for its WAL sync holding neither the
// partition lock nor its query slot, so that more concurrent writers than
// query slots share one sync; the statement's end releases nothing twice.
func TestWriteWaitsForSyncWithoutSlot(t *testing.T) {
	ctrl := admission.New(admission.Config{Slots: 1}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil)
	ticket, err := ctrl.Admit(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	unlocked := false
	w := &syncWatch{ctrl: ctrl, unlocked: &unlocked}
	x := &Executor{opts: Options{Writes: w, Admission: ctrl}}
	q := &stmtCtx{x: x, lim: &limits{x: x, ticket: ticket}}
	def := &manifest.Table{Namespace: "public", Name: "t"}
	if err := x.write(context.Background(), q, def, "", []tablestore.Change{{}}, func() { unlocked = true }); err != nil {
		t.Fatal(err)
	}
	if !w.wasUnlocked {
		t.Error("the write waited for its sync holding the partition lock")
	}
	if w.running != 0 {
		t.Errorf("the write waited for its sync holding %d query slots, want 0", w.running)
	}
	ticket.Release() // the statement's end
	if ctrl.Running() != 0 {
		t.Errorf("%d slots taken after the statement ended", ctrl.Running())
	}
	// The slot is free for the next statement.
	next, err := ctrl.Admit(context.Background(), "bob")
	if err != nil {
		t.Fatalf("next statement: %v", err)
	}
	next.Release()
}
