package email_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/internal/auth"
)

// TestFeedbackIsStoredOnceAndSummarised: a shopper answers once a return is complete,
// a second answer replaces the first, and the analytics summary's figures are the
// answers'.
func TestFeedbackIsStoredOnceAndSummarised(t *testing.T) {
	t.Parallel()
	b := setup(t)
	reasons := map[string]string{"NW-1": "too_small", "NW-2": "too_small", "NW-3": "damaged"}
	rets := map[string]returnDoc{}
	tokens := map[string]string{}
	for _, number := range []string{"NW-1", "NW-2", "NW-3"} {
		r := b.newReturnWith(t, number, reasons[number])
		rets[number] = r
		var sess struct {
			Token string `json:"token"`
		}
		res := b.env.Do(t, "POST", "/v1/portal/sessions", "", map[string]any{"merchant": "northwind", "order_number": number, "email": "abigail@example.com"})
		if res.Status != http.StatusCreated && res.Status != http.StatusOK {
			t.Fatalf("portal session: %d %s", res.Status, res.Body)
		}
		res.JSON(t, &sess)
		tokens[number] = sess.Token
	}
	put := func(number string, key string, body map[string]any) (int, string) {
		res := b.env.Do(t, "PUT", fmt.Sprintf("/v1/returns/%s/feedback", rets[number].ID), key, body)
		return res.Status, string(res.Body)
	}
	if st, body := put("NW-1", tokens["NW-1"], map[string]any{"ease": 5}); st != http.StatusConflict || !strings.Contains(body, "not_completed") {
		t.Errorf("feedback before completion: got %d %s, want 409 not_completed", st, body)
	}
	b.drain(t)
	for _, number := range []string{"NW-1", "NW-2", "NW-3"} {
		b.receive(t, rets[number])
	}
	b.drain(t)
	b.drain(t)

	if st, body := put("NW-1", tokens["NW-1"], map[string]any{"ease": 0}); st != http.StatusUnprocessableEntity || !strings.Contains(body, "body.ease") {
		t.Errorf("ease 0: got %d %s, want 422 naming body.ease", st, body)
	}
	if st, _ := put("NW-1", tokens["NW-2"], map[string]any{"ease": 1}); st != http.StatusNotFound {
		t.Errorf("another order's token: got %d, want 404", st)
	}
	if st, _ := put("NW-1", b.shop.Keys[auth.RoleAdmin], map[string]any{"ease": 1}); st != http.StatusForbidden && st != http.StatusUnauthorized {
		t.Errorf("staff answering for the shopper: got %d, want 401 or 403", st)
	}
	for _, a := range []struct {
		number, comment string
		ease            int
	}{{"NW-1", "Great, thank you", 5}, {"NW-2", "", 3}, {"NW-2", "Slow refund", 2}, {"NW-3", "", 4}} {
		if st, body := put(a.number, tokens[a.number], map[string]any{"ease": a.ease, "comment": a.comment}); st != http.StatusOK {
			t.Fatalf("feedback %+v: got %d %s", a, st, body)
		}
	}
	var rows int
	if err := b.env.DB.Get(&rows, `SELECT count(*) FROM return_feedback`); err != nil || rows != 3 {
		t.Errorf("feedback rows: got %d (%v), want one per return", rows, err)
	}

	from := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	to := time.Now().UTC().Add(time.Hour).Format(time.RFC3339)
	var sum struct {
		Feedback struct {
			Count        int64    `json:"count"`
			Average      *float64 `json:"average"`
			Distribution []struct {
				Ease  int   `json:"ease"`
				Count int64 `json:"count"`
			} `json:"distribution"`
			ByReason []struct {
				Reason   string `json:"reason"`
				Count    int64  `json:"count"`
				Comments []struct {
					RMA     string `json:"rma"`
					Ease    int    `json:"ease"`
					Comment string `json:"comment"`
				} `json:"comments"`
			} `json:"comments_by_reason"`
		} `json:"feedback"`
	}
	res := b.env.Do(t, "GET", "/v1/analytics/summary?from="+from+"&to="+to, b.shop.Keys[auth.RoleFinance], nil)
	if res.Status != http.StatusOK {
		t.Fatalf("summary: %d %s", res.Status, res.Body)
	}
	res.JSON(t, &sum)
	f := sum.Feedback
	if f.Count != 3 || f.Average == nil || *f.Average != 3.67 {
		t.Errorf("feedback: count %d average %v, want 3 answers averaging 3.67 ((5+2+4)/3)", f.Count, f.Average)
	}
	dist := map[int]int64{}
	for _, d := range f.Distribution {
		dist[d.Ease] = d.Count
	}
	if len(f.Distribution) != 5 || dist[1] != 0 || dist[2] != 1 || dist[3] != 0 || dist[4] != 1 || dist[5] != 1 {
		t.Errorf("distribution: got %+v, want one 2, one 4, one 5", f.Distribution)
	}
	if len(f.ByReason) != 1 || f.ByReason[0].Reason != "too_small" || f.ByReason[0].Count != 2 || len(f.ByReason[0].Comments) != 2 {
		t.Fatalf("comments by reason: got %+v, want the two too_small comments", f.ByReason)
	}
	got := map[string]string{}
	for _, c := range f.ByReason[0].Comments {
		got[c.RMA] = fmt.Sprintf("%d %s", c.Ease, c.Comment)
	}
	if got[rets["NW-1"].RMA] != "5 Great, thank you" || got[rets["NW-2"].RMA] != "2 Slow refund" {
		t.Errorf("comments: got %v", got)
	}
}
