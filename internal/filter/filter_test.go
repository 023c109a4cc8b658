package filter

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func str(s string, pos int) Value   { return Value{Kind: String, Str: s, Pos: pos} }
func boolean(b bool, pos int) Value { return Value{Kind: Bool, Bool: b, Pos: pos} }
func list(pos int, items ...Value) Value {
	if items == nil {
		items = []Value{}
	}
	return Value{Kind: List, List: items, Pos: pos}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Expr
	}{
		{"empty", "", Expr{}},
		{"whitespace only", " \t\n\r ", Expr{}},
		{
			"single clause", "tags contains foo",
			Expr{[]Clause{{"tags", 0, "contains", 5, str("foo", 14)}}},
		},
		{
			"and lowercase", "a equals 1 and b equals 2",
			Expr{[]Clause{{"a", 0, "equals", 2, str("1", 9)}, {"b", 15, "equals", 17, str("2", 24)}}},
		},
		{
			"AND uppercase", "a equals 1 AND b equals 2",
			Expr{[]Clause{{"a", 0, "equals", 2, str("1", 9)}, {"b", 15, "equals", 17, str("2", 24)}}},
		},
		{
			"And mixed case", "a equals 1 aNd b equals 2",
			Expr{[]Clause{{"a", 0, "equals", 2, str("1", 9)}, {"b", 15, "equals", 17, str("2", 24)}}},
		},
		{
			"comma", "a equals 1,b equals 2",
			Expr{[]Clause{{"a", 0, "equals", 2, str("1", 9)}, {"b", 11, "equals", 13, str("2", 20)}}},
		},
		{
			"comma and and mixed", "a equals 1 , b equals 2 and c equals 3",
			Expr{[]Clause{
				{"a", 0, "equals", 2, str("1", 9)},
				{"b", 13, "equals", 15, str("2", 22)},
				{"c", 28, "equals", 30, str("3", 37)},
			}},
		},
		{
			"brief example", `tags contains ["a","b"] and isNumeric equals true, query equals 'checkout'`,
			Expr{[]Clause{
				{"tags", 0, "contains", 5, list(14, str("a", 15), str("b", 19))},
				{"isNumeric", 28, "equals", 38, boolean(true, 45)},
				{"query", 51, "equals", 57, str("checkout", 64)},
			}},
		},
		{
			"double-quoted escapes", `q equals "a\"b\\c\nd\te\/f\u00E9\ud83d\ude00\b\f\r"`,
			Expr{[]Clause{{"q", 0, "equals", 2, str("a\"b\\c\nd\te/f\u00e9\U0001F600\b\f\r", 9)}}},
		},
		{
			"double-quoted lone surrogate", `q equals "\ud83dx"`,
			Expr{[]Clause{{"q", 0, "equals", 2, str("\uFFFDx", 9)}}},
		},
		{
			"double-quoted with single quote and comma", `q equals "it's, [fine]"`,
			Expr{[]Clause{{"q", 0, "equals", 2, str("it's, [fine]", 9)}}},
		},
		{
			"single-quoted escapes", `q equals 'it\'s \\ "here"'`,
			Expr{[]Clause{{"q", 0, "equals", 2, str(`it's \ "here"`, 9)}}},
		},
		{
			"empty strings", `a equals "", b equals ''`,
			Expr{[]Clause{{"a", 0, "equals", 2, str("", 9)}, {"b", 13, "equals", 15, str("", 22)}}},
		},
		{
			"bare words", "v equals 1.2.3-beta+x/y:z, p equals 95, n equals héllo",
			Expr{[]Clause{
				{"v", 0, "equals", 2, str("1.2.3-beta+x/y:z", 9)},
				{"p", 27, "equals", 29, str("95", 36)},
				{"n", 40, "equals", 42, str("héllo", 49)},
			}},
		},
		{
			"booleans", `x equals true, y equals false, z equals True, w equals "true"`,
			Expr{[]Clause{
				{"x", 0, "equals", 2, boolean(true, 9)},
				{"y", 15, "equals", 17, boolean(false, 24)},
				{"z", 31, "equals", 33, str("True", 40)},
				{"w", 46, "equals", 48, str("true", 55)},
			}},
		},
		{
			"empty list", "t anyOf []",
			Expr{[]Clause{{"t", 0, "anyOf", 2, list(8)}}},
		},
		{
			"empty list with space", "t anyOf [ \n ]",
			Expr{[]Clause{{"t", 0, "anyOf", 2, list(8)}}},
		},
		{
			"list mixed quoting", `t anyOf ["a", 'b', c , true,false]`,
			Expr{[]Clause{{"t", 0, "anyOf", 2, list(8,
				str("a", 9), str("b", 14), str("c", 19), boolean(true, 23), boolean(false, 28))}}},
		},
		{
			"list items may be and", "t anyOf [and, AND]",
			Expr{[]Clause{{"t", 0, "anyOf", 2, list(8, str("and", 9), str("AND", 14))}}},
		},
		{
			"whitespace variations", "  \t a\n equals\t\t'x'  \r\n,\tb  equals [ y ,z ]  ",
			Expr{[]Clause{
				{"a", 4, "equals", 7, str("x", 15)},
				{"b", 24, "equals", 27, list(34, str("y", 36), str("z", 39))},
			}},
		},
		{
			"no whitespace around quotes and brackets", `a equals"x"and b equals[c]`,
			Expr{[]Clause{{"a", 0, "equals", 2, str("x", 8)}, {"b", 15, "equals", 17, list(23, str("c", 24))}}},
		},
		{
			"and inside quotes", "query equals 'a and b'",
			Expr{[]Clause{{"query", 0, "equals", 6, str("a and b", 13)}}},
		},
		{
			"comma inside quotes", `query equals "x, y", z equals 1`,
			Expr{[]Clause{{"query", 0, "equals", 6, str("x, y", 13)}, {"z", 21, "equals", 23, str("1", 30)}}},
		},
		{
			"and as part of words", "brand equals android and a equals andy",
			Expr{[]Clause{{"brand", 0, "equals", 6, str("android", 13)}, {"a", 25, "equals", 27, str("andy", 34)}}},
		},
		{
			"field names with dots, underscores, dashes", "metric.name_v2 equals x, a-b.C_9 startsWith y",
			Expr{[]Clause{
				{"metric.name_v2", 0, "equals", 15, str("x", 22)},
				{"a-b.C_9", 25, "startsWith", 33, str("y", 44)},
			}},
		},
		{
			"any operator name", "a fooBar_2 x",
			Expr{[]Clause{{"a", 0, "fooBar_2", 2, str("x", 11)}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseLimitsAccepted(t *testing.T) {
	// Exactly maxLength bytes.
	in := "a equals " + strings.Repeat("x", maxLength-len("a equals "))
	got, err := Parse(in)
	if err != nil {
		t.Fatalf("Parse(%d bytes): %v", len(in), err)
	}
	if len(got.Clauses) != 1 || len(got.Clauses[0].Value.Str) != maxLength-9 {
		t.Errorf("Parse(%d bytes) = %+v", len(in), got)
	}

	// Exactly maxClauses clauses.
	got, err = Parse(strings.Repeat("a equals 1 and ", maxClauses-1) + "a equals 1")
	if err != nil {
		t.Fatalf("Parse(%d clauses): %v", maxClauses, err)
	}
	if len(got.Clauses) != maxClauses {
		t.Errorf("got %d clauses, want %d", len(got.Clauses), maxClauses)
	}

	// Exactly maxListItems items.
	got, err = Parse("t anyOf [" + strings.Repeat("x,", maxListItems-1) + "x]")
	if err != nil {
		t.Fatalf("Parse(%d list items): %v", maxListItems, err)
	}
	if n := len(got.Clauses[0].Value.List); n != maxListItems {
		t.Errorf("got %d list items, want %d", n, maxListItems)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Error
	}{
		{"empty clause", "a equals 1,,b equals 2", Error{11, `expected a field name after ",", found ","`}},
		{"leading comma", ", a equals 1", Error{0, `expected a field name, found ","`}},
		{"trailing and", "a equals 1 and", Error{14, `expected a field name after "and", found end of input`}},
		{"trailing AND with space", "a equals 1 AND  ", Error{16, `expected a field name after "AND", found end of input`}},
		{"trailing comma", "a equals 1,", Error{11, `expected a field name after ",", found end of input`}},
		{"double and", "a equals 1 and and b equals 2", Error{15, `expected a field name after "and", found "and"`}},
		{"field is and", "and equals 1", Error{0, `expected a field name, found "and"`}},
		{"field starts with digit", "1a equals 2", Error{0, `expected a field name, found "1a" (field names must start with a letter)`}},
		{"field starts with quote", `"a" equals 2`, Error{0, `expected a field name, found a quoted string`}},
		{"invalid character in field", "a=b equals 1", Error{1, `invalid character "=" in field name "a=b" (allowed are letters, digits, "_", "." and "-")`}},
		{"non-ASCII in field", "aé equals 1", Error{1, `invalid character "é" in field name "aé" (allowed are letters, digits, "_", "." and "-")`}},
		{"missing operator at end", "a equals 1, tags", Error{16, `expected an operator after field "tags", found end of input`}},
		{"missing operator before list", `tags ["a"]`, Error{5, `expected an operator after field "tags", found "["`}},
		{"missing operator before string", `tags 'a'`, Error{5, `expected an operator after field "tags", found a quoted string`}},
		{"operator is symbol", "a = b", Error{2, `expected an operator after field "a", found "=" (operators must start with a letter)`}},
		{"operator is and", "a and b equals 1", Error{2, `expected an operator after field "a", found "and"`}},
		{"invalid character in operator", "a eq=b", Error{4, `invalid character "=" in operator "eq=b" (allowed are letters, digits, "_", "." and "-")`}},
		{"missing value at end", "a equals", Error{8, `expected a value after operator "equals", found end of input`}},
		{"missing value before comma", "a equals , b equals 1", Error{9, `expected a value after operator "equals", found ","`}},
		{"missing value before and", "a equals and b equals 1", Error{9, `expected a value after operator "equals", found "and"`}},
		{"value is close bracket", "a equals ]", Error{9, `expected a value after operator "equals", found "]"`}},
		{"unterminated double-quoted string", `q equals "abc`, Error{9, "unterminated string: missing closing double quote"}},
		{"unterminated double-quoted string after escaped quote", `q equals "abc\"`, Error{9, "unterminated string: missing closing double quote"}},
		{"unterminated double-quoted string ending in backslash", `q equals "abc\`, Error{9, "unterminated string: missing closing double quote"}},
		{"unterminated single-quoted string", `q equals 'abc`, Error{9, "unterminated string: missing closing single quote"}},
		{"unterminated single-quoted string after escaped quote", `q equals 'abc\'`, Error{9, "unterminated string: missing closing single quote"}},
		{"unterminated single-quoted string ending in backslash", `q equals 'abc\`, Error{9, "unterminated string: missing closing single quote"}},
		{"unterminated string in list", `t anyOf ['a`, Error{9, "unterminated string: missing closing single quote"}},
		{"unterminated list", `t anyOf ["a", "b"`, Error{8, `unterminated list: missing closing "]"`}},
		{"unterminated list empty", `t anyOf [`, Error{8, `unterminated list: missing closing "]"`}},
		{"unterminated list after comma", `t anyOf [a,  `, Error{8, `unterminated list: missing closing "]"`}},
		{"nested list", `t anyOf ["a", ["b"]]`, Error{14, "nested lists are not allowed"}},
		{"nested list first", `t anyOf [[]]`, Error{9, "nested lists are not allowed"}},
		{"missing comma in list", `t anyOf ["a" "b"]`, Error{13, `expected "," or "]" in list, found a quoted string`}},
		{"missing comma in list bare", `t anyOf [a b]`, Error{11, `expected "," or "]" in list, found "b"`}},
		{"empty list item", `t anyOf [a,,b]`, Error{11, `expected a value in list, found ","`}},
		{"leading comma in list", `t anyOf [,a]`, Error{9, `expected a value in list, found ","`}},
		{"trailing comma in list", `t anyOf [a,]`, Error{11, `expected a value in list after ",", found "]"`}},
		{"bad escape double", `q equals "a\qb"`, Error{11, `invalid escape sequence \q in double-quoted string (allowed are \" \\ \/ \b \f \n \r \t and \uXXXX)`}},
		{"bad escape double control", "q equals \"a\\\x01\"", Error{11, `invalid escape sequence (backslash followed by "\x01") in double-quoted string (allowed are \" \\ \/ \b \f \n \r \t and \uXXXX)`}},
		{"bad unicode escape", `q equals "\u12g4"`, Error{10, `invalid escape sequence in string: \u must be followed by 4 hex digits`}},
		{"short unicode escape", `q equals "\u12"`, Error{10, `invalid escape sequence in string: \u must be followed by 4 hex digits`}},
		{"bad escape single", `q equals 'C:\path'`, Error{12, `invalid escape sequence \p in single-quoted string (allowed are \' and \\)`}},
		{"too long", strings.Repeat("a", maxLength+1), Error{4096, "filter is too long: 4097 bytes, the maximum is 4096"}},
		{"too long whitespace", strings.Repeat(" ", 10000), Error{4096, "filter is too long: 10000 bytes, the maximum is 4096"}},
		{"too many clauses", strings.Repeat("a equals 1 and ", maxClauses) + "a equals 1", Error{480, "too many clauses: the maximum is 32"}},
		{"too many list items", "t anyOf [" + strings.Repeat("x,", maxListItems) + "x]", Error{209, "too many list items: the maximum is 100"}},
		{"garbage between clauses", "a equals 1 foo b equals 2", Error{11, `expected "and" or "," between clauses, found "foo"`}},
		{"string between clauses", "a equals 'x' 'y'", Error{13, `expected "and" or "," between clauses, found a quoted string`}},
		{"close bracket between clauses", "a equals x]", Error{10, `expected "and" or "," between clauses, found "]"`}},
		{"list after value", "a equals x [y]", Error{11, `expected "and" or "," between clauses, found "["`}},
		{
			"long garbage is truncated", "a equals x " + strings.Repeat("y", 40),
			Error{11, `expected "and" or "," between clauses, found "` + strings.Repeat("y", 32) + `..."`},
		},
		{
			// 31 ASCII bytes then "é": truncation must not split the rune.
			"long multi-byte garbage is truncated at a rune boundary", "a equals x " + strings.Repeat("y", 31) + "éééé",
			Error{11, `expected "and" or "," between clauses, found "` + strings.Repeat("y", 31) + `..."`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want error", tt.in, got)
			}
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("Parse(%q) error %T %v, want *Error", tt.in, err, err)
			}
			if diff := cmp.Diff(tt.want, *perr); diff != "" {
				t.Errorf("Parse(%q) error mismatch (-want +got):\n%s", tt.in, diff)
			}
			if diff := cmp.Diff(Expr{}, got); diff != "" {
				t.Errorf("Parse(%q) returned non-empty Expr with error (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	_, err := Parse("a equals 1, tags")
	want := `invalid filter at position 16: expected an operator after field "tags", found end of input`
	if err == nil || err.Error() != want {
		t.Errorf("Parse error = %v, want %s", err, want)
	}
}

func TestCheck(t *testing.T) {
	spec := Spec{
		"tags":      Ops("contains", "anyOf"),
		"isNumeric": Ops("equals"),
		"query":     Ops("equals").Repeated(),
		"frozen":    Ops(),
	}
	tests := []struct {
		name string
		in   string
		spec Spec
		want *Error
	}{
		{"valid", `tags contains ["a"] and isNumeric equals true, query equals x`, spec, nil},
		{"empty filter", "", spec, nil},
		{"empty filter empty spec", "", Spec{}, nil},
		{
			"unknown field", "tags contains a, nope equals 1", spec,
			&Error{17, `unknown field "nope"; supported fields: frozen, isNumeric, query, tags`},
		},
		{
			"field is case-sensitive", "Tags contains a", spec,
			&Error{0, `unknown field "Tags"; supported fields: frozen, isNumeric, query, tags`},
		},
		{
			"unknown field with empty spec", "a equals b", Spec{},
			&Error{0, `unknown field "a"; supported fields: none`},
		},
		{
			"operator not allowed", "query equals x and isNumeric contains true", spec,
			&Error{29, `operator "contains" is not supported for field "isNumeric"; use equals`},
		},
		{
			"operator not allowed, several choices", "tags equals a", spec,
			&Error{5, `operator "equals" is not supported for field "tags"; use one of contains, anyOf`},
		},
		{
			"operator is case-sensitive", "tags Contains a", spec,
			&Error{5, `operator "Contains" is not supported for field "tags"; use one of contains, anyOf`},
		},
		{
			"field without operators", "frozen equals a", spec,
			&Error{7, `operator "equals" is not supported for field "frozen"; it supports no operators`},
		},
		{
			"first bad clause wins", "nope equals 1, tags equals a", spec,
			&Error{0, `unknown field "nope"; supported fields: frozen, isNumeric, query, tags`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			err = e.Check(tt.spec)
			var got *Error
			if err != nil && !errors.As(err, &got) {
				t.Fatalf("Check error %T %v, want *Error", err, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Check(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// result captures a helper's outcome for comparison.
type result struct {
	Val any
	Err *Error
}

func mk[T any](v T, err error) result {
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			panic("helper returned non-*Error: " + err.Error())
		}
		return result{Err: e}
	}
	return result{Val: v}
}

func TestValueHelpers(t *testing.T) {
	long := strings.Repeat("z", 40)
	tests := []struct {
		name string
		got  result
		want result
	}{
		{"AsString string", mk(str("x", 3).AsString()), result{Val: "x"}},
		{"AsString empty string", mk(str("", 3).AsString()), result{Val: ""}},
		{"AsString bool", mk(boolean(true, 3).AsString()), result{Err: &Error{3, "expected a string, found boolean true"}}},
		{"AsString list", mk(list(4, str("a", 5)).AsString()), result{Err: &Error{4, "expected a string, found a list"}}},
		{"AsString zero", mk(Value{}.AsString()), result{Err: &Error{0, "expected a string, found no value"}}},

		{"AsBool true", mk(boolean(true, 1).AsBool()), result{Val: true}},
		{"AsBool false", mk(boolean(false, 1).AsBool()), result{Val: false}},
		{"AsBool string TRUE", mk(str("TRUE", 1).AsBool()), result{Val: true}},
		{"AsBool string False", mk(str("False", 1).AsBool()), result{Val: false}},
		{"AsBool string other", mk(str("yes", 2).AsBool()), result{Err: &Error{2, `expected true or false, found string "yes"`}}},
		{"AsBool long string", mk(str(long, 2).AsBool()), result{Err: &Error{2, `expected true or false, found string "` + long[:32] + `..."`}}},
		{"AsBool list", mk(list(2).AsBool()), result{Err: &Error{2, "expected true or false, found a list"}}},

		{"AsStrings string", mk(str("a", 0).AsStrings()), result{Val: []string{"a"}}},
		{"AsStrings list", mk(list(0, str("a", 1), str("b", 5)).AsStrings()), result{Val: []string{"a", "b"}}},
		{"AsStrings empty list", mk(list(0).AsStrings()), result{Val: []string{}}},
		{"AsStrings bool", mk(boolean(false, 7).AsStrings()), result{Err: &Error{7, "expected a string or a list of strings, found boolean false"}}},
		{"AsStrings list with bool", mk(list(0, str("a", 1), boolean(true, 5)).AsStrings()), result{Err: &Error{5, "expected a string in list, found boolean true"}}},

		{"OneOf allowed", mk(str("b", 0).OneOf("a", "b")), result{Val: "b"}},
		{"OneOf case-sensitive", mk(str("B", 6).OneOf("a", "b")), result{Err: &Error{6, `must be one of a, b; found "B"`}}},
		{"OneOf not a string", mk(boolean(true, 6).OneOf("a", "b")), result{Err: &Error{6, "expected a string, found boolean true"}}},
		{"OneOf list", mk(list(6).OneOf("a")), result{Err: &Error{6, "expected a string, found a list"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestValueHelpersOnParsed checks that helper errors point into the input.
func TestValueHelpersOnParsed(t *testing.T) {
	in := `tags anyOf ["a", true], mode equals fast`
	e, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Clauses[0].Value.AsStrings()
	want := `invalid filter at position 17: expected a string in list, found boolean true`
	if err == nil || err.Error() != want {
		t.Errorf("AsStrings error = %v, want %s", err, want)
	}
	_, err = e.Clauses[1].Value.OneOf("slow", "medium")
	want = `invalid filter at position 36: must be one of slow, medium; found "fast"`
	if err == nil || err.Error() != want {
		t.Errorf("OneOf error = %v, want %s", err, want)
	}
}
