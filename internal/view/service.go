package view

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/audit"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/resource"
)

// Service serves views.
type Service struct {
	store Store
	now   core.Clock
}

// NewService returns the view service over s.
func NewService(s Store, now core.Clock) *Service { return &Service{store: s, now: now} }

// Create validates and stores a new view. The maintainer defaults to the
// acting member when the request names neither a member nor a team.
func (s *Service) Create(ctx context.Context, projectKey string, in Post) (*View, error) {
	f, err := in.fields()
	if err != nil {
		return nil, err
	}
	if p := core.PrincipalFrom(ctx); f.MaintainerID == "" && f.MaintainerTeamKey == "" && p.MemberID != "" {
		f.MaintainerID = p.MemberID
	}
	var out *View
	err = s.store.TransactViews(ctx, func(tx Tx) (*audit.Change, error) {
		p, err := projectIn(ctx, tx, projectKey)
		if err != nil {
			return nil, err
		}
		now := s.now().UTC().Truncate(timeUnit)
		v := &View{ID: uuid.NewString(), ProjectID: p.ID, ProjectKey: p.Key, Key: in.Key, Fields: f, Version: 1, CreatedAt: now, UpdatedAt: now}
		if f.Archived {
			v.ArchivedAt = &now
		}
		if err := tx.CreateView(ctx, v); err != nil {
			if errors.Is(err, core.ErrDuplicate) {
				return nil, core.Errorf(core.KindConflict, "a view with key %q already exists in project %q", in.Key, p.Key)
			}
			return nil, maintainerError(err)
		}
		if out, err = tx.ViewForUpdate(ctx, p.ID, v.Key); err != nil {
			return nil, err
		}
		return change(p, nil, out, nil, document(out, links{}), nil, []action.Action{action.CreateView}, ""), nil
	})
	return out, err
}

// Get returns a view; with expand allMetrics also its linked metrics (at
// most MaxLinkedMetrics of them).
func (s *Service) Get(ctx context.Context, projectKey, key string, expand ExpandSet) (*View, []LinkedMetric, error) {
	p, err := s.project(ctx, projectKey)
	if err != nil {
		return nil, nil, err
	}
	limit := 0
	if expand[ExpandAllMetrics] {
		limit = MaxLinkedMetrics
	}
	v, ms, err := s.store.GetView(ctx, p.ID, key, limit)
	if errors.Is(err, core.ErrNotFound) {
		return nil, nil, notFound(p.Key, key)
	}
	return v, ms, err
}

// List returns a page of a project's views and how many match q.
func (s *Service) List(ctx context.Context, projectKey string, q Query) ([]View, int, error) {
	p, err := s.project(ctx, projectKey)
	if err != nil {
		return nil, 0, err
	}
	return s.store.ListViews(ctx, p.ID, q)
}

// Associations returns a page of the views of a project that a resource
// is linked to, in key order. A metric is named by key; a segment by key and
// environment ID, or by the ID it was linked with when envID is empty.
// Resources nothing links to, known or not, have no views.
func (s *Service) Associations(ctx context.Context, projectKey string, typ ResourceType, key, envID string, page core.Page) ([]View, int, error) {
	if err := core.ValidateKey("resourceKey", key); err != nil {
		return nil, 0, err
	}
	if envID != "" && typ != Segments {
		return nil, 0, invalid("environmentId applies to segments only")
	}
	if len(envID) > 256 {
		return nil, 0, invalid("environmentId must be at most 256 characters")
	}
	return s.List(ctx, projectKey, Query{Page: page, LinkedTo: &Linked{Type: typ, Ref: Ref{Key: key, EnvironmentID: envID}}})
}

// Update applies a patch: each present field replaces the stored one. A
// patch that changes nothing stores and records nothing.
func (s *Service) Update(ctx context.Context, projectKey, key string, in Patch) (*View, error) {
	var out *View
	err := s.store.TransactViews(ctx, func(tx Tx) (*audit.Change, error) {
		p, v, err := viewIn(ctx, tx, projectKey, key)
		if err != nil {
			return nil, err
		}
		if err := core.CheckIfMatch(ctx, v.VersionToken()); err != nil {
			return nil, err
		}
		f, err := in.apply(v.Fields)
		if err != nil {
			return nil, err
		}
		if equalFields(f, v.Fields) {
			out = v
			return nil, nil
		}
		before, err := viewLinks(ctx, tx, v)
		if err != nil {
			return nil, err
		}
		next := *v
		next.Fields = f
		next.Version = v.Version + 1
		next.UpdatedAt = s.now().UTC().Truncate(timeUnit)
		switch {
		case f.Archived && !v.Archived:
			next.ArchivedAt = &next.UpdatedAt
		case !f.Archived:
			next.ArchivedAt = nil
		}
		if err := tx.UpdateView(ctx, &next, v.Version); err != nil {
			return nil, maintainerError(err)
		}
		if out, err = tx.ViewForUpdate(ctx, p.ID, key); err != nil {
			return nil, err
		}
		delta, _ := json.Marshal(in)
		return change(p, v, out, document(v, before), document(out, before), delta, []action.Action{action.UpdateView}, ""), nil
	})
	return out, err
}

// Delete removes a view and its links; the linked resources stay.
func (s *Service) Delete(ctx context.Context, projectKey, key string) error {
	return s.store.TransactViews(ctx, func(tx Tx) (*audit.Change, error) {
		p, v, err := viewIn(ctx, tx, projectKey, key)
		if err != nil {
			return nil, err
		}
		if err := core.CheckIfMatch(ctx, v.VersionToken()); err != nil {
			return nil, err
		}
		before, err := viewLinks(ctx, tx, v)
		if err != nil {
			return nil, err
		}
		if err := tx.DeleteView(ctx, v.ID); err != nil {
			return nil, err
		}
		return change(p, v, nil, document(v, before), nil, nil, []action.Action{action.DeleteView}, ""), nil
	})
}

// LinkResult says what a link or unlink request did.
type LinkResult struct {
	// Count is the number of distinct resources the request named; after
	// it, each of them is linked (or unlinked). Nothing is done when any
	// of them is refused, so there are no partial failures.
	Count int
	// View is the view after the request.
	View *View
}

// Link links the resources a request names to a view. Metrics must exist
// in the view's project; flags and segments are stored as named. Linking
// a resource that is linked already keeps its first link.
func (s *Service) Link(ctx context.Context, projectKey, key string, typ ResourceType, in LinkRequest) (*LinkResult, error) {
	return s.relink(ctx, projectKey, key, typ, in, true)
}

// Unlink removes the links a request names; resources that were not linked
// are left alone. Metrics must still exist in the project.
func (s *Service) Unlink(ctx context.Context, projectKey, key string, typ ResourceType, in LinkRequest) (*LinkResult, error) {
	return s.relink(ctx, projectKey, key, typ, in, false)
}

func (s *Service) relink(ctx context.Context, projectKey, key string, typ ResourceType, in LinkRequest, link bool) (*LinkResult, error) {
	refs, err := in.refs(typ)
	if err != nil {
		return nil, err
	}
	res := &LinkResult{Count: len(refs)}
	err = s.store.TransactViews(ctx, func(tx Tx) (*audit.Change, error) {
		p, v, err := viewIn(ctx, tx, projectKey, key)
		if err != nil {
			return nil, err
		}
		metricIDs, err := resolveRefs(ctx, tx, p, typ, refs)
		if err != nil {
			return nil, err
		}
		before, err := viewLinks(ctx, tx, v)
		if err != nil {
			return nil, err
		}
		now := s.now().UTC().Truncate(timeUnit)
		if link {
			err = tx.Link(ctx, v.ID, typ, refs, metricIDs, now)
		} else {
			err = tx.Unlink(ctx, v.ID, typ, refs, metricIDs)
		}
		if err != nil {
			return nil, err
		}
		after, err := viewLinks(ctx, tx, v)
		if err != nil {
			return nil, err
		}
		if after.equal(before) {
			res.View = v
			return nil, nil
		}
		next := *v
		next.Version, next.UpdatedAt = v.Version+1, now
		if err := tx.UpdateView(ctx, &next, v.Version); err != nil {
			return nil, err
		}
		if res.View, err = tx.ViewForUpdate(ctx, p.ID, key); err != nil {
			return nil, err
		}
		delta, _ := json.Marshal(linkDelta{Op: map[bool]string{true: "link", false: "unlink"}[link], ResourceType: typ, Resources: refs})
		return change(p, v, res.View, document(v, before), document(res.View, after), delta, []action.Action{linkAction(typ, link)}, in.Comment), nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

type linkDelta struct {
	Op           string       `json:"op"`
	ResourceType ResourceType `json:"resourceType"`
	Resources    []Ref        `json:"resources"`
}

func linkAction(typ ResourceType, link bool) action.Action {
	switch {
	case typ == Flags && link:
		return action.LinkFlagToView
	case typ == Flags:
		return action.UnlinkFlagFromView
	case typ == Segments && link:
		return action.LinkSegmentToView
	case typ == Segments:
		return action.UnlinkSegmentFromView
	case link:
		return action.LinkMetricToView
	default:
		return action.UnlinkMetricFromView
	}
}

// resolveRefs checks the named resources inside the write: metrics must
// exist in the project (their IDs are returned, in the order of refs) and
// segment environments must be environments of the project.
func resolveRefs(ctx context.Context, tx Tx, p *Project, typ ResourceType, refs []Ref) ([]string, error) {
	switch typ {
	case Metrics:
		keys := make([]string, len(refs))
		for i, r := range refs {
			keys[i] = r.Key
		}
		ids, err := tx.MetricIDs(ctx, p.ID, keys)
		if err != nil {
			return nil, err
		}
		var missing []string
		out := make([]string, 0, len(keys))
		for _, k := range keys {
			id, ok := ids[k]
			if !ok {
				missing = append(missing, k)
				continue
			}
			out = append(out, id)
		}
		if len(missing) > 0 {
			return nil, core.Errorf(core.KindInvalid, "no metric %s in project %q", quoteList(missing), p.Key)
		}
		return out, nil
	case Segments:
		var envIDs []string
		for _, r := range refs {
			if r.EnvironmentID != "" && !slices.Contains(envIDs, r.EnvironmentID) {
				envIDs = append(envIDs, r.EnvironmentID)
			}
		}
		if len(envIDs) == 0 {
			return nil, nil
		}
		found, err := tx.EnvironmentIDs(ctx, p.ID, envIDs)
		if err != nil {
			return nil, err
		}
		var missing []string
		for _, id := range envIDs {
			if !found[id] {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			return nil, core.Errorf(core.KindInvalid, "no environment with ID %s in project %q", quoteList(missing), p.Key)
		}
	}
	return nil, nil
}

func quoteList(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = `"` + k + `"`
	}
	return strings.Join(q, ", ")
}

// links are the resources linked to a view, as its audit document lists
// them.
type links struct {
	Flags    []string `json:"flags"`
	Segments []Ref    `json:"segments"`
	Metrics  []string `json:"metrics"`
}

func (l links) equal(o links) bool {
	return slices.Equal(l.Flags, o.Flags) && slices.Equal(l.Segments, o.Segments) && slices.Equal(l.Metrics, o.Metrics)
}

func viewLinks(ctx context.Context, tx Tx, v *View) (links, error) {
	var l links
	var err error
	if l.Metrics, err = tx.ViewMetricKeys(ctx, v.ID); err != nil {
		return l, err
	}
	flags, err := tx.ViewRefs(ctx, v.ID, Flags)
	if err != nil {
		return l, err
	}
	l.Flags = make([]string, len(flags))
	for i, f := range flags {
		l.Flags[i] = f.Key
	}
	l.Segments, err = tx.ViewRefs(ctx, v.ID, Segments)
	return l, err
}

// MarshalJSON renders a Ref as the request names it: a key, or an
// environment ID and segment key.
func (r Ref) MarshalJSON() ([]byte, error) {
	if r.EnvironmentID == "" {
		return json.Marshal(r.Key)
	}
	return json.Marshal(SegmentIdentifier{EnvironmentID: r.EnvironmentID, SegmentKey: r.Key})
}

// doc is the document of a view the audit log keeps before and after each
// change: its identity, its fields and what is linked to it.
type doc struct {
	ID      string `json:"_id"`
	Key     string `json:"key"`
	Version int    `json:"_version"`
	Fields
	Links links `json:"links"`
}

func document(v *View, l links) json.RawMessage {
	f := v.Fields
	f.Tags = core.OrEmpty(f.Tags)
	l.Flags, l.Metrics = core.OrEmpty(l.Flags), core.OrEmpty(l.Metrics)
	if l.Segments == nil {
		l.Segments = []Ref{}
	}
	raw, err := json.Marshal(doc{ID: v.ID, Key: v.Key, Version: v.Version, Fields: f, Links: l})
	if err != nil {
		return nil
	}
	return raw
}

func change(p *Project, before, after *View, beforeDoc, afterDoc, delta json.RawMessage, actions []action.Action, comment string) *audit.Change {
	c := &audit.Change{
		Parent:  &audit.Parent{Resource: resource.Project(p.Key).String(), Name: p.Name},
		Actions: actions, Comment: comment, Delta: delta,
	}
	if before != nil {
		c.Target, c.Before = target(p.Key, before), beforeDoc
	}
	if after != nil {
		if before != nil {
			// Access is checked against the view as it was (its tags
			// then) as well as as it is.
			prior := c.Target.Spec
			c.Prior = &prior
		}
		c.Target, c.After = target(p.Key, after), afterDoc
	}
	return c
}

func target(projectKey string, v *View) audit.Target {
	return audit.Target{Kind: "view", Spec: resource.View(projectKey, v.Key, v.Tags), Name: v.Name}
}

func (s *Service) project(ctx context.Context, key string) (*Project, error) {
	p, err := s.store.ProjectForView(ctx, key)
	if errors.Is(err, core.ErrNotFound) {
		return nil, core.Errorf(core.KindNotFound, "unknown project %q", key)
	}
	return p, err
}

func projectIn(ctx context.Context, tx Tx, key string) (*Project, error) {
	p, err := tx.ProjectForView(ctx, key)
	if errors.Is(err, core.ErrNotFound) {
		return nil, core.Errorf(core.KindNotFound, "unknown project %q", key)
	}
	return p, err
}

func viewIn(ctx context.Context, tx Tx, projectKey, key string) (*Project, *View, error) {
	p, err := projectIn(ctx, tx, projectKey)
	if err != nil {
		return nil, nil, err
	}
	v, err := tx.ViewForUpdate(ctx, p.ID, key)
	if errors.Is(err, core.ErrNotFound) {
		return nil, nil, notFound(p.Key, key)
	}
	return p, v, err
}

func notFound(projectKey, key string) error {
	return core.Errorf(core.KindNotFound, "unknown view %q in project %q", key, projectKey)
}

func maintainerError(err error) error {
	var missing *core.MissingRefsError
	if errors.As(err, &missing) && len(missing.Keys) > 0 {
		if missing.What == "team" {
			return core.Errorf(core.KindInvalid, "maintainerTeamKey %q does not name a team", missing.Keys[0])
		}
		return core.Errorf(core.KindInvalid, "maintainerId %q does not name a member", missing.Keys[0])
	}
	return err
}

func equalFields(a, b Fields) bool {
	return a.Name == b.Name && a.Description == b.Description && slices.Equal(a.Tags, b.Tags) &&
		a.GenerateSDKKeys == b.GenerateSDKKeys && a.MaintainerID == b.MaintainerID &&
		a.MaintainerTeamKey == b.MaintainerTeamKey && a.Archived == b.Archived
}
