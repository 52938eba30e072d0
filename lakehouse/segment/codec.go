package segment

import (
	"math/bits"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go/format"
)

// zstdCodec is the zstd page codec of one Write. parquet-go's shared
// parquet.Zstd pools encoders with zstd's default 8 MiB window, whose
// history buffers take 32 MiB of heap; pages are compressed one at a time
// and are about PageBufferBytes long, so a window of that size loses
// nothing and keeps the encoder at about 1 MiB. The encoder is created on
// first use and belongs to one writer.
type zstdCodec struct {
	window int
	mu     sync.Mutex // parquet-go's Codec contract: safe for concurrent use
	enc    *zstd.Encoder
	dec    *zstd.Decoder
}

func newZstdCodec(pageBytes int) *zstdCodec {
	// A power of two between 64 KiB and 8 MiB, at least the page size.
	w := 1 << bits.Len(uint(max(pageBytes, 64<<10)-1))
	return &zstdCodec{window: min(w, 8<<20)}
}

func (c *zstdCodec) String() string { return "ZSTD" }

func (c *zstdCodec) CompressionCodec() format.CompressionCodec { return format.Zstd }

func (c *zstdCodec) Encode(dst, src []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.enc == nil {
		enc, err := zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedDefault),
			zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(c.window),
			zstd.WithZeroFrames(true),
			zstd.WithEncoderCRC(false),
		)
		if err != nil {
			return nil, err
		}
		c.enc = enc
	}
	return c.enc.EncodeAll(src, dst[:0]), nil
}

func (c *zstdCodec) Decode(dst, src []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dec == nil {
		dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, err
		}
		c.dec = dec
	}
	return c.dec.DecodeAll(src, dst[:0])
}

// close releases the encoder's and decoder's resources.
func (c *zstdCodec) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.enc != nil {
		c.enc.Close()
		c.enc = nil
	}
	if c.dec != nil {
		c.dec.Close()
		c.dec = nil
	}
}
