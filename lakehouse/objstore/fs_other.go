//go:build !unix

package objstore

import (
	"context"
	"errors"
	"io/fs"
	"os"
)

// The FS backend needs flock and POSIX rename semantics. On other systems
// NewFS fails when it sets up locking.

type fsLocks struct{}

func newFSLocks(string) (*fsLocks, error) {
	return nil, errors.New("fs backend requires a unix system")
}

func (*fsLocks) lock(context.Context, string) (func(), error) {
	return nil, errors.ErrUnsupported
}

func (*fsLocks) close() error { return nil }

func fileID(fs.FileInfo) uint64 { return 0 }

func rmdir(dir string) error { return os.Remove(dir) }

func unlink(path string) error { return os.Remove(path) }
