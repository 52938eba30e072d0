// Package password hashes and checks user passwords with bcrypt and holds
// Floe's password policy.
//
// Invariant: a password is never stored, logged or returned; only its
// bcrypt hash is kept (system.users.password_hash), and that column never
// leaves the engine through SQL.
package password

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// Policy limits.
const (
	// MinLength is the shortest accepted password, in characters.
	MinLength = 8
	// MaxBytes is bcrypt's input limit; longer passwords are refused
	// rather than silently truncated.
	MaxBytes = 72
)

// Cost is the bcrypt cost of new hashes (2^Cost rounds, about 50 ms on
// the reference machine).
const Cost = 10

// ErrMismatch is returned by Check for a wrong password.
var ErrMismatch = errors.New("password: mismatch")

// Validate reports why p is not an acceptable password, or nil. The
// message never contains the password.
func Validate(p string) error {
	switch {
	case !utf8.ValidString(p):
		return errors.New("the password is not valid UTF-8")
	case utf8.RuneCountInString(p) < MinLength:
		return fmt.Errorf("the password is too short: use at least %d characters", MinLength)
	case len(p) > MaxBytes:
		return fmt.Errorf("the password is too long: use at most %d bytes", MaxBytes)
	}
	return nil
}

// Hash validates p and returns its bcrypt hash.
func Hash(p string) (string, error) {
	if err := Validate(p); err != nil {
		return "", err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(p), Cost)
	if err != nil {
		return "", fmt.Errorf("password: hash: %w", err)
	}
	return string(h), nil
}

// Check compares p with hash in constant time. It returns ErrMismatch for
// a wrong password and another error for a malformed hash.
func Check(hash, p string) error {
	err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(p))
	if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
		return ErrMismatch
	}
	if err != nil {
		return fmt.Errorf("password: check: %w", err)
	}
	return nil
}

// dummyHash is compared against when a user does not exist, so that a
// login for an unknown user costs as much as one with a wrong password.
// It is a constant (a hash at Cost of a password no one is told), so no
// process pays a bcrypt hash when it starts; TestDummyHashCost keeps its
// cost equal to Cost.
const dummyHash = "$2a$10$ZUX.AocPY/CqXEMv2BkmLuMrx5gIDVzkgVfounWSQzJsWF./SiyvS"

// Burn spends the time of one Check, for logins of unknown users.
func Burn(p string) {
	_ = bcrypt.CompareHashAndPassword([]byte(dummyHash), []byte(p))
}
