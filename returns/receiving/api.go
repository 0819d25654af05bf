package receiving

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/idempotency"
)

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
	ID   string `path:"id" maxLength:"40" example:"ret_5kq2m9x4c8v1b7n3z6p0r4t2wd" doc:"The return's ID (ret_…), or its RMA number (R-7KQ4-M2XD)."`
	Body ReceiptInput
}

type receiptOutput struct {
	Body *Receipt
}

type receiptsInput struct {
	ID string `path:"id" maxLength:"40" example:"ret_5kq2m9x4c8v1b7n3z6p0r4t2wd" doc:"The return's ID (ret_…), or its RMA number (R-7KQ4-M2XD)."`
}

type receiptsOutput struct {
	Body struct {
		Data []RecordedReceipt `json:"data"`
	}
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
			return nil, err
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
		rc, err := s.ReceiveFor(ctx, p, in.ID, in.Body, idempotency.FromContext(ctx))
		if err != nil {
			return nil, err
		}
		return &receiptOutput{Body: rc}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "list-receipts",
		Method:      http.MethodGet,
		Path:        "/v1/returns/{id}/receipts",
		Summary:     "List what the warehouse recorded",
		Description: "Every receipt of the return, oldest first: who recorded it and when, the parcel, and what was entered " +
			"(items with condition, disposition and note; unexpected items; the parcel's note). Notes are for staff only.",
		Tags:     []string{"Warehouse"},
		Security: auth.Staff(auth.RoleWarehouse, auth.RoleFinance),
		Errors:   []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound},
	}, func(ctx context.Context, in *receiptsInput) (*receiptsOutput, error) {
		p := auth.MustFromContext(ctx)
		r, err := s.returns.Find(ctx, p, in.ID)
		if err != nil {
			return nil, err
		}
		list, err := Receipts(ctx, s.returns.DB(), p.MerchantID, r.ID)
		if err != nil {
			return nil, err
		}
		out := &receiptsOutput{}
		out.Body.Data = list
		return out, nil
	})
}
