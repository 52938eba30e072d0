package segment_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/segment"
	"github.com/floedb/floe/manifest"
)

const corruptName = "tables/t1/shared/seg/000042.parquet"

// readSegment opens and reads data completely, returning the first error.
// With verify, it calls Reader.Verify first.
func readSegment(data []byte, table *manifest.Table, verify bool) ([]row.Version, error) {
	rd, err := segment.Open(bytes.NewReader(data), int64(len(data)), corruptName, table)
	if err != nil {
		return nil, err
	}
	if verify {
		if err := rd.Verify(); err != nil {
			return nil, err
		}
	}
	var out []row.Version
	for v, err := range rd.Versions() {
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func checkCorruptErr(t *testing.T, what string, err error) {
	t.Helper()
	if !strings.Contains(err.Error(), corruptName) {
		t.Fatalf("%s: error does not name the object: %v", what, err)
	}
	if !errors.Is(err, segment.ErrCorrupt) && !errors.Is(err, segment.ErrIncompatibleSchema) {
		t.Fatalf("%s: error is neither ErrCorrupt nor ErrIncompatibleSchema: %v", what, err)
	}
}

func TestEveryTruncationFails(t *testing.T) {
	table := allTypesTable()
	data, _ := writeSegment(t, table, extremeVersions(table, 12), segment.WriterOptions{RowGroupRows: 5})
	t.Logf("file of %d bytes", len(data))
	for n := range len(data) {
		_, err := readSegment(data[:n], table, false)
		if err == nil {
			t.Fatalf("a truncation to %d of %d bytes read without error", n, len(data))
		}
		checkCorruptErr(t, "truncation", err)
	}
}

func TestRandomCorruption(t *testing.T) {
	table := allTypesTable()
	vs := extremeVersions(table, 40)
	data, _ := writeSegment(t, table, vs, segment.WriterOptions{RowGroupRows: 16})
	want := expectedRead(table, vs)
	rng := rand.New(rand.NewPCG(7, 8))
	iterations := 3000
	if testing.Short() || raceEnabled {
		iterations = 300
	}
	var detected, harmless, undetected, byVerify int
	for i := range iterations {
		bad := bytes.Clone(data)
		for range 1 + rng.IntN(3) {
			p := rng.IntN(len(bad))
			bad[p] ^= byte(1 + rng.IntN(255))
		}
		got, err := readSegment(bad, table, false)
		switch {
		case err != nil:
			checkCorruptErr(t, "flip", err)
			detected++
		case sameVersions(got, want):
			harmless++ // e.g. a flipped byte in a statistic or the page index
		default:
			undetected++
		}
		if _, verr := readSegment(bad, table, true); verr != nil {
			checkCorruptErr(t, "flip, verified", verr)
			if err == nil {
				byVerify++
			}
		} else if !sameVersions(got, want) {
			t.Errorf("iteration %d: damage changed the data and Verify did not see it", i)
		}
	}
	t.Logf("%d damaged copies: Open+Versions: %d errors, %d read correctly, %d read wrong data without an error; "+
		"Verify flagged %d more, including all of the wrong ones", iterations, detected, harmless, undetected, byVerify)
}

func TestVerifyCatchesEveryByteOfData(t *testing.T) {
	table := allTypesTable()
	data, _ := writeSegment(t, table, extremeVersions(table, 10), segment.WriterOptions{RowGroupRows: 4})
	rd, err := segment.Open(bytes.NewReader(data), int64(len(data)), corruptName, table)
	if err != nil {
		t.Fatal(err)
	}
	if err := rd.Verify(); err != nil {
		t.Fatalf("Verify of an intact segment: %v", err)
	}
	pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := pf.Lookup(segment.MetaDataBytes)
	region, err := strconv.ParseInt(v, 10, 64)
	if err != nil || region < 1000 {
		t.Fatalf("%s = %q", segment.MetaDataBytes, v)
	}
	// rd reads buf, which is damaged one byte at a time.
	buf := bytes.Clone(data)
	rd, err = segment.Open(bytes.NewReader(buf), int64(len(buf)), corruptName, table)
	if err != nil {
		t.Fatal(err)
	}
	caught := 0
	for p := range region {
		buf[p] ^= 0x10
		err := rd.Verify()
		buf[p] ^= 0x10
		if err == nil {
			t.Fatalf("a flip at byte %d of the %d-byte data region went unnoticed", p, region)
		}
		checkCorruptErr(t, "verify", err)
		caught++
	}
	t.Logf("all %d single-byte flips in the data region caught", caught)
}

func sameVersions(a, b []row.Version) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Seq != b[i].Seq || a[i].Deleted != b[i].Deleted || !a[i].Values.Equal(b[i].Values) {
			return false
		}
	}
	return true
}

func TestForeignFiles(t *testing.T) {
	table := allTypesTable()
	// A Parquet file not written by Floe.
	type other struct {
		ID   int64  `parquet:"id"`
		Name string `parquet:"name"`
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[other](&buf)
	if _, err := w.Write([]other{{1, "a"}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"empty":           nil,
		"magic only":      []byte("PAR1PAR1"),
		"garbage":         bytes.Repeat([]byte{0xa5}, 4096),
		"foreign parquet": buf.Bytes(),
		"huge footer length": func() []byte {
			good, _ := writeSegment(t, table, extremeVersions(table, 3), segment.WriterOptions{})
			bad := bytes.Clone(good)
			copy(bad[len(bad)-8:], []byte{0xff, 0xff, 0xff, 0x7f})
			return bad
		}(),
	} {
		_, err := readSegment(data, table, false)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		checkCorruptErr(t, name, err)
	}
}

// failingReaderAt fails reads of the bytes in [from, to).
type failingReaderAt struct {
	data     []byte
	from, to int64
}

var errDisk = errors.New("disk on fire")

func (f *failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < f.to && off+int64(len(p)) > f.from {
		return 0, errDisk
	}
	return bytes.NewReader(f.data).ReadAt(p, off)
}

func TestReadErrorsAreNotCorruption(t *testing.T) {
	table := allTypesTable()
	data, _ := writeSegment(t, table, extremeVersions(table, 500), segment.WriterOptions{})
	// The footer reads fine, the data pages do not.
	footer := int64(binary.LittleEndian.Uint32(data[len(data)-8:]))
	rd, err := segment.Open(&failingReaderAt{data: data, from: 100, to: int64(len(data)) - footer - 8}, int64(len(data)), corruptName, table)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range rd.Versions() {
		if err == nil {
			t.Fatal("read through a failing reader")
		}
		if !errors.Is(err, errDisk) || errors.Is(err, segment.ErrCorrupt) || !strings.Contains(err.Error(), corruptName) {
			t.Fatalf("err = %v, want the reader's error", err)
		}
		break
	}
}
