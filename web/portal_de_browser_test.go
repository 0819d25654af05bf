package web_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/money"
)

// TestGermanJourneyWithLiveQuoteAndPhotos: a shopper whose order says de-DE finds
// the order, chooses a damaged item with a photo, watches the quote follow her
// choices in euros as Germans write them, sees when the money comes, and confirms:
// three screens from the first page to the label.
func TestGermanJourneyWithLiveQuoteAndPhotos(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	placed := time.Now().Add(-72 * time.Hour).UTC().Truncate(time.Second)
	s.do(t, "PUT", "/v1/orders/NW-DE", auth.RoleIntegration, map[string]any{
		"customer": map[string]any{"email": "lena@example.com", "first_name": "Lena",
			"address": map[string]any{"line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"}},
		"currency": "EUR", "placed_at": placed.Format(time.RFC3339), "delivered_at": placed.Add(24 * time.Hour).Format(time.RFC3339), "locale": "de-DE",
		"lines":    []map[string]any{{"id": "d1", "sku": "TEE-BLK-M", "name": "Bio-T-Shirt, schwarz, M", "quantity": 2, "unit_price": 2500, "tax": 950, "category": "t-shirts"}},
		"shipping": 495, "shipping_tax": 99,
		"payment": map[string]any{"provider": "stripe", "payment_intent_id": "pi_de", "captured": 2*2500 + 950 + 495 + 99},
	}, http.StatusCreated)
	quote := func(qty int, reason string) int64 {
		var q struct {
			Total int64 `json:"total"`
		}
		s.do(t, "POST", "/v1/returns/quote", auth.RoleIntegration, map[string]any{"order_number": "NW-DE", "resolution": "refund",
			"items": []map[string]any{{"line_id": "d1", "quantity": qty, "reason": reason}}}, http.StatusOK).JSON(t, &q)
		return q.Total
	}
	jpg := filepath.Join(t.TempDir(), "riss.jpg")
	if err := os.WriteFile(jpg, photo(t, "jpeg"), 0o644); err != nil {
		t.Fatal(err)
	}

	b := newTab(t, s.env.URL)
	screens := 0
	b.open("/portal/northwind")
	screens++
	b.waitVisible("#order_number")
	b.submit("find the order", chromedp.SendKeys(chromedp.ID("order_number"), "NW-DE"), chromedp.SendKeys(chromedp.ID("email"), "lena@example.com"+kb.Enter))
	screens++
	b.waitVisible(`html[lang="de"] form[data-live-quote]`)
	b.mustSee("Hallo Lena!", "Kostenloses Rücksendeetikett", "Rückgaberichtlinie")

	// two, too small: the quote follows
	b.do(chromedp.SetValue(chromedp.ID("qty-0"), "2"), chromedp.SetValue(chromedp.ID("reason-0"), "too_small"))
	eval[bool](b, `document.getElementById('reason-0').dispatchEvent(new Event('change', {bubbles: true}))`)
	live := func(want int64) {
		t.Helper()
		b.poll("the live quote shows "+money.FormatLocale(want, "EUR", "de"),
			fmt.Sprintf(`(document.querySelector('#live-quote [data-total="refund"]') || {}).textContent === %q`, money.FormatLocale(want, "EUR", "de")))
	}
	live(quote(2, "too_small"))
	// one, damaged: fewer items, and the original shipping comes back
	b.do(chromedp.SetValue(chromedp.ID("qty-0"), "1"), chromedp.SetValue(chromedp.ID("reason-0"), "damaged"))
	eval[bool](b, `document.getElementById('reason-0').dispatchEvent(new Event('change', {bubbles: true}))`)
	damaged := quote(1, "damaged")
	live(damaged)
	b.waitVisible(`[data-photos="0"] input[type=file]`)
	b.do(chromedp.SetUploadFiles(chromedp.ID("photos-0"), []string{jpg}))
	b.page("items-de", true)
	b.mustSee("Versandkosten, erstattet", "5,94\u00a0€", "29,75\u00a0€", "Erstattung auf Ihre Zahlungsart: "+money.FormatLocale(damaged, "EUR", "de"),
		"Die Erstattung wird veranlasst, wenn Ihr Paket beim Shop eingeht, meist bis zum ", "Ihre Bank zeigt sie 5 bis 10 Tage später an.")

	if st := b.submit("confirm", chromedp.Click(chromedp.CSS(`[data-confirm-return]`))); st != http.StatusOK {
		t.Fatalf("confirm: got %d", st)
	}
	screens++
	b.waitVisible(".qrbox svg")
	b.page("confirmation-de", true)
	b.mustSee("Danke, Lena. Ihre Rücksendung ist bestätigt.", "Ihr Rücksendeetikett", "Etikett herunterladen (A4-PDF)")
	if screens != 3 {
		t.Errorf("screens to the label: got %d, want 3", screens)
	}
	var photos, total int64
	if err := s.env.DB.Get(&photos, `SELECT count(*) FROM return_photos p JOIN returns r ON r.id = p.return_id WHERE r.total = $1`, damaged); err != nil {
		t.Fatal(err)
	}
	if err := s.env.DB.Get(&total, `SELECT total FROM returns`); err != nil {
		t.Fatal(err)
	}
	if photos != 1 || total != damaged {
		t.Errorf("the return: got %d photo(s) and a total of %d, want 1 and %d", photos, total, damaged)
	}
}
