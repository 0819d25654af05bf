package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/audit"
	"github.com/roundtriphq/roundtrip/internal/validation"
	"github.com/roundtriphq/roundtrip/labels"
	"github.com/roundtriphq/roundtrip/merchant"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/returns"
)

// Carriers: who issues the shop's labels (own S10 labels or labels bought through
// Shippo), the Shippo token (write-only), preferences, the default parcel, the
// tracking webhook URL to register at Shippo; and what needs staff: labels not
// bought yet or parked, carrier problems, and returns paid on the carrier's scan
// whose receipt found less (cases).

type carriersForm struct {
	Carrier, TokenHint, Carriers, Services string
	Parcel                                 merchant.ParcelTemplate
	OwnFallback, WebhookTokenSet           bool
}

type carriersView struct {
	Nav       adminNav
	Notice    string
	Errors    []fieldErr
	Bad       map[string]bool
	Form      carriersForm
	Secret    *secretView
	Attention []labels.Attention
	Cases     []refunds.Case
}

func carriersFormOf(cs merchant.CarrierSettings) carriersForm {
	return carriersForm{Carrier: cs.Carrier, TokenHint: cs.ShippoTokenHint, Carriers: strings.Join(cs.PreferredCarriers, ", "),
		Services: strings.Join(cs.PreferredServices, ", "), Parcel: cs.Parcel, OwnFallback: cs.OwnFallback,
		WebhookTokenSet: cs.WebhookTokenSet}
}

func (s *Server) adminCarriers(rq *request) error {
	cs, err := s.merchants.CarrierSettings(rq.ctx(), rq.p.MerchantID)
	if err != nil {
		return err
	}
	v := &carriersView{Form: carriersFormOf(cs)}
	if rq.URL.Query().Get("saved") != "" {
		v.Notice = "Saved. Labels issued from now on follow these settings."
	}
	if rq.URL.Query().Get("retried") != "" {
		v.Notice = "The label is being bought again."
	}
	return s.carriersPage(rq, http.StatusOK, v)
}

func (s *Server) carriersPage(rq *request, status int, v *carriersView) error {
	var err error
	if v.Nav, err = s.nav(rq, "carriers"); err != nil {
		return err
	}
	v.Bad = map[string]bool{}
	for _, e := range v.Errors {
		v.Bad[e.ID] = true
	}
	if v.Attention, err = s.labels.NeedsAttention(rq.ctx(), rq.p.MerchantID); err != nil {
		return err
	}
	if v.Cases, err = refunds.OpenCases(rq.ctx(), s.db, rq.p.MerchantID); err != nil {
		return err
	}
	return s.render(rq, status, "admin_carriers", "Carriers", v)
}

// carrierFields names the form's inputs by the paths of the settings' validation.
var carrierFields = map[string]fieldErr{
	"carrier":              {ID: "c-carrier-own", Label: "Carrier"},
	"shippo_token":         {ID: "c-token", Label: "Shippo API token"},
	"parcel.length":        {ID: "c-length", Label: "Length"},
	"parcel.width":         {ID: "c-width", Label: "Width"},
	"parcel.height":        {ID: "c-height", Label: "Height"},
	"parcel.distance_unit": {ID: "c-dunit", Label: "Length unit"},
	"parcel.weight":        {ID: "c-weight", Label: "Weight"},
	"parcel.mass_unit":     {ID: "c-munit", Label: "Weight unit"},
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// adminCarriersPost saves the carrier settings (op=save) or makes a new tracking
// webhook URL (op=webhook), each recorded in the audit trail.
func (s *Server) adminCarriersPost(rq *request) error {
	ctx := rq.ctx()
	if rq.PostFormValue("op") == "retry" {
		r, err := s.returns.ByPublicID(ctx, rq.p.MerchantID, rq.PostFormValue("return_id"))
		if err == nil {
			_, err = s.labels.RetryPurchase(ctx, rq.p.MerchantID, r.ID, int(parseID(rq.PostFormValue("parcel"))))
		}
		if errors.Is(err, labels.ErrNotParked) || errors.Is(err, labels.ErrNoParcel) || errors.Is(err, returns.ErrNotFound) {
			return redirectTo("/admin/carriers")
		}
		if err != nil {
			return err
		}
		return redirectTo("/admin/carriers?retried=1")
	}
	if rq.PostFormValue("op") == "webhook" {
		var token string
		err := s.audit.Change(ctx, rq.p.MerchantID, rq.p.Actor, func(tx *sqlx.Tx) (audit.Entry, error) {
			var err error
			token, err = merchant.RotateWebhookToken(ctx, tx, rq.p.MerchantID)
			return audit.Entry{Action: audit.CarrierWebhookTokenRotated, Target: "carrier webhook token",
				Summary: "A new tracking webhook URL was made; the previous one stopped working."}, err
		})
		if err != nil {
			return err
		}
		cs, err := s.merchants.CarrierSettings(ctx, rq.p.MerchantID)
		if err != nil {
			return err
		}
		u := s.origin(rq.Request) + "/v1/webhooks/shippo?" + url.Values{"merchant": {rq.merchant.Slug}, "token": {token}}.Encode()
		return s.carriersPage(rq, http.StatusOK, &carriersView{Form: carriersFormOf(cs),
			Notice: "Register this URL at Shippo (Settings → Webhooks) for the track_updated event. The previous URL stopped working.",
			Secret: &secretView{What: "The tracking webhook URL.", Label: "Webhook URL", Value: u}})
	}
	v := func(name string) string { return strings.TrimSpace(rq.PostFormValue(name)) }
	fallback := rq.PostFormValue("own_fallback") != ""
	in := merchant.CarrierSettingsInput{Carrier: v("carrier"), PreferredCarriers: splitList(v("preferred_carriers")),
		PreferredServices: splitList(v("preferred_services")), OwnFallback: &fallback,
		Parcel: &merchant.ParcelTemplate{Length: v("length"), Width: v("width"), Height: v("height"),
			DistanceUnit: v("distance_unit"), Weight: v("weight"), MassUnit: v("mass_unit")}}
	if t := v("shippo_token"); t != "" {
		in.ShippoToken = &t
	} else if rq.PostFormValue("remove_token") != "" {
		empty := ""
		in.ShippoToken = &empty
	}
	err := s.audit.Change(ctx, rq.p.MerchantID, rq.p.Actor, func(tx *sqlx.Tx) (audit.Entry, error) {
		before, after, err := merchant.SetCarrierSettings(ctx, tx, rq.p.MerchantID, in)
		return audit.Entry{Action: audit.CarrierSettingsUpdated, Target: "carrier settings",
			Summary: audit.Lines(merchant.CarrierChanges(before, after))}, err
	})
	var ve *validation.Error
	if errors.As(err, &ve) {
		cs, gerr := s.merchants.CarrierSettings(ctx, rq.p.MerchantID)
		if gerr != nil {
			return gerr
		}
		view := &carriersView{Form: carriersForm{Carrier: in.Carrier, TokenHint: cs.ShippoTokenHint, Carriers: v("preferred_carriers"),
			Services: v("preferred_services"), Parcel: *in.Parcel, OwnFallback: fallback, WebhookTokenSet: cs.WebhookTokenSet}}
		for _, fe := range ve.Fields {
			e, ok := carrierFields[fe.Path]
			if !ok {
				e = fieldErr{Label: fe.Path}
			}
			e.Message = fe.Message
			view.Errors = append(view.Errors, e)
		}
		return s.carriersPage(rq, http.StatusUnprocessableEntity, view)
	}
	if err != nil {
		return err
	}
	return redirectTo("/admin/carriers?saved=1")
}
