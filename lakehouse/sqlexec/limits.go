package sqlexec

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/floedb/floe/lakehouse/access"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/floedb/floe/lakehouse/admission"
	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/duckengine"
	"github.com/floedb/floe/lakehouse/sqlparse"
)

// DefaultMaxResultBytes is Options.MaxResultBytes's default.
const DefaultMaxResultBytes = 64 << 20

// abandonGrace is how long a read-only statement may run past its deadline
// before the caller gets its answer anyway (see bounded).
const abandonGrace = 300 * time.Millisecond

// limits is one statement's accounting: its deadline and who set it, its
// admission ticket, what the size guard counted. Its fields are set before
// the statement runs and read-only after (the Usage and Ticket are safe
// for concurrent use).
type limits struct {
	x      *Executor
	parent context.Context // the caller's context
	user   string          // whose query slots the statement takes
	// clientDeadline is set when the caller's deadline comes before
	// query.timeout: the deadline that stops the statement is the
	// client's.
	clientDeadline time.Duration
	usage          *duckengine.Usage
	ticket         *admission.Ticket // nil without admission control, or before admitEngine
	// cancel stops the statement (the memory guard's handle).
	cancel context.CancelCauseFunc
	// releasePoint frees the point permit of a statement admitted as a
	// point statement; nil otherwise. Only its first call counts.
	releasePoint func()
}

// bounded runs one statement under its limits: admission (a query slot),
// the deadline (the caller's or query.timeout, whichever is first), the
// size guard's accounting, and the memory guard's cancellation.
//
// A read-only statement (a query, SHOW, DESCRIBE) returns at its deadline
// even when DuckDB does not stop in time (a single call that checks no
// interrupt): after abandonGrace the caller gets TIMEOUT or CANCELED while
// the statement goes on in the background until DuckDB stops; its query
// slot stays taken until then, so admission still counts that work.
// Other statements write: they always return their real outcome.
func (x *Executor) bounded(ctx context.Context, p access.Principal, st sqlparse.Statement, run func(context.Context, *limits) (Result, error)) (Result, error) {
	return x.boundedAs(ctx, p, st, false, false, run)
}

// boundedAs is bounded; a point statement (Executor.pointStatement) is
// admitted with a point permit (admission.Controller.AdmitPoint) instead
// of a query slot, and takes its query slot when it opens a DuckDB
// session (stmtCtx.session calls limits.admitEngine). An inline statement
// runs on the caller's goroutine even if it only reads: it must not reach
// DuckDB (it is not abandoned at its deadline).
func (x *Executor) boundedAs(ctx context.Context, p access.Principal, st sqlparse.Statement, point, inline bool, run func(context.Context, *limits) (Result, error)) (Result, error) {
	lim := &limits{x: x, parent: ctx, user: p.UserID, usage: &duckengine.Usage{}}
	if a := x.opts.Admission; a != nil {
		var err error
		if point {
			lim.releasePoint, err = a.AdmitPoint(ctx)
		} else {
			lim.ticket, err = a.Admit(ctx, p.UserID)
		}
		if err != nil {
			return Result{}, lim.admitError(ctx, err)
		}
	}
	if d, ok := ctx.Deadline(); ok && time.Until(d) < x.opts.QueryTimeout {
		lim.clientDeadline = max(time.Until(d), time.Millisecond)
	}
	ctx, cancelTimeout := context.WithTimeout(ctx, x.opts.QueryTimeout)
	ctx, cancel := context.WithCancelCause(ctx)
	lim.cancel = cancel
	if lim.ticket != nil {
		lim.usage.OnBuild = lim.ticket.Built
		lim.ticket.SetCancel(cancel)
	}
	ctx = duckengine.WithUsage(ctx, lim.usage)
	finish := func() {
		cancel(nil)
		cancelTimeout()
		if lim.ticket != nil {
			lim.ticket.Release()
		}
		if lim.releasePoint != nil {
			lim.releasePoint()
		}
	}
	if !readOnly(st) || inline {
		defer finish()
		return run(ctx, lim)
	}
	type outcome struct {
		res Result
		err error
	}
	done := make(chan outcome, 1)
	x.readers.Go(func() {
		res, err := run(ctx, lim)
		// Free the slot before the caller has the answer: its next
		// statement must not find it still taken.
		finish()
		done <- outcome{res, err}
	})
	select {
	case o := <-done:
		return o.res, o.err
	case <-ctx.Done():
	}
	grace := time.NewTimer(abandonGrace)
	defer grace.Stop()
	select {
	case o := <-done:
		return o.res, o.err
	case <-grace.C:
	}
	x.log.LogAttrs(ctx, slog.LevelWarn, "statement answered at its deadline, still stopping in the engine",
		slog.String("user", p.UserID), slog.String("statement", firstWords(st.Text())))
	return Result{}, lim.stopError(ctx, context.Cause(ctx))
}

// admitError is the error of a statement admission refused.
func (l *limits) admitError(ctx context.Context, err error) error {
	if errors.Is(err, admission.ErrBusy) {
		return dberr.Wrap(dberr.Overloaded, err, "the node is busy: %s", trimBusy(err))
	}
	return l.stopError(ctx, err)
}

// admitEngine takes a query slot for a statement admitted as a point
// statement that needs the engine after all, and gives its point permit
// back.
// It does nothing for a statement that holds a slot, or without admission
// control. ctx is the statement's. l may be nil (a statement outside
// bounded).
func (l *limits) admitEngine(ctx context.Context) error {
	if l == nil || l.releasePoint == nil || l.ticket != nil {
		return nil
	}
	t, err := l.x.opts.Admission.Admit(ctx, l.user)
	if err != nil {
		return l.admitError(ctx, err)
	}
	// Set before the engine runs, on the statement's goroutine: finish
	// (on the same goroutine) releases it.
	l.ticket = t
	l.usage.OnBuild = t.Built
	t.SetCancel(l.cancel)
	l.releasePoint()
	return nil
}

// yieldSlot gives the statement's query slot (or point permit) back
// before the statement ends, when what is left of it does no engine work (a write waiting for
// its WAL sync). The slot is released once: the statement's end then
// releases nothing. l may be nil (a statement outside bounded).
func (l *limits) yieldSlot() {
	if l == nil {
		return
	}
	if l.ticket != nil {
		l.ticket.Release()
	}
	if l.releasePoint != nil {
		l.releasePoint()
	}
}

// readOnly reports whether st only reads: it may be answered before it
// has stopped.
func readOnly(st sqlparse.Statement) bool {
	switch st.(type) {
	case *sqlparse.Select, *sqlparse.ShowNamespaces, *sqlparse.ShowTables, *sqlparse.ShowViews, *sqlparse.Describe:
		return true
	}
	return false
}

// trimBusy drops admission's error prefix from a busy error's text.
func trimBusy(err error) string {
	msg := err.Error()
	if p := admission.ErrBusy.Error() + ": "; len(msg) > len(p) && msg[:len(p)] == p {
		return msg[len(p):]
	}
	return msg
}

// stopError is the error of a statement whose context ended (ctx is the
// statement's): stopped by the memory guard, past the client's deadline,
// past query.timeout, or cancelled by the client.
func (l *limits) stopError(ctx context.Context, err error) error {
	cause := context.Cause(ctx)
	switch {
	case errors.Is(cause, admission.ErrMemory):
		budget := int64(0)
		if a := l.x.opts.Admission; a != nil {
			budget = a.Config().MemoryBudget
		}
		return dberr.Wrap(dberr.ResourceExhausted, err,
			"the node went past its memory budget (query.process_memory_limit, %d MiB) and stopped its largest statement, this one: make it smaller (filter or aggregate earlier, add LIMIT) or retry when the node is less busy",
			budget>>20)
	case l.parent.Err() != nil && errors.Is(l.parent.Err(), context.DeadlineExceeded):
		if l.clientDeadline > 0 {
			return dberr.Wrap(dberr.Timeout, err, "the statement did not finish within the client's deadline (%s) and was stopped", l.clientDeadline.Round(time.Millisecond))
		}
		return dberr.Wrap(dberr.Timeout, err, "the client's deadline passed and the statement was stopped")
	case l.parent.Err() != nil:
		return dberr.Wrap(dberr.Canceled, err, "the statement was cancelled")
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return dberr.Wrap(dberr.Timeout, err, "the statement ran longer than query.timeout (%s) and was stopped", l.x.opts.QueryTimeout)
	}
	return dberr.Wrap(dberr.Canceled, err, "the statement was cancelled")
}

// resultSize estimates the bytes one value read from DuckDB takes: what a
// result holds in memory and roughly what it takes on the wire.
func resultSize(v any) int64 {
	switch v := v.(type) {
	case nil:
		return 1
	case string:
		return int64(len(v)) + 16
	case []byte:
		return int64(len(v)) + 24
	case []any:
		n := int64(24)
		for _, e := range v {
			n += resultSize(e)
		}
		return n
	case map[string]any:
		n := int64(48)
		for k, e := range v {
			n += int64(len(k)) + 16 + resultSize(e)
		}
		return n
	case duckdb.Map:
		n := int64(48)
		for k, e := range v {
			n += resultSize(k) + resultSize(e)
		}
		return n
	}
	return 16
}
