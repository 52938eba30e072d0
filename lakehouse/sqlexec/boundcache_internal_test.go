package sqlexec

import (
	"fmt"
	"testing"

	"github.com/floedb/floe/lakehouse/access"
)

// TestViewFormCacheBounds: the cache holds at most two generations of
// maxViewForms forms, keeps the forms used recently, drops every form when
// the catalog version advances, and stores nothing for older versions.
func TestViewFormCacheBounds(t *testing.T) {
	var c viewFormCache
	key := func(i int, catalog uint64) viewFormKey {
		return viewFormKey{viewID: "v1", schemaVersion: 1, catalog: catalog, principal: access.Principal{UserID: fmt.Sprint("u", i), Role: access.RoleUser}}
	}
	hot := key(-1, 5)
	c.put(hot, &viewForm{})
	for i := range 5 * maxViewForms {
		c.put(key(i, 5), &viewForm{})
		if i%100 == 0 {
			if _, ok := c.get(hot); !ok {
				t.Fatalf("after %d puts: a form used every 100 puts was dropped", i)
			}
		}
		if n := c.len(); n > 2*maxViewForms {
			t.Fatalf("after %d puts: %d forms, more than %d", i, n, 2*maxViewForms)
		}
	}
	if _, ok := c.get(key(0, 5)); ok {
		t.Fatal("the oldest form survived four generations")
	}
	if _, ok := c.get(key(5*maxViewForms-1, 5)); !ok {
		t.Fatal("the newest form is gone")
	}
	// A statement at a newer catalog version drops every form.
	if _, ok := c.get(key(1, 6)); ok || c.len() != 0 {
		t.Fatalf("after catalog v6: %d forms", c.len())
	}
	// A statement still on v5 stores nothing.
	c.put(key(1, 5), &viewForm{})
	if c.len() != 0 {
		t.Fatal("a form of an older catalog version was stored")
	}
	c.put(key(1, 6), &viewForm{})
	if _, ok := c.get(key(1, 6)); !ok {
		t.Fatal("a form of the current version was not stored")
	}
}
