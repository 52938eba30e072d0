// Package config is Floe's process configuration: one TOML file (see
// floe.example.toml at the repository root), overridden by FLOE_*
// environment variables, overridden by command-line flags.
//
// Every setting has exactly one name, spelled three ways: the TOML key
// `storage.s3.bucket`, the environment variable FLOE_STORAGE_S3_BUCKET and
// the flag --storage.s3.bucket. Precedence, lowest first: the defaults in
// Default, the file, the environment, the flags.
//
// Validate reports every problem at once, each naming the offending key, so
// a typo is fixed in one round trip.
package config

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// DefaultNodeID is the node_id of a process whose configuration sets none.
// It suits a single local node; every process sharing one object store in a
// real deployment must be given its own node_id.
const DefaultNodeID = "node-local-01"

// Config is the whole configuration of one Floe process.
type Config struct {
	// NodeID names this process in logs, job records and live-query rows.
	// It is read once, by the AppContext. Default: DefaultNodeID.
	NodeID string `toml:"node_id" help:"name of this process in logs, jobs and live queries"`
	// DataDir holds the node's local state (write buffer, segment cache,
	// and the object store when storage.backend is "fs").
	// Default: "./floe-data".
	DataDir string `toml:"data_dir" help:"directory for local state"`
	// Role is what this process is (see lakehouse/node): "node" owns the
	// writer lease and a write buffer (floe serve's default); "function"
	// writes through the direct path with no lease and no buffer (the
	// query and maintenance Lambda functions); "live" serves reads (and,
	// later, subscriptions) and takes no writes. Default: "node".
	Role string `toml:"role" help:"process role: node, function or live"`

	Log     LogConfig     `toml:"log"`
	Storage StorageConfig `toml:"storage"`
	Catalog CatalogConfig `toml:"catalog"`
	Buffer  BufferConfig  `toml:"buffer"`
	Flush   FlushConfig   `toml:"flush"`
	Query   QueryConfig   `toml:"query"`
	Server  ServerConfig  `toml:"server"`
	Auth    AuthConfig    `toml:"auth"`
	Jobs    JobsConfig    `toml:"jobs"`
	Lease   LeaseConfig   `toml:"lease"`
	Live    LiveConfig    `toml:"live"`
}

// LiveConfig bounds live queries (livequery) and configures the bus that
// carries committed changes from writer processes to live nodes.
type LiveConfig struct {
	// MaxSubscriptionsPerUser bounds one user's live subscriptions on this
	// node, over all connections. Default: 100.
	MaxSubscriptionsPerUser int `toml:"max_subscriptions_per_user" help:"live subscriptions one user may hold on this node"`
	// MaxSubscriptionsPerConnection bounds the subscriptions of one
	// connection (one client session). Default: 20.
	MaxSubscriptionsPerConnection int `toml:"max_subscriptions_per_connection" help:"live subscriptions one connection may hold"`
	// QueueLength is how many events a subscriber may have undelivered;
	// beyond it the subscriber gets a resync event and must resume from its
	// last _seq. Default: 1024.
	QueueLength int `toml:"queue_length" help:"undelivered events per subscriber before a resync"`
	// MaxMessageBytes bounds one streamed message (a batch of rows); a
	// single row larger than it ends the subscription with a clear error.
	// Default: 4194304 (4 MiB).
	MaxMessageBytes int `toml:"max_message_bytes" help:"largest live-query message in bytes"`
	// Heartbeat is how often an idle subscription stream gets a heartbeat.
	// Default: 15s.
	Heartbeat Duration `toml:"heartbeat" help:"interval of heartbeats on idle live-query streams"`
	// Bus is how writer processes (the function role) publish committed
	// changes to live nodes (server/livebus): "connect" (BusService.Publish
	// to each of Nodes) or "nats" (one NATS subject, NATSSubject at
	// NATSURL, that every live node subscribes to). Publishes are signed
	// with a key derived from auth.jwt_secret, which writers and live
	// nodes must share. Default: "connect".
	Bus string `toml:"bus" help:"bus from writers to live nodes: connect or nats"`
	// Nodes are the comma-separated base URLs of the live nodes a function
	// process publishes committed changes to (BusService.Publish; bus
	// "connect"); see LiveNodes. A node-role process does not publish
	// (live nodes find its changes once flushed, by polling). Default:
	// none.
	Nodes string `toml:"nodes" help:"comma-separated base URLs of live nodes that receive published changes (bus connect)"`
	// NATSURL is the NATS server (or comma-separated servers) of bus
	// "nats", e.g. "nats://nats-1:4222". Default: none.
	NATSURL string `toml:"nats_url" help:"NATS server URL(s) of bus nats"`
	// NATSSubject is the subject changes are published on (bus "nats");
	// give each warehouse sharing a NATS server its own. Default:
	// "floe.live.changes".
	NATSSubject string `toml:"nats_subject" help:"NATS subject of bus nats; one per warehouse"`
	// PollInterval is how often a live node reads the manifests of the
	// partitions it serves to fill changes whose publish it missed.
	// Default: 2s.
	PollInterval Duration `toml:"poll_interval" help:"how often a live node checks served partitions for missed changes"`
}

// LeaseConfig is the node's writer lease: one node at a time writes a
// warehouse (see lakehouse/lease for the protocol and its bounds).
type LeaseConfig struct {
	// Duration is how long the node trusts its lease after a renewal
	// succeeded, by its own monotonic clock; it renews every third of it.
	// A node that takes over an unreleased lease waits about Duration +
	// RequestGrace first. Default: 10s.
	Duration Duration `toml:"duration" help:"how long a writer lease lasts without renewal"`
	// RequestGrace bounds how long an object store request may still take
	// effect after the node that sent it gave up on it. Default: 5s.
	RequestGrace Duration `toml:"request_grace" help:"bound on how long an abandoned object store request may still take effect"`
	// TakeOver lets this node take over a writer lease whose holder did
	// not release it and no longer renews it (it crashed, or its machine
	// is gone). The rows that node acknowledged and had not flushed yet
	// are given up. A live lease is never taken over. Default: false.
	TakeOver bool `toml:"take_over" help:"take over an expired, unreleased writer lease, giving up its holder's unflushed rows"`
}

// JobsConfig schedules the node's background jobs (lakehouse/jobs). An
// interval of "0s" disables its job. The maintenance function runs every
// job once per invocation instead.
type JobsConfig struct {
	// EvictInterval is how often expired rows of STREAM tables are deleted
	// (reads never show them; eviction frees their storage).
	// Default: 30s.
	EvictInterval Duration `toml:"evict_interval" help:"how often expired STREAM rows are evicted (0s: never)"`
	// CompactInterval is how often every partition is checked for runs of
	// small segments, which are merged. Default: 10m.
	CompactInterval Duration `toml:"compact_interval" help:"how often small segments are compacted (0s: never)"`
	// CompactMinSegments is the fewest consecutive small segments worth
	// merging. Default: 4.
	CompactMinSegments int `toml:"compact_min_segments" help:"fewest consecutive small segments that compaction merges"`
	// CompactTargetBytes is the size of the segments compaction writes;
	// segments under half of it are small. Default: 134217728 (128 MiB).
	CompactTargetBytes int64 `toml:"compact_target_bytes" help:"size of compacted segments in bytes; smaller than half is small"`
	// GCInterval is how often old manifests and unreferenced segments are
	// garbage-collected. Default: 1h.
	GCInterval Duration `toml:"gc_interval" help:"how often garbage is collected (0s: never)"`
	// GCRetention is the time-travel window: manifest versions (and their
	// segments) younger than this are kept. At least 1m. Default: 24h.
	GCRetention Duration `toml:"gc_retention" help:"time-travel window kept by garbage collection (partition manifests, segments and catalog versions)"`
	// GCGrace protects unreferenced segment objects younger than this
	// (an upload not yet committed). Default: 1h.
	GCGrace Duration `toml:"gc_grace" help:"age below which unreferenced segments are kept"`
}

// ServerConfig is the node's API listener (Connect, gRPC and gRPC-Web on
// one port, HTTP/1.1 and h2c).
type ServerConfig struct {
	// Listen is the TCP address of the API. Default: "127.0.0.1:7878"
	// (loopback only; set "0.0.0.0:7878" to serve the network).
	Listen string `toml:"listen" help:"TCP address of the API"`
	// MaxRequestBytes bounds a request message; larger ones are refused
	// with ResourceExhausted. Default: 16777216 (16 MiB).
	MaxRequestBytes int64 `toml:"max_request_bytes" help:"largest accepted request message in bytes"`
	// MetricsListen is the TCP address of the Prometheus /metrics
	// endpoint. Default: "" (served on the API port, server.listen).
	MetricsListen string `toml:"metrics_listen" help:"TCP address of /metrics (default: the API port)"`
}

// AuthConfig configures logins and access tokens.
type AuthConfig struct {
	// JWTSecret signs access and refresh tokens (HS256); at least 32
	// bytes. Empty: a random secret is generated at first start and kept
	// in <data_dir>/jwt-secret (fine for one node; every node and function
	// sharing a warehouse needs the same configured secret).
	JWTSecret string `toml:"jwt_secret" help:"HS256 signing secret of tokens (>= 32 bytes); empty: generated in data_dir" secret:"true"`
	// AccessTTL is the lifetime of an access token. Default: 15m.
	AccessTTL Duration `toml:"access_ttl" help:"lifetime of access tokens"`
	// RefreshTTL is the lifetime of a refresh token. Default: 168h.
	RefreshTTL Duration `toml:"refresh_ttl" help:"lifetime of refresh tokens"`
	// MaxFailedLogins is the number of failed logins in a row of one user
	// from one client address after which that address must wait
	// (LoginBackoff, doubling with each further failure) before it may try
	// that user again. Other addresses are not slowed. Default: 5.
	MaxFailedLogins int `toml:"max_failed_logins" help:"failed logins of a user from one address before that address backs off"`
	// LoginBackoff is the first such wait. Default: 1s.
	LoginBackoff Duration `toml:"login_backoff" help:"first wait of an address after max_failed_logins failed logins (doubles up to lockout)"`
	// Lockout is the longest such wait. Default: 15m.
	Lockout Duration `toml:"lockout" help:"longest backoff of an address after failed logins"`
	// UserCacheTTL is how long a process trusts what it read of a user
	// (token epoch, role, dropped) when verifying tokens: the bound on how
	// late another process refuses a revoked token. Default: 1s.
	UserCacheTTL Duration `toml:"user_cache_ttl" help:"how long token checks trust a cached user row (revocation delay on other processes)"`
	// RootUser is the system user created at the first start with the
	// password in FLOE_ROOT_PASSWORD (or a generated one, printed once).
	// Default: "root".
	RootUser string `toml:"root_user" help:"name of the bootstrap system user"`
}

// BufferConfig sizes the node's write buffer (<data_dir>/buffer).
type BufferConfig struct {
	// MaxBytes bounds the buffered, not yet flushed data; writes beyond it
	// fail with a "buffer full" error until a flush frees room.
	// Default: 1073741824 (1 GiB).
	MaxBytes int64 `toml:"max_bytes" help:"bound of buffered unflushed data in bytes"`
	// MemTableBytes is the size of the buffer's Pebble memtable: writes
	// land there before Pebble writes them to its own files. Pebble keeps
	// up to a few memtables in memory while they are written out.
	// Default: 67108864 (64 MiB).
	MemTableBytes int64 `toml:"memtable_bytes" help:"Pebble memtable size of the write buffer, in bytes"`
	// BlockCacheBytes bounds the cache of blocks the buffer reads back
	// from its Pebble files (point reads and key checks of buffered
	// rows). Default: 33554432 (32 MiB).
	BlockCacheBytes int64 `toml:"block_cache_bytes" help:"Pebble block cache of the write buffer, in bytes"`
}

// FlushConfig is the default flush policy; a table's WITH (FLUSH_POLICY)
// overrides it.
type FlushConfig struct {
	// Rows flushes a partition once it buffers this many row versions.
	// Default: 100000.
	Rows int64 `toml:"rows" help:"flush a partition after this many buffered row versions"`
	// Interval flushes a partition this long after its oldest unflushed
	// write. Default: 60s.
	Interval Duration `toml:"interval" help:"flush a partition this long after its oldest unflushed write"`
}

// QueryConfig bounds the query engine (DuckDB) and its segment cache.
type QueryConfig struct {
	// MemoryLimit is DuckDB's memory limit, e.g. "1GB". Default: "1GB".
	MemoryLimit string `toml:"memory_limit" help:"DuckDB memory limit, e.g. 1GB"`
	// Threads is DuckDB's worker thread count. Default: 2.
	Threads int `toml:"threads" help:"DuckDB worker threads"`
	// Timeout stops a statement that runs longer. Default: 60s.
	Timeout Duration `toml:"timeout" help:"per-statement timeout"`
	// CacheBytes bounds the local segment cache (<data_dir>/cache).
	// Default: 1073741824 (1 GiB).
	CacheBytes int64 `toml:"cache_bytes" help:"bound of the local segment cache in bytes"`
	// PointCacheBytes bounds the memory of the compact per-segment key
	// indexes that answer primary-key reads of flushed rows without
	// decoding a segment; 0 turns them off (every such read decodes the
	// segments its key may be in). Default: 134217728 (128 MiB).
	PointCacheBytes int64 `toml:"point_cache_bytes" help:"memory for primary-key indexes of flushed segments, in bytes (0: off)"`
	// MaxValueBytes bounds the value one call of a size-driven function
	// (range, repeat, lpad, printf, …) may build; a batch of rows may
	// build four times as much. Default: 16777216 (16 MiB).
	MaxValueBytes int64 `toml:"max_value_bytes" help:"largest value a size-driven function (range, repeat, lpad, …) may build, in bytes"`
	// MaxResultBytes bounds one statement's result. Default: 67108864
	// (64 MiB).
	MaxResultBytes int64 `toml:"max_result_bytes" help:"largest result of one statement, in bytes"`
	// MaxConcurrent is how many statements run at once; more wait in a
	// queue. Default: 4.
	MaxConcurrent int `toml:"max_concurrent" help:"statements that run at once"`
	// MaxConcurrentPerUser is how many of them one user may run.
	// Default: 2.
	MaxConcurrentPerUser int `toml:"max_concurrent_per_user" help:"statements one user may run at once"`
	// QueueLength is how many statements may wait for a slot. Default: 16.
	QueueLength int `toml:"queue_length" help:"statements that may wait for a query slot"`
	// QueueWait is how long a statement waits for a slot before it is
	// refused with OVERLOADED. Default: 2s.
	QueueWait Duration `toml:"queue_wait" help:"how long a statement waits for a query slot"`
	// MaxConcurrentPointStatements is how many point statements run at
	// once: primary-key point reads and INSERT … VALUES of up to 64 rows,
	// which the storage engine answers without DuckDB. They take no query
	// slot (unless they turn out to need DuckDB); more wait up to
	// QueueWait for their own permit. Default: 64.
	MaxConcurrentPointStatements int `toml:"max_concurrent_point_statements" help:"point reads and INSERT … VALUES that run at once (they take no query slot)"`
	// ProcessMemoryLimit is the process's memory budget (resident set
	// size): above it, the memory guard stops the largest running
	// statement. "" means twice memory_limit; "off" turns the guard off.
	// Default: "".
	ProcessMemoryLimit string `toml:"process_memory_limit" help:"process memory budget (RSS), e.g. 2GB; empty: twice memory_limit; off: no guard"`
	// CacheDir is where segment files are cached for DuckDB, e.g. /tmp/floe
	// on Lambda. Default: "" (<data_dir>/cache).
	CacheDir string `toml:"cache_dir" help:"directory of the segment cache (default <data_dir>/cache)"`
}

// ProcessMemoryBytes returns the process memory budget in bytes (0: no
// guard). Call it on a valid Config.
func (q QueryConfig) ProcessMemoryBytes() int64 {
	switch q.ProcessMemoryLimit {
	case "off":
		return 0
	case "":
		n, _ := ParseSize(q.MemoryLimit)
		return 2 * n
	}
	n, _ := ParseSize(q.ProcessMemoryLimit)
	return n
}

// ParseSize parses a size such as "512MB" or "2GiB" as DuckDB does (KB is
// 1000 bytes, KiB 1024).
func ParseSize(s string) (int64, error) {
	m := memoryLimitPattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not a size such as \"512MB\" or \"2GB\"", s)
	}
	num, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, err)
	}
	unit := map[string]float64{"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
		"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[m[2]]
	return int64(num * unit), nil
}

// LogConfig controls structured logging.
type LogConfig struct {
	// Level is one of debug, info, warn, error. Default: "info".
	Level string `toml:"level" help:"log level: debug, info, warn or error"`
	// Format is "text" or "json". Default: "text".
	Format string `toml:"format" help:"log format: text or json"`
}

// StorageConfig selects and configures the object store, the source of truth.
type StorageConfig struct {
	// Backend is "fs" (a local directory, the embedded default), "s3" (S3 or
	// any S3-compatible server) or "memory" (lost at exit; tests and demos).
	// Default: "fs".
	Backend string   `toml:"backend" help:"object store backend: fs, s3 or memory"`
	FS      FSConfig `toml:"fs"`
	S3      S3Config `toml:"s3"`
}

// FSConfig configures the local directory object store.
type FSConfig struct {
	// Dir is the root directory. Default: "<data_dir>/objects".
	Dir string `toml:"dir" help:"root directory of the local object store"`
}

// S3Config configures the S3 object store. Credentials left empty come from
// the AWS default chain (env, shared config, instance or task role).
type S3Config struct {
	Bucket string `toml:"bucket" help:"S3 bucket name"`
	// Prefix is prepended to every key, so several warehouses can share a
	// bucket. Default: none.
	Prefix string `toml:"prefix" help:"key prefix inside the bucket"`
	// Endpoint is a custom endpoint URL (versitygw, MinIO, LocalStack).
	// Default: AWS.
	Endpoint string `toml:"endpoint" help:"custom S3 endpoint URL"`
	// Region. Default: "us-east-1".
	Region string `toml:"region" help:"S3 region"`
	// ForcePathStyle addresses buckets as endpoint/bucket instead of
	// bucket.endpoint; most self-hosted servers need it. Default: false.
	ForcePathStyle  bool   `toml:"force_path_style" help:"use path-style bucket addressing"`
	AccessKeyID     string `toml:"access_key_id" help:"static access key id (default: AWS credential chain)"`
	SecretAccessKey string `toml:"secret_access_key" help:"static secret access key" secret:"true"`
	SessionToken    string `toml:"session_token" help:"static session token" secret:"true"`
	// MaxAttempts bounds attempts per request, first try included.
	// Default: 5.
	MaxAttempts int `toml:"max_attempts" help:"attempts per S3 request, first try included"`
	// MaxBackoff caps the jittered exponential backoff between attempts.
	// Default: 2s.
	MaxBackoff Duration `toml:"max_backoff" help:"cap of the backoff between S3 retries"`
}

// CatalogConfig controls how the catalog manifest is cached.
type CatalogConfig struct {
	// RefreshInterval is how long a loaded catalog version is served before
	// the latest version is checked again (two small requests). A client
	// that needs its own writes passes a minimum catalog version instead.
	// Default: 2s.
	RefreshInterval Duration `toml:"refresh_interval" help:"how long a loaded catalog is trusted before re-checking"`
}

// Duration is a time.Duration written as a Go duration string ("250ms",
// "2s", "1m30s") in TOML, env and flags. A bare number is refused: its unit
// would be a guess.
type Duration struct{ time.Duration }

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("want a duration such as \"500ms\" or \"2s\", got %q", b)
	}
	d.Duration = v
	return nil
}

// Default returns the configuration used when nothing is set: a single
// local node storing everything under ./floe-data.
func Default() Config {
	return Config{
		NodeID:  DefaultNodeID,
		DataDir: "./floe-data",
		Log:     LogConfig{Level: "info", Format: "text"},
		Storage: StorageConfig{
			Backend: "fs",
			S3:      S3Config{Region: "us-east-1", MaxAttempts: 5, MaxBackoff: Duration{2 * time.Second}},
		},
		Catalog: CatalogConfig{RefreshInterval: Duration{2 * time.Second}},
		Buffer:  BufferConfig{MaxBytes: 1 << 30, MemTableBytes: 64 << 20, BlockCacheBytes: 32 << 20},
		Flush:   FlushConfig{Rows: 100_000, Interval: Duration{time.Minute}},
		Query: QueryConfig{MemoryLimit: "1GB", Threads: 2, Timeout: Duration{time.Minute}, CacheBytes: 1 << 30, PointCacheBytes: 128 << 20,
			MaxValueBytes: 16 << 20, MaxResultBytes: 64 << 20, MaxConcurrent: 4, MaxConcurrentPerUser: 2,
			QueueLength: 16, QueueWait: Duration{2 * time.Second}, MaxConcurrentPointStatements: 64},
		Server: ServerConfig{Listen: "127.0.0.1:7878", MaxRequestBytes: 16 << 20},
		Auth: AuthConfig{AccessTTL: Duration{15 * time.Minute}, RefreshTTL: Duration{7 * 24 * time.Hour},
			MaxFailedLogins: 5, LoginBackoff: Duration{time.Second}, Lockout: Duration{15 * time.Minute}, UserCacheTTL: Duration{time.Second}, RootUser: "root"},
		Role: "node",
		Jobs: JobsConfig{EvictInterval: Duration{30 * time.Second}, CompactInterval: Duration{10 * time.Minute},
			CompactMinSegments: 4, CompactTargetBytes: 128 << 20, GCInterval: Duration{time.Hour},
			GCRetention: Duration{24 * time.Hour}, GCGrace: Duration{time.Hour}},
		Lease: LeaseConfig{Duration: Duration{10 * time.Second}, RequestGrace: Duration{5 * time.Second}},
		Live: LiveConfig{MaxSubscriptionsPerUser: 100, MaxSubscriptionsPerConnection: 20, QueueLength: 1024,
			MaxMessageBytes: 4 << 20, Heartbeat: Duration{15 * time.Second}, PollInterval: Duration{2 * time.Second},
			Bus: BusConnect, NATSSubject: "floe.live.changes"},
	}
}

// Process roles (Config.Role).
const (
	RoleNode     = "node"
	RoleFunction = "function"
	RoleLive     = "live"
)

// Buses (LiveConfig.Bus).
const (
	BusConnect = "connect"
	BusNATS    = "nats"
)

// Publishes reports whether this process publishes its committed changes
// to live nodes: a function with live nodes (bus connect) or a NATS
// server (bus nats).
func (c *Config) Publishes() bool {
	if c.Role != RoleFunction {
		return false
	}
	if c.Live.Bus == BusNATS {
		return c.Live.NATSURL != ""
	}
	return len(c.LiveNodes()) > 0
}

// LiveNodes returns the base URLs of Live.Nodes, without blanks.
func (c *Config) LiveNodes() []string {
	var out []string
	for _, u := range strings.Split(c.Live.Nodes, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, strings.TrimRight(u, "/"))
		}
	}
	return out
}

// CacheDir returns the segment cache directory: Query.CacheDir, or
// <data_dir>/cache when that is empty.
func (c *Config) CacheDir() string {
	if c.Query.CacheDir != "" {
		return c.Query.CacheDir
	}
	return filepath.Join(c.DataDir, "cache")
}

// FSDir returns the local object store root: Storage.FS.Dir, or
// <data_dir>/objects when that is empty.
func (c *Config) FSDir() string {
	if c.Storage.FS.Dir != "" {
		return c.Storage.FS.Dir
	}
	return filepath.Join(c.DataDir, "objects")
}

// nodeIDPattern: letters, digits, '.', '_' and '-', starting with a letter
// or digit, at most 64 bytes. It appears in object keys and log lines.
var memoryLimitPattern = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$`)

var nodeIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Validate reports every problem in c, each naming its key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: %s: %s", key, fmt.Sprintf(format, args...)))
	}
	if !nodeIDPattern.MatchString(c.NodeID) {
		bad("node_id", "%q is not a valid node id (1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit)", c.NodeID)
	}
	if strings.TrimSpace(c.DataDir) == "" {
		bad("data_dir", "must not be empty")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "%q is not one of text, json", c.Log.Format)
	}
	switch c.Storage.Backend {
	case "fs", "memory":
	case "s3":
		s := c.Storage.S3
		if s.Bucket == "" {
			bad("storage.s3.bucket", "required when storage.backend is \"s3\"")
		}
		if s.Region == "" {
			bad("storage.s3.region", "must not be empty")
		}
		if s.Endpoint != "" && !strings.HasPrefix(s.Endpoint, "http://") && !strings.HasPrefix(s.Endpoint, "https://") {
			bad("storage.s3.endpoint", "%q must start with http:// or https://", s.Endpoint)
		}
		if (s.AccessKeyID == "") != (s.SecretAccessKey == "") {
			bad("storage.s3.access_key_id", "access_key_id and secret_access_key must be set together")
		}
		if strings.HasPrefix(s.Prefix, "/") || strings.HasSuffix(s.Prefix, "/") {
			bad("storage.s3.prefix", "%q must not start or end with '/'", s.Prefix)
		}
	default:
		bad("storage.backend", "%q is not one of fs, s3, memory", c.Storage.Backend)
	}
	if c.Storage.S3.MaxAttempts < 1 || c.Storage.S3.MaxAttempts > 20 {
		bad("storage.s3.max_attempts", "%d is out of range 1..20", c.Storage.S3.MaxAttempts)
	}
	if c.Storage.S3.MaxBackoff.Duration <= 0 {
		bad("storage.s3.max_backoff", "must be positive, got %s", c.Storage.S3.MaxBackoff)
	}
	if c.Buffer.MaxBytes < 1<<20 {
		bad("buffer.max_bytes", "must be at least 1048576 (1 MiB), got %d", c.Buffer.MaxBytes)
	}
	if c.Buffer.MemTableBytes < 1<<20 || c.Buffer.MemTableBytes >= 4<<30 {
		bad("buffer.memtable_bytes", "must be at least 1048576 (1 MiB) and below 4294967296 (4 GiB), got %d", c.Buffer.MemTableBytes)
	}
	if c.Buffer.BlockCacheBytes < 1<<20 {
		bad("buffer.block_cache_bytes", "must be at least 1048576 (1 MiB), got %d", c.Buffer.BlockCacheBytes)
	}
	if c.Flush.Rows < 1 {
		bad("flush.rows", "must be positive, got %d", c.Flush.Rows)
	}
	if c.Flush.Interval.Duration <= 0 {
		bad("flush.interval", "must be positive, got %s", c.Flush.Interval)
	}
	if !memoryLimitPattern.MatchString(c.Query.MemoryLimit) {
		bad("query.memory_limit", "%q is not a size such as \"512MB\" or \"2GB\"", c.Query.MemoryLimit)
	}
	if c.Query.Threads < 1 || c.Query.Threads > 256 {
		bad("query.threads", "%d is out of range 1..256", c.Query.Threads)
	}
	if c.Query.Timeout.Duration <= 0 {
		bad("query.timeout", "must be positive, got %s", c.Query.Timeout)
	}
	if c.Query.PointCacheBytes < 0 {
		bad("query.point_cache_bytes", "must be 0 (off) or more, got %d", c.Query.PointCacheBytes)
	}
	if c.Query.CacheBytes < 1<<20 {
		bad("query.cache_bytes", "must be at least 1048576 (1 MiB), got %d", c.Query.CacheBytes)
	}
	if c.Query.MaxValueBytes < 1<<10 {
		bad("query.max_value_bytes", "must be at least 1024, got %d", c.Query.MaxValueBytes)
	}
	if c.Query.MaxResultBytes < 1<<10 {
		bad("query.max_result_bytes", "must be at least 1024, got %d", c.Query.MaxResultBytes)
	}
	if c.Query.MaxConcurrent < 1 {
		bad("query.max_concurrent", "must be positive, got %d", c.Query.MaxConcurrent)
	}
	if c.Query.MaxConcurrentPerUser < 1 || c.Query.MaxConcurrentPerUser > c.Query.MaxConcurrent {
		bad("query.max_concurrent_per_user", "must be between 1 and query.max_concurrent (%d), got %d", c.Query.MaxConcurrent, c.Query.MaxConcurrentPerUser)
	}
	if c.Query.QueueLength < 0 {
		bad("query.queue_length", "must not be negative, got %d", c.Query.QueueLength)
	}
	if c.Query.MaxConcurrentPointStatements < 1 {
		bad("query.max_concurrent_point_statements", "must be positive, got %d", c.Query.MaxConcurrentPointStatements)
	}
	if c.Query.QueueWait.Duration <= 0 {
		bad("query.queue_wait", "must be positive, got %s", c.Query.QueueWait)
	}
	switch pm := c.Query.ProcessMemoryLimit; pm {
	case "", "off":
	default:
		n, err := ParseSize(pm)
		limit, lerr := ParseSize(c.Query.MemoryLimit)
		switch {
		case err != nil:
			bad("query.process_memory_limit", "%v (or empty for twice memory_limit, or off)", err)
		case lerr == nil && n <= limit:
			bad("query.process_memory_limit", "%s must be larger than query.memory_limit (%s): the process holds DuckDB's memory and more", pm, c.Query.MemoryLimit)
		}
	}
	if _, _, err := net.SplitHostPort(c.Server.Listen); err != nil {
		bad("server.listen", "%q is not a host:port address", c.Server.Listen)
	}
	if c.Server.MaxRequestBytes < 1024 {
		bad("server.max_request_bytes", "must be at least 1024, got %d", c.Server.MaxRequestBytes)
	}
	if c.Live.MaxSubscriptionsPerUser < 1 {
		bad("live.max_subscriptions_per_user", "must be positive, got %d", c.Live.MaxSubscriptionsPerUser)
	}
	if c.Live.MaxSubscriptionsPerConnection < 1 || c.Live.MaxSubscriptionsPerConnection > c.Live.MaxSubscriptionsPerUser {
		bad("live.max_subscriptions_per_connection", "must be between 1 and live.max_subscriptions_per_user (%d), got %d", c.Live.MaxSubscriptionsPerUser, c.Live.MaxSubscriptionsPerConnection)
	}
	if c.Live.QueueLength < 1 {
		bad("live.queue_length", "must be positive, got %d", c.Live.QueueLength)
	}
	if c.Live.MaxMessageBytes < 1024 {
		bad("live.max_message_bytes", "must be at least 1024, got %d", c.Live.MaxMessageBytes)
	}
	if c.Live.Heartbeat.Duration < 100*time.Millisecond {
		bad("live.heartbeat", "must be at least 100ms, got %s", c.Live.Heartbeat)
	}
	if c.Live.PollInterval.Duration <= 0 {
		bad("live.poll_interval", "must be positive, got %s", c.Live.PollInterval)
	}
	for i, u := range c.LiveNodes() {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			bad(fmt.Sprintf("live.nodes[%d]", i), "%q must start with http:// or https://", u)
		}
	}
	switch c.Live.Bus {
	case BusConnect:
		if c.Live.NATSURL != "" {
			bad("live.nats_url", "is set but live.bus is %q; set live.bus = \"nats\" to use NATS", c.Live.Bus)
		}
	case BusNATS:
		if len(c.LiveNodes()) > 0 {
			bad("live.nodes", "are the live nodes of bus \"connect\"; with live.bus = \"nats\" the live nodes subscribe to live.nats_subject instead")
		}
		if c.Live.NATSURL == "" && (c.Role == RoleFunction || c.Role == RoleLive) {
			bad("live.nats_url", "is required when live.bus is \"nats\" (e.g. \"nats://127.0.0.1:4222\")")
		}
		if strings.TrimSpace(c.Live.NATSSubject) == "" || strings.ContainsAny(c.Live.NATSSubject, " \t*>") {
			bad("live.nats_subject", "%q must be a NATS subject without blanks or wildcards", c.Live.NATSSubject)
		}
	default:
		bad("live.bus", "%q is not one of connect, nats", c.Live.Bus)
	}
	if c.Publishes() && c.Auth.JWTSecret == "" {
		bad("auth.jwt_secret", "is required to publish changes to live nodes (live.nodes or live.nats_url): "+
			"publishes are signed with a key derived from it, so writers and live nodes must share it")
	}
	if c.Role == RoleLive && c.Live.Bus == BusNATS && c.Auth.JWTSecret == "" {
		bad("auth.jwt_secret", "is required on a live node of bus \"nats\": it verifies the publishes with a key derived from the writers' shared secret")
	}
	if c.Auth.JWTSecret != "" && len(c.Auth.JWTSecret) < 32 {
		bad("auth.jwt_secret", "must be at least 32 bytes long (got %d); leave it empty to generate one", len(c.Auth.JWTSecret))
	}
	if c.Auth.AccessTTL.Duration < time.Second {
		bad("auth.access_ttl", "must be at least 1s, got %s", c.Auth.AccessTTL)
	}
	if c.Auth.RefreshTTL.Duration < c.Auth.AccessTTL.Duration {
		bad("auth.refresh_ttl", "must be at least auth.access_ttl (%s), got %s", c.Auth.AccessTTL, c.Auth.RefreshTTL)
	}
	if c.Auth.MaxFailedLogins < 1 {
		bad("auth.max_failed_logins", "must be at least 1, got %d", c.Auth.MaxFailedLogins)
	}
	if c.Auth.UserCacheTTL.Duration < 0 || c.Auth.UserCacheTTL.Duration > time.Minute {
		bad("auth.user_cache_ttl", "must be between 0s and 1m (it bounds how late a revoked token is refused), got %s", c.Auth.UserCacheTTL)
	}
	if c.Auth.Lockout.Duration < 0 {
		bad("auth.lockout", "must not be negative, got %s", c.Auth.Lockout)
	}
	if c.Auth.LoginBackoff.Duration <= 0 || c.Auth.LoginBackoff.Duration > c.Auth.Lockout.Duration {
		bad("auth.login_backoff", "must be more than 0s and at most auth.lockout (%s), got %s", c.Auth.Lockout, c.Auth.LoginBackoff)
	}
	if c.Auth.RootUser == "" {
		bad("auth.root_user", "must not be empty")
	}
	if d := c.Lease.Duration.Duration; d < 500*time.Millisecond || d > 10*time.Minute {
		bad("lease.duration", "%s is out of range 500ms..10m", c.Lease.Duration)
	}
	if g := c.Lease.RequestGrace.Duration; g < 0 || g > 10*time.Minute {
		bad("lease.request_grace", "%s is out of range 0s..10m", c.Lease.RequestGrace)
	}
	if c.Catalog.RefreshInterval.Duration < 0 {
		bad("catalog.refresh_interval", "must not be negative, got %s", c.Catalog.RefreshInterval)
	}
	switch c.Role {
	case RoleNode, RoleFunction, RoleLive:
	default:
		bad("role", "%q is not one of node, function, live", c.Role)
	}
	if c.Server.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.Server.MetricsListen); err != nil {
			bad("server.metrics_listen", "%q is not a host:port address (leave it empty to serve /metrics on server.listen)", c.Server.MetricsListen)
		}
	}
	j := c.Jobs
	for _, iv := range []struct {
		key string
		d   Duration
	}{{"jobs.evict_interval", j.EvictInterval}, {"jobs.compact_interval", j.CompactInterval}, {"jobs.gc_interval", j.GCInterval}} {
		if iv.d.Duration < 0 {
			bad(iv.key, "must not be negative (0s disables the job), got %s", iv.d)
		}
	}
	if j.CompactMinSegments < 2 {
		bad("jobs.compact_min_segments", "must be at least 2, got %d", j.CompactMinSegments)
	}
	if j.CompactTargetBytes < 1<<20 {
		bad("jobs.compact_target_bytes", "must be at least 1048576 (1 MiB), got %d", j.CompactTargetBytes)
	}
	if j.GCRetention.Duration < time.Minute {
		bad("jobs.gc_retention", "must be at least 1m (twice the manifest head TTL), got %s", j.GCRetention)
	}
	if j.GCGrace.Duration <= 0 {
		bad("jobs.gc_grace", "must be positive, got %s", j.GCGrace)
	}
	return errors.Join(errs...)
}
