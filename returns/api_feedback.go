package returns

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/roundtriphq/roundtrip/internal/auth"
)

// The shopper's feedback operation.

func registerFeedback(api huma.API, a *API) {
	huma.Register(api, huma.Operation{
		OperationID: "put-return-feedback",
		Method:      http.MethodPut,
		Path:        "/v1/returns/{id}/feedback",
		Summary:     "Say how easy the return was",
		Description: "The shopper's answer once the return is completed: ease from 1 (very hard) to 5 (very easy) and " +
			"an optional comment. A return keeps one answer; sending again replaces it. Staff read it as the " +
			"return's feedback field and in the analytics summary; the shop's systems get feedback.received. " +
			"A return that is not completed answers 409.",
		Tags:     []string{"Returns"},
		Security: []map[string][]string{{auth.SchemeShopper: {}}},
		Errors:   []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, a.putFeedback)
}

type feedbackInput struct {
	ID   string `path:"id" maxLength:"40" example:"ret_5kq2m9x4c8v1b7n3z6p0r4t2wd" doc:"The return's ID (ret_…), or its RMA number (R-7KQ4-M2XD)."`
	Body struct {
		Ease    int    `json:"ease" minimum:"1" maximum:"5" example:"4" doc:"How easy the return was, from 1 (very hard) to 5 (very easy)."`
		Comment string `json:"comment,omitempty" maxLength:"2000" example:"The label printed fine; the refund was quick." doc:"Anything the shopper wants to tell the shop."`
	}
}

type feedbackOutput struct {
	Body Feedback
}

func (a *API) putFeedback(ctx context.Context, in *feedbackInput) (*feedbackOutput, error) {
	r, err := a.Store.Find(ctx, auth.MustFromContext(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	f, err := a.Store.SetFeedback(ctx, r.MerchantID, r.ID, in.Body.Ease, in.Body.Comment)
	if err != nil {
		return nil, err
	}
	return &feedbackOutput{Body: f}, nil
}
