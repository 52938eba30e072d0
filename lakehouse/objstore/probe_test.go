package objstore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/objstore/objstoretest"
)

func TestProbePassesOnEveryBackend(t *testing.T) {
	objstoretest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		steps, err := objstore.Probe(t.Context(), b, "probe/obj")
		if err != nil {
			t.Fatalf("Probe: %v (steps %+v)", err, steps)
		}
		if len(steps) != 7 {
			t.Fatalf("ran %d steps, want 7", len(steps))
		}
		if _, err := b.Attributes(t.Context(), "probe/obj"); !objstore.IsNotFound(err) {
			t.Fatalf("probe object left behind: %v", err)
		}
	})
}

// ignoresConditions is a server that accepts conditional headers and
// ignores them, the failure Probe exists to catch.
type ignoresConditions struct{ objstore.Bucket }

func (b ignoresConditions) Put(ctx context.Context, key string, data []byte, _ objstore.PutOptions) (objstore.Attrs, error) {
	return b.Bucket.Put(ctx, key, data, objstore.PutOptions{})
}

func TestProbeCatchesIgnoredConditions(t *testing.T) {
	mem := objstore.NewMem()
	steps, err := objstore.Probe(t.Context(), ignoresConditions{mem}, "probe/obj")
	if err == nil || !strings.Contains(err.Error(), "If-None-Match on an existing key is refused") ||
		!strings.Contains(err.Error(), "does not support conditional writes") {
		t.Fatalf("err = %v", err)
	}
	if last := steps[len(steps)-1]; last.Err == nil {
		t.Fatalf("last step %q passed", last.Name)
	}
	if _, err := mem.Attributes(t.Context(), "probe/obj"); !objstore.IsNotFound(err) {
		t.Fatalf("failed probe left its object: %v", err)
	}
}
