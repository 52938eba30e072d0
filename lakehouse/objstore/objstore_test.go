package objstore_test

import (
	"testing"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/objstore/objstoretest"
)

func TestMem(t *testing.T) {
	objstoretest.Run(t, func(t *testing.T) objstore.Bucket { return objstore.NewMem() })
}

func TestFS(t *testing.T) {
	objstoretest.Run(t, func(t *testing.T) objstore.Bucket { return objstoretest.NewFSForTest(t) })
}

func TestS3(t *testing.T) {
	objstoretest.Run(t, func(t *testing.T) objstore.Bucket { return objstoretest.NewS3ForTest(t) })
}

func TestPrefixedMem(t *testing.T) {
	objstoretest.Run(t, func(t *testing.T) objstore.Bucket {
		return objstore.NewPrefixed(objstore.NewMem(), "tables/t1")
	})
}

func TestPrefixedFS(t *testing.T) {
	objstoretest.Run(t, func(t *testing.T) objstore.Bucket {
		return objstore.NewPrefixed(objstoretest.NewFSForTest(t), "tables/t1")
	})
}

func TestCountingMem(t *testing.T) {
	objstoretest.Run(t, func(t *testing.T) objstore.Bucket {
		return objstore.NewCounting(objstore.NewMem())
	})
}

func TestFaultyMem(t *testing.T) {
	// With no faults armed, Faulty is transparent.
	objstoretest.Run(t, func(t *testing.T) objstore.Bucket {
		return objstore.NewFaulty(objstore.NewMem())
	})
}
