package api

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"iter"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/floedb/floe/lakehouse/access"
	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/sqlexec"
	"github.com/floedb/floe/lakehouse/tablestore"
	"github.com/floedb/floe/livequery"
	"github.com/floedb/floe/livequery/filter"
	"github.com/floedb/floe/manifest"
	floev1 "github.com/floedb/floe/proto/floe/v1"
)

// LivePlanner binds subscriptions and replays changes (sqlexec.Executor).
type LivePlanner interface {
	PlanLive(ctx context.Context, p access.Principal, sql, ns string, params []any) (*sqlexec.LivePlan, error)
	// CatalogVersion is the version of the catalog PlanLive binds with
	// now (cheap: streams re-check when it changes).
	CatalogVersion() uint64
	ReadChanges(ctx context.Context, t *manifest.Table, partition string, fromSeq, toSeq uint64) iter.Seq2[tablestore.ChangeRow, error]
	// ReplayBounds are the lowest _seq from which ReadChanges yields
	// every change of a partition (compaction may have dropped older
	// deletes) and the highest _seq the partition has reached.
	ReplayBounds(ctx context.Context, t *manifest.Table, partition string) (floor, head uint64, err error)
}

// LiveOptions serve LiveService; nil Options.Live leaves it unserved.
type LiveOptions struct {
	Manager *livequery.Manager
	Planner LivePlanner
	// Heartbeat is the interval of heartbeats on an idle stream; each
	// interval also re-checks the subscription's table and rights, busy
	// or not (as does every catalog change; a dropped table or a revoked
	// right ends the stream). Default: 15s.
	Heartbeat time.Duration
	// MaxMessageBytes bounds one message of initial rows. Default: 4 MiB.
	MaxMessageBytes int
	// Fenced, when set, returns the error a subscription is refused with
	// once this process can no longer feed it (a node whose writer lease
	// another node took over: the writes it would stream go there), nil
	// while it can. The process ends the subscriptions it has then
	// (livequery.Manager.EndWhere).
	Fenced func() error
}

// defaultBatchSize is the initial-load batch size without BATCH_SIZE.
const defaultBatchSize = 500

type liveHandler struct {
	s     *Server
	opt   LiveOptions
	watch *catalogWatch // nil: re-checks at heartbeats only
}

// Subscribe implements floev1connect.LiveServiceHandler.
func (h liveHandler) Subscribe(ctx context.Context, req *connect.Request[floev1.SubscribeRequest], stream *connect.ServerStream[floev1.SubscribeResponse]) error {
	s := h.s
	id, err := s.caller(ctx)
	if err != nil {
		return err
	}
	p := id.Principal()
	fail := func(err error) error { return s.toConnect(ctx, err, 0) }
	params, err := paramValues(req.Msg.GetParams())
	if err != nil {
		return fail(err)
	}
	ns := req.Msg.GetNamespace()
	plan, err := h.opt.Planner.PlanLive(ctx, p, req.Msg.GetSql(), ns, params)
	if err != nil {
		return fail(err)
	}
	f, err := compileLive(plan)
	if err != nil {
		return fail(err)
	}
	m := h.opt.Manager
	connID := m.Connect(p.UserID)
	defer m.Disconnect(connID)
	spec := livequery.Spec{User: p.UserID, Table: plan.Table, Partition: plan.Partition, Columns: plan.Columns,
		Filter: f, Query: plan.Query, FromSeq: plan.FromSeq}
	sub, err := m.Subscribe(connID, spec)
	if err != nil {
		return fail(err)
	}
	if h.opt.Fenced != nil {
		// Asked once the subscription is registered: one registered
		// before the node learnt it was fenced is ended with the others.
		if err := h.opt.Fenced(); err != nil {
			return fail(err)
		}
	}
	types := make([]manifest.Type, len(plan.Columns))
	cols := make([]*floev1.Column, len(plan.Columns))
	for i, c := range plan.Columns {
		col := plan.Table.Columns[c]
		types[i] = col.Type
		cols[i] = &floev1.Column{Name: col.Name, Type: col.Type.String(), Nullable: col.Nullable}
	}

	// The subscription queues live changes from here on; the read below
	// fixes the snapshot, and Start drops what the read already holds.
	var initial []row.Row
	var snapshot uint64
	var reload string // set: the stream ends with a resync to reload
	if plan.HasFromSeq {
		var replay []livequery.Event
		for cr, err := range h.opt.Planner.ReadChanges(ctx, plan.Table, plan.Partition, plan.FromSeq+1, 0) {
			if err != nil {
				return fail(err)
			}
			if ev, ok := sub.EventFor(plan.Table, &cr); ok {
				replay = append(replay, ev)
			}
		}
		floor, head, err := h.opt.Planner.ReplayBounds(ctx, plan.Table, plan.Partition)
		if err != nil {
			return fail(err)
		}
		switch {
		case plan.FromSeq+1 < floor:
			// Deletes after FROM_SEQ may have been compacted away: the
			// client must reload, not resume (a resync without from_seq).
			// Read after the replay: the floor only grows, so a floor
			// below FROM_SEQ+1 now was below it when the replay read.
			reload = fmt.Sprintf("the changes after FROM_SEQ %d can no longer all be replayed (compaction has dropped deletes up to _seq %d); subscribe again without FROM_SEQ to reload", plan.FromSeq, floor-1)
			replay = nil
		case plan.FromSeq > head:
			// A position the partition never reached: resuming there
			// would drop every change up to it as already seen. After a
			// take-over it names a change that was given up, which the
			// client may still show. (The head only grows: a FROM_SEQ
			// above it now was above it during the replay.)
			reload = fmt.Sprintf("FROM_SEQ %d is beyond the partition's last change (_seq %d): the changes after _seq %d were given up when another node took the warehouse over, "+
				"or the position is not from this table; subscribe again without FROM_SEQ to reload", plan.FromSeq, head, head)
			replay = nil
		}
		snapshot = plan.FromSeq
		sub.Start(snapshot, replay)
	} else {
		initial, snapshot, err = h.load(ctx, plan, sub)
		if err != nil {
			return fail(err)
		}
		sub.Start(snapshot, nil)
	}
	if err := stream.Send(&floev1.SubscribeResponse{Event: &floev1.SubscribeResponse_Ack{Ack: &floev1.LiveAck{
		SubscriptionId: sub.ID, Columns: cols, SnapshotSeq: snapshot, NodeId: m.NodeID()}}}); err != nil {
		return err
	}
	if reload != "" {
		return stream.Send(&floev1.SubscribeResponse{Event: &floev1.SubscribeResponse_Resync{Resync: &floev1.LiveResync{FromSeq: 0, Reason: reload}}})
	}
	if !plan.HasFromSeq {
		if err := h.sendRows(stream, initial, plan.Columns, types, plan.BatchSize); err != nil {
			return fail(err)
		}
	}
	return h.pump(ctx, stream, sub, plan, p, ns, params, types)
}

// compileLive compiles the plan's filter. For a view: the statement's
// WHERE may name only the columns the view shows (it is checked against
// them alone), and the view's own filters apply as well.
func compileLive(plan *sqlexec.LivePlan) (*filter.Filter, error) {
	if plan.View == "" {
		return filter.Compile(plan.Where, plan.Table.Columns, plan.Params)
	}
	shown := make([]manifest.Column, len(plan.Table.Columns))
	for i, c := range plan.Table.Columns {
		shown[i] = c
		if !slices.Contains(plan.Visible, i) {
			shown[i].Name = "\x00" // no identifier names it
		}
	}
	if _, err := filter.Compile(plan.Where, shown, plan.Params); err != nil {
		return nil, err
	}
	parts := make([]string, 0, len(plan.ViewWhere)+1)
	for _, w := range plan.ViewWhere {
		if _, err := filter.Compile(w, plan.Table.Columns, nil); err != nil {
			return nil, dberr.Wrap(dberr.CodeOf(err), err, "view %s cannot be subscribed to: its WHERE (%s): %v", plan.View, w, err)
		}
		parts = append(parts, "("+w+")")
	}
	if strings.TrimSpace(plan.Where) != "" {
		parts = append(parts, "("+plan.Where+")")
	}
	return filter.Compile(strings.Join(parts, " AND "), plan.Table.Columns, plan.Params)
}

// load reads the partition's current rows that match the filter (all
// their columns), with the
// _seq they reflect: the highest _seq read (a reader never sees a _seq
// without every lower one of the partition, see wbuf.Buffer.Write). With
// LAST_ROWS it keeps the most recently changed rows.
func (h liveHandler) load(ctx context.Context, plan *sqlexec.LivePlan, sub *livequery.Subscription) ([]row.Row, uint64, error) {
	pk := make([]int, 0, len(plan.Table.PrimaryKey))
	for _, k := range plan.Table.PrimaryKey {
		for i, c := range plan.Table.Columns {
			if c.Name == k {
				pk = append(pk, i)
			}
		}
	}
	type entry struct {
		seq  uint64
		vals row.Row
	}
	state := map[string]entry{}
	var last uint64
	var key []byte
	for cr, err := range h.opt.Planner.ReadChanges(ctx, plan.Table, plan.Partition, 1, 0) {
		if err != nil {
			return nil, 0, err
		}
		last = max(last, cr.Seq)
		key = key[:0]
		for _, i := range pk {
			key = row.AppendKey(key, cr.Values[i])
		}
		if cr.Op == tablestore.OpDelete {
			delete(state, string(key))
			continue
		}
		state[string(key)] = entry{seq: cr.Seq, vals: cr.Values}
	}
	es := make([]entry, 0, len(state))
	for _, e := range state {
		if sub.Spec.Filter.Match(e.vals) {
			es = append(es, e)
		}
	}
	slices.SortFunc(es, func(a, b entry) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	if plan.LastRows > 0 && int64(len(es)) > plan.LastRows {
		es = es[int64(len(es))-plan.LastRows:]
	}
	out := make([]row.Row, len(es))
	for i, e := range es {
		out[i] = e.vals // all columns: sendRows projects
	}
	return out, last, nil
}

// sizeBound is an upper bound of lv's encoded size as one element of
// LiveRows.rows, without the walk of proto.Size: every tag takes one byte
// and every length at most five.
func sizeBound(lv *structpb.ListValue) int {
	n := 1 + 5 // rows: tag, length
	for _, v := range lv.Values {
		n += 1 + 5 // values: tag, length
		switch k := v.GetKind().(type) {
		case *structpb.Value_StringValue:
			n += 1 + 5 + len(k.StringValue)
		case *structpb.Value_NumberValue:
			n += 1 + 8
		case *structpb.Value_BoolValue, *structpb.Value_NullValue, nil:
			n += 1 + 1
		default:
			n += proto.Size(v)
		}
	}
	return n
}

// sendRows streams the columns cols of the initial rows in batches of
// batchSize rows and at most MaxMessageBytes; the last batch says so.
func (h liveHandler) sendRows(stream *connect.ServerStream[floev1.SubscribeResponse], rows []row.Row, cols []int, types []manifest.Type, batchSize int64) error {
	if batchSize <= 0 {
		batchSize = defaultBatchSize
	}
	maxBytes := h.opt.MaxMessageBytes
	if maxBytes <= 0 {
		maxBytes = 4 << 20
	}
	msg := &floev1.LiveRows{}
	size := 0
	flush := func(last bool) error {
		msg.Last = last
		err := stream.Send(&floev1.SubscribeResponse{Event: &floev1.SubscribeResponse_Rows{Rows: msg}})
		msg, size = &floev1.LiveRows{}, 0
		return err
	}
	arena := &valueArena{}
	for _, r := range rows {
		lv := arena.list(r, cols, types)
		n := sizeBound(lv)
		if n > maxBytes {
			return dberr.New(dberr.ResourceExhausted, "a row of %d bytes exceeds live.max_message_bytes (%d)", n, maxBytes)
		}
		if int64(len(msg.Rows)) >= batchSize || size+n > maxBytes {
			if err := flush(false); err != nil {
				return err
			}
		}
		msg.Rows = append(msg.Rows, lv)
		size += n
	}
	return flush(true)
}

// pump streams the subscription's events until it ends, the client goes
// away, or a re-check finds the table dropped or the right revoked. The
// re-check (the same binding and rights check as when subscribing) runs
// when the catalog changes — so a DROP, a raised access level or a
// replaced view ends the stream within catalogPoll, before any further
// change is sent — and at every heartbeat interval, also on a busy
// stream.
func (h liveHandler) pump(ctx context.Context, stream *connect.ServerStream[floev1.SubscribeResponse], sub *livequery.Subscription,
	plan *sqlexec.LivePlan, p access.Principal, ns string, params []any, types []manifest.Type) error {
	s := h.s
	hb := h.opt.Heartbeat
	if hb <= 0 {
		hb = 15 * time.Second
	}
	tick := time.NewTicker(hb)
	defer tick.Stop()
	var changed <-chan struct{}
	if h.watch != nil {
		h.watch.acquire()
		defer h.watch.release()
		changed = h.watch.changed()
	}
	recheck := func() error {
		if h.watch != nil {
			changed = h.watch.changed()
		}
		again, err := h.opt.Planner.PlanLive(ctx, p, plan.Query, ns, params)
		switch {
		case err != nil:
			return s.toConnect(ctx, dberr.Wrap(dberr.CodeOf(err), err, "live query %s ended: %v", sub.ID, err), 0)
		case again.Table.ID != plan.Table.ID:
			return s.toConnect(ctx, dberr.New(dberr.TableNotFound, "live query %s ended: table %s.%s was dropped (and created again)", sub.ID, plan.Table.Namespace, plan.Table.Name), 0)
		case again.View != "" && (!slices.Equal(again.ViewWhere, plan.ViewWhere) || !slices.Equal(again.Columns, plan.Columns)):
			return s.toConnect(ctx, dberr.New(dberr.Canceled, "live query %s ended: view %s (or a view it reads) was replaced; subscribe again", sub.ID, plan.View), 0)
		}
		return nil
	}
	var lastSeq uint64
	for {
		// A busy stream re-checks too, before its next change.
		select {
		case <-changed:
			if err := recheck(); err != nil {
				return err
			}
		case <-tick.C:
			if err := recheck(); err != nil {
				return err
			}
		default:
		}
		ev, ok, err := sub.TryNext()
		if err != nil {
			return s.toConnect(ctx, endReason(err), 0)
		}
		if ok {
			if ev.Kind == livequery.Resync {
				return stream.Send(&floev1.SubscribeResponse{Event: &floev1.SubscribeResponse_Resync{Resync: &floev1.LiveResync{
					FromSeq: ev.Seq, Reason: "the subscriber fell behind (live.queue_length events undelivered)"}}})
			}
			ch := &floev1.LiveChange{Op: ev.Kind.String(), Seq: ev.Seq}
			if ev.Row != nil {
				ch.Row = listValue(ev.Row, types)
			}
			if ev.Old != nil {
				ch.Old = listValue(ev.Old, types)
			}
			if err := stream.Send(&floev1.SubscribeResponse{Event: &floev1.SubscribeResponse_Change{Change: ch}}); err != nil {
				return err
			}
			lastSeq = ev.Seq
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-sub.Notify():
		case <-changed:
			if err := recheck(); err != nil {
				return err
			}
		case <-tick.C:
			if err := recheck(); err != nil {
				return err
			}
			if err := stream.Send(&floev1.SubscribeResponse{Event: &floev1.SubscribeResponse_Heartbeat{Heartbeat: &floev1.LiveHeartbeat{
				Seq: lastSeq, TimeMicros: time.Now().UnixMicro()}}}); err != nil {
				return err
			}
		}
	}
}

// catalogPoll is how often a catalogWatch reads the catalog version.
const catalogPoll = 100 * time.Millisecond

// catalogWatch tells the streams of a server that the catalog changed:
// while any stream uses it, one goroutine reads the version every
// catalogPoll (an atomic load) and closes the channel changed returned,
// replacing it. A stream's cost is one channel in its select, not a
// ticker of its own.
type catalogWatch struct {
	version func() uint64
	mu      sync.Mutex
	users   int
	ch      chan struct{}
	stop    chan struct{}
}

func newCatalogWatch(version func() uint64) *catalogWatch {
	return &catalogWatch{version: version, ch: make(chan struct{})}
}

func (w *catalogWatch) acquire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.users++; w.users == 1 {
		w.stop = make(chan struct{})
		go w.run(w.stop, w.version())
	}
}

func (w *catalogWatch) release() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.users--; w.users == 0 {
		close(w.stop)
	}
}

// changed returns a channel closed at the next catalog change.
func (w *catalogWatch) changed() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ch
}

func (w *catalogWatch) run(stop <-chan struct{}, v uint64) {
	t := time.NewTicker(catalogPoll)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if nv := w.version(); nv != v {
			v = nv
			w.mu.Lock()
			close(w.ch)
			w.ch = make(chan struct{})
			w.mu.Unlock()
		}
	}
}

// endReason turns a subscription's end into the error the client sees.
func endReason(err error) error {
	var de *dberr.Error
	if errors.As(err, &de) {
		return err
	}
	return dberr.Wrap(dberr.Canceled, err, "%v", err)
}

// listValue encodes a row for the API (docs/API.md, as query results):
// BIGINT and DECIMAL as strings, bytes as base64, dates and timestamps as
// ISO 8601, UUIDs in canonical form.
func listValue(r row.Row, types []manifest.Type) *structpb.ListValue {
	lv := &structpb.ListValue{Values: make([]*structpb.Value, len(r))}
	for i, v := range r {
		lv.Values[i] = rowScalar(v, types[i]).value(nil)
	}
	return lv
}

// scalar is a value as the API encodes it: NULL, a string, a number or a
// boolean.
type scalar struct {
	kind uint8
	str  string
	num  float64
	b    bool
}

const (
	scalarNull uint8 = iota
	scalarString
	scalarNumber
	scalarBool
)

func strScalar(s string) scalar { return scalar{kind: scalarString, str: s} }

// rowScalar encodes v of type t (see listValue).
func rowScalar(v row.Value, t manifest.Type) scalar {
	if v.IsNull() {
		return scalar{}
	}
	switch t.Kind {
	case manifest.KindBoolean:
		return scalar{kind: scalarBool, b: v.Bool()}
	case manifest.KindInt:
		return scalar{kind: scalarNumber, num: float64(v.Int64())}
	case manifest.KindBigInt:
		return strScalar(strconv.FormatInt(v.Int64(), 10))
	case manifest.KindFloat, manifest.KindDouble:
		switch f := v.Float64(); {
		case math.IsNaN(f):
			return strScalar("NaN")
		case math.IsInf(f, 1):
			return strScalar("Infinity")
		case math.IsInf(f, -1):
			return strScalar("-Infinity")
		default:
			return scalar{kind: scalarNumber, num: f}
		}
	case manifest.KindDecimal:
		return strScalar(new(big.Rat).SetFrac(v.DecimalBig(), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(t.Scale)), nil)).FloatString(int(t.Scale)))
	case manifest.KindText, manifest.KindJSON:
		return strScalar(v.Str())
	case manifest.KindBytes:
		return strScalar(base64.StdEncoding.EncodeToString([]byte(v.Str())))
	case manifest.KindDate:
		return strScalar(time.Unix(v.Int64()*86400, 0).UTC().Format("2006-01-02"))
	case manifest.KindTimestamp:
		return strScalar(time.UnixMicro(v.Int64()).UTC().Format("2006-01-02T15:04:05.999999Z07:00"))
	case manifest.KindUUID:
		u, err := uuid.FromBytes([]byte(v.Str()))
		if err == nil {
			return strScalar(u.String())
		}
	}
	return strScalar(fmt.Sprint(v))
}

// value builds the protobuf Value, from a's slabs (nil: one allocation
// per message).
func (sc scalar) value(a *valueArena) *structpb.Value {
	if a == nil {
		switch sc.kind {
		case scalarString:
			return structpb.NewStringValue(sc.str)
		case scalarNumber:
			return structpb.NewNumberValue(sc.num)
		case scalarBool:
			return structpb.NewBoolValue(sc.b)
		}
		return structpb.NewNullValue()
	}
	v := take(&a.vals)
	switch sc.kind {
	case scalarString:
		k := take(&a.strs)
		k.StringValue = sc.str
		v.Kind = k
	case scalarNumber:
		k := take(&a.nums)
		k.NumberValue = sc.num
		v.Kind = k
	case scalarBool:
		k := take(&a.bools)
		k.BoolValue = sc.b
		v.Kind = k
	default:
		v.Kind = take(&a.nulls)
	}
	return v
}

// valueArena hands out the messages of many rows from slabs of
// arenaSlab, so that encoding 1000 initial rows costs tens of
// allocations, not thousands. Messages are never copied: each is used
// in place, through its pointer.
type valueArena struct {
	vals  []structpb.Value
	strs  []structpb.Value_StringValue
	nums  []structpb.Value_NumberValue
	bools []structpb.Value_BoolValue
	nulls []structpb.Value_NullValue
	lists []structpb.ListValue
	ptrs  []*structpb.Value
}

const arenaSlab = 256

// take returns the next element of *slab, refilling it when empty.
func take[T any](slab *[]T) *T {
	if len(*slab) == 0 {
		*slab = make([]T, arenaSlab)
	}
	p := &(*slab)[0]
	*slab = (*slab)[1:]
	return p
}

// list encodes the columns cols of r (types in cols' order) as listValue
// does.
func (a *valueArena) list(r row.Row, cols []int, types []manifest.Type) *structpb.ListValue {
	if len(a.ptrs) < len(cols) {
		a.ptrs = make([]*structpb.Value, max(arenaSlab, len(cols)))
	}
	lv := take(&a.lists)
	lv.Values = a.ptrs[:len(cols):len(cols)]
	a.ptrs = a.ptrs[len(cols):]
	for i, c := range cols {
		lv.Values[i] = rowScalar(r[c], types[i]).value(a)
	}
	return lv
}
