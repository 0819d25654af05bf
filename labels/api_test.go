package labels_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/cmd/roundtrip/apitest"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/labelscan"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/labels"
	"github.com/roundtriphq/roundtrip/merchant"
	"github.com/roundtriphq/roundtrip/returns"
)

// order is the shared valid order body.
var order = apitest.Order

type returnDoc struct {
	ID     string `json:"id"`
	RMA    string `json:"rma"`
	State  string `json:"state"`
	KeepIt bool   `json:"keep_it"`
}

type parcelDoc struct {
	Number         int        `json:"number"`
	Carrier        string     `json:"carrier"`
	TrackingNumber string     `json:"tracking_number"`
	Status         string     `json:"status"`
	IssuedAt       time.Time  `json:"issued_at"`
	ValidUntil     time.Time  `json:"valid_until"`
	MovedAt        *time.Time `json:"moved_at"`
	CarrierStatus  string     `json:"carrier_status"`
	VoidedAt       *time.Time `json:"voided_at"`
	LabelURL       string     `json:"label_url"`
}

type problemDoc struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
	State  string `json:"state"`
}

type eventDoc struct {
	Event string `json:"event"`
	To    string `json:"to"`
	Actor string `json:"actor"`
	Note  string `json:"note"`
}

type fixture struct {
	env  *apitest.Env
	shop apitest.Tenant
}

func setup(t *testing.T) fixture {
	t.Helper()
	env := apitest.New(t)
	f := fixture{env: env, shop: env.Merchant(t, "northwind")}
	_, err := merchant.NewStore(env.DB).Update(context.Background(), f.shop.Merchant.ID, f.shop.Merchant.Name, merchant.Settings{
		Warehouse: merchant.WarehouseAddress{Name: "Northwind Returns", Line1: "12 Harbour Road", City: "Leeds", PostalCode: "LS1 4AP", Country: "GB"},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.putOrder(t, "NW-1", "ada@example.com")
	return f
}

func (f fixture) key(r auth.Role) string { return f.shop.Keys[r] }

func (f fixture) putOrder(t *testing.T, number, email string) {
	t.Helper()
	res := f.env.Do(t, "PUT", "/v1/orders/"+number, f.key(auth.RoleIntegration), order(email, time.Now().Add(-48*time.Hour)))
	if res.Status != http.StatusCreated && res.Status != http.StatusOK {
		t.Fatalf("put order %s: got %d: %s", number, res.Status, res.Body)
	}
}

func (f fixture) session(t *testing.T, number, email string) string {
	t.Helper()
	res := f.env.Do(t, "POST", "/v1/portal/sessions", "", map[string]any{"merchant": "northwind", "order_number": number, "email": email})
	if res.Status != http.StatusCreated {
		t.Fatalf("session: got %d: %s", res.Status, res.Body)
	}
	var s struct {
		Token string `json:"token"`
	}
	res.JSON(t, &s)
	return s.Token
}

func (f fixture) policy(t *testing.T, p map[string]any) {
	t.Helper()
	if res := f.env.Do(t, "PUT", "/v1/policy", f.key(auth.RoleAdmin), p); res.Status != http.StatusOK {
		t.Fatalf("put policy: got %d: %s", res.Status, res.Body)
	}
}

// create makes a return of the whole order (two T-shirts and a cap, 3 units).
func (f fixture) create(t *testing.T, token, number string) returnDoc {
	t.Helper()
	res := f.env.Do(t, "POST", "/v1/returns", token, map[string]any{
		"order_number": number, "resolution": "refund",
		"items": []map[string]any{
			{"line_id": "l1", "quantity": 2, "reason": "too_small"},
			{"line_id": "l2", "quantity": 1, "reason": "changed_mind"},
		},
	})
	if res.Status != http.StatusCreated {
		t.Fatalf("create: got %d: %s", res.Status, res.Body)
	}
	var r returnDoc
	res.JSON(t, &r)
	return r
}

func (f fixture) get(t *testing.T, id string) returnDoc {
	t.Helper()
	res := f.env.Do(t, "GET", fmt.Sprintf("/v1/returns/%s", id), f.key(auth.RoleAdmin), nil)
	if res.Status != http.StatusOK {
		t.Fatalf("get return: got %d: %s", res.Status, res.Body)
	}
	var r returnDoc
	res.JSON(t, &r)
	return r
}

func (f fixture) parcels(t *testing.T, token string, id string) []parcelDoc {
	t.Helper()
	res := f.env.Do(t, "GET", fmt.Sprintf("/v1/returns/%s/parcels", id), token, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("list parcels: got %d: %s", res.Status, res.Body)
	}
	var out struct {
		Data []parcelDoc `json:"data"`
	}
	res.JSON(t, &out)
	return out.Data
}

func (f fixture) events(t *testing.T, id string) []eventDoc {
	t.Helper()
	res := f.env.Do(t, "GET", fmt.Sprintf("/v1/returns/%s/events", id), f.key(auth.RoleAdmin), nil)
	if res.Status != http.StatusOK {
		t.Fatalf("events: got %d: %s", res.Status, res.Body)
	}
	var out struct {
		Data []eventDoc `json:"data"`
	}
	res.JSON(t, &out)
	return out.Data
}

func countEvents(evs []eventDoc, name string) int {
	n := 0
	for _, e := range evs {
		if e.Event == name {
			n++
		}
	}
	return n
}

func problemOf(t *testing.T, res apitest.Response) problemDoc {
	t.Helper()
	var p problemDoc
	res.JSON(t, &p)
	return p
}

func TestParcelsAndLabelsThroughTheAPI(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tok := f.session(t, "NW-1", "ada@example.com")
	r := f.create(t, tok, "NW-1")
	if r.State != "approved" {
		t.Fatalf("got state %s, want approved by the default policy", r.State)
	}

	// approval issued parcel 1 with an S10 number, valid for the policy's 30 days
	ps := f.parcels(t, tok, r.ID)
	if len(ps) != 1 {
		t.Fatalf("got %d parcels after approval, want 1: %+v", len(ps), ps)
	}
	p1 := ps[0]
	if p1.Number != 1 || p1.Status != "issued" || p1.Carrier != "own" || !labels.ValidS10(p1.TrackingNumber) {
		t.Fatalf("got parcel %+v, want number 1, issued by own courier with a valid S10 number", p1)
	}
	if !strings.HasPrefix(p1.TrackingNumber, labels.DefaultServiceIndicator) || !strings.HasSuffix(p1.TrackingNumber, "GB") {
		t.Errorf("got tracking number %s, want %s…GB", p1.TrackingNumber, labels.DefaultServiceIndicator)
	}
	if d := p1.ValidUntil.Sub(p1.IssuedAt); d != 30*24*time.Hour {
		t.Errorf("got validity %v, want 30 days", d)
	}
	if want := "/v1/returns/" + r.RMA + "/label?parcel=1"; p1.LabelURL != want {
		t.Errorf("got label_url %q, want %q", p1.LabelURL, want)
	}
	// the return shows its parcels' tracking numbers, read alone or in a list
	for _, path := range []string{"/v1/returns/" + r.ID, "/v1/returns?order_number=NW-1"} {
		var got struct {
			Parcels []returns.ParcelRef `json:"parcels"`
			Data    []struct {
				Parcels []returns.ParcelRef `json:"parcels"`
			} `json:"data"`
		}
		f.env.Do(t, "GET", path, f.key(auth.RoleAdmin), nil).JSON(t, &got)
		if len(got.Data) == 1 {
			got.Parcels = got.Data[0].Parcels
		}
		want := []returns.ParcelRef{{Number: 1, TrackingNumber: p1.TrackingNumber, Carrier: "own", Status: "issued"}}
		if !slices.Equal(got.Parcels, want) {
			t.Errorf("GET %s: parcels %+v, want %+v", path, got.Parcels, want)
		}
	}

	// the shopper prints it; every format is a PDF
	path := "/v1/returns/" + r.RMA + "/label"
	res := f.env.Do(t, "GET", path, tok, nil)
	if res.Status != http.StatusOK || res.Header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(res.Body, []byte("%PDF")) {
		t.Fatalf("label: got %d %q %.60q, want 200 application/pdf", res.Status, res.Header.Get("Content-Type"), res.Body)
	}
	if got, want := res.Header.Get("Content-Disposition"), `inline; filename="`+r.RMA+`-parcel-1.pdf"`; got != want {
		t.Errorf("got Content-Disposition %q, want %q", got, want)
	}
	statusURL := f.env.URL + "/portal/northwind/returns/" + r.RMA
	got := scan(t, res.Body)
	want := []string{r.RMA, statusURL, p1.TrackingNumber}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("label 1 scans as %q, want %q", got, want)
	}
	if txt := pdfText(t, res.Body); !strings.Contains(txt, "1 of 1") || !strings.Contains(txt, "3 items") {
		t.Errorf("label 1 text lacks '1 of 1' and '3 items':\n%s", txt)
	}
	again := f.env.Do(t, "GET", fmt.Sprintf("/v1/returns/%s/label?parcel=1&format=4x6", r.ID), f.key(auth.RoleWarehouse), nil)
	if again.Status != http.StatusOK || !bytes.Equal(again.Body, res.Body) {
		t.Errorf("label by ID for the warehouse: got %d, and the bytes differ: %v", again.Status, !bytes.Equal(again.Body, res.Body))
	}
	for _, format := range []string{"letter", "a4"} {
		res := f.env.Do(t, "GET", path+"?format="+format, tok, nil)
		if res.Status != http.StatusOK || !bytes.HasPrefix(res.Body, []byte("%PDF")) {
			t.Fatalf("%s label: got %d %.60q", format, res.Status, res.Body)
		}
		if txt := pdfText(t, res.Body); !strings.Contains(txt, "Pack the items") {
			t.Errorf("%s label has no packing instructions:\n%s", format, txt)
		}
	}
	if res := f.env.Do(t, "GET", path+"?format=a5", tok, nil); res.Status != http.StatusUnprocessableEntity {
		t.Errorf("format a5: got %d, want 422", res.Status)
	}
	if res := f.env.Do(t, "GET", path, f.key(auth.RoleFinance), nil); res.Status != http.StatusForbidden {
		t.Errorf("label for a finance key: got %d, want 403", res.Status)
	}

	// another shopper, and another merchant, see nothing
	f.putOrder(t, "NW-2", "bob@example.com")
	bob := f.session(t, "NW-2", "bob@example.com")
	for _, p := range []string{path, "/v1/returns/" + r.RMA + "/parcels"} {
		if res := f.env.Do(t, "GET", p, bob, nil); res.Status != http.StatusNotFound {
			t.Errorf("GET %s as another shopper: got %d, want 404", p, res.Status)
		}
	}
	if res := f.env.Do(t, "POST", "/v1/returns/"+r.RMA+"/parcels", bob, nil); res.Status != http.StatusNotFound {
		t.Errorf("add parcel as another shopper: got %d, want 404", res.Status)
	}
	other := f.env.Merchant(t, "southwind")
	if res := f.env.Do(t, "GET", path, other.Keys[auth.RoleAdmin], nil); res.Status != http.StatusNotFound {
		t.Errorf("label for another merchant: got %d, want 404", res.Status)
	}

	// a second parcel with its own number; a retry with the same key adds nothing
	res = f.env.Do(t, "POST", "/v1/returns/"+r.RMA+"/parcels", tok, nil, "Idempotency-Key", "second-box")
	if res.Status != http.StatusCreated {
		t.Fatalf("add parcel: got %d: %s", res.Status, res.Body)
	}
	if res := f.env.Do(t, "POST", "/v1/returns/"+r.RMA+"/parcels", tok, nil, "Idempotency-Key", "second-box"); res.Status != http.StatusCreated {
		t.Fatalf("add parcel again: got %d: %s", res.Status, res.Body)
	}
	ps = f.parcels(t, f.key(auth.RoleIntegration), r.ID)
	if len(ps) != 2 || ps[1].Number != 2 || !labels.ValidS10(ps[1].TrackingNumber) || ps[1].TrackingNumber == p1.TrackingNumber {
		t.Fatalf("got parcels %+v, want 2 with their own valid numbers", ps)
	}
	p2 := ps[1]
	res = f.env.Do(t, "GET", path+"?parcel=2", tok, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("label 2: got %d: %s", res.Status, res.Body)
	}
	if got := scan(t, res.Body); !slices.Contains(got, p2.TrackingNumber) || slices.Contains(got, p1.TrackingNumber) {
		t.Errorf("label 2 scans as %q, want parcel 2's number %s", got, p2.TrackingNumber)
	}
	if txt := pdfText(t, res.Body); !strings.Contains(txt, "2 of 2") {
		t.Errorf("label 2 does not say 2 of 2:\n%s", txt)
	}
	if res := f.env.Do(t, "GET", path+"?parcel=3", tok, nil); res.Status != http.StatusNotFound {
		t.Errorf("label 3: got %d, want 404", res.Status)
	}

	// cancelling voids every label
	if res := f.env.Do(t, "POST", "/v1/returns/"+r.RMA+"/cancel", tok, nil); res.Status != http.StatusOK {
		t.Fatalf("cancel: got %d: %s", res.Status, res.Body)
	}
	for _, p := range f.parcels(t, tok, r.ID) {
		if p.Status != "voided" || p.VoidedAt == nil {
			t.Errorf("parcel %d after cancel: got %s, want voided with voided_at", p.Number, p.Status)
		}
	}
	for _, q := range []string{"", "?parcel=2"} {
		res := f.env.Do(t, "GET", path+q, tok, nil)
		if p := problemOf(t, res); res.Status != http.StatusGone || p.Code != "label_voided" || !strings.Contains(p.Detail, "cancelled") {
			t.Errorf("label%s after cancel: got %d %+v, want 410 saying it was voided", q, res.Status, p)
		}
	}
	res = f.env.Do(t, "POST", "/v1/returns/"+r.RMA+"/parcels", tok, nil)
	if p := problemOf(t, res); res.Status != http.StatusConflict || p.State != "cancelled" {
		t.Errorf("add parcel to a cancelled return: got %d %+v, want 409", res.Status, p)
	}
	var voids int
	if err := f.env.DB.Get(&voids, `SELECT count(*) FROM outbox WHERE kind = $1 AND state = 'pending'`, labels.KindVoid); err != nil {
		t.Fatal(err)
	}
	if voids != 2 {
		t.Errorf("got %d carrier void jobs, want 2", voids)
	}
}

func TestReturnsWithoutLabels(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tok := f.session(t, "NW-1", "ada@example.com")

	f.policy(t, map[string]any{"manual_review": true})
	r := f.create(t, tok, "NW-1")
	res := f.env.Do(t, "GET", "/v1/returns/"+r.RMA+"/label", tok, nil)
	if p := problemOf(t, res); res.Status != http.StatusConflict || p.Code != "no_label" || !strings.Contains(p.Detail, "review") {
		t.Errorf("label of a requested return: got %d %+v, want 409 explaining the review", res.Status, p)
	}
	if res := f.env.Do(t, "POST", "/v1/returns/"+r.RMA+"/parcels", f.key(auth.RoleIntegration), nil); res.Status != http.StatusConflict {
		t.Errorf("add parcel to a requested return: got %d, want 409", res.Status)
	}
	if res := f.env.Do(t, "POST", "/v1/returns/"+r.RMA+"/approve", f.key(auth.RoleIntegration), nil); res.Status != http.StatusOK {
		t.Fatalf("approve: got %d: %s", res.Status, res.Body)
	}
	if ps := f.parcels(t, tok, r.ID); len(ps) != 1 || ps[0].Status != "issued" {
		t.Fatalf("after staff approval: got parcels %+v, want parcel 1 issued", ps)
	}

	f.policy(t, map[string]any{"keep_it_threshold": map[string]any{"EUR": 1_000_000}})
	f.putOrder(t, "NW-3", "ada@example.com")
	res = f.env.Do(t, "POST", "/v1/returns", f.key(auth.RoleIntegration), map[string]any{
		"order_number": "NW-3", "resolution": "refund",
		"items": []map[string]any{{"line_id": "l2", "quantity": 1, "reason": "changed_mind"}},
	})
	var k returnDoc
	res.JSON(t, &k)
	if res.Status != http.StatusCreated || !k.KeepIt {
		t.Fatalf("keep-it return: got %d %s", res.Status, res.Body)
	}
	if ps := f.parcels(t, f.key(auth.RoleIntegration), k.ID); len(ps) != 0 {
		t.Errorf("keep-it return has parcels %+v, want none", ps)
	}
	res = f.env.Do(t, "GET", "/v1/returns/"+k.RMA+"/label", f.key(auth.RoleIntegration), nil)
	if p := problemOf(t, res); res.Status != http.StatusConflict || !strings.Contains(p.Detail, "keep the items") {
		t.Errorf("label of a keep-it return: got %d %+v, want 409 saying to keep the items", res.Status, p)
	}
}

func TestLabelNeedsTheReturnsAddress(t *testing.T) {
	t.Parallel()
	f := setup(t)
	if _, err := merchant.NewStore(f.env.DB).Update(context.Background(), f.shop.Merchant.ID, f.shop.Merchant.Name, merchant.Settings{}); err != nil {
		t.Fatal(err)
	}
	r := f.create(t, f.key(auth.RoleIntegration), "NW-1")
	ps := f.parcels(t, f.key(auth.RoleIntegration), r.ID)
	if len(ps) != 1 || !strings.HasSuffix(ps[0].TrackingNumber, labels.DefaultCountry) {
		t.Fatalf("got parcels %+v, want one numbered in %s", ps, labels.DefaultCountry)
	}
	res := f.env.Do(t, "GET", "/v1/returns/"+r.RMA+"/label", f.key(auth.RoleIntegration), nil)
	if p := problemOf(t, res); res.Status != http.StatusConflict || p.Code != "no_return_address" {
		t.Errorf("label without a returns address: got %d %+v, want 409 no_return_address", res.Status, p)
	}
}

// TestATrackingNumberOnRecordTakesTheNextSerial: when the tracking serial comes
// round to a number a parcel still has (the sequence wrapped), the next parcel is
// booked under the following serial instead of failing.
func TestATrackingNumberOnRecordTakesTheNextSerial(t *testing.T) {
	t.Parallel()
	f := setup(t)
	key := f.key(auth.RoleIntegration)
	r := f.create(t, key, "NW-1")
	first := f.parcels(t, key, r.ID)[0].TrackingNumber
	serial, err := strconv.ParseInt(first[2:10], 10, 64)
	if err != nil {
		t.Fatalf("tracking number %s: %v", first, err)
	}
	// the serial after it is on record already, as it would be after the sequence
	// came round: a parcel of the first return holds its number
	taken, err := labels.S10(first[:2], int(serial+1), first[11:])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.env.DB.Exec(`INSERT INTO parcels (merchant_id, return_id, number, carrier, service, tracking_number, valid_until)
		SELECT merchant_id, return_id, 2, carrier, service, $2, valid_until FROM parcels WHERE tracking_number = $1`,
		first, taken); err != nil {
		t.Fatal(err)
	}
	f.putOrder(t, "NW-2", "bo@example.com")
	ps := f.parcels(t, key, f.create(t, key, "NW-2").ID)
	if len(ps) != 1 {
		t.Fatalf("got %d parcels, want 1", len(ps))
	}
	want := fmt.Sprintf("%08d", serial+2)
	if got := ps[0].TrackingNumber; got == first || got == taken || got[2:10] != want || !labels.ValidS10(got) {
		t.Errorf("got tracking number %s after %s and %s were taken, want a valid S10 number with serial %s", got, first, taken, want)
	}
}

// TestScanByRMAOfAReturnWithTwoParcels: a scan of the RMA cannot tell which of two
// parcels arrived: it records the return's arrival, marks no parcel, and the next
// scan is a repeat.
func TestScanByRMAOfAReturnWithTwoParcels(t *testing.T) {
	t.Parallel()
	f := setup(t)
	key := f.key(auth.RoleIntegration)
	r := f.create(t, key, "NW-1")
	if res := f.env.Do(t, "POST", "/v1/returns/"+r.ID+"/parcels", key, nil); res.Status != http.StatusCreated {
		t.Fatalf("add parcel: got %d: %s", res.Status, res.Body)
	}
	for i, repeat := range []bool{false, true} {
		res := f.env.Do(t, "POST", "/v1/scans", f.key(auth.RoleWarehouse), map[string]any{"code": r.RMA})
		var sc struct {
			Repeat bool            `json:"repeat"`
			Parcel json.RawMessage `json:"parcel"`
		}
		res.JSON(t, &sc)
		if res.Status != http.StatusOK || sc.Repeat != repeat || sc.Parcel != nil {
			t.Errorf("scan %d: got %d repeat=%v parcel=%s, want 200 repeat=%v and no parcel", i+1, res.Status, sc.Repeat, sc.Parcel, repeat)
		}
	}
	var parcels, returns int
	if err := f.env.DB.QueryRow(`SELECT (SELECT count(*) FROM parcels WHERE arrived_at IS NOT NULL),
		(SELECT count(*) FROM returns WHERE arrived_at IS NOT NULL)`).Scan(&parcels, &returns); err != nil {
		t.Fatal(err)
	}
	if parcels != 0 || returns != 1 {
		t.Errorf("got %d parcels and %d returns arrived, want 0 and 1", parcels, returns)
	}
}

// TestScanByRMAOfAReturnWithOneParcel: the scan marks the parcel and the return
// arrived (in the statement that reads the return's parcels); a second scan is a
// repeat and moves neither time.
func TestScanByRMAOfAReturnWithOneParcel(t *testing.T) {
	t.Parallel()
	f := setup(t)
	r := f.create(t, f.key(auth.RoleIntegration), "NW-1")
	arrivals := func() (parcel, ret *time.Time) {
		t.Helper()
		if err := f.env.DB.QueryRow(`SELECT (SELECT arrived_at FROM parcels), (SELECT arrived_at FROM returns)`).
			Scan(&parcel, &ret); err != nil {
			t.Fatal(err)
		}
		return
	}
	var first [2]*time.Time
	for i, repeat := range []bool{false, true} {
		res := f.env.Do(t, "POST", "/v1/scans", f.key(auth.RoleWarehouse), map[string]any{"code": r.RMA})
		var sc struct {
			Repeat bool `json:"repeat"`
			Parcel *struct {
				ArrivedAt *time.Time `json:"arrived_at"`
			} `json:"parcel"`
		}
		res.JSON(t, &sc)
		if res.Status != http.StatusOK || sc.Repeat != repeat || sc.Parcel == nil || sc.Parcel.ArrivedAt == nil {
			t.Fatalf("scan %d: got %d repeat=%v parcel=%+v, want 200 repeat=%v and the parcel arrived", i+1, res.Status, sc.Repeat, sc.Parcel, repeat)
		}
		parcel, ret := arrivals()
		if parcel == nil || ret == nil || !parcel.Equal(*ret) {
			t.Fatalf("scan %d: parcel arrived at %v, return at %v, want both, the same", i+1, parcel, ret)
		}
		if i == 0 {
			first = [2]*time.Time{parcel, ret}
		} else if !parcel.Equal(*first[0]) || !ret.Equal(*first[1]) {
			t.Errorf("the repeat moved the arrival from %v/%v to %v/%v", first[0], first[1], parcel, ret)
		}
	}
}

func (f fixture) carrierEvent(t *testing.T, secret string, body map[string]any) apitest.Response {
	t.Helper()
	var headers []string
	if secret != "" {
		headers = []string{"X-Carrier-Secret", secret}
	}
	return f.env.Do(t, "POST", "/v1/carrier-events", "", body, headers...)
}

func (f fixture) rotateSecret(t *testing.T, key string) string {
	t.Helper()
	res := f.env.Do(t, "POST", "/v1/carrier-secret", key, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("rotate carrier secret: got %d: %s", res.Status, res.Body)
	}
	var s struct {
		Secret string `json:"secret"`
	}
	res.JSON(t, &s)
	return s.Secret
}

func TestCarrierEvents(t *testing.T) {
	t.Parallel()
	f := setup(t)
	if res := f.env.Do(t, "POST", "/v1/carrier-secret", f.key(auth.RoleIntegration), nil); res.Status != http.StatusForbidden {
		t.Errorf("rotate with an integration key: got %d, want 403", res.Status)
	}
	secret := f.rotateSecret(t, f.key(auth.RoleAdmin))
	if !strings.HasPrefix(secret, "rtc_northwind_") {
		t.Fatalf("got secret %q, want rtc_northwind_…", secret)
	}
	var stored string
	if err := f.env.DB.Get(&stored, `SELECT carrier_secret FROM merchants WHERE id = $1`, f.shop.Merchant.ID); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stored, secret) || len(stored) != 64 {
		t.Errorf("merchants.carrier_secret holds %q, want a SHA-256 hex digest", stored)
	}

	r := f.create(t, f.key(auth.RoleIntegration), "NW-1")
	tn := f.parcels(t, f.key(auth.RoleIntegration), r.ID)[0].TrackingNumber
	spaced := strings.ToLower(tn[:2] + " " + tn[2:6] + " " + tn[6:])

	type update struct {
		Parcel        parcelDoc `json:"parcel"`
		RMA           string    `json:"rma"`
		ReturnState   string    `json:"return_state"`
		FirstMovement bool      `json:"first_movement"`
	}
	send := func(status string, at time.Time, number string) update {
		t.Helper()
		res := f.carrierEvent(t, secret, map[string]any{"tracking_number": number, "status": status, "occurred_at": at.Format(time.RFC3339)})
		if res.Status != http.StatusOK {
			t.Fatalf("carrier event %s: got %d: %s", status, res.Status, res.Body)
		}
		var u update
		res.JSON(t, &u)
		return u
	}
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)

	u := send("pre_transit", t0, tn)
	if u.FirstMovement || u.ReturnState != "approved" || u.Parcel.CarrierStatus != "pre_transit" || u.Parcel.MovedAt != nil {
		t.Errorf("pre_transit: got %+v, want the status recorded and the return still approved", u)
	}
	u = send("in_transit", t0.Add(10*time.Minute), spaced)
	if !u.FirstMovement || u.ReturnState != "in_transit" || u.RMA != r.RMA || u.Parcel.MovedAt == nil || !u.Parcel.MovedAt.Equal(t0.Add(10*time.Minute)) {
		t.Errorf("first movement: got %+v, want the return in transit, moved at the event's time", u)
	}
	u = send("in_transit", t0.Add(10*time.Minute), tn)
	if u.FirstMovement || u.ReturnState != "in_transit" {
		t.Errorf("repeat: got %+v, want no first movement", u)
	}
	u = send("out_for_delivery", t0.Add(30*time.Minute), tn)
	if u.Parcel.CarrierStatus != "out_for_delivery" {
		t.Errorf("later status: got %q, want out_for_delivery", u.Parcel.CarrierStatus)
	}
	u = send("in_transit", t0.Add(20*time.Minute), tn) // late delivery of an older event
	if u.Parcel.CarrierStatus != "out_for_delivery" {
		t.Errorf("older event: got status %q, want out_for_delivery kept", u.Parcel.CarrierStatus)
	}
	evs := f.events(t, r.ID)
	if n := countEvents(evs, "carrier_scan"); n != 1 {
		t.Errorf("got %d carrier_scan events in the timeline, want 1: %+v", n, evs)
	}
	last := evs[len(evs)-1]
	if last.Event != "carrier_scan" || last.Actor != "carrier" || !strings.Contains(last.Note, tn) || !strings.Contains(last.Note, labels.DefaultCarrierName) {
		t.Errorf("got timeline entry %+v, want the carrier's scan naming the parcel", last)
	}
	if got := f.get(t, r.ID).State; got != "in_transit" {
		t.Errorf("got state %s, want in_transit", got)
	}
	// in transit, the return can no longer be cancelled, and its labels stay valid
	if res := f.env.Do(t, "POST", "/v1/returns/"+r.RMA+"/cancel", f.key(auth.RoleIntegration), nil); res.Status != http.StatusConflict {
		t.Errorf("cancel in transit: got %d, want 409", res.Status)
	}

	body := map[string]any{"tracking_number": tn, "status": "in_transit"}
	for name, c := range map[string]struct {
		secret string
		body   map[string]any
		want   int
	}{
		"unknown number":    {secret, map[string]any{"tracking_number": "ZR999999995GB", "status": "in_transit"}, http.StatusNotFound},
		"no secret":         {"", body, http.StatusUnauthorized},
		"wrong secret":      {secret + "x", body, http.StatusUnauthorized},
		"unknown merchant":  {strings.Replace(secret, "northwind", "nowhere", 1), body, http.StatusUnauthorized},
		"not a secret":      {"hunter2", body, http.StatusUnauthorized},
		"bad status":        {secret, map[string]any{"tracking_number": tn, "status": "teleported"}, http.StatusUnprocessableEntity},
		"no tracking":       {secret, map[string]any{"status": "in_transit"}, http.StatusUnprocessableEntity},
		"an API key is not": {f.key(auth.RoleAdmin), body, http.StatusUnauthorized},
	} {
		if res := f.carrierEvent(t, c.secret, c.body); res.Status != c.want {
			t.Errorf("%s: got %d, want %d: %s", name, res.Status, c.want, res.Body)
		}
	}

	// another merchant's carrier knows nothing of this merchant's parcels
	other := f.env.Merchant(t, "southwind")
	otherSecret := f.rotateSecret(t, other.Keys[auth.RoleAdmin])
	if res := f.carrierEvent(t, otherSecret, body); res.Status != http.StatusNotFound {
		t.Errorf("another merchant's secret: got %d, want 404", res.Status)
	}
	// rotating retires the old secret
	f.rotateSecret(t, f.key(auth.RoleAdmin))
	if res := f.carrierEvent(t, secret, body); res.Status != http.StatusUnauthorized {
		t.Errorf("rotated secret: got %d, want 401", res.Status)
	}
}

// worker runs the package's outbox jobs against the test's database, with a
// store whose changes set off the labels.
func worker(t *testing.T, f fixture) *outbox.Worker {
	t.Helper()
	store := returns.NewStore(f.env.DB)
	w := outbox.NewWorker(f.env.DB, f.env.DBURL, outbox.Options{})
	svc := labels.NewService(f.env.DB, store, merchant.NewStore(f.env.DB), "", nil)
	store.SetEffects(returns.Effects{Labels: svc})
	svc.Jobs(w)
	return w
}

// drain runs due jobs until none is left.
func drain(t *testing.T, w *outbox.Worker) {
	t.Helper()
	for range 100 {
		did, err := w.RunOne(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !did {
			return
		}
	}
	t.Fatal("the outbox does not drain")
}

// due makes the expiry jobs of a return due now.
func due(t *testing.T, f fixture, returnID string, parcel int) {
	t.Helper()
	res, err := f.env.DB.Exec(`UPDATE outbox SET run_at = now() WHERE kind = $1 AND state = 'pending'
		AND (payload->>'return_id')::bigint = (SELECT id FROM returns WHERE public_id = $2) AND (payload->>'parcel')::int = $3`, labels.KindExpire, returnID, parcel)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("got %d expiry jobs for return %s parcel %d, want 1", n, returnID, parcel)
	}
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.policy(t, map[string]any{"label_validity_days": 1})
	w := worker(t, f)
	key := f.key(auth.RoleIntegration)

	r := f.create(t, key, "NW-1")
	p := f.parcels(t, key, r.ID)[0]
	if d := p.ValidUntil.Sub(p.IssuedAt); d != 24*time.Hour {
		t.Fatalf("got validity %v, want the policy's 1 day", d)
	}
	var runAt time.Time
	if err := f.env.DB.Get(&runAt, `SELECT run_at FROM outbox WHERE kind = $1 AND (payload->>'return_id')::bigint = (SELECT id FROM returns WHERE public_id = $2)`, labels.KindExpire, r.ID); err != nil {
		t.Fatal(err)
	}
	if !runAt.Equal(p.ValidUntil) {
		t.Errorf("expiry job runs at %v, want the label's valid_until %v", runAt, p.ValidUntil)
	}
	drain(t, w) // not due yet
	if got := f.get(t, r.ID).State; got != "approved" {
		t.Fatalf("before the job is due: got %s, want approved", got)
	}

	due(t, f, r.ID, 1)
	drain(t, w)
	if got := f.get(t, r.ID).State; got != "expired" {
		t.Fatalf("after the expiry job: got %s, want expired", got)
	}
	evs := f.events(t, r.ID)
	last := evs[len(evs)-1]
	if last.Event != "expire" || last.To != "expired" || last.Actor != "system" || !strings.Contains(last.Note, "expired on") || !strings.Contains(last.Note, "void") {
		t.Errorf("got timeline entry %+v, want the expiry explained", last)
	}
	if ps := f.parcels(t, key, r.ID); ps[0].Status != "voided" {
		t.Errorf("parcel after expiry: got %s, want voided", ps[0].Status)
	}
	res := f.env.Do(t, "GET", "/v1/returns/"+r.RMA+"/label", key, nil)
	if pd := problemOf(t, res); res.Status != http.StatusGone || !strings.Contains(pd.Detail, "expired") {
		t.Errorf("label after expiry: got %d %+v, want 410", res.Status, pd)
	}
	var notDone int
	if err := f.env.DB.Get(&notDone, `SELECT count(*) FROM outbox WHERE kind LIKE 'label.%' AND state <> 'done' AND run_at <= now()`); err != nil {
		t.Fatal(err)
	}
	if notDone != 0 {
		t.Errorf("%d due label jobs are not done (failed or dead)", notDone)
	}

	// a return whose parcel moved is not expired by its job
	secret := f.rotateSecret(t, f.key(auth.RoleAdmin))
	f.putOrder(t, "NW-11", "ada@example.com")
	moved := f.create(t, key, "NW-11")
	tn := f.parcels(t, key, moved.ID)[0].TrackingNumber
	if res := f.carrierEvent(t, secret, map[string]any{"tracking_number": tn, "status": "in_transit"}); res.Status != http.StatusOK {
		t.Fatalf("carrier event: got %d: %s", res.Status, res.Body)
	}
	due(t, f, moved.ID, 1)
	drain(t, w)
	if got := f.get(t, moved.ID).State; got != "in_transit" {
		t.Errorf("moved return after its expiry job: got %s, want in_transit", got)
	}

	// a later parcel's label keeps the return open until it runs out too
	f.putOrder(t, "NW-12", "ada@example.com")
	two := f.create(t, key, "NW-12")
	if res := f.env.Do(t, "POST", fmt.Sprintf("/v1/returns/%s/parcels", two.ID), key, nil); res.Status != http.StatusCreated {
		t.Fatalf("add parcel: got %d: %s", res.Status, res.Body)
	}
	due(t, f, two.ID, 1)
	drain(t, w)
	if got := f.get(t, two.ID).State; got != "approved" {
		t.Errorf("after parcel 1's job, parcel 2 still valid: got %s, want approved", got)
	}
	due(t, f, two.ID, 2)
	drain(t, w)
	if got := f.get(t, two.ID).State; got != "expired" {
		t.Errorf("after parcel 2's job: got %s, want expired", got)
	}
	for _, p := range f.parcels(t, key, two.ID) {
		if p.Status != "voided" {
			t.Errorf("parcel %d: got %s, want voided", p.Number, p.Status)
		}
	}
	// a job for a return that was cancelled meanwhile does nothing
	f.putOrder(t, "NW-13", "ada@example.com")
	gone := f.create(t, key, "NW-13")
	if res := f.env.Do(t, "POST", fmt.Sprintf("/v1/returns/%s/cancel", gone.ID), key, nil); res.Status != http.StatusOK {
		t.Fatalf("cancel: got %d", res.Status)
	}
	due(t, f, gone.ID, 1)
	drain(t, w)
	if got := f.get(t, gone.ID).State; got != "cancelled" {
		t.Errorf("cancelled return after its expiry job: got %s, want cancelled", got)
	}
}

func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: install poppler-utils and zbar-tools (make test does this)", tool)
		}
	}
}

// scan returns the Code 128 and QR contents a scanner reads from pdf, sorted.
func scan(t *testing.T, pdf []byte) []string { t.Helper(); return labelscan.Scan(t, pdf) }

// pdfText is the text of pdf, with runs of white space as one space.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	requireTools(t, "pdftotext")
	cmd := exec.Command("pdftotext", "-", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return strings.Join(strings.Fields(string(b)), " ")
}
