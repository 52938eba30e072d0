package sqlexec

import (
	"strings"
	"time"

	"github.com/floedb/floe/lakehouse/access"

	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/manifest"
)

// defaultKind says how a column's DEFAULT is evaluated: the Floe functions
// are evaluated by the executor per row (DuckDB has no SNOWFLAKE_ID, and
// NOW() must be the node's clock); any other expression is constant SQL
// evaluated by DuckDB.
type defaultKind int

const (
	defaultNone defaultKind = iota
	defaultSQL
	defaultNow
	defaultSnowflake
	defaultUUIDv7
	defaultULID
	defaultCurrentUser
)

// floeDefaults maps the normalized spelling of each Floe default function
// to its kind, and lists the column types it may fill.
var floeDefaults = map[string]struct {
	kind  defaultKind
	types []manifest.Kind
}{
	"NOW()":             {defaultNow, []manifest.Kind{manifest.KindTimestamp, manifest.KindTimestampTZ, manifest.KindDate}},
	"CURRENT_TIMESTAMP": {defaultNow, []manifest.Kind{manifest.KindTimestamp, manifest.KindTimestampTZ, manifest.KindDate}},
	"SNOWFLAKE_ID()":    {defaultSnowflake, []manifest.Kind{manifest.KindBigInt}},
	"UUID_V7()":         {defaultUUIDv7, []manifest.Kind{manifest.KindUUID, manifest.KindText}},
	"ULID()":            {defaultULID, []manifest.Kind{manifest.KindText}},
	"CURRENT_USER()":    {defaultCurrentUser, []manifest.Kind{manifest.KindText}},
	"CURRENT_USER":      {defaultCurrentUser, []manifest.Kind{manifest.KindText}},
}

func normalizeDefault(text string) string {
	return strings.ToUpper(strings.Join(strings.Fields(text), ""))
}

func classifyDefault(text string) defaultKind {
	if strings.TrimSpace(text) == "" {
		return defaultNone
	}
	if d, ok := floeDefaults[normalizeDefault(text)]; ok {
		return d.kind
	}
	return defaultSQL
}

// checkFloeDefault refuses a Floe default function on a column type it
// cannot fill. It returns false for a default that is not a Floe function.
func checkFloeDefault(col manifest.Column) (bool, error) {
	d, ok := floeDefaults[normalizeDefault(col.Default)]
	if !ok {
		return false, nil
	}
	for _, k := range d.types {
		if col.Type.Kind == k {
			return true, nil
		}
	}
	return true, dberr.New(dberr.InvalidOption, "column %s: DEFAULT %s cannot fill a %s column", col.Name, strings.TrimSpace(col.Default), col.Type)
}

// goDefault evaluates a Floe default function for one row.
func (x *Executor) goDefault(k defaultKind, col manifest.Column, p access.Principal, now time.Time) (row.Value, error) {
	switch k {
	case defaultNow:
		if col.Type.Kind == manifest.KindDate {
			return row.Date(int32(now.UTC().Unix() / 86400)), nil
		}
		if col.Type.Kind == manifest.KindTimestampTZ {
			return row.TimestampTZ(now.UnixMicro()), nil
		}
		return row.Timestamp(now.UnixMicro()), nil
	case defaultSnowflake:
		return row.BigInt(x.ids.next()), nil
	case defaultUUIDv7:
		u, err := uuidV7()
		if err != nil {
			return row.Value{}, err
		}
		if col.Type.Kind == manifest.KindText {
			return row.Text(formatUUID(u)), nil
		}
		return row.UUID(u), nil
	case defaultULID:
		s, err := newULID(now)
		if err != nil {
			return row.Value{}, err
		}
		return row.Text(s), nil
	case defaultCurrentUser:
		return row.Text(p.UserID), nil
	}
	return row.Null(), nil
}
