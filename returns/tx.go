package returns

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/roundtriphq/roundtrip/internal/db"
	"github.com/roundtriphq/roundtrip/internal/outbox"
)

// Tx is one change of a return: a transaction that holds the return's row lock.
// Other domains act on the return through it (a receipt, a refund, a label), inside
// the same transaction, with their own stores writing their own tables on Tx.Tx.
type Tx struct {
	*sqlx.Tx
	// Return is the locked return as the change has left it so far.
	Return *Return
	store  *Store
	// order is the return's order once read (orders do not change under a return's
	// change: their lines are what was bought)
	order *OrderRecord
	// policy is the policy version the return was judged by, once read
	policy *Policy
	// now is the transaction's now(), read with the lock or written by the new
	// return's insert: what updated_at = now() writes
	now time.Time
	// arrivedAt is when a parcel of the return was first scanned at the warehouse,
	// read with the lock and kept by the change's own writes
	arrivedAt *time.Time
	// carry holds the writes of a state change not made yet: the notification of
	// the change carries them in its statement (Carried), or they run on their own
	// before any other effect of the change (flush)
	carry []outbox.Part
	// following is set while a change is being set off that another statement of the
	// same transaction follows at once (a creation the policy approves, an approval
	// that issues a label, a receipt that is resolved): its notice may ride on that
	// statement (Follows, Defer)
	following bool
	// steps are the transitions whose write (changePart) is among carry, not made yet
	steps []step
	// lockRead is the value of the change's LockRead (nil: none, or NULL)
	lockRead *string
}

// LockRead is the value of the LockRead the change's lock statement read, and false
// when it had none or the value was NULL.
func (t *Tx) LockRead() (string, bool) {
	if t.lockRead == nil {
		return "", false
	}
	return *t.lockRead, true
}

// pendingChange takes the write of the change's transitions not made yet out of
// carry and returns them, for a next transition to write them with its own (none
// when their write was made).
func (t *Tx) pendingChange() []step {
	for i, p := range t.carry {
		if p.With == changeOne || p.With == changeMany {
			t.carry = append(t.carry[:i:i], t.carry[i+1:]...)
			return t.steps
		}
	}
	return nil
}

// Now is the transaction's now(): what a write of the change stamps as its time, known
// since the lock (or the new return's insert).
func (t *Tx) Now() time.Time { return t.now }

// Follows reports whether another statement of the transaction follows this change
// at once (the approval of a new return, the label an approval issues, the
// resolution of a receipt): a notifier
// may then Defer its writes to that statement instead of making one of its own.
func (t *Tx) Follows() bool { return t.following }

// Defer hands writes (and the jobs they bring, outbox.Part.Messages) to the change's
// next statement, which makes them before its own, in their order.
func (t *Tx) Defer(parts ...outbox.Part) { t.carry = append(t.carry, parts...) }

// Carried takes the writes of the change being notified, for the notifier to make
// in its own statement, before anything it writes that depends on them.
func (t *Tx) Carried() []outbox.Part {
	c := t.carry
	t.carry = nil
	return c
}

// flush makes the change's writes nobody carried (setOff calls it after the
// notifier, so a change never ends with writes pending).
func (t *Tx) flush(ctx context.Context) error {
	if len(t.carry) == 0 {
		return nil
	}
	if _, _, err := outbox.EnqueueParts(ctx, t.Tx, t.Carried()); err != nil {
		return fmt.Errorf("returns: change of %d: %w", t.Return.ID, err)
	}
	return nil
}

// Update runs fn on the return under its row lock in one transaction and commits what
// fn did together with everything its changes set off (see Effects). It returns the
// return as the transaction left it.
func (s *Store) Update(ctx context.Context, merchantID, id int64, fn func(context.Context, *Tx) error) (*Return, error) {
	return s.update(ctx, `r.id = $2`, []any{merchantID, id}, nil, fn)
}

// UpdateReading is Update with read riding on the statement that locks the return
// (Tx.LockRead).
func (s *Store) UpdateReading(ctx context.Context, merchantID, id int64, read LockRead, fn func(context.Context, *Tx) error) (*Return, error) {
	return s.update(ctx, `r.id = $2`, []any{merchantID, id}, &read, fn)
}

// UpdateByRMA is Update for the return with RMA number rma (canonical form): the
// return is found and locked in one statement.
func (s *Store) UpdateByRMA(ctx context.Context, merchantID int64, rma string, fn func(context.Context, *Tx) error) (*Return, error) {
	return s.update(ctx, `r.rma = $2`, []any{merchantID, rma}, nil, fn)
}

// update is Update for the return that where finds with args (as getLocked takes
// them: $1 the merchant, $2 the key), with read (when not nil) in the same statement.
func (s *Store) update(ctx context.Context, where string, args []any, read *LockRead, fn func(context.Context, *Tx) error) (*Return, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	r, l, err := getLockedReading(ctx, tx, where, read, args...)
	if err != nil {
		return nil, err
	}
	t := &Tx{Tx: tx, Return: r, store: s, now: l.Now, arrivedAt: l.ArrivedAt, lockRead: l.Read}
	if err := fn(ctx, t); err != nil {
		return nil, err
	}
	if err := t.flush(ctx); err != nil { // writes no statement carried
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return t.Return, nil
}

// Lock takes a return's row lock in the caller's transaction (a background job's) and
// returns the change to make in it.
func (s *Store) Lock(ctx context.Context, tx *sqlx.Tx, merchantID, id int64) (*Tx, error) {
	r, l, err := getLocked(ctx, tx, `r.id = $2`, merchantID, id)
	if err != nil {
		return nil, err
	}
	return &Tx{Tx: tx, Return: r, store: s, now: l.Now, arrivedAt: l.ArrivedAt}, nil
}

// Transition applies ev to the return, adds it to the timeline and runs what it sets
// off; a move the table does not allow is a *TransitionError.
func (t *Tx) Transition(ctx context.Context, ev Event, actor, note string) error {
	return t.store.transition(ctx, t, ev, actor, note, nil)
}

// TransitionIn is Transition whose write (the state and the timeline entry, after
// any write of the change not made yet) the caller's own statement makes: in gets
// them as parts and must run them, as the first
// writes of its statement (outbox.EnqueueParts, outbox.Ahead). What the change sets
// off runs after in, as after Transition.
func (t *Tx) TransitionIn(ctx context.Context, ev Event, actor, note string, in func(change []outbox.Part) error) error {
	return t.store.transition(ctx, t, ev, actor, note, in)
}

// TransitionResolving is Transition for a change that Resolve follows at once (a
// receipt's): the change's writes and notice ride on the resolution's first
// statement (the refund it queues and its event; the store credit's event; the next
// transition's write), else on their own before anything else it writes (a hold's
// note, an exchange's release) or at the commit. Only Update's changes end with that
// write, so only they call it.
func (t *Tx) TransitionResolving(ctx context.Context, ev Event, actor, note string) error {
	outer := t.following
	t.following = true
	err := t.Transition(ctx, ev, actor, note)
	t.following = outer
	return err
}

// Note adds a timeline entry that changes no state (a hold, an inspection), after
// the change's writes not made yet.
func (t *Tx) Note(ctx context.Context, actor, event, note string) error {
	if err := t.flush(ctx); err != nil {
		return err
	}
	r := t.Return
	return addEvent(ctx, t.Tx, r.MerchantID, r.ID, actor, event, &r.State, r.State, note)
}

// Reload reads the return again, with what the transaction changed since (the
// change's writes not made yet are made first).
func (t *Tx) Reload(ctx context.Context) error {
	if err := t.flush(ctx); err != nil {
		return err
	}
	r, err := get(ctx, t.Tx, t.Return.MerchantID, t.Return.ID, true)
	if err != nil {
		return err
	}
	t.Return = r
	return nil
}

// Order reads the return's order (once per change).
func (t *Tx) Order(ctx context.Context) (OrderRecord, error) {
	if t.order != nil {
		return *t.order, nil
	}
	o, err := t.store.order(ctx, t.Tx, `merchant_id = $1 AND id = $2`, t.Return.MerchantID, t.Return.OrderID)
	if err != nil {
		return OrderRecord{}, err
	}
	t.order = &o
	return o, nil
}

// Policy reads the policy version the return was judged by.
func (t *Tx) Policy(ctx context.Context) (Policy, error) {
	if t.policy != nil && t.policy.Version == t.Return.PolicyVersion {
		return *t.policy, nil
	}
	p, err := t.store.PolicyIn(ctx, t.Tx, t.Return.MerchantID, t.Return.PolicyVersion)
	if err != nil {
		return Policy{}, err
	}
	t.policy = &p
	return p, nil
}

// ItemReceipt is what a receipt recorded of one returned line.
type ItemReceipt struct {
	LineID                       string
	Received, Accepted, Rejected int
	Condition, Disposition       string
}

// Receive adds what a receipt recorded to the return's items, in t.Return at once
// and in the database with the change's next write: the receipt's transition carries
// it in its statement (one write for every item), and Update makes it before the
// commit if nothing did.
func (t *Tx) Receive(ctx context.Context, items ...ItemReceipt) error {
	if len(items) == 0 {
		return nil
	}
	if err := t.flush(ctx); err != nil { // one receipt's write at a time in the carry
		return err
	}
	n := len(items)
	lines, conds, disps := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	received, accepted, rejected := make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n)
	for _, it := range items {
		for i := range t.Return.Items {
			if x := &t.Return.Items[i]; x.LineID == it.LineID {
				cond, disp := it.Condition, it.Disposition
				x.Received += it.Received
				x.Accepted += it.Accepted
				x.Rejected += it.Rejected
				x.Condition, x.Disposition = &cond, &disp
			}
		}
		lines, conds, disps = append(lines, it.LineID), append(conds, it.Condition), append(disps, it.Disposition)
		received = append(received, int64(it.Received))
		accepted = append(accepted, int64(it.Accepted))
		rejected = append(rejected, int64(it.Rejected))
	}
	// a line named twice adds up, as it did one statement per item
	t.carry = append(t.carry, outbox.Part{With: `return_items_received AS (UPDATE return_items i SET received = i.received + x.received,
		accepted = i.accepted + x.accepted, rejected = i.rejected + x.rejected,
		condition = x.condition, disposition = x.disposition
		FROM (SELECT line_id, sum(received) AS received, sum(accepted) AS accepted, sum(rejected) AS rejected,
				(array_agg(condition ORDER BY n DESC))[1] AS condition, (array_agg(disposition ORDER BY n DESC))[1] AS disposition
			FROM unnest($2::text[], $3::int[], $4::int[], $5::int[], $6::text[], $7::text[])
				WITH ORDINALITY AS u(line_id, received, accepted, rejected, condition, disposition, n)
			GROUP BY line_id) x
		WHERE i.return_id = $1 AND i.line_id = x.line_id)`,
		Args: []any{t.Return.ID, db.Array(lines), db.Array(received), db.Array(accepted), db.Array(rejected), db.Array(conds), db.Array(disps)}})
	return nil
}

// ArrivedAt is when a parcel of the return was first scanned at the warehouse (nil:
// never).
func (t *Tx) ArrivedAt() *time.Time { return t.arrivedAt }

// MarkArrived records the first scan of a parcel of the return at the warehouse; a
// later one changes nothing.
func (t *Tx) MarkArrived(ctx context.Context, at time.Time) error {
	if t.arrivedAt != nil {
		return nil
	}
	_, err := t.ExecContext(ctx, `UPDATE returns SET arrived_at = $2 WHERE id = $1`, t.Return.ID, at)
	if err == nil {
		t.arrivedAt = &at
	}
	return err
}

// Arrival is MarkArrived as a share of the caller's statement, for a scan that
// records its parcel's arrival in the same statement (none after the first scan).
func (t *Tx) Arrival(at time.Time) []outbox.Part {
	if t.arrivedAt != nil {
		return nil
	}
	t.arrivedAt = &at
	return []outbox.Part{{With: `return_arrival AS (UPDATE returns SET arrived_at = $2 WHERE id = $1)`,
		Args: []any{t.Return.ID, at}}}
}

// Outstanding is how many units of the return have not arrived yet.
func (r *Return) Outstanding() int {
	n := 0
	for _, it := range r.Items {
		n += max(it.Quantity-it.Received, 0)
	}
	return n
}
