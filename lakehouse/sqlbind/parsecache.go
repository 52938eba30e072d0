package sqlbind

import (
	"context"
	"sync"
)

// Binder binds queries with a cache of DuckDB's parses (below). Keep one
// per engine (the executor holds one); it is safe for concurrent use.
type Binder struct {
	parses *parseCache
}

// NewBinder returns a Binder with an empty parse cache.
func NewBinder() *Binder {
	return &Binder{parses: &parseCache{cur: map[string]string{}}}
}

// Bind is the package's Bind with the Binder's parse cache.
func (b *Binder) Bind(ctx context.Context, q Querier, query string, resolve Resolver) (*Bound, error) {
	return bind(ctx, b.parses, q, query, byName(resolve))
}

// BindInline is Bind with a resolver that may inline queries (see
// Replacement).
func (b *Binder) BindInline(ctx context.Context, q Querier, query string, resolve InlineResolver) (*Bound, error) {
	return bind(ctx, b.parses, q, query, resolve)
}

// Parse cache. json_serialize_sql is a pure function of the query text
// (for the one DuckDB build a process links), and applications send the
// same texts again and again: the same statements with other parameters,
// the stored SQL of views, and — because each statement's session numbers
// its temporary names from 1 — the same rewritten texts. parseCache keeps
// DuckDB's serialized parse of recent texts so that each costs one DuckDB
// call per process, not two per statement. Only the serialization is
// cached; every Bind still decodes and walks it.
//
// The cache has two generations: lookups hit the current or the previous
// one (promoting the entry), and when the current generation passes
// cacheGenBytes it becomes the previous one. Memory stays below about
// twice cacheGenBytes.
const (
	cacheGenBytes  = 8 << 20
	cacheMaxQuery  = 16 << 10 // longer texts are not cached
	cacheEntryCost = 64       // bookkeeping per entry, in bytes
)

type parseCache struct {
	mu        sync.Mutex
	cur, prev map[string]string
	curBytes  int
}

// get and put on a nil cache (Bind without a Binder) miss and drop.
func (c *parseCache) get(query string) (string, bool) {
	if c == nil || len(query) > cacheMaxQuery {
		return "", false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.cur[query]; ok {
		return v, true
	}
	if v, ok := c.prev[query]; ok {
		c.putLocked(query, v)
		return v, true
	}
	return "", false
}

func (c *parseCache) put(query, serialized string) {
	if c == nil || len(query) > cacheMaxQuery {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(query, serialized)
}

func (c *parseCache) putLocked(query, serialized string) {
	if _, ok := c.cur[query]; ok {
		return
	}
	cost := len(query) + len(serialized) + cacheEntryCost
	if c.curBytes+cost > cacheGenBytes {
		c.prev, c.cur, c.curBytes = c.cur, make(map[string]string, len(c.cur)), 0
	}
	c.cur[query] = serialized
	c.curBytes += cost
}
