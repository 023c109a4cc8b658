package core

import (
	"fmt"
	"testing"
)

func TestKindOf(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want ErrorKind
	}{
		{Errorf(KindInvalid, "bad"), KindInvalid},
		{fmt.Errorf("wrapped: %w", Errorf(KindForbidden, "no")), KindForbidden},
		{fmt.Errorf("%w: FK violation 23503", ErrReference), KindConflict},
		{fmt.Errorf("%w: unique violation", ErrDuplicate), KindConflict},
		{ErrStale, KindConflict},
		{ErrInUse, KindConflict},
		{ErrNotFound, KindNotFound},
		{fmt.Errorf("disk on fire"), KindInternal},
	} {
		if got := KindOf(tt.err); got != tt.want {
			t.Errorf("KindOf(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestKindOfUnavailableAndUnstorable(t *testing.T) {
	if k := KindOf(fmt.Errorf("%w: unexpected EOF", ErrUnavailable)); k != KindUnavailable {
		t.Errorf("unavailable: %v", k)
	}
	if k := KindOf(fmt.Errorf("%w: 22021", ErrUnstorable)); k != KindInvalid {
		t.Errorf("unstorable: %v", k)
	}
}
