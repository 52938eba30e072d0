package segment_test

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/segment"
	"github.com/floedb/floe/manifest"
)

func TestRoundTripAllTypes(t *testing.T) {
	table := allTypesTable()
	for _, tc := range []struct {
		name string
		n    int
		opts segment.WriterOptions
	}{
		{"one row", 1, segment.WriterOptions{}},
		{"zstd", 500, segment.WriterOptions{}},
		{"snappy", 500, segment.WriterOptions{Compression: "snappy"}},
		{"small row groups and pages", 2000, segment.WriterOptions{RowGroupRows: 77, PageBufferBytes: 1024}},
		{"byte-limited row groups", 2000, segment.WriterOptions{RowGroupBytes: 10_000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vs := extremeVersions(table, tc.n)
			data, info := writeSegment(t, table, vs, tc.opts)
			if info.Rows != int64(tc.n) || info.SchemaVersion != 1 {
				t.Errorf("Info = %+v", info)
			}
			got := readAll(t, data, table)
			equalVersions(t, got, expectedRead(table, vs))
		})
	}
}

func TestRoundTripSpecialValuesBitExact(t *testing.T) {
	// NaN payloads, -0 and strings with NUL bytes survive exactly.
	table := &manifest.Table{ID: "t1", Namespace: "n", Name: "t", SchemaVersion: 2, PrimaryKey: []string{"k"},
		Columns: []manifest.Column{
			{ID: 3, Name: "k", Type: manifest.Text},
			{ID: 7, Name: "f", Type: manifest.Float, Nullable: true},
			{ID: 9, Name: "d", Type: manifest.Double, Nullable: true},
		}}
	nan64 := math.Float64frombits(0x7ff8_0000_dead_beef)
	vs := []row.Version{
		{Seq: 1, SchemaVersion: 2, Values: row.Row{row.Text(""), row.Float(float32(math.Copysign(0, -1))), row.Double(math.Copysign(0, -1))}},
		{Seq: 9, SchemaVersion: 2, Values: row.Row{row.Text("\x00"), row.Float(float32(math.NaN())), row.Double(nan64)}},
		{Seq: 5, SchemaVersion: 2, Values: row.Row{row.Text("\x00\x00"), row.Null(), row.Double(math.Inf(-1))}},
		{Seq: 4, SchemaVersion: 2, Values: row.Row{row.Text("a"), row.Float(float32(math.Inf(1))), row.Null()}},
		{Seq: 3, SchemaVersion: 2, Values: row.Row{row.Text("a\x00"), row.Null(), row.Null()}},
	}
	data, info := writeSegment(t, table, vs, segment.WriterOptions{})
	got := readAll(t, data, table)
	equalVersions(t, got, vs)
	if math.Float64bits(got[1].Values[2].Float64()) != 0x7ff8_0000_dead_beef {
		t.Errorf("NaN payload changed: %#x", math.Float64bits(got[1].Values[2].Float64()))
	}
	if info.SeqMin != 1 || info.SeqMax != 9 {
		t.Errorf("seq range %d..%d, want 1..9", info.SeqMin, info.SeqMax)
	}
}

func TestEmptySegment(t *testing.T) {
	table := allTypesTable()
	data, info := writeSegment(t, table, nil, segment.WriterOptions{})
	if info.Rows != 0 || info.SeqMin != 0 || info.SeqMax != 0 || len(info.Columns) != len(table.Columns) {
		t.Errorf("Info = %+v", info)
	}
	for _, cs := range info.Columns {
		if cs.Min != nil || cs.Max != nil || cs.NullCount != 0 {
			t.Errorf("stats of an empty segment: %+v", cs)
		}
	}
	if got := readAll(t, data, table); len(got) != 0 {
		t.Errorf("read %d versions from an empty segment", len(got))
	}
}

func TestTableWithoutPrimaryKey(t *testing.T) {
	table := &manifest.Table{ID: "log", Namespace: "n", Name: "events", SchemaVersion: 1,
		Columns: []manifest.Column{{ID: 1, Name: "msg", Type: manifest.Text}, {ID: 2, Name: "n", Type: manifest.Int}}}
	var vs []row.Version
	for i := range 1000 {
		vs = append(vs, row.Version{Seq: uint64(10 + 2*i), SchemaVersion: 1, Deleted: i%10 == 3,
			Values: row.Row{row.Text(fmt.Sprint("m", i%3)), row.Int(int32(-i))}})
	}
	data, info := writeSegment(t, table, vs, segment.WriterOptions{RowGroupRows: 100})
	// Without a key, a tombstone keeps no value.
	equalVersions(t, readAll(t, data, table), expectedRead(table, vs))
	if info.Deleted != 100 {
		t.Errorf("Info.Deleted = %d, want 100", info.Deleted)
	}
}

func TestCompositeKeyOrder(t *testing.T) {
	// AppendKey order, not string order: "a" < "a\x00" < "a\x00\x00" < "ab",
	// and the second column breaks ties.
	table := &manifest.Table{ID: "c", Namespace: "n", Name: "c", SchemaVersion: 1, PrimaryKey: []string{"s", "n"},
		Columns: []manifest.Column{
			{ID: 1, Name: "n", Type: manifest.Int},
			{ID: 2, Name: "s", Type: manifest.Text},
			{ID: 3, Name: "v", Type: manifest.Double, Nullable: true},
		}}
	keys := []struct {
		s string
		n int32
	}{{"", math.MinInt32}, {"", 5}, {"a", -1}, {"a", 0}, {"a\x00", -100}, {"a\x00\x00", 1}, {"ab", 0}, {"b", 0}}
	var vs []row.Version
	for i, k := range keys {
		vs = append(vs, row.Version{Seq: uint64(100 - i), SchemaVersion: 1, Deleted: i == 3,
			Values: row.Row{row.Int(k.n), row.Text(k.s), row.Double(float64(i))}})
	}
	data, _ := writeSegment(t, table, vs, segment.WriterOptions{})
	equalVersions(t, readAll(t, data, table), expectedRead(table, vs))
}

func TestWriteRejectsBadInput(t *testing.T) {
	table := &manifest.Table{ID: "t", Namespace: "n", Name: "t", SchemaVersion: 3, PrimaryKey: []string{"k"},
		Columns: []manifest.Column{
			{ID: 1, Name: "k", Type: manifest.BigInt},
			{ID: 2, Name: "v", Type: manifest.Text},
			{ID: 3, Name: "u", Type: manifest.UUID, Nullable: true},
		}}
	ver := func(seq uint64, k int64, vals ...row.Value) row.Version {
		if vals == nil {
			vals = []row.Value{row.Text("x"), row.Null()}
		}
		return row.Version{Seq: seq, SchemaVersion: 3, Values: append(row.Row{row.BigInt(k)}, vals...)}
	}
	tomb := func(v row.Version) row.Version { v.Deleted = true; return v }
	errIter := errors.New("iterator failed")
	cases := []struct {
		name    string
		vs      []row.Version
		iterErr bool
		want    error
		msg     string
	}{
		{name: "descending keys", vs: []row.Version{ver(1, 5), ver(2, 4)}, want: segment.ErrUnsorted, msg: "sorts before"},
		{name: "duplicate key", vs: []row.Version{ver(1, 5), ver(2, 6), ver(3, 6)}, want: segment.ErrUnsorted, msg: "same primary key"},
		{name: "duplicate key with a tombstone", vs: []row.Version{ver(1, 5), tomb(ver(2, 5))}, want: segment.ErrUnsorted, msg: "same primary key"},
		{name: "wrong schema version", vs: []row.Version{{Seq: 1, SchemaVersion: 2, Values: row.Row{row.BigInt(1), row.Text("x"), row.Null()}}},
			want: segment.ErrInvalidInput, msg: "schema version 2"},
		{name: "too few values", vs: []row.Version{{Seq: 1, SchemaVersion: 3, Values: row.Row{row.BigInt(1)}}}, want: segment.ErrInvalidInput, msg: "1 values for 3 columns"},
		{name: "NULL in NOT NULL column", vs: []row.Version{ver(1, 1, row.Null(), row.Null())}, want: segment.ErrInvalidInput, msg: "NOT NULL column v"},
		{name: "NULL key in a tombstone", vs: []row.Version{{Seq: 1, SchemaVersion: 3, Deleted: true, Values: row.Row{row.Null(), row.Null(), row.Null()}}},
			want: segment.ErrInvalidInput, msg: "NOT NULL column k"},
		{name: "wrong kind", vs: []row.Version{ver(1, 1, row.BigInt(3), row.Null())}, want: segment.ErrInvalidInput, msg: "BIGINT value in a TEXT column"},
		{name: "short UUID", vs: []row.Version{ver(1, 1, row.Text("x"), row.Bytes([]byte{1}))}, want: segment.ErrInvalidInput, msg: "BYTES value in a UUID column"},
		{name: "seq zero", vs: []row.Version{ver(0, 1)}, want: segment.ErrInvalidInput, msg: "_seq 0"},
		{name: "seq above int64", vs: []row.Version{ver(math.MaxInt64+1, 1)}, want: segment.ErrInvalidInput, msg: "outside 1.."},
		{name: "iterator error", vs: []row.Version{ver(1, 1)}, iterErr: true, want: errIter, msg: "iterator failed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var it iter.Seq2[row.Version, error] = seqOf(tc.vs)
			if tc.iterErr {
				it = func(yield func(row.Version, error) bool) {
					if yield(tc.vs[0], nil) {
						yield(row.Version{}, errIter)
					}
				}
			}
			_, err := segment.Write(&bytes.Buffer{}, table, it, segment.WriterOptions{})
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %v containing %q", err, tc.want, tc.msg)
			}
		})
	}

	t.Run("no primary key, seq not increasing", func(t *testing.T) {
		nopk := *table
		nopk.PrimaryKey = nil
		vs := []row.Version{ver(5, 1), ver(5, 2)}
		_, err := segment.Write(&bytes.Buffer{}, &nopk, seqOf(vs), segment.WriterOptions{})
		if !errors.Is(err, segment.ErrUnsorted) || !errors.Is(err, segment.ErrInvalidInput) {
			t.Fatalf("err = %v, want ErrUnsorted", err)
		}
	})
	t.Run("tombstone ignores non-key values", func(t *testing.T) {
		vs := []row.Version{tomb(ver(1, 1, row.Text("kept?"), row.UUID([16]byte{1})))}
		data, info := writeSegment(t, table, vs, segment.WriterOptions{})
		got := readAll(t, data, table)
		if !got[0].Values.Equal(row.Row{row.BigInt(1), row.Null(), row.Null()}) {
			t.Errorf("tombstone read back as %v", got[0].Values)
		}
		if info.Columns[1].NullCount != 1 || info.Columns[1].Min != nil {
			t.Errorf("tombstone stats = %+v", info.Columns[1])
		}
	})
}

func TestWriterOptionsValidate(t *testing.T) {
	o := segment.WriterOptions{Compression: "gzip", RowGroupRows: -1, RowGroupBytes: -5, PageBufferBytes: 10}
	o.EnsureDefaults()
	err := o.Validate()
	for _, want := range []string{"Compression", "RowGroupRows", "RowGroupBytes", "PageBufferBytes"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want a problem with %s", err, want)
		}
	}
	var z segment.WriterOptions
	z.EnsureDefaults()
	if err := z.Validate(); err != nil || z.Compression != "zstd" || z.RowGroupRows != 128*1024 {
		t.Errorf("defaults %+v: %v", z, err)
	}
	_, err = segment.Write(&bytes.Buffer{}, allTypesTable(), seqOf(nil), segment.WriterOptions{Compression: "lz4"})
	if err == nil {
		t.Error("Write accepted compression lz4")
	}
}

func TestVersionsStopsEarly(t *testing.T) {
	table := allTypesTable()
	data, _ := writeSegment(t, table, extremeVersions(table, 3000), segment.WriterOptions{RowGroupRows: 1000})
	rd, err := segment.Open(bytes.NewReader(data), int64(len(data)), "x", table)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range rd.Versions() {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 1500 {
			break
		}
	}
	// A second iteration starts again from the first row.
	first := true
	for v, err := range rd.Versions() {
		if err != nil || !first {
			t.Fatal(err)
		}
		if v.Values[0] != row.BigInt(-3000) {
			t.Errorf("first version again = %v", v.Values[0])
		}
		first = false
		break
	}
}

func TestConcurrentReads(t *testing.T) {
	table := allTypesTable()
	vs := extremeVersions(table, 2500)
	data, _ := writeSegment(t, table, vs, segment.WriterOptions{RowGroupRows: 1000})
	rd, err := segment.Open(bytes.NewReader(data), int64(len(data)), "x", table)
	if err != nil {
		t.Fatal(err)
	}
	want := expectedRead(table, vs)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			i := 0
			for v, err := range rd.Versions() {
				if err != nil {
					t.Error(err)
					return
				}
				if !v.Values.Equal(want[i].Values) {
					t.Errorf("row %d differs", i)
					return
				}
				i++
			}
			if err := rd.Verify(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

func TestDeterministicOutput(t *testing.T) {
	table := allTypesTable()
	vs := extremeVersions(table, 300)
	a, infoA := writeSegment(t, table, vs, segment.WriterOptions{})
	b, infoB := writeSegment(t, table, vs, segment.WriterOptions{})
	if !bytes.Equal(a, b) || infoA.Bytes != infoB.Bytes {
		t.Error("the same input produced different files")
	}
}
