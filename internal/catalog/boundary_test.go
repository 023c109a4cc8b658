package catalog

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/filter"
)

// TestFilterErrorsKeepPosition: list-filter errors are core.KindInvalid
// and still unwrap to the *filter.Error with its byte position.
func TestFilterErrorsKeepPosition(t *testing.T) {
	tests := []struct {
		name  string
		parse func(string) error
		in    string
		pos   int
		msg   string
	}{
		{"metric repeat", func(s string) error { _, err := ParseMetricQuery("", "", "", s); return err },
			"eventKind equals custom, eventKind equals click", 25, `field "eventKind" may appear only once`},
		{"metric value", func(s string) error { _, err := ParseMetricQuery("", "", "", s); return err },
			"isNumeric equals maybe", 17, "expected true or false, found string \"maybe\""},
		{"metric syntax", func(s string) error { _, err := ParseMetricQuery("", "", "", s); return err },
			`query equals "a\u0000"`, 15, `invalid escape sequence in string: \u0000 (NUL) is not allowed`},
		{"group repeat", func(s string) error { _, err := ParseGroupQuery("", "", "", s); return err },
			"kind equals funnel and kind equals standard", 23, `field "kind" may appear only once`},
		{"group value", func(s string) error { _, err := ParseGroupQuery("", "", "", s); return err },
			"kind equals nope", 12, "must be one of funnel, standard, guardrail; found \"nope\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.parse(tt.in)
			if k := core.KindOf(err); k != core.KindInvalid {
				t.Fatalf("error %v has kind %v, want KindInvalid", err, k)
			}
			var fe *filter.Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %v does not unwrap to a *filter.Error", err)
			}
			if fe.Pos != tt.pos || fe.Msg != tt.msg {
				t.Errorf("filter error at %d %q, want at %d %q", fe.Pos, fe.Msg, tt.pos, tt.msg)
			}
			if want := (&filter.Error{Pos: tt.pos, Msg: tt.msg}).Error(); err.Error() != want {
				t.Errorf("message %q, want %q", err.Error(), want)
			}
		})
	}
}

// TestLengthsCountCharacters: every name and description limit counts
// characters, not bytes.
func TestLengthsCountCharacters(t *testing.T) {
	at := func(n int) string { return strings.Repeat("é", n) } // 2 bytes each
	now := time.Now()
	if _, err := newMember(0, NewMemberForm{Email: "a@example.com", FirstName: at(256), LastName: at(256)}, now); err != nil {
		t.Errorf("member names of 256 two-byte characters: %v", err)
	}
	if _, err := newMember(0, NewMemberForm{Email: "a@example.com", FirstName: at(257)}, now); err == nil {
		t.Errorf("member firstName of 257 characters accepted")
	}
	if _, err := newMember(0, NewMemberForm{Email: "a@example.com", LastName: at(257)}, now); err == nil {
		t.Errorf("member lastName of 257 characters accepted")
	}
	if _, err := validateTeamName("name", at(256)); err != nil {
		t.Errorf("team name of 256 two-byte characters: %v", err)
	}
	if err := validateTeamDescription("description", at(4096)); err != nil {
		t.Errorf("team description of 4096 two-byte characters: %v", err)
	}
	if err := validateTeamDescription("description", at(4097)); err == nil {
		t.Errorf("team description of 4097 characters accepted")
	}
	team := &Team{Key: "t", Name: "T"}
	for _, c := range []struct {
		comment string
		ok      bool
	}{{at(1024), true}, {at(1025), false}} {
		body, _ := json.Marshal(map[string]any{"comment": c.comment, "instructions": []any{
			map[string]any{"kind": "updateDescription", "value": at(4096)},
		}})
		_, err := applyTeamBody(team, body)
		if (err == nil) != c.ok {
			t.Errorf("team patch comment of %d characters: %v", len([]rune(c.comment)), err)
		}
	}
	if err := validateEmail("email", strings.Repeat("é", 120)+"@example.com"); err != nil && strings.Contains(err.Error(), "at most") {
		t.Errorf("email of 132 characters refused for its length: %v", err)
	}
}
