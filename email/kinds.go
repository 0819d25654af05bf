package email

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/exchanges"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/labels"
	"github.com/roundtriphq/roundtrip/notify"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/returns"
)

// Kind names a message to the shopper.
type Kind string

const (
	// KindReviewNeeded: the return waits for the shop's review (policy with manual review).
	KindReviewNeeded Kind = "review_needed"
	// KindConfirmed: the return was approved at once; the label is attached.
	KindConfirmed Kind = "return_confirmed"
	// KindApproved: the shop approved a return it reviewed; the label is attached.
	KindApproved Kind = "return_approved"
	// KindRejected: the shop declined the return, with its reason.
	KindRejected Kind = "return_rejected"
	// KindLabelReminder: the label expires within two days and no parcel moved.
	KindLabelReminder Kind = "label_reminder"
	// KindInTransit: a carrier reported the parcel moving.
	KindInTransit Kind = "parcel_in_transit"
	// KindArrived: the parcel reached the warehouse.
	KindArrived Kind = "parcel_arrived"
	// KindRefundSent: the payment provider confirmed the refund.
	KindRefundSent Kind = "refund_sent"
	// KindRefundDelayed: the refund failed; the shop sends it again.
	KindRefundDelayed Kind = "refund_delayed"
	// KindCreditIssued: store credit was issued.
	KindCreditIssued Kind = "store_credit_issued"
	// KindReplacementShipped: the shop shipped an exchange's replacement.
	KindReplacementShipped Kind = "replacement_shipped"
	// KindCompleted: the return is done; asks for feedback.
	KindCompleted Kind = "return_completed"
)

// Kinds lists every kind in the order of a return's journey.
var Kinds = []Kind{KindReviewNeeded, KindConfirmed, KindApproved, KindRejected, KindLabelReminder,
	KindInTransit, KindArrived, KindRefundSent, KindRefundDelayed, KindCreditIssued, KindReplacementShipped, KindCompleted}

// Money reports whether k is about the shopper's money: such messages are sent
// even to a shopper who unsubscribed.
func (k Kind) Money() bool {
	return k == KindRefundSent || k == KindRefundDelayed || k == KindCreditIssued
}

// JobSend is the outbox job kind that sends one message.
const JobSend = "email.send"

type sendJob struct {
	ID int64 `json:"id"`
}

// Mail is the notify.Mailer: in the transaction that publishes an event, it answers
// the writes of the message the event calls for, if any, and of its outbox job, as a
// part of the event's statement. Each message is written once per return, kind and
// reference (the refund, the credit), however often its event is published.
func (s *Service) Mail(ctx context.Context, tx sqlx.ExtContext, merchantID int64, typ notify.EventType, data any) (*outbox.Part, error) {
	if !s.Enabled() {
		return nil, nil
	}
	var (
		returnID int64
		kind     Kind
		ref      string
		keep     any // what the message needs of the event
	)
	switch typ {
	case notify.ReturnCreated, notify.ReturnApproved:
		r, ok := asReturn(data)
		if !ok {
			return nil, nil
		}
		pol, err := s.returns.PolicyIn(ctx, tx, merchantID, r.PolicyVersion)
		if err != nil {
			return nil, err
		}
		returnID = r.ID
		switch {
		case typ == notify.ReturnCreated && pol.ManualReview && r.State == returns.StateRequested:
			kind = KindReviewNeeded
		case typ == notify.ReturnApproved && pol.ManualReview:
			kind = KindApproved
		case typ == notify.ReturnApproved:
			kind = KindConfirmed
		default:
			return nil, nil
		}
	case notify.ReturnRejected, notify.ReturnReceived, notify.ReturnCompleted:
		r, ok := asReturn(data)
		if !ok {
			return nil, nil
		}
		returnID, kind = r.ID, returnKinds[typ]
	case notify.ParcelInTransit, notify.ParcelDelivered:
		p, ok := data.(labels.Parcel)
		if pp, isPtr := data.(*labels.Parcel); isPtr && pp != nil {
			p, ok = *pp, true
		}
		if !ok {
			return nil, nil
		}
		returnID, kind = p.ReturnID, KindInTransit
		if typ == notify.ParcelDelivered {
			kind = KindArrived
		}
	case notify.RefundSucceeded, notify.RefundFailed:
		f, ok := data.(*refunds.Refund)
		if !ok || f == nil {
			return nil, nil
		}
		returnID, kind, ref, keep = f.ReturnID, KindRefundSent, strconv.FormatInt(f.ID, 10), refundData{ID: f.ID, Amount: f.Amount, Currency: f.Currency}
		if typ == notify.RefundFailed {
			kind, ref = KindRefundDelayed, fmt.Sprintf("%d:%d", f.ID, f.Attempt)
		}
	case notify.StoreCreditIssued:
		c, ok := data.(refunds.CreditIssued)
		if !ok {
			return nil, nil
		}
		var n int
		if err := sqlx.GetContext(ctx, tx, &n, `SELECT count(*) FROM email_messages
			WHERE merchant_id = $1 AND return_id = $2 AND kind = $3`, merchantID, c.ReturnID, KindCreditIssued); err != nil {
			return nil, fmt.Errorf("email: credit messages of %d: %w", c.ReturnID, err)
		}
		returnID, kind, ref, keep = c.ReturnID, KindCreditIssued, strconv.Itoa(n+1), creditData{Amount: c.Amount, Bonus: c.Bonus, Currency: c.Currency, Code: c.Code}
	case notify.ExchangeShipped:
		x, ok := data.(*exchanges.Exchange)
		if !ok || x == nil {
			return nil, nil
		}
		items := make([]string, len(x.Items))
		lines := make([]itemLine, len(x.Items))
		for i, it := range x.Items {
			items[i] = fmt.Sprintf("%d × %s", it.Quantity, it.Name)
			lines[i] = itemLine{Quantity: it.Quantity, Name: it.Name}
		}
		returnID, kind, ref, keep = x.ReturnID, KindReplacementShipped, strconv.FormatInt(x.ID, 10),
			shipmentData{Carrier: x.Carrier, Tracking: x.TrackingNumber, Items: strings.Join(items, "; "), Lines: lines}
	default:
		return nil, nil
	}
	raw := []byte("{}")
	if keep != nil {
		var err error
		if raw, err = json.Marshal(keep); err != nil {
			return nil, err
		}
	}
	// the message and its job; a message written before (once per return, kind and
	// reference) has its job already
	return &outbox.Part{With: `email_jobs AS (INSERT INTO email_messages (merchant_id, return_id, kind, ref, data)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (merchant_id, return_id, kind, ref) DO NOTHING
		RETURNING merchant_id, json_build_object('id', id) AS payload)`,
		Args: []any{merchantID, returnID, kind, ref, string(raw)}, Jobs: "email_jobs", Kind: JobSend, MaxAttempts: 100}, nil
}

// returnKinds are the messages of the events that need only the return.
var returnKinds = map[notify.EventType]Kind{
	notify.ReturnRejected:  KindRejected,
	notify.ReturnReceived:  KindArrived,
	notify.ReturnCompleted: KindCompleted,
}

// refundData is what a refund message keeps of its event.
type refundData struct {
	ID       int64  `json:"id"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// shipmentData is what a replacement's shipment message keeps of its event.
type shipmentData struct {
	Carrier  string `json:"carrier"`
	Tracking string `json:"tracking"`
	// Items is the replacement in words, for messages written before Lines.
	Items string     `json:"items"`
	Lines []itemLine `json:"lines,omitempty"`
}

// creditData is what a store credit message keeps of its event.
type creditData struct {
	Amount   int64  `json:"amount"`
	Bonus    int64  `json:"bonus"`
	Currency string `json:"currency"`
	Code     string `json:"code,omitempty"`
}

func asReturn(data any) (*returns.Return, bool) {
	switch r := data.(type) {
	case *returns.Return:
		return r, r != nil
	case returns.Return:
		return &r, true
	}
	return nil, false
}
