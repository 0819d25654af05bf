package labels

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/audit"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/idempotency"
)

// ---- operation types

type labelInput struct {
	ID     string `path:"id" maxLength:"40" example:"ret_5kq2m9x4c8v1b7n3z6p0r4t2wd" doc:"The return's ID (ret_…), or its RMA number (R-7KQ4-M2XD)."`
	Parcel int    `query:"parcel" minimum:"1" maximum:"10" default:"1" doc:"The parcel whose label to print."`
	Format string `query:"format" enum:"4x6,letter,a4,zpl,qr" default:"4x6" doc:"4x6: a 4x6 inch PDF page for label printers; letter or a4: the same label on a page for home printers, with packing instructions (a label bought through Shippo is the carrier's own 4x6 PDF in every PDF format); zpl: ZPL II for Zebra thermal printers (203 dpi); qr: the drop-off QR code as PNG (the carrier's code to show at the counter when it gave one, else ours of the tracking number)."`

	origin string // the request's own scheme and host
}

// Resolve notes the request's origin, for the status URL when the service
// has no base URL configured.
func (in *labelInput) Resolve(ctx huma.Context) []error {
	scheme := "http"
	if ctx.TLS() != nil {
		scheme = "https"
	}
	in.origin = scheme + "://" + ctx.Host()
	return nil
}

type labelOutput struct {
	ContentType        string `header:"Content-Type"`
	ContentDisposition string `header:"Content-Disposition"`
	CacheControl       string `header:"Cache-Control"`
	Body               []byte
}

type returnPath struct {
	ID string `path:"id" maxLength:"40" example:"ret_5kq2m9x4c8v1b7n3z6p0r4t2wd" doc:"The return's ID (ret_…), or its RMA number (R-7KQ4-M2XD)."`
}

type addParcelInput struct {
	idempotency.Header
	ID string `path:"id" maxLength:"40" example:"ret_5kq2m9x4c8v1b7n3z6p0r4t2wd" doc:"The return's ID (ret_…), or its RMA number (R-7KQ4-M2XD)."`
}

// parcelList is a return's parcels, by number.
type parcelList struct {
	Data []Parcel `json:"data"`
}

type retryLabelInput struct {
	ID     string `path:"id" maxLength:"40" example:"ret_5kq2m9x4c8v1b7n3z6p0r4t2wd" doc:"The return's ID (ret_…), or its RMA number (R-7KQ4-M2XD)."`
	Number int    `path:"number" minimum:"1" maximum:"10" example:"1"`
}

type parcelOutput struct {
	Body Parcel
}

type parcelsOutput struct {
	Body parcelList
}

type carrierEventInput struct {
	Secret string `header:"X-Carrier-Secret" maxLength:"200" doc:"The merchant's carrier secret (rtc_…), from POST /v1/carrier-secret. It names the merchant."`
	Body   carrierEventBody
}

type carrierEventBody struct {
	TrackingNumber string    `json:"tracking_number" minLength:"1" maxLength:"40" example:"ZR000000425GB" doc:"The parcel's tracking number (spaces, dashes and case are ignored)."`
	Status         string    `json:"status" enum:"pre_transit,in_transit,out_for_delivery,delivered,exception" example:"in_transit" doc:"in_transit, out_for_delivery and delivered mean the parcel is moving; pre_transit and exception only update its carrier status."`
	OccurredAt     time.Time `json:"occurred_at,omitzero" required:"false" example:"2026-03-02T14:05:00Z" doc:"When it happened (default: now). An event older than the parcel's latest does not change its carrier status."`
}

type carrierEventOutput struct {
	Body CarrierUpdate
}

// CarrierSecret is a new carrier secret.
type CarrierSecret struct {
	Secret string `json:"secret" example:"rtc_northwind_kq3zv7m2xd4p8w6n5t1r0s9y2a" doc:"Send it as X-Carrier-Secret with every carrier event. It is shown only now: store it safely; only its hash is kept."`
	Header string `json:"header" example:"X-Carrier-Secret"`
}

type carrierSecretOutput struct {
	Body CarrierSecret
}

// returnParcel is Parcel under the schema name ReturnParcel in the OpenAPI
// document, which has no package names to tell it from other parcels.
type returnParcel Parcel

// Register adds the label, parcel and carrier operations to api; rotations of the
// carrier secret are recorded in the audit trail a.
func Register(api huma.API, s *Service, a *audit.Log) {
	api.OpenAPI().Components.Schemas.RegisterTypeAlias(reflect.TypeFor[Parcel](), reflect.TypeFor[returnParcel]())
	pdf := &huma.Schema{Type: huma.TypeString, Format: "binary"}
	registerShippo(api, s, a)
	huma.Register(api, huma.Operation{
		OperationID: "get-return-label",
		Method:      http.MethodGet,
		Path:        "/v1/returns/{id}/label",
		Summary:     "Print a parcel's prepaid return label",
		Description: "The label as PDF: sender and returns address, carrier, tracking number and RMA as barcodes, a QR code " +
			"to follow the return, parcel n of m; or as ZPL (format=zpl) for thermal printers; or its drop-off QR code " +
			"(format=qr). Approval issues parcel 1; more parcels come from POST /v1/returns/{id}/parcels. " +
			"A voided label (the return was cancelled, rejected or expired) answers 410; a return without labels " +
			"(waiting for review, or nothing to send back) and a label still being bought from the carrier " +
			"(label_being_prepared, with Retry-After) answer 409.",
		Tags:     []string{"Labels"},
		Security: auth.StaffOrShopper(auth.RoleIntegration, auth.RoleWarehouse),
		Responses: map[string]*huma.Response{
			"200": {
				Description: "The label (PDF).",
				Content: map[string]*huma.MediaType{"application/pdf": {Schema: pdf}, "application/zpl": {Schema: pdf},
					"image/png": {Schema: pdf}},
			},
		},
		Errors: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusGone, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *labelInput) (*labelOutput, error) {
		// the return, its order and its parcels in one statement
		rd, err := s.store.FindWith(ctx, auth.MustFromContext(ctx), in.ID, ParcelsJSON(in.Parcel))
		if err != nil {
			return nil, err
		}
		ps, err := DecodeParcels(rd.Extra, rd.Return)
		if err != nil {
			return nil, err
		}
		f, err := s.FileOf(ctx, rd, ps, in.Parcel, Format(in.Format), in.origin, nil)
		if err != nil {
			return nil, err
		}
		return &labelOutput{
			ContentType:        f.ContentType,
			ContentDisposition: fmt.Sprintf(`inline; filename="%s"`, f.Name),
			CacheControl:       "private, no-cache",
			Body:               f.Body,
		}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "list-parcels",
		Method:      http.MethodGet,
		Path:        "/v1/returns/{id}/parcels",
		Summary:     "List a return's parcels",
		Description: "Each parcel with its tracking number, label status, validity, carrier status and arrival.",
		Tags:        []string{"Labels"},
		Security:    auth.StaffOrShopper(auth.RoleIntegration, auth.RoleWarehouse, auth.RoleFinance),
		Errors:      []int{http.StatusUnauthorized, http.StatusNotFound},
	}, func(ctx context.Context, in *returnPath) (*parcelsOutput, error) {
		r, err := s.store.Find(ctx, auth.MustFromContext(ctx), in.ID)
		if err != nil {
			return nil, err
		}
		list, err := s.Parcels(ctx, r)
		if err != nil {
			return nil, err
		}
		out := &parcelsOutput{}
		out.Body.Data = list
		return out, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "add-parcel",
		Method:      http.MethodPost,
		Path:        "/v1/returns/{id}/parcels",
		Summary:     "Add a parcel to a return",
		Description: fmt.Sprintf("For items that do not fit in one box: issues another free label with its own tracking "+
			"number, valid for the policy's label validity from now. Allowed while the return waits for its parcels "+
			"(approved, in transit or partially received), up to %d parcels. Answers every parcel of the return. "+
			"Send an Idempotency-Key: a retry then adds nothing.", MaxParcels),
		Tags:          []string{"Labels"},
		Security:      auth.StaffOrShopper(auth.RoleIntegration),
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *addParcelInput) (*parcelsOutput, error) {
		r, err := s.store.Find(ctx, auth.MustFromContext(ctx), in.ID)
		if err != nil {
			return nil, err
		}
		list, err := s.AddParcel(ctx, r.MerchantID, r.ID, idempotency.FromContext(ctx))
		if err != nil {
			return nil, err
		}
		out := &parcelsOutput{}
		out.Body.Data = list
		return out, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "retry-label-purchase",
		Method:      http.MethodPost,
		Path:        "/v1/returns/{id}/parcels/{number}/label-retry",
		Summary:     "Try buying a parked label again",
		Description: "For a parcel whose label could not be bought from the carrier after every retry (label_parked): " +
			"queues the purchase again with fresh attempts. It still looks for an earlier sale first, so nothing is " +
			"bought twice. Any other parcel answers 409.",
		Tags:     []string{"Labels"},
		Security: auth.Staff(),
		Errors:   []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *retryLabelInput) (*parcelOutput, error) {
		r, err := s.store.Find(ctx, auth.MustFromContext(ctx), in.ID)
		if err != nil {
			return nil, err
		}
		p, err := s.RetryPurchase(ctx, r.MerchantID, r.ID, in.Number)
		if err != nil {
			return nil, err
		}
		return &parcelOutput{Body: p}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "receive-carrier-event",
		Method:      http.MethodPost,
		Path:        "/v1/carrier-events",
		Summary:     "Receive a carrier's tracking event",
		Description: "For carriers (or an aggregator): authenticated with the merchant's carrier secret in X-Carrier-Secret " +
			"(no bearer token). The first movement of a parcel (in_transit, out_for_delivery or delivered) moves an approved " +
			"return to in_transit and is recorded in its timeline; repeats and later events only update the parcel's " +
			"carrier status, and answer 200 too. An unknown tracking number answers 404.",
		Tags:   []string{"Labels"},
		Errors: []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *carrierEventInput) (*carrierEventOutput, error) {
		merchantID, err := s.MerchantForSecret(ctx, in.Secret)
		if err != nil {
			return nil, err
		}
		up, err := s.RecordCarrierEvent(ctx, merchantID, CarrierEvent{
			TrackingNumber: in.Body.TrackingNumber, Status: in.Body.Status, OccurredAt: in.Body.OccurredAt,
		})
		if err != nil {
			return nil, err
		}
		return &carrierEventOutput{Body: up}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "rotate-carrier-secret",
		Method:      http.MethodPost,
		Path:        "/v1/carrier-secret",
		Summary:     "Rotate the carrier secret",
		Description: "Makes a new secret for POST /v1/carrier-events and answers it, this once; the previous secret stops " +
			"working at once. The secret starts with rtc_ and the merchant's slug, so carriers need send nothing else.",
		Tags:     []string{"Labels"},
		Security: auth.Staff(),
		Errors:   []int{http.StatusUnauthorized, http.StatusForbidden},
	}, func(ctx context.Context, _ *struct{}) (*carrierSecretOutput, error) {
		p := auth.MustFromContext(ctx)
		var secret string
		err := a.Change(ctx, p.MerchantID, p.Actor, func(tx *sqlx.Tx) (audit.Entry, error) {
			var err error
			secret, err = s.RotateCarrierSecret(ctx, tx, p.MerchantID)
			return audit.Entry{Action: audit.CarrierSecretRotated, Target: "carrier secret",
				Summary: "A new carrier secret was made; the previous one stopped working."}, err
		})
		if err != nil {
			return nil, err
		}
		return &carrierSecretOutput{Body: CarrierSecret{Secret: secret, Header: "X-Carrier-Secret"}}, nil
	})
}
