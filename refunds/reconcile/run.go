package reconcile

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/roundtriphq/roundtrip/internal/period"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/roundtriphq/roundtrip/internal/money"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/refunds/ledger"
)

// maxWindows bounds how many windows a period is listed in; windows are at least a day.
const maxWindows = 64

// counters are a run's progress counters, also kept as its checkpoint.
type counters struct {
	StripeListed int64 `json:"stripe_listed"`
	LocalSeen    int64 `json:"local_seen"`
	Lines        int64 `json:"lines"`
	NotOurs      int64 `json:"not_ours"`
}

func (c *counters) add(d counters) {
	c.StripeListed += d.StripeListed
	c.LocalSeen += d.LocalSeen
	c.Lines += d.Lines
	c.NotOurs += d.NotOurs
}

// execution is one attempt of one run.
type execution struct {
	s        *Service
	id       int64
	merchant int64
	attempt  int
	period   period.Period
	listFrom time.Time // where the listing starts: the period's start or the checkpoint
	expected int64
	phase    string
	// checkpointBase are the counters restored from the checkpoint at the start.
	checkpointBase counters
	progress       func(ReconciliationProgress)

	mu    sync.Mutex // guards phase and total, and serialises progress
	total counters
}

// Execute runs reconciliation id to its end, resuming after the last completed
// window when an earlier attempt stopped, and returns it as it ended. progress, when
// not nil, is called after every batch. A run that already succeeded is returned as
// it is.
func (s *Service) Execute(ctx context.Context, id int64, progress func(ReconciliationProgress)) (*Reconciliation, error) {
	if s.gateway == nil {
		return nil, errors.New("reconcile: no Stripe gateway is configured")
	}
	e, err := s.begin(ctx, id)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return s.getByID(ctx, id) // succeeded already
	}
	e.progress = progress
	e.report()
	if err := e.list(ctx); err != nil {
		return nil, err
	}
	if err := e.check(ctx); err != nil {
		return nil, err
	}
	res, err := s.db.ExecContext(ctx, `UPDATE reconciliations SET status = 'succeeded', phase = 'done', finished_at = now(),
		updated_at = now(), error = NULL WHERE id = $1 AND attempt = $2`, e.id, e.attempt)
	if err := superseded(res, err); err != nil {
		return nil, err
	}
	e.phase = PhaseDone
	e.report()
	return s.getByID(ctx, id)
}

func (s *Service) getByID(ctx context.Context, id int64) (*Reconciliation, error) {
	var m int64
	if err := s.db.GetContext(ctx, &m, `SELECT merchant_id FROM reconciliations WHERE id = $1`, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	return s.Get(ctx, m, id)
}

// begin takes a new attempt of the run: it drops the lines written after the last
// checkpoint, restores the counters of that checkpoint and counts our refunds of
// the period. It returns nil when the run already succeeded.
func (s *Service) begin(ctx context.Context, id int64) (*execution, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var r runRow
	err = tx.GetContext(ctx, &r, `UPDATE reconciliations SET status = 'running', attempt = attempt + 1,
		phase = CASE WHEN listed_until >= period_to THEN 'checking' ELSE 'listing' END, error = NULL, started_at = coalesce(started_at, now()), finished_at = NULL, updated_at = now()
		WHERE id = $1 AND status <> 'succeeded' RETURNING `+runCols, id)
	if errors.Is(err, sql.ErrNoRows) {
		var status string
		if err := tx.GetContext(ctx, &status, `SELECT status FROM reconciliations WHERE id = $1`, id); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return nil, ErrNotFound
			}
			return nil, err
		}
		return nil, nil // succeeded already
	}
	if err != nil {
		return nil, fmt.Errorf("reconcile: begin %d: %w", id, err)
	}
	e := &execution{s: s, id: id, merchant: r.MerchantID, attempt: r.Attempt, phase: PhaseListing,
		period: period.Period{From: r.From, To: r.To}}
	if r.ListedUntil != nil {
		if err := json.Unmarshal(r.Checkpoint, &e.checkpointBase); err != nil {
			return nil, fmt.Errorf("reconcile: checkpoint of %d: %w", id, err)
		}
		e.total = e.checkpointBase
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM reconciliation_lines WHERE reconciliation_id = $1
		AND (source = 'local' OR $2::timestamptz IS NULL OR stripe_created >= $2)`, id, r.ListedUntil); err != nil {
		return nil, fmt.Errorf("reconcile: begin %d: %w", id, err)
	}
	err = tx.GetContext(ctx, &e.expected, `SELECT count(*) FROM refunds f WHERE f.merchant_id = $1
		AND f.stripe_refund_id IS NOT NULL AND coalesce(f.sent_at, f.created_at) >= $2 AND coalesce(f.sent_at, f.created_at) < $3`,
		r.MerchantID, r.From, r.To)
	if err != nil {
		return nil, fmt.Errorf("reconcile: count ours: %w", err)
	}
	_, err = tx.ExecContext(ctx, `UPDATE reconciliations SET local_expected = $2, stripe_listed = $3, local_seen = $4,
		lines = $5, not_ours = $6 WHERE id = $1`,
		id, e.expected, e.total.StripeListed, e.total.LocalSeen, e.total.Lines, e.total.NotOurs)
	if err != nil {
		return nil, fmt.Errorf("reconcile: begin %d: %w", id, err)
	}
	e.listFrom = r.From
	if r.ListedUntil != nil {
		e.listFrom = *r.ListedUntil // resume the listing after the checkpoint
		if !r.ListedUntil.Before(r.To) {
			e.phase = PhaseChecking
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return e, nil
}

// report calls progress; the caller holds e.mu or is the only goroutine.
func (e *execution) report() {
	if e.progress == nil {
		return
	}
	p := ReconciliationProgress{Phase: e.phase, StripeListed: e.total.StripeListed, LocalExpected: e.expected,
		LocalSeen: e.total.LocalSeen, Lines: e.total.Lines}
	status := StatusRunning
	if e.phase == PhaseDone {
		status = StatusSucceeded
	}
	p.Percent = percent(status, p)
	e.progress(p)
}

// windows cuts [from, to) into at most maxWindows windows of at least a day, in
// whole seconds (Stripe's created times are whole seconds).
func windows(from, to time.Time) [][2]time.Time {
	size := max(24*time.Hour, (to.Sub(from)/maxWindows).Truncate(time.Second)+time.Second)
	var out [][2]time.Time
	for a := from; a.Before(to); {
		b := a.Add(size)
		if b.After(to) {
			b = to
		}
		out = append(out, [2]time.Time{a, b})
		a = b
	}
	return out
}

// list reads Stripe's refunds of the period, Service.Windows windows at a time, and
// checkpoints after each window that completes the run of finished windows from the
// start: the checkpoint's counters are the sums of exactly those windows, so a resumed
// run that drops every line after it starts from a consistent state.
func (e *execution) list(ctx context.Context) error {
	if e.phase != PhaseListing {
		return nil
	}
	ws := windows(e.listFrom, e.period.To)
	type result struct {
		i   int
		d   counters
		err error
	}
	jobs, results, stop := make(chan int), make(chan result), make(chan struct{})
	var wg sync.WaitGroup
	for range min(max(e.s.Windows, 1), len(ws)) {
		wg.Go(func() {
			for i := range jobs {
				d, err := e.listWindow(ctx, ws[i][0], ws[i][1])
				results <- result{i, d, err}
			}
		})
	}
	go func() {
		defer close(jobs)
		for i := range ws {
			select {
			case jobs <- i:
			case <-stop:
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(results)
	}()

	// After a failure no new window starts, but the running ones finish, so that
	// the checkpoint keeps what they did when it can.
	finished := make([]*counters, len(ws))
	cp := e.checkpointBase
	next := 0
	var failed error
	fail := func(err error) {
		if failed == nil {
			failed = err
			close(stop)
		}
	}
	for r := range results {
		if r.err != nil {
			fail(r.err)
			continue
		}
		finished[r.i] = &r.d
		advanced := false
		for next < len(ws) && finished[next] != nil {
			cp.add(*finished[next])
			next++
			advanced = true
		}
		if !advanced {
			continue
		}
		b, err := json.Marshal(cp)
		if err == nil {
			var res sql.Result
			res, err = e.s.db.ExecContext(ctx, `UPDATE reconciliations SET listed_until = $3, checkpoint = $4,
				updated_at = now() WHERE id = $1 AND attempt = $2`, e.id, e.attempt, ws[next-1][1], string(b))
			err = superseded(res, err)
		}
		if err != nil {
			fail(err)
		}
	}
	if failed != nil {
		return failed
	}
	e.mu.Lock()
	e.phase = PhaseChecking
	e.mu.Unlock()
	res, err := e.s.db.ExecContext(ctx, `UPDATE reconciliations SET phase = 'checking', updated_at = now()
		WHERE id = $1 AND attempt = $2`, e.id, e.attempt)
	return superseded(res, err)
}

// listWindow lists, matches and writes Stripe's refunds created in [from, to), in
// batches, and returns what it added to the counters.
func (e *execution) listWindow(ctx context.Context, from, to time.Time) (counters, error) {
	var total counters
	size := e.s.batchSize()
	batch := make([]refunds.Result, 0, size)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		lines, d, err := e.match(ctx, batch)
		if err != nil {
			return err
		}
		batch = batch[:0]
		if err := e.write(ctx, lines, d); err != nil {
			return err
		}
		total.add(d)
		return nil
	}
	err := e.s.gateway.List(ctx, from, to, func(r refunds.Result) error {
		batch = append(batch, r)
		if len(batch) >= size {
			return flush()
		}
		return nil
	})
	if err != nil {
		return total, err
	}
	return total, flush()
}

func (s *Service) batchSize() int {
	if s.BatchSize <= 0 {
		return 1000
	}
	return s.BatchSize
}

func superseded(res sql.Result, err error) error {
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errSuperseded
	}
	return nil
}

// localRefund is one of our refunds as reconciliation compares it.
type localRefund struct {
	ID                 int64     `db:"id"`
	PublicID           string    `db:"public_id"`
	MerchantID         int64     `db:"merchant_id"`
	ReturnID           int64     `db:"return_id"`
	RMA                string    `db:"rma"`
	OrderNumber        string    `db:"order_number"`
	Amount             int64     `db:"amount"`
	Currency           string    `db:"currency"`
	Status             string    `db:"status"`
	StripeRefundID     *string   `db:"stripe_refund_id"`
	Attempt            int       `db:"generation"`
	Sent               time.Time `db:"sent"`
	ChargeID           *string   `db:"charge_id"`
	PaymentIntentID    *string   `db:"payment_intent_id"`
	BalanceTransaction *string   `db:"balance_transaction"`
}

const localCols = `f.id, f.public_id, f.merchant_id, f.return_id, r.rma, o.number AS order_number, f.amount, f.currency, f.status,
	f.stripe_refund_id, f.generation, coalesce(f.sent_at, f.created_at) AS sent, f.charge_id, f.payment_intent_id,
	f.balance_transaction`

const localFrom = ` FROM refunds f JOIN returns r ON r.id = f.return_id JOIN orders o ON o.id = r.order_id`

func (e *execution) locals(ctx context.Context, where string, args ...any) ([]localRefund, error) {
	var out []localRefund
	if err := e.s.db.SelectContext(ctx, &out, `SELECT `+localCols+localFrom+` WHERE `+where, args...); err != nil {
		return nil, fmt.Errorf("reconcile: our refunds: %w", err)
	}
	return out, nil
}

// resolution is what a Stripe refund was found to be.
type resolution struct {
	res     refunds.Result
	local   *localRefund
	how     string // stripe_id, earlier_attempt, metadata, order_payment
	status  string // our status to compare with
	attempt int
	order   string // for order_payment
	extra   bool   // a second Stripe refund for one of ours (metadata)
}

// match pairs a batch of Stripe refunds with ours.
func (e *execution) match(ctx context.Context, batch []refunds.Result) ([]line, counters, error) {
	var d counters
	d.StripeListed = int64(len(batch))
	ids := make([]string, len(batch))
	for i, r := range batch {
		ids[i] = r.StripeID
	}
	found, err := e.locals(ctx, `f.merchant_id = $1 AND f.stripe_refund_id = ANY($2)`, e.merchant, pq.Array(ids))
	if err != nil {
		return nil, d, err
	}
	byStripe := make(map[string]*localRefund, len(found))
	for i := range found {
		byStripe[*found[i].StripeRefundID] = &found[i]
	}
	rs := make([]resolution, len(batch))
	var rest []string
	for i, r := range batch {
		rs[i].res = r
		if l, ok := byStripe[r.StripeID]; ok {
			rs[i].local, rs[i].how, rs[i].status, rs[i].attempt = l, "stripe_id", l.Status, l.Attempt
			continue
		}
		rest = append(rest, r.StripeID)
	}
	attempts, err := ledger.SentAttempts(ctx, e.s.db, e.merchant, rest)
	if err != nil {
		return nil, d, err
	}
	// the refund_id metadata is our public ID (rf_…), or the internal ID in decimal
	// for refunds sent before public IDs went to Stripe
	var wanted []int64
	var wantedPublic []string
	for i := range rs {
		if rs[i].local != nil {
			continue
		}
		md := rs[i].res.Metadata["refund_id"]
		if a, ok := attempts[rs[i].res.StripeID]; ok {
			wanted = append(wanted, a.RefundID)
		} else if id, err := strconv.ParseInt(md, 10, 64); err == nil && id > 0 {
			wanted = append(wanted, id)
		} else if strings.HasPrefix(md, "rf_") {
			wantedPublic = append(wantedPublic, md)
		}
	}
	byID := map[int64]*localRefund{}
	byPublic := map[string]*localRefund{}
	if len(wanted) > 0 || len(wantedPublic) > 0 {
		more, err := e.locals(ctx, `f.merchant_id = $1 AND (f.id = ANY($2) OR f.public_id = ANY($3))`,
			e.merchant, pq.Array(wanted), pq.Array(wantedPublic))
		if err != nil {
			return nil, d, err
		}
		for i := range more {
			byID[more[i].ID], byPublic[more[i].PublicID] = &more[i], &more[i]
		}
	}
	// ofMetadata is our refund that a Stripe refund's refund_id metadata names
	ofMetadata := func(md string) *localRefund {
		if id, err := strconv.ParseInt(md, 10, 64); err == nil {
			return byID[id]
		}
		if strings.HasPrefix(md, "rf_") {
			return byPublic[md]
		}
		return nil
	}
	var pis, charges []string
	for i := range rs {
		x := &rs[i]
		if x.local != nil {
			continue
		}
		if a, ok := attempts[x.res.StripeID]; ok && byID[a.RefundID] != nil {
			x.local, x.how, x.status, x.attempt = byID[a.RefundID], "earlier_attempt", a.Status, a.Attempt
			continue
		}
		if l := ofMetadata(x.res.Metadata["refund_id"]); l != nil {
			x.local, x.how, x.status, x.attempt = l, "metadata", l.Status, l.Attempt
			x.extra = l.StripeRefundID != nil // ours went out as another Stripe refund
			continue
		}
		if x.res.PaymentIntentID != "" {
			pis = append(pis, x.res.PaymentIntentID)
		}
		if x.res.ChargeID != "" {
			charges = append(charges, x.res.ChargeID)
		}
	}
	owners, err := e.owners(ctx, pis, charges)
	if err != nil {
		return nil, d, err
	}
	lines := make([]line, 0, len(rs))
	for i := range rs {
		x := &rs[i]
		if x.local == nil {
			number, ok := owners[x.res.PaymentIntentID]
			if !ok || x.res.PaymentIntentID == "" {
				number, ok = owners["charge:"+x.res.ChargeID]
			}
			if !ok {
				d.NotOurs++
				continue
			}
			x.how, x.order = "order_payment", number
		}
		if x.how == "stripe_id" && e.period.Contains(x.local.Sent) {
			d.LocalSeen++
		}
		lines = append(lines, x.line())
	}
	d.Lines = int64(len(lines))
	return lines, d, nil
}

// owners finds the merchant's orders paid by payment intents or charges and returns
// their numbers, keyed by payment intent ID and by "charge:"+charge ID.
func (e *execution) owners(ctx context.Context, pis, charges []string) (map[string]string, error) {
	out := map[string]string{}
	if len(pis) == 0 && len(charges) == 0 {
		return out, nil
	}
	rows, err := e.s.db.QueryContext(ctx, `SELECT number, coalesce(data->'payment'->>'payment_intent_id', ''),
		coalesce(data->'payment'->>'charge_id', '') FROM orders
		WHERE merchant_id = $1 AND (data->'payment'->>'payment_intent_id' = ANY($2) OR data->'payment'->>'charge_id' = ANY($3))`,
		e.merchant, pq.Array(pis), pq.Array(charges))
	if err != nil {
		return nil, fmt.Errorf("reconcile: orders of payments: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var number, pi, ch string
		if err := rows.Scan(&number, &pi, &ch); err != nil {
			return nil, err
		}
		if pi != "" {
			out[pi] = number
		}
		if ch != "" {
			out["charge:"+ch] = number
		}
	}
	return out, rows.Err()
}

// line is a ReconciliationLine on its way to the database.
type line struct {
	class     Class
	source    string
	matchedBy string
	local     *localRefund
	status    string // ours, for the local side
	attempt   int
	order     string
	stripe    *refunds.Result
	note      string
}

func (x *resolution) line() line {
	l := line{source: "stripe_list", matchedBy: x.how, local: x.local, status: x.status, attempt: x.attempt,
		order: x.order, stripe: &x.res}
	switch {
	case x.local == nil:
		l.class = MissingLocally
		l.note = fmt.Sprintf("Stripe has a refund of %s on order %s that Roundtrip did not make.", stripeMoney(x.res), x.order)
	case x.extra:
		l.class = MissingLocally
		l.note = fmt.Sprintf("Stripe refund names refund %d (%s), which Roundtrip records as Stripe refund %s: a second refund in Stripe.",
			x.local.ID, x.local.RMA, *x.local.StripeRefundID)
	default:
		l.class, l.note = classify(side{x.local.Amount, x.local.Currency, x.status},
			side{x.res.Amount, x.res.Currency, string(x.res.Status)}, x.res.FailureReason)
		switch x.how {
		case "earlier_attempt":
			l.note = strings.TrimSpace(fmt.Sprintf("Attempt %d of refund %d, which finance retried. %s", x.attempt, x.local.ID, l.note))
		case "metadata":
			l.note = strings.TrimSpace("Found by the refund_id on the Stripe refund: Roundtrip has not recorded it as sent yet. " + l.note)
		}
	}
	return l
}

// side is one side of a comparison.
type side struct {
	amount   int64
	currency string
	status   string
}

// classify compares ours with Stripe's: currency first (case-insensitively), then
// amount, then status. The note says every difference, in words for finance.
func classify(ours, theirs side, failureReason string) (Class, string) {
	var notes []string
	class := Matched
	if !strings.EqualFold(ours.currency, theirs.currency) {
		class = CurrencyMismatch
		notes = append(notes, fmt.Sprintf("Stripe refunded %s; we recorded %s.",
			money.Format(theirs.amount, strings.ToUpper(theirs.currency)), money.Format(ours.amount, ours.currency)))
	} else if ours.amount != theirs.amount {
		class = AmountMismatch
		notes = append(notes, fmt.Sprintf("Stripe refunded %s; we recorded %s.",
			money.Format(theirs.amount, ours.currency), money.Format(ours.amount, ours.currency)))
	}
	if ours.status != theirs.status {
		if class == Matched {
			class = StatusMismatch
		}
		st := theirs.status
		if failureReason != "" {
			st += " (" + failureReason + ")"
		}
		notes = append(notes, fmt.Sprintf("Stripe says %s; we say %s.", st, ours.status))
	}
	return class, strings.Join(notes, " ")
}

func stripeMoney(r refunds.Result) string {
	return money.Format(r.Amount, strings.ToUpper(r.Currency))
}

// check looks up, by ID, our refunds of the period that Stripe's list did not contain.
func (e *execution) check(ctx context.Context) error {
	var after int64
	for {
		batch, err := e.locals(ctx, `f.merchant_id = $1 AND f.stripe_refund_id IS NOT NULL
			AND coalesce(f.sent_at, f.created_at) >= $2 AND coalesce(f.sent_at, f.created_at) < $3 AND f.id > $4
			AND NOT EXISTS (SELECT 1 FROM reconciliation_lines l WHERE l.reconciliation_id = $5 AND l.refund_id = f.id
				AND l.matched_by = 'stripe_id')
			ORDER BY f.id LIMIT $6`, e.merchant, e.period.From, e.period.To, after, e.id, e.s.batchSize())
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		after = batch[len(batch)-1].ID
		lines := make([]line, len(batch))
		errs := make([]error, len(batch))
		sem := make(chan struct{}, max(e.s.Concurrency, 1))
		var wg sync.WaitGroup
		for i := range batch {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				lines[i], errs[i] = e.lookup(ctx, &batch[i])
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		if err := e.write(ctx, lines, counters{LocalSeen: int64(len(batch)), Lines: int64(len(lines))}); err != nil {
			return err
		}
	}
}

// lookup asks Stripe about one of ours that its list of the period did not contain.
func (e *execution) lookup(ctx context.Context, l *localRefund) (line, error) {
	out := line{source: "local", matchedBy: "stripe_id", local: l, status: l.Status, attempt: l.Attempt}
	r, err := e.s.gateway.Get(ctx, *l.StripeRefundID)
	var ge *refunds.Error
	if errors.As(err, &ge) && ge.HTTPStatus == http.StatusNotFound {
		out.class, out.matchedBy = MissingInStripe, ""
		out.note = fmt.Sprintf("We recorded Stripe refund %s (%s, %s); Stripe does not know it.",
			*l.StripeRefundID, money.Format(l.Amount, l.Currency), l.Status)
		return out, nil
	}
	if err != nil {
		return line{}, err
	}
	out.stripe = &r
	out.class, out.note = classify(side{l.Amount, l.Currency, l.Status}, side{r.Amount, r.Currency, string(r.Status)}, r.FailureReason)
	out.note = strings.TrimSpace(fmt.Sprintf("Not in Stripe's list of the period: Stripe created it at %s. %s",
		r.Created.UTC().Format(time.RFC3339), out.note))
	return out, nil
}

// lineColumns are the columns of reconciliation_lines that insertLines writes, with
// their types, in the order of a line's row.
var lineColumns = []struct{ name, typ string }{
	{"reconciliation_id", "bigint"}, {"merchant_id", "bigint"}, {"class", "text"}, {"source", "text"},
	{"matched_by", "text"}, {"refund_id", "bigint"}, {"attempt", "int"}, {"return_id", "bigint"}, {"rma", "text"},
	{"order_number", "text"}, {"currency", "text"}, {"amount", "bigint"}, {"status", "text"},
	{"stripe_refund_id", "text"}, {"stripe_currency", "text"}, {"stripe_amount", "bigint"}, {"stripe_status", "text"},
	{"stripe_created", "timestamptz"}, {"charge_id", "text"}, {"payment_intent_id", "text"},
	{"balance_transaction", "text"}, {"note", "text"},
}

// insertLinesSQL writes a batch of lines given as one JSON array of rows: one
// statement and one parameter whatever the batch's size.
var insertLinesSQL = func() string {
	var names, defs []string
	for _, c := range lineColumns {
		names = append(names, c.name)
		defs = append(defs, c.name+" "+c.typ)
	}
	return "INSERT INTO reconciliation_lines (" + strings.Join(names, ", ") + ") SELECT " + strings.Join(names, ", ") +
		" FROM json_to_recordset($1) AS x(" + strings.Join(defs, ", ") + ")"
}()

// write commits lines and the counters' growth in one transaction, if this attempt
// still owns the run.
func (e *execution) write(ctx context.Context, lines []line, d counters) error {
	tx, err := e.s.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE reconciliations SET stripe_listed = stripe_listed + $3, local_seen = local_seen + $4,
		lines = lines + $5, not_ours = not_ours + $6, updated_at = now()
		WHERE id = $1 AND attempt = $2`, e.id, e.attempt, d.StripeListed, d.LocalSeen, d.Lines, d.NotOurs)
	if err := superseded(res, err); err != nil {
		return err
	}
	if len(lines) > 0 {
		if err := insertLines(ctx, tx, e.id, e.merchant, lines); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.total.add(d)
	e.report()
	return nil
}

func insertLines(ctx context.Context, tx *sqlx.Tx, run, merchant int64, lines []line) error {
	rows := make([]map[string]any, 0, len(lines))
	for _, l := range lines {
		row := []any{run, merchant, string(l.class), l.source, l.matchedBy, nil, nil, nil, nil, nil, nil, nil, nil,
			nil, nil, nil, nil, nil, nil, nil, nil, l.note}
		var charge, pi, txn *string
		if lo := l.local; lo != nil {
			row[5], row[6], row[7], row[8], row[9] = lo.ID, l.attempt, lo.ReturnID, lo.RMA, lo.OrderNumber
			if l.class != MissingLocally { // a second Stripe refund of ours: the money is not ours to count
				row[10], row[11], row[12], row[13] = lo.Currency, lo.Amount, l.status, lo.StripeRefundID
				charge, pi, txn = lo.ChargeID, lo.PaymentIntentID, lo.BalanceTransaction
			}
		}
		if l.order != "" {
			row[9] = l.order
		}
		if st := l.stripe; st != nil {
			row[13] = st.StripeID
			row[14], row[15], row[16], row[17] = strings.ToUpper(st.Currency), st.Amount, st.Status, st.Created
			if st.ChargeID != "" {
				charge = &st.ChargeID
			}
			if st.PaymentIntentID != "" {
				pi = &st.PaymentIntentID
			}
			if st.BalanceTransaction != "" {
				txn = &st.BalanceTransaction
			}
		}
		row[18], row[19], row[20] = deref(charge), deref(pi), deref(txn)
		m := make(map[string]any, len(row))
		for i, v := range row {
			m[lineColumns[i].name] = v
		}
		rows = append(rows, m)
	}
	b, err := json.Marshal(rows)
	if err != nil {
		return fmt.Errorf("reconcile: insert lines: %w", err)
	}
	if _, err := tx.ExecContext(ctx, insertLinesSQL, string(b)); err != nil {
		return fmt.Errorf("reconcile: insert lines: %w", err)
	}
	return nil
}

func deref(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}
