package receiving

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/idempotency"
	"github.com/roundtriphq/roundtrip/internal/problem"
	"github.com/roundtriphq/roundtrip/internal/validation"
	"github.com/roundtriphq/roundtrip/returns"
)

func toProblem(err error, code string) error {
	var ce *ClosedError
	var ve *validation.Error
	var te *returns.TransitionError
	switch {
	case errors.Is(err, ErrUnknownCode):
		return problem.NotFound(fmt.Sprintf("Nothing matches %q: not an RMA number or tracking number of this shop. "+
			"Check the label (an RMA looks like R-7KQ4-M2XD), or set the parcel aside for review.", code))
	case errors.Is(err, returns.ErrNotFound):
		return problem.NotFound("No such return.")
	case errors.As(err, &ce):
		p := problem.Conflict("return_closed", closedMessage(ce))
		p.State = string(ce.State)
		return p
	case errors.As(err, &ve):
		return problem.Invalid("body.", ve)
	case errors.As(err, &te):
		p := problem.Conflict("invalid_transition", fmt.Sprintf("The return is %s; this cannot be recorded now.", te.From))
		p.State, p.Event = string(te.From), string(te.Event)
		return p
	}
	return err
}

func closedMessage(ce *ClosedError) string {
	switch ce.State {
	case returns.StateRequested:
		return fmt.Sprintf("Return %s has not been approved yet: set the parcel aside until it is.", ce.RMA)
	case returns.StateCompleted:
		return fmt.Sprintf("Return %s is already completed: set the parcel aside for review.", ce.RMA)
	}
	return fmt.Sprintf("Return %s was %s: do not receive this parcel; set it aside for review.", ce.RMA, ce.State)
}

type scanInput struct {
	Body struct {
		Code string `json:"code" minLength:"1" maxLength:"100" example:"]C0R-7KQ4-M2XD" doc:"What the scanner typed: an RMA number or a tracking number, in any case, with or without dashes and scanner prefixes."`
	}
}

type scanOutput struct {
	Body *Scan
}

type receiptInput struct {
	idempotency.Header
	ID   string `path:"id" maxLength:"20" example:"1042" doc:"The return's ID or RMA number."`
	Body ReceiptInput
}

type receiptOutput struct {
	Body *Receipt
}

// Register adds the warehouse operations to api.
func Register(api huma.API, s *Service) {
	huma.Register(api, huma.Operation{
		OperationID: "scan-parcel",
		Method:      http.MethodPost,
		Path:        "/v1/scans",
		Summary:     "Scan a parcel at the warehouse",
		Description: "Records a parcel's arrival by RMA or tracking number and answers the items still expected. " +
			"Scanning the same parcel again answers the same with repeat: true. An unknown code answers 404; a parcel " +
			"of a cancelled, rejected or expired return answers 409.",
		Tags:     []string{"Warehouse"},
		Security: auth.Staff(auth.RoleWarehouse),
		Errors:   []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *scanInput) (*scanOutput, error) {
		sc, err := s.Scan(ctx, auth.MustFromContext(ctx).MerchantID, in.Body.Code)
		if err != nil {
			return nil, toProblem(err, in.Body.Code)
		}
		return &scanOutput{Body: sc}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "create-receipt",
		Method:      http.MethodPost,
		Path:        "/v1/returns/{id}/receipts",
		Summary:     "Record what arrived",
		Description: "Per item: units received, condition and disposition. wrong_item and missing units are not refunded " +
			"and the timeline says so. Receiving more than is still expected answers 422. The receipt that completes " +
			"the policy's refund trigger issues the refund in the same transaction.",
		Tags:          []string{"Warehouse"},
		Security:      auth.Staff(auth.RoleWarehouse),
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *receiptInput) (*receiptOutput, error) {
		p := auth.MustFromContext(ctx)
		id, err := returnID(ctx, s, p.MerchantID, in.ID)
		if err != nil {
			return nil, toProblem(err, in.ID)
		}
		rc, err := s.Receive(ctx, p.MerchantID, id, in.Body, p.Actor, idempotency.FromContext(ctx))
		if err != nil {
			return nil, toProblem(err, in.ID)
		}
		return &receiptOutput{Body: rc}, nil
	})
}

func returnID(ctx context.Context, s *Service, merchantID int64, idOrRMA string) (int64, error) {
	if id, err := strconv.ParseInt(idOrRMA, 10, 64); err == nil {
		return id, nil
	}
	rma, ok := returns.ParseRMA(idOrRMA)
	if !ok {
		return 0, returns.ErrNotFound
	}
	r, err := s.returns.ByRMA(ctx, merchantID, rma)
	if err != nil {
		return 0, err
	}
	return r.ID, nil
}
