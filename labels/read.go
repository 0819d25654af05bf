package labels

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/roundtriphq/roundtrip/internal/db"
	"github.com/roundtriphq/roundtrip/returns"
)

// Files of every parcel, for ParcelsJSON.
const AllFiles = -1

// ParcelsJSON is a JSON expression of the parcels of the return r, by number, for a
// returns.FindWith or returns.ReadWith statement that reads them with the return and
// its order (one round trip for a label or an email). files says whose carrier-made
// files (the PDF and QR code bought through Shippo) come too: parcel files, every
// parcel's (AllFiles), or none (0). Decode it with DecodeParcels.
func ParcelsJSON(files int) string {
	cond := `false`
	switch {
	case files == AllFiles:
		cond = `true`
	case files > 0:
		cond = `number = ` + strconv.Itoa(files)
	}
	return `(SELECT coalesce(json_agg(row_to_json(x) ORDER BY x.number), '[]') FROM (SELECT ` + parcelCols + `,
		CASE WHEN ` + cond + ` THEN encode(label_pdf, 'base64') END AS label_pdf,
		CASE WHEN ` + cond + ` THEN encode(qr_code, 'base64') END AS qr_code
		FROM parcels WHERE merchant_id = r.merchant_id AND return_id = r.id) x)`
}

// Parcels are a return's parcels as ParcelsJSON read them, with the files asked for.
type Parcels struct {
	List  []Parcel
	files map[int]parcelFiles
}

// parcelFiles are the files a carrier made for a parcel (nil: none, or not read).
type parcelFiles struct {
	PDF []byte `db:"label_pdf"`
	QR  []byte `db:"qr_code"`
}

// DecodeParcels decodes what ParcelsJSON read of the return r.
func DecodeParcels(raw json.RawMessage, r *returns.Return) (Parcels, error) {
	var rows []struct {
		Parcel
		parcelFiles
	}
	if err := db.UnmarshalRows(raw, &rows); err != nil {
		return Parcels{}, fmt.Errorf("labels: parcels of %d: %w", r.ID, err)
	}
	ps := Parcels{List: make([]Parcel, len(rows)), files: make(map[int]parcelFiles, len(rows))}
	for i, row := range rows {
		p := row.Parcel
		p.LabelURL = labelURL(r.RMA, p.Number)
		p.DropOffURL = DropOffLocator(p.CarrierName)
		ps.List[i] = p
		ps.files[p.Number] = row.parcelFiles
	}
	return ps, nil
}

// FileOf is LabelFileWith for a return read with its order and parcels (ParcelsJSON,
// with the files of parcel n) in the caller's statement: it reads nothing more but
// the merchant (cached).
func (s *Service) FileOf(ctx context.Context, rd returns.Read, ps Parcels, n int, f Format, origin string, adjust func(*Label)) (File, error) {
	pdfFormat := f
	if f == FormatZPL || f == FormatQR {
		pdfFormat = Format4x6
	}
	l, err := s.label(ctx, rd.Return, rd.Order.Order, ps.List, n, pdfFormat, origin)
	if err != nil {
		return File{}, err
	}
	if adjust != nil {
		adjust(&l)
	}
	return fileOf(rd.Return, n, f, l, ps.files[n], s.rendered)
}
