package core

import "regexp"

// keyPattern is what every resource key looks like, as in LaunchDarkly.
var keyPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// maxKeyLength bounds a resource key, in bytes (keys are ASCII).
const maxKeyLength = 256

// ValidateKey checks a resource key; field names it in the message.
func ValidateKey(field, key string) error {
	switch {
	case key == "":
		return FieldErrorf(KindInvalid, field, "%s is required", field)
	case len(key) > maxKeyLength:
		return FieldErrorf(KindInvalid, field, "%s must be at most %d characters", field, maxKeyLength)
	case !keyPattern.MatchString(key):
		return FieldErrorf(KindInvalid, field, "%s %q must start with a letter or digit and contain only letters, digits, '.', '_' and '-'", field, key)
	}
	return nil
}

// Dedupe returns in without repeated values, in first-seen order.
func Dedupe(in []string) []string {
	out := make([]string, 0, len(in))
	seen := make(map[string]bool, len(in))
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// OrEmpty returns s, or an empty non-nil slice for nil, so that lists
// render as [] rather than null.
func OrEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
