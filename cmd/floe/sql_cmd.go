package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	"github.com/floedb/floe/lakehouse/dberr"
	"github.com/floedb/floe/lakehouse/sqlparse"
	floev1 "github.com/floedb/floe/proto/floe/v1"
)

// newSQLCmd builds `floe sql`: run statements from -c, -f or standard
// input, or start the interactive shell.
func newSQLCmd(c *cli) *cobra.Command {
	var (
		f        connFlags
		commands []string
		file     string
		format   string
	)
	cmd := &cobra.Command{
		Use:   "sql",
		Short: "Run SQL on a Floe server (interactive shell without -c or -f)",
		Long: `Run SQL on a Floe server.

  floe sql -c "SELECT 1; SELECT 2"   run the statements of each -c in order
  floe sql -f script.sql             run a file (-f - reads standard input)
  floe sql < script.sql              the same, when standard input is not a terminal
  floe sql                           interactive shell (type \? for help)

Statements run one at a time, in order, and stop at the first error, which
is printed as "ERROR <CODE>: message (line L, column C)"; the exit code is
then 1. Statements before the error have taken effect. A script (-f or
standard input) prints consecutive row counts of one kind as one line
("INSERT 50000 (50000 statements)") and, on a terminal, a progress line
while a long script runs.

Credentials, in order: --token (FLOE_TOKEN); --user and --password
(FLOE_USER, FLOE_PASSWORD), logging in first; the tokens stored by
` + "`floe login`" + `, refreshed when they expire.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if err := f.resolve(cmd.Flags(), c.environ); err != nil {
				return err
			}
			outFmt, err := parseFormat(format)
			if err != nil {
				return fmt.Errorf("--format: %w", err)
			}
			stdin := cmd.InOrStdin()
			_, stdinTTY := terminalFd(stdin)
			interactive := len(commands) == 0 && file == "" && stdinTTY

			fromStdin := file == "-" || (len(commands) == 0 && file == "" && !interactive)
			texts := commands
			if file != "" && file != "-" {
				raw, err := os.ReadFile(file)
				if err != nil {
					return fmt.Errorf("read SQL: %w", err)
				}
				texts = []string{string(raw)}
			}

			// Log in before reading a script from stdin: a password
			// prompted for (or piped) comes first.
			sess, err := openSession(ctx, &f, c.environ, stdin, c.stderr)
			if err != nil {
				return err
			}
			if fromStdin {
				raw, err := io.ReadAll(stdin)
				if err != nil {
					return fmt.Errorf("read SQL from standard input: %w", err)
				}
				texts = []string{string(raw)}
			}
			r := &sqlRunner{
				sess:      sess,
				out:       c.stdout,
				errOut:    c.stderr,
				results:   resultWriter{w: c.stdout, format: outFmt},
				namespace: f.namespace,
			}
			if _, ok := terminalFd(c.stderr); ok {
				r.progress = progress{w: c.stderr}
			}
			if interactive {
				return runInteractive(ctx, c, r)
			}
			// A script (a file or standard input) summarises its row
			// counts: 50,000 one-row INSERTs print one line, not 50,000.
			r.summarize = len(commands) == 0 && outFmt == formatTable
			completed := 0
			for _, text := range texts {
				n, err := r.runText(ctx, text)
				completed += n
				if err != nil {
					if completed == 0 {
						return errReported // the error is printed already
					}
					return fmt.Errorf("%s before the error", statementCount(completed))
				}
			}
			return nil
		},
	}
	fs := cmd.Flags()
	f.register(fs, withAuth|withNamespace)
	fs.StringArrayVarP(&commands, "command", "c", nil, "SQL statements to run (repeatable)")
	fs.StringVarP(&file, "file", "f", "", "file of SQL statements to run (- for standard input)")
	fs.StringVar(&format, "format", string(formatTable), "output format: table, json or csv")
	cmd.MarkFlagsMutuallyExclusive("command", "file")
	return cmd
}

// statementCount says "1 statement completed" or "N statements completed".
func statementCount(n int) string {
	if n == 1 {
		return "1 statement completed"
	}
	return fmt.Sprintf("%d statements completed", n)
}

// sqlRunner runs SQL text one statement at a time, prints each result as
// it arrives and prints the first error. It carries the namespace from
// one call to the next (USE changes it). It is not safe for concurrent
// use.
type sqlRunner struct {
	sess    *session
	out     io.Writer
	errOut  io.Writer
	results resultWriter
	// namespace is sent with each statement and updated from each
	// response; "" means the server's default.
	namespace string
	// timing prints the server and round-trip time after each statement.
	timing   bool
	progress progress
	// summarize folds consecutive INSERT/UPDATE/DELETE row counts of the
	// same verb into one line (see countRun); run is the pending one.
	summarize bool
	run       countRun
}

// countRun is a run of consecutive row-count results of one verb.
type countRun struct {
	verb  string
	rows  int64
	stmts int
}

// rowCountTag parses the command tag of an INSERT, UPDATE or DELETE
// ("INSERT 3").
func rowCountTag(msg string) (verb string, n int64, ok bool) {
	verb, num, found := strings.Cut(msg, " ")
	if !found || (verb != "INSERT" && verb != "UPDATE" && verb != "DELETE") {
		return "", 0, false
	}
	n, err := strconv.ParseInt(num, 10, 64)
	return verb, n, err == nil
}

// flushRun prints the pending run of row counts: the tag itself for one
// statement, "INSERT 50000 (50000 statements)" for several.
func (r *sqlRunner) flushRun() error {
	run := r.run
	r.run = countRun{}
	if run.stmts == 0 {
		return nil
	}
	r.results.written++ // a table that follows is separated from it
	switch {
	case run.stmts == 1:
		_, err := fmt.Fprintf(r.out, "%s %d\n", run.verb, run.rows)
		return err
	default:
		_, err := fmt.Fprintf(r.out, "%s %d (%d statements)\n", run.verb, run.rows, run.stmts)
		return err
	}
}

// progressEvery is how many statements of a long script run between two
// updates of the progress line, and longScript how many statements make a
// script long enough to show one.
const (
	progressEvery = 250
	longScript    = 1000
)

// runText runs the statements of text in order and stops at the first
// error, which it prints to errOut. It returns how many statements
// completed, and the error (already printed) if one failed. A text that
// the client cannot split (an unterminated string or comment) fails
// before anything is sent.
func (r *sqlRunner) runText(ctx context.Context, text string) (completed int, err error) {
	pieces, err := sqlparse.Split(text)
	if err != nil {
		r.printError(err, text, 0)
		return 0, err
	}
	showProgress := r.progress.w != nil && len(pieces) >= longScript
	defer func() {
		if showProgress {
			fmt.Fprint(r.progress.w, "\r\033[K")
		}
	}()
	for i, p := range pieces {
		if err := r.runStatement(ctx, p.Text); err != nil {
			_ = r.flushRun()
			if showProgress {
				fmt.Fprint(r.progress.w, "\r\033[K")
				showProgress = false
			}
			r.printError(err, text, p.Offset)
			return completed, err
		}
		completed++
		if showProgress && (i+1)%progressEvery == 0 {
			fmt.Fprintf(r.progress.w, "\r\033[K%d/%d statements", i+1, len(pieces))
		}
	}
	if err := r.flushRun(); err != nil {
		return completed, err
	}
	return completed, nil
}

// runStatement runs one statement and prints its results.
func (r *sqlRunner) runStatement(ctx context.Context, stmt string) error {
	start := time.Now()
	stop := r.progress.start()
	resp, err := r.sess.executeSQL(ctx, stmt, r.namespace)
	stop()
	if err != nil {
		return err
	}
	roundTrip := time.Since(start)
	if ns := resp.GetNamespace(); ns != "" {
		r.namespace = ns
	}
	for _, res := range resp.GetResults() {
		if r.summarize && len(res.GetColumns()) == 0 {
			if verb, n, ok := rowCountTag(res.GetMessage()); ok {
				if verb != r.run.verb {
					if err := r.flushRun(); err != nil {
						return err
					}
				}
				r.run.verb, r.run.rows, r.run.stmts = verb, r.run.rows+n, r.run.stmts+1
				continue
			}
		}
		if err := r.flushRun(); err != nil {
			return err
		}
		if err := r.results.write(res); err != nil {
			return err
		}
	}
	if r.timing {
		fmt.Fprintf(r.out, "Time: %s round trip, %s on the server\n",
			formatMillis(roundTrip), formatMillis(time.Duration(resp.GetTookMicros())*time.Microsecond))
	}
	return nil
}

// formatMillis prints d in milliseconds with three decimals.
func formatMillis(d time.Duration) string {
	return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond))
}

// printError prints err as "ERROR <CODE>: message (line L, column C)".
func (r *sqlRunner) printError(err error, text string, offset int) {
	fmt.Fprintln(r.errOut, errorLine(err, text, offset))
}

// errorLine renders err for a person. For a server error the code is the
// Floe code of its ErrorDetail (else the Connect code), and the position
// in the statement, when the detail has one, is moved to its place in
// text, where the statement starts at byte offset.
func errorLine(err error, text string, offset int) string {
	var ce *connect.Error
	var de *dberr.Error
	switch {
	case errors.As(err, &ce):
		code := strings.ToUpper(ce.Code().String())
		line, col := 0, 0
		if d := errorDetail(ce); d != nil {
			if d.GetCode() != "" {
				code = d.GetCode()
			}
			line, col = shiftPosition(text, offset, int(d.GetLine()), int(d.GetColumn()))
		}
		return formatErrorLine(code, ce.Message(), line, col)
	case errors.As(err, &de):
		return formatErrorLine(string(de.Code), de.Msg, de.Line, de.Col)
	}
	return "ERROR: " + err.Error()
}

// formatErrorLine joins the parts of an error line.
func formatErrorLine(code, msg string, line, col int) string {
	s := fmt.Sprintf("ERROR %s: %s", code, msg)
	if line > 0 {
		s += fmt.Sprintf(" (line %d, column %d)", line, col)
	}
	return s
}

// errorDetail returns the Floe ErrorDetail among ce's details, or nil.
func errorDetail(ce *connect.Error) *floev1.ErrorDetail {
	for _, d := range ce.Details() {
		v, err := d.Value()
		if err != nil {
			continue
		}
		if ed, ok := v.(*floev1.ErrorDetail); ok {
			return ed
		}
	}
	return nil
}

// shiftPosition converts a 1-based line and column in a statement that
// starts at byte offset of text to a line and column in text (columns
// count runes, as the server's do). A zero line is no position.
func shiftPosition(text string, offset, line, col int) (int, int) {
	if line <= 0 {
		return 0, 0
	}
	startLine, startCol := dberr.Position(text, offset)
	if line == 1 {
		return startLine, startCol + col - 1
	}
	return startLine + line - 1, col
}
