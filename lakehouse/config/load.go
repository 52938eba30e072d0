package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// EnvPrefix starts every environment variable that configures Floe.
const EnvPrefix = "FLOE_"

// Load returns Default() overlaid with the TOML file at path (skipped when
// path is empty) and then with the FLOE_* variables in environ (as returned
// by os.Environ). The result is not validated; call Validate.
func Load(path string, environ []string) (Config, error) {
	c := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		if err := c.decodeTOML(data, path); err != nil {
			return Config{}, err
		}
	}
	if err := c.ApplyEnv(environ); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Parse returns Default() overlaid with the TOML document data; name is
// used in error messages (usually the file name).
func Parse(data []byte, name string) (Config, error) {
	c := Default()
	if err := c.decodeTOML(data, name); err != nil {
		return Config{}, err
	}
	return c, nil
}

// decodeTOML overlays the document on c. Unknown keys and values of the
// wrong type are errors that name the key and the line.
func (c *Config) decodeTOML(data []byte, name string) error {
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(c)
	if err == nil {
		return nil
	}
	var derr *toml.DecodeError
	var serr *toml.StrictMissingError
	switch {
	case errors.As(err, &serr):
		var errs []error
		for _, e := range serr.Errors {
			row, col := e.Position()
			errs = append(errs, fmt.Errorf("config: %s:%d:%d: unknown key %q (see floe.example.toml for the valid keys)",
				name, row, col, strings.Join(e.Key(), ".")))
		}
		return errors.Join(errs...)
	case errors.As(err, &derr):
		row, col := derr.Position()
		msg := derr.Error()
		if i := strings.Index(msg, "cannot decode TOML "); i >= 0 {
			// "toml: cannot decode TOML string into struct field config.S3Config.MaxAttempts of type int"
			msg = msg[i:]
			if j := strings.Index(msg, " into struct field "); j >= 0 {
				if k := strings.LastIndex(msg, " of type "); k > j {
					msg = msg[:j] + ", want " + msg[k+len(" of type "):]
				}
			}
		}
		key := strings.Join(derr.Key(), ".")
		if key == "" {
			return fmt.Errorf("config: %s:%d:%d: %s", name, row, col, msg)
		}
		return fmt.Errorf("config: %s:%d:%d: key %q: %s", name, row, col, key, msg)
	default:
		// A TextUnmarshaler (Duration) failed; go-toml does not say where.
		// Find the key ourselves so the message names it.
		if key, ok := badDurationKey(data); ok {
			return fmt.Errorf("config: %s: key %q: %w", name, key, err)
		}
		return fmt.Errorf("config: %s: %w", name, err)
	}
}

// badDurationKey returns the first Duration setting whose value in the
// TOML document is not a valid duration string.
func badDurationKey(data []byte) (string, bool) {
	var doc map[string]any
	if toml.Unmarshal(data, &doc) != nil {
		return "", false
	}
	for _, s := range settings() {
		if !s.isDuration {
			continue
		}
		var cur any = doc
		for _, part := range strings.Split(s.key, ".") {
			m, ok := cur.(map[string]any)
			if !ok {
				cur = nil
				break
			}
			cur = m[part]
		}
		if cur == nil {
			continue
		}
		str, ok := cur.(string)
		if !ok {
			return s.key, true
		}
		var d Duration
		if d.UnmarshalText([]byte(str)) != nil {
			return s.key, true
		}
	}
	return "", false
}

// setting is one leaf of Config, addressed by its dotted TOML key.
type setting struct {
	key    string // "storage.s3.bucket"
	help   string
	secret bool
	// isDuration: the field is a Duration, written as a string.
	isDuration bool
	index      []int // reflect field index path from Config
}

// EnvName is the environment variable that overrides the key.
func (s setting) EnvName() string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(s.key, ".", "_"))
}

// settings lists every leaf of Config in declaration order.
func settings() []setting {
	var out []setting
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := f.Tag.Get("toml")
			if name == "" || name == "-" {
				continue
			}
			key := prefix + name
			idx := append(append([]int(nil), index...), i)
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[Duration]() {
				walk(f.Type, key+".", idx)
				continue
			}
			out = append(out, setting{key: key, help: f.Tag.Get("help"), secret: f.Tag.Get("secret") == "true",
				isDuration: f.Type == reflect.TypeFor[Duration](), index: idx})
		}
	}
	walk(reflect.TypeFor[Config](), "", nil)
	return out
}

// Keys returns every configuration key with its environment variable, in
// declaration order. Useful for documentation and tests.
func Keys() [][2]string {
	var out [][2]string
	for _, s := range settings() {
		out = append(out, [2]string{s.key, s.EnvName()})
	}
	return out
}

// set parses raw into the field of s. source names where raw came from for
// the error message, e.g. "env FLOE_LOG_LEVEL".
func (c *Config) set(s setting, raw, source string) error {
	v := reflect.ValueOf(c).Elem().FieldByIndex(s.index)
	fail := func(want string) error {
		shown := strconv.Quote(raw)
		if s.secret {
			shown = "(redacted)"
		}
		return fmt.Errorf("config: %s: key %q: want %s, got %s", source, s.key, want, shown)
	}
	switch {
	case s.isDuration:
		var d Duration
		if err := d.UnmarshalText([]byte(raw)); err != nil {
			return fail("a duration such as \"500ms\" or \"2s\"")
		}
		v.Set(reflect.ValueOf(d))
	case v.Kind() == reflect.String:
		v.SetString(raw)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fail("true or false")
		}
		v.SetBool(b)
	case v.Kind() == reflect.Int || v.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return fail("an integer")
		}
		v.SetInt(n)
	default:
		return fmt.Errorf("config: key %q has unsupported kind %s", s.key, v.Kind())
	}
	return nil
}

// ApplyEnv overlays the FLOE_* variables found in environ ("KEY=value"
// pairs, as from os.Environ). Variables that name no setting are ignored
// (FLOE_ is also used by tests and tools), but a variable whose value does
// not parse is an error naming it.
func (c *Config) ApplyEnv(environ []string) error {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, EnvPrefix) {
			env[k] = v
		}
	}
	var errs []error
	for _, s := range settings() {
		if raw, ok := env[s.EnvName()]; ok {
			errs = append(errs, c.set(s, raw, "env "+s.EnvName()))
		}
	}
	return errors.Join(errs...)
}

// Flags holds command-line overrides registered by RegisterFlags.
type Flags struct {
	values []*override
}

// override is a flag.Value that remembers whether it was set, so that an
// explicitly empty value still overrides and an absent flag does not.
type override struct {
	s   setting
	raw string
	set bool
}

func (o *override) String() string { return o.raw }

// Type names the setting's kind in help text (pflag.Value): duration,
// bool, int or string.
func (o *override) Type() string {
	if o.s.isDuration {
		return "duration"
	}
	var c Config
	switch reflect.ValueOf(&c).Elem().FieldByIndex(o.s.index).Kind() {
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int64:
		return "int"
	}
	return "string"
}

// IsBoolFlag lets a boolean setting be given as a bare --flag (flag and
// pflag both ask).
func (o *override) IsBoolFlag() bool { return o.Type() == "bool" }

func (o *override) Set(v string) error {
	o.raw, o.set = v, true
	return nil
}

// RegisterFlags registers one flag per setting on fs, named by its key
// (--storage.s3.bucket). Flags only record what was given; Apply overlays
// them, so they win over the file and the environment whatever order things
// are loaded in. With cobra/pflag, register on a flag.FlagSet and add it
// with AddGoFlagSet.
func RegisterFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{}
	def := Default()
	for _, s := range settings() {
		usage := s.help + " (env " + s.EnvName() + ")"
		if !s.secret {
			if cur := fmt.Sprint(reflect.ValueOf(&def).Elem().FieldByIndex(s.index).Interface()); cur != "" {
				usage += " (default " + cur + ")"
			}
		}
		o := &override{s: s}
		fs.Var(o, s.key, usage)
		f.values = append(f.values, o)
	}
	return f
}

// Apply overlays the flags that were set on the command line.
func (f *Flags) Apply(c *Config) error {
	var errs []error
	for _, o := range f.values {
		if o.set {
			errs = append(errs, c.set(o.s, o.raw, "flag --"+o.s.key))
		}
	}
	return errors.Join(errs...)
}

// Redacted returns a copy of c with secrets replaced, safe to log.
func (c Config) Redacted() Config {
	for _, s := range settings() {
		if !s.secret {
			continue
		}
		v := reflect.ValueOf(&c).Elem().FieldByIndex(s.index)
		if v.Kind() == reflect.String && v.String() != "" {
			v.SetString("(redacted)")
		}
	}
	return c
}
