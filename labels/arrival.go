package labels

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

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

// IssuedParcels lists r's parcels whose labels may be used, by number, read through q.
func (s *Service) IssuedParcels(ctx context.Context, q sqlx.QueryerContext, r *returns.Return) ([]receiving.Parcel, error) {
	list, err := parcels(ctx, q, r.MerchantID, r)
	if err != nil {
		return nil, err
	}
	var out []receiving.Parcel
	for _, p := range list {
		if p.Status == ParcelIssued {
			out = append(out, arrival(p))
		}
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
