//go:build !unix

package datadir

import (
	"errors"
	"os"
)

var errWouldBlock = errors.New("datadir: lock held")

// tryLock is not available: Floe's node needs a unix system (flock).
func tryLock(*os.File) error {
	return errors.New("datadir: locking a data dir needs a unix system")
}
