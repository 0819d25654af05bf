package returns

import (
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"golang.org/x/text/language"

	"github.com/roundtriphq/roundtrip/internal/money"
	"github.com/roundtriphq/roundtrip/internal/validation"
)

// Limits on an order, chosen so that every sum of its amounts fits easily in an int64.
const (
	// MaxOrderLines is the most lines an order may have.
	MaxOrderLines = 1000
	// MaxLineQuantity is the most units a line may have.
	MaxLineQuantity = 1_000_000
)

// Order is an order as the shop sends it with PUT /v1/orders/{order_number}. Amounts
// are integer minor units of Currency. The order is kept as sent: returns never change
// it, they only read from it.
//
// The order's total is Σ(unit_price × quantity − line discount + line tax) − discount +
// shipping + shipping_tax (see Total). Line taxes are what the shop charged on the line
// after its discounts; Roundtrip does not compute taxes, it refunds what was charged.
type Order struct {
	Customer    Customer   `json:"customer" doc:"The shopper who placed the order."`
	Currency    string     `json:"currency" minLength:"3" maxLength:"3" pattern:"^[A-Z]{3}$" example:"EUR" doc:"ISO 4217 code of every amount in the order."`
	PlacedAt    time.Time  `json:"placed_at" format:"date-time" example:"2026-02-01T10:00:00Z" doc:"When the shopper placed the order."`
	FulfilledAt *time.Time `json:"fulfilled_at,omitempty" format:"date-time" example:"2026-02-02T15:30:00Z" doc:"When the shop shipped the order. The return window counts from here when there is no delivered_at."`
	DeliveredAt *time.Time `json:"delivered_at,omitempty" format:"date-time" example:"2026-02-04T11:12:00Z" doc:"When the carrier delivered the order. The return window counts from here when set."`
	Lines       []Line     `json:"lines" minItems:"1" maxItems:"1000" doc:"The order's lines, each with a unique id."`
	Discount    int64      `json:"discount" required:"false" minimum:"0" example:"500" doc:"Order-level discount (a basket coupon) in minor units, not included in the lines' own discounts. Returns get a share of it pro-rated over the lines by their net value."`
	Shipping    int64      `json:"shipping" required:"false" minimum:"0" example:"495" doc:"Shipping charged, in minor units, before tax."`
	ShippingTax int64      `json:"shipping_tax" required:"false" minimum:"0" example:"99" doc:"Tax on shipping, in minor units."`
	Payment     Payment    `json:"payment" doc:"How the order was paid: refunds go back to this payment."`
	Locale      string     `json:"locale,omitempty" maxLength:"35" example:"de-DE" doc:"The shopper's language as a BCP 47 tag (de, de-AT, fr-CA, ja). The returns portal, its policy page and the label's text use it when it is English, German, French, Spanish or Japanese; otherwise the browser's language decides."`
}

// Customer is the shopper of an order.
type Customer struct {
	Email     string  `json:"email" format:"email" maxLength:"254" example:"ada@example.com" doc:"The shopper's email. With the order number it opens the returns portal; it is compared case-insensitively."`
	FirstName string  `json:"first_name,omitempty" maxLength:"200" example:"Ada" doc:"Given name. At least one of first_name and last_name is required."`
	LastName  string  `json:"last_name,omitempty" maxLength:"200" example:"Lovelace" doc:"Family name. At least one of first_name and last_name is required."`
	Phone     string  `json:"phone,omitempty" maxLength:"32" example:"+44 20 7946 0958" doc:"Phone number, for the carrier."`
	Address   Address `json:"address" doc:"Shipping address: return labels are issued from here."`
}

// TransformSchema states in the schema the rule that a customer has at least one
// name, so that a generated client or a validator knows it without reading prose.
func (Customer) TransformSchema(_ huma.Registry, s *huma.Schema) *huma.Schema {
	named := func(field string) *huma.Schema {
		return &huma.Schema{Required: []string{field},
			Properties: map[string]*huma.Schema{field: {Type: huma.TypeString, MinLength: ptr(1)}}}
	}
	s.AnyOf = []*huma.Schema{named("first_name"), named("last_name")}
	s.PrecomputeMessages()
	return s
}

func ptr[T any](v T) *T { return &v }

// Address is a postal address.
type Address struct {
	Line1      string `json:"line1" minLength:"1" maxLength:"200" example:"12 St James's Square" doc:"First address line."`
	Line2      string `json:"line2,omitempty" maxLength:"200" example:"Flat 3" doc:"Second address line."`
	City       string `json:"city" minLength:"1" maxLength:"200" example:"London" doc:"City or town."`
	Region     string `json:"region,omitempty" maxLength:"200" example:"Greater London" doc:"State, province, county or region, where the country uses one."`
	PostalCode string `json:"postal_code,omitempty" maxLength:"20" example:"SW1Y 4LB" doc:"Postal code, where the country uses one."`
	Country    string `json:"country" minLength:"2" maxLength:"2" pattern:"^[A-Z]{2}$" example:"GB" doc:"ISO 3166-1 alpha-2 country code (XK is accepted for Kosovo)."`
}

// Line is one line of an order: quantity units of one product. Discount and Tax are
// for the whole line, not per unit.
type Line struct {
	ID        string   `json:"id" minLength:"1" maxLength:"255" example:"line-1" doc:"The shop's identifier of the line, unique within the order."`
	SKU       string   `json:"sku" minLength:"1" maxLength:"255" example:"TEE-BLK-M" doc:"Stock keeping unit. Policy rules can match it."`
	Name      string   `json:"name" minLength:"1" maxLength:"500" example:"Black T-shirt, M" doc:"Product name as the shopper saw it."`
	Category  string   `json:"category,omitempty" maxLength:"255" example:"t-shirts" doc:"Product category. Policy rules can match it (case-insensitively)."`
	Tags      []string `json:"tags,omitempty" maxItems:"100" example:"[\"summer\"]" doc:"Product tags. Policy rules can match any of them (case-insensitively)."`
	Quantity  int      `json:"quantity" minimum:"1" maximum:"1000000" example:"2" doc:"Units ordered."`
	UnitPrice int64    `json:"unit_price" minimum:"0" example:"2500" doc:"Price of one unit in minor units, before discounts and tax."`
	Discount  int64    `json:"discount" required:"false" minimum:"0" example:"500" doc:"Discount on the whole line in minor units, at most unit_price × quantity."`
	Tax       int64    `json:"tax" required:"false" minimum:"0" example:"900" doc:"Tax charged on the whole line in minor units."`
	FinalSale bool     `json:"final_sale" required:"false" doc:"Final-sale lines can never be returned."`
	ImageURL  string   `json:"image_url,omitempty" format:"uri" maxLength:"2048" example:"https://shop.example.com/img/tee-black.jpg" doc:"Product image shown in the portal."`
	ProductID string   `json:"product_id,omitempty" maxLength:"255" example:"tee-classic" doc:"The product of the catalogue (PUT /v1/products/{product_id}) this line is a variant of: the line can be exchanged for the product's other variants."`
}

// Payment is the Stripe payment of an order.
type Payment struct {
	Provider        string `json:"provider" enum:"stripe" example:"stripe" doc:"Payment provider. Only stripe is supported."`
	PaymentIntentID string `json:"payment_intent_id,omitempty" maxLength:"255" example:"pi_3OxYz2LkdIwHu7ix0abcd123" doc:"Stripe PaymentIntent ID. At least one of payment_intent_id and charge_id is required; refunds use the PaymentIntent when both are set."`
	ChargeID        string `json:"charge_id,omitempty" maxLength:"255" example:"ch_3OxYz2LkdIwHu7ix0efgh456" doc:"Stripe Charge ID (ch_… or py_…)."`
	Captured        int64  `json:"captured" minimum:"0" example:"5493" doc:"Amount captured on the payment in minor units: at most the order total (less when a partial capture happened), and more than 0 unless the total is 0. Refunds across all returns never exceed it."`
}

// Total returns the order's total in minor units: Σ(unit_price × quantity − discount +
// tax) over the lines, − the order discount, + shipping + shipping tax. It assumes a
// valid order (see Validate), whose sums cannot overflow.
func (o *Order) Total() int64 {
	var t int64
	for _, l := range o.Lines {
		t += l.value() - l.Discount + l.Tax
	}
	return t - o.Discount + o.Shipping + o.ShippingTax
}

// Line returns the line with the given id, and false when the order has none.
func (o *Order) Line(id string) (Line, bool) {
	for _, l := range o.Lines {
		if l.ID == id {
			return l, true
		}
	}
	return Line{}, false
}

// WindowStart returns the moment the return window counts from: delivery when known,
// else fulfilment, else the order itself.
func (o *Order) WindowStart() time.Time {
	switch {
	case o.DeliveredAt != nil && !o.DeliveredAt.IsZero():
		return *o.DeliveredAt
	case o.FulfilledAt != nil && !o.FulfilledAt.IsZero():
		return *o.FulfilledAt
	}
	return o.PlacedAt
}

// NormalizeEmail returns email trimmed and in lower case, the form in which emails are
// stored and compared.
func NormalizeEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// value is unit_price × quantity.
func (l Line) value() int64 { return l.UnitPrice * int64(l.Quantity) }

// net is the line's value after its own discount, before tax.
func (l Line) net() int64 { return l.value() - l.Discount }

// Validate checks the order and returns a *validation.Error naming every wrong field by
// its JSON path (e.g. "lines[2].quantity"), or nil. Besides shapes and ranges it checks
// that the amounts are consistent: a line's discount is at most its value, the order
// discount at most the lines' net value, every amount and the total at most
// money.MaxAmount, and the captured amount more than 0 and at most the total (a partial
// capture is allowed; a capture above the total is not). An order whose total is 0 must
// have captured 0.
func (o *Order) Validate() error {
	var v validation.Error
	o.Customer.validate(&v, "customer.")

	currencyOK := money.Valid(o.Currency)
	if !currencyOK {
		v.AddValue("currency", o.Currency, "must be an ISO 4217 currency code in upper case, such as EUR")
	}
	if o.PlacedAt.IsZero() {
		v.Add("placed_at", "is required")
	}
	if o.Locale != "" {
		if _, err := language.Parse(o.Locale); err != nil || len(o.Locale) > 35 {
			v.AddValue("locale", o.Locale, "must be a BCP 47 language tag, such as de or fr-CA")
		}
	}
	if o.FulfilledAt != nil && !o.PlacedAt.IsZero() && o.FulfilledAt.Before(o.PlacedAt) {
		v.AddValue("fulfilled_at", o.FulfilledAt, "must not be before placed_at")
	}
	if o.DeliveredAt != nil {
		switch {
		case o.FulfilledAt != nil && o.DeliveredAt.Before(*o.FulfilledAt):
			v.AddValue("delivered_at", o.DeliveredAt, "must not be before fulfilled_at")
		case !o.PlacedAt.IsZero() && o.DeliveredAt.Before(o.PlacedAt):
			v.AddValue("delivered_at", o.DeliveredAt, "must not be before placed_at")
		}
	}

	// amountsOK stays true while every amount is in range, so that sums are safe.
	amountsOK := true
	amount := func(path string, x int64) bool {
		switch {
		case x < 0:
			v.AddValue(path, x, "must not be negative")
		case x > money.MaxAmount:
			v.AddValue(path, x, "must be at most %d", money.MaxAmount)
		default:
			return true
		}
		amountsOK = false
		return false
	}

	switch {
	case len(o.Lines) == 0:
		v.Add("lines", "must have at least one line")
	case len(o.Lines) > MaxOrderLines:
		v.Add("lines", "must have at most %d lines", MaxOrderLines)
		amountsOK = false
	}
	seen := make(map[string]int, len(o.Lines))
	var net int64 // Σ line net values, meaningful while amountsOK
	for i, l := range o.Lines {
		p := fmt.Sprintf("lines[%d].", i)
		switch {
		case strings.TrimSpace(l.ID) == "":
			v.Add(p+"id", "must not be empty")
		case len(l.ID) > 255:
			v.Add(p+"id", "must be at most 255 bytes")
		default:
			if j, dup := seen[l.ID]; dup {
				v.AddValue(p+"id", l.ID, "duplicates lines[%d].id: line ids must be unique", j)
			} else {
				seen[l.ID] = i
			}
		}
		nonEmpty(&v, p+"sku", l.SKU, 255)
		nonEmpty(&v, p+"name", l.Name, 500)
		if len(l.Category) > 255 {
			v.Add(p+"category", "must be at most 255 bytes")
		}
		if len(l.Tags) > 100 {
			v.Add(p+"tags", "must have at most 100 tags")
		}
		for k, tag := range l.Tags {
			if strings.TrimSpace(tag) == "" || len(tag) > 255 {
				v.AddValue(fmt.Sprintf("%stags[%d]", p, k), tag, "must be 1 to 255 bytes")
			}
		}
		if len(l.ProductID) > 255 || (l.ProductID != "" && strings.TrimSpace(l.ProductID) == "") {
			v.AddValue(p+"product_id", l.ProductID, "must be 1 to 255 bytes, not only spaces")
		}
		if l.ImageURL != "" {
			if u, err := url.Parse(l.ImageURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(l.ImageURL) > 2048 {
				v.AddValue(p+"image_url", l.ImageURL, "must be an absolute http or https URL of at most 2048 bytes")
			}
		}

		lineOK := true
		switch {
		case l.Quantity < 1:
			v.AddValue(p+"quantity", l.Quantity, "must be at least 1")
			lineOK = false
		case l.Quantity > MaxLineQuantity:
			v.AddValue(p+"quantity", l.Quantity, "must be at most %d", MaxLineQuantity)
			lineOK = false
		}
		lineOK = amount(p+"unit_price", l.UnitPrice) && lineOK
		lineOK = amount(p+"discount", l.Discount) && lineOK
		lineOK = amount(p+"tax", l.Tax) && lineOK
		switch {
		case !lineOK:
			amountsOK = false
		case l.UnitPrice > money.MaxAmount/int64(l.Quantity):
			v.Add(p+"quantity", "unit_price × quantity must be at most %d", money.MaxAmount)
			amountsOK = false
		case l.Discount > l.value():
			v.AddValue(p+"discount", l.Discount, "must not exceed the line's value unit_price × quantity (%s)", o.format(l.value()))
			amountsOK = false
		default:
			net += l.net()
		}
	}

	amount("discount", o.Discount)
	amount("shipping", o.Shipping)
	amount("shipping_tax", o.ShippingTax)
	amount("payment.captured", o.Payment.Captured)
	if amountsOK && len(o.Lines) > 0 && o.Discount > net {
		v.AddValue("discount", o.Discount, "must not exceed the lines' value after their own discounts (%s)", o.format(net))
		amountsOK = false
	}

	o.Payment.validate(&v, "payment.")
	if amountsOK && len(o.Lines) > 0 {
		total := o.Total()
		switch {
		case total > money.MaxAmount:
			v.Add("lines", "the order total must be at most %d", money.MaxAmount)
		case o.Payment.Captured > total:
			v.AddValue("payment.captured", o.Payment.Captured, "must not exceed the order total %s", o.format(total))
		case o.Payment.Captured == 0 && total > 0:
			v.AddValue("payment.captured", o.Payment.Captured, "must be more than 0: an order with nothing captured has nothing to refund")
		}
	}
	return v.Err()
}

// format formats an amount in the order's currency for messages.
func (o *Order) format(minor int64) string {
	return money.Format(minor, o.Currency)
}

func (c *Customer) validate(v *validation.Error, prefix string) {
	email := strings.TrimSpace(c.Email)
	switch {
	case email == "":
		v.Add(prefix+"email", "is required")
	case !validEmail(email):
		v.AddValue(prefix+"email", c.Email, "must be an email address such as ada@example.com")
	}
	if strings.TrimSpace(c.FirstName) == "" && strings.TrimSpace(c.LastName) == "" {
		v.Add(prefix+"last_name", "at least one of first_name and last_name is required")
	}
	if len(c.FirstName) > 200 {
		v.Add(prefix+"first_name", "must be at most 200 bytes")
	}
	if len(c.LastName) > 200 {
		v.Add(prefix+"last_name", "must be at most 200 bytes")
	}
	if c.Phone != "" && !validPhone(c.Phone) {
		v.AddValue(prefix+"phone", c.Phone, "must be a phone number of 5 to 20 digits, optionally with +, spaces, dots, dashes and parentheses")
	}
	a := &c.Address
	p := prefix + "address."
	nonEmpty(v, p+"line1", a.Line1, 200)
	nonEmpty(v, p+"city", a.City, 200)
	if len(a.Line2) > 200 {
		v.Add(p+"line2", "must be at most 200 bytes")
	}
	if len(a.Region) > 200 {
		v.Add(p+"region", "must be at most 200 bytes")
	}
	if len(a.PostalCode) > 20 {
		v.Add(p+"postal_code", "must be at most 20 bytes")
	}
	if !validCountry(a.Country) {
		v.AddValue(p+"country", a.Country, "must be an ISO 3166-1 alpha-2 country code in upper case, such as GB")
	}
}

func (pay *Payment) validate(v *validation.Error, prefix string) {
	if pay.Provider != "stripe" {
		v.AddValue(prefix+"provider", pay.Provider, `must be "stripe"`)
	}
	if pay.PaymentIntentID == "" && pay.ChargeID == "" {
		v.Add(prefix+"payment_intent_id", "one of payment_intent_id and charge_id is required")
	}
	if pay.PaymentIntentID != "" && !stripeID(pay.PaymentIntentID, "pi_") {
		v.AddValue(prefix+"payment_intent_id", pay.PaymentIntentID, "must be a Stripe PaymentIntent ID starting with pi_")
	}
	if pay.ChargeID != "" && !stripeID(pay.ChargeID, "ch_") && !stripeID(pay.ChargeID, "py_") {
		v.AddValue(prefix+"charge_id", pay.ChargeID, "must be a Stripe Charge ID starting with ch_ or py_")
	}
}

func nonEmpty(v *validation.Error, path, s string, max int) {
	switch {
	case strings.TrimSpace(s) == "":
		v.Add(path, "must not be empty")
	case len(s) > max:
		v.Add(path, "must be at most %d bytes", max)
	}
}

// stripeID reports whether id is prefix followed by 1 to 250 letters, digits or '_'.
func stripeID(id, prefix string) bool {
	rest, ok := strings.CutPrefix(id, prefix)
	if !ok || rest == "" || len(rest) > 250 {
		return false
	}
	for _, r := range rest {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// validEmail reports whether s is a bare address (no display name) with a domain that
// has a dot, such as ada@example.com.
func validEmail(s string) bool {
	if len(s) > 254 {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	return at > 0 && at <= 64 && strings.Contains(domain, ".") &&
		!strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".") && !strings.Contains(domain, "..")
}

func validPhone(s string) bool {
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0, r == ' ', r == '-', r == '.', r == '(', r == ')':
		default:
			return false
		}
	}
	return digits >= 5 && digits <= 20 && len(s) <= 32
}

// validCountry reports whether code is an officially assigned ISO 3166-1 alpha-2 code,
// or XK (Kosovo, user-assigned but used by carriers and Stripe).
func validCountry(code string) bool {
	if len(code) != 2 {
		return false
	}
	switch code {
	case "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
		"BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS", "BT", "BV", "BW", "BY", "BZ",
		"CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN", "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ",
		"DE", "DJ", "DK", "DM", "DO", "DZ",
		"EC", "EE", "EG", "EH", "ER", "ES", "ET",
		"FI", "FJ", "FK", "FM", "FO", "FR",
		"GA", "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY",
		"HK", "HM", "HN", "HR", "HT", "HU",
		"ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT",
		"JE", "JM", "JO", "JP",
		"KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ",
		"LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY",
		"MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK", "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ",
		"NA", "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ",
		"OM",
		"PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY",
		"QA",
		"RE", "RO", "RS", "RU", "RW",
		"SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS", "ST", "SV", "SX", "SY", "SZ",
		"TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO", "TR", "TT", "TV", "TW", "TZ",
		"UA", "UG", "UM", "US", "UY", "UZ",
		"VA", "VC", "VE", "VG", "VI", "VN", "VU",
		"WF", "WS",
		"XK",
		"YE", "YT",
		"ZA", "ZM", "ZW":
		return true
	}
	return false
}
