//go:build unix

package objstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// fsLocks serialises writers of a key across goroutines and processes.
// Each stripe pairs a channel semaphore (one goroutine per process at a
// time, cancellable) with an flock on the stripe's file (one process at a
// time). flock alone would not do: locks belong to the open file, which
// all goroutines of a process share.
//
// Lock files are created on first use and never removed: unlinking a
// lock file would let a waiter lock an orphaned inode.
type fsLocks struct {
	dir     string
	stripes [fsLockStripes]fsLockStripe
}

type fsLockStripe struct {
	sem chan struct{} // holds one token; taking it guards f
	f   *os.File      // opened lazily; nil after close
}

func newFSLocks(dir string) (*fsLocks, error) {
	l := &fsLocks{dir: dir}
	for i := range l.stripes {
		l.stripes[i].sem = make(chan struct{}, 1)
		l.stripes[i].sem <- struct{}{}
	}
	return l, nil
}

// lock blocks until the caller holds key's stripe or ctx is done. The
// returned func releases it.
func (l *fsLocks) lock(ctx context.Context, key string) (func(), error) {
	n := stripe(key)
	s := &l.stripes[n]
	select {
	case <-s.sem:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	release := func() { s.sem <- struct{}{} }
	if s.f == nil {
		f, err := os.OpenFile(filepath.Join(l.dir, fmt.Sprintf("%02d", n)), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			release()
			return nil, err
		}
		s.f = f
	}
	if err := flockWait(ctx, s.f); err != nil {
		release()
		return nil, err
	}
	return func() {
		_ = flock(s.f, syscall.LOCK_UN)
		release()
	}, nil
}

// flockWait polls a non-blocking flock so that ctx can interrupt the wait;
// a blocking flock cannot be cancelled. Critical sections are short (a
// stat, a rename and an fsync), so the poll interval starts small.
func flockWait(ctx context.Context, f *os.File) error {
	delay := 50 * time.Microsecond
	for {
		err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		delay = min(2*delay, 5*time.Millisecond)
	}
}

func flock(f *os.File, how int) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		for {
			ferr = syscall.Flock(int(fd), how)
			if ferr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if ferr != nil {
		return fmt.Errorf("flock %s: %w", f.Name(), ferr)
	}
	return nil
}

func (l *fsLocks) close() error {
	var errs []error
	for i := range l.stripes {
		s := &l.stripes[i]
		<-s.sem
		if s.f != nil {
			errs = append(errs, s.f.Close())
			s.f = nil
		}
		s.sem <- struct{}{}
	}
	return errors.Join(errs...)
}

// fileID is the inode number, part of the FS ETag.
func fileID(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}

func rmdir(dir string) error { return syscall.Rmdir(dir) }

func unlink(path string) error { return syscall.Unlink(path) }
