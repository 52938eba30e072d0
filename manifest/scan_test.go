package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"testing"
)

// tokens returns the token stream of data, or the error that ended it.
func tokens(data []byte) ([]json.Token, error) {
	t := tokenizer{data: data}
	var out []json.Token
	for {
		tok, _, err := t.next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, tok)
	}
}

// stdTokens is tokens by encoding/json.
func stdTokens(data []byte) ([]json.Token, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var out []json.Token
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, tok)
	}
}

func TestTokenizer(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string // "" valid, "eof" truncated, else syntax
	}{
		{`{}`, ""}, {` [ ] `, ""}, {`"a\u00e9\ud83d\ude00\n\"\\\/"`, ""}, {`-0.5e+10`, ""}, {`0`, ""},
		{`{"a":[1,true,false,null,{"b":"c"}]}`, ""}, {`"\ud800"`, ""}, {`"\ud800\u0041"`, ""}, {"\"\xff\"", ""},
		{``, "eof"}, {`{`, "eof"}, {`{"a"`, "eof"}, {`{"a":`, "eof"}, {`[1,`, "eof"}, {`"abc`, "eof"}, {`tru`, "eof"}, {`-`, "eof"}, {`1.`, "eof"}, {`1e`, "eof"}, {`"\u12`, "eof"},
		{`{,}`, "syntax"}, {`[1,]`, "syntax"}, {`{"a" 1}`, "syntax"}, {`{"a":1,}`, "syntax"}, {`01`, "syntax"}, {`1.e5`, "syntax"},
		{`[1 2]`, "syntax"}, {`{1:2}`, "syntax"}, {`"\x"`, "syntax"}, {"\"a\tb\"", "syntax"}, {`truth`, "syntax"}, {`+1`, "syntax"},
		{`{} {}`, "syntax"}, {`]`, "syntax"}, {`{"a":1]`, "syntax"}, {`"\uZZZZ"`, "syntax"}, {`nul`, "eof"}, {`.5`, "syntax"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := tokens([]byte(tc.in))
			var se *syntaxError
			switch tc.wantErr {
			case "":
				if err != nil {
					t.Fatalf("error %v", err)
				}
			case "eof":
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("error %v, want unexpected EOF", err)
				}
			default:
				if !errors.As(err, &se) {
					t.Fatalf("error %v, want a syntax error", err)
				}
			}
			if valid := json.Valid([]byte(tc.in)); valid != (err == nil) {
				t.Fatalf("json.Valid = %v but tokenizer error = %v", valid, err)
			}
			if err == nil {
				want, _ := stdTokens([]byte(tc.in))
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("tokens %#v, encoding/json says %#v", got, want)
				}
			}
		})
	}
}

// FuzzTokenizer checks the tokenizer against encoding/json: the same
// documents are valid, and valid ones give the same tokens.
func FuzzTokenizer(f *testing.F) {
	for _, s := range []string{`{"a":[1,-2.5e3,true,null,"x\u00e9\ud83d\ude00"]}`, `[]`, `"\ud800"`, `{"a":{}}`, "\"\xff\"", mustEncodeCatalog(f, validCatalog())} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := tokens(data)
		if valid := json.Valid(data); valid != (err == nil) {
			t.Fatalf("json.Valid = %v but tokenizer error = %v", valid, err)
		}
		if err != nil {
			return
		}
		want, werr := stdTokens(data)
		if werr != nil {
			t.Fatalf("encoding/json fails on a valid document: %v", werr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("tokens %#v, encoding/json says %#v", got, want)
		}
	})
}
