package objstoretest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/objstore"
)

// Environment variables that point the tests at an S3-compatible server.
const (
	EnvS3Bucket    = "FLOE_TEST_S3_BUCKET" // required; unset skips S3 tests
	EnvS3Endpoint  = "FLOE_TEST_S3_ENDPOINT"
	EnvS3Region    = "FLOE_TEST_S3_REGION" // default us-east-1
	EnvS3AccessKey = "FLOE_TEST_S3_ACCESS_KEY"
	EnvS3SecretKey = "FLOE_TEST_S3_SECRET_KEY"
	EnvS3PathStyle = "FLOE_TEST_S3_PATH_STYLE" // default true when an endpoint is set
)

// S3ConfigFromEnv builds the test S3 configuration from the FLOE_TEST_S3_*
// variables. It reports false when FLOE_TEST_S3_BUCKET is unset. An
// unparsable FLOE_TEST_S3_PATH_STYLE counts as unset.
func S3ConfigFromEnv() (objstore.S3Config, bool) {
	bucket := os.Getenv(EnvS3Bucket)
	if bucket == "" {
		return objstore.S3Config{}, false
	}
	cfg := objstore.S3Config{
		Bucket:          bucket,
		Endpoint:        os.Getenv(EnvS3Endpoint),
		Region:          os.Getenv(EnvS3Region),
		AccessKeyID:     os.Getenv(EnvS3AccessKey),
		SecretAccessKey: os.Getenv(EnvS3SecretKey),
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	cfg.ForcePathStyle = cfg.Endpoint != ""
	if v, err := strconv.ParseBool(os.Getenv(EnvS3PathStyle)); err == nil {
		cfg.ForcePathStyle = v
	}
	return cfg, true
}

// StorageEnv returns the FLOE_STORAGE_* environment (lakehouse/config's
// names) that points a Floe process at cfg: for tests that start floe
// serve, a Lambda function or its emulator in a process of their own.
func StorageEnv(cfg objstore.S3Config) []string {
	env := []string{"FLOE_STORAGE_BACKEND=s3", "FLOE_STORAGE_S3_BUCKET=" + cfg.Bucket, "FLOE_STORAGE_S3_REGION=" + cfg.Region,
		"FLOE_STORAGE_S3_PREFIX=" + cfg.Prefix}
	if cfg.Endpoint != "" {
		env = append(env, "FLOE_STORAGE_S3_ENDPOINT="+cfg.Endpoint)
	}
	if cfg.ForcePathStyle {
		env = append(env, "FLOE_STORAGE_S3_FORCE_PATH_STYLE=true")
	}
	if cfg.AccessKeyID != "" {
		env = append(env, "FLOE_STORAGE_S3_ACCESS_KEY_ID="+cfg.AccessKeyID, "FLOE_STORAGE_S3_SECRET_ACCESS_KEY="+cfg.SecretAccessKey)
	}
	return env
}

// NewS3ForTest returns an S3 bucket confined to a fresh prefix; see
// NewS3ConfigForTest. It skips t when FLOE_TEST_S3_BUCKET is unset.
func NewS3ForTest(t testing.TB) objstore.Bucket {
	t.Helper()
	cfg := NewS3ConfigForTest(t)
	b, err := objstore.NewS3(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// NewS3ConfigForTest returns the environment's S3 configuration with a
// prefix of its own: the sanitised test name plus a random suffix. It
// creates the bucket if needed, fails t if the prefix already holds
// objects, and deletes everything under the prefix when t ends, so the
// configuration may be shared with child processes. It skips t when
// FLOE_TEST_S3_BUCKET is unset.
func NewS3ConfigForTest(t testing.TB) objstore.S3Config {
	t.Helper()
	cfg, ok := S3ConfigFromEnv()
	if !ok {
		t.Skip(EnvS3Bucket + " is not set; run scripts/s3-up.sh to start a local S3")
	}
	cfg.Prefix = testPrefix(t.Name())
	ctx := t.Context()
	b, err := objstore.NewS3(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.EnsureBucket(ctx); err != nil {
		_ = b.Close()
		t.Fatal(err)
	}
	for a, err := range b.List(ctx, "", "") {
		_ = b.Close()
		if err != nil {
			t.Fatalf("checking test prefix %s: %v", b.Name(), err)
		}
		t.Fatalf("refusing to use %s: it already holds %q", b.Name(), a.Key)
	}
	t.Cleanup(func() {
		defer b.Close()
		// t.Context is done by now.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		for a, err := range b.List(ctx, "", "") {
			if err != nil {
				t.Errorf("cleaning up %s: %v", b.Name(), err)
				return
			}
			if err := b.Delete(ctx, a.Key); err != nil {
				t.Errorf("cleaning up %s: %v", b.Name(), err)
				return
			}
		}
	})
	return cfg
}

// testPrefix turns a test name into a key prefix unique to this run.
func testPrefix(name string) string {
	var sb strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			sb.WriteRune(r)
		default:
			sb.WriteByte('-')
		}
	}
	s := sb.String()
	if len(s) > 100 {
		s = s[:100]
	}
	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	return "floe-test/" + s + "-" + hex.EncodeToString(suffix[:])
}

// NewFSForTest returns an FS bucket in a fresh t.TempDir, closed when t
// ends.
func NewFSForTest(t testing.TB) *objstore.FS {
	t.Helper()
	b, err := objstore.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// ForEach runs fn as subtests "mem", "fs" and "s3", each with an empty
// bucket. The s3 subtest is skipped when FLOE_TEST_S3_BUCKET is unset.
func ForEach(t *testing.T, fn func(t *testing.T, b objstore.Bucket)) {
	t.Run("mem", func(t *testing.T) { fn(t, objstore.NewMem()) })
	t.Run("fs", func(t *testing.T) { fn(t, NewFSForTest(t)) })
	t.Run("s3", func(t *testing.T) { fn(t, NewS3ForTest(t)) })
}

// OpenShared opens, in a child process of a multi-process test, the bucket
// its parent is using: the FS directory fsDir when it is not empty,
// otherwise the S3 server of the FLOE_TEST_S3_* variables under s3Prefix
// (as returned by NewS3ConfigForTest in the parent). It is closed when t
// ends.
func OpenShared(t testing.TB, fsDir, s3Prefix string) objstore.Bucket {
	t.Helper()
	var b objstore.Bucket
	if fsDir != "" {
		fs, err := objstore.NewFS(fsDir)
		if err != nil {
			t.Fatal(err)
		}
		b = fs
	} else {
		cfg, ok := S3ConfigFromEnv()
		if !ok {
			t.Fatal("objstoretest: no FS directory and no S3 configuration in the environment")
		}
		cfg.Prefix = s3Prefix
		s3, err := objstore.NewS3(context.Background(), cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		b = s3
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}
