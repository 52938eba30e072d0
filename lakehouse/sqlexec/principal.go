package sqlexec

import (
	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/manifest"
)

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

// AtLeast reports whether r has the rights of o.
func (r Role) AtLeast(o Role) bool { return r.rank() >= o.rank() && r.rank() > 0 }

// ParseRole returns the role named s (case-insensitive).
func ParseRole(s string) (Role, bool) {
	r := Role(lower(s))
	return r, r.rank() > 0
}

// Principal is who runs a statement: a user id (the partition of USER and
// STREAM tables) and a role. The network layer authenticates it; the
// executor only authorizes.
type Principal struct {
	UserID string
	Role   Role
}

// validate refuses an unusable principal: a partition key must be a user id.
func (p Principal) validate() error {
	if p.UserID == "" || p.Role.rank() == 0 {
		return dberr.New(dberr.Unauthenticated, "no authenticated principal")
	}
	return nil
}

// canRead reports whether p may read t (its own partition, for per-user
// tables).
func (p Principal) canRead(t *manifest.Table) error {
	switch t.Type {
	case manifest.TableUser, manifest.TableStream:
		return nil
	case manifest.TableShared:
		if p.Role.AtLeast(sharedReader(t.Options.AccessLevel)) {
			return nil
		}
	case manifest.TableSystem:
		if p.Role.AtLeast(RoleDBA) || t.Name == "users" {
			// system.users filters rows to the caller's own for roles
			// below dba (see the users provider).
			return nil
		}
	}
	return dberr.New(dberr.PermissionDenied, "role %s may not read %s.%s", p.Role, t.Namespace, t.Name)
}

// canWrite reports whether p may insert, update or delete rows of t.
func (p Principal) canWrite(t *manifest.Table) error {
	switch t.Type {
	case manifest.TableUser, manifest.TableStream:
		return nil
	case manifest.TableShared:
		if p.Role.AtLeast(sharedWriter(t.Options.AccessLevel)) {
			return nil
		}
	case manifest.TableSystem:
		return dberr.New(dberr.PermissionDenied, "%s.%s is maintained by Floe and cannot be written with SQL", t.Namespace, t.Name)
	}
	return dberr.New(dberr.PermissionDenied, "role %s may not write %s.%s", p.Role, t.Namespace, t.Name)
}

// canManage reports whether p may ALTER or DROP t, or FLUSH/COMPACT it.
func (p Principal) canManage(t *manifest.Table) error {
	need := RoleService
	if t.Type == manifest.TableShared && t.Options.AccessLevel == manifest.AccessDBA {
		need = RoleDBA
	}
	if t.Type == manifest.TableSystem {
		return dberr.New(dberr.PermissionDenied, "%s.%s is maintained by Floe", t.Namespace, t.Name)
	}
	if !p.Role.AtLeast(need) {
		return dberr.New(dberr.PermissionDenied, "role %s may not alter, drop or maintain %s.%s (needs %s)", p.Role, t.Namespace, t.Name, need)
	}
	return nil
}

// canCreate reports whether p may create a table of type typ.
func (p Principal) canCreate(typ manifest.TableType, level manifest.AccessLevel) error {
	need := RoleUser
	switch {
	case typ == manifest.TableShared && level == manifest.AccessDBA:
		need = RoleDBA
	case typ == manifest.TableShared:
		need = RoleService
	}
	if !p.Role.AtLeast(need) {
		return dberr.New(dberr.PermissionDenied, "role %s may not create %s tables (needs %s)", p.Role, typ, need)
	}
	return nil
}

func sharedReader(l manifest.AccessLevel) Role {
	switch l {
	case manifest.AccessPublic:
		return RoleUser
	case manifest.AccessDBA:
		return RoleDBA
	}
	return RoleService // PRIVATE (the default) and RESTRICTED
}

func sharedWriter(l manifest.AccessLevel) Role {
	if l == manifest.AccessDBA {
		return RoleDBA
	}
	return RoleService
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
