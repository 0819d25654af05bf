package labels

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/labels/shippo"
	"github.com/roundtriphq/roundtrip/merchant"
)

// Tracking of labels bought through Shippo: its track_updated webhooks, and a poller
// for parcels that heard nothing for a day (a webhook lost, or never registered).

// KindTrackPoll is the periodic job that polls Shippo for quiet parcels.
const KindTrackPoll = "label.track_poll"

// PollAfter is how long a parcel may go without a tracking update before it is
// polled, and how long before it is polled again.
const PollAfter = 24 * time.Hour

// ErrBadWebhookToken means a Shippo webhook came with a missing or wrong token.
var ErrBadWebhookToken = errors.New("labels: wrong carrier webhook token")

// ShippoEvent maps a Shippo tracking status to a carrier event: PRE_TRANSIT to
// pre_transit; TRANSIT to in_transit (the first movement); DELIVERED to delivered
// (at the warehouse dock); RETURNED and FAILURE to exception with a problem for
// staff. UNKNOWN (and anything else) maps to nothing: ok is false.
func ShippoEvent(tn string, st shippo.TrackingStatus) (ev CarrierEvent, ok bool) {
	ev = CarrierEvent{TrackingNumber: tn, OccurredAt: st.StatusDate, Detail: strings.TrimSpace(st.StatusDetails)}
	switch strings.ToUpper(st.Status) {
	case "PRE_TRANSIT":
		ev.Status = "pre_transit"
	case "TRANSIT":
		ev.Status = "in_transit"
	case "DELIVERED":
		ev.Status = "delivered"
	case "RETURNED":
		ev.Status, ev.Problem = "exception", "The carrier is returning the parcel to the shopper"
	case "FAILURE":
		ev.Status, ev.Problem = "exception", "The carrier reports a delivery failure"
	default:
		return CarrierEvent{}, false
	}
	if ev.Problem != "" && ev.Detail != "" {
		ev.Problem += ": " + ev.Detail
	}
	if ev.Problem != "" {
		ev.Problem += "."
	}
	return ev, true
}

// ShippoWebhookResult says what a Shippo webhook did.
type ShippoWebhookResult struct {
	Result string         `json:"result" enum:"applied,ignored" example:"applied"`
	Reason string         `json:"reason,omitempty" example:"not a track_updated event"`
	Update *CarrierUpdate `json:"update,omitempty"`
}

// HandleShippoWebhook applies a Shippo webhook body to the merchant whose slug and
// webhook token came in its URL. Events other than track_updated, statuses that say
// nothing (UNKNOWN) and tracking numbers the merchant does not have are ignored.
func (s *Service) HandleShippoWebhook(ctx context.Context, slug, token string, body []byte) (ShippoWebhookResult, error) {
	merchantID, err := s.merchants.ForWebhookToken(ctx, slug, token)
	if errors.Is(err, merchant.ErrBadWebhookToken) {
		return ShippoWebhookResult{}, ErrBadWebhookToken
	}
	if err != nil {
		return ShippoWebhookResult{}, err
	}
	var ev shippo.WebhookEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return ShippoWebhookResult{}, &WebhookBodyError{Err: err}
	}
	if ev.Event != "track_updated" {
		return ShippoWebhookResult{Result: "ignored", Reason: "not a track_updated event"}, nil
	}
	var tr shippo.Track
	if err := json.Unmarshal(ev.Data, &tr); err != nil {
		return ShippoWebhookResult{}, &WebhookBodyError{Err: err}
	}
	if tr.TrackingStatus == nil || tr.TrackingNumber == "" {
		return ShippoWebhookResult{Result: "ignored", Reason: "no tracking status"}, nil
	}
	ce, ok := ShippoEvent(tr.TrackingNumber, *tr.TrackingStatus)
	if !ok {
		return ShippoWebhookResult{Result: "ignored", Reason: "status " + tr.TrackingStatus.Status + " changes nothing"}, nil
	}
	up, err := s.RecordCarrierEvent(ctx, merchantID, ce)
	if errors.Is(err, ErrNoParcel) {
		return ShippoWebhookResult{Result: "ignored", Reason: "no parcel of the shop has that tracking number"}, nil
	}
	if err != nil {
		return ShippoWebhookResult{}, err
	}
	return ShippoWebhookResult{Result: "applied", Update: &up}, nil
}

// WebhookBodyError is a webhook body that is not Shippo's JSON.
type WebhookBodyError struct{ Err error }

func (e *WebhookBodyError) Error() string { return "labels: webhook body: " + e.Err.Error() }
func (e *WebhookBodyError) Unwrap() error { return e.Err }

// pollTracking is the KindTrackPoll job: it asks Shippo for the tracking of parcels
// bought through it that are still out there (issued, not arrived) and heard nothing
// for PollAfter, at most 100 a run, and applies what changed. The parcels are
// claimed (polled_at) in a statement of their own, committed at once: the carrier
// events that follow lock the same rows in their own transactions.
func (s *Service) pollTracking(ctx context.Context, _ *sqlx.Tx) error {
	_, err := s.PollTracking(ctx)
	return err
}

// PollTracking polls now (the periodic job calls it every hour): it returns how
// many parcels it asked Shippo about.
func (s *Service) PollTracking(ctx context.Context) (int, error) {
	var due []struct {
		ID         int64  `db:"id"`
		MerchantID int64  `db:"merchant_id"`
		Carrier    string `db:"carrier"`
		Name       string `db:"carrier_name"`
		Tracking   string `db:"tracking_number"`
	}
	err := s.db.SelectContext(ctx, &due, `UPDATE parcels SET polled_at = now() WHERE id IN (
			SELECT id FROM parcels WHERE status = 'issued' AND arrived_at IS NULL AND label_id IS NOT NULL
			AND coalesce(carrier_status_at, issued_at) < now() - $1 * interval '1 second'
			AND (polled_at IS NULL OR polled_at < now() - $1 * interval '1 second')
			ORDER BY coalesce(polled_at, issued_at) LIMIT 100 FOR UPDATE SKIP LOCKED)
		RETURNING id, merchant_id, carrier, coalesce(carrier_name, '') AS carrier_name, tracking_number`, PollAfter.Seconds())
	if err != nil {
		return 0, fmt.Errorf("labels: parcels to poll: %w", err)
	}
	for _, p := range due {
		if err := s.pollOne(ctx, p.MerchantID, p.Carrier, p.Name, p.Tracking); err != nil {
			s.log().Warn("tracking poll failed", slog.Int64("parcel", p.ID), slog.String("error", err.Error()))
		}
	}
	return len(due), nil
}

func (s *Service) pollOne(ctx context.Context, merchantID int64, code, name, tn string) error {
	m, err := s.merchants.Get(ctx, merchantID)
	if err != nil {
		return err
	}
	cs, err := s.merchants.CarrierSettings(ctx, merchantID)
	if err != nil {
		return err
	}
	c, err := s.carrierByCode(m, cs, code)
	if err != nil {
		return err
	}
	sc, ok := c.(*ShippoCarrier)
	if !ok {
		return nil
	}
	tr, err := sc.client.GetTrack(ctx, shippoCarrierName(name), tn)
	if err != nil {
		return err
	}
	if tr.TrackingStatus == nil {
		return nil
	}
	ev, ok := ShippoEvent(tn, *tr.TrackingStatus)
	if !ok {
		return nil
	}
	_, err = s.RecordCarrierEvent(ctx, merchantID, ev)
	return err
}

func (s *Service) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}
