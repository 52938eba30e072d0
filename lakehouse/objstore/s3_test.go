package objstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/objstore/objstoretest"
)

const testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

func TestS3ConfigDefaultsAndValidate(t *testing.T) {
	var c objstore.S3Config
	c.Bucket = "b-1.x"
	c.Prefix = "/floe/prod/"
	c.EnsureDefaults()
	if c.MaxAttempts != 5 || c.MaxBackoff != 2*time.Second || c.Prefix != "floe/prod" {
		t.Errorf("after EnsureDefaults: %v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}

	bad := objstore.S3Config{
		Bucket:       "No_Such",
		Prefix:       "a//b",
		Endpoint:     "ftp://host",
		AccessKeyID:  "AKIA",
		SessionToken: "tok",
		MaxAttempts:  -1,
		MaxBackoff:   -time.Second,
	}
	err := bad.Validate()
	for _, want := range []string{"s3.bucket:", "s3.prefix:", "s3.endpoint: scheme", "s3.secret_access_key: required", "s3.max_attempts:", "s3.max_backoff:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want a problem %q", err, want)
		}
	}
	for _, tc := range []struct {
		cfg  objstore.S3Config
		want string
	}{
		{objstore.S3Config{}, "s3.bucket: required"},
		{objstore.S3Config{Bucket: "ab"}, "s3.bucket:"},
		{objstore.S3Config{Bucket: "-ab"}, "s3.bucket:"},
		{objstore.S3Config{Bucket: "abc", Endpoint: "http://user:pw@host"}, "s3.endpoint: must not contain credentials"},
		{objstore.S3Config{Bucket: "abc", Endpoint: "http://"}, "s3.endpoint: missing host"},
		{objstore.S3Config{Bucket: "abc", SecretAccessKey: testSecret}, "s3.access_key_id: required"},
		{objstore.S3Config{Bucket: "abc", Prefix: "x/.floe"}, "s3.prefix:"},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%v) = %v, want %q", tc.cfg, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), testSecret) {
			t.Errorf("Validate leaks the secret: %v", err)
		}
	}
	if _, err := objstore.NewS3(t.Context(), objstore.S3Config{}, nil); err == nil || !strings.Contains(err.Error(), "s3.bucket: required") {
		t.Errorf("NewS3 with an empty config: %v", err)
	}
}

func TestS3ConfigTOML(t *testing.T) {
	const doc = `
bucket = "lake"
prefix = "prod"
endpoint = "http://127.0.0.1:7070"
region = "eu-west-1"
force_path_style = true
access_key_id = "AKIA"
secret_access_key = "s3cr3t"
session_token = "tok"
max_attempts = 7
# go-toml decodes time.Duration from integer nanoseconds only, not "250ms".
max_backoff = 250_000_000
`
	var c objstore.S3Config
	if err := toml.Unmarshal([]byte(doc), &c); err != nil {
		t.Fatal(err)
	}
	want := objstore.S3Config{
		Bucket: "lake", Prefix: "prod", Endpoint: "http://127.0.0.1:7070", Region: "eu-west-1",
		ForcePathStyle: true, AccessKeyID: "AKIA", SecretAccessKey: "s3cr3t", SessionToken: "tok",
		MaxAttempts: 7, MaxBackoff: 250 * time.Millisecond,
	}
	if c != want {
		t.Errorf("decoded %#v\nwant    %#v", c, want)
	}
}

func TestS3ConfigRedacts(t *testing.T) {
	c := objstore.S3Config{Bucket: "b", AccessKeyID: "AKIA", SecretAccessKey: testSecret, SessionToken: "SESSIONTOKEN"}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "s3", c)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), buf.String()} {
		if strings.Contains(s, testSecret) || strings.Contains(s, "SESSIONTOKEN") {
			t.Errorf("secret leaked: %s", s)
		}
		if !strings.Contains(s, "AKIA") {
			t.Errorf("access key id missing (it is not secret): %s", s)
		}
	}
}

func TestS3Name(t *testing.T) {
	for _, tc := range []struct{ prefix, want string }{{"", "s3://lake"}, {"/a/b/", "s3://lake/a/b"}} {
		b, err := objstore.NewS3(t.Context(), objstore.S3Config{
			Bucket: "lake", Prefix: tc.prefix, Endpoint: "http://127.0.0.1:1", Region: "us-east-1",
			AccessKeyID: "AKIA", SecretAccessKey: testSecret,
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := b.Name(); got != tc.want {
			t.Errorf("Name() = %q, want %q", got, tc.want)
		}
	}
}

// fakeS3 answers each request with the next scripted response, repeating
// the last one.
type fakeS3 struct {
	t  *testing.T
	mu struct {
		sync.Mutex
		script   []fakeResponse
		requests []*http.Request
	}
}

type fakeResponse struct {
	status int
	code   string // S3 error code; "" for success
	etag   string // ETag header on success
	body   string
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	f.mu.Lock()
	f.mu.requests = append(f.mu.requests, r)
	resp := f.mu.script[0]
	if len(f.mu.script) > 1 {
		f.mu.script = f.mu.script[1:]
	}
	f.mu.Unlock()
	if resp.etag != "" {
		w.Header().Set("ETag", `"`+resp.etag+`"`)
	}
	if resp.code == "" {
		w.Header().Set("Content-Length", fmt.Sprint(len(resp.body)))
		w.WriteHeader(resp.status)
		_, _ = io.WriteString(w, resp.body)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(resp.status)
	if r.Method != http.MethodHead {
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>scripted</Message><RequestId>req</RequestId></Error>`, resp.code)
	}
}

func (f *fakeS3) requests() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.requests
}

// newFakeS3 serves script and returns an S3 bucket pointed at it, with
// fast retries, and the SDK's log output.
func newFakeS3(t *testing.T, script ...fakeResponse) (*objstore.S3, *fakeS3, *bytes.Buffer) {
	t.Helper()
	f := &fakeS3{t: t}
	f.mu.script = script
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	var logs bytes.Buffer
	b, err := objstore.NewS3(t.Context(), objstore.S3Config{
		Bucket: "fake", Prefix: "p", Endpoint: srv.URL, Region: "us-east-1", ForcePathStyle: true,
		AccessKeyID: "AKIA", SecretAccessKey: testSecret, MaxAttempts: 3, MaxBackoff: time.Millisecond,
	}, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	return b, f, &logs
}

func TestS3ErrorMapping(t *testing.T) {
	type check func(error) bool
	notFound, condNotMet, invalidKey, invalidRange := objstore.IsNotFound, objstore.IsConditionNotMet,
		func(err error) bool { return errors.Is(err, objstore.ErrInvalidKey) },
		func(err error) bool { return errors.Is(err, objstore.ErrInvalidRange) }
	plain := func(err error) bool {
		return err != nil && !notFound(err) && !condNotMet(err) && !invalidKey(err) && !invalidRange(err)
	}
	ifNone, ifMatch := objstore.PutOptions{IfNoneMatch: true}, objstore.PutOptions{IfMatch: "abc"}
	tests := []struct {
		name string
		op   func(ctx context.Context, b *objstore.S3) error
		resp fakeResponse
		want check
	}{
		{"get missing key", get, fakeResponse{status: 404, code: "NoSuchKey"}, notFound},
		{"get missing bucket", get, fakeResponse{status: 404, code: "NoSuchBucket"}, func(err error) bool {
			return errors.Is(err, objstore.ErrBucketNotFound) && !notFound(err) && strings.Contains(err.Error(), "storage.s3.bucket")
		}},
		{"head missing", head, fakeResponse{status: 404, code: "NotFound"}, notFound},
		{"get range unsatisfiable", getRange, fakeResponse{status: 416, code: "InvalidRange"}, invalidRange},
		{"if-none-match lost", put(ifNone), fakeResponse{status: 412, code: "PreconditionFailed"}, condNotMet},
		{"if-match lost", put(ifMatch), fakeResponse{status: 412, code: "PreconditionFailed"}, condNotMet},
		{"if-match on missing key (AWS)", put(ifMatch), fakeResponse{status: 404, code: "NoSuchKey"}, condNotMet},
		{"concurrent conditional write (AWS)", put(ifNone), fakeResponse{status: 409, code: "ConditionalRequestConflict"}, condNotMet},
		{"other 409 is not a lost race", put(ifNone), fakeResponse{status: 409, code: "OperationAborted"}, plain},
		{"versitygw: key is a directory", put(ifNone), fakeResponse{status: 409, code: "ExistingObjectIsDirectory"}, invalidKey},
		{"versitygw: parent is a file", put(objstore.PutOptions{}), fakeResponse{status: 409, code: "ObjectParentIsFile"}, invalidKey},
		{"access denied", put(ifNone), fakeResponse{status: 403, code: "AccessDenied"}, plain},
		{"delete missing", del, fakeResponse{status: 404, code: "NoSuchKey"}, func(err error) bool { return err == nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, f, _ := newFakeS3(t, tc.resp)
			err := tc.op(t.Context(), b)
			if !tc.want(err) {
				t.Errorf("got %v", err)
			}
			if err != nil && (!strings.Contains(err.Error(), `"k"`) || strings.Contains(err.Error(), testSecret)) {
				t.Errorf("error %q must name the key and hide the secret", err)
			}
			if n := len(f.requests()); n != 1 {
				t.Errorf("%d requests, want 1 (not retryable)", n)
			}
		})
	}
}

// TestS3Unavailable: a store that does not answer, or answers that it
// cannot now, is ErrUnavailable once the SDK's retries are spent; answers
// that retrying cannot change (a missing key, a refused permission, a lost
// precondition) are not, so callers never retry those.
func TestS3Unavailable(t *testing.T) {
	ifNone := objstore.PutOptions{IfNoneMatch: true}
	for _, tc := range []struct {
		name string
		op   func(ctx context.Context, b *objstore.S3) error
		resp fakeResponse
		want bool
	}{
		{"get 503 SlowDown", get, fakeResponse{status: 503, code: "SlowDown"}, true},
		{"get 500 InternalError", get, fakeResponse{status: 500, code: "InternalError"}, true},
		{"head 502", head, fakeResponse{status: 502}, true},
		{"range 429", getRange, fakeResponse{status: 429, code: "TooManyRequests"}, true},
		{"put 503", put(objstore.PutOptions{}), fakeResponse{status: 503, code: "ServiceUnavailable"}, true},
		{"conditional put 500", put(ifNone), fakeResponse{status: 500, code: "InternalError"}, true},
		{"delete 503", del, fakeResponse{status: 503, code: "SlowDown"}, true},
		{"list 503", list, fakeResponse{status: 503, code: "SlowDown"}, true},
		{"get missing key", get, fakeResponse{status: 404, code: "NoSuchKey"}, false},
		{"access denied", put(ifNone), fakeResponse{status: 403, code: "AccessDenied"}, false},
		{"precondition lost", put(ifNone), fakeResponse{status: 412, code: "PreconditionFailed"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _, _ := newFakeS3(t, tc.resp)
			err := tc.op(t.Context(), b)
			if err == nil {
				t.Fatal("succeeded")
			}
			if got := objstore.IsUnavailable(err); got != tc.want {
				t.Errorf("IsUnavailable = %v, want %v: %v", got, tc.want, err)
			}
		})
	}
	t.Run("nothing listens", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		_ = l.Close()
		b, err := objstore.NewS3(t.Context(), objstore.S3Config{
			Bucket: "fake", Endpoint: "http://" + addr, Region: "us-east-1", ForcePathStyle: true,
			AccessKeyID: "AKIA", SecretAccessKey: testSecret, MaxAttempts: 2, MaxBackoff: time.Millisecond,
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := get(t.Context(), b); !objstore.IsUnavailable(err) {
			t.Errorf("connection refused: %v, want ErrUnavailable", err)
		}
	})
	t.Run("cancelled context is not the store's fault", func(t *testing.T) {
		b, _, _ := newFakeS3(t, fakeResponse{status: 503, code: "SlowDown"})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := get(ctx, b); err == nil || objstore.IsUnavailable(err) {
			t.Errorf("cancelled: %v, want a context error that is not ErrUnavailable", err)
		}
	})
}

func list(ctx context.Context, b *objstore.S3) error {
	for _, err := range b.List(ctx, "", "") {
		if err != nil {
			return err
		}
	}
	return nil
}

func get(ctx context.Context, b *objstore.S3) error {
	_, _, err := b.Get(ctx, "k")
	return err
}

func head(ctx context.Context, b *objstore.S3) error {
	_, err := b.Attributes(ctx, "k")
	return err
}

func getRange(ctx context.Context, b *objstore.S3) error {
	_, err := b.GetRange(ctx, "k", 5, 1)
	return err
}

func del(ctx context.Context, b *objstore.S3) error { return b.Delete(ctx, "k") }

func put(opts objstore.PutOptions) func(ctx context.Context, b *objstore.S3) error {
	return func(ctx context.Context, b *objstore.S3) error {
		_, err := b.Put(ctx, "k", []byte("data"), opts)
		return err
	}
}

func TestS3PutRequest(t *testing.T) {
	b, f, logs := newFakeS3(t, fakeResponse{status: 200, etag: "e1"})
	a, err := b.Put(t.Context(), "dir/k", []byte("data"), objstore.PutOptions{IfMatch: "e0"})
	if err != nil {
		t.Fatal(err)
	}
	if a.ETag != "e1" || a.Key != "dir/k" || a.Size != 4 || a.LastModified.IsZero() {
		t.Errorf("attrs %+v", a)
	}
	r := f.requests()[0]
	if r.Method != http.MethodPut || r.URL.Path != "/fake/p/dir/k" || r.Header.Get("If-Match") != `"e0"` {
		t.Errorf("request %s %s If-Match %q", r.Method, r.URL.Path, r.Header.Get("If-Match"))
	}
	if _, err := b.Put(t.Context(), "dir/k", nil, objstore.PutOptions{IfNoneMatch: true}); err != nil {
		t.Fatal(err)
	}
	if r := f.requests()[1]; r.Header.Get("If-None-Match") != "*" || r.Header.Get("If-Match") != "" {
		t.Errorf("If-None-Match %q If-Match %q", r.Header.Get("If-None-Match"), r.Header.Get("If-Match"))
	}
	if logs.Len() > 0 {
		t.Errorf("sdk logged: %s", logs)
	}
}

func TestS3PutWithoutETagFails(t *testing.T) {
	b, _, _ := newFakeS3(t, fakeResponse{status: 200})
	_, err := b.Put(t.Context(), "k", []byte("x"), objstore.PutOptions{})
	if err == nil || !strings.Contains(err.Error(), "no etag") {
		t.Errorf("put answered without an etag: %v", err)
	}
}

func TestS3Retries(t *testing.T) {
	t.Run("transient error then success", func(t *testing.T) {
		b, f, _ := newFakeS3(t, fakeResponse{status: 503, code: "SlowDown"}, fakeResponse{status: 200, etag: "e"})
		if _, err := b.Put(t.Context(), "k", []byte("x"), objstore.PutOptions{IfNoneMatch: true}); err != nil {
			t.Fatal(err)
		}
		if n := len(f.requests()); n != 2 {
			t.Errorf("%d requests, want 2", n)
		}
	})
	t.Run("bounded", func(t *testing.T) {
		b, f, _ := newFakeS3(t, fakeResponse{status: 500, code: "InternalError"})
		if _, _, err := b.Get(t.Context(), "k"); err == nil {
			t.Fatal("get succeeded")
		}
		if n := len(f.requests()); n != 3 {
			t.Errorf("%d requests, want MaxAttempts=3", n)
		}
	})
	// The first attempt may have written the object before failing; the
	// retry then loses against it. Reporting ErrConditionNotMet would make
	// a committer believe someone else won.
	t.Run("precondition failure after a retry is ambiguous", func(t *testing.T) {
		b, _, _ := newFakeS3(t, fakeResponse{status: 500, code: "InternalError"}, fakeResponse{status: 412, code: "PreconditionFailed"})
		_, err := b.Put(t.Context(), "k", []byte("x"), objstore.PutOptions{IfNoneMatch: true})
		if err == nil || objstore.IsConditionNotMet(err) || !strings.Contains(err.Error(), "outcome unknown") {
			t.Errorf("got %v, want an outcome-unknown error that is not ErrConditionNotMet", err)
		}
	})
}

func TestS3GetRangeRequests(t *testing.T) {
	b, f, _ := newFakeS3(t, fakeResponse{status: 200, body: "whole"})
	rc, err := b.GetRange(t.Context(), "k", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	_ = rc.Close()
	if r := f.requests()[0]; r.Header.Get("Range") != "" {
		t.Errorf("whole-object range sent Range %q", r.Header.Get("Range"))
	}
	// A server that ignores Range would hand back the wrong bytes.
	if _, err := b.GetRange(t.Context(), "k", 2, 2); err == nil || !strings.Contains(err.Error(), "ignored range") {
		t.Errorf("range ignored by the server: %v", err)
	}
}

// Against a real server, the SDK must stay quiet: no checksum warnings on
// GETs, no retry noise.
func TestS3NoSDKWarnings(t *testing.T) {
	cfg := objstoretest.NewS3ConfigForTest(t)
	var logs bytes.Buffer
	b, err := objstore.NewS3(t.Context(), cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	a := objstoretest.MustPut(t, b, "k", []byte("0123456789"))
	if _, err := b.Put(ctx, "k", []byte("abc"), objstore.PutOptions{IfMatch: a.ETag}); err != nil {
		t.Fatal(err)
	}
	objstoretest.Read(t, b, "k")
	rc, err := b.GetRange(ctx, "k", 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(rc)
	_ = rc.Close()
	objstoretest.Keys(t, b, "", "")
	if err := b.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if logs.Len() > 0 {
		t.Errorf("sdk logged:\n%s", logs.String())
	}
}

// More keys than one ListObjectsV2 page (1000) exercise continuation.
func TestS3ListPagination(t *testing.T) {
	b := objstoretest.NewS3ForTest(t)
	if testing.Short() {
		t.Skip("puts 1100 objects")
	}
	ctx := t.Context()
	const n = 1100
	keys := make(chan string)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for k := range keys {
				if _, err := b.Put(ctx, k, nil, objstore.PutOptions{}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	for i := range n {
		keys <- fmt.Sprintf("page/%05d", i)
	}
	close(keys)
	wg.Wait()
	got := objstoretest.Keys(t, b, "page/", "")
	if len(got) != n || got[0] != "page/00000" || got[n-1] != fmt.Sprintf("page/%05d", n-1) || !slices.IsSorted(got) {
		t.Errorf("listed %d keys (first %q), want %d in order", len(got), got[:min(len(got), 1)], n)
	}
	if got := objstoretest.Keys(t, b, "page/", "page/00099"); len(got) != n-100 || got[0] != "page/00100" {
		t.Errorf("after page/00099: %d keys, first %q", len(got), got[:min(len(got), 1)])
	}
}
