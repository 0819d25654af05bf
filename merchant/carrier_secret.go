package merchant

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// ErrBadCarrierSecret means a carrier secret is missing, malformed or wrong.
var ErrBadCarrierSecret = errors.New("merchant: wrong carrier secret")

// secretPrefix starts every carrier secret: rtc_<merchant slug>_<random>.
const secretPrefix = "rtc_"

// RotateCarrierSecret gives the merchant a new carrier secret and returns it;
// the previous one stops working at once. Only its SHA-256 is stored.
func (s *Store) RotateCarrierSecret(ctx context.Context, merchantID int64) (string, error) {
	m, err := s.Get(ctx, merchantID)
	if err != nil {
		return "", err
	}
	secret := secretPrefix + m.Slug + "_" + strings.ToLower(rand.Text())
	sum := sha256.Sum256([]byte(secret))
	if _, err := s.db.ExecContext(ctx, `UPDATE merchants SET carrier_secret = $2 WHERE id = $1`, m.ID, hex.EncodeToString(sum[:])); err != nil {
		return "", fmt.Errorf("merchant: store carrier secret: %w", err)
	}
	return secret, nil
}

// ForCarrierSecret returns the merchant a carrier secret belongs to, or
// ErrBadCarrierSecret. The secret names its merchant; its hash is compared in
// constant time.
func (s *Store) ForCarrierSecret(ctx context.Context, secret string) (int64, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(secret), secretPrefix)
	slug, _, _ := strings.Cut(rest, "_")
	if !ok || slug == "" {
		return 0, ErrBadCarrierSecret
	}
	var row struct {
		ID   int64   `db:"id"`
		Hash *string `db:"carrier_secret"`
	}
	err := s.db.GetContext(ctx, &row, `SELECT id, carrier_secret FROM merchants WHERE slug = $1`, slug)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("merchant: merchant for carrier secret: %w", err)
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(secret)))
	got := hex.EncodeToString(sum[:])
	want := strings.Repeat("0", len(got)) // compared anyway: no shortcut for unknown slugs
	if row.Hash != nil && *row.Hash != "" {
		want = *row.Hash
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 || row.Hash == nil {
		return 0, ErrBadCarrierSecret
	}
	return row.ID, nil
}
