package patch

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
)

// Diff returns a JSON Patch that turns document a into document b. Objects
// are compared member by member, recursively, in sorted key order; any
// other changed value, arrays included, is replaced whole. Equal documents
// give an empty, non-nil patch.
func Diff(a, b json.RawMessage) ([]Op, error) {
	var av, bv any
	if err := decode(a, &av); err != nil {
		return nil, err
	}
	if err := decode(b, &bv); err != nil {
		return nil, err
	}
	ops := []Op{}
	return diffValue(ops, "", av, bv)
}

func decode(raw json.RawMessage, v *any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	return d.Decode(v)
}

func diffValue(ops []Op, path string, a, b any) ([]Op, error) {
	ao, aObj := a.(map[string]any)
	bo, bObj := b.(map[string]any)
	if aObj && bObj {
		keys := make([]string, 0, len(ao)+len(bo))
		for k := range ao {
			keys = append(keys, k)
		}
		for k := range bo {
			if _, ok := ao[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			p := path + "/" + escape(k)
			av, inA := ao[k]
			bv, inB := bo[k]
			var err error
			switch {
			case !inB:
				ops = append(ops, Op{Op: "remove", Path: p})
			case !inA:
				ops, err = appendValue(ops, "add", p, bv)
			default:
				ops, err = diffValue(ops, p, av, bv)
			}
			if err != nil {
				return nil, err
			}
		}
		return ops, nil
	}
	if equal(a, b) {
		return ops, nil
	}
	return appendValue(ops, "replace", path, b)
}

func appendValue(ops []Op, op, path string, v any) ([]Op, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(ops, Op{Op: op, Path: path, Value: raw}), nil
}

func equal(a, b any) bool {
	ra, err1 := json.Marshal(a)
	rb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ra, rb)
}

// escape encodes a member name as a JSON Pointer reference token.
func escape(k string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(k)
}

// ChangedFields returns the top-level member names a patch touches, in
// order, each once.
func ChangedFields(ops []Op) []string {
	var out []string
	for _, op := range ops {
		f, _, _ := strings.Cut(strings.TrimPrefix(op.Path, "/"), "/")
		f = strings.NewReplacer("~1", "/", "~0", "~").Replace(f)
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// ChangedDocumentFields returns the top-level fields that differ between
// two documents, leaving out the "_" fields (identity and version), which
// change with every write; nil when the documents cannot be compared.
func ChangedDocumentFields(before, after json.RawMessage) []string {
	ops, err := Diff(before, after)
	if err != nil {
		return nil
	}
	var fields []string
	for _, f := range ChangedFields(ops) {
		if !strings.HasPrefix(f, "_") {
			fields = append(fields, f)
		}
	}
	return fields
}
