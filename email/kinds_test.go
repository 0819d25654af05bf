package email_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/email"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/labels"
	"github.com/roundtriphq/roundtrip/merchant"
	"github.com/roundtriphq/roundtrip/returns"
)

func (b *bundle) policy(t *testing.T, p map[string]any) {
	t.Helper()
	if res := b.env.Do(t, "PUT", "/v1/policy", b.shop.Keys[auth.RoleAdmin], p); res.Status != http.StatusOK {
		t.Fatalf("put policy: got %d: %s", res.Status, res.Body)
	}
}

type emailDoc struct {
	ID        string  `json:"id"`
	Kind      string  `json:"kind"`
	Status    string  `json:"status"`
	Attempts  int     `json:"attempts"`
	LastError *string `json:"last_error"`
}

func (b *bundle) emails(t *testing.T, r returnDoc) map[string]emailDoc {
	t.Helper()
	var list struct {
		Emails []emailDoc `json:"emails"`
	}
	res := b.env.Do(t, "GET", fmt.Sprintf("/v1/returns/%s/emails", r.ID), b.shop.Keys[auth.RoleAdmin], nil)
	if res.Status != http.StatusOK {
		t.Fatalf("emails: %d %s", res.Status, res.Body)
	}
	res.JSON(t, &list)
	out := map[string]emailDoc{}
	for _, e := range list.Emails {
		out[e.Kind] = e
	}
	return out
}

func (b *bundle) notes(t *testing.T, r returnDoc, event string) []string {
	t.Helper()
	var events struct {
		Data []struct {
			Event string `json:"event"`
			Note  string `json:"note"`
		} `json:"data"`
	}
	b.env.Do(t, "GET", fmt.Sprintf("/v1/returns/%s/events", r.ID), b.shop.Keys[auth.RoleAdmin], nil).JSON(t, &events)
	var out []string
	for _, e := range events.Data {
		if e.Event == event {
			out = append(out, e.Note)
		}
	}
	return out
}

// TestReviewedReturnsHearTheDecision: under manual review the shopper hears that the
// request waits, then the approval with the label, or the refusal with its reason.
func TestReviewedReturnsHearTheDecision(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.policy(t, map[string]any{"manual_review": true})
	ok := b.newReturn(t, "NW-1", nil)
	no := b.newReturn(t, "NW-2", nil)
	b.drain(t)
	if k := kinds(b.received(t)); !slices.Equal(k, []string{"review_needed", "review_needed"}) {
		t.Fatalf("after the requests got %v, want review_needed twice", k)
	}
	if res := b.env.Do(t, "POST", fmt.Sprintf("/v1/returns/%s/approve", ok.ID), b.shop.Keys[auth.RoleAdmin], nil); res.Status != http.StatusOK {
		t.Fatalf("approve: %d %s", res.Status, res.Body)
	}
	reason := "The T-shirt was bought in a final sale <b>&</b> worn."
	if res := b.env.Do(t, "POST", fmt.Sprintf("/v1/returns/%s/reject", no.ID), b.shop.Keys[auth.RoleAdmin], map[string]any{"reason": reason}); res.Status != http.StatusOK {
		t.Fatalf("reject: %d %s", res.Status, res.Body)
	}
	b.drain(t)
	got := b.received(t)
	if k := kinds(got); !slices.Equal(k, []string{"review_needed", "review_needed", "return_approved", "return_rejected"}) {
		t.Fatalf("got %v, want the two requests, the approval and the refusal", k)
	}
	for _, m := range got[:2] {
		if !strings.Contains(m.Text, "Hi Abigail,") || !strings.Contains(m.Text, "reviews requests") || len(m.Attachments) != 0 {
			t.Errorf("review needed: %+v", m.Text)
		}
	}
	appr := got[2]
	if appr.Header.Get("X-Roundtrip-Return") != ok.RMA || len(appr.Attachments) != 1 || !strings.Contains(appr.Text, "approved your return") {
		t.Errorf("approval: return %s, %d attachments:\n%s", appr.Header.Get("X-Roundtrip-Return"), len(appr.Attachments), appr.Text)
	}
	if codes := scanPDF(t, appr.Attachments[0].Data); !slices.Contains(codes, ok.RMA) {
		t.Errorf("the approval's label scans as %v, want %s in it", codes, ok.RMA)
	}
	rej := got[3]
	escaped := "The T-shirt was bought in a final sale &lt;b&gt;&amp;&lt;/b&gt; worn."
	if rej.Header.Get("X-Roundtrip-Return") != no.RMA || !strings.Contains(rej.Text, reason) || !strings.Contains(rej.HTML, escaped) || strings.Contains(rej.HTML, "<b>") || len(rej.Attachments) != 0 {
		t.Errorf("refusal of %s: want the reason in both parts and no label:\n%s", rej.Header.Get("X-Roundtrip-Return"), rej.Text)
	}
}

// TestUnsubscribedShoppersHearOnlyAboutMoney: the one-click unsubscribe of the
// List-Unsubscribe header stops every message but the ones about money.
func TestUnsubscribedShoppersHearOnlyAboutMoney(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.newReturn(t, "NW-1", nil)
	b.drain(t)
	conf := b.received(t)[0]
	target := strings.Trim(conf.Header.Get("List-Unsubscribe"), "<>")
	// what a mail app sends for RFC 8058 one-click: no cookies, no origin
	res, err := http.Post(target, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("one-click unsubscribe: got %d", res.StatusCode)
	}
	b.receive(t, r)
	b.drain(t)
	b.drain(t)
	if k := kinds(b.received(t)); !slices.Equal(k, []string{"return_confirmed", "refund_sent"}) {
		t.Fatalf("after unsubscribing got %v, want only the refund besides the earlier confirmation", k)
	}
	es := b.emails(t, r)
	for kind, want := range map[string]string{"parcel_arrived": "skipped", "return_completed": "skipped", "refund_sent": "sent"} {
		if es[kind].Status != want {
			t.Errorf("%s: got %s, want %s", kind, es[kind].Status, want)
		}
	}
}

// TestRefusedEmailsAreRetriedThenParked: a mail server that refuses is tried again;
// one that keeps refusing parks the message with its answer on the timeline and in
// the API, without holding up the return; staff send it again once it is fixed.
func TestRefusedEmailsAreRetriedThenParked(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.smtp.Refuse(2, 451, "Mailbox busy, try later")
	r := b.newReturn(t, "NW-1", nil)
	b.drain(t)
	if k := kinds(b.received(t)); !slices.Equal(k, []string{"return_confirmed"}) {
		t.Fatalf("got %v, want the confirmation on its third attempt", k)
	}
	if e := b.emails(t, r)["return_confirmed"]; e.Status != "sent" || e.Attempts != 3 || e.LastError != nil {
		t.Errorf("confirmation: got %+v, want sent on attempt 3", e)
	}

	b.smtp.Refuse(1000, 554, "Transaction failed: relay refused")
	b.receive(t, r)
	b.drain(t)
	b.drain(t)
	var state string
	if err := b.env.DB.Get(&state, `SELECT state FROM returns WHERE public_id = $1`, r.ID); err != nil || state != "completed" {
		t.Fatalf("the return is %q (%v): failing emails must not hold it up", state, err)
	}
	es := b.emails(t, r)
	for _, kind := range []string{"parcel_arrived", "refund_sent", "return_completed"} {
		e := es[kind]
		if e.Status != "parked" || e.Attempts != 3 || e.LastError == nil || !strings.Contains(*e.LastError, "relay refused") {
			t.Errorf("%s: got %+v, want parked after 3 attempts with the server's answer", kind, e)
		}
	}
	failed := b.notes(t, r, "email_failed")
	if len(failed) != 3 || !strings.Contains(failed[0], "Email not sent: parcel arrived") || !strings.Contains(failed[0], "relay refused") {
		t.Errorf("timeline: got %q, want each parked email with the server's answer", failed)
	}

	b.smtp.Refuse(0, 0, "")
	res := b.env.Do(t, "POST", fmt.Sprintf("/v1/emails/%s/retry", es["refund_sent"].ID), b.shop.Keys[auth.RoleAdmin], nil)
	if res.Status != http.StatusOK {
		t.Fatalf("retry: %d %s", res.Status, res.Body)
	}
	b.drain(t)
	if k := kinds(b.received(t)); !slices.Equal(k, []string{"return_confirmed", "refund_sent"}) {
		t.Errorf("after the retry got %v", k)
	}
	res = b.env.Do(t, "POST", fmt.Sprintf("/v1/emails/%s/retry", es["refund_sent"].ID), b.shop.Keys[auth.RoleAdmin], nil)
	if res.Status != http.StatusConflict {
		t.Errorf("retry of a sent email: got %d, want 409", res.Status)
	}
	other := setup(t)
	res = other.env.Do(t, "POST", fmt.Sprintf("/v1/emails/%s/retry", es["parcel_arrived"].ID), other.shop.Keys[auth.RoleAdmin], nil)
	if res.Status != http.StatusNotFound {
		t.Errorf("retry with another shop's key: got %d, want 404", res.Status)
	}
}

// TestLabelRemindersGoOutOnceBeforeExpiry: the sweep writes one reminder for a return
// whose label expires within two days and whose parcel has not moved, with the label
// attached again; a label valid longer gets none.
func TestLabelRemindersGoOutOnceBeforeExpiry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	later := b.newReturn(t, "NW-1", nil) // 30 days
	b.policy(t, map[string]any{"label_validity_days": 1})
	soon := b.newReturn(t, "NW-2", nil)
	b.drain(t)

	d := b.env.DB
	store := returns.NewStore(d)
	smtpCfg, _ := email.ParseSMTPURL(b.smtp.URL)
	svc := email.New(d, email.Config{Sender: smtpCfg, From: from}, store, labels.NewService(d, store, merchant.NewStore(d), "", nil), merchant.NewStore(d))
	for range 2 { // a second sweep finds it written
		tx := d.MustBegin()
		if err := svc.Remind(context.Background(), tx); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	b.drain(t)
	got := b.received(t)
	if k := kinds(got); !slices.Equal(k, []string{"return_confirmed", "return_confirmed", "label_reminder"}) {
		t.Fatalf("got %v, want one reminder", k)
	}
	rem := got[2]
	tomorrow := time.Now().Add(24 * time.Hour).UTC().Format("2 January 2006")
	if rem.Header.Get("X-Roundtrip-Return") != soon.RMA || !strings.Contains(rem.Header.Get("Subject"), tomorrow) || len(rem.Attachments) != 1 {
		t.Errorf("reminder: for %s, subject %q, %d attachments; want %s, expiring %s, with the label", rem.Header.Get("X-Roundtrip-Return"),
			rem.Header.Get("Subject"), len(rem.Attachments), soon.RMA, tomorrow)
	}
	if _, ok := b.emails(t, later)["label_reminder"]; ok {
		t.Errorf("a label valid for 30 days got a reminder")
	}
}

// linkedReturn makes a return and sends its first email; it answers the return, the
// status link that email carries, and the page the link opens (which must show it).
func (b *bundle) linkedReturn(t *testing.T) (returnDoc, string, string) {
	t.Helper()
	r := b.newReturn(t, "NW-1", nil)
	b.drain(t)
	link := b.received(t)[0].statusLink(t)
	status, page := get(t, link)
	if status != http.StatusOK || !strings.Contains(page, r.RMA) {
		t.Fatalf("the status link: got %d", status)
	}
	return r, link, page
}

// TestStatusLinksCanBeRevoked: staff switch off the links sent so far (recorded in
// the audit trail); unsubscribing through them still works, and later emails carry
// links that work.
func TestStatusLinksCanBeRevoked(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r, old, page := b.linkedReturn(t)
	if strings.Contains(page, "/cancel\"") || strings.Contains(page, "Back to your order") {
		t.Errorf("the page a link opens offers to cancel or to see the order: it must show this return only")
	}
	res := b.env.Do(t, "POST", "/v1/returns/"+r.RMA+"/status-links/revoke", b.shop.Keys[auth.RoleAdmin], nil)
	if res.Status != http.StatusOK || !strings.Contains(string(res.Body), `"revoked":1`) {
		t.Fatalf("revoke: got %d %s, want one link revoked", res.Status, res.Body)
	}
	if res := b.env.Do(t, "POST", "/v1/returns/"+r.RMA+"/status-links/revoke", b.shop.Keys[auth.RoleWarehouse], nil); res.Status != http.StatusForbidden {
		t.Errorf("revoke with a warehouse key: got %d, want 403", res.Status)
	}
	for _, path := range []string{"", "/label?parcel=1", "/feedback"} {
		if status, _ := get(t, old+path); status != http.StatusNotFound {
			t.Errorf("revoked link %q: got %d, want 404", path, status)
		}
	}
	if status, page := get(t, old+"/unsubscribe"); status != http.StatusOK || !strings.Contains(page, "abigail@example.com") {
		t.Errorf("unsubscribe through a revoked link: got %d", status)
	}
	var trail struct {
		Data []struct {
			Action string `json:"action"`
			Target string `json:"target"`
		} `json:"data"`
	}
	b.env.Do(t, "GET", "/v1/audit-log", b.shop.Keys[auth.RoleAdmin], nil).JSON(t, &trail)
	if len(trail.Data) == 0 || trail.Data[0].Action != "return_links.revoked" || trail.Data[0].Target != "return "+r.RMA {
		t.Errorf("audit trail: got %+v, want the revocation first", trail.Data)
	}
	b.receive(t, r)
	b.drain(t)
	got := b.received(t)
	fresh := got[1].statusLink(t)
	if fresh == old {
		t.Fatal("the next email carries the revoked link")
	}
	if status, _ := get(t, fresh); status != http.StatusOK {
		t.Errorf("the next email's link: got %d, want 200", status)
	}
}

// TestAStatusLinkLivesOnItsMessage: the token of an email's status link names the
// message by its public ID, and only a hash of the token is kept, on the message's
// row: no row of return_links. The message's public ID with another secret, or the
// token under another shop, opens nothing. A link of the earlier form, kept in
// return_links, still opens its return, and revoking switches off and counts both.
func TestAStatusLinkLivesOnItsMessage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r, link, _ := b.linkedReturn(t)
	token := link[strings.LastIndex(link, "/")+1:]
	var msg struct {
		PublicID string `db:"public_id"`
		Hash     []byte `db:"link_hash"`
	}
	if err := b.env.DB.Get(&msg, `SELECT public_id, link_hash FROM email_messages WHERE merchant_id = $1 AND kind = 'return_confirmed'`,
		b.shop.Merchant.ID); err != nil {
		t.Fatal(err)
	}
	if want := email.LinkPrefix + strings.TrimPrefix(msg.PublicID, "em_"); !strings.HasPrefix(token, want) || len(token) != len(want)+26 {
		t.Errorf("token %q: want %s and 26 random characters", token, want)
	}
	if h := sha256.Sum256([]byte(token)); !bytes.Equal(msg.Hash, h[:]) {
		t.Errorf("the message keeps %x, want the token's hash %x", msg.Hash, h)
	}
	var stored int
	if err := b.env.DB.Get(&stored, `SELECT count(*) FROM return_links`); err != nil || stored != 0 {
		t.Errorf("return_links: %d rows (%v), want none", stored, err)
	}
	other := "a"
	if strings.HasSuffix(token, other) {
		other = "b"
	}
	forged := link[:len(link)-1] + other
	b.env.Merchant(t, "southwind")
	elsewhere := strings.Replace(link, "/portal/"+b.shop.Merchant.Slug+"/", "/portal/southwind/", 1)
	// the token's length, with characters no public ID has
	bad := strings.Replace(link, token, email.LinkPrefix+strings.ToUpper(token[len(email.LinkPrefix):]), 1)
	for name, u := range map[string]string{"another secret": forged, "another shop": elsewhere, "a token cut short": link[:len(link)-1],
		"other characters": bad} {
		if status, _ := get(t, u); status != http.StatusNotFound {
			t.Errorf("%s: got %d, want 404", name, status)
		}
	}

	earlier := email.LinkPrefix + strings.Repeat("q", 26)
	h := sha256.Sum256([]byte(earlier))
	if _, err := b.env.DB.Exec(`INSERT INTO return_links (token_hash, merchant_id, return_id, email)
		SELECT $1, merchant_id, id, customer_email FROM returns WHERE public_id = $2`, h[:], r.ID); err != nil {
		t.Fatal(err)
	}
	earlierLink := strings.Replace(link, token, earlier, 1)
	if status, page := get(t, earlierLink); status != http.StatusOK || !strings.Contains(page, r.RMA) {
		t.Fatalf("a link of the earlier form: got %d", status)
	}
	res := b.env.Do(t, "POST", "/v1/returns/"+r.RMA+"/status-links/revoke", b.shop.Keys[auth.RoleAdmin], nil)
	if res.Status != http.StatusOK || !strings.Contains(string(res.Body), `"revoked":2`) {
		t.Fatalf("revoke: got %d %s, want both links revoked", res.Status, res.Body)
	}
	for _, u := range []string{link, earlierLink} {
		if status, _ := get(t, u); status != http.StatusNotFound {
			t.Errorf("revoked link %s: got %d, want 404", u, status)
		}
	}
	if status, page := get(t, link+"/unsubscribe"); status != http.StatusOK || !strings.Contains(page, "abigail@example.com") {
		t.Errorf("unsubscribe through the revoked link: got %d", status)
	}
}
