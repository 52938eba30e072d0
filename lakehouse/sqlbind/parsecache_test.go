package sqlbind

import (
	"strings"
	"testing"
)

func TestParseCacheGenerations(t *testing.T) {
	c := &parseCache{cur: map[string]string{}}
	c.put("q1", "s1")
	if v, ok := c.get("q1"); !ok || v != "s1" {
		t.Fatalf("get(q1) = %q, %v", v, ok)
	}
	big := strings.Repeat("x", cacheGenBytes/2)
	c.put("q2", big) // fits in the first generation
	c.put("q3", big) // starts a new generation: q1, q2 move to prev
	if _, ok := c.cur["q1"]; ok {
		t.Fatal("q1 still in the current generation")
	}
	if v, ok := c.get("q1"); !ok || v != "s1" {
		t.Fatal("q1 lost from the previous generation")
	}
	if _, ok := c.cur["q1"]; !ok {
		t.Fatal("a hit in the previous generation is not promoted")
	}
	c.put("q4", big) // q3 and q1 become prev; q2 is dropped
	if _, ok := c.get("q2"); ok {
		t.Fatal("an entry survived two generations without use")
	}
	long := strings.Repeat("y", cacheMaxQuery+1)
	c.put(long, "s")
	if _, ok := c.get(long); ok {
		t.Fatal("a text over cacheMaxQuery was cached")
	}
}
