package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

const sample = `goos: linux
pkg: github.com/floedb/floe/lakehouse/schema
cpu: AMD EPYC
BenchmarkArrowSchema/cached-2         	421596820	         3.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkArrowSchema/cached-2         	421596820	         5.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkArrowSchema/cached-2         	421596820	         4.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkArrowSchema/uncached-build-2 	  718002	      1600 ns/op	    3360 B/op	      22 allocs/op
BenchmarkLookups1000-2                	  227810	      6705 ns/op	       999.0 hits/1000	         1.000 misses/1000
PASS
`

func TestParseAndRender(t *testing.T) {
	res, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.order) != 3 || res.order[0] != "schema.ArrowSchema/cached" {
		t.Fatalf("order = %v", res.order)
	}
	if got := median(res.samples["schema.ArrowSchema/cached"]["ns/op"]); got != 4 {
		t.Fatalf("median = %v, want 4", got)
	}
	out, err := render(res, "make bench", []string{"build/cached=ArrowSchema/uncached-build:ArrowSchema/cached"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| schema.ArrowSchema/cached | 4.00 | 0 | 0 |",
		"| schema.Lookups1000 | 6705 |  |  | 999 hits/1000, 1.00 misses/1000 |",
		"| build/cached | 400× |",
		"Command: `make bench`",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered output lacks %q:\n%s", want, out)
		}
	}
	if _, err := render(res, "x", []string{"bad=Nope:ArrowSchema/cached"}); err == nil {
		t.Fatal("ratio over a missing benchmark accepted")
	}
}

// measured matches a number with the unit of a measurement: a time, a
// ratio, a percentage, a rate or a size.
var measured = regexp.MustCompile(`\d[\d.,]*\s*(ns|µs|us|ms|s|×|x|%|[kKMG]?i?B|rows/s|calls/s|MB/s|k/s)\b|\d[\d.,]*\s*×`)

// The notes of docs/BENCHMARKS.md quote no measured numbers: every number
// on the page comes from the run that wrote the generated table, so the
// prose cannot contradict it (issue 16, item 6).
func TestNotesQuoteNoNumbers(t *testing.T) {
	data, err := os.ReadFile("../../../docs/BENCHMARKS.md")
	if err != nil {
		t.Fatal(err)
	}
	_, notes, ok := strings.Cut(string(data), "<!-- bench:end -->")
	if !ok {
		t.Fatal("docs/BENCHMARKS.md has no generated section")
	}
	// The peers table (make bench-peers) is generated too.
	if before, rest, ok := strings.Cut(notes, "<!-- peers:begin -->"); ok {
		_, after, _ := strings.Cut(rest, "<!-- peers:end -->")
		notes = before + after
	}
	for i, line := range strings.Split(notes, "\n") {
		if m := measured.FindString(line); m != "" {
			t.Errorf("docs/BENCHMARKS.md notes, line %d after the table, quote a measurement (%q): %s\n"+
				"put it in the generated table (a benchmark metric or a -ratio in scripts/bench.sh) instead", i+1, m, line)
		}
	}
}
