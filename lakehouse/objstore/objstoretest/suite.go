// Package objstoretest holds the acceptance suite every objstore.Bucket must
// pass, and helpers to get buckets in tests: ForEach runs a test against
// memory, a local directory and, when configured, S3.
//
// S3 tests run when FLOE_TEST_S3_BUCKET is set (see S3ConfigFromEnv); each
// gets a fresh random prefix that is emptied afterwards.
package objstoretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/objstore"
)

// Run runs the acceptance suite. newBucket is called once per subtest and
// must return an empty bucket; it owns the bucket's cleanup (t.Cleanup).
func Run(t *testing.T, newBucket func(t *testing.T) objstore.Bucket) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b objstore.Bucket)
	}{
		{"PutGet", testPutGet},
		{"NotFound", testNotFound},
		{"GetRange", testGetRange},
		{"Overwrite", testOverwrite},
		{"IfNoneMatch", testIfNoneMatch},
		{"IfMatch", testIfMatch},
		{"Delete", testDelete},
		{"PathConflicts", testPathConflicts},
		{"ListOrder", testListOrder},
		{"ListPrefixStartAfter", testListPrefixStartAfter},
		{"ListStopEarly", testListStopEarly},
		{"InvalidKeys", testInvalidKeys},
		{"ContextCanceled", testContextCanceled},
		{"RaceIfNoneMatch", testRaceIfNoneMatch},
		{"RaceIfMatchCounter", testRaceIfMatchCounter},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newBucket(t))
		})
	}
}

// Read returns the whole content of key and its attributes, failing t on
// any error.
func Read(t testing.TB, b objstore.Bucket, key string) ([]byte, objstore.Attrs) {
	t.Helper()
	data, attrs, err := Get(t.Context(), b, key)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	return data, attrs
}

// Get reads the whole object.
func Get(ctx context.Context, b objstore.Bucket, key string) ([]byte, objstore.Attrs, error) {
	rc, attrs, err := b.Get(ctx, key)
	if err != nil {
		return nil, objstore.Attrs{}, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, objstore.Attrs{}, fmt.Errorf("read %q: %w", key, err)
	}
	return data, attrs, nil
}

// MustPut stores data unconditionally, failing t on error.
func MustPut(t testing.TB, b objstore.Bucket, key string, data []byte) objstore.Attrs {
	t.Helper()
	a, err := b.Put(t.Context(), key, data, objstore.PutOptions{})
	if err != nil {
		t.Fatalf("put %q: %v", key, err)
	}
	return a
}

// Keys lists prefix after startAfter and returns the keys, failing t on
// error.
func Keys(t testing.TB, b objstore.Bucket, prefix, startAfter string) []string {
	t.Helper()
	keys := []string{}
	for a, err := range b.List(t.Context(), prefix, startAfter) {
		if err != nil {
			t.Fatalf("list %q after %q: %v", prefix, startAfter, err)
		}
		keys = append(keys, a.Key)
	}
	return keys
}

func testPutGet(t *testing.T, b objstore.Bucket) {
	ctx := t.Context()
	if b.Name() == "" {
		t.Error("Name() is empty")
	}
	cases := []struct {
		key  string
		data []byte
	}{
		{"obj/one", []byte("hello")},
		{"empty", []byte{}},
		{"nil", nil},
		{"big/object.bin", randomBytes(1<<20 + 3)},
		// Characters that need escaping in URLs and paths.
		{"dir/sp ace+plus%25?q#h=é~!$&'()*,;=@:[]", []byte("odd")},
		{"unicode/日本語/ключ", []byte("utf8")},
	}
	for _, tc := range cases {
		buf := bytes.Clone(tc.data)
		put, err := b.Put(ctx, tc.key, buf, objstore.PutOptions{})
		if err != nil {
			t.Fatalf("put %q: %v", tc.key, err)
		}
		if put.Key != tc.key || put.Size != int64(len(tc.data)) || put.ETag == "" {
			t.Errorf("put %q: attrs %+v, want key, size %d and an etag", tc.key, put, len(tc.data))
		}
		// The caller may reuse its buffer once Put returns.
		for i := range buf {
			buf[i] ^= 0xff
		}
		got, attrs := Read(t, b, tc.key)
		if !bytes.Equal(got, tc.data) {
			t.Errorf("get %q: %d bytes, want the %d put", tc.key, len(got), len(tc.data))
		}
		if attrs.Key != tc.key || attrs.Size != put.Size || attrs.ETag != put.ETag {
			t.Errorf("get %q: attrs %+v, put returned %+v", tc.key, attrs, put)
		}
		head, err := b.Attributes(ctx, tc.key)
		if err != nil {
			t.Fatalf("attributes %q: %v", tc.key, err)
		}
		if head.Key != tc.key || head.Size != put.Size || head.ETag != put.ETag || head.LastModified.IsZero() {
			t.Errorf("attributes %q: %+v, put returned %+v", tc.key, head, put)
		}
		if d := time.Until(head.LastModified); d > time.Hour || d < -time.Hour {
			t.Errorf("attributes %q: LastModified %v is far from now", tc.key, head.LastModified)
		}
	}
}

func testNotFound(t *testing.T, b objstore.Bucket) {
	ctx := t.Context()
	MustPut(t, b, "dir/child", []byte("x"))
	for _, key := range []string{"missing", "dir", "dir/chil", "dir/child/grandchild"} {
		_, _, err := b.Get(ctx, key)
		checkNotFound(t, "get", key, err)
		_, err = b.Attributes(ctx, key)
		checkNotFound(t, "attributes", key, err)
		_, err = b.GetRange(ctx, key, 0, 1)
		checkNotFound(t, "get range", key, err)
		_, err = b.GetRange(ctx, key, 0, -1)
		checkNotFound(t, "get range", key, err)
	}
}

func checkNotFound(t *testing.T, op, key string, err error) {
	t.Helper()
	if !objstore.IsNotFound(err) {
		t.Errorf("%s %q: got %v, want ErrNotFound", op, key, err)
	} else if !strings.Contains(err.Error(), key) {
		t.Errorf("%s %q: error %q does not name the key", op, key, err)
	}
}

func testGetRange(t *testing.T, b objstore.Bucket) {
	ctx := t.Context()
	MustPut(t, b, "digits", []byte("0123456789"))
	MustPut(t, b, "empty", nil)
	cases := []struct {
		key         string
		off, length int64
		want        string // "" with bad: ErrInvalidRange
		bad         bool
	}{
		{"digits", 0, -1, "0123456789", false},
		{"digits", 0, 10, "0123456789", false},
		{"digits", 0, 1, "0", false},
		{"digits", 2, 3, "234", false},
		{"digits", 7, -1, "789", false},
		{"digits", 7, 100, "789", false},
		{"digits", 9, 1, "9", false},
		{"digits", 9, 1 << 62, "9", false},
		{"digits", 3, 0, "", false},
		{"digits", 10, 1, "", true},
		{"digits", 10, -1, "", true},
		{"digits", 11, -1, "", true},
		{"digits", 10, 0, "", true},
		{"digits", -1, 1, "", true},
		{"empty", 0, -1, "", false},
		{"empty", 0, 5, "", false},
		{"empty", 0, 0, "", false},
		{"empty", 1, -1, "", true},
	}
	for _, tc := range cases {
		rc, err := b.GetRange(ctx, tc.key, tc.off, tc.length)
		if tc.bad {
			if !errors.Is(err, objstore.ErrInvalidRange) {
				t.Errorf("get range %q [%d,+%d): got %v, want ErrInvalidRange", tc.key, tc.off, tc.length, err)
			}
			if rc != nil {
				_ = rc.Close()
			}
			continue
		}
		if err != nil {
			t.Errorf("get range %q [%d,+%d): %v", tc.key, tc.off, tc.length, err)
			continue
		}
		got, err := io.ReadAll(rc)
		_ = rc.Close()
		if err != nil || string(got) != tc.want {
			t.Errorf("get range %q [%d,+%d) = %q, %v; want %q", tc.key, tc.off, tc.length, got, err, tc.want)
		}
	}
	// Ranges of a large object cross buffer sizes.
	big := randomBytes(3<<20 + 17)
	MustPut(t, b, "big", big)
	for _, r := range [][2]int64{{0, 1 << 20}, {1<<20 - 1, 2}, {3 << 20, -1}, {int64(len(big)) - 1, 1}} {
		rc, err := b.GetRange(ctx, "big", r[0], r[1])
		if err != nil {
			t.Fatalf("get range big %v: %v", r, err)
		}
		got, err := io.ReadAll(rc)
		_ = rc.Close()
		end := int64(len(big))
		if r[1] >= 0 {
			end = min(end, r[0]+r[1])
		}
		if err != nil || !bytes.Equal(got, big[r[0]:end]) {
			t.Errorf("get range big %v: %d bytes, %v; want bytes [%d,%d)", r, len(got), err, r[0], end)
		}
	}
}

func testOverwrite(t *testing.T, b objstore.Bucket) {
	ctx := t.Context()
	v1 := MustPut(t, b, "k", []byte("version one"))
	v2 := MustPut(t, b, "k", []byte("version two!"))
	if v1.ETag == v2.ETag {
		t.Errorf("overwrite kept etag %q", v1.ETag)
	}
	got, attrs := Read(t, b, "k")
	if string(got) != "version two!" || attrs.ETag != v2.ETag || attrs.Size != 12 {
		t.Errorf("after overwrite: %q %+v, want version two with etag %q", got, attrs, v2.ETag)
	}
	head, err := b.Attributes(ctx, "k")
	if err != nil || head.ETag != v2.ETag {
		t.Errorf("attributes after overwrite: %+v, %v; want etag %q", head, err, v2.ETag)
	}
}

func testIfNoneMatch(t *testing.T, b objstore.Bucket) {
	ctx := t.Context()
	created, err := b.Put(ctx, "once", []byte("first"), objstore.PutOptions{IfNoneMatch: true})
	if err != nil {
		t.Fatalf("if-none-match on a new key: %v", err)
	}
	_, err = b.Put(ctx, "once", []byte("second"), objstore.PutOptions{IfNoneMatch: true})
	if !objstore.IsConditionNotMet(err) {
		t.Fatalf("if-none-match on an existing key: got %v, want ErrConditionNotMet", err)
	}
	if !strings.Contains(err.Error(), "once") {
		t.Errorf("error %q does not name the key", err)
	}
	got, attrs := Read(t, b, "once")
	if string(got) != "first" || attrs.ETag != created.ETag {
		t.Errorf("losing put changed the object: %q %+v", got, attrs)
	}
	if err := b.Delete(ctx, "once"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put(ctx, "once", []byte("third"), objstore.PutOptions{IfNoneMatch: true}); err != nil {
		t.Errorf("if-none-match after delete: %v", err)
	}
}

func testIfMatch(t *testing.T, b objstore.Bucket) {
	ctx := t.Context()
	v1 := MustPut(t, b, "cas", []byte("v1"))
	v2, err := b.Put(ctx, "cas", []byte("v2"), objstore.PutOptions{IfMatch: v1.ETag})
	if err != nil {
		t.Fatalf("if-match with the current etag: %v", err)
	}
	if v2.ETag == "" || v2.ETag == v1.ETag {
		t.Errorf("if-match put returned etag %q (previous %q)", v2.ETag, v1.ETag)
	}
	if head, err := b.Attributes(ctx, "cas"); err != nil || head.ETag != v2.ETag {
		t.Errorf("attributes after if-match put: %+v, %v; want etag %q", head, err, v2.ETag)
	}
	for _, stale := range []string{v1.ETag, "not-an-etag"} {
		_, err = b.Put(ctx, "cas", []byte("v3"), objstore.PutOptions{IfMatch: stale})
		if !objstore.IsConditionNotMet(err) {
			t.Errorf("if-match %q (stale): got %v, want ErrConditionNotMet", stale, err)
		}
	}
	if got, attrs := Read(t, b, "cas"); string(got) != "v2" || attrs.ETag != v2.ETag {
		t.Errorf("losing if-match changed the object: %q %+v", got, attrs)
	}
	_, err = b.Put(ctx, "absent", []byte("x"), objstore.PutOptions{IfMatch: v2.ETag})
	if !objstore.IsConditionNotMet(err) {
		t.Errorf("if-match on a missing key: got %v, want ErrConditionNotMet", err)
	}
	if _, err := b.Attributes(ctx, "absent"); !objstore.IsNotFound(err) {
		t.Errorf("if-match on a missing key created it: %v", err)
	}
	_, err = b.Put(ctx, "both", []byte("x"), objstore.PutOptions{IfNoneMatch: true, IfMatch: v2.ETag})
	if err == nil || objstore.IsConditionNotMet(err) {
		t.Errorf("put with both conditions: got %v, want an invalid-options error", err)
	}
	if _, err := b.Attributes(ctx, "both"); !objstore.IsNotFound(err) {
		t.Errorf("put with both conditions wrote the object: %v", err)
	}
}

func testDelete(t *testing.T, b objstore.Bucket) {
	ctx := t.Context()
	for _, k := range []string{"d/e", "d/f/g", "d/h"} {
		MustPut(t, b, k, []byte(k))
	}
	if err := b.Delete(ctx, "d/e"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := b.Attributes(ctx, "d/e"); !objstore.IsNotFound(err) {
		t.Errorf("attributes after delete: got %v, want ErrNotFound", err)
	}
	if err := b.Delete(ctx, "d/e"); err != nil {
		t.Errorf("second delete: %v", err)
	}
	for _, k := range []string{"never/existed", "d", "d/f", "d/f/g/h"} {
		if err := b.Delete(ctx, k); err != nil {
			t.Errorf("delete of missing key %q: %v", k, err)
		}
	}
	if got := Keys(t, b, "", ""); !slices.Equal(got, []string{"d/f/g", "d/h"}) {
		t.Errorf("after delete, list = %q", got)
	}
	// Once "d/f/g" is gone, "d/f" may be an object (directories left
	// behind by path-based stores must not get in the way), and back.
	if err := b.Delete(ctx, "d/f/g"); err != nil {
		t.Fatal(err)
	}
	MustPut(t, b, "d/f", []byte("now a leaf"))
	if err := b.Delete(ctx, "d/f"); err != nil {
		t.Fatal(err)
	}
	MustPut(t, b, "d/f/g", []byte("again"))
	if got, _ := Read(t, b, "d/f/g"); string(got) != "again" {
		t.Errorf("re-created key reads %q", got)
	}
	for _, k := range []string{"d/f/g", "d/h"} {
		if err := b.Delete(ctx, k); err != nil {
			t.Fatalf("delete %q: %v", k, err)
		}
	}
	if got := Keys(t, b, "", ""); len(got) != 0 {
		t.Errorf("after deleting everything, list = %q", got)
	}
}

// testPathConflicts covers "a" next to "a/b". AWS S3 stores both; path-based
// stores (FS, Mem for parity, versitygw, MinIO) refuse the second with
// ErrInvalidKey. Either way the existing object stays intact, and the
// refusal is never mistaken for a lost race (ErrConditionNotMet).
func testPathConflicts(t *testing.T, b objstore.Bucket) {
	ctx := t.Context()
	MustPut(t, b, "c/d", []byte("leaf"))
	for _, tc := range []struct {
		key  string
		opts objstore.PutOptions
	}{
		{"c", objstore.PutOptions{}},
		{"c", objstore.PutOptions{IfNoneMatch: true}},
		{"c/d/e", objstore.PutOptions{}},
		{"c/d/e", objstore.PutOptions{IfNoneMatch: true}},
	} {
		_, err := b.Put(ctx, tc.key, []byte("x"), tc.opts)
		switch {
		case err == nil:
			// Allowed (AWS S3); undo so the next case starts the same.
			if err := b.Delete(ctx, tc.key); err != nil {
				t.Fatal(err)
			}
		case !errors.Is(err, objstore.ErrInvalidKey) || objstore.IsConditionNotMet(err):
			t.Errorf("put %q %+v next to \"c/d\": got %v, want success or ErrInvalidKey", tc.key, tc.opts, err)
		}
		if got, _ := Read(t, b, "c/d"); string(got) != "leaf" {
			t.Fatalf("put %q changed c/d to %q", tc.key, got)
		}
	}
	if got := Keys(t, b, "", ""); !slices.Equal(got, []string{"c/d"}) {
		t.Errorf("list = %q, want just c/d", got)
	}
}

// listKeys is a key set whose byte order differs from a filesystem walk
// ('-' < '.' < '/' < '0' < 'b'), without a key that is a path prefix of
// another (see testPathConflicts).
func listKeys() []string {
	return []string{"a-c", "a/b-x", "a/b.x", "a/b/c", "a/b/c0", "a/b/d/e", "a/b0", "a0", "ab", "b/a", "é"}
}

func putKeys(t *testing.T, b objstore.Bucket, keys []string) {
	t.Helper()
	for _, i := range rand.Perm(len(keys)) {
		MustPut(t, b, keys[i], []byte("data of "+keys[i]))
	}
}

func testListOrder(t *testing.T, b objstore.Bucket) {
	ctx := t.Context()
	putKeys(t, b, listKeys())
	want := listKeys()
	slices.Sort(want)
	var got []string
	for a, err := range b.List(ctx, "", "") {
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		got = append(got, a.Key)
		head, err := b.Attributes(ctx, a.Key)
		if err != nil {
			t.Fatalf("attributes %q: %v", a.Key, err)
		}
		if a.Size != head.Size || a.ETag != head.ETag || a.Size != int64(len("data of "+a.Key)) {
			t.Errorf("list attrs %+v differ from attributes %+v", a, head)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("list order:\n got %q\nwant %q", got, want)
	}
}

func testListPrefixStartAfter(t *testing.T, b objstore.Bucket) {
	putKeys(t, b, listKeys())
	sorted := listKeys()
	slices.Sort(sorted)
	prefixes := []string{"", "a", "a/", "a/b", "a/b/", "a/b/c", "a/b/d/", "a-", "b/", "z", "a/bz/"}
	starts := []string{"", "a", "a-c", "a/", "a/b", "a/b/", "a/b/c", "a/b/c/", "a/b/d", "a0", "a/c", "zzz", "A"}
	for _, p := range prefixes {
		for _, s := range starts {
			want := []string{}
			for _, k := range sorted {
				if strings.HasPrefix(k, p) && k > s {
					want = append(want, k)
				}
			}
			if got := Keys(t, b, p, s); !slices.Equal(got, want) {
				t.Errorf("list(prefix %q, after %q):\n got %q\nwant %q", p, s, got, want)
			}
		}
	}
}

func testListStopEarly(t *testing.T, b objstore.Bucket) {
	putKeys(t, b, listKeys())
	var got []string
	for a, err := range b.List(t.Context(), "a/", "") {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a.Key)
		if len(got) == 2 {
			break
		}
	}
	if !slices.Equal(got, []string{"a/b-x", "a/b.x"}) {
		t.Errorf("first two under a/: %q", got)
	}
}

func testInvalidKeys(t *testing.T, b objstore.Bucket) {
	ctx := t.Context()
	bad := []string{
		"", "/a", "a/", "a//b", ".", "..", "./a", "a/./b", "a/..", "../a",
		".floe", ".floe-tmp/x", "a/.floe-data", "a\x00b", "a\nb", "a\x7fb",
		`a\b`, "\xff", strings.Repeat("k", objstore.MaxKeyLen+1),
	}
	for _, key := range bad {
		check := func(op string, err error) {
			t.Helper()
			if !errors.Is(err, objstore.ErrInvalidKey) {
				t.Errorf("%s %q: got %v, want ErrInvalidKey", op, key, err)
			}
		}
		_, err := b.Put(ctx, key, []byte("x"), objstore.PutOptions{})
		check("put", err)
		_, err = b.Put(ctx, key, []byte("x"), objstore.PutOptions{IfNoneMatch: true})
		check("put if-none-match", err)
		_, _, err = b.Get(ctx, key)
		check("get", err)
		_, err = b.GetRange(ctx, key, 0, 1)
		check("get range", err)
		_, err = b.Attributes(ctx, key)
		check("attributes", err)
		check("delete", b.Delete(ctx, key))
	}
	for _, prefix := range []string{"/a", "../", "a/../", "a//", "./", "a\x00", "a\nb", `a\`, ".floe-tmp/"} {
		n := 0
		for _, err := range b.List(ctx, prefix, "") {
			n++
			if !errors.Is(err, objstore.ErrInvalidKey) {
				t.Errorf("list %q: got %v, want ErrInvalidKey", prefix, err)
			}
		}
		if n != 1 {
			t.Errorf("list %q: yielded %d results, want one error", prefix, n)
		}
	}
	if got := Keys(t, b, "", ""); len(got) != 0 {
		t.Errorf("invalid keys were stored: %q", got)
	}
}

func testContextCanceled(t *testing.T, b objstore.Bucket) {
	MustPut(t, b, "exists", []byte("x"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: got %v, want context.Canceled", op, err)
		}
	}
	_, err := b.Put(ctx, "new", []byte("x"), objstore.PutOptions{})
	check("put", err)
	_, err = b.Put(ctx, "exists", []byte("y"), objstore.PutOptions{})
	check("overwrite", err)
	_, _, err = b.Get(ctx, "exists")
	check("get", err)
	_, err = b.GetRange(ctx, "exists", 0, 1)
	check("get range", err)
	_, err = b.Attributes(ctx, "exists")
	check("attributes", err)
	check("delete", b.Delete(ctx, "exists"))
	n := 0
	for _, err := range b.List(ctx, "", "") {
		n++
		check("list", err)
	}
	if n != 1 {
		t.Errorf("list with a canceled context yielded %d results, want one error", n)
	}
	// Nothing changed.
	if got, _ := Read(t, b, "exists"); string(got) != "x" {
		t.Errorf("canceled overwrite or delete changed the object: %q", got)
	}
	if _, err := b.Attributes(t.Context(), "new"); !objstore.IsNotFound(err) {
		t.Errorf("canceled put created the object: %v", err)
	}
}

// Racers is how many goroutines the race tests run.
const Racers = 16

func testRaceIfNoneMatch(t *testing.T, b objstore.Bucket) {
	ctx := t.Context()
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		winners atomic.Int32
		winner  atomic.Int32
		etag    atomic.Value
	)
	for i := range Racers {
		wg.Go(func() {
			<-start
			a, err := b.Put(ctx, "race/once", []byte("writer "+strconv.Itoa(i)), objstore.PutOptions{IfNoneMatch: true})
			switch {
			case err == nil:
				winners.Add(1)
				winner.Store(int32(i))
				etag.Store(a.ETag)
			case !objstore.IsConditionNotMet(err):
				t.Errorf("racer %d: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := winners.Load(); n != 1 {
		t.Fatalf("%d racers created the key, want exactly 1", n)
	}
	got, attrs := Read(t, b, "race/once")
	if want := "writer " + strconv.Itoa(int(winner.Load())); string(got) != want || attrs.ETag != etag.Load() {
		t.Errorf("stored %q (etag %q), want the winner's %q (etag %q)", got, attrs.ETag, want, etag.Load())
	}
}

// CounterIncrements is how many increments each racer makes in the
// counter race.
const CounterIncrements = 4

func testRaceIfMatchCounter(t *testing.T, b objstore.Bucket) {
	ctx := t.Context()
	const key = "race/counter"
	MustPut(t, b, key, []byte("0"))
	var (
		wg        sync.WaitGroup
		start     = make(chan struct{})
		successes atomic.Int64
	)
	for i := range Racers {
		wg.Go(func() {
			<-start
			for range CounterIncrements {
				if err := Increment(ctx, b, key); err != nil {
					t.Errorf("racer %d: %v", i, err)
					return
				}
				successes.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	got, _ := Read(t, b, key)
	if want := strconv.FormatInt(successes.Load(), 10); string(got) != want {
		t.Errorf("counter = %s after %s successful increments: lost update", got, want)
	}
	if successes.Load() != Racers*CounterIncrements {
		t.Errorf("%d successful increments, want %d", successes.Load(), Racers*CounterIncrements)
	}
}

// Increment adds one to the decimal counter stored at key with a
// read-modify-write loop: read the value and ETag, put value+1 with
// IfMatch, and start over when the condition is not met. It gives up after
// a bounded number of attempts.
func Increment(ctx context.Context, b objstore.Bucket, key string) error {
	const maxAttempts = 10000
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		data, attrs, err := Get(ctx, b, key)
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(string(data))
		if err != nil {
			return fmt.Errorf("counter %q holds %q: %w", key, data, err)
		}
		_, err = b.Put(ctx, key, []byte(strconv.Itoa(n+1)), objstore.PutOptions{IfMatch: attrs.ETag})
		if err == nil {
			return nil
		}
		if !objstore.IsConditionNotMet(err) {
			return err
		}
		// Back off a little, with jitter, so racers spread out.
		select {
		case <-time.After(time.Duration(rand.Int64N(int64(time.Millisecond) * int64(min(attempt, 10))))):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return fmt.Errorf("counter %q: no increment after %d attempts", key, maxAttempts)
}

func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(uint64(n), 42))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}
