// Package reliability is Floe's randomized reliability suite (`make
// reliability`; a short run is part of `make test`). Its test drives real
// `floe serve` processes through the real Connect API on a real object
// store, injects crashes, pauses past the writer lease, take-overs and
// object-store faults, and checks every read and the final state against
// the per-key model of this file. docs/RELIABILITY.md describes both.
package reliability

import (
	"fmt"
	"slices"
	"sync"
)

// State is a key's row: absent, or present with value V.
type State struct {
	Present bool
	V       int64
}

func (s State) String() string {
	if !s.Present {
		return "absent"
	}
	return fmt.Sprint(s.V)
}

// Absent is the state of a key without a row.
var Absent = State{}

// Row returns the state of a present row with value v.
func Row(v int64) State { return State{Present: true, V: v} }

// op is one write to a key since its last settle point.
type op struct {
	seq       uint64 // position in the acknowledgement order (or of the failure)
	node      string // the node (writer lease holder) that received it
	after     State  // the key's state if the write took effect
	ambiguous bool   // failed or unanswered: it may or may not have taken effect
}

// key is the model of one primary key. Each key is written by exactly one
// client at a time, one statement after the other, so its acknowledged
// writes are totally ordered. A write whose outcome is unknown retires the
// key: no one writes it again, so the late effect of that write (if any)
// is the only thing that can still change it.
type key struct {
	table, owner string
	base         []State // the possible states at the settle point
	ops          []op
	retired      bool
	history      map[int64]bool // every value ever written to the key
	// noLoss are the states possible without the last take-over's
	// give-up (nil when there was none since the last settle).
	noLoss []State
}

// Counts are the suite's totals. Lost, Resurrected and Duplicated — and
// every other bug counter — must be zero.
type Counts struct {
	Trials       int
	Kills        int // kill -9 and restart on the same data dir
	TakeOvers    int // SIGSTOP past the lease, take-over by another node, SIGCONT
	HandOffs     int // graceful stop, another node takes the lease
	FaultCycles  int // restarts toggling object-store faults
	Acked        int // writes acknowledged
	Ambiguous    int // writes that failed or went unanswered (outcome unknown)
	Refused      int // writes refused while the node was down (never sent)
	Reads        int // reads checked against the model (point reads and scans)
	Flushes      int // FLUSH/COMPACT statements acknowledged
	GivenUp      int // acknowledged writes a take-over may give up (after the old node's last flush)
	Discarded    int // keys whose settled state shows writes a take-over did give up
	Lost         int // an acknowledged write missing: a row gone, or an older value back
	Resurrected  int // a deleted row back, or a value no acknowledged write left there
	Duplicated   int // one key twice in one read
	Phantom      int // a row with a key or value no client ever wrote
	Foreign      int // a row of another user's partition
	FencedAcks   int // writes acknowledged by a node after another took its lease over
	AppliedOnErr int // (information) writes that failed but took effect
}

// Bugs returns the number of violations the suite found.
func (c Counts) Bugs() int {
	return c.Lost + c.Resurrected + c.Duplicated + c.Phantom + c.Foreign + c.FencedAcks
}

func (c Counts) String() string {
	return fmt.Sprintf("trials=%d (kill9=%d takeover=%d handoff=%d faults=%d) acknowledged=%d lost=%d resurrected=%d duplicated=%d | phantom=%d foreign=%d fenced_acks=%d | ambiguous=%d refused=%d may_give_up=%d given_up_keys=%d applied_on_error=%d reads=%d flush_compact=%d",
		c.Trials, c.Kills, c.TakeOvers, c.HandOffs, c.FaultCycles, c.Acked, c.Lost, c.Resurrected, c.Duplicated, c.Phantom, c.Foreign, c.FencedAcks,
		c.Ambiguous, c.Refused, c.GivenUp, c.Discarded, c.AppliedOnErr, c.Reads, c.Flushes)
}

// Model is the expected content of the tables, per key. It is safe for
// concurrent use.
type Model struct {
	mu      sync.Mutex
	keys    map[int64]*key
	nextKey int64
	nextVal int64
	seq     uint64
	// flushed[node][table] is the sequence number up to which node's
	// acknowledged writes to table are in the object store (table "*":
	// every table, after a clean stop).
	flushed map[string]map[string]uint64
	// fenced are the keys of writes sent to a fenced node.
	fenced map[int64]bool
	counts Counts
	// Violations describes each violation found, for the report.
	violations []string
}

// NewModel returns an empty model.
func NewModel() *Model {
	return &Model{keys: map[int64]*key{}, flushed: map[string]map[string]uint64{}, fenced: map[int64]bool{},
		nextKey: 1_000, nextVal: 1_000_000}
}

// NewKey allocates a key, never used before, of table, written by owner
// (whose partition holds it, for a USER table).
func (m *Model) NewKey(table, owner string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nextKey++
	m.keys[m.nextKey] = &key{table: table, owner: owner, base: []State{Absent}, history: map[int64]bool{}}
	return m.nextKey
}

// FencedKey allocates a key for a write sent to a fenced node, which must
// be refused and never appear.
func (m *Model) FencedKey() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nextKey++
	m.fenced[m.nextKey] = true
	return m.nextKey
}

// NewValue allocates a value never written before.
func (m *Model) NewValue() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nextVal++
	return m.nextVal
}

// Seq returns the sequence number of the last acknowledgement.
func (m *Model) Seq() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seq
}

// Ack records that node acknowledged a write leaving k in state after.
func (m *Model) Ack(k int64, node string, after State) {
	m.record(k, node, after, false)
}

// Failed records a write to k that failed or went unanswered: it may have
// taken effect. The key is retired.
func (m *Model) Failed(k int64, node string, after State) {
	m.record(k, node, after, true)
}

// Refused counts a write never sent (the node was down).
func (m *Model) Refused() {
	m.mu.Lock()
	m.counts.Refused++
	m.mu.Unlock()
}

func (m *Model) record(k int64, node string, after State, ambiguous bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	kk := m.keys[k]
	m.seq++
	kk.ops = append(kk.ops, op{seq: m.seq, node: node, after: after, ambiguous: ambiguous})
	if after.Present {
		kk.history[after.V] = true
	}
	if ambiguous {
		kk.retired = true
		m.counts.Ambiguous++
	} else {
		m.counts.Acked++
	}
}

// Retired reports whether k may no longer be written.
func (m *Model) Retired(k int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.keys[k].retired
}

// Retire stops writes to k (its state is in doubt).
func (m *Model) Retire(k int64) {
	m.mu.Lock()
	m.keys[k].retired = true
	m.mu.Unlock()
}

// Flushed records an acknowledged FLUSH TABLE table on node, sent when the
// last acknowledgement was seq: every write to table that node
// acknowledged up to seq is in the object store. table "*" is every table
// (a clean stop).
func (m *Model) Flushed(node, table string, seq uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.flushed[node] == nil {
		m.flushed[node] = map[string]uint64{}
	}
	m.flushed[node][table] = max(m.flushed[node][table], seq)
}

// CountFlush counts an acknowledged FLUSH or COMPACT.
func (m *Model) CountFlush() {
	m.mu.Lock()
	m.counts.Flushes++
	m.mu.Unlock()
}

// CountTrial counts a finished trial and its episode.
func (m *Model) CountTrial(episode func(*Counts) *int) {
	m.mu.Lock()
	m.counts.Trials++
	*episode(&m.counts)++
	m.mu.Unlock()
}

// Counts returns the totals so far.
func (m *Model) Counts() Counts {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counts
}

// Violations returns the description of every violation found.
func (m *Model) Violations() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.violations)
}

// possible returns the states k may be in if no acknowledged write was
// lost: the base, then each acknowledged write replaces the set and each
// write of unknown outcome adds its state to it.
func (kk *key) possible() []State {
	set := slices.Clone(kk.base)
	for _, o := range kk.ops {
		if o.ambiguous {
			set = addState(set, o.after)
		} else {
			set = []State{o.after}
		}
	}
	return set
}

// possibleAfterGiveUp returns the states k may be in once node's
// unflushed writes are given up: writes up to node's last acknowledged
// flush of the table are durable; each later write of node's may or may
// not have reached the object store (a background flush takes a prefix of
// the buffer), so the state after any prefix of them is possible.
func (m *Model) possibleAfterGiveUp(kk *key, node string) (set []State, givenUp int) {
	flushed := max(m.flushed[node][kk.table], m.flushed[node]["*"])
	set = slices.Clone(kk.base)
	for _, o := range kk.ops {
		switch {
		case o.ambiguous:
			set = addState(set, o.after)
		case o.node != node || o.seq <= flushed:
			set = []State{o.after}
		default:
			set = addState(set, o.after)
			givenUp++
		}
	}
	return set, givenUp
}

func addState(set []State, s State) []State {
	if slices.Contains(set, s) {
		return set
	}
	return append(set, s)
}

// GiveUp applies a take-over of node's lease: each key's possible states
// widen to include the loss of node's unflushed acknowledged writes. The
// caller settles the keys (Settle) with a read on the new node before any
// new write, so that a later change (a fenced node's flush landing) is
// caught.
func (m *Model) GiveUp(node string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, kk := range m.keys {
		set, n := m.possibleAfterGiveUp(kk, node)
		kk.noLoss = kk.possible()
		kk.base, kk.ops = set, nil
		m.counts.GivenUp += n
	}
}

// Scan is one read of a table by owner: the rows it returned, in order.
type Scan struct {
	Table, Owner string
	// Shared: every owner's keys of the table are expected (a SHARED
	// table); otherwise only Owner's.
	Shared bool
	Rows   [][2]int64 // key, value
}

// CheckScan checks a full read of a table taken while no write to it was
// in flight (other than writes of unknown outcome, whose keys are
// retired). With settle, each key's possible states collapse to the one
// read (a settle point after a take-over).
func (m *Model) CheckScan(s Scan, settle bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.counts.Reads++
	seen := map[int64]bool{}
	for _, r := range s.Rows {
		k, v := r[0], r[1]
		if seen[k] {
			m.violation(&m.counts.Duplicated, "%s read by %s: key %d returned twice", s.Table, s.Owner, k)
			continue
		}
		seen[k] = true
		kk, ok := m.keys[k]
		switch {
		case !ok && m.fenced[k]:
			m.violation(&m.counts.FencedAcks, "%s read by %s: key %d, written to a fenced node, landed", s.Table, s.Owner, k)
			continue
		case !ok:
			m.violation(&m.counts.Phantom, "%s read by %s: key %d was never written", s.Table, s.Owner, k)
			continue
		case kk.table != s.Table:
			m.violation(&m.counts.Phantom, "%s read by %s: key %d belongs to %s", s.Table, s.Owner, k, kk.table)
			continue
		case !s.Shared && kk.owner != s.Owner:
			m.violation(&m.counts.Foreign, "%s read by %s: key %d of %s's partition", s.Table, s.Owner, k, kk.owner)
			continue
		}
		m.checkKey(k, kk, Row(v), settle)
	}
	for k, kk := range m.keys {
		if kk.table == s.Table && (s.Shared || kk.owner == s.Owner) && !seen[k] {
			m.checkKey(k, kk, Absent, settle)
		}
	}
}

// CheckRead checks one read of key k (a point read by its writer, so no
// write to k is in flight).
func (m *Model) CheckRead(k int64, got State) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.counts.Reads++
	return m.checkKey(k, m.keys[k], got, false)
}

// checkKey classifies got against k's possible states; it reports
// whether got is possible.
func (m *Model) checkKey(k int64, kk *key, got State, settle bool) bool {
	set := kk.possible()
	if slices.Contains(set, got) {
		if settle {
			if kk.noLoss != nil && !slices.Contains(kk.noLoss, got) {
				m.counts.Discarded++
			}
			kk.base, kk.ops, kk.noLoss = []State{got}, nil, nil
		}
		if got != set[0] || len(set) > 1 {
			m.noteAppliedOnError(kk, got)
		}
		return true
	}
	where := fmt.Sprintf("%s key %d (owner %s): read %v, possible %v", kk.table, k, kk.owner, got, set)
	switch {
	case !got.Present:
		m.violation(&m.counts.Lost, "lost: %s", where)
	case !kk.history[got.V]:
		m.violation(&m.counts.Phantom, "phantom value: %s", where)
	case !slices.ContainsFunc(set, func(s State) bool { return s.Present }):
		m.violation(&m.counts.Resurrected, "resurrected: %s", where)
	default:
		m.violation(&m.counts.Lost, "lost update (an older value is back): %s", where)
	}
	// Go on from what the store holds, so one violation is counted once.
	kk.base, kk.ops, kk.noLoss = []State{got}, nil, nil
	return false
}

// noteAppliedOnError counts a read that shows the effect of a failed
// write (information: a failed statement may have taken effect when its
// answer was lost, but one that was refused should not have).
func (m *Model) noteAppliedOnError(kk *key, got State) {
	n := len(kk.ops)
	if n > 0 && kk.ops[n-1].ambiguous && kk.ops[n-1].after == got {
		m.counts.AppliedOnErr++
		kk.ops[n-1].ambiguous = false // count it once
	}
}

func (m *Model) violation(counter *int, format string, args ...any) {
	*counter++
	m.violations = append(m.violations, fmt.Sprintf(format, args...))
}

// FencedAck records an acknowledgement by a node after another node took
// its lease over: a violation.
func (m *Model) FencedAck(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.violation(&m.counts.FencedAcks, format, args...)
}
