package email_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/roundtriphq/roundtrip/internal/auth"
)

// TestOneClaimSendsSeveralReturnsEmails: the confirmations of three returns go out in
// one claim of the send job, over one SMTP session, and each is recorded against its own return: sent to
// its shopper, on its own timeline once, with a status link that opens its return.
func TestOneClaimSendsSeveralReturnsEmails(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var rs []returnDoc
	for i := range 3 {
		rs = append(rs, b.newReturn(t, fmt.Sprintf("NW-B%d", i), nil))
	}
	did, err := b.worker.RunOne(context.Background())
	if err != nil || !did {
		t.Fatalf("one claim: did %v, %v", did, err)
	}
	got := b.received(t)
	if k := kinds(got); !slices.Equal(k, []string{"return_confirmed", "return_confirmed", "return_confirmed"}) {
		t.Fatalf("after one claim got %v, want the three confirmations", k)
	}
	if n := b.smtp.Sessions(); n != 1 {
		t.Errorf("the three went over %d SMTP sessions, want one", n)
	}
	for _, r := range rs {
		notes := b.notes(t, r, "email")
		if !slices.Equal(notes, []string{"Email sent: return confirmed"}) {
			t.Errorf("%s timeline: got %q, want the confirmation once", r.RMA, notes)
		}
		var list struct {
			Emails []struct {
				Status string `json:"status"`
				To     string `json:"to"`
			} `json:"emails"`
		}
		b.env.Do(t, "GET", "/v1/returns/"+r.RMA+"/emails", b.shop.Keys[auth.RoleIntegration], nil).JSON(t, &list)
		if len(list.Emails) != 1 || list.Emails[0].Status != "sent" || list.Emails[0].To != "abigail@example.com" {
			t.Errorf("%s emails: %+v, want one sent to abigail@example.com", r.RMA, list.Emails)
		}
	}
	// each message's status link opens the return it is about
	for _, m := range got {
		status, body := get(t, m.statusLink(t))
		if status != http.StatusOK {
			t.Fatalf("status link: %d", status)
		}
		n := 0
		for _, r := range rs {
			if strings.Contains(body, r.RMA) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("a status link's page names %d of the three returns, want exactly one", n)
		}
	}
	seen := map[string]bool{}
	for _, m := range got {
		seen[m.Header.Get("Subject")] = true
	}
	if len(seen) != 3 {
		t.Errorf("subjects %v: want three different ones (one per RMA)", seen)
	}
}
