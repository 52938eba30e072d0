package livebus

import (
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/row"
	"github.com/floedb/floe/lakehouse/tablestore"
	"github.com/floedb/floe/manifest"
	floev1 "github.com/floedb/floe/proto/floe/v1"
)

// Encode turns b into its wire form; publisher names the sending process.
func Encode(b tablestore.ChangeBatch, publisher string) (*floev1.BusChangeBatch, error) {
	tbl, err := json.Marshal(b.Table)
	if err != nil {
		return nil, fmt.Errorf("live bus: encode table %s: %w", b.Table.ID, err)
	}
	m := &floev1.BusChangeBatch{Table: tbl, Partition: b.Partition, FirstSeq: b.FirstSeq, LastSeq: b.LastSeq,
		ManifestVersion: b.ManifestVersion, Publisher: publisher, Rows: make([]*floev1.BusChangeRow, len(b.Rows))}
	sv := b.Table.SchemaVersion
	for i, r := range b.Rows {
		br := &floev1.BusChangeRow{Seq: r.Seq, Op: floev1.BusChangeOp(r.Op) + 1,
			Values: row.AppendVersion(nil, row.Version{Seq: r.Seq, SchemaVersion: sv, Values: r.Values})}
		if r.Old != nil {
			br.Old = row.AppendVersion(nil, row.Version{Seq: r.Seq, SchemaVersion: sv, Values: r.Old})
		}
		m.Rows[i] = br
	}
	return m, nil
}

// Split cuts m into messages whose rows take at most maxBytes encoded
// (but at least one row each): each covers a consecutive _seq range, so
// each is a valid batch of its own.
func Split(m *floev1.BusChangeBatch, maxBytes int) []*floev1.BusChangeBatch {
	var out []*floev1.BusChangeBatch
	var cur *floev1.BusChangeBatch
	size := 0
	for _, r := range m.GetRows() {
		n := proto.Size(r)
		if cur == nil || (size+n > maxBytes && len(cur.Rows) > 0) {
			cur = &floev1.BusChangeBatch{Table: m.Table, Partition: m.Partition, FirstSeq: r.GetSeq(),
				ManifestVersion: m.ManifestVersion, Publisher: m.Publisher}
			out = append(out, cur)
			size = 0
		}
		cur.Rows = append(cur.Rows, r)
		cur.LastSeq = r.GetSeq()
		size += n
	}
	return out
}

// Decode turns a wire batch back into a ChangeBatch. A batch that is not
// one committed write of one partition (rows not numbered
// first_seq..last_seq in order, values of another schema version, an
// unknown op) is refused with INVALID_ARGUMENT.
func Decode(m *floev1.BusChangeBatch) (tablestore.ChangeBatch, error) {
	bad := func(format string, args ...any) (tablestore.ChangeBatch, error) {
		return tablestore.ChangeBatch{}, dberr.New(dberr.InvalidArgument, "live bus: malformed change batch: "+format, args...)
	}
	var t manifest.Table
	if err := json.Unmarshal(m.GetTable(), &t); err != nil {
		return bad("table definition: %v", err)
	}
	if t.ID == "" || len(t.Columns) == 0 {
		return bad("table definition has no id or no columns")
	}
	rows := m.GetRows()
	if len(rows) == 0 || m.GetFirstSeq() == 0 || m.GetLastSeq() != m.GetFirstSeq()+uint64(len(rows))-1 {
		return bad("_seq range %d..%d does not number its %d rows", m.GetFirstSeq(), m.GetLastSeq(), len(rows))
	}
	b := tablestore.ChangeBatch{Table: &t, Partition: m.GetPartition(), FirstSeq: m.GetFirstSeq(), LastSeq: m.GetLastSeq(),
		ManifestVersion: m.GetManifestVersion(), Rows: make([]tablestore.ChangeRow, len(rows))}
	for i, r := range rows {
		if r.GetSeq() != b.FirstSeq+uint64(i) {
			return bad("row %d has _seq %d, want %d", i, r.GetSeq(), b.FirstSeq+uint64(i))
		}
		op := r.GetOp()
		if op < floev1.BusChangeOp_BUS_CHANGE_OP_UPSERT || op > floev1.BusChangeOp_BUS_CHANGE_OP_DELETE {
			return bad("row %d has op %d", i, op)
		}
		cr := tablestore.ChangeRow{Seq: r.GetSeq(), Op: tablestore.ChangeOp(op - 1)}
		var err error
		if cr.Values, err = decodeValues(r.GetValues(), t.SchemaVersion, len(t.Columns)); err != nil {
			return bad("row %d values: %v", i, err)
		}
		if len(r.GetOld()) > 0 {
			if cr.Old, err = decodeValues(r.GetOld(), t.SchemaVersion, len(t.Columns)); err != nil {
				return bad("row %d old values: %v", i, err)
			}
		}
		b.Rows[i] = cr
	}
	return b, nil
}

func decodeValues(enc []byte, schema uint32, cols int) (row.Row, error) {
	v, err := row.DecodeVersion(enc)
	if err != nil {
		return nil, err
	}
	if v.SchemaVersion != schema || len(v.Values) > cols {
		return nil, fmt.Errorf("schema version %d with %d columns; the table is at version %d with %d", v.SchemaVersion, len(v.Values), schema, cols)
	}
	return v.Values, nil
}
