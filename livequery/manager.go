// Package livequery is the live-query engine (seed US2): the
// LiveQueryManager is the one owner of live connections, subscriptions and
// their compiled filters. The storage engine hands it every acknowledged
// change through the tablestore.ChangeSink seam (OnTableChange); it
// matches each changed row against the subscriptions of the row's table
// and partition, found by index, and queues an event for each subscriber
// whose view of the table the change affects.
//
// Invariants:
//   - every subscription belongs to exactly one connection; Disconnect
//     removes a connection, its subscriptions and their index entries in
//     one step under the manager's lock, so a concurrent change is matched
//     either against all of them or against none;
//   - a subscriber receives the changes of its partition in _seq order,
//     each at most once (events with a _seq at or below the last one
//     queued are dropped), and never has more than QueueLength events
//     waiting: on overflow its queue is cleared, it receives one Resync
//     event carrying the last _seq it was given, and the subscription ends
//     — a change is never dropped without the subscriber being told;
//   - the cost of a change is O(subscriptions that can match it): a
//     subscription whose filter fixes a column to values (col = v, col IN
//     (…)) is indexed under those values, the others are checked on every
//     change of their partition.
package livequery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/tablestore"
	"github.com/floedb/floe/livequery/filter"
	"github.com/floedb/floe/manifest"
)

// Limits bound the manager's resources; see config.LiveConfig.
type Limits struct {
	MaxPerUser       int
	MaxPerConnection int
	QueueLength      int
}

// DefaultLimits are config.Default()'s [live] limits.
var DefaultLimits = Limits{MaxPerUser: 100, MaxPerConnection: 20, QueueLength: 1024}

// EventKind says what an Event is.
type EventKind uint8

// The event kinds.
const (
	// Insert: a row started matching (it is new, or an update made it
	// match). Row is set.
	Insert EventKind = iota + 1
	// Update: a matching row changed and still matches; Row is the new
	// values, Old the previous ones.
	Update
	// Upsert: a row replayed from storage matches; the subscriber may or
	// may not have it already (replays do not know the previous state).
	Upsert
	// Delete: a row stopped matching (deleted, or an update moved it out
	// of the filter). Old holds its values (at least its key).
	Delete
	// Resync: the subscriber fell behind and its queue overflowed; Seq is
	// the last _seq it was sent. It resumes with from_seq = Seq. The
	// subscription has ended.
	Resync
)

// String returns the kind's protocol name.
func (k EventKind) String() string {
	switch k {
	case Insert:
		return "insert"
	case Update:
		return "update"
	case Upsert:
		return "upsert"
	case Delete:
		return "delete"
	case Resync:
		return "resync"
	}
	return "unknown"
}

// Event is one change delivered to a subscriber. Row and Old are in the
// subscription's column order (its projection).
type Event struct {
	Kind EventKind
	Seq  uint64
	Row  row.Row
	Old  row.Row
}

// ErrEnded is wrapped by the error Next returns once a subscription has
// ended; the error's message says why.
var ErrEnded = errors.New("live query ended")

// Spec is what a subscription asks for.
type Spec struct {
	// User is the subscriber's user id (for limits and listings).
	User string
	// Table is the table's definition; rows of other schema versions end
	// the subscription (the subscriber must subscribe again).
	Table *manifest.Table
	// Partition is the partition the subscriber may read: its own user id
	// for USER and STREAM tables, "" for SHARED and SYSTEM tables.
	Partition string
	// Columns are the indexes into Table.Columns of the projected columns.
	Columns []int
	// Filter is the compiled WHERE over Table.Columns (nil: every row).
	Filter *filter.Filter
	// Query is the subscription's text, for listings.
	Query string
	// Options is the options' text, for listings.
	Options string
	// FromSeq is the _seq a resuming subscriber has seen (0: none); a
	// queue overflow before Start tells it to resume from there.
	FromSeq uint64
}

// Subscription is one live query of one connection. Its methods are safe
// for concurrent use.
type Subscription struct {
	ID     string
	ConnID string
	Spec   Spec
	// Created is when Subscribe registered it.
	Created time.Time

	m *Manager
	// keys are where the subscription is indexed (nil: unindexed).
	eqCol  int
	eqKeys []string
	// eqPos[i] is the subscription's position in the index's list for
	// eqKeys[i] (a list, not a set: one small slice per value costs far
	// less memory than a map; removal swaps the last entry in).
	eqPos []int

	mu sync.Mutex
	// started: Start was called; before that events queue with no _seq
	// floor (the initial load has not fixed its snapshot yet).
	started bool
	// floor: events with Seq <= floor are dropped (already in the
	// snapshot, or already queued).
	floor uint64
	queue []Event
	// sent is the _seq of the last event Next returned (or the snapshot
	// _seq), which a Resync carries.
	sent   uint64
	ended  error
	notify chan struct{} // capacity 1: something to read

	delivered  atomic.Int64
	lastChange atomic.Int64 // unix nanos
}

// Manager is the LiveQueryManager. Create it with New. Its methods are
// safe for concurrent use.
type Manager struct {
	nodeID string
	lim    Limits
	log    *slog.Logger
	nextID atomic.Uint64
	// onStart, when set, is called after a subscription starts (see
	// OnStart).
	onStart atomic.Pointer[func(t *manifest.Table, partition string)]

	mu    sync.RWMutex
	conns map[string]*conn
	subs  map[string]*Subscription
	users map[string]int
	// index: table ID → partition → subscriptions.
	index map[string]map[string]*partIndex

	// Metrics.
	resyncs  atomic.Int64
	events   atomic.Int64
	fanoutNs atomic.Int64
	batches  atomic.Int64
	// checks counts (row, subscription) pairs matched: the fan-out's work.
	checks atomic.Int64
}

type conn struct {
	id   string
	user string
	subs map[string]*Subscription
}

// partIndex holds one partition's subscriptions of one table.
type partIndex struct {
	// scan are the subscriptions checked on every change.
	scan map[*Subscription]struct{}
	// eq: column → value key → subscriptions whose filter requires that
	// column to equal that value (each once; see Subscription.eqPos).
	eq map[int]map[string][]*Subscription
}

func (p *partIndex) empty() bool { return len(p.scan) == 0 && len(p.eq) == 0 }

// New returns a manager for the node nodeID.
func New(nodeID string, lim Limits, log *slog.Logger) *Manager {
	if lim.QueueLength < 1 {
		lim.QueueLength = DefaultLimits.QueueLength
	}
	if lim.MaxPerUser < 1 {
		lim.MaxPerUser = DefaultLimits.MaxPerUser
	}
	if lim.MaxPerConnection < 1 {
		lim.MaxPerConnection = DefaultLimits.MaxPerConnection
	}
	if log == nil {
		log = slog.Default()
	}
	return &Manager{nodeID: nodeID, lim: lim, log: log.With("node_id", nodeID),
		conns: map[string]*conn{}, subs: map[string]*Subscription{}, users: map[string]int{},
		index: map[string]map[string]*partIndex{}}
}

// NodeID returns the node the manager runs on.
func (m *Manager) NodeID() string { return m.nodeID }

var _ tablestore.ChangeSink = (*Manager)(nil)

// Connect registers a connection of user and returns its id.
func (m *Manager) Connect(user string) string {
	id := fmt.Sprintf("c%d", m.nextID.Add(1))
	m.mu.Lock()
	m.conns[id] = &conn{id: id, user: user, subs: map[string]*Subscription{}}
	m.mu.Unlock()
	return id
}

// Subscribe adds a subscription to connection connID. It refuses with
// ResourceExhausted beyond the per-user and per-connection limits, and
// with InvalidArgument for an unknown connection. The subscription
// queues changes at once; the caller reads its initial rows and then
// calls Start with the snapshot's _seq.
func (m *Manager) Subscribe(connID string, spec Spec) (*Subscription, error) {
	s := &Subscription{ConnID: connID, Spec: spec, Created: time.Now(), m: m, eqCol: -1, notify: make(chan struct{}, 1), sent: spec.FromSeq}
	s.ID = fmt.Sprintf("%s-%d", m.nodeID, m.nextID.Add(1))
	// Index under the first equality conjunct on a projected-or-not
	// column: a matching row must hold one of its values, before and
	// after an update (an update's old row is looked up too).
	if eqs := spec.Filter.Equalities(); len(eqs) > 0 {
		s.eqCol = eqs[0].Column
		for _, v := range eqs[0].Values {
			if k := valueKey(v); !slices.Contains(s.eqKeys, k) {
				s.eqKeys = append(s.eqKeys, k)
			}
		}
		s.eqPos = make([]int, len(s.eqKeys))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.conns[connID]
	if !ok {
		return nil, dberr.New(dberr.InvalidArgument, "live query: connection %s is not open", connID)
	}
	if c.user != spec.User {
		return nil, dberr.New(dberr.PermissionDenied, "live query: connection %s belongs to another user", connID)
	}
	if len(c.subs) >= m.lim.MaxPerConnection {
		return nil, dberr.New(dberr.ResourceExhausted, "live query: a connection may hold at most %d subscriptions (live.max_subscriptions_per_connection); unsubscribe one first", m.lim.MaxPerConnection)
	}
	if m.users[spec.User] >= m.lim.MaxPerUser {
		return nil, dberr.New(dberr.ResourceExhausted, "live query: user %s holds %d subscriptions on node %s, the limit (live.max_subscriptions_per_user); unsubscribe one first", spec.User, m.users[spec.User], m.nodeID)
	}
	c.subs[s.ID] = s
	m.subs[s.ID] = s
	m.users[spec.User]++
	parts := m.index[spec.Table.ID]
	if parts == nil {
		parts = map[string]*partIndex{}
		m.index[spec.Table.ID] = parts
	}
	pi := parts[spec.Partition]
	if pi == nil {
		pi = &partIndex{}
		parts[spec.Partition] = pi
	}
	if s.eqCol < 0 {
		if pi.scan == nil {
			pi.scan = map[*Subscription]struct{}{}
		}
		pi.scan[s] = struct{}{}
	} else {
		if pi.eq == nil {
			pi.eq = map[int]map[string][]*Subscription{}
		}
		byVal := pi.eq[s.eqCol]
		if byVal == nil {
			byVal = map[string][]*Subscription{}
			pi.eq[s.eqCol] = byVal
		}
		for i, k := range s.eqKeys {
			s.eqPos[i] = len(byVal[k])
			byVal[k] = append(byVal[k], s)
		}
	}
	return s, nil
}

// removeLocked takes s out of every map and ends it with reason. m.mu is
// held for writing.
func (m *Manager) removeLocked(s *Subscription, reason error) {
	if _, ok := m.subs[s.ID]; !ok {
		return
	}
	delete(m.subs, s.ID)
	if c := m.conns[s.ConnID]; c != nil {
		delete(c.subs, s.ID)
	}
	if m.users[s.Spec.User]--; m.users[s.Spec.User] <= 0 {
		delete(m.users, s.Spec.User)
	}
	parts := m.index[s.Spec.Table.ID]
	if pi := parts[s.Spec.Partition]; pi != nil {
		if s.eqCol < 0 {
			delete(pi.scan, s)
		} else if byVal := pi.eq[s.eqCol]; byVal != nil {
			for i, k := range s.eqKeys {
				list := byVal[k]
				at, last := s.eqPos[i], len(list)-1
				if at > last || list[at] != s {
					continue // not indexed (cannot happen: the lock is held)
				}
				if at != last {
					moved := list[last]
					list[at] = moved
					moved.eqPos[slices.Index(moved.eqKeys, k)] = at
				}
				list[last] = nil
				if last == 0 {
					delete(byVal, k)
				} else {
					byVal[k] = list[:last]
				}
			}
			if len(byVal) == 0 {
				delete(pi.eq, s.eqCol)
			}
		}
		if pi.empty() {
			delete(parts, s.Spec.Partition)
			if len(parts) == 0 {
				delete(m.index, s.Spec.Table.ID)
			}
		}
	}
	s.end(reason)
}

// Unsubscribe ends subscription id of connection connID with reason
// "unsubscribed". It reports whether the subscription existed.
func (m *Manager) Unsubscribe(connID, id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.subs[id]
	if !ok || s.ConnID != connID {
		return false
	}
	m.removeLocked(s, fmt.Errorf("%w: unsubscribed", ErrEnded))
	return true
}

// Kill ends subscription id (KILL LIVE QUERY) with a reason naming who
// killed it. allowed decides whether the caller may kill a subscription of
// that user. It returns NotFound-like InvalidArgument when there is no
// such subscription (or the caller may not see it).
func (m *Manager) Kill(id, by string, allowed func(user string) bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.subs[id]
	if !ok || !allowed(s.Spec.User) {
		return dberr.New(dberr.InvalidArgument, "live query %s does not exist on node %s (see system.live_queries)", id, m.nodeID)
	}
	m.removeLocked(s, fmt.Errorf("%w: killed by %s (KILL LIVE QUERY)", ErrEnded, by))
	return nil
}

// EndTable ends every subscription to table id with reason (the table was
// dropped, or its schema changed).
func (m *Manager) EndTable(tableID string, reason error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.subs {
		if s.Spec.Table.ID == tableID {
			m.removeLocked(s, reason)
		}
	}
}

// EndWhere ends every subscription for which f reports a reason (a
// revoked right, …).
func (m *Manager) EndWhere(f func(s *Subscription) error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.subs {
		if reason := f(s); reason != nil {
			m.removeLocked(s, reason)
		}
	}
}

// Disconnect removes connection connID with all its subscriptions, in one
// step. Disconnecting an unknown or closed connection does nothing.
func (m *Manager) Disconnect(connID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.conns[connID]
	if !ok {
		return
	}
	for _, s := range c.subs {
		m.removeLocked(s, fmt.Errorf("%w: connection closed", ErrEnded))
	}
	delete(m.conns, connID)
}

// Stats counts what the manager holds.
type Stats struct {
	Connections, Subscriptions, IndexedPartitions int
	// Resyncs, Events and Checks are totals since New: queue overflows,
	// events queued, and (row, subscription) pairs checked by fan-out.
	Resyncs, Events, Checks int64
}

// Stats returns what the manager holds now.
func (m *Manager) Stats() Stats {
	m.mu.RLock()
	defer m.mu.RUnlock()
	st := Stats{Connections: len(m.conns), Subscriptions: len(m.subs), Resyncs: m.resyncs.Load(), Events: m.events.Load(), Checks: m.checks.Load()}
	for _, parts := range m.index {
		st.IndexedPartitions += len(parts)
	}
	return st
}

// Info describes a subscription for system.live_queries.
type Info struct {
	ID, ConnID, User, TableID, Table, Query, Options, Status, NodeID string
	Created, LastChange                                              time.Time
	Delivered                                                        int64
	QueueDepth                                                       int
	// LastSeq is the last _seq delivered (or the snapshot's).
	LastSeq uint64
}

// List returns the subscriptions visible to a caller: those whose user
// visible reports true for.
func (m *Manager) List(visible func(user string) bool) []Info {
	m.mu.RLock()
	subs := make([]*Subscription, 0, len(m.subs))
	for _, s := range m.subs {
		if visible(s.Spec.User) {
			subs = append(subs, s)
		}
	}
	m.mu.RUnlock()
	out := make([]Info, 0, len(subs))
	for _, s := range subs {
		s.mu.Lock()
		status := "loading"
		if s.started {
			status = "live"
		}
		depth, sent := len(s.queue), s.sent
		s.mu.Unlock()
		var last time.Time
		if n := s.lastChange.Load(); n != 0 {
			last = time.Unix(0, n).UTC()
		}
		out = append(out, Info{ID: s.ID, ConnID: s.ConnID, User: s.Spec.User, TableID: s.Spec.Table.ID,
			Table: s.Spec.Table.Namespace + "." + s.Spec.Table.Name, Query: s.Spec.Query, Options: s.Spec.Options,
			Status: status, NodeID: m.nodeID, Created: s.Created.UTC(), LastChange: last,
			Delivered: s.delivered.Load(), QueueDepth: depth, LastSeq: sent})
	}
	return out
}

// Publish implements tablestore.ChangeSink: it is OnTableChange.
func (m *Manager) Publish(b tablestore.ChangeBatch) { m.OnTableChange(b) }

// OnTableChange matches the rows of b against the subscriptions of b's
// table and partition and queues their events. It never blocks on a
// subscriber.
func (m *Manager) OnTableChange(b tablestore.ChangeBatch) {
	start := time.Now()
	m.mu.RLock()
	pi := m.index[b.Table.ID][b.Partition]
	if pi == nil {
		m.mu.RUnlock()
		return
	}
	var stale []*Subscription
	cand := map[*Subscription]struct{}{}
	for i := range b.Rows {
		r := &b.Rows[i]
		clear(cand)
		m.checks.Add(int64(len(pi.scan)))
		for s := range pi.scan {
			stale = m.deliver(s, b, r, stale)
		}
		for col, byVal := range pi.eq {
			if r.Op == tablestore.OpDelete && r.Old == nil {
				// A delete whose old values the writer did not read:
				// only key columns are known.
				if !isKeyColumn(b.Table, col) {
					for _, list := range byVal {
						for _, s := range list {
							cand[s] = struct{}{}
						}
					}
					continue
				}
			}
			if col < len(r.Values) {
				for _, s := range byVal[valueKey(r.Values[col])] {
					cand[s] = struct{}{}
				}
			}
			if r.Old != nil && col < len(r.Old) {
				for _, s := range byVal[valueKey(r.Old[col])] {
					cand[s] = struct{}{}
				}
			}
		}
		m.checks.Add(int64(len(cand)))
		for s := range cand {
			stale = m.deliver(s, b, r, stale)
		}
	}
	m.mu.RUnlock()
	if len(stale) > 0 {
		m.mu.Lock()
		for _, s := range stale {
			m.removeLocked(s, fmt.Errorf("%w: the table's schema changed (version %d to %d); subscribe again", ErrEnded, s.Spec.Table.SchemaVersion, b.Table.SchemaVersion))
		}
		m.mu.Unlock()
	}
	m.batches.Add(1)
	m.fanoutNs.Add(int64(time.Since(start)))
}

// deliver queues r's event for s, if any; a subscription compiled for
// another schema version is added to stale instead.
func (m *Manager) deliver(s *Subscription, b tablestore.ChangeBatch, r *tablestore.ChangeRow, stale []*Subscription) []*Subscription {
	if s.Spec.Table.SchemaVersion != b.Table.SchemaVersion {
		return append(stale, s)
	}
	if ev, ok := s.EventFor(b.Table, r); ok {
		if !s.push(ev) {
			m.resyncs.Add(1)
		}
		m.events.Add(1)
	}
	return stale
}

func isKeyColumn(t *manifest.Table, col int) bool {
	if col >= len(t.Columns) {
		return false
	}
	name := t.Columns[col].Name
	for _, k := range t.PrimaryKey {
		if k == name {
			return true
		}
	}
	return false
}

// valueKey is v's identity as a map key (kind + payload).
func valueKey(v row.Value) string {
	var b []byte
	b = row.AppendKey(b, v)
	return string(b)
}

// EventFor returns the event a change row of table t means for s, if any
// (also for rows replayed from storage).
func (s *Subscription) EventFor(t *manifest.Table, r *tablestore.ChangeRow) (Event, bool) {
	f := s.Spec.Filter
	switch r.Op {
	case tablestore.OpInsert:
		if f.Match(r.Values) {
			return Event{Kind: Insert, Seq: r.Seq, Row: s.project(r.Values)}, true
		}
	case tablestore.OpUpdate:
		was, is := f.Match(r.Old), f.Match(r.Values)
		switch {
		case was && is:
			return Event{Kind: Update, Seq: r.Seq, Row: s.project(r.Values), Old: s.project(r.Old)}, true
		case was:
			return Event{Kind: Delete, Seq: r.Seq, Old: s.project(r.Old)}, true
		case is:
			return Event{Kind: Insert, Seq: r.Seq, Row: s.project(r.Values)}, true
		}
	case tablestore.OpUpsert:
		if f.Match(r.Values) {
			return Event{Kind: Upsert, Seq: r.Seq, Row: s.project(r.Values)}, true
		}
		// It may have matched before: tell the subscriber the key is
		// out (a delete of a row it does not hold is a no-op for it).
		return Event{Kind: Delete, Seq: r.Seq, Old: s.project(keyOnly(t, r.Values))}, true
	case tablestore.OpDelete:
		if r.Old != nil {
			if f.Match(r.Old) {
				return Event{Kind: Delete, Seq: r.Seq, Old: s.project(r.Old)}, true
			}
			return Event{}, false
		}
		return Event{Kind: Delete, Seq: r.Seq, Old: s.project(r.Values)}, true
	}
	return Event{}, false
}

// keyOnly returns vs with the non-key columns NULL.
func keyOnly(t *manifest.Table, vs row.Row) row.Row {
	out := make(row.Row, len(vs))
	for i := range vs {
		if isKeyColumn(t, i) {
			out[i] = vs[i]
		}
	}
	return out
}

func (s *Subscription) project(r row.Row) row.Row {
	if r == nil {
		return nil
	}
	out := make(row.Row, len(s.Spec.Columns))
	for i, c := range s.Spec.Columns {
		if c < len(r) {
			out[i] = r[c]
		}
	}
	return out
}

// push queues ev unless it is at or below the floor. It reports false
// when the queue overflowed (the subscription then ends with a resync).
func (s *Subscription) push(ev Event) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended != nil {
		return true
	}
	if s.started && ev.Seq <= s.floor {
		return true
	}
	if len(s.queue) >= s.m.lim.QueueLength {
		s.queue = nil
		s.ended = &resyncError{seq: s.sent}
		s.wake()
		// The manager's index still holds s until the reader sees the
		// resync and the owner unsubscribes; it receives nothing more.
		go s.m.dropEnded(s)
		return false
	}
	s.queue = append(s.queue, ev)
	if s.started {
		s.floor = ev.Seq
	}
	s.wake()
	return true
}

// dropEnded removes s from the manager after it ended by itself.
func (m *Manager) dropEnded(s *Subscription) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.subs[s.ID]; ok {
		m.removeLocked(s, nil)
	}
}

func (s *Subscription) wake() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

func (s *Subscription) end(reason error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended == nil {
		if reason == nil {
			reason = fmt.Errorf("%w: removed", ErrEnded)
		}
		s.ended = reason
	}
	s.wake()
}

// resyncError ends a subscription whose queue overflowed.
type resyncError struct{ seq uint64 }

func (e *resyncError) Error() string {
	return fmt.Sprintf("live query ended: the subscriber fell behind; resume with from_seq=%d", e.seq)
}
func (e *resyncError) Unwrap() error { return ErrEnded }

// Start fixes the subscription's starting point and begins delivery:
// replay are the events the caller read from storage after seq (a resume
// with from_seq = seq; nil for a fresh subscription whose initial rows
// reflect every change up to seq), in _seq order, each above seq. Queued
// live events at or below seq or the last replayed _seq are dropped
// (the snapshot or the replay holds them); the rest follow the replay.
func (s *Subscription) Start(seq uint64, replay []Event) {
	s.start(seq, replay)
	if f := s.m.onStart.Load(); f != nil {
		(*f)(s.Spec.Table, s.Spec.Partition)
	}
}

// OnStart sets f to be called (synchronously, so it must return quickly)
// each time a subscription starts, with its table and partition: a live
// node's Gate catches the partition up at once.
func (m *Manager) OnStart(f func(t *manifest.Table, partition string)) { m.onStart.Store(&f) }

func (s *Subscription) start(seq uint64, replay []Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started = true
	s.floor, s.sent = seq, seq
	if n := len(replay); n > 0 && replay[n-1].Seq > s.floor {
		s.floor = replay[n-1].Seq
	}
	q := append([]Event(nil), replay...)
	for _, ev := range s.queue {
		if ev.Seq > s.floor {
			q = append(q, ev)
			s.floor = ev.Seq
		}
	}
	s.queue = q
	s.wake()
}

// Next returns the subscription's next event, waiting for one. When the
// subscription has ended it returns its queued events first, then an
// error wrapping ErrEnded whose message is the reason; a queue overflow
// yields a Resync event first. ctx ends the wait, not the subscription.
func (s *Subscription) Next(ctx context.Context) (Event, error) {
	for {
		s.mu.Lock()
		if s.started && len(s.queue) > 0 {
			ev := s.queue[0]
			s.queue[0] = Event{}
			s.queue = s.queue[1:]
			s.sent = ev.Seq
			s.mu.Unlock()
			s.delivered.Add(1)
			s.lastChange.Store(time.Now().UnixNano())
			return ev, nil
		}
		if s.ended != nil {
			err := s.ended
			var rs *resyncError
			if errors.As(err, &rs) && rs.seq != ^uint64(0) {
				seq := rs.seq
				rs.seq = ^uint64(0) // the Resync event is given once
				s.mu.Unlock()
				return Event{Kind: Resync, Seq: seq}, nil
			}
			s.mu.Unlock()
			return Event{}, err
		}
		s.mu.Unlock()
		select {
		case <-s.notify:
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
}

// TryNext is Next without waiting: ok is false when no event is ready.
func (s *Subscription) TryNext() (ev Event, ok bool, err error) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ev, err = s.Next(ctx)
	if errors.Is(err, context.Canceled) {
		return Event{}, false, nil
	}
	return ev, err == nil, err
}

// Err returns why the subscription ended, or nil.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended
}

// Notify returns a channel that receives when an event may be ready.
func (s *Subscription) Notify() <-chan struct{} { return s.notify }
