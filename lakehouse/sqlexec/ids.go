package sqlexec

import (
	"crypto/rand"
	"hash/fnv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/oklog/ulid/v2"
)

// idGenerator makes the values of the SNOWFLAKE_ID() default and of the
// hidden row id: 64-bit ids, increasing per process, unique across
// processes with distinct node ids. Layout (from the high bit): 0, 41 bits
// of milliseconds since snowflakeEpoch, 10 bits of node (a hash of the node
// id), 12 bits of sequence within the millisecond. When a millisecond's
// sequence is used up, or the clock goes back, it borrows from the next
// millisecond, so ids never repeat or decrease within a process.
type idGenerator struct {
	node  int64
	clock func() time.Time

	mu   sync.Mutex
	last int64 // last (ms << 12 | seq) handed out
}

// snowflakeEpoch is 2025-01-01T00:00:00Z: 41 bits of ms last until 2094.
var snowflakeEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func newIDGenerator(nodeID string, clock func() time.Time) *idGenerator {
	h := fnv.New32a()
	h.Write([]byte(nodeID))
	return &idGenerator{node: int64(h.Sum32() & 0x3ff), clock: clock}
}

// next returns a new id.
func (g *idGenerator) next() int64 {
	ms := g.clock().Sub(snowflakeEpoch).Milliseconds()
	g.mu.Lock()
	defer g.mu.Unlock()
	cur := ms << 12
	if cur <= g.last {
		cur = g.last + 1
	}
	g.last = cur
	msPart, seq := cur>>12, cur&0xfff
	return msPart<<22 | g.node<<12 | seq
}

// uuidV7 returns a new time-ordered UUID (RFC 9562 version 7).
func uuidV7() ([16]byte, error) {
	u, err := uuid.NewV7()
	return u, err
}

// newULID returns a new ULID in its canonical 26-character text form.
func newULID(now time.Time) (string, error) {
	id, err := ulid.New(ulid.Timestamp(now), rand.Reader)
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

func formatUUID(u [16]byte) string { return uuid.UUID(u).String() }
