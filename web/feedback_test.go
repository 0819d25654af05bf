package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/roundtriphq/roundtrip/internal/auth"
)

// TestFeedbackFromTheStatusPageReachesFinance: once a return is complete its status
// page asks how easy it was; the answer, changed once, is the one finance sees.
func TestFeedbackFromTheStatusPageReachesFinance(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	r := s.createReturn(t, "NW-1", 1)
	c := s.client(t)
	c.lookUp("northwind", "NW-1", "ada@example.com")
	status := "/portal/northwind/returns/" + r.RMA
	if p := c.get(status + "/feedback"); p.Status != http.StatusConflict {
		t.Errorf("feedback before completion: got %d, want 409", p.Status)
	}
	if p := c.get(status); p.Status != http.StatusOK || containsFeedback(p) {
		t.Errorf("status page before completion: got %d, asks for feedback %v", p.Status, containsFeedback(p))
	}
	s.do(t, "POST", "/v1/scans", auth.RoleWarehouse, map[string]any{"code": r.RMA}, http.StatusOK)
	s.do(t, "POST", fmt.Sprintf("/v1/returns/%s/receipts", r.ID), auth.RoleWarehouse, map[string]any{
		"items": []map[string]any{{"line_id": "l1", "quantity": 1, "condition": "like_new", "disposition": "restock"}}}, http.StatusCreated)
	s.drain(t)
	s.drain(t)

	p := c.get(status)
	mustContain(t, p, "How easy was your return?", status+"/feedback?ease=5")
	form := c.get(status + "/feedback?ease=3")
	mustContain(t, form, `value="3" checked`)
	for _, answer := range []url.Values{{"ease": {"3"}}, {"ease": {"2"}, "comment": {"The label would not print <sadly>"}}} {
		answer.Set("csrf", form.csrf(t))
		got := c.post(status+"/feedback", answer)
		wantStatus(t, "feedback", got, http.StatusOK)
		mustContain(t, got, "Thank you")
	}
	bad := c.post(status+"/feedback", url.Values{"ease": {"9"}, "csrf": {form.csrf(t)}})
	wantStatus(t, "ease 9", bad, http.StatusUnprocessableEntity)
	mustContain(t, c.get(status), "You said 2 out of 5")

	fin := s.client(t)
	page := fin.signIn("northwind", "fin")
	mustContain(t, page, "Shopper feedback", "<strong>2.00</strong>", "The label would not print &lt;sadly&gt;", r.RMA)
}

func containsFeedback(p page) bool { return strings.Contains(p.Body, "How easy was your return?") }
