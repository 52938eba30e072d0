package password

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestHashAndCheck(t *testing.T) {
	h, err := Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(h, "correct horse") || !strings.HasPrefix(h, "$2a$10$") {
		t.Fatalf("hash %q is not a cost-10 bcrypt hash", h)
	}
	if err := Check(h, "correct horse"); err != nil {
		t.Fatalf("Check(right) = %v", err)
	}
	if err := Check(h, "correct horsf"); !errors.Is(err, ErrMismatch) {
		t.Fatalf("Check(wrong) = %v, want ErrMismatch", err)
	}
	if err := Check("not-a-hash", "x"); err == nil || errors.Is(err, ErrMismatch) {
		t.Fatalf("Check(malformed hash) = %v, want a non-mismatch error", err)
	}
	h2, _ := Hash("correct horse")
	if h2 == h {
		t.Fatal("two hashes of one password are equal: no salt")
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		p   string
		bad string
	}{
		{"pw-1", "too short"},
		{"1234567", "too short"},
		{"12345678", ""},
		{"ääääääää", ""}, // 8 characters, 16 bytes
		{strings.Repeat("x", 72), ""},
		{strings.Repeat("x", 73), "too long"},
		{"abc\xffdefgh", "UTF-8"},
	} {
		err := Validate(tc.p)
		if tc.bad == "" {
			if err != nil {
				t.Errorf("Validate(%q) = %v", tc.p, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.bad) {
			t.Errorf("Validate(%q) = %v, want %q", tc.p, err, tc.bad)
		}
		if err != nil && len(tc.p) > 3 && strings.Contains(err.Error(), tc.p) {
			t.Errorf("Validate error quotes the password: %v", err)
		}
	}
}

// TestDummyHashCost: the constant hash Burn compares against costs what a
// real check costs, and is a valid hash (so Burn does the full work).
func TestDummyHashCost(t *testing.T) {
	c, err := bcrypt.Cost([]byte(dummyHash))
	if err != nil || c != Cost {
		t.Fatalf("dummy hash cost = %d, %v; want %d", c, err, Cost)
	}
}
