package sqlexec

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/password"
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/sqlparse"
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
}

// Active reports whether the user exists and was not dropped.
func (u User) Active() bool { return u.ID != "" && u.DeletedAt.IsZero() }

// usersTableID is the ID of system.users.
var usersTableID = systemTableID("users")

// maxUserIDBytes bounds a user name.
const maxUserIDBytes = 128

// ValidateUserID reports why id cannot name a user: 1-128 bytes of
// letters, digits and . _ - @ +, starting with a letter or digit.
func ValidateUserID(id string) error {
	if id == "" || len(id) > maxUserIDBytes {
		return dberr.New(dberr.InvalidArgument, "a user name has 1 to %d characters", maxUserIDBytes)
	}
	for i, c := range id {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if alnum || i > 0 && strings.ContainsRune("._-@+", c) {
			continue
		}
		return dberr.New(dberr.InvalidArgument, "user name %q: use letters, digits and . _ - @ + (starting with a letter or digit)", id)
	}
	return nil
}

// canActFor reports whether a principal of role actor may manage or act
// as a user of role target: system → anyone; dba → dba, service, user;
// service → service, user; user → no one.
func canActFor(actor, target Role) bool {
	switch actor {
	case RoleSystem:
		return target.rank() > 0
	case RoleDBA:
		return target.AtLeast(RoleUser) && !target.AtLeast(RoleSystem)
	case RoleService:
		return target == RoleService || target == RoleUser
	}
	return false
}

// OnUserChange registers fn to be called after a user's role or password
// changed or the user was dropped (by SQL on this executor), so that the
// auth layer can refuse tokens issued before. One function; a later call
// replaces it.
func (x *Executor) OnUserChange(fn func(userID string, at time.Time)) {
	x.userChanged.Store(&fn)
}

func (x *Executor) notifyUserChange(id string, at time.Time) {
	if fn := x.userChanged.Load(); fn != nil {
		(*fn)(id, at)
	}
}

// userHook holds the OnUserChange function.
type userHook = atomic.Pointer[func(string, time.Time)]

// LookupUser returns the user named id; ok is false when no row exists
// (a dropped user is returned with DeletedAt set).
func (x *Executor) LookupUser(ctx context.Context, id string) (User, bool, error) {
	return x.readUser(ctx, id)
}

// readUser reads one row of system.users, password hash included, with a
// primary-key lookup in the storage engine (no SQL, no DuckDB): from the
// latest catalog, so a row written by a statement that just committed is
// seen.
func (x *Executor) readUser(ctx context.Context, id string) (User, bool, error) {
	snap, err := x.app.Schemas().Current(ctx)
	if err != nil {
		return User{}, false, fmt.Errorf("sqlexec: load catalog: %w", err)
	}
	tbl, err := snap.TableByID(usersTableID)
	if err != nil {
		return User{}, false, err
	}
	def := tbl.Def()
	v, found, err := x.store.Lookup(ctx, def, "", row.Row{row.Text(id)})
	if err != nil || !found {
		return User{}, false, err
	}
	col := func(name string) row.Value {
		for i, c := range def.Columns {
			if c.Name == name {
				return v.Values[i]
			}
		}
		return row.Null() // a column a newer build added
	}
	ts := func(name string) time.Time {
		if c := col(name); !c.IsNull() {
			return time.UnixMicro(c.Int64()).UTC()
		}
		return time.Time{}
	}
	return User{ID: col("user_id").Str(), Role: Role(col("role").Str()), Email: col("email").Str(),
		PasswordHash: col("password_hash").Str(), FailedLogins: int(col("failed_logins").Int64()),
		LockedUntil: ts("locked_until"), CreatedAt: ts("created_at"), UpdatedAt: ts("updated_at"),
		DeletedAt: ts("deleted_at")}, true, nil
}

// writeUser stores u as the row of system.users.
func (x *Executor) writeUser(ctx context.Context, u User) error {
	return x.systemWrite(ctx, "users", map[string]row.Value{
		"user_id": row.Text(u.ID), "role": row.Text(string(u.Role)), "email": textOrNull(u.Email),
		"password_hash": textOrNull(u.PasswordHash), "failed_logins": row.Int(int32(u.FailedLogins)),
		"locked_until": timeOrNull(u.LockedUntil), "created_at": timeOrNull(u.CreatedAt),
		"updated_at": timeOrNull(u.UpdatedAt), "deleted_at": timeOrNull(u.DeletedAt),
	})
}

// lockUsers serializes read-modify-write of system.users on this node.
func (x *Executor) lockUsers() func() { return x.lockPartition(usersTableID, "") }

// UpdateUser applies fn to the stored row of user id under the users lock
// and writes the result back; fn returning an error writes nothing. It
// fails with dberr NotFound-like InvalidArgument when the user has no row.
// The auth layer uses it to count failed logins.
func (x *Executor) UpdateUser(ctx context.Context, id string, fn func(u *User) error) error {
	defer x.lockUsers()()
	u, ok, err := x.readUser(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return dberr.New(dberr.InvalidArgument, "user %s does not exist", id)
	}
	if err := fn(&u); err != nil {
		return err
	}
	return x.writeUser(ctx, u)
}

// EnsureUser creates user id with the given role and password unless a
// user of that name exists (dropped or not). It reports whether it created
// the user. The bootstrap of the root user uses it.
func (x *Executor) EnsureUser(ctx context.Context, id string, r Role, pw string) (bool, error) {
	if err := ValidateUserID(id); err != nil {
		return false, err
	}
	hash, err := password.Hash(pw)
	if err != nil {
		return false, dberr.New(dberr.InvalidArgument, "%s", err)
	}
	defer x.lockUsers()()
	_, ok, err := x.readUser(ctx, id)
	if err != nil || ok {
		return false, err
	}
	now := x.app.Clock()().UTC()
	if err := x.writeUser(ctx, User{ID: id, Role: r, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}); err != nil {
		return false, err
	}
	x.Audit(ctx, "floe", RoleSystem, "CREATE USER", id)
	return true, nil
}

// Audit records an event of the auth layer (such as a failed login) in
// system.audit_log. actor is who acted (the name given at login), role
// its role if known.
func (x *Executor) Audit(ctx context.Context, actor string, r Role, action, target string) {
	if r == "" {
		r = "none"
	}
	p := Principal{UserID: actor, Role: r}
	x.audit(ctx, &stmtCtx{x: x, p: p, actor: p}, action, target, "")
}

// createUser runs CREATE USER.
func (x *Executor) createUser(ctx context.Context, q *stmtCtx, s *sqlparse.CreateUser) (Result, error) {
	role := RoleUser
	if s.Role != "" {
		r, ok := ParseRole(s.Role)
		if !ok {
			return Result{}, dberr.New(dberr.InvalidArgument, "unknown role %q: use user, service, dba or system", s.Role)
		}
		role = r
	}
	if !q.p.Role.AtLeast(RoleDBA) || !canActFor(q.p.Role, role) {
		return Result{}, dberr.New(dberr.PermissionDenied, "role %s may not create users of role %s", q.p.Role, role)
	}
	if err := ValidateUserID(s.User); err != nil {
		return Result{}, err
	}
	hash, err := password.Hash(s.Password)
	if err != nil {
		return Result{}, dberr.New(dberr.InvalidArgument, "user %s: %s", s.User, err)
	}
	defer x.lockUsers()()
	old, ok, err := x.readUser(ctx, s.User)
	if err != nil {
		return Result{}, err
	}
	if ok && old.Active() {
		if s.IfNotExists {
			return Result{Message: "CREATE USER"}, nil
		}
		return Result{}, dberr.New(dberr.AlreadyExists, "user %s already exists", s.User)
	}
	now := x.app.Clock()().UTC()
	u := User{ID: s.User, Role: role, Email: s.Email, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	if err := x.writeUser(ctx, u); err != nil {
		return Result{}, err
	}
	if ok {
		x.notifyUserChange(s.User, now) // a re-created user: old tokens die
	}
	x.audit(ctx, q, "CREATE USER", s.User, "")
	return Result{Message: "CREATE USER"}, nil
}

// alterUser runs ALTER USER. Every user may change its own password and
// email; other changes need dba and a role that may manage both the
// user's current and new role.
func (x *Executor) alterUser(ctx context.Context, q *stmtCtx, s *sqlparse.AlterUser) (Result, error) {
	self := s.User == q.p.UserID
	var hash string
	if s.Password != nil {
		h, err := password.Hash(*s.Password)
		if err != nil {
			return Result{}, dberr.New(dberr.InvalidArgument, "user %s: %s", s.User, err)
		}
		hash = h
	}
	defer x.lockUsers()()
	u, ok, err := x.readUser(ctx, s.User)
	if err != nil {
		return Result{}, err
	}
	manage := q.p.Role.AtLeast(RoleDBA) && (!ok || canActFor(q.p.Role, u.Role))
	if !self && !manage {
		return Result{}, dberr.New(dberr.PermissionDenied, "role %s may not alter user %s", q.p.Role, s.User)
	}
	if !ok || !u.Active() {
		return Result{}, dberr.New(dberr.InvalidArgument, "user %s does not exist", s.User)
	}
	now := x.app.Clock()().UTC()
	revoke := false
	if s.Role != nil {
		r, valid := ParseRole(*s.Role)
		if !valid {
			return Result{}, dberr.New(dberr.InvalidArgument, "unknown role %q: use user, service, dba or system", *s.Role)
		}
		if !manage || !canActFor(q.p.Role, r) {
			return Result{}, dberr.New(dberr.PermissionDenied, "role %s may not give user %s the role %s", q.p.Role, s.User, r)
		}
		revoke = revoke || r != u.Role
		u.Role = r
	}
	if s.Password != nil {
		u.PasswordHash, u.FailedLogins, u.LockedUntil = hash, 0, time.Time{}
		revoke = true
	}
	if s.Email != nil {
		u.Email = *s.Email
	}
	u.UpdatedAt = now
	if err := x.writeUser(ctx, u); err != nil {
		return Result{}, err
	}
	if revoke {
		x.notifyUserChange(u.ID, now)
	}
	x.audit(ctx, q, "ALTER USER", s.User, "")
	return Result{Message: "ALTER USER"}, nil
}

// dropUser runs DROP USER: the row stays with deleted_at set and no
// password; the user's rows in USER tables are kept.
func (x *Executor) dropUser(ctx context.Context, q *stmtCtx, s *sqlparse.DropUser) (Result, error) {
	if !q.p.Role.AtLeast(RoleDBA) {
		return Result{}, dberr.New(dberr.PermissionDenied, "role %s may not drop users (needs dba)", q.p.Role)
	}
	if s.User == q.actor.UserID {
		return Result{}, dberr.New(dberr.InvalidArgument, "you cannot drop the user you are logged in as")
	}
	defer x.lockUsers()()
	u, ok, err := x.readUser(ctx, s.User)
	if err != nil {
		return Result{}, err
	}
	if ok && !canActFor(q.p.Role, u.Role) {
		return Result{}, dberr.New(dberr.PermissionDenied, "role %s may not drop user %s of role %s", q.p.Role, s.User, u.Role)
	}
	if !ok || !u.Active() {
		if s.IfExists {
			return Result{Message: "DROP USER"}, nil
		}
		return Result{}, dberr.New(dberr.InvalidArgument, "user %s does not exist", s.User)
	}
	now := x.app.Clock()().UTC()
	u.PasswordHash, u.DeletedAt, u.UpdatedAt = "", now, now
	if err := x.writeUser(ctx, u); err != nil {
		return Result{}, err
	}
	x.notifyUserChange(u.ID, now)
	x.audit(ctx, q, "DROP USER", s.User, "")
	return Result{Message: "DROP USER"}, nil
}

// executeAs runs EXECUTE AS USER: the inner statement runs as the named
// user (its partition and its role), and system.audit_log records the
// caller as actor and the user as subject.
func (x *Executor) executeAs(ctx context.Context, q *stmtCtx, s *sqlparse.ExecuteAs) (Result, error) {
	if q.p != q.actor {
		return Result{}, dberr.New(dberr.InvalidArgument, "EXECUTE AS USER cannot be nested")
	}
	if !q.p.Role.AtLeast(RoleService) {
		return Result{}, dberr.New(dberr.PermissionDenied, "role %s may not EXECUTE AS another user (needs service)", q.p.Role)
	}
	u, ok, err := x.readUser(ctx, s.User)
	if err != nil {
		return Result{}, err
	}
	if !ok || !u.Active() {
		return Result{}, dberr.New(dberr.InvalidArgument, "user %s does not exist", s.User)
	}
	if !canActFor(q.p.Role, u.Role) {
		return Result{}, dberr.New(dberr.PermissionDenied, "role %s may not act as user %s of role %s", q.p.Role, u.ID, u.Role)
	}
	q.p = Principal{UserID: u.ID, Role: u.Role}
	res, err := x.dispatch(ctx, q, s.Stmt)
	if err != nil {
		return Result{}, err
	}
	x.audit(ctx, q, "EXECUTE AS", firstWords(s.Stmt.Text()), "")
	x.log.LogAttrs(ctx, slog.LevelDebug, "execute as", slog.String("actor", q.actor.UserID), slog.String("subject", u.ID))
	return res, nil
}
