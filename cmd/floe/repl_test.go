package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chzyer/readline"
)

func TestStatementState(t *testing.T) {
	cases := []struct {
		name string
		text string
		want stmtState
	}{
		{"plain", "SELECT 1;", stmtComplete},
		{"no semicolon", "SELECT 1", stmtIncomplete},
		{"trailing space and comment", "SELECT 1; -- done\n", stmtComplete},
		{"semicolon in a string", "SELECT 'a;", stmtIncomplete},
		{"string closed later", "SELECT 'a;\nb';", stmtComplete},
		{"semicolon before a string ends", "SELECT 'a;b'", stmtIncomplete},
		{"escaped quote", "SELECT 'it''s;'", stmtIncomplete},
		{"E string backslash quote", `SELECT E'\';'`, stmtIncomplete},
		{"quoted identifier", `SELECT 1 AS "a;"`, stmtIncomplete},
		{"line comment hides semicolon", "SELECT 1 -- ;", stmtIncomplete},
		{"block comment open", "SELECT 1; /* ;", stmtIncomplete},
		{"nested block comment", "SELECT /* /* */ ; */ 1", stmtIncomplete},
		{"dollar quote open", "SELECT $$a;", stmtIncomplete},
		{"dollar quote closed", "SELECT $$a;$$;", stmtComplete},
		{"tagged dollar quote", "SELECT $fn$ $$; $fn$", stmtIncomplete},
		{"after parenthesis", "INSERT INTO t VALUES (1);", stmtComplete},
		{"two statements", "SELECT 1; SELECT 2;", stmtComplete},
		{"second unfinished", "SELECT 1; SELECT 2", stmtIncomplete},
		{"only comments", "-- nothing\n/* here */", stmtEmpty},
		{"only whitespace", "  \n\t", stmtEmpty},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := statementState(tc.text); got != tc.want {
				t.Errorf("statementState(%q) = %d, want %d", tc.text, got, tc.want)
			}
		})
	}
}

func TestParseMeta(t *testing.T) {
	cases := []struct {
		line    string
		want    metaCommand
		wantErr string
	}{
		{line: `\dt`, want: metaCommand{kind: metaSQL, sql: "SHOW TABLES"}},
		{line: `\dt sales`, want: metaCommand{kind: metaSQL, sql: "SHOW TABLES IN sales"}},
		{line: `  \dt "Sales Data"  `, want: metaCommand{kind: metaSQL, sql: `SHOW TABLES IN "Sales Data"`}},
		{line: `\dn`, want: metaCommand{kind: metaSQL, sql: "SHOW NAMESPACES"}},
		{line: `\d events`, want: metaCommand{kind: metaSQL, sql: "DESCRIBE events"}},
		{line: `\d sales.events`, want: metaCommand{kind: metaSQL, sql: "DESCRIBE sales.events"}},
		{line: `\d`, want: metaCommand{kind: metaSQL, sql: "SHOW TABLES"}},
		{line: `\timing`, want: metaCommand{kind: metaTiming}},
		{line: `\format JSON`, want: metaCommand{kind: metaFormat, format: formatJSON}},
		{line: `\?`, want: metaCommand{kind: metaHelp}},
		{line: `\q`, want: metaCommand{kind: metaQuit}},
		{line: `\d t; DROP TABLE x`, wantErr: `not a name: ";"`},
		{line: `\d sales.`, wantErr: "incomplete name"},
		{line: `\dt a b`, wantErr: "not a name"},
		{line: `\dn x`, wantErr: `\dn takes no argument`},
		{line: `\format xml`, wantErr: `want table, json or csv`},
		{line: `\x`, wantErr: `unknown command \x`},
	}
	for _, tc := range cases {
		t.Run(tc.line, func(t *testing.T) {
			got, err := parseMeta(tc.line)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("parseMeta = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// fakeLines is a scripted lineReader. The line "^C" stands for Ctrl-C.
type fakeLines struct {
	lines   []string
	prompts []string
	history []string
	prompt  string
}

func (f *fakeLines) Readline() (string, error) {
	f.prompts = append(f.prompts, f.prompt)
	if len(f.lines) == 0 {
		return "", io.EOF
	}
	line := f.lines[0]
	f.lines = f.lines[1:]
	if line == "^C" {
		return "", readline.ErrInterrupt
	}
	return line, nil
}

func (f *fakeLines) SetPrompt(p string) { f.prompt = p }

func (f *fakeLines) SaveHistory(entry string) error {
	f.history = append(f.history, entry)
	return nil
}

func TestShellSession(t *testing.T) {
	fake := newFakeServer()
	url := fake.start(t)
	access, _ := fake.grant("alice")
	flags := connFlags{server: url, token: access, protocol: "connect"}
	sess, err := openSession(context.Background(), &flags, nil, strings.NewReader(""), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	in := &fakeLines{lines: []string{
		"",
		"SELECT 1",
		"  AS one;",
		"USE sales;",
		"SELECT 'a;", // the ';' is inside the string
		"b AS s; -- oops",
		"^C", // clears the unfinished statement
		`\dt`,
		`\format csv`,
		"SHOW TABLES",
		";",
		"-- only a comment",
		"SELECT x FROMM t;",
		`\nope`,
		`\timing`,
		"INSERT INTO t VALUES (1), (2), (3); SELECT 'a;b' AS s;",
		`\q`,
		"SELECT 'never run';",
	}}
	sh := &shell{
		in: in, out: &out, errOut: &errOut,
		run: &sqlRunner{sess: sess, out: &out, errOut: &errOut, results: resultWriter{w: &out, format: formatTable}},
	}
	if err := sh.loop(context.Background()); err != nil {
		t.Fatal(err)
	}

	wantPrompts := []string{
		"floe:public> ", // ""
		"floe:public> ", // SELECT 1
		"...> ",         // AS one;
		"floe:public> ", // USE sales;
		"floe:sales> ",  // SELECT 'a;
		"...> ",         // b AS s; -- oops (still inside the string)
		"...> ",         // ^C
		"floe:sales> ",  // \dt
		"floe:sales> ",  // \format csv
		"floe:sales> ",  // SHOW TABLES
		"...> ",         // ;
		"floe:sales> ",  // -- only a comment
		"floe:sales> ",  // SELECT x FROMM t;
		"floe:sales> ",  // \nope
		"floe:sales> ",  // \timing
		"floe:sales> ",  // INSERT …; SELECT …;
		"floe:sales> ",  // \q
	}
	if strings.Join(in.prompts, "|") != strings.Join(wantPrompts, "|") {
		t.Errorf("prompts:\n%q\nwant:\n%q", in.prompts, wantPrompts)
	}
	wantSQL := []string{
		"public: SELECT 1\n  AS one",
		"public: USE sales",
		"sales: SHOW TABLES",
		"sales: SHOW TABLES",
		"sales: SELECT x FROMM t",
		"sales: INSERT INTO t VALUES (1), (2), (3)",
		"sales: SELECT 'a;b' AS s",
	}
	if got := fake.received(); strings.Join(got, "|") != strings.Join(wantSQL, "|") {
		t.Errorf("server ran:\n%q\nwant:\n%q", got, wantSQL)
	}
	wantOut := "+-----+\n| one |\n+-----+\n|   1 |\n+-----+\n(1 row)\n" +
		"USE\n\n" +
		"+-----------+--------+\n| namespace | name   |\n+-----------+--------+\n| sales     | events |\n+-----------+--------+\n(1 row)\n" +
		"Output format is csv.\n" +
		"namespace,name\nsales,events\n" +
		"Timing is on.\n" +
		"Time: "
	if !strings.HasPrefix(out.String(), wantOut) {
		t.Errorf("stdout:\n%s\nwant prefix:\n%s", out.String(), wantOut)
	}
	if !strings.Contains(out.String(), "round trip, 1.500 ms on the server\n\ns\na;b\nTime: ") {
		t.Errorf("stdout lacks the timed INSERT and SELECT:\n%s", out.String())
	}
	wantErr := "ERROR SYNTAX_ERROR: syntax error at or near \"FROMM\" (line 1, column 10)\n" +
		"unknown command \\nope (\\? for help)\n"
	if errOut.String() != wantErr {
		t.Errorf("stderr:\n%s\nwant:\n%s", errOut.String(), wantErr)
	}
	wantHistory := []string{"SELECT 1   AS one;", "USE sales;", `\dt`, `\format csv`, "SHOW TABLES ;", "SELECT x FROMM t;",
		`\nope`, `\timing`, "INSERT INTO t VALUES (1), (2), (3); SELECT 'a;b' AS s;", `\q`}
	if strings.Join(in.history, "|") != strings.Join(wantHistory, "|") {
		t.Errorf("history:\n%q\nwant:\n%q", in.history, wantHistory)
	}
}

// An interrupt while a statement runs cancels that statement only.
func TestShellInterruptCancelsStatement(t *testing.T) {
	fake := newFakeServer()
	url := fake.start(t)
	access, _ := fake.grant("alice")
	fake.mu.Lock()
	fake.mu.delay = time.Minute
	fake.mu.Unlock()
	flags := connFlags{server: url, token: access, protocol: "connect"}
	sess, err := openSession(context.Background(), &flags, nil, strings.NewReader(""), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut lockedBuffer
	interrupt := make(chan os.Signal, 1)
	sh := &shell{
		in:  &fakeLines{lines: []string{"SELECT 1 AS one;"}},
		out: &out, errOut: &errOut, interrupt: interrupt,
		run: &sqlRunner{sess: sess, out: &out, errOut: &errOut, results: resultWriter{w: &out, format: formatTable}},
	}
	go func() {
		for len(fake.received()) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		interrupt <- os.Interrupt
	}()
	done := make(chan error)
	go func() { done <- sh.loop(context.Background()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the interrupt did not cancel the statement")
	}
	if !strings.Contains(errOut.String(), "ERROR CANCELED") {
		t.Errorf("stderr %q, want a canceled error", errOut.String())
	}
}
