package web_test

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/web"
)

// TestFeedbackAndUnsubscribeSpeakEachLanguage walks the feedback question (not yet,
// asked, refused, saved) and the unsubscribe page of an email's link (asked, done)
// in each language, and finds no text of the English pages left in the German,
// French, Spanish and Japanese ones.
func TestFeedbackAndUnsubscribeSpeakEachLanguage(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	r := s.createReturn(t, "NW-1", 1)
	s.order(t, "NW-2", "ada@example.com", "Ada")
	open := s.createReturn(t, "NW-2", 1)
	s.do(t, "POST", "/v1/scans", auth.RoleWarehouse, map[string]any{"code": r.RMA}, http.StatusOK)
	s.do(t, "POST", fmt.Sprintf("/v1/returns/%s/receipts", r.ID), auth.RoleWarehouse, map[string]any{
		"items": []map[string]any{{"line_id": "l1", "quantity": 1, "condition": "like_new", "disposition": "restock"}}}, http.StatusCreated)
	s.drain(t)
	s.drain(t)
	// an email's link to the return, as the emails write them
	token := "rtl_feedbacklangtesttoken0123456789"
	h := sha256.Sum256([]byte(token))
	if _, err := s.env.DB.Exec(`INSERT INTO return_links (token_hash, merchant_id, return_id, email) SELECT $1, $2, id, $4 FROM returns WHERE public_id = $3`,
		h[:], s.tn.Merchant.ID, r.ID, "ada@example.com"); err != nil {
		t.Fatal(err)
	}
	track := "/portal/northwind/track/" + token
	data := []string{"Northwind Outfitters", "ada@example.com", "help@northwind.example", r.RMA, open.RMA, "NW-1", "NW-2", "Ada", "Roundtrip",
		"English", "Deutsch", "Français", "Español", "日本語"}
	walk := func(lang string) map[string]string {
		pages := map[string]string{}
		c := s.client(t)
		c.get("/portal/northwind/lang?to=" + lang)
		c.lookUp("northwind", "NW-1", "ada@example.com")
		status := "/portal/northwind/returns/" + r.RMA
		c2 := s.client(t)
		c2.get("/portal/northwind/lang?to=" + lang)
		c2.lookUp("northwind", "NW-2", "ada@example.com")
		notYet := c2.get("/portal/northwind/returns/" + open.RMA + "/feedback")
		wantStatus(t, lang+" not yet", notYet, http.StatusConflict)
		pages["not-yet"] = notYet.Body
		form := c.get(status + "/feedback?ease=4")
		wantStatus(t, lang+" feedback", form, http.StatusOK)
		pages["feedback"] = form.Body
		bad := c.post(status+"/feedback", url.Values{"ease": {"9"}, "csrf": {form.csrf(t)}})
		wantStatus(t, lang+" refused", bad, http.StatusUnprocessableEntity)
		pages["feedback-refused"] = bad.Body
		saved := c.post(status+"/feedback", url.Values{"ease": {"4"}, "csrf": {form.csrf(t)}})
		wantStatus(t, lang+" saved", saved, http.StatusOK)
		pages["feedback-saved"] = saved.Body
		tracked := c.get(track + "/feedback")
		wantStatus(t, lang+" tracked feedback", tracked, http.StatusOK)
		pages["track-feedback"] = tracked.Body
		ask := c.get(track + "/unsubscribe")
		wantStatus(t, lang+" unsubscribe", ask, http.StatusOK)
		pages["unsubscribe"] = ask.Body
		done := c.post(track+"/unsubscribe", url.Values{})
		wantStatus(t, lang+" unsubscribed", done, http.StatusOK)
		pages["unsubscribed"] = done.Body
		return pages
	}
	en := walk("en")
	mustContain(t, page{Body: en["unsubscribed"]}, "gets no more status emails")
	mustContain(t, page{Body: en["feedback-saved"]}, "Thank you! Northwind Outfitters has your answer.")
	for _, lang := range web.Languages()[1:] {
		for name, body := range walk(lang) {
			if !strings.Contains(body, `<html lang="`+lang+`">`) {
				t.Errorf("%s %s: the page is not marked as %s", lang, name, lang)
			}
			english := map[string]bool{}
			for _, seg := range segments(en[name], data) {
				english[seg] = true
			}
			for _, seg := range segments(body, data) {
				if english[seg] {
					t.Errorf("%s %s: English left: %q", lang, name, seg)
				}
			}
		}
	}
}
