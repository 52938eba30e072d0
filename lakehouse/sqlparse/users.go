package sqlparse

import (
	"github.com/floedb/floe/lakehouse/dberr"
)

// User statements. Their errors never quote the password: a message names
// the token after it as "the password", so a mistyped statement cannot
// leak a secret into an error response or a log.

// CreateUser is CREATE USER [IF NOT EXISTS] 'name' WITH PASSWORD 'secret'
// [ROLE user|service|dba|system] [EMAIL 'address']. The role defaults to
// user.
type CreateUser struct {
	span
	User        string
	Password    string
	Role        string // as written, lower case; "" means user
	Email       string
	IfNotExists bool
}

// AlterUser is ALTER USER 'name' SET PASSWORD 'secret' | SET ROLE r |
// SET EMAIL 'address' (one or more SET clauses, comma-separated), or
// ALTER USER 'name' REVOKE TOKENS.
type AlterUser struct {
	span
	User string
	// RevokeTokens voids every token issued to the user so far.
	RevokeTokens bool
	// Set are the changes; nil fields are unchanged.
	Password *string
	Role     *string
	Email    *string
}

// DropUser is DROP USER [IF EXISTS] 'name'.
type DropUser struct {
	span
	User     string
	IfExists bool
}

// ExecuteAs is EXECUTE AS USER 'name' (statement): the statement runs in
// the named user's partition with the user's role, on behalf of the
// caller, who needs a role that may act as that user.
type ExecuteAs struct {
	span
	User string
	Stmt Statement
}

// userName consumes a user name: a string literal or an identifier.
func (p *parser) userName() (string, error) {
	t := p.peek()
	switch t.Kind {
	case String:
		p.next()
		if t.Value() == "" {
			return "", p.errAt(t.Pos, "a user name must not be empty")
		}
		return t.Value(), nil
	case Ident, QuotedIdent:
		return p.ident("a user name")
	}
	return "", p.expected("a user name")
}

// secret consumes a string literal holding a secret; errors do not quote
// it, and the error after it speaks of "the password".
func (p *parser) secret() (string, error) {
	t := p.peek()
	if t.Kind != String {
		return "", p.errAt(t.Pos, "expected the password as a string literal ('…')")
	}
	p.next()
	if t.Value() == "" {
		return "", p.errAt(t.Pos, "the password must not be empty")
	}
	return t.Value(), nil
}

// afterSecret fails with a message that does not quote the secret when the
// token after it is not one of what.
func (p *parser) afterSecret(what string) *dberr.Error {
	t := p.peek()
	return p.errAt(t.Pos, "expected %s after the password, found %s", what, describe(t))
}

// stringValue consumes a string literal.
func (p *parser) stringValue(what string) (string, error) {
	t := p.peek()
	if t.Kind != String {
		return "", p.expected(what)
	}
	p.next()
	return t.Value(), nil
}

// roleName consumes a role: an identifier or a string.
func (p *parser) roleName() (string, error) {
	t := p.peek()
	switch t.Kind {
	case String:
		p.next()
		return lowerASCII(t.Value()), nil
	case Ident:
		p.next()
		return lowerASCII(t.Text), nil
	}
	return "", p.expected("a role (user, service, dba or system)")
}

// parseCreateUser parses CREATE USER … from USER on.
func parseCreateUser(p *parser, c createPrefix) (Statement, error) {
	p.next() // USER
	if c.orReplace {
		return nil, dberr.New(dberr.Unsupported, "CREATE OR REPLACE USER is not supported; use ALTER USER")
	}
	st := &CreateUser{IfNotExists: p.accept("IF", "NOT", "EXISTS")}
	var err error
	if st.User, err = p.userName(); err != nil {
		return nil, err
	}
	if err := p.expect("WITH", "PASSWORD"); err != nil {
		return nil, err
	}
	if st.Password, err = p.secret(); err != nil {
		return nil, err
	}
	first := true
	for p.peek().Kind != EOF {
		switch {
		case p.accept("ROLE"):
			if st.Role != "" {
				return nil, p.errAt(p.toks[p.i-1].Pos, "ROLE is given twice")
			}
			if st.Role, err = p.roleName(); err != nil {
				return nil, err
			}
		case p.accept("EMAIL"):
			if st.Email != "" {
				return nil, p.errAt(p.toks[p.i-1].Pos, "EMAIL is given twice")
			}
			if st.Email, err = p.stringValue("an email address as a string literal"); err != nil {
				return nil, err
			}
		default:
			if first {
				return nil, p.afterSecret("ROLE, EMAIL or the end of the statement")
			}
			return nil, p.expected("ROLE, EMAIL or the end of the statement")
		}
		first = false
	}
	return st, nil
}

// parseAlterUser parses ALTER USER … from USER on.
func parseAlterUser(p *parser) (Statement, error) {
	p.next() // USER
	st := &AlterUser{}
	var err error
	if st.User, err = p.userName(); err != nil {
		return nil, err
	}
	if p.accept("REVOKE") {
		if err := p.expect("TOKENS"); err != nil {
			return nil, err
		}
		st.RevokeTokens = true
		return st, p.expectEnd()
	}
	if err := p.expect("SET"); err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		switch {
		case p.accept("PASSWORD"):
			if st.Password != nil {
				return nil, p.errAt(t.Pos, "PASSWORD is given twice")
			}
			s, err := p.secret()
			if err != nil {
				return nil, err
			}
			st.Password = &s
			if k := p.peek(); k.Kind != EOF && !isOp(k, ",") {
				return nil, p.afterSecret(`"," or the end of the statement`)
			}
		case p.accept("ROLE"):
			if st.Role != nil {
				return nil, p.errAt(t.Pos, "ROLE is given twice")
			}
			r, err := p.roleName()
			if err != nil {
				return nil, err
			}
			st.Role = &r
		case p.accept("EMAIL"):
			if st.Email != nil {
				return nil, p.errAt(t.Pos, "EMAIL is given twice")
			}
			e, err := p.stringValue("an email address as a string literal")
			if err != nil {
				return nil, err
			}
			st.Email = &e
		default:
			return nil, p.expected("PASSWORD, ROLE or EMAIL")
		}
		if !p.acceptOp(",") {
			break
		}
		p.accept("SET") // "SET a, SET b" reads as well as "SET a, b"
	}
	return st, p.expectEnd()
}

// parseDropUser parses DROP USER [IF EXISTS] name from USER on.
func parseDropUser(p *parser) (Statement, error) {
	p.next() // USER
	st := &DropUser{IfExists: p.accept("IF", "EXISTS")}
	var err error
	if st.User, err = p.userName(); err != nil {
		return nil, err
	}
	return st, p.expectEnd()
}

// parseExecute parses EXECUTE AS USER 'name' (statement); other EXECUTE
// forms (prepared statements) are unsupported.
func parseExecute(p *parser) (Statement, error) {
	if !isKeyword(p.peekAt(1), "AS") {
		return unsupported("prepared statements are not supported; use the API's statement parameters")(p)
	}
	p.next() // EXECUTE
	p.next() // AS
	if err := p.expect("USER"); err != nil {
		return nil, err
	}
	st := &ExecuteAs{}
	var err error
	if st.User, err = p.userName(); err != nil {
		return nil, err
	}
	open := p.peek()
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	// The inner statement runs to the matching ")", which must end the
	// statement.
	depth, end := 1, -1
	for k := p.i; k < len(p.toks)-1; k++ {
		switch {
		case isOp(p.toks[k], "("):
			depth++
		case isOp(p.toks[k], ")"):
			depth--
		}
		if depth == 0 {
			end = k
			break
		}
	}
	if end < 0 {
		return nil, p.errAt(open.Pos, `the "(" after EXECUTE AS USER is not closed`)
	}
	if end == p.i {
		return nil, p.errAt(open.Pos, "EXECUTE AS USER needs a statement inside the parentheses")
	}
	inner := p.toks[p.i:end:end]
	if isKeyword(inner[0], "EXECUTE") {
		return nil, p.errAt(inner[0].Pos, "EXECUTE AS USER cannot be nested")
	}
	if st.Stmt, err = parseStatement(p.src, inner); err != nil {
		return nil, err
	}
	p.i = end + 1
	return st, p.expectEnd()
}
