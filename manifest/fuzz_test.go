package manifest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func addSeeds(f *testing.F, docs ...string) {
	for _, d := range docs {
		f.Add([]byte(d))
	}
	f.Add([]byte(``))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"format_version":1}`))
	f.Add([]byte(`{"format_version":2,"x":1}`))
	f.Add([]byte(`[{"format_version":1}]`))
	f.Add([]byte(`{"format_version":1,"version":1,"commit_id":"","committed_at":"0001-01-01T00:00:00Z"} {}`))
}

// FuzzDecodeCatalog: decoding never panics, every failure is ErrCorrupt or
// ErrUnsupportedFormat, and whatever decodes re-encodes to a document that
// decodes to an equal value and the same bytes.
func FuzzDecodeCatalog(f *testing.F) {
	full := mustEncodeCatalog(f, validCatalog())
	c := validCatalog()
	c.Tables, c.Writer, c.WriterEpoch = nil, nil, 0
	addSeeds(f, full, mustEncodeCatalog(f, c),
		`{"format_version":1,"version":1,"commit_id":"x","committed_at":"2024-01-01T00:00:00+02:00","namespaces":[{"name":"a","created_at":"2024-01-01T00:00:00Z"}],"tables":[{"id":"T","namespace":"a","name":"t","type":"USER","columns":[{"id":0,"name":"c","type":"decimal( 3 , 1 )","nullable":false}],"primary_key":[],"schema_version":1,"next_column_id":1,"options":{},"created_at":"2024-01-01T00:00:00Z","updated_at":"2024-01-01T00:00:00Z"}]}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		c1, err := DecodeCatalog(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedFormat) {
				t.Fatalf("decode error is neither ErrCorrupt nor ErrUnsupportedFormat: %v", err)
			}
			return
		}
		b1, err := EncodeCatalog(c1)
		if err != nil {
			t.Fatalf("decoded catalog does not encode: %v", err)
		}
		// The catalog log's encoder, cold and then warm with the
		// seed's tables (whose IDs fuzzed documents reuse), agrees.
		m := &memChunks{objs: map[string][]byte{}}
		enc := newTestStore(m)
		checkEncoder(t, enc, m, nil, c1)
		checkEncoder(t, enc, m, nil, validCatalog())
		checkEncoder(t, enc, m, nil, c1)
		c2, err := DecodeCatalog(b1)
		if err != nil {
			t.Fatalf("encoded catalog does not decode: %v\n%s", err, b1)
		}
		normalize(c1)
		normalize(c2)
		if !reflect.DeepEqual(c1, c2) {
			t.Fatalf("round trip changed the catalog:\n%+v\n%+v", c1, c2)
		}
		b2, err := EncodeCatalog(c2)
		if err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("re-encoding differs: %v\n%s\n%s", err, b1, b2)
		}
	})
}

// FuzzDecodePartition is FuzzDecodeCatalog for partition manifests.
func FuzzDecodePartition(f *testing.F) {
	p := validPartition()
	p.Segments = nil
	addSeeds(f, mustEncodePartition(f, validPartition()), mustEncodePartition(f, p),
		`{"format_version":1,"version":2,"commit_id":"c","committed_at":"2024-01-01T00:00:00-07:00","table_id":"T","partition":"\u00fc","last_seq":5,"segments":[{"key":"k","rows":1,"bytes":1,"seq_min":1,"seq_max":5,"schema_version":1,"columns":[{"column_id":1,"min":null,"null_count":0}]}]}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		p1, err := DecodePartition(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedFormat) {
				t.Fatalf("decode error is neither ErrCorrupt nor ErrUnsupportedFormat: %v", err)
			}
			return
		}
		b1, err := EncodePartition(p1)
		if err != nil {
			t.Fatalf("decoded partition does not encode: %v", err)
		}
		p2, err := DecodePartition(b1)
		if err != nil {
			t.Fatalf("encoded partition does not decode: %v\n%s", err, b1)
		}
		normalize(p1)
		normalize(p2)
		if !reflect.DeepEqual(p1, p2) {
			t.Fatalf("round trip changed the partition:\n%+v\n%+v", p1, p2)
		}
		b2, err := EncodePartition(p2)
		if err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("re-encoding differs: %v\n%s\n%s", err, b1, b2)
		}
	})
}

// FuzzDecodeCatalogRoot: decoding a root never panics, every failure is
// ErrCorrupt or ErrUnsupportedFormat, and a root that decodes re-encodes
// to a root that decodes to the same bytes again.
func FuzzDecodeCatalogRoot(f *testing.F) {
	c := validCatalog()
	c.FormatVersion = CatalogFormatVersion
	enc, err := newTestStore(&memChunks{objs: map[string][]byte{}}).encode(nil, c)
	if err != nil {
		f.Fatal(err)
	}
	addSeeds(f, string(enc.data),
		`{"format_version":2,"version":1,"commit_id":"x","committed_at":"2024-01-01T00:00:00Z","namespaces":[],"table_shards":1,"table_chunks":[{"shard":0,"sha256":"`+strings.Repeat("a", 64)+`","tables":1}]}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeRoot(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedFormat) {
				t.Fatalf("decode error is neither ErrCorrupt nor ErrUnsupportedFormat: %v", err)
			}
			return
		}
		b1, err := encodeJSON(r)
		if err != nil {
			t.Fatalf("decoded root does not encode: %v", err)
		}
		r2, err := decodeRoot(b1)
		if err != nil {
			t.Fatalf("re-encoded root does not decode: %v\n%s", err, b1)
		}
		if b2, err := encodeJSON(r2); err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("re-encoding differs: %v\n%s\n%s", err, b1, b2)
		}
	})
}

// FuzzDecodeTableChunk: decoding a chunk never panics and every failure
// is ErrCorrupt or ErrUnsupportedFormat; a chunk that decodes holds
// tables of its shard in ascending ID order.
func FuzzDecodeTableChunk(f *testing.F) {
	c := validCatalog()
	c.FormatVersion = CatalogFormatVersion
	enc, err := newTestStore(&memChunks{objs: map[string][]byte{}}).encode(nil, c)
	if err != nil {
		f.Fatal(err)
	}
	var seeds []string
	for _, p := range enc.parts {
		seeds = append(seeds, string(p.data))
	}
	addSeeds(f, seeds...)
	f.Fuzz(func(t *testing.T, data []byte) {
		// The root would name the chunk by its hash; shard and count are
		// taken from the chunk itself (leniently), so that the checks
		// past them are reached.
		var probe struct {
			Shard  int               `json:"shard"`
			Tables []json.RawMessage `json:"tables"`
		}
		_ = json.Unmarshal(data, &probe)
		sum := sha256.Sum256(data)
		ref := chunkRef{Shard: probe.Shard, SHA256: hex.EncodeToString(sum[:]), Tables: len(probe.Tables)}
		tables, err := decodeChunk(data, ref, CatalogShards)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedFormat) {
				t.Fatalf("decode error is neither ErrCorrupt nor ErrUnsupportedFormat: %v", err)
			}
			return
		}
		for i := range tables {
			if shardOf(tables[i].ID, CatalogShards) != ref.Shard || i > 0 && tables[i].ID <= tables[i-1].ID {
				t.Fatalf("decoded chunk breaks its rules at table %d: %+v", i, tables[i])
			}
		}
	})
}
