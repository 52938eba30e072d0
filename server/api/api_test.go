package api_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/protobuf/proto"

	"github.com/floedb/floe/lakehouse/config"
	floev1 "github.com/floedb/floe/proto/floe/v1"
	"github.com/floedb/floe/proto/floe/v1/floev1connect"
	"github.com/floedb/floe/server/api"
)

// protocols are the three wire protocols served on one port.
var protocols = map[string][]connect.ClientOption{
	"connect": nil,
	"grpc":    {connect.WithGRPC()},
	"grpcweb": {connect.WithGRPCWeb()},
}

// TestTwoUsersOverEveryProtocol: per-user tables isolate users whichever
// protocol they speak, and the caller is whom the token names.
func TestTwoUsersOverEveryProtocol(t *testing.T) {
	s := startServer(t, nil)
	root := s.login("root", rootPassword)
	root.exec(t, "CREATE NAMESPACE app; CREATE USER alice WITH PASSWORD 'alice-pass-1'; CREATE USER bob WITH PASSWORD 'bob-pass-123'")
	root.exec(t, "CREATE USER TABLE app.notes (id BIGINT PRIMARY KEY, body TEXT)")
	aliceToken := s.login("alice", "alice-pass-1").token
	bobToken := s.login("bob", "bob-pass-123", connect.WithGRPC()).token
	for name, opts := range protocols {
		t.Run(name, func(t *testing.T) {
			alice := s.clients(aliceToken, opts...)
			bob := s.clients(bobToken, opts...)
			alice.exec(t, "DELETE FROM app.notes")
			res := alice.exec(t, "INSERT INTO app.notes VALUES ($1, $2), (2, 'second')", 1, "first via "+name)
			if got := res.GetResults()[0].GetRowsAffected(); got != 2 {
				t.Fatalf("rows affected %d", got)
			}
			bob.exec(t, "INSERT INTO app.notes VALUES (1, 'bob''s')")
			got := rowsText(alice.exec(t, "SELECT id, body FROM app.notes ORDER BY id"))
			want := []string{"1|first via " + name, "2|second"}
			if !slices.Equal(got, want) {
				t.Fatalf("alice sees %q, want %q", got, want)
			}
			if got := rowsText(bob.exec(t, "SELECT id, body FROM app.notes")); !slices.Equal(got, []string{"1|bob's"}) {
				t.Fatalf("bob sees %q", got)
			}
			bob.exec(t, "DELETE FROM app.notes")
			who, err := alice.auth.WhoAmI(context.Background(), connect.NewRequest(&floev1.WhoAmIRequest{}))
			if err != nil || who.Msg.GetUser() != "alice" || who.Msg.GetRole() != "user" {
				t.Fatalf("WhoAmI = %v, %v", who, err)
			}
			res = alice.exec(t, "SELECT 1")
			if res.GetResults()[0].GetAsUser() != "alice" || res.GetNamespace() != "public" {
				t.Fatalf("as_user/namespace = %q/%q", res.GetResults()[0].GetAsUser(), res.GetNamespace())
			}
		})
	}
}

func TestErrorsCarryFloeCodes(t *testing.T) {
	s := startServer(t, nil)
	root := s.login("root", rootPassword)
	root.exec(t, "CREATE USER alice WITH PASSWORD 'alice-pass-1'; CREATE USER dora WITH PASSWORD 'dora-pass-1' ROLE dba")
	alice := s.login("alice", "alice-pass-1")
	for _, tc := range []struct {
		sql      string
		code     connect.Code
		floe     string
		position bool
	}{
		{"SELECT * FROM missing", connect.CodeNotFound, "TABLE_NOT_FOUND", false},
		{"SELEC 1", connect.CodeInvalidArgument, "SYNTAX_ERROR", true},
		{"EXECUTE AS USER dora (SELECT 1)", connect.CodePermissionDenied, "PERMISSION_DENIED", false},
		{"SELECT * FROM read_csv('/etc/passwd')", connect.CodePermissionDenied, "PERMISSION_DENIED", false},
		{"BEGIN", connect.CodeUnimplemented, "UNSUPPORTED", false},
		{"SELECT CAST('x' AS INTEGER)", connect.CodeInvalidArgument, "TYPE_MISMATCH", false},
	} {
		_, err := alice.try(tc.sql)
		if err == nil {
			t.Fatalf("%s: no error", tc.sql)
		}
		code, fc := floeCode(t, err)
		if code != tc.code || fc != tc.floe {
			t.Errorf("%s: %v / %s, want %v / %s (%v)", tc.sql, code, fc, tc.code, tc.floe, err)
		}
	}
	// The detail counts the statements that completed.
	_, err := alice.try("SELECT 1; SELECT 2; SELECT * FROM nope")
	var ce *connect.Error
	if !errorsAs(err, &ce) {
		t.Fatal(err)
	}
	d, _ := ce.Details()[0].Value()
	if ed := d.(*floev1.ErrorDetail); ed.GetStatementsCompleted() != 2 || !strings.Contains(ce.Message(), "statement 3") {
		t.Fatalf("detail %v, message %q", ed, ce.Message())
	}
	// Syntax errors carry the position.
	_, err = alice.try("SELECT 1;\n  CREATE TABLE t (a FOO)")
	errorsAs(err, &ce)
	d, _ = ce.Details()[0].Value()
	if ed := d.(*floev1.ErrorDetail); ed.GetLine() != 2 || ed.GetColumn() == 0 {
		t.Fatalf("position %d:%d", ed.GetLine(), ed.GetColumn())
	}
}

// TestTokensAreChecked: every way of presenting a bad token gets
// Unauthenticated, on every protocol.
func TestTokensAreChecked(t *testing.T) {
	short := func(c *config.Config) { c.Auth.AccessTTL = config.Duration{Duration: time.Second} }
	s := startServer(t, short)
	good := s.login("root", rootPassword)

	sign := func(key, role string, exp time.Time) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "root", "role": role, "typ": "access",
			"iss": "floe", "iat": time.Now().Unix(), "exp": exp.Unix()}).SignedString([]byte(key))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	parts := strings.Split(good.token, ".")
	tampered := parts[0] + "." + parts[1] + "x." + parts[2]
	bad := map[string]string{
		"no token":             "",
		"garbage":              "abc",
		"another key":          sign(strings.Repeat("z", 32), "system", time.Now().Add(time.Hour)),
		"tampered payload":     tampered,
		"expired (right key)":  sign(secret, "system", time.Now().Add(-time.Minute)),
		"unknown role claimed": sign(secret, "superuser", time.Now().Add(time.Hour)),
	}
	for pname, opts := range protocols {
		for name, tok := range bad {
			c := s.clients(tok, opts...)
			_, err := c.try("SELECT 1")
			if code, fc := floeCode(t, err); code != connect.CodeUnauthenticated || fc != "UNAUTHENTICATED" {
				t.Errorf("%s/%s: %v %s", pname, name, code, fc)
			}
			_, err = c.auth.WhoAmI(context.Background(), connect.NewRequest(&floev1.WhoAmIRequest{}))
			if code, _ := floeCode(t, err); code != connect.CodeUnauthenticated {
				t.Errorf("%s/%s WhoAmI: %v", pname, name, code)
			}
		}
	}
	// The server's own token expires too (1s TTL, 5s leeway).
	time.Sleep(6500 * time.Millisecond)
	_, err := good.try("SELECT 1")
	if code, _ := floeCode(t, err); code != connect.CodeUnauthenticated {
		t.Fatalf("expired token: %v", err)
	}
}

// TestPasswordsNeverLeak: a password is in no log line, no error and no
// row of system.users, whatever the statement.
func TestPasswordsNeverLeak(t *testing.T) {
	s := startServer(t, nil)
	root := s.login("root", rootPassword)
	const pw = "Very-Secret-Pw-42"
	var errs []string
	root.exec(t, "CREATE USER alice WITH PASSWORD '"+pw+"' ROLE service")
	for _, sql := range []string{
		"CREATE USER alice WITH PASSWORD '" + pw + "'",           // exists
		"CREATE USER bob WITH PASSWORD '" + pw + "' ROLE wizard", // bad role
		"CREATE USER bob WITH PASSWORD '" + pw + "' JUNK",        // syntax
		"ALTER USER nobody SET PASSWORD '" + pw + "'",
		"CREATE USER c WITH PASSWORD 'Very-Secret-Pw-42-but-far-too-long-for-bcrypt-to-take-72-bytes-or-more-xx'",
	} {
		if _, err := root.try(sql); err == nil {
			t.Fatalf("%s succeeded", sql)
		} else {
			errs = append(errs, err.Error())
		}
	}
	for _, p := range []string{pw, "wrong-" + pw} {
		_, err := s.clients("").auth.Login(context.Background(), connect.NewRequest(&floev1.LoginRequest{User: "alice", Password: p + "x"}))
		if err == nil {
			t.Fatal("login with a wrong password succeeded")
		}
		errs = append(errs, err.Error())
	}
	alice := s.login("alice", pw)
	alice.exec(t, "ALTER USER alice SET PASSWORD '"+pw+"-2'")
	users := root.exec(t, "SELECT * FROM system.users")
	audit := root.exec(t, "SELECT * FROM system.audit_log")
	dump, _ := proto.Marshal(users)
	dump2, _ := proto.Marshal(audit)
	for what, text := range map[string]string{"logs": s.logs.String(), "errors": strings.Join(errs, "\n"),
		"system.users": string(dump), "audit_log": string(dump2)} {
		if strings.Contains(text, "Very-Secret") {
			t.Errorf("%s hold the password:\n%s", what, text)
		}
		if strings.Contains(text, "$2a$") {
			t.Errorf("%s hold a password hash", what)
		}
	}
	if !strings.Contains(string(dump2), "LOGIN FAILED") {
		t.Error("failed logins are not audited")
	}
}

// TestBadInput: oversized, malformed and mistyped requests get clear
// errors, and the server keeps serving.
func TestBadInput(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.Server.MaxRequestBytes = 64 << 10 })
	root := s.login("root", rootPassword)
	root.exec(t, "CREATE SHARED TABLE kv (k BIGINT PRIMARY KEY, v TEXT)")

	_, err := root.try("SELECT '" + strings.Repeat("x", 100<<10) + "'")
	if code, _ := floeCode(t, err); code != connect.CodeResourceExhausted {
		t.Errorf("oversized request: %v", err)
	}
	_, err = root.try("INSERT INTO kv VALUES ($1, $2)", "not a number", "v")
	if code, fc := floeCode(t, err); code != connect.CodeInvalidArgument || fc != "TYPE_MISMATCH" {
		t.Errorf("wrong parameter type: %v %s (%v)", code, fc, err)
	}
	_, err = root.try("INSERT INTO kv VALUES ($1, $2)", 1)
	if code, _ := floeCode(t, err); code != connect.CodeInvalidArgument {
		t.Errorf("missing parameter: %v", err)
	}
	_, err = root.try("SELECT $1", []any{1, 2})
	if code, fc := floeCode(t, err); code != connect.CodeInvalidArgument || fc != "INVALID_ARGUMENT" {
		t.Errorf("list parameter: %v", err)
	}

	post := func(body, ctype string) (int, string) {
		req, _ := http.NewRequest("POST", s.url+floev1connect.QueryServiceExecuteSQLProcedure, strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Authorization", "Bearer "+root.token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	for name, tc := range map[string]struct{ body, ctype string }{
		"malformed json": {`{"sql": "SELECT 1"`, "application/json"},
		"unknown field":  {`{"sql": "SELECT 1", "drop_everything": true}`, "application/json"},
		"wrong type":     {`{"sql": 5}`, "application/json"},
		"bad proto":      {"\xff\xff\xff\xff", "application/proto"},
	} {
		status, body := post(tc.body, tc.ctype)
		if status != http.StatusBadRequest || !strings.Contains(body, `"invalid_argument"`) {
			t.Errorf("%s: %d %s", name, status, body)
		}
	}
	if status, body := post(`{"sql": "SELECT 41 + 1 AS x"}`, "application/json"); status != 200 || !strings.Contains(body, `[42]`) {
		t.Fatalf("server no longer answers: %d %s", status, body)
	}
	// Unknown result format.
	_, err = root.query.ExecuteSQL(context.Background(), connect.NewRequest(&floev1.ExecuteSQLRequest{Sql: "SELECT 1", Format: 99}))
	if code, _ := floeCode(t, err); code != connect.CodeInvalidArgument {
		t.Errorf("unknown format: %v", err)
	}
}

// TestLoginsAreRateLimited: beyond its burst, a client's logins fail
// with ResourceExhausted/RATE_LIMITED before any password is checked.
func TestLoginsAreRateLimited(t *testing.T) {
	s := startServer(t, nil, func(o *api.Options) { o.LoginRate, o.LoginBurst = 0.001, 2 })
	c := s.clients("")
	login := func(pw string) error {
		_, err := c.auth.Login(context.Background(), connect.NewRequest(&floev1.LoginRequest{User: "root", Password: pw}))
		return err
	}
	if err := login(rootPassword); err != nil {
		t.Fatal(err)
	}
	if code, fc := floeCode(t, login("wrong-password")); code != connect.CodeUnauthenticated || fc != "UNAUTHENTICATED" {
		t.Fatalf("second attempt: %v %s", code, fc)
	}
	if code, fc := floeCode(t, login(rootPassword)); code != connect.CodeResourceExhausted || fc != "RATE_LIMITED" {
		t.Fatalf("third attempt: %v %s", code, fc)
	}
}

func TestValuesAndArrow(t *testing.T) {
	s := startServer(t, nil)
	root := s.login("root", rootPassword)
	const q = `SELECT 1::INTEGER AS i, 9007199254740993::BIGINT AS big, 1.5::DOUBLE AS d, 'nan'::DOUBLE AS n,
		12.30::DECIMAL(10,2) AS dec, 'héllo' AS s, '\x01\x02'::BLOB AS b, DATE '2024-02-29' AS dt,
		TIMESTAMPTZ '2024-01-02 03:04:05.123456+00' AS ts, true AS t, NULL AS z,
		'8f14e45f-ceea-467f-a0e6-7f8d0b3f1a2c'::UUID AS u, [1, 2] AS l, {'a': 1} AS st`
	res := root.exec(t, q)
	want := `1|9007199254740993|1.5|NaN|12.30|héllo|AQI=|2024-02-29|2024-01-02T03:04:05.123456Z|true|null|8f14e45f-ceea-467f-a0e6-7f8d0b3f1a2c|[1,2]|{"a":1}`
	got := rowsText(res)
	if len(got) != 1 || got[0] != want {
		t.Fatalf("row\n got %q\nwant %q", got, want)
	}

	ar, err := root.query.ExecuteSQL(context.Background(), connect.NewRequest(&floev1.ExecuteSQLRequest{Sql: q,
		Format: floev1.ResultFormat_RESULT_FORMAT_ARROW_IPC}))
	if err != nil {
		t.Fatal(err)
	}
	r := ar.Msg.GetResults()[0]
	if len(r.GetRows()) != 0 || r.GetRowCount() != 1 {
		t.Fatalf("arrow result has %d JSON rows, row_count %d", len(r.GetRows()), r.GetRowCount())
	}
	rd, err := ipc.NewReader(bytes.NewReader(r.GetArrowIpc()))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Release()
	if !rd.Next() {
		t.Fatal("no record batch")
	}
	rec := rd.RecordBatch()
	var types []string
	for _, f := range rec.Schema().Fields() {
		types = append(types, f.Name+":"+f.Type.String())
	}
	wantTypes := "i:int32 big:int64 d:float64 n:float64 dec:decimal(10, 2) s:utf8 b:binary dt:date32 ts:timestamp[us, tz=UTC] t:bool z:int32 u:utf8 l:utf8 st:utf8"
	if strings.Join(types, " ") != wantTypes {
		t.Fatalf("arrow schema\n got %s\nwant %s", strings.Join(types, " "), wantTypes)
	}
	var vals []string
	for i := range rec.NumCols() {
		vals = append(vals, rec.Column(int(i)).ValueStr(0))
	}
	wantVals := "1 9007199254740993 1.5 NaN 12.3 héllo AQI= 2024-02-29 2024-01-02T03:04:05.123456Z true (null) 8f14e45f-ceea-467f-a0e6-7f8d0b3f1a2c [1,2] {\"a\":1}"
	if strings.Join(vals, " ") != wantVals {
		t.Fatalf("arrow values\n got %s\nwant %s", strings.Join(vals, " "), wantVals)
	}
}

func TestHealthAndReflection(t *testing.T) {
	s := startServer(t, nil)
	hc := grpchealth.NewClient(h2cClient(), s.url, connect.WithGRPC())
	for _, svc := range append([]string{""}, api.Services...) {
		res, err := hc.Check(context.Background(), &grpchealth.CheckRequest{Service: svc})
		if err != nil || res.Status != grpchealth.StatusServing {
			t.Fatalf("health of %q: %v %v", svc, res, err)
		}
	}
	// Reflection is served (without a token) for grpcurl and buf curl.
	req, _ := http.NewRequest("POST", s.url+"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", bytes.NewReader([]byte{0, 0, 0, 0, 2, 0x3a, 0}))
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	res, err := h2cClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.Header.Get("Grpc-Status") != "" && res.Header.Get("Grpc-Status") != "0" || !bytes.Contains(body, []byte("floe.v1.QueryService")) {
		t.Fatalf("reflection: status %q, body %q, trailer %v", res.Header.Get("Grpc-Status"), body, res.Trailer)
	}
}
