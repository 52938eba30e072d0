package admission

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// ReadRSS returns the process's resident set size in bytes, from
// /proc/self/statm (Linux). Elsewhere it returns an error, and the memory
// guard stays off.
func ReadRSS() (int64, error) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, fmt.Errorf("admission: read memory use: %w", err)
	}
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0, errors.New("admission: /proc/self/statm has no resident field")
	}
	pages, err := strconv.ParseInt(string(f[1]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("admission: /proc/self/statm: %w", err)
	}
	return pages * int64(os.Getpagesize()), nil
}
