//go:build invariants

package manifest

import (
	"strings"
	"testing"

	"github.com/floedb/floe/lakehouse/objstore"
)

// TestInvariantSharedManifestMutated: under the invariants tag, mutating a
// manifest returned by Latest is caught the next time the cache serves it.
func TestInvariantSharedManifestMutated(t *testing.T) {
	ctx := t.Context()
	l := NewCatalogLog(objstore.NewMem(), LogOptions{})
	if _, err := l.Commit(ctx, addNamespace("app"), CommitOptions{}); err != nil {
		t.Fatal(err)
	}
	c, err := l.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.Namespaces[0].Name = "oops" // forbidden: c is shared
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), "was mutated after it was shared") {
			t.Fatalf("recover() = %v, want the invariant panic", r)
		}
	}()
	_, _ = l.Latest(ctx)
}
