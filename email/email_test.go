package email_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/internal/auth"
)

// TestTheShopperHearsAtEveryStep follows a return that is approved at once, arrives
// and is refunded, with the emails going through real SMTP: each step's email is
// sent once, parses, names the shopper, carries the shop's branding, a working status
// link and the unsubscribe headers; the confirmation carries a label that scans.
func TestTheShopperHearsAtEveryStep(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.newReturn(t, "NW-1", nil)
	b.drain(t)
	got := b.received(t)
	if k := kinds(got); !slices.Equal(k, []string{"return_confirmed"}) {
		t.Log(b.env.Logs())
		t.Fatalf("after approval got emails %v, want the confirmation only", k)
	}
	conf := got[0]
	h := conf.Header
	if f := h.Get("From"); f != `"Northwind Returns" <returns@roundtrip.test>` {
		t.Errorf("From: got %q, want the shop's sender name with the configured address", f)
	}
	if rt := h.Get("Reply-To"); !strings.Contains(rt, "<help@northwind.example>") {
		t.Errorf("Reply-To: got %q, want the shop's support email", rt)
	}
	if to := h.Get("To"); !strings.Contains(to, "Abigail Adams") || !strings.Contains(to, "<abigail@example.com>") {
		t.Errorf("To: got %q, want Abigail Adams <abigail@example.com>", to)
	}
	if s := h.Get("Subject"); !strings.Contains(s, r.RMA) {
		t.Errorf("Subject: got %q, want the RMA %s in it", s, r.RMA)
	}
	if rcpts := b.smtp.Messages()[0].To; !slices.Equal(rcpts, []string{"abigail@example.com"}) {
		t.Errorf("SMTP recipients: got %v", rcpts)
	}
	link := conf.statusLink(t)
	if lu := h.Get("List-Unsubscribe"); lu != "<"+link+"/unsubscribe>" {
		t.Errorf("List-Unsubscribe: got %q, want <%s/unsubscribe>", lu, link)
	}
	if lp := h.Get("List-Unsubscribe-Post"); lp != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post: got %q", lp)
	}
	for _, part := range []struct{ name, body string }{{"text", conf.Text}, {"html", conf.HTML}} {
		if !strings.Contains(part.body, "Hi Abigail,") {
			t.Errorf("%s part does not greet the shopper by name:\n%s", part.name, part.body)
		}
		if !strings.Contains(part.body, "Northwind Outfitters") || !strings.Contains(part.body, link) {
			t.Errorf("%s part lacks the shop's name or the status link:\n%s", part.name, part.body)
		}
	}
	for _, want := range []string{"#7a1f5c", `src="https://cdn.example.com/northwind/logo.png"`, "Print the attached label"} {
		if !strings.Contains(conf.HTML, want) {
			t.Errorf("html part lacks %q (branding, drop-off steps):\n%s", want, conf.HTML)
		}
	}
	if len(conf.Attachments) != 1 || conf.Attachments[0].Type != "application/pdf" || conf.Attachments[0].Name != r.RMA+"-label-1.pdf" {
		t.Fatalf("attachments: got %+v, want the label PDF", conf.Attachments)
	}
	var parcelList struct {
		Data []struct {
			TrackingNumber string `json:"tracking_number"`
		} `json:"data"`
	}
	res := b.env.Do(t, "GET", fmt.Sprintf("/v1/returns/%s/parcels", r.ID), b.shop.Keys[auth.RoleAdmin], nil)
	res.JSON(t, &parcelList)
	parcels := parcelList.Data
	codes := scanPDF(t, conf.Attachments[0].Data)
	if len(parcels) != 1 || !slices.Contains(codes, parcels[0].TrackingNumber) || !slices.Contains(codes, r.RMA) {
		t.Errorf("the attached label scans as %v; want the tracking number of %+v and the RMA %s", codes, parcels, r.RMA)
	}

	// the status link opens the return without signing in, and its label downloads
	status, page := get(t, link)
	if status != http.StatusOK || !strings.Contains(page, r.RMA) || !strings.Contains(page, "Approved") {
		t.Fatalf("status link: got %d, want the return's page\n%s", status, page)
	}
	res2, err := http.Get(link + "/label?parcel=1&format=4x6")
	if err != nil {
		t.Fatal(err)
	}
	res2.Body.Close()
	if res2.StatusCode != http.StatusOK || res2.Header.Get("Content-Type") != "application/pdf" {
		t.Errorf("label through the link: got %d %s", res2.StatusCode, res2.Header.Get("Content-Type"))
	}

	b.receive(t, r)
	b.drain(t)
	b.drain(t)
	got = b.received(t)
	want := []string{"return_confirmed", "parcel_arrived", "refund_sent", "return_completed"}
	if k := kinds(got); !slices.Equal(k, want) {
		t.Fatalf("got emails %v, want %v", k, want)
	}
	for _, m := range got {
		if !strings.Contains(m.Text, "Hi Abigail,") || !strings.Contains(m.HTML, "Hi Abigail,") || !strings.Contains(m.HTML, "#7a1f5c") {
			t.Errorf("%s: not personal or not branded", m.kind())
		}
		if m.Header.Get("List-Unsubscribe") == "" || m.statusLink(t) == "" {
			t.Errorf("%s: no unsubscribe header or status link", m.kind())
		}
	}
	var refundList struct {
		Refunds []struct {
			Amount int64 `json:"amount"`
		} `json:"data"`
	}
	b.env.Do(t, "GET", fmt.Sprintf("/v1/refunds?return_id=%s", r.ID), b.shop.Keys[auth.RoleFinance], nil).JSON(t, &refundList)
	if len(refundList.Refunds) != 1 {
		t.Fatalf("refunds: %+v", refundList)
	}
	amount := fmt.Sprintf("€%d.%02d", refundList.Refunds[0].Amount/100, refundList.Refunds[0].Amount%100)
	sent := got[2]
	if !strings.Contains(sent.Header.Get("Subject"), amount) || !strings.Contains(sent.Text, "card you paid with") || !strings.Contains(sent.Text, "5 to 10 working days") {
		t.Errorf("refund sent: subject %q, text:\n%s\nwant the amount %s, the card and when banks show it", sent.Header.Get("Subject"), sent.Text, amount)
	}
	done := got[3]
	for n := 1; n <= 5; n++ {
		if !strings.Contains(done.Text, fmt.Sprintf("/feedback?ease=%d", n)) {
			t.Errorf("completed: no feedback link for %d:\n%s", n, done.Text)
		}
	}

	// each email is on the timeline once
	notes := b.notes(t, r, "email")
	wantNotes := []string{"Email sent: return confirmed", "Email sent: parcel arrived", "Email sent: refund sent", "Email sent: return completed"}
	if !slices.Equal(notes, wantNotes) {
		t.Errorf("timeline: got %q, want %q", notes, wantNotes)
	}
	var list struct {
		Emails []struct {
			Kind   string `json:"kind"`
			Status string `json:"status"`
			To     string `json:"to"`
		} `json:"emails"`
	}
	b.env.Do(t, "GET", "/v1/returns/"+r.RMA+"/emails", b.shop.Keys[auth.RoleIntegration], nil).JSON(t, &list)
	if len(list.Emails) != 4 {
		t.Fatalf("emails of the return: %+v", list)
	}
	for _, e := range list.Emails {
		if e.Status != "sent" || e.To != "abigail@example.com" {
			t.Errorf("email %s: %s to %s, want sent to abigail@example.com", e.Kind, e.Status, e.To)
		}
	}

	// nothing is sent twice: running the jobs again sends nothing
	b.drain(t)
	if n := b.smtp.Count(); n != 4 {
		t.Errorf("after another run the SMTP server has %d messages, want 4", n)
	}

	// the feedback link in the email: one click chooses, the form stores it
	fb := trackRE.FindString(done.Text) + "/feedback"
	status, page = get(t, fb+"?ease=4")
	if status != http.StatusOK || !strings.Contains(page, `value="4" checked`) {
		t.Fatalf("feedback page: got %d, want 4 chosen\n%s", status, page)
	}
	for _, answer := range []url.Values{{"ease": {"4"}, "comment": {"Quick & easy <3"}}, {"ease": {"5"}, "comment": {"Even better"}}} {
		res, err := http.PostForm(fb, answer)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("feedback %v: got %d", answer, res.StatusCode)
		}
	}
	var after struct {
		Feedback *struct {
			Ease    int    `json:"ease"`
			Comment string `json:"comment"`
		} `json:"feedback"`
	}
	b.env.Do(t, "GET", fmt.Sprintf("/v1/returns/%s", r.ID), b.shop.Keys[auth.RoleAdmin], nil).JSON(t, &after)
	if after.Feedback == nil || after.Feedback.Ease != 5 || after.Feedback.Comment != "Even better" {
		t.Errorf("the return's feedback: got %+v, want the second answer (5, Even better)", after.Feedback)
	}
	var rows int
	if err := b.env.DB.Get(&rows, `SELECT count(*) FROM return_feedback WHERE return_id = (SELECT id FROM returns WHERE public_id = $1)`, r.ID); err != nil || rows != 1 {
		t.Errorf("feedback rows: got %d (%v), want 1", rows, err)
	}
}

// TestASentEmailIsOnTheTimelineWhereItHappened: a sent email's line is kept on the
// email's own row (no timeline row that locks the return from the sending job) and
// read into the timeline at the time it was sent, after the step that wrote it and
// with the state the return had then; a line written by the earlier code, in the
// timeline's own table, shows once.
func TestASentEmailIsOnTheTimelineWhereItHappened(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.newReturn(t, "NW-1", nil)
	b.drain(t)
	b.receive(t, r)
	b.drain(t)
	b.drain(t)

	var rows, lines int
	if err := b.env.DB.QueryRow(`SELECT (SELECT count(*) FROM return_events e JOIN returns x ON x.id = e.return_id
			WHERE x.public_id = $1 AND e.event = 'email'),
		(SELECT count(*) FROM email_messages m JOIN returns x ON x.id = m.return_id
			WHERE x.public_id = $1 AND m.status = 'sent' AND m.timeline_note LIKE 'Email sent: %')`, r.ID).Scan(&rows, &lines); err != nil {
		t.Fatal(err)
	}
	if rows != 0 || lines != 4 {
		t.Fatalf("timeline rows for emails %d, lines on the emails' rows %d: want 0 and the 4 sent", rows, lines)
	}

	type entry struct {
		At    time.Time `json:"at"`
		Event string    `json:"event"`
		From  *string   `json:"from"`
		To    string    `json:"to"`
		Note  string    `json:"note"`
	}
	timeline := func() []entry {
		var out struct {
			Data []entry `json:"data"`
		}
		b.env.Do(t, "GET", fmt.Sprintf("/v1/returns/%s/events", r.ID), b.shop.Keys[auth.RoleAdmin], nil).JSON(t, &out)
		return out.Data
	}
	got := timeline()
	var seen []string
	for i, e := range got {
		if i > 0 && e.At.Before(got[i-1].At) {
			t.Errorf("entry %d (%s) at %s is earlier than the one before it (%s at %s)", i, e.Event, e.At, got[i-1].Event, got[i-1].At)
		}
		if e.Event != "email" {
			continue
		}
		seen = append(seen, e.Note)
		if i == 0 || e.To != got[i-1].To || e.From == nil || *e.From != e.To {
			t.Errorf("%q: state %v→%s, want the state the entry before it left", e.Note, e.From, e.To)
		}
	}
	want := []string{"Email sent: return confirmed", "Email sent: parcel arrived", "Email sent: refund sent", "Email sent: return completed"}
	if !slices.Equal(seen, want) {
		t.Fatalf("email lines %q, want %q", seen, want)
	}
	if last := got[len(got)-1]; last.Note != "Email sent: return completed" || last.To != "completed" {
		t.Errorf("last entry %+v, want the completion email, the return completed", last)
	}
	if first := slices.IndexFunc(got, func(e entry) bool { return e.Event == "email" }); first < 1 || got[first-1].To != "approved" {
		t.Errorf("the confirmation follows %+v, want the approval", got[max(first-1, 0)])
	}

	// an email sent before its line moved to its row: the line is in the timeline's
	// table and the row has none
	if _, err := b.env.DB.Exec(`WITH x AS (SELECT merchant_id, id, state FROM returns WHERE public_id = $1),
			m AS (UPDATE email_messages e SET timeline_note = NULL FROM x
				WHERE e.merchant_id = x.merchant_id AND e.return_id = x.id AND e.kind = 'parcel_arrived')
		INSERT INTO return_events (merchant_id, return_id, at, actor, event, from_state, to_state, note)
		SELECT merchant_id, id, now(), 'system', 'email', state, state, 'Email sent: parcel arrived' FROM x`, r.ID); err != nil {
		t.Fatal(err)
	}
	seen = nil
	for _, e := range timeline() {
		if e.Event == "email" {
			seen = append(seen, e.Note)
		}
	}
	want = []string{"Email sent: return confirmed", "Email sent: refund sent", "Email sent: return completed", "Email sent: parcel arrived"}
	if !slices.Equal(seen, want) {
		t.Errorf("with a line of the earlier form, email lines %q, want %q (each once)", seen, want)
	}
}
