package reliability

import "testing"

// The model flags each kind of violation, and only those: a sound model
// that never complains proves nothing, so each class is provoked here.
func TestModelClassifies(t *testing.T) {
	m := NewModel()
	kept := m.NewKey("t", "a")
	m.Ack(kept, "n1", Row(m.NewValue()))
	lost := m.NewKey("t", "a")
	m.Ack(lost, "n1", Row(m.NewValue()))
	stale := m.NewKey("t", "a")
	old := m.NewValue()
	m.Ack(stale, "n1", Row(old))
	m.Ack(stale, "n1", Row(m.NewValue()))
	deleted := m.NewKey("t", "a")
	gone := m.NewValue()
	m.Ack(deleted, "n1", Row(gone))
	m.Ack(deleted, "n1", Absent)
	doubt := m.NewKey("t", "a")
	dv := m.NewValue()
	m.Failed(doubt, "n1", Row(dv)) // either state is fine
	other := m.NewKey("t", "b")
	ov := m.NewValue()
	m.Ack(other, "n1", Row(ov))
	fenced := m.FencedKey()

	keptV := m.keys[kept].possible()[0].V
	m.CheckScan(Scan{Table: "t", Owner: "a", Rows: [][2]int64{
		{kept, keptV}, {kept, keptV}, // duplicated
		// lost: missing
		{stale, old},     // lost update
		{deleted, gone},  // resurrected
		{doubt, dv},      // applied although it failed: allowed
		{other, ov},      // b's row in a's read
		{fenced, 1},      // a fenced node's write
		{99_999_999, 42}, // never written
	}}, false)
	c := m.Counts()
	want := Counts{Acked: 7, Ambiguous: 1, Reads: 1, Lost: 2, Resurrected: 1, Duplicated: 1, Foreign: 1, FencedAcks: 1, Phantom: 1, AppliedOnErr: 1}
	if c != want {
		t.Fatalf("counts\n got %+v\nwant %+v\n%q", c, want, m.Violations())
	}
}

// A take-over gives up exactly the old node's writes after its last
// acknowledged flush of the table: earlier ones must survive, later ones
// may or may not; the settle read pins the state, and a later change (a
// fenced node's flush landing) is a violation.
func TestModelGiveUp(t *testing.T) {
	m := NewModel()
	durable := m.NewKey("t", "a")
	v1 := m.NewValue()
	m.Ack(durable, "old", Row(v1))
	flushedAt := m.Seq()
	m.Flushed("old", "t", flushedAt)
	m.Flushed("old", "other", flushedAt+100) // another table's flush covers nothing here
	v2 := m.NewValue()
	m.Ack(durable, "old", Row(v2)) // after the flush: may be given up
	fresh := m.NewKey("t", "a")
	v3 := m.NewValue()
	m.Ack(fresh, "old", Row(v3)) // never flushed

	m.GiveUp("old")
	if c := m.Counts(); c.GivenUp != 2 {
		t.Fatalf("given up %d, want 2", c.GivenUp)
	}
	// The settle read shows durable back at v1 and fresh gone: allowed.
	m.CheckScan(Scan{Table: "t", Owner: "a", Rows: [][2]int64{{durable, v1}}}, true)
	if c := m.Counts(); c.Bugs() != 0 || c.Discarded != 2 {
		t.Fatalf("after the settle: %+v %q", c, m.Violations())
	}
	// Losing the flushed v1 would not have been allowed.
	m2 := NewModel()
	k := m2.NewKey("t", "a")
	m2.Ack(k, "old", Row(m2.NewValue()))
	m2.Flushed("old", "*", m2.Seq())
	m2.GiveUp("old")
	m2.CheckScan(Scan{Table: "t", Owner: "a"}, true)
	if c := m2.Counts(); c.Lost != 1 {
		t.Fatalf("a flushed write lost at a take-over: %+v", c)
	}
	// After the settle, the fenced node's v2 landing is a lost update.
	m.CheckRead(durable, Row(v2))
	if c := m.Counts(); c.Lost != 1 {
		t.Fatalf("a fenced flush landing after the settle: %+v", c)
	}
}
