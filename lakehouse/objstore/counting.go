package objstore

import (
	"context"
	"fmt"
	"io"
	"iter"
	"sync/atomic"
)

// OpCounts is a snapshot of a Counting bucket's call counters.
type OpCounts struct {
	Get, GetRange, Attributes, Put, Delete, List int64
}

// Total is the number of calls of any kind.
func (c OpCounts) Total() int64 {
	return c.Get + c.GetRange + c.Attributes + c.Put + c.Delete + c.List
}

// String renders the counts compactly for test failure messages.
func (c OpCounts) String() string {
	return fmt.Sprintf("get=%d get_range=%d attributes=%d put=%d delete=%d list=%d",
		c.Get, c.GetRange, c.Attributes, c.Put, c.Delete, c.List)
}

// Counting wraps a Bucket and counts calls per operation, failed ones
// included, so tests can pin how many requests a code path makes. List
// counts calls, not pages or yielded objects.
//
// Counting is safe for concurrent use; counters are atomic. Close closes
// the wrapped bucket.
type Counting struct {
	b                                         Bucket
	get, getRange, attributes, put, del, list atomic.Int64
}

var _ Bucket = (*Counting)(nil)

// NewCounting returns b wrapped with zeroed counters.
func NewCounting(b Bucket) *Counting { return &Counting{b: b} }

// Counts returns the counters. Each is read atomically, the set is not:
// calls racing with Counts may be partly included.
func (c *Counting) Counts() OpCounts {
	return OpCounts{
		Get:        c.get.Load(),
		GetRange:   c.getRange.Load(),
		Attributes: c.attributes.Load(),
		Put:        c.put.Load(),
		Delete:     c.del.Load(),
		List:       c.list.Load(),
	}
}

// Reset zeroes the counters.
func (c *Counting) Reset() {
	for _, n := range []*atomic.Int64{&c.get, &c.getRange, &c.attributes, &c.put, &c.del, &c.list} {
		n.Store(0)
	}
}

// Get implements Bucket.
func (c *Counting) Get(ctx context.Context, key string) (io.ReadCloser, Attrs, error) {
	c.get.Add(1)
	return c.b.Get(ctx, key)
}

// GetRange implements Bucket.
func (c *Counting) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	c.getRange.Add(1)
	return c.b.GetRange(ctx, key, off, length)
}

// Attributes implements Bucket.
func (c *Counting) Attributes(ctx context.Context, key string) (Attrs, error) {
	c.attributes.Add(1)
	return c.b.Attributes(ctx, key)
}

// Put implements Bucket.
func (c *Counting) Put(ctx context.Context, key string, data []byte, opts PutOptions) (Attrs, error) {
	c.put.Add(1)
	return c.b.Put(ctx, key, data, opts)
}

// Delete implements Bucket.
func (c *Counting) Delete(ctx context.Context, key string) error {
	c.del.Add(1)
	return c.b.Delete(ctx, key)
}

// List implements Bucket. The call is counted when List is called, whether
// or not the sequence is iterated.
func (c *Counting) List(ctx context.Context, prefix, startAfter string) iter.Seq2[Attrs, error] {
	c.list.Add(1)
	return c.b.List(ctx, prefix, startAfter)
}

// Name implements Bucket.
func (c *Counting) Name() string { return c.b.Name() }

// Close implements Bucket by closing the wrapped bucket.
func (c *Counting) Close() error { return c.b.Close() }
