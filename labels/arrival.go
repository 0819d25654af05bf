package labels

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/returns"
	"github.com/roundtriphq/roundtrip/returns/receiving"
)

// The warehouse's side of parcels: Service is receiving's Parcels, so a scan finds a
// parcel by its tracking number and records its arrival, and a receipt names it.

// ParcelByTracking finds the merchant's parcel with a tracking number (normalised as
// NormalizeTracking does) and its return, or receiving.ErrNoParcel.
func (s *Service) ParcelByTracking(ctx context.Context, merchantID int64, tracking string) (int64, receiving.Parcel, error) {
	var p Parcel
	err := s.db.GetContext(ctx, &p, `SELECT `+parcelCols+` FROM parcels WHERE merchant_id = $1 AND tracking_number = $2`,
		merchantID, NormalizeTracking(tracking))
	if errors.Is(err, sql.ErrNoRows) {
		return 0, receiving.Parcel{}, receiving.ErrNoParcel
	}
	if err != nil {
		return 0, receiving.Parcel{}, fmt.Errorf("labels: parcel by tracking number: %w", err)
	}
	return p.ReturnID, arrival(p), nil
}

// ArriveIssued lists r's parcels whose labels may be used, by number, as they were
// before the scan at, and records that the return's only such parcel arrived at at,
// unless it had arrived before: one statement, in the scan's transaction q, which
// also makes the caller's writes with (the return's arrival).
func (s *Service) ArriveIssued(ctx context.Context, q sqlx.QueryerContext, r *returns.Return, at time.Time, with ...outbox.Part) ([]receiving.Parcel, error) {
	args := []any{r.MerchantID, r.ID, at}
	ctes, more := outbox.Ahead(len(args), with...)
	if ctes != "" {
		ctes += ", "
	}
	var out []receiving.Parcel
	err := sqlx.SelectContext(ctx, q, &out, `WITH `+ctes+`issued AS (SELECT id, number, coalesce(tracking_number, '') AS tracking_number,
			carrier, arrived_at FROM parcels WHERE merchant_id = $1 AND return_id = $2 AND status = 'issued'),
		arrive AS (UPDATE parcels SET arrived_at = $3
			WHERE id IN (SELECT id FROM issued WHERE arrived_at IS NULL AND (SELECT count(*) FROM issued) = 1))
		SELECT id, number, tracking_number, carrier, arrived_at FROM issued ORDER BY number`, append(args, more...)...)
	if err != nil {
		return nil, fmt.Errorf("labels: arrival of %s: %w", r.RMA, err)
	}
	return out, nil
}

// ParcelNumbered finds r's parcel number n, or receiving.ErrNoParcel.
func (s *Service) ParcelNumbered(ctx context.Context, q sqlx.QueryerContext, r *returns.Return, n int) (receiving.Parcel, error) {
	list, err := parcels(ctx, q, r.MerchantID, r)
	if err != nil {
		return receiving.Parcel{}, err
	}
	for _, p := range list {
		if p.Number == n {
			return arrival(p), nil
		}
	}
	return receiving.Parcel{}, receiving.ErrNoParcel
}

// MarkArrived records that the warehouse scanned a parcel.
func (s *Service) MarkArrived(ctx context.Context, x sqlx.ExecerContext, parcelID int64, at time.Time) error {
	if _, err := x.ExecContext(ctx, `UPDATE parcels SET arrived_at = $2 WHERE id = $1`, parcelID, at); err != nil {
		return fmt.Errorf("labels: parcel %d arrived: %w", parcelID, err)
	}
	return nil
}

// arrival is a parcel as the scan station shows it.
func arrival(p Parcel) receiving.Parcel {
	return receiving.Parcel{ID: p.ID, Number: p.Number, TrackingNumber: p.TrackingNumber, Carrier: p.Carrier, ArrivedAt: p.ArrivedAt}
}
