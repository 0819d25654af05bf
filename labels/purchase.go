package labels

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/db"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/merchant"
	"github.com/roundtriphq/roundtrip/notify"
	"github.com/roundtriphq/roundtrip/returns"
)

// Labels of remote carriers are bought here, in the outbox, after the approval that
// asked for them committed: never in a request, exactly once.

// KindBuy buys the label of a preparing parcel from its remote carrier.
const KindBuy = "label.buy"

// BuyAttempts is how many times the purchase is tried (with the outbox's backoff,
// about eight minutes in all) before it is parked for staff, or an own label stands
// in when the merchant allows it.
const BuyAttempts = 10

// BuyTimeout bounds one attempt at buying a label, all its requests and their
// retries together.
const BuyTimeout = 2 * time.Minute

type buyJob struct {
	ParcelID int64 `json:"parcel_id"`
}

// PreparingError is a label asked for while it is being bought.
type PreparingError struct {
	Parcel Parcel
}

func (e *PreparingError) Error() string {
	return fmt.Sprintf("labels: the label of parcel %d is being prepared", e.Parcel.Number)
}

// GetHeaders asks the client to come back in a few seconds (Retry-After).
func (e *PreparingError) GetHeaders() http.Header {
	return http.Header{"Retry-After": {"5"}}
}

// PurchaseKey is the look-up key of a parcel's purchase at a remote carrier (the
// purchase's metadata): a retry after a lost answer finds the label by it.
func PurchaseKey(parcelID int64) string { return fmt.Sprintf("roundtrip-parcel-%d", parcelID) }

// prepare inserts the next parcel of t's return as preparing and schedules its
// purchase from c after the commit.
func (s *Service) prepare(ctx context.Context, t *returns.Tx, c Carrier, days int, idem *string) (Parcel, error) {
	tx, r := t.Tx, t.Return
	var p Parcel
	err := tx.GetContext(ctx, &p, `INSERT INTO parcels (merchant_id, return_id, number, carrier, service,
		tracking_number, status, valid_until, idempotency_key)
		VALUES ($1, $2, `+nextParcel+`, $3, '', NULL, 'preparing', now() + make_interval(days => $4), $5)
		RETURNING `+parcelCols, r.MerchantID, r.ID, c.Code(), days, idem)
	if err != nil {
		return Parcel{}, fmt.Errorf("labels: insert a parcel of %s: %w", r.RMA, err)
	}
	if p.Number > MaxParcels {
		return Parcel{}, ErrTooManyParcels // the caller's transaction, rolled back, undoes the insert
	}
	// with the writes of the change that issued it not made yet (returns.Effects)
	ids, _, err := outbox.EnqueueParts(ctx, tx, t.Carried(),
		outbox.Message{MerchantID: r.MerchantID, Kind: KindBuy, Payload: buyJob{ParcelID: p.ID}, MaxAttempts: BuyAttempts},
		outbox.Message{MerchantID: r.MerchantID, Kind: KindExpire, RunAt: p.ValidUntil, Payload: expireJob{ReturnID: r.ID, Parcel: p.Number}})
	if err != nil {
		return Parcel{}, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE parcels SET label_job_id = $2 WHERE id = $1`, p.ID, ids[0]); err != nil {
		return Parcel{}, fmt.Errorf("labels: parcel %d job: %w", p.ID, err)
	}
	p.LabelJobID = &ids[0]
	p.LabelURL = labelURL(r.RMA, p.Number)
	return p, nil
}

// finder is a remote carrier that can look a purchase up by its key.
type finder interface {
	Find(ctx context.Context, key string, since time.Time) (Booked, bool, error)
}

// buy is the KindBuy handler. It holds the parcel's row lock while it buys, so a
// cancel that voids the parcel waits for it and then voids the label bought. A
// crash after the carrier sold the label and before the commit leaves the parcel
// preparing: the next attempt finds the purchase by its key instead of buying again.
func (s *Service) buy(ctx context.Context, tx *sqlx.Tx, job outbox.Job) error {
	var j buyJob
	if err := job.Decode(&j); err != nil {
		return outbox.Permanent(err)
	}
	if job.MerchantID == nil {
		return outbox.Permanent(fmt.Errorf("labels: buy job %d has no merchant", job.ID))
	}
	merchantID := *job.MerchantID
	var p Parcel
	err := tx.GetContext(ctx, &p, `SELECT `+parcelCols+` FROM parcels WHERE merchant_id = $1 AND id = $2 FOR UPDATE`, merchantID, j.ParcelID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("labels: parcel %d: %w", j.ParcelID, err)
	}
	if p.LabelID != nil || p.Status == ParcelIssued {
		return nil // bought already
	}
	m, err := merchant.GetIn(ctx, tx, merchantID)
	if err != nil {
		return err
	}
	cs, err := merchant.CarrierSettingsIn(ctx, tx, merchantID)
	if err != nil {
		return err
	}
	key := PurchaseKey(p.ID)
	c, cerr := s.carrierByCode(m, cs, p.Carrier)
	if p.Status == ParcelVoided {
		// voided before the purchase was recorded: a purchase whose answer was lost
		// may still exist, and must be voided too
		f, ok := c.(finder)
		if cerr != nil || !ok {
			return nil
		}
		b, found, err := f.Find(ctx, key, p.IssuedAt)
		if err != nil || !found {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE parcels SET label_id = $2, tracking_number = coalesce(tracking_number, nullif($3, ''))
			WHERE id = $1`, p.ID, b.LabelID, NormalizeTracking(b.TrackingNumber)); err != nil {
			return fmt.Errorf("labels: record purchase of voided parcel %d: %w", p.ID, err)
		}
		_, err = outbox.Enqueue(ctx, tx, outbox.Message{MerchantID: merchantID, Kind: KindVoid, Payload: voidJob{ParcelID: p.ID}})
		return err
	}
	r, err := s.store.Get(ctx, merchantID, p.ReturnID)
	if err != nil {
		return err
	}
	rec, err := s.store.OrderByID(ctx, merchantID, r.OrderID)
	if err != nil {
		return err
	}
	last := job.Attempts+1 >= job.MaxAttempts
	if cerr != nil {
		if cs.OwnFallback {
			return s.fallback(ctx, tx, m, r, p, cerr)
		}
		return outbox.Permanent(cerr)
	}
	// bounded, as the parcel's row lock is held meanwhile; a purchase cut short
	// is found by its key on the next attempt
	cctx, cancel := context.WithTimeout(ctx, BuyTimeout)
	defer cancel()
	iss, err := c.Issue(cctx, IssueRequest{Reference: r.RMA, From: shopperAddress(rec.Order), To: warehouseAddress(m),
		Parcel: p.Number, Parcels: p.Number, Key: key, Since: p.IssuedAt})
	if err != nil {
		if (last || outbox.IsPermanent(err)) && cs.OwnFallback {
			return s.fallback(ctx, tx, m, r, p, err)
		}
		return err
	}
	if err := tx.GetContext(ctx, &p, `UPDATE parcels SET status = 'issued', tracking_number = $2, service = $3,
		carrier_name = nullif($4, ''), tracking_url = nullif($5, ''), label_id = $6, label_pdf = $7, qr_code = $8,
		label_amount = $9, label_currency = nullif($10, '')
		WHERE id = $1 RETURNING `+parcelCols, p.ID, iss.TrackingNumber, iss.Service, iss.CarrierName, iss.TrackingURL,
		iss.LabelID, iss.LabelPDF, nilIfEmpty(iss.QRCode), iss.Amount, iss.Currency); err != nil {
		return fmt.Errorf("labels: record label of parcel %d: %w", p.ID, err)
	}
	p.LabelURL = labelURL(r.RMA, p.Number)
	p.DropOffURL = DropOffLocator(p.CarrierName)
	return s.publish(ctx, tx, merchantID, notify.LabelIssued, p)
}

// fallback issues an own label for a parcel whose remote label could not be bought
// (the merchant's own_fallback), and notes why on the parcel.
func (s *Service) fallback(ctx context.Context, tx *sqlx.Tx, m merchant.Merchant, r *returns.Return, p Parcel, cause error) error {
	own := s.own(m)
	why := fmt.Sprintf("The label could not be bought through Shippo (%s); a %s label was issued instead.", cause, own.Name())
	for attempt := 0; ; attempt++ {
		serial, err := s.serials.take(ctx, tx)
		if err != nil {
			return err
		}
		iss, err := own.Issue(ctx, IssueRequest{Serial: serial, Reference: r.RMA, Parcel: p.Number, Parcels: p.Number})
		if err != nil {
			return outbox.Permanent(err)
		}
		if _, err := tx.ExecContext(ctx, `SAVEPOINT fallback`); err != nil {
			return err
		}
		err = tx.GetContext(ctx, &p, `UPDATE parcels SET status = 'issued', carrier = $2, service = $3, tracking_number = $4,
			problem = $5 WHERE id = $1 RETURNING `+parcelCols, p.ID, own.Code(), iss.Service, NormalizeTracking(iss.TrackingNumber), why)
		if db.IsUniqueViolation(err, "parcels_merchant_id_tracking_number_key") && attempt < 3 {
			if _, err := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT fallback`); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("labels: own label for parcel %d: %w", p.ID, err)
		}
		break
	}
	p.LabelURL = labelURL(r.RMA, p.Number)
	return s.publish(ctx, tx, m.ID, notify.LabelIssued, p)
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// carrierName is the name of the carrier that carries p, as people know it.
func (s *Service) carrierName(ctx context.Context, m merchant.Merchant, p Parcel) string {
	if p.CarrierName != "" {
		return p.CarrierName
	}
	if p.Carrier == merchant.CarrierOwn || (s.carrier != nil && s.carrier.Code() == p.Carrier) {
		if s.carrier != nil && s.carrier.Code() == p.Carrier {
			return s.carrier.Name()
		}
		return s.own(m).Name()
	}
	return strings.ToUpper(p.Carrier[:1]) + p.Carrier[1:]
}

// Find looks for the purchase made under key since since.
func (c *ShippoCarrier) Find(ctx context.Context, key string, since time.Time) (Booked, bool, error) {
	t, err := c.client.FindTransaction(ctx, key, since.Add(-5*time.Minute))
	if err != nil || t == nil || t.Status != "SUCCESS" {
		return Booked{}, false, err
	}
	return Booked{TrackingNumber: t.TrackingNumber, LabelID: t.ObjectID}, true, nil
}

// Attention is a parcel staff should look at: its label could not be bought yet (or
// was parked after every retry), or its carrier reports a problem.
type Attention struct {
	ReturnID   string  `db:"return_public_id"` // the return's public ID (ret_…)
	RMA        string  `db:"rma"`
	Number     int     `db:"number"`
	Status     string  `db:"status"`
	Carrier    string  `db:"carrier"`
	Tracking   string  `db:"tracking_number"`
	LabelError *string `db:"label_error"`
	Parked     bool    `db:"label_parked"`
	Problem    *string `db:"problem"`
}

// NeedsAttention lists the merchant's parcels of open returns that staff should look
// at, newest first: labels still being bought after a failed attempt or parked, and
// carrier problems (a fallback label, a parcel returned to the shopper, a failed
// delivery).
func (s *Service) NeedsAttention(ctx context.Context, merchantID int64) ([]Attention, error) {
	list := []Attention{}
	err := s.db.SelectContext(ctx, &list, `SELECT r.public_id AS return_public_id, r.rma, p.number, p.status, coalesce(p.carrier_name, p.carrier) AS carrier,
			coalesce(p.tracking_number, '') AS tracking_number, o.last_error AS label_error,
			coalesce(o.state = 'dead', false) AS label_parked, p.problem
		FROM parcels p JOIN returns r ON r.id = p.return_id
		LEFT JOIN outbox o ON o.id = p.label_job_id AND p.status = 'preparing'
		WHERE p.merchant_id = $1 AND r.state NOT IN ('completed', 'cancelled', 'rejected', 'expired')
		AND ((p.status = 'preparing' AND o.last_error IS NOT NULL) OR p.problem IS NOT NULL)
		ORDER BY p.id DESC LIMIT 200`, merchantID)
	if err != nil {
		return nil, fmt.Errorf("labels: parcels needing attention: %w", err)
	}
	return list, nil
}

// ErrNotParked means a label retry was asked for a parcel whose label is not parked.
var ErrNotParked = errors.New("labels: the parcel's label is not parked")

// RetryPurchase queues the purchase of parcel n of a return again, with fresh
// attempts, when it was parked after every retry (ErrNotParked otherwise). The
// purchase still looks for an earlier sale first, so nothing is bought twice.
func (s *Service) RetryPurchase(ctx context.Context, merchantID, returnID int64, n int) (Parcel, error) {
	var p Parcel
	_, err := s.store.Update(ctx, merchantID, returnID, func(ctx context.Context, t *returns.Tx) error {
		err := t.GetContext(ctx, &p, `SELECT `+parcelCols+` FROM parcels WHERE merchant_id = $1 AND return_id = $2 AND number = $3 FOR UPDATE`,
			merchantID, returnID, n)
		if errors.Is(err, sql.ErrNoRows) {
			return &NoParcelError{RMA: t.Return.RMA}
		}
		if err != nil {
			return fmt.Errorf("labels: parcel %d of %d: %w", n, returnID, err)
		}
		if p.Status != ParcelPreparing || !p.LabelParked {
			return ErrNotParked
		}
		ids, err := outbox.Enqueue(ctx, t.Tx, outbox.Message{MerchantID: merchantID, Kind: KindBuy,
			Payload: buyJob{ParcelID: p.ID}, MaxAttempts: BuyAttempts})
		if err != nil {
			return err
		}
		if err := t.GetContext(ctx, &p, `UPDATE parcels SET label_job_id = $2 WHERE id = $1 RETURNING `+parcelCols, p.ID, ids[0]); err != nil {
			return fmt.Errorf("labels: parcel %d job: %w", p.ID, err)
		}
		p.LabelURL = labelURL(t.Return.RMA, p.Number)
		return nil
	})
	return p, err
}
