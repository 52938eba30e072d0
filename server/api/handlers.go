package api

import (
	"context"
	"log/slog"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/floedb/floe/lakehouse/auth"
	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/sqlexec"
	floev1 "github.com/floedb/floe/proto/floe/v1"
)

// caller returns the verified identity or an Unauthenticated error.
func (s *Server) caller(ctx context.Context) (auth.Identity, error) {
	id, ok := identityOf(ctx)
	if !ok {
		return auth.Identity{}, s.toConnect(ctx, dberr.New(dberr.Unauthenticated, "no authenticated caller"), 0)
	}
	return id, nil
}

type queryHandler struct{ s *Server }

// ExecuteSQL runs the request's statements as the caller.
func (h queryHandler) ExecuteSQL(ctx context.Context, req *connect.Request[floev1.ExecuteSQLRequest]) (*connect.Response[floev1.ExecuteSQLResponse], error) {
	s := h.s
	start := s.clock()
	id, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	format := m.GetFormat()
	switch format {
	case floev1.ResultFormat_RESULT_FORMAT_UNSPECIFIED, floev1.ResultFormat_RESULT_FORMAT_ROWS, floev1.ResultFormat_RESULT_FORMAT_ARROW_IPC:
	default:
		return nil, s.toConnect(ctx, dberr.New(dberr.InvalidArgument, "unknown result format %d", format), 0)
	}
	params, err := paramValues(m.GetParams())
	if err != nil {
		return nil, s.toConnect(ctx, err, 0)
	}
	results, err := s.exec.Execute(ctx, id.Principal(), sqlexec.Request{SQL: m.GetSql(), Params: params,
		Namespace: m.GetNamespace(), MinCatalogVersion: m.GetMinCatalogVersion()})
	if err != nil {
		return nil, s.toConnect(ctx, err, len(results))
	}
	out := &floev1.ExecuteSQLResponse{Results: make([]*floev1.StatementResult, len(results))}
	for i, r := range results {
		sr, err := statementResult(r, format)
		if err != nil {
			return nil, s.toConnect(ctx, err, len(results))
		}
		out.Results[i] = sr
		out.Namespace = r.Namespace
	}
	out.TookMicros = s.clock().Sub(start).Microseconds()
	return connect.NewResponse(out), nil
}

// statementResult encodes one result.
func statementResult(r sqlexec.Result, format floev1.ResultFormat) (*floev1.StatementResult, error) {
	sr := &floev1.StatementResult{Message: r.Message, AsUser: r.AsUser, RowsAffected: r.RowsAffected, RowCount: int64(len(r.Rows))}
	for _, c := range r.Columns {
		sr.Columns = append(sr.Columns, &floev1.Column{Name: c.Name, Type: c.Type, Nullable: c.Nullable})
	}
	if format == floev1.ResultFormat_RESULT_FORMAT_ARROW_IPC {
		if len(r.Columns) > 0 {
			b, err := arrowIPC(r)
			if err != nil {
				return nil, err
			}
			sr.ArrowIpc = b
		}
		return sr, nil
	}
	sr.Rows = make([]*structpb.ListValue, len(r.Rows))
	for i, row := range r.Rows {
		l := &structpb.ListValue{Values: make([]*structpb.Value, len(row))}
		for j, v := range row {
			typ := ""
			if j < len(r.Columns) {
				typ = r.Columns[j].Type
			}
			pv, err := resultValue(v, typ)
			if err != nil {
				return nil, err
			}
			l.Values[j] = pv
		}
		sr.Rows[i] = l
	}
	return sr, nil
}

type authHandler struct{ s *Server }

// limitLogins refuses a login attempt beyond the client's rate.
func (s *Server) limitLogins(ctx context.Context, peer connect.Peer) error {
	if s.logins.allow(peer.Addr, s.clock()) {
		return nil
	}
	s.log.LogAttrs(ctx, slog.LevelWarn, "login attempts rate-limited", slog.String("client", peer.Addr))
	return s.toConnect(ctx, dberr.New(dberr.RateLimited, "too many login attempts from this address; wait a few seconds and try again"), 0)
}

func (h authHandler) Login(ctx context.Context, req *connect.Request[floev1.LoginRequest]) (*connect.Response[floev1.LoginResponse], error) {
	if err := h.s.limitLogins(ctx, req.Peer()); err != nil {
		return nil, err
	}
	m := req.Msg
	if m.GetUser() == "" || m.GetPassword() == "" {
		return nil, h.s.toConnect(ctx, dberr.New(dberr.InvalidArgument, "user and password are required"), 0)
	}
	t, err := h.s.auth.Login(ctx, m.GetUser(), m.GetPassword(), req.Peer().Addr)
	if err != nil {
		return nil, h.s.toConnect(ctx, err, 0)
	}
	return connect.NewResponse(&floev1.LoginResponse{AccessToken: t.Access, RefreshToken: t.Refresh,
		ExpiresAt: timestamppb.New(t.ExpiresAt), User: t.User, Role: string(t.Role)}), nil
}

func (h authHandler) Refresh(ctx context.Context, req *connect.Request[floev1.RefreshRequest]) (*connect.Response[floev1.RefreshResponse], error) {
	if err := h.s.limitLogins(ctx, req.Peer()); err != nil {
		return nil, err
	}
	if req.Msg.GetRefreshToken() == "" {
		return nil, h.s.toConnect(ctx, dberr.New(dberr.InvalidArgument, "refresh_token is required"), 0)
	}
	t, err := h.s.auth.Refresh(ctx, req.Msg.GetRefreshToken())
	if err != nil {
		return nil, h.s.toConnect(ctx, err, 0)
	}
	return connect.NewResponse(&floev1.RefreshResponse{AccessToken: t.Access, RefreshToken: t.Refresh,
		ExpiresAt: timestamppb.New(t.ExpiresAt), User: t.User, Role: string(t.Role)}), nil
}

func (h authHandler) WhoAmI(ctx context.Context, _ *connect.Request[floev1.WhoAmIRequest]) (*connect.Response[floev1.WhoAmIResponse], error) {
	id, err := h.s.caller(ctx)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&floev1.WhoAmIResponse{User: id.User, Role: string(id.Role), ExpiresAt: timestamppb.New(id.ExpiresAt)}), nil
}
