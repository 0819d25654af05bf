package web_test

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/money"
	"github.com/roundtriphq/roundtrip/web"
)

var tagRE = regexp.MustCompile(`<[^>]*>`)

// sectionText is the text of the policy page's section (or FAQ entry) with the id,
// without markup, spaces squeezed.
func sectionText(t testing.TB, body, id string) string {
	t.Helper()
	re := regexp.MustCompile(`(?s)<(section|details)[^>]* id="` + regexp.QuoteMeta(id) + `".*?</(section|details)>`)
	m := re.FindString(body)
	if m == "" {
		return ""
	}
	return squeeze(html.UnescapeString(tagRE.ReplaceAllString(m, " ")))
}

var spaceRE = regexp.MustCompile(`[ \t\r\n]+`)

// squeeze makes a sentence comparable with sectionText's: runs of ASCII white
// space become one space (no-break spaces stay: they are part of the formats).
func squeeze(s string) string { return strings.TrimSpace(spaceRE.ReplaceAllString(s, " ")) }

type quoted struct {
	Eligible bool `json:"eligible"`
	Issues   []struct {
		Code string `json:"code"`
	} `json:"issues"`
	Lines []struct {
		Eligible      bool   `json:"eligible"`
		Code          string `json:"code"`
		RestockingBps int    `json:"restocking_fee_bps"`
		RestockingFee int64  `json:"restocking_fee"`
	} `json:"lines"`
	LabelFee            int64 `json:"label_fee"`
	ShippingRefund      int64 `json:"shipping_refund"`
	StoreCreditBonusBps int   `json:"store_credit_bonus_bps"`
	StoreCreditBonus    int64 `json:"store_credit_bonus"`
	KeepIt              bool  `json:"keep_it"`
	Total               int64 `json:"total"`
}

// TestPolicyPageMatchesTheEngine changes each kind of rule through the policy API and
// checks, in every language, that the policy page's sentence and the engine's quote
// change together: the page never promises what the quote refuses.
func TestPolicyPageMatchesTheEngine(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	// an order with a tagged line, delivered three days ago
	delivered := time.Now().Add(-72 * time.Hour).UTC().Truncate(time.Second)
	s.do(t, "PUT", "/v1/orders/NW-TAG", auth.RoleIntegration, map[string]any{
		"customer": map[string]any{"email": "tag@example.com", "first_name": "Tess",
			"address": map[string]any{"line1": "1 Main St", "city": "London", "postal_code": "N1 9GU", "country": "GB"}},
		"currency": "EUR", "placed_at": delivered.Add(-48 * time.Hour).Format(time.RFC3339), "delivered_at": delivered.Format(time.RFC3339),
		"lines":   []map[string]any{{"id": "c1", "sku": "CAP-RED", "name": "Cap, red", "quantity": 1, "unit_price": 1500, "tags": []string{"Clearance"}}},
		"payment": map[string]any{"provider": "stripe", "payment_intent_id": "pi_tag", "captured": 1500},
	}, http.StatusCreated)
	c := s.client(t)
	policy := map[string]any{}
	put := func(t *testing.T, changes map[string]any) {
		t.Helper()
		policy = map[string]any{"window_days": 30}
		for k, v := range changes {
			policy[k] = v
		}
		s.do(t, "PUT", "/v1/policy", auth.RoleAdmin, policy, http.StatusOK)
	}
	quote := func(t *testing.T, order, line, reason, res string) quoted {
		t.Helper()
		var q quoted
		s.do(t, "POST", "/v1/returns/quote", auth.RoleIntegration, map[string]any{"order_number": order, "resolution": res,
			"items": []map[string]any{{"line_id": line, "quantity": 1, "reason": reason}}}, http.StatusOK).JSON(t, &q)
		return q
	}
	// says checks the section of the page in every language: it holds the sentence
	// (message id with kv) and each of the parts (formatted per language by part).
	saysIn := func(t *testing.T, section, english string, id string, kvOf func(lang string) []any) {
		t.Helper()
		for _, lang := range web.Languages() {
			kv := kvOf(lang)
			p := c.get("/portal/northwind/policy?lang=" + lang)
			wantStatus(t, "policy page "+lang, p, http.StatusOK)
			got := sectionText(t, p.Body, section)
			if want := squeeze(web.Say(lang, id, kv...)); !strings.Contains(got, want) {
				t.Errorf("%s #%s: lacks %q:\n%s", lang, section, want, got)
			}
			if lang == "en" && !strings.Contains(got, english) {
				t.Errorf("en #%s: lacks %q:\n%s", section, english, got)
			}
		}
	}
	says := func(t *testing.T, section, english string, id string, kv ...any) {
		t.Helper()
		saysIn(t, section, english, id, func(string) []any { return kv })
	}
	lacks := func(t *testing.T, section, english string) {
		t.Helper()
		if got := sectionText(t, c.get("/portal/northwind/policy?lang=en").Body, section); strings.Contains(got, english) {
			t.Errorf("#%s still says %q", section, english)
		}
	}
	eur := func(lang string, minor int64) string { return money.FormatLocale(minor, "EUR", lang) }

	t.Run("window", func(t *testing.T) {
		put(t, map[string]any{"window_days": 2})
		if q := quote(t, "NW-1", "l1", "too_small", "refund"); q.Lines[0].Code != "outside_window" {
			t.Errorf("2-day window, delivered 3 days ago: got %+v, want outside_window", q.Lines[0])
		}
		says(t, "window", "You have 2 days to start a return.", "pp-window", "Count", 2, "Days", 2)
		put(t, map[string]any{"window_days": 4})
		if q := quote(t, "NW-1", "l1", "too_small", "refund"); !q.Lines[0].Eligible {
			t.Errorf("4-day window, delivered 3 days ago: got %+v, want eligible", q.Lines[0])
		}
		says(t, "window", "You have 4 days to start a return.", "pp-window", "Count", 4, "Days", 4)
		says(t, "window", "The days count from the day your order was delivered;", "pp-window-from") // from delivery, else fulfilment, else the order
	})
	t.Run("rule windows by category, SKU and tag", func(t *testing.T) {
		put(t, map[string]any{"rules": []map[string]any{
			{"match": map[string]any{"tag": "clearance"}, "window_days": 1},
			{"match": map[string]any{"sku": "TEE-BLK-M"}, "window_days": 60},
		}})
		if q := quote(t, "NW-TAG", "c1", "too_small", "refund"); q.Lines[0].Code != "outside_window" {
			t.Errorf("tag rule of 1 day: got %+v, want outside_window", q.Lines[0])
		}
		if q := quote(t, "NW-1", "l1", "too_small", "refund"); !q.Lines[0].Eligible {
			t.Errorf("SKU rule of 60 days: got %+v, want eligible", q.Lines[0])
		}
		says(t, "window", "Items marked “clearance”: 1 day.", "pp-rule-window-tag", "Name", "clearance", "Count", 1, "Days", 1)
		says(t, "window", "The item with article number TEE-BLK-M: 60 days.", "pp-rule-window-sku", "Name", "TEE-BLK-M", "Count", 60, "Days", 60)
	})
	t.Run("not returnable", func(t *testing.T) {
		for _, tc := range []struct{ kind, value, id, english, order, line string }{
			{"category", "t-shirts", "pp-excl-category", "Items in the category “t-shirts”: the shop does not take them back.", "NW-1", "l1"},
			{"sku", "TEE-BLK-M", "pp-excl-sku", "The item with article number TEE-BLK-M: the shop does not take it back.", "NW-1", "l1"},
			{"tag", "clearance", "pp-excl-tag", "Items marked “clearance”: the shop does not take them back.", "NW-TAG", "c1"},
		} {
			put(t, map[string]any{"rules": []map[string]any{{"match": map[string]any{tc.kind: tc.value}, "not_returnable": true}}})
			if q := quote(t, tc.order, tc.line, "damaged", "refund"); q.Lines[0].Code != "not_returnable" {
				t.Errorf("%s rule: got %+v, want not_returnable", tc.kind, q.Lines[0])
			}
			says(t, "not-returnable", tc.english, tc.id, "Name", tc.value)
			put(t, nil)
			if q := quote(t, tc.order, tc.line, "damaged", "refund"); !q.Lines[0].Eligible {
				t.Errorf("without the %s rule: got %+v, want eligible", tc.kind, q.Lines[0])
			}
			lacks(t, "not-returnable", tc.english)
		}
		if q := quote(t, "NW-1", "l2", "damaged", "refund"); q.Lines[0].Code != "final_sale" {
			t.Errorf("gift card: got %+v, want final_sale", q.Lines[0])
		}
		says(t, "not-returnable", "Items sold as final sale", "pp-final-sale")
	})
	t.Run("restocking fee", func(t *testing.T) {
		put(t, map[string]any{"rules": []map[string]any{{"match": map[string]any{"category": "T-Shirts"}, "restocking_fee_bps": 1500}}})
		q := quote(t, "NW-1", "l1", "too_small", "refund")
		if q.Lines[0].RestockingBps != 1500 || q.Lines[0].RestockingFee != money.BasisPoints(2500, 1500) {
			t.Errorf("15%% rule: got %+v", q.Lines[0])
		}
		saysIn(t, "fees", "Items in the category “T-Shirts”: 15%. For an item of €50.00 that is €7.50, so €42.50 comes back",
			"pp-fee-category", func(lang string) []any {
				return []any{"Name", "T-Shirts", "Rate", web.PercentIn(lang, q.Lines[0].RestockingBps),
					"Example", eur(lang, 5000), "Fee", eur(lang, money.BasisPoints(5000, int64(q.Lines[0].RestockingBps))), "Back", eur(lang, 4250)}
			})
		if q := quote(t, "NW-1", "l1", "damaged", "refund"); q.Lines[0].RestockingFee != 0 {
			t.Errorf("damaged: got restocking fee %d, want none", q.Lines[0].RestockingFee)
		}
		says(t, "merchant-fault", "there is no restocking fee and no label fee", "pp-fault")
		put(t, nil)
		says(t, "fees", "There are no restocking fees.", "pp-fees-none")
	})
	t.Run("return shipping", func(t *testing.T) {
		put(t, map[string]any{"return_shipping": map[string]any{"mode": "flat", "label_fees": map[string]any{"EUR": 495}}})
		q := quote(t, "NW-1", "l1", "too_small", "refund")
		if q.LabelFee != 495 {
			t.Errorf("flat label fee: got %d, want 495", q.LabelFee)
		}
		if q := quote(t, "NW-1", "l1", "wrong_item", "refund"); q.LabelFee != 0 || q.ShippingRefund != 495+99 {
			t.Errorf("wrong item: got label fee %d and shipping refund %d, want 0 and 594", q.LabelFee, q.ShippingRefund)
		}
		saysIn(t, "shipping", "The return label costs €4.95, taken off your refund. For items worth €50.00 you get €45.05 back.", "pp-ship-flat",
			func(lang string) []any {
				return []any{"Fee", eur(lang, q.LabelFee), "Example", eur(lang, 5000), "Back", eur(lang, 5000-q.LabelFee)}
			})
		put(t, nil)
		if q := quote(t, "NW-1", "l1", "too_small", "refund"); q.LabelFee != 0 {
			t.Errorf("free shipping: got label fee %d", q.LabelFee)
		}
		says(t, "shipping", "Return shipping is free", "pp-ship-free")
	})
	t.Run("resolutions and bonus", func(t *testing.T) {
		put(t, map[string]any{"resolutions": []string{"refund", "store_credit"}, "store_credit_bonus_bps": 2000})
		q := quote(t, "NW-1", "l1", "too_small", "store_credit")
		if q.StoreCreditBonusBps != 2000 || q.StoreCreditBonus != money.BasisPoints(q.Total-q.StoreCreditBonus, 2000) {
			t.Errorf("20%% bonus: got %d bps, %d", q.StoreCreditBonusBps, q.StoreCreditBonus)
		}
		for _, lang := range web.Languages() {
			got := sectionText(t, c.get("/portal/northwind/policy?lang="+lang).Body, "resolutions")
			want := squeeze(web.Say(lang, "pp-res-credit-bonus", "Rate", web.PercentIn(lang, 2000), "Example", eur(lang, 5000), "Credit", eur(lang, 6000)))
			if !strings.Contains(got, want) {
				t.Errorf("%s #resolutions: got %s, want %s", lang, got, want)
			}
		}
		says(t, "resolutions", "with 20% extra: for a refund of €50.00 you get €60.00 of credit.", "pp-res-refund")
		says(t, "resolutions", "Exchanges are not offered", "pp-res-no-exchange")

		put(t, map[string]any{"resolutions": []string{"refund", "exchange"}})
		if q := quote(t, "NW-1", "l1", "too_small", "store_credit"); len(q.Issues) == 0 || q.Issues[0].Code != "resolution_not_allowed" {
			t.Errorf("store credit not offered: got %+v", q.Issues)
		}
		lacks(t, "resolutions", "Store credit to spend in the shop")
		says(t, "resolutions", "write to help@northwind.example to arrange it", "pp-res-exchange", "Support", "help@northwind.example")
	})
	t.Run("keep it", func(t *testing.T) {
		put(t, map[string]any{"keep_it_threshold": map[string]any{"EUR": 5000}})
		if q := quote(t, "NW-1", "l1", "too_small", "refund"); !q.KeepIt {
			t.Errorf("€29.75 under a €50.00 threshold: got %+v, want keep-it", q)
		}
		for _, lang := range web.Languages() {
			got := sectionText(t, c.get("/portal/northwind/policy?lang="+lang).Body, "keep-it")
			if want := squeeze(web.Say(lang, "pp-keepit", "Amount", eur(lang, 5000))); !strings.Contains(got, want) {
				t.Errorf("%s #keep-it: got %q, want %q", lang, got, want)
			}
		}
		put(t, nil)
		if q := quote(t, "NW-1", "l1", "too_small", "refund"); q.KeepIt {
			t.Errorf("without a threshold: got keep-it")
		}
		if got := sectionText(t, c.get("/portal/northwind/policy").Body, "keep-it"); got != "" {
			t.Errorf("without a threshold the page still has #keep-it: %s", got)
		}
	})
	t.Run("approval, label validity and the serial-returner rule", func(t *testing.T) {
		put(t, map[string]any{"manual_review": true, "label_validity_days": 7,
			"serial_returner": map[string]any{"enabled": true, "max_returns": 3, "period_days": 60}})
		says(t, "approval", "The shop checks each return before approving it", "pp-review-manual")
		says(t, "approval", "The label is valid for 7 days.", "pp-label-valid", "Count", 7, "Days", 7)
		says(t, "approval", "If you start more than 3 returns within 60 days, refunds wait until the shop has checked the items.",
			"pp-serial", "Max", 3, "Count", 60, "Days", 60)
		r := s.createReturn(t, "NW-1", 1)
		if r.State != "requested" {
			t.Errorf("manual review: return is %s, want requested", r.State)
		}
		put(t, map[string]any{"label_validity_days": 7})
		says(t, "approval", "A return that follows this policy is approved at once", "pp-review-auto")
		lacks(t, "approval", "If you start more than")
	})
	t.Run("refund trigger", func(t *testing.T) {
		for trigger, id := range map[string]string{"on_receipt": "pp-when-receipt", "on_inspection": "pp-when-inspection", "on_carrier_scan": "pp-when-scan"} {
			put(t, map[string]any{"refund_trigger": trigger})
			var got struct {
				Trigger string `json:"refund_trigger"`
			}
			s.do(t, "GET", "/v1/policy", auth.RoleAdmin, nil, http.StatusOK).JSON(t, &got)
			if got.Trigger != trigger {
				t.Fatalf("policy trigger: got %s, want %s", got.Trigger, trigger)
			}
			says(t, "refund-timing", web.Say("en", id), id)
			says(t, "faq-how-long", web.Say("en", id), id)
		}
	})
}
