package sqlparse

import (
	"reflect"
	"strings"
	"testing"
)

func ptr(s string) *string { return &s }

func TestParseUserStatements(t *testing.T) {
	tests := []struct {
		sql  string
		want Statement
	}{
		{"CREATE USER 'alice' WITH PASSWORD 'pw'", &CreateUser{User: "alice", Password: "pw"}},
		{"create user if not exists Bob with password 'it''s' role DBA email 'b@x.io'",
			&CreateUser{User: "bob", Password: "it's", Role: "dba", Email: "b@x.io", IfNotExists: true}},
		{`CREATE USER "Carol" WITH PASSWORD 'x' EMAIL 'c@x.io' ROLE 'service'`,
			&CreateUser{User: "Carol", Password: "x", Role: "service", Email: "c@x.io"}},
		{"ALTER USER 'alice' SET PASSWORD 'new'", &AlterUser{User: "alice", Password: ptr("new")}},
		{"ALTER USER alice SET ROLE service, EMAIL 'a@x.io'", &AlterUser{User: "alice", Role: ptr("service"), Email: ptr("a@x.io")}},
		{"ALTER USER alice SET EMAIL '', SET PASSWORD 'p'", &AlterUser{User: "alice", Email: ptr(""), Password: ptr("p")}},
		{"DROP USER 'alice'", &DropUser{User: "alice"}},
		{"DROP USER IF EXISTS alice", &DropUser{User: "alice", IfExists: true}},
		{"CREATE USER TABLE t (id INT PRIMARY KEY)", nil}, // still a table
	}
	for _, tc := range tests {
		sts, err := Parse(tc.sql)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.sql, err)
		}
		if len(sts) != 1 {
			t.Fatalf("Parse(%q) = %d statements", tc.sql, len(sts))
		}
		if tc.want == nil {
			if _, ok := sts[0].(*CreateTable); !ok {
				t.Errorf("Parse(%q) = %T, want *CreateTable", tc.sql, sts[0])
			}
			continue
		}
		*sts[0].stmt() = span{}
		if !reflect.DeepEqual(sts[0], tc.want) {
			t.Errorf("Parse(%q) = %+v, want %+v", tc.sql, sts[0], tc.want)
		}
	}
}

func TestParseExecuteAs(t *testing.T) {
	sql := "EXECUTE AS USER 'alice' (INSERT INTO t VALUES ((1), ')')) ; SELECT 2"
	sts, err := Parse(sql)
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 2 {
		t.Fatalf("got %d statements, want 2", len(sts))
	}
	ea, ok := sts[0].(*ExecuteAs)
	if !ok {
		t.Fatalf("got %T, want *ExecuteAs", sts[0])
	}
	if ea.User != "alice" {
		t.Errorf("user = %q", ea.User)
	}
	ins, ok := ea.Stmt.(*Insert)
	if !ok {
		t.Fatalf("inner = %T, want *Insert", ea.Stmt)
	}
	if got, want := ins.Text(), "INSERT INTO t VALUES ((1), ')')"; got != want {
		t.Errorf("inner text = %q, want %q", got, want)
	}
	if got := ins.Offset(); sql[got:got+6] != "INSERT" {
		t.Errorf("inner offset %d does not point at INSERT", got)
	}
}

// TestUserErrorsNeverQuoteThePassword: whatever follows a password, the
// error message does not contain it.
func TestUserErrorsNeverQuoteThePassword(t *testing.T) {
	const secret = "hunter2-Secret"
	for _, sql := range []string{
		"CREATE USER a WITH PASSWORD '" + secret + "' x",
		"CREATE USER a WITH PASSWORD '" + secret + "' ROLE",
		"CREATE USER a WITH PASSWORD '" + secret + "' ,",
		"CREATE USER a WITH PASSWORD '" + secret + "' ROLE 5",
		"CREATE USER a WITH PASSWORD '" + secret + "' EMAIL 5",
		"CREATE USER a WITH PASSWORD '" + secret + "' (",
		"ALTER USER a SET PASSWORD '" + secret + "' x",
		"ALTER USER a SET PASSWORD '" + secret + "' ROLE dba",
		"ALTER USER a SET PASSWORD '" + secret + "', PASSWORD 'x'",
		"ALTER USER a SET PASSWORD '" + secret + "',",
		"EXECUTE AS USER a (CREATE USER b WITH PASSWORD '" + secret + "' junk)",
	} {
		_, err := Parse(sql)
		if err == nil {
			t.Errorf("Parse(%q) succeeded", sql)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Parse(%q) error quotes the password: %v", sql, err)
		}
	}
}
