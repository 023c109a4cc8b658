package filter

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCheckRepeats: a field may appear only once unless its Spec entry is
// Repeated; the error is an *Error at the repeated field.
func TestCheckRepeats(t *testing.T) {
	spec := Spec{
		"query": Ops("equals").Repeated(),
		"kind":  Ops("equals"),
	}
	tests := []struct {
		in   string
		want *Error
	}{
		{"query equals a, query equals b and query equals c", nil},
		{"kind equals a, query equals b", nil},
		{"kind equals a, kind equals b", &Error{15, `field "kind" may appear only once`}},
		{"query equals a and kind equals a and kind equals b", &Error{37, `field "kind" may appear only once`}},
		// An unknown field is reported before a repetition after it.
		{"kind equals a, nope equals 1, kind equals b", &Error{15, `unknown field "nope"; supported fields: kind, query`}},
	}
	for _, tt := range tests {
		e, err := Parse(tt.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.in, err)
		}
		err = e.Check(spec)
		var got *Error
		if err != nil && !errors.As(err, &got) {
			t.Fatalf("Check(%q) = %v, not an *Error", tt.in, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Check(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}

// TestParseRefusesUnstorableText: U+0000, raw or escaped, and invalid UTF-8
// are refused at their byte position; no store can compare with them (and
// SQLite would cut a LIKE pattern at the NUL).
func TestParseRefusesUnstorableText(t *testing.T) {
	tests := []struct {
		in   string
		want *Error
	}{
		{"query equals a\x00", &Error{14, "U+0000 (NUL) is not allowed in a filter"}},
		{"query equals 'a\x00'", &Error{15, "U+0000 (NUL) is not allowed in a filter"}},
		{`query equals "a\u0000"`, &Error{15, `invalid escape sequence in string: \u0000 (NUL) is not allowed`}},
		{`query equals ["x", "\u0000"]`, &Error{20, `invalid escape sequence in string: \u0000 (NUL) is not allowed`}},
		{`query equals "\ud800\u0000"`, &Error{20, `invalid escape sequence in string: \u0000 (NUL) is not allowed`}},
		{"query equals \"a\xff\"", &Error{15, "invalid UTF-8 in filter"}},
		{"query\xc3 equals a", &Error{5, "invalid UTF-8 in filter"}},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		var got *Error
		if err == nil || !errors.As(err, &got) {
			t.Fatalf("Parse(%q) = %v, want an *Error", tt.in, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
	for _, ok := range []string{`query equals "\\u0000"`, "query equals 'éè ✓'", `query equals "\u00e9"`} {
		if _, err := Parse(ok); err != nil {
			t.Errorf("Parse(%q): %v", ok, err)
		}
	}
}
