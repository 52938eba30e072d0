package objstore

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxKeyLen is the longest key, in bytes, that ValidateKey accepts. It
// matches S3's limit; a bucket that stores keys under a prefix (S3Config.Prefix,
// NewPrefixed) leaves correspondingly less room.
const MaxKeyLen = 1024

// ReservedSegmentPrefix starts every file and directory name that a backend
// keeps for itself (temporary files, lock files, object data). No key
// segment may start with it.
const ReservedSegmentPrefix = ".floe"

// ValidateKey reports whether key is acceptable to every backend. A valid key
//
//   - is not empty and at most MaxKeyLen bytes long;
//   - is valid UTF-8 without NUL, control characters or backslashes;
//   - neither starts nor ends with '/' and has no empty segment ("a//b");
//   - has no "." or ".." segment;
//   - has no segment starting with ReservedSegmentPrefix (".floe").
//
// These rules keep keys portable: the same key means the same object on a
// local filesystem (where it becomes a path) and on S3. The error wraps
// ErrInvalidKey and names the key and the rule it breaks.
func ValidateKey(key string) error {
	if rule := keyRule(key); rule != "" {
		return invalidKey(key, rule)
	}
	return nil
}

func keyRule(key string) string {
	switch {
	case key == "":
		return "empty"
	case len(key) > MaxKeyLen:
		return fmt.Sprintf("longer than %d bytes", MaxKeyLen)
	case key[0] == '/':
		return "leading '/'"
	case key[len(key)-1] == '/':
		return "trailing '/'"
	}
	if rule := charRule(key); rule != "" {
		return rule
	}
	for seg := range strings.SplitSeq(key, "/") {
		if rule := segmentRule(seg); rule != "" {
			return rule
		}
	}
	return ""
}

// charRule checks the characters of a key or prefix.
func charRule(s string) string {
	if !utf8.ValidString(s) {
		return "not valid UTF-8"
	}
	for _, r := range s {
		switch {
		case r == 0:
			return "contains NUL"
		case r == '\\':
			return "contains a backslash"
		case unicode.IsControl(r):
			return "contains a control character"
		}
	}
	return ""
}

// segmentRule checks one complete '/'-separated segment.
func segmentRule(seg string) string {
	switch {
	case seg == "":
		return "empty segment"
	case seg == "." || seg == "..":
		return fmt.Sprintf("%q segment", seg)
	case strings.HasPrefix(seg, ReservedSegmentPrefix):
		return fmt.Sprintf("segment starts with reserved %q", ReservedSegmentPrefix)
	}
	return ""
}

// validatePrefix checks a List prefix. Prefixes are validated loosely: they
// may be empty or end in '/', and the last, incomplete segment may be
// anything a key segment could start with. Every complete segment must be
// valid, so a prefix can never reach outside the bucket.
func validatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	rule := ""
	switch {
	case len(prefix) > MaxKeyLen:
		rule = fmt.Sprintf("longer than %d bytes", MaxKeyLen)
	case prefix[0] == '/':
		rule = "leading '/'"
	default:
		rule = charRule(prefix)
	}
	if rule == "" {
		if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
			for seg := range strings.SplitSeq(prefix[:i], "/") {
				if rule = segmentRule(seg); rule != "" {
					break
				}
			}
		}
	}
	if rule != "" {
		return fmt.Errorf("%w: prefix %q: %s", ErrInvalidKey, shortKey(prefix), rule)
	}
	return nil
}

// keyConflict reports a key that a path-based store cannot hold because it
// would need a directory where an object is, or the reverse.
func keyConflict(key, other, why string) error {
	return invalidKey(key, fmt.Sprintf("%s %q (a key cannot be a path prefix of another key)", why, other))
}

func invalidKey(key, rule string) error {
	return fmt.Errorf("%w %q: %s", ErrInvalidKey, shortKey(key), rule)
}

// shortKey keeps error messages readable when a key is absurdly long.
func shortKey(key string) string {
	const keep = 128
	if len(key) <= keep {
		return key
	}
	return key[:keep] + "..."
}

// joinKey joins a bucket-level prefix (no trailing '/') and a key.
func joinKey(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "/" + key
}
