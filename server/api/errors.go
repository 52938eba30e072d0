package api

import (
	"context"
	"errors"
	"log/slog"

	"connectrpc.com/connect"

	"github.com/floedb/floe/lakehouse/dberr"
	floev1 "github.com/floedb/floe/proto/floe/v1"
)

// connectCodes maps Floe's error codes to Connect codes.
var connectCodes = map[dberr.Code]connect.Code{
	dberr.SyntaxError:       connect.CodeInvalidArgument,
	dberr.InvalidArgument:   connect.CodeInvalidArgument,
	dberr.InvalidOption:     connect.CodeInvalidArgument,
	dberr.TypeMismatch:      connect.CodeInvalidArgument,
	dberr.NotNullViolation:  connect.CodeInvalidArgument,
	dberr.PermissionDenied:  connect.CodePermissionDenied,
	dberr.NamespaceNotFound: connect.CodeNotFound,
	dberr.TableNotFound:     connect.CodeNotFound,
	dberr.ColumnNotFound:    connect.CodeNotFound,
	dberr.AlreadyExists:     connect.CodeAlreadyExists,
	dberr.PKViolation:       connect.CodeAlreadyExists,
	dberr.NotEmpty:          connect.CodeFailedPrecondition,
	dberr.HasDependents:     connect.CodeFailedPrecondition,
	dberr.ViewBroken:        connect.CodeFailedPrecondition,
	dberr.Unsupported:       connect.CodeUnimplemented,
	dberr.Conflict:          connect.CodeAborted,
	dberr.Unavailable:       connect.CodeUnavailable,
	dberr.Fenced:            connect.CodeUnavailable,
	dberr.Timeout:           connect.CodeDeadlineExceeded,
	dberr.Canceled:          connect.CodeCanceled,
	dberr.Unauthenticated:   connect.CodeUnauthenticated,
	dberr.RateLimited:       connect.CodeResourceExhausted,
	dberr.ResourceExhausted: connect.CodeResourceExhausted,
	dberr.Overloaded:        connect.CodeResourceExhausted,
	dberr.CatalogBehind:     connect.CodeUnavailable,
	dberr.DataLoss:          connect.CodeDataLoss,
	dberr.ReadOnly:          connect.CodeFailedPrecondition,
	dberr.OutcomeUnknown:    connect.CodeUnknown,
	dberr.Internal:          connect.CodeInternal,
}

// ConnectCode returns the Connect code of a Floe error code.
func ConnectCode(c dberr.Code) connect.Code {
	if cc, ok := connectCodes[c]; ok {
		return cc
	}
	return connect.CodeInternal
}

// toConnect turns err into a *connect.Error whose details carry an
// ErrorDetail with the Floe code (and the position, and the statements
// completed before the failure). Errors that are not *dberr.Error are
// internal: logged, and answered without their text.
func (s *Server) toConnect(ctx context.Context, err error, completed int) *connect.Error {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce
	}
	var de *dberr.Error
	if !errors.As(err, &de) {
		code := dberr.CodeOf(err)
		if code == dberr.Internal {
			s.log.LogAttrs(ctx, slog.LevelError, "request failed", slog.Any("error", err))
			de = dberr.New(dberr.Internal, "internal error; see the node's log")
		} else {
			de = dberr.New(code, "%s", err.Error())
		}
	}
	out := connect.NewError(ConnectCode(de.Code), errors.New(de.Msg))
	if d, derr := connect.NewErrorDetail(&floev1.ErrorDetail{Code: string(de.Code), Line: int32(de.Line),
		Column: int32(de.Col), StatementsCompleted: int32(completed)}); derr == nil {
		out.AddDetail(d)
	}
	return out
}
