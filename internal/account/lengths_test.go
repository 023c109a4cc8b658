package account

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

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
