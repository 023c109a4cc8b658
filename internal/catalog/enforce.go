package catalog

import (
	"context"
	"strings"

	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/patch"

	"github.com/metricsd/metricsd/internal/account"
	"github.com/metricsd/metricsd/internal/audit"
	"github.com/metricsd/metricsd/internal/core"
	"github.com/metricsd/metricsd/internal/experiment"
	"github.com/metricsd/metricsd/internal/resource"
	"github.com/metricsd/metricsd/internal/view"
)

// guarded is a Store whose write seam enforces access: the change a write
// returns names its actions and its target (with the tags before and
// after), and Enforce decides them inside the write's transaction, so a
// denied write rolls back whole. Services of other aggregates that go
// through the same seam are enforced alike, with the actions and resource
// their changes declare.
type guarded struct{ Store }

// Transact runs fn and enforces the change it returns.
func (g guarded) Transact(ctx context.Context, fn func(tx Tx) (*audit.Change, error)) error {
	return g.Store.Transact(ctx, func(tx Tx) (*audit.Change, error) {
		c, err := fn(tx)
		if err != nil || c == nil {
			return c, err
		}
		return c, Enforce(ctx, c)
	})
}

// TransactAccounts runs fn and enforces the change it returns.
func (g guarded) TransactAccounts(ctx context.Context, fn func(tx account.Tx) (*audit.Change, error)) error {
	return g.Transact(ctx, func(tx Tx) (*audit.Change, error) { return fn(tx) })
}

// TransactExperiments runs fn and enforces the change it returns.
func (g guarded) TransactExperiments(ctx context.Context, fn func(tx experiment.Tx) (*audit.Change, error)) error {
	return g.Transact(ctx, func(tx Tx) (*audit.Change, error) { return fn(tx.(experiment.Tx)) })
}

// TransactViews runs fn and enforces the change it returns.
func (g guarded) TransactViews(ctx context.Context, fn func(tx view.Tx) (*audit.Change, error)) error {
	return g.Transact(ctx, func(tx Tx) (*audit.Change, error) { return fn(tx) })
}

// Enforce returns a KindForbidden error naming the first of c's actions
// the principal in ctx may not take on c's target as it was before the
// change (Prior) and as it is after, or on any of the other resources the
// change acted on alike.
func Enforce(ctx context.Context, c *audit.Change) error {
	if core.PrincipalFrom(ctx).IsZero() {
		return nil
	}
	specs := []resource.Spec{c.Target.Spec}
	if c.Prior != nil {
		specs = append(specs, *c.Prior)
	}
	for _, o := range c.Target.Others {
		s, err := resource.Parse(o)
		if err != nil {
			return err
		}
		specs = append(specs, s)
	}
	for _, a := range c.Actions {
		if err := core.Authorize(ctx, a, specs...); err != nil {
			return err
		}
	}
	return nil
}

// enforceNoOp decides a patch that changes nothing, so that it answers as
// the change would have: each field the operations name (the first segment
// of their paths) maps to its action through table, which must be allowed
// on the resource.
func enforceNoOp(ctx context.Context, spec resource.Spec, ops []patch.Op, table map[string]action.Action, fallback action.Action) error {
	var fields []string
	for _, op := range ops {
		if op.Op == "test" {
			continue
		}
		f, _, _ := strings.Cut(strings.TrimPrefix(op.Path, "/"), "/")
		fields = append(fields, f)
	}
	for _, a := range action.ForFields(table, fallback, fields) {
		if err := core.Authorize(ctx, a, spec); err != nil {
			return err
		}
	}
	return nil
}
