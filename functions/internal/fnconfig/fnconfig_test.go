package fnconfig

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/floedb/floe/lakehouse/config"
)

// Load forces the function role, keeps Lambda's writable /tmp as the
// default data dir and names each container after its function.
func TestLoad(t *testing.T) {
	cfg, err := Load([]string{"FLOE_ROLE=node", "FLOE_STORAGE_BACKEND=memory", "AWS_LAMBDA_FUNCTION_NAME=floe-Query Fn"}, "query")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Role != config.RoleFunction || cfg.DataDir != DefaultDataDir || cfg.CacheDir() != filepath.Join(DefaultDataDir, "cache") {
		t.Fatalf("role %q, data dir %q, cache dir %q", cfg.Role, cfg.DataDir, cfg.CacheDir())
	}
	if !regexp.MustCompile(`^floe-Query-Fn-[0-9a-f]{8}$`).MatchString(cfg.NodeID) {
		t.Fatalf("node id %q", cfg.NodeID)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg, err = Load([]string{"FLOE_DATA_DIR=/tmp/x", "FLOE_QUERY_CACHE_DIR=/tmp/c", "FLOE_NODE_ID=fn-7"}, "query")
	if err != nil || cfg.DataDir != "/tmp/x" || cfg.CacheDir() != "/tmp/c" || cfg.NodeID != "fn-7" {
		t.Fatalf("data dir %q, cache dir %q, node id %q, %v", cfg.DataDir, cfg.CacheDir(), cfg.NodeID, err)
	}
	if _, err := Load([]string{"FLOE_STORAGE_S3_MAX_ATTEMPTS=many"}, "query"); err == nil || !strings.Contains(err.Error(), "FLOE_STORAGE_S3_MAX_ATTEMPTS") {
		t.Fatalf("bad env: %v", err)
	}
	if a, b := NodeID("", "maintenance"), NodeID(strings.Repeat("x", 80), "m"); !strings.HasPrefix(a, "maintenance-") || len(b) != 64 {
		t.Fatalf("node ids %q %q", a, b)
	}
}
