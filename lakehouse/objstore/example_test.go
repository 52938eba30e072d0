package objstore_test

import (
	"context"
	"fmt"

	"github.com/floedb/floe/lakehouse/objstore"
)

// A commit protocol in miniature: create a version only if nobody else has,
// then advance a pointer with compare-and-swap.
func Example() {
	ctx := context.Background()
	b := objstore.NewMem()
	defer b.Close()

	_, err := b.Put(ctx, "t/v1", []byte("schema"), objstore.PutOptions{IfNoneMatch: true})
	fmt.Println("create v1:", err)
	_, err = b.Put(ctx, "t/v1", []byte("other"), objstore.PutOptions{IfNoneMatch: true})
	fmt.Println("create v1 again lost:", objstore.IsConditionNotMet(err))

	head, _ := b.Put(ctx, "t/head", []byte("v1"), objstore.PutOptions{})
	_, err = b.Put(ctx, "t/head", []byte("v2"), objstore.PutOptions{IfMatch: head.ETag})
	fmt.Println("advance head:", err)
	_, err = b.Put(ctx, "t/head", []byte("v2'"), objstore.PutOptions{IfMatch: head.ETag})
	fmt.Println("advance from a stale head lost:", objstore.IsConditionNotMet(err))

	for a, err := range b.List(ctx, "t/", "") {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(a.Key, a.Size)
	}
	// Output:
	// create v1: <nil>
	// create v1 again lost: true
	// advance head: <nil>
	// advance from a stale head lost: true
	// t/head 2
	// t/v1 6
}

func ExampleValidateKey() {
	fmt.Println(objstore.ValidateKey("tables/orders/v00000001.json"))
	fmt.Println(objstore.ValidateKey("tables//orders"))
	fmt.Println(objstore.ValidateKey("tables/.floe-tmp/x"))
	// Output:
	// <nil>
	// objstore: invalid key "tables//orders": empty segment
	// objstore: invalid key "tables/.floe-tmp/x": segment starts with reserved ".floe"
}
