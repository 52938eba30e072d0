// Command bootstrap is the maintenance Lambda function (runtime
// provided.al2023): on a schedule (an EventBridge rule) it runs Floe's
// background jobs once — flush, STREAM TTL eviction, compaction of small
// segments, garbage collection — over every table of the warehouse or the
// tables an event names, with the same engine code as `floe serve`
// (node.Open in the "function" role, then Node.Jobs.RunSelected).
//
// # Events
//
// The payload is either a Request as JSON, e.g.
//
//	{"tables": ["app.events"], "jobs": ["evict", "compact"]}
//
// (an EventBridge rule's constant input, or a direct invocation), or an
// EventBridge event whose "detail" is a Request (a scheduled event's
// detail is {}: every job on every table). Jobs are "flush", "evict",
// "compact" and "gc"; none listed means all four. They always run in that
// order.
//
// # Guarantees
//
// Every job run that did something or failed is recorded in system.jobs
// with this container's node id (FLOE_NODE_ID, else the function's name
// plus a random suffix, see fnconfig) and trigger "maintenance", and is
// returned in the Response. Runs are idempotent (a second run right after
// a first finds nothing to do) and safe beside writers and beside other
// runs, in any process (see jobs.Scheduler.RunSelected): compaction
// commits only if the segments it merged are still listed, on top of the
// writers' commits; GC deletes only what no kept manifest version lists;
// eviction deletes only expired rows. On a direct-mode warehouse nothing
// is buffered, so "flush" has nothing to do; on a node-mode warehouse the
// node runs its own jobs and this function refuses to start.
//
// The job policy comes from the FLOE_JOBS_* variables (compaction's
// FLOE_JOBS_COMPACT_MIN_SEGMENTS and FLOE_JOBS_COMPACT_TARGET_BYTES, GC's
// FLOE_JOBS_GC_RETENTION and FLOE_JOBS_GC_GRACE); the intervals are the
// schedule's business.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/floedb/floe/functions/internal/fnconfig"
	"github.com/floedb/floe/lakehouse/appctx"
	"github.com/floedb/floe/lakehouse/config"
	"github.com/floedb/floe/lakehouse/jobs"
	"github.com/floedb/floe/lakehouse/node"
)

// Request says what one invocation runs.
type Request struct {
	// Tables are "namespace.table" names; empty: every table.
	Tables []string `json:"tables,omitempty"`
	// Table is one more name, for the common single-table event.
	Table string `json:"table,omitempty"`
	// Jobs are of "flush", "evict", "compact", "gc"; empty: all.
	Jobs []string `json:"jobs,omitempty"`
}

// Response says what one invocation did.
type Response struct {
	NodeID     string `json:"node_id"`
	DurationMs int64  `json:"duration_ms"`
	// Jobs are the job runs that did something or failed, as recorded in
	// system.jobs.
	Jobs []Job `json:"jobs"`
}

// Job is one job run.
type Job struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	Table     string `json:"table"` // namespace.name ("" for a run over all tables)
	Partition string `json:"partition,omitempty"`
	Status    string `json:"status"`
	Rows      int64  `json:"rows"`
	Bytes     int64  `json:"bytes"`
	Error     string `json:"error,omitempty"`
}

// Handler answers one invocation.
type Handler func(ctx context.Context, event json.RawMessage) (Response, error)

func main() {
	ctx := context.Background()
	cfg, err := loadConfig(os.Environ())
	if err != nil {
		fail(err)
	}
	h, closeFn, err := newHandler(ctx, cfg, appctx.Deps{})
	if err != nil {
		fail(err)
	}
	defer closeFn()
	lambda.Start(h)
}

// fail reports a cold-start error and exits; Lambda reports the init
// failure and retries with a fresh container.
func fail(err error) {
	slog.Error("maintenance function cannot start", slog.String("error", err.Error()))
	os.Exit(1)
}

// loadConfig reads the FLOE_* variables of environ (see fnconfig.Load).
func loadConfig(environ []string) (config.Config, error) {
	return fnconfig.Load(environ, "maintenance")
}

// newHandler opens the engine for cfg (role "function", with deps) and returns the
// handler, reused by every invocation of the container, and the function
// that closes the engine. A warehouse this function may not write (a
// node-mode warehouse: its node runs the jobs) is refused.
func newHandler(ctx context.Context, cfg config.Config, deps appctx.Deps) (Handler, func(), error) {
	if cfg.Role != config.RoleFunction {
		return nil, nil, fmt.Errorf("maintenance function: role is %q, want %q", cfg.Role, config.RoleFunction)
	}
	app, err := appctx.New(ctx, cfg, deps)
	if err != nil {
		return nil, nil, fmt.Errorf("maintenance function: %w", err)
	}
	n, err := node.Open(ctx, app, node.Deps{})
	if err != nil {
		app.Close()
		return nil, nil, fmt.Errorf("maintenance function: %w", err)
	}
	closeFn := func() {
		if err := n.Close(); err != nil {
			app.Logger().LogAttrs(context.Background(), slog.LevelWarn, "closing the engine", slog.String("error", err.Error()))
		}
		app.Close()
	}
	if err := n.Writable(); err != nil {
		closeFn()
		return nil, nil, fmt.Errorf("maintenance function: the warehouse's node runs its jobs itself: %w", err)
	}
	m := &maintainer{n: n}
	return m.handle, closeFn, nil
}

// maintainer runs the jobs of one container.
type maintainer struct{ n *node.Node }

func (m *maintainer) handle(ctx context.Context, event json.RawMessage) (Response, error) {
	start := time.Now()
	app := m.n.App
	resp := Response{NodeID: app.NodeID().String(), Jobs: []Job{}}
	req, err := parseEvent(event)
	if err != nil {
		return resp, err
	}
	sel, names, err := m.selection(ctx, req)
	if err != nil {
		return resp, err
	}
	recs, runErr := m.n.Jobs.RunSelected(ctx, sel)
	for _, r := range recs {
		resp.Jobs = append(resp.Jobs, Job{ID: r.ID, Kind: r.Kind, Table: names[r.TableID], Partition: r.Partition,
			Status: string(r.Status), Rows: r.Rows, Bytes: r.Bytes, Error: r.Error})
	}
	resp.DurationMs = time.Since(start).Milliseconds()
	app.Logger().LogAttrs(ctx, slog.LevelInfo, "maintenance run", slog.Int("jobs", len(resp.Jobs)),
		slog.Int64("duration_ms", resp.DurationMs), slog.Any("error", runErr))
	if runErr != nil {
		return resp, fmt.Errorf("maintenance function: %d job runs, some failed (see system.jobs): %w", len(resp.Jobs), runErr)
	}
	return resp, nil
}

// selection resolves the request's table names against the current
// catalog and returns the jobs' selection and every table's name by ID.
func (m *maintainer) selection(ctx context.Context, req Request) (jobs.Selection, map[string]string, error) {
	snap, err := m.n.App.Schemas().Current(ctx)
	if err != nil {
		return jobs.Selection{}, nil, fmt.Errorf("maintenance function: read the catalog: %w", err)
	}
	names := map[string]string{}
	for _, t := range snap.Catalog().Tables {
		names[t.ID] = t.Namespace + "." + t.Name
	}
	sel := jobs.Selection{Kinds: req.Jobs}
	if err := sel.Validate(); err != nil {
		return sel, nil, fmt.Errorf("maintenance function: %w", err)
	}
	tables := req.Tables
	if req.Table != "" {
		tables = append(tables, req.Table)
	}
	var errs []error
	for _, name := range tables {
		ns, tn, ok := strings.Cut(name, ".")
		if !ok || ns == "" || tn == "" {
			errs = append(errs, fmt.Errorf("table %q is not namespace.table", name))
			continue
		}
		t, err := snap.Table(ns, tn)
		if err != nil {
			errs = append(errs, fmt.Errorf("table %q: %w", name, err))
			continue
		}
		sel.TableIDs = append(sel.TableIDs, t.Def().ID)
	}
	if err := errors.Join(errs...); err != nil {
		return sel, nil, fmt.Errorf("maintenance function: %w", err)
	}
	return sel, names, nil
}

// parseEvent reads a Request from a direct payload or from the "detail" of
// an EventBridge event (an empty or absent detail: everything).
func parseEvent(event json.RawMessage) (Request, error) {
	var probe struct {
		DetailType *string         `json:"detail-type"`
		Detail     json.RawMessage `json:"detail"`
	}
	body := event
	if len(strings.TrimSpace(string(event))) == 0 || string(event) == "null" {
		return Request{}, nil
	}
	if err := json.Unmarshal(event, &probe); err != nil {
		return Request{}, fmt.Errorf("maintenance function: the event is not a JSON object: %w", err)
	}
	if probe.DetailType != nil {
		body = probe.Detail
		if len(body) == 0 || string(body) == "null" {
			return Request{}, nil
		}
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	if probe.DetailType == nil {
		dec.DisallowUnknownFields() // a direct request: a typo must not mean "everything"
	}
	var req Request
	if err := dec.Decode(&req); err != nil {
		return Request{}, fmt.Errorf("maintenance function: the event is not a request "+
			`({"tables": ["ns.table"], "jobs": ["flush", "evict", "compact", "gc"]}): %w`, err)
	}
	return req, nil
}
