package patch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DecodeStrict decodes one JSON value from data into v, rejecting unknown
// fields, wrong types and trailing data with core.KindInvalid errors that name
// the offending field. It also refuses text that no store can hold (U+0000
// in any string, member names included, and invalid UTF-8), and read-only
// fields: members of v's structs whose JSON names start with "_", at every
// depth.
func DecodeStrict(data []byte, v any) error {
	return decodeStrict(data, nil, v)
}

// decodeStrict is DecodeStrict; with a non-nil before (the document a patch
// was applied to) read-only fields may be present with the value they have
// at the same place in before.
// DecodeUpdate decodes data like DecodeStrict, except that read-only
// fields may keep the values they have in before, the document data was
// derived from.
func DecodeUpdate(data, before []byte, v any) error { return decodeStrict(data, before, v) }

func decodeStrict(data, before []byte, v any) error {
	if err := CheckJSONText(data); err != nil {
		return err
	}
	if err := checkFields(reflect.TypeOf(v), data, before, before != nil, ""); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalid("request body must hold a single JSON value")
	}
	return nil
}

func decodeError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return invalid("request body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("request body is not valid JSON: unexpected end of input")
	case errors.As(err, &syn):
		return invalid("request body is not valid JSON at offset %d: %s", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		t := typ.Type
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if typ.Field == "" {
			return invalid("request body must be %s, not %s", jsonType(t.Kind().String()), typ.Value)
		}
		return invalid("field %s must be %s, not %s", jsonFieldPath(typ.Field), jsonType(t.Kind().String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return invalid("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return invalid("request body could not be decoded: %s", err.Error())
}

func jsonType(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int64", "int32", "uint", "uint64":
		return "an integer"
	case "float64", "float32":
		return "a number"
	case "slice", "array":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	}
	return fmt.Sprintf("a %s", goKind)
}

// jsonFieldPath drops the Go names of embedded structs from a decoder field
// path ("MetricDef.isNumeric" becomes "isNumeric"); JSON names here never
// start with an upper-case letter.
func jsonFieldPath(path string) string {
	parts := strings.Split(path, ".")
	out := parts[:0]
	for _, p := range parts {
		if p != "" && p[0] >= 'A' && p[0] <= 'Z' {
			continue
		}
		out = append(out, p)
	}
	return strings.Join(out, ".")
}

// checkFields walks data along the Go type t (nested structs, pointers to
// them and slices of them) and rejects
//
//   - object members whose names match a field only when case is ignored:
//     encoding/json would accept "Name" for "name";
//   - read-only fields, whose JSON names start with "_". When patched is
//     set, such a field may hold the value it has at the same place in
//     before (the document a patch was applied to), so that a patch can
//     leave it alone.
//
// path names data in messages ("" for the whole body).
func checkFields(t reflect.Type, data, before []byte, patched bool, path string) error {
	for t != nil && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice) {
		if t.Kind() == reflect.Slice {
			var items, old []json.RawMessage
			if json.Unmarshal(data, &items) != nil {
				return nil // the decoder reports type errors precisely
			}
			_ = json.Unmarshal(before, &old)
			for i, item := range items {
				var was []byte
				if i < len(old) {
					was = old[i]
				}
				if err := checkFields(t.Elem(), item, was, patched, fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
			return nil
		}
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var members, old map[string]json.RawMessage
	if trimmed := bytes.TrimSpace(data); len(trimmed) == 0 || trimmed[0] != '{' || json.Unmarshal(trimmed, &members) != nil {
		return nil
	}
	_ = json.Unmarshal(before, &old)
	fields := map[string]reflect.Type{}
	collectJSONFields(t, fields)
	// Sorted, so that the same body always names the same field.
	for _, k := range slices.Sorted(maps.Keys(members)) {
		ft, ok := fields[k]
		if !ok {
			return invalid("unknown field %q", k)
		}
		sub := joinPath(path, k)
		if strings.HasPrefix(k, "_") {
			was, existed := old[k]
			if !patched || !existed || !bytes.Equal(compactJSON(members[k]), compactJSON(was)) {
				return invalid("%s is read-only", sub)
			}
		}
		if err := checkFields(ft, members[k], old[k], patched, sub); err != nil {
			return err
		}
	}
	return nil
}

// joinPath appends the member name k to the field path path.
func joinPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// decodePatched decodes the result of a JSON Patch (after) strictly into v.
// before is the document the patch was applied to: read-only ("_") fields
// below the top level may keep the value they had there, but no operation
// may remove or move them away. The top-level identity fields are the
// caller's to check.
func decodePatched(ops []Op, before, after []byte, v any) error {
	for i, op := range ops {
		var p string
		switch op.Op {
		case "remove":
			p = op.Path
		case "move":
			p = op.From
		default:
			continue
		}
		tokens := strings.Split(p, "/")
		for j := 2; j < len(tokens); j++ {
			if strings.HasPrefix(tokens[j], "_") {
				return invalid("patch[%d]: %s is read-only", i, pointerPath(tokens[1:j+1]))
			}
		}
	}
	return decodeStrict(after, before, v)
}

// pointerPath renders JSON Pointer reference tokens as a field path
// ("dataSource._name", "urls[0].kind").
func pointerPath(tokens []string) string {
	var b strings.Builder
	for i, tok := range tokens {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		if _, err := strconv.Atoi(tok); err == nil && i > 0 {
			b.WriteString("[" + tok + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
}

// CheckJSONText refuses JSON text that no store can hold: invalid UTF-8
// anywhere, and U+0000 in any string, object member names included. The
// error names the field. Syntax errors are left to the decoder, which
// reports them with their offset.
func CheckJSONText(data []byte) error {
	if utf8.Valid(data) && !bytes.Contains(data, []byte(`\u0000`)) {
		return nil // the common case: nothing to look for
	}
	type frame struct {
		obj     bool
		wantKey bool
		key     string
		idx     int
	}
	var stack []frame
	pathOf := func(stack []frame) string {
		var b strings.Builder
		for _, f := range stack {
			if f.obj {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			} else {
				fmt.Fprintf(&b, "[%d]", f.idx)
			}
		}
		return b.String()
	}
	// beginValue moves the innermost array to its next item.
	beginValue := func() {
		if n := len(stack); n > 0 && !stack[n-1].obj {
			stack[n-1].idx++
		}
	}
	// endValue makes the innermost object expect a member name again.
	endValue := func() {
		if n := len(stack); n > 0 && stack[n-1].obj {
			stack[n-1].wantKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var prev int64
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // the end, or a syntax error the decoder reports
		}
		raw := data[prev:dec.InputOffset()]
		prev = dec.InputOffset()
		switch tok := tok.(type) {
		case json.Delim:
			switch tok {
			case '{', '[':
				beginValue()
				stack = append(stack, frame{obj: tok == '{', wantKey: tok == '{', idx: -1})
			default:
				stack = stack[:len(stack)-1]
				endValue()
			}
		case string:
			if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].wantKey {
				where := pathOf(stack[:n-1])
				if where == "" {
					where = "the request body"
				}
				switch {
				case !utf8.Valid(raw):
					return invalid("a field name in %s is not valid UTF-8", where)
				case strings.ContainsRune(tok, 0):
					return invalid("a field name in %s contains U+0000 (NUL), which is not allowed", where)
				}
				stack[n-1].key, stack[n-1].wantKey = tok, false
				continue
			}
			beginValue()
			where := pathOf(stack)
			if where == "" {
				where = "the request body"
			}
			switch {
			case !utf8.Valid(raw):
				return invalid("%s is not valid UTF-8", where)
			case strings.ContainsRune(tok, 0):
				return invalid("%s must not contain U+0000 (NUL)", where)
			}
			endValue()
		default:
			beginValue()
			endValue()
		}
	}
}

func collectJSONFields(t reflect.Type, fields map[string]reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			collectJSONFields(ft, fields)
			continue
		}
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f.Type
	}
}
