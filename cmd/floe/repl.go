package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/chzyer/readline"

	"github.com/floedb/floe/lakehouse/sqlparse"
)

// continuationPrompt is shown while a statement is incomplete.
const continuationPrompt = "...> "

// lineReader is what the shell needs of a line editor. *readline.Instance
// implements it; tests use a scripted fake. Readline returns
// readline.ErrInterrupt for Ctrl-C and io.EOF for Ctrl-D.
type lineReader interface {
	Readline() (string, error)
	SetPrompt(prompt string)
	SaveHistory(entry string) error
}

var _ lineReader = (*readline.Instance)(nil)

// shell is the interactive SQL loop of `floe sql`: it collects lines until
// the buffer holds complete statements (ending with ';' outside strings
// and comments), runs them, and handles backslash commands. It is not
// safe for concurrent use.
type shell struct {
	in     lineReader
	out    io.Writer
	errOut io.Writer
	run    *sqlRunner
	// interrupt delivers Ctrl-C pressed while a statement runs (the
	// terminal is not in raw mode then, so it arrives as SIGINT); it
	// cancels that statement only. nil: never.
	interrupt <-chan os.Signal
}

// prompt returns the primary prompt, naming the current namespace.
func (sh *shell) prompt() string {
	ns := sh.run.namespace
	if ns == "" {
		ns = "public"
	}
	return "floe:" + ns + "> "
}

// loop reads and runs input until \q, end of input (Ctrl-D) or ctx is
// done. Statement errors are printed and the loop goes on; only a failure
// to read input is returned.
func (sh *shell) loop(ctx context.Context) error {
	var buf []string
	for ctx.Err() == nil {
		if len(buf) == 0 {
			sh.in.SetPrompt(sh.prompt())
		} else {
			sh.in.SetPrompt(continuationPrompt)
		}
		line, err := sh.in.Readline()
		switch {
		case errors.Is(err, readline.ErrInterrupt):
			buf = nil // Ctrl-C clears the statement being typed
			continue
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return fmt.Errorf("read input: %w", err)
		}
		trimmed := strings.TrimSpace(line)
		if len(buf) == 0 && trimmed == "" {
			continue
		}
		if strings.HasPrefix(trimmed, `\`) && !insideLiteral(buf) {
			_ = sh.in.SaveHistory(trimmed) // history is best effort
			if quit := sh.meta(ctx, trimmed); quit {
				return nil
			}
			continue
		}
		buf = append(buf, line)
		text := strings.Join(buf, "\n")
		switch statementState(text) {
		case stmtIncomplete:
			continue
		case stmtEmpty:
			buf = nil
			continue
		}
		sh.saveHistory(buf)
		buf = nil
		sh.runText(ctx, text)
	}
	return nil
}

// insideLiteral reports whether the lines end inside a string, quoted
// identifier or comment, where a line starting with '\' is text.
func insideLiteral(buf []string) bool {
	if len(buf) == 0 {
		return false
	}
	_, err := sqlparse.Lex(strings.Join(buf, "\n"))
	return err != nil
}

// saveHistory records a statement as one history entry; lines holding a
// "--" comment stay separate entries, since joining them would comment
// out what follows.
func (sh *shell) saveHistory(lines []string) {
	text := strings.Join(lines, "\n")
	if !strings.Contains(text, "--") {
		_ = sh.in.SaveHistory(strings.Join(lines, " ")) // history is best effort
		return
	}
	for _, l := range lines {
		_ = sh.in.SaveHistory(l)
	}
}

// runText runs text, letting an interrupt cancel it.
func (sh *shell) runText(ctx context.Context, text string) {
	for drained := false; !drained; { // forget Ctrl-C pressed before
		select {
		case <-sh.interrupt:
		default:
			drained = true
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-sh.interrupt:
			cancel()
		case <-ctx.Done():
		}
	}()
	completed, err := sh.run.runText(ctx, text)
	if err != nil && completed > 0 {
		fmt.Fprintf(sh.errOut, "(%s before the error)\n", statementCount(completed))
	}
}

// meta runs a backslash command and reports whether to quit.
func (sh *shell) meta(ctx context.Context, line string) (quit bool) {
	m, err := parseMeta(line)
	if err != nil {
		fmt.Fprintln(sh.errOut, err)
		return false
	}
	switch m.kind {
	case metaQuit:
		return true
	case metaHelp:
		fmt.Fprint(sh.out, shellHelp)
	case metaTiming:
		sh.run.timing = !sh.run.timing
		state := "off"
		if sh.run.timing {
			state = "on"
		}
		fmt.Fprintf(sh.out, "Timing is %s.\n", state)
	case metaFormat:
		sh.run.results = resultWriter{w: sh.run.results.w, format: m.format}
		fmt.Fprintf(sh.out, "Output format is %s.\n", m.format)
	case metaSQL:
		sh.runText(ctx, m.sql)
	}
	return false
}

// shellHelp is printed by \?.
const shellHelp = `Type SQL statements ending with ';' (they may span lines).
  \dt [ns]       list tables (SHOW TABLES [IN ns])
  \dn            list namespaces (SHOW NAMESPACES)
  \d table       describe a table (DESCRIBE table)
  \timing        toggle printing round-trip and server time
  \format f      output format: table, json or csv
  \?             this help
  \q             quit (or Ctrl-D)
Ctrl-C clears the statement being typed, or cancels the running one.
`

// metaKind is the kind of a backslash command.
type metaKind int

// The backslash command kinds.
const (
	metaSQL    metaKind = iota + 1 // run metaCommand.sql
	metaTiming                     // toggle timing
	metaFormat                     // set metaCommand.format
	metaHelp                       // print help
	metaQuit                       // leave the shell
)

// metaCommand is a parsed backslash command.
type metaCommand struct {
	kind   metaKind
	sql    string
	format outputFormat
}

// parseMeta parses a backslash command line.
func parseMeta(line string) (metaCommand, error) {
	name, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	arg = strings.TrimSpace(arg)
	noArg := func(m metaCommand) (metaCommand, error) {
		if arg != "" {
			return metaCommand{}, fmt.Errorf(`%s takes no argument (\? for help)`, name)
		}
		return m, nil
	}
	switch name {
	case `\q`, `\quit`:
		return noArg(metaCommand{kind: metaQuit})
	case `\?`, `\h`, `\help`:
		return noArg(metaCommand{kind: metaHelp})
	case `\timing`:
		return noArg(metaCommand{kind: metaTiming})
	case `\dn`:
		return noArg(metaCommand{kind: metaSQL, sql: "SHOW NAMESPACES"})
	case `\dt`:
		if arg == "" {
			return metaCommand{kind: metaSQL, sql: "SHOW TABLES"}, nil
		}
		if err := checkName(arg); err != nil {
			return metaCommand{}, fmt.Errorf(`\dt %s: %w`, arg, err)
		}
		return metaCommand{kind: metaSQL, sql: "SHOW TABLES IN " + arg}, nil
	case `\d`:
		if arg == "" {
			return metaCommand{kind: metaSQL, sql: "SHOW TABLES"}, nil
		}
		if err := checkName(arg); err != nil {
			return metaCommand{}, fmt.Errorf(`\d %s: %w`, arg, err)
		}
		return metaCommand{kind: metaSQL, sql: "DESCRIBE " + arg}, nil
	case `\format`:
		f, err := parseFormat(arg)
		if err != nil {
			return metaCommand{}, fmt.Errorf(`\format: %w`, err)
		}
		return metaCommand{kind: metaFormat, format: f}, nil
	}
	return metaCommand{}, fmt.Errorf(`unknown command %s (\? for help)`, name)
}

// checkName accepts a possibly qualified, possibly quoted name (ns.t,
// "My Table"), so that a backslash command runs exactly one statement.
func checkName(s string) error {
	toks, err := sqlparse.Lex(s)
	if err != nil {
		return err
	}
	wantName := true
	for _, t := range toks[:len(toks)-1] { // the last is EOF
		switch {
		case wantName && (t.Kind == sqlparse.Ident || t.Kind == sqlparse.QuotedIdent):
		case !wantName && t.Kind == sqlparse.Op && t.Text == ".":
		default:
			return fmt.Errorf("not a name: %q", t.Text)
		}
		wantName = !wantName
	}
	if wantName {
		return errors.New("incomplete name")
	}
	return nil
}

// stmtState is how far typed input is from being runnable.
type stmtState int

// The statement states.
const (
	// stmtIncomplete: more lines are needed (no final ';', or inside a
	// string, quoted identifier or comment).
	stmtIncomplete stmtState = iota + 1
	// stmtEmpty: only whitespace and comments.
	stmtEmpty
	// stmtComplete: the text ends with ';' outside strings and comments.
	stmtComplete
)

// statementState classifies typed input with the SQL lexer, so that ';'
// inside strings ('a;b', $$…;…$$) and comments does not end a statement.
func statementState(text string) stmtState {
	toks, err := sqlparse.Lex(text)
	if err != nil { // unterminated string, identifier or comment
		return stmtIncomplete
	}
	if len(toks) < 2 { // only EOF
		return stmtEmpty
	}
	if last := toks[len(toks)-2]; last.Kind == sqlparse.Op && last.Text == ";" {
		return stmtComplete
	}
	return stmtIncomplete
}

// runInteractive runs the shell on the terminal with readline and a
// history file, until \q or Ctrl-D. Ctrl-C while a statement runs
// cancels only that statement; SIGTERM ends the shell.
func runInteractive(ctx context.Context, c *cli, r *sqlRunner) error {
	hist, err := historyPath(c.environ)
	if err != nil {
		return err
	}
	if err := prepareHistory(hist); err != nil {
		return err
	}
	rl, err := readline.NewEx(&readline.Config{
		Prompt:                 "floe> ",
		HistoryFile:            hist,
		DisableAutoSaveHistory: true,
		InterruptPrompt:        "^C",
		EOFPrompt:              `\q`,
		Stdout:                 c.stdout,
		Stderr:                 c.stderr,
	})
	if err != nil {
		return fmt.Errorf("start the line editor: %w", err)
	}
	defer rl.Close()

	// The root context ends on the first SIGINT; the shell takes over
	// SIGINT so that Ctrl-C cancels a statement and not the shell.
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	interrupt := make(chan os.Signal, 1)
	signal.Notify(interrupt, os.Interrupt)
	defer signal.Stop(interrupt)
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	defer signal.Stop(term)
	go func() {
		select {
		case <-term:
			cancel()
			rl.Close() // unblocks a pending Readline
		case <-ctx.Done():
		}
	}()

	fmt.Fprintf(c.stdout, "Connected to %s. Type \\? for help, \\q to quit.\n", r.sess.server)
	sh := &shell{in: rl, out: c.stdout, errOut: c.stderr, run: r, interrupt: interrupt}
	return sh.loop(ctx)
}

// prepareHistory creates the history directory (0700) and file (0600)
// when missing: statements may hold secrets, and readline would create
// the file world-readable.
func prepareHistory(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create history directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open history file: %w", err)
	}
	return f.Close()
}
