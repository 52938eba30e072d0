package lease

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/manifest"
)

// maxClaimRounds bounds how often Acquire starts over after losing a
// compare-and-swap of the record to another node.
const maxClaimRounds = 5

// Acquire claims the writer lease for this node (see the package
// documentation for when it may), commits the new writer epoch to the
// catalog, and returns the held lease. It does not start the renewals:
// call Start.
//
// It refuses with ErrHeld when another data dir's holder did not release
// the lease and take-over was not asked for, and when that holder is
// alive (it renews while Acquire watches). With Options.TakeOver, Acquire
// waits TakeoverWait before it claims an unreleased lease.
func Acquire(ctx context.Context, opts Options) (*Lease, error) {
	if err := opts.ensureDefaults(); err != nil {
		return nil, err
	}
	log := opts.Logger
	for range maxClaimRounds {
		rec, etag, err := read(ctx, opts.Bucket)
		if err != nil {
			return nil, err
		}
		seen := opts.Clock()
		cat, err := opts.Catalog.Latest(ctx)
		if errors.Is(err, manifest.ErrNoManifest) {
			cat, err = &manifest.Catalog{}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("lease: read the catalog: %w", err)
		}
		continuous := false
		switch {
		case rec == nil:
			// A new warehouse, or one from before the lease object: the
			// buffer carries on if this node held the catalog's epoch.
			continuous = cat.Writer != nil && cat.Writer.NodeID == opts.NodeID
		case rec.DataDirID == opts.Home.ID() && opts.Home.Held(rec.Epoch):
			// This data dir held it last: the same node restarting (the
			// data dir's lock proves the previous process is gone).
			continuous = true
		case rec.Released:
		case !opts.TakeOver:
			return nil, heldError(rec, opts.Clock().UTC())
		default:
			log.LogAttrs(ctx, slog.LevelWarn, "taking over an unreleased writer lease: waiting to make sure its holder no longer renews it",
				slog.String("holder", rec.NodeID), slog.Uint64("holder_epoch", rec.Epoch),
				slog.Duration("wait", TakeoverWait(rec.Duration(), opts.RequestGrace)))
			changed, err := watch(ctx, opts, rec, etag, seen)
			if err != nil {
				return nil, err
			}
			if changed != nil {
				if changed.Epoch == rec.Epoch && !changed.Released {
					return nil, fmt.Errorf("%w: node %q (epoch %d) renewed its writer lease while this node waited to take it over: it is alive, and a live lease is never taken over. Stop that node first (it flushes and releases the lease)",
						ErrHeld, rec.NodeID, rec.Epoch)
				}
				continue // released or claimed meanwhile: decide again
			}
		}
		l, err := claim(ctx, opts, rec, etag, cat, continuous)
		if objstore.IsConditionNotMet(err) {
			continue // another node wrote the record first: decide again
		}
		if err != nil {
			return nil, err
		}
		if rec != nil && !rec.Released && !continuous {
			log.LogAttrs(ctx, slog.LevelWarn, "took over an unreleased writer lease; the rows its holder had not flushed are given up",
				slog.String("holder", rec.NodeID), slog.Uint64("holder_epoch", rec.Epoch), slog.String("holder_data_dir_id", rec.DataDirID))
		}
		log.LogAttrs(ctx, slog.LevelInfo, "writer lease acquired", slog.Uint64("writer_epoch", l.epoch),
			slog.Duration("lease_duration", opts.Duration), slog.Bool("buffer_continues", continuous))
		return l, nil
	}
	return nil, fmt.Errorf("%w: the lease record kept changing while this node tried to claim it; another node is starting", ErrHeld)
}

// heldError says who holds the lease and what to do.
func heldError(r *Record, now time.Time) error {
	who := fmt.Sprintf("node %q (epoch %d, data dir %s)", r.NodeID, r.Epoch, cmp.Or(r.DataDir, r.DataDirID))
	if exp := r.ExpiresAt(); now.Before(exp) {
		return fmt.Errorf("%w: the warehouse's writer lease is held by %s, renewed at %s and valid until %s: "+
			"only one node writes a warehouse. Stop that node first (it flushes and releases the lease), then start this one",
			ErrHeld, who, r.RenewedAt.Format(time.RFC3339), exp.Format(time.RFC3339))
	}
	return fmt.Errorf("%w: the warehouse's writer lease is held by %s and expired at %s without being released: "+
		"that node may have acknowledged rows that only its disk holds. Restart node %q on its data dir (it flushes them and "+
		"releases the lease when it stops), or, to give those rows up, start this node with --lease.take_over=true (FLOE_LEASE_TAKE_OVER=true)",
		ErrHeld, who, r.ExpiresAt().Format(time.RFC3339), r.NodeID)
}

// watch waits TakeoverWait from seen (when rec, with etag, was read),
// reading the record every third of the holder's duration. It returns the
// record if it changed (nil and "" for a removed one counts as a change
// too), nil if it did not.
func watch(ctx context.Context, opts Options, rec *Record, etag string, seen time.Time) (*Record, error) {
	wait := TakeoverWait(rec.Duration(), opts.RequestGrace)
	poll := max(rec.Duration()/3, 10*time.Millisecond)
	for {
		left := wait - opts.Clock().Sub(seen)
		if left <= 0 {
			return nil, nil
		}
		if err := opts.Sleep(ctx, min(poll, left)); err != nil {
			return nil, fmt.Errorf("lease: wait to take over: %w", err)
		}
		cur, curTag, err := read(ctx, opts.Bucket)
		if err != nil {
			return nil, err
		}
		if curTag != etag {
			if cur == nil {
				return &Record{}, nil
			}
			return cur, nil
		}
	}
}

// claim writes this node's record over the version etag of prev (nil:
// none), then commits the epoch to the catalog.
func claim(ctx context.Context, opts Options, prev *Record, etag string, cat *manifest.Catalog, continuous bool) (*Lease, error) {
	epoch := cat.WriterEpoch
	if prev != nil {
		epoch = max(epoch, prev.Epoch)
	}
	epoch++
	if err := opts.Home.Claim(epoch); err != nil {
		return nil, fmt.Errorf("lease: record the claim in the data dir: %w", err)
	}
	sent := opts.Clock()
	rec := Record{
		FormatVersion: recordFormat, Epoch: epoch, NodeID: opts.NodeID, DataDirID: opts.Home.ID(), DataDir: opts.Home.Path(),
		AcquiredAt: sent.UTC(), RenewedAt: sent.UTC(), DurationMillis: opts.Duration.Milliseconds(),
	}
	newTag, err := write(ctx, opts.Bucket, &rec, etag)
	if objstore.IsConditionNotMet(err) {
		return nil, err
	}
	if err != nil {
		// The outcome is open: look.
		cur, curTag, rerr := read(ctx, opts.Bucket)
		if rerr != nil || cur == nil || cur.Epoch != epoch || cur.DataDirID != rec.DataDirID {
			return nil, errors.Join(err, rerr)
		}
		rec, newTag = *cur, curTag
	}
	l := &Lease{opts: opts, epoch: epoch, continuous: continuous, previous: prev, turn: make(chan struct{}, 1), fenced: make(chan struct{})}
	l.mu.rec, l.mu.etag, l.mu.validUntil, l.mu.lastTry = rec, newTag, sent.Add(opts.Duration), sent
	c, err := manifest.ClaimWriter(ctx, opts.Catalog, manifest.WriterClaim{NodeID: opts.NodeID, Epoch: epoch, WarehouseID: opts.WarehouseID})
	if err != nil {
		// Nothing was acknowledged under this lease: give it back, unless
		// the buffer holds rows of this data dir's last holding, which
		// only a restart on this data dir may flush.
		if !continuous {
			if rerr := l.Release(context.WithoutCancel(ctx)); rerr != nil {
				opts.Logger.LogAttrs(ctx, slog.LevelWarn, "writer lease not released after a failed claim", slog.Any("error", rerr))
			}
		}
		return nil, fmt.Errorf("lease: commit writer epoch %d to the catalog: %w", epoch, err)
	}
	l.catalog = c
	return l, nil
}
