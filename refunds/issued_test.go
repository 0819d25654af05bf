package refunds_test

import (
	"strings"
	"testing"

	"github.com/roundtriphq/roundtrip/internal/pgtest"
	"github.com/roundtriphq/roundtrip/refunds"
)

// TestWhatAReturnHadIssuedIsReadByIndex: the read of what a return already had issued
// (every receipt, inspection and keep-it approval that pays runs it) finds each of its
// parts by an index, so that it costs the same whatever the size of the tables. With
// sequential scans disabled the plan has none, since a part with no index to use
// shows as a sequential scan all the same; the order's returns are found by their
// merchant, the store credit by return.
func TestWhatAReturnHadIssuedIsReadByIndex(t *testing.T) {
	plan := pgtest.Plan(t, []string{"enable_seqscan = off"}, "", refunds.IssuedSQL, 1, 2, 3)
	for _, want := range []string{"store_credit_entries_return", "refunds_return", "orders_pkey"} {
		if !strings.Contains(plan, want) {
			t.Errorf("the plan does not use %s:\n%s", want, plan)
		}
	}
	if strings.Contains(plan, "Seq Scan") {
		t.Errorf("the plan reads a table whole:\n%s", plan)
	}
	// (which of the merchant's indexes is the planner's choice: returns_order_id, by
	// merchant and order, since migration 26)
	if !strings.Contains(plan, "on returns x") || !strings.Contains(plan, "Index Cond: (merchant_id = ") &&
		!strings.Contains(plan, "Index Cond: ((merchant_id = ") {
		t.Errorf("the order's returns are not looked up by merchant:\n%s", plan)
	}
}
