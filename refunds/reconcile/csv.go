package reconcile

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/roundtriphq/roundtrip/internal/period"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/money"
)

// The CSV exports are RFC 4180 (comma-separated, CRLF line ends, fields quoted when
// needed) with a header row and a stable column order: new columns are only ever added
// at the end. Amounts come twice: in integer minor units (…_minor) and as a decimal
// with the currency's ISO exponent. Times are RFC 3339 in UTC. Text cells that a
// spreadsheet would run as a formula — starting with =, +, -, @, a tab or a carriage
// return, after any spaces — get a leading apostrophe (Neutralise); numeric columns
// are written by us and never need it.

// RefundsColumns are the columns of the refunds export, in order.
var RefundsColumns = []string{"refund_id", "created_at", "sent_at", "settled_at", "status", "attempt", "return_id", "rma",
	"order_number", "customer_name", "customer_email", "currency", "amount_minor", "amount", "stripe_refund_id",
	"charge_id", "payment_intent_id", "balance_transaction", "failure_reason", "explanation"}

// LinesColumns are the columns of a reconciliation's lines export, in order.
var LinesColumns = []string{"line_id", "class", "source", "matched_by", "refund_id", "attempt", "return_id", "rma",
	"order_number", "currency", "amount_minor", "amount", "status", "stripe_refund_id", "stripe_currency",
	"stripe_amount_minor", "stripe_amount", "stripe_status", "stripe_created_at", "charge_id", "payment_intent_id",
	"balance_transaction", "note"}

// exportBatch is how many rows one query of an export reads.
const exportBatch = 1000

// Neutralise returns s made safe to open in a spreadsheet: a cell whose first
// character after any spaces is =, +, -, @, a tab or a carriage return is prefixed
// with an apostrophe, so that it shows as text instead of running as a formula
// (OWASP's CSV injection advice).
func Neutralise(s string) string {
	t := strings.TrimLeft(s, " ")
	if t != "" && strings.ContainsRune("=+-@\t\r", rune(t[0])) {
		return "'" + s
	}
	return s
}

// writer wraps csv.Writer with the export conventions.
type writer struct {
	w   *csv.Writer
	row []string
}

func newWriter(w io.Writer, header []string) (*writer, error) {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(header); err != nil {
		return nil, err
	}
	return &writer{w: cw, row: make([]string, 0, len(header))}, nil
}

func (w *writer) text(s string) { w.row = append(w.row, Neutralise(s)) }

func (w *writer) textp(s *string) {
	if s == nil {
		w.row = append(w.row, "")
		return
	}
	w.text(*s)
}

func (w *writer) int(n int64) { w.row = append(w.row, strconv.FormatInt(n, 10)) }

// amount writes minor units and their decimal form.
func (w *writer) amount(n *int64, currency string) {
	if n == nil {
		w.row = append(w.row, "", "")
		return
	}
	w.row = append(w.row, strconv.FormatInt(*n, 10), money.Decimal(*n, strings.ToUpper(currency)))
}

func (w *writer) time(t *time.Time) {
	if t == nil {
		w.row = append(w.row, "")
		return
	}
	w.row = append(w.row, t.UTC().Format(time.RFC3339))
}

func (w *writer) end() error {
	err := w.w.Write(w.row)
	w.row = w.row[:0]
	return err
}

func (w *writer) flush() error {
	w.w.Flush()
	return w.w.Error()
}

type refundRow struct {
	ID                 int64      `db:"id"`
	PublicID           string     `db:"public_id"`
	CreatedAt          time.Time  `db:"created_at"`
	SentAt             *time.Time `db:"sent_at"`
	SettledAt          *time.Time `db:"settled_at"`
	Status             string     `db:"status"`
	Attempt            int64      `db:"generation"`
	ReturnID           string     `db:"return_id"`
	RMA                string     `db:"rma"`
	OrderNumber        string     `db:"order_number"`
	CustomerName       string     `db:"customer_name"`
	CustomerEmail      string     `db:"customer_email"`
	Currency           string     `db:"currency"`
	Amount             int64      `db:"amount"`
	StripeRefundID     *string    `db:"stripe_refund_id"`
	ChargeID           *string    `db:"charge_id"`
	PaymentIntentID    *string    `db:"payment_intent_id"`
	BalanceTransaction *string    `db:"balance_transaction"`
	FailureReason      *string    `db:"failure_reason"`
	Explanation        string     `db:"explanation"`
}

// WriteRefunds streams a merchant's refunds created in p, oldest first, as CSV to w
// (RefundsColumns). It reads exportBatch rows at a time and calls batchDone, when
// not nil, after writing each batch (an HTTP handler flushes there); memory stays
// flat however many refunds there are.
func WriteRefunds(ctx context.Context, q sqlx.QueryerContext, w io.Writer, merchantID int64, p period.Period, batchDone func()) error {
	cw, err := newWriter(w, RefundsColumns)
	if err != nil {
		return err
	}
	var row refundRow
	after, afterID := p.From, int64(0) // every ID is positive
	for {
		rows, err := q.QueryxContext(ctx, `SELECT f.id, f.public_id, f.created_at, f.sent_at, f.settled_at, f.status, f.generation,
			r.public_id AS return_id, r.rma, o.number AS order_number,
			trim(coalesce(o.data->'customer'->>'first_name', '') || ' ' || coalesce(o.data->'customer'->>'last_name', '')) AS customer_name,
			o.email AS customer_email, f.currency, f.amount, f.stripe_refund_id, f.charge_id, f.payment_intent_id,
			f.balance_transaction, f.failure_reason, f.explanation
			FROM refunds f JOIN returns r ON r.id = f.return_id JOIN orders o ON o.id = r.order_id
			WHERE f.merchant_id = $1 AND f.created_at >= $2 AND f.created_at < $3 AND (f.created_at, f.id) > ($4, $5)
			ORDER BY f.created_at, f.id LIMIT $6`, merchantID, p.From, p.To, after, afterID, exportBatch)
		if err != nil {
			return fmt.Errorf("reconcile: export refunds: %w", err)
		}
		n := 0
		for rows.Next() {
			row = refundRow{}
			if err := rows.StructScan(&row); err != nil {
				rows.Close()
				return fmt.Errorf("reconcile: export refunds: %w", err)
			}
			n++
			after, afterID = row.CreatedAt, row.ID
			cw.text(row.PublicID)
			cw.time(&row.CreatedAt)
			cw.time(row.SentAt)
			cw.time(row.SettledAt)
			cw.text(row.Status)
			cw.int(row.Attempt)
			cw.text(row.ReturnID)
			cw.text(row.RMA)
			cw.text(row.OrderNumber)
			cw.text(row.CustomerName)
			cw.text(row.CustomerEmail)
			cw.text(row.Currency)
			cw.amount(&row.Amount, row.Currency)
			cw.textp(row.StripeRefundID)
			cw.textp(row.ChargeID)
			cw.textp(row.PaymentIntentID)
			cw.textp(row.BalanceTransaction)
			cw.textp(row.FailureReason)
			cw.text(row.Explanation)
			if err := cw.end(); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reconcile: export refunds: %w", err)
		}
		if err := cw.flush(); err != nil {
			return err
		}
		if batchDone != nil {
			batchDone()
		}
		if n < exportBatch {
			return nil
		}
	}
}

// WriteLines streams the lines of a merchant's run, of one class when class is not
// empty, in line order, as CSV to w (LinesColumns), like WriteRefunds.
func (s *Service) WriteLines(ctx context.Context, w io.Writer, merchantID, id int64, class Class, batchDone func()) error {
	cw, err := newWriter(w, LinesColumns)
	if err != nil {
		return err
	}
	var after string
	for {
		lines, more, err := s.Lines(ctx, merchantID, id, class, after, exportBatch)
		if err != nil {
			return err
		}
		for i := range lines {
			l := &lines[i]
			after = l.PublicID
			cw.text(l.PublicID)
			cw.text(string(l.Class))
			cw.text(l.Source)
			cw.text(l.MatchedBy)
			cw.textp(l.RefundPublicID)
			if l.Attempt != nil {
				cw.int(int64(*l.Attempt))
			} else {
				cw.row = append(cw.row, "")
			}
			cw.textp(l.ReturnPublicID)
			cw.textp(l.RMA)
			cw.textp(l.OrderNumber)
			cw.textp(l.Currency)
			cw.amount(l.Amount, deref0(l.Currency))
			cw.textp(l.Status)
			cw.textp(l.StripeRefundID)
			cw.textp(l.StripeCurrency)
			cw.amount(l.StripeAmount, deref0(l.StripeCurrency))
			cw.textp(l.StripeStatus)
			cw.time(l.StripeCreated)
			cw.textp(l.ChargeID)
			cw.textp(l.PaymentIntentID)
			cw.textp(l.BalanceTransaction)
			cw.text(l.Note)
			if err := cw.end(); err != nil {
				return err
			}
		}
		if err := cw.flush(); err != nil {
			return err
		}
		if batchDone != nil {
			batchDone()
		}
		if !more {
			return nil
		}
	}
}

func deref0(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
