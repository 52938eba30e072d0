package node_test

import (
	"context"
	"fmt"
	"io"
	"iter"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/node"
	"github.com/floedb/floe/lakehouse/objstore"
	"github.com/floedb/floe/lakehouse/sqlexec"
)

// outage is a bucket whose reads of keys under prefix fail with
// objstore.ErrUnavailable while down is set, and whose next put under
// prefix, once armed, lands but is reported failed (the answer was lost)
// and takes the store down.
type outage struct {
	objstore.Bucket
	prefix string
	down   atomic.Bool
	armed  atomic.Bool
}

func (o *outage) fail(op, key string) error {
	if o.down.Load() && strings.HasPrefix(key, o.prefix) {
		return fmt.Errorf("objstore: test %s %q: %w (HTTP 503)", op, key, objstore.ErrUnavailable)
	}
	return nil
}

func (o *outage) Get(ctx context.Context, key string) (io.ReadCloser, objstore.Attrs, error) {
	if err := o.fail(objstore.OpGet, key); err != nil {
		return nil, objstore.Attrs{}, err
	}
	return o.Bucket.Get(ctx, key)
}

func (o *outage) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	if err := o.fail(objstore.OpGetRange, key); err != nil {
		return nil, err
	}
	return o.Bucket.GetRange(ctx, key, off, length)
}

func (o *outage) Attributes(ctx context.Context, key string) (objstore.Attrs, error) {
	if err := o.fail(objstore.OpAttributes, key); err != nil {
		return objstore.Attrs{}, err
	}
	return o.Bucket.Attributes(ctx, key)
}

func (o *outage) List(ctx context.Context, prefix, startAfter string) iter.Seq2[objstore.Attrs, error] {
	if err := o.fail(objstore.OpList, prefix); err != nil {
		return func(yield func(objstore.Attrs, error) bool) { yield(objstore.Attrs{}, err) }
	}
	return o.Bucket.List(ctx, prefix, startAfter)
}

func (o *outage) Put(ctx context.Context, key string, data []byte, opts objstore.PutOptions) (objstore.Attrs, error) {
	if err := o.fail(objstore.OpPut, key); err != nil {
		return objstore.Attrs{}, err
	}
	a, err := o.Bucket.Put(ctx, key, data, opts)
	if err == nil && strings.HasPrefix(key, o.prefix) && o.armed.CompareAndSwap(true, false) {
		o.down.Store(true)
		return objstore.Attrs{}, fmt.Errorf("objstore: test put %q: %w (the answer was lost)", key, objstore.ErrUnavailable)
	}
	return a, err
}

// openOutage opens node id on the world's shared directory through an
// outage bucket for keys under prefix.
func (w *world) openOutage(t *testing.T, id, prefix string) (*node.Node, *outage) {
	t.Helper()
	var o *outage
	n := w.openWrapped(t, id, time.Minute, func(b objstore.Bucket) objstore.Bucket {
		o = &outage{Bucket: b, prefix: prefix}
		return o
	})
	return n, o
}

// An object store that does not answer is UNAVAILABLE (retry), never
// INTERNAL, and its message names no object key; a commit whose answer
// was lost and cannot be read back is OUTCOME_UNKNOWN (check before
// retrying), and indeed it may have landed.
func TestObjectStoreOutageCodes(t *testing.T) {
	w := &world{t: t, dir: t.TempDir()}
	a, _ := w.openOutage(t, "a", "tables/")
	exec(t, a, "CREATE NAMESPACE app; CREATE SHARED TABLE app.t (id BIGINT PRIMARY KEY, v TEXT)")
	exec(t, a, "INSERT INTO app.t SELECT i, 'v' || i FROM range(100) r(i)")
	exec(t, a, "FLUSH TABLE app.t")
	stop(t, a)

	// A node with an empty data dir must read the segments from the store.
	b, out := w.openOutage(t, "b", "tables/")
	out.down.Store(true)
	for _, sql := range []string{
		"SELECT count(*) FROM app.t",
		"SELECT v FROM app.t WHERE id = 7",
		"INSERT INTO app.t VALUES (7, 'again')", // the key check reads the segment
	} {
		_, err := b.Executor.Execute(context.Background(), root, sqlexec.Request{SQL: sql})
		if dberr.CodeOf(err) != dberr.Unavailable {
			t.Fatalf("%s during an outage: %v, want UNAVAILABLE", sql, err)
		}
		if msg := userMessage(err); strings.Contains(msg, "tables/") || !strings.Contains(msg, "retry") {
			t.Errorf("%s: message %q must say to retry and name no object key", sql, msg)
		}
	}
	out.down.Store(false)
	if got := exec(t, b, "SELECT count(*) FROM app.t")[0].Rows[0][0]; fmt.Sprint(got) != "100" {
		t.Fatalf("after the outage: count %v, want 100", got)
	}

	// The catalog commit lands, its answer is lost, and reading it back
	// fails: the outcome is unknown, and the table does exist afterwards.
	stop(t, b)
	c, out := w.openOutage(t, "c", "catalog/v/")
	out.armed.Store(true)
	_, err := c.Executor.Execute(context.Background(), root, sqlexec.Request{SQL: "CREATE SHARED TABLE app.u (id BIGINT PRIMARY KEY)"})
	if dberr.CodeOf(err) != dberr.OutcomeUnknown {
		t.Fatalf("CREATE TABLE with a lost commit answer: %v, want OUTCOME_UNKNOWN", err)
	}
	out.down.Store(false)
	_, err = c.Executor.Execute(context.Background(), root, sqlexec.Request{SQL: "CREATE SHARED TABLE app.u (id BIGINT PRIMARY KEY)"})
	if dberr.CodeOf(err) != dberr.AlreadyExists {
		t.Fatalf("the commit landed, so a second CREATE must say ALREADY_EXISTS: %v", err)
	}
}

// userMessage is the message a client sees for err.
func userMessage(err error) string {
	if de, ok := err.(*dberr.Error); ok {
		return de.Msg
	}
	return err.Error()
}
