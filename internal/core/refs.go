package core

import (
	"fmt"
	"strings"
)

// MissingRefsError lists references to rows that do not exist.
type MissingRefsError struct {
	What string   // "member" or "team"
	Keys []string // the IDs or keys that name nothing
}

func (e *MissingRefsError) Error() string {
	return fmt.Sprintf("no %s %s", e.What, strings.Join(e.Keys, ", "))
}

// Is makes errors.Is(err, ErrReference) hold.
func (e *MissingRefsError) Is(target error) bool { return target == ErrReference }
