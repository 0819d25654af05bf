package email

import (
	"context"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/audit"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/returns"
)

const tag = "Emails"

type returnEmailsInput struct {
	ID string `path:"id" maxLength:"40" example:"ret_5kq2m9x4c8v1b7n3z6p0r4t2wd" doc:"The return's ID (ret_…), or its RMA number (R-7KQ4-M2XD)."`
}

type returnEmailsOutput struct {
	Body struct {
		Emails []Message `json:"emails" doc:"Oldest first."`
	}
}

type retryEmailInput struct {
	ID string `path:"id" maxLength:"40" example:"em_5h8k1n4q7t0w3z6c9f2j5m8p1s" doc:"The email's ID (em_…)."`
}

type messageOutput struct {
	Body Message
}

type revokeLinksOutput struct {
	Body struct {
		Revoked int64 `json:"revoked" example:"4" doc:"How many links stopped working."`
	}
}

// Register adds the email operations: a return's emails, resending a parked one, and
// revoking a return's status links. s may be nil when only the document is printed.
func Register(api huma.API, s *Service, store *returns.Store, a *audit.Log) {
	huma.Register(api, huma.Operation{
		OperationID: "list-return-emails",
		Method:      http.MethodGet,
		Path:        "/v1/returns/{id}/emails",
		Summary:     "List the emails sent to the shopper about a return",
		Description: "Every email a change of the return asked for, with its status: sent, waiting, skipped " +
			"(the shopper unsubscribed and it is not about money), or parked after its attempts ran out, " +
			"with the mail server's last answer.",
		Tags:     []string{tag},
		Security: auth.Staff(auth.RoleIntegration, auth.RoleWarehouse, auth.RoleFinance),
		Errors:   []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound},
	}, func(ctx context.Context, in *returnEmailsInput) (*returnEmailsOutput, error) {
		p := auth.MustFromContext(ctx)
		r, err := store.Find(ctx, p, in.ID)
		if err != nil {
			return nil, err
		}
		out := &returnEmailsOutput{}
		out.Body.Emails, err = s.Messages(ctx, p.MerchantID, r.ID)
		return out, err
	})

	huma.Register(api, huma.Operation{
		OperationID: "retry-email",
		Method:      http.MethodPost,
		Path:        "/v1/emails/{id}/retry",
		Summary:     "Send a parked email again",
		Description: "For an email whose attempts ran out (status parked), once the mail server is fixed. " +
			"Any other status answers 409.",
		Tags:     []string{tag},
		Security: auth.Staff(),
		Errors:   []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *retryEmailInput) (*messageOutput, error) {
		p := auth.MustFromContext(ctx)
		var m Message
		err := a.Change(ctx, p.MerchantID, p.Actor, func(tx *sqlx.Tx) (audit.Entry, error) {
			var err error
			m, err = s.Retry(ctx, tx, p.MerchantID, in.ID)
			return audit.Entry{Action: audit.EmailRetried, Target: "email " + m.PublicID,
				Summary: fmt.Sprintf("The %s email about return %s, parked after its attempts ran out, sent again.", m.Kind, m.ReturnPublicID)}, err
		})
		if err != nil {
			return nil, err
		}
		return &messageOutput{Body: m}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "revoke-return-links",
		Method:      http.MethodPost,
		Path:        "/v1/returns/{id}/status-links/revoke",
		Summary:     "Revoke the status links of a return",
		Description: "The links in the emails sent so far, which open the return's status page without signing in, " +
			"stop working (unsubscribing through them still works). Emails sent later carry new links.",
		Tags:     []string{tag},
		Security: auth.Staff(),
		Errors:   []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound},
	}, func(ctx context.Context, in *returnEmailsInput) (*revokeLinksOutput, error) {
		p := auth.MustFromContext(ctx)
		r, err := store.Find(ctx, p, in.ID)
		if err != nil {
			return nil, err
		}
		out := &revokeLinksOutput{}
		err = a.Change(ctx, p.MerchantID, p.Actor, func(tx *sqlx.Tx) (audit.Entry, error) {
			var err error
			out.Body.Revoked, err = s.RevokeLinks(ctx, tx, p.MerchantID, r.ID)
			return audit.Entry{Action: audit.LinksRevoked, Target: "return " + r.RMA,
				Summary: fmt.Sprintf("%d status link(s) in emails to the shopper stopped working.", out.Body.Revoked)}, err
		})
		if err != nil {
			return nil, err
		}
		return out, nil
	})
}
