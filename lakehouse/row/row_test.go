package row

import (
	"bytes"
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/floedb/floe/manifest"
)

// samples returns values of every kind, including the edges, each with its
// column type.
func samples() []struct {
	t manifest.Type
	v []Value
} {
	u1, u2 := [16]byte{}, [16]byte{0: 1, 15: 0xff}
	return []struct {
		t manifest.Type
		v []Value
	}{
		{manifest.Boolean, []Value{Bool(false), Bool(true)}},
		{manifest.Int, []Value{Int(math.MinInt32), Int(-1), Int(0), Int(1), Int(math.MaxInt32)}},
		{manifest.BigInt, []Value{BigInt(math.MinInt64), BigInt(-1), BigInt(0), BigInt(7), BigInt(math.MaxInt64)}},
		{manifest.Float, []Value{Float(float32(math.Inf(-1))), Float(-1.5), Float(0), Float(2.25), Float(float32(math.Inf(1)))}},
		{manifest.Double, []Value{Double(math.Inf(-1)), Double(-math.MaxFloat64), Double(math.Copysign(0, -1)), Double(0), Double(math.SmallestNonzeroFloat64), Double(math.Inf(1)), Double(math.NaN())}},
		{manifest.Decimal(38, 2), []Value{Decimal(math.MinInt64/2, 0), DecimalFromInt64(-100), DecimalFromInt64(0), DecimalFromInt64(12345), Decimal(math.MaxInt64/2, math.MaxUint64)}},
		{manifest.Text, []Value{Text(""), Text("\x00"), Text("\x00\x00a"), Text("a"), Text("a\x00"), Text("ab"), Text("é")}},
		{manifest.Bytes, []Value{Bytes(nil), Bytes([]byte{0}), Bytes([]byte{0, 0xff}), Bytes([]byte{1})}},
		{manifest.JSON, []Value{JSON(`{}`), JSON(`{"a":1}`)}},
		{manifest.UUID, []Value{UUID(u1), UUID(u2)}},
		{manifest.Date, []Value{Date(math.MinInt32), Date(0), Date(20000)}},
		{manifest.Timestamp, []Value{Timestamp(math.MinInt64), Timestamp(0), Timestamp(1_700_000_000_000_000)}},
		{manifest.TimestampTZ, []Value{TimestampTZ(math.MinInt64), TimestampTZ(0), TimestampTZ(1_700_000_000_000_000)}},
	}
}

// Key encodings sort exactly like the values, for every kind.
func TestKeyOrderMatchesValueOrder(t *testing.T) {
	for _, s := range samples() {
		t.Run(s.t.String(), func(t *testing.T) {
			vals := append([]Value{Null()}, s.v...)
			for i, a := range vals {
				for _, b := range vals[i:] {
					ka, kb := AppendKey(nil, a), AppendKey(nil, b)
					if got, want := bytes.Compare(ka, kb), Compare(a, b); got != want {
						t.Errorf("Compare(%v, %v) = %d but keys compare %d", a, b, want, got)
					}
				}
				back, rest, err := DecodeKey(AppendKey(nil, a), []manifest.Type{s.t})
				if err != nil || len(rest) != 0 || !back[0].Equal(a) {
					t.Errorf("DecodeKey(%v) = %v, rest %x, %v", a, back, rest, err)
				}
			}
		})
	}
}

// Composite keys: no encoding is a prefix of another and tuples sort
// lexicographically.
func TestCompositeKeyOrder(t *testing.T) {
	types := []manifest.Type{manifest.Text, manifest.BigInt}
	var tuples []Row
	for _, s := range []string{"", "\x00", "a", "a\x00", "ab"} {
		for _, n := range []int64{-5, 0, 5} {
			tuples = append(tuples, Row{Text(s), BigInt(n)})
		}
	}
	cmpTuple := func(a, b Row) int {
		for i := range a {
			if c := Compare(a[i], b[i]); c != 0 {
				return c
			}
		}
		return 0
	}
	for _, a := range tuples {
		for _, b := range tuples {
			ka, kb := AppendKey(nil, a...), AppendKey(nil, b...)
			if bytes.Compare(ka, kb) != cmpTuple(a, b) {
				t.Errorf("tuples %v %v: key order %d, value order %d", a, b, bytes.Compare(ka, kb), cmpTuple(a, b))
			}
			if !slices.Equal(ka, kb) && (bytes.HasPrefix(ka, kb) || bytes.HasPrefix(kb, ka)) {
				t.Errorf("key of %v is a prefix of key of %v", a, b)
			}
		}
		got, rest, err := DecodeKey(append(AppendKey(nil, a...), 0xAB), types)
		if err != nil || !got.Equal(a) || !bytes.Equal(rest, []byte{0xAB}) {
			t.Errorf("DecodeKey(%v) = %v rest %x err %v", a, got, rest, err)
		}
	}
}

func TestVersionRoundTrip(t *testing.T) {
	var all Row
	for _, s := range samples() {
		all = append(all, s.v...)
		all = append(all, Null())
	}
	for _, v := range []Version{
		{Seq: 1, SchemaVersion: 1, Values: all},
		{Seq: math.MaxUint64, Deleted: true, SchemaVersion: math.MaxUint32, Values: Row{BigInt(3), Null()}},
		{Seq: 9, SchemaVersion: 2, Values: Row{}},
	} {
		enc := AppendVersion([]byte("prefix"), v)
		got, err := DecodeVersion(enc[len("prefix"):])
		if err != nil {
			t.Fatalf("DecodeVersion: %v", err)
		}
		if got.Seq != v.Seq || got.Deleted != v.Deleted || got.SchemaVersion != v.SchemaVersion || !got.Values.Equal(v.Values) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, v)
		}
	}
}

func TestDecodeVersionRejectsCorruption(t *testing.T) {
	enc := AppendVersion(nil, Version{Seq: 5, SchemaVersion: 1, Values: Row{BigInt(1), Text("hello"), UUID([16]byte{1}), Null()}})
	for i := 0; i < len(enc); i++ {
		if _, err := DecodeVersion(enc[:i]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("truncated to %d bytes: err = %v, want ErrCorrupt", i, err)
		}
	}
	if _, err := DecodeVersion(append(slices.Clone(enc), 0)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("trailing byte accepted: %v", err)
	}
	bad := slices.Clone(enc)
	bad[0] = 9
	if _, err := DecodeVersion(bad); !errors.Is(err, ErrCorrupt) {
		t.Errorf("unknown format accepted: %v", err)
	}
}

func TestCheck(t *testing.T) {
	cases := []struct {
		v    Value
		t    manifest.Type
		fail bool
	}{
		{Null(), manifest.Int, false},
		{Int(5), manifest.Int, false},
		{BigInt(5), manifest.Int, true},
		{Value{kind: manifest.KindInt, n: math.MaxInt32 + 1}, manifest.Int, true},
		{Text("x"), manifest.JSON, true},
		{Value{kind: manifest.KindUUID, s: "short"}, manifest.UUID, true},
		{DecimalFromInt64(99999), manifest.Decimal(5, 2), false},
		{DecimalFromInt64(100000), manifest.Decimal(5, 2), true},
		{DecimalFromInt64(-99999), manifest.Decimal(5, 2), false},
		{DecimalFromInt64(-100000), manifest.Decimal(5, 2), true},
		{Decimal(math.MaxInt64, math.MaxUint64), manifest.Decimal(38, 0), true},
		{Decimal(0x4b3b4ca85a86c47a, 0x98a223fffffffff), manifest.Decimal(38, 0), false},   // 10^38-1
		{Decimal(0x4b3b4ca85a86c47a, 0x98a224000000000), manifest.Decimal(38, 0), true},    // 10^38
		{Decimal(-0x4b3b4ca85a86c47b, 0xf675ddc000000001), manifest.Decimal(38, 0), false}, // -(10^38-1)
		{Decimal(-0x4b3b4ca85a86c47b, 0xf675ddc000000000), manifest.Decimal(38, 0), true},  // -10^38
	}
	for _, tc := range cases {
		if err := tc.v.Check(tc.t); (err != nil) != tc.fail {
			t.Errorf("%v.Check(%s) = %v, want fail=%v", tc.v, tc.t, err, tc.fail)
		}
	}
}

// Random tuples: key order equals value order (property test).
func TestKeyOrderRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	gen := func() Row {
		return Row{BigInt(r.Int64N(5) - 2), Text(string([]byte{byte(r.IntN(3)), byte(r.IntN(3))})[:r.IntN(3)]), Double(float64(r.IntN(5)) - 2)}
	}
	for i := 0; i < 5000; i++ {
		a, b := gen(), gen()
		want := 0
		for j := range a {
			if c := Compare(a[j], b[j]); c != 0 {
				want = c
				break
			}
		}
		if got := bytes.Compare(AppendKey(nil, a...), AppendKey(nil, b...)); got != want {
			t.Fatalf("%v vs %v: key %d, values %d", a, b, got, want)
		}
	}
}

func FuzzDecodeVersion(f *testing.F) {
	f.Add(AppendVersion(nil, Version{Seq: 5, SchemaVersion: 1, Values: Row{BigInt(1), Text("hello"), Null(), Double(1.5)}}))
	f.Add(AppendVersion(nil, Version{Seq: 1, Deleted: true, Values: Row{UUID([16]byte{9}), DecimalFromInt64(-3)}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeVersion(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error without ErrCorrupt: %v", err)
			}
			return
		}
		again, err := DecodeVersion(AppendVersion(nil, v))
		if err != nil || again.Seq != v.Seq || !again.Values.Equal(v.Values) {
			t.Fatalf("re-encoding does not round trip: %v", err)
		}
	})
}

func FuzzDecodeKey(f *testing.F) {
	types := []manifest.Type{manifest.Text, manifest.BigInt, manifest.Double}
	f.Add(AppendKey(nil, Text("a\x00b"), BigInt(-4), Double(2)))
	f.Fuzz(func(t *testing.T, b []byte) {
		vals, rest, err := DecodeKey(b, types)
		if err != nil {
			return
		}
		if enc := AppendKey(nil, vals...); !bytes.Equal(append(enc, rest...), b) {
			t.Fatalf("DecodeKey accepted a non-canonical key %x (re-encodes to %x)", b, enc)
		}
	})
}

func TestDecimalBigRoundTrip(t *testing.T) {
	for _, s := range []string{"0", "1", "-1", "12345678901234567890123", "-12345678901234567890123",
		"170141183460469231731687303715884105727", "-170141183460469231731687303715884105728"} {
		b, _ := new(big.Int).SetString(s, 10)
		v, ok := DecimalFromBig(b)
		if !ok {
			t.Fatalf("%s: does not fit", s)
		}
		if got := v.DecimalBig(); got.Cmp(b) != 0 {
			t.Errorf("%s: round trip gives %s", s, got)
		}
	}
	for _, s := range []string{"170141183460469231731687303715884105728", "-170141183460469231731687303715884105729"} {
		b, _ := new(big.Int).SetString(s, 10)
		if _, ok := DecimalFromBig(b); ok {
			t.Errorf("%s fits 128 bits?", s)
		}
	}
}
