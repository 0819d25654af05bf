package labels

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/labels/shippo"
)

func TestChooseRate(t *testing.T) {
	rate := func(id, provider, token, amount string) shippo.Rate {
		return shippo.Rate{ObjectID: id, Provider: provider, Amount: amount, Currency: "USD",
			ServiceLevel: shippo.ServiceLevel{Token: token}}
	}
	rates := []shippo.Rate{
		rate("a", "USPS", "usps_priority", "8.70"),
		rate("b", "USPS", "usps_ground_advantage", "5.50"),
		rate("c", "UPS", "ups_ground", "9.15"),
		rate("d", "DHL Express", "dhl_express_worldwide", "4.99"),
		rate("e", "UPS", "ups_saver", "12"),
	}
	tests := []struct {
		name               string
		carriers, services []string
		want               string
	}{
		{"no preference: the cheapest", nil, nil, "d"},
		{"preferred carrier: its cheapest", []string{"ups"}, nil, "c"},
		{"several carriers: cheapest among them", []string{"ups", "usps"}, nil, "b"},
		{"carrier with a space in its name", []string{"dhl_express"}, nil, "d"},
		{"preferred service wins over price", []string{"usps"}, []string{"ups_saver"}, "e"},
		{"first offered preferred service", nil, []string{"fedex_ground", "usps_priority", "ups_ground"}, "a"},
		{"no preferred service offered: cheapest of the carriers", []string{"ups"}, []string{"fedex_ground"}, "c"},
		{"no preferred carrier offered: the cheapest", []string{"fedex"}, nil, "d"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ChooseRate(rates, tc.carriers, tc.services)
			if !ok || got.ObjectID != tc.want {
				t.Errorf("got %q (%v), want %q", got.ObjectID, ok, tc.want)
			}
		})
	}
	if _, ok := ChooseRate(nil, nil, nil); ok {
		t.Error("got a rate from none")
	}
	if r, ok := ChooseRate([]shippo.Rate{rate("x", "USPS", "t", "free"), rate("y", "USPS", "t", "3")}, nil, nil); !ok || r.ObjectID != "y" {
		t.Errorf("got %q, want the rate with a price", r.ObjectID)
	}
}

func TestShippoEvent(t *testing.T) {
	at := time.Date(2026, 3, 2, 14, 5, 0, 0, time.UTC)
	tests := []struct {
		status, wantStatus string
		problem            bool
		ok                 bool
	}{
		{"PRE_TRANSIT", "pre_transit", false, true},
		{"TRANSIT", "in_transit", false, true},
		{"DELIVERED", "delivered", false, true},
		{"RETURNED", "exception", true, true},
		{"FAILURE", "exception", true, true},
		{"UNKNOWN", "", false, false},
		{"SOMETHING_NEW", "", false, false},
	}
	for _, tc := range tests {
		ev, ok := ShippoEvent("9205 0000", shippo.TrackingStatus{Status: tc.status, StatusDetails: "At the depot", StatusDate: at})
		if ok != tc.ok || ev.Status != tc.wantStatus || (ev.Problem != "") != tc.problem {
			t.Errorf("%s: got %+v, %v; want status %q, problem %v", tc.status, ev, ok, tc.wantStatus, tc.problem)
		}
		if ok && (!ev.OccurredAt.Equal(at) || ev.Detail != "At the depot") {
			t.Errorf("%s: got %+v, want the date and details kept", tc.status, ev)
		}
		if tc.problem && !strings.Contains(ev.Problem, "At the depot") {
			t.Errorf("%s: problem %q does not carry the carrier's words", tc.status, ev.Problem)
		}
	}
}

func TestRenderZPL(t *testing.T) {
	l := Label{Carrier: "USPS", Service: "Ground^XZ~JR", TrackingNumber: "9205500000000000000001", RMA: "R-7KQ4-M2XD",
		StatusURL: "https://returns.example/portal/northwind/returns/R-7KQ4-M2XD",
		From:      Address{Name: "Ada_Lovelace\\", Line1: "1 Main St", City: "London", Country: "GB"},
		To:        Address{Name: "Northwind Returns", Line1: "965 Mission St", City: "San Francisco", Region: "CA", PostalCode: "94103", Country: "US"},
		IssuedAt:  time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), ValidUntil: time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)}
	var buf bytes.Buffer
	if err := RenderZPL(&buf, l); err != nil {
		t.Fatal(err)
	}
	z := buf.String()
	if !strings.HasPrefix(z, "^XA") || strings.Count(z, "^XA") != 1 || strings.Count(z, "^XZ") != 1 || !strings.HasSuffix(z, "^XZ\n") {
		t.Fatalf("free text injected a command or the label is not one format:\n%s", z)
	}
	if strings.Contains(z, "~JR") || !strings.Contains(z, "Ground_5EXZ_7EJR") || !strings.Contains(z, "Ada_5FLovelace_5C") {
		t.Errorf("control characters not hex-escaped:\n%s", z)
	}
	for _, want := range []string{"^BCN,190,Y,N,N^FD9205500000000000000001^FS", "^FDR-7KQ4-M2XD^FS", "^BQN,2,4^FDQA," + l.StatusURL, "^CI28", "^PW812"} {
		if !strings.Contains(z, want) {
			t.Errorf("ZPL lacks %q:\n%s", want, z)
		}
	}
	l.TrackingNumber = "92^XZ"
	if err := RenderZPL(&buf, l); err == nil {
		t.Error("a tracking number with a ZPL command character was accepted")
	}
}
