package catalog

// deriveGroupKey derives a metric group key from its (trimmed) name for a
// create that gives no key. Without a name the name is what is missing;
// a name without letters or digits cannot give a key, so one must be given.
func deriveGroupKey(name string) (string, error) {
	if name == "" {
		return "", groupInvalid("name", "name is required")
	}
	key := slugKey(name)
	if key == "" {
		return "", groupInvalid("key", "key is required when the name has no letters or digits")
	}
	return key, nil
}
