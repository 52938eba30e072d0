package objstore_test

import (
	"io"
	"testing"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/objstore/objstoretest"
)

func TestMemCopies(t *testing.T) {
	b := objstore.NewMem()
	ctx := t.Context()
	objstoretest.MustPut(t, b, "k", []byte("abc"))
	rc, _, err := b.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	// Overwriting while a reader is open does not change what it reads.
	objstoretest.MustPut(t, b, "k", []byte("xyz"))
	got, err := io.ReadAll(rc)
	if err != nil || string(got) != "abc" {
		t.Errorf("reader opened before overwrite read %q, %v", got, err)
	}
	// Same content, same ETag: MD5 as on S3.
	a1 := objstoretest.MustPut(t, b, "s", []byte("same"))
	a2 := objstoretest.MustPut(t, b, "s", []byte("same"))
	if a1.ETag != a2.ETag || a1.ETag != "51037a4a37730f52c8732586d3aaa316" {
		t.Errorf("etags %q %q, want the MD5 of the content", a1.ETag, a2.ETag)
	}
}
