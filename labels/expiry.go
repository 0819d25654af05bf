package labels

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/merchant"
	"github.com/roundtriphq/roundtrip/returns"
)

// Outbox job kinds of this package.
const (
	// KindExpire runs when a parcel's label runs out: it expires the return
	// when it is still approved and none of its parcels moved.
	KindExpire = "label.expire"
	// KindVoid cancels a voided label with its carrier, after the commit that
	// voided it, so that a rolled-back cancel never voids a label in use.
	KindVoid = "label.void"
)

type expireJob struct {
	ReturnID int64 `json:"return_id"`
	Parcel   int   `json:"parcel"`
}

type voidJob struct {
	ParcelID int64 `json:"parcel_id"`
}

// expire is the KindExpire handler. It runs at the end of one parcel's
// validity, under the return's row lock in the job's transaction. It does
// nothing when the return left approved (it moved, arrived, or ended), when a
// parcel moved or arrived, or when another label of the return is valid
// longer (that label's own job decides then).
func (s *Service) expire(ctx context.Context, tx *sqlx.Tx, job outbox.Job) error {
	var p expireJob
	if err := job.Decode(&p); err != nil {
		return err
	}
	if job.MerchantID == nil {
		return outbox.Permanent(fmt.Errorf("labels: expiry job %d has no merchant", job.ID))
	}
	t, err := s.store.Lock(ctx, tx, *job.MerchantID, p.ReturnID)
	if errors.Is(err, returns.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	r := t.Return
	if r.State != returns.StateApproved {
		return nil
	}
	if t.ArrivedAt() != nil {
		return nil // scanned at the warehouse by its RMA: the receipt will follow
	}
	list, err := parcels(ctx, tx, r.MerchantID, r)
	if err != nil {
		return err
	}
	var this *Parcel
	issued := 0
	for i, pc := range list {
		if pc.MovedAt != nil || pc.ArrivedAt != nil {
			return nil
		}
		if pc.Number == p.Parcel {
			this = &list[i]
		}
		if pc.Status == ParcelIssued {
			issued++
		}
	}
	if this == nil {
		return nil
	}
	for _, pc := range list {
		if pc.Status == ParcelIssued && pc.ValidUntil.After(this.ValidUntil) {
			return nil
		}
	}
	day := this.ValidUntil.UTC().Format("2 January 2006")
	note := fmt.Sprintf("The label expired on %s before the parcel moved; the label is void.", day)
	if issued > 1 {
		note = fmt.Sprintf("The labels expired on %s before any parcel moved; the labels are void.", day)
	}
	// expiry voids the labels (returns.Effects: Void)
	return t.Transition(ctx, returns.EventExpire, "system", note)
}

// voidAtCarrier is the KindVoid handler: it tells the carrier that issued a
// voided label not to charge for it, once: the carrier's reference of the void is
// recorded with the parcel in the job's transaction, and a void whose answer was
// lost is found at the carrier instead of asked for again. A carrier error is
// retried with backoff.
func (s *Service) voidAtCarrier(ctx context.Context, tx *sqlx.Tx, job outbox.Job) error {
	var p voidJob
	if err := job.Decode(&p); err != nil {
		return err
	}
	if job.MerchantID == nil {
		return outbox.Permanent(fmt.Errorf("labels: void job %d has no merchant", job.ID))
	}
	var pc Parcel
	err := tx.GetContext(ctx, &pc, `SELECT `+parcelCols+` FROM parcels WHERE merchant_id = $1 AND id = $2 FOR UPDATE`, *job.MerchantID, p.ParcelID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("labels: parcel %d: %w", p.ParcelID, err)
	}
	if pc.Status != ParcelVoided || pc.VoidRef != nil || pc.VoidStatus != nil {
		return nil
	}
	m, err := merchant.GetIn(ctx, tx, *job.MerchantID)
	if err != nil {
		return err
	}
	var c Carrier
	if pc.Carrier == merchant.CarrierOwn || (s.carrier != nil && s.carrier.Code() == pc.Carrier && !s.carrier.Remote()) {
		c = s.own(m)
		if s.carrier == nil && ValidS10(pc.TrackingNumber) {
			// the default own courier: the number's own country, in case the
			// warehouse moved since the label was issued
			if c, err = NewOwnCourier(DefaultCarrierName, DefaultServiceIndicator, pc.TrackingNumber[11:]); err != nil {
				return outbox.Permanent(err)
			}
		}
	} else {
		if pc.LabelID == nil {
			return nil // never bought: the purchase job voids a lost purchase itself
		}
		cs, err := merchant.CarrierSettingsIn(ctx, tx, m.ID)
		if err != nil {
			return err
		}
		if c, err = s.carrierByCode(m, cs, pc.Carrier); err != nil {
			return outbox.Permanent(err)
		}
	}
	if c.Code() != pc.Carrier {
		return outbox.Permanent(fmt.Errorf("labels: parcel %d was issued by carrier %q, the merchant now uses %q", pc.ID, pc.Carrier, c.Code()))
	}
	booked := Booked{TrackingNumber: pc.TrackingNumber}
	if pc.LabelID != nil {
		booked.LabelID = *pc.LabelID
	}
	ref, err := c.Void(ctx, booked)
	if err != nil {
		if errors.Is(err, ErrUnknownTracking) {
			return outbox.Permanent(err)
		}
		return err
	}
	status := "voided"
	if c.Remote() {
		status = "requested"
	}
	_, err = tx.ExecContext(ctx, `UPDATE parcels SET void_ref = nullif($2, ''), void_status = $3, voided_at_carrier = now() WHERE id = $1`,
		pc.ID, ref, status)
	return err
}
