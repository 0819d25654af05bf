package labels

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/roundtriphq/roundtrip/internal/money"
	"github.com/roundtriphq/roundtrip/labels/shippo"
	"github.com/roundtriphq/roundtrip/merchant"
)

// ShippoCarrier buys return labels from real carriers (USPS, UPS, FedEx, DHL, …)
// through one merchant's Shippo account. It is remote: the service buys its labels
// in a background job, after the approval commits.
type ShippoCarrier struct {
	client   *shippo.Client
	settings merchant.CarrierSettings
}

// NewShippoCarrier returns the Shippo carrier of a merchant with settings (its
// preferred carriers and services and its default parcel) on client (its token).
func NewShippoCarrier(client *shippo.Client, settings merchant.CarrierSettings) *ShippoCarrier {
	return &ShippoCarrier{client: client, settings: settings}
}

// Code returns "shippo".
func (c *ShippoCarrier) Code() string { return merchant.CarrierShippo }

// Name returns "Shippo"; each label names its own carrier (Issued.CarrierName).
func (c *ShippoCarrier) Name() string { return "Shippo" }

// Remote returns true.
func (c *ShippoCarrier) Remote() bool { return true }

// ErrNoRate means Shippo offered no rate for the shipment (an address it cannot
// ship from or to, or no carrier account that serves it).
var ErrNoRate = errors.New("labels: Shippo offered no rate for the shipment")

// Issue buys the label of one return parcel: it first looks for a purchase made
// under req.Key (a purchase whose answer was lost), and only when there is none
// creates a return shipment (extra.is_return, a QR code asked for), chooses its
// rate by the merchant's preferences and buys it as a 4x6 PDF with req.Key as the
// purchase's metadata. It then fetches the label file and the QR code.
//
// Shippo's return shipments keep the outbound addresses: address_from is the
// shop's warehouse and address_to the shopper, and is_return swaps them on the
// label.
func (c *ShippoCarrier) Issue(ctx context.Context, req IssueRequest) (Issued, error) {
	if req.Key == "" {
		return Issued{}, errors.New("labels: a Shippo purchase needs a look-up key")
	}
	t, err := c.client.FindTransaction(ctx, req.Key, req.Since.Add(-5*time.Minute))
	if err != nil {
		return Issued{}, fmt.Errorf("labels: look for an earlier purchase: %w", err)
	}
	var rate *shippo.Rate
	if t == nil {
		p := c.settings.Parcel
		if p.Length == "" {
			p = merchant.DefaultParcel
		}
		sh, err := c.client.CreateShipment(ctx, shippo.ShipmentRequest{
			AddressFrom: shippoAddress(req.To), AddressTo: shippoAddress(req.From),
			Parcels: []shippo.Parcel{{Length: p.Length, Width: p.Width, Height: p.Height, DistanceUnit: p.DistanceUnit,
				Weight: p.Weight, MassUnit: p.MassUnit}},
			Extra:    &shippo.ShipmentExtra{IsReturn: true, QRCodeRequested: true},
			Metadata: req.Reference,
		})
		if err != nil {
			return Issued{}, fmt.Errorf("labels: create the return shipment: %w", err)
		}
		r, ok := ChooseRate(sh.Rates, c.settings.PreferredCarriers, c.settings.PreferredServices)
		if !ok {
			return Issued{}, fmt.Errorf("%w (%s)", ErrNoRate, messages(sh.Messages))
		}
		rate = &r
		bought, err := c.client.CreateTransaction(ctx, shippo.TransactionRequest{Rate: r.ObjectID, LabelFileType: "PDF_4x6", Metadata: req.Key})
		if err != nil {
			return Issued{}, fmt.Errorf("labels: buy the label: %w", err)
		}
		t = &bought
	}
	if t.Status != "SUCCESS" {
		return Issued{}, fmt.Errorf("labels: Shippo purchase %s is %s: %s", t.ObjectID, t.Status, messages(t.Messages))
	}
	if rate == nil {
		r, err := c.client.GetRate(ctx, t.RateID())
		if err != nil {
			return Issued{}, fmt.Errorf("labels: rate of purchase %s: %w", t.ObjectID, err)
		}
		rate = &r
	}
	out := Issued{TrackingNumber: NormalizeTracking(t.TrackingNumber), Service: rate.ServiceLevel.Name,
		LabelID: t.ObjectID, CarrierName: rate.Provider, TrackingURL: t.TrackingURLProvider,
		DropOffURL: DropOffLocator(rate.Provider), Currency: strings.ToUpper(rate.Currency)}
	if out.Amount, err = money.Parse(rate.Amount, out.Currency); err != nil {
		return Issued{}, fmt.Errorf("labels: price %q %s of purchase %s: %w", rate.Amount, rate.Currency, t.ObjectID, err)
	}
	if out.LabelPDF, _, err = c.client.Download(ctx, t.LabelURL); err != nil {
		return Issued{}, fmt.Errorf("labels: fetch the label of purchase %s: %w", t.ObjectID, err)
	}
	if t.QRCodeURL != "" {
		if out.QRCode, _, err = c.client.Download(ctx, t.QRCodeURL); err != nil {
			return Issued{}, fmt.Errorf("labels: fetch the QR code of purchase %s: %w", t.ObjectID, err)
		}
	}
	return out, nil
}

// Void asks Shippo to refund the unused label, unless a refund of it was asked for
// already (an answer lost), and returns the refund's ID.
func (c *ShippoCarrier) Void(ctx context.Context, l Booked) (string, error) {
	if l.LabelID == "" {
		return "", fmt.Errorf("labels: void %q: %w", l.TrackingNumber, ErrUnknownTracking)
	}
	list, err := c.client.ListRefunds(ctx)
	if err != nil {
		return "", fmt.Errorf("labels: look for an earlier refund: %w", err)
	}
	for _, f := range list {
		if f.Transaction == l.LabelID && f.Status != "ERROR" {
			return f.ObjectID, nil
		}
	}
	f, err := c.client.CreateRefund(ctx, l.LabelID)
	if err != nil {
		return "", fmt.Errorf("labels: refund label %s: %w", l.LabelID, err)
	}
	return f.ObjectID, nil
}

// ChooseRate picks the rate to buy: the first preferred service (by service level
// token) that is offered, else the cheapest rate of the preferred carriers (any
// carrier when none is preferred or none of them is offered). ok is false when there
// is no rate at all.
func ChooseRate(rates []shippo.Rate, carriers, services []string) (shippo.Rate, bool) {
	for _, want := range services {
		for _, r := range rates {
			if strings.EqualFold(r.ServiceLevel.Token, want) {
				return r, true
			}
		}
	}
	cheapest := func(keep func(shippo.Rate) bool) (shippo.Rate, bool) {
		var best shippo.Rate
		var bestAmount int64 = -1
		for _, r := range rates {
			if !keep(r) {
				continue
			}
			a, err := money.ParseDecimal(r.Amount, 4)
			if err != nil {
				continue
			}
			if bestAmount < 0 || a < bestAmount {
				best, bestAmount = r, a
			}
		}
		return best, bestAmount >= 0
	}
	if len(carriers) > 0 {
		if r, ok := cheapest(func(r shippo.Rate) bool {
			return slices.ContainsFunc(carriers, func(c string) bool { return strings.EqualFold(c, shippoCarrierName(r.Provider)) })
		}); ok {
			return r, true
		}
	}
	return cheapest(func(shippo.Rate) bool { return true })
}

// shippoCarrierName is the carrier's name as Shippo's tracking paths and the
// settings write it: "USPS" → usps, "DHL Express" → dhl_express.
func shippoCarrierName(provider string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(provider)), " ", "_")
}

// DropOffLocator is the carrier's page to find a place to drop a parcel off, or "".
func DropOffLocator(provider string) string {
	switch shippoCarrierName(provider) {
	case "usps":
		return "https://tools.usps.com/find-location.htm"
	case "ups":
		return "https://www.ups.com/dropoff"
	case "fedex":
		return "https://local.fedex.com/"
	case "dhl_express", "dhl_ecommerce", "dhl":
		return "https://locator.dhl.com/"
	case "evri":
		return "https://www.evri.com/find-a-parcelshop"
	}
	return ""
}

func messages(list []shippo.Message) string {
	var parts []string
	for _, m := range list {
		if m.Text != "" {
			parts = append(parts, strings.TrimSpace(m.Source+" "+m.Text))
		}
	}
	if len(parts) == 0 {
		return "no message"
	}
	return strings.Join(parts, "; ")
}

func shippoAddress(a Address) shippo.Address {
	street1, street2 := a.Line1, a.Line2
	return shippo.Address{Name: a.Name, Company: a.Company, Street1: street1, Street2: street2, City: a.City,
		State: a.Region, Zip: a.PostalCode, Country: a.Country}
}
