package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/audit"
	"github.com/metricsd/metricsd/internal/resource"

	"github.com/metricsd/metricsd/internal/core"
)

// ProjectPost is the body of a create-project request.
type ProjectPost struct {
	Key                           string                `json:"key"`
	Name                          string                `json:"name"`
	IncludeInSnippetByDefault     bool                  `json:"includeInSnippetByDefault"`
	DefaultClientSideAvailability *ClientSideAvailPost  `json:"defaultClientSideAvailability,omitempty"`
	Tags                          []string              `json:"tags"`
	Environments                  []EnvironmentPost     `json:"environments"`
	NamingConvention              *NamingConventionPost `json:"namingConvention,omitempty"`
}

// ClientSideAvailPost says which client-side keys new flags are exposed to.
type ClientSideAvailPost struct {
	UsingEnvironmentID bool `json:"usingEnvironmentId"`
	UsingMobileKey     bool `json:"usingMobileKey"`
}

// NamingConventionPost is accepted for compatibility; metricsd stores no flags
// and so has nothing to enforce it on. It is validated but not stored.
type NamingConventionPost struct {
	Case   string `json:"case,omitempty"`
	Prefix string `json:"prefix,omitempty"`
}

// EnvironmentPost describes an environment to create with a project.
type EnvironmentPost struct {
	Name               string   `json:"name"`
	Key                string   `json:"key"`
	Color              string   `json:"color"`
	DefaultTTL         int      `json:"defaultTtl"`
	SecureMode         bool     `json:"secureMode"`
	DefaultTrackEvents bool     `json:"defaultTrackEvents"`
	ConfirmChanges     bool     `json:"confirmChanges"`
	RequireComments    bool     `json:"requireComments"`
	Tags               []string `json:"tags"`
	Critical           bool     `json:"critical"`
}

var colorPattern = regexp.MustCompile(`^[0-9A-Fa-f]{6}$`)

func validateTags(field string, tags []string) error {
	for i, t := range tags {
		if len(t) > 64 || !tagPattern.MatchString(t) {
			return invalid("%s[%d] %q must be 1-64 letters, digits, '.', '_', ':' or '-'", field, i, t)
		}
	}
	return nil
}

// CreateProject creates a project with the given environments, or with
// "production" and "test" when none are given.
func (c *Projects) CreateProject(ctx context.Context, in ProjectPost) (*Project, []Environment, error) {
	if err := core.ValidateKey("key", in.Key); err != nil {
		return nil, nil, err
	}
	name := strings.TrimSpace(in.Name)
	if name == "" {
		return nil, nil, invalid("name is required")
	}
	if utf8.RuneCountInString(name) > 256 {
		return nil, nil, invalid("name must be at most 256 characters")
	}
	if err := validateTags("tags", in.Tags); err != nil {
		return nil, nil, err
	}
	if nc := in.NamingConvention; nc != nil && nc.Case != "" && !slices.Contains([]string{"camelCase", "upperCamelCase", "snakeCase", "kebabCase", "constantCase"}, nc.Case) {
		return nil, nil, invalid("namingConvention.case must be one of camelCase, upperCamelCase, snakeCase, kebabCase, constantCase")
	}
	now := c.now()
	p := &Project{
		ID: core.NewObjectID(), Key: in.Key, Name: name, Tags: core.Dedupe(core.OrEmpty(in.Tags)),
		IncludeInSnippetByDefault: in.IncludeInSnippetByDefault, UsingMobileKey: true, CreatedAt: now,
	}
	if cs := in.DefaultClientSideAvailability; cs != nil {
		p.UsingEnvironmentID, p.UsingMobileKey = cs.UsingEnvironmentID, cs.UsingMobileKey
	} else {
		p.UsingEnvironmentID = in.IncludeInSnippetByDefault
	}
	var envs []Environment
	if len(in.Environments) == 0 {
		envs = defaultEnvironments(p.ID, now)
	}
	seen := map[string]bool{}
	for i, e := range in.Environments {
		field := fmt.Sprintf("environments[%d]", i)
		if err := core.ValidateKey(field+".key", e.Key); err != nil {
			return nil, nil, err
		}
		if seen[e.Key] {
			return nil, nil, invalid("%s.key %q is listed twice", field, e.Key)
		}
		seen[e.Key] = true
		if strings.TrimSpace(e.Name) == "" {
			return nil, nil, invalid("%s.name is required", field)
		}
		if !colorPattern.MatchString(e.Color) {
			return nil, nil, invalid("%s.color must be six hexadecimal digits", field)
		}
		if e.DefaultTTL < 0 || e.DefaultTTL > 60 {
			return nil, nil, invalid("%s.defaultTtl must be between 0 and 60 minutes", field)
		}
		if err := validateTags(field+".tags", e.Tags); err != nil {
			return nil, nil, err
		}
		// Creation times keep the order the environments were given in.
		env := newEnvironment(p.ID, e.Key, strings.TrimSpace(e.Name), e.Color, e.Critical, now.Add(time.Duration(i)*time.Millisecond))
		env.DefaultTTL, env.SecureMode, env.DefaultTrackEvents = e.DefaultTTL, e.SecureMode, e.DefaultTrackEvents
		env.ConfirmChanges, env.RequireComments, env.Tags = e.ConfirmChanges, e.RequireComments, core.Dedupe(core.OrEmpty(e.Tags))
		envs = append(envs, env)
	}
	err := c.store.Transact(ctx, func(tx Tx) (*audit.Change, error) {
		if err := tx.CreateProject(ctx, p, envs); err != nil {
			return nil, err
		}
		return projectChange(nil, p, envs, action.CreateProject), nil
	})
	if errors.Is(err, core.ErrDuplicate) {
		return nil, nil, core.Errorf(core.KindConflict, "a project with key %q already exists", in.Key)
	}
	if err != nil {
		return nil, nil, err
	}
	return p, envs, nil
}

// projectDocument is the audit log's document of a project.
type projectDocument struct {
	ID           string   `json:"_id"`
	Key          string   `json:"key"`
	Name         string   `json:"name"`
	Tags         []string `json:"tags"`
	Environments []string `json:"environments"`
}

func projectSpec(p *Project) resource.Spec {
	s := resource.Project(p.Key)
	s.Segments[0].Tags = slices.Clone(p.Tags)
	slices.Sort(s.Segments[0].Tags)
	return s
}

func projectChange(before, after *Project, envs []Environment, a action.Action) *audit.Change {
	p := after
	if p == nil {
		p = before
	}
	doc := projectDocument{ID: p.ID, Key: p.Key, Name: p.Name, Tags: p.Tags, Environments: []string{}}
	for _, e := range envs {
		doc.Environments = append(doc.Environments, e.Key)
	}
	raw, _ := json.Marshal(doc)
	c := &audit.Change{
		Target:  audit.Target{Kind: "project", Spec: projectSpec(p), Name: p.Name},
		Actions: []action.Action{a},
	}
	if before != nil {
		c.Before = raw
	}
	if after != nil {
		c.After = raw
	}
	return c
}

// GetProject returns a project and its environments.
func (c *Projects) GetProject(ctx context.Context, key string) (*Project, []Environment, error) {
	p, err := projectByKey(ctx, c.store, key)
	if err != nil {
		return nil, nil, err
	}
	envs, err := c.store.ListEnvironments(ctx, p.ID)
	return p, envs, err
}

// DeleteProject removes a project with its environments and metrics.
func (c *Projects) DeleteProject(ctx context.Context, key string) error {
	var revoked []string
	err := c.store.Transact(ctx, func(tx Tx) (*audit.Change, error) {
		revoked = revoked[:0]
		p, err := projectIn(ctx, tx, key)
		if err != nil {
			return nil, err
		}
		envs, err := tx.Environments(ctx, p.ID)
		if err != nil {
			return nil, err
		}
		if err := tx.DeleteProject(ctx, key); err != nil {
			return nil, err
		}
		for _, e := range envs {
			revoked = append(revoked, e.APIKey, e.MobileKey, e.ID)
		}
		return projectChange(p, nil, envs, action.DeleteProject), nil
	})
	if err == nil {
		c.hooks.revoked(revoked...)
	}
	return err
}

// GetEnvironment returns one environment of a project.
func (c *Projects) GetEnvironment(ctx context.Context, projectKey, envKey string) (*Project, *Environment, error) {
	p, err := projectByKey(ctx, c.store, projectKey)
	if err != nil {
		return nil, nil, err
	}
	e, err := c.store.GetEnvironment(ctx, p.ID, envKey)
	if errors.Is(err, core.ErrNotFound) {
		return nil, nil, core.Errorf(core.KindNotFound, "unknown environment %q in project %q", envKey, projectKey)
	}
	return p, e, err
}
