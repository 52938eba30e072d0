package jobs

import (
	"context"
	"fmt"

	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/schema"
	"github.com/floedb/floe/lakehouse/tablestore"
	"github.com/floedb/floe/manifest"
)

// TableID is the ID of system.jobs, where TableSink stores records. The
// executor creates the table from Columns (system tables and their
// upgrade); this package owns its row format.
const TableID = "system." + TableName

// TableName is the name of the jobs table in the system namespace.
const TableName = "jobs"

// Columns are the columns of system.jobs, in order; job_id is the key.
func Columns() []manifest.Column {
	c := func(name string, t manifest.Type, nullable bool) manifest.Column {
		return manifest.Column{Name: name, Type: t, Nullable: nullable}
	}
	return []manifest.Column{
		c("job_id", manifest.Text, false), c("kind", manifest.Text, false), c("table_id", manifest.Text, true),
		c("namespace", manifest.Text, true), c("table_name", manifest.Text, true), c("partition_key", manifest.Text, true),
		c("node_id", manifest.Text, false), c("status", manifest.Text, false), c("trigger", manifest.Text, true),
		c("started_at", manifest.Timestamp, true), c("finished_at", manifest.Timestamp, true),
		c("rows", manifest.BigInt, true), c("bytes", manifest.BigInt, true), c("error", manifest.Text, true),
	}
}

// Writer makes changes of one partition durable: the node's buffer or the
// direct path (lakehouse/node provides it).
type Writer interface {
	Write(ctx context.Context, t *manifest.Table, partition string, changes []tablestore.Change) error
}

// TableSink stores records as rows of system.jobs (a Sink). Flushes of
// system.jobs itself are not recorded, so that recording a job never makes
// more work for the next flush. It is safe for concurrent use.
type TableSink struct {
	schemas *schema.Registry
	w       Writer
}

// NewTableSink returns a Sink writing system.jobs through w.
func NewTableSink(schemas *schema.Registry, w Writer) *TableSink {
	return &TableSink{schemas: schemas, w: w}
}

// RecordJob implements Sink.
func (s *TableSink) RecordJob(ctx context.Context, r Record) error {
	if r.TableID == TableID {
		return nil
	}
	snap, err := s.schemas.Current(ctx)
	if err != nil {
		return fmt.Errorf("jobs: record %s: %w", r.ID, err)
	}
	jt, err := snap.TableByID(TableID)
	if err != nil {
		return fmt.Errorf("jobs: record %s: %w", r.ID, err)
	}
	vals := map[string]row.Value{
		"job_id": row.Text(r.ID), "kind": row.Text(r.Kind), "table_id": textOrNull(r.TableID),
		"partition_key": textOrNull(r.Partition), "node_id": row.Text(r.NodeID), "status": row.Text(string(r.Status)),
		"trigger": textOrNull(r.Trigger), "started_at": timeOrNull(r.StartedAt.UnixMicro(), r.StartedAt.IsZero()),
		"finished_at": timeOrNull(r.FinishedAt.UnixMicro(), r.FinishedAt.IsZero()),
		"rows":        row.BigInt(r.Rows), "bytes": row.BigInt(r.Bytes), "error": textOrNull(r.Error),
	}
	if t, err := snap.TableByID(r.TableID); err == nil {
		vals["namespace"], vals["table_name"] = row.Text(t.Def().Namespace), row.Text(t.Def().Name)
	}
	def := jt.Def()
	values := make(row.Row, len(def.Columns))
	for i, c := range def.Columns {
		if v, ok := vals[c.Name]; ok {
			values[i] = v
		}
	}
	return s.w.Write(ctx, def, "", []tablestore.Change{{Values: values}})
}

func textOrNull(s string) row.Value {
	if s == "" {
		return row.Null()
	}
	return row.Text(s)
}

func timeOrNull(micros int64, zero bool) row.Value {
	if zero {
		return row.Null()
	}
	return row.Timestamp(micros)
}
