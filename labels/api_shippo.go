package labels

import (
	"context"
	"net/http"
	"net/url"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/audit"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/merchant"
)

type carrierSettingsOutput struct {
	Body merchant.CarrierSettings
}

type carrierSettingsInput struct {
	Body merchant.CarrierSettingsInput
}

// WebhookToken is a new token for the Shippo tracking webhook.
type WebhookToken struct {
	Token      string `json:"token" example:"rtw_kq3zv7m2xd4p8w6n5t1r0s9y2a" doc:"Shown only now; only its hash is kept."`
	WebhookURL string `json:"webhook_url" example:"https://returns.example.com/v1/webhooks/shippo?merchant=northwind&token=rtw_kq3zv7m2xd4p8w6n5t1r0s9y2a" doc:"Register this URL at Shippo (Settings → Webhooks) for the track_updated event."`
}

type webhookTokenInput struct {
	origin string
}

// Resolve notes the request's origin, for the webhook URL when the service has no
// base URL configured.
func (in *webhookTokenInput) Resolve(ctx huma.Context) []error {
	scheme := "http"
	if ctx.TLS() != nil {
		scheme = "https"
	}
	in.origin = scheme + "://" + ctx.Host()
	return nil
}

type webhookTokenOutput struct {
	Body WebhookToken
}

type shippoWebhookInput struct {
	Merchant string `query:"merchant" maxLength:"63" doc:"The shop's slug."`
	Token    string `query:"token" maxLength:"200" doc:"The shop's webhook token (POST /v1/carrier-settings/webhook-token)."`
	RawBody  []byte
}

type shippoWebhookOutput struct {
	Body ShippoWebhookResult
}

// MaxWebhookBytes bounds a Shippo webhook body.
const MaxWebhookBytes = 1 << 20

func registerShippo(api huma.API, s *Service, a *audit.Log) {
	huma.Register(api, huma.Operation{
		OperationID: "get-carrier-settings",
		Method:      http.MethodGet,
		Path:        "/v1/carrier-settings",
		Summary:     "Get the carrier settings",
		Description: "Who issues the shop's return labels (own S10 labels, or labels bought through Shippo), the preferred " +
			"carriers and service levels, the default parcel and whether own labels stand in when Shippo cannot sell one. " +
			"The Shippo token is never answered, only its last characters.",
		Tags:     []string{"Labels"},
		Security: auth.Staff(),
		Errors:   []int{http.StatusUnauthorized, http.StatusForbidden},
	}, func(ctx context.Context, _ *struct{}) (*carrierSettingsOutput, error) {
		cs, err := s.merchants.CarrierSettings(ctx, auth.MustFromContext(ctx).MerchantID)
		if err != nil {
			return nil, err
		}
		return &carrierSettingsOutput{Body: cs}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "update-carrier-settings",
		Method:      http.MethodPut,
		Path:        "/v1/carrier-settings",
		Summary:     "Update the carrier settings",
		Description: "Replaces the carrier settings; shippo_token absent keeps the token on file. carrier shippo needs a " +
			"token. Labels already issued keep their carrier. The change is recorded in the audit trail (the token only as " +
			"replaced or removed).",
		Tags:     []string{"Labels"},
		Security: auth.Staff(),
		Errors:   []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *carrierSettingsInput) (*carrierSettingsOutput, error) {
		p := auth.MustFromContext(ctx)
		var out merchant.CarrierSettings
		err := a.Change(ctx, p.MerchantID, p.Actor, func(tx *sqlx.Tx) (audit.Entry, error) {
			before, after, err := merchant.SetCarrierSettings(ctx, tx, p.MerchantID, in.Body)
			out = after
			return audit.Entry{Action: audit.CarrierSettingsUpdated, Target: "carrier settings",
				Summary: audit.Lines(merchant.CarrierChanges(before, after))}, err
		})
		if err != nil {
			return nil, err
		}
		return &carrierSettingsOutput{Body: out}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "rotate-carrier-webhook-token",
		Method:      http.MethodPost,
		Path:        "/v1/carrier-settings/webhook-token",
		Summary:     "Make the Shippo tracking webhook URL",
		Description: "Makes a new secret token and answers the webhook URL that carries it, this once, to register at Shippo " +
			"for track_updated events; the previous URL stops working at once.",
		Tags:     []string{"Labels"},
		Security: auth.Staff(),
		Errors:   []int{http.StatusUnauthorized, http.StatusForbidden},
	}, func(ctx context.Context, in *webhookTokenInput) (*webhookTokenOutput, error) {
		p := auth.MustFromContext(ctx)
		var token string
		m, err := s.merchants.Get(ctx, p.MerchantID)
		if err != nil {
			return nil, err
		}
		err = a.Change(ctx, p.MerchantID, p.Actor, func(tx *sqlx.Tx) (audit.Entry, error) {
			var err error
			token, err = merchant.RotateWebhookToken(ctx, tx, p.MerchantID)
			return audit.Entry{Action: audit.CarrierWebhookTokenRotated, Target: "carrier webhook token",
				Summary: "A new tracking webhook URL was made; the previous one stopped working."}, err
		})
		if err != nil {
			return nil, err
		}
		base := s.baseURL
		if base == "" {
			base = in.origin
		}
		u := base + "/v1/webhooks/shippo?" + url.Values{"merchant": {m.Slug}, "token": {token}}.Encode()
		return &webhookTokenOutput{Body: WebhookToken{Token: token, WebhookURL: u}}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "receive-shippo-webhook",
		Method:      http.MethodPost,
		Path:        "/v1/webhooks/shippo",
		Summary:     "Receive a Shippo tracking event",
		Description: "Shippo calls this with track_updated events, at the URL from POST /v1/carrier-settings/webhook-token " +
			"(the shop's slug and secret token in the query; compared in constant time). TRANSIT is the parcel's first " +
			"movement (the return goes in transit, and the on_carrier_scan trigger refunds); DELIVERED puts " +
			"\"arrived at the warehouse dock\" on the timeline; RETURNED and FAILURE are shown to staff. Other events, " +
			"UNKNOWN and unknown tracking numbers are ignored (200).",
		Tags:             []string{"Webhooks"},
		SkipValidateBody: true,
		MaxBodyBytes:     MaxWebhookBytes,
		Errors:           []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge},
	}, func(ctx context.Context, in *shippoWebhookInput) (*shippoWebhookOutput, error) {
		res, err := s.HandleShippoWebhook(ctx, in.Merchant, in.Token, in.RawBody)
		if err != nil {
			return nil, err
		}
		return &shippoWebhookOutput{Body: res}, nil
	})
}
