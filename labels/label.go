package labels

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Format is the page a label is printed on. The zero value is [Format4x6].
type Format string

const (
	// Format4x6 is a 4x6 inch (101.6 x 152.4 mm) page, the thermal label
	// printer standard.
	Format4x6 Format = "4x6"
	// FormatLetter places the 4x6 label on a US Letter page with a dashed cut
	// line and packing instructions, for home printers.
	FormatLetter Format = "letter"
	// FormatA4 is [FormatLetter] on an A4 page.
	FormatA4 Format = "a4"
)

// Address is a postal address as printed. Every field is free text; empty
// fields are left out.
type Address struct {
	Name       string
	Company    string
	Line1      string
	Line2      string
	City       string
	Region     string // state, province or county
	PostalCode string
	Country    string // ISO 3166-1 alpha-2 code, printed as given (upper-cased)
}

// Label is everything printed on one parcel's return label.
//
// Free text (names, addresses, carrier, service, merchant) may hold any
// UTF-8: characters the embedded Go fonts cannot draw (CJK, emoji, Hebrew,
// Arabic, …) are printed as '?', control characters become spaces, invisible
// formatting characters (bidi overrides, zero-width joiners) are removed, and
// text too long for its box is shrunk, wrapped and finally cut with '…'.
// The barcode contents (TrackingNumber, RMA, StatusURL) are never altered:
// a value that cannot be encoded exactly is an error.
type Label struct {
	Format Format

	Carrier string // carrier name as shown, e.g. "Acme Courier"
	Service string // service name as shown, e.g. "Standard return"

	// TrackingNumber is printed as a Code 128 barcode: 1 to 28 printable
	// ASCII characters.
	TrackingNumber string
	// RMA is the return's number (e.g. "R-7KQ4-M2XD"), printed as a second
	// Code 128 barcode: 1 to 18 printable ASCII characters.
	RMA string
	// StatusURL is where the shopper follows the return, printed as a QR
	// code: printable ASCII without spaces (percent-encode anything else),
	// at most 255 bytes.
	StatusURL string

	From Address // the shopper
	To   Address // the merchant's returns warehouse

	Parcel    int // this parcel, from 1; 0 with Parcels 0 means 1 of 1
	Parcels   int // parcels in the return
	ItemCount int // items in this parcel; 0 leaves the line out

	IssuedAt   time.Time // when the label was issued; also the PDF's dates
	ValidUntil time.Time // last day the parcel may be handed to the carrier

	MerchantName string // the shop, for the "Return to" line and instructions

	// Text is the wording meant for the shopper, in the shopper's language; what it
	// leaves empty is printed in English. The captions meant for the carrier (FROM,
	// TO, TRACKING NUMBER, POSTAGE PAID) stay in English.
	Text Text
}

// Text is the shopper's part of a label's wording.
type Text struct {
	ReturnTo    string   // "Return to Northwind", on the 4x6 label
	ScanToTrack string   // under the QR code
	Title       string   // the heading of the instructions on a Letter or A4 page
	Steps       []string // the numbered instructions, complete sentences
	CutCaption  string   // along the dashed line
}

// ErrInvalidLabel is wrapped by every error that reports a Label that cannot
// be printed; use errors.Is. Such a label is a programming or data error on
// the caller's side, not a rendering failure.
var ErrInvalidLabel = errors.New("labels: invalid label")

// FieldError names one Label field that cannot be printed.
type FieldError struct {
	Field  string // Go field name, e.g. "TrackingNumber" or "To"
	Reason string
}

func (e *FieldError) Error() string { return "labels: " + e.Field + ": " + e.Reason }

// Unwrap makes errors.Is(err, ErrInvalidLabel) true.
func (e *FieldError) Unwrap() error { return ErrInvalidLabel }

// Limits on barcode contents; longer values do not fit the label at a module
// width a 203 dpi printer resolves.
const (
	maxTrackingLen  = 28
	maxRMALen       = 18
	maxStatusURLLen = 255
)

// Validate reports every field that keeps the label from being printed, as
// *FieldError values joined with errors.Join, or nil. Render calls it.
//
// Required: TrackingNumber, RMA and StatusURL (within the limits their
// field comments give), a recipient with a name or company and a street,
// city or postal code, IssuedAt, and ValidUntil not before IssuedAt. From
// may be empty. Whether the barcodes fit is checked again by Render (it
// depends on the layout); these limits are chosen so that they always do.
func (l *Label) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	switch l.Format {
	case "", Format4x6, FormatLetter, FormatA4:
	default:
		add("Format", "unknown format %q (want %q, %q or %q)", string(l.Format), Format4x6, FormatLetter, FormatA4)
	}
	checkCode := func(field, v string, maxLen int) {
		switch {
		case v == "":
			add(field, "must not be empty")
		case len(v) > maxLen:
			add(field, "%d characters, at most %d fit on the label", len(v), maxLen)
		case !printableASCII(v):
			add(field, "%q holds characters a barcode cannot carry (printable ASCII only)", v)
		case strings.TrimSpace(v) != v:
			add(field, "%q has leading or trailing spaces", v)
		}
	}
	checkCode("TrackingNumber", l.TrackingNumber, maxTrackingLen)
	checkCode("RMA", l.RMA, maxRMALen)
	checkCode("StatusURL", l.StatusURL, maxStatusURLLen)
	if strings.ContainsRune(l.StatusURL, ' ') {
		add("StatusURL", "must not contain spaces (percent-encode them)")
	}
	if blankAddress(l.To) {
		add("To", "needs a name or company and a street, city or postal code")
	}
	p, n := l.parcels()
	switch {
	case n < 1 || n > 999:
		add("Parcels", "%d, want 1 to 999", l.Parcels)
	case p < 1 || p > n:
		add("Parcel", "%d of %d, want 1 to %d", l.Parcel, l.Parcels, n)
	}
	if l.ItemCount < 0 || l.ItemCount > 99999 {
		add("ItemCount", "%d, want 0 to 99999", l.ItemCount)
	}
	if l.IssuedAt.IsZero() {
		add("IssuedAt", "must be set (it also dates the PDF)")
	} else if y := l.IssuedAt.Year(); y < 2000 || y > 9999 {
		add("IssuedAt", "year %d out of range", y)
	}
	switch {
	case l.ValidUntil.IsZero():
		add("ValidUntil", "must be set")
	case !l.IssuedAt.IsZero() && l.ValidUntil.Before(l.IssuedAt):
		add("ValidUntil", "%s is before IssuedAt %s", l.ValidUntil.Format(time.DateOnly), l.IssuedAt.Format(time.DateOnly))
	case l.ValidUntil.Year() > 9999:
		add("ValidUntil", "year %d out of range", l.ValidUntil.Year())
	}
	return errors.Join(errs...)
}

// parcels returns Parcel and Parcels with the zero values meaning 1 of 1.
func (l *Label) parcels() (parcel, parcels int) {
	if l.Parcel == 0 && l.Parcels == 0 {
		return 1, 1
	}
	return l.Parcel, l.Parcels
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// blankAddress reports whether a has nothing that would let a carrier
// deliver to it once cleaned for printing.
func blankAddress(a Address) bool {
	who := clean(a.Name) != "" || clean(a.Company) != ""
	where := clean(a.Line1) != "" || clean(a.City) != "" || clean(a.PostalCode) != ""
	return !who || !where
}
