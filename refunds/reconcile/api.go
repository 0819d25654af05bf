package reconcile

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/roundtriphq/roundtrip/internal/period"

	"github.com/danielgtaylor/huma/v2"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/cursor"
	"github.com/roundtriphq/roundtrip/internal/idempotency"
	"github.com/roundtriphq/roundtrip/internal/validation"
)

type reconciliationCreateInput struct {
	idempotency.Header
	Body struct {
		From string `json:"from" minLength:"10" maxLength:"40" example:"2026-03-01" doc:"Start of the period (inclusive): a date (YYYY-MM-DD, midnight UTC) or an RFC 3339 date-time."`
		To   string `json:"to" minLength:"10" maxLength:"40" example:"2026-04-01" doc:"End of the period (exclusive): to=2026-04-01 covers March."`
	}
}

type reconciliationOutput struct {
	Body *Reconciliation
}

type reconciliationListInput struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
	Cursor string `query:"cursor" maxLength:"40" doc:"next_cursor of the previous page."`
}

type reconciliationListOutput struct {
	Body struct {
		Data       []Reconciliation `json:"data"`
		NextCursor string           `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page."`
	}
}

type reconciliationGetInput struct {
	ID     string `path:"id" maxLength:"40" example:"rec_8d3f6h9k2m5p8r1t4w7x0z3c6v" doc:"The reconciliation's ID (rec_…)."`
	Class  string `query:"class" enum:"matched,missing_in_stripe,missing_locally,amount_mismatch,currency_mismatch,status_mismatch" doc:"Only lines of this class."`
	Limit  int    `query:"limit" minimum:"1" maximum:"1000" default:"100" doc:"How many lines."`
	Cursor string `query:"cursor" maxLength:"40" doc:"next_cursor of the previous page of lines."`
}

// ReconciliationDetail is a run with its totals and a page of its lines.
type ReconciliationDetail struct {
	Reconciliation
	Totals     []ReconciliationTotal `json:"totals" doc:"Lines counted and summed per class and currency, so far."`
	Lines      []ReconciliationLine  `json:"lines" doc:"Lines in order, from cursor."`
	NextCursor string                `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page of lines; absent on the last page."`
}

type reconciliationDetailOutput struct {
	Body *ReconciliationDetail
}

type reconciliationLinesCSVInput struct {
	ID    string `path:"id" maxLength:"40" example:"rec_8d3f6h9k2m5p8r1t4w7x0z3c6v" doc:"The reconciliation's ID (rec_…)."`
	Class string `query:"class" enum:"matched,missing_in_stripe,missing_locally,amount_mismatch,currency_mismatch,status_mismatch" doc:"Only lines of this class."`
}

type refundsReportInput struct {
	From string `query:"from" required:"true" maxLength:"40" example:"2026-03-01" doc:"Refunds created at or after: a date (YYYY-MM-DD, midnight UTC) or an RFC 3339 date-time."`
	To   string `query:"to" required:"true" maxLength:"40" example:"2026-04-01" doc:"Refunds created before (exclusive): to=2026-04-01 covers March."`
}

func csvResponses(what string, columns []string) map[string]*huma.Response {
	return map[string]*huma.Response{"200": {
		Description: what + " as RFC 4180 CSV (UTF-8, CRLF, header row), streamed. Columns, in this order (new ones " +
			"are only added at the end): " + strings.Join(columns, ", ") + ". Amounts are in minor units (`…_minor`) " +
			"and as decimals with the currency's exponent; times are RFC 3339 UTC. Text cells starting with =, +, -, @, " +
			"a tab or a carriage return are prefixed with an apostrophe so spreadsheets do not run them.",
		Content: map[string]*huma.MediaType{"text/csv": {Schema: &huma.Schema{Type: huma.TypeString}}},
		Headers: map[string]*huma.Param{"Content-Disposition": {
			Description: "attachment, with a file name.",
			Schema:      &huma.Schema{Type: huma.TypeString},
		}},
	}}
}

type acknowledgeInput struct {
	ID   string `path:"id" maxLength:"40" example:"rec_8d3f6h9k2m5p8r1t4w7x0z3c6v" doc:"The reconciliation's ID (rec_…)."`
	Line string `path:"line_id" maxLength:"40" example:"rl_2w5z8c1f4h7k0n3q6t9x2b5e8g" doc:"The line's ID (rl_…)."`
	Body struct {
		Note string `json:"note" minLength:"1" maxLength:"1000" example:"Stripe's fee adjustment, agreed with the bank." doc:"Why the mismatch needs nothing more."`
	}
}

type lineOutput struct {
	Body *ReconciliationLine
}

// Register adds the reconciliation and export operations to api.
func Register(api huma.API, s *Service) {
	finance := auth.Staff(auth.RoleFinance)
	errs := []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity}

	huma.Register(api, huma.Operation{
		OperationID: "acknowledge-reconciliation-line",
		Method:      http.MethodPost,
		Path:        "/v1/reconciliations/{id}/lines/{line_id}/acknowledge",
		Summary:     "Acknowledge a mismatch",
		Description: "Records that finance looked at a mismatch line and why nothing more needs doing; the line keeps what " +
			"was found and shows acknowledged_note, _by and _at. Acknowledging again replaces the note. A matched line answers 409.",
		Tags:     []string{"Reconciliation"},
		Security: finance,
		Errors:   []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *acknowledgeInput) (*lineOutput, error) {
		p := auth.MustFromContext(ctx)
		r, err := s.ByPublicID(ctx, p.MerchantID, in.ID)
		if err != nil {
			return nil, err
		}
		l, err := s.Acknowledge(ctx, p.MerchantID, r.ID, in.Line, in.Body.Note, p.Actor)
		if err != nil {
			return nil, err
		}
		return &lineOutput{Body: l}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "create-reconciliation",
		Method:      http.MethodPost,
		Path:        "/v1/reconciliations",
		Summary:     "Reconcile refunds with Stripe",
		Description: "Starts a reconciliation of the period in the background and answers 202 with the run (status queued). " +
			"It lists Stripe's refunds created in the period, matches them to ours by Stripe refund ID and by the refund_id " +
			"metadata, looks up ours that Stripe did not list, and classifies every line: matched, missing_in_stripe, " +
			"missing_locally, amount_mismatch, currency_mismatch or status_mismatch. Follow it with GET /v1/reconciliations/{id}.",
		Tags:          []string{"Reconciliation"},
		Security:      finance,
		DefaultStatus: http.StatusAccepted,
		Errors:        errs,
	}, func(ctx context.Context, in *reconciliationCreateInput) (*reconciliationOutput, error) {
		var v validation.Error
		p := period.Parse(in.Body.From, in.Body.To, true, "", &v)
		if v.Err() != nil {
			return nil, v.In("body.")
		}
		pr := auth.MustFromContext(ctx)
		r, _, err := s.Create(ctx, pr.MerchantID, p, pr.Actor, idempotency.FromContext(ctx), true)
		if err != nil {
			return nil, err
		}
		return &reconciliationOutput{Body: r}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "list-reconciliations",
		Method:      http.MethodGet,
		Path:        "/v1/reconciliations",
		Summary:     "List reconciliations",
		Description: "Newest first, with cursor pagination.",
		Tags:        []string{"Reconciliation"},
		Security:    finance,
		Errors:      errs,
	}, func(ctx context.Context, in *reconciliationListInput) (*reconciliationListOutput, error) {
		before, bad := parseCursor(in.Cursor, "c")
		if bad != nil {
			return nil, bad.In("query.")
		}
		list, more, err := s.List(ctx, auth.MustFromContext(ctx).MerchantID, before, in.Limit)
		if err != nil {
			return nil, err
		}
		out := &reconciliationListOutput{}
		out.Body.Data = list
		out.Body.NextCursor = cursor.Next("c", list, more, func(r Reconciliation) string { return r.PublicID })
		return out, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "get-reconciliation",
		Method:      http.MethodGet,
		Path:        "/v1/reconciliations/{id}",
		Summary:     "Get a reconciliation",
		Description: "Its status and progress, the totals per class and currency, and a page of its lines (all classes, " +
			"or one with class=). While it runs, totals and lines are those written so far.",
		Tags:     []string{"Reconciliation"},
		Security: finance,
		Errors:   []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *reconciliationGetInput) (*reconciliationDetailOutput, error) {
		after, bad := parseCursor(in.Cursor, "n")
		if bad != nil {
			return nil, bad.In("query.")
		}
		m := auth.MustFromContext(ctx).MerchantID
		r, err := s.ByPublicID(ctx, m, in.ID)
		if err != nil {
			return nil, err
		}
		d := &ReconciliationDetail{Reconciliation: *r}
		if d.Totals, err = s.Totals(ctx, m, r.ID); err != nil {
			return nil, err
		}
		var more bool
		if d.Lines, more, err = s.Lines(ctx, m, r.ID, Class(in.Class), after, in.Limit); err != nil {
			return nil, err
		}
		d.NextCursor = cursor.Next("n", d.Lines, more, func(l ReconciliationLine) string { return l.PublicID })
		return &reconciliationDetailOutput{Body: d}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "export-reconciliation-lines",
		Metadata:    map[string]any{"stream": true},
		Method:      http.MethodGet,
		Path:        "/v1/reconciliations/{id}/lines.csv",
		Summary:     "Export a reconciliation's lines as CSV",
		Description: "Every line of the reconciliation (matched, missing on either side, amount or currency mismatch), " +
			"one per row with the refund, Stripe's refund ID and both amounts, streamed for spreadsheets.",
		Tags:      []string{"Reconciliation"},
		Security:  finance,
		Errors:    []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity},
		Responses: csvResponses("Every line of the run (or of one class)", LinesColumns),
	}, func(ctx context.Context, in *reconciliationLinesCSVInput) (*huma.StreamResponse, error) {
		m := auth.MustFromContext(ctx).MerchantID
		r, err := s.ByPublicID(ctx, m, in.ID)
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("reconciliation-%s-lines.csv", r.PublicID)
		return stream(s, name, func(ctx context.Context, w http.ResponseWriter, done func()) error {
			return s.WriteLines(ctx, w, m, r.ID, Class(in.Class), done)
		}), nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "export-refunds-report",
		Metadata:    map[string]any{"stream": true},
		Method:      http.MethodGet,
		Path:        "/v1/reports/refunds.csv",
		Summary:     "Export refunds as CSV",
		Description: "Every refund created in [from, to), oldest first, with its return, order, customer and Stripe ids.",
		Tags:        []string{"Reports"},
		Security:    finance,
		Errors:      errs,
		Responses:   csvResponses("The refunds", RefundsColumns),
	}, func(ctx context.Context, in *refundsReportInput) (*huma.StreamResponse, error) {
		var v validation.Error
		p := period.Parse(in.From, in.To, true, "", &v)
		if v.Err() != nil {
			return nil, v.In("query.")
		}
		m := auth.MustFromContext(ctx).MerchantID
		name := fmt.Sprintf("refunds-%s-%s.csv", p.From.Format("20060102T150405Z"), p.To.Format("20060102T150405Z"))
		return stream(s, name, func(ctx context.Context, w http.ResponseWriter, done func()) error {
			return WriteRefunds(ctx, s.db, w, m, p, done)
		}), nil
	})
}

// stream answers CSV written by write, flushing after every batch and pushing the
// write deadline on so that a long export is not cut off by the server's timeout. An
// error once the answer has started aborts the connection, so the client sees a
// truncated download rather than a complete-looking file.
func stream(s *Service, filename string, write func(context.Context, http.ResponseWriter, func()) error) *huma.StreamResponse {
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		hctx.SetHeader("Content-Type", "text/csv; charset=utf-8")
		hctx.SetHeader("Content-Disposition", `attachment; filename="`+filename+`"`)
		hctx.SetStatus(http.StatusOK)
		w, ok := hctx.BodyWriter().(http.ResponseWriter)
		if !ok {
			panic("reconcile: the body writer is not an http.ResponseWriter")
		}
		rc := http.NewResponseController(w)
		_ = rc.SetWriteDeadline(time.Now().Add(time.Minute))
		err := write(hctx.Context(), w, func() {
			_ = rc.Flush()
			_ = rc.SetWriteDeadline(time.Now().Add(time.Minute))
		})
		if err != nil {
			s.log.ErrorContext(hctx.Context(), "csv export stopped", slog.String("file", filename), slog.String("error", err.Error()))
			panic(http.ErrAbortHandler)
		}
	}}
}

// parseCursor decodes a cursor of the list named by prefix.
func parseCursor(c, prefix string) (string, *validation.Error) {
	var v validation.Error
	n := cursor.Decode(prefix, c, &v)
	if len(v.Fields) > 0 {
		return "", &v
	}
	return n, nil
}
