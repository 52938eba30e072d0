package wbuf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Option defaults.
const (
	DefaultMaxBytes       = 1 << 30  // 1 GiB
	DefaultMemTableSize   = 64 << 20 // 64 MiB
	DefaultBlockCacheSize = 32 << 20 // 32 MiB
)

// memTableStopWrites is Pebble's MemTableStopWritesThreshold: writes
// stall while this many memtables are queued, so the memtables hold at
// most this many MemTableSize plus the mutable one.
const memTableStopWrites = 2

// maxMemTableSize is Pebble's limit (MemTableSize must be below 4 GiB).
const maxMemTableSize = 4 << 30

// Options configure a Buffer. The zero value of every field but Dir means
// its default; Open calls EnsureDefaults and Validate.
type Options struct {
	// Dir is the directory of the Pebble database; it is created if
	// missing. Required. One Buffer at a time may use a directory (Pebble
	// locks it).
	Dir string
	// Logger receives the buffer's records and Pebble's own log lines
	// (Infof at INFO, Errorf at ERROR, Fatalf at ERROR before the process
	// exits; see pebbleLogger). Default: discard.
	Logger *slog.Logger
	// MaxBytes bounds the buffered user data: the encoded size (key +
	// value) of the buffered versions, summed over all partitions. A Write
	// that would take the sum above it fails with ErrFull; DeleteUpTo
	// frees room. It bounds what flushes have not yet moved out, not
	// Pebble's disk usage (deleted versions take space until compacted).
	// Default: 1 GiB.
	MaxBytes int64
	// MemTableSize is Pebble's memtable size. Default: 64 MiB.
	MemTableSize uint64
	// BlockCacheSize bounds the cache of Pebble blocks read back from the
	// buffer's tables (partition states and versions that left the
	// memtable), on top of the memtables. Default: 32 MiB.
	BlockCacheSize int64
	// Clock stamps the write time of each version (PartitionStats.
	// OldestWrite). Default: time.Now.
	Clock func() time.Time

	// fs replaces the operating system's file system (tests: a crashable
	// in-memory FS).
	fs vfs.FS
	// exit ends the process after a Pebble fatal error. Default: os.Exit.
	exit func(code int)
}

// EnsureDefaults replaces zero fields by their defaults.
func (o *Options) EnsureDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = DefaultMemTableSize
	}
	if o.BlockCacheSize == 0 {
		o.BlockCacheSize = DefaultBlockCacheSize
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.exit == nil {
		o.exit = os.Exit
	}
}

// pebbleCacheSize is the size of Pebble's cache: Pebble charges every
// memtable to the cache (Cache.Reserve), and a cache whose reservations
// reach its size caches no block at all, so the cache holds the largest
// memtable charge plus BlockCacheSize.
func (o *Options) pebbleCacheSize() int64 {
	return int64(o.MemTableSize)*(memTableStopWrites+1) + o.BlockCacheSize
}

// Validate reports every problem of options that EnsureDefaults has filled.
func (o *Options) Validate() error {
	var errs []error
	if o.Dir == "" {
		errs = append(errs, errors.New("wbuf: Dir is required (the write buffer's directory, e.g. <data_dir>/wbuf)"))
	}
	if o.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("wbuf: MaxBytes is %d; it must be positive (0 means the default, %d)", o.MaxBytes, DefaultMaxBytes))
	}
	if o.BlockCacheSize < 0 {
		errs = append(errs, fmt.Errorf("wbuf: BlockCacheSize is %d; it must be positive (0 means the default, %d)", o.BlockCacheSize, DefaultBlockCacheSize))
	}
	if o.MemTableSize >= maxMemTableSize {
		errs = append(errs, fmt.Errorf("wbuf: MemTableSize is %d; it must be below 4 GiB", o.MemTableSize))
	}
	return errors.Join(errs...)
}

// pebbleLogger sends Pebble's log lines to slog, with constant messages and
// the formatted line under "detail".
//
// Fatalf does not return: it logs and ends the process, like Pebble's
// default logger. Pebble relies on that; for example DB.Apply calls
// Logger.Fatalf when the commit pipeline fails (a WAL write or fsync
// error) and then carries on as if the batch had committed, so a Fatalf
// that returned would let Write acknowledge data that is not durable. A
// restart recovers from the WAL.
type pebbleLogger struct {
	logger *slog.Logger
	exit   func(code int)
}

var _ pebble.Logger = pebbleLogger{}

func (l pebbleLogger) logf(level slog.Level, msg, format string, args []any) {
	ctx := context.Background()
	if !l.logger.Enabled(ctx, level) {
		return
	}
	l.logger.LogAttrs(ctx, level, msg, slog.String("detail", fmt.Sprintf(format, args...)))
}

// Infof implements pebble.Logger.
func (l pebbleLogger) Infof(format string, args ...any) {
	l.logf(slog.LevelInfo, "pebble", format, args)
}

// Errorf implements pebble.Logger.
func (l pebbleLogger) Errorf(format string, args ...any) {
	l.logf(slog.LevelError, "pebble error", format, args)
}

// Fatalf implements pebble.Logger: it logs and exits with status 1.
func (l pebbleLogger) Fatalf(format string, args ...any) {
	l.logf(slog.LevelError, "pebble fatal error; exiting", format, args)
	l.exit(1)
}
