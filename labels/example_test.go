package labels_test

import (
	"bytes"
	"fmt"
	"time"

	"github.com/roundtriphq/roundtrip/labels"
)

func ExampleS10() {
	tn, err := labels.S10("EE", 87654321, "CA")
	fmt.Println(tn, err, labels.ValidS10(tn))
	// Output: EE876543216CA <nil> true
}

func ExampleNormalizeTracking() {
	fmt.Println(labels.NormalizeTracking(" ee 876-543-216 ca"))
	// Output: EE876543216CA
}

func ExampleRender() {
	issued := time.Date(2026, 11, 22, 10, 30, 0, 0, time.UTC)
	var pdf bytes.Buffer
	err := labels.Render(&pdf, labels.Label{
		Carrier:        "Northwind Courier",
		Service:        "Return",
		TrackingNumber: "ZR123456785GB",
		RMA:            "R-7KQ4-M2XD",
		StatusURL:      "https://returns.example.com/r/R-7KQ4-M2XD",
		From:           labels.Address{Name: "Łukasz Żółć", Line1: "ul. Długa 5", City: "Gdańsk", PostalCode: "80-827", Country: "PL"},
		To:             labels.Address{Company: "Northwind Returns", Line1: "1 Dock Road", City: "London", PostalCode: "E16 1AA", Country: "GB"},
		ItemCount:      2,
		IssuedAt:       issued,
		ValidUntil:     issued.AddDate(0, 0, 30),
		MerchantName:   "Northwind",
	})
	fmt.Println(err, bytes.HasPrefix(pdf.Bytes(), []byte("%PDF-")))
	// Output: <nil> true
}
