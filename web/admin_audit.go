package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/roundtriphq/roundtrip/audit"
	"github.com/roundtriphq/roundtrip/internal/cursor"
)

// The audit trail: every recorded admin action, newest first, a page at a time.

const auditPage = 50

type auditView struct {
	Nav     adminNav
	Entries []auditRow
	Older   string
	Newest  bool
}

type auditRow struct {
	audit.Entry
	What  string
	Lines []string
}

// actionWords names the recorded actions for people.
var actionWords = map[audit.Action]string{
	audit.PolicyUpdated:              "Return policy saved",
	audit.MerchantUpdated:            "Shop settings changed",
	audit.CarrierSecretRotated:       "Carrier secret replaced",
	audit.CarrierSettingsUpdated:     "Carrier settings changed",
	audit.CarrierWebhookTokenRotated: "Tracking webhook token replaced",
	audit.KeyCreated:                 "API key created",
	audit.KeyRevoked:                 "API key revoked",
	audit.UserCreated:                "User added",
	audit.UserDisabled:               "User disabled",
	audit.UserEnabled:                "User enabled",
	audit.UserPasswordReset:          "Password reset",
	audit.UserRoleChanged:            "Role changed",
	audit.EndpointCreated:            "Webhook endpoint added",
	audit.EndpointUpdated:            "Webhook endpoint changed",
	audit.EndpointDeleted:            "Webhook endpoint deleted",
	audit.EndpointSecretRotated:      "Webhook secret replaced",
	audit.DeliveryRetried:            "Webhook sent again",
	audit.EmailRetried:               "Email sent again",
	audit.LinksRevoked:               "Email links revoked",
	audit.ReturnApproved:             "Return approved",
	audit.ReturnRejected:             "Return rejected",
}

func (s *Server) adminAudit(rq *request) error {
	v := &auditView{}
	var err error
	if v.Nav, err = s.nav(rq, "audit"); err != nil {
		return err
	}
	before := pageAfter(rq, "before")
	list, more, err := s.audit.List(rq.ctx(), rq.p.MerchantID, before, auditPage)
	if cursor.IsUnknown(err) {
		before = ""
		list, more, err = s.audit.List(rq.ctx(), rq.p.MerchantID, before, auditPage)
	}
	v.Newest = before == ""
	if err != nil {
		return err
	}
	for _, e := range list {
		what, ok := actionWords[e.Action]
		if !ok {
			what = string(e.Action)
		}
		v.Entries = append(v.Entries, auditRow{Entry: e, What: what, Lines: strings.Split(e.Summary, "\n")})
	}
	if more {
		v.Older = "/admin/audit?before=" + url.QueryEscape(list[len(list)-1].ID)
	}
	return s.render(rq, http.StatusOK, "admin_audit", "Audit trail", v)
}
