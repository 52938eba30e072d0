// Package syncbuf provides a bytes.Buffer safe for concurrent writers, for
// capturing the logs and output of processes and servers in tests.
package syncbuf

import (
	"bytes"
	"sync"
)

// Buffer is an append-only buffer; Write and String may be called from
// any goroutine.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
