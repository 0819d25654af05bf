package openapi_test

import (
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/cmd/roundtrip/apitest"
	"github.com/roundtriphq/roundtrip/internal/auth"
)

// TestPublicIDs: every resource the API names by ID has an opaque, prefixed random
// ID, the same in paths and bodies; the internal counters never show, and a lookup
// by another merchant's ID answers 404.
func TestPublicIDs(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	a := env.Merchant(t, "shop-a")
	b := env.Merchant(t, "shop-b")
	delivered := time.Now().Add(-48 * time.Hour)

	idOf := func(prefix string) *regexp.Regexp { return regexp.MustCompile(`^` + prefix + `_[0-9a-z]{28}$`) }
	create := func(tn apitest.Tenant, number string) (id, rma string) {
		t.Helper()
		if res := env.Do(t, "PUT", "/v1/orders/"+number, tn.Keys[auth.RoleIntegration], apitest.Order("ada@example.com", delivered)); res.Status/100 != 2 {
			t.Fatalf("push %s: %d %s", number, res.Status, res.Body)
		}
		res := env.Do(t, "POST", "/v1/returns", tn.Keys[auth.RoleIntegration], map[string]any{"order_number": number, "resolution": "refund",
			"items": []map[string]any{{"line_id": "l1", "quantity": 1, "reason": "too_small"}}})
		if res.Status != http.StatusCreated {
			t.Fatalf("create return: %d %s", res.Status, res.Body)
		}
		var r struct{ ID, RMA string }
		res.JSON(t, &r)
		if !idOf("ret").MatchString(r.ID) {
			t.Fatalf("return id %q, want ret_ and 28 random symbols", r.ID)
		}
		return r.ID, r.RMA
	}
	a1, _ := create(a, "A-1")
	b1, _ := create(b, "B-1")
	a2, rma2 := create(a, "A-2")
	if a1 == a2 || a1 == b1 {
		t.Fatalf("got repeated ids %s %s %s", a1, a2, b1)
	}

	wh := a.Keys[auth.RoleWarehouse]
	for _, c := range []struct {
		name, path, token string
		want              int
	}{
		{"by public id", "/v1/returns/" + a2, wh, http.StatusOK},
		{"by RMA, as the shopper quotes it", "/v1/returns/" + rma2, wh, http.StatusOK},
		{"another merchant's return", "/v1/returns/" + b1, wh, http.StatusNotFound},
		{"the internal number", "/v1/returns/" + strconv.Itoa(2), wh, http.StatusNotFound},
		{"its events", "/v1/returns/" + a2 + "/events", wh, http.StatusOK},
		{"its parcels", "/v1/returns/" + a2 + "/parcels", wh, http.StatusOK},
	} {
		if res := env.Do(t, "GET", c.path, c.token, nil); res.Status != c.want {
			t.Errorf("%s: GET %s got %d, want %d: %s", c.name, c.path, res.Status, c.want, res.Body)
		}
	}

	// a receipt makes a refund (queued: no Stripe here) and ledger entries, each
	// naming the return by the same public ID
	res := env.Do(t, "POST", "/v1/returns/"+a2+"/receipts", wh, map[string]any{
		"items": []map[string]any{{"line_id": "l1", "quantity": 1, "condition": "new", "disposition": "restock"}}})
	if res.Status != http.StatusCreated {
		t.Fatalf("receipt: %d %s", res.Status, res.Body)
	}
	var rc struct{ ID string }
	res.JSON(t, &rc)
	if !idOf("rcpt").MatchString(rc.ID) {
		t.Errorf("receipt id %q", rc.ID)
	}
	fin := a.Keys[auth.RoleFinance]
	var refunds struct {
		Data []struct {
			ID       string `json:"id"`
			ReturnID string `json:"return_id"`
		}
	}
	env.Do(t, "GET", "/v1/refunds?return_id="+a2, fin, nil).JSON(t, &refunds)
	if len(refunds.Data) != 1 || !idOf("rf").MatchString(refunds.Data[0].ID) || refunds.Data[0].ReturnID != a2 {
		t.Fatalf("refunds of %s: got %+v, want one rf_ refund naming the return", a2, refunds.Data)
	}
	rf := refunds.Data[0].ID
	if res := env.Do(t, "GET", "/v1/refunds/"+rf, fin, nil); res.Status != http.StatusOK {
		t.Errorf("GET refund %s: %d", rf, res.Status)
	}
	if res := env.Do(t, "GET", "/v1/refunds/"+rf, b.Keys[auth.RoleFinance], nil); res.Status != http.StatusNotFound {
		t.Errorf("another merchant's refund: got %d, want 404", res.Status)
	}
	var ledger struct {
		Data []struct {
			ID       string `json:"id"`
			RefundID string `json:"refund_id"`
			ReturnID string `json:"return_id"`
		}
	}
	env.Do(t, "GET", "/v1/ledger?refund_id="+rf, fin, nil).JSON(t, &ledger)
	if len(ledger.Data) == 0 {
		t.Fatalf("no ledger entries for refund %s", rf)
	}
	for _, e := range ledger.Data {
		if !idOf("le").MatchString(e.ID) || e.RefundID != rf || e.ReturnID != a2 {
			t.Errorf("ledger entry %+v, want le_ naming %s and %s", e, rf, a2)
		}
	}

	// reconciliations and API keys
	res = env.Do(t, "POST", "/v1/reconciliations", fin, map[string]any{"from": "2026-03-01", "to": "2026-03-04"})
	var run struct {
		ID        string `json:"id"`
		CreatedBy string `json:"created_by"`
	}
	res.JSON(t, &run)
	if !idOf("rec").MatchString(run.ID) {
		t.Errorf("reconciliation id %q", run.ID)
	}
	if res := env.Do(t, "GET", "/v1/reconciliations/"+run.ID, fin, nil); res.Status != http.StatusOK {
		t.Errorf("GET reconciliation: %d", res.Status)
	}
	if res := env.Do(t, "GET", "/v1/reconciliations/"+run.ID, b.Keys[auth.RoleFinance], nil); res.Status != http.StatusNotFound {
		t.Errorf("another merchant's reconciliation: got %d, want 404", res.Status)
	}
	var keys struct {
		Data []struct{ ID, Role string }
	}
	env.Do(t, "GET", "/v1/api-keys", a.Keys[auth.RoleAdmin], nil).JSON(t, &keys)
	for _, k := range keys.Data {
		if !idOf("key").MatchString(k.ID) {
			t.Errorf("key id %q", k.ID)
		}
		if k.Role == string(auth.RoleFinance) && run.CreatedBy != "key:"+k.ID {
			t.Errorf("reconciliation created by %q, want key:%s", run.CreatedBy, k.ID)
		}
	}
}
