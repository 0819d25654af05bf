package shippo_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/labels/fakeshippo"
	"github.com/roundtriphq/roundtrip/labels/shippo"
)

func newClient(t *testing.T, timeout time.Duration) (*shippo.Client, *fakeshippo.Server) {
	t.Helper()
	fake := fakeshippo.New(fakeshippo.Options{Token: "shippo_test_ok"})
	t.Cleanup(fake.Close)
	return shippo.New(shippo.Config{Token: "shippo_test_ok", APIBase: fake.URL(), Timeout: timeout, MaxRetries: 2,
		Backoff: func(int) time.Duration { return time.Millisecond }}), fake
}

func count(fake *fakeshippo.Server, method, path string) int {
	n := 0
	for _, r := range fake.Requests() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

func shipment(t *testing.T, c *shippo.Client) shippo.Shipment {
	t.Helper()
	sh, err := c.CreateShipment(t.Context(), shippo.ShipmentRequest{
		AddressFrom: shippo.Address{Name: "W", Street1: "1 St", City: "SF", State: "CA", Zip: "94103", Country: "US"},
		AddressTo:   shippo.Address{Name: "S", Street1: "2 St", City: "SJ", State: "CA", Zip: "95122", Country: "US"},
		Parcels:     []shippo.Parcel{{Length: "1", Width: "1", Height: "1", DistanceUnit: "in", Weight: "1", MassUnit: "lb"}},
		Extra:       &shippo.ShipmentExtra{IsReturn: true, QRCodeRequested: true},
	})
	if err != nil || len(sh.Rates) == 0 {
		t.Fatalf("create shipment: %+v, %v", sh, err)
	}
	return sh
}

// TestRetries: 5xx and 429 are retried for idempotent requests; a purchase is
// retried after a 429 only, never after a 500 (it may have been made).
func TestRetries(t *testing.T) {
	t.Parallel()
	c, fake := newClient(t, 5*time.Second)
	fake.Inject(fakeshippo.Fault{Kind: fakeshippo.Status500, Method: "POST", Path: "/shipments"})
	fake.Inject(fakeshippo.Fault{Kind: fakeshippo.Status429, Method: "POST", Path: "/shipments"})
	sh := shipment(t, c)
	if n := count(fake, "POST", "/shipments"); n != 3 {
		t.Errorf("got %d shipment requests, want 3 (500, 429, success)", n)
	}

	fake.Inject(fakeshippo.Fault{Kind: fakeshippo.Status429, Method: "POST", Path: "/transactions"})
	tx, err := c.CreateTransaction(t.Context(), shippo.TransactionRequest{Rate: sh.Rates[0].ObjectID, LabelFileType: "PDF_4x6", Metadata: "k1"})
	if err != nil || tx.Status != "SUCCESS" || len(fake.Purchases()) != 1 {
		t.Fatalf("purchase after a 429: %+v, %v, %d purchases", tx, err, len(fake.Purchases()))
	}

	fake.Inject(fakeshippo.Fault{Kind: fakeshippo.Status500, Method: "POST", Path: "/transactions"})
	_, err = c.CreateTransaction(t.Context(), shippo.TransactionRequest{Rate: sh.Rates[0].ObjectID, LabelFileType: "PDF_4x6", Metadata: "k2"})
	var se *shippo.Error
	if !errors.As(err, &se) || se.Status != http.StatusInternalServerError || !shippo.IsTemporary(err) {
		t.Fatalf("purchase after a 500: got %v, want the 500 unretried", err)
	}
	if n := count(fake, "POST", "/transactions"); n != 3 {
		t.Errorf("got %d purchase requests, want 3 (429 and its retry, one 500)", n)
	}

	// a request that times out is retried when it may be
	slow, fake2 := newClient(t, 200*time.Millisecond)
	fake2.Inject(fakeshippo.Fault{Kind: fakeshippo.Timeout, Method: "GET", Path: "/refunds"})
	if _, err := slow.ListRefunds(t.Context()); err != nil {
		t.Errorf("list refunds after a timeout: %v", err)
	}
	if n := count(fake2, "GET", "/refunds"); n != 2 {
		t.Errorf("got %d refund listings, want 2 (the timeout and its retry)", n)
	}

	// the wrong token is not temporary
	bad := shippo.New(shippo.Config{Token: "shippo_test_wrong", APIBase: fake.URL(), MaxRetries: 2})
	if _, err := bad.ListRefunds(t.Context()); !errors.As(err, &se) || se.Status != http.StatusUnauthorized || shippo.IsTemporary(err) {
		t.Errorf("wrong token: got %v, want 401, not temporary", err)
	}
}

// TestFindTransaction: a purchase whose answer was lost is found by its metadata.
func TestFindTransaction(t *testing.T) {
	t.Parallel()
	c, fake := newClient(t, 300*time.Millisecond)
	sh := shipment(t, c)
	fake.Inject(fakeshippo.Fault{Kind: fakeshippo.LostResponse, Method: "POST", Path: "/transactions"})
	if _, err := c.CreateTransaction(t.Context(), shippo.TransactionRequest{Rate: sh.Rates[1].ObjectID, Metadata: "roundtrip-parcel-9"}); err == nil {
		t.Fatal("got an answer, want the timeout")
	}
	got, err := c.FindTransaction(t.Context(), "roundtrip-parcel-9", time.Now().Add(-time.Minute))
	if err != nil || got == nil || got.ObjectID != fake.Purchases()[0].ID || got.RateID() != sh.Rates[1].ObjectID {
		t.Fatalf("got %+v, %v; want the lost purchase", got, err)
	}
	if none, err := c.FindTransaction(t.Context(), "roundtrip-parcel-10", time.Now().Add(-time.Minute)); err != nil || none != nil {
		t.Errorf("got %+v, %v for an unknown key, want none", none, err)
	}
	pdf, ctype, err := c.Download(t.Context(), got.LabelURL)
	if err != nil || ctype != "application/pdf" || len(pdf) < 100 || string(pdf[:5]) != "%PDF-" {
		t.Errorf("download label: %s, %d bytes, %v", ctype, len(pdf), err)
	}
}
