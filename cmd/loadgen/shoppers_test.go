package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/labels"
)

// Each set's labels are drawn as its help says: en's in the PDF core fonts, the
// others' in embedded fonts, for every shopper of the set (a name in Latin-1 beside
// a city that is not would be drawn in embedded fonts too; the test renders each
// shopper to hold every name to it).
func TestShopperSetsDrawTheirLabelsAsSaid(t *testing.T) {
	issued := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for name, set := range shopperSets {
		n := len(set.first) * max(len(set.last), 1)
		for i := range n {
			c := set.customer(i)
			var pdf bytes.Buffer
			err := labels.Render(&pdf, labels.Label{
				Carrier: "Acme Courier", Service: "Return", TrackingNumber: "ZR123456785GB", RMA: "R-7KQ4-M2XD",
				StatusURL: "https://returns.example.com/r/R-7KQ4-M2XD",
				From: labels.Address{Name: c.FirstName + " " + c.LastName, Line1: c.Address.Line1, City: c.Address.City,
					PostalCode: c.Address.PostalCode, Country: c.Address.Country},
				To:       labels.Address{Company: "Load Shop Returns", Line1: "1 Dock Road", City: "Leeds", PostalCode: "LS1 1AA", Country: "GB"},
				IssuedAt: issued, ValidUntil: issued.AddDate(0, 0, 30),
			})
			if err != nil {
				t.Fatalf("%s shopper %d: %v", name, i, err)
			}
			embedded := bytes.Contains(pdf.Bytes(), []byte("/FontFile2"))
			if embedded != (name != "en") {
				t.Errorf("%s shopper %d (%s %s, %s): embedded fonts %v, want %v", name, i, c.FirstName, c.LastName, c.Address.City, embedded, name != "en")
			}
		}
	}
}

func TestUnknownShoppersRefused(t *testing.T) {
	var stderr bytes.Buffer
	err := run(t.Context(), []string{"-shoppers", "xx", "-lifecycles", "1"}, func(string) string { return "" }, io.Discard, &stderr)
	if err == nil || !strings.Contains(err.Error(), `-shoppers "xx"`) || !strings.Contains(err.Error(), "bg, el, en, pl") {
		t.Fatalf("got %v, want -shoppers \"xx\" refused with the values allowed", err)
	}
	if _, err := shoppersOf(""); err != nil {
		t.Fatalf("the default set: %v", err)
	}
}

func TestReportNamesTheShoppers(t *testing.T) {
	for shoppers, want := range map[string]bool{"": false, "en": false, "pl": true} {
		var out bytes.Buffer
		(&Report{Config: Config{Replicas: 1, Lifecycles: 1, Shoppers: shoppers}}).Print(&out)
		if got := strings.Contains(strings.SplitN(out.String(), "\n", 2)[0], "shoppers=pl"); got != want {
			t.Errorf("-shoppers %q: the report's first line %q, want shoppers=pl named: %v", shoppers, strings.SplitN(out.String(), "\n", 2)[0], want)
		}
	}
}
