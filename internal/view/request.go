package view

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/patch"
)

// timeUnit is the precision times are stored with.
const timeUnit = time.Millisecond

// Limits of a view's fields and of one link request.
const (
	maxNameLen        = 256
	maxDescriptionLen = 4096
	maxTags           = 100
	// MaxLinkRefs bounds how many resources one link or unlink request
	// names.
	MaxLinkRefs = 1000
)

var tagPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]+$`)

// Post is the body of a create-view request (LaunchDarkly's ViewPost).
type Post struct {
	Key               string   `json:"key"`
	Name              string   `json:"name"`
	Description       string   `json:"description"`
	GenerateSDKKeys   bool     `json:"generateSdkKeys"`
	MaintainerID      string   `json:"maintainerId"`
	MaintainerTeamKey string   `json:"maintainerTeamKey"`
	Tags              []string `json:"tags"`
}

// Patch is the body of an update-view request (LaunchDarkly's ViewPatch):
// every present field replaces the stored value.
type Patch struct {
	Name              *string   `json:"name,omitempty"`
	Description       *string   `json:"description,omitempty"`
	GenerateSDKKeys   *bool     `json:"generateSdkKeys,omitempty"`
	MaintainerID      *string   `json:"maintainerId,omitempty"`
	MaintainerTeamKey *string   `json:"maintainerTeamKey,omitempty"`
	Tags              *[]string `json:"tags,omitempty"`
	Archived          *bool     `json:"archived,omitempty"`
}

// LinkRequest is the body of a link or unlink request (LaunchDarkly's
// ViewLinkRequest, one of keys, segmentIdentifiers or filter).
type LinkRequest struct {
	Keys               *[]string            `json:"keys,omitempty"`
	SegmentIdentifiers *[]SegmentIdentifier `json:"segmentIdentifiers,omitempty"`
	Filter             *string              `json:"filter,omitempty"`
	EnvironmentID      *string              `json:"environmentId,omitempty"`
	Comment            string               `json:"comment,omitempty"`
}

// SegmentIdentifier names a segment by environment ID and segment key.
type SegmentIdentifier struct {
	EnvironmentID string `json:"environmentId"`
	SegmentKey    string `json:"segmentKey"`
}

// DecodePost decodes and checks a create-view body.
func DecodePost(body []byte) (Post, error) {
	var in Post
	if err := decode(body, &in); err != nil {
		return in, err
	}
	_, err := in.fields()
	return in, err
}

// DecodePatch decodes an update-view body. A field set to null is refused:
// LaunchDarkly's ViewPatch has no nullable field.
func DecodePatch(body []byte) (Patch, error) {
	var in Patch
	if err := decode(body, &in); err != nil {
		return in, err
	}
	// Only the stored fields are missing to check the patch in full; a
	// base with a name and nothing else lets every rule of the patch's own
	// fields run.
	_, err := in.apply(Fields{Name: "x"})
	return in, err
}

// DecodeLink decodes a link or unlink body for resourceType typ and checks
// it.
func DecodeLink(body []byte, typ ResourceType) (LinkRequest, error) {
	var in LinkRequest
	if err := decode(body, &in); err != nil {
		return in, err
	}
	_, err := in.refs(typ)
	return in, err
}

// ParseResourceType checks the resourceType of a link path.
func ParseResourceType(s string) (ResourceType, error) {
	for _, t := range ResourceTypes {
		if string(t) == s {
			return t, nil
		}
	}
	return "", core.Errorf(core.KindInvalid, "resourceType %q is not supported; use flags, segments or metrics", s)
}

// decode decodes a JSON object strictly (unknown members, wrong types,
// trailing data and text no store can hold are refused) and refuses null
// members.
func decode(body []byte, v any) error {
	if err := patch.DecodeStrict(body, v); err != nil {
		return err
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		return core.Errorf(core.KindInvalid, "request body must be a JSON object")
	}
	for name, raw := range members {
		if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			return core.Errorf(core.KindInvalid, "%s must not be null", name)
		}
	}
	return nil
}

func invalid(format string, args ...any) error { return core.Errorf(core.KindInvalid, format, args...) }

// fields validates a create request and returns the view's fields.
func (in Post) fields() (Fields, error) {
	if err := core.ValidateKey("key", in.Key); err != nil {
		return Fields{}, err
	}
	f := Fields{
		Name: strings.TrimSpace(in.Name), Description: in.Description, Tags: in.Tags,
		GenerateSDKKeys: in.GenerateSDKKeys, MaintainerID: in.MaintainerID, MaintainerTeamKey: in.MaintainerTeamKey,
	}
	return f, f.validate()
}

// apply returns f with the patch's fields in place. Naming one kind of
// maintainer clears the other.
func (p Patch) apply(f Fields) (Fields, error) {
	out := f
	out.Tags = slices.Clone(f.Tags)
	if p.Name != nil {
		out.Name = strings.TrimSpace(*p.Name)
	}
	if p.Description != nil {
		out.Description = *p.Description
	}
	if p.GenerateSDKKeys != nil {
		out.GenerateSDKKeys = *p.GenerateSDKKeys
	}
	if p.Tags != nil {
		out.Tags = *p.Tags
	}
	if p.Archived != nil {
		out.Archived = *p.Archived
	}
	if p.MaintainerID != nil && p.MaintainerTeamKey != nil && *p.MaintainerID != "" && *p.MaintainerTeamKey != "" {
		return out, invalid("name either maintainerId or maintainerTeamKey, not both")
	}
	if p.MaintainerID != nil {
		out.MaintainerID = *p.MaintainerID
		if *p.MaintainerID != "" {
			out.MaintainerTeamKey = ""
		}
	}
	if p.MaintainerTeamKey != nil {
		out.MaintainerTeamKey = *p.MaintainerTeamKey
		if *p.MaintainerTeamKey != "" {
			out.MaintainerID = ""
		}
	}
	return out, out.validate()
}

// validate checks what needs no other resource and normalises the tags
// (de-duplicated, never nil).
func (f *Fields) validate() error {
	if f.Name == "" {
		return invalid("name is required")
	}
	if utf8.RuneCountInString(f.Name) > maxNameLen {
		return invalid("name must be at most %d characters", maxNameLen)
	}
	if utf8.RuneCountInString(f.Description) > maxDescriptionLen {
		return invalid("description must be at most %d characters", maxDescriptionLen)
	}
	f.Tags = core.Dedupe(core.OrEmpty(f.Tags))
	if len(f.Tags) > maxTags {
		return invalid("tags must list at most %d tags", maxTags)
	}
	for i, t := range f.Tags {
		if len(t) > 64 || !tagPattern.MatchString(t) {
			return invalid("tags[%d] %q must be 1-64 letters, digits, '.', '_', ':' or '-'", i, t)
		}
	}
	if f.MaintainerID != "" && f.MaintainerTeamKey != "" {
		return invalid("name either maintainerId or maintainerTeamKey, not both")
	}
	if len(f.MaintainerID) > 256 {
		return invalid("maintainerId must be at most 256 characters")
	}
	if f.MaintainerTeamKey != "" {
		if err := core.ValidateKey("maintainerTeamKey", f.MaintainerTeamKey); err != nil {
			return err
		}
	}
	return nil
}

// refs checks a link request for resourceType typ and returns the
// resources it names, each once, in request order.
func (in LinkRequest) refs(typ ResourceType) ([]Ref, error) {
	if in.Filter != nil {
		switch typ {
		case Metrics:
			return nil, invalid("filter is not supported for metrics: link metrics by key")
		default:
			return nil, invalid("filter is not supported for %s: metricsd does not manage %s, link them by key", typ, typ)
		}
	}
	if in.EnvironmentID != nil {
		return nil, invalid("environmentId applies only with filter, which metricsd does not support")
	}
	if utf8.RuneCountInString(in.Comment) > maxDescriptionLen {
		return nil, invalid("comment must be at most %d characters", maxDescriptionLen)
	}
	var refs []Ref
	switch {
	case in.Keys != nil && in.SegmentIdentifiers != nil:
		return nil, invalid("name the resources with either keys or segmentIdentifiers, not both")
	case in.SegmentIdentifiers != nil:
		if typ != Segments {
			return nil, invalid("segmentIdentifiers applies to segments only; name %s with keys", typ)
		}
		for i, s := range *in.SegmentIdentifiers {
			if s.EnvironmentID == "" {
				return nil, invalid("segmentIdentifiers[%d].environmentId is required", i)
			}
			if len(s.EnvironmentID) > 256 {
				return nil, invalid("segmentIdentifiers[%d].environmentId must be at most 256 characters", i)
			}
			if err := core.ValidateKey("segmentIdentifiers["+itoa(i)+"].segmentKey", s.SegmentKey); err != nil {
				return nil, err
			}
			refs = append(refs, Ref{Key: s.SegmentKey, EnvironmentID: s.EnvironmentID})
		}
	case in.Keys != nil:
		for i, k := range *in.Keys {
			if err := core.ValidateKey("keys["+itoa(i)+"]", k); err != nil {
				return nil, err
			}
			refs = append(refs, Ref{Key: k})
		}
	default:
		if typ == Segments {
			return nil, invalid("keys or segmentIdentifiers is required")
		}
		return nil, invalid("keys is required")
	}
	if len(refs) == 0 {
		return nil, invalid("name at least one resource to link or unlink")
	}
	if len(refs) > MaxLinkRefs {
		return nil, invalid("name at most %d resources in one request", MaxLinkRefs)
	}
	return dedupeRefs(refs), nil
}

func dedupeRefs(refs []Ref) []Ref {
	seen := make(map[Ref]bool, len(refs))
	out := refs[:0:0]
	for _, r := range refs {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }
