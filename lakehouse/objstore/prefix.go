package objstore

import (
	"context"
	"fmt"
	"io"
	"iter"
	"strings"
)

// Prefixed is a view of a Bucket in which every key is stored under a fixed
// prefix, e.g. one table's directory. See NewPrefixed.
//
// Prefixed is as safe for concurrent use as the wrapped bucket and adds no
// state. It does not own the wrapped bucket: Close is a no-op.
type Prefixed struct {
	b      Bucket
	prefix string // no leading or trailing '/'
	err    error  // set when prefix is invalid; every call returns it
}

var _ Bucket = (*Prefixed)(nil)

// NewPrefixed returns a view of b under prefix (leading and trailing
// slashes are ignored). Keys passed to the view are validated on their own,
// then stored as prefix + "/" + key; List strips the prefix again. An empty
// prefix returns b itself. An invalid prefix yields a view whose every call
// fails with ErrInvalidKey.
func NewPrefixed(b Bucket, prefix string) Bucket {
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return b
	}
	p := &Prefixed{b: b, prefix: prefix}
	if err := ValidateKey(prefix); err != nil {
		p.err = fmt.Errorf("objstore: prefixed: bucket prefix: %w", err)
	}
	return p
}

func (p *Prefixed) key(op, key string) (string, error) {
	if p.err != nil {
		return "", p.err
	}
	if err := ValidateKey(key); err != nil {
		return "", fmt.Errorf("objstore: prefixed %s: %w", op, err)
	}
	return p.prefix + "/" + key, nil
}

// Get implements Bucket.
func (p *Prefixed) Get(ctx context.Context, key string) (io.ReadCloser, Attrs, error) {
	full, err := p.key(OpGet, key)
	if err != nil {
		return nil, Attrs{}, err
	}
	rc, a, err := p.b.Get(ctx, full)
	if err != nil {
		return nil, Attrs{}, err
	}
	a.Key = key
	return rc, a, nil
}

// GetRange implements Bucket.
func (p *Prefixed) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	full, err := p.key(OpGetRange, key)
	if err != nil {
		return nil, err
	}
	return p.b.GetRange(ctx, full, off, length)
}

// Attributes implements Bucket.
func (p *Prefixed) Attributes(ctx context.Context, key string) (Attrs, error) {
	full, err := p.key(OpAttributes, key)
	if err != nil {
		return Attrs{}, err
	}
	a, err := p.b.Attributes(ctx, full)
	if err != nil {
		return Attrs{}, err
	}
	a.Key = key
	return a, nil
}

// Put implements Bucket.
func (p *Prefixed) Put(ctx context.Context, key string, data []byte, opts PutOptions) (Attrs, error) {
	full, err := p.key(OpPut, key)
	if err != nil {
		return Attrs{}, err
	}
	a, err := p.b.Put(ctx, full, data, opts)
	if err != nil {
		return Attrs{}, err
	}
	a.Key = key
	return a, nil
}

// Delete implements Bucket.
func (p *Prefixed) Delete(ctx context.Context, key string) error {
	full, err := p.key(OpDelete, key)
	if err != nil {
		return err
	}
	return p.b.Delete(ctx, full)
}

// List implements Bucket.
func (p *Prefixed) List(ctx context.Context, prefix, startAfter string) iter.Seq2[Attrs, error] {
	return func(yield func(Attrs, error) bool) {
		if p.err != nil {
			yield(Attrs{}, p.err)
			return
		}
		if err := validatePrefix(prefix); err != nil {
			yield(Attrs{}, fmt.Errorf("objstore: prefixed list: %w", err))
			return
		}
		base := p.prefix + "/"
		if startAfter != "" {
			startAfter = base + startAfter
		}
		for a, err := range p.b.List(ctx, base+prefix, startAfter) {
			if err == nil {
				var ok bool
				if a.Key, ok = strings.CutPrefix(a.Key, base); !ok {
					err = fmt.Errorf("objstore: prefixed list %q: inner bucket returned key %q outside the prefix", prefix, a.Key)
				}
			}
			if err != nil {
				yield(Attrs{}, err)
				return
			}
			if !yield(a, nil) {
				return
			}
		}
	}
}

// Name implements Bucket: the wrapped bucket's name with the prefix
// appended as a path.
func (p *Prefixed) Name() string {
	name := p.b.Name()
	if strings.HasSuffix(name, "/") {
		return name + p.prefix
	}
	return name + "/" + p.prefix
}

// Close implements Bucket. It does nothing: the view does not own the
// wrapped bucket.
func (p *Prefixed) Close() error { return nil }
