package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/floedb/floe/lakehouse/access"
	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/password"
)

// fakeUsers is an in-memory user store with real password hashes.
type fakeUsers struct {
	mu     sync.Mutex
	users  map[string]access.User
	audits []string
	hook   func(string, time.Time)
}

func newFakeUsers(t *testing.T, users map[string]string) *fakeUsers {
	f := &fakeUsers{users: map[string]access.User{}}
	for id, pw := range users {
		h, err := password.Hash(pw)
		if err != nil {
			t.Fatal(err)
		}
		f.users[id] = access.User{ID: id, Role: access.RoleUser, PasswordHash: h}
	}
	return f
}

func (f *fakeUsers) Lookup(_ context.Context, id string) (access.User, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[id]
	return u, ok, nil
}

func (f *fakeUsers) Audit(_ context.Context, actor, _ access.Principal, action, target string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.audits = append(f.audits, actor.Label()+" "+action+" "+target)
}

func (f *fakeUsers) LookupID(ctx context.Context, id string) (access.User, bool, error) {
	return f.Lookup(ctx, id)
}

func (f *fakeUsers) OnChange(fn func(string, time.Time)) { f.hook = fn }

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newService(t *testing.T, users *fakeUsers, c *clock) *Service {
	s, err := New(users, Options{Secret: []byte(strings.Repeat("k", 32)), AccessTTL: 15 * time.Minute,
		RefreshTTL: 24 * time.Hour, MaxFailedLogins: 3, Lockout: 10 * time.Minute, Clock: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func wantUnauthenticated(t *testing.T, what string, err error) {
	t.Helper()
	if dberr.CodeOf(err) != dberr.Unauthenticated {
		t.Fatalf("%s: error %v, want UNAUTHENTICATED", what, err)
	}
}

func TestLoginVerifyRefresh(t *testing.T) {
	users := newFakeUsers(t, map[string]string{"alice": "alice-pass-1"})
	c := &clock{t: time.Now()}
	s := newService(t, users, c)
	ctx := context.Background()

	tok, err := s.Login(ctx, "alice", "alice-pass-1", "192.0.2.1:1234")
	if err != nil {
		t.Fatal(err)
	}
	if tok.User != "alice" || tok.Role != access.RoleUser || tok.ExpiresAt.Sub(c.t) != 15*time.Minute {
		t.Fatalf("tokens = %+v", tok)
	}
	id, err := s.Verify(ctx, tok.Access)
	if err != nil || id.User != "alice" || id.Role != access.RoleUser {
		t.Fatalf("Verify = %+v, %v", id, err)
	}
	_, err = s.Verify(ctx, tok.Refresh)
	wantUnauthenticated(t, "refresh token used as access token", err)
	_, err = s.Refresh(ctx, tok.Access)
	wantUnauthenticated(t, "access token used as refresh token", err)

	c.t = c.t.Add(16 * time.Minute)
	_, err = s.Verify(ctx, tok.Access)
	wantUnauthenticated(t, "expired access token", err)
	if !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired token message: %v", err)
	}
	tok2, err := s.Refresh(ctx, tok.Refresh)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if _, err := s.Verify(ctx, tok2.Access); err != nil {
		t.Fatalf("refreshed token: %v", err)
	}

	// A new password ends the session: refresh fails, and on this node
	// older access tokens are revoked at once.
	users.mu.Lock()
	u := users.users["alice"]
	u.PasswordHash, _ = password.Hash("alice-pass-2")
	u.TokenEpoch++ // as the user store does on a password change
	users.users["alice"] = u
	users.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	users.hook("alice", c.t)
	_, err = s.Refresh(ctx, tok2.Refresh)
	wantUnauthenticated(t, "refresh after password change", err)
	_, err = s.Verify(ctx, tok2.Access)
	wantUnauthenticated(t, "access token after revocation", err)
	tok3, err := s.Login(ctx, "alice", "alice-pass-2", "192.0.2.1:1234")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(ctx, tok3.Access); err != nil {
		t.Fatalf("token issued after the revocation: %v", err)
	}
}

func TestForgedTokensAreRefused(t *testing.T) {
	users := newFakeUsers(t, map[string]string{"alice": "alice-pass-1"})
	c := &clock{t: time.Now()}
	s := newService(t, users, c)
	ctx := context.Background()
	tok, err := s.Login(ctx, "alice", "alice-pass-1", "192.0.2.1:1234")
	if err != nil {
		t.Fatal(err)
	}
	claimsOf := func() claims {
		return claims{Role: "system", Type: typeAccess, IssuedMicros: c.t.UnixMicro(), RegisteredClaims: jwt.RegisteredClaims{
			Issuer: issuer, Subject: "alice", IssuedAt: jwt.NewNumericDate(c.t), ExpiresAt: jwt.NewNumericDate(c.t.Add(time.Hour))}}
	}
	otherKey, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claimsOf()).SignedString([]byte(strings.Repeat("x", 32)))
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claimsOf()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, claimsOf()).SignedString([]byte(strings.Repeat("k", 32)))

	// Tamper with the role claim of a genuine token, keeping its signature.
	parts := strings.Split(tok.Access, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	forged := strings.Replace(string(payload), `"role":"user"`, `"role":"system"`, 1)
	if forged == string(payload) {
		t.Fatalf("payload has no role claim: %s", payload)
	}
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + parts[2]

	for name, bad := range map[string]string{
		"empty": "", "garbage": "not.a.jwt", "signed with another key": otherKey, "alg none": none,
		"HS512": hs512, "tampered role": tampered, "truncated signature": tok.Access[:len(tok.Access)-3],
	} {
		_, err := s.Verify(ctx, bad)
		wantUnauthenticated(t, name, err)
	}
	// The genuine token still works.
	if id, err := s.Verify(ctx, tok.Access); err != nil || id.Role != access.RoleUser {
		t.Fatalf("genuine token: %+v %v", id, err)
	}
}

// TestFailedLoginsThrottlePerAddress: failed logins slow down only the
// address they come from, for that user, with exponential backoff; the
// owner's address still logs in with the right password; a throttled
// attempt answers RATE_LIMITED with when to retry, before any password
// is checked.
func TestFailedLoginsThrottlePerAddress(t *testing.T) {
	users := newFakeUsers(t, map[string]string{"alice": "alice-pass-1"})
	c := &clock{t: time.Now()}
	s := newService(t, users, c)
	ctx := context.Background()
	const stranger, owner = "203.0.113.9:40001", "198.51.100.7:50000"

	var msgs []string
	for range 3 { // MaxFailedLogins; the 3rd starts a 1s backoff
		_, err := s.Login(ctx, "alice", "wrong-password", stranger)
		wantUnauthenticated(t, "wrong password", err)
		msgs = append(msgs, err.Error())
	}
	// The 3rd failure started a 1s backoff: the stranger's next attempt,
	// even from another port, is refused before the password is checked.
	_, err := s.Login(ctx, "alice", "alice-pass-1", "203.0.113.9:40002")
	var de *dberr.Error
	if !errors.As(err, &de) || de.Code != dberr.RateLimited || !strings.Contains(de.Msg, "try again after") || !strings.Contains(de.Msg, "(in 1s)") {
		t.Fatalf("throttled attempt: %v", err)
	}
	// The owner, from its own address, is not slowed at all.
	if _, err := s.Login(ctx, "alice", "alice-pass-1", owner); err != nil {
		t.Fatalf("owner's login while a stranger is throttled: %v", err)
	}
	// Backoff doubles per failure: 1s, 2s, 4s, … capped at Lockout (10m).
	for i, want := range []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second} {
		c.t = c.t.Add(want / 2) // the previous wait has passed
		_, err := s.Login(ctx, "alice", "wrong-again", stranger)
		wantUnauthenticated(t, "failure after backoff", err)
		msgs = append(msgs, err.Error())
		_, err = s.Login(ctx, "alice", "wrong-again", stranger)
		if !errors.As(err, &de) || de.Code != dberr.RateLimited || !strings.Contains(de.Msg, "(in "+want.String()+")") {
			t.Fatalf("failure %d: want a %s wait, got %v", i+4, want, err)
		}
	}
	for range 20 { // each after the previous wait, which grows to the cap
		c.t = c.t.Add(10 * time.Minute)
		_, err := s.Login(ctx, "alice", "wrong-again", stranger)
		wantUnauthenticated(t, "failure at the cap", err)
	}
	if until, wait := s.throttle.wait("alice", stranger, c.t); !wait || until.Sub(c.t) != 10*time.Minute {
		t.Fatalf("backoff not capped at Lockout: until %v", until.Sub(c.t))
	}
	// Unknown users fail with the same message and are throttled alike.
	_, errUnknown := s.Login(ctx, "mallory", "whatever-pass", stranger)
	wantUnauthenticated(t, "unknown user", errUnknown)
	for _, m := range append(msgs, errUnknown.Error()) {
		if m != msgs[0] {
			t.Fatalf("failure messages differ: %q vs %q", m, msgs[0])
		}
		if strings.Contains(m, "wrong-password") || strings.Contains(m, "alice-pass") {
			t.Fatalf("message holds a password: %q", m)
		}
	}
	// After the wait the right password works from the stranger's address
	// too, and resets its failures.
	c.t = c.t.Add(11 * time.Minute)
	if _, err := s.Login(ctx, "alice", "alice-pass-1", stranger); err != nil {
		t.Fatalf("login after the backoff: %v", err)
	}
	if _, err := s.Login(ctx, "alice", "wrong-password", stranger); err != nil {
		wantUnauthenticated(t, "first failure after a success", err)
	}
	if _, err := s.Login(ctx, "alice", "alice-pass-1", stranger); err != nil {
		t.Fatalf("a success reset the failures, yet: %v", err)
	}
}

func TestBearerToken(t *testing.T) {
	for h, want := range map[string]string{"Bearer abc": "abc", "bearer  abc ": "abc"} {
		if got, err := BearerToken(h); err != nil || got != want {
			t.Errorf("BearerToken(%q) = %q, %v", h, got, err)
		}
	}
	for _, h := range []string{"", "Basic abc", "Bearer", "Bearer   ", "abc"} {
		_, err := BearerToken(h)
		wantUnauthenticated(t, "header "+h, err)
	}
}

func TestLoadOrCreateSecret(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "jwt-secret")
	a, err := LoadOrCreateSecret(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreateSecret(path)
	if err != nil || string(a) != string(b) || len(a) < 32 {
		t.Fatalf("second load = %q, %v; first %q", b, err, a)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode %v", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("left-over files: %v", entries)
	}
	if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateSecret(path); err == nil {
		t.Fatal("a short secret file was accepted")
	}
}

// TestConcurrentLoginsAndVerify exercises the throttle and the user cache
// from many goroutines (run with -race).
func TestConcurrentLoginsAndVerify(t *testing.T) {
	users := newFakeUsers(t, map[string]string{"alice": "alice-pass-1"})
	s := newService(t, users, &clock{t: time.Now()})
	ctx := context.Background()
	tok, err := s.Login(ctx, "alice", "alice-pass-1", "192.0.2.1:1")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 20 {
				if _, err := s.Verify(ctx, tok.Access); err != nil {
					t.Errorf("verify: %v", err)
					return
				}
				if j == 0 {
					_, _ = s.Login(ctx, "alice", "wrong-password", fmt.Sprintf("192.0.2.%d:1", 10+i))
					users.hook("alice", time.Now()) // a change on this process: the cache entry goes
				}
			}
		})
	}
	wg.Wait()
}

// countingUsers counts the user lookups verification makes.
type countingUsers struct {
	*fakeUsers
	lookups int
}

func (c *countingUsers) LookupID(ctx context.Context, id string) (access.User, bool, error) {
	c.lookups++
	return c.fakeUsers.LookupID(ctx, id)
}

// Verification is cached per token and per user, and a revocation made
// by another process (no change callback here) is still seen within
// UserCacheTTL: until then the cached user row answers without a lookup;
// after it the row is read again and the revoked token is refused.
func TestRevocationElsewhereSeenWithinUserCacheTTL(t *testing.T) {
	users := &countingUsers{fakeUsers: newFakeUsers(t, map[string]string{"alice": "alice-pass-1"})}
	c := &clock{t: time.Now()}
	s, err := New(users, Options{Secret: []byte(strings.Repeat("k", 32)), AccessTTL: 15 * time.Minute,
		RefreshTTL: 24 * time.Hour, MaxFailedLogins: 3, Clock: c.now, UserCacheTTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tok, err := s.Login(ctx, "alice", "alice-pass-1", "192.0.2.1:1234")
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if _, err := s.Verify(ctx, tok.Access); err != nil {
			t.Fatal(err)
		}
	}
	if users.lookups != 1 {
		t.Fatalf("100 verifications within UserCacheTTL read the user %d times, want 1", users.lookups)
	}
	// Another process revokes alice's tokens: the epoch moves in the
	// store, this Service hears nothing.
	users.mu.Lock()
	u := users.users["alice"]
	u.TokenEpoch++
	users.users["alice"] = u
	users.mu.Unlock()
	c.t = c.t.Add(999 * time.Millisecond)
	if _, err := s.Verify(ctx, tok.Access); err != nil {
		t.Fatalf("within UserCacheTTL the cached row still answers: %v", err)
	}
	c.t = c.t.Add(time.Millisecond)
	_, err = s.Verify(ctx, tok.Access)
	wantUnauthenticated(t, "a token revoked elsewhere, UserCacheTTL later", err)
	if !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("message: %v", err)
	}
}
