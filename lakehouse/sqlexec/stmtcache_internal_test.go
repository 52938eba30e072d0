package sqlexec

import (
	"fmt"
	"strings"
	"testing"

	"github.com/floedb/floe/lakehouse/access"
	"github.com/floedb/floe/lakehouse/sqlparse"
)

// The parse cache returns the same parse for the same text, with the
// point shapes of its SELECTs, keeps no more than maxCachedParses texts,
// no text longer than maxCachedSQL, and no failed parse.
func TestParseCache(t *testing.T) {
	var c parseCache
	const q = "SELECT id, v FROM t WHERE id = $1; SELECT count(*) FROM t"
	p1, err := c.get(q)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := c.get(q)
	if err != nil || p1 != p2 {
		t.Fatalf("a second get of the same text: %p, %v; want the cached %p", p2, err, p1)
	}
	if _, ok := p1.shape(p1.stmts[0].(*sqlparse.Select)); !ok {
		t.Error("the point read has no shape")
	}
	if _, ok := p1.shape(p1.stmts[1].(*sqlparse.Select)); ok {
		t.Error("the aggregate has a point shape")
	}
	if _, err := c.get("SELEC 1"); err == nil {
		t.Fatal("a syntax error parsed")
	}
	long := "SELECT 1 " + strings.Repeat(" ", maxCachedSQL)
	if _, err := c.get(long); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	_, bad := c.mu.m["SELEC 1"]
	_, kept := c.mu.m[long]
	c.mu.Unlock()
	if bad || kept {
		t.Errorf("cached: the failed parse %v, the long text %v; want neither", bad, kept)
	}
	for i := range 3 * maxCachedParses {
		if _, err := c.get(fmt.Sprintf("SELECT %d", i)); err != nil {
			t.Fatal(err)
		}
		c.mu.Lock()
		n := len(c.mu.m)
		c.mu.Unlock()
		if n > maxCachedParses {
			t.Fatalf("%d texts cached, bound %d", n, maxCachedParses)
		}
	}
}

// The plan cache keeps only the newest catalog version's plans and stays
// bounded.
func TestPlanCacheBounds(t *testing.T) {
	var c planCache
	key := func(v uint64, user string) planKey {
		return planKey{version: v, userID: user, role: access.RoleUser, ns: "public", query: "q"}
	}
	c.put(key(2, "a"), &pointBinding{ok: true})
	c.put(key(1, "a"), &pointBinding{ok: true}) // older: not kept
	if _, ok := c.get(key(1, "a")); ok {
		t.Error("a plan of an older catalog version was kept")
	}
	c.put(key(3, "b"), &pointBinding{ok: true})
	if _, ok := c.get(key(2, "a")); ok {
		t.Error("a plan of version 2 survived version 3")
	}
	for i := range 2 * maxCachedPlans {
		c.put(key(3, fmt.Sprint(i)), &pointBinding{})
		c.mu.Lock()
		n := len(c.mu.m)
		c.mu.Unlock()
		if n > maxCachedPlans {
			t.Fatalf("%d plans cached, bound %d", n, maxCachedPlans)
		}
	}
}
