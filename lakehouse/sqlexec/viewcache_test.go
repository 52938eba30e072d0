package sqlexec_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/floedb/floe/lakehouse/access"
	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/sqlexec"
	"github.com/floedb/floe/manifest"
)

// viewCacheHits returns the bound-view cache's hits and misses.
func viewCacheHits(h *harness) (int64, int64) {
	return sqlexec.ViewFormHits(h.node.Executor)
}

// warmView queries sql until a view expansion in it is served from the
// bound-view cache (the first query of a view at a version builds a
// temporary view, the next one stores the form), and fails if that takes
// more than three queries.
func warmView(t *testing.T, h *harness, p access.Principal, sql string) {
	t.Helper()
	for range 3 {
		hits, _ := viewCacheHits(h)
		h.rows(p, sql)
		if now, _ := viewCacheHits(h); now > hits {
			return
		}
	}
	t.Fatalf("%s as %s: never served from the bound-view cache", sql, p.UserID)
}

// TestViewCacheInvalidation: a cached bound form of a view is used only
// at the catalog version it was built at: replacing the view, replacing a
// view it reads, pointing a name it reads at another table or changing a
// table's access level takes effect at once. New rows need no new form.
func TestViewCacheInvalidation(t *testing.T) {
	h := newHarness(t)
	h.must(svc, "CREATE SHARED TABLE items (id INT PRIMARY KEY, price DOUBLE) WITH (ACCESS_LEVEL = 'PUBLIC')")
	h.must(svc, "CREATE SHARED TABLE others (id INT PRIMARY KEY, price DOUBLE) WITH (ACCESS_LEVEL = 'PUBLIC')")
	h.must(svc, "INSERT INTO items VALUES (1, 1.5), (2, 20)")
	h.must(svc, "INSERT INTO others VALUES (7, 0.5)")
	h.must(svc, "FLUSH ALL")
	h.must(svc, "CREATE VIEW cheap AS SELECT id FROM items WHERE price < 10")
	h.must(svc, "CREATE VIEW cheap_ids AS SELECT id FROM cheap")
	const q = "SELECT id FROM cheap_ids ORDER BY id"
	warmView(t, h, alice, q)
	equal(t, "warm", h.rows(alice, q), []string{"1"})

	// New rows, buffered and flushed: the same form, fresh sources.
	hits, _ := viewCacheHits(h)
	h.must(svc, "INSERT INTO items VALUES (3, 2.5)")
	equal(t, "buffered row", h.rows(alice, q), []string{"1", "3"})
	h.must(svc, "FLUSH TABLE items")
	h.must(svc, "INSERT INTO items VALUES (4, 3.5)")
	equal(t, "flushed and buffered rows", h.rows(alice, q), []string{"1", "3", "4"})
	if now, _ := viewCacheHits(h); now <= hits {
		t.Fatalf("writes to a table made the cached form unusable (hits %d -> %d)", hits, now)
	}

	// The inner view replaced: the outer view's form, which inlines it,
	// is not reused.
	h.must(svc, "CREATE OR REPLACE VIEW cheap AS SELECT id FROM items WHERE price >= 10")
	for range 3 {
		equal(t, "inner view replaced", h.rows(alice, q), []string{"2"})
	}

	// The name the view reads now names another table (a foreign tool
	// swapped the names; the view's own definition is unchanged).
	warmView(t, h, alice, q)
	_, err := h.app.Catalog().Commit(context.Background(), func(c *manifest.Catalog) (*manifest.Catalog, error) {
		for i := range c.Tables {
			switch c.Tables[i].Name {
			case "items":
				c.Tables[i].Name = "others"
			case "others":
				c.Tables[i].Name = "items"
			}
		}
		return c, nil
	}, manifest.CommitOptions{WriterEpoch: h.node.WriterEpoch})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.app.Schemas().Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		equal(t, "names swapped", h.rows(alice, "SELECT id FROM cheap ORDER BY id"), nil)
		equal(t, "names swapped, through cheap_ids", h.rows(alice, "SELECT id FROM cheap_ids ORDER BY id"), nil)
	}
	h.must(svc, "INSERT INTO items VALUES (8, 80)")
	equal(t, "names swapped, new row", h.rows(alice, q), []string{"8"})

	// The table made unreadable for users: refused at once.
	warmView(t, h, alice, q)
	h.must(dba, "ALTER TABLE items SET ACCESS_LEVEL = 'DBA'")
	for range 2 {
		e := h.fails(alice, dberr.PermissionDenied, q)
		mustContain(t, "message", errMsg(e), "public.items")
	}

	// Dropped and created again under the same name with another query.
	h.must(svc, "DROP VIEW cheap_ids")
	h.fails(alice, dberr.TableNotFound, q)
	h.must(svc, "CREATE VIEW cheap_ids AS SELECT id * 100 AS id FROM others")
	for range 3 {
		equal(t, "recreated", h.rows(alice, q), []string{"100", "200", "300", "400"})
	}
}

// TestViewCachePerPrincipal: a form cached for one principal is never
// used for another, and a view over a USER table shows each caller only
// its own rows however the calls interleave (the security property:
// user A's cached form never serves user B's rows).
func TestViewCachePerPrincipal(t *testing.T) {
	h := newHarness(t)
	h.must(alice, "CREATE USER TABLE notes (id INT PRIMARY KEY, body TEXT)")
	h.must(alice, "INSERT INTO notes VALUES (1, 'alice-1'), (2, 'alice-2')")
	h.must(bob, "INSERT INTO notes VALUES (1, 'bob-1')")
	h.must(root, "FLUSH ALL")
	h.must(bob, "INSERT INTO notes VALUES (3, 'bob-3')")
	h.must(alice, "CREATE VIEW my_notes AS SELECT id, upper(body) AS body FROM notes")
	const q = "SELECT * FROM my_notes ORDER BY id"
	warmView(t, h, alice, q)

	// bob's first inlined query of the view misses: the form is alice's.
	h.rows(bob, q) // the view is checked at this version already: inlined
	_, misses := viewCacheHits(h)
	hits, _ := viewCacheHits(h)
	equal(t, "bob", h.rows(bob, q), []string{"[1 BOB-1]", "[3 BOB-3]"})
	if now, _ := viewCacheHits(h); now <= hits {
		t.Fatalf("bob's second query was not served from the cache")
	}
	carol := access.Principal{UserID: "carol", Role: access.RoleUser}
	equal(t, "carol", h.rows(carol, q), nil)
	if _, now := viewCacheHits(h); now <= misses {
		t.Fatalf("carol's first query was served alice's or bob's form")
	}
	// The same user under another role is another principal.
	hits, misses = viewCacheHits(h)
	bobService := access.Principal{UserID: "bob", Role: access.RoleService}
	h.rows(bobService, "SELECT count(*) FROM my_notes")
	if now, _ := viewCacheHits(h); now != hits {
		t.Fatalf("bob as service was served bob's (user) form")
	}
	if _, now := viewCacheHits(h); now <= misses {
		t.Fatalf("bob as service: no cache lookup")
	}

	// Inside EXECUTE AS USER the statement runs as that user: its form.
	addUser(h, "bob", "user", false)
	for range 2 {
		res := h.must(root, "EXECUTE AS USER bob ("+q+")")
		equal(t, "root as bob", []string{fmt.Sprint(res.Rows)}, []string{"[[1 BOB-1] [3 BOB-3]]"})
	}

	for round := range 4 {
		for _, c := range []struct {
			p            access.Principal
			rows, bodies []string
		}{
			{alice, []string{"[1 ALICE-1]", "[2 ALICE-2]"}, []string{"[alice-1 ALICE-1]", "[alice-2 ALICE-2]"}},
			{bob, []string{"[1 BOB-1]", "[3 BOB-3]"}, []string{"[bob-1 BOB-1]", "[bob-3 BOB-3]"}},
			{carol, nil, nil},
		} {
			equal(t, fmt.Sprintf("round %d: %s", round, c.p.UserID), h.rows(c.p, q), c.rows)
			equal(t, fmt.Sprintf("round %d: %s, joined", round, c.p.UserID),
				h.rows(c.p, "SELECT n.body, m.body FROM notes n JOIN my_notes m USING (id) ORDER BY id"), c.bodies)
		}
	}
}

// TestViewCacheConcurrentUsers: users querying one view over a USER table
// at once, while one of them writes and a view is replaced, each see only
// their own rows (run with -race).
func TestViewCacheConcurrentUsers(t *testing.T) {
	h := newHarness(t)
	h.must(alice, "CREATE USER TABLE notes (id INT PRIMARY KEY, body TEXT)")
	users := []access.Principal{alice, bob, {UserID: "carol", Role: access.RoleUser}, {UserID: "dave", Role: access.RoleUser}}
	for _, p := range users {
		h.must(p, fmt.Sprintf("INSERT INTO notes VALUES (1, '%s')", p.UserID))
	}
	h.must(alice, "CREATE VIEW bodies AS SELECT body FROM notes")
	h.rows(alice, "SELECT * FROM bodies") // checks the view at this version
	ctx := context.Background()
	errs := make(chan error, len(users)+1)
	for _, p := range users {
		go func() {
			for range 40 {
				res, err := h.node.Executor.Execute(ctx, p, sqlexec.Request{SQL: "SELECT DISTINCT body FROM bodies"})
				if err != nil {
					errs <- err
					return
				}
				if got := fmt.Sprint(res[0].Rows); got != "[["+p.UserID+"]]" {
					errs <- fmt.Errorf("%s read %s through the view", p.UserID, got)
					return
				}
			}
			errs <- nil
		}()
	}
	go func() {
		for i := range 20 {
			if _, err := h.node.Executor.Execute(ctx, alice, sqlexec.Request{SQL: fmt.Sprintf("INSERT INTO notes VALUES (%d, 'alice')", i+2)}); err != nil {
				errs <- err
				return
			}
			if i == 10 {
				if _, err := h.node.Executor.Execute(ctx, alice, sqlexec.Request{SQL: "CREATE OR REPLACE VIEW bodies AS SELECT body FROM notes WHERE id > 0"}); err != nil {
					errs <- err
					return
				}
			}
		}
		errs <- nil
	}()
	for range len(users) + 1 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if hits, _ := viewCacheHits(h); hits == 0 {
		t.Fatal("no query was served from the bound-view cache")
	}
}
