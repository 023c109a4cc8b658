package core

// Page bounds a list query.
type Page struct {
	Limit  int
	Offset int
}

// SortKey orders a list by one field.
type SortKey struct {
	Field string
	Desc  bool
}
