package filter

import (
	"errors"
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"",
		"tags contains foo",
		`tags contains ["a","b"] and isNumeric equals true, query equals 'checkout'`,
		`query equals 'a and b' AND kind anyOf [gauge, 'counter', "histogram"]`,
		`q equals "a\"b\\c\n\u00e9\ud83d\ude00"`,
		`q equals 'it\'s \\ fine'`,
		"metric.name_v2 startsWith cpu.  ,  unit equals %",
		"t anyOf []",
		"a equals 1,,b equals 2",
		"a equals 1 and",
		`q equals "abc`,
		`t anyOf ["a", ["b"]]`,
		`q equals "a\qb"`,
		"a equals 1 foo b equals 2",
		"1a = b",
		"\t a\n equals\r\n'x'and b equals[c ,d]",
		"a eq\xffuals \xfe",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		e, err := Parse(in)
		if err != nil {
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("Parse(%q) error %T %v, want *Error", in, err, err)
			}
			if perr.Pos < 0 || perr.Pos > len(in) {
				t.Fatalf("Parse(%q) error position %d out of range [0, %d]: %v", in, perr.Pos, len(in), err)
			}
			if perr.Msg == "" {
				t.Fatalf("Parse(%q) error has empty message", in)
			}
			if len(e.Clauses) != 0 {
				t.Fatalf("Parse(%q) returned clauses with an error", in)
			}
			return
		}
		if strings.TrimSpace(in) == "" && len(e.Clauses) != 0 {
			t.Fatalf("Parse(%q) = %d clauses, want none", in, len(e.Clauses))
		}
		if len(e.Clauses) > maxClauses {
			t.Fatalf("Parse(%q) = %d clauses, more than %d", in, len(e.Clauses), maxClauses)
		}
		for i, c := range e.Clauses {
			if c.Field == "" || c.Op == "" {
				t.Fatalf("Parse(%q) clause %d has empty field or operator: %+v", in, i, c)
			}
			if c.FieldPos < 0 || c.FieldPos >= len(in) || !strings.HasPrefix(in[c.FieldPos:], c.Field) {
				t.Fatalf("Parse(%q) clause %d: field %q not at position %d", in, i, c.Field, c.FieldPos)
			}
			if c.OpPos <= c.FieldPos || c.OpPos >= len(in) || !strings.HasPrefix(in[c.OpPos:], c.Op) {
				t.Fatalf("Parse(%q) clause %d: operator %q not at position %d", in, i, c.Op, c.OpPos)
			}
			if i > 0 && c.FieldPos <= e.Clauses[i-1].Value.Pos {
				t.Fatalf("Parse(%q) clause %d starts before the previous clause's value", in, i)
			}
			checkValue(t, in, c.Value, c.OpPos+len(c.Op), true)
		}
		// Check must not panic, whatever the spec.
		_ = e.Check(Spec{"tags": Ops("contains")})
		_ = e.Check(nil)
	})
}

// checkValue verifies a parsed value's invariants; minPos is the smallest
// position the value may start at.
func checkValue(t *testing.T, in string, v Value, minPos int, top bool) {
	t.Helper()
	if v.Pos < minPos || v.Pos >= len(in) {
		t.Fatalf("Parse(%q): value position %d out of range [%d, %d)", in, v.Pos, minPos, len(in))
	}
	switch v.Kind {
	case String:
		switch in[v.Pos] {
		case '"', '\'':
		default:
			if !strings.HasPrefix(in[v.Pos:], v.Str) || v.Str == "" {
				t.Fatalf("Parse(%q): bare word %q not at position %d", in, v.Str, v.Pos)
			}
		}
	case Bool:
		if !strings.HasPrefix(in[v.Pos:], map[bool]string{true: "true", false: "false"}[v.Bool]) {
			t.Fatalf("Parse(%q): boolean %v not at position %d", in, v.Bool, v.Pos)
		}
	case List:
		if !top {
			t.Fatalf("Parse(%q): nested list at position %d", in, v.Pos)
		}
		if in[v.Pos] != '[' {
			t.Fatalf("Parse(%q): list at position %d does not start with '['", in, v.Pos)
		}
		if v.List == nil || len(v.List) > maxListItems {
			t.Fatalf("Parse(%q): list at %d has nil or too many items (%d)", in, v.Pos, len(v.List))
		}
		next := v.Pos + 1
		for _, it := range v.List {
			checkValue(t, in, it, next, false)
			next = it.Pos + 1
		}
	default:
		t.Fatalf("Parse(%q): value at %d has invalid kind %d", in, v.Pos, v.Kind)
	}
}
