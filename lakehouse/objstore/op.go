package objstore

import "fmt"

// Operation names, as used by Faulty and in error messages. They are untyped
// string constants so they can be passed wherever an op string is expected.
const (
	OpGet        = "get"
	OpGetRange   = "get_range"
	OpAttributes = "attributes"
	OpPut        = "put"
	OpDelete     = "delete"
	OpList       = "list"
)

// checkRange validates a GetRange request against an object of size bytes
// and returns how many bytes to read, following Bucket.GetRange: a negative
// offset, an offset at or past the end of a non-empty object, or a non-zero
// offset into an empty object is invalid; a length past the end is truncated.
func checkRange(key string, size, off, length int64) (int64, error) {
	if off < 0 || (size > 0 && off >= size) || (size == 0 && off > 0) {
		return 0, fmt.Errorf("%w %q: offset %d, length %d, size %d", ErrInvalidRange, key, off, length, size)
	}
	n := size - off
	if length >= 0 && length < n {
		n = length
	}
	return n, nil
}
