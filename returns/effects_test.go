package returns_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/cmd/roundtrip/apitest"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/internal/pgtest"
	"github.com/roundtriphq/roundtrip/merchant"
	"github.com/roundtriphq/roundtrip/returns"
)

// recorder is a Labels and a Resolver that records what the store set off, with the
// state the return had in the change's own transaction when it did.
type recorder struct {
	calls []string
	fail  error
}

func (r *recorder) note(ctx context.Context, t *returns.Tx, what string) error {
	var state string
	if err := t.GetContext(ctx, &state, `SELECT state FROM returns WHERE id = $1`, t.Return.ID); err != nil {
		return err
	}
	r.calls = append(r.calls, what+"@"+state)
	return r.fail
}

// Issue makes the change's writes not made yet first, as Labels promises (the
// approval rides on the label's statement), and notes the state they left.
func (r *recorder) Issue(ctx context.Context, t *returns.Tx) error {
	carried := t.Carried()
	what := "issue"
	if len(carried) == 0 {
		what = "issue (the approval already written)"
	}
	if _, _, err := outbox.EnqueueParts(ctx, t.Tx, carried); err != nil {
		return err
	}
	return r.note(ctx, t, what)
}
func (r *recorder) Void(ctx context.Context, t *returns.Tx) error { return r.note(ctx, t, "void") }
func (r *recorder) Resolve(ctx context.Context, t *returns.Tx, receiptID int64, accepted map[string]int, actor string) error {
	return r.note(ctx, t, "resolve")
}

func effectsSetup(t *testing.T, pol returns.Policy) (*returns.Store, *recorder, int64, *sqlx.DB) {
	t.Helper()
	ctx := context.Background()
	d := pgtest.New(t)
	m, err := merchant.NewStore(d).Create(ctx, "northwind", "Northwind", merchant.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	store := returns.NewStore(d)
	rec := &recorder{}
	store.SetEffects(returns.Effects{Labels: rec, Resolver: rec})
	if _, err := store.PutPolicy(ctx, m.ID, pol, "test"); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(apitest.Order("ada@example.com", time.Now().Add(-48*time.Hour)))
	var o returns.Order
	if err := json.Unmarshal(body, &o); err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.PutOrder(ctx, m.ID, "NW-1", o); err != nil {
		t.Fatal(err)
	}
	return store, rec, m.ID, d
}

func createOne(t *testing.T, store *returns.Store, merchantID int64) (*returns.Return, error) {
	t.Helper()
	return store.Create(context.Background(), merchantID, "NW-1", returns.CreateInput{
		Items:      []returns.CreateItem{{QuoteItem: returns.QuoteItem{LineID: "l2", Quantity: 1, Reason: "too_small"}}},
		Resolution: returns.ResolutionRefund, Actor: "test",
	})
}

// TestEffectsOfEachChange checks what returns declares in effects.go: approval issues
// the label, an end voids it, a keep-it approval resolves at once instead, and each
// runs inside the change's transaction, after the state moved.
func TestEffectsOfEachChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("approve issues, cancel voids", func(t *testing.T) {
		t.Parallel()
		store, rec, mid, _ := effectsSetup(t, returns.DefaultPolicy())
		r, err := createOne(t, store, mid)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Transition(ctx, mid, r.ID, returns.EventCancel, "test", "", nil); err != nil {
			t.Fatal(err)
		}
		if got, want := rec.calls, []string{"issue@approved", "void@cancelled"}; !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})

	t.Run("manual review sets off nothing until approval", func(t *testing.T) {
		t.Parallel()
		pol := returns.DefaultPolicy()
		pol.ManualReview = true
		store, rec, mid, _ := effectsSetup(t, pol)
		r, err := createOne(t, store, mid)
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.calls) != 0 {
			t.Fatalf("got %v on create, want nothing", rec.calls)
		}
		if _, err := store.Transition(ctx, mid, r.ID, returns.EventReject, "test", "Worn.", nil); err != nil {
			t.Fatal(err)
		}
		if got, want := rec.calls, []string{"void@rejected"}; !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})

	t.Run("keep-it approval resolves instead of issuing a label", func(t *testing.T) {
		t.Parallel()
		pol := returns.DefaultPolicy()
		pol.KeepItThreshold = map[string]int64{"EUR": 100000}
		store, rec, mid, _ := effectsSetup(t, pol)
		r, err := createOne(t, store, mid)
		if err != nil {
			t.Fatal(err)
		}
		if !r.KeepIt {
			t.Fatalf("got keep_it false, want a returnless refund under the threshold")
		}
		if got, want := rec.calls, []string{"resolve@approved"}; !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})

	t.Run("a failing effect rolls the change back", func(t *testing.T) {
		t.Parallel()
		store, rec, mid, d := effectsSetup(t, returns.DefaultPolicy())
		rec.fail = errors.New("carrier down")
		if _, err := createOne(t, store, mid); err == nil || err.Error() != "carrier down" {
			t.Fatalf("got %v, want the effect's error", err)
		}
		var n int
		if err := d.Get(&n, `SELECT count(*) FROM returns`); err != nil || n != 0 {
			t.Errorf("got %d returns (%v), want 0: the return and its label commit together or not at all", n, err)
		}
	})
}

// TestTxReadsInsideTheTransaction checks that a merchant written in a transaction is
// read back through it (merchant.GetIn), as the effects read inside a change.
func TestTxReadsInsideTheTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := pgtest.Tx(t)
	var id int64
	if err := tx.GetContext(ctx, &id, `INSERT INTO merchants (slug, name, settings) VALUES ('southwind', 'Southwind', '{}') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	m, err := merchant.GetIn(ctx, tx, id)
	if err != nil || m.Slug != "southwind" {
		t.Fatalf("got %+v (%v), want the merchant written in the transaction", m, err)
	}
	if _, err := merchant.GetIn(ctx, tx, id+1); !errors.Is(err, merchant.ErrNotFound) {
		t.Errorf("got %v, want merchant.ErrNotFound", err)
	}
}

// A receipt's write to the return's items rides on its transition's statement (the
// receiving tests see it through the API); a change that receives and moves on no
// further still writes the items before its commit.
func TestReceivedItemsAreWrittenWithoutATransition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, _, merchantID, d := effectsSetup(t, returns.DefaultPolicy())
	r, err := createOne(t, store, merchantID)
	if err != nil {
		t.Fatal(err)
	}
	item := returns.ItemReceipt{LineID: "l2", Received: 1, Accepted: 1, Condition: "like_new", Disposition: "restock"}
	got, err := store.Update(ctx, merchantID, r.ID, func(ctx context.Context, t *returns.Tx) error {
		return t.Receive(ctx, item)
	})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := d.Get(&n, `SELECT received FROM return_items WHERE return_id = $1 AND line_id = 'l2'`, r.ID); err != nil {
		t.Fatal(err)
	}
	if n != 1 || got.Items[0].Received != 1 {
		t.Fatalf("a change that only received: %d unit(s) in the database, %d in the answer, want 1 and 1", n, got.Items[0].Received)
	}
}

// whileCreateWaits runs change in a transaction that holds the order's lock while
// a Create of the order's cap waits for it: change commits after Create's first read
// of the order's returns was taken. It answers Create's result.
func whileCreateWaits(t *testing.T, store *returns.Store, mid int64, d *sqlx.DB, orderID int64, change func(tx *sqlx.Tx)) (*returns.Return, error) {
	t.Helper()
	other := d.MustBegin()
	defer other.Rollback()
	if _, err := other.Exec(`SELECT 1 FROM orders WHERE id = $1 FOR NO KEY UPDATE`, orderID); err != nil {
		t.Fatal(err)
	}
	type result struct {
		r   *returns.Return
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := createOne(t, store, mid)
		done <- result{r, err}
	}()
	// wait until Create waits for the lock: its first read is taken by then
	pgtest.AwaitLockWait(t, d, "FOR NO KEY UPDATE OF o")
	change(other)
	if err := other.Commit(); err != nil {
		t.Fatal(err)
	}
	res := <-done
	return res.r, res.err
}

// capOrder is a store with the order NW-1 and the quote of a return of its only cap,
// as another request would make it.
type capOrder struct {
	store *returns.Store
	mid   int64
	d     *sqlx.DB
	order returns.OrderRecord
	quote []byte
	total int64
}

func capSetup(t *testing.T) capOrder {
	t.Helper()
	store, _, mid, d := effectsSetup(t, returns.DefaultPolicy())
	ctx := context.Background()
	order, err := store.FindOrder(ctx, mid, "NW-1", "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	q, _, err := store.QuoteFor(ctx, mid, order, []returns.QuoteItem{{LineID: "l2", Quantity: 1, Reason: "too_small"}}, returns.ResolutionRefund)
	if err != nil || !q.Eligible {
		t.Fatalf("quote: %+v (%v), want the cap eligible", q, err)
	}
	quote, _ := json.Marshal(q)
	return capOrder{store: store, mid: mid, d: d, order: order, quote: quote, total: q.Total}
}

// insert makes a return of the cap in q (a transaction or the pool) as another
// request would.
func (c capOrder) insert(t *testing.T, q sqlx.Execer, rma string) {
	t.Helper()
	if _, err := q.Exec(`INSERT INTO returns (merchant_id, order_id, rma, state, resolution, policy_version, currency,
		quote, total, customer_email, created_by) VALUES ($1, $2, $3, 'approved', 'refund', 1, 'EUR', $4, $5, 'ada@example.com', 'test')`,
		c.mid, c.order.ID, rma, c.quote, c.total); err != nil {
		t.Fatal(err)
	}
}

// TestAReturnMadeWhileAnotherWaitedForTheOrderHoldsItsUnits: a return of the order's
// only cap is made (and committed) while a second request for the cap waits for the
// order's lock. The second request's first read of the order's returns predates the
// first return; it must still see it before it writes, and refuse: a unit is never
// in two returns.
func TestAReturnMadeWhileAnotherWaitedForTheOrderHoldsItsUnits(t *testing.T) {
	t.Parallel()
	c := capSetup(t)
	r, err := whileCreateWaits(t, c.store, c.mid, c.d, c.order.ID, func(tx *sqlx.Tx) { c.insert(t, tx, "R-TEST-0001") })
	var notEligible *returns.NotEligibleError
	if !errors.As(err, &notEligible) {
		t.Fatalf("got %+v, %v; want the cap refused: it is in the other return", r, err)
	}
	var n int
	if err := c.d.Get(&n, `SELECT count(*) FROM returns WHERE order_id = $1`, c.order.ID); err != nil || n != 1 {
		t.Errorf("%d returns of the order (%v), want only the other request's", n, err)
	}
}

// TestAReturnCancelledWhileAnotherWaitedGivesItsUnitsBack: the cap's return is
// cancelled while a request for the cap waits for the order's lock; the request's
// first read still has the cap held, and it reads again before refusing: the cap is
// returned.
func TestAReturnCancelledWhileAnotherWaitedGivesItsUnitsBack(t *testing.T) {
	t.Parallel()
	c := capSetup(t)
	c.insert(t, c.d, "R-TEST-0002")
	r, err := whileCreateWaits(t, c.store, c.mid, c.d, c.order.ID, func(tx *sqlx.Tx) {
		if _, err := tx.Exec(`UPDATE returns SET state = 'cancelled' WHERE rma = 'R-TEST-0002'`); err != nil {
			t.Fatal(err)
		}
	})
	if err != nil || len(r.Items) != 1 || r.Items[0].LineID != "l2" {
		t.Fatalf("got %+v, %v; want the cap returned: the return that held it was cancelled", r, err)
	}
}

// A receipt's change rides on the statement of the resolution that follows it: its
// transition and the next are one write (the last state, both timeline entries in
// their order, one command of the transaction); a note between them comes after the
// receipt's entry; a change nothing follows is written before the commit.
func TestAReceiptAndItsResolutionAreOneWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	type entry struct {
		Event string `db:"event"`
		From  string `db:"from_state"`
		To    string `db:"to_state"`
		Note  string `db:"note"`
		Cmd   string `db:"cmd"`
	}
	run := func(t *testing.T, fn func(ctx context.Context, t *returns.Tx) error) (*returns.Return, []entry, string) {
		t.Helper()
		store, _, mid, d := effectsSetup(t, returns.DefaultPolicy())
		r, err := createOne(t, store, mid)
		if err != nil {
			t.Fatal(err)
		}
		got, err := store.Update(ctx, mid, r.ID, func(ctx context.Context, t *returns.Tx) error {
			if err := t.Receive(ctx, returns.ItemReceipt{LineID: "l2", Received: 1, Accepted: 1, Condition: "like_new", Disposition: "restock"}); err != nil {
				return err
			}
			if err := t.TransitionResolving(ctx, returns.EventReceiveAll, "user:ana", "Received 1 item(s)."); err != nil {
				return err
			}
			return fn(ctx, t)
		})
		if err != nil {
			t.Fatal(err)
		}
		var es []entry
		if err := d.Select(&es, `SELECT event, coalesce(from_state, '') AS from_state, to_state, note, cmin::text AS cmd
			FROM return_events WHERE return_id = $1 AND event <> 'create' AND event <> 'approve' ORDER BY id`, r.ID); err != nil {
			t.Fatal(err)
		}
		var state string
		if err := d.Get(&state, `SELECT state FROM returns WHERE id = $1`, r.ID); err != nil {
			t.Fatal(err)
		}
		if got.State != returns.State(state) {
			t.Errorf("the change answers %s, the database has %s", got.State, state)
		}
		var received int
		if err := d.Get(&received, `SELECT received FROM return_items WHERE return_id = $1 AND line_id = 'l2'`, r.ID); err != nil || received != 1 {
			t.Errorf("got %d unit(s) received (%v), want 1", received, err)
		}
		return got, es, state
	}

	t.Run("the resolution's transition", func(t *testing.T) {
		t.Parallel()
		_, es, state := run(t, func(ctx context.Context, t *returns.Tx) error {
			return t.Transition(ctx, returns.EventResolve, "system", "Refund queued.")
		})
		if state != "resolving" || len(es) != 2 {
			t.Fatalf("got %s with entries %+v, want resolving with two", state, es)
		}
		want := []entry{{"receive_all", "approved", "received", "Received 1 item(s).", es[0].Cmd},
			{"resolve", "received", "resolving", "Refund queued.", es[0].Cmd}}
		if !slices.Equal(es, want) {
			t.Errorf("got entries %+v, want %+v (one command)", es, want)
		}
	})
	t.Run("a note between", func(t *testing.T) {
		t.Parallel()
		_, es, state := run(t, func(ctx context.Context, t *returns.Tx) error {
			if err := t.Note(ctx, "system", "hold", "Held."); err != nil {
				return err
			}
			return t.Transition(ctx, returns.EventResolve, "system", "Refund queued.")
		})
		var got []string
		for _, e := range es {
			got = append(got, e.Event)
		}
		if state != "resolving" || !slices.Equal(got, []string{"receive_all", "hold", "resolve"}) {
			t.Errorf("got %s with %v, want resolving with the receipt, the note, the resolution", state, got)
		}
	})
	t.Run("nothing follows", func(t *testing.T) {
		t.Parallel()
		_, es, state := run(t, func(context.Context, *returns.Tx) error { return nil })
		if state != "received" || len(es) != 1 || es[0].To != "received" {
			t.Errorf("got %s with %+v, want received with its entry", state, es)
		}
	})
}
