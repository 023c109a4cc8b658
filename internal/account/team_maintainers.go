package account

import (
	"context"
	"errors"

	"github.com/metricsd/metricsd/internal/core"
)

// Paging limits of a team's maintainer list.
const (
	DefaultTeamMaintainerLimit = 20
	MaxTeamMaintainerLimit     = 100
)

// ListTeamMaintainers returns one page of a team's maintainers and their
// number.
func (c *Teams) ListTeamMaintainers(ctx context.Context, teamKey string, page core.Page) ([]Member, int, error) {
	ms, total, err := c.store.ListTeamMaintainers(ctx, teamKey, page)
	if errors.Is(err, core.ErrNotFound) {
		return nil, 0, core.Errorf(core.KindNotFound, "unknown team %q", teamKey)
	}
	return ms, total, err
}
