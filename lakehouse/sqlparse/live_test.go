package sqlparse

import (
	"testing"

	"github.com/floedb/floe/lakehouse/dberr"
)

func TestParseSubscribe(t *testing.T) {
	for _, c := range []struct {
		sql                  string
		table                string
		cols                 []string
		where                string
		batch, last, fromSeq int64
		hasFrom              bool
	}{
		{sql: "SUBSCRIBE TO app.msgs", table: "app.msgs"},
		{sql: "subscribe to SELECT * FROM msgs WHERE room = 'a'", table: "msgs", where: "room = 'a'"},
		{sql: "SUBSCRIBE TO SELECT id, \"Body\" FROM app.msgs WHERE (n > 1 OR s LIKE 'x%') OPTIONS (batch_size = 10, last_rows=5, from_seq = 0)",
			table: "app.msgs", cols: []string{"id", "Body"}, where: "(n > 1 OR s LIKE 'x%')", batch: 10, last: 5, hasFrom: true},
		{sql: "SUBSCRIBE TO msgs OPTIONS (FROM_SEQ = 42)", table: "msgs", fromSeq: 42, hasFrom: true},
	} {
		sts, err := Parse(c.sql)
		if err != nil {
			t.Fatalf("%s: %v", c.sql, err)
		}
		s := sts[0].(*Subscribe)
		where := ""
		if s.Where != nil {
			where = s.Where.Text
		}
		if s.Table.String() != c.table || len(s.Columns) != len(c.cols) || where != c.where || s.BatchSize != c.batch ||
			s.LastRows != c.last || int64(s.FromSeq) != c.fromSeq || s.HasFromSeq != c.hasFrom {
			t.Errorf("%s: got %+v where %q", c.sql, s, where)
		}
		for i := range c.cols {
			if s.Columns[i] != c.cols[i] {
				t.Errorf("%s: columns %v", c.sql, s.Columns)
			}
		}
	}
	for _, c := range []struct {
		sql  string
		code dberr.Code
	}{
		{"SUBSCRIBE TO SELECT count(*) FROM t", dberr.Unsupported},
		{"SUBSCRIBE TO SELECT a FROM t JOIN u ON true", dberr.Unsupported},
		{"SUBSCRIBE TO SELECT a FROM t, u", dberr.Unsupported},
		{"SUBSCRIBE TO t OPTIONS (bogus = 1)", dberr.InvalidOption},
		{"SUBSCRIBE TO t OPTIONS (batch_size = 0)", dberr.InvalidOption},
		{"SUBSCRIBE TO t OPTIONS (from_seq = -1)", dberr.InvalidOption},
		{"SUBSCRIBE t", dberr.SyntaxError},
	} {
		_, err := Parse(c.sql)
		if dberr.CodeOf(err) != c.code {
			t.Errorf("%s: %v, want %s", c.sql, err, c.code)
		}
	}
	sts, err := Parse("KILL LIVE QUERY 'n1-17'")
	if err != nil || sts[0].(*KillLiveQuery).ID != "n1-17" {
		t.Fatalf("KILL: %v %+v", err, sts)
	}
}
