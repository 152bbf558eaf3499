package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
)

// maxBodyBytes caps request bodies.
const maxBodyBytes = 1 << 20

// decodeBody reads r's body strictly into v (a pointer to a struct): unknown
// fields, trailing data and wrong types are errors that name the field. An
// empty body leaves v untouched and is allowed only when emptyOK is set.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, emptyOK bool) error {
	body := http.MaxBytesReader(w, r.Body, maxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) {
		if emptyOK {
			return nil
		}
		return invalidf("request body is empty; send a JSON object with the fields %s", fieldList(v))
	}
	if err != nil {
		return bodyError(err, v)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if tooLarge(err) {
			return bodyError(err, v)
		}
		return invalidf("request body has data after the JSON object; send exactly one object")
	}
	return nil
}

// bodyError explains a decoding error, naming the field where possible.
func bodyError(err error, v any) *Error {
	if tooLarge(err) {
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge,
			Message: fmt.Sprintf("request body is larger than %d bytes", maxBodyBytes)}
	}
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return invalidf("request body is not valid JSON (at byte %d): %s", se.Offset, se.Error())
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		if te.Field == "" {
			return invalidf("request body must be a JSON object, not %s", te.Value)
		}
		return invalidf("field %q must be %s, not %s", te.Field, typeWord(te.Type), te.Value)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return invalidf("unknown field %s; allowed fields: %s", name, fieldList(v))
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return invalidf("request body is truncated JSON")
	}
	return invalidf("cannot read request body: %s", err.Error())
}

func tooLarge(err error) bool {
	_, ok := errors.AsType[*http.MaxBytesError](err)
	return ok
}

// fieldList names the JSON fields of the struct v points to.
func fieldList(v any) string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t.NumField() == 0 {
		return "(none)"
	}
	names := make([]string, 0, t.NumField())
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
	}
	return strings.Join(names, ", ")
}

// typeWord describes a Go type in JSON terms.
func typeWord(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(typeWord(t.Elem()), "a "), "an ") + "s"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}
