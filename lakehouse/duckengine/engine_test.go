package duckengine

import (
	"context"
	"database/sql/driver"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The engine's lock-down holds even for SQL that reaches DuckDB directly:
// settings cannot be changed, files outside the allowed directory cannot
// be read, and a session's temporary objects are private and dropped.
func TestLockedDown(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "secret.csv")
	if err := os.WriteFile(outside, []byte("a\nSECRET\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := Open(ctx, Config{AllowedDirs: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s, err := e.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := s.Conn()
	if _, err := c.ExecContext(ctx, "COPY (SELECT 42 AS x) TO "+Literal(filepath.Join(dir, "ok.parquet"))); err != nil {
		t.Fatalf("write inside the allowed directory: %v", err)
	}
	var x int
	if err := c.QueryRowContext(ctx, "SELECT x FROM read_parquet("+Literal(filepath.Join(dir, "ok.parquet"))+")").Scan(&x); err != nil || x != 42 {
		t.Fatalf("read inside the allowed directory: %d, %v", x, err)
	}
	for _, q := range []string{
		"SELECT * FROM read_csv(" + Literal(outside) + ")",
		"SET enable_external_access = true",
		"SET allowed_directories = ['/']",
		"SET lock_configuration = false",
		"SET threads = 64",
		"INSTALL httpfs",
	} {
		if _, err := c.ExecContext(ctx, q); err == nil {
			t.Errorf("%s: succeeded", q)
		}
	}
	var autoload string
	if err := c.QueryRowContext(ctx, "SELECT current_setting('autoload_known_extensions')::VARCHAR").Scan(&autoload); err != nil || autoload != "false" {
		t.Errorf("autoload_known_extensions = %q, %v", autoload, err)
	}

	name := s.TempName()
	if err := s.CreateTable(ctx, name, []Column{{Name: "v", Type: "VARCHAR"}}, func(yield func([]driver.Value) bool) error {
		yield([]driver.Value{"row"})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateView(ctx, s.TempName(), "SELECT * FROM "+name); err != nil {
		t.Fatal(err)
	}
	other, err := e.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Conn().ExecContext(ctx, "SELECT * FROM "+name); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("another session sees %s: %v", name, err)
	}
	other.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Whichever pooled connection the next session gets, it holds no
	// temporary object of the closed one.
	for range 3 {
		s2, err := e.Session(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := s2.Conn().QueryRowContext(ctx, "SELECT count(*) FROM duckdb_tables() WHERE temporary").Scan(&n); err != nil || n != 0 {
			t.Errorf("temporary tables left: %d, %v", n, err)
		}
		s2.Close()
	}
}

func TestOpenRefusesRelativeDirs(t *testing.T) {
	if _, err := Open(context.Background(), Config{AllowedDirs: []string{"cache"}}); err == nil {
		t.Fatal("relative allowed directory accepted")
	}
}
