// Package objstore is Floe's narrow view of an object store: the one seam
// through which every byte of table data, every manifest and every catalog
// version reaches durable storage.
//
// Three backends implement Bucket: a local directory (the embedded default,
// see NewFS), memory (tests, see NewMem) and S3 or any S3-compatible server
// (see NewS3). All of them are held to the same contract by the acceptance
// suite in package objstoretest.
//
// # Contract
//
//   - Strong consistency: once Put returns nil, every Get, Attributes and
//     List started afterwards (from any goroutine or, for FS and S3, any
//     process) observes the new object.
//   - Atomic visibility: a reader sees either the whole old object or the
//     whole new one, never a mix or a partial write.
//   - Conditional puts are compare-and-swap: with IfNoneMatch exactly one of
//     any number of concurrent creators of a key succeeds; with IfMatch the
//     put succeeds only if the current ETag equals the given one at the
//     moment of the write. Losers get an error for which IsConditionNotMet
//     reports true and the object is left untouched.
//   - List returns keys in ascending byte order.
//
// Keys are slash-separated paths; see ValidateKey for the accepted form. A
// key must not be a path prefix of another key ("a" and "a/b"): path-based
// stores (FS, S3 gateways over filesystems such as versitygw or MinIO)
// cannot hold both, and refuse the second Put with ErrInvalidKey. Mem
// refuses it too, so code tested in memory runs everywhere; only AWS S3
// accepts it.
//
// # Conditional puts and uncertainty
//
// A Put that fails with ErrConditionNotMet or ErrInvalidKey, or because of
// invalid PutOptions, did not write. Any other error (a timeout, a lost
// connection, a precondition failure on a retried request) leaves the
// outcome unknown: the object may have been written. Committers must treat
// that as "maybe committed", never as a lost race.
//
// # ETags
//
// ETags are opaque. Mem and S3 derive them from the content (rewriting
// identical bytes may keep the ETag); FS derives them from the file version
// (every Put yields a new ETag). Either way an ETag only matches while the
// object holds the content it was issued for.
package objstore

import (
	"context"
	"errors"
	"io"
	"iter"
	"time"
)

// Sentinel errors. Backends wrap them with the key and operation, so callers
// must test with errors.Is (or the IsNotFound / IsConditionNotMet helpers),
// never by comparing strings.
var (
	// ErrNotFound: the object does not exist.
	ErrNotFound = errors.New("objstore: object not found")
	// ErrBucketNotFound: the bucket itself does not exist (a configuration
	// problem, never a missing object: IsNotFound is false for it).
	ErrBucketNotFound = errors.New("objstore: bucket does not exist")
	// ErrConditionNotMet: a conditional put lost (the key exists for
	// IfNoneMatch, or its ETag differs for IfMatch).
	ErrConditionNotMet = errors.New("objstore: precondition failed")
	// ErrInvalidKey: the key is not acceptable to ValidateKey.
	ErrInvalidKey = errors.New("objstore: invalid key")
	// ErrInvalidRange: a byte range that cannot be satisfied.
	ErrInvalidRange = errors.New("objstore: invalid range")
	// ErrUnavailable: the object store did not answer, or answered that
	// it cannot now (HTTP 5xx, 429, a throttling code, a request that
	// could not be sent), after the backend's own retries. The same call
	// may succeed later. For a Put it says nothing about whether the
	// object was written.
	ErrUnavailable = errors.New("objstore: object store unavailable")
)

// IsNotFound reports whether err says the object does not exist.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsConditionNotMet reports whether err says a conditional put lost.
func IsConditionNotMet(err error) bool { return errors.Is(err, ErrConditionNotMet) }

// IsUnavailable reports whether err says the object store could not answer
// now (ErrUnavailable).
func IsUnavailable(err error) bool { return errors.Is(err, ErrUnavailable) }

// Attrs describes one stored object.
type Attrs struct {
	// Key is the object's full key within the bucket.
	Key string
	// Size is the object's length in bytes.
	Size int64
	// ETag identifies this version of the object's content. It is opaque:
	// only compare it for equality and pass it back in PutOptions.IfMatch.
	ETag string
	// LastModified is when this version was written.
	LastModified time.Time
}

// PutOptions makes a Put conditional. The zero value is an unconditional
// overwrite. Setting both fields is invalid.
type PutOptions struct {
	// IfNoneMatch makes the put succeed only if the key does not exist
	// (HTTP If-None-Match: *).
	IfNoneMatch bool
	// IfMatch, when not empty, makes the put succeed only if the object
	// exists and its current ETag equals IfMatch. A missing object fails
	// with ErrConditionNotMet too.
	IfMatch string
}

// Validate reports options that no backend can honour.
func (o PutOptions) Validate() error {
	if o.IfNoneMatch && o.IfMatch != "" {
		return errors.New("objstore: IfNoneMatch and IfMatch are mutually exclusive")
	}
	return nil
}

// Bucket is a flat namespace of immutable-per-version objects.
//
// Implementations are safe for concurrent use by multiple goroutines. Every
// method honours ctx cancellation. Errors wrap the sentinels above and name
// the key.
type Bucket interface {
	// Get returns a reader for the whole object. The caller must Close it.
	Get(ctx context.Context, key string) (io.ReadCloser, Attrs, error)

	// GetRange returns length bytes starting at off. length < 0 means "to
	// the end". A range starting at or past the end of a non-empty object
	// fails with ErrInvalidRange; a range running past the end is
	// truncated, as in HTTP. An empty object has only the empty range at
	// offset 0; a negative offset is invalid. length == 0 yields an empty
	// reader after the same checks. The caller must Close the reader.
	GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error)

	// Attributes returns the object's size, ETag and modification time
	// without reading its content (HEAD).
	Attributes(ctx context.Context, key string) (Attrs, error)

	// Put stores data under key and returns the new object's attributes.
	// The write is atomic and durable when Put returns nil. Put does not
	// retain data: the caller may reuse the slice once Put returns. See
	// "Conditional puts and uncertainty" for what an error means.
	Put(ctx context.Context, key string, data []byte, opts PutOptions) (Attrs, error)

	// Delete removes the object. Deleting a missing key is not an error
	// (idempotent, as in S3).
	Delete(ctx context.Context, key string) error

	// List yields the objects whose key starts with prefix and sorts
	// strictly after startAfter (empty: from the beginning), in ascending
	// key order. The iteration stops at the first error, which is yielded
	// with zero Attrs.
	List(ctx context.Context, prefix, startAfter string) iter.Seq2[Attrs, error]

	// Name identifies the backend and location in logs, e.g.
	// "s3://bucket/prefix" or "file:///var/lib/floe".
	Name() string

	// Close releases resources. The bucket must not be used afterwards.
	Close() error
}
