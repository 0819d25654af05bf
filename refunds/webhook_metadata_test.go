package refunds_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/refunds/fakestripe"
)

// TestWebhookNamesTheRefundByItsPublicID: Stripe's refunds carry our public IDs
// (rf_…, ret_…), never internal ones, and a Stripe event finds our refund by its
// refund_id metadata even while our row does not yet hold the Stripe ID (as when the
// send job has not committed Stripe's answer): the refund named settles, the other
// one does not move. A refund sent before public IDs went to Stripe carries its
// internal ID in decimal and is still found by it.
func TestWebhookNamesTheRefundByItsPublicID(t *testing.T) {
	t.Parallel()
	f := newFlow(t, fakestripe.Options{RefundStatus: fakestripe.StatusPending}) // events recorded, not sent
	tee := f.createReturn(t, map[string]any{"line_id": "l1", "quantity": 2, "reason": "too_small"})
	cap := f.createReturn(t, map[string]any{"line_id": "l2", "quantity": 1, "reason": "too_small"})
	f.mustReceive(t, tee, received)
	f.mustReceive(t, cap, map[string]any{"line_id": "l2", "quantity": 1, "condition": "like_new", "disposition": "restock"})
	f.drain(t)

	type sent struct {
		r      ret
		refund refunds.Refund
		stripe fakestripe.Refund
	}
	var both []sent
	for _, r := range []ret{tee, cap} {
		fr := f.oneRefund(t, r)
		srs := f.stripe.RefundsByMetadata("rma", r.RMA)
		if fr.Status != refunds.StatusPending || len(srs) != 1 {
			t.Fatalf("%s: got refund %s and %d Stripe refunds, want pending and 1", r.RMA, fr.Status, len(srs))
		}
		want := map[string]string{"refund_id": fr.PublicID, "return_id": r.ID, "rma": r.RMA}
		if !maps.Equal(srs[0].Metadata, want) {
			t.Errorf("%s: got Stripe metadata %v, want %v: public IDs only", r.RMA, srs[0].Metadata, want)
		}
		both = append(both, sent{r, fr, srs[0]})
	}
	// our rows forget their Stripe IDs: only the metadata can name them now
	if _, err := f.env.DB.Exec(`UPDATE refunds SET stripe_refund_id = NULL`); err != nil {
		t.Fatal(err)
	}

	settle := func(s sent, metadataID string) {
		t.Helper()
		if err := f.stripe.SetRefundStatus(s.stripe.ID, fakestripe.StatusSucceeded, ""); err != nil {
			t.Fatal(err)
		}
		evs := f.stripe.Events()
		payload := evs[len(evs)-1].Payload
		if metadataID != "" {
			var ev map[string]any
			if err := json.Unmarshal(payload, &ev); err != nil {
				t.Fatal(err)
			}
			ev["id"] = fmt.Sprint(ev["id"], "_legacy")
			obj := ev["data"].(map[string]any)["object"].(map[string]any)
			obj["metadata"].(map[string]any)["refund_id"] = metadataID
			var err error
			if payload, err = json.Marshal(ev); err != nil {
				t.Fatal(err)
			}
		}
		if status, _ := f.postEvent(t, payload, time.Now(), whsec); status != http.StatusOK {
			t.Fatalf("%s: event: got %d", s.r.RMA, status)
		}
	}
	check := func(s sent, want refunds.Status, stripeID bool) {
		t.Helper()
		fr := f.oneRefund(t, s.r)
		if fr.Status != want || (fr.StripeRefundID != nil) != stripeID || (stripeID && *fr.StripeRefundID != s.stripe.ID) {
			t.Errorf("%s: got refund %s with Stripe ID %v, want %s (Stripe ID known: %v)", s.r.RMA, fr.Status, fr.StripeRefundID, want, stripeID)
		}
	}

	settle(both[0], "") // as Stripe sends it: refund_id is the public ID
	check(both[0], refunds.StatusSucceeded, true)
	check(both[1], refunds.StatusPending, false)
	if got := f.state(t, tee); got != "completed" {
		t.Errorf("got return %s, want completed", got)
	}

	var internal int64
	if err := f.env.DB.Get(&internal, `SELECT id FROM refunds WHERE public_id = $1`, both[1].refund.PublicID); err != nil {
		t.Fatal(err)
	}
	settle(both[1], fmt.Sprint(internal)) // sent before: refund_id is the internal ID
	check(both[1], refunds.StatusSucceeded, true)
	if got := f.state(t, cap); got != "completed" {
		t.Errorf("got return %s, want completed", got)
	}
}

// TestAnEventWhoseMetadataNamesNoRefundFindsItByStripeID: a refund_id in the metadata
// that names none of ours (edited at Stripe, or two merchants' public IDs alike) is
// not the end of it: the event's Stripe refund ID finds the row, and a repeat of the
// event is still answered as one.
func TestAnEventWhoseMetadataNamesNoRefundFindsItByStripeID(t *testing.T) {
	t.Parallel()
	f := newFlow(t, fakestripe.Options{RefundStatus: fakestripe.StatusPending}) // events recorded, not sent
	r, sr := pendingRefund(t, f)
	if err := f.stripe.SetRefundStatus(sr.ID, fakestripe.StatusSucceeded, ""); err != nil {
		t.Fatal(err)
	}
	evs := f.stripe.Events()
	var ev map[string]any
	if err := json.Unmarshal(evs[len(evs)-1].Payload, &ev); err != nil {
		t.Fatal(err)
	}
	ev["data"].(map[string]any)["object"].(map[string]any)["metadata"].(map[string]any)["refund_id"] = "rf_nosuchrefund"
	payload, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if status, dup := f.postEvent(t, payload, time.Now(), whsec); status != http.StatusOK || dup {
		t.Fatalf("event: got %d duplicate=%v, want 200, new", status, dup)
	}
	if fr := f.oneRefund(t, r); fr.Status != refunds.StatusSucceeded {
		t.Errorf("got refund %s, want succeeded", fr.Status)
	}
	if got := f.state(t, r); got != "completed" {
		t.Errorf("got return %s, want completed", got)
	}
	if status, dup := f.postEvent(t, payload, time.Now(), whsec); status != http.StatusOK || !dup {
		t.Errorf("the repeat: got %d duplicate=%v, want 200, a duplicate", status, dup)
	}
}
