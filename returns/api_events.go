package returns

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/roundtriphq/roundtrip/internal/auth"
)

// The timeline operation.

func registerEvents(api huma.API, a *API) {
	huma.Register(api, huma.Operation{
		OperationID: "list-return-events",
		Method:      http.MethodGet,
		Path:        "/v1/returns/{id}/events",
		Summary:     "Get a return's timeline",
		Description: "Every step, oldest first: who, when, from which state to which, and why.",
		Tags:        []string{"Returns"},
		Security:    auth.StaffOrShopper(all...),
		Errors:      []int{http.StatusUnauthorized, http.StatusNotFound},
	}, a.listReturnEvents)
}

type eventsOutput struct {
	Body struct {
		Data []TimelineEntry `json:"data"`
	}
}

// listReturnEvents answers a return's timeline.
func (a *API) listReturnEvents(ctx context.Context, in *returnPath) (*eventsOutput, error) {
	r, err := a.Store.Find(ctx, auth.MustFromContext(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	ev, err := a.Store.Events(ctx, r.MerchantID, r.ID)
	if err != nil {
		return nil, err
	}
	out := &eventsOutput{}
	out.Body.Data = ev
	return out, nil
}
