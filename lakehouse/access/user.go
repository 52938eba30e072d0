package access

import (
	"strings"
	"time"

	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/manifest"
)

// User is one account of system.users. Dropped users keep their row with
// DeletedAt set and no password hash, so audit records keep a referent.
type User struct {
	ID           string
	Role         Role
	Email        string
	PasswordHash string
	FailedLogins int
	LockedUntil  time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
	DeletedAt    time.Time
	// TokenEpoch counts the revocations of the user's tokens: a token
	// carries the epoch it was issued under and is refused once the
	// stored epoch moved past it. Rows of warehouses older than system
	// schema version 2 read 0.
	TokenEpoch int64
}

// Name is the user's login name (the id, until names and ids part).
func (u User) Name() string { return u.ID }

// Active reports whether the user exists and was not dropped.
func (u User) Active() bool { return u.ID != "" && u.DeletedAt.IsZero() }

// Principal is the user as a principal.
func (u User) Principal() Principal { return Principal{UserID: u.ID, Role: u.Role} }

// Names of Floe's system tables this package owns, in the system
// namespace.
const (
	UsersTable = "users"
	AuditTable = "audit_log"
)

// tableID is the stable ID of a system table (sqlexec's system tables
// use the same rule).
func tableID(name string) string { return "system." + name }

func col(name string, t manifest.Type, nullable bool) manifest.Column {
	return manifest.Column{Name: name, Type: t, Nullable: nullable}
}

// UsersColumns are the columns of system.users (key: user_id).
func UsersColumns() []manifest.Column {
	return []manifest.Column{
		col("user_id", manifest.Text, false), col("role", manifest.Text, false), col("email", manifest.Text, true),
		col("password_hash", manifest.Text, true), col("failed_logins", manifest.Int, true), col("locked_until", manifest.Timestamp, true),
		col("created_at", manifest.Timestamp, true), col("updated_at", manifest.Timestamp, true), col("deleted_at", manifest.Timestamp, true),
		col("token_epoch", manifest.BigInt, true)}
}

// UsersKey is the primary key of system.users.
func UsersKey() []string { return []string{"user_id"} }

// AuditColumns are the columns of system.audit_log (key: audit_id).
func AuditColumns() []manifest.Column {
	return []manifest.Column{
		col("audit_id", manifest.BigInt, false), col("at", manifest.Timestamp, false), col("actor", manifest.Text, false),
		col("actor_role", manifest.Text, false), col("subject", manifest.Text, true), col("action", manifest.Text, false),
		col("target", manifest.Text, true), col("node_id", manifest.Text, false)}
}

// AuditKey is the primary key of system.audit_log.
func AuditKey() []string { return []string{"audit_id"} }

// UsersHiddenColumns are the columns of system.users that never leave the
// engine through SQL.
func UsersHiddenColumns() []string { return []string{"password_hash"} }

// UsersRowFilter returns the SQL condition on system.users rows that p may
// see ("" for every row): dba and system see all, others their own.
// quote makes a SQL string literal.
func UsersRowFilter(p Principal, quote func(string) string) string {
	if p.Role.AtLeast(RoleDBA) {
		return ""
	}
	return "user_id = " + quote(p.UserID)
}

// maxNameBytes bounds a user name.
const maxNameBytes = 128

// ValidateName reports why name cannot name a user: 1-128 bytes of
// letters, digits and . _ - @ +, starting with a letter or digit.
func ValidateName(name string) error {
	if name == "" || len(name) > maxNameBytes {
		return dberr.New(dberr.InvalidArgument, "a user name has 1 to %d characters", maxNameBytes)
	}
	for i, c := range name {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if alnum || i > 0 && strings.ContainsRune("._-@+", c) {
			continue
		}
		return dberr.New(dberr.InvalidArgument, "user name %q: use letters, digits and . _ - @ + (starting with a letter or digit)", name)
	}
	return nil
}
