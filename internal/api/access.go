package api

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/metricsd/metricsd/internal/access"
	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/resource"
)

// Reads are authorized here, by route pattern, before the handler runs;
// writes are authorized in the services' write seam, where the change's
// actions and its resource before and after are known (catalog.Enforce).
// Both call the same evaluator as _access.

// readRule returns the action and resource a read of the route pattern
// needs, and false for reads the services filter themselves (the project
// list, tokens) or that need nothing (caller-identity). Every route under
// a project — those of other resources added later included — needs
// viewProject on it.
func readRule(ctx context.Context, pattern string, r *http.Request) (action.Action, resource.Spec, bool) {
	if strings.Contains(pattern, "{projectKey}") {
		return action.ViewProject, resource.Project(r.PathValue("projectKey")), true
	}
	one := func(k resource.Kind, name string) resource.Spec {
		return resource.Spec{Segments: []resource.Segment{{Kind: k, Name: name}}}
	}
	switch {
	case pattern == membersPath:
		return action.ViewMember, one(resource.KindMember, "*"), true
	case strings.HasPrefix(pattern, membersPath+"/{id}"):
		id := r.PathValue("id")
		if p := core.PrincipalFrom(ctx); id == "me" || id == p.MemberID {
			return "", resource.Spec{}, false // everybody may see themselves
		}
		return action.ViewMember, resource.Member(id), true
	case pattern == teamsPath:
		return action.ViewTeam, one(resource.KindTeam, "*"), true
	case strings.HasPrefix(pattern, teamsPath+"/{teamKey}"):
		return action.ViewTeam, resource.Team(r.PathValue("teamKey")), true
	case pattern == rolesPath:
		return action.ViewRole, one(resource.KindRole, "*"), true
	case strings.HasPrefix(pattern, rolesPath+"/{customRoleKey}"):
		return action.ViewRole, one(resource.KindRole, r.PathValue("customRoleKey")), true
	case strings.HasPrefix(pattern, auditPath):
		return action.ViewAuditLog, resource.Spec{Segments: []resource.Segment{{Kind: "acct"}}}, true
	}
	return "", resource.Spec{}, false
}

// authorizeRead enforces the read rule of a GET or HEAD of the route.
func authorizeRead(pattern string, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return nil
	}
	a, spec, ok := readRule(r.Context(), pattern, r)
	if !ok {
		return nil
	}
	return core.Authorize(r.Context(), a, spec)
}

// accessRep is LaunchDarkly's Access: the actions the caller may and may
// not take on one resource, each with the statement that decided it. It is
// encoded once per distinct outcome in a response (the items of a page
// mostly share theirs), so MarshalJSON returns the stored bytes.
type accessRep struct {
	raw []byte
}

// appendMember appends the object JSON of a representation, with
// "_access" as its last member when acc is set. The _access bytes are
// spliced in as they are: passing them through encoding/json would check
// and compact them again for every item of a page.
func appendMember(buf *bytes.Buffer, enc *json.Encoder, v any, acc *accessRep) error {
	start := buf.Len()
	if err := enc.Encode(v); err != nil {
		return err
	}
	b := bytes.TrimRight(buf.Bytes()[start:], "\n")
	buf.Truncate(start + len(b))
	if acc == nil {
		return nil
	}
	if len(b) < 2 || b[len(b)-1] != '}' {
		return errors.New("api: a representation with _access must be a JSON object")
	}
	buf.Truncate(buf.Len() - 1)
	if len(b) > 2 {
		buf.WriteByte(',')
	}
	buf.WriteString(`"_access":`)
	buf.Write(acc.raw)
	buf.WriteByte('}')
	return nil
}

func newEncoder(buf *bytes.Buffer) *json.Encoder {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	return enc
}

// writeListWithAccess writes a collection {"items", "_links",
// "totalCount"} whose item i has the _access acc[i].
func writeListWithAccess[T any](w http.ResponseWriter, items []T, acc []*accessRep, l links, total int) error {
	body, err := encodeListWithAccess(items, acc, l, total)
	if err != nil {
		return err
	}
	writeBody(w, body)
	return nil
}

// encodeListWithAccess encodes what writeListWithAccess writes.
func encodeListWithAccess[T any](items []T, acc []*accessRep, l links, total int) ([]byte, error) {
	var buf bytes.Buffer
	// Room for the first item (a guess); the first item then tells the
	// size of the others.
	size := 2048
	if len(acc) > 0 && acc[0] != nil {
		size += len(acc[0].raw) + 16
	}
	buf.Grow(size)
	enc := newEncoder(&buf)
	buf.WriteString(`{"items":[`)
	for i := range items {
		if i > 0 {
			buf.WriteByte(',')
		}
		start := buf.Len()
		if err := appendMember(&buf, enc, items[i], acc[i]); err != nil {
			return nil, err
		}
		if i == 0 {
			// Grow once for the rest rather than doubling as they come.
			buf.Grow((len(items)-1)*(buf.Len()-start+1) + 512)
		}
	}
	buf.WriteString(`],"_links":`)
	if err := appendMember(&buf, enc, l, nil); err != nil {
		return nil, err
	}
	buf.WriteString(`,"totalCount":`)
	buf.WriteString(strconv.Itoa(total))
	buf.WriteString("}\n")
	return buf.Bytes(), nil
}

// writeBody writes an encoded JSON body of status 200 with its length
// known up front: without it a body over net/http's 2 KB buffer goes out
// chunked, in more writes.
func writeBody(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// accessReasonRep is the deciding statement. An action no statement
// allows is denied with a reason of effect "deny" and nothing else.
type accessReasonRep struct {
	Effect       string   `json:"effect"`
	Resources    []string `json:"resources,omitempty"`
	NotResources []string `json:"notResources,omitempty"`
	Actions      []string `json:"actions,omitempty"`
	NotActions   []string `json:"notActions,omitempty"`
	RoleName     string   `json:"role_name,omitempty"`
}

// accessRenderer renders _access for the resources of one response with
// one principal's grant, encoding each deciding statement and each
// distinct outcome once.
type accessRenderer struct {
	grant    access.Grant
	system   bool
	reasons  map[*access.Statement]int
	encoded  [][]byte // reason JSON by index; 0 is "no statement allowed it"
	outcomes map[string]*accessRep
	key      []byte
	// memo, when set, remembers encoded _access across responses.
	memo *accessMemo
	// actions and actionsKey: the last action list rendered and its
	// encoding in memo keys.
	actions    []action.Action
	actionsKey string
}

// newAccessRenderer returns the renderer of the principal in ctx; memo
// may be nil.
func newAccessRenderer(ctx context.Context, memo *accessMemo) *accessRenderer {
	p := core.PrincipalFrom(ctx)
	return &accessRenderer{grant: p.Grant, system: p.IsZero(), reasons: map[*access.Statement]int{},
		encoded: [][]byte{[]byte(deniedReason)}, outcomes: map[string]*accessRep{}, memo: memo}
}

// render returns the _access of resource r for actions, decided by the
// evaluator that enforcement uses (access.Grant, as core.Authorize), or
// nil for a request without a principal. With a memo, an outcome already
// encoded for a resource of the same access.Grant.ReportKey — by any
// response, for any principal whose grant has the same policies — is
// returned as it is.
func (a *accessRenderer) render(r resource.Spec, actions []action.Action) *accessRep {
	if a.system {
		return nil
	}
	if a.memo == nil {
		return a.renderReport(r, actions)
	}
	if !slices.Equal(actions, a.actions) {
		a.actions = actions
		a.actionsKey = strings.Join(slices.Collect(func(yield func(string) bool) {
			for _, x := range actions {
				if !yield(string(x)) {
					return
				}
			}
		}), ",")
	}
	k := a.actionsKey + "|" + a.grant.ReportKey(r)
	if out := a.memo.get(k); out != nil {
		return out
	}
	out := a.renderReport(r, actions)
	a.memo.put(k, out)
	return out
}

// renderReport is render without the memo.
func (a *accessRenderer) renderReport(r resource.Spec, actions []action.Action) *accessRep {
	rep := a.grant.Report(r, actions)
	// The outcome's key: for each action in order, allowed or not and the
	// index of its reason.
	a.key = a.key[:0]
	idx := make([]int, 0, len(actions))
	for _, list := range [][]access.Entry{rep.Denied, rep.Allowed} {
		a.key = append(a.key, '|')
		for _, e := range list {
			i := a.reason(e.Statement)
			idx = append(idx, i)
			a.key = append(a.key, e.Action...)
			a.key = append(a.key, ':')
			a.key = binary.AppendUvarint(a.key, uint64(i))
		}
	}
	if out, ok := a.outcomes[string(a.key)]; ok {
		return out
	}
	// Written by hand from the encoded reasons: json.Marshal would check
	// and compact each of them again.
	raw := make([]byte, 0, 64*len(idx))
	raw = append(raw, `{"denied":[`...)
	raw = a.appendEntries(raw, rep.Denied, idx[:len(rep.Denied)])
	raw = append(raw, `],"allowed":[`...)
	raw = a.appendEntries(raw, rep.Allowed, idx[len(rep.Denied):])
	raw = append(raw, "]}"...)
	out := &accessRep{raw: raw}
	a.outcomes[string(a.key)] = out
	return out
}

// appendEntries appends {"action":…,"reason":…} for each entry, whose
// reason is a.encoded[idx[i]].
func (a *accessRenderer) appendEntries(raw []byte, es []access.Entry, idx []int) []byte {
	for i, e := range es {
		if i > 0 {
			raw = append(raw, ',')
		}
		raw = append(raw, `{"action":`...)
		name, _ := json.Marshal(string(e.Action))
		raw = append(raw, name...)
		raw = append(raw, `,"reason":`...)
		raw = append(raw, a.encoded[idx[i]]...)
		raw = append(raw, '}')
	}
	return raw
}

// deniedReason is the reason of an action no statement allows.
const deniedReason = `{"effect":"deny"}`

// reason returns the index of the encoded reason of statement s.
func (a *accessRenderer) reason(s *access.Statement) int {
	if s == nil {
		return 0
	}
	if i, ok := a.reasons[s]; ok {
		return i
	}
	raw, _ := json.Marshal(accessReasonRep{Effect: string(s.Effect), Resources: s.Resources, NotResources: s.NotResources,
		Actions: s.Actions, NotActions: s.NotActions, RoleName: s.RoleName})
	a.encoded = append(a.encoded, raw)
	a.reasons[s] = len(a.encoded) - 1
	return len(a.encoded) - 1
}

// accessMemo remembers encoded _access by action list and
// access.Grant.ReportKey, across responses and principals. An entry never
// goes stale: the key holds the fingerprint of the policies that decided
// it (a changed role makes a new grant with another key), and the
// resource's name and tags wherever those policies look at them. It is
// bounded in entries and bytes, and emptied when full.
type accessMemo struct {
	mu    sync.RWMutex
	m     map[string]*accessRep
	bytes int
}

// Bounds of the _access memo: about 2.5 KB an entry for a metric's 22
// actions.
const (
	maxAccessMemoEntries = 4096
	maxAccessMemoBytes   = 8 << 20
)

func newAccessMemo() *accessMemo { return &accessMemo{m: map[string]*accessRep{}} }

func (m *accessMemo) get(k string) *accessRep {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.m[k]
}

func (m *accessMemo) put(k string, v *accessRep) {
	size := len(k) + len(v.raw)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.m[k]; ok {
		return
	}
	if len(m.m) >= maxAccessMemoEntries || m.bytes+size > maxAccessMemoBytes {
		clear(m.m)
		m.bytes = 0
	}
	m.m[k] = v
	m.bytes += size
}
