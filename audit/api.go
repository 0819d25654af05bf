package audit

import (
	"context"
	"net/http"
	"reflect"

	"github.com/danielgtaylor/huma/v2"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/cursor"
	"github.com/roundtriphq/roundtrip/internal/validation"
)

// listCursor names the audit list's cursors.
const listCursor = "a"

type listAuditInput struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size."`
	Cursor string `query:"cursor" maxLength:"40" doc:"next_cursor of the previous page."`
}

type listAuditOutput struct {
	Body struct {
		Data       []Entry `json:"data"`
		NextCursor string  `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page."`
	}
}

// auditEntry is Entry under the schema name AuditEntry in the OpenAPI document,
// which has no package names to tell it from the ledger's entries.
type auditEntry Entry

// Register adds the audit trail's operation to api (admin).
func Register(api huma.API, l *Log) {
	api.OpenAPI().Components.Schemas.RegisterTypeAlias(reflect.TypeFor[Entry](), reflect.TypeFor[auditEntry]())
	huma.Register(api, huma.Operation{
		OperationID: "list-audit-log",
		Method:      http.MethodGet,
		Path:        "/v1/audit-log",
		Summary:     "List the audit trail",
		Description: "Every change to the shop's set-up (return policy, staff users, API keys, branding, carrier secret, " +
			"webhook endpoints) and every review decision made in the admin console: who, when, what and on what. " +
			"Newest first, with cursor pagination. Entries are never changed or removed.",
		Tags:     []string{"Audit"},
		Security: auth.Staff(),
		Errors:   []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *listAuditInput) (*listAuditOutput, error) {
		var v validation.Error
		before := cursor.Decode(listCursor, in.Cursor, &v)
		if err := v.Err(); err != nil {
			return nil, v.In("query.")
		}
		list, more, err := l.List(ctx, auth.MustFromContext(ctx).MerchantID, before, in.Limit)
		if err != nil {
			return nil, err
		}
		out := &listAuditOutput{}
		out.Body.Data = list
		out.Body.NextCursor = cursor.Next(listCursor, list, more, func(e Entry) string { return e.ID })
		return out, nil
	})
}
