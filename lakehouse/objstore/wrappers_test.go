package objstore_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/objstore/objstoretest"
)

func TestPrefixed(t *testing.T) {
	inner := objstore.NewMem()
	ctx := t.Context()
	p := objstore.NewPrefixed(inner, "/tables/t1/")
	if got := p.Name(); got != "mem://tables/t1" {
		t.Errorf("Name() = %q", got)
	}
	a := objstoretest.MustPut(t, p, "v1.json", []byte("x"))
	if a.Key != "v1.json" {
		t.Errorf("put returned key %q", a.Key)
	}
	objstoretest.MustPut(t, inner, "tables/t10/v1.json", []byte("neighbour"))
	objstoretest.MustPut(t, inner, "tables/t1.json", []byte("neighbour"))
	if got := objstoretest.Keys(t, inner, "", ""); !slices.Equal(got, []string{"tables/t1.json", "tables/t1/v1.json", "tables/t10/v1.json"}) {
		t.Errorf("inner keys = %q", got)
	}
	if got := objstoretest.Keys(t, p, "", ""); !slices.Equal(got, []string{"v1.json"}) {
		t.Errorf("prefixed keys = %q; neighbours leaked in", got)
	}
	if h, err := p.Attributes(ctx, "v1.json"); err != nil || h.Key != "v1.json" {
		t.Errorf("attributes = %+v, %v", h, err)
	}
	if _, h, err := p.Get(ctx, "v1.json"); err != nil || h.Key != "v1.json" {
		t.Errorf("get attrs = %+v, %v", h, err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := inner.Attributes(ctx, "tables/t1/v1.json"); err != nil {
		t.Errorf("closing the view affected the bucket: %v", err)
	}
	if objstore.NewPrefixed(inner, "/") != objstore.Bucket(inner) {
		t.Error("empty prefix did not return the bucket itself")
	}
	bad := objstore.NewPrefixed(inner, "a/../b")
	if _, err := bad.Put(ctx, "k", nil, objstore.PutOptions{}); !errors.Is(err, objstore.ErrInvalidKey) {
		t.Errorf("put through an invalid prefix: %v", err)
	}
	for _, err := range bad.List(ctx, "", "") {
		if !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("list through an invalid prefix: %v", err)
		}
	}
}

func TestCounting(t *testing.T) {
	c := objstore.NewCounting(objstore.NewMem())
	ctx := t.Context()
	objstoretest.MustPut(t, c, "k", []byte("0123"))
	_, _ = c.Put(ctx, "k", nil, objstore.PutOptions{IfNoneMatch: true}) // failed calls count too
	objstoretest.Read(t, c, "k")
	rc, err := c.GetRange(ctx, "k", 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	_ = rc.Close()
	_, _ = c.Attributes(ctx, "k")
	_, _ = c.Attributes(ctx, "missing")
	_ = c.List(ctx, "", "") // counted without iterating
	objstoretest.Keys(t, c, "", "")
	_ = c.Delete(ctx, "k")
	want := objstore.OpCounts{Get: 1, GetRange: 1, Attributes: 2, Put: 2, Delete: 1, List: 2}
	if got := c.Counts(); got != want {
		t.Errorf("counts = %v, want %v", got, want)
	}
	if got := c.Counts().Total(); got != 9 {
		t.Errorf("total = %d, want 9", got)
	}
	c.Reset()
	if got := c.Counts(); got != (objstore.OpCounts{}) {
		t.Errorf("after Reset: %v", got)
	}
}

func TestFaulty(t *testing.T) {
	ctx := t.Context()
	inner := objstore.NewMem()
	f := objstore.NewFaulty(inner)
	boom := errors.New("boom")

	// Before: the put never reaches the bucket.
	f.FailNext(objstore.OpPut, 2, boom)
	for range 2 {
		if _, err := f.Put(ctx, "k", []byte("x"), objstore.PutOptions{}); !errors.Is(err, boom) {
			t.Fatalf("armed put: %v", err)
		}
	}
	if _, err := inner.Attributes(ctx, "k"); !objstore.IsNotFound(err) {
		t.Errorf("failed-before put was written: %v", err)
	}
	objstoretest.MustPut(t, f, "k", []byte("x")) // rule used up

	// After: the put lands but the caller sees an error (lost response).
	f.FailNextAfter(objstore.OpPut, 1, nil)
	_, err := f.Put(ctx, "k2", []byte("landed"), objstore.PutOptions{IfNoneMatch: true})
	if !errors.Is(err, objstore.ErrInjected) {
		t.Fatalf("fail-after put: %v", err)
	}
	if got, _ := objstoretest.Read(t, inner, "k2"); string(got) != "landed" {
		t.Errorf("fail-after put did not land: %q", got)
	}

	// Rules match per op, or any op.
	f.FailNext(objstore.OpDelete, 1, boom)
	if _, err := f.Attributes(ctx, "k"); err != nil {
		t.Errorf("attributes hit a delete rule: %v", err)
	}
	if err := f.Delete(ctx, "k"); !errors.Is(err, boom) {
		t.Errorf("armed delete: %v", err)
	}
	f.FailNext(objstore.OpAny, 1, boom)
	if _, _, err := f.Get(ctx, "k"); !errors.Is(err, boom) {
		t.Errorf("get under OpAny: %v", err)
	}

	// List: before yields only the error; after yields everything, then it.
	f.FailNext(objstore.OpList, 1, boom)
	var errs, keys int
	for a, err := range f.List(ctx, "", "") {
		if err != nil {
			errs++
		} else if a.Key != "" {
			keys++
		}
	}
	if errs != 1 || keys != 0 {
		t.Errorf("failed-before list: %d errors, %d keys", errs, keys)
	}
	f.FailNextAfter(objstore.OpList, 1, boom)
	errs, keys = 0, 0
	for _, err := range f.List(ctx, "", "") {
		if err != nil {
			errs++
		} else {
			keys++
		}
	}
	if errs != 1 || keys != 2 {
		t.Errorf("failed-after list: %d errors, %d keys", errs, keys)
	}

	// The hook sees every call, and can fail by key.
	var seen []string
	f.SetHook(func(_ context.Context, op, key string) error {
		seen = append(seen, op+" "+key)
		if key == "k2" {
			return boom
		}
		return nil
	})
	if _, err := f.Attributes(ctx, "k"); err != nil {
		t.Errorf("hook failed an unrelated key: %v", err)
	}
	if _, err := f.GetRange(ctx, "k2", 0, 1); !errors.Is(err, boom) {
		t.Errorf("hook did not fail k2: %v", err)
	}
	if !slices.Equal(seen, []string{"attributes k", "get_range k2"}) {
		t.Errorf("hook saw %q", seen)
	}
	f.Reset()
	if _, err := f.GetRange(ctx, "k2", 0, 1); err != nil {
		t.Errorf("after Reset: %v", err)
	}
}
