package api

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"iter"
	"math/big"
	"slices"
	"strconv"
	"strings"
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
	ReadChanges(ctx context.Context, t *manifest.Table, partition string, fromSeq, toSeq uint64) iter.Seq2[tablestore.ChangeRow, error]
}

// LiveOptions serve LiveService; nil Options.Live leaves it unserved.
type LiveOptions struct {
	Manager *livequery.Manager
	Planner LivePlanner
	// Heartbeat is the interval of heartbeats on an idle stream; each
	// also re-checks the subscription's table and rights (a dropped table
	// or a revoked right ends the stream). Default: 15s.
	Heartbeat time.Duration
	// MaxMessageBytes bounds one message of initial rows. Default: 4 MiB.
	MaxMessageBytes int
}

// defaultBatchSize is the initial-load batch size without BATCH_SIZE.
const defaultBatchSize = 500

type liveHandler struct {
	s   *Server
	opt LiveOptions
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
	if !plan.HasFromSeq {
		if err := h.sendRows(stream, initial, types, plan.BatchSize); err != nil {
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

// load reads the partition's current rows that match the filter, with the
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
		out[i] = project(e.vals, plan.Columns)
	}
	return out, last, nil
}

func project(r row.Row, cols []int) row.Row {
	out := make(row.Row, len(cols))
	for i, c := range cols {
		out[i] = r[c]
	}
	return out
}

// sendRows streams the initial rows in batches of batchSize rows and at
// most MaxMessageBytes; the last batch says so.
func (h liveHandler) sendRows(stream *connect.ServerStream[floev1.SubscribeResponse], rows []row.Row, types []manifest.Type, batchSize int64) error {
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
	for _, r := range rows {
		lv := listValue(r, types)
		n := proto.Size(lv)
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
// away, or a re-check finds the table dropped or the right revoked.
func (h liveHandler) pump(ctx context.Context, stream *connect.ServerStream[floev1.SubscribeResponse], sub *livequery.Subscription,
	plan *sqlexec.LivePlan, p access.Principal, ns string, params []any, types []manifest.Type) error {
	s := h.s
	hb := h.opt.Heartbeat
	if hb <= 0 {
		hb = 15 * time.Second
	}
	tick := time.NewTicker(hb)
	defer tick.Stop()
	var lastSeq uint64
	for {
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
		case <-tick.C:
			// The same binding and rights check as when subscribing.
			again, err := h.opt.Planner.PlanLive(ctx, p, plan.Query, ns, params)
			switch {
			case err != nil:
				return s.toConnect(ctx, dberr.Wrap(dberr.CodeOf(err), err, "live query %s ended: %v", sub.ID, err), 0)
			case again.Table.ID != plan.Table.ID:
				return s.toConnect(ctx, dberr.New(dberr.TableNotFound, "live query %s ended: table %s.%s was dropped (and created again)", sub.ID, plan.Table.Namespace, plan.Table.Name), 0)
			case again.View != "" && (!slices.Equal(again.ViewWhere, plan.ViewWhere) || !slices.Equal(again.Columns, plan.Columns)):
				return s.toConnect(ctx, dberr.New(dberr.Canceled, "live query %s ended: view %s (or a view it reads) was replaced; subscribe again", sub.ID, plan.View), 0)
			}
			if err := stream.Send(&floev1.SubscribeResponse{Event: &floev1.SubscribeResponse_Heartbeat{Heartbeat: &floev1.LiveHeartbeat{
				Seq: lastSeq, TimeMicros: time.Now().UnixMicro()}}}); err != nil {
				return err
			}
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
		lv.Values[i] = rowValue(v, types[i])
	}
	return lv
}

func rowValue(v row.Value, t manifest.Type) *structpb.Value {
	if v.IsNull() {
		return structpb.NewNullValue()
	}
	switch t.Kind {
	case manifest.KindBoolean:
		return structpb.NewBoolValue(v.Bool())
	case manifest.KindInt:
		return structpb.NewNumberValue(float64(v.Int64()))
	case manifest.KindBigInt:
		return structpb.NewStringValue(strconv.FormatInt(v.Int64(), 10))
	case manifest.KindFloat, manifest.KindDouble:
		return floatValue(v.Float64())
	case manifest.KindDecimal:
		return structpb.NewStringValue(new(big.Rat).SetFrac(v.DecimalBig(), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(t.Scale)), nil)).FloatString(int(t.Scale)))
	case manifest.KindText, manifest.KindJSON:
		return structpb.NewStringValue(v.Str())
	case manifest.KindBytes:
		return structpb.NewStringValue(base64.StdEncoding.EncodeToString([]byte(v.Str())))
	case manifest.KindDate:
		return structpb.NewStringValue(time.Unix(v.Int64()*86400, 0).UTC().Format("2006-01-02"))
	case manifest.KindTimestamp:
		return structpb.NewStringValue(time.UnixMicro(v.Int64()).UTC().Format("2006-01-02T15:04:05.999999Z07:00"))
	case manifest.KindUUID:
		u, err := uuid.FromBytes([]byte(v.Str()))
		if err == nil {
			return structpb.NewStringValue(u.String())
		}
	}
	return structpb.NewStringValue(fmt.Sprint(v))
}
