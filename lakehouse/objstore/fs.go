package objstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"iter"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Names inside an FS root. They start with ReservedSegmentPrefix, which no
// key segment may, so they never collide with objects.
const (
	fsTmpDir  = ".floe-tmp"   // staged puts, renamed into place
	fsLockDir = ".floe-locks" // striped flock files
	// fsStaleTmp is how old a staged file must be before NewFS removes it
	// as the leftover of a crashed writer.
	fsStaleTmp = time.Hour
	// fsRenameAttempts bounds how often Put re-creates a parent directory
	// that a concurrent Delete pruned between mkdir and rename.
	fsRenameAttempts = 16
	// fsLockStripes is the number of lock files; keys hash onto them.
	fsLockStripes = 64
)

// FS is a Bucket backed by a local directory: the embedded default.
//
// # Layout
//
// Key "t/seg/001.parquet" is the file "<root>/t/seg/001.parquet"; see
// Path. Like every path-based store (versitygw's posix backend, MinIO), FS
// cannot hold both "a" and "a/b": the second Put fails with ErrInvalidKey.
// Staged writes live in "<root>/.floe-tmp" and lock files in
// "<root>/.floe-locks"; List never shows them. Delete removes parent
// directories that become empty, never the root.
//
// # Consistency
//
// FS is safe for concurrent use by multiple goroutines and by multiple
// processes sharing the root (on a local filesystem with working flock; not
// NFS mounted with local locking). Put stages the content in a temporary
// file and fsyncs it; then, holding an exclusive flock on the key's lock
// stripe (one of 64, chosen by key hash), it checks the condition, renames
// the file into place and fsyncs the directory. Delete takes the same lock.
// Readers take no lock: rename makes new content visible atomically, and an
// open reader keeps reading the version it opened.
//
// # ETags
//
// The ETag is derived from the file's inode number, modification time in
// nanoseconds and size, so Attributes and List never read content. Put sets
// the modification time explicitly, strictly after the replaced version's,
// so every put of a key yields a new ETag, even with identical content or a
// reused inode number. (A key deleted and re-created starts again from the
// clock.)
type FS struct {
	root   string
	tmpDir string
	now    func() time.Time
	locks  *fsLocks
}

var _ Bucket = (*FS)(nil)

// NewFS opens the bucket rooted at dir, creating the directory and its
// internal subdirectories if needed. It removes staged files that crashed
// writers left behind more than an hour ago.
func NewFS(dir string) (*FS, error) {
	if dir == "" {
		return nil, errors.New("objstore: fs: empty directory")
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("objstore: fs %q: %w", dir, err)
	}
	for _, d := range []string{root, filepath.Join(root, fsTmpDir), filepath.Join(root, fsLockDir)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("objstore: fs %q: %w", dir, err)
		}
	}
	locks, err := newFSLocks(filepath.Join(root, fsLockDir))
	if err != nil {
		return nil, fmt.Errorf("objstore: fs %q: %w", dir, err)
	}
	f := &FS{root: root, tmpDir: filepath.Join(root, fsTmpDir), now: time.Now, locks: locks}
	f.removeStaleTmp()
	return f, nil
}

// removeStaleTmp is best-effort: a failure only leaves garbage behind.
func (f *FS) removeStaleTmp() {
	entries, err := os.ReadDir(f.tmpDir)
	if err != nil {
		return
	}
	cutoff := f.now().Add(-fsStaleTmp)
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && fi.ModTime().Before(cutoff) {
			_ = os.Remove(filepath.Join(f.tmpDir, e.Name()))
		}
	}
}

// Path returns the file that holds key's content, for code that must hand
// a path to another program. Puts replace the file rather than modify it;
// treat it as read-only.
func (f *FS) Path(key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", fmt.Errorf("objstore: fs path: %w", err)
	}
	return f.path(key), nil
}

func (f *FS) path(key string) string { return filepath.Join(f.root, filepath.FromSlash(key)) }

// fsETag renders the (inode, mtime, size) triple; see the FS type docs.
func fsETag(fi fs.FileInfo) string {
	return fmt.Sprintf("%x-%x-%x", fileID(fi), fi.ModTime().UnixNano(), fi.Size())
}

func fsAttrs(key string, fi fs.FileInfo) Attrs {
	return Attrs{Key: key, Size: fi.Size(), ETag: fsETag(fi), LastModified: fi.ModTime()}
}

// isMissing reports errors that mean "no such object": the file or a
// directory on its path is absent, or a path component is a file.
func isMissing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

func (f *FS) begin(ctx context.Context, op, key string) error {
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("objstore: fs %s: %w", op, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("objstore: fs %s %q: %w", op, key, err)
	}
	return nil
}

func (f *FS) open(ctx context.Context, op, key string) (*os.File, fs.FileInfo, error) {
	if err := f.begin(ctx, op, key); err != nil {
		return nil, nil, err
	}
	file, err := os.Open(f.path(key))
	if isMissing(err) {
		return nil, nil, fmt.Errorf("objstore: fs %s %q: %w", op, key, ErrNotFound)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("objstore: fs %s %q: %w", op, key, err)
	}
	fi, err := file.Stat()
	if err == nil && !fi.Mode().IsRegular() { // a directory holding deeper keys
		err = ErrNotFound
	}
	if err != nil {
		_ = file.Close()
		return nil, nil, fmt.Errorf("objstore: fs %s %q: %w", op, key, err)
	}
	return file, fi, nil
}

// Get implements Bucket. The returned reader is the open file: it keeps
// reading this version even if the key is overwritten or deleted.
func (f *FS) Get(ctx context.Context, key string) (io.ReadCloser, Attrs, error) {
	file, fi, err := f.open(ctx, OpGet, key)
	if err != nil {
		return nil, Attrs{}, err
	}
	return file, fsAttrs(key, fi), nil
}

// GetRange implements Bucket.
func (f *FS) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	file, fi, err := f.open(ctx, OpGetRange, key)
	if err != nil {
		return nil, err
	}
	n, err := checkRange(key, fi.Size(), off, length)
	if err != nil {
		_ = file.Close()
		return nil, fmt.Errorf("objstore: fs get range: %w", err)
	}
	return sectionReadCloser{io.NewSectionReader(file, off, n), file}, nil
}

type sectionReadCloser struct {
	*io.SectionReader
	io.Closer
}

// Attributes implements Bucket. It stats the file and never reads it.
func (f *FS) Attributes(ctx context.Context, key string) (Attrs, error) {
	if err := f.begin(ctx, OpAttributes, key); err != nil {
		return Attrs{}, err
	}
	fi, err := os.Stat(f.path(key))
	if isMissing(err) || (err == nil && !fi.Mode().IsRegular()) {
		return Attrs{}, fmt.Errorf("objstore: fs attributes %q: %w", key, ErrNotFound)
	}
	if err != nil {
		return Attrs{}, fmt.Errorf("objstore: fs attributes %q: %w", key, err)
	}
	return fsAttrs(key, fi), nil
}

// Put implements Bucket. See the FS type docs for how the write is made
// atomic, durable and conditional.
func (f *FS) Put(ctx context.Context, key string, data []byte, opts PutOptions) (Attrs, error) {
	if err := f.begin(ctx, OpPut, key); err != nil {
		return Attrs{}, err
	}
	if err := opts.Validate(); err != nil {
		return Attrs{}, fmt.Errorf("objstore: fs put %q: %w", key, err)
	}
	attrs, err := f.put(ctx, key, data, opts)
	if err != nil {
		return Attrs{}, fmt.Errorf("objstore: fs put %q: %w", key, err)
	}
	return attrs, nil
}

func (f *FS) put(ctx context.Context, key string, data []byte, opts PutOptions) (_ Attrs, err error) {
	dst := f.path(key)
	// Stage, stamp and fsync the content before taking the lock, which
	// then covers only the condition check and the rename (plus a second
	// stamp in the rare case that another writer got in between).
	tmp, err := os.CreateTemp(f.tmpDir, "put-*")
	if err != nil {
		return Attrs{}, err
	}
	renamed := false
	defer func() {
		if cerr := tmp.Close(); cerr != nil && err == nil && !renamed {
			err = cerr
		}
		if !renamed {
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return Attrs{}, err
	}
	cur, err := f.current(dst)
	if err != nil {
		return Attrs{}, err
	}
	fi, err := f.stampMtime(tmp, cur)
	if err != nil {
		return Attrs{}, err
	}
	if err := tmp.Sync(); err != nil {
		return Attrs{}, err
	}

	unlock, err := f.locks.lock(ctx, key)
	if err != nil {
		return Attrs{}, err
	}
	defer unlock()
	if err := ctx.Err(); err != nil {
		return Attrs{}, err
	}

	if cur, err = f.current(dst); err != nil {
		return Attrs{}, err
	}
	switch {
	case opts.IfNoneMatch && cur != nil:
		return Attrs{}, fmt.Errorf("if-none-match: key exists: %w", ErrConditionNotMet)
	case opts.IfMatch != "" && cur == nil:
		return Attrs{}, fmt.Errorf("if-match %q: key does not exist: %w", opts.IfMatch, ErrConditionNotMet)
	case opts.IfMatch != "" && fsETag(cur) != opts.IfMatch:
		return Attrs{}, fmt.Errorf("if-match %q: current etag %q: %w", opts.IfMatch, fsETag(cur), ErrConditionNotMet)
	}
	if cur != nil && !fi.ModTime().After(cur.ModTime()) {
		// Overwritten since we stamped: stamp again, after that version.
		if fi, err = f.stampMtime(tmp, cur); err != nil {
			return Attrs{}, err
		}
		if err := tmp.Sync(); err != nil {
			return Attrs{}, err
		}
	}

	dir := filepath.Dir(dst)
	for attempt := 1; ; attempt++ {
		err := f.mkdirs(key, dir)
		if err == nil {
			err = os.Rename(tmp.Name(), dst)
		}
		if err == nil {
			break
		}
		if attempt == fsRenameAttempts {
			return Attrs{}, err
		}
		switch {
		case errors.Is(err, ErrInvalidKey):
			return Attrs{}, err
		case errors.Is(err, syscall.ENOTDIR):
			// A racing Put made a parent directory a file.
			return Attrs{}, keyConflict(key, f.keyOf(dir), "key exists at or above")
		case errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.EEXIST) || errors.Is(err, syscall.ENOTEMPTY):
			// A directory is in the way. Left empty by a crash or by a
			// racing Put of a deeper key, it can go; holding deeper keys,
			// it conflicts.
			rerr := rmdir(dst)
			switch {
			case rerr == nil || isMissing(rerr):
			case errors.Is(rerr, syscall.ENOTEMPTY) || errors.Is(rerr, syscall.EEXIST):
				return Attrs{}, keyConflict(key, key+"/", "keys exist under")
			default:
				return Attrs{}, fmt.Errorf("remove directory in the way: %w", rerr)
			}
		case errors.Is(err, fs.ErrNotExist):
			// A concurrent Delete pruned a parent we just made.
		default:
			return Attrs{}, err
		}
	}
	renamed = true
	if err := syncDir(dir); err != nil {
		return Attrs{}, err
	}
	return fsAttrs(key, fi), nil
}

// current stats the object at path: nil if there is none (a directory of
// deeper keys is none).
func (f *FS) current(path string) (fs.FileInfo, error) {
	fi, err := os.Stat(path)
	switch {
	case isMissing(err):
		return nil, nil
	case err != nil:
		return nil, err
	case !fi.Mode().IsRegular():
		return nil, nil
	}
	return fi, nil
}

// stampMtime gives the staged file a modification time strictly after the
// current version's (cur may be nil), so that the new ETag differs from
// every earlier one. It returns the staged file's final FileInfo.
func (f *FS) stampMtime(tmp *os.File, cur fs.FileInfo) (fs.FileInfo, error) {
	want := f.now()
	for _, bump := range []time.Duration{time.Nanosecond, time.Second, 2 * time.Second} {
		if cur != nil && !want.After(cur.ModTime()) {
			want = cur.ModTime().Add(bump)
		}
		if err := os.Chtimes(tmp.Name(), want, want); err != nil {
			return nil, err
		}
		fi, err := tmp.Stat()
		if err != nil {
			return nil, err
		}
		// Filesystems with coarse timestamps truncate; bump harder.
		if cur == nil || fi.ModTime().After(cur.ModTime()) {
			return fi, nil
		}
		want = cur.ModTime()
	}
	return nil, errors.New("filesystem timestamps too coarse to derive a new etag")
}

// mkdirs creates dir, a parent directory of key, and any missing parents
// below the root, fsyncing the parent of each directory it creates so the
// new entries are durable. A file on the way is a key conflict.
func (f *FS) mkdirs(key, dir string) error {
	if len(dir) <= len(f.root) {
		return nil
	}
	fi, err := os.Stat(dir)
	if err == nil {
		if fi.IsDir() {
			return nil
		}
		return keyConflict(key, f.keyOf(dir), "key exists at")
	}
	if !isMissing(err) {
		return err
	}
	parent := filepath.Dir(dir)
	if err := f.mkdirs(key, parent); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return err
		}
		// Lost a race: fine if it is a directory.
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return keyConflict(key, f.keyOf(dir), "key exists at")
		}
		return nil
	}
	return syncDir(parent)
}

// keyOf maps a path below the root back to a key.
func (f *FS) keyOf(path string) string {
	rel, err := filepath.Rel(f.root, path)
	if err != nil {
		return path
	}
	return filepath.ToSlash(rel)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Delete implements Bucket. It then removes parent directories that became
// empty, best-effort, never the root.
func (f *FS) Delete(ctx context.Context, key string) error {
	if err := f.begin(ctx, OpDelete, key); err != nil {
		return err
	}
	unlock, err := f.locks.lock(ctx, key)
	if err != nil {
		return fmt.Errorf("objstore: fs delete %q: %w", key, err)
	}
	defer unlock()
	path := f.path(key)
	err = unlink(path)
	if isMissing(err) || errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.EPERM) && isDir(path) {
		return nil // no such object; maybe a directory of deeper keys
	}
	if err != nil {
		return fmt.Errorf("objstore: fs delete %q: %w", key, err)
	}
	dir := filepath.Dir(path)
	// A racing Delete may already have pruned the emptied directory, and
	// the entry with it.
	if err := syncDir(dir); err != nil && !isMissing(err) {
		return fmt.Errorf("objstore: fs delete %q: %w", key, err)
	}
	// Prune empty directories. Removing one that still holds anything
	// fails, which ends the walk; a racing Put re-creates what it needs.
	for d := dir; len(d) > len(f.root); d = filepath.Dir(d) {
		if rmdir(d) != nil {
			break
		}
	}
	return nil
}

func isDir(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.IsDir()
}

// List implements Bucket. It walks only the directory the prefix names
// (up to its last '/'), visiting entries in key order rather than
// directory order, and stats each file for its Attrs. The walk is not a
// snapshot: objects put or deleted meanwhile may or may not appear.
func (f *FS) List(ctx context.Context, prefix, startAfter string) iter.Seq2[Attrs, error] {
	return func(yield func(Attrs, error) bool) {
		if err := validatePrefix(prefix); err != nil {
			yield(Attrs{}, fmt.Errorf("objstore: fs list: %w", err))
			return
		}
		w := fsWalk{f: f, ctx: ctx, prefix: prefix, startAfter: startAfter, yield: yield}
		w.dir(prefix[:strings.LastIndexByte(prefix, '/')+1])
	}
}

type fsWalk struct {
	f                  *FS
	ctx                context.Context
	prefix, startAfter string
	yield              func(Attrs, error) bool
}

// fsItem is one entry of a directory: a file, sorting as its key
// "rel/name", or a subdirectory, sorting as "rel/name/".
type fsItem struct {
	key string
	dir bool
}

// dir lists the key directory rel ("" or ending in '/') and reports
// whether the walk should go on.
func (w *fsWalk) dir(rel string) bool {
	if err := w.ctx.Err(); err != nil {
		w.yield(Attrs{}, fmt.Errorf("objstore: fs list %q: %w", w.prefix, err))
		return false
	}
	entries, err := os.ReadDir(filepath.Join(w.f.root, filepath.FromSlash(rel)))
	if isMissing(err) {
		return true // never existed, or pruned by a concurrent Delete
	}
	if err != nil {
		w.yield(Attrs{}, fmt.Errorf("objstore: fs list %q: %w", w.prefix, err))
		return false
	}
	// Sorting by the keys the entries stand for, not by name, puts
	// "a-c" before "a/b" before "a0": directory "a" sorts as "a/".
	items := make([]fsItem, 0, len(entries))
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ReservedSegmentPrefix) {
			continue
		}
		key := rel + name
		switch {
		case e.IsDir():
			if sub := key + "/"; w.wantDir(sub) {
				items = append(items, fsItem{key: sub, dir: true})
			}
		case e.Type().IsRegular():
			if strings.HasPrefix(key, w.prefix) && key > w.startAfter {
				items = append(items, fsItem{key: key})
			}
		}
	}
	slices.SortFunc(items, func(a, b fsItem) int { return strings.Compare(a.key, b.key) })
	for _, it := range items {
		if it.dir {
			if !w.dir(it.key) {
				return false
			}
			continue
		}
		if ValidateKey(it.key) != nil {
			continue // not ours: put there behind the bucket's back
		}
		fi, err := os.Lstat(w.f.path(it.key))
		if isMissing(err) || (err == nil && !fi.Mode().IsRegular()) {
			continue // deleted or replaced meanwhile
		}
		if err != nil {
			w.yield(Attrs{}, fmt.Errorf("objstore: fs list %q: %w", w.prefix, err))
			return false
		}
		if !w.yield(fsAttrs(it.key, fi), nil) {
			return false
		}
	}
	return true
}

// wantDir reports whether keys starting with sub (which ends in '/') can
// match the prefix and sort after startAfter.
func (w *fsWalk) wantDir(sub string) bool {
	if !strings.HasPrefix(sub, w.prefix) && !strings.HasPrefix(w.prefix, sub) {
		return false
	}
	// Every key below sub sorts before startAfter iff startAfter sorts
	// after sub without starting with it.
	return w.startAfter <= sub || strings.HasPrefix(w.startAfter, sub)
}

// stripe maps a key to its lock stripe.
func stripe(key string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return h.Sum32() % fsLockStripes
}

// Name implements Bucket.
func (f *FS) Name() string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(f.root)}).String()
}

// Close implements Bucket: it releases the lock files. Close is idempotent.
func (f *FS) Close() error { return f.locks.close() }
