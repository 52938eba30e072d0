package segment_test

import (
	"encoding/hex"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/segment"
	"github.com/floedb/floe/manifest"
)

// randomValue draws a value of type t: an extreme, or a random one.
func randomValue(rng *rand.Rand, t manifest.Type) row.Value {
	if rng.IntN(3) == 0 {
		ex := extremes(t)
		return ex[rng.IntN(len(ex))]
	}
	switch t.Kind {
	case manifest.KindBoolean:
		return row.Bool(rng.IntN(2) == 0)
	case manifest.KindInt:
		return row.Int(int32(rng.Uint32()))
	case manifest.KindBigInt:
		return row.BigInt(int64(rng.Uint64()))
	case manifest.KindFloat:
		return row.Float(float32(rng.NormFloat64() * 1e6))
	case manifest.KindDouble:
		return row.Double(rng.NormFloat64() * 1e12)
	case manifest.KindDecimal:
		digits := []byte{'0'}
		for range rng.IntN(int(t.Precision)) {
			digits = append(digits, byte('0'+rng.IntN(10)))
		}
		n, _ := new(big.Int).SetString(string(digits), 10)
		if rng.IntN(2) == 0 {
			n.Neg(n)
		}
		return decimalOf(n)
	case manifest.KindText, manifest.KindJSON:
		alphabet := []string{"a", "b", "\x00", "é", "日", "\xff", "z"}
		var sb strings.Builder
		for range rng.IntN(90) {
			sb.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		if t.Kind == manifest.KindJSON {
			return row.JSON(sb.String())
		}
		return row.Text(sb.String())
	case manifest.KindBytes:
		b := make([]byte, rng.IntN(100))
		for i := range b {
			b[i] = byte(rng.IntN(4)) * 85
		}
		return row.Bytes(b)
	case manifest.KindDate:
		return row.Date(int32(rng.Uint32()))
	case manifest.KindTimestamp, manifest.KindTimestampTZ:
		return row.Temporal(t.Kind, int64(rng.Uint64()))
	case manifest.KindUUID:
		var u [16]byte
		for i := range u {
			u[i] = byte(rng.Uint32())
		}
		return row.UUID(u)
	}
	panic("no random value for " + t.String())
}

func TestStatsMatchBruteForce(t *testing.T) {
	table := allTypesTable()
	for _, seed := range []uint64{1, 2, 3} {
		rng := rand.New(rand.NewPCG(seed, 99))
		n := 1 + rng.IntN(3000)
		vs := make([]row.Version, n)
		for r := range vs {
			v := row.Version{Seq: uint64(r + 1000), SchemaVersion: 1, Deleted: rng.IntN(10) == 0, Values: make(row.Row, len(table.Columns))}
			v.Values[0] = row.BigInt(int64(r))
			for c := 1; c < len(table.Columns); c++ {
				col := table.Columns[c]
				if v.Deleted || (col.Nullable && rng.IntN(4) == 0) {
					continue
				}
				v.Values[c] = randomValue(rng, col.Type)
			}
			vs[r] = v
		}
		_, info := writeSegment(t, table, vs, segment.WriterOptions{RowGroupRows: 500})
		want := bruteStats(table, expectedRead(table, vs))
		for c, col := range table.Columns {
			got := info.Columns[c]
			if got.ColumnID != col.ID || got.NullCount != want[c].NullCount ||
				!equalPtr(got.Min, want[c].Min) || !equalPtr(got.Max, want[c].Max) {
				t.Errorf("seed %d column %s: stats\n got %s\nwant %s", seed, col.Name, show(got), show(want[c]))
			}
		}
		if info.SeqMin != 1000 || info.SeqMax != uint64(999+n) {
			t.Errorf("seq range %d..%d", info.SeqMin, info.SeqMax)
		}
		// The manifest accepts the statistics (valid UTF-8, counts in range).
		p := manifest.Partition{
			Header:  manifest.Header{FormatVersion: manifest.FormatVersion, Version: 1, CommitID: "c"},
			TableID: table.ID, LastSeq: info.SeqMax,
			Segments: []manifest.Segment{info.Segment("seg/1.parquet")},
		}
		if err := p.Validate(); err != nil {
			t.Errorf("partition with the segment's stats is invalid: %v", err)
		}
	}
}

// bruteStats computes the documented statistics by sorting every value.
func bruteStats(table *manifest.Table, vs []row.Version) []manifest.ColumnStats {
	out := make([]manifest.ColumnStats, len(table.Columns))
	for c, col := range table.Columns {
		cs := manifest.ColumnStats{ColumnID: col.ID}
		var vals []row.Value
		nan := false
		for _, v := range vs {
			x := v.Values[c]
			switch {
			case x.IsNull():
				cs.NullCount++
			case (col.Type.Kind == manifest.KindFloat || col.Type.Kind == manifest.KindDouble) && math.IsNaN(x.Float64()):
				nan = true
			default:
				vals = append(vals, x)
			}
		}
		slices.SortFunc(vals, row.Compare)
		if len(vals) > 0 {
			lo, hi := vals[0], vals[len(vals)-1]
			switch col.Type.Kind {
			case manifest.KindText, manifest.KindJSON:
				// Longest prefix of whole, valid characters within 64 bytes.
				var pre strings.Builder
				for _, r := range lo.Str() {
					if r == utf8.RuneError || pre.Len()+utf8.RuneLen(r) > 64 {
						break
					}
					pre.WriteRune(r)
				}
				cs.Min = ptr(pre.String())
				if len(hi.Str()) <= 64 && utf8.ValidString(hi.Str()) {
					cs.Max = ptr(hi.Str())
				}
			case manifest.KindBytes:
				cs.Min = ptr(hex.EncodeToString([]byte(lo.Str()[:min(64, len(lo.Str()))])))
				if len(hi.Str()) <= 64 {
					cs.Max = ptr(hex.EncodeToString([]byte(hi.Str())))
				}
			default:
				cs.Min = ptr(mustFormat(col.Type, lo))
				if !nan {
					cs.Max = ptr(mustFormat(col.Type, hi))
				}
			}
		}
		out[c] = cs
	}
	return out
}

func mustFormat(t manifest.Type, v row.Value) string {
	s, err := segment.FormatStatValue(t, v)
	if err != nil {
		panic(err)
	}
	return s
}

func ptr(s string) *string { return &s }

func equalPtr(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func show(cs manifest.ColumnStats) string {
	f := func(p *string) string {
		if p == nil {
			return "nil"
		}
		return "\"" + *p + "\""
	}
	return "min " + f(cs.Min) + " max " + f(cs.Max) + " nulls " + big.NewInt(cs.NullCount).String()
}

func TestStatsEdgeCases(t *testing.T) {
	long := strings.Repeat("é", 40) // 80 bytes
	cases := []struct {
		name     string
		typ      manifest.Type
		vals     []row.Value
		min, max *string
		nulls    int64
	}{
		{"only NULLs", manifest.Int, []row.Value{row.Null(), row.Null()}, nil, nil, 2},
		{"NaN is not a bound", manifest.Double, []row.Value{row.Double(math.NaN()), row.Double(2), row.Double(-1)}, ptr("-1"), nil, 0},
		{"only NaN", manifest.Float, []row.Value{row.Float(float32(math.NaN()))}, nil, nil, 0},
		{"-0 below +0", manifest.Double, []row.Value{row.Double(0), row.Double(math.Copysign(0, -1))}, ptr("-0"), ptr("0"), 0},
		{"infinities", manifest.Float, []row.Value{row.Float(float32(math.Inf(1))), row.Float(float32(math.Inf(-1)))}, ptr("-Inf"), ptr("+Inf"), 0},
		{"long text min is cut on a character", manifest.Text, []row.Value{row.Text(long), row.Text(long + "z")},
			ptr(strings.Repeat("é", 32)), nil, 0},
		{"text of exactly 64 bytes is kept", manifest.Text, []row.Value{row.Text(strings.Repeat("a", 64))},
			ptr(strings.Repeat("a", 64)), ptr(strings.Repeat("a", 64)), 0},
		{"invalid UTF-8 is cut from min and drops max", manifest.Text, []row.Value{row.Text("ab\xffcd")}, ptr("ab"), nil, 0},
		{"empty string", manifest.Text, []row.Value{row.Text(""), row.Text("")}, ptr(""), ptr(""), 0},
		{"NUL bytes", manifest.Text, []row.Value{row.Text("a\x00"), row.Text("a")}, ptr("a"), ptr("a\x00"), 0},
		{"long bytes", manifest.Bytes, []row.Value{row.Bytes(make([]byte, 100))}, ptr(strings.Repeat("00", 64)), nil, 0},
		{"decimal", manifest.Decimal(10, 2), []row.Value{row.DecimalFromInt64(-5), row.DecimalFromInt64(12345)}, ptr("-0.05"), ptr("123.45"), 0},
		{"decimal 38", manifest.Decimal(38, 0), []row.Value{maxDecimal(38, true), maxDecimal(38, false)},
			ptr("-" + strings.Repeat("9", 38)), ptr(strings.Repeat("9", 38)), 0},
		{"uuid", manifest.UUID, []row.Value{row.UUID([16]byte{0xff}), row.UUID([16]byte{1})},
			ptr("01000000000000000000000000000000"), ptr("ff000000000000000000000000000000"), 0},
		{"timestamp", manifest.Timestamp, []row.Value{row.Timestamp(math.MinInt64), row.Null()}, ptr("-9223372036854775808"), ptr("-9223372036854775808"), 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			table := &manifest.Table{ID: "s", Namespace: "n", Name: "s", SchemaVersion: 1,
				Columns: []manifest.Column{{ID: 4, Name: "c", Type: tc.typ, Nullable: true}}}
			var vs []row.Version
			for i, v := range tc.vals {
				vs = append(vs, row.Version{Seq: uint64(i + 1), SchemaVersion: 1, Values: row.Row{v}})
			}
			_, info := writeSegment(t, table, vs, segment.WriterOptions{})
			got := info.Columns[0]
			if got.ColumnID != 4 || got.NullCount != tc.nulls || !equalPtr(got.Min, tc.min) || !equalPtr(got.Max, tc.max) {
				t.Errorf("got %s, want %s", show(got), show(manifest.ColumnStats{Min: tc.min, Max: tc.max, NullCount: tc.nulls}))
			}
		})
	}
}

func TestStatValueRoundTrip(t *testing.T) {
	types := []manifest.Type{manifest.Boolean, manifest.Int, manifest.BigInt, manifest.Float, manifest.Double,
		manifest.Decimal(9, 2), manifest.Decimal(18, 18), manifest.Decimal(38, 0), manifest.Decimal(38, 37), manifest.Decimal(1, 0),
		manifest.Text, manifest.JSON, manifest.Bytes, manifest.Date, manifest.Timestamp, manifest.TimestampTZ, manifest.UUID}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, typ := range types {
		vals := append(extremes(typ), randomValue(rng, typ), randomValue(rng, typ))
		for _, v := range vals {
			if typ.Kind == manifest.KindDecimal && v.Check(typ) != nil {
				continue
			}
			s, err := segment.FormatStatValue(typ, v)
			if err != nil {
				t.Fatalf("%s %v: %v", typ, v, err)
			}
			back, err := segment.ParseStatValue(typ, s)
			if err != nil {
				t.Fatalf("%s: parse %q: %v", typ, s, err)
			}
			if back != v && !(typ.Kind >= manifest.KindFloat && typ.Kind <= manifest.KindDouble && math.IsNaN(v.Float64())) {
				t.Errorf("%s: %v -> %q -> %v", typ, v, s, back)
			}
		}
	}
	for _, tc := range []struct {
		typ manifest.Type
		s   string
	}{
		{manifest.Decimal(5, 2), "1.234"}, {manifest.Decimal(5, 2), "1234.5"}, {manifest.Decimal(5, 2), "+1"},
		{manifest.Decimal(5, 2), ".5"}, {manifest.Decimal(5, 2), "1e3"}, {manifest.Int, "2147483648"},
		{manifest.UUID, "00"}, {manifest.Bytes, "zz"}, {manifest.Boolean, "1"},
	} {
		if _, err := segment.ParseStatValue(tc.typ, tc.s); err == nil {
			t.Errorf("ParseStatValue(%s, %q) accepted", tc.typ, tc.s)
		}
	}
	if got, _ := segment.FormatStatValue(manifest.Decimal(10, 3), row.DecimalFromInt64(-1)); got != "-0.001" {
		t.Errorf("DECIMAL(10,3) -1 = %q", got)
	}
	if got, _ := segment.FormatStatValue(manifest.Decimal(10, 0), row.DecimalFromInt64(-120)); got != "-120" {
		t.Errorf("DECIMAL(10,0) -120 = %q", got)
	}
	if _, err := segment.FormatStatValue(manifest.Int, row.BigInt(1)); err == nil {
		t.Error("formatted a BIGINT as INT")
	}
}
