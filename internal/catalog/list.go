package catalog

// Paging limits of metric lists.
const (
	DefaultMetricLimit = 20
	MaxMetricLimit     = 50
)
