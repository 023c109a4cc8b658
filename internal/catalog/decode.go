package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// DecodeStrict decodes one JSON value from data into v, rejecting unknown
// fields, wrong types and trailing data with KindInvalid errors that name
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

// checkFieldCase rejects top-level object members whose names match a field
// only when case is ignored: encoding/json would accept "Name" for "name".
func checkFieldCase(data []byte, v any) error {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &members); err != nil {
		return nil // the decoder reports it precisely
	}
	names := map[string]bool{}
	collectJSONNames(t, names)
	for k := range members {
		if !names[k] {
			return invalid("unknown field %q", k)
		}
	}
	return nil
}

func collectJSONNames(t reflect.Type, names map[string]bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			collectJSONNames(ft, names)
			continue
		}
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names[name] = true
	}
}
