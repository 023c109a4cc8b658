package core

import "context"

// KindPrecondition means a conditional write found the resource changed
// since the representation its precondition (HTTP If-Match) was taken
// from. The write changed nothing. (A value of its own, away from the
// list above, so that kinds added there do not collide with it.)
const KindPrecondition ErrorKind = 20

type ifMatchKey struct{}

// WithIfMatch returns a context that makes a conditional write of one
// resource proceed only when the resource's current version token (see
// CheckIfMatch) is one of tokens; "*" matches any existing resource.
func WithIfMatch(ctx context.Context, tokens []string) context.Context {
	return context.WithValue(ctx, ifMatchKey{}, tokens)
}

// CheckIfMatch is called by a write with the version token of the resource
// it has just read (locked) inside its transaction. It returns a
// KindPrecondition error when ctx carries If-Match tokens and none matches
// current, and nil otherwise.
func CheckIfMatch(ctx context.Context, current string) error {
	tokens, ok := ctx.Value(ifMatchKey{}).([]string)
	if !ok {
		return nil
	}
	for _, t := range tokens {
		if t == "*" || t == current {
			return nil
		}
	}
	return Errorf(KindPrecondition, "the resource has changed since the representation If-Match names; fetch it again and retry")
}
