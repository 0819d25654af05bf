package web

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/audit"
	"github.com/roundtriphq/roundtrip/internal/validation"
	"github.com/roundtriphq/roundtrip/merchant"
)

// Branding: the shop's name, logo, colour, support address and the name emails come
// from. The colour is previewed with the contrast check the portal applies to it
// (theme.go), before it is saved.

type brandingForm struct {
	Name, LogoURL, BrandColor, SupportEmail, SenderName string
}

type brandingView struct {
	Nav      adminNav
	Notice   string
	Errors   []fieldErr
	Bad      map[string]bool
	Form     brandingForm
	Slug     string
	Contrast contrastView
}

// contrastView is what the portal makes of a colour: the palette and its contrast
// ratios against WCAG AA.
type contrastView struct {
	Color, OnBrand, Ink string
	// OnBrandWhite says whether text on the colour is white (else black).
	OnBrandWhite bool
	// OnBrandRatio is the contrast of that text on the colour; InkRatio that of the
	// links' colour on white, and ColorRatio that of the colour itself on white.
	OnBrandRatio, InkRatio, ColorRatio string
	// Darkened is set when links use a darker shade than the colour, which is too
	// light to read on white.
	Darkened bool
	Default  bool
	CSS      template.CSS
}

// contrastOf computes the palette the portal would use for color.
func contrastOf(color string) contrastView {
	p := brandPalette(color)
	ratio := func(a, b rgb) string { return fmt.Sprintf("%.1f:1", contrast(a, b)) }
	_, ok := parseHex(color)
	return contrastView{
		Color: p.Brand.hex(), OnBrand: p.OnBrand.hex(), Ink: p.Ink.hex(), OnBrandWhite: p.OnBrand == white,
		OnBrandRatio: ratio(p.OnBrand, p.Brand), InkRatio: ratio(p.Ink, white), ColorRatio: ratio(p.Brand, white),
		Darkened: p.Ink != p.Brand, Default: !ok || strings.TrimSpace(color) == "",
		CSS: template.CSS(fmt.Sprintf(".swatch-brand{background:%s;color:%s}.swatch-ink{color:%s}",
			p.Brand.hex(), p.OnBrand.hex(), p.Ink.hex())),
	}
}

func brandingFormOf(m merchant.Merchant) brandingForm {
	st := m.Settings
	return brandingForm{Name: m.Name, LogoURL: st.LogoURL, BrandColor: st.BrandColor, SupportEmail: st.SupportEmail, SenderName: st.SenderName}
}

func (s *Server) adminBranding(rq *request) error {
	v := &brandingView{Form: brandingFormOf(*rq.merchant)}
	if rq.URL.Query().Get("saved") != "" {
		v.Notice = "Saved. The portal and the emails use it from now on."
	}
	return s.brandingPage(rq, http.StatusOK, v)
}

func (s *Server) brandingPage(rq *request, status int, v *brandingView) error {
	var err error
	if v.Nav, err = s.nav(rq, "branding"); err != nil {
		return err
	}
	v.Slug = rq.merchant.Slug
	v.Bad = map[string]bool{}
	for _, e := range v.Errors {
		v.Bad[e.ID] = true
	}
	v.Contrast = contrastOf(v.Form.BrandColor)
	return s.render(rq, status, "admin_branding", "Branding", v)
}

// brandingFields names the form's inputs by the paths of Merchant.Validate.
var brandingFields = map[string]fieldErr{
	"name":                   {ID: "b-name", Label: "Shop name"},
	"settings.logo_url":      {ID: "b-logo", Label: "Logo URL"},
	"settings.brand_color":   {ID: "b-color", Label: "Brand colour"},
	"settings.support_email": {ID: "b-email", Label: "Support email"},
	"settings.sender_name":   {ID: "b-sender", Label: "Sender name"},
}

// adminBrandingPost previews (op=preview) or saves the branding; saving records
// what changed in the audit trail.
func (s *Server) adminBrandingPost(rq *request) error {
	ctx := rq.ctx()
	v := func(name string) string { return strings.TrimSpace(rq.PostFormValue(name)) }
	f := brandingForm{Name: v("name"), LogoURL: v("logo_url"), BrandColor: strings.ToLower(v("brand_color")),
		SupportEmail: v("support_email"), SenderName: v("sender_name")}
	if f.BrandColor != "" && !strings.HasPrefix(f.BrandColor, "#") {
		f.BrandColor = "#" + f.BrandColor
	}
	apply := func(m *merchant.Merchant) {
		m.Name = f.Name
		m.Settings.LogoURL, m.Settings.BrandColor, m.Settings.SupportEmail, m.Settings.SenderName =
			f.LogoURL, f.BrandColor, f.SupportEmail, f.SenderName
	}
	view := &brandingView{Form: f}
	check := *rq.merchant
	apply(&check)
	if err := check.Validate(); err != nil {
		var ve *validation.Error
		if !errors.As(err, &ve) {
			return err
		}
		for _, fe := range ve.Fields {
			e, ok := brandingFields[fe.Path]
			if !ok {
				e = fieldErr{Label: fe.Path}
			}
			e.Message = fe.Message
			view.Errors = append(view.Errors, e)
		}
		return s.brandingPage(rq, http.StatusUnprocessableEntity, view)
	}
	if rq.PostFormValue("op") != "save" {
		return s.brandingPage(rq, http.StatusOK, view)
	}
	err := s.audit.Change(ctx, rq.p.MerchantID, rq.p.Actor, func(tx *sqlx.Tx) (audit.Entry, error) {
		before, after, err := s.merchants.WithTx(tx).Edit(ctx, rq.p.MerchantID, func(m *merchant.Merchant) error {
			apply(m)
			return nil
		})
		return audit.Entry{Action: audit.MerchantUpdated, Target: "shop " + after.Slug, Summary: audit.Lines(merchant.Changes(before, after))}, err
	})
	if err != nil {
		return err
	}
	return redirectTo("/admin/branding?saved=1")
}
