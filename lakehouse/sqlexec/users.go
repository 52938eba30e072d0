package sqlexec

import (
	"context"
	"log/slog"

	"github.com/floedb/floe/lakehouse/access"
	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/sqlparse"
)

// Users returns the user store the executor's user statements change;
// the token service reads accounts from it.
func (x *Executor) Users() *access.Store { return x.users }

// createUser runs CREATE USER.
func (x *Executor) createUser(ctx context.Context, q *stmtCtx, s *sqlparse.CreateUser) (Result, error) {
	created, err := x.users.Create(ctx, q.p, access.NewUser{Name: s.User, Password: s.Password, Email: s.Email, Role: s.Role, IfNotExists: s.IfNotExists})
	if err != nil {
		return Result{}, err
	}
	if created {
		x.audit(ctx, q, "CREATE USER", s.User)
	}
	return Result{Message: "CREATE USER"}, nil
}

// alterUser runs ALTER USER.
func (x *Executor) alterUser(ctx context.Context, q *stmtCtx, s *sqlparse.AlterUser) (Result, error) {
	if err := x.users.Alter(ctx, q.p, access.Change{Name: s.User, Password: s.Password, Email: s.Email, Role: s.Role, RevokeTokens: s.RevokeTokens}); err != nil {
		return Result{}, err
	}
	x.audit(ctx, q, "ALTER USER", s.User)
	return Result{Message: "ALTER USER"}, nil
}

// dropUser runs DROP USER.
func (x *Executor) dropUser(ctx context.Context, q *stmtCtx, s *sqlparse.DropUser) (Result, error) {
	dropped, err := x.users.Drop(ctx, q.p, s.User, s.IfExists)
	if err != nil {
		return Result{}, err
	}
	if dropped {
		x.audit(ctx, q, "DROP USER", s.User)
	}
	return Result{Message: "DROP USER"}, nil
}

// executeAs runs EXECUTE AS USER: the inner statement runs as the named
// user (its partition and its role), and system.audit_log records the
// caller as actor and the user as subject.
func (x *Executor) executeAs(ctx context.Context, q *stmtCtx, s *sqlparse.ExecuteAs) (Result, error) {
	if q.p != q.actor {
		return Result{}, dberr.New(dberr.InvalidArgument, "EXECUTE AS USER cannot be nested")
	}
	p, err := x.users.ActAs(ctx, q.p, s.User)
	if err != nil {
		return Result{}, err
	}
	q.p = p
	res, err := x.dispatch(ctx, q, s.Stmt)
	if err != nil {
		return Result{}, err
	}
	x.audit(ctx, q, "EXECUTE AS", firstWords(s.Stmt.Text()))
	x.log.LogAttrs(ctx, slog.LevelDebug, "execute as", slog.String("actor", q.actor.Label()), slog.String("subject", p.Label()))
	return res, nil
}

// audit records a statement in system.audit_log (see access.Store.Audit).
func (x *Executor) audit(ctx context.Context, q *stmtCtx, action, target string) {
	x.users.Audit(ctx, q.actor, q.p, action, target)
}
