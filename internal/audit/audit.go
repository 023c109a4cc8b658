// Package audit records every change of every resource: who made it, with
// which token, what it acted on, and the resource before and after. The
// write seam in the store records the Change a service returns in the same
// transaction as the change itself, so an entry exists exactly when its
// change was committed.
package audit

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/resource"
)

// Target names the resource a change acted on.
type Target struct {
	// Kind is LaunchDarkly's entry kind: project, environment, metric,
	// metric-group, member or team.
	Kind string
	// Spec is the target's concrete resource specifier, with the
	// resource's tags on its last segment.
	Spec resource.Spec
	Name string
	// Others lists the specifiers of further resources the same write
	// acted on alike (members created together).
	Others []string
}

// Resource returns the target's specifier without tags, as entries show it:
// proj/default:metric/checkout.
func (t Target) Resource() string {
	s := resource.Spec{Segments: slices.Clone(t.Spec.Segments)}
	for i := range s.Segments {
		s.Segments[i].Tags = nil
	}
	return s.String()
}

// Change is what a service reports of one committed write.
type Change struct {
	Target  Target
	Parent  *Parent
	Actions []action.Action
	// Before and After are the resource's documents; nil on create and on
	// delete respectively.
	Before, After json.RawMessage
	// Delta is the request's JSON Patch or semantic-patch instructions,
	// when the change was a patch.
	Delta   json.RawMessage
	Comment string
	// Prior is the target's specifier before an update, with the tags it
	// had then; access checks the change against it as well as against
	// Target.Spec. Nil on creates and deletes.
	Prior *resource.Spec
}

// Parent names the resource a target lives in (a metric's project).
type Parent struct {
	Resource string
	Name     string
}

// Entry is one recorded change.
type Entry struct {
	ID        string
	Date      time.Time
	Principal core.Principal
	Change
	TitleVerb        string
	Description      string
	ShortDescription string
}

// Title is the one-line headline of the entry: who did what to which
// resource.
func (e *Entry) Title() string {
	return fmt.Sprintf("%s %s %s", e.Who(), e.TitleVerb, e.Target.Name)
}

// Who names the principal for a headline.
func (e *Entry) Who() string {
	p := e.Principal
	if n := strings.TrimSpace(p.FirstName + " " + p.LastName); n != "" {
		return n
	}
	if p.Email != "" {
		return p.Email
	}
	return "metricsd"
}

// NewEntry builds the entry for c made by the principal in ctx at now.
func NewEntry(ctx context.Context, c Change, now time.Time) Entry {
	e := Entry{ID: NewID(now), Date: now, Principal: core.PrincipalFrom(ctx), Change: c}
	e.TitleVerb, e.ShortDescription, e.Description = describe(c)
	return e
}

// IDFloor returns the smallest entry ID of millisecond ms: every entry
// recorded at ms or later has an ID at least this.
func IDFloor(ms int64) string {
	var b [12]byte
	binary.BigEndian.PutUint64(b[:8], uint64(ms)<<16)
	return hex.EncodeToString(b[:])
}

// NewID returns a 24-hex-digit entry ID whose first 12 digits are the
// millisecond time, so that IDs sort by time.
func NewID(now time.Time) string {
	var b [12]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	_, _ = rand.Read(b[6:])
	return hex.EncodeToString(b[:])
}

// IDs hands out entry IDs like NewID's whose next four digits count the
// IDs it gave for the same millisecond, so that the entries one process
// records within a millisecond list in the order they were made (after
// the millisecond, the listing order). When the clock steps back, or past
// 65,535 entries in a millisecond, it gives NewID's random IDs.
type IDs struct {
	mu  sync.Mutex
	ms  int64
	seq uint16
}

// Next returns the ID of an entry made at now.
func (s *IDs) Next(now time.Time) string {
	ms := now.UnixMilli()
	s.mu.Lock()
	ok := true
	switch {
	case ms > s.ms:
		s.ms, s.seq = ms, 0
	case ms == s.ms && s.seq < math.MaxUint16:
		s.seq++
	default:
		ok = false
	}
	seq := s.seq
	s.mu.Unlock()
	if !ok {
		return NewID(now)
	}
	var b [12]byte
	binary.BigEndian.PutUint64(b[:8], uint64(ms)<<16|uint64(seq))
	_, _ = rand.Read(b[8:])
	return hex.EncodeToString(b[:])
}

// kindNoun is how headlines name each entry kind.
var kindNoun = map[string]string{
	"project": "the project", "environment": "the environment", "metric": "the metric",
	"metric-group": "the metric group", "member": "the member", "team": "the team",
	"experiment": "the experiment", "measured-rollout": "the guarded rollout",
	"view": "the view",
}

func describe(c Change) (verb, short, long string) {
	noun := kindNoun[c.Target.Kind]
	if noun == "" {
		noun = "the " + c.Target.Kind
	}
	switch {
	case c.Before == nil:
		verb = "created " + noun
	case c.After == nil:
		verb = "deleted " + noun
	default:
		verb = "updated " + noun
	}
	var lines []string
	for _, a := range c.Actions {
		lines = append(lines, "- "+actionPhrase(a))
	}
	short = strings.TrimPrefix(strings.Join(lines, "; "), "- ")
	short = strings.ReplaceAll(short, "; - ", "; ")
	long = strings.Join(lines, "\n")
	if c.Comment != "" {
		long += "\n\n" + c.Comment
	}
	return verb, short, long
}

// actionPhrase turns an action name into words: updateEventKey → "Updated
// event key".
func actionPhrase(a action.Action) string {
	s := string(a)
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte(' ')
			b.WriteRune(r + ('a' - 'A'))
			continue
		}
		if i == 0 {
			r -= 'a' - 'A'
		}
		b.WriteRune(r)
	}
	w := b.String()
	for verb, past := range map[string]string{"Create ": "Created ", "Update ": "Updated ", "Delete ": "Deleted "} {
		if strings.HasPrefix(w, verb) {
			return past + strings.TrimPrefix(w, verb)
		}
	}
	return w
}

// Query selects entries, newest first.
type Query struct {
	// Before and After bound the entry date, exclusive, in epoch ms; zero
	// means unbounded. BeforeID continues a page inside one millisecond:
	// with it, Before is inclusive and only entries of that millisecond
	// with smaller IDs count.
	Before, After int64
	BeforeID      string
	// Q matches entries whose target name or key contains it, ignoring
	// case.
	Q string
	// Spec, when set, selects entries whose target it matches.
	Spec  *resource.Spec
	Limit int
}
