package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/floedb/floe/lakehouse/dberr"
)

// runCLIStdin runs the command line as run does, with stdin as standard
// input.
func runCLIStdin(t *testing.T, environ []string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb lockedBuffer
	root := newRootCmd(environ, &out, &errb)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	if err := root.ExecuteContext(context.Background()); err != nil {
		if !errors.Is(err, errReported) {
			writeError(&errb, err)
		}
		return 1, out.String(), errb.String()
	}
	return 0, out.String(), errb.String()
}

// clientEnv is an environment with a private config and state directory.
func clientEnv(t *testing.T, extra ...string) []string {
	dir := t.TempDir()
	return append([]string{
		"HOME=" + dir,
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"XDG_STATE_HOME=" + filepath.Join(dir, "state"),
	}, extra...)
}

func TestSQLCommandExitCodesAndErrors(t *testing.T) {
	fake := newFakeServer()
	url := fake.start(t)
	access, _ := fake.grant("alice")
	script := filepath.Join(t.TempDir(), "script.sql")
	if err := os.WriteFile(script, []byte("-- setup\nUSE sales;\nINSERT INTO t VALUES (1), (2), (3);\n\nSELECT *\n  FROMM t;\nSELECT 1 AS one;\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	many := filepath.Join(t.TempDir(), "many.sql")
	if err := os.WriteFile(many, []byte(strings.Repeat("INSERT INTO t VALUES (1);\n", 5)+"SELECT 1 AS one;\nINSERT INTO t VALUES (2);\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(t.TempDir(), "huge.sql")
	if err := os.WriteFile(huge, []byte(strings.Repeat("INSERT INTO t VALUES (1);\n", 5000)), 0o600); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name       string
		stdin      string
		args       []string
		wantCode   int
		wantOut    string
		wantErr    []string
		wantNotErr string
	}{
		{
			name:     "two statements",
			args:     []string{"sql", "-c", "SELECT 1 AS one; INSERT INTO t VALUES (1)"},
			wantOut:  "+-----+\n| one |\n+-----+\n|   1 |\n+-----+\n(1 row)\nINSERT 3\n",
			wantCode: 0,
		},
		{
			name:     "semicolon in a string is not a separator",
			args:     []string{"sql", "-c", "SELECT 'a;b' AS s", "--format", "csv"},
			wantOut:  "s\na;b\n",
			wantCode: 0,
		},
		{
			name:     "syntax error with position in a file",
			args:     []string{"sql", "-f", script, "--format", "json"},
			wantCode: 1,
			wantOut:  `{"columns":[],"rows":[],"message":"USE"}` + "\n" + `{"columns":[],"rows":[],"message":"INSERT 3"}` + "\n",
			// FROMM is at line 6, column 3 of the file.
			wantErr: []string{"ERROR SYNTAX_ERROR: syntax error at or near \"FROMM\" (line 6, column 3)\n", "floe: error: 2 statements completed before the error"},
		},
		{
			name:       "error without position",
			args:       []string{"sql", "-c", "SELECT * FROM nope"},
			wantCode:   1,
			wantErr:    []string{"ERROR TABLE_NOT_FOUND: table not found\n"},
			wantNotErr: "(line",
		},
		{
			name:     "position on the first line is moved by the statement's column",
			args:     []string{"sql", "-c", "SELECT 1 AS one; SELECT x FROMM t"},
			wantCode: 1,
			wantErr:  []string{`(line 1, column 27)`, "1 statement completed"},
		},
		{
			name:     "unterminated string fails before sending",
			args:     []string{"sql", "-c", "SELECT 1 AS one; SELECT 'oops"},
			wantCode: 1,
			wantErr:  []string{"ERROR SYNTAX_ERROR: ", "(line 1, column 25)"},
		},
		{
			name:     "script from stdin",
			stdin:    "USE sales;\nSHOW TABLES;\n",
			args:     []string{"sql", "--format", "csv"},
			wantOut:  "namespace,name\nsales,events\n",
			wantCode: 0,
		},
		{
			name:     "-f - reads stdin",
			stdin:    "SELECT 1 AS one;",
			args:     []string{"sql", "-f", "-", "--format", "json"},
			wantOut:  `{"columns":[{"name":"one","type":"INTEGER"}],"rows":[[1]],"message":""}` + "\n",
			wantCode: 0,
		},
		{
			name:     "a script summarises consecutive row counts",
			args:     []string{"sql", "-f", many},
			wantOut:  "INSERT 15 (5 statements)\n\n+-----+\n| one |\n+-----+\n|   1 |\n+-----+\n(1 row)\nINSERT 3\n",
			wantCode: 0,
		},
		{
			name:     "5000 one-row statements print one line",
			args:     []string{"sql", "-f", huge},
			wantOut:  "INSERT 15000 (5000 statements)\n",
			wantCode: 0,
		},
		{
			name:     "missing file",
			args:     []string{"sql", "-f", filepath.Join(t.TempDir(), "nope.sql")},
			wantCode: 1,
			wantErr:  []string{"read SQL", "no such file"},
		},
		{
			name:     "bad format",
			args:     []string{"sql", "-c", "SELECT 1", "--format", "xml"},
			wantCode: 1,
			wantErr:  []string{`--format: format "xml": want table, json or csv`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := clientEnv(t, "FLOE_SERVER="+url, "FLOE_TOKEN="+access)
			code, out, stderr := runCLIStdin(t, env, tc.stdin, tc.args...)
			if code != tc.wantCode {
				t.Fatalf("exit code %d, want %d; stdout:\n%s\nstderr:\n%s", code, tc.wantCode, out, stderr)
			}
			if tc.wantOut != "" && out != tc.wantOut {
				t.Errorf("stdout:\n%s\nwant:\n%s", out, tc.wantOut)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
			if tc.wantNotErr != "" && strings.Contains(stderr, tc.wantNotErr) {
				t.Errorf("stderr %q has %q", stderr, tc.wantNotErr)
			}
		})
	}
}

func TestSQLCommandNamespaceFlagAndProtocols(t *testing.T) {
	fake := newFakeServer()
	url := fake.start(t)
	access, _ := fake.grant("alice")
	for _, proto := range []string{"connect", "grpc", "grpcweb"} {
		t.Run(proto, func(t *testing.T) {
			env := clientEnv(t)
			code, out, stderr := runCLIStdin(t, env, "", "sql", "--server", url, "--token", access,
				"--protocol", proto, "-n", "sales", "--timeout", "10s", "-c", "SHOW TABLES", "--format", "csv")
			if code != 0 || out != "namespace,name\nsales,events\n" {
				t.Fatalf("code %d, stdout %q, stderr %q", code, out, stderr)
			}
		})
	}
	code, _, stderr := runCLIStdin(t, clientEnv(t), "", "sql", "--server", url, "--protocol", "soap", "-c", "SELECT 1")
	if code != 1 || !strings.Contains(stderr, `--protocol "soap"`) {
		t.Fatalf("bad protocol: code %d, stderr %q", code, stderr)
	}
}

func TestSQLCommandCredentialOrder(t *testing.T) {
	fake := newFakeServer()
	url := fake.start(t)

	t.Run("not logged in", func(t *testing.T) {
		code, _, stderr := runCLIStdin(t, clientEnv(t, "FLOE_SERVER="+url+"/"), "", "sql", "-c", "SELECT 1 AS one")
		want := "not logged in to " + url + ": run `floe login --server " + url + "`"
		if code != 1 || !strings.Contains(stderr, want) {
			t.Fatalf("code %d, stderr %q; want %q", code, stderr, want)
		}
	})

	t.Run("user and password log in first", func(t *testing.T) {
		before, _, _ := fake.counts()
		env := clientEnv(t, "FLOE_USER=bob", "FLOE_PASSWORD=secret")
		code, out, stderr := runCLIStdin(t, env, "", "sql", "--server", url, "-c", "SELECT 1 AS one", "--format", "csv")
		if after, _, _ := fake.counts(); code != 0 || out != "one\n1\n" || after != before+1 {
			t.Fatalf("code %d, stdout %q, stderr %q, logins %d→%d", code, out, stderr, before, after)
		}
	})

	t.Run("password from stdin before the script", func(t *testing.T) {
		code, out, stderr := runCLIStdin(t, clientEnv(t), "secret\nSELECT 1 AS one;\n",
			"sql", "--server", url, "--user", "bob", "--format", "csv")
		if code != 0 || out != "one\n1\n" {
			t.Fatalf("code %d, stdout %q, stderr %q", code, out, stderr)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		code, _, stderr := runCLIStdin(t, clientEnv(t), "", "sql", "--server", url, "--user", "bob", "--password", "nope", "-c", "SELECT 1")
		if code != 1 || !strings.Contains(stderr, "log in to "+url+" as bob") || !strings.Contains(stderr, "wrong user or password") {
			t.Fatalf("code %d, stderr %q", code, stderr)
		}
	})

	t.Run("token wins over stored credentials", func(t *testing.T) {
		env := clientEnv(t)
		path, err := credentialsPath(env)
		if err != nil {
			t.Fatal(err)
		}
		if err := (credentialStore{path: path}).put(url, storedToken{AccessToken: "garbage"}); err != nil {
			t.Fatal(err)
		}
		access, _ := fake.grant("carol")
		code, out, stderr := runCLIStdin(t, env, "", "sql", "--server", url, "--token", access, "-c", "SELECT 1 AS one", "--format", "csv")
		if code != 0 || out != "one\n1\n" {
			t.Fatalf("code %d, stdout %q, stderr %q", code, out, stderr)
		}
	})
}

// The stored access token is refreshed when the server rejects it, or
// before the call when it has expired, and the new tokens are saved.
func TestSQLCommandRefreshesStoredToken(t *testing.T) {
	cases := []struct {
		name string
		// expired: the stored token's expiry has passed; else the server
		// rejects it while the client still believes it valid.
		expired             bool
		wantUnauthenticated int
	}{
		{name: "server answers unauthenticated", wantUnauthenticated: 1},
		{name: "expired before the call", expired: true, wantUnauthenticated: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFakeServer()
			url := fake.start(t)
			access, refresh := fake.grant("alice")
			fake.revoke(access)
			env := clientEnv(t, "FLOE_SERVER="+url)
			path, err := credentialsPath(env)
			if err != nil {
				t.Fatal(err)
			}
			store := credentialStore{path: path}
			expires := time.Now().Add(time.Hour)
			if tc.expired {
				expires = time.Now().Add(-time.Minute)
			}
			if err := store.put(url, storedToken{AccessToken: access, RefreshToken: refresh, ExpiresAt: expires, User: "alice", Role: "dba"}); err != nil {
				t.Fatal(err)
			}

			for i := range 2 { // the second run uses the saved token
				code, out, stderr := runCLIStdin(t, env, "", "sql", "-c", "SELECT 1 AS one", "--format", "csv")
				if code != 0 || out != "one\n1\n" {
					t.Fatalf("run %d: code %d, stdout %q, stderr %q", i, code, out, stderr)
				}
			}
			_, refreshes, unauth := fake.counts()
			if refreshes != 1 || unauth != tc.wantUnauthenticated {
				t.Errorf("refreshes %d, unauthenticated %d; want 1, %d", refreshes, unauth, tc.wantUnauthenticated)
			}
			tok, ok, err := store.get(url)
			if err != nil || !ok {
				t.Fatalf("stored token: %v %v", ok, err)
			}
			if tok.AccessToken != "access-2" || tok.RefreshToken != "refresh-2" || tok.User != "alice" || !tok.ExpiresAt.After(time.Now()) {
				t.Errorf("saved token %+v, want the refreshed pair", tok)
			}
		})
	}

	t.Run("revoked refresh token asks for a login", func(t *testing.T) {
		fake := newFakeServer()
		url := fake.start(t)
		env := clientEnv(t, "FLOE_SERVER="+url)
		path, _ := credentialsPath(env)
		if err := (credentialStore{path: path}).put(url, storedToken{AccessToken: "old", RefreshToken: "revoked"}); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := runCLIStdin(t, env, "", "sql", "-c", "SELECT 1 AS one")
		want := "ERROR: the session for " + url + " has expired or was revoked: run `floe login --server " + url + "`"
		if code != 1 || !strings.Contains(stderr, want) {
			t.Fatalf("code %d, stderr %q; want %q", code, stderr, want)
		}
	})
}

func TestErrorLine(t *testing.T) {
	text := "SELECT 1;\n  SELECT é, x FROMM t;"
	offset := strings.Index(text, "SELECT é")
	cases := []struct {
		name   string
		err    error
		offset int
		want   string
	}{
		{"detail on the statement's first line", floeError(connect.CodeInvalidArgument, "SYNTAX_ERROR", "bad", 1, 14, 0), offset, "ERROR SYNTAX_ERROR: bad (line 2, column 16)"},
		{"detail on a later line", floeError(connect.CodeInvalidArgument, "SYNTAX_ERROR", "bad", 2, 4, 0), offset, "ERROR SYNTAX_ERROR: bad (line 3, column 4)"},
		{"detail without position", floeError(connect.CodePermissionDenied, "PERMISSION_DENIED", "no", 0, 0, 1), offset, "ERROR PERMISSION_DENIED: no"},
		{"no detail", connect.NewError(connect.CodeUnavailable, errors.New("connection refused")), 0, "ERROR UNAVAILABLE: connection refused"},
		{"lexer error", dberr.At(3, 2, "unterminated string"), 0, "ERROR SYNTAX_ERROR: unterminated string (line 3, column 2)"},
		{"other", errors.New("boom"), 0, "ERROR: boom"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := errorLine(tc.err, text, tc.offset); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}
