package appctx

import "log/slog"

// NodeID names one Floe process. It is loaded once from the configuration
// by New and reached only through AppContext.NodeID: no other code creates
// one (TestNodeIDIsOnlyMadeByAppContext enforces this), so every log line,
// job record and live-query row of a process carries the same value.
//
// The zero NodeID is not a valid id; it exists only as a zero value.
type NodeID struct {
	id string
}

// String returns the id as configured.
func (n NodeID) String() string { return n.id }

// IsZero reports whether n is the zero value.
func (n NodeID) IsZero() bool { return n.id == "" }

// LogValue implements slog.LogValuer.
func (n NodeID) LogValue() slog.Value { return slog.StringValue(n.id) }
