package web

import (
	"github.com/roundtriphq/roundtrip/labels"
)

// labelText words the shopper's part of a label in the shopper's language, with a
// step that points to the policy page. The label fonts have no Japanese glyphs, so a
// Japanese reader's label is worded in English.
func (s *Server) labelText(rq *request, lb *labels.Label) {
	l := s.langOf(rq)
	if l.Code == "ja" {
		l = english()
	}
	carrier := lb.Carrier
	if carrier == "" {
		carrier = l.T("lbl-carrier")
	}
	t := labels.Text{
		ReturnTo:    l.T("lbl-return-to", "Shop", rq.merchant.Name),
		ScanToTrack: l.T("lbl-scan"),
		Title:       l.T("lbl-title", "Shop", rq.merchant.Name),
		CutCaption:  l.T("lbl-cut"),
		Steps: []string{
			l.T("lbl-step-pack"),
			l.T("lbl-step-cut"),
			l.T("lbl-step-drop", "Carrier", carrier, "Date", l.Date(lb.ValidUntil)),
		},
	}
	if lb.Parcels > 1 {
		t.Steps = append(t.Steps, l.T("lbl-step-parcels", "Parcels", lb.Parcels, "Parcel", lb.Parcel))
	}
	t.Steps = append(t.Steps, l.T("lbl-step-follow", "URL", lb.StatusURL),
		l.T("lbl-step-policy", "URL", s.origin(rq.Request)+portalPath(rq.merchant.Slug)+"/policy"))
	lb.Text = t
}
