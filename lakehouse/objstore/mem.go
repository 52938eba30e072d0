package objstore

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"sync"
	"time"
)

// Mem is an in-memory Bucket for tests and ephemeral use.
//
// Mem is safe for concurrent use. Every operation is linearizable: a single
// RWMutex orders all writes, so conditional puts are trivially atomic. Put
// and Get copy data, so callers may reuse their buffers. The ETag of an
// object is the hex MD5 of its content, as S3 computes it for single-part
// uploads: rewriting identical bytes yields the same ETag.
//
// Like FS, and unlike AWS S3, Mem refuses a key that is a path prefix of
// another ("a" and "a/b") with ErrInvalidKey, so that code tested against
// Mem also runs on path-based stores.
type Mem struct {
	now func() time.Time

	mu struct {
		sync.RWMutex
		objects map[string]memObject
		// dirs counts, for each path prefix ("a" and "a/b" for key
		// "a/b/c"), the objects below it.
		dirs map[string]int
	}
}

// memObject is immutable once stored: Put replaces the map entry.
type memObject struct {
	data  []byte
	attrs Attrs
}

var _ Bucket = (*Mem)(nil)

// NewMem returns an empty in-memory bucket.
func NewMem() *Mem {
	m := &Mem{now: time.Now}
	m.mu.objects = make(map[string]memObject)
	m.mu.dirs = make(map[string]int)
	return m
}

func (m *Mem) lookup(ctx context.Context, op, key string) (memObject, error) {
	if err := ValidateKey(key); err != nil {
		return memObject{}, fmt.Errorf("objstore: mem %s: %w", op, err)
	}
	if err := ctx.Err(); err != nil {
		return memObject{}, fmt.Errorf("objstore: mem %s %q: %w", op, key, err)
	}
	m.mu.RLock()
	obj, ok := m.mu.objects[key]
	m.mu.RUnlock()
	if !ok {
		return memObject{}, fmt.Errorf("objstore: mem %s %q: %w", op, key, ErrNotFound)
	}
	return obj, nil
}

// Get implements Bucket. The reader holds a private copy of the content.
func (m *Mem) Get(ctx context.Context, key string) (io.ReadCloser, Attrs, error) {
	obj, err := m.lookup(ctx, OpGet, key)
	if err != nil {
		return nil, Attrs{}, err
	}
	return io.NopCloser(bytes.NewReader(bytes.Clone(obj.data))), obj.attrs, nil
}

// GetRange implements Bucket.
func (m *Mem) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	obj, err := m.lookup(ctx, OpGetRange, key)
	if err != nil {
		return nil, err
	}
	n, err := checkRange(key, obj.attrs.Size, off, length)
	if err != nil {
		return nil, fmt.Errorf("objstore: mem get range: %w", err)
	}
	return io.NopCloser(bytes.NewReader(bytes.Clone(obj.data[off : off+n]))), nil
}

// Attributes implements Bucket.
func (m *Mem) Attributes(ctx context.Context, key string) (Attrs, error) {
	obj, err := m.lookup(ctx, OpAttributes, key)
	if err != nil {
		return Attrs{}, err
	}
	return obj.attrs, nil
}

// Put implements Bucket.
func (m *Mem) Put(ctx context.Context, key string, data []byte, opts PutOptions) (Attrs, error) {
	if err := ValidateKey(key); err != nil {
		return Attrs{}, fmt.Errorf("objstore: mem put: %w", err)
	}
	if err := opts.Validate(); err != nil {
		return Attrs{}, fmt.Errorf("objstore: mem put %q: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return Attrs{}, fmt.Errorf("objstore: mem put %q: %w", key, err)
	}
	sum := md5.Sum(data)
	obj := memObject{
		data: bytes.Clone(data),
		attrs: Attrs{
			Key:          key,
			Size:         int64(len(data)),
			ETag:         hex.EncodeToString(sum[:]),
			LastModified: m.now(),
		},
	}
	if obj.data == nil {
		obj.data = []byte{}
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	cur, exists := m.mu.objects[key]
	switch {
	case opts.IfNoneMatch && exists:
		return Attrs{}, fmt.Errorf("objstore: mem put %q if-none-match: key exists: %w", key, ErrConditionNotMet)
	case opts.IfMatch != "" && !exists:
		return Attrs{}, fmt.Errorf("objstore: mem put %q if-match %q: key does not exist: %w", key, opts.IfMatch, ErrConditionNotMet)
	case opts.IfMatch != "" && cur.attrs.ETag != opts.IfMatch:
		return Attrs{}, fmt.Errorf("objstore: mem put %q if-match %q: current etag %q: %w", key, opts.IfMatch, cur.attrs.ETag, ErrConditionNotMet)
	}
	if !exists {
		if m.mu.dirs[key] > 0 {
			return Attrs{}, fmt.Errorf("objstore: mem put: %w", keyConflict(key, key+"/", "keys exist under"))
		}
		for dir := range parentDirs(key) {
			if _, ok := m.mu.objects[dir]; ok {
				return Attrs{}, fmt.Errorf("objstore: mem put: %w", keyConflict(key, dir, "key exists at"))
			}
		}
		for dir := range parentDirs(key) {
			m.mu.dirs[dir]++
		}
	}
	m.mu.objects[key] = obj
	return obj.attrs, nil
}

// parentDirs yields the proper path prefixes of key: "a", "a/b" for "a/b/c".
func parentDirs(key string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := 0; i < len(key); i++ {
			if key[i] == '/' && !yield(key[:i]) {
				return
			}
		}
	}
}

// Delete implements Bucket.
func (m *Mem) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("objstore: mem delete: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("objstore: mem delete %q: %w", key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.mu.objects[key]; !ok {
		return nil
	}
	delete(m.mu.objects, key)
	for dir := range parentDirs(key) {
		if m.mu.dirs[dir]--; m.mu.dirs[dir] == 0 {
			delete(m.mu.dirs, dir)
		}
	}
	return nil
}

// List implements Bucket. It snapshots the matching attributes when
// iteration starts, so the loop body may call back into the bucket.
func (m *Mem) List(ctx context.Context, prefix, startAfter string) iter.Seq2[Attrs, error] {
	return func(yield func(Attrs, error) bool) {
		if err := validatePrefix(prefix); err != nil {
			yield(Attrs{}, fmt.Errorf("objstore: mem list: %w", err))
			return
		}
		if err := ctx.Err(); err != nil {
			yield(Attrs{}, fmt.Errorf("objstore: mem list %q: %w", prefix, err))
			return
		}
		var out []Attrs
		m.mu.RLock()
		for k, obj := range m.mu.objects {
			if strings.HasPrefix(k, prefix) && k > startAfter {
				out = append(out, obj.attrs)
			}
		}
		m.mu.RUnlock()
		slices.SortFunc(out, func(a, b Attrs) int { return strings.Compare(a.Key, b.Key) })
		for _, a := range out {
			if err := ctx.Err(); err != nil {
				yield(Attrs{}, fmt.Errorf("objstore: mem list %q: %w", prefix, err))
				return
			}
			if !yield(a, nil) {
				return
			}
		}
	}
}

// Name implements Bucket.
func (m *Mem) Name() string { return "mem://" }

// Close implements Bucket. It is a no-op; the objects stay readable.
func (m *Mem) Close() error { return nil }
