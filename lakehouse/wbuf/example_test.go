package wbuf_test

import (
	"context"
	"fmt"
	"os"

	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/wbuf"
)

// A write, then a flush: snapshot, read the latest version per key up to
// the snapshot's MaxSeq, (write the segment, commit the manifest), delete.
func Example() {
	dir, _ := os.MkdirTemp("", "wbuf-example")
	defer os.RemoveAll(dir)
	buf, err := wbuf.Open(wbuf.Options{Dir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer buf.Close()
	ctx := context.Background()
	p := wbuf.PartitionKey{TableID: "t_42", Partition: "alice"}

	// At start: never go below what the partition manifest committed.
	_ = buf.SetSeqFloor(p, 10)

	key := func(id int64) []byte { return row.AppendKey(nil, row.BigInt(id)) }
	first, _ := buf.Write(ctx, p, []wbuf.Mutation{
		{Key: key(1), SchemaVersion: 1, Values: row.Row{row.BigInt(1), row.Text("draft")}},
		{Key: key(2), SchemaVersion: 1, Values: row.Row{row.BigInt(2), row.Text("hello")}},
		{Key: key(1), SchemaVersion: 1, Values: row.Row{row.BigInt(1), row.Text("final")}},
	})
	fmt.Println("first _seq:", first)

	snap := buf.Snapshot()
	cut := snap.MaxSeq(p)
	for e, err := range snap.Versions(ctx, p, wbuf.ScanOptions{UpToSeq: cut, LatestOnly: true}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(e.Version.Seq, e.Version.Values)
	}
	snap.Close()
	_ = buf.DeleteUpTo(ctx, p, cut)
	fmt.Println("buffered partitions:", len(buf.Partitions()), "last _seq:", buf.LastSeq(p))

	// Output:
	// first _seq: 11
	// 13 [1 "final"]
	// 12 [2 "hello"]
	// buffered partitions: 0 last _seq: 13
}
