package appctx

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/floedb/floe/lakehouse/objstore"
)

func TestParseFaultSpec(t *testing.T) {
	spec, err := parseFaultSpec("seed=7, put=0.5,put_after=0.25,any=0.1")
	if err != nil {
		t.Fatal(err)
	}
	if spec.seed != 7 || spec.before[objstore.OpPut] != 0.5 || spec.after[objstore.OpPut] != 0.25 || spec.before[objstore.OpAny] != 0.1 {
		t.Fatalf("spec = %+v", spec)
	}
	for _, bad := range []string{"put", "put=2", "put=x", "rename=0.1", "seed=-1"} {
		if _, err := parseFaultSpec(bad); err == nil || !strings.Contains(err.Error(), FaultInjectEnv) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

// A "before" fault fails the call without touching the store; an "after"
// fault lets it land and reports failure; other operations pass.
func TestFaultBucket(t *testing.T) {
	ctx := context.Background()
	mem := objstore.NewMem()
	spec, _ := parseFaultSpec("put=1")
	b := faultBucket(mem, spec)
	if _, err := b.Put(ctx, "a", []byte("x"), objstore.PutOptions{}); !errors.Is(err, objstore.ErrInjected) {
		t.Fatalf("put: %v", err)
	}
	if _, err := mem.Attributes(ctx, "a"); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("a before-fault reached the store: %v", err)
	}

	spec, _ = parseFaultSpec("put_after=1")
	b = faultBucket(mem, spec)
	if _, err := b.Put(ctx, "b", []byte("y"), objstore.PutOptions{}); !errors.Is(err, objstore.ErrInjected) {
		t.Fatalf("put: %v", err)
	}
	rc, _, err := b.Get(ctx, "b")
	if err != nil {
		t.Fatalf("an after-fault did not land: %v", err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "y" {
		t.Fatalf("b = %q", got)
	}
}
