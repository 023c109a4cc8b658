package catalog

import (
	"context"
	"errors"

	"github.com/metricsd/metricsd/internal/core"
)

// GenerationStore reads the generation of a project: a number every write
// that changes what the project's metrics or metric groups show increments
// in its own transaction (see the store's bumpGeneration). A
// representation computed after reading generation g is at least as new as
// every write that produced g, so it may be served again for as long as the
// generation still reads g.
type GenerationStore interface {
	ProjectGeneration(ctx context.Context, key string) (int64, error)
}

// Generations reads project generations for caches of representations.
type Generations struct {
	store GenerationStore
}

// Project returns the current generation of the project key.
func (g *Generations) Project(ctx context.Context, key string) (int64, error) {
	gen, err := g.store.ProjectGeneration(ctx, key)
	if errors.Is(err, core.ErrNotFound) {
		return 0, core.Errorf(core.KindNotFound, "unknown project %q", key)
	}
	return gen, err
}
