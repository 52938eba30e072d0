// Package access is who may do what in Floe: roles, principals and their
// rights on tables, the accounts of system.users (the user store) and the
// audit log that records what they did.
//
// The executor (lakehouse/sqlexec) asks a Principal's rights before it
// reads or writes a table; the token service (lakehouse/auth) reads
// accounts from the Store; neither owns them.
//
// Invariants: a user id is the partition key of the user's rows in USER
// and STREAM tables; it is immutable and never reused (names are labels);
// password hashes never leave this package through SQL (the users view
// omits them).
package access

import "strings"

// Role is what a principal may do. Roles are ordered: each has the rights
// of the ones below it, user < service < dba < system.
type Role string

// Roles.
const (
	// RoleUser reads and writes its own partition of USER and STREAM
	// tables, reads PUBLIC shared tables, and creates USER/STREAM tables.
	RoleUser Role = "user"
	// RoleService also writes PUBLIC shared tables, reads and writes
	// PRIVATE/RESTRICTED ones, creates SHARED tables, alters and drops
	// non-DBA tables, and runs FLUSH/COMPACT.
	RoleService Role = "service"
	// RoleDBA also touches DBA-level shared tables, reads system tables,
	// and manages namespaces.
	RoleDBA Role = "dba"
	// RoleSystem is Floe itself and the bootstrap root user.
	RoleSystem Role = "system"
)

func (r Role) rank() int {
	switch r {
	case RoleUser:
		return 1
	case RoleService:
		return 2
	case RoleDBA:
		return 3
	case RoleSystem:
		return 4
	}
	return 0
}

// Valid reports whether r is one of the four roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// AtLeast reports whether r has the rights of o.
func (r Role) AtLeast(o Role) bool { return r.rank() >= o.rank() && r.rank() > 0 }

// ParseRole returns the role named s (case-insensitive).
func ParseRole(s string) (Role, bool) {
	r := Role(strings.ToLower(s))
	return r, r.Valid()
}

// CanActFor reports whether a principal of role actor may manage or act
// as a user of role target: system → anyone; dba → dba, service, user;
// service → service, user; user → no one.
func CanActFor(actor, target Role) bool {
	switch actor {
	case RoleSystem:
		return target.Valid()
	case RoleDBA:
		return target.AtLeast(RoleUser) && !target.AtLeast(RoleSystem)
	case RoleService:
		return target == RoleService || target == RoleUser
	}
	return false
}
