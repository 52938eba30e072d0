package manifest_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/manifest"
)

// A catalog commit with a precondition: the mutation refuses to create a
// namespace that exists, and that refusal is returned without retry.
func ExampleLog_Commit() {
	ctx := context.Background()
	log := manifest.NewCatalogLog(objstore.NewMem(), manifest.LogOptions{NodeID: "node-1"})
	errExists := errors.New("namespace exists")
	createNamespace := func(name string) func(*manifest.Catalog) (*manifest.Catalog, error) {
		return func(c *manifest.Catalog) (*manifest.Catalog, error) {
			if _, ok := c.Namespace(name); ok {
				return nil, fmt.Errorf("%w: %s", errExists, name)
			}
			c.Namespaces = append(c.Namespaces, manifest.Namespace{Name: name})
			return c, nil
		}
	}
	c, err := log.Commit(ctx, createNamespace("app"), manifest.CommitOptions{})
	fmt.Println(c.Version, len(c.Namespaces), err)
	_, err = log.Commit(ctx, createNamespace("app"), manifest.CommitOptions{})
	fmt.Println(errors.Is(err, errExists))
	latest, _ := log.Latest(ctx)
	fmt.Println(latest.Version, latest.CommittedBy, log.VersionKey(latest.Version))
	// Output:
	// 1 1 <nil>
	// true
	// 1 node-1 catalog/v/00000000000000000001.json
}

// Writer fencing: a node that acquired the warehouse fences the previous
// owner.
func ExampleAcquireWriter() {
	ctx := context.Background()
	bucket := objstore.NewMem()
	logA := manifest.NewCatalogLog(bucket, manifest.LogOptions{NodeID: "a"})
	logB := manifest.NewCatalogLog(bucket, manifest.LogOptions{NodeID: "b"})
	epochA, _, _ := manifest.AcquireWriter(ctx, logA, "a")
	epochB, _, _ := manifest.AcquireWriter(ctx, logB, "b")
	noop := func(c *manifest.Catalog) (*manifest.Catalog, error) { return c, nil }
	_, err := logA.Commit(ctx, noop, manifest.CommitOptions{WriterEpoch: epochA})
	fmt.Println(epochA, epochB, errors.Is(err, manifest.ErrFenced))
	fmt.Println(err)
	// Output:
	// 1 2 true
	// manifest: fenced: catalog v2: writer epoch 1 (node "a") is fenced by epoch 2 (node "b")
}

func ExamplePartitionPrefix() {
	fmt.Println(manifest.PartitionPrefix("01JDQ4A5B6", ""))
	fmt.Println(manifest.PartitionPrefix("01JDQ4A5B6", "Alice@example.com"))
	fmt.Println(manifest.SegmentPrefix("01JDQ4A5B6", "bob"))
	// Output:
	// tables/01JDQ4A5B6/shared/
	// tables/01JDQ4A5B6/u-%41lice%40example.com/
	// tables/01JDQ4A5B6/u-bob/seg/
}

func ExampleDecodeCatalog() {
	_, err := manifest.DecodeCatalog([]byte(`{"format_version":9,"version":1}`))
	fmt.Println(err)
	_, err = manifest.DecodeCatalog([]byte(`{"format_version":1,"version":1,"namespaces":[{"name":"app","colour":"blue"}]}`))
	fmt.Println(err)
	// Output:
	// manifest: unsupported format version 9 (this build reads 1)
	// manifest: corrupt manifest: catalog: namespaces[0].colour (offset 60): unknown field "colour" in manifest.Namespace
}
