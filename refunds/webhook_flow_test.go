package refunds_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/refunds/fakestripe"
)

// postEvent delivers a recorded Stripe event to our endpoint, signed at signedAt
// with secret.
func (f *flow) postEvent(t *testing.T, payload []byte, signedAt time.Time, secret string) (status int, duplicate bool) {
	t.Helper()
	res := f.env.Do(t, "POST", "/v1/webhooks/stripe", "", payload,
		"Stripe-Signature", fakestripe.Signature(signedAt, payload, secret))
	var out struct {
		Received  bool `json:"received"`
		Duplicate bool `json:"duplicate"`
	}
	if res.Status == http.StatusOK {
		res.JSON(t, &out)
		if !out.Received {
			t.Errorf("got %s, want received: true", res.Body)
		}
	}
	return res.Status, out.Duplicate
}

// pendingRefund makes a return whose refund Stripe accepted as pending.
func pendingRefund(t *testing.T, f *flow) (ret, fakestripe.Refund) {
	t.Helper()
	r := f.createReturn(t, map[string]any{"line_id": "l1", "quantity": 2, "reason": "too_small"})
	f.mustReceive(t, r, received)
	f.drain(t)
	if fr := f.oneRefund(t, r); fr.Status != refunds.StatusPending {
		t.Fatalf("got refund %s, want pending", fr.Status)
	}
	if got := f.state(t, r); got != "resolving" {
		t.Fatalf("got return %s with its refund pending, want resolving", got)
	}
	return r, f.stripe.Refunds()[0]
}

// completions counts the timeline entries that completed the return.
func (f *flow) completions(t *testing.T, r ret) int {
	n := 0
	for _, e := range f.timeline(t, r) {
		if e.To == "completed" {
			n++
		}
	}
	return n
}

// TestDuplicatedAndOutOfOrderWebhooks: Stripe's events arrive twice and late; the
// refund ends succeeded and the return completed, once.
func TestDuplicatedAndOutOfOrderWebhooks(t *testing.T) {
	t.Parallel()
	f := newFlow(t, fakestripe.Options{RefundStatus: fakestripe.StatusPending}) // events recorded, not sent
	r, sr := pendingRefund(t, f)
	for _, st := range []string{fakestripe.StatusRequiresAction, fakestripe.StatusPending, fakestripe.StatusSucceeded} {
		if err := f.stripe.SetRefundStatus(sr.ID, st, ""); err != nil {
			t.Fatal(err)
		}
	}
	evs := f.stripe.Events()
	if len(evs) != 4 || evs[0].Type != "charge.refunded" {
		t.Fatalf("got %d events, want charge.refunded and 3 × charge.refund.updated", len(evs))
	}
	created, requiresAction, pending, succeeded := evs[0], evs[1], evs[2], evs[3]
	now := time.Now()

	// forged, tampered, stale and unsigned deliveries are refused and do not use
	// up the event
	tampered := []byte(strings.Replace(string(succeeded.Payload), `"succeeded"`, `"failed"`, 1))
	for name, res := range map[string]func() int{
		"wrong secret": func() int { s, _ := f.postEvent(t, succeeded.Payload, now, "whsec_forged"); return s },
		"tampered": func() int {
			return f.env.Do(t, "POST", "/v1/webhooks/stripe", "", tampered,
				"Stripe-Signature", fakestripe.Signature(now, succeeded.Payload, whsec)).Status
		},
		"stale": func() int { s, _ := f.postEvent(t, succeeded.Payload, now.Add(-10*time.Minute), whsec); return s },
		"unsigned": func() int {
			return f.env.Do(t, "POST", "/v1/webhooks/stripe", "", succeeded.Payload).Status
		},
	} {
		if got := res(); got != http.StatusBadRequest {
			t.Errorf("%s: got %d, want 400", name, got)
		}
	}
	if fr := f.oneRefund(t, r); fr.Status != refunds.StatusPending {
		t.Fatalf("got refund %s after refused deliveries, want still pending", fr.Status)
	}

	for _, step := range []struct {
		name      string
		payload   []byte
		duplicate bool
	}{
		{"succeeded", succeeded.Payload, false},
		{"succeeded again", succeeded.Payload, true},
		{"late pending", pending.Payload, false},
		{"late requires_action", requiresAction.Payload, false},
		{"late charge.refunded", created.Payload, false},
		{"late pending again", pending.Payload, true},
	} {
		status, dup := f.postEvent(t, step.payload, time.Now(), whsec)
		if status != http.StatusOK || dup != step.duplicate {
			t.Errorf("%s: got %d duplicate=%v, want 200 duplicate=%v", step.name, status, dup, step.duplicate)
		}
		fr := f.oneRefund(t, r)
		if fr.Status != refunds.StatusSucceeded {
			t.Fatalf("%s: got refund %s, want succeeded", step.name, fr.Status)
		}
		if got := f.state(t, r); got != "completed" {
			t.Fatalf("%s: got return %s, want completed", step.name, got)
		}
	}
	f.drain(t) // a poll the late charge.refunded may have asked for
	if fr := f.oneRefund(t, r); fr.Status != refunds.StatusSucceeded || *fr.StripeRefundID != sr.ID {
		t.Errorf("got refund %s %v, want succeeded as %s", fr.Status, fr.StripeRefundID, sr.ID)
	}
	if n := f.completions(t, r); n != 1 {
		t.Errorf("got %d completions in the timeline, want 1", n)
	}
	if n := f.stripe.RefundCount(); n != 1 {
		t.Errorf("got %d Stripe refunds, want 1", n)
	}
}

// TestWebhooksThatChangeNothingWriteNothing: charge.refunded (which on API 2023-10-16
// only says a refund was made) asks for no poll, and an event that repeats what a
// refund already records leaves its row alone. The second is noted, so that its repeat
// is answered as one; the first, which no refund's state depends on, is not even
// noted: it writes nothing at all, and its repeat is as harmless as the first.
func TestWebhooksThatChangeNothingWriteNothing(t *testing.T) {
	t.Parallel()
	f := newFlow(t, fakestripe.Options{RefundStatus: fakestripe.StatusPending}) // events recorded, not sent
	r, sr := pendingRefund(t, f)
	for _, st := range []string{fakestripe.StatusRequiresAction, fakestripe.StatusPending} {
		if err := f.stripe.SetRefundStatus(sr.ID, st, ""); err != nil {
			t.Fatal(err)
		}
	}
	evs := f.stripe.Events()
	created, pending := evs[0], evs[2]
	var before, polls time.Time
	read := func() (time.Time, time.Time) {
		t.Helper()
		var at, poll time.Time
		if err := f.env.DB.QueryRow(`SELECT updated_at, poll_at FROM refunds`).Scan(&at, &poll); err != nil {
			t.Fatal(err)
		}
		return at, poll
	}
	before, polls = read()
	for _, ev := range []fakestripe.Event{created, pending} {
		if status, dup := f.postEvent(t, ev.Payload, time.Now(), whsec); status != http.StatusOK || dup {
			t.Fatalf("%s: got %d duplicate=%v, want 200, not a duplicate", ev.Type, status, dup)
		}
	}
	if at, poll := read(); !at.Equal(before) || !poll.Equal(polls) {
		t.Errorf("got refund updated at %s, polled at %s, want %s and %s: nothing written", at, poll, before, polls)
	}
	if fr := f.oneRefund(t, r); fr.Status != refunds.StatusPending {
		t.Errorf("got refund %s, want still pending", fr.Status)
	}
	for _, ev := range []struct {
		fakestripe.Event
		duplicate bool
	}{{created, false}, {pending, true}} {
		if status, dup := f.postEvent(t, ev.Payload, time.Now(), whsec); status != http.StatusOK || dup != ev.duplicate {
			t.Errorf("%s again: got %d duplicate=%v, want 200 duplicate=%v", ev.Type, status, dup, ev.duplicate)
		}
	}
	if at, poll := read(); !at.Equal(before) || !poll.Equal(polls) {
		t.Errorf("got refund updated at %s, polled at %s after the repeats, want %s and %s", at, poll, before, polls)
	}
	var noted []string
	if err := f.env.DB.Select(&noted, `SELECT id FROM stripe_events WHERE id IN ($1, $2)`, created.ID, pending.ID); err != nil ||
		len(noted) != 1 || noted[0] != pending.ID {
		t.Errorf("noted %v (%v), want only %s", noted, err, pending.ID)
	}
}

// TestStripeDeliversWebhooks: the fake Stripe sends its own signed webhooks to
// POST /v1/webhooks/stripe, as Stripe would, on API version 2023-10-16 and with
// the refund.* events of later versions.
func TestStripeDeliversWebhooks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		refundEvents bool
	}{{"charge events", false}, {"charge and refund events", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFlow(t, fakestripe.Options{RefundStatus: fakestripe.StatusPending, RefundEvents: tc.refundEvents}, withWebhooks())
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			r, sr := pendingRefund(t, f)
			if err := f.stripe.Drain(ctx); err != nil {
				t.Fatal(err)
			}
			// the refund settles at Stripe; its webhook is delivered before SetRefundStatus returns
			if err := f.stripe.SetRefundStatus(sr.ID, fakestripe.StatusSucceeded, ""); err != nil {
				t.Fatal(err)
			}
			if fr := f.oneRefund(t, r); fr.Status != refunds.StatusSucceeded {
				t.Fatalf("got refund %s after Stripe's webhook, want succeeded", fr.Status)
			}
			if got := f.state(t, r); got != "completed" {
				t.Fatalf("got return %s, want completed", got)
			}
			evs := f.stripe.Events()
			for _, ev := range evs {
				if !ev.Delivered || ev.Attempts != 1 {
					t.Errorf("event %s %s: delivered=%v after %d attempts, want delivered at the first", ev.ID, ev.Type, ev.Delivered, ev.Attempts)
				}
			}
			// Stripe retries an event: we acknowledge it and change nothing
			last := evs[len(evs)-1]
			if err := f.stripe.Redeliver(ctx, last.ID); err != nil {
				t.Errorf("redeliver %s: %v", last.Type, err)
			}
			var seen int
			if err := f.env.DB.Get(&seen, `SELECT count(*) FROM stripe_events`); err != nil {
				t.Fatal(err)
			}
			// every event but charge.refunded, which on this API version names no refund
			// and so is acknowledged without a note
			want := 0
			for _, ev := range evs {
				if ev.Type != "charge.refunded" {
					want++
				}
			}
			if seen != want || want == 0 {
				t.Errorf("got %d events recorded, want %d", seen, want)
			}
			f.drain(t)
			if n := f.completions(t, r); n != 1 {
				t.Errorf("got %d completions in the timeline, want 1", n)
			}
			if n := f.stripe.RefundCount(); n != 1 {
				t.Errorf("got %d Stripe refunds, want 1", n)
			}
		})
	}
}

// TestPollerCoversMissedWebhook: no webhook arrives; the sweep asks Stripe, leaves
// the refund pending while Stripe says so and records it once it succeeded.
func TestPollerCoversMissedWebhook(t *testing.T) {
	t.Parallel()
	f := newFlow(t, fakestripe.Options{RefundStatus: fakestripe.StatusPending})
	r, sr := pendingRefund(t, f)
	f.pollDue(t) // still pending: asked again at its next turn
	if fr := f.oneRefund(t, r); fr.Status != refunds.StatusPending {
		t.Fatalf("got refund %s, want pending", fr.Status)
	}
	if in, polled := f.pollIn(t, f.oneRefund(t, r).PublicID); !polled || in < refunds.PollAfter.Seconds()-5 {
		t.Errorf("the pending refund is polled again in %.0fs (%v), want in about %s", in, polled, refunds.PollAfter)
	}

	if err := f.stripe.SetRefundStatus(sr.ID, fakestripe.StatusSucceeded, ""); err != nil {
		t.Fatal(err)
	}
	f.pollDue(t)
	if fr := f.oneRefund(t, r); fr.Status != refunds.StatusSucceeded {
		t.Fatalf("got refund %s, want succeeded", fr.Status)
	}
	if got := f.state(t, r); got != "completed" {
		t.Errorf("got return %s, want completed", got)
	}
	if _, polled := f.pollIn(t, f.oneRefund(t, r).PublicID); polled {
		t.Error("the refund that succeeded is still polled")
	}
}

// TestWebhookBodyIsCappedBeforeVerification: a body over 1 MiB is refused before its
// signature is checked, however it is signed.
func TestWebhookBodyIsCappedBeforeVerification(t *testing.T) {
	t.Parallel()
	f := newFlow(t, fakestripe.Options{})
	pad := strings.Repeat("x", refunds.MaxWebhookBytes)
	payload := []byte(`{"id": "evt_big", "object": "event", "type": "charge.refund.updated", "pad": "` + pad + `"}`)
	res := f.env.Do(t, "POST", "/v1/webhooks/stripe", "", payload,
		"Stripe-Signature", fakestripe.Signature(time.Now(), payload, whsec))
	if res.Status != http.StatusRequestEntityTooLarge || res.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("got %d %s %.200s, want a 413 problem", res.Status, res.Header.Get("Content-Type"), res.Body)
	}
	var n int
	if err := f.env.DB.Get(&n, `SELECT count(*) FROM stripe_events WHERE id = 'evt_big'`); err != nil || n != 0 {
		t.Errorf("got %d stored events (%v), want none", n, err)
	}
}

// TestSucceededRefundFailsLater: Stripe fails a refund that had succeeded (the card's
// account was closed); the completed return moves to refund_failed with a note in its
// timeline, finance finds the refund among the failed ones and sends it again.
func TestSucceededRefundFailsLater(t *testing.T) {
	t.Parallel()
	f := newFlow(t, fakestripe.Options{RefundStatus: fakestripe.StatusPending})
	r, sr := pendingRefund(t, f)
	if err := f.stripe.SetRefundStatus(sr.ID, fakestripe.StatusSucceeded, ""); err != nil {
		t.Fatal(err)
	}
	if err := f.stripe.SetRefundStatus(sr.ID, fakestripe.StatusFailed, "expired_or_canceled_card"); err != nil {
		t.Fatal(err)
	}
	evs := f.stripe.Events()
	succeeded, failed := evs[len(evs)-2], evs[len(evs)-1]
	if status, _ := f.postEvent(t, succeeded.Payload, time.Now(), whsec); status != http.StatusOK {
		t.Fatalf("succeeded event: got %d", status)
	}
	if got := f.state(t, r); got != "completed" {
		t.Fatalf("got return %s after the refund succeeded, want completed", got)
	}
	if status, _ := f.postEvent(t, failed.Payload, time.Now(), whsec); status != http.StatusOK {
		t.Fatalf("failed event: got %d", status)
	}
	fr := f.oneRefund(t, r)
	if fr.Status != refunds.StatusFailed {
		t.Fatalf("got refund %s, want failed", fr.Status)
	}
	if got := f.state(t, r); got != "refund_failed" {
		t.Fatalf("got return %s after its succeeded refund failed, want refund_failed", got)
	}
	tl := f.timeline(t, r)
	last := tl[len(tl)-1]
	if last.Event != "refund_fail" || last.From != "completed" || last.To != "refund_failed" || !strings.Contains(last.Note, "expired or canceled card") {
		t.Errorf("last timeline entry: got %+v, want refund_fail from completed to refund_failed naming the reason", last)
	}

	res := f.env.Do(t, "GET", "/v1/refunds?status=failed", f.shop.Keys[auth.RoleFinance], nil)
	var list struct {
		Data []refunds.Refund `json:"data"`
	}
	res.JSON(t, &list)
	if len(list.Data) != 1 || list.Data[0].PublicID != fr.PublicID {
		t.Fatalf("failed refunds: got %s, want refund %s", res.Body, fr.PublicID)
	}
	if res := f.env.Do(t, "POST", fmt.Sprintf("/v1/refunds/%s/retry", fr.PublicID), f.shop.Keys[auth.RoleFinance], nil); res.Status != http.StatusOK {
		t.Fatalf("retry: got %d %s", res.Status, res.Body)
	}
	if got := f.state(t, r); got != "resolving" {
		t.Errorf("got return %s after the retry, want resolving", got)
	}
}

// TestARefundThatSettlesIsPolledNoMore: Stripe's webhook that settles a pending
// refund also takes it out of the sweep, so that nobody asks Stripe about it 30
// seconds later; a refund still pending keeps its poll.
func TestARefundThatSettlesIsPolledNoMore(t *testing.T) {
	t.Parallel()
	f := newFlow(t, fakestripe.Options{RefundStatus: fakestripe.StatusPending}) // events recorded, not sent
	r, sr := pendingRefund(t, f)
	id := f.oneRefund(t, r).PublicID
	if _, polled := f.pollIn(t, id); !polled {
		t.Fatal("a pending refund is not polled")
	}
	if err := f.stripe.SetRefundStatus(sr.ID, fakestripe.StatusSucceeded, ""); err != nil {
		t.Fatal(err)
	}
	evs := f.stripe.Events()
	if status, _ := f.postEvent(t, evs[len(evs)-1].Payload, time.Now(), whsec); status != http.StatusOK {
		t.Fatalf("the settling event: %d", status)
	}
	if fr := f.oneRefund(t, r); fr.Status != refunds.StatusSucceeded {
		t.Fatalf("got refund %s, want succeeded", fr.Status)
	}
	if _, polled := f.pollIn(t, id); polled {
		t.Error("a refund the webhook settled is still polled")
	}
	gets := f.stripeGets()
	f.pollDue(t)
	if n := f.stripeGets(); n != gets {
		t.Errorf("the sweep asked Stripe %d times about a settled refund", n-gets)
	}
}

// TestTwoRefundsSettlingAtOnceCompleteTheReturn: the events of a return's two refunds
// arrive together, and each waits for the return while the other holds it; the one
// that goes second sees the first refund settled and completes the return. Each
// event's first statement locks its refund and the return; what is still in flight
// is read after that, so the second event reads what the first committed.
func TestTwoRefundsSettlingAtOnceCompleteTheReturn(t *testing.T) {
	t.Parallel()
	f := newFlow(t, fakestripe.Options{RefundStatus: fakestripe.StatusPending}) // events recorded, not sent
	r := f.createReturn(t, map[string]any{"line_id": "l1", "quantity": 2, "reason": "too_small"})
	for range 2 { // a unit at a time: a refund each, sent and pending
		f.mustReceive(t, r, map[string]any{"line_id": "l1", "quantity": 1, "condition": "like_new", "disposition": "restock"})
		f.drain(t)
	}
	list := f.refundsOf(t, r)
	if len(list) != 2 || list[0].Status != refunds.StatusPending || list[1].Status != refunds.StatusPending {
		t.Fatalf("got refunds %+v, want two pending", list)
	}
	for _, sr := range f.stripe.Refunds() {
		if err := f.stripe.SetRefundStatus(sr.ID, fakestripe.StatusSucceeded, ""); err != nil {
			t.Fatal(err)
		}
	}
	var succeeded [][]byte
	for _, ev := range f.stripe.Events() {
		if ev.Type == "charge.refund.updated" {
			succeeded = append(succeeded, ev.Payload)
		}
	}
	if len(succeeded) != 2 {
		t.Fatalf("got %d charge.refund.updated events, want 2", len(succeeded))
	}

	// the return is held while both events arrive, so that both wait for it
	hold, err := f.env.DB.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Rollback()
	if _, err := hold.Exec(`SELECT 1 FROM returns WHERE public_id = $1 FOR UPDATE`, r.ID); err != nil {
		t.Fatal(err)
	}
	status := make(chan int, 2)
	for _, payload := range succeeded {
		go func() {
			res, err := f.request("POST", "/v1/webhooks/stripe", "", payload,
				"Stripe-Signature", fakestripe.Signature(time.Now(), payload, whsec))
			if err != nil {
				t.Error(err)
			}
			status <- res.Status
		}()
	}
	waitFor(t, "both events waiting for the return", 10*time.Second, func() bool {
		var n int
		_ = f.env.DB.Get(&n, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock' AND query LIKE 'WITH note AS%'`)
		return n == 2
	})
	if err := hold.Rollback(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if s := <-status; s != http.StatusOK {
			t.Errorf("got %d for an event, want 200", s)
		}
	}
	for _, fr := range f.refundsOf(t, r) {
		if fr.Status != refunds.StatusSucceeded {
			t.Errorf("got refund %s %s, want succeeded", fr.PublicID, fr.Status)
		}
	}
	if got := f.state(t, r); got != "completed" {
		t.Errorf("got return %s after both refunds succeeded, want completed", got)
	}
	if n := f.completions(t, r); n != 1 {
		t.Errorf("got %d completions in the timeline, want 1", n)
	}
}
