package manifest

import (
	"strings"
	"testing"
)

func int64Ptr(v int64) *int64 { return &v }

// Segment.Deleted round-trips, 0 included (a known count of none), and a
// manifest without it decodes with nil: unknown, which NoTombstones does
// not take for zero.
func TestSegmentDeletedRoundTrip(t *testing.T) {
	p := validPartition()
	p.Segments[0].Deleted = int64Ptr(0)
	p.Segments[1].Deleted = nil
	b, err := EncodePartition(p)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), `"deleted":`); n != 1 {
		t.Fatalf("%d deleted fields in %s, want 1", n, b)
	}
	got, err := DecodePartition(b)
	if err != nil {
		t.Fatal(err)
	}
	if d := got.Segments[0].Deleted; d == nil || *d != 0 || !got.Segments[0].NoTombstones() {
		t.Fatalf("segment 0: deleted %v, want 0", d)
	}
	if got.Segments[1].Deleted != nil || got.Segments[1].NoTombstones() {
		t.Fatalf("segment 1: deleted %v, want nil", got.Segments[1].Deleted)
	}
	p.Segments[0].Deleted = int64Ptr(3)
	if p.Segments[0].NoTombstones() {
		t.Fatal("3 tombstones reported as none")
	}
}
