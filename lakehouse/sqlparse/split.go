package sqlparse

// Piece is the text of one statement of a script.
type Piece struct {
	// Text runs from the statement's first token to its last, without the
	// terminating ';' and without comments or whitespace around it.
	Text string
	// Offset is the byte offset of Text in the script:
	// script[Offset:Offset+len(Text)] == Text.
	Offset int
}

// Split splits a script into statements at each ';' that is a token of its
// own, that is not inside a string, quoted identifier or comment. Pieces
// holding nothing but whitespace and comments are dropped. It fails only
// where Lex fails.
func Split(sql string) ([]Piece, error) {
	toks, err := Lex(sql)
	if err != nil {
		return nil, err
	}
	var out []Piece
	for _, r := range splitTokens(toks) {
		first, last := toks[r[0]], toks[r[1]-1]
		out = append(out, Piece{Text: sql[first.Pos:last.End], Offset: first.Pos})
	}
	return out, nil
}

// splitTokens returns the token index ranges [lo, hi) of the statements in
// toks (a Lex result), without the ';' tokens; no range is empty.
func splitTokens(toks []Token) [][2]int {
	var out [][2]int
	lo := 0
	for i, t := range toks {
		if t.Kind == EOF || (t.Kind == Op && t.Text == ";") {
			if i > lo {
				out = append(out, [2]int{lo, i})
			}
			lo = i + 1
		}
	}
	return out
}
