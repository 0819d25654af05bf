package web_test

import (
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/money"
)

// TestPolicyPageInABrowser: the first screen links to the policy page; the page
// reads well on a phone and a desktop, in the browser's language and in the one
// picked from the switcher, and its examples are in the shop's money as the
// language writes it.
func TestPolicyPageInABrowser(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	s.do(t, "PUT", "/v1/policy", auth.RoleAdmin, map[string]any{"window_days": 30,
		"return_shipping": map[string]any{"mode": "flat", "label_fees": map[string]any{"EUR": 495}},
		"rules":           []map[string]any{{"match": map[string]any{"category": "swimwear"}, "restocking_fee_bps": 1000}},
	}, http.StatusOK)
	b := newTab(t, s.env.URL)
	b.open("/portal/northwind")
	b.waitVisible("#policy-link")
	b.submit("open the policy page", chromedp.Click(chromedp.ID("policy-link")))
	b.waitVisible("#faq")
	b.page("policy", true)
	b.mustSee("Return policy", "You have 30 days to start a return.", "The return label costs €4.95",
		"Items in the category “swimwear”: 10%.", "I have no printer.", "What if my refund fails?")

	// the switcher, on the page itself
	b.submit("switch to German", chromedp.Click(chromedp.CSS(`.langs a[hreflang="de"]`)))
	b.waitVisible(`html[lang="de"] #faq`)
	b.page("policy-de", true)
	b.mustSee("Rückgaberichtlinie", "Sie haben 30 Tage Zeit", "Das Rücksendeetikett kostet "+money.FormatLocale(495, "EUR", "de"),
		"Ich habe keinen Drucker.")
	// an FAQ answer opens from the keyboard
	b.do(chromedp.Focus(chromedp.CSS("#faq-lost-label summary")))
	b.do(chromedp.KeyEvent("\r"))
	if open := eval[bool](b, `document.getElementById('faq-lost-label').open`); !open {
		t.Errorf("Enter on the question did not open its answer")
	}
	// and the choice stays for the next page
	b.open("/portal/northwind/policy")
	b.waitVisible(`html[lang="de"] #faq`)
}
