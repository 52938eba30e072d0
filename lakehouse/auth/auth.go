// Package auth logs users in and checks their access tokens.
//
// Tokens are HS256 JWTs signed with one secret per warehouse. An access
// token (short lived) authenticates every API call; a refresh token
// (long lived) buys a new access token. Both carry the user's immutable id
// (sub), name, role and token epoch. Verification checks the epoch and
// role against the user's row in system.users (kept for UserCacheTTL), so
// a dropped user, a new password, a new role or ALTER USER … REVOKE
// TOKENS — each of which moves the epoch and is durable before it is
// acknowledged — voids older tokens on every process that verifies them,
// after restarts too: at once on the process where the change ran, within
// UserCacheTTL elsewhere.
//
// Invariants: passwords are only ever compared with their bcrypt hash
// (lakehouse/password); nothing in this package logs or returns a
// password or a token; a failed login answers the same message whether
// the user exists, the password is wrong or the user is locked out.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/floedb/floe/lakehouse/access"
	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/password"
)

// Options configure a Service.
type Options struct {
	// Secret signs tokens; at least 32 bytes.
	Secret []byte
	// AccessTTL and RefreshTTL are token lifetimes.
	AccessTTL, RefreshTTL time.Duration
	// MaxFailedLogins in a row lock a user out for Lockout.
	MaxFailedLogins int
	Lockout         time.Duration
	// Clock returns the current time; default time.Now.
	Clock func() time.Time
	// Logger receives security events (never secrets).
	Logger *slog.Logger
	// UserCacheTTL is how long a user's epoch, role and state read from
	// system.users are trusted when verifying tokens: the bound on how
	// late another process sees a revocation. Default: DefaultUserCacheTTL.
	UserCacheTTL time.Duration
}

// DefaultUserCacheTTL is the default of Options.UserCacheTTL.
const DefaultUserCacheTTL = time.Second

// Users is what the Service needs of the user store (access.Store).
type Users interface {
	Lookup(ctx context.Context, name string) (access.User, bool, error)
	LookupID(ctx context.Context, id string) (access.User, bool, error)
	Update(ctx context.Context, name string, fn func(u *access.User) error) error
	Audit(ctx context.Context, actor, subject access.Principal, action, target string)
	OnChange(fn func(userID string, at time.Time))
}

// Service issues and verifies tokens. It is safe for concurrent use.
type Service struct {
	users Users
	opts  Options

	mu       sync.Mutex
	tokens   map[string]*claims    // verified tokens (see verified)
	accounts map[string]cachedUser // by user id, for UserCacheTTL
}

// cachedUser is what verification needs of a user's row.
type cachedUser struct {
	found   bool
	active  bool
	role    access.Role
	epoch   int64
	fetched time.Time
}

// Identity is an authenticated caller.
type Identity struct {
	// User is the login name; UserID the immutable id (the partition of
	// the user's rows).
	User      string
	UserID    string
	Role      access.Role
	ExpiresAt time.Time
}

// Principal is the identity as the executor's principal.
func (id Identity) Principal() access.Principal {
	return access.Principal{UserID: id.UserID, Name: id.User, Role: id.Role}
}

// Tokens are the result of a login or refresh.
type Tokens struct {
	Access, Refresh string
	ExpiresAt       time.Time // of the access token
	User            string    // the login name
	UserID          string    // the immutable id
	Role            access.Role
}

// Token types (claim "typ").
const (
	typeAccess  = "access"
	typeRefresh = "refresh"
	issuer      = "floe"
)

// claims are the JWT claims of Floe tokens.
type claims struct {
	Role string `json:"role"`
	Type string `json:"typ"`
	// IssuedMicros is the issue time in microseconds (iat has seconds),
	// compared with revocations.
	IssuedMicros int64 `json:"iat_us"`
	// PasswordTag identifies the password a refresh token was issued
	// under (a hash of its bcrypt hash), so a password change ends it.
	PasswordTag string `json:"pwt,omitempty"`
	// Name is the user's login name; the subject is its immutable id.
	Name string `json:"name,omitempty"`
	// Epoch is the user's token epoch at issue (0 in tokens of builds
	// before it).
	Epoch int64 `json:"ep,omitempty"`
	jwt.RegisteredClaims
}

// loginFailed is the one answer to every failed login.
var loginFailed = dberr.New(dberr.Unauthenticated, "login failed: wrong user name or password, or too many failed attempts (wait and try again)")

// New returns a Service over users. It subscribes to users' changes.
func New(users Users, opts Options) (*Service, error) {
	if len(opts.Secret) < 32 {
		return nil, errors.New("auth: the token secret must be at least 32 bytes")
	}
	if opts.AccessTTL <= 0 || opts.RefreshTTL <= 0 || opts.MaxFailedLogins < 1 {
		return nil, errors.New("auth: AccessTTL, RefreshTTL and MaxFailedLogins must be positive")
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.UserCacheTTL <= 0 {
		opts.UserCacheTTL = DefaultUserCacheTTL
	}
	s := &Service{users: users, opts: opts, tokens: map[string]*claims{}, accounts: map[string]cachedUser{}}
	users.OnChange(s.forget)
	return s, nil
}

// forget drops what is cached of user id, after a change on this process.
func (s *Service) forget(id string, _ time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.accounts, id)
}

// user returns the verification state of user id, from the cache if it
// is younger than UserCacheTTL.
func (s *Service) user(ctx context.Context, id string) (cachedUser, error) {
	now := s.opts.Clock()
	s.mu.Lock()
	c, ok := s.accounts[id]
	s.mu.Unlock()
	if ok && now.Sub(c.fetched) < s.opts.UserCacheTTL && !now.Before(c.fetched) {
		return c, nil
	}
	u, found, err := s.users.LookupID(ctx, id)
	if err != nil {
		return cachedUser{}, fmt.Errorf("auth: read user: %w", err)
	}
	c = cachedUser{found: found, active: u.Active(), role: u.Role, epoch: u.TokenEpoch, fetched: now}
	s.mu.Lock()
	if len(s.accounts) >= maxVerified {
		clear(s.accounts)
	}
	s.accounts[id] = c
	s.mu.Unlock()
	return c, nil
}

// current checks c against the user's current row: the user exists, is
// not dropped, has the token's role and the token's epoch.
func (s *Service) current(ctx context.Context, c *claims) error {
	u, err := s.user(ctx, c.Subject)
	if err != nil {
		return err
	}
	if !u.found || !u.active || string(u.role) != c.Role || u.epoch != c.Epoch {
		return dberr.New(dberr.Unauthenticated, "the token was revoked (the user was dropped, or its role or password changed, or its tokens were revoked): log in again")
	}
	return nil
}

// Login checks a password and issues tokens. Every failure is the same
// Unauthenticated error; the audit log and the failure counter record the
// reason.
func (s *Service) Login(ctx context.Context, user, pw string) (Tokens, error) {
	now := s.opts.Clock()
	u, ok, err := s.users.Lookup(ctx, user)
	if err != nil {
		return Tokens{}, err
	}
	if !ok || !u.Active() || u.PasswordHash == "" {
		password.Burn(pw)
		s.fail(ctx, user, "", "unknown user")
		return Tokens{}, loginFailed
	}
	if now.Before(u.LockedUntil) {
		password.Burn(pw)
		s.fail(ctx, user, u.Role, "locked out")
		return Tokens{}, loginFailed
	}
	if err := password.Check(u.PasswordHash, pw); err != nil {
		if !errors.Is(err, password.ErrMismatch) {
			return Tokens{}, err
		}
		locked := false
		err := s.users.Update(ctx, user, func(cur *access.User) error {
			cur.FailedLogins++
			if cur.FailedLogins >= s.opts.MaxFailedLogins {
				cur.LockedUntil, cur.FailedLogins, locked = now.Add(s.opts.Lockout), 0, true
			}
			return nil
		})
		if err != nil {
			s.opts.Logger.LogAttrs(ctx, slog.LevelError, "count failed login", slog.String("user", user), slog.Any("error", err))
		}
		reason := "wrong password"
		if locked {
			reason = "wrong password; locked out for " + s.opts.Lockout.String()
		}
		s.fail(ctx, user, u.Role, reason)
		return Tokens{}, loginFailed
	}
	if u.FailedLogins > 0 || !u.LockedUntil.IsZero() {
		err := s.users.Update(ctx, user, func(cur *access.User) error {
			cur.FailedLogins, cur.LockedUntil = 0, time.Time{}
			return nil
		})
		if err != nil {
			return Tokens{}, err
		}
	}
	return s.issue(u, now)
}

// fail records a failed login.
func (s *Service) fail(ctx context.Context, user string, role access.Role, reason string) {
	s.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "login failed", slog.String("user", user), slog.String("reason", reason))
	p := access.Principal{UserID: user, Role: role}
	s.users.Audit(ctx, p, p, "LOGIN FAILED", reason)
}

// Refresh exchanges a refresh token for new tokens, if the user still
// exists with the same role and password.
func (s *Service) Refresh(ctx context.Context, token string) (Tokens, error) {
	c, err := s.parse(token, typeRefresh)
	if err != nil {
		return Tokens{}, err
	}
	u, ok, err := s.users.LookupID(ctx, c.Subject)
	if err != nil {
		return Tokens{}, err
	}
	if !ok || !u.Active() || string(u.Role) != c.Role || passwordTag(u.PasswordHash) != c.PasswordTag || u.TokenEpoch != c.Epoch {
		return Tokens{}, dberr.New(dberr.Unauthenticated, "the session ended (the user was dropped or its role or password changed): log in again")
	}
	return s.issue(u, s.opts.Clock())
}

// Verify checks an access token and returns its identity: signature,
// expiry, and that the user still exists with the token's role and epoch
// (see Options.UserCacheTTL).
func (s *Service) Verify(ctx context.Context, token string) (Identity, error) {
	c, err := s.parse(token, typeAccess)
	if err != nil {
		return Identity{}, err
	}
	role, ok := access.ParseRole(c.Role)
	if !ok {
		return Identity{}, dberr.New(dberr.Unauthenticated, "the token names no valid role")
	}
	if err := s.current(ctx, c); err != nil {
		return Identity{}, err
	}
	name := c.Name
	if name == "" {
		name = c.Subject // tokens of builds before names: the id was the name
	}
	return Identity{User: name, UserID: c.Subject, Role: role, ExpiresAt: c.ExpiresAt.Time}, nil
}

// parse verifies signature, issuer, type, expiry and revocation.
func (s *Service) parse(token, typ string) (*claims, error) {
	if c, ok := s.verified(token); ok {
		// Signature, issuer and claims were checked when the token was
		// first seen; time and revocation are checked on every use.
		if !s.opts.Clock().Before(c.ExpiresAt.Add(leeway)) {
			return nil, dberr.New(dberr.Unauthenticated, "the %s token expired: %s", typ, refreshHint(typ))
		}
		return s.checkUse(c, typ)
	}
	c := &claims{}
	_, err := jwt.ParseWithClaims(token, c, func(*jwt.Token) (any, error) { return s.opts.Secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer), jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithTimeFunc(s.opts.Clock), jwt.WithLeeway(leeway))
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, dberr.New(dberr.Unauthenticated, "the %s token expired: %s", typ, refreshHint(typ))
	case err != nil:
		return nil, dberr.New(dberr.Unauthenticated, "invalid %s token: %s", typ, refreshHint(typ))
	}
	s.remember(token, c)
	return s.checkUse(c, typ)
}

// checkUse checks what a valid token must also satisfy for this use: its
// type and a subject.
func (s *Service) checkUse(c *claims, typ string) (*claims, error) {
	switch {
	case c.Type != typ:
		return nil, dberr.New(dberr.Unauthenticated, "not an %s token", typ)
	case c.Subject == "":
		return nil, dberr.New(dberr.Unauthenticated, "the token names no user")
	}
	return c, nil
}

func refreshHint(typ string) string {
	if typ == typeAccess {
		return "refresh it or log in again"
	}
	return "log in again"
}

// issue signs a new access and refresh token for u.
func (s *Service) issue(u access.User, now time.Time) (Tokens, error) {
	sign := func(typ string, ttl time.Duration, tag string) (string, time.Time, error) {
		exp := now.Add(ttl)
		c := claims{Role: string(u.Role), Type: typ, IssuedMicros: now.UnixMicro(), PasswordTag: tag, Name: u.Name(), Epoch: u.TokenEpoch,
			RegisteredClaims: jwt.RegisteredClaims{Issuer: issuer, Subject: u.ID, IssuedAt: jwt.NewNumericDate(now),
				ExpiresAt: jwt.NewNumericDate(exp), ID: randomID()}}
		t, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(s.opts.Secret)
		return t, exp, err
	}
	access, exp, err := sign(typeAccess, s.opts.AccessTTL, "")
	if err != nil {
		return Tokens{}, fmt.Errorf("auth: sign: %w", err)
	}
	refresh, _, err := sign(typeRefresh, s.opts.RefreshTTL, passwordTag(u.PasswordHash))
	if err != nil {
		return Tokens{}, fmt.Errorf("auth: sign: %w", err)
	}
	return Tokens{Access: access, Refresh: refresh, ExpiresAt: exp, User: u.Name(), UserID: u.ID, Role: u.Role}, nil
}

// leeway is the clock skew tolerated on expiry and issue times.
const leeway = 5 * time.Second

// maxVerified bounds the cache of verified tokens; when full it is
// emptied (tokens are re-verified on their next use).
const maxVerified = 16384

// verified returns the claims of a token whose signature and claims were
// already verified. Only tokens that passed verification are cached, so a
// hit never admits a forged token.
func (s *Service) verified(token string) (*claims, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.tokens[token]
	return c, ok
}

func (s *Service) remember(token string, c *claims) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.tokens) >= maxVerified {
		clear(s.tokens)
	}
	s.tokens[token] = c
}

// passwordTag is a short digest of a password hash: it changes with the
// password and reveals nothing usable.
func passwordTag(hash string) string {
	sum := sha256.Sum256([]byte("floe-refresh:" + hash))
	return hex.EncodeToString(sum[:8])
}

func randomID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// BearerToken returns the token of an Authorization header value.
func BearerToken(header string) (string, error) {
	if header == "" {
		return "", dberr.New(dberr.Unauthenticated, "missing Authorization header: send \"Authorization: Bearer <token>\" (get a token with AuthService.Login)")
	}
	scheme, tok, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", dberr.New(dberr.Unauthenticated, "the Authorization header must be \"Bearer <token>\"")
	}
	return strings.TrimSpace(tok), nil
}

// LoadOrCreateSecret returns the secret kept in path, creating it (32
// random bytes, hex, mode 0600) if the file does not exist.
func LoadOrCreateSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		s := strings.TrimSpace(string(b))
		if len(s) < 32 {
			return nil, fmt.Errorf("auth: secret file %s holds fewer than 32 bytes", path)
		}
		return []byte(s), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("auth: read secret: %w", err)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	secret := hex.EncodeToString(raw[:])
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("auth: create secret: %w", err)
	}
	// Write a temporary file, then link it into place: the secret file
	// appears whole or not at all, and of two racing processes one wins.
	f, err := os.CreateTemp(filepath.Dir(path), ".jwt-secret-*")
	if err != nil {
		return nil, fmt.Errorf("auth: create secret: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.WriteString(secret + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("auth: write secret: %w", err)
	}
	if err := os.Link(tmp, path); errors.Is(err, os.ErrExist) {
		return LoadOrCreateSecret(path) // another process won the race
	} else if err != nil {
		return nil, fmt.Errorf("auth: create secret: %w", err)
	}
	return []byte(secret), nil
}

// GeneratePassword returns a random password for the bootstrap user.
func GeneratePassword() string {
	var b [18]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
