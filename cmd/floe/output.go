package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/jedib0t/go-pretty/v6/text"
	"google.golang.org/protobuf/types/known/structpb"

	floev1 "github.com/floedb/floe/proto/floe/v1"
)

// outputFormat is how `floe sql` prints results.
type outputFormat string

// The output formats.
const (
	// formatTable draws an aligned table with a "(N rows)" footer, or the
	// statement's message ("INSERT 3") when it returns no columns.
	formatTable outputFormat = "table"
	// formatJSON writes one JSON object per statement and line:
	// {"columns":[{"name":…,"type":…}],"rows":[[…]],"message":…}.
	formatJSON outputFormat = "json"
	// formatCSV writes a header and the rows of each statement that
	// returns columns, a blank line between statements.
	formatCSV outputFormat = "csv"
)

// parseFormat validates a --format or \format value.
func parseFormat(s string) (outputFormat, error) {
	switch f := outputFormat(strings.ToLower(strings.TrimSpace(s))); f {
	case formatTable, formatJSON, formatCSV:
		return f, nil
	}
	return "", fmt.Errorf("format %q: want table, json or csv", s)
}

// resultWriter prints statement results one at a time in a format. It is
// not safe for concurrent use.
type resultWriter struct {
	w      io.Writer
	format outputFormat
	// written counts the results that printed something, to separate
	// them.
	written int
}

// write prints one statement result.
func (rw *resultWriter) write(res *floev1.StatementResult) error {
	var buf bytes.Buffer
	var err error
	switch rw.format {
	case formatJSON:
		err = writeJSONResult(&buf, res)
	case formatCSV:
		if len(res.GetColumns()) == 0 {
			return nil
		}
		if rw.written > 0 {
			buf.WriteByte('\n')
		}
		err = writeCSVResult(&buf, res)
	default:
		if rw.written > 0 && len(res.GetColumns()) > 0 {
			buf.WriteByte('\n')
		}
		writeTableResult(&buf, res)
	}
	if err != nil {
		return err
	}
	if buf.Len() == 0 {
		return nil
	}
	rw.written++
	if _, err := rw.w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}

// rowCount is the number of rows of a result.
func rowCount(res *floev1.StatementResult) int64 {
	if n := res.GetRowCount(); n > 0 {
		return n
	}
	return int64(len(res.GetRows()))
}

// numericTypes are the SQL type names whose columns are right-aligned.
var numericTypes = []string{"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
	"UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "REAL"}

// isNumericType reports whether a DuckDB type name is a number type.
func isNumericType(t string) bool {
	t = strings.ToUpper(t)
	for _, n := range numericTypes {
		if t == n || strings.HasPrefix(t, n+"(") {
			return true
		}
	}
	return false
}

// writeTableResult draws res as a table with a row count footer, or
// prints its message when it has no columns.
func writeTableResult(w io.Writer, res *floev1.StatementResult) {
	cols := res.GetColumns()
	if len(cols) == 0 {
		if msg := res.GetMessage(); msg != "" {
			fmt.Fprintln(w, msg)
		}
		return
	}
	t := table.NewWriter()
	style := table.StyleDefault
	style.Format.Header = text.FormatDefault // keep column names as they are
	t.SetStyle(style)
	header := make(table.Row, len(cols))
	var configs []table.ColumnConfig
	for i, c := range cols {
		header[i] = c.GetName()
		if isNumericType(c.GetType()) {
			configs = append(configs, table.ColumnConfig{Number: i + 1, Align: text.AlignRight})
		}
	}
	t.AppendHeader(header)
	t.SetColumnConfigs(configs)
	for _, r := range res.GetRows() {
		row := make(table.Row, len(cols))
		vals := r.GetValues()
		for i := range row {
			if i < len(vals) {
				row[i] = valueText(vals[i], "NULL")
			}
		}
		t.AppendRow(row)
	}
	fmt.Fprintln(w, t.Render())
	n := rowCount(res)
	if n == 1 {
		fmt.Fprintln(w, "(1 row)")
	} else {
		fmt.Fprintf(w, "(%d rows)\n", n)
	}
}

// writeCSVResult writes a header and the rows; NULL is an empty field.
func writeCSVResult(w io.Writer, res *floev1.StatementResult) error {
	cw := csv.NewWriter(w)
	cols := res.GetColumns()
	rec := make([]string, len(cols))
	for i, c := range cols {
		rec[i] = c.GetName()
	}
	if err := cw.Write(rec); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	for _, r := range res.GetRows() {
		vals := r.GetValues()
		for i := range rec {
			rec[i] = ""
			if i < len(vals) {
				rec[i] = valueText(vals[i], "")
			}
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

// jsonResult is the JSON form of one statement result.
type jsonResult struct {
	Columns []jsonColumn `json:"columns"`
	Rows    [][]any      `json:"rows"`
	Message string       `json:"message"`
}

// jsonColumn is the JSON form of a result column.
type jsonColumn struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// writeJSONResult writes res as one line of JSON.
func writeJSONResult(w io.Writer, res *floev1.StatementResult) error {
	out := jsonResult{Columns: []jsonColumn{}, Rows: [][]any{}, Message: res.GetMessage()}
	for _, c := range res.GetColumns() {
		out.Columns = append(out.Columns, jsonColumn{Name: c.GetName(), Type: c.GetType()})
	}
	for _, r := range res.GetRows() {
		row := make([]any, len(r.GetValues()))
		for i, v := range r.GetValues() {
			row[i] = v.AsInterface()
		}
		out.Rows = append(out.Rows, row)
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// valueText renders a value for a table cell or CSV field: strings as
// they are, whole numbers without a fraction, lists and structs as JSON,
// and NULL as null.
func valueText(v *structpb.Value, null string) string {
	switch k := v.GetKind().(type) {
	case nil, *structpb.Value_NullValue:
		return null
	case *structpb.Value_StringValue:
		return k.StringValue
	case *structpb.Value_BoolValue:
		return strconv.FormatBool(k.BoolValue)
	case *structpb.Value_NumberValue:
		return formatNumber(k.NumberValue)
	default:
		raw, err := json.Marshal(v.AsInterface())
		if err != nil {
			return fmt.Sprint(v.AsInterface())
		}
		return string(raw)
	}
}

// formatNumber prints f as encoding/json does: plain decimals, with an
// exponent only for very small or large magnitudes.
func formatNumber(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
