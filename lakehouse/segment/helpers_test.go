package segment_test

import (
	"bytes"
	"iter"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/segment"
	"github.com/floedb/floe/manifest"
)

// allTypesTable has a column of every type, nullable and NOT NULL, with a
// BIGINT primary key.
func allTypesTable() *manifest.Table {
	cols := []manifest.Column{
		{ID: 1, Name: "id", Type: manifest.BigInt},
		{ID: 2, Name: "b", Type: manifest.Boolean, Nullable: true},
		{ID: 3, Name: "i", Type: manifest.Int, Nullable: true},
		{ID: 4, Name: "bi", Type: manifest.BigInt, Nullable: true},
		{ID: 5, Name: "f", Type: manifest.Float, Nullable: true},
		{ID: 6, Name: "d", Type: manifest.Double, Nullable: true},
		{ID: 7, Name: "dec9", Type: manifest.Decimal(9, 2), Nullable: true},
		{ID: 8, Name: "dec18", Type: manifest.Decimal(18, 4), Nullable: true},
		{ID: 9, Name: "dec38", Type: manifest.Decimal(38, 10), Nullable: true},
		{ID: 10, Name: "t", Type: manifest.Text, Nullable: true},
		{ID: 11, Name: "j", Type: manifest.JSON, Nullable: true},
		{ID: 12, Name: "by", Type: manifest.Bytes, Nullable: true},
		{ID: 13, Name: "dt", Type: manifest.Date, Nullable: true},
		{ID: 14, Name: "ts", Type: manifest.Timestamp, Nullable: true},
		{ID: 15, Name: "u", Type: manifest.UUID, Nullable: true},
		{ID: 16, Name: "nn_b", Type: manifest.Boolean},
		{ID: 17, Name: "nn_i", Type: manifest.Int},
		{ID: 18, Name: "nn_f", Type: manifest.Float},
		{ID: 19, Name: "nn_d", Type: manifest.Double},
		{ID: 20, Name: "nn_dec9", Type: manifest.Decimal(9, 0)},
		{ID: 21, Name: "nn_dec38", Type: manifest.Decimal(38, 0)},
		{ID: 22, Name: "nn_t", Type: manifest.Text},
		{ID: 23, Name: "nn_by", Type: manifest.Bytes},
		{ID: 24, Name: "nn_dt", Type: manifest.Date},
		{ID: 25, Name: "nn_ts", Type: manifest.Timestamp},
		{ID: 26, Name: "nn_u", Type: manifest.UUID},
		{ID: 27, Name: "nn_j", Type: manifest.JSON},
		{ID: 28, Name: "tstz", Type: manifest.TimestampTZ, Nullable: true},
	}
	return &manifest.Table{
		ID: "tbl_all", Namespace: "app", Name: "all_types", Type: manifest.TableShared,
		Columns: cols, PrimaryKey: []string{"id"}, SchemaVersion: 1, NextColumnID: 28,
	}
}

// decimalOf returns the DECIMAL value with unscaled value n.
func decimalOf(n *big.Int) row.Value {
	mod := new(big.Int).Lsh(big.NewInt(1), 128)
	u := new(big.Int).Mod(n, mod)
	lo := new(big.Int).And(u, new(big.Int).SetUint64(math.MaxUint64)).Uint64()
	hi := int64(new(big.Int).Rsh(u, 64).Uint64())
	return row.Decimal(hi, lo)
}

// maxDecimal returns ±(10^p - 1).
func maxDecimal(p int, neg bool) row.Value {
	n := new(big.Int).Sub(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(p)), nil), big.NewInt(1))
	if neg {
		n.Neg(n)
	}
	return decimalOf(n)
}

// extremes returns interesting values of type t.
func extremes(t manifest.Type) []row.Value {
	f32 := func(fs ...float32) (out []row.Value) {
		for _, f := range fs {
			out = append(out, row.Float(f))
		}
		return out
	}
	f64 := func(fs ...float64) (out []row.Value) {
		for _, f := range fs {
			out = append(out, row.Double(f))
		}
		return out
	}
	negZero := math.Copysign(0, -1)
	switch t.Kind {
	case manifest.KindBoolean:
		return []row.Value{row.Bool(false), row.Bool(true)}
	case manifest.KindInt:
		return []row.Value{row.Int(math.MinInt32), row.Int(math.MaxInt32), row.Int(0), row.Int(-1)}
	case manifest.KindBigInt:
		return []row.Value{row.BigInt(math.MinInt64), row.BigInt(math.MaxInt64), row.BigInt(0), row.BigInt(-7)}
	case manifest.KindFloat:
		return f32(float32(negZero), 0, float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)),
			math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, 1.5)
	case manifest.KindDouble:
		return f64(negZero, 0, math.NaN(), math.Inf(1), math.Inf(-1), math.MaxFloat64, -math.MaxFloat64,
			math.SmallestNonzeroFloat64, -2.25)
	case manifest.KindDecimal:
		p := int(t.Precision)
		return []row.Value{maxDecimal(p, false), maxDecimal(p, true), row.DecimalFromInt64(0),
			row.DecimalFromInt64(-1), row.DecimalFromInt64(12345)}
	case manifest.KindText, manifest.KindJSON:
		mk := row.Text
		if t.Kind == manifest.KindJSON {
			mk = row.JSON
		}
		return []row.Value{mk(""), mk("a\x00b"), mk("日本語テキスト"), mk(strings.Repeat("x", 1000)), mk("\x00"),
			mk(`{"k":[1,2,{"z":null}]}`), mk(strings.Repeat("é", 40))}
	case manifest.KindBytes:
		return []row.Value{row.Bytes(nil), row.Bytes([]byte{0, 0xff, 0}), row.Bytes(bytes.Repeat([]byte{0xab}, 200)),
			row.Bytes([]byte{0xff})}
	case manifest.KindDate:
		return []row.Value{row.Date(math.MinInt32), row.Date(math.MaxInt32), row.Date(0), row.Date(19000)}
	case manifest.KindTimestamp, manifest.KindTimestampTZ:
		return []row.Value{row.Temporal(t.Kind, math.MinInt64), row.Temporal(t.Kind, math.MaxInt64), row.Temporal(t.Kind, 0),
			row.Temporal(t.Kind, 1_700_000_000_123_456)}
	case manifest.KindUUID:
		var zero, ones, mixed [16]byte
		for i := range ones {
			ones[i] = 0xff
			mixed[i] = byte(i * 17)
		}
		return []row.Value{row.UUID(zero), row.UUID(ones), row.UUID(mixed)}
	}
	panic("no extremes for " + t.String())
}

// extremeVersions builds n versions of table (which must have a BIGINT
// key "id" first): every column cycles through its extremes, nullable
// columns are NULL every 7th row, and every 5th row is a tombstone.
func extremeVersions(table *manifest.Table, n int) []row.Version {
	out := make([]row.Version, n)
	seqs := rand.New(rand.NewPCG(1, 2)).Perm(n)
	for r := range n {
		v := row.Version{Seq: uint64(seqs[r] + 1), SchemaVersion: table.SchemaVersion, Deleted: r%5 == 4}
		v.Values = make(row.Row, len(table.Columns))
		v.Values[0] = row.BigInt(int64(r*3 - n))
		for c := 1; c < len(table.Columns); c++ {
			col := table.Columns[c]
			switch {
			case v.Deleted:
			case col.Nullable && (r+c)%7 == 0:
			default:
				ex := extremes(col.Type)
				v.Values[c] = ex[(r+c)%len(ex)]
			}
		}
		out[r] = v
	}
	return out
}

// seqOf adapts a slice to the iterator Write takes.
func seqOf(vs []row.Version) iter.Seq2[row.Version, error] {
	return func(yield func(row.Version, error) bool) {
		for _, v := range vs {
			if !yield(v, nil) {
				return
			}
		}
	}
}

// writeSegment writes vs and fails the test on error.
func writeSegment(t testing.TB, table *manifest.Table, vs []row.Version, opts segment.WriterOptions) ([]byte, segment.Info) {
	t.Helper()
	var buf bytes.Buffer
	info, err := segment.Write(&buf, table, seqOf(vs), opts)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if info.Bytes != int64(buf.Len()) {
		t.Fatalf("Info.Bytes = %d, wrote %d", info.Bytes, buf.Len())
	}
	return buf.Bytes(), info
}

// readAll opens data under table and returns every version.
func readAll(t testing.TB, data []byte, table *manifest.Table) []row.Version {
	t.Helper()
	rd, err := segment.Open(bytes.NewReader(data), int64(len(data)), "test.parquet", table)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	var out []row.Version
	for v, err := range rd.Versions() {
		if err != nil {
			t.Fatalf("Versions: %v", err)
		}
		out = append(out, v)
	}
	if int64(len(out)) != rd.NumRows() {
		t.Fatalf("read %d versions, NumRows says %d", len(out), rd.NumRows())
	}
	return out
}

// expectedRead is what reading vs back yields: tombstones keep only their
// key columns.
func expectedRead(table *manifest.Table, vs []row.Version) []row.Version {
	out := make([]row.Version, len(vs))
	for i, v := range vs {
		v.Values = slices.Clone(v.Values)
		if v.Deleted {
			for c, col := range table.Columns {
				if !slices.Contains(table.PrimaryKey, col.Name) {
					v.Values[c] = row.Null()
				}
			}
		}
		out[i] = v
	}
	return out
}

func equalVersions(t *testing.T, got, want []row.Version) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d versions, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Seq != w.Seq || g.Deleted != w.Deleted || g.SchemaVersion != w.SchemaVersion || !g.Values.Equal(w.Values) {
			t.Fatalf("version %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}
