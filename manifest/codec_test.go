package manifest

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestCodecRoundTrip(t *testing.T) {
	t.Run("catalog", func(t *testing.T) {
		want := validCatalog()
		data, err := EncodeCatalog(want)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeCatalog(data)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip changed the catalog:\n got %+v\nwant %+v", got, want)
		}
		again, err := EncodeCatalog(got)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("encoding is not deterministic:\n%s\n%s", data, again)
		}
	})
	t.Run("partition", func(t *testing.T) {
		want := validPartition()
		data, err := EncodePartition(want)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodePartition(data)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip changed the partition:\n got %+v\nwant %+v", got, want)
		}
		again, err := EncodePartition(got)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("encoding is not deterministic:\n%s\n%s", data, again)
		}
	})
	t.Run("empty", func(t *testing.T) {
		c := &Catalog{Header: Header{FormatVersion: FormatVersion, Version: 1}}
		data, err := EncodeCatalog(c)
		if err != nil {
			t.Fatal(err)
		}
		c.Namespaces, c.Tables = []Namespace{}, []Table{}
		data2, err := EncodeCatalog(c)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, data2) {
			t.Fatalf("nil and empty slices encode differently:\n%s\n%s", data, data2)
		}
		if bytes.Contains(data, []byte(`"views"`)) {
			t.Fatalf("a catalog without views encodes a views field: %s", data)
		}
		if !bytes.Contains(data, []byte(`"namespaces":[]`)) {
			t.Fatalf("empty catalog encodes as %s", data)
		}
		p := &Partition{Header: Header{FormatVersion: FormatVersion, Version: 1}, TableID: "T"}
		pdata, err := EncodePartition(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodePartition(pdata); err != nil {
			t.Fatal(err)
		}
	})
}

func TestEncodeRefusesInvalid(t *testing.T) {
	c := validCatalog()
	c.Tables[0].Name = "Bad Name"
	if _, err := EncodeCatalog(c); !errors.Is(err, ErrInvalid) {
		t.Fatalf("EncodeCatalog(invalid) = %v, want ErrInvalid", err)
	}
	p := validPartition()
	p.Version = 0
	if _, err := EncodePartition(p); !errors.Is(err, ErrInvalid) {
		t.Fatalf("EncodePartition(invalid) = %v, want ErrInvalid", err)
	}
	if _, err := EncodeCatalog(nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("EncodeCatalog(nil) = %v", err)
	}
	if _, err := EncodePartition(nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("EncodePartition(nil) = %v", err)
	}
}

func mustEncodeCatalog(t testing.TB, c *Catalog) string {
	t.Helper()
	data, err := EncodeCatalog(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func mustEncodePartition(t testing.TB, p *Partition) string {
	t.Helper()
	data, err := EncodePartition(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestDecodeTruncated cuts a valid document at every byte: each prefix must
// fail with ErrCorrupt saying the input is truncated.
func TestDecodeTruncated(t *testing.T) {
	docs := map[string]string{
		"catalog":   mustEncodeCatalog(t, validCatalog()),
		"partition": mustEncodePartition(t, validPartition()),
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			doc = strings.TrimSpace(doc)
			for i := range len(doc) {
				var err error
				if name == "catalog" {
					_, err = DecodeCatalog([]byte(doc[:i]))
				} else {
					_, err = DecodePartition([]byte(doc[:i]))
				}
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("prefix of %d bytes: err = %v, want ErrCorrupt", i, err)
				}
				if !strings.Contains(err.Error(), "truncated input") {
					t.Fatalf("prefix of %d bytes: error %q does not say the input is truncated", i, err)
				}
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	cat := strings.TrimSpace(mustEncodeCatalog(t, validCatalog()))
	part := strings.TrimSpace(mustEncodePartition(t, validPartition()))
	// edit replaces the first occurrence of old in doc, failing if absent.
	edit := func(doc, old, repl string) string {
		if !strings.Contains(doc, old) {
			t.Fatalf("%q not found in test document", old)
		}
		return strings.Replace(doc, old, repl, 1)
	}
	tests := []struct {
		name      string
		partition bool
		doc       string
		wantIs    error
		wantMsg   []string
	}{
		{name: "unsupported format version", doc: edit(cat, `"format_version":1`, `"format_version":9`),
			wantIs: ErrUnsupportedFormat, wantMsg: []string{"manifest: unsupported format version 9 (this build reads 1)"}},
		{name: "unsupported format beats unknown fields", doc: `{"flavour":"new","format_version":2,"tables":{}}`,
			wantIs: ErrUnsupportedFormat, wantMsg: []string{"unsupported format version 2 (this build reads 1)"}},
		{name: "format version zero", doc: edit(cat, `"format_version":1`, `"format_version":0`),
			wantIs: ErrUnsupportedFormat, wantMsg: []string{"unsupported format version 0"}},
		{name: "missing format version", doc: edit(cat, `"format_version":1,`, ``),
			wantIs: ErrCorrupt, wantMsg: []string{"missing format_version"}},
		{name: "format version as string", doc: edit(cat, `"format_version":1`, `"format_version":"1"`),
			wantIs: ErrCorrupt, wantMsg: []string{"format_version", "want an integer", `the string "1"`}},
		{name: "format version fractional", doc: edit(cat, `"format_version":1`, `"format_version":1.0`),
			wantIs: ErrCorrupt, wantMsg: []string{"format_version", "want an integer", "1.0"}},
		{name: "unknown top-level field", doc: edit(cat, `"version":7`, `"version":7,"colour":"blue"`),
			wantIs: ErrCorrupt, wantMsg: []string{`unknown field "colour"`, "manifest.Catalog", "offset"}},
		{name: "unknown nested field", doc: edit(cat, `"nullable":false`, `"nullable":false,"nulable":true`),
			wantIs: ErrCorrupt, wantMsg: []string{`tables[0].columns[0].nulable`, `unknown field "nulable"`, "manifest.Column"}},
		{name: "unknown field in a view", doc: edit(cat, `"source":"id"`, `"source":"id","alias":"x"`),
			wantIs: ErrCorrupt, wantMsg: []string{`views[1].columns[0].alias`, `unknown field "alias"`, "manifest.ViewColumn"}},
		{name: "view failing validation", doc: edit(cat, `"name":"rich_ids"`, `"name":"rich"`),
			wantIs: ErrCorrupt, wantMsg: []string{"view app.rich", "same name"}},
		{name: "field in wrong case", doc: edit(cat, `"version":7`, `"Version":7`),
			wantIs: ErrCorrupt, wantMsg: []string{`unknown field "Version"`}},
		{name: "duplicate field", doc: edit(cat, `"version":7`, `"version":7,"version":8`),
			wantIs: ErrCorrupt, wantMsg: []string{`duplicate field "version"`}},
		{name: "duplicate format version", doc: edit(cat, `"format_version":1`, `"format_version":1,"format_version":1`),
			wantIs: ErrCorrupt, wantMsg: []string{`duplicate field "format_version"`}},
		{name: "string for integer", doc: edit(cat, `"version":7`, `"version":"7"`),
			wantIs: ErrCorrupt, wantMsg: []string{"version (offset", "want an integer (uint64)", `the string "7"`}},
		{name: "negative unsigned", doc: edit(cat, `"id":1,`, `"id":-1,`),
			wantIs: ErrCorrupt, wantMsg: []string{"tables[0].columns[0].id", "want an integer (uint32), got -1"}},
		{name: "out of range", doc: edit(cat, `"next_column_id":5`, `"next_column_id":4294967296`),
			wantIs: ErrCorrupt, wantMsg: []string{"tables[0].next_column_id", "4294967296 is out of range for uint32"}},
		{name: "float for integer", doc: edit(cat, `"next_column_id":5`, `"next_column_id":5.5`),
			wantIs: ErrCorrupt, wantMsg: []string{"tables[0].next_column_id", "want an integer"}},
		{name: "bool for string", doc: edit(cat, `"name":"app"`, `"name":true`),
			wantIs: ErrCorrupt, wantMsg: []string{"namespaces[0].name", "want a string, got true"}},
		{name: "object for array", doc: edit(cat, `"namespaces":[`, `"namespaces":{"x":[`) + "}",
			wantIs: ErrCorrupt, wantMsg: []string{"namespaces", "want an array"}},
		{name: "string for bool", doc: edit(cat, `"nullable":false`, `"nullable":"false"`),
			wantIs: ErrCorrupt, wantMsg: []string{"tables[0].columns[0].nullable", "want true or false"}},
		{name: "unknown column type", doc: edit(cat, `"type":"BIGINT"`, `"type":"VARCHAR"`),
			wantIs: ErrCorrupt, wantMsg: []string{"tables[0].columns[0].type", `unknown column type "VARCHAR"`}},
		{name: "bad decimal", doc: edit(cat, `"DECIMAL(18,2)"`, `"DECIMAL(40,2)"`),
			wantIs: ErrCorrupt, wantMsg: []string{"tables[0].columns[2].type", "precision 40"}},
		{name: "bad time", doc: edit(cat, `"committed_at":"2026-11-27T12:30:45.123456789Z"`, `"committed_at":"yesterday"`),
			wantIs: ErrCorrupt, wantMsg: []string{"committed_at", "want an RFC 3339 time", `"yesterday"`}},
		{name: "null struct", doc: edit(cat, `"options":{"flush_rows":10000,"flush_interval_seconds":60}`, `"options":null`),
			wantIs: ErrCorrupt, wantMsg: []string{"tables[0].options", "null is not allowed"}},
		{name: "null string", doc: edit(cat, `"name":"app"`, `"name":null`),
			wantIs: ErrCorrupt, wantMsg: []string{"namespaces[0].name", "null is not allowed"}},
		{name: "top-level array", doc: `[` + cat + `]`,
			wantIs: ErrCorrupt, wantMsg: []string{"want a JSON object, got an array"}},
		{name: "empty input", doc: ``,
			wantIs: ErrCorrupt, wantMsg: []string{"truncated input"}},
		{name: "trailing object", doc: cat + `{}`,
			wantIs: ErrCorrupt, wantMsg: []string{"trailing data after the document at offset"}},
		{name: "trailing garbage", doc: cat + ` x`,
			wantIs: ErrCorrupt, wantMsg: []string{"trailing data"}},
		{name: "syntax error", doc: edit(cat, `"version":7,`, `"version":7,,`),
			wantIs: ErrCorrupt, wantMsg: []string{"syntax error at offset"}},
		{name: "missing colon", doc: edit(cat, `"version":7`, `"version" 7`),
			wantIs: ErrCorrupt, wantMsg: []string{"syntax error at offset"}},
		{name: "fails validation", doc: edit(cat, `"namespace":"app"`, `"namespace":"nope"`),
			wantIs: ErrCorrupt, wantMsg: []string{`table nope.users`, `namespace "nope" does not exist`}},
		{name: "partition unknown field", partition: true, doc: edit(part, `"rows":100`, `"rows":100,"row":1`),
			wantIs: ErrCorrupt, wantMsg: []string{"segments[0].row", `unknown field "row"`}},
		{name: "partition stats wrong type", partition: true, doc: edit(part, `"min":"1"`, `"min":1`),
			wantIs: ErrCorrupt, wantMsg: []string{"segments[0].columns[0].min", "want a string, got the number 1"}},
		{name: "partition fails validation", partition: true, doc: edit(part, `"last_seq":250`, `"last_seq":150`),
			wantIs: ErrCorrupt, wantMsg: []string{"seq_max 200 is above the partition's last_seq 150"}},
		{name: "partition unsupported format", partition: true, doc: edit(part, `"format_version":1`, `"format_version":-3`),
			wantIs: ErrUnsupportedFormat, wantMsg: []string{"unsupported format version -3 (this build reads 1)"}},
		{name: "partition truncated", partition: true, doc: part[:len(part)/2],
			wantIs: ErrCorrupt, wantMsg: []string{"truncated input", "segments"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.partition {
				_, err = DecodePartition([]byte(tc.doc))
			} else {
				_, err = DecodeCatalog([]byte(tc.doc))
			}
			if !errors.Is(err, tc.wantIs) {
				t.Fatalf("err = %v, want %v", err, tc.wantIs)
			}
			for _, m := range tc.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not contain %q", err, m)
				}
			}
			if tc.wantIs == ErrUnsupportedFormat && errors.Is(err, ErrCorrupt) {
				t.Errorf("an unsupported format is not corruption: %v", err)
			}
		})
	}
}

// TestDecodeEscapedKey: a key written with JSON escapes is the same key.
func TestDecodeEscapedKey(t *testing.T) {
	doc := strings.Replace(mustEncodeCatalog(t, validCatalog()), `"format_version"`, `"form\u0061t_version"`, 1)
	if _, err := DecodeCatalog([]byte(doc)); err != nil {
		t.Fatal(err)
	}
}
