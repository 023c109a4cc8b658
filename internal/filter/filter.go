// Package filter parses LaunchDarkly-style list filters such as
//
//	tags contains ["a","b"] and isNumeric equals true, query equals 'checkout'
//
// A filter is one or more clauses joined by the keyword "and" (matched
// case-insensitively, as a whole word) or by a top-level comma. Each clause
// has the form
//
//	field operator value
//
// where field and operator are identifiers (a letter followed by letters,
// digits, "_", "." or "-") and value is one of:
//
//   - a double-quoted string using JSON escapes (\" \\ \/ \b \f \n \r \t \uXXXX);
//   - a single-quoted string in which only \' and \\ are escapes;
//   - true or false (lowercase), which yield a Bool value;
//   - a bare word: a run of characters other than whitespace, ",", "[", "]"
//     and quotes, which yields a String value (so 95 is the string "95");
//   - a list [v1, v2, ...] of the scalar values above; lists do not nest and
//     may be empty.
//
// Whitespace between tokens is insignificant. The bare word "and" (in any
// case) is reserved: it cannot be used as a field, an operator or an
// unquoted clause value; quote it ('and') to use it as a value.
//
// Parse only checks syntax. Expr.Check validates fields and operators against
// a Spec, and the Value helpers convert values to the types a caller needs.
// Every error is an *Error carrying the byte offset of the offending input.
package filter

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Limits enforced by Parse.
const (
	maxLength    = 4096 // bytes of input
	maxClauses   = 32   // clauses per filter
	maxListItems = 100  // items per list value
)

// ValueKind is the kind of a Value.
type ValueKind int

// The kinds of Value.
const (
	// String is a quoted string or a bare word; see Value.Str.
	String ValueKind = iota + 1
	// Bool is the bare word true or false; see Value.Bool.
	Bool
	// List is a bracketed list of String and Bool values; see Value.List.
	List
)

// Value is the value of a clause or an item of a list value.
type Value struct {
	// Kind says which of Str, Bool and List holds the value.
	Kind ValueKind
	// Str is the decoded string when Kind is String.
	Str string
	// Bool is the boolean when Kind is Bool.
	Bool bool
	// List holds the items when Kind is List. Items are String or Bool
	// values. An empty list is a non-nil, empty slice.
	List []Value
	// Pos is the byte offset of the value's first character in the input
	// (the opening quote of a quoted string, the "[" of a list).
	Pos int
}

// Clause is a single "field operator value" condition.
type Clause struct {
	// Field is the field name as written.
	Field string
	// FieldPos is the byte offset of Field in the input.
	FieldPos int
	// Op is the operator name as written.
	Op string
	// OpPos is the byte offset of Op in the input.
	OpPos int
	// Value is the clause's value.
	Value Value
}

// Expr is a conjunction of clauses, in input order.
type Expr struct {
	// Clauses are the parsed clauses; nil for an empty filter.
	Clauses []Clause
}

// Error reports a problem with a filter at a byte offset of the input.
type Error struct {
	// Pos is the 0-based byte offset where the offending token starts, or
	// the length of the input if the problem is an unexpected end of input.
	Pos int
	// Msg describes the problem.
	Msg string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("invalid filter at position %d: %s", e.Pos, e.Msg)
}

func errorf(pos int, format string, args ...any) *Error {
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// Parse parses the filter s. An empty or all-whitespace string yields an
// empty Expr and no error.
//
// Input longer than 4096 bytes, more than 32 clauses, or a list with more
// than 100 items is rejected. Any error returned is an *Error.
func Parse(s string) (Expr, error) {
	if len(s) > maxLength {
		return Expr{}, errorf(maxLength, "filter is too long: %d bytes, the maximum is %d", len(s), maxLength)
	}
	if i := invalidText(s); i >= 0 {
		if s[i] == 0 {
			return Expr{}, errorf(i, "U+0000 (NUL) is not allowed in a filter")
		}
		return Expr{}, errorf(i, "invalid UTF-8 in filter")
	}
	p := &parser{s: s}
	p.skipSpace()
	if p.eof() {
		return Expr{}, nil
	}
	var clauses []Clause
	sep := "" // the separator in front of the next clause, as written
	for {
		c, err := p.clause(sep)
		if err != nil {
			return Expr{}, err
		}
		if len(clauses) == maxClauses {
			return Expr{}, errorf(c.FieldPos, "too many clauses: the maximum is %d", maxClauses)
		}
		clauses = append(clauses, c)
		p.skipSpace()
		if p.eof() {
			break
		}
		if p.s[p.pos] == ',' {
			sep = ","
			p.pos++
		} else if w := p.word(p.pos); isAnd(w) {
			sep = w
			p.pos += len(w)
		} else {
			return Expr{}, errorf(p.pos, `expected "and" or "," between clauses, found %s`, p.found(p.pos))
		}
		p.skipSpace()
	}
	return Expr{Clauses: clauses}, nil
}

// invalidText returns the byte offset of the first U+0000 or invalid UTF-8
// sequence in s, or -1 when there is none.
func invalidText(s string) int {
	for i, r := range s {
		if r == 0 {
			return i
		}
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return i
			}
		}
	}
	return -1
}

// parser holds the input and the current byte offset.
type parser struct {
	s   string
	pos int
}

func (p *parser) eof() bool { return p.pos >= len(p.s) }

func (p *parser) skipSpace() {
	for p.pos < len(p.s) && isSpace(p.s[p.pos]) {
		p.pos++
	}
}

// word returns the run of non-delimiter bytes starting at pos.
func (p *parser) word(pos int) string {
	end := pos
	for end < len(p.s) && !isDelim(p.s[end]) {
		end++
	}
	return p.s[pos:end]
}

// found describes the token starting at pos for "found ..." messages.
func (p *parser) found(pos int) string {
	if pos >= len(p.s) {
		return "end of input"
	}
	switch c := p.s[pos]; c {
	case '"', '\'':
		return "a quoted string"
	case ',', '[', ']':
		return strconv.Quote(string(c))
	}
	return quoteTrunc(p.word(pos))
}

// clause parses "field operator value". sep is the separator that preceded
// the clause ("" for the first clause).
func (p *parser) clause(sep string) (Clause, error) {
	after := ""
	if sep != "" {
		after = " after " + strconv.Quote(sep)
	}

	fieldPos := p.pos
	field, err := p.ident(fieldPos, "a field name"+after, "field name")
	if err != nil {
		return Clause{}, err
	}
	p.pos += len(field)
	p.skipSpace()

	opPos := p.pos
	op, err := p.ident(opPos, "an operator after field "+quoteTrunc(field), "operator")
	if err != nil {
		return Clause{}, err
	}
	p.pos += len(op)
	p.skipSpace()

	var v Value
	valPos := p.pos
	switch {
	case p.eof() || p.s[valPos] == ',' || p.s[valPos] == ']' || isAnd(p.word(valPos)):
		return Clause{}, errorf(valPos, "expected a value after operator %s, found %s", quoteTrunc(op), p.found(valPos))
	case p.s[valPos] == '[':
		v, err = p.list()
	default:
		v, err = p.scalar()
	}
	if err != nil {
		return Clause{}, err
	}
	return Clause{Field: field, FieldPos: fieldPos, Op: op, OpPos: opPos, Value: v}, nil
}

// ident returns the identifier starting at pos without consuming it.
// expected describes what was expected there, what names the identifier in
// messages about invalid characters.
func (p *parser) ident(pos int, expected, what string) (string, error) {
	w := p.word(pos)
	if w == "" || isAnd(w) {
		return "", errorf(pos, "expected %s, found %s", expected, p.found(pos))
	}
	if !isLetter(w[0]) {
		return "", errorf(pos, "expected %s, found %s (%ss must start with a letter)", expected, quoteTrunc(w), what)
	}
	for i := 1; i < len(w); i++ {
		if !isIdentByte(w[i]) {
			_, size := utf8.DecodeRuneInString(w[i:])
			return "", errorf(pos+i, `invalid character %s in %s %s (allowed are letters, digits, "_", "." and "-")`,
				strconv.Quote(w[i:i+size]), what, quoteTrunc(w))
		}
	}
	return w, nil
}

// list parses a list value; p.pos is at "[".
func (p *parser) list() (Value, error) {
	open := p.pos
	p.pos++
	items := []Value{}
	for {
		p.skipSpace()
		if p.eof() {
			return Value{}, errorf(open, `unterminated list: missing closing "]"`)
		}
		switch p.s[p.pos] {
		case ']':
			if len(items) == 0 {
				p.pos++
				return Value{Kind: List, List: items, Pos: open}, nil
			}
			return Value{}, errorf(p.pos, `expected a value in list after ",", found "]"`)
		case ',':
			return Value{}, errorf(p.pos, `expected a value in list, found ","`)
		case '[':
			return Value{}, errorf(p.pos, "nested lists are not allowed")
		}
		if len(items) == maxListItems {
			return Value{}, errorf(p.pos, "too many list items: the maximum is %d", maxListItems)
		}
		v, err := p.scalar()
		if err != nil {
			return Value{}, err
		}
		items = append(items, v)
		p.skipSpace()
		if p.eof() {
			return Value{}, errorf(open, `unterminated list: missing closing "]"`)
		}
		switch p.s[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return Value{Kind: List, List: items, Pos: open}, nil
		default:
			return Value{}, errorf(p.pos, `expected "," or "]" in list, found %s`, p.found(p.pos))
		}
	}
}

// scalar parses a quoted string, a boolean or a bare word at p.pos, which
// must not be at a delimiter other than a quote.
func (p *parser) scalar() (Value, error) {
	switch p.s[p.pos] {
	case '"':
		return p.doubleQuoted()
	case '\'':
		return p.singleQuoted()
	}
	start := p.pos
	w := p.word(start)
	p.pos += len(w)
	switch w {
	case "true":
		return Value{Kind: Bool, Bool: true, Pos: start}, nil
	case "false":
		return Value{Kind: Bool, Bool: false, Pos: start}, nil
	}
	return Value{Kind: String, Str: w, Pos: start}, nil
}

// doubleQuoted parses a string with JSON escapes; p.pos is at the quote.
func (p *parser) doubleQuoted() (Value, error) {
	s, open := p.s, p.pos
	var b strings.Builder
	for i := open + 1; ; {
		if i >= len(s) {
			return Value{}, errorf(open, "unterminated string: missing closing double quote")
		}
		c := s[i]
		if c == '"' {
			p.pos = i + 1
			return Value{Kind: String, Str: b.String(), Pos: open}, nil
		}
		if c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(s) {
			return Value{}, errorf(open, "unterminated string: missing closing double quote")
		}
		switch e := s[i+1]; e {
		case '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, ok := hex4(s, i+2)
			if !ok {
				return Value{}, errorf(i, `invalid escape sequence in string: \u must be followed by 4 hex digits`)
			}
			if r == 0 {
				return Value{}, errorf(i, `invalid escape sequence in string: \u0000 (NUL) is not allowed`)
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(s, i+2); ok && s[i] == '\\' && s[i+1] == 'u' {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
						i += 6
					}
				}
				if utf16.IsSurrogate(r) {
					r = utf8.RuneError
				}
			}
			b.WriteRune(r)
			continue
		default:
			return Value{}, errorf(i, `invalid escape sequence %s in double-quoted string (allowed are \" \\ \/ \b \f \n \r \t and \uXXXX)`, escDesc(s, i))
		}
		i += 2
	}
}

// singleQuoted parses a string in which \' and \\ are the only escapes;
// p.pos is at the quote.
func (p *parser) singleQuoted() (Value, error) {
	s, open := p.s, p.pos
	var b strings.Builder
	for i := open + 1; ; {
		if i >= len(s) {
			return Value{}, errorf(open, "unterminated string: missing closing single quote")
		}
		c := s[i]
		if c == '\'' {
			p.pos = i + 1
			return Value{Kind: String, Str: b.String(), Pos: open}, nil
		}
		if c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(s) {
			return Value{}, errorf(open, "unterminated string: missing closing single quote")
		}
		if e := s[i+1]; e != '\'' && e != '\\' {
			return Value{}, errorf(i, `invalid escape sequence %s in single-quoted string (allowed are \' and \\)`, escDesc(s, i))
		}
		b.WriteByte(s[i+1])
		i += 2
	}
}

// hex4 decodes the 4 hex digits at s[i:i+4].
func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// escDesc describes the escape sequence whose backslash is at s[i]; the
// caller guarantees i+1 < len(s).
func escDesc(s string, i int) string {
	r, size := utf8.DecodeRuneInString(s[i+1:])
	if r == utf8.RuneError || !strconv.IsGraphic(r) || r == ' ' {
		return "(backslash followed by " + strconv.Quote(s[i+1:i+1+size]) + ")"
	}
	return `\` + s[i+1:i+1+size]
}

// quoteTrunc quotes w, shortening long words.
func quoteTrunc(w string) string {
	const max = 32
	if len(w) <= max {
		return strconv.Quote(w)
	}
	n := max
	for n > 0 && !utf8.RuneStart(w[n]) {
		n--
	}
	return strconv.Quote(w[:n] + "...")
}

func isAnd(w string) bool { return strings.EqualFold(w, "and") }

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func isDelim(c byte) bool {
	return isSpace(c) || c == ',' || c == '[' || c == ']' || c == '"' || c == '\''
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isIdentByte(c byte) bool {
	return isLetter(c) || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-'
}

// Spec lists the fields a filter may use. Field and operator names are
// matched exactly (case-sensitively).
type Spec map[string]Field

// Field says how a filter may use one field.
type Field struct {
	// Ops are the operators allowed for the field.
	Ops []string
	// Repeatable lets the field appear in several clauses (each one narrows
	// the conjunction further); otherwise it may appear only once.
	Repeatable bool
}

// Ops returns a Field allowing ops that may appear only once in a filter.
func Ops(ops ...string) Field { return Field{Ops: ops} }

// Repeated returns f allowed in any number of clauses.
func (f Field) Repeated() Field {
	f.Repeatable = true
	return f
}

// Check validates e against spec. It returns an *Error for the first clause
// whose field is not in spec (positioned at the field), whose operator is
// not allowed for its field (positioned at the operator), or whose field is
// not Repeatable and appeared in an earlier clause (positioned at the
// field), and nil otherwise.
func (e Expr) Check(spec Spec) error {
	seen := map[string]bool{}
	for _, c := range e.Clauses {
		f, ok := spec[c.Field]
		ops := f.Ops
		if !ok {
			supported := "none"
			if len(spec) > 0 {
				supported = strings.Join(slices.Sorted(maps.Keys(spec)), ", ")
			}
			return errorf(c.FieldPos, "unknown field %q; supported fields: %s", c.Field, supported)
		}
		if !slices.Contains(ops, c.Op) {
			var hint string
			switch len(ops) {
			case 0:
				hint = "it supports no operators"
			case 1:
				hint = "use " + ops[0]
			default:
				hint = "use one of " + strings.Join(ops, ", ")
			}
			return errorf(c.OpPos, "operator %q is not supported for field %q; %s", c.Op, c.Field, hint)
		}
		if seen[c.Field] && !f.Repeatable {
			return errorf(c.FieldPos, "field %q may appear only once", c.Field)
		}
		seen[c.Field] = true
	}
	return nil
}

// describe names the kind of v, with its content for scalars, for messages.
func (v Value) describe() string {
	switch v.Kind {
	case String:
		return "string " + quoteTrunc(v.Str)
	case Bool:
		return "boolean " + strconv.FormatBool(v.Bool)
	case List:
		return "a list"
	}
	return "no value"
}

// AsString returns the string held by a String value, or an *Error at v.Pos
// for any other kind.
func (v Value) AsString() (string, error) {
	if v.Kind != String {
		return "", errorf(v.Pos, "expected a string, found %s", v.describe())
	}
	return v.Str, nil
}

// AsBool returns the boolean held by a Bool value, or by a String value that
// is "true" or "false" in any case. Otherwise it returns an *Error at v.Pos.
func (v Value) AsBool() (bool, error) {
	switch v.Kind {
	case Bool:
		return v.Bool, nil
	case String:
		switch {
		case strings.EqualFold(v.Str, "true"):
			return true, nil
		case strings.EqualFold(v.Str, "false"):
			return false, nil
		}
	}
	return false, errorf(v.Pos, "expected true or false, found %s", v.describe())
}

// AsStrings returns a String value as a one-item slice and a List of String
// values as its items (an empty, non-nil slice for an empty list). A Bool
// value, or a list containing one, yields an *Error at the offending value.
func (v Value) AsStrings() ([]string, error) {
	switch v.Kind {
	case String:
		return []string{v.Str}, nil
	case List:
		out := make([]string, 0, len(v.List))
		for _, it := range v.List {
			if it.Kind != String {
				return nil, errorf(it.Pos, "expected a string in list, found %s", it.describe())
			}
			out = append(out, it.Str)
		}
		return out, nil
	}
	return nil, errorf(v.Pos, "expected a string or a list of strings, found %s", v.describe())
}

// OneOf returns v's string if v is a String equal (case-sensitively) to one
// of allowed. Otherwise it returns an *Error at v.Pos.
func (v Value) OneOf(allowed ...string) (string, error) {
	s, err := v.AsString()
	if err != nil {
		return "", err
	}
	if !slices.Contains(allowed, s) {
		return "", errorf(v.Pos, "must be one of %s; found %s", strings.Join(allowed, ", "), quoteTrunc(s))
	}
	return s, nil
}
