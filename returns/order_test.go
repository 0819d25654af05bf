package returns

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/roundtriphq/roundtrip/internal/validation"
)

// checkPaths checks that err is nil when paths is empty, else a *validation.Error
// naming exactly paths, in order.
func checkPaths(t *testing.T, err error, paths []string) {
	t.Helper()
	if len(paths) == 0 {
		if err != nil {
			t.Errorf("got %v, want no error", err)
		}
		return
	}
	var ve *validation.Error
	if !errors.As(err, &ve) {
		t.Fatalf("got %v (%T), want a *validation.Error", err, err)
	}
	var got []string
	for _, f := range ve.Fields {
		got = append(got, f.Path)
		if f.Message == "" {
			t.Errorf("%s has no message", f.Path)
		}
	}
	if !slices.Equal(got, paths) {
		t.Errorf("got fields %q, want %q\n(%v)", got, paths, err)
	}
}

func TestOrderValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*Order)
		paths  []string
	}{
		{"valid", func(*Order) {}, nil},
		{"minimal", func(o *Order) {
			o.FulfilledAt, o.DeliveredAt = nil, nil
			o.Customer = Customer{Email: "a@b.co", LastName: "X", Address: Address{Line1: "1", City: "Y", Country: "XK"}}
			o.Payment = Payment{Provider: "stripe", ChargeID: "py_1", Captured: o.Total()}
		}, nil},
		{"partial capture", func(o *Order) { o.Payment.Captured = 1 }, nil},
		{"zero total, nothing captured", func(o *Order) {
			o.Lines = []Line{{ID: "gift", SKU: "G", Name: "Gift", Quantity: 1}}
			o.Discount, o.Shipping, o.ShippingTax, o.Payment.Captured = 0, 0, 0, 0
		}, nil},
		{"customer", func(o *Order) {
			o.Customer = Customer{Email: "Ada <ada@example.com>", Phone: "call me", Address: Address{Country: "gb"}}
		}, []string{"customer.email", "customer.last_name", "customer.phone", "customer.address.line1", "customer.address.city", "customer.address.country"}},
		{"emails", func(o *Order) { o.Customer.Email = "ada@localhost" }, []string{"customer.email"}},
		{"empty email", func(o *Order) { o.Customer.Email = " " }, []string{"customer.email"}},
		{"unknown country", func(o *Order) { o.Customer.Address.Country = "ZZ" }, []string{"customer.address.country"}},
		{"currency", func(o *Order) { o.Currency = "eur" }, []string{"currency"}},
		{"times", func(o *Order) {
			o.PlacedAt = mustTime("2026-02-05T00:00:00Z")
			o.DeliveredAt = ptr(mustTime("2026-01-29T00:00:00Z"))
		}, []string{"fulfilled_at", "delivered_at"}},
		{"no placed_at", func(o *Order) { o.PlacedAt = time.Time{} }, []string{"placed_at"}},
		{"no lines", func(o *Order) { o.Lines = nil }, []string{"lines"}},
		{"every wrong line field", func(o *Order) {
			o.Lines[0] = Line{ID: " ", Quantity: 0, UnitPrice: -1, Discount: -1, Tax: -1, ImageURL: "/img.jpg", Tags: []string{""}}
			o.Lines[1].ID = "tee"
			o.Lines[2].ID = "tee"
		}, []string{
			"lines[0].id", "lines[0].sku", "lines[0].name", "lines[0].tags[0]", "lines[0].image_url",
			"lines[0].quantity", "lines[0].unit_price", "lines[0].discount", "lines[0].tax",
			"lines[2].id",
		}},
		{"line discount above its value", func(o *Order) { o.Lines[1].Discount = 5001 }, []string{"lines[1].discount"}},
		{"line value too large", func(o *Order) { o.Lines[1].UnitPrice, o.Lines[1].Quantity = 1e12, 10_000 }, []string{"lines[1].quantity"}},
		{"quantity too large", func(o *Order) { o.Lines[1].Quantity = MaxLineQuantity + 1 }, []string{"lines[1].quantity"}},
		{"order discount above the lines", func(o *Order) { o.Discount = 16566 }, []string{"discount"}},
		{"negative order amounts", func(o *Order) { o.Discount, o.Shipping, o.ShippingTax = -1, -1, -1 }, []string{"discount", "shipping", "shipping_tax"}},
		{"payment", func(o *Order) { o.Payment = Payment{Provider: "paypal", Captured: -1} }, []string{"payment.captured", "payment.provider", "payment.payment_intent_id"}},
		{"payment ids", func(o *Order) { o.Payment.PaymentIntentID, o.Payment.ChargeID = "ch_1", "pi_1" }, []string{"payment.payment_intent_id", "payment.charge_id"}},
		{"captured above the total", func(o *Order) { o.Payment.Captured = 17655 }, []string{"payment.captured"}},
		{"nothing captured", func(o *Order) { o.Payment.Captured = 0 }, []string{"payment.captured"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := testOrder()
			tt.change(&o)
			checkPaths(t, o.Validate(), tt.paths)
		})
	}
}

func TestOrderTotal(t *testing.T) {
	t.Parallel()
	o := testOrder()
	// (3000−100+171) + (5000+950) + (2000+380) + (6666−1) − 1001 + 495 + 94
	if got, want := o.Total(), int64(17654); got != want {
		t.Errorf("Total() = %d, want %d", got, want)
	}
}

func TestOrderLine(t *testing.T) {
	t.Parallel()
	o := testOrder()
	if l, ok := o.Line("jeans"); !ok || l.SKU != "JEANS-32" {
		t.Errorf(`Line("jeans") = %+v, %t; want the jeans, true`, l, ok)
	}
	if l, ok := o.Line("nope"); ok || !reflect.DeepEqual(l, Line{}) {
		t.Errorf(`Line("nope") = %+v, %t; want zero, false`, l, ok)
	}
}

func TestOrderWindowStart(t *testing.T) {
	t.Parallel()
	o := testOrder()
	steps := []struct {
		change func(*Order)
		want   string
	}{
		{func(*Order) {}, "2026-02-01T12:00:00Z"},
		{func(o *Order) { o.DeliveredAt = nil }, "2026-01-30T09:00:00Z"},
		{func(o *Order) { o.FulfilledAt = nil }, "2026-01-29T10:00:00Z"},
	}
	for _, s := range steps {
		s.change(&o)
		if got := o.WindowStart(); !got.Equal(mustTime(s.want)) {
			t.Errorf("WindowStart() = %v, want %s", got, s.want)
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		" Ada@Example.COM\n": "ada@example.com",
		"ada@example.com":    "ada@example.com",
		"":                   "",
	} {
		if got := NormalizeEmail(in); got != want {
			t.Errorf("NormalizeEmail(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSchemas checks that the Huma tags of the API types parse, and that the reason
// enum lists the whole catalogue.
func TestSchemas(t *testing.T) {
	t.Parallel()
	r := huma.NewMapRegistry("#/components/schemas/", huma.DefaultSchemaNamer)
	for _, typ := range []reflect.Type{
		reflect.TypeFor[Order](), reflect.TypeFor[Policy](), reflect.TypeFor[QuoteItem](),
		reflect.TypeFor[QuoteResult](), reflect.TypeFor[Reason](),
	} {
		if s := r.Schema(typ, true, ""); s == nil {
			t.Errorf("no schema for %v", typ)
		}
	}
	item := r.Map()["QuoteItem"]
	var enum []string
	for _, v := range item.Properties["reason"].Enum {
		enum = append(enum, v.(string))
	}
	var codes []string
	for _, reason := range Reasons() {
		codes = append(codes, string(reason.Code))
	}
	if !slices.Equal(enum, codes) {
		t.Errorf("QuoteItem.reason enum = %q, want %q", enum, codes)
	}
	order := r.Map()["Order"]
	if !slices.Contains(order.Required, "placed_at") || slices.Contains(order.Required, "delivered_at") {
		t.Errorf("Order required = %q, want placed_at and not delivered_at", order.Required)
	}
}
