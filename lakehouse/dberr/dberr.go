// Package dberr is Floe's one error type for user-facing failures: a stable
// code from a closed set, a message that says what to fix, and for syntax
// errors the position in the statement text.
//
// Engine packages return *Error for anything a user caused or can act on
// (a missing table, a refused statement, a bad value) and plain wrapped
// errors for internal failures. Only the RPC layer maps codes to wire
// codes (Connect): CodeOf decides, so that one place owns the mapping.
package dberr

import (
	"context"
	"errors"
	"fmt"
)

// Code is a stable Floe error code. Codes are part of the API: clients
// branch on them, so a code's meaning never changes and codes are never
// reused.
type Code string

// The error codes. Each says when it is used.
const (
	// Internal: a failure of Floe itself or its storage; the request may
	// be retried. The message does not expose internals.
	Internal Code = "INTERNAL"
	// SyntaxError: the statement does not parse; Pos says where.
	SyntaxError Code = "SYNTAX_ERROR"
	// PermissionDenied: the principal may not run the statement or touch
	// the object, or the statement is one Floe never runs for users
	// (ATTACH, COPY, SET, file readers, …).
	PermissionDenied Code = "PERMISSION_DENIED"
	// NamespaceNotFound, TableNotFound, ColumnNotFound: a named object does
	// not exist (or is not visible to the principal).
	NamespaceNotFound Code = "NAMESPACE_NOT_FOUND"
	TableNotFound     Code = "TABLE_NOT_FOUND"
	ColumnNotFound    Code = "COLUMN_NOT_FOUND"
	// AlreadyExists: CREATE of an object that exists, without IF NOT EXISTS.
	AlreadyExists Code = "ALREADY_EXISTS"
	// TypeMismatch: a value does not fit its column's type.
	TypeMismatch Code = "TYPE_MISMATCH"
	// NotNullViolation: NULL for a NOT NULL column.
	NotNullViolation Code = "NOT_NULL_VIOLATION"
	// PKViolation: an INSERT of a primary key that exists, or two rows of
	// one statement with the same key.
	PKViolation Code = "PK_VIOLATION"
	// InvalidOption: a WITH (…) option or table definition rule is broken.
	InvalidOption Code = "INVALID_OPTION"
	// InvalidArgument: a parameter or value is malformed (wrong parameter
	// count, a version that does not exist, …).
	InvalidArgument Code = "INVALID_ARGUMENT"
	// NotEmpty: DROP of a namespace that holds tables, without CASCADE.
	NotEmpty Code = "NOT_EMPTY"
	// HasDependents: DROP of a table or view that views read, without
	// CASCADE; the message lists the views. Drop or replace them first, or
	// use CASCADE to drop them too.
	HasDependents Code = "HAS_DEPENDENTS"
	// Unsupported: valid SQL Floe does not (yet) run.
	Unsupported Code = "UNSUPPORTED"
	// Conflict: a concurrent change won; redo the read-modify-write.
	Conflict Code = "CONFLICT"
	// Unavailable: the object store did not answer (after retries), or
	// the node cannot take writes now (full buffer, writer lease not
	// confirmed while the object store does not answer); retry later or
	// elsewhere.
	Unavailable Code = "UNAVAILABLE"
	// Fenced: another node took over the warehouse's writer lease; this
	// node acknowledges no more writes (it reports NOT_SERVING on its
	// health endpoint). Send writes to the current node.
	Fenced Code = "FENCED"
	// Timeout: the statement ran past its deadline.
	Timeout Code = "TIMEOUT"
	// Canceled: the caller cancelled the request.
	Canceled Code = "CANCELED"
	// ViewBroken: a view's dependency was dropped or changed so that the
	// view's query no longer yields its columns; the message names the
	// view and what is missing. Recreate the view (CREATE OR REPLACE VIEW)
	// or drop it.
	ViewBroken Code = "VIEW_BROKEN"
	// Unauthenticated: no or invalid credentials.
	Unauthenticated Code = "UNAUTHENTICATED"
	// RateLimited: too many attempts (logins) from one client; wait and
	// retry.
	RateLimited Code = "RATE_LIMITED"
	// ResourceExhausted: the statement went past a limit of the node
	// (query.max_value_bytes, query.max_result_bytes, query.memory_limit,
	// the process memory budget); the message names the limit. Running it
	// again unchanged fails again: make it smaller (LIMIT, fewer columns,
	// smaller arguments) or ask the operator to raise the limit.
	ResourceExhausted Code = "RESOURCE_EXHAUSTED"
	// Overloaded: the node runs as many statements as it is configured
	// for (the caller's share, query.max_concurrent_per_user, or all of
	// query.max_concurrent with a full queue); nothing ran. Retry with
	// backoff.
	Overloaded Code = "OVERLOADED"
	// CatalogBehind: the request asked for a catalog version
	// (min_catalog_version) newer than any this node can read yet. Retry
	// shortly; the version appears once its commit is visible.
	CatalogBehind Code = "CATALOG_BEHIND"
	// DataLoss: manifest versions the node knows existed are gone from
	// the object store (deleted or lost); Floe refuses to answer from the
	// older version that remains. The operator restores the objects
	// (bucket versioning).
	DataLoss Code = "DATA_LOSS"
	// ReadOnly: this process takes no writes: its role (live) or the
	// warehouse's write mode (a function on a node-mode warehouse) does
	// not let it. The message names the mode; send the write to a process
	// that may (the node, or a function of a direct-mode warehouse).
	ReadOnly Code = "READ_ONLY"
	// OutcomeUnknown: the object store did not confirm whether a commit
	// of this statement landed (its answer was lost, and reading it back
	// failed too). The change may be visible later. Read the affected
	// rows or objects before running the statement again: repeating it
	// blindly may apply it twice.
	OutcomeUnknown Code = "OUTCOME_UNKNOWN"
)

// Codes lists every code above, for documentation and for mappings that
// must cover them all (the API's Connect codes).
var Codes = []Code{Internal, SyntaxError, PermissionDenied, NamespaceNotFound, TableNotFound, ColumnNotFound,
	AlreadyExists, TypeMismatch, NotNullViolation, PKViolation, InvalidOption, InvalidArgument, NotEmpty,
	HasDependents, Unsupported, Conflict, Unavailable, Fenced, Timeout, Canceled, ViewBroken, Unauthenticated, RateLimited,
	ResourceExhausted, Overloaded, CatalogBehind, DataLoss,
	ReadOnly, OutcomeUnknown}

// Error is a user-facing failure.
type Error struct {
	Code Code
	// Msg says what went wrong and what to do; it never holds secrets.
	Msg string
	// Pos is the 1-based line and column in the statement text for syntax
	// errors, zero otherwise.
	Line, Col int
	// Err is an optional cause, kept for errors.Is/As and logs.
	Err error
}

// New returns an Error with a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Wrap returns an Error with a message and a cause.
func Wrap(code Code, err error, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...), Err: err}
}

// At returns a syntax error at a 1-based line and column.
func At(line, col int, format string, args ...any) *Error {
	return &Error{Code: SyntaxError, Msg: fmt.Sprintf(format, args...), Line: line, Col: col}
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s: %s (line %d, column %d)", e.Code, e.Msg, e.Line, e.Col)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Msg)
}

func (e *Error) Unwrap() error { return e.Err }

// CodeOf returns the code of err: the code of the first *Error in its
// chain; Canceled or Timeout for context errors; Internal otherwise.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	switch {
	case errors.Is(err, context.Canceled):
		return Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return Timeout
	}
	return Internal
}

// Position converts a byte offset in text to a 1-based line and column
// (columns count runes).
func Position(text string, offset int) (line, col int) {
	if offset > len(text) {
		offset = len(text)
	}
	line, col = 1, 1
	for _, r := range text[:max(offset, 0)] {
		if r == '\n' {
			line++
			col = 1
			continue
		}
		col++
	}
	return line, col
}
