package returns

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"time"
)

// Photo evidence: for merchant-fault reasons the shopper may attach photos, which
// staff see when they review and receive the return.

// Limits of photo evidence.
const (
	// MaxPhotos is the most photos one return may carry.
	MaxPhotos = 3
	// MaxPhotoBytes is the largest photo file accepted (8 MiB).
	MaxPhotoBytes = 8 << 20
	// maxPhotoPixels bounds a photo's decoded size (50 megapixels), so that a small
	// file that decodes to a huge image is refused before it is decoded.
	maxPhotoPixels = 50_000_000
)

// Why a photo was refused, for the shopper.
var (
	// ErrPhotoTooLarge: the file is over MaxPhotoBytes or decodes to too many pixels.
	ErrPhotoTooLarge = errors.New("returns: photo too large")
	// ErrPhotoHEIC: the file is a HEIC/HEIF image, which cannot be read here.
	ErrPhotoHEIC = errors.New("returns: HEIC photos are not supported")
	// ErrPhotoFormat: the file is not a JPEG or PNG image that decodes.
	ErrPhotoFormat = errors.New("returns: photo is not a JPEG or PNG image")
	// ErrTooManyPhotos: the return would carry more than MaxPhotos.
	ErrTooManyPhotos = errors.New("returns: too many photos")
)

// Photo is a stored photo.
type Photo struct {
	ID          int64     `db:"id"`
	PublicID    string    `db:"public_id"` // ph_…: what a photo's URL names
	ReturnID    *int64    `db:"return_id"`
	LineID      string    `db:"line_id"`
	ContentType string    `db:"content_type"`
	Width       int       `db:"width"`
	Height      int       `db:"height"`
	Data        []byte    `db:"data"`
	CreatedAt   time.Time `db:"created_at"`
}

// PreparePhoto checks an uploaded file and re-encodes it: a JPEG stays a JPEG
// (quality 90) and a PNG a PNG, decoded and encoded again so that nothing but the
// pixels is kept (no EXIF location, camera or comments). It returns
// ErrPhotoTooLarge, ErrPhotoHEIC or ErrPhotoFormat for what it cannot take.
func PreparePhoto(lineID string, b []byte) (Photo, error) {
	if len(b) > MaxPhotoBytes {
		return Photo{}, ErrPhotoTooLarge
	}
	if isHEIC(b) {
		return Photo{}, ErrPhotoHEIC
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil || (format != "jpeg" && format != "png") {
		return Photo{}, ErrPhotoFormat
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return Photo{}, ErrPhotoFormat
	}
	if int64(cfg.Width)*int64(cfg.Height) > maxPhotoPixels {
		return Photo{}, ErrPhotoTooLarge
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return Photo{}, ErrPhotoFormat
	}
	var out bytes.Buffer
	p := Photo{LineID: lineID, Width: img.Bounds().Dx(), Height: img.Bounds().Dy()}
	if format == "jpeg" {
		p.ContentType = "image/jpeg"
		err = jpeg.Encode(&out, img, &jpeg.Options{Quality: 90})
	} else {
		p.ContentType = "image/png"
		err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&out, img)
	}
	if err != nil {
		return Photo{}, fmt.Errorf("returns: encode photo: %w", err)
	}
	p.Data = out.Bytes()
	return p, nil
}

// isHEIC reports whether b starts like an ISO-BMFF file of a HEIC or HEIF brand.
func isHEIC(b []byte) bool {
	if len(b) < 12 || string(b[4:8]) != "ftyp" {
		return false
	}
	switch string(b[8:12]) {
	case "heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1", "avif":
		return true
	}
	return false
}

// AddPhotos stores photos uploaded with the portal form key for an order's return
// that does not exist yet. It refuses with ErrTooManyPhotos when the key would then
// hold more than MaxPhotos, and stores none of them.
func (s *Store) AddPhotos(ctx context.Context, merchantID, orderID int64, key string, photos []Photo) error {
	if len(photos) == 0 {
		return nil
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// one upload of a key at a time: the count below stays true until commit
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('return_photos:' || $1::text || ':' || $2, 0))`, orderID, key); err != nil {
		return fmt.Errorf("returns: lock photos: %w", err)
	}
	var n int
	if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM return_photos WHERE merchant_id = $1 AND order_id = $2 AND upload_key = $3`,
		merchantID, orderID, key); err != nil {
		return fmt.Errorf("returns: count photos: %w", err)
	}
	if n+len(photos) > MaxPhotos {
		return ErrTooManyPhotos
	}
	for _, p := range photos {
		if _, err := tx.ExecContext(ctx, `INSERT INTO return_photos (merchant_id, order_id, upload_key, line_id, content_type, width, height, data)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, merchantID, orderID, key, p.LineID, p.ContentType, p.Width, p.Height, p.Data); err != nil {
			return fmt.Errorf("returns: insert photo: %w", err)
		}
	}
	return tx.Commit()
}

const photoCols = `id, public_id, return_id, line_id, content_type, width, height, created_at`

// PendingPhotos lists the photos uploaded with key for an order, without their bytes.
func (s *Store) PendingPhotos(ctx context.Context, merchantID, orderID int64, key string) ([]Photo, error) {
	out := []Photo{}
	err := s.db.SelectContext(ctx, &out, `SELECT `+photoCols+` FROM return_photos
		WHERE merchant_id = $1 AND order_id = $2 AND upload_key = $3 ORDER BY id`, merchantID, orderID, key)
	if err != nil {
		return nil, fmt.Errorf("returns: pending photos: %w", err)
	}
	return out, nil
}

// Photos lists a return's photos, without their bytes, oldest first.
func (s *Store) Photos(ctx context.Context, merchantID, returnID int64) ([]Photo, error) {
	out := []Photo{}
	err := s.db.SelectContext(ctx, &out, `SELECT `+photoCols+` FROM return_photos
		WHERE merchant_id = $1 AND return_id = $2 ORDER BY id`, merchantID, returnID)
	if err != nil {
		return nil, fmt.Errorf("returns: photos: %w", err)
	}
	return out, nil
}

// ReturnPhoto returns one photo of a return, both named by their public IDs (ret_…,
// ph_…), with its bytes, or ErrNotFound.
func (s *Store) ReturnPhoto(ctx context.Context, merchantID int64, returnPublicID, photoPublicID string) (Photo, error) {
	var p Photo
	err := s.db.GetContext(ctx, &p, `SELECT `+photoCols+`, data FROM return_photos
		WHERE merchant_id = $1 AND public_id = $3
		AND return_id = (SELECT id FROM returns WHERE merchant_id = $1 AND public_id = $2)`, merchantID, returnPublicID, photoPublicID)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Photo{}, ErrNotFound
		}
		return Photo{}, fmt.Errorf("returns: photo: %w", err)
	}
	return p, nil
}
