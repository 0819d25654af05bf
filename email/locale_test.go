package email_test

import (
	"strings"
	"testing"
)

// TestEmailsSpeakTheOrdersLanguage: the order's locale chooses the language of its
// emails (de-AT is German), with amounts written the German way; an order without
// a locale gets English.
func TestEmailsSpeakTheOrdersLanguage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	de := b.newReturn(t, "NW-DE", func(order map[string]any) { order["locale"] = "de-AT" })
	en := b.newReturn(t, "NW-EN", nil)
	b.drain(t)
	byRMA := map[string]parsed{}
	for _, p := range b.received(t) {
		byRMA[p.Header.Get("X-Roundtrip-Return")] = p
	}
	g, ok := byRMA[de.RMA]
	if !ok {
		t.Fatalf("no email for the German order's return %s", de.RMA)
	}
	if cl := g.Header.Get("Content-Language"); cl != "de" {
		t.Errorf("Content-Language: got %q, want de", cl)
	}
	for _, want := range []string{"Hallo Abigail,", "Ihre Rücksendung " + de.RMA + " für 1 × ", "Drucken Sie das angehängte Etikett aus.", "\u00a0€ zurück"} {
		if !strings.Contains(g.Text, want) || !strings.Contains(g.HTML, want) {
			t.Errorf("the German email lacks %q:\n%s", want, g.Text)
		}
	}
	if !strings.Contains(g.HTML, `<html lang="de">`) {
		t.Errorf("the German HTML part is not marked as German")
	}
	for _, english := range []string{"Hi Abigail", "Print the attached label", "Your return"} {
		if strings.Contains(g.Text, english) {
			t.Errorf("the German email has English %q:\n%s", english, g.Text)
		}
	}
	e, ok := byRMA[en.RMA]
	if !ok {
		t.Fatalf("no email for the English order's return %s", en.RMA)
	}
	if cl := e.Header.Get("Content-Language"); cl != "en" || !strings.Contains(e.Text, "Hi Abigail,") || !strings.Contains(e.Text, "You will get €") {
		t.Errorf("the order without a locale: Content-Language %q, text:\n%s", cl, e.Text)
	}
}
