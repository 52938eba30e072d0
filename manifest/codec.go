package manifest

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
)

// FormatVersion is the manifest document format this build writes and the
// only one it reads. A change that an older reader would misread (a new
// field that matters, a changed meaning) must bump it: readers refuse
// unknown fields anyway, so even additive changes need a new version. The
// one exception is an optional field omitted when empty that an older
// reader may refuse rather than misread: Catalog.Views (a catalog without
// views is byte for byte what format 1 always was; one with views is
// refused by older builds as corrupt, never read without its views),
// Catalog.WarehouseID, Segment.Deleted and Partition.PurgedThrough
// (likewise).
const FormatVersion = 1

// Codec errors. Every decode failure wraps ErrCorrupt, except a document
// written in a format this build does not know, which wraps
// ErrUnsupportedFormat instead (the document may be fine; this build is
// too old to read it).
var (
	// ErrCorrupt: the bytes are not a valid manifest document (syntax,
	// truncation, unknown or duplicate field, wrong type, failed
	// validation). The message names the problem and where it is.
	ErrCorrupt = errors.New("manifest: corrupt manifest")
	// ErrUnsupportedFormat: format_version is not FormatVersion.
	ErrUnsupportedFormat = errors.New("manifest: unsupported format version")
)

// EncodeCatalog validates c and returns its canonical JSON document in
// the single-document format 1 (FormatVersion), whatever c's header says:
// the form DecodeCatalog reads and older builds wrote to the catalog log.
// The catalog log itself writes the chunked format (CatalogFormatVersion).
// Encoding is deterministic: equal values give equal bytes, and a nil slice
// encodes like an empty one. It fails with ErrInvalid if c does not pass
// Validate, so an encoded document always decodes.
func EncodeCatalog(c *Catalog) ([]byte, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil catalog", ErrInvalid)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	cc := *c
	cc.FormatVersion = FormatVersion
	if cc.Namespaces == nil {
		cc.Namespaces = []Namespace{}
	}
	if cc.Tables == nil {
		cc.Tables = []Table{}
	}
	return encodeJSON(&cc)
}

// EncodePartition is EncodeCatalog for partition manifests.
func EncodePartition(p *Partition) ([]byte, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: nil partition", ErrInvalid)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	pp := *p
	if pp.Segments == nil {
		pp.Segments = []Segment{}
	}
	return encodeJSON(&pp)
}

func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("%w: encode: %w", ErrInvalid, err)
	}
	return buf.Bytes(), nil
}

// DecodeCatalog parses a catalog document strictly and validates it.
//
// The checks run in this order: JSON syntax and truncation; format_version
// (missing or not an integer is ErrCorrupt, another number is
// ErrUnsupportedFormat); every field name known, spelled exactly and given
// once, every value of the right JSON type and range; no trailing data;
// finally Validate. Every failure wraps ErrCorrupt (or ErrUnsupportedFormat)
// and names the field path and byte offset where it applies.
func DecodeCatalog(data []byte) (*Catalog, error) {
	var c Catalog
	if err := decodeStrict(data, "catalog", catalogShape(), &c); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrCorrupt, strings.TrimPrefix(err.Error(), "manifest: "))
	}
	return &c, nil
}

// DecodePartition is DecodeCatalog for partition manifests.
func DecodePartition(data []byte) (*Partition, error) {
	var p Partition
	if err := decodeStrict(data, "partition", partitionShape(), &p); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrCorrupt, strings.TrimPrefix(err.Error(), "manifest: "))
	}
	return &p, nil
}

// decodeStrict checks data against the shape of dst's type (see walker),
// then decodes it with encoding/json as a second line of defence.
func decodeStrict(data []byte, what string, s *shape, dst any) error {
	return decodeStrictFormat(data, what, s, dst, FormatVersion)
}

// decodeStrictFormat is decodeStrict for documents of the given format.
func decodeStrictFormat(data []byte, what string, s *shape, dst any, format int) error {
	w := walker{what: what, tok: tokenizer{data: data}, want: format}
	if err := w.document(s); err != nil {
		return err // syntax or truncation
	}
	if err := w.checkFormat(); err != nil {
		return err
	}
	if w.shapeErr != nil {
		return w.shapeErr
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrCorrupt, what, err)
	}
	return nil
}

// shape describes what JSON a Go type accepts, derived once per type from
// its json tags.
type shape struct {
	kind   shapeKind
	name   string            // Go type name, for messages
	fields map[string]*shape // kindObject: by exact json name
	elem   *shape            // kindArray, kindPointer
	bits   int               // kindInt, kindUint
	typ    reflect.Type      // kindText: the type to UnmarshalText into
}

type shapeKind uint8

const (
	kindAny shapeKind = iota
	kindObject
	kindArray
	kindPointer // null or elem
	kindString
	kindText // a JSON string its type's UnmarshalText accepts
	kindInt
	kindUint
	kindBool
)

// The shapes of the two document types, built on first use and immutable
// afterwards.
var (
	catalogShape   = sync.OnceValue(func() *shape { return buildShape(reflect.TypeFor[Catalog](), map[reflect.Type]*shape{}) })
	partitionShape = sync.OnceValue(func() *shape { return buildShape(reflect.TypeFor[Partition](), map[reflect.Type]*shape{}) })
)

var textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()

func buildShape(t reflect.Type, seen map[reflect.Type]*shape) *shape {
	if s, ok := seen[t]; ok {
		return s
	}
	s := &shape{name: t.String()}
	seen[t] = s
	switch {
	case reflect.PointerTo(t).Implements(textUnmarshalerType):
		s.kind, s.typ = kindText, t
	case t.Kind() == reflect.Pointer:
		s.kind, s.elem = kindPointer, buildShape(t.Elem(), seen)
	case t.Kind() == reflect.Slice:
		s.kind, s.elem = kindArray, buildShape(t.Elem(), seen)
	case t.Kind() == reflect.Struct:
		s.kind, s.fields = kindObject, map[string]*shape{}
		addFields(s, t, seen)
	case t.Kind() == reflect.String:
		s.kind = kindString
	case t.Kind() == reflect.Bool:
		s.kind = kindBool
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		s.kind, s.bits = kindInt, t.Bits()
	case t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64:
		s.kind, s.bits = kindUint, t.Bits()
	default:
		s.kind = kindAny // not used by manifest types
	}
	return s
}

func addFields(s *shape, t reflect.Type, seen map[reflect.Type]*shape) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			addFields(s, f.Type, seen) // promoted fields, e.g. Header
			continue
		}
		if name == "" {
			name = f.Name
		}
		s.fields[name] = buildShape(f.Type, seen)
	}
}

// walker reads a document token by token and checks it against a shape,
// recording the path and offset of the first problem. Syntax errors and
// truncation abort the walk; shape problems are recorded (the first one
// wins) and the walk goes on without a shape, so that format_version is
// still found and reported first.
type walker struct {
	what     string
	want     int // the format_version accepted
	tok      tokenizer
	path     []string
	shapeErr error

	formatSeen bool
	format     any // the format_version token
	formatOff  int64
}

// errTruncated marks input that ended inside the document.
var errTruncated = errors.New("truncated input")

func (w *walker) pathString() string {
	if len(w.path) == 0 {
		return "document"
	}
	var b strings.Builder
	for i, p := range w.path {
		if i > 0 && !strings.HasPrefix(p, "[") {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

func (w *walker) syntax(err error) error {
	var se *syntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("%w: %s: syntax error at offset %d (in %s): %s", ErrCorrupt, w.what, se.off, w.pathString(), se.msg)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: %s: %w: the input ends at offset %d inside %s", ErrCorrupt, w.what, errTruncated, len(w.tok.data), w.pathString())
	default:
		return fmt.Errorf("%w: %s: %w", ErrCorrupt, w.what, err)
	}
}

func (w *walker) mismatch(off int64, format string, args ...any) {
	if w.shapeErr == nil {
		w.shapeErr = fmt.Errorf("%w: %s: %s (offset %d): %s", ErrCorrupt, w.what, w.pathString(), off, fmt.Sprintf(format, args...))
	}
}

func (w *walker) token() (json.Token, int64, error) {
	tok, off, err := w.tok.next()
	if err != nil {
		return nil, off, w.syntax(err)
	}
	return tok, off, nil
}

// document walks the top-level object.
func (w *walker) document(s *shape) error {
	tok, off, err := w.token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		if err := w.skipRest(tok); err != nil {
			return err
		}
		if err := w.end(); err != nil {
			return err
		}
		return fmt.Errorf("%w: %s: document (offset %d): want a JSON object, got %s", ErrCorrupt, w.what, off, describe(tok))
	}
	if err := w.object(s, true); err != nil {
		return err
	}
	return w.end()
}

// end checks that nothing but whitespace follows the document.
func (w *walker) end() error {
	if _, off, err := w.tok.next(); err != io.EOF {
		return fmt.Errorf("%w: %s: trailing data after the document at offset %d", ErrCorrupt, w.what, off)
	}
	return nil
}

func (w *walker) checkFormat() error {
	if !w.formatSeen {
		return fmt.Errorf("%w: %s: missing format_version", ErrCorrupt, w.what)
	}
	n, ok := w.format.(json.Number)
	if !ok {
		return fmt.Errorf("%w: %s: format_version (offset %d): want an integer, got %s", ErrCorrupt, w.what, w.formatOff, describe(w.format))
	}
	v, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s: format_version (offset %d): want an integer, got %s", ErrCorrupt, w.what, w.formatOff, n)
	}
	if v != int64(w.want) {
		return fmt.Errorf("%w %d (this build reads %d)", ErrUnsupportedFormat, v, w.want)
	}
	return nil
}

// object walks the members of an object whose '{' was just read. s may be
// nil (no shape: anything goes).
func (w *walker) object(s *shape, top bool) error {
	seen := map[string]bool{}
	for {
		tok, off, err := w.token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok && d == '}' {
			return nil
		}
		key, ok := tok.(string)
		if !ok { // json.Decoder reports this as a syntax error itself
			return fmt.Errorf("%w: %s: syntax error at offset %d: object key is not a string", ErrCorrupt, w.what, off)
		}
		w.path = append(w.path, key)
		var fs *shape
		if s != nil {
			if seen[key] {
				w.mismatch(off, "duplicate field %q", key)
			}
			seen[key] = true
			var known bool
			if fs, known = s.fields[key]; !known {
				w.mismatch(off, "unknown field %q in %s", key, s.name)
			}
		}
		vtok, voff, err := w.token()
		if err != nil {
			return err
		}
		if top && key == "format_version" {
			if w.formatSeen {
				w.mismatch(off, "duplicate field %q", key)
			}
			w.formatSeen, w.format, w.formatOff = true, vtok, voff
		}
		if err := w.value(fs, vtok, voff); err != nil {
			return err
		}
		w.path = w.path[:len(w.path)-1]
	}
}

// value checks one value whose first token is tok.
func (w *walker) value(s *shape, tok json.Token, off int64) error {
	if s == nil || s.kind == kindAny {
		return w.skipRest(tok)
	}
	if tok == nil { // null
		if s.kind != kindPointer && s.kind != kindArray {
			w.mismatch(off, "null is not allowed for %s", s.name)
		}
		return nil
	}
	switch s.kind {
	case kindPointer:
		return w.value(s.elem, tok, off)
	case kindObject:
		if d, ok := tok.(json.Delim); ok && d == '{' {
			return w.object(s, false)
		}
		w.mismatch(off, "want an object (%s), got %s", s.name, describe(tok))
	case kindArray:
		if d, ok := tok.(json.Delim); ok && d == '[' {
			for i := 0; ; i++ {
				etok, eoff, err := w.token()
				if err != nil {
					return err
				}
				if d, ok := etok.(json.Delim); ok && d == ']' {
					return nil
				}
				w.path = append(w.path, "["+strconv.Itoa(i)+"]")
				if err := w.value(s.elem, etok, eoff); err != nil {
					return err
				}
				w.path = w.path[:len(w.path)-1]
			}
		}
		w.mismatch(off, "want an array (%s), got %s", s.name, describe(tok))
	case kindString:
		if _, ok := tok.(string); ok {
			return nil
		}
		w.mismatch(off, "want a string, got %s", describe(tok))
	case kindText:
		str, ok := tok.(string)
		if !ok {
			w.mismatch(off, "want a string (%s), got %s", s.name, describe(tok))
			break
		}
		v := reflect.New(s.typ).Interface().(encoding.TextUnmarshaler)
		if err := v.UnmarshalText([]byte(str)); err != nil {
			if s.typ == reflect.TypeFor[time.Time]() {
				w.mismatch(off, "want an RFC 3339 time, got %q", str)
			} else {
				w.mismatch(off, "%v", err)
			}
		}
		return nil
	case kindInt, kindUint:
		n, ok := tok.(json.Number)
		if !ok {
			w.mismatch(off, "want an integer (%s), got %s", s.name, describe(tok))
			break
		}
		var err error
		if s.kind == kindInt {
			_, err = strconv.ParseInt(n.String(), 10, s.bits)
		} else {
			_, err = strconv.ParseUint(n.String(), 10, s.bits)
		}
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				w.mismatch(off, "%s is out of range for %s", n, s.name)
			} else {
				w.mismatch(off, "want an integer (%s), got %s", s.name, n)
			}
		}
		return nil
	case kindBool:
		if _, ok := tok.(bool); ok {
			return nil
		}
		w.mismatch(off, "want true or false, got %s", describe(tok))
	}
	return w.skipRest(tok)
}

// skipRest consumes the rest of a value whose first token is tok.
func (w *walker) skipRest(tok json.Token) error {
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '{':
		return w.object(nil, false)
	case '[':
		for {
			etok, _, err := w.token()
			if err != nil {
				return err
			}
			if d, ok := etok.(json.Delim); ok && d == ']' {
				return nil
			}
			if err := w.skipRest(etok); err != nil {
				return err
			}
		}
	}
	return nil
}

func describe(tok json.Token) string {
	switch v := tok.(type) {
	case nil:
		return "null"
	case json.Delim:
		if v == '{' {
			return "an object"
		}
		if v == '[' {
			return "an array"
		}
		return fmt.Sprintf("%q", string(v))
	case string:
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		return fmt.Sprintf("the string %q", v)
	case json.Number:
		return "the number " + v.String()
	case bool:
		return strconv.FormatBool(v)
	default:
		return fmt.Sprintf("%T", tok)
	}
}
