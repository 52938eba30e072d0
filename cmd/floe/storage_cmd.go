package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/floedb/floe/lakehouse/objstore"
)

// bucketCreator is implemented by object stores that can create their
// bucket (S3).
type bucketCreator interface {
	EnsureBucket(ctx context.Context) error
}

// asBucketCreator finds the backend that can create its bucket under the
// wrappers of b (metrics, prefix…), each of which offers Unwrap.
func asBucketCreator(b objstore.Bucket) (bucketCreator, bool) {
	for {
		if bc, ok := b.(bucketCreator); ok {
			return bc, true
		}
		u, ok := b.(interface{ Unwrap() objstore.Bucket })
		if !ok {
			return nil, false
		}
		b = u.Unwrap()
	}
}

func newStorageCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{Use: "storage", Short: "Check the object store"}
	var create bool
	check := &cobra.Command{
		Use:   "check",
		Short: "Verify that the object store is reachable and honours conditional writes",
		Long: `Write, overwrite and delete one probe object to verify that the configured
object store keeps the guarantees Floe's commits depend on: If-None-Match: *
creates a key exactly once, If-Match refuses a stale ETag, reads see the
latest write. Run it before pointing Floe at a new S3-compatible server.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			app, cfg, err := c.openApp(ctx, true)
			if err != nil {
				return err
			}
			defer app.Close()
			b := app.Bucket()
			if create {
				bc, ok := asBucketCreator(b)
				if !ok {
					return fmt.Errorf("--create-bucket: storage.backend %q has no bucket to create", cfg.Storage.Backend)
				}
				if err := bc.EnsureBucket(ctx); err != nil {
					return err
				}
				fmt.Fprintf(c.stdout, "bucket ready: %s\n", b.Name())
			}
			var id [8]byte
			_, _ = rand.Read(id[:])
			steps, err := objstore.Probe(ctx, b, "floe-probe/"+hex.EncodeToString(id[:]))
			for _, s := range steps {
				mark := "ok  "
				if s.Err != nil {
					mark = "FAIL"
				}
				fmt.Fprintf(c.stdout, "%s %s\n", mark, s.Name)
			}
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(c.stdout, "%s: conditional writes work; Floe can use it\n", b.Name())
			return err
		},
	}
	check.Flags().BoolVar(&create, "create-bucket", false, "create the S3 bucket first if it does not exist")
	cmd.AddCommand(check)
	return cmd
}
