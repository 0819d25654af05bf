package returns

// ReasonCode names why a shopper returns an item. The catalogue is fixed (see Reasons):
// analytics group returns by it and the policy waives fees for merchant-fault reasons.
type ReasonCode string

// The return reasons.
const (
	// ReasonTooSmall: the item is too small.
	ReasonTooSmall ReasonCode = "too_small"
	// ReasonTooLarge: the item is too large.
	ReasonTooLarge ReasonCode = "too_large"
	// ReasonNotAsDescribed: the item is not what the shop described (merchant fault).
	ReasonNotAsDescribed ReasonCode = "not_as_described"
	// ReasonDamaged: the item arrived damaged or defective (merchant fault).
	ReasonDamaged ReasonCode = "damaged"
	// ReasonWrongItem: the shop sent another item than the one ordered (merchant fault).
	ReasonWrongItem ReasonCode = "wrong_item"
	// ReasonChangedMind: the shopper no longer wants the item.
	ReasonChangedMind ReasonCode = "changed_mind"
	// ReasonArrivedLate: the item arrived too late to be useful.
	ReasonArrivedLate ReasonCode = "arrived_late"
	// ReasonOther: any other reason.
	ReasonOther ReasonCode = "other"
)

// Reason is one entry of the return-reason catalogue.
type Reason struct {
	Code          ReasonCode `json:"code" doc:"Machine code of the reason." example:"damaged"`
	Label         string     `json:"label" doc:"Shopper-facing label." example:"Damaged or defective"`
	MerchantFault bool       `json:"merchant_fault" doc:"True when the shop is at fault: the return carries no fees and refunds the original shipping."`
}

// Reasons returns the catalogue in the order a portal should list it. The slice is new
// on every call, so the caller may change it.
func Reasons() []Reason {
	return []Reason{
		{ReasonTooSmall, "Too small", false},
		{ReasonTooLarge, "Too large", false},
		{ReasonNotAsDescribed, "Not as described", true},
		{ReasonDamaged, "Damaged or defective", true},
		{ReasonWrongItem, "Wrong item sent", true},
		{ReasonChangedMind, "Changed my mind", false},
		{ReasonArrivedLate, "Arrived too late", false},
		{ReasonOther, "Other", false},
	}
}

// LookupReason returns the catalogue entry for code, and false when there is none.
func LookupReason(code ReasonCode) (Reason, bool) {
	for _, r := range Reasons() {
		if r.Code == code {
			return r, true
		}
	}
	return Reason{}, false
}
