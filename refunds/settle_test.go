package refunds_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/refunds/fakestripe"
)

// failedRefund makes a return whose refund Stripe declines, and returns both.
func (f *flow) failedRefund(t *testing.T, qty int) (ret, refunds.Refund) {
	t.Helper()
	f.stripe.Inject(fakestripe.Fault{Kind: fakestripe.Decline, Method: "POST", Path: "/v1/refunds", Times: 1})
	r := f.createReturn(t, map[string]any{"line_id": "l1", "quantity": qty, "reason": "too_small"})
	f.mustReceive(t, r, map[string]any{"line_id": "l1", "quantity": qty, "condition": "new", "disposition": "restock"})
	f.drain(t)
	rf := f.oneRefund(t, r)
	if rf.Status != refunds.StatusFailed || f.state(t, r) != "refund_failed" {
		t.Fatalf("the declined refund is %s and its return %s", rf.Status, f.state(t, r))
	}
	return r, rf
}

// ledgerOf returns the kind, net and note of a refund's ledger entries, in order.
func (f *flow) ledgerOf(t *testing.T, refundID string) []string {
	t.Helper()
	var out []string
	rows, err := f.env.DB.Query(`SELECT kind, net, note FROM ledger_entries
		WHERE refund_id = (SELECT id FROM refunds WHERE public_id = $1) ORDER BY id`, refundID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind, note string
		var net int64
		if err := rows.Scan(&kind, &net, &note); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %d %s", kind, net, note))
	}
	return out
}

func TestFailedRefundSettledAsStoreCreditOrOutside(t *testing.T) {
	t.Parallel()
	f := newFlow(t, fakestripe.Options{})
	fin := f.shop.Keys[auth.RoleFinance]

	// as store credit: the shopper's balance grows by the refund, the return completes
	r, rf := f.failedRefund(t, 1)
	path := fmt.Sprintf("/v1/refunds/%s/settle", rf.PublicID)
	res := f.env.Do(t, "POST", path, fin, map[string]any{"as": "store_credit", "note": "Card closed; the shopper agreed to credit."})
	if res.Status != http.StatusOK {
		t.Fatalf("settle as store credit: %d %s", res.Status, res.Body)
	}
	var got refunds.Refund
	res.JSON(t, &got)
	if got.Status != refunds.StatusFailed || got.ClosedAs == nil || *got.ClosedAs != "store_credit" || got.ClosedBy == nil || !strings.HasPrefix(*got.ClosedBy, "key:") {
		t.Errorf("the settled refund: %+v", got)
	}
	if st := f.state(t, r); st != "completed" {
		t.Errorf("the return is %s after its failed refund became store credit, want completed", st)
	}
	credit := f.env.Do(t, "GET", "/v1/store-credit?email=ada@example.com", fin, nil)
	if !strings.Contains(string(credit.Body), fmt.Sprintf(`"amount":%d`, rf.Amount)) {
		t.Errorf("the shopper's store credit lacks %d: %s", rf.Amount, credit.Body)
	}
	entries := f.ledgerOf(t, rf.PublicID)
	if last := entries[len(entries)-1]; last != "refund_to_store_credit 0 Card closed; the shopper agreed to credit." {
		t.Errorf("the refund's last ledger entry is %q; all: %q", last, entries)
	}
	var creditNet int64
	f.env.DB.Get(&creditNet, `SELECT coalesce(sum(net), 0) FROM ledger_entries
		WHERE return_id = (SELECT id FROM returns WHERE public_id = $1) AND kind = 'store_credit_issued'`, r.ID)
	if creditNet != -rf.Amount {
		t.Errorf("the ledger's store credit for the return: net %d, want %d", creditNet, -rf.Amount)
	}
	var events []string
	for _, e := range f.timeline(t, r) {
		events = append(events, e.Event+":"+e.To)
	}
	if tail := strings.Join(events[len(events)-2:], " "); tail != "settle_refund:resolving complete:completed" {
		t.Errorf("the timeline ends %q", tail)
	}

	// settled once only, and never retried afterwards
	for _, p := range []string{path, fmt.Sprintf("/v1/refunds/%s/retry", rf.PublicID)} {
		res := f.env.Do(t, "POST", p, fin, map[string]any{"as": "outside", "note": "again"})
		if res.Status != http.StatusConflict {
			t.Errorf("POST %s on a settled refund: %d %s, want 409", p, res.Status, res.Body)
		}
	}

	// outside Roundtrip: the note is required; the ledger records the money leaving
	r2, rf2 := f.failedRefund(t, 1)
	path2 := fmt.Sprintf("/v1/refunds/%s/settle", rf2.PublicID)
	for _, bad := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"as": "outside"}, "body.note"},
		{map[string]any{"as": "cash", "note": "x"}, "body.as"},
	} {
		res := f.env.Do(t, "POST", path2, fin, bad.body)
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), bad.field) {
			t.Errorf("settle with %v: %d %s, want 422 naming %s", bad.body, res.Status, res.Body, bad.field)
		}
	}
	if st := f.state(t, r2); st != "refund_failed" {
		t.Fatalf("a refused settlement changed the return: %s", st)
	}
	res = f.env.Do(t, "POST", path2, fin, map[string]any{"as": "outside", "note": "Bank transfer, reference 2026-1142."})
	if res.Status != http.StatusOK {
		t.Fatalf("settle outside: %d %s", res.Status, res.Body)
	}
	if st := f.state(t, r2); st != "completed" {
		t.Errorf("the return is %s after its refund was paid outside, want completed", st)
	}
	entries = f.ledgerOf(t, rf2.PublicID)
	if last := entries[len(entries)-1]; last != fmt.Sprintf("refund_outside %d Bank transfer, reference 2026-1142.", -rf2.Amount) {
		t.Errorf("the refund's last ledger entry is %q", last)
	}
	var ledger struct {
		Data []struct {
			Kind string `json:"kind"`
		} `json:"data"`
	}
	f.env.Do(t, "GET", "/v1/ledger?kind=refund_outside,refund_to_store_credit", fin, nil).JSON(t, &ledger)
	if len(ledger.Data) != 2 {
		t.Errorf("GET /v1/ledger of the settlement kinds: %+v", ledger.Data)
	}

	// a refund that did not fail, another merchant's, and a warehouse key
	ok := f.createReturn(t, map[string]any{"line_id": "l2", "quantity": 1, "reason": "too_small"})
	f.mustReceive(t, ok, map[string]any{"line_id": "l2", "quantity": 1, "condition": "new", "disposition": "restock"})
	f.drain(t)
	if res := f.env.Do(t, "POST", fmt.Sprintf("/v1/refunds/%s/settle", f.oneRefund(t, ok).PublicID), fin, map[string]any{"as": "store_credit"}); res.Status != http.StatusConflict {
		t.Errorf("settle a succeeded refund: %d %s, want 409", res.Status, res.Body)
	}
	// a refund is named by its rf_ ID only: its internal number is no ID
	var internal int64
	f.env.DB.Get(&internal, `SELECT id FROM refunds WHERE public_id = $1`, rf2.PublicID)
	if res := f.env.Do(t, "POST", fmt.Sprintf("/v1/refunds/%d/settle", internal), fin, map[string]any{"as": "store_credit"}); internal == 0 || res.Status != http.StatusNotFound {
		t.Errorf("settle by the internal number %d: %d, want 404", internal, res.Status)
	}
	other := f.env.Merchant(t, "southwind")
	if res := f.env.Do(t, "POST", path2, other.Keys[auth.RoleFinance], map[string]any{"as": "store_credit"}); res.Status != http.StatusNotFound {
		t.Errorf("another merchant's settle: %d, want 404", res.Status)
	}
	if res := f.env.Do(t, "POST", path2, f.shop.Keys[auth.RoleWarehouse], map[string]any{"as": "store_credit"}); res.Status != http.StatusForbidden {
		t.Errorf("a warehouse key's settle: %d, want 403", res.Status)
	}
}
