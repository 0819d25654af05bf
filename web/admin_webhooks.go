package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/audit"
	"github.com/roundtriphq/roundtrip/internal/validation"
	"github.com/roundtriphq/roundtrip/notify"
)

// Webhook endpoints of the shop's systems, their deliveries with every attempt, and
// sending a delivery again: the admin's view of notify.Service, whose API answers
// the same.

const deliveriesPage = 50

type webhooksView struct {
	Nav       adminNav
	Notice    string
	Secret    *secretView
	Errors    []fieldErr
	Endpoints []notify.WebhookEndpoint
	Events    []notify.EventInfo
	Create    struct {
		URL, Description string
		Events           map[string]bool
	}
}

func (s *Server) adminWebhooks(rq *request) error {
	v := &webhooksView{}
	if rq.URL.Query().Get("deleted") != "" {
		v.Notice = "The endpoint is deleted, with its deliveries. Nothing more is sent to it."
	}
	return s.webhooksPage(rq, http.StatusOK, v)
}

func (s *Server) webhooksPage(rq *request, status int, v *webhooksView) error {
	var err error
	if v.Nav, err = s.nav(rq, "webhooks"); err != nil {
		return err
	}
	if v.Endpoints, _, err = s.webhooks.Endpoints(rq.ctx(), rq.p.MerchantID, "", 200); err != nil {
		return err
	}
	v.Events = notify.Catalogue
	return s.render(rq, status, "admin_webhooks", "Webhooks", v)
}

// adminCreateWebhook adds an endpoint; its signing secret is shown once.
func (s *Server) adminCreateWebhook(rq *request) error {
	ctx := rq.ctx()
	v := &webhooksView{}
	v.Create.URL = strings.TrimSpace(rq.PostFormValue("url"))
	v.Create.Description = strings.TrimSpace(rq.PostFormValue("description"))
	v.Create.Events = map[string]bool{}
	var events []notify.EventType
	for _, e := range rq.PostForm["event"] {
		v.Create.Events[e] = true
		events = append(events, notify.EventType(e))
	}
	if len(v.Create.Description) > 500 {
		v.Errors = append(v.Errors, fieldErr{ID: "wh-description", Label: "Description", Message: "use at most 500 characters"})
	}
	if v.Create.URL == "" || len(v.Create.URL) > 2048 {
		v.Errors = append(v.Errors, fieldErr{ID: "wh-url", Label: "URL", Message: "enter the https address that receives the events"})
	}
	if len(v.Errors) > 0 {
		return s.webhooksPage(rq, http.StatusUnprocessableEntity, v)
	}
	var e notify.WebhookEndpoint
	var secret string
	err := s.audit.Change(ctx, rq.p.MerchantID, rq.p.Actor, func(tx *sqlx.Tx) (audit.Entry, error) {
		var err error
		e, secret, err = s.webhooks.WithTx(tx).CreateEndpoint(ctx, rq.p.MerchantID, notify.EndpointInput{
			URL: v.Create.URL, Description: v.Create.Description, EnabledEvents: events, Enabled: true}, "")
		return notify.EndpointEntry(audit.EndpointCreated, e, e.Describe()), err
	})
	var ve *validation.Error
	if errors.As(err, &ve) {
		for _, f := range ve.Fields {
			id, label := "wh-url", "URL"
			if strings.HasPrefix(f.Path, "enabled_events") {
				id, label = "", "Events"
			}
			v.Errors = append(v.Errors, fieldErr{ID: id, Label: label, Message: f.Message})
		}
		return s.webhooksPage(rq, http.StatusUnprocessableEntity, v)
	}
	if err != nil {
		return err
	}
	return s.webhooksPage(rq, http.StatusOK, &webhooksView{
		Notice: "Endpoint added: events are sent to " + e.URL + ", signed with its secret.",
		Secret: &secretView{What: "The signing secret of " + e.URL + ".", Label: "Signing secret", Value: secret}})
}

type webhookView struct {
	Nav        adminNav
	Notice     string
	Secret     *secretView
	Errors     []fieldErr
	Endpoint   notify.WebhookEndpoint
	Deliveries []notify.WebhookDelivery
	// More is set when there are more deliveries than shown; Status filters them.
	More     bool
	Status   string
	Statuses []notify.DeliveryStatus
}

var noSuchEndpoint = &pageError{Status: http.StatusNotFound, Title: "No such endpoint",
	Message: "This shop has no webhook endpoint with that ID.", Link: "/admin/webhooks", LinkText: "Back to the webhooks"}

func (s *Server) adminWebhook(rq *request) error {
	v := &webhookView{}
	switch rq.URL.Query().Get("did") {
	case "enabled":
		v.Notice = "Enabled: new events are sent to it again. Parked deliveries stay parked until you send them again."
	case "disabled":
		v.Notice = "Disabled: nothing is sent to it, and queued deliveries are parked."
	case "retried":
		v.Notice = "Queued: the delivery is sent again in a moment."
	}
	return s.webhookPage(rq, http.StatusOK, v)
}

func (s *Server) webhookPage(rq *request, status int, v *webhookView) error {
	ctx := rq.ctx()
	var err error
	if v.Nav, err = s.nav(rq, "webhooks"); err != nil {
		return err
	}
	v.Endpoint, err = s.webhooks.Endpoint(ctx, rq.p.MerchantID, rq.PathValue("id"))
	if errors.Is(err, notify.ErrNotFound) {
		return noSuchEndpoint
	}
	if err != nil {
		return err
	}
	f := notify.DeliveryFilter{EndpointID: v.Endpoint.ID, Limit: deliveriesPage}
	v.Statuses = notify.Statuses()
	if st := notify.DeliveryStatus(rq.URL.Query().Get("status")); slices.Contains(v.Statuses, st) {
		f.Statuses, v.Status = []notify.DeliveryStatus{st}, string(st)
	}
	if v.Deliveries, v.More, err = s.webhooks.Deliveries(ctx, rq.p.MerchantID, f); err != nil {
		return err
	}
	return s.render(rq, status, "admin_webhook", "Webhook endpoint", v)
}

// adminWebhookEnabled enables or disables an endpoint.
func (s *Server) adminWebhookEnabled(rq *request) error {
	ctx := rq.ctx()
	on := rq.PostFormValue("enabled") == "1"
	id := rq.PathValue("id")
	err := s.audit.Change(ctx, rq.p.MerchantID, rq.p.Actor, func(tx *sqlx.Tx) (audit.Entry, error) {
		wh := s.webhooks.WithTx(tx)
		before, err := wh.Endpoint(ctx, rq.p.MerchantID, id)
		if err != nil {
			return audit.Entry{}, err
		}
		after, err := wh.UpdateEndpoint(ctx, rq.p.MerchantID, id, notify.EndpointPatch{Enabled: &on}, rq.p.Actor)
		return notify.EndpointEntry(audit.EndpointUpdated, after, audit.Lines(notify.EndpointChanges(before, after))), err
	})
	if errors.Is(err, notify.ErrNotFound) {
		return noSuchEndpoint
	}
	if err != nil {
		return err
	}
	did := "disabled"
	if on {
		did = "enabled"
	}
	return redirectTo("/admin/webhooks/" + id + "?did=" + did)
}

// adminWebhookRotate gives an endpoint a new secret, shown once; the old one signs
// too for a day.
func (s *Server) adminWebhookRotate(rq *request) error {
	ctx := rq.ctx()
	var e notify.WebhookEndpoint
	var secret string
	err := s.audit.Change(ctx, rq.p.MerchantID, rq.p.Actor, func(tx *sqlx.Tx) (audit.Entry, error) {
		var err error
		e, secret, err = s.webhooks.WithTx(tx).RotateSecret(ctx, rq.p.MerchantID, rq.PathValue("id"), notify.DefaultRotationGrace)
		return notify.EndpointEntry(audit.EndpointSecretRotated, e, notify.RotationSummary(e)), err
	})
	if errors.Is(err, notify.ErrNotFound) {
		return noSuchEndpoint
	}
	if err != nil {
		return err
	}
	return s.webhookPage(rq, http.StatusOK, &webhookView{
		Notice: "New signing secret made. For a day, requests also carry a signature made with the previous one, so the receiver can switch without refusing events.",
		Secret: &secretView{What: "The new signing secret of " + e.URL + ".", Label: "Signing secret", Value: secret}})
}

// adminWebhookDelete deletes an endpoint with its deliveries, once the admin has
// ticked that they mean it.
func (s *Server) adminWebhookDelete(rq *request) error {
	ctx := rq.ctx()
	id := rq.PathValue("id")
	if rq.PostFormValue("confirm") != "1" {
		return s.webhookPage(rq, http.StatusUnprocessableEntity, &webhookView{
			Errors: []fieldErr{{ID: "wh-confirm", Label: "Delete", Message: "tick the box to confirm that the endpoint and its deliveries go"}}})
	}
	err := s.audit.Change(ctx, rq.p.MerchantID, rq.p.Actor, func(tx *sqlx.Tx) (audit.Entry, error) {
		wh := s.webhooks.WithTx(tx)
		e, err := wh.Endpoint(ctx, rq.p.MerchantID, id)
		if err != nil {
			return audit.Entry{}, err
		}
		return notify.EndpointEntry(audit.EndpointDeleted, e, e.Describe()), wh.DeleteEndpoint(ctx, rq.p.MerchantID, id)
	})
	if errors.Is(err, notify.ErrNotFound) {
		return noSuchEndpoint
	}
	if err != nil {
		return err
	}
	return redirectTo("/admin/webhooks?deleted=1")
}

type deliveryView struct {
	Nav      adminNav
	Notice   string
	Delivery notify.WebhookDeliveryDetail
	Payload  string
}

var noSuchDelivery = &pageError{Status: http.StatusNotFound, Title: "No such delivery",
	Message: "This shop has no webhook delivery with that ID.", Link: "/admin/webhooks", LinkText: "Back to the webhooks"}

func (s *Server) adminDelivery(rq *request) error {
	v := &deliveryView{}
	var err error
	if v.Nav, err = s.nav(rq, "webhooks"); err != nil {
		return err
	}
	if rq.URL.Query().Get("did") == "retried" {
		v.Notice = "Queued: the delivery is sent again in a moment."
	}
	v.Delivery, err = s.webhooks.Delivery(rq.ctx(), rq.p.MerchantID, rq.PathValue("id"))
	if errors.Is(err, notify.ErrNotFound) {
		return noSuchDelivery
	}
	if err != nil {
		return err
	}
	if b, err := json.Marshal(v.Delivery.Event); err == nil {
		var out bytes.Buffer
		if json.Indent(&out, b, "", "  ") == nil {
			v.Payload = out.String()
		}
	}
	return s.render(rq, http.StatusOK, "admin_delivery", "Webhook delivery", v)
}

// adminDeliveryRetry sends a delivery again now.
func (s *Server) adminDeliveryRetry(rq *request) error {
	ctx := rq.ctx()
	var d notify.WebhookDelivery
	err := s.audit.Change(ctx, rq.p.MerchantID, rq.p.Actor, func(tx *sqlx.Tx) (audit.Entry, error) {
		var err error
		d, err = s.webhooks.WithTx(tx).RetryDelivery(ctx, rq.p.MerchantID, rq.PathValue("id"))
		return notify.DeliveryEntry(d), err
	})
	switch {
	case errors.Is(err, notify.ErrNotFound):
		return noSuchDelivery
	case errors.Is(err, notify.ErrEndpointDisabled):
		return &pageError{Status: http.StatusConflict, Title: "The endpoint is disabled",
			Message: "Nothing is sent to a disabled endpoint. Enable it first, then send the delivery again.",
			Link:    "/admin/webhooks", LinkText: "Back to the webhooks"}
	case err != nil:
		return err
	}
	if rq.PostFormValue("back") == "delivery" {
		return redirectTo("/admin/deliveries/" + d.ID + "?did=retried")
	}
	return redirectTo("/admin/webhooks/" + d.EndpointID + "?did=retried")
}
