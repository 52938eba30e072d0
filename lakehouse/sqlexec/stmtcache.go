package sqlexec

import (
	"sync"

	"github.com/floedb/floe/lakehouse/access"
	"github.com/floedb/floe/lakehouse/sqlparse"
	"github.com/floedb/floe/manifest"
)

// Per-call caches. A client sends the same few statement texts again and
// again (a prepared INSERT, a point read by key): lexing and parsing them
// and binding a point read to the catalog cost more than the lookup
// itself. Two bounded caches keep that work:
//
//   - parses, by SQL text: the statements and, for each top-level SELECT,
//     its point-read shape. Parsing is a pure function of the text, so an
//     entry never goes stale; the cached statements are shared and never
//     modified (nothing in this package writes to a parsed statement).
//   - point plans, by (catalog version, principal, namespace, query
//     text): what planPoint decided from the catalog — the table, its
//     partition for the principal, the result columns, the key columns —
//     but never the key values, which come from each call's parameters.
//     The catalog version changes with every DDL (a dropped, re-created
//     or altered table, a changed ACCESS_LEVEL), so a plan is only used
//     with the catalog it was made from; the principal's user id and role
//     are in the key, so one user's plan (its partition, what its role may
//     read) is never another's. Entries of older catalog versions are
//     dropped when a newer version is seen.
//
// Both caches are emptied when full (the next calls fill them again), so
// their memory stays bounded whatever the clients send.

// Cache bounds.
const (
	// maxCachedParses is the most SQL texts whose parses are kept.
	maxCachedParses = 1024
	// maxCachedSQL is the longest SQL text whose parse is kept (longer
	// texts are bulk statements: parsing is a small part of their cost).
	maxCachedSQL = 4 << 10
	// maxCachedPlans is the most point plans kept.
	maxCachedPlans = 4096
)

// parsed is the parse of one SQL text. It is shared: read only.
type parsed struct {
	stmts []sqlparse.Statement
	// shapes holds the point-read shape of each top-level SELECT (not
	// EXPLAIN) that has one.
	shapes map[*sqlparse.Select]pointShape
}

// parse parses text into statements, shapes included.
func parse(text string) (*parsed, error) {
	stmts, err := sqlparse.Parse(text)
	if err != nil {
		return nil, err
	}
	p := &parsed{stmts: stmts}
	for _, st := range stmts {
		if s, ok := st.(*sqlparse.Select); ok && !s.Explain {
			if shape, ok := parsePointShape(s.Query); ok {
				if p.shapes == nil {
					p.shapes = map[*sqlparse.Select]pointShape{}
				}
				p.shapes[s] = shape
			}
		}
	}
	return p, nil
}

// shape returns the point-read shape of s, a statement of p (ok is
// false when it has none).
func (p *parsed) shape(s *sqlparse.Select) (pointShape, bool) {
	if p == nil {
		return pointShape{}, false
	}
	sh, ok := p.shapes[s]
	return sh, ok
}

// owns reports whether s is one of p's statements.
func (p *parsed) owns(s sqlparse.Statement) bool {
	for _, st := range p.stmts {
		if st == s {
			return true
		}
	}
	return false
}

// parseCache holds parses by SQL text (see the comment above). Safe for
// concurrent use.
type parseCache struct {
	mu struct {
		sync.Mutex
		m map[string]*parsed
	}
}

// get returns the parse of text, parsing it on a miss. Errors are not
// cached.
func (c *parseCache) get(text string) (*parsed, error) {
	if len(text) > maxCachedSQL {
		return parse(text)
	}
	c.mu.Lock()
	p, ok := c.mu.m[text]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := parse(text)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.mu.m == nil || len(c.mu.m) >= maxCachedParses {
		c.mu.m = make(map[string]*parsed)
	}
	c.mu.m[text] = p
	c.mu.Unlock()
	return p, nil
}

// planKey identifies a point plan: everything planPoint reads besides the
// parameters.
type planKey struct {
	version uint64 // catalog version
	userID  string // partition of USER and STREAM tables
	role    access.Role
	ns      string // resolves unqualified names
	query   string // the SELECT's text (its shape)
}

// pointBinding is the catalog half of a point plan: everything but the
// key values. ok is false when the statement is not a point read on this
// catalog for this principal (the general path answers it).
type pointBinding struct {
	ok        bool
	tbl       *schemaTable
	partition string
	cols      []scanColumn // the result's columns
	idx       []int        // their positions in the table's columns
	// keyPreds[i] compares primary key column i (of type keyTypes[i]).
	keyPreds []pointPred
	keyTypes []manifest.Type
}

// planCache holds point bindings by planKey (see the comment above).
// Safe for concurrent use.
type planCache struct {
	mu struct {
		sync.Mutex
		version uint64 // the newest catalog version seen
		m       map[planKey]*pointBinding
	}
}

// get returns the binding of k, if cached.
func (c *planCache) get(k planKey) (*pointBinding, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.mu.m[k]
	return b, ok
}

// put keeps b under k. A newer catalog version drops every entry of the
// older ones; a binding of an older version than the newest seen is not
// kept (its statement ran on a snapshot already replaced).
func (c *planCache) put(k planKey, b *pointBinding) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case k.version < c.mu.version:
		return
	case k.version > c.mu.version || c.mu.m == nil || len(c.mu.m) >= maxCachedPlans:
		c.mu.m = make(map[planKey]*pointBinding)
		c.mu.version = k.version
	}
	c.mu.m[k] = b
}
