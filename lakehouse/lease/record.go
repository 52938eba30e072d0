package lease

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/floedb/floe/lakehouse/objstore"
)

// Key is the object that holds the lease record, in the catalog area of
// the warehouse (next to catalog/v/ and catalog/latest).
const Key = "catalog/lease"

// recordFormat is the layout of Record this build writes and reads.
const recordFormat = 1

// maxRecordSize bounds what a read of the lease object reads.
const maxRecordSize = 64 << 10

// Record is the lease object: who holds the warehouse's writer lease, how
// long it lasts and whether its holder released it. Every write of it is a
// compare-and-swap on its ETag (If-Match), or a create (If-None-Match) for
// the first; every write changes its content (Renewals counts up), so that
// its ETag changes on every backend.
//
// Times are the writer's wall clock and only informational (messages, and
// the quick "live or expired" answer to a node that will not take it
// over): no decision of the protocol rests on comparing clocks of two
// machines.
type Record struct {
	FormatVersion int `json:"format_version"`
	// Epoch is the writer epoch of the holder: one above every epoch the
	// warehouse had before (and equal to the catalog's after the claim).
	Epoch uint64 `json:"epoch"`
	// NodeID is the holder's node id.
	NodeID string `json:"node_id"`
	// DataDirID identifies the holder's data dir, whose buffer holds the
	// rows it acknowledged and has not flushed yet (datadir.Dir.ID).
	DataDirID string `json:"data_dir_id"`
	// DataDir is the holder's data dir path on its machine
	// (informational, for messages).
	DataDir string `json:"data_dir,omitempty"`
	// AcquiredAt is when the holder claimed the lease.
	AcquiredAt time.Time `json:"acquired_at"`
	// RenewedAt is when the holder sent its last renewal.
	RenewedAt time.Time `json:"renewed_at"`
	// DurationMillis is the lease duration the holder uses: it trusts the
	// lease for this long, by its own monotonic clock, after sending a
	// renewal that then succeeded.
	DurationMillis int64 `json:"duration_ms"`
	// Renewals counts the writes of this record since the claim.
	Renewals uint64 `json:"renewals"`
	// Released is set by the holder's graceful stop, after its last flush:
	// nothing of the holder remains to be flushed, and it writes no more.
	Released   bool       `json:"released,omitempty"`
	ReleasedAt *time.Time `json:"released_at,omitempty"`
}

// Duration returns the lease duration of the holder.
func (r *Record) Duration() time.Duration { return time.Duration(r.DurationMillis) * time.Millisecond }

// ExpiresAt returns when the lease runs out by the holder's wall clock if
// it is not renewed (informational).
func (r *Record) ExpiresAt() time.Time { return r.RenewedAt.Add(r.Duration()) }

func (r *Record) validate() error {
	var errs []error
	if r.FormatVersion != recordFormat {
		errs = append(errs, fmt.Errorf("format_version %d is not %d", r.FormatVersion, recordFormat))
	}
	if r.Epoch == 0 {
		errs = append(errs, errors.New("epoch must be at least 1"))
	}
	if r.NodeID == "" || r.DataDirID == "" {
		errs = append(errs, errors.New("node_id and data_dir_id are required"))
	}
	if r.DurationMillis <= 0 {
		errs = append(errs, errors.New("duration_ms must be positive"))
	}
	if r.Released != (r.ReleasedAt != nil) {
		errs = append(errs, errors.New("released and released_at go together"))
	}
	return errors.Join(errs...)
}

func encodeRecord(r *Record) ([]byte, error) {
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("lease: encode record: %w", err)
	}
	return json.MarshalIndent(r, "", "  ")
}

func decodeRecord(b []byte) (*Record, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var r Record
	if err := dec.Decode(&r); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data")
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// read returns the lease record and its ETag; nil and "" when there is
// none.
func read(ctx context.Context, b objstore.Bucket) (*Record, string, error) {
	rc, attrs, err := b.Get(ctx, Key)
	if objstore.IsNotFound(err) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("lease: read %s: %w", Key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxRecordSize+1))
	if err != nil {
		return nil, "", fmt.Errorf("lease: read %s: %w", Key, err)
	}
	if len(data) > maxRecordSize {
		return nil, "", fmt.Errorf("lease: %s is larger than %d bytes", Key, maxRecordSize)
	}
	r, err := decodeRecord(data)
	if err != nil {
		return nil, "", fmt.Errorf("lease: %s is damaged: %w (remove it only when no node runs on this warehouse)", Key, err)
	}
	return r, attrs.ETag, nil
}

// write puts r over the version with ETag etag ("" creates it) and
// returns the new ETag. objstore.IsConditionNotMet(err) means another
// writer changed the object first and nothing was written; any other
// error leaves the outcome open.
func write(ctx context.Context, b objstore.Bucket, r *Record, etag string) (string, error) {
	data, err := encodeRecord(r)
	if err != nil {
		return "", err
	}
	opts := objstore.PutOptions{IfMatch: etag, IfNoneMatch: etag == ""}
	attrs, err := b.Put(ctx, Key, data, opts)
	if err != nil {
		return "", fmt.Errorf("lease: write %s: %w", Key, err)
	}
	return attrs.ETag, nil
}
