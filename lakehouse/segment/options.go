package segment

import (
	"errors"
	"fmt"
)

// Compression codec names for WriterOptions.Compression.
const (
	CompressionZstd   = "zstd"
	CompressionSnappy = "snappy"
)

// Option defaults.
const (
	DefaultRowGroupRows    = 128 * 1024
	DefaultRowGroupBytes   = 64 << 20
	DefaultPageBufferBytes = 256 << 10
)

// WriterOptions tune Write. The zero value means every default.
//
// Memory: Write holds one row group at a time. Its peak heap is about
//
//	  the encoded row group (at most RowGroupBytes, usually much less)
//	+ (columns + 2) × PageBufferBytes (one page of values per column)
//	+ 2 × PageBufferBytes (encoding and compression scratch)
//	+ about 1 MiB for the zstd encoder (its window is sized to the pages;
//	  encoders are pooled across writes, so an idle one may stay on the
//	  heap until a garbage collection or two after the last write)
//	+ up to 1 MiB of input rows in a batch, and a 64 KiB output buffer
//	+ the smallest and largest value of each column so far (statistics)
//
// whatever the number of rows; measured: 2M rows of 4 columns (86 MB of
// Parquet) peak at about +30 MiB of heap, garbage included. A single value
// larger than PageBufferBytes makes its page that large.
type WriterOptions struct {
	// Compression is the page codec: "zstd" or "snappy". Default: "zstd".
	Compression string
	// RowGroupRows caps the rows of a row group. Default: 131072.
	RowGroupRows int64
	// RowGroupBytes ends a row group once its values take this many bytes
	// before encoding (strings by length, other values by their Parquet
	// width). It bounds the writer's memory when rows are wide; a row group
	// may exceed it by one batch of at most 1 MiB. Default: 64 MiB.
	RowGroupBytes int64
	// PageBufferBytes is the size of each column's page buffer: a page is
	// encoded and compressed when its values reach it. Default: 256 KiB.
	PageBufferBytes int
}

// EnsureDefaults replaces zero fields by their defaults.
func (o *WriterOptions) EnsureDefaults() {
	if o.Compression == "" {
		o.Compression = CompressionZstd
	}
	if o.RowGroupRows == 0 {
		o.RowGroupRows = DefaultRowGroupRows
	}
	if o.RowGroupBytes == 0 {
		o.RowGroupBytes = DefaultRowGroupBytes
	}
	if o.PageBufferBytes == 0 {
		o.PageBufferBytes = DefaultPageBufferBytes
	}
}

// Validate reports every problem of options that EnsureDefaults has filled.
func (o *WriterOptions) Validate() error {
	var errs []error
	switch o.Compression {
	case CompressionZstd, CompressionSnappy:
	default:
		errs = append(errs, fmt.Errorf("segment: WriterOptions.Compression must be %q or %q, got %q", CompressionZstd, CompressionSnappy, o.Compression))
	}
	if o.RowGroupRows < 1 {
		errs = append(errs, fmt.Errorf("segment: WriterOptions.RowGroupRows must be at least 1, got %d", o.RowGroupRows))
	}
	if o.RowGroupBytes < 1 {
		errs = append(errs, fmt.Errorf("segment: WriterOptions.RowGroupBytes must be at least 1, got %d", o.RowGroupBytes))
	}
	if o.PageBufferBytes < 1024 || o.PageBufferBytes > 1<<30 {
		errs = append(errs, fmt.Errorf("segment: WriterOptions.PageBufferBytes must be between 1 KiB and 1 GiB, got %d", o.PageBufferBytes))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return nil
}
