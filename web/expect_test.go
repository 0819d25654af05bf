package web

import (
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/returns"
)

func TestRefundSentBy(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	pol := returns.DefaultPolicy()
	for _, tc := range []struct {
		trigger returns.RefundTrigger
		review  bool
		keepIt  bool
		want    string
	}{
		{returns.TriggerOnReceipt, false, false, "2026-12-11"},
		{returns.TriggerOnReceipt, true, false, "2026-12-12"},
		{returns.TriggerOnInspection, false, false, "2026-12-13"},
		{returns.TriggerOnCarrierScan, false, false, "2026-12-05"},
		{returns.TriggerOnReceipt, false, true, "2026-12-02"},
		{returns.TriggerOnReceipt, true, true, "2026-12-03"},
	} {
		pol.RefundTrigger, pol.ManualReview = tc.trigger, tc.review
		if got := refundSentBy(now, pol, tc.keepIt).Format("2006-01-02"); got != tc.want {
			t.Errorf("%s, review %v, keep-it %v: got %s, want %s", tc.trigger, tc.review, tc.keepIt, got, tc.want)
		}
	}
	pol.RefundTrigger, pol.ManualReview = returns.TriggerOnReceipt, false
	if got, want := expectation(lookupLang("en"), now, pol, false),
		"The refund is sent when the shop receives your parcel, usually by 11 December 2026; your bank shows it 5 to 10 days later."; got != want {
		t.Errorf("English: got %q, want %q", got, want)
	}
	if got, want := expectation(lookupLang("de"), now, pol, false),
		"Die Erstattung wird veranlasst, wenn Ihr Paket beim Shop eingeht, meist bis zum 11. Dezember 2026; Ihre Bank zeigt sie 5 bis 10 Tage später an."; got != want {
		t.Errorf("German: got %q, want %q", got, want)
	}
}
