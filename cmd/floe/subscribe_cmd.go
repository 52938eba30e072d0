package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/floedb/floe/internal/backoff"
	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/sqlparse"
	floev1 "github.com/floedb/floe/proto/floe/v1"
)

// newSubscribeCmd builds `floe subscribe`: run one live query and print
// its rows and changes as they arrive, resuming after a lost connection.
func newSubscribeCmd(c *cli) *cobra.Command {
	var (
		f          connFlags
		format     string
		batchSize  int64
		lastRows   int64
		fromSeq    uint64
		maxRetries int
	)
	cmd := &cobra.Command{
		Use:   "subscribe QUERY",
		Short: "Subscribe to a live query and print its changes as they arrive",
		Long: `Subscribe to a live query and print the matching rows, then every change,
as they arrive, until Ctrl-C.

  floe subscribe "SELECT id, body FROM app.notes WHERE room = 'a'"
  floe subscribe "SUBSCRIBE TO app.notes WHERE room = 'a' OPTIONS (last_rows = 10)"
  floe subscribe app.notes --from-seq 4711 --format json | jq .

QUERY is SUBSCRIBE TO …, or what follows SUBSCRIBE TO: a SELECT of plain
columns from one table with an optional WHERE, or a table name with an
optional WHERE (docs/API.md, LiveService). --batch-size, --last-rows and
--from-seq set the options of the same names.

Output (standard output; status and errors go to standard error):
  table (default)  one line per row or change:
                     row    -    id=1 body=hello
                     insert 43   id=2 body=hi
                     update 44   id=2 body=hey  (was body=hi)
                     delete 45   id=2 body=hey
  json             one JSON object per line: {"op":"row","row":{…}} for the
                   initial rows, {"op":"loaded","seq":S,"rows":N} after them,
                   {"op":"insert|update|upsert|delete","seq":S,"row":{…},"old":{…}}
                   for changes (values encoded as in query results).

A server that cannot be reached at the start is an error. Once
subscribed, when the connection drops, floe subscribes again with
FROM_SEQ = the _seq of the last change printed, after a growing pause
(0.1 s to 5 s), and at once after a resync (the subscriber fell behind),
so no change is missed or printed twice. Changes replayed on a resume may arrive as
"upsert" (the row as it is now) rather than each intermediate update. A
connection lost during the initial rows starts over and prints them
again. When the changes since the last one printed can no longer be
replayed (compaction dropped deletes since, or a take-over gave them
up), the server asks for a reload: floe prints the query's rows again, then the changes after them. The subscription ends, with exit code 1, when the server ends it
with a reason (the table was dropped, the right revoked, KILL LIVE QUERY,
a bad query); Ctrl-C, SIGTERM or a closed standard output end it with
exit code 0.

Credentials are those of floe sql (--token, --user/--password, or the
tokens stored by ` + "`floe login`" + `, refreshed when they expire).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := f.resolve(cmd.Flags(), c.environ); err != nil {
				return err
			}
			lf, err := parseLiveFormat(format)
			if err != nil {
				return fmt.Errorf("--format: %w", err)
			}
			if maxRetries < 0 {
				return fmt.Errorf("--max-retries %d: must not be negative", maxRetries)
			}
			text := liveStatement(args[0])
			st, err := parseSubscribe(text)
			if err != nil {
				fmt.Fprintln(c.stderr, errorLine(err, text, 0))
				return errReported
			}
			fl := cmd.Flags()
			if fl.Changed("batch-size") {
				if batchSize < 1 || batchSize > 1<<20 {
					return fmt.Errorf("--batch-size %d: must be between 1 and 1048576", batchSize)
				}
				st.BatchSize = batchSize
			}
			if fl.Changed("last-rows") {
				if lastRows < 0 {
					return fmt.Errorf("--last-rows %d: must not be negative", lastRows)
				}
				st.LastRows = lastRows
			}
			if fl.Changed("from-seq") {
				st.FromSeq, st.HasFromSeq = fromSeq, true
			}
			sess, err := openSession(ctx, &f, c.environ, cmd.InOrStdin(), c.stderr)
			if err != nil {
				return err
			}
			r := &liveRun{
				sess:       sess,
				out:        newLiveWriter(c.stdout, lf),
				status:     c.stderr,
				st:         st,
				namespace:  f.namespace,
				policy:     backoff.Policy{Min: 100 * time.Millisecond, Max: 5 * time.Second, Rand: rand.Int64N},
				maxRetries: maxRetries,
			}
			return r.run(ctx)
		},
	}
	fs := cmd.Flags()
	f.register(fs, withAuth|withNamespace)
	fs.StringVar(&format, "format", string(formatTable), "output format: table or json (JSON lines)")
	fs.Int64Var(&batchSize, "batch-size", 0, "initial rows per message (option BATCH_SIZE)")
	fs.Int64Var(&lastRows, "last-rows", 0, "only the N most recently changed matching rows first (option LAST_ROWS)")
	fs.Uint64Var(&fromSeq, "from-seq", 0, "no initial rows: the changes after this _seq (option FROM_SEQ)")
	fs.IntVar(&maxRetries, "max-retries", 0, "give up after this many failed reconnects in a row (0: never)")
	return cmd
}

// parseLiveFormat validates the --format of floe subscribe.
func parseLiveFormat(s string) (outputFormat, error) {
	switch f := outputFormat(strings.ToLower(strings.TrimSpace(s))); f {
	case formatTable, formatJSON:
		return f, nil
	}
	return "", fmt.Errorf("format %q: want table or json", s)
}

// liveStatement makes QUERY a SUBSCRIBE statement: one that does not
// start with SUBSCRIBE gets SUBSCRIBE TO in front.
func liveStatement(q string) string {
	q = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(q), ";"))
	if first, _, _ := strings.Cut(q, " "); strings.EqualFold(first, "SUBSCRIBE") {
		return q
	}
	return "SUBSCRIBE TO " + q
}

// parseSubscribe parses text as one SUBSCRIBE TO statement with the
// server's parser, so that a resume can set FROM_SEQ in it.
func parseSubscribe(text string) (*sqlparse.Subscribe, error) {
	stmts, err := sqlparse.Parse(text)
	if err != nil {
		return nil, err
	}
	if len(stmts) != 1 {
		return nil, dberr.New(dberr.InvalidArgument, "a live query is one statement, got %d", len(stmts))
	}
	st, ok := stmts[0].(*sqlparse.Subscribe)
	if !ok {
		return nil, dberr.New(dberr.InvalidArgument, "floe subscribe takes a live query: SELECT cols FROM ns.t [WHERE …] or ns.t [WHERE …]")
	}
	return st, nil
}

// renderSubscribe writes st back as SQL; with resume set it asks for the
// changes after resumeSeq instead of the initial rows.
func renderSubscribe(st *sqlparse.Subscribe, resume bool, resumeSeq uint64) string {
	var b strings.Builder
	b.WriteString("SUBSCRIBE TO SELECT ")
	if st.Columns == nil {
		b.WriteString("*")
	}
	for i, c := range st.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(sqlparse.QuoteIdent(c))
	}
	b.WriteString(" FROM ")
	b.WriteString(st.Table.String())
	if st.Where != nil {
		b.WriteString(" WHERE ")
		b.WriteString(st.Where.Text)
	}
	var opts []string
	if st.BatchSize > 0 {
		opts = append(opts, fmt.Sprintf("BATCH_SIZE = %d", st.BatchSize))
	}
	switch {
	case resume:
		opts = append(opts, fmt.Sprintf("FROM_SEQ = %d", resumeSeq))
	case st.HasFromSeq:
		opts = append(opts, fmt.Sprintf("FROM_SEQ = %d", st.FromSeq))
	case st.LastRows > 0:
		opts = append(opts, fmt.Sprintf("LAST_ROWS = %d", st.LastRows))
	}
	if len(opts) > 0 {
		b.WriteString(" OPTIONS (" + strings.Join(opts, ", ") + ")")
	}
	return b.String()
}

// liveRun is one `floe subscribe`: the streams it opens one after another
// and what it has printed. It is not safe for concurrent use.
//
// Invariant: every change printed has a _seq above the one before it, and
// last is the _seq of the last one printed (or of the snapshot the
// initial rows reflect); a resume asks for the changes after last, so
// none is missed or printed twice.
type liveRun struct {
	sess       *session
	out        *liveWriter
	status     io.Writer
	st         *sqlparse.Subscribe
	namespace  string
	policy     backoff.Policy
	maxRetries int

	// loaded: the initial rows were printed (or none were asked for), so
	// a new stream resumes with FROM_SEQ = last.
	loaded bool
	last   uint64
	// snapshot is the current stream's ack.snapshot_seq; streams counts
	// the streams opened.
	snapshot uint64
	streams  int
	initial  int
	// acked: a server has accepted the subscription once; until then a
	// failure to connect is an error (a wrong --server), not a drop.
	acked bool
}

// resyncEvent ends a stream whose server asked the client to resume.
type resyncEvent struct {
	seq    uint64
	reason string
}

func (e *resyncEvent) Error() string {
	return fmt.Sprintf("resync at _seq %d: %s", e.seq, e.reason)
}

// errStreamClosed is a stream that ended without an error or a resync.
var errStreamClosed = errors.New("the server closed the stream")

// outputError is a failed write of the output.
type outputError struct{ err error }

func (e *outputError) Error() string { return "write output: " + e.err.Error() }
func (e *outputError) Unwrap() error { return e.err }

// run opens streams until the subscription ends: ctx ends (nil), the
// output is closed (nil), or the server ends it with a reason, which is
// printed (errReported).
func (r *liveRun) run(ctx context.Context) error {
	if r.st.HasFromSeq {
		r.loaded, r.last = true, r.st.FromSeq
	}
	failures := 0
	refreshed := false
	for {
		sql := renderSubscribe(r.st, r.loaded, r.last)
		acked, err := r.stream(ctx, sql)
		if ctx.Err() != nil {
			return nil
		}
		if acked {
			failures, refreshed, r.acked = 0, false, true
		}
		var rs *resyncEvent
		var oe *outputError
		switch {
		case errors.As(err, &oe):
			if errors.Is(err, syscall.EPIPE) || errors.Is(err, os.ErrClosed) {
				return nil // the reader went away (| head)
			}
			return err
		case errors.As(err, &rs) && rs.seq == 0:
			// A resync without a _seq: the changes since the last one
			// printed cannot all be replayed. Load the rows again.
			fmt.Fprintf(r.status, "floe: resync (%s); reloading the rows\n", rs.reason)
			r.loaded, r.last = false, 0
			r.st.HasFromSeq = false
			continue
		case errors.As(err, &rs):
			// The server ends the stream after a resync: the changes
			// after the last one printed follow on a new stream.
			from := min(rs.seq, r.last)
			fmt.Fprintf(r.status, "floe: resync (%s); resuming from _seq %d\n", rs.reason, from)
			r.last = from
			continue
		case connect.CodeOf(err) == connect.CodeUnauthenticated && r.sess.tok.RefreshToken != "" && !refreshed:
			refreshed = true
			if rerr := r.sess.refresh(ctx); rerr != nil {
				return rerr
			}
			continue
		case !retryable(err) || !r.acked:
			fmt.Fprintln(r.status, errorLine(err, sql, 0))
			return errReported
		}
		failures++
		if r.maxRetries > 0 && failures > r.maxRetries {
			fmt.Fprintf(r.status, "floe: giving up after %d failed reconnects: %s\n", r.maxRetries, errorLine(err, sql, 0))
			return errReported
		}
		d := r.policy.Delay(failures)
		if r.loaded {
			fmt.Fprintf(r.status, "floe: connection lost (%v); resuming from _seq %d in %s\n", err, r.last, d.Round(time.Millisecond))
		} else {
			fmt.Fprintf(r.status, "floe: connection lost during the initial rows (%v); subscribing again in %s (the initial rows are printed again)\n", err, d.Round(time.Millisecond))
		}
		if err := sleepCtx(ctx, d); err != nil {
			return nil
		}
	}
}

// sleepCtx waits d or until ctx ends (its error).
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retryable reports whether a stream that failed with err is worth
// opening again: the connection failed, or the server is briefly unable
// to serve. An error the server gave with a reason (a Floe code: table
// dropped, right revoked, KILL LIVE QUERY, bad query) ends the
// subscription.
func retryable(err error) bool {
	if errors.Is(err, errStreamClosed) {
		return true
	}
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return true
	}
	if d := errorDetail(ce); d != nil {
		switch dberr.Code(d.GetCode()) {
		case dberr.Unavailable, dberr.RateLimited, dberr.Overloaded, dberr.Timeout, dberr.CatalogBehind:
			return true
		}
		return false
	}
	switch ce.Code() {
	case connect.CodeUnavailable, connect.CodeUnknown, connect.CodeInternal, connect.CodeCanceled,
		connect.CodeDeadlineExceeded, connect.CodeAborted:
		// No Floe detail: the transport failed (reset, EOF, a server
		// going away), not the query.
		return true
	}
	return false
}

// stream runs one Subscribe call and prints what it brings. acked
// reports that the server accepted the subscription.
func (r *liveRun) stream(ctx context.Context, sql string) (acked bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if r.sess.tok.RefreshToken != "" && r.sess.tok.expired(r.sess.now(), expirySkew) {
		if err := r.sess.refresh(ctx); err != nil {
			return false, err
		}
	}
	req := connect.NewRequest(&floev1.SubscribeRequest{Sql: sql, Namespace: r.namespace})
	req.Header().Set("Authorization", "Bearer "+r.sess.tok.AccessToken)
	s, err := r.sess.live.Subscribe(ctx, req)
	if err != nil {
		return false, err
	}
	defer s.Close()
	r.streams++
	for s.Receive() {
		switch ev := s.Msg().GetEvent().(type) {
		case *floev1.SubscribeResponse_Ack:
			acked = true
			a := ev.Ack
			r.out.cols = a.GetColumns()
			r.snapshot = a.GetSnapshotSeq()
			if r.loaded {
				if r.streams > 1 {
					fmt.Fprintf(r.status, "floe: resumed %s on %s from _seq %d\n", a.GetSubscriptionId(), a.GetNodeId(), r.last)
				} else {
					fmt.Fprintf(r.status, "floe: subscribed %s on %s from _seq %d\n", a.GetSubscriptionId(), a.GetNodeId(), r.last)
				}
			} else {
				r.initial = 0
				fmt.Fprintf(r.status, "floe: subscribed %s on %s at _seq %d\n", a.GetSubscriptionId(), a.GetNodeId(), r.snapshot)
			}
		case *floev1.SubscribeResponse_Rows:
			if r.loaded {
				continue // not sent on a resume
			}
			for _, row := range ev.Rows.GetRows() {
				if err := r.out.row(row.GetValues()); err != nil {
					return acked, err
				}
				r.initial++
			}
			if ev.Rows.GetLast() {
				r.loaded, r.last = true, r.snapshot
				if err := r.out.loaded(r.snapshot, r.initial); err != nil {
					return acked, err
				}
			}
			if err := r.out.flush(); err != nil {
				return acked, err
			}
		case *floev1.SubscribeResponse_Change:
			c := ev.Change
			if !r.loaded || c.GetSeq() <= r.last {
				continue // held by the snapshot or printed already
			}
			if err := r.out.change(c); err != nil {
				return acked, err
			}
			if err := r.out.flush(); err != nil {
				return acked, err
			}
			r.last = c.GetSeq()
		case *floev1.SubscribeResponse_Resync:
			return acked, &resyncEvent{seq: ev.Resync.GetFromSeq(), reason: ev.Resync.GetReason()}
		}
	}
	if err := s.Err(); err != nil {
		return acked, err
	}
	return acked, errStreamClosed
}

// liveWriter prints rows and changes in a format. It buffers until flush.
type liveWriter struct {
	w      *bufio.Writer
	format outputFormat
	cols   []*floev1.Column
	line   []byte
}

func newLiveWriter(w io.Writer, f outputFormat) *liveWriter {
	return &liveWriter{w: bufio.NewWriter(w), format: f}
}

func (lw *liveWriter) flush() error {
	if err := lw.w.Flush(); err != nil {
		return &outputError{err}
	}
	return nil
}

func (lw *liveWriter) emit() error {
	lw.line = append(lw.line, '\n')
	_, err := lw.w.Write(lw.line)
	lw.line = lw.line[:0]
	if err != nil {
		return &outputError{err}
	}
	return nil
}

// row prints one initial row.
func (lw *liveWriter) row(vals []*structpb.Value) error {
	if lw.format == formatJSON {
		lw.line = append(lw.line, `{"op":"row","row":`...)
		lw.line = lw.appendJSONRow(lw.line, vals)
		lw.line = append(lw.line, '}')
		return lw.emit()
	}
	lw.line = append(lw.line, "row    -    "...)
	lw.line = lw.appendPairs(lw.line, vals, nil)
	return lw.emit()
}

// loaded marks the end of the initial rows.
func (lw *liveWriter) loaded(seq uint64, n int) error {
	if lw.format == formatJSON {
		lw.line = fmt.Appendf(lw.line, `{"op":"loaded","seq":%d,"rows":%d}`, seq, n)
		return lw.emit()
	}
	return nil
}

// change prints one change.
func (lw *liveWriter) change(c *floev1.LiveChange) error {
	row, old := c.GetRow().GetValues(), c.GetOld().GetValues()
	if lw.format == formatJSON {
		lw.line = fmt.Appendf(lw.line, `{"op":%q,"seq":%d`, c.GetOp(), c.GetSeq())
		if c.GetRow() != nil {
			lw.line = append(lw.line, `,"row":`...)
			lw.line = lw.appendJSONRow(lw.line, row)
		}
		if c.GetOld() != nil {
			lw.line = append(lw.line, `,"old":`...)
			lw.line = lw.appendJSONRow(lw.line, old)
		}
		lw.line = append(lw.line, '}')
		return lw.emit()
	}
	lw.line = fmt.Appendf(lw.line, "%-6s %-4d ", c.GetOp(), c.GetSeq())
	switch {
	case c.GetRow() != nil:
		lw.line = lw.appendPairs(lw.line, row, nil)
		if c.GetOld() != nil {
			// An update: the columns it changed, as they were.
			was := lw.appendPairs(nil, old, row)
			if len(was) > 0 {
				lw.line = append(lw.line, "  (was "...)
				lw.line = append(lw.line, was...)
				lw.line = append(lw.line, ')')
			}
		}
	default:
		lw.line = lw.appendPairs(lw.line, old, nil)
	}
	return lw.emit()
}

// appendPairs appends col=value for each value; with unless set, only for
// the values that differ from it.
func (lw *liveWriter) appendPairs(b []byte, vals, unless []*structpb.Value) []byte {
	first := true
	for i, v := range vals {
		text := liveText(v)
		if unless != nil && i < len(unless) && liveText(unless[i]) == text {
			continue
		}
		if !first {
			b = append(b, ' ')
		}
		first = false
		b = append(b, lw.colName(i)...)
		b = append(b, '=')
		b = append(b, text...)
	}
	return b
}

// liveText renders a value for a line: NULL, or the value's text, quoted
// when it is empty or holds spaces, quotes or control characters.
func liveText(v *structpb.Value) string {
	t := valueText(v, "NULL")
	if _, ok := v.GetKind().(*structpb.Value_StringValue); ok {
		if t == "" || t == "NULL" || strings.ContainsAny(t, " \t\r\n\"=") || strconv.Quote(t) != `"`+t+`"` {
			return strconv.Quote(t)
		}
	}
	return t
}

// appendJSONRow appends vals as a JSON object keyed by column name, in
// column order.
func (lw *liveWriter) appendJSONRow(b []byte, vals []*structpb.Value) []byte {
	b = append(b, '{')
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		k, _ := json.Marshal(lw.colName(i))
		b = append(b, k...)
		b = append(b, ':')
		raw, err := json.Marshal(v.AsInterface())
		if err != nil {
			raw = []byte("null")
		}
		b = append(b, raw...)
	}
	return append(b, '}')
}

func (lw *liveWriter) colName(i int) string {
	if i < len(lw.cols) {
		return lw.cols[i].GetName()
	}
	return "col" + strconv.Itoa(i+1)
}
