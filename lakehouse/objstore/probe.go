package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
)

// ProbeStep is one check made by Probe, in order.
type ProbeStep struct {
	// Name says what was checked, e.g. "If-None-Match on an existing key
	// is refused".
	Name string
	// Err is nil when the check passed.
	Err error
}

// Probe checks, with real requests, that b keeps the part of the Bucket
// contract that Floe's commit protocol stands on: reads see the latest
// write, If-None-Match: * creates a key exactly once, If-Match refuses a
// stale ETag and accepts the current one. Some S3-compatible servers
// accept the headers and ignore them; running Floe on one of those would
// lose updates silently, so `floe storage check` runs this before a
// deployment.
//
// Probe writes, overwrites and deletes the object at key (which must not
// exist). It returns every step it ran and an error naming the first
// failed one; it stops at the first failure, after trying to delete key.
func Probe(ctx context.Context, b Bucket, key string) ([]ProbeStep, error) {
	var steps []ProbeStep
	step := func(name string, err error) error {
		steps = append(steps, ProbeStep{Name: name, Err: err})
		if err != nil {
			return fmt.Errorf("objstore: probe %s: %s: %w", b.Name(), name, err)
		}
		return nil
	}
	first, second := []byte("floe probe: first"), []byte("floe probe: second")

	attrs, err := b.Put(ctx, key, first, PutOptions{IfNoneMatch: true})
	if err := step("If-None-Match creates a new key", err); err != nil {
		return steps, err
	}
	defer func() { _ = b.Delete(context.WithoutCancel(ctx), key) }()

	_, err = b.Put(ctx, key, second, PutOptions{IfNoneMatch: true})
	switch {
	case err == nil:
		err = errors.New("the server overwrote an existing key despite If-None-Match: *; it does not support conditional writes")
	case IsConditionNotMet(err):
		err = nil
	}
	if err := step("If-None-Match on an existing key is refused", err); err != nil {
		return steps, err
	}

	err = expectContent(ctx, b, key, first)
	if err := step("a read returns the surviving content", err); err != nil {
		return steps, err
	}

	stale := "floe-probe-stale-etag"
	if attrs.ETag == stale {
		stale += "-2"
	}
	_, err = b.Put(ctx, key, second, PutOptions{IfMatch: stale})
	switch {
	case err == nil:
		err = errors.New("the server accepted If-Match with a wrong ETag; it does not support conditional writes")
	case IsConditionNotMet(err):
		err = nil
	}
	if err := step("If-Match with a stale ETag is refused", err); err != nil {
		return steps, err
	}

	cur, err := b.Attributes(ctx, key)
	if err == nil && cur.ETag != attrs.ETag {
		err = fmt.Errorf("HEAD returned ETag %q, the put returned %q", cur.ETag, attrs.ETag)
	}
	if err := step("HEAD returns the ETag of the last write", err); err != nil {
		return steps, err
	}

	_, err = b.Put(ctx, key, second, PutOptions{IfMatch: attrs.ETag})
	if err == nil {
		err = expectContent(ctx, b, key, second)
	}
	if err := step("If-Match with the current ETag replaces the object", err); err != nil {
		return steps, err
	}

	err = b.Delete(ctx, key)
	if err == nil {
		if _, herr := b.Attributes(ctx, key); !IsNotFound(herr) {
			err = fmt.Errorf("object still visible after delete (HEAD: %v)", herr)
		}
	}
	if err := step("a deleted object is gone", err); err != nil {
		return steps, err
	}
	return steps, nil
}

func expectContent(ctx context.Context, b Bucket, key string, want []byte) error {
	rc, _, err := b.Get(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("read %q, want %q", got, want)
	}
	return nil
}
