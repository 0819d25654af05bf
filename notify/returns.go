package notify

import (
	"context"
	"strings"

	"github.com/roundtriphq/roundtrip/internal/outbox"

	"github.com/roundtriphq/roundtrip/returns"
)

// returnEvents are the events a return's changes publish; a change not listed here
// publishes nothing of its own (a refund, a label or a parcel publishes its own event).
var returnEvents = map[returns.Event]EventType{
	returns.EventCreate:         ReturnCreated,
	returns.EventApprove:        ReturnApproved,
	returns.EventReject:         ReturnRejected,
	returns.EventCancel:         ReturnCancelled,
	returns.EventExpire:         ReturnExpired,
	returns.EventReceivePartial: ReturnReceived,
	returns.EventReceiveAll:     ReturnReceived,
	returns.EventComplete:       ReturnCompleted,
}

// ReturnChanged is the returns store's Notifier (returns.Effects): in the change's
// transaction it publishes the return, as GET /v1/returns/{id} answers it, under the
// event type of the change. The change's own writes (its state and timeline entry)
// are made by the same statement as the event.
func (s *Service) ReturnChanged(ctx context.Context, t *returns.Tx, ev returns.Event) error {
	typ, ok := returnEvents[ev]
	if !ok {
		return nil
	}
	if t.Follows() {
		// another statement of the change follows at once (the approval of a new
		// return, the label an approval issues): it makes this event's writes too,
		// first, and the event's data is the return as this change left it (encoded
		// now). The names of the event's writes end in its type, so that the events
		// of a creation and its approval can share that statement.
		return s.PublishDeferred(ctx, t, t.Return.MerchantID, typ, t.Return, t.Carried())
	}
	return s.publish(ctx, t.Tx, t.Return.MerchantID, typ, t.Return, t.Carried(), nil)
}

// PublishDeferred is PublishCarrying whose writes ride on the next statement of t's
// change (returns.Tx.Defer), after any it defers already: a change of the return that
// follows at once (its notice carries them), or the flush of what nothing carried.
// The event's data is encoded now. The names of its writes end in its type, so that
// the writes of several events can share that statement.
func (s *Service) PublishDeferred(ctx context.Context, t *returns.Tx, merchantID int64, eventType EventType, data any,
	carried []outbox.Part, jobs ...outbox.Message) error {
	parts, err := s.prepare(ctx, t.Tx, merchantID, eventType, data, carried, jobs, "_"+strings.ReplaceAll(string(eventType), ".", "_"))
	if err != nil {
		return err
	}
	t.Defer(parts...)
	return nil
}

// FeedbackReceived is the returns store's Notifier for a shopper's feedback: it
// publishes feedback.received in the transaction that stored the answer.
func (s *Service) FeedbackReceived(ctx context.Context, t *returns.Tx, f returns.Feedback) error {
	return s.Publish(ctx, t.Tx, t.Return.MerchantID, FeedbackReceived, f)
}
