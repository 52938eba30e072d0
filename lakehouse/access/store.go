package access

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/floedb/floe/lakehouse/appctx"
	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/password"
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/tablestore"
	"github.com/floedb/floe/manifest"
)

// Writer is how the Store's rows become durable (the executor's write
// path: the node's buffer or the direct path).
type Writer interface {
	Write(ctx context.Context, t *manifest.Table, partition string, changes []tablestore.Change) error
	Flush(ctx context.Context, tableID string) error
}

// StoreOptions are what a Store runs on.
type StoreOptions struct {
	// App gives the catalog, the clock, the node id and the logger.
	App *appctx.AppContext
	// Rows reads system.users (primary-key lookups, no SQL).
	Rows *tablestore.Store
	// Writes stores rows of system.users and system.audit_log.
	Writes Writer
	// NextID returns audit record ids, unique across processes.
	NextID func() int64
}

// Store is the user store: the accounts of system.users and the audit
// log. It is safe for concurrent use; read-modify-writes of one process
// are serialized.
type Store struct {
	opts StoreOptions
	log  *slog.Logger
	mu   sync.Mutex // serializes read-modify-write of system.users

	changed atomic.Pointer[func(string, time.Time)]
}

// NewStore returns the user store over opts.
func NewStore(opts StoreOptions) *Store {
	return &Store{opts: opts, log: opts.App.Logger().With(slog.String("component", "access"))}
}

// OnChange registers fn to be called after a user changed on this
// process (the change is durable by then), so that the auth layer drops
// what it cached of the user at once; other processes see the change
// when their cache expires. One function; a later call replaces it.
func (s *Store) OnChange(fn func(userID string, at time.Time)) { s.changed.Store(&fn) }

func (s *Store) notify(id string, at time.Time) {
	if fn := s.changed.Load(); fn != nil {
		(*fn)(id, at)
	}
}

func (s *Store) now() time.Time { return s.opts.App.Clock()().UTC() }

// table returns the current definition of a system table.
func (s *Store) table(ctx context.Context, name string) (*manifest.Table, error) {
	snap, err := s.opts.App.Schemas().Current(ctx)
	if err != nil {
		return nil, fmt.Errorf("access: load catalog: %w", err)
	}
	t, err := snap.TableByID(tableID(name))
	if err != nil {
		return nil, fmt.Errorf("access: %w", err)
	}
	return t.Def(), nil
}

// Lookup returns the user named name; ok is false when no row exists (a
// dropped user is returned with DeletedAt set). It reads the row with a
// primary-key lookup in the storage engine (no SQL, no DuckDB) from the
// latest catalog, so a row written by a statement that just committed is
// seen.
func (s *Store) Lookup(ctx context.Context, name string) (User, bool, error) {
	def, err := s.table(ctx, UsersTable)
	if err != nil {
		return User{}, false, err
	}
	v, found, err := s.opts.Rows.Lookup(ctx, def, "", row.Row{row.Text(name)})
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
		DeletedAt: ts("deleted_at"), TokenEpoch: col("token_epoch").Int64()}, true, nil
}

// LookupID returns the user whose immutable id is id (what a token's
// subject names).
func (s *Store) LookupID(ctx context.Context, id string) (User, bool, error) {
	return s.Lookup(ctx, id)
}

// write stores u as its row of system.users.
func (s *Store) write(ctx context.Context, u User) error {
	return s.writeRow(ctx, UsersTable, map[string]row.Value{
		"user_id": row.Text(u.ID), "role": row.Text(string(u.Role)), "email": textOrNull(u.Email),
		"password_hash": textOrNull(u.PasswordHash), "failed_logins": row.Int(int32(u.FailedLogins)),
		"locked_until": timeOrNull(u.LockedUntil), "created_at": timeOrNull(u.CreatedAt),
		"updated_at": timeOrNull(u.UpdatedAt), "deleted_at": timeOrNull(u.DeletedAt),
		"token_epoch": row.BigInt(u.TokenEpoch),
	})
}

// durable makes the rows of system.users written so far durable in the
// object store (a flush of the node's buffer; nothing to do on the direct
// path), so that every process reading the warehouse — a second node, a
// function, this node after a restart on another data dir — sees a change
// before it is acknowledged. Revocations depend on it.
func (s *Store) durable(ctx context.Context) error {
	if err := s.opts.Writes.Flush(ctx, tableID(UsersTable)); err != nil {
		return fmt.Errorf("access: make the change of system.users durable: %w", err)
	}
	return nil
}

// writeRow upserts one row of a system table; vals are by column name,
// missing columns NULL.
func (s *Store) writeRow(ctx context.Context, name string, vals map[string]row.Value) error {
	def, err := s.table(ctx, name)
	if err != nil {
		return err
	}
	r := make(row.Row, len(def.Columns))
	for i, c := range def.Columns {
		if v, ok := vals[c.Name]; ok {
			r[i] = v
		}
	}
	return s.opts.Writes.Write(ctx, def, "", []tablestore.Change{{Values: r}})
}

// Update applies fn to the stored row of user name under the users lock
// and writes the result back; fn returning an error writes nothing. It
// fails with InvalidArgument when the user has no row.
func (s *Store) Update(ctx context.Context, name string, fn func(u *User) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok, err := s.Lookup(ctx, name)
	if err != nil {
		return err
	}
	if !ok {
		return dberr.New(dberr.InvalidArgument, "user %s does not exist", name)
	}
	if err := fn(&u); err != nil {
		return err
	}
	return s.write(ctx, u)
}

// Ensure creates user name with the given role and password unless a
// user of that name exists (dropped or not). It reports whether it
// created the user. The bootstrap of the root user uses it.
func (s *Store) Ensure(ctx context.Context, name string, r Role, pw string) (bool, error) {
	if err := ValidateName(name); err != nil {
		return false, err
	}
	hash, err := password.Hash(pw)
	if err != nil {
		return false, dberr.New(dberr.InvalidArgument, "%s", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok, err := s.Lookup(ctx, name)
	if err != nil || ok {
		return false, err
	}
	now := s.now()
	if err := s.write(ctx, User{ID: name, Role: r, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}); err != nil {
		return false, err
	}
	if err := s.durable(ctx); err != nil {
		return false, err
	}
	sys := Principal{UserID: "floe", Role: RoleSystem}
	s.Audit(ctx, sys, sys, "CREATE USER", name)
	return true, nil
}

// NewUser is what CREATE USER gives.
type NewUser struct {
	Name, Password, Email string
	// Role: default user.
	Role        string
	IfNotExists bool
}

// Create creates a user for actor (a dba or system principal who may
// manage the new user's role). It reports whether it created one (not
// with IfNotExists and an existing user).
func (s *Store) Create(ctx context.Context, actor Principal, n NewUser) (bool, error) {
	role := RoleUser
	if n.Role != "" {
		r, ok := ParseRole(n.Role)
		if !ok {
			return false, dberr.New(dberr.InvalidArgument, "unknown role %q: use user, service, dba or system", n.Role)
		}
		role = r
	}
	if !actor.Role.AtLeast(RoleDBA) || !CanActFor(actor.Role, role) {
		return false, dberr.New(dberr.PermissionDenied, "role %s may not create users of role %s", actor.Role, role)
	}
	if err := ValidateName(n.Name); err != nil {
		return false, err
	}
	hash, err := password.Hash(n.Password)
	if err != nil {
		return false, dberr.New(dberr.InvalidArgument, "user %s: %s", n.Name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok, err := s.Lookup(ctx, n.Name)
	if err != nil {
		return false, err
	}
	if ok && old.Active() {
		if n.IfNotExists {
			return false, nil
		}
		return false, dberr.New(dberr.AlreadyExists, "user %s already exists", n.Name)
	}
	now := s.now()
	u := User{ID: n.Name, Role: role, Email: n.Email, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	if ok {
		u.TokenEpoch = old.TokenEpoch + 1 // a re-created user: old tokens die
	}
	if err := s.write(ctx, u); err != nil {
		return false, err
	}
	if err := s.durable(ctx); err != nil {
		return false, err
	}
	s.notify(u.ID, now)
	return true, nil
}

// Change is what ALTER USER gives; nil fields are left alone.
type Change struct {
	Name                  string
	Password, Email, Role *string
	// RevokeTokens voids the user's tokens (and needs the right to manage
	// the user, or to be the user).
	RevokeTokens bool
}

// Alter changes a user for actor. Every user may change its own password
// and email; other changes need dba and a role that may manage both the
// user's current and new role.
func (s *Store) Alter(ctx context.Context, actor Principal, c Change) error {
	self := c.Name == actor.Label()
	var hash string
	if c.Password != nil {
		h, err := password.Hash(*c.Password)
		if err != nil {
			return dberr.New(dberr.InvalidArgument, "user %s: %s", c.Name, err)
		}
		hash = h
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok, err := s.Lookup(ctx, c.Name)
	if err != nil {
		return err
	}
	manage := actor.Role.AtLeast(RoleDBA) && (!ok || CanActFor(actor.Role, u.Role))
	if !self && !manage {
		return dberr.New(dberr.PermissionDenied, "role %s may not alter user %s", actor.Role, c.Name)
	}
	if !ok || !u.Active() {
		return dberr.New(dberr.InvalidArgument, "user %s does not exist", c.Name)
	}
	now := s.now()
	revoke := false
	if c.Role != nil {
		r, valid := ParseRole(*c.Role)
		if !valid {
			return dberr.New(dberr.InvalidArgument, "unknown role %q: use user, service, dba or system", *c.Role)
		}
		if !manage || !CanActFor(actor.Role, r) {
			return dberr.New(dberr.PermissionDenied, "role %s may not give user %s the role %s", actor.Role, c.Name, r)
		}
		revoke = revoke || r != u.Role
		u.Role = r
	}
	if c.Password != nil {
		u.PasswordHash, u.FailedLogins, u.LockedUntil = hash, 0, time.Time{}
		revoke = true
	}
	if c.Email != nil {
		u.Email = *c.Email
	}
	revoke = revoke || c.RevokeTokens
	if revoke {
		u.TokenEpoch++
	}
	u.UpdatedAt = now
	if err := s.write(ctx, u); err != nil {
		return err
	}
	if err := s.durable(ctx); err != nil {
		return err
	}
	s.notify(u.ID, now)
	return nil
}

// Drop drops user name for actor (a dba who may manage the user's role,
// and is not the user it is logged in as): the row stays with deleted_at
// set and no password; the user's rows in USER tables are kept. It
// reports whether a user was dropped (false with ifExists and no user).
func (s *Store) Drop(ctx context.Context, actor Principal, name string, ifExists bool) (bool, error) {
	if !actor.Role.AtLeast(RoleDBA) {
		return false, dberr.New(dberr.PermissionDenied, "role %s may not drop users (needs dba)", actor.Role)
	}
	if name == actor.Label() {
		return false, dberr.New(dberr.InvalidArgument, "you cannot drop the user you are logged in as")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok, err := s.Lookup(ctx, name)
	if err != nil {
		return false, err
	}
	if ok && !CanActFor(actor.Role, u.Role) {
		return false, dberr.New(dberr.PermissionDenied, "role %s may not drop user %s of role %s", actor.Role, name, u.Role)
	}
	if !ok || !u.Active() {
		if ifExists {
			return false, nil
		}
		return false, dberr.New(dberr.InvalidArgument, "user %s does not exist", name)
	}
	now := s.now()
	u.PasswordHash, u.DeletedAt, u.UpdatedAt = "", now, now
	u.TokenEpoch++
	if err := s.write(ctx, u); err != nil {
		return false, err
	}
	if err := s.durable(ctx); err != nil {
		return false, err
	}
	s.notify(u.ID, now)
	return true, nil
}

// ActAs returns the principal of user name for actor's EXECUTE AS: the
// user must exist and actor (service or above) must be allowed to act
// for the user's role.
func (s *Store) ActAs(ctx context.Context, actor Principal, name string) (Principal, error) {
	if !actor.Role.AtLeast(RoleService) {
		return Principal{}, dberr.New(dberr.PermissionDenied, "role %s may not EXECUTE AS another user (needs service)", actor.Role)
	}
	u, ok, err := s.Lookup(ctx, name)
	if err != nil {
		return Principal{}, err
	}
	if !ok || !u.Active() {
		return Principal{}, dberr.New(dberr.InvalidArgument, "user %s does not exist", name)
	}
	if !CanActFor(actor.Role, u.Role) {
		return Principal{}, dberr.New(dberr.PermissionDenied, "role %s may not act as user %s of role %s", actor.Role, name, u.Role)
	}
	return u.Principal(), nil
}

// Audit records an event in system.audit_log: actor is who acted,
// subject whom the action ran as (they differ under EXECUTE AS). The
// statement text is not stored (it may hold secrets such as passwords);
// the action and its target are. A failure is logged, not returned: the
// action already took effect.
func (s *Store) Audit(ctx context.Context, actor, subject Principal, action, target string) {
	role := string(actor.Role)
	if role == "" {
		role = "none"
	}
	err := s.writeRow(ctx, AuditTable, map[string]row.Value{
		"audit_id": row.BigInt(s.opts.NextID()), "at": row.Timestamp(s.opts.App.Clock()().UnixMicro()),
		"actor": row.Text(actor.Label()), "actor_role": row.Text(role), "subject": row.Text(subject.Label()),
		"action": row.Text(action), "target": textOrNull(target), "node_id": row.Text(s.opts.App.NodeID().String()),
	})
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "audit record failed", slog.String("action", action), slog.Any("error", err))
	}
}

func textOrNull(s string) row.Value {
	if s == "" {
		return row.Null()
	}
	return row.Text(s)
}

func timeOrNull(t time.Time) row.Value {
	if t.IsZero() {
		return row.Null()
	}
	return row.Timestamp(t.UnixMicro())
}
