package api

import (
	"context"

	"connectrpc.com/connect"

	"github.com/floedb/floe/lakehouse/auth"
	"github.com/floedb/floe/proto/floe/v1/floev1connect"
)

// public are the procedures that need no token.
var public = map[string]bool{
	floev1connect.AuthServiceLoginProcedure:   true,
	floev1connect.AuthServiceRefreshProcedure: true,
}

type identityKey struct{}

// identityOf returns the caller verified by the interceptor.
func identityOf(ctx context.Context) (auth.Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(auth.Identity)
	return id, ok
}

// authInterceptor verifies the bearer token of every non-public call and
// puts the identity in the context. It fails closed: a handler without an
// identity in its context refuses to run.
type authInterceptor struct{ s *Server }

func (a *authInterceptor) authenticate(ctx context.Context, procedure, header string) (context.Context, error) {
	if public[procedure] {
		return ctx, nil
	}
	tok, err := auth.BearerToken(header)
	if err != nil {
		return nil, a.s.toConnect(ctx, err, 0)
	}
	id, err := a.s.auth.Verify(ctx, tok)
	if err != nil {
		return nil, a.s.toConnect(ctx, err, 0)
	}
	return context.WithValue(ctx, identityKey{}, id), nil
}

func (a *authInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		ctx, err := a.authenticate(ctx, req.Spec().Procedure, req.Header().Get("Authorization"))
		if err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (a *authInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (a *authInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		ctx, err := a.authenticate(ctx, conn.Spec().Procedure, conn.RequestHeader().Get("Authorization"))
		if err != nil {
			return err
		}
		return next(ctx, conn)
	}
}
