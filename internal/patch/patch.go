// Package patch owns metricsd's request documents: strict JSON decoding
// (exact field names, read-only fields, storable text), RFC 6902 JSON Patch
// with the read-only guard, the diff between two documents, and
// LaunchDarkly's semantic-patch instruction envelope.
package patch

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"unicode/utf8"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/metricsd/metricsd/internal/core"
)

// invalid builds the KindInvalid error every decoding problem is.
func invalid(format string, args ...any) error { return core.Errorf(core.KindInvalid, format, args...) }

// Op is one RFC 6902 operation.
type Op struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	From  string          `json:"from,omitempty"`
	Value json.RawMessage `json:"value,omitempty"`
}

// patchEnvelope is LaunchDarkly's {"comment","patch"} request form.
type patchEnvelope struct {
	Comment string `json:"comment"`
	Patch   []Op   `json:"patch"`
}

// Parse reads a JSON Patch body: either a bare array of operations or
// an object with "patch" and an optional "comment".
func Parse(body []byte) (ops []Op, comment string, err error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var env patchEnvelope
		if err := DecodeStrict(trimmed, &env); err != nil {
			return nil, "", err
		}
		if env.Patch == nil {
			return nil, "", invalid("patch is required")
		}
		ops, comment = env.Patch, env.Comment
	} else if err := DecodeStrict(trimmed, &ops); err != nil {
		return nil, "", err
	}
	if len(ops) == 0 {
		return nil, "", invalid("patch must contain at least one operation")
	}
	if len(ops) > 100 {
		return nil, "", invalid("patch must contain at most 100 operations")
	}
	for i, op := range ops {
		switch op.Op {
		case "add", "replace", "test":
			if op.Value == nil {
				return nil, "", invalid("patch[%d] (%s) needs a value", i, op.Op)
			}
		case "remove":
		case "move", "copy":
			if op.From == "" || op.From[0] != '/' {
				return nil, "", invalid("patch[%d] (%s) needs a from pointer", i, op.Op)
			}
		default:
			return nil, "", invalid("patch[%d].op must be one of add, remove, replace, move, copy, test", i)
		}
		if op.Path == "" || op.Path[0] != '/' {
			return nil, "", invalid("patch[%d].path must be a JSON pointer starting with /", i)
		}
	}
	if utf8.RuneCountInString(comment) > 1024 {
		return nil, "", invalid("comment must be at most 1024 characters")
	}
	return ops, comment, nil
}

// maxPatchCopyBytes bounds the bytes copy operations of one patch may add.
const maxPatchCopyBytes = 64 << 10

// Document renders v (a struct of editable fields) as a JSON object
// in which every field is present, null when empty, so that "replace" works
// on unset fields too.
//
// EmptyFields names the members that Document adds as null to what
// json.Marshal(v) writes, for callers that build the document as bytes.
func Document(v any) (map[string]json.RawMessage, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	doc := map[string]json.RawMessage{}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	t := reflect.TypeOf(v)
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if _, ok := doc[name]; !ok && name != "" && name != "-" {
			doc[name] = json.RawMessage("null")
		}
	}
	return doc, nil
}

// Apply applies ops to doc, refuses changes to the readOnly members and
// to any member starting with "_", and decodes the rest strictly into out.
// A failed "test" is a core.KindConflict; every other problem is core.KindInvalid.
func Apply(doc map[string]json.RawMessage, readOnly []string, ops []Op, out any) error {
	docJSON, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	opsJSON, err := json.Marshal(ops)
	if err != nil {
		return err
	}
	patch, err := jsonpatch.DecodePatch(opsJSON)
	if err != nil {
		return invalid("patch is not valid JSON Patch: %s", err.Error())
	}
	opts := jsonpatch.NewApplyOptions()
	opts.EnsurePathExistsOnAdd = false
	// Bound what copy operations may add, so that a short patch cannot
	// double a document into exhaustion.
	opts.AccumulatedCopySizeLimit = maxPatchCopyBytes
	applied, err := patch.ApplyWithOptions(docJSON, opts)
	if errors.Is(err, jsonpatch.ErrTestFailed) {
		return core.Errorf(core.KindConflict, "patch test failed: %s", err.Error())
	}
	if err != nil {
		return invalid("patch could not be applied: %s", err.Error())
	}
	var after map[string]json.RawMessage
	if err := json.Unmarshal(applied, &after); err != nil {
		return invalid("patch must leave the resource a JSON object")
	}
	for _, f := range readOnly {
		if !bytes.Equal(compactJSON(after[f]), compactJSON(doc[f])) {
			return invalid("%s is read-only", f)
		}
		delete(after, f)
	}
	for f := range after {
		if strings.HasPrefix(f, "_") {
			return invalid("%s is read-only", f)
		}
	}
	rest, err := json.Marshal(after)
	if err != nil {
		return err
	}
	return decodePatched(ops, docJSON, rest, out)
}

func compactJSON(b json.RawMessage) []byte {
	if b == nil {
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return b
	}
	return buf.Bytes()
}

// EmptyFields returns the JSON names of the fields of struct v that
// json.Marshal leaves out (omitempty and empty by encoding/json's rules),
// which Document renders as null.
func EmptyFields(v any) []string {
	rv := reflect.ValueOf(v)
	t := rv.Type()
	var out []string
	for i := range t.NumField() {
		name, opts, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" || !strings.Contains(opts, "omitempty") {
			continue
		}
		f := rv.Field(i)
		empty := false
		switch f.Kind() {
		case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
			empty = f.Len() == 0
		case reflect.Bool:
			empty = !f.Bool()
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			empty = f.Int() == 0
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			empty = f.Uint() == 0
		case reflect.Float32, reflect.Float64:
			empty = f.Float() == 0
		case reflect.Interface, reflect.Pointer:
			empty = f.IsNil()
		}
		if empty {
			out = append(out, name)
		}
	}
	return out
}

// Member is one member of a JSON object: a name and a value to marshal.
type Member struct {
	Name  string
	Value any
}

// Render writes the document Document(v) describes, plus the members of
// extra, as JSON in one Marshal of v (Document marshals, unmarshals and
// marshals again). The names of extra must not be members json.Marshal
// writes for v; an empty member of v with the name of an extra one gives
// way to it.
func Render(v any, extra ...Member) (json.RawMessage, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(len(raw) + 32*len(extra) + 64)
	b.WriteByte('{')
	given := make(map[string]bool, len(extra))
	for i, m := range extra {
		val, err := json.Marshal(m.Value)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(m.Name)
		b.Write(name)
		b.WriteByte(':')
		b.Write(val)
		given[m.Name] = true
	}
	sep := func() {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
	}
	if len(raw) > 2 {
		sep()
		b.Write(raw[1 : len(raw)-1])
	}
	for _, name := range EmptyFields(v) {
		if !given[name] {
			sep()
			b.WriteString(`"` + name + `":null`)
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
