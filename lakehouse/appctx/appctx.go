// Package appctx holds AppContext, the one object a Floe process builds at
// start from its configuration. It owns the process's NodeID and its shared
// services (object store, catalog log, schema registry, metrics registry,
// clock), and hands them to
// the components that need them. There is no global state: cmd/floe and
// each Lambda function build exactly one AppContext and pass it down.
package appctx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floedb/floe/lakehouse/config"
	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/schema"
	"github.com/floedb/floe/manifest"
)

// Deps are optional replacements for what New would otherwise build from
// the configuration. The zero value builds everything from the config.
type Deps struct {
	// Bucket replaces the object store built from storage.*. The
	// AppContext takes ownership and closes it in Close.
	Bucket objstore.Bucket
	// LogOutput receives log lines. Default: os.Stderr.
	LogOutput io.Writer
	// Clock returns the current time. Default: time.Now.
	Clock func() time.Time
	// Metrics is the registry every component registers its metrics with
	// (floe serve exposes it on /metrics). Default: a new registry of this
	// AppContext's own, so that AppContexts in one process do not clash.
	Metrics *prometheus.Registry
}

// AppContext owns one process's identity and shared services. Its methods
// are safe for concurrent use. Close releases what it owns.
type AppContext struct {
	cfg     config.Config
	nodeID  NodeID
	logger  *slog.Logger
	clock   func() time.Time
	bucket  objstore.Bucket
	catalog *manifest.Log[*manifest.Catalog]
	schemas *schema.Registry
	metrics *prometheus.Registry
	// manifests counts the commits of every manifest log of the process.
	manifests *manifest.Metrics
}

// New validates cfg and builds the AppContext: the NodeID, a logger whose
// every line carries node_id, the object store, the catalog log and the
// schema registry. Nothing is read from the object store yet.
func New(ctx context.Context, cfg config.Config, deps Deps) (*AppContext, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &AppContext{cfg: cfg, nodeID: NodeID{id: cfg.NodeID}, clock: deps.Clock}
	if a.clock == nil {
		a.clock = time.Now
	}
	out := deps.LogOutput
	if out == nil {
		out = os.Stderr
	}
	a.logger = newLogger(out, cfg.Log).With(slog.String("node_id", a.nodeID.id))

	a.metrics = deps.Metrics
	if a.metrics == nil {
		a.metrics = prometheus.NewRegistry()
	}
	a.bucket = deps.Bucket
	if a.bucket == nil {
		b, err := openBucket(ctx, cfg, a.logger)
		if err != nil {
			return nil, err
		}
		if a.bucket, err = injectFaults(ctx, b, a.logger); err != nil {
			b.Close()
			return nil, err
		}
	}
	a.bucket = objstore.Instrument(a.bucket, objstore.NewMetrics(a.metrics), a.clock)
	a.manifests = manifest.NewMetrics(a.metrics)
	a.catalog = manifest.NewCatalogLog(a.bucket, manifest.LogOptions{
		NodeID:  a.nodeID.String(),
		Clock:   a.clock,
		Logger:  a.logger.With(slog.String("component", "catalog")),
		Metrics: a.manifests,
	})
	a.schemas = schema.New(a.catalog, schema.Options{
		RefreshInterval: cfg.Catalog.RefreshInterval.Duration,
		Clock:           a.clock,
		Logger:          a.logger.With(slog.String("component", "schema")),
	})
	a.logger.LogAttrs(ctx, slog.LevelInfo, "app context ready",
		slog.String("storage", a.bucket.Name()), slog.String("data_dir", cfg.DataDir))
	return a, nil
}

// NodeID returns this process's NodeID.
func (a *AppContext) NodeID() NodeID { return a.nodeID }

// Config returns the configuration the AppContext was built from.
func (a *AppContext) Config() config.Config { return a.cfg }

// Logger returns the process logger; every line it writes has node_id.
// Components derive theirs with Logger().With("component", name).
func (a *AppContext) Logger() *slog.Logger { return a.logger }

// Clock returns the process clock. Logic never calls time.Now directly.
func (a *AppContext) Clock() func() time.Time { return a.clock }

// Bucket returns the object store, the source of truth.
func (a *AppContext) Bucket() objstore.Bucket { return a.bucket }

// Catalog returns the catalog manifest log.
func (a *AppContext) Catalog() *manifest.Log[*manifest.Catalog] { return a.catalog }

// Schemas returns the schema registry.
func (a *AppContext) Schemas() *schema.Registry { return a.schemas }

// Metrics returns the process's metrics registry: components register
// their metrics with it (as a prometheus.Registerer) and /metrics serves
// it (as a prometheus.Gatherer).
func (a *AppContext) Metrics() *prometheus.Registry { return a.metrics }

// ManifestMetrics returns the commit metrics shared by every manifest log
// of the process (the catalog's and the storage engine's partition logs).
func (a *AppContext) ManifestMetrics() *manifest.Metrics { return a.manifests }

// Close releases the services the AppContext owns.
func (a *AppContext) Close() error {
	if err := a.bucket.Close(); err != nil {
		return fmt.Errorf("appctx: close object store: %w", err)
	}
	return nil
}

func newLogger(w io.Writer, c config.LogConfig) *slog.Logger {
	var level slog.Level
	switch c.Level {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openBucket builds the object store that cfg.Storage selects.
func openBucket(ctx context.Context, cfg config.Config, logger *slog.Logger) (objstore.Bucket, error) {
	switch cfg.Storage.Backend {
	case "fs":
		b, err := objstore.NewFS(cfg.FSDir())
		if err != nil {
			return nil, fmt.Errorf("appctx: open local object store (storage.fs.dir): %w", err)
		}
		return b, nil
	case "memory":
		return objstore.NewMem(), nil
	case "s3":
		s := cfg.Storage.S3
		b, err := objstore.NewS3(ctx, objstore.S3Config{
			Bucket:          s.Bucket,
			Prefix:          s.Prefix,
			Endpoint:        s.Endpoint,
			Region:          s.Region,
			ForcePathStyle:  s.ForcePathStyle,
			AccessKeyID:     s.AccessKeyID,
			SecretAccessKey: s.SecretAccessKey,
			SessionToken:    s.SessionToken,
			MaxAttempts:     s.MaxAttempts,
			MaxBackoff:      s.MaxBackoff.Duration,
		}, logger.With(slog.String("component", "s3")))
		if err != nil {
			return nil, fmt.Errorf("appctx: open S3 object store (storage.s3.*): %w", err)
		}
		return b, nil
	}
	return nil, errors.New("appctx: storage.backend " + strings.ToLower(cfg.Storage.Backend) + " is not supported")
}
