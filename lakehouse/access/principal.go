package access

import (
	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/manifest"
)

// Principal is who runs a statement: an immutable user id (the partition
// of USER and STREAM tables), the user's name (a label, for messages and
// the audit log) and a role. The network layer authenticates it; the
// executor only authorizes, with the Can* methods.
type Principal struct {
	UserID string
	// Name is the login name; empty means the same as UserID (legacy
	// users, whose id is their name).
	Name string
	Role Role
}

// Label is the name to show for p: its name, or its id.
func (p Principal) Label() string {
	if p.Name != "" {
		return p.Name
	}
	return p.UserID
}

// Validate refuses an unusable principal: a partition key must be a user
// id, and the role one of the four.
func (p Principal) Validate() error {
	if p.UserID == "" || !p.Role.Valid() {
		return dberr.New(dberr.Unauthenticated, "no authenticated principal")
	}
	return nil
}

// CanRead reports whether p may read t (its own partition, for per-user
// tables): SELECT and, later, SUBSCRIBE ask it.
func (p Principal) CanRead(t *manifest.Table) error {
	switch t.Type {
	case manifest.TableUser, manifest.TableStream:
		return nil
	case manifest.TableShared:
		if p.Role.AtLeast(sharedReader(t.Options.AccessLevel)) {
			return nil
		}
	case manifest.TableSystem:
		if p.Role.AtLeast(RoleDBA) || t.Name == UsersTable {
			// system.users filters rows to the caller's own for roles
			// below dba (see UsersRowFilter).
			return nil
		}
	}
	return dberr.New(dberr.PermissionDenied, "role %s may not read %s.%s", p.Role, t.Namespace, t.Name)
}

// CanWrite reports whether p may insert, update or delete rows of t.
func (p Principal) CanWrite(t *manifest.Table) error {
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

// CanManage reports whether p may ALTER or DROP t, or FLUSH/COMPACT it.
func (p Principal) CanManage(t *manifest.Table) error {
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

// CanCreate reports whether p may create a table of type typ.
func (p Principal) CanCreate(typ manifest.TableType, level manifest.AccessLevel) error {
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
