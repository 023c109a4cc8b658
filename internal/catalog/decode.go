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
		return invalid("field %s must be %s, not %s", typ.Field, jsonType(t.Kind().String()), typ.Value)
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
	case "int", "int64", "int32", "float64", "uint", "uint64":
		return "a number"
	case "slice", "array":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	}
	return fmt.Sprintf("a %s", goKind)
}
