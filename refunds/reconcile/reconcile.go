// Package reconcile checks a merchant's refunds against Stripe for a period and lists
// every difference, and streams finance's CSV exports.
//
// A Reconciliation is a run over [from, to). Execute lists Stripe's refunds created
// in the period through refunds.Gateway.List (every page, balance transaction
// expanded), cut into windows of at least a day (at most 64 of them) listed a few at
// a time, and matches each to ours: by Stripe refund ID, then by the ledger's record of a retried refund's
// earlier attempts, then by the refund_id metadata Roundtrip puts on every refund.
// Each becomes a ReconciliationLine of one Class:
//
//	matched            same amount, currency and status
//	currency_mismatch  currencies differ (compared case-insensitively: Stripe writes eur)
//	amount_mismatch    same currency, other amount
//	status_mismatch    same money, other status (a failed one we think succeeded)
//	missing_locally    Stripe has it, we do not: made in Stripe's dashboard on one of
//	                   the merchant's orders, or a second Stripe refund for one of ours
//	missing_in_stripe  ours, sent in the period, and Stripe does not know it
//
// Then it checks our refunds sent in the period that Stripe's list did not contain:
// each is fetched from Stripe by ID (it may have been created just outside the
// period) and is missing_in_stripe only when Stripe answers 404.
//
// Runs stream: Stripe's refunds are handled in batches of BatchSize, each batch's
// lines committed with the run's progress counters in one transaction, so that
// memory stays flat and GET /v1/reconciliations/{id} shows progress while a run
// goes. Whenever the windows from the period's start up to some point are all done,
// the run records a checkpoint there; a run that failed (a Stripe outage, a restart)
// resumes from its checkpoint, dropping the lines written after it. Every start of a run
// takes a new attempt number, and batches of an older attempt are refused, so two
// processes never both write one run.
//
// Every lookup is scoped to the run's merchant. A Stripe refund that is on none of its
// refunds and none of its orders' payments is only counted (NotOurs): on a Stripe
// account shared by several merchants it is another merchant's, and a merchant never
// sees another's data.
//
// The background run is the outbox job JobRun; roundtrip reconcile runs the same
// Execute in the foreground.
package reconcile

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/roundtriphq/roundtrip/internal/cursor"
	"github.com/roundtriphq/roundtrip/internal/period"
	"github.com/roundtriphq/roundtrip/internal/validation"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/db"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/refunds"
)

// JobRun is the outbox job that executes a queued reconciliation.
const JobRun = "reconcile.run"

// ErrNotFound means no such reconciliation for this merchant.
var ErrNotFound = errors.New("reconcile: not found")

// errSuperseded means another start of the same run took over.
var errSuperseded = errors.New("reconcile: the run was started again elsewhere; this attempt stops")

// Class is how a line compares.
type Class string

// The classes of lines.
const (
	Matched          Class = "matched"
	MissingInStripe  Class = "missing_in_stripe"
	MissingLocally   Class = "missing_locally"
	AmountMismatch   Class = "amount_mismatch"
	CurrencyMismatch Class = "currency_mismatch"
	StatusMismatch   Class = "status_mismatch"
)

// Classes lists every class, matched first.
func Classes() []Class {
	return []Class{Matched, MissingInStripe, MissingLocally, AmountMismatch, CurrencyMismatch, StatusMismatch}
}

// Valid reports whether c is a known class.
func (c Class) Valid() bool {
	for _, x := range Classes() {
		if x == c {
			return true
		}
	}
	return false
}

// Run statuses.
const (
	StatusQueued    = "queued"
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
)

// Phases of a run.
const (
	PhaseListing  = "listing"
	PhaseChecking = "checking"
	PhaseDone     = "done"
)

// ReconciliationProgress says how far a run is.
type ReconciliationProgress struct {
	Phase         string `json:"phase" enum:"listing,checking,done" example:"listing" doc:"listing: reading Stripe's refunds of the period; checking: looking up ours that Stripe did not list; done."`
	StripeListed  int64  `json:"stripe_listed" example:"5200" doc:"Stripe refunds of the period read so far."`
	LocalExpected int64  `json:"local_expected" example:"10000" doc:"Our refunds sent to Stripe in the period."`
	LocalSeen     int64  `json:"local_seen" example:"5190" doc:"Of local_expected, how many are accounted for so far."`
	Lines         int64  `json:"lines" example:"5201" doc:"Lines written so far."`
	Percent       int    `json:"percent" minimum:"0" maximum:"100" example:"52" doc:"An estimate; 100 when done."`
}

// Reconciliation is one run of a reconciliation against Stripe.
//
// The API types of this package carry the Reconciliation prefix because the OpenAPI
// document names schemas by their Go type names, which must be unique across packages.
type Reconciliation struct {
	PublicID string                 `json:"id" example:"rec_8d3f6h9k2m5p8r1t4w7x0z3c6v"`
	From     time.Time              `json:"from" doc:"Start of the period (inclusive)."`
	To       time.Time              `json:"to" doc:"End of the period (exclusive)."`
	Status   string                 `json:"status" enum:"queued,running,succeeded,failed" example:"running"`
	Attempt  int                    `json:"attempt" doc:"How many times the run was started; a failed run resumes where it stopped."`
	Progress ReconciliationProgress `json:"progress"`
	// NotOurs counts Stripe refunds of the period on none of the merchant's refunds
	// or orders; they are not listed, since they may be another merchant's.
	NotOurs    int64      `json:"stripe_not_ours" example:"0" doc:"Stripe refunds of the period on none of this merchant's refunds or orders (another merchant's on a shared Stripe account, or payments made outside Roundtrip); counted, not listed."`
	Error      string     `json:"error,omitempty" doc:"Why the last attempt stopped."`
	CreatedBy  string     `json:"created_by" example:"key:key_4h7k0n3q6t9x2b5e8g1j4m7p0r"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// ID is the internal key; the API names a run by PublicID.
	ID         int64 `json:"-"`
	MerchantID int64 `json:"-"`
}

// ReconciliationLine is one Stripe refund or one of ours, and how they compare. The
// local fields are ours, the stripe_ fields Stripe's; either side is absent for the
// missing classes.
type ReconciliationLine struct {
	PublicID           string     `json:"id" db:"public_id" example:"rl_2w5z8c1f4h7k0n3q6t9x2b5e8g"`
	Class              Class      `json:"class" db:"class" enum:"matched,missing_in_stripe,missing_locally,amount_mismatch,currency_mismatch,status_mismatch" example:"amount_mismatch"`
	Source             string     `json:"source" db:"source" enum:"stripe_list,local" doc:"stripe_list: in Stripe's list of the period; local: ours, looked up in Stripe by ID."`
	MatchedBy          string     `json:"matched_by,omitempty" db:"matched_by" enum:"stripe_id,earlier_attempt,metadata,order_payment" doc:"How the two sides were paired."`
	RefundPublicID     *string    `json:"refund_id,omitempty" db:"refund_public_id" example:"rf_3m8x1c7v4b9n2z6p0r5t8w1k4q" doc:"Our refund's ID."`
	Attempt            *int       `json:"attempt,omitempty" db:"attempt"`
	ReturnPublicID     *string    `json:"return_id,omitempty" db:"return_public_id" example:"ret_5kq2m9x4c8v1b7n3z6p0r4t2wd" doc:"Our return's ID."`
	RMA                *string    `json:"rma,omitempty" db:"rma" example:"R-7KQ4-M2XD"`
	OrderNumber        *string    `json:"order_number,omitempty" db:"order_number" example:"NW-10023"`
	Currency           *string    `json:"currency,omitempty" db:"currency" example:"EUR"`
	Amount             *int64     `json:"amount,omitempty" db:"amount" example:"2975" doc:"Ours, in minor units."`
	Status             *string    `json:"status,omitempty" db:"status" enum:"queued,pending,requires_action,succeeded,failed,canceled" example:"succeeded" doc:"Ours."`
	StripeRefundID     *string    `json:"stripe_refund_id,omitempty" db:"stripe_refund_id" example:"re_3OxYz2LkdIwHu7ix1a2b3c4d"`
	StripeCurrency     *string    `json:"stripe_currency,omitempty" db:"stripe_currency" example:"EUR" doc:"Stripe's, upper-cased."`
	StripeAmount       *int64     `json:"stripe_amount,omitempty" db:"stripe_amount" example:"2795"`
	StripeStatus       *string    `json:"stripe_status,omitempty" db:"stripe_status" enum:"pending,requires_action,succeeded,failed,canceled" example:"succeeded"`
	StripeCreated      *time.Time `json:"stripe_created,omitempty" db:"stripe_created"`
	ChargeID           *string    `json:"charge_id,omitempty" db:"charge_id"`
	PaymentIntentID    *string    `json:"payment_intent_id,omitempty" db:"payment_intent_id"`
	BalanceTransaction *string    `json:"balance_transaction,omitempty" db:"balance_transaction"`
	Note               string     `json:"note,omitempty" db:"note" example:"Stripe refunded 27.95 EUR, we recorded 29.75 EUR."`
	AckedNote          string     `json:"acknowledged_note,omitempty" db:"acked_note" example:"Stripe's fee adjustment, agreed with the bank." doc:"Set when finance acknowledged the mismatch: why nothing needs doing."`
	AckedBy            *string    `json:"acknowledged_by,omitempty" db:"acked_by" example:"user:fin"`
	AckedAt            *time.Time `json:"acknowledged_at,omitempty" db:"acked_at"`
	// Internal keys; the API shows the public IDs above.
	ID       int64  `json:"-" db:"id"`
	RefundID *int64 `json:"-" db:"refund_id"`
	ReturnID *int64 `json:"-" db:"return_id"`
}

// ReconciliationTotal sums the lines of one class in one currency (pair).
type ReconciliationTotal struct {
	Class          Class  `json:"class" db:"class" enum:"matched,missing_in_stripe,missing_locally,amount_mismatch,currency_mismatch,status_mismatch" example:"matched"`
	Currency       string `json:"currency" db:"currency" example:"EUR" doc:"Ours, or Stripe's when we have none."`
	StripeCurrency string `json:"stripe_currency" db:"stripe_currency" example:"EUR" doc:"Stripe's, or ours when Stripe has none; differs from currency only for currency_mismatch."`
	Count          int64  `json:"count" db:"count" example:"9871"`
	Amount         int64  `json:"amount" db:"amount" example:"29367125" doc:"Sum of our amounts, minor units of currency."`
	StripeAmount   int64  `json:"stripe_amount" db:"stripe_amount" example:"29367125" doc:"Sum of Stripe's amounts, minor units of stripe_currency."`
}

// Service runs reconciliations and serves their results.
type Service struct {
	db      *sqlx.DB
	gateway refunds.Gateway
	log     *slog.Logger

	// BatchSize is how many Stripe refunds are matched and written at once (default 1000).
	BatchSize int
	// Windows is how many windows of the period are listed from Stripe at once
	// (default 4): listing is mostly waiting for Stripe's pages.
	Windows int
	// Concurrency is how many of our refunds are looked up in Stripe at once in the
	// checking phase (default 8).
	Concurrency int
}

// New returns the service. gateway may be nil when no Stripe key is configured: runs
// are then queued and wait for a process that has one.
func New(d *sqlx.DB, gateway refunds.Gateway, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{db: d, gateway: gateway, log: log, BatchSize: 1000, Windows: 4, Concurrency: 8}
}

type jobPayload struct {
	ReconciliationID int64 `json:"reconciliation_id"`
}

// Jobs registers JobRun with an outbox worker when there is a gateway.
func (s *Service) Jobs(w *outbox.Worker) {
	if s.gateway == nil {
		return
	}
	w.Handle(JobRun, s.runJob)
}

// runJob executes a queued run. It works through its own connections, so that
// progress is visible while it runs; the job's transaction only removes the job.
func (s *Service) runJob(ctx context.Context, _ *sqlx.Tx, job outbox.Job) error {
	var p jobPayload
	if err := job.Decode(&p); err != nil {
		return err
	}
	_, err := s.Execute(ctx, p.ReconciliationID, nil)
	if err == nil || ctx.Err() != nil {
		return err
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, errSuperseded) {
		return outbox.Permanent(err)
	}
	final := job.Attempts+1 >= job.MaxAttempts
	s.recordFailure(context.WithoutCancel(ctx), p.ReconciliationID, err, final)
	return err
}

// Create records a run of period for a merchant, queued. With enqueue it also queues
// JobRun in the same transaction; without, the caller runs Execute itself (the
// command line). A non-empty idemKey that was used before returns that run, with
// created false.
func (s *Service) Create(ctx context.Context, merchantID int64, p period.Period, actor, idemKey string, enqueue bool) (r *Reconciliation, created bool, err error) {
	if p.From.IsZero() || p.To.IsZero() || !p.To.After(p.From) {
		return nil, false, fmt.Errorf("reconcile: the period [%s, %s) is empty", p.From, p.To)
	}
	if err := period.CheckClosed(p.From, p.To); err != nil {
		return nil, false, fmt.Errorf("reconcile: %w", err)
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, false, err
	}
	defer tx.Rollback()
	var key *string
	if idemKey != "" {
		key = &idemKey
	}
	var id int64
	err = tx.GetContext(ctx, &id, `INSERT INTO reconciliations (merchant_id, period_from, period_to, created_by, idempotency_key)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`, merchantID, p.From, p.To, actor, key)
	if db.IsUniqueViolation(err, "") && key != nil {
		tx.Rollback()
		err = s.db.GetContext(ctx, &id, `SELECT id FROM reconciliations WHERE merchant_id = $1 AND idempotency_key = $2`, merchantID, idemKey)
		if err != nil {
			return nil, false, fmt.Errorf("reconcile: create: %w", err)
		}
		r, err := s.Get(ctx, merchantID, id)
		return r, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("reconcile: create: %w", err)
	}
	if enqueue {
		if _, err := outbox.Enqueue(ctx, tx, outbox.Message{MerchantID: merchantID, Kind: JobRun,
			Payload: jobPayload{id}, MaxAttempts: 8}); err != nil {
			return nil, false, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, false, err
	}
	r, err = s.Get(ctx, merchantID, id)
	return r, true, err
}

type runRow struct {
	ID            int64      `db:"id"`
	PublicID      string     `db:"public_id"`
	MerchantID    int64      `db:"merchant_id"`
	From          time.Time  `db:"period_from"`
	To            time.Time  `db:"period_to"`
	Status        string     `db:"status"`
	Phase         string     `db:"phase"`
	Attempt       int        `db:"attempt"`
	ListedUntil   *time.Time `db:"listed_until"`
	Checkpoint    []byte     `db:"checkpoint"`
	StripeListed  int64      `db:"stripe_listed"`
	LocalExpected int64      `db:"local_expected"`
	LocalSeen     int64      `db:"local_seen"`
	Lines         int64      `db:"lines"`
	NotOurs       int64      `db:"not_ours"`
	Error         *string    `db:"error"`
	CreatedBy     string     `db:"created_by"`
	CreatedAt     time.Time  `db:"created_at"`
	StartedAt     *time.Time `db:"started_at"`
	FinishedAt    *time.Time `db:"finished_at"`
}

const runCols = `id, public_id, merchant_id, period_from, period_to, status, phase, attempt, listed_until, checkpoint, stripe_listed,
	local_expected, local_seen, lines, not_ours, error, created_by, created_at, started_at, finished_at`

func (r runRow) view() *Reconciliation {
	v := &Reconciliation{
		ID: r.ID, PublicID: r.PublicID, MerchantID: r.MerchantID, From: r.From.UTC(), To: r.To.UTC(), Status: r.Status, Attempt: r.Attempt,
		Progress: ReconciliationProgress{Phase: r.Phase, StripeListed: r.StripeListed, LocalExpected: r.LocalExpected,
			LocalSeen: r.LocalSeen, Lines: r.Lines},
		NotOurs: r.NotOurs, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt,
		StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
	}
	if r.Error != nil {
		v.Error = *r.Error
	}
	v.Progress.Percent = percent(v.Status, v.Progress)
	return v
}

// percent estimates progress: listing is the bulk of the work and is measured by our
// refunds accounted for; checking takes the last tenth.
func percent(status string, p ReconciliationProgress) int {
	switch {
	case status == StatusSucceeded || p.Phase == PhaseDone:
		return 100
	case status == StatusQueued && p.Lines == 0:
		return 0
	case p.Phase == PhaseChecking:
		return 90 + int(9*ratio(p.LocalSeen, p.LocalExpected))
	}
	return int(89 * ratio(p.LocalSeen, p.LocalExpected))
}

func ratio(a, b int64) float64 {
	if b <= 0 {
		return 1
	}
	return min(float64(a)/float64(b), 1)
}

// ByPublicID returns a merchant's run by its public ID (rec_…).
func (s *Service) ByPublicID(ctx context.Context, merchantID int64, publicID string) (*Reconciliation, error) {
	var r runRow
	err := s.db.GetContext(ctx, &r, `SELECT `+runCols+` FROM reconciliations WHERE merchant_id = $1 AND public_id = $2`, merchantID, publicID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reconcile: get: %w", err)
	}
	return r.view(), nil
}

// Get returns a merchant's run.
func (s *Service) Get(ctx context.Context, merchantID, id int64) (*Reconciliation, error) {
	var r runRow
	err := s.db.GetContext(ctx, &r, `SELECT `+runCols+` FROM reconciliations WHERE merchant_id = $1 AND id = $2`, merchantID, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reconcile: get: %w", err)
	}
	return r.view(), nil
}

// List returns a merchant's runs, newest first, older than the run with public ID
// before ("": from the newest), and whether there are more. A run that is not the
// merchant's is refused with cursor.Unknown.
func (s *Service) List(ctx context.Context, merchantID int64, before string, limit int) ([]Reconciliation, bool, error) {
	if limit <= 0 {
		limit = 50
	}
	var key int64
	if before != "" {
		var err error
		if key, err = cursor.Resolve(ctx, s.db, `SELECT id FROM reconciliations WHERE merchant_id = $1 AND public_id = $2`, merchantID, before); err != nil {
			return nil, false, err
		}
	}
	var rows []runRow
	err := s.db.SelectContext(ctx, &rows, `SELECT `+runCols+` FROM reconciliations WHERE merchant_id = $1
		AND ($2::bigint = 0 OR id < $2) ORDER BY id DESC LIMIT $3`, merchantID, key, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("reconcile: list: %w", err)
	}
	rows, more := cursor.Trim(rows, limit)
	out := make([]Reconciliation, len(rows))
	for i, r := range rows {
		out[i] = *r.view()
	}
	return out, more, nil
}

const lineCols = `l.id, l.public_id, l.class, l.source, l.matched_by, l.refund_id, f.public_id AS refund_public_id, l.attempt,
	l.return_id, r.public_id AS return_public_id, l.rma, l.order_number, l.currency, l.amount, l.status,
	l.stripe_refund_id, l.stripe_currency, l.stripe_amount, l.stripe_status, l.stripe_created, l.charge_id,
	l.payment_intent_id, l.balance_transaction, l.note, l.acked_note,
	l.acked_by, l.acked_at`

const lineFrom = ` FROM reconciliation_lines l LEFT JOIN refunds f ON f.id = l.refund_id LEFT JOIN returns r ON r.id = l.return_id`

// ErrLineNotFound means the run has no such line.
var ErrLineNotFound = errors.New("reconcile: no such line")

// NotMismatchError is an acknowledgement of a line that matched: there is nothing
// to acknowledge.
type NotMismatchError struct{ Class Class }

func (e *NotMismatchError) Error() string {
	return "reconcile: only mismatches can be acknowledged; this line is " + string(e.Class)
}

// Acknowledge records that finance looked at a mismatch line and why nothing needs
// doing (note, required). The line keeps what was found; acknowledging it again
// replaces the note.
func (s *Service) Acknowledge(ctx context.Context, merchantID, runID int64, linePublicID, note, actor string) (*ReconciliationLine, error) {
	note = strings.TrimSpace(note)
	var v validation.Error
	if note == "" {
		v.Add("note", "say why the mismatch needs nothing more")
	} else if len([]rune(note)) > 1000 {
		v.Add("note", "must be at most 1000 characters")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var l ReconciliationLine
	err := s.db.GetContext(ctx, &l, `SELECT `+lineCols+lineFrom+`
		WHERE l.public_id = $1 AND l.reconciliation_id = $2 AND l.merchant_id = $3`, linePublicID, runID, merchantID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrLineNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reconcile: acknowledge: %w", err)
	}
	if l.Class == Matched {
		return nil, &NotMismatchError{Class: l.Class}
	}
	err = s.db.GetContext(ctx, &l, `WITH u AS (UPDATE reconciliation_lines SET acked_note = $3, acked_by = $4, acked_at = now()
		WHERE id = $1 AND merchant_id = $2 RETURNING *)
		SELECT `+lineCols+` FROM u l LEFT JOIN refunds f ON f.id = l.refund_id LEFT JOIN returns r ON r.id = l.return_id`,
		l.ID, merchantID, note, actor)
	if err != nil {
		return nil, fmt.Errorf("reconcile: acknowledge: %w", err)
	}
	return &l, nil
}

// Lines returns lines of a merchant's run in line order after the line with public
// ID after ("": from the first), of one class when class is not empty, and whether
// there are more. A line that is not one of this run's is refused with
// cursor.Unknown.
func (s *Service) Lines(ctx context.Context, merchantID, id int64, class Class, after string, limit int) ([]ReconciliationLine, bool, error) {
	if limit <= 0 {
		limit = 100
	}
	var key int64
	if after != "" {
		var err error
		if key, err = cursor.Resolve(ctx, s.db, `SELECT id FROM reconciliation_lines
			WHERE merchant_id = $1 AND public_id = $2 AND reconciliation_id = $3`, merchantID, after, id); err != nil {
			return nil, false, err
		}
	}
	lines := []ReconciliationLine{}
	err := s.db.SelectContext(ctx, &lines, `SELECT `+lineCols+lineFrom+`
		WHERE l.reconciliation_id = $1 AND l.merchant_id = $2 AND ($3 = '' OR l.class = $3) AND l.id > $4
		ORDER BY l.id LIMIT $5`, id, merchantID, string(class), key, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("reconcile: lines: %w", err)
	}
	lines, more := cursor.Trim(lines, limit)
	return lines, more, nil
}

// Totals sums a merchant's run by class and currency, in a stable order.
func (s *Service) Totals(ctx context.Context, merchantID, id int64) ([]ReconciliationTotal, error) {
	totals := []ReconciliationTotal{}
	err := s.db.SelectContext(ctx, &totals, `SELECT class,
		coalesce(currency, stripe_currency, '') AS currency, coalesce(stripe_currency, currency, '') AS stripe_currency,
		count(*) AS count, coalesce(sum(amount), 0)::bigint AS amount, coalesce(sum(stripe_amount), 0)::bigint AS stripe_amount
		FROM reconciliation_lines WHERE reconciliation_id = $1 AND merchant_id = $2
		GROUP BY 1, 2, 3 ORDER BY array_position($3::text[], class), 2, 3`, id, merchantID, classNames())
	if err != nil {
		return nil, fmt.Errorf("reconcile: totals: %w", err)
	}
	return totals, nil
}

func classNames() string {
	out := "{"
	for i, c := range Classes() {
		if i > 0 {
			out += ","
		}
		out += string(c)
	}
	return out + "}"
}

// recordFailure notes why an attempt stopped: failed when no retry follows, queued
// again otherwise. Only Stripe's own messages reach finance; anything else is logged.
func (s *Service) recordFailure(ctx context.Context, id int64, err error, final bool) {
	msg := "An internal error stopped the run; it is logged with the reconciliation ID."
	var se *refunds.Error
	if errors.As(err, &se) && se.Message != "" {
		msg = "Stripe: " + se.Message
	}
	status := StatusQueued
	if final {
		status = StatusFailed
	} else {
		msg += " It is retried automatically."
	}
	s.log.Error("reconciliation stopped", slog.Int64("reconciliation_id", id), slog.Bool("final", final),
		slog.String("error", err.Error()))
	if _, uerr := s.db.ExecContext(ctx, `UPDATE reconciliations SET status = $2, error = $3, updated_at = now(),
		finished_at = CASE WHEN $2 = 'failed' THEN now() END WHERE id = $1 AND status <> 'succeeded'`, id, status, msg); uerr != nil {
		s.log.Error("reconciliation: record failure", slog.Int64("reconciliation_id", id), slog.String("error", uerr.Error()))
	}
}

// Fail marks a run failed with err (the command line, after Execute returned err).
func (s *Service) Fail(ctx context.Context, id int64, err error) {
	s.recordFailure(ctx, id, err, true)
}
