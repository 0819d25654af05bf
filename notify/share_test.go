package notify

import (
	"reflect"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/internal/outbox"
)

// TestTheEventsOfOneStatementShareADeliveryJob: an event's deliveries join the job an
// earlier event of the same statement brought, the first of the shop's that is due now
// and names its deliveries in a list; a next attempt (due later), another shop's job,
// a job of another kind or of one delivery as older rows name it is left alone, and
// the caller's job list is not changed under it.
func TestTheEventsOfOneStatementShareADeliveryJob(t *testing.T) {
	first := []deliveryRef{{ID: "wd_a", Generation: 1}}
	mine := []deliveryRef{{ID: "wd_b", Generation: 1}, {ID: "wd_c", Generation: 1}}
	later := outbox.Message{MerchantID: 7, Kind: JobDeliver, RunAt: time.Now().Add(time.Minute), Payload: deliverJob{Deliveries: first}}
	others := outbox.Message{MerchantID: 8, Kind: JobDeliver, Payload: deliverJob{Deliveries: first}}
	oneOld := outbox.Message{MerchantID: 7, Kind: JobDeliver, Payload: deliverJob{DeliveryID: "wd_z", Generation: 1}}
	mail := outbox.Message{MerchantID: 7, Kind: "email.send", Payload: map[string]any{"id": 1}}
	shared := outbox.Message{MerchantID: 7, Kind: JobDeliver, Payload: deliverJob{Deliveries: first}}

	if shareJob([]outbox.Part{{Messages: []outbox.Message{later, others, oneOld, mail}}}, 7, mine) {
		t.Fatal("joined a job due later, another shop's, one of a single older delivery or an email's")
	}
	callers := []outbox.Message{mail, shared}
	parts := []outbox.Part{{With: "x AS (SELECT 1)"}, {Messages: callers}}
	if !shareJob(parts, 7, mine) {
		t.Fatal("the shop's job due now was not joined")
	}
	got, ok := parts[1].Messages[1].Payload.(deliverJob)
	if want := append(append([]deliveryRef{}, first...), mine...); !ok || !reflect.DeepEqual(got.Deliveries, want) {
		t.Errorf("the shared job names %+v, want %+v", got.Deliveries, want)
	}
	if p := callers[1].Payload.(deliverJob); len(p.Deliveries) != 1 {
		t.Errorf("the caller's job list was changed: %+v", p.Deliveries)
	}
	if !reflect.DeepEqual(parts[1].Messages[0], mail) {
		t.Errorf("the email's job changed: %+v", parts[1].Messages[0])
	}
}
