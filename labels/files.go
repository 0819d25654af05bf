package labels

import (
	"bytes"
	"context"
	"fmt"

	"github.com/roundtriphq/roundtrip/returns"
)

// File is a label in one of its forms, ready to send.
type File struct {
	ContentType string
	Name        string // file name to offer
	Body        []byte
}

// LabelFile is parcel n of r in format f:
//
//   - 4x6, letter, a4: the PDF. A label bought from a carrier through Shippo is the
//     carrier's own 4x6 inch label as bought (PDF_4x6), for every PDF format; an own
//     label is rendered (Render).
//   - zpl: the label in ZPL II for thermal printers (RenderZPL), for both carriers:
//     the carrier's tracking number, service and addresses as bought.
//   - qr: the drop-off QR code as a PNG: the carrier's code, shown at the counter
//     instead of a printed label, when the carrier gave one; else our QR code of the
//     tracking number.
//
// Errors are those of Label, and a *PreparingError while the label is being bought.
func (s *Service) LabelFile(ctx context.Context, r *returns.Return, n int, f Format, origin string) (File, error) {
	return s.LabelFileWith(ctx, r, n, f, origin, nil)
}

// LabelFileWith is LabelFile with the label changed by adjust before it is rendered
// (the pages word the shopper's part of it in the shopper's language). A label the
// carrier made is served as the carrier made it.
func (s *Service) LabelFileWith(ctx context.Context, r *returns.Return, n int, f Format, origin string, adjust func(*Label)) (File, error) {
	ps, err := s.parcelsWithFiles(ctx, r, n)
	if err != nil {
		return File{}, err
	}
	if err := labelable(r, ps.List, n); err != nil {
		return File{}, err
	}
	rec, err := s.store.OrderByID(ctx, r.MerchantID, r.OrderID)
	if err != nil {
		return File{}, err
	}
	return s.FileOf(ctx, returns.Read{Return: r, Order: rec}, ps, n, f, origin, adjust)
}

// parcelsWithFiles reads the parcels of r with the carrier's files of parcel n, in
// one statement.
func (s *Service) parcelsWithFiles(ctx context.Context, r *returns.Return, n int) (Parcels, error) {
	var raw []byte
	if err := s.db.GetContext(ctx, &raw, `SELECT `+ParcelsJSON(n)+` FROM returns r WHERE r.merchant_id = $1 AND r.id = $2`,
		r.MerchantID, r.ID); err != nil {
		return Parcels{}, fmt.Errorf("labels: parcels of %s: %w", r.RMA, err)
	}
	return DecodeParcels(raw, r)
}

// fileOf is parcel n of r in format f, from its label l and the files the carrier
// made for it.
func fileOf(r *returns.Return, n int, f Format, l Label, files parcelFiles, rendered *renderedLabels) (File, error) {
	name := fmt.Sprintf("%s-parcel-%d", r.RMA, n)
	var buf bytes.Buffer
	switch f {
	case FormatZPL:
		if err := RenderZPL(&buf, l); err != nil {
			return File{}, fmt.Errorf("labels: render ZPL of %s parcel %d: %w", r.RMA, n, err)
		}
		return File{ContentType: "application/zpl", Name: name + ".zpl", Body: buf.Bytes()}, nil
	case FormatQR:
		if len(files.QR) > 0 {
			return File{ContentType: "image/png", Name: name + "-qr.png", Body: files.QR}, nil
		}
		b, err := TrackingQR(l.TrackingNumber)
		if err != nil {
			return File{}, fmt.Errorf("labels: QR code of %s parcel %d: %w", r.RMA, n, err)
		}
		return File{ContentType: "image/png", Name: name + "-qr.png", Body: b}, nil
	}
	if len(files.PDF) > 0 {
		return File{ContentType: "application/pdf", Name: name + ".pdf", Body: files.PDF}, nil
	}
	pdf, err := rendered.pdf(l)
	if err != nil {
		return File{}, fmt.Errorf("labels: render %s parcel %d: %w", r.RMA, n, err)
	}
	return File{ContentType: "application/pdf", Name: name + ".pdf", Body: pdf}, nil
}
