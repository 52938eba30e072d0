// Command benchdoc turns `go test -bench` output into the Markdown table of
// docs/BENCHMARKS.md. It replaces the text between the markers
// "<!-- bench:begin -->" and "<!-- bench:end -->" with: the machine, the
// command, a table with the median of every metric of every benchmark, and
// the ratios asked for with -ratio.
//
//	go test -bench . -count 5 ./... | tee bench.txt
//	go run ./internal/tools/benchdoc -in bench.txt -doc docs/BENCHMARKS.md \
//	    -cmd "make bench" -ratio "uncached/cached=ArrowSchema/uncached-build:ArrowSchema/cached"
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	beginMarker = "<!-- bench:begin -->"
	endMarker   = "<!-- bench:end -->"
)

type ratioFlags []string

func (r *ratioFlags) String() string     { return strings.Join(*r, ",") }
func (r *ratioFlags) Set(v string) error { *r = append(*r, v); return nil }

func main() {
	in := flag.String("in", "", "go test -bench output (default stdin)")
	doc := flag.String("doc", "docs/BENCHMARKS.md", "Markdown file to update")
	command := flag.String("cmd", "make bench", "command shown as the one that produced the numbers")
	var ratios ratioFlags
	flag.Var(&ratios, "ratio", `derived ratio "label=NumeratorBench:DenominatorBench" (ns/op), repeatable`)
	flag.Parse()

	if err := run(*in, *doc, *command, ratios); err != nil {
		fmt.Fprintln(os.Stderr, "benchdoc:", err)
		os.Exit(1)
	}
}

func run(in, doc, command string, ratios []string) error {
	r := io.Reader(os.Stdin)
	if in != "" {
		f, err := os.Open(in)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	res, err := parse(r)
	if err != nil {
		return err
	}
	if len(res.order) == 0 {
		return errors.New("no benchmark results in the input")
	}
	section, err := render(res, command, ratios)
	if err != nil {
		return err
	}
	old, err := os.ReadFile(doc)
	if err != nil {
		return err
	}
	text := string(old)
	b, e := strings.Index(text, beginMarker), strings.Index(text, endMarker)
	if b < 0 || e < b {
		return fmt.Errorf("%s lacks the %s … %s markers", doc, beginMarker, endMarker)
	}
	text = text[:b+len(beginMarker)] + "\n" + section + text[e:]
	if err := os.WriteFile(doc, []byte(text), 0o644); err != nil {
		return err
	}
	_, err = io.WriteString(os.Stdout, section)
	return err
}

// results holds, per benchmark (name without the -GOMAXPROCS suffix, with
// its package), every sample of every unit.
type results struct {
	order   []string
	samples map[string]map[string][]float64
	units   map[string][]string
	cpu     string
}

func parse(r io.Reader) (*results, error) {
	res := &results{samples: map[string]map[string][]float64{}, units: map[string][]string{}}
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = v[strings.LastIndex(v, "/")+1:]
			continue
		}
		if v, ok := strings.CutPrefix(line, "cpu: "); ok {
			res.cpu = v
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndex(name, "-"); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		key := pkg + "." + name
		if _, ok := res.samples[key]; !ok {
			res.order = append(res.order, key)
			res.samples[key] = map[string][]float64{}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("bad value %q in %q", f[i], line)
			}
			unit := f[i+1]
			if _, ok := res.samples[key][unit]; !ok {
				res.units[key] = append(res.units[key], unit)
			}
			res.samples[key][unit] = append(res.samples[key][unit], v)
		}
	}
	return res, sc.Err()
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func format(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

func render(res *results, command string, ratios []string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "\nMeasured %s on: %s, %d cores, %s RAM, %s, %s/%s.\n\n",
		time.Now().UTC().Format("2006-01-02"), cpuName(res.cpu), runtime.NumCPU(), memTotal(), goVersion(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(&b, "Command: `%s` (each number is the median of the runs).\n\n", command)
	b.WriteString("| benchmark | ns/op | B/op | allocs/op | other |\n|---|---:|---:|---:|---|\n")
	for _, key := range res.order {
		m := res.samples[key]
		cell := func(unit string) string {
			if v, ok := m[unit]; ok {
				return format(median(v))
			}
			return ""
		}
		var other []string
		for _, u := range res.units[key] {
			if u == "ns/op" || u == "B/op" || u == "allocs/op" {
				continue
			}
			other = append(other, format(median(m[u]))+" "+u)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", key, cell("ns/op"), cell("B/op"), cell("allocs/op"), strings.Join(other, ", "))
	}
	if len(ratios) > 0 {
		b.WriteString("\n| ratio | value |\n|---|---:|\n")
		for _, spec := range ratios {
			label, pair, ok := strings.Cut(spec, "=")
			num, den, ok2 := strings.Cut(pair, ":")
			if !ok || !ok2 {
				return "", fmt.Errorf("bad -ratio %q: want label=Num:Den", spec)
			}
			n, err1 := lookup(res, num)
			d, err2 := lookup(res, den)
			if err := errors.Join(err1, err2); err != nil {
				return "", err
			}
			fmt.Fprintf(&b, "| %s | %s× |\n", label, format(n/d))
		}
	}
	b.WriteString("\n")
	return b.String(), nil
}

// lookup finds the median ns/op of the benchmark whose key ends with name.
func lookup(res *results, name string) (float64, error) {
	for _, key := range res.order {
		if key == name || strings.HasSuffix(key, "."+name) {
			if v, ok := res.samples[key]["ns/op"]; ok {
				return median(v), nil
			}
		}
	}
	return 0, fmt.Errorf("ratio: no benchmark %q with ns/op", name)
}

func cpuName(fromBench string) string {
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	if fromBench != "" {
		return fromBench
	}
	return "unknown CPU"
}

func memTotal() string {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err == nil {
				return fmt.Sprintf("%.0f GiB", kb/1024/1024)
			}
		}
	}
	return "unknown"
}

func goVersion() string {
	out, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		return runtime.Version()
	}
	return strings.TrimSpace(string(out))
}
