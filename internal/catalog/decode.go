package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// DecodeStrict decodes one JSON value from data into v, rejecting unknown
// fields, wrong types and trailing data with core.KindInvalid errors that name
// the offending field.
func DecodeStrict(data []byte, v any) error {
	if err := checkFieldCase(data, v); err != nil {
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

// checkFieldCase rejects object members whose names match a field only
// when case is ignored: encoding/json would accept "Name" for "name". It
// walks nested structs, pointers to them and slices of them.
func checkFieldCase(data []byte, v any) error {
	return checkCase(reflect.TypeOf(v), data)
}

func checkCase(t reflect.Type, data []byte) error {
	for t != nil && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice) {
		if t.Kind() == reflect.Slice {
			var items []json.RawMessage
			if json.Unmarshal(data, &items) != nil {
				return nil // the decoder reports type errors precisely
			}
			for _, item := range items {
				if err := checkCase(t.Elem(), item); err != nil {
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
	var members map[string]json.RawMessage
	if trimmed := bytes.TrimSpace(data); len(trimmed) == 0 || trimmed[0] != '{' || json.Unmarshal(trimmed, &members) != nil {
		return nil
	}
	fields := map[string]reflect.Type{}
	collectJSONFields(t, fields)
	// Sorted, so that the same body always names the same field.
	for _, k := range slices.Sorted(maps.Keys(members)) {
		ft, ok := fields[k]
		if !ok {
			return invalid("unknown field %q", k)
		}
		if err := checkCase(ft, members[k]); err != nil {
			return err
		}
	}
	return nil
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
