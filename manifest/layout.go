package manifest

import (
	"fmt"
	"strconv"
	"strings"
)

// Object key layout. All prefixes end in '/', so they can be passed to
// Bucket.List as they are.
//
//	catalog/v/00000000000000000001.json     catalog version 1
//	catalog/latest                          hint: a recent catalog version
//	tables/<id>/shared/v/<20 digits>.json   partition "" of table <id>
//	tables/<id>/shared/latest               its hint
//	tables/<id>/shared/seg/…                its segment objects
//	tables/<id>/u-<escaped user>/…          partition <user>, same layout
const (
	// CatalogPrefix holds the catalog log.
	CatalogPrefix = "catalog/"
	// TablesPrefix holds one folder per table ID.
	TablesPrefix = "tables/"

	versionsDir    = "v/"
	hintName       = "latest"
	segmentsDir    = "seg/"
	sharedDir      = "shared"
	userDirPrefix  = "u-"
	versionDigits  = 20 // len of math.MaxUint64 in base 10
	versionKeyExt  = ".json"
	versionNameLen = versionDigits + len(versionKeyExt)
)

// TablePrefix returns the prefix of every object of a table:
// "tables/<tableID>/". The ID should pass ValidateTableID.
func TablePrefix(tableID string) string {
	return TablesPrefix + tableID + "/"
}

// PartitionDir returns the folder name of a partition within its table's
// folder: "shared" for the partition "" (SHARED and SYSTEM tables) and
// "u-" + EscapePartition(partition) for a user's partition.
func PartitionDir(partition string) string {
	if partition == "" {
		return sharedDir
	}
	return userDirPrefix + EscapePartition(partition)
}

// ParsePartitionDir is the inverse of PartitionDir.
func ParsePartitionDir(dir string) (string, error) {
	if dir == sharedDir {
		return "", nil
	}
	esc, ok := strings.CutPrefix(dir, userDirPrefix)
	if !ok || esc == "" {
		return "", fmt.Errorf("%w: %q is not a partition folder name", ErrInvalid, dir)
	}
	return UnescapePartition(esc)
}

// PartitionPrefix returns the prefix of every object of one partition:
// "tables/<tableID>/<PartitionDir(partition)>/".
func PartitionPrefix(tableID, partition string) string {
	return TablePrefix(tableID) + PartitionDir(partition) + "/"
}

// SegmentPrefix returns the prefix under which a partition's segment objects
// are kept: PartitionPrefix(tableID, partition) + "seg/". Garbage collection
// of a partition lists this prefix.
func SegmentPrefix(tableID, partition string) string {
	return PartitionPrefix(tableID, partition) + segmentsDir
}

// EscapePartition maps a partition key to a string of only the key-safe
// characters a-z, 0-9, '.', '_', '~', '-' and %XX escapes (upper-case hex).
// Every other byte, upper-case letters included, is escaped: two distinct
// keys never map to names that differ only in letter case, so partitions
// stay apart on case-insensitive file systems too. The mapping is
// reversible (UnescapePartition) and injective.
func EscapePartition(p string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if safeByte(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// UnescapePartition is the inverse of EscapePartition. It accepts only what
// EscapePartition produces, so every partition has exactly one folder name.
func UnescapePartition(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case safeByte(c):
			b.WriteByte(c)
		case c == '%' && i+2 < len(s) && isUpperHex(s[i+1]) && isUpperHex(s[i+2]):
			v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if safeByte(byte(v)) {
				return "", fmt.Errorf("%w: escaped partition %q escapes %q, which is never escaped", ErrInvalid, s, s[i:i+3])
			}
			b.WriteByte(byte(v))
			i += 2
		default:
			return "", fmt.Errorf("%w: escaped partition %q has an invalid character at offset %d", ErrInvalid, s, i)
		}
	}
	return b.String(), nil
}

// safeByte reports whether EscapePartition keeps c as it is.
func safeByte(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '~' || c == '-'
}

func isUpperHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')
}

// versionKey returns "<prefix>v/<20-digit version>.json".
func versionKey(prefix string, v uint64) string {
	return fmt.Sprintf("%s%s%0*d%s", prefix, versionsDir, versionDigits, v, versionKeyExt)
}

// parseVersionKey is the inverse of versionKey for keys under prefix+"v/".
func parseVersionKey(versionsPrefix, key string) (uint64, bool) {
	name, ok := strings.CutPrefix(key, versionsPrefix)
	if !ok || len(name) != versionNameLen || !strings.HasSuffix(name, versionKeyExt) {
		return 0, false
	}
	digits := name[:versionDigits]
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || v == 0 {
		return 0, false
	}
	return v, true
}
