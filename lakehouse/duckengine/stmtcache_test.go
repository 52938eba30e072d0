package duckengine

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// cachedValues runs query through s's statement cache and returns the
// values of its first column.
func cachedValues(t *testing.T, s *Session, query string) ([]any, error) {
	t.Helper()
	var out []any
	err := s.QueryCached(context.Background(), query, func(r Rows) error {
		dest := make([]driver.Value, len(r.Columns()))
		for {
			if err := r.Next(dest); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
			out = append(out, dest[0])
		}
	})
	return out, err
}

func mustValue(t *testing.T, s *Session, query string, want any) {
	t.Helper()
	got, err := cachedValues(t, s, query)
	if err != nil || len(got) != 1 || got[0] != want {
		t.Fatalf("%s: %v, %v; want [%v]", query, got, err, want)
	}
}

func openTest(t *testing.T, dirs ...string) (*Engine, *Session) {
	t.Helper()
	e, err := Open(context.Background(), Config{AllowedDirs: dirs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	s, err := e.Session(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return e, s
}

// TestStmtCacheReusesAndBounds: a repeated text reuses its statement, each
// text gets its own result, and the cache keeps at most maxPreparedStmts
// statements, dropping the least recently used.
func TestStmtCacheReusesAndBounds(t *testing.T) {
	e, s := openTest(t)
	mustValue(t, s, "SELECT 1::INT AS x", int32(1))
	mustValue(t, s, "SELECT 1::INT AS x", int32(1))
	if h := e.PreparedHits(); h != 1 {
		t.Fatalf("hits = %d, want 1", h)
	}
	text := func(i int) string { return fmt.Sprintf("SELECT %d::INT AS x", i+100) }
	for i := range maxPreparedStmts + 10 {
		mustValue(t, s, text(i), int32(i+100))
	}
	if n := s.CachedStatements(); n != maxPreparedStmts {
		t.Fatalf("cached = %d, want the bound %d", n, maxPreparedStmts)
	}
	before := e.PreparedHits()
	mustValue(t, s, text(maxPreparedStmts+9), int32(maxPreparedStmts+109)) // most recent: kept
	mustValue(t, s, text(0), int32(100))                                   // least recent: evicted
	if h := e.PreparedHits() - before; h != 1 {
		t.Fatalf("hits = %d, want 1 (the most recent text only)", h)
	}
	if n := s.CachedStatements(); n != maxPreparedStmts {
		t.Fatalf("cached = %d, want the bound %d", n, maxPreparedStmts)
	}
}

// TestStmtCacheSkipsTempRelations: a session that created a temporary
// relation runs its queries unprepared, and only SELECTs are cached.
func TestStmtCacheSkipsTempRelations(t *testing.T) {
	e, s := openTest(t)
	mustValue(t, s, "EXPLAIN SELECT 1", "physical_plan")
	if n := s.CachedStatements(); n != 0 {
		t.Fatalf("EXPLAIN cached (%d statements)", n)
	}
	name := s.TempName()
	if err := s.CreateView(context.Background(), name, "SELECT 5::INT AS x"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		mustValue(t, s, "SELECT x FROM "+name, int32(5))
		mustValue(t, s, "SELECT 6::INT", int32(6))
	}
	if n, h := s.CachedStatements(), e.PreparedHits(); n != 0 || h != 0 {
		t.Fatalf("with a temporary relation: %d cached, %d hits; want none", n, h)
	}
}

// TestStmtCacheRetriesUnprepared: a cached statement whose execution fails
// is dropped and the query's error is that of an unprepared run.
func TestStmtCacheRetriesUnprepared(t *testing.T) {
	dir := t.TempDir()
	e, s := openTest(t, dir)
	path := filepath.Join(dir, "a.parquet")
	if _, err := s.Conn().ExecContext(context.Background(), "COPY (SELECT 42 AS x) TO "+Literal(path)); err != nil {
		t.Fatal(err)
	}
	q := "SELECT x FROM read_parquet(" + Literal(path) + ")"
	mustValue(t, s, q, int32(42))
	mustValue(t, s, q, int32(42))
	if n, h := s.CachedStatements(), e.PreparedHits(); n != 1 || h != 1 {
		t.Fatalf("%d cached, %d hits; want 1, 1", n, h)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	_, err := cachedValues(t, s, q)
	if err == nil {
		t.Fatal("query of a removed file succeeded")
	}
	_, plain := s.Conn().QueryContext(context.Background(), q)
	if plain == nil || err.Error() != plain.Error() {
		t.Fatalf("error %q, want the unprepared run's %q", err, plain)
	}
	if n := s.CachedStatements(); n != 0 {
		t.Fatalf("failed statement kept (%d cached)", n)
	}
}

// TestStmtCacheConcurrent runs cached queries from several sessions at
// once (for the race detector).
func TestStmtCacheConcurrent(t *testing.T) {
	e, _ := openTest(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				s, err := e.Session(context.Background())
				if err != nil {
					errs <- err
					return
				}
				v := (g + i) % 7
				got, err := cachedValues(t, s, fmt.Sprintf("SELECT %d::INT", v))
				s.Close()
				if err != nil || len(got) != 1 || got[0] != int32(v) {
					errs <- fmt.Errorf("SELECT %d: %v, %v", v, got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if e.PreparedHits() == 0 {
		t.Error("no statement reused")
	}
}

// TestStmtCacheReleasesFiles: a cached statement keeps its file open
// (DuckDB's bind data holds a reader); the connection, with its cache, is
// closed connLifetime after it opened, which closes the file.
func TestStmtCacheReleasesFiles(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts open files in /proc/self/fd, which only Linux has")
	}
	defer func(d time.Duration) { connLifetime = d }(connLifetime)
	connLifetime = 200 * time.Millisecond
	dir := t.TempDir()
	e, err := Open(context.Background(), Config{AllowedDirs: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	path := filepath.Join(dir, "held.parquet")
	s, err := e.Session(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Conn().ExecContext(context.Background(), "COPY (SELECT 42 AS x) TO "+Literal(path)); err != nil {
		t.Fatal(err)
	}
	mustValue(t, s, "SELECT x FROM read_parquet("+Literal(path)+")", int32(42))
	s.Close()
	open := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range ents {
			if l, _ := os.Readlink("/proc/self/fd/" + e.Name()); strings.Contains(l, "held.parquet") {
				n++
			}
		}
		return n
	}
	if open() == 0 {
		t.Log("DuckDB no longer keeps a prepared statement's file open")
	}
	deadline := time.Now().Add(5 * time.Second)
	for open() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the cached statement's file is still open after the connection's lifetime")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
