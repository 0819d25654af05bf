package returns

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// The catalogue: products and their variants as the shop pushes them, and the units
// held for open exchanges.

// ProductRecord is a product as stored, with the stock of each variant.
type ProductRecord struct {
	ProductID string           `json:"product_id" example:"tee-classic"`
	Name      string           `json:"name" example:"Classic T-shirt"`
	Revision  int              `json:"revision" example:"1" doc:"Increases each time the shop changes the product."`
	Variants  []StockedVariant `json:"variants"`
	UpdatedAt time.Time        `json:"updated_at"`
}

type variantRow struct {
	SKU       string `db:"sku"`
	ProductID string `db:"product_id"`
	Name      string `db:"name"`
	Options   []byte `db:"options"`
	Prices    []byte `db:"prices"`
	Available int    `db:"available"`
	Reserved  int    `db:"reserved"`
	ImageURL  string `db:"image_url"`
}

const variantCols = `sku, product_id, name, options, prices, available, reserved, image_url`

func (r variantRow) variant() (StockedVariant, error) {
	v := StockedVariant{ProductID: r.ProductID, Reserved: r.Reserved, InStock: max(r.Available-r.Reserved, 0),
		Variant: Variant{SKU: r.SKU, Name: r.Name, Available: r.Available, ImageURL: r.ImageURL, Options: []VariantOption{}}}
	if err := json.Unmarshal(r.Options, &v.Options); err != nil {
		return v, fmt.Errorf("returns: variant %s options: %w", r.SKU, err)
	}
	if err := json.Unmarshal(r.Prices, &v.Prices); err != nil {
		return v, fmt.Errorf("returns: variant %s prices: %w", r.SKU, err)
	}
	return v, nil
}

// PutProduct creates or replaces a product and its variants (p must be valid). The
// units held for open exchanges stay held: the shop's count replaces available only.
func (s *Store) PutProduct(ctx context.Context, merchantID int64, productID string, p Product) (ProductRecord, bool, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return ProductRecord{}, false, err
	}
	defer tx.Rollback()
	var revision int
	err = tx.GetContext(ctx, &revision, `INSERT INTO products (merchant_id, product_id, name) VALUES ($1, $2, $3)
		ON CONFLICT (merchant_id, product_id) DO UPDATE SET name = EXCLUDED.name, revision = products.revision + 1, updated_at = now()
		RETURNING revision`, merchantID, productID, p.Name)
	if err != nil {
		return ProductRecord{}, false, fmt.Errorf("returns: put product: %w", err)
	}
	skus := make([]string, len(p.Variants))
	for i, v := range p.Variants {
		skus[i] = v.SKU
		options, _ := json.Marshal(v.Options)
		if v.Options == nil {
			options = []byte("[]")
		}
		prices, _ := json.Marshal(v.Prices)
		_, err := tx.ExecContext(ctx, `INSERT INTO product_variants (merchant_id, sku, product_id, position, name, options,
			prices, available, image_url) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (merchant_id, sku) DO UPDATE SET product_id = EXCLUDED.product_id, position = EXCLUDED.position,
				name = EXCLUDED.name, options = EXCLUDED.options, prices = EXCLUDED.prices, available = EXCLUDED.available,
				image_url = EXCLUDED.image_url`,
			merchantID, v.SKU, productID, i, v.Name, options, prices, v.Available, v.ImageURL)
		if err != nil {
			return ProductRecord{}, false, fmt.Errorf("returns: put variant %s: %w", v.SKU, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM product_variants WHERE merchant_id = $1 AND product_id = $2 AND NOT sku = ANY($3)`,
		merchantID, productID, pq.Array(skus)); err != nil {
		return ProductRecord{}, false, fmt.Errorf("returns: put product: %w", err)
	}
	rec, err := product(ctx, tx, merchantID, productID)
	if err != nil {
		return ProductRecord{}, false, err
	}
	if err := tx.Commit(); err != nil {
		return ProductRecord{}, false, err
	}
	return rec, revision == 1, nil
}

// Product reads a product with the stock of its variants.
func (s *Store) Product(ctx context.Context, merchantID int64, productID string) (ProductRecord, error) {
	return product(ctx, s.db, merchantID, productID)
}

func product(ctx context.Context, q sqlx.QueryerContext, merchantID int64, productID string) (ProductRecord, error) {
	var row struct {
		Name      string    `db:"name"`
		Revision  int       `db:"revision"`
		UpdatedAt time.Time `db:"updated_at"`
	}
	err := sqlx.GetContext(ctx, q, &row, `SELECT name, revision, updated_at FROM products
		WHERE merchant_id = $1 AND product_id = $2`, merchantID, productID)
	rec := ProductRecord{ProductID: productID, Name: row.Name, Revision: row.Revision, UpdatedAt: row.UpdatedAt}
	if errors.Is(err, sql.ErrNoRows) {
		return rec, ErrNotFound
	}
	if err != nil {
		return rec, fmt.Errorf("returns: product %s: %w", productID, err)
	}
	var rows []variantRow
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT `+variantCols+` FROM product_variants
		WHERE merchant_id = $1 AND product_id = $2 ORDER BY position`, merchantID, productID); err != nil {
		return rec, fmt.Errorf("returns: variants of %s: %w", productID, err)
	}
	rec.Variants = make([]StockedVariant, 0, len(rows))
	for _, r := range rows {
		v, err := r.variant()
		if err != nil {
			return rec, err
		}
		rec.Variants = append(rec.Variants, v)
	}
	return rec, nil
}

// Variants reads the variants with the given SKUs, by SKU; unknown SKUs are left out.
func Variants(ctx context.Context, q sqlx.QueryerContext, merchantID int64, skus []string) (map[string]StockedVariant, error) {
	out := map[string]StockedVariant{}
	if len(skus) == 0 {
		return out, nil
	}
	var rows []variantRow
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT `+variantCols+` FROM product_variants
		WHERE merchant_id = $1 AND sku = ANY($2)`, merchantID, pq.Array(skus)); err != nil {
		return nil, fmt.Errorf("returns: variants: %w", err)
	}
	for _, r := range rows {
		v, err := r.variant()
		if err != nil {
			return nil, err
		}
		out[v.SKU] = v
	}
	return out, nil
}

// HoldStock holds n units of a variant for an exchange, in the caller's transaction:
// the conditional update takes the variant's row lock, so of two exchanges for the
// last unit exactly one gets it; the other gets an *OutOfStockError.
func HoldStock(ctx context.Context, tx sqlx.ExtContext, merchantID int64, sku string, n int) error {
	var held int
	err := sqlx.GetContext(ctx, tx, &held, `UPDATE product_variants SET reserved = reserved + $3
		WHERE merchant_id = $1 AND sku = $2 AND available - reserved >= $3 RETURNING reserved`, merchantID, sku, n)
	if errors.Is(err, sql.ErrNoRows) {
		var row struct {
			Name    string `db:"name"`
			InStock int    `db:"in_stock"`
		}
		err := sqlx.GetContext(ctx, tx, &row, `SELECT name, greatest(available - reserved, 0) AS in_stock
			FROM product_variants WHERE merchant_id = $1 AND sku = $2`, merchantID, sku)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("returns: hold %s: %w", sku, err)
		}
		if row.Name == "" {
			row.Name = sku
		}
		return &OutOfStockError{SKU: sku, Name: row.Name, InStock: row.InStock}
	}
	if err != nil {
		return fmt.Errorf("returns: hold %s: %w", sku, err)
	}
	return nil
}

// ReleaseStock gives back n units held for an exchange: it was cancelled, or the shop
// shipped the replacement from its own stock (and its next count says so).
func ReleaseStock(ctx context.Context, tx sqlx.ExtContext, merchantID int64, sku string, n int) error {
	_, err := tx.ExecContext(ctx, `UPDATE product_variants SET reserved = greatest(reserved - $3, 0)
		WHERE merchant_id = $1 AND sku = $2`, merchantID, sku, n)
	if err != nil {
		return fmt.Errorf("returns: release %s: %w", sku, err)
	}
	return nil
}
