package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	if c.NodeID != DefaultNodeID {
		t.Fatalf("default node id = %q, want %q", c.NodeID, DefaultNodeID)
	}
	if got, want := c.FSDir(), filepath.Join("floe-data", "objects"); got != want {
		t.Fatalf("FSDir() = %q, want %q", got, want)
	}
}

// The example file documents every key with its default value: parsing it
// must give exactly Default(), and every key must appear in it.
func TestExampleFileMatchesDefaults(t *testing.T) {
	data, err := os.ReadFile("../../floe.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(data, "floe.example.toml")
	if err != nil {
		t.Fatalf("Parse(example) = %v", err)
	}
	if c != Default() {
		t.Fatalf("example file disagrees with Default():\n got %+v\nwant %+v", c, Default())
	}
	text := string(data)
	for _, k := range Keys() {
		leaf := k[0][strings.LastIndex(k[0], ".")+1:]
		if !strings.Contains(text, "\n"+leaf+" = ") {
			t.Errorf("floe.example.toml does not document key %s", k[0])
		}
	}
}

func TestParseErrorsNameTheProblem(t *testing.T) {
	cases := []struct {
		name, doc string
		want      []string
	}{
		{"wrong type", "[storage.s3]\nmax_attempts = \"five\"\n", []string{"f.toml:2:", `"storage.s3.max_attempts"`, "want int"}},
		{"wrong type duration", "[catalog]\nrefresh_interval = 5\n", []string{`"catalog.refresh_interval"`}},
		{"bad duration", "[catalog]\nrefresh_interval = \"soon\"\n", []string{`"catalog.refresh_interval"`, "duration"}},
		{"unknown key", "node_idd = \"x\"\n", []string{"f.toml:1:", `unknown key "node_idd"`}},
		{"unknown nested key", "[storage.s3]\nbukket = \"x\"\n", []string{`unknown key "storage.s3.bukket"`}},
		{"syntax", "node_id = \n", []string{"f.toml:1:"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc), "f.toml")
			if err == nil {
				t.Fatal("Parse succeeded, want error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Default()
	c.NodeID = "bad node id!"
	c.Log.Level = "loud"
	c.Storage.Backend = "s3"
	c.Storage.S3.Endpoint = "localhost:9000"
	c.Storage.S3.AccessKeyID = "AK"
	c.Storage.S3.MaxAttempts = 0
	c.Lease.Duration.Duration = 100 * time.Millisecond
	c.Lease.RequestGrace.Duration = -time.Second
	c.Live.MaxSubscriptionsPerConnection = 1000
	c.Live.Heartbeat.Duration = time.Millisecond
	c.Live.Nodes = "http://ok:1, live-2:7878"
	c.Buffer.MemTableBytes = 4 << 30
	c.Buffer.BlockCacheBytes = 1000
	c.Query.MaxConcurrentPointStatements = 0
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate succeeded")
	}
	for _, key := range []string{"node_id", "log.level", "storage.s3.bucket", "storage.s3.endpoint", "storage.s3.access_key_id", "storage.s3.max_attempts",
		"lease.duration", "lease.request_grace", "live.max_subscriptions_per_connection", "live.heartbeat", "live.nodes[1]",
		"buffer.memtable_bytes", "buffer.block_cache_bytes", "query.max_concurrent_point_statements"} {
		if !strings.Contains(err.Error(), "config: "+key+":") {
			t.Errorf("error does not name %s:\n%v", key, err)
		}
	}
}

func TestEnvAndFlagPrecedence(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "floe.toml")
	if err := os.WriteFile(path, []byte("node_id = \"from-file\"\n[log]\nlevel = \"warn\"\n[storage.s3]\nmax_attempts = 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"FLOE_LOG_LEVEL=debug", "FLOE_STORAGE_S3_MAX_BACKOFF=750ms", "FLOE_STORAGE_S3_FORCE_PATH_STYLE=true", "FLOE_UNRELATED=1", "HOME=/x"}
	c, err := Load(path, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.NodeID != "from-file" || c.Log.Level != "debug" || c.Storage.S3.MaxAttempts != 3 ||
		c.Storage.S3.MaxBackoff.Duration != 750*time.Millisecond || !c.Storage.S3.ForcePathStyle {
		t.Fatalf("file+env = %+v", c)
	}

	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fl := RegisterFlags(fs)
	if err := fs.Parse([]string{"--node_id=from-flag", "--storage.s3.max_attempts=7"}); err != nil {
		t.Fatal(err)
	}
	if err := fl.Apply(&c); err != nil {
		t.Fatal(err)
	}
	if c.NodeID != "from-flag" || c.Storage.S3.MaxAttempts != 7 || c.Log.Level != "debug" {
		t.Fatalf("after flags = %+v", c)
	}
}

func TestBadEnvValueNamesVariable(t *testing.T) {
	_, err := Load("", []string{"FLOE_STORAGE_S3_MAX_ATTEMPTS=lots", "FLOE_STORAGE_S3_SECRET_ACCESS_KEY=x"})
	if err == nil || !strings.Contains(err.Error(), "env FLOE_STORAGE_S3_MAX_ATTEMPTS") || !strings.Contains(err.Error(), "want an integer") {
		t.Fatalf("err = %v", err)
	}
	c := Default()
	err = c.ApplyEnv([]string{"FLOE_CATALOG_REFRESH_INTERVAL=later"})
	if err == nil || !strings.Contains(err.Error(), "FLOE_CATALOG_REFRESH_INTERVAL") {
		t.Fatalf("err = %v", err)
	}
}

func TestRedactedHidesSecrets(t *testing.T) {
	c := Default()
	c.Storage.S3.SecretAccessKey = "hunter2"
	c.Storage.S3.SessionToken = "tok"
	r := c.Redacted()
	if strings.Contains(strings.Join([]string{r.Storage.S3.SecretAccessKey, r.Storage.S3.SessionToken}, ","), "hunter2") ||
		r.Storage.S3.SessionToken == "tok" {
		t.Fatalf("Redacted leaked a secret: %+v", r.Storage.S3)
	}
	if c.Storage.S3.SecretAccessKey != "hunter2" {
		t.Fatal("Redacted modified the receiver")
	}
	c.Auth.JWTSecret = strings.Repeat("s", 32)
	if r := c.Redacted(); r.Auth.JWTSecret != "(redacted)" {
		t.Fatalf("Redacted leaked the JWT secret: %q", r.Auth.JWTSecret)
	}
}

func TestKeysAreUniqueAsEnvNames(t *testing.T) {
	seen := map[string]string{}
	for _, k := range Keys() {
		if prev, dup := seen[k[1]]; dup {
			t.Fatalf("keys %s and %s share env var %s", prev, k[0], k[1])
		}
		seen[k[1]] = k[0]
	}
	if len(seen) < 15 {
		t.Fatalf("only %d keys found; reflection walk broken?", len(seen))
	}
}

// The live bus settings are checked together: a bus that does not exist,
// settings of the other bus, NATS without a server, and publishing or
// verifying without the shared secret are refused, naming the key and
// what to do.
func TestValidateLiveBus(t *testing.T) {
	for name, c := range map[string]struct {
		mutate func(c *Config)
		key    string
		says   string
	}{
		"unknown bus":         {func(c *Config) { c.Live.Bus = "kafka" }, "live.bus", "not one of connect, nats"},
		"nats url on connect": {func(c *Config) { c.Live.NATSURL = "nats://x:4222" }, "live.nats_url", `live.bus = "nats"`},
		"nodes on nats": {func(c *Config) { c.Live.Bus = BusNATS; c.Live.NATSURL = "nats://x:4222"; c.Live.Nodes = "http://l:1" },
			"live.nodes", "subscribe to live.nats_subject"},
		"nats without url": {func(c *Config) { c.Role = RoleLive; c.Live.Bus = BusNATS }, "live.nats_url", "is required"},
		"wildcard subject": {func(c *Config) { c.Live.Bus = BusNATS; c.Live.NATSSubject = "floe.>" }, "live.nats_subject", "wildcards"},
		"publish without secret": {func(c *Config) { c.Role = RoleFunction; c.Live.Nodes = "http://l:1" },
			"auth.jwt_secret", "writers and live nodes must share it"},
		"nats live without secret": {func(c *Config) { c.Role = RoleLive; c.Live.Bus = BusNATS; c.Live.NATSURL = "nats://x:4222" },
			"auth.jwt_secret", "verifies the publishes"},
	} {
		cfg := Default()
		c.mutate(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), "config: "+c.key+":") || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v, want %s saying %q", name, err, c.key, c.says)
		}
	}
	ok := Default()
	ok.Role, ok.Live.Nodes, ok.Auth.JWTSecret = RoleFunction, "http://live-1:7878", strings.Repeat("s", 32)
	if err := ok.Validate(); err != nil || !ok.Publishes() {
		t.Fatalf("a function with live nodes: %v (publishes %v)", err, ok.Publishes())
	}
	ok.Role = RoleNode
	if err := ok.Validate(); err != nil || ok.Publishes() {
		t.Fatalf("a node with live nodes: %v (publishes %v, want false: node-path changes are not committed until flushed)", err, ok.Publishes())
	}
}
