package labels

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Carrier issues and voids prepaid return labels with one carrier. The
// built-in [OwnCourier] numbers parcels itself; [ShippoCarrier] buys labels
// from real carriers through Shippo's API.
//
// Implementations are stateless and safe for concurrent use: whatever must
// be unique (the serial number, the look-up key) comes in the request, and
// the caller stores what Issue returns.
type Carrier interface {
	// Code is the stable identifier stored with each label, e.g. "own".
	Code() string
	// Name is the carrier's name as printed on the label.
	Name() string
	// Remote reports whether Issue calls the carrier over the network. A
	// remote label is bought by a background job after the approval commits
	// (the parcel is "preparing" until then), never inside a request.
	Remote() bool
	// Issue books the return shipment of one parcel and returns its
	// tracking number. The same request yields the same tracking number
	// for carriers that derive it from req.Serial; remote carriers look
	// for an earlier purchase under req.Key before buying, so a purchase
	// whose answer was lost is found instead of bought twice.
	Issue(ctx context.Context, req IssueRequest) (Issued, error)
	// Void cancels an unused label so that it is not charged and returns the
	// carrier's reference of the cancellation ("" when there is nothing
	// remote). Voiding a label twice is not an error. It answers an error
	// wrapping ErrUnknownTracking for a label the carrier did not issue.
	Void(ctx context.Context, l Booked) (string, error)
}

// Booked is an issued label, as Void needs it.
type Booked struct {
	TrackingNumber string
	// LabelID is the carrier's ID of the purchase (a Shippo transaction).
	LabelID string
}

// IssueRequest is one parcel to book.
type IssueRequest struct {
	// Serial is unique per carrier, taken from a database sequence.
	// Carriers that number parcels themselves ignore it.
	Serial int64
	// Reference is the return's RMA number, passed on as the shipment
	// reference.
	Reference string
	// Service is the carrier's service code; "" selects its default.
	Service string
	From    Address // the shopper
	To      Address // the returns warehouse
	// Parcel is this parcel's number, from 1, and Parcels the return's parcels, for
	// a remote carrier's purchase; an own label is booked with neither (its number
	// comes with the parcel's insert, and the own courier prints neither).
	Parcel  int
	Parcels int
	// WeightGrams is the declared weight; 0 when unknown.
	WeightGrams int
	// Key identifies this parcel's purchase at a remote carrier (sent as the
	// purchase's metadata); Since bounds how far back to look for it.
	Key   string
	Since time.Time
}

// Issued is a booked label.
type Issued struct {
	TrackingNumber string // as the carrier formats it, without spaces
	Service        string // service name as printed on the label

	// What a remote carrier answers besides: its ID of the purchase, the
	// carrier's name (USPS, UPS, …), its tracking page, the label file (a 4x6
	// inch PDF), the drop-off QR code (PNG) when the carrier gives one, its
	// drop-off locator, and the price paid in minor units of Currency.
	LabelID     string
	CarrierName string
	TrackingURL string
	LabelPDF    []byte
	QRCode      []byte
	DropOffURL  string
	Amount      int64
	Currency    string
}

// ErrUnknownTracking is wrapped by Void when the carrier did not issue the
// tracking number.
var ErrUnknownTracking = errors.New("labels: tracking number not issued by this carrier")

// OwnCourier is a merchant's own courier (or a contracted local one). It
// issues UPU S10 tracking numbers from the request's serial with a fixed
// service indicator and country, and has nothing remote to book or void.
type OwnCourier struct {
	name      string
	indicator string
	country   string
}

// NewOwnCourier returns a courier printed as name that issues S10 numbers
// with the two-letter service indicator (domestic ranges such as "ZA"–"ZZ"
// suit a private courier) and the ISO 3166-1 alpha-2 country code.
func NewOwnCourier(name, serviceIndicator, country string) (*OwnCourier, error) {
	if _, err := S10(serviceIndicator, 0, country); err != nil {
		return nil, err
	}
	if strings.TrimSpace(name) == "" {
		return nil, errors.New("labels: own courier needs a name")
	}
	return &OwnCourier{
		name:      name,
		indicator: strings.ToUpper(serviceIndicator),
		country:   strings.ToUpper(country),
	}, nil
}

// Code returns "own".
func (c *OwnCourier) Code() string { return "own" }

// Remote returns false: own labels are numbered and printed here.
func (c *OwnCourier) Remote() bool { return false }

// Name returns the name the courier was created with.
func (c *OwnCourier) Name() string { return c.name }

// Issue returns the S10 number of req.Serial, which must lie between 0 and
// MaxS10Serial: S10 numbers have eight digits, so a sequence that passes
// 99,999,999 must wrap (S10 allows reuse after 12 months) or move to a new
// service indicator. req.Service is printed as the service name ("Return"
// when empty).
func (c *OwnCourier) Issue(ctx context.Context, req IssueRequest) (Issued, error) {
	if err := ctx.Err(); err != nil {
		return Issued{}, err
	}
	if req.Serial < 0 || req.Serial > MaxS10Serial {
		return Issued{}, fmt.Errorf("labels: own courier: serial %d out of range 0 to %d", req.Serial, MaxS10Serial)
	}
	tn, err := S10(c.indicator, int(req.Serial), c.country)
	if err != nil {
		return Issued{}, err
	}
	service := strings.TrimSpace(req.Service)
	if service == "" {
		service = "Return"
	}
	return Issued{TrackingNumber: tn, Service: service}, nil
}

// Void accepts any tracking number this courier could have issued (in any
// spacing or case): an own courier has nothing to cancel remotely, the
// caller records the void.
func (c *OwnCourier) Void(ctx context.Context, l Booked) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	tn := NormalizeTracking(l.TrackingNumber)
	if !ValidS10(tn) || tn[:2] != c.indicator || tn[11:] != c.country {
		return "", fmt.Errorf("labels: void %q: %w", l.TrackingNumber, ErrUnknownTracking)
	}
	return "", nil
}
