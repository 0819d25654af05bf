// Package cursor makes the opaque next_cursor values of the list operations. A cursor
// names the last row of a page by its public ID (ret_…, rf_…, we_…), which the page
// already showed, behind a one-letter prefix naming the list; the list query finds
// that row within the caller's merchant and goes on after it. So a cursor tells
// nothing the page did not (not the internal sequential IDs, which every merchant
// shares and which would show the platform's volume), works on every replica without
// a secret, and a cursor of another list or another merchant is refused.
package cursor

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/validation"
)

// refused is the message of a cursor that is not one of the list's.
const refused = "is not a cursor from this list; start again without it"

// publicID is the shape of a public ID: a lowercase prefix, an underscore, and
// lowercase letters and digits.
var publicID = regexp.MustCompile(`^[a-z]{1,8}_[0-9a-z]{1,56}$`)

// Encode returns the cursor of the list named by prefix for the page after the row
// with public ID id.
func Encode(prefix, id string) string {
	return prefix + "." + id
}

// Decode returns the public ID of the row that cursor c of the list named by prefix
// names; "" for an empty cursor (the first page). A cursor that is not one of this
// list's adds a field error at "cursor" to v. Whether the row is the caller's is for
// the list query to find out (Resolve).
func Decode(prefix, c string, v *validation.Error) string {
	if c == "" {
		return ""
	}
	id, ok := strings.CutPrefix(c, prefix+".")
	if !ok || !Valid(id) {
		v.Add("cursor", refused)
		return ""
	}
	return id
}

// Valid reports whether id has the shape of a public ID, for pages that take the
// last row's public ID as it is in their links (?after=ret_…).
func Valid(id string) bool {
	return publicID.MatchString(id)
}

// Next is a page's next_cursor: the cursor after its last row when more rows follow,
// else "" (the last page). id gives a row's public ID.
func Next[T any](prefix string, page []T, more bool, id func(T) string) string {
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

// Resolve returns the ordering key of the row a decoded cursor names, read in q by
// query, which selects that one key of the caller's merchant by public ID (for
// example `SELECT id FROM refunds WHERE merchant_id = $1 AND public_id = $2`). When
// there is no such row (a cursor of another merchant or list, or of a row since
// deleted) it returns Unknown().
func Resolve(ctx context.Context, q sqlx.QueryerContext, query string, args ...any) (int64, error) {
	var key int64
	err := sqlx.GetContext(ctx, q, &key, query, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, Unknown()
	}
	if err != nil {
		return 0, fmt.Errorf("cursor: resolve: %w", err)
	}
	return key, nil
}

// Unknown is the error of a cursor that names no row of the caller's list: a field
// error at query.cursor, which the HTTP layer answers with 422.
func Unknown() error {
	v := &validation.Error{Fields: []validation.Field{{Path: "cursor", Message: refused}}}
	return v.In("query.")
}

// IsUnknown reports whether err is the refusal of a cursor (Unknown), for pages
// that start again from the first page instead.
func IsUnknown(err error) bool {
	var v *validation.Error
	return errors.As(err, &v) && len(v.Fields) == 1 && v.Fields[0].Path == "query.cursor"
}
