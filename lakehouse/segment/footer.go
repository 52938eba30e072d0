package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Parquet's footer is a Thrift (compact protocol) FileMetaData followed by
// its 4-byte little-endian length and the magic "PAR1". parquet-go trusts
// the sizes it decodes there: a damaged footer length or list size makes it
// allocate up to gigabytes — fatal, not a recoverable panic. readFooter
// therefore checks the footer's shape before parquet-go sees it: the length
// fits the file, and every list, map and string inside the Thrift structure
// fits in the bytes that remain (each element takes at least one byte).

// Compact protocol type codes.
const (
	ctBoolTrue  = 1
	ctBoolFalse = 2
	ctByte      = 3
	ctI16       = 4
	ctI32       = 5
	ctI64       = 6
	ctDouble    = 7
	ctBinary    = 8
	ctList      = 9
	ctSet       = 10
	ctMap       = 11
	ctStruct    = 12
	ctUUID      = 13
)

// maxThriftDepth bounds struct nesting; FileMetaData nests about 6 deep.
const maxThriftDepth = 32

// magic is the Parquet file magic at both ends of the file.
const magic = "PAR1"

// readFooter reads and checks the footer of a Parquet file of size bytes
// and returns where it starts. Errors wrap ErrCorrupt or an I/O error of r.
func readFooter(r io.ReaderAt, size int64) (start int64, err error) {
	if size < int64(2*len(magic)+4) {
		return 0, fmt.Errorf("%w: %d bytes is too small for a Parquet file", ErrCorrupt, size)
	}
	var head [4]byte
	if err := readFull(r, head[:], 0); err != nil {
		return 0, err
	}
	if string(head[:]) != magic {
		return 0, fmt.Errorf("%w: no Parquet magic at the start", ErrCorrupt)
	}
	var tail [8]byte
	if err := readFull(r, tail[:], size-8); err != nil {
		return 0, err
	}
	if string(tail[4:]) != magic {
		return 0, fmt.Errorf("%w: no Parquet magic at the end (truncated?)", ErrCorrupt)
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if n == 0 || n > size-int64(2*len(magic)+4) {
		return 0, fmt.Errorf("%w: footer length %d does not fit a file of %d bytes", ErrCorrupt, n, size)
	}
	start = size - 8 - n
	footer := make([]byte, n)
	if err := readFull(r, footer, start); err != nil {
		return 0, err
	}
	c := compactChecker{b: footer}
	if err := c.structure(0); err != nil {
		return 0, fmt.Errorf("%w: footer: %v", ErrCorrupt, err)
	}
	if len(c.b) != 0 {
		return 0, fmt.Errorf("%w: footer: %d bytes after the metadata", ErrCorrupt, len(c.b))
	}
	return start, nil
}

func readFull(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: short read at offset %d", ErrCorrupt, off)
	}
	return err
}

// compactChecker walks a Thrift compact-protocol value without building it.
type compactChecker struct{ b []byte }

var errThriftShort = errors.New("truncated Thrift data")

func (c *compactChecker) byte() (byte, error) {
	if len(c.b) == 0 {
		return 0, errThriftShort
	}
	x := c.b[0]
	c.b = c.b[1:]
	return x, nil
}

func (c *compactChecker) skip(n uint64) error {
	if n > uint64(len(c.b)) {
		return fmt.Errorf("a %d-byte value exceeds the %d bytes left", n, len(c.b))
	}
	c.b = c.b[n:]
	return nil
}

func (c *compactChecker) uvarint() (uint64, error) {
	v, n := binary.Uvarint(c.b)
	if n <= 0 {
		return 0, errors.New("bad varint")
	}
	c.b = c.b[n:]
	return v, nil
}

// count reads a collection size and checks that many elements of at least
// per bytes each can fit.
func (c *compactChecker) count(n uint64, per uint64) error {
	if n > uint64(len(c.b))/per {
		return fmt.Errorf("a collection of %d elements exceeds the %d bytes left", n, len(c.b))
	}
	return nil
}

func (c *compactChecker) structure(depth int) error {
	if depth > maxThriftDepth {
		return errors.New("structures nested too deep")
	}
	for {
		h, err := c.byte()
		if err != nil {
			return err
		}
		if h == 0 { // stop
			return nil
		}
		if h>>4 == 0 { // long form: the field id follows as a zigzag varint
			if _, err := c.uvarint(); err != nil {
				return err
			}
		}
		switch t := h & 0x0f; t {
		case ctBoolTrue, ctBoolFalse: // the value is in the type
		default:
			if err := c.value(t, depth); err != nil {
				return err
			}
		}
	}
}

func (c *compactChecker) value(t byte, depth int) error {
	switch t {
	case ctBoolTrue, ctBoolFalse, ctByte:
		return c.skip(1)
	case ctI16, ctI32, ctI64:
		_, err := c.uvarint()
		return err
	case ctDouble:
		return c.skip(8)
	case ctUUID:
		return c.skip(16)
	case ctBinary:
		n, err := c.uvarint()
		if err != nil {
			return err
		}
		return c.skip(n)
	case ctList, ctSet:
		h, err := c.byte()
		if err != nil {
			return err
		}
		n, et := uint64(h>>4), h&0x0f
		if n == 15 {
			if n, err = c.uvarint(); err != nil {
				return err
			}
		}
		if err := c.count(n, 1); err != nil {
			return err
		}
		for range n {
			if err := c.value(et, depth+1); err != nil {
				return err
			}
		}
		return nil
	case ctMap:
		n, err := c.uvarint()
		if err != nil || n == 0 {
			return err
		}
		kv, err := c.byte()
		if err != nil {
			return err
		}
		if err := c.count(n, 2); err != nil {
			return err
		}
		for range n {
			if err := c.value(kv>>4, depth+1); err != nil {
				return err
			}
			if err := c.value(kv&0x0f, depth+1); err != nil {
				return err
			}
		}
		return nil
	case ctStruct:
		return c.structure(depth + 1)
	}
	return fmt.Errorf("unknown Thrift type %d", t)
}
