// Package cursor makes the opaque next_cursor values of the list operations: the last
// ID of a page in base 36 behind a one-letter prefix naming the list, so that a cursor
// of one list is refused by another.
package cursor

import (
	"strconv"
	"strings"

	"github.com/roundtriphq/roundtrip/internal/validation"
)

// Encode returns the cursor for the page after the row with id.
func Encode(prefix string, id int64) string {
	return prefix + strconv.FormatInt(id, 36)
}

// Decode returns the ID in cursor c of the list named by prefix; 0 for an empty
// cursor (the first page). A cursor that is not one of this list's adds a field
// error at "cursor" to v.
func Decode(prefix, c string, v *validation.Error) int64 {
	if c == "" {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(c, prefix), 36, 64)
	if err != nil || !strings.HasPrefix(c, prefix) || n <= 0 {
		v.Add("cursor", "is not a cursor from this list; start again without it")
		return 0
	}
	return n
}

// Next is a page's next_cursor: the cursor after its last row when more rows follow,
// else "" (the last page). id gives a row's ID.
func Next[T any](prefix string, page []T, more bool, id func(T) int64) string {
	if !more || len(page) == 0 {
		return ""
	}
	return Encode(prefix, id(page[len(page)-1]))
}

// Trim cuts rows read with LIMIT limit+1 down to the page and reports whether more
// rows follow.
func Trim[T any](rows []T, limit int) ([]T, bool) {
	if len(rows) > limit {
		return rows[:limit], true
	}
	return rows, false
}
