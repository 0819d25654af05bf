package notify_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/notify"
)

// answerByID answers 500 to the events whose data has an id in fail, 200 to others.
func answerByID(fail ...int) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, r *http.Request) {
		var env struct {
			Data struct {
				ID int `json:"id"`
			} `json:"data"`
		}
		json.NewDecoder(r.Body).Decode(&env)
		for _, id := range fail {
			if env.Data.ID == id {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
		}
		w.Write([]byte(`{"ok":true}`))
	}
}

// TestOneJobPerEventReachesEveryEndpoint: an event for three endpoints is one outbox
// job, and one run makes the three deliveries; a failing endpoint gets its next
// attempt scheduled while the others are done.
func TestOneJobPerEventReachesEveryEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t, local)
	ctx := context.Background()
	first, second := newReceiver(t, ok), newReceiver(t, ok)
	failing := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	b.endpoint(t, first.URL)
	bad, _ := b.endpoint(t, failing.URL)
	b.endpoint(t, second.URL)
	b.publish(t, notify.ReturnApproved, map[string]any{"id": 1})
	var jobs int
	if err := b.db.Get(&jobs, `SELECT count(*) FROM outbox WHERE kind = $1`, notify.JobDeliver); err != nil {
		t.Fatal(err)
	}
	if jobs != 1 {
		t.Fatalf("got %d jobs for one event to three endpoints, want 1", jobs)
	}
	if !b.runOne(t) {
		t.Fatal("nothing to run")
	}
	if len(first.requests()) != 1 || len(second.requests()) != 1 || len(failing.requests()) != 1 {
		t.Fatalf("got %d, %d and %d requests, want one each", len(first.requests()), len(second.requests()), len(failing.requests()))
	}
	list, _, err := b.svc.Deliveries(ctx, b.merchant, notify.DeliveryFilter{})
	if err != nil || len(list) != 3 {
		t.Fatalf("got %d deliveries, %v; want 3", len(list), err)
	}
	for _, d := range list {
		want := notify.StatusSucceeded
		if d.EndpointID == bad.ID {
			want = notify.StatusFailed
		}
		if d.Status != want || d.AttemptCount != 1 {
			t.Errorf("delivery to %s: got %s after %d attempts, want %s after 1", d.EndpointID, d.Status, d.AttemptCount, want)
		}
	}
	if e, _ := b.svc.Endpoint(ctx, b.merchant, bad.ID); e.FailingSince == nil {
		t.Error("the failing endpoint has no failure streak")
	}
	// only the failed delivery runs again
	b.clock.Set(b.clock.Now().Add(time.Hour))
	b.makeDue(t)
	if !b.runOne(t) {
		t.Fatal("the failed delivery's next attempt was not scheduled")
	}
	if len(first.requests()) != 1 || len(second.requests()) != 1 || len(failing.requests()) != 2 {
		t.Fatalf("got %d, %d and %d requests, want 1, 1 and 2", len(first.requests()), len(second.requests()), len(failing.requests()))
	}
	if b.runOne(t) {
		t.Error("a job was left")
	}
}

// TestABatchOfEventsKeepsEachEndpointsLastWord: the jobs of several events run
// together; an endpoint's failure streak is what its attempts say in order: a
// success after a failure ends it, a failure after a success starts one.
func TestABatchOfEventsKeepsEachEndpointsLastWord(t *testing.T) {
	t.Parallel()
	b := setup(t, local)
	ctx := context.Background()
	rc := newReceiver(t, answerByID(1, 4))
	e, _ := b.endpoint(t, rc.URL)
	streak := func() *time.Time {
		t.Helper()
		got, err := b.svc.Endpoint(ctx, b.merchant, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.FailingSince
	}

	b.publish(t, notify.ReturnCreated, map[string]any{"id": 1}) // fails
	b.clock.Set(b.clock.Now().Add(time.Second))
	b.publish(t, notify.ReturnCreated, map[string]any{"id": 2}) // succeeds
	if !b.runOne(t) {
		t.Fatal("nothing to run")
	}
	if n := len(rc.requests()); n != 2 {
		t.Fatalf("one run sent %d requests, want both events'", n)
	}
	failed, _, err := b.svc.Deliveries(ctx, b.merchant, notify.DeliveryFilter{Statuses: []notify.DeliveryStatus{notify.StatusFailed}})
	if err != nil || len(failed) != 1 {
		t.Fatalf("got %d failed deliveries, %v; want the first event's", len(failed), err)
	}
	if s := streak(); s != nil {
		t.Errorf("got a streak since %s after a failure then a success, want none", s)
	}

	b.publish(t, notify.ReturnCreated, map[string]any{"id": 3}) // succeeds
	b.clock.Set(b.clock.Now().Add(time.Second))
	failedAt := b.clock.Now().UTC().Truncate(time.Microsecond)
	b.publish(t, notify.ReturnCreated, map[string]any{"id": 4}) // fails
	if !b.runOne(t) {
		t.Fatal("nothing to run")
	}
	if n := len(rc.requests()); n != 4 {
		t.Fatalf("got %d requests, want 4", n)
	}
	if s := streak(); s == nil || !s.Equal(failedAt) {
		t.Errorf("got a streak since %v after a success then a failure, want since the failure (%s)", s, failedAt)
	}
	if n := b.listedAttempts(t); n != 4 {
		t.Errorf("got %d attempts listed, want 4", n)
	}
	if n := b.loggedAttempts(t); n != 2 {
		t.Errorf("got %d attempts in the log, want the 2 that failed", n)
	}
}

// TestAJobWrittenBeforeEventJobsStillDelivers: a job naming one delivery (as rows
// written before one job per event did) is delivered.
func TestAJobWrittenBeforeEventJobsStillDelivers(t *testing.T) {
	t.Parallel()
	b := setup(t, local)
	rc := newReceiver(t, ok)
	b.endpoint(t, rc.URL)
	b.publish(t, notify.ReturnCreated, map[string]any{"id": 1})
	res, err := b.db.Exec(`UPDATE outbox SET payload = jsonb_build_object('delivery_id', payload->'deliveries'->0->'id', 'generation', 1)
		WHERE kind = $1`, notify.JobDeliver)
	if n, _ := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("got %d rows, %v", n, err)
	}
	if !b.runOne(t) {
		t.Fatal("nothing to run")
	}
	if d := b.onlyDelivery(t); d.Status != notify.StatusSucceeded || len(rc.requests()) != 1 {
		t.Fatalf("got %s and %d requests, want succeeded once", d.Status, len(rc.requests()))
	}
}
