package objstore

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestValidateKey(t *testing.T) {
	long := strings.Repeat("k", MaxKeyLen)
	tests := []struct {
		key  string
		rule string // "" = valid
	}{
		{"a", ""},
		{"a/b/c.parquet", ""},
		{"tables/t1/v00000001.json", ""},
		{"a..b/c.", ""},
		{".hidden/x", ""},
		{"a/.floX", ""},
		{"sp ace/é/日本", ""},
		{long, ""},
		{"", "empty"},
		{long + "k", "longer than 1024 bytes"},
		{"/a", "leading '/'"},
		{"a/", "trailing '/'"},
		{"/", "leading '/'"},
		{"a//b", "empty segment"},
		{".", `"." segment`},
		{"a/./b", `"." segment`},
		{"..", `".." segment`},
		{"a/../b", `".." segment`},
		{".floe", `reserved ".floe"`},
		{"a/.floe-tmp/b", `reserved ".floe"`},
		{"a/.floe", `reserved ".floe"`},
		{"a\x00b", "NUL"},
		{"a\tb", "control character"},
		{"a\x7f", "control character"},
		{"a\u0085b", "control character"},
		{`a\b`, "backslash"},
		{"a\xffb", "not valid UTF-8"},
	}
	for _, tc := range tests {
		err := ValidateKey(tc.key)
		if tc.rule == "" {
			if err != nil {
				t.Errorf("ValidateKey(%q) = %v, want nil", shortKey(tc.key), err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ValidateKey(%q) = %v, want ErrInvalidKey", shortKey(tc.key), err)
			continue
		}
		if !strings.Contains(err.Error(), tc.rule) {
			t.Errorf("ValidateKey(%q) = %q, want the rule %q", shortKey(tc.key), err, tc.rule)
		}
		if !strings.Contains(err.Error(), strconv.Quote(shortKey(tc.key))) {
			t.Errorf("ValidateKey(%q) = %q does not name the key", shortKey(tc.key), err)
		}
	}
}

func TestValidatePrefix(t *testing.T) {
	valid := []string{"", "a", "a/", "a/b", "a/b/", "a/..", "a/.", "a/.floe", "..x", "a/b c"}
	for _, p := range valid {
		if err := validatePrefix(p); err != nil {
			t.Errorf("validatePrefix(%q) = %v, want nil", p, err)
		}
	}
	invalid := []string{"/", "/a", "../", "a/../", "./", "a//", "a/./b", ".floe-tmp/", "a\x00", "a\nb", `a\`, "\xff", strings.Repeat("p", MaxKeyLen+1)}
	for _, p := range invalid {
		if err := validatePrefix(p); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("validatePrefix(%q) = %v, want ErrInvalidKey", shortKey(p), err)
		}
	}
}

func TestCheckRange(t *testing.T) {
	tests := []struct {
		size, off, length, want int64
		bad                     bool
	}{
		{10, 0, -1, 10, false},
		{10, 0, 100, 10, false},
		{10, 3, 4, 4, false},
		{10, 9, -1, 1, false},
		{10, 5, 0, 0, false},
		{10, 10, -1, 0, true},
		{10, -1, 1, 0, true},
		{0, 0, -1, 0, false},
		{0, 0, 7, 0, false},
		{0, 1, -1, 0, true},
	}
	for _, tc := range tests {
		n, err := checkRange("k", tc.size, tc.off, tc.length)
		if tc.bad != errors.Is(err, ErrInvalidRange) || (!tc.bad && (err != nil || n != tc.want)) {
			t.Errorf("checkRange(size %d, off %d, len %d) = %d, %v; want %d, bad=%t", tc.size, tc.off, tc.length, n, err, tc.want, tc.bad)
		}
	}
}
