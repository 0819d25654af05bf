package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/roundtriphq/roundtrip/returns"
)

// shoppers are the names and addresses a run's orders are written with. What a
// lifecycle costs depends on them: a label whose text Windows-1252 lacks is drawn in
// embedded fonts, which cost a replica far more than the PDF core fonts, and each
// lifecycle renders two (the download and the email's copy). -shoppers runs the
// lifecycle of a shop whose shoppers write Polish, Greek or Bulgarian.
type shoppers struct {
	first, last []string // names, taken in turn; nil last: the order's number
	street      string   // the first address line, with the order's number
	city        string
	postalCode  string
	country     string
}

// shopperSets are -shoppers' values. Every shopper's name in pl, el and bg, and each
// set's city, needs a character Windows-1252 lacks, so that each of their labels is
// drawn in embedded fonts.
var shopperSets = map[string]shoppers{
	"en": {first: []string{"Shopper"}, street: "%d High Street", city: "York", postalCode: "YO1 7HH", country: "GB"},
	"pl": {first: []string{"Łucja", "Grzegorz", "Małgorzata", "Michał", "Żaneta"},
		last:   []string{"Dąbrowska", "Wójcik-Łęcki", "Szczęsna", "Kozłowski", "Żebrowska"},
		street: "ul. Źródlana %d", city: "Łódź", postalCode: "90-001", country: "PL"},
	"el": {first: []string{"Ελένη", "Γιώργος", "Μαρία", "Νίκος"},
		last:   []string{"Παπαδοπούλου", "Οικονόμου", "Γεωργίου", "Νικολάου"},
		street: "Οδός Ερμού %d", city: "Αθήνα", postalCode: "105 57", country: "GR"},
	"bg": {first: []string{"Мария", "Иван", "Елена", "Георги"},
		last:   []string{"Петрова", "Иванов", "Димитрова", "Георгиев"},
		street: "ул. Витоша %d", city: "София", postalCode: "1000", country: "BG"},
}

// shopperSetNames lists -shoppers' values, for its help and its error.
func shopperSetNames() string {
	names := make([]string, 0, len(shopperSets))
	for n := range shopperSets {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// shoppersOf returns the set called name ("" is en).
func shoppersOf(name string) (shoppers, error) {
	if name == "" {
		name = "en"
	}
	s, ok := shopperSets[name]
	if !ok {
		return shoppers{}, fmt.Errorf("-shoppers %q: want one of %s", name, shopperSetNames())
	}
	return s, nil
}

// customer is the shopper of order i.
func (s shoppers) customer(i int) returns.Customer {
	last := fmt.Sprint(i)
	if len(s.last) > 0 {
		last = s.last[i%len(s.last)]
	}
	return returns.Customer{Email: fmt.Sprintf("shopper%d@example.com", i), FirstName: s.first[i%len(s.first)], LastName: last,
		Address: returns.Address{Line1: fmt.Sprintf(s.street, i), City: s.city, PostalCode: s.postalCode, Country: s.country}}
}
