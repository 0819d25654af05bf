package web

import (
	"time"

	"github.com/roundtriphq/roundtrip/returns"
)

// When the shopper's money is expected, said before they confirm. The refund is sent
// on the policy's trigger; how long that usually takes is the sum of these steps.
const (
	// handOverDays: a shopper usually hands the parcel to the carrier within three
	// days of getting the label.
	handOverDays = 3
	// transitDays: the return service's usual transit (2 to 4 days).
	transitDays = 4
	// receivingDays: the warehouse books in a parcel within two days of delivery.
	receivingDays = 2
	// inspectionDays: an inspection after receipt takes up to two more days.
	inspectionDays = 2
	// reviewDays: a return the shop reviews first is usually decided within a day.
	reviewDays = 1
)

// refundSentBy is the day by which the refund of a return confirmed at now is
// usually sent, under the policy (keepIt: the return needs no parcel).
func refundSentBy(now time.Time, pol returns.Policy, keepIt bool) time.Time {
	days := 0
	if pol.ManualReview {
		days += reviewDays
	}
	if !keepIt {
		switch pol.RefundTrigger {
		case returns.TriggerOnCarrierScan:
			days += handOverDays
		case returns.TriggerOnInspection:
			days += handOverDays + transitDays + receivingDays + inspectionDays
		default:
			days += handOverDays + transitDays + receivingDays
		}
	}
	return now.AddDate(0, 0, days)
}

// expectation says when the money is expected: what sends it, by when usually, and
// how long banks take.
func expectation(l *Lang, now time.Time, pol returns.Policy, keepIt bool) string {
	by := l.Date(refundSentBy(now, pol, keepIt))
	switch {
	case keepIt && pol.ManualReview:
		return l.T("ex-keepit-review", "Date", by)
	case keepIt:
		return l.T("ex-keepit")
	case pol.RefundTrigger == returns.TriggerOnCarrierScan:
		return l.T("ex-scan", "Date", by)
	case pol.RefundTrigger == returns.TriggerOnInspection:
		return l.T("ex-inspection", "Date", by)
	}
	return l.T("ex-receipt", "Date", by)
}
