package catalog

// AccountStore persists members and teams beyond what authentication needs.
type AccountStore interface {
}
