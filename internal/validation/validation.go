// Package validation collects field-level input errors so that every package can
// report all the wrong fields of a request at once, each named by its JSON path.
// The HTTP layer turns an *Error into an RFC 9457 problem with one entry per field.
package validation

import (
	"fmt"
	"strings"
)

// Field is one wrong input value.
type Field struct {
	// Path is the JSON path of the value in the request, e.g. "items[2].quantity".
	Path string
	// Message says what is wrong in words a user can act on.
	Message string
	// Value is the offending value, when showing it helps (nil otherwise).
	Value any
}

// Error is a set of wrong fields. The zero value is ready to use.
type Error struct {
	Fields []Field
	placed bool
}

// In places the fields in the request: their paths get prefix ("query.", "body.").
// An error placed once keeps its paths, so the HTTP layer can place the errors that
// a domain reports about a request body (In("body.")) without moving those that a
// handler already placed in the query.
func (e *Error) In(prefix string) *Error {
	if e.placed {
		return e
	}
	out := &Error{placed: true, Fields: make([]Field, len(e.Fields))}
	for i, f := range e.Fields {
		f.Path = prefix + f.Path
		out.Fields[i] = f
	}
	return out
}

// Add records that the value at path is wrong.
func (e *Error) Add(path, format string, args ...any) {
	e.Fields = append(e.Fields, Field{Path: path, Message: fmt.Sprintf(format, args...)})
}

// AddValue records that value at path is wrong, keeping the value for the client.
func (e *Error) AddValue(path string, value any, format string, args ...any) {
	e.Fields = append(e.Fields, Field{Path: path, Message: fmt.Sprintf(format, args...), Value: value})
}

// Merge adds every field of other, each path prefixed with prefix (e.g. "body.").
func (e *Error) Merge(prefix string, other *Error) {
	if other == nil {
		return
	}
	for _, f := range other.Fields {
		f.Path = prefix + f.Path
		e.Fields = append(e.Fields, f)
	}
}

// Err returns e as an error when it holds at least one field, else nil.
func (e *Error) Err() error {
	if e == nil || len(e.Fields) == 0 {
		return nil
	}
	return e
}

func (e *Error) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Path + ": " + f.Message
	}
	return "validation: " + strings.Join(parts, "; ")
}
