// Package merchant owns the merchant (the shop using Roundtrip): its slug, name,
// branding and returns warehouse (merchant.go), the secret its carrier signs events
// with (carrier_secret.go), and the operations on its settings and API keys (api.go,
// api_keys.go). Every other table hangs off a merchant's ID.
package merchant

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/db"
	"github.com/roundtriphq/roundtrip/internal/validation"
)

// ErrNotFound means no merchant has that slug or ID.
var ErrNotFound = errors.New("merchant: not found")

// ErrExists means the slug is taken.
var ErrExists = errors.New("merchant: slug already taken")

// Merchant is a shop.
type Merchant struct {
	ID        int64     `json:"-"`
	Slug      string    `json:"slug" doc:"URL-safe identifier, used in the portal address." example:"northwind"`
	Name      string    `json:"name" doc:"Shop name shown to shoppers." example:"Northwind Outfitters"`
	Settings  Settings  `json:"settings"`
	CreatedAt time.Time `json:"created_at"`
}

// Settings are a merchant's branding and returns logistics.
type Settings struct {
	BrandColor   string           `json:"brand_color,omitempty" doc:"Portal accent colour as #RRGGBB." example:"#1f6f5c"`
	LogoURL      string           `json:"logo_url,omitempty" format:"uri" doc:"Logo shown in the portal header." example:"https://cdn.example.com/northwind/logo.svg"`
	SupportEmail string           `json:"support_email,omitempty" format:"email" doc:"Where shoppers can write with questions." example:"help@northwind.example"`
	Warehouse    WarehouseAddress `json:"warehouse" required:"false" doc:"Where return parcels are sent."`
}

// WarehouseAddress is a postal address.
type WarehouseAddress struct {
	Name       string `json:"name,omitempty" example:"Northwind Returns"`
	Line1      string `json:"line1,omitempty" example:"12 Harbour Road"`
	Line2      string `json:"line2,omitempty" example:"Unit 4"`
	City       string `json:"city,omitempty" example:"Leeds"`
	Region     string `json:"region,omitempty" example:"West Yorkshire"`
	PostalCode string `json:"postal_code,omitempty" example:"LS1 4AP"`
	Country    string `json:"country,omitempty" doc:"ISO 3166-1 alpha-2 country code." example:"GB"`
}

var (
	slugRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)
	colorRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
)

// ValidateSlug checks a slug: 2–63 lower-case letters, digits and dashes.
func ValidateSlug(slug string) error {
	if !slugRE.MatchString(slug) {
		return fmt.Errorf("merchant: slug %q must be 2-63 lower-case letters, digits and dashes, starting with a letter or digit", slug)
	}
	return nil
}

// Validate names every wrong setting.
func (s Settings) Validate() error {
	var v validation.Error
	if s.BrandColor != "" && !colorRE.MatchString(s.BrandColor) {
		v.AddValue("brand_color", s.BrandColor, "must be a colour like #1f6f5c")
	}
	if c := s.Warehouse.Country; c != "" && !regexp.MustCompile(`^[A-Z]{2}$`).MatchString(c) {
		v.AddValue("warehouse.country", c, "must be an ISO 3166-1 alpha-2 code such as GB or US")
	}
	return v.Err()
}

// Store reads and writes merchants.
type Store struct {
	db *sqlx.DB
}

// NewStore returns a Store on d.
func NewStore(d *sqlx.DB) *Store { return &Store{db: d} }

type row struct {
	ID        int64     `db:"id"`
	Slug      string    `db:"slug"`
	Name      string    `db:"name"`
	Settings  []byte    `db:"settings"`
	CreatedAt time.Time `db:"created_at"`
}

func (r row) merchant() (Merchant, error) {
	m := Merchant{ID: r.ID, Slug: r.Slug, Name: r.Name, CreatedAt: r.CreatedAt}
	if err := json.Unmarshal(r.Settings, &m.Settings); err != nil {
		return Merchant{}, fmt.Errorf("merchant: settings of %s: %w", r.Slug, err)
	}
	return m, nil
}

// Create adds a merchant. It returns ErrExists when the slug is taken.
func (s *Store) Create(ctx context.Context, slug, name string, settings Settings) (Merchant, error) {
	if err := ValidateSlug(slug); err != nil {
		return Merchant{}, err
	}
	if name == "" {
		return Merchant{}, errors.New("merchant: name is required")
	}
	b, err := json.Marshal(settings)
	if err != nil {
		return Merchant{}, err
	}
	var r row
	err = s.db.GetContext(ctx, &r, `INSERT INTO merchants (slug, name, settings) VALUES ($1, $2, $3)
		RETURNING id, slug, name, settings, created_at`, slug, name, b)
	if db.IsUniqueViolation(err, "") {
		return Merchant{}, ErrExists
	}
	if err != nil {
		return Merchant{}, fmt.Errorf("merchant: create %s: %w", slug, err)
	}
	return r.merchant()
}

// Update changes a merchant's name and settings.
func (s *Store) Update(ctx context.Context, id int64, name string, settings Settings) (Merchant, error) {
	b, err := json.Marshal(settings)
	if err != nil {
		return Merchant{}, err
	}
	var r row
	err = s.db.GetContext(ctx, &r, `UPDATE merchants SET name = $2, settings = $3 WHERE id = $1
		RETURNING id, slug, name, settings, created_at`, id, name, b)
	if errors.Is(err, sql.ErrNoRows) {
		return Merchant{}, ErrNotFound
	}
	if err != nil {
		return Merchant{}, fmt.Errorf("merchant: update %d: %w", id, err)
	}
	return r.merchant()
}

// BySlug finds a merchant by slug.
func (s *Store) BySlug(ctx context.Context, slug string) (Merchant, error) {
	return s.get(ctx, `slug = $1`, slug)
}

// Get finds a merchant by ID.
func (s *Store) Get(ctx context.Context, id int64) (Merchant, error) {
	return s.get(ctx, `id = $1`, id)
}

// GetIn is Get on q, for callers inside a transaction (a second pooled connection
// taken while a transaction holds one can starve the pool under load).
func GetIn(ctx context.Context, q sqlx.QueryerContext, id int64) (Merchant, error) {
	return get(ctx, q, `id = $1`, id)
}

func (s *Store) get(ctx context.Context, where string, arg any) (Merchant, error) {
	return get(ctx, s.db, where, arg)
}

func get(ctx context.Context, q sqlx.QueryerContext, where string, arg any) (Merchant, error) {
	var r row
	err := sqlx.GetContext(ctx, q, &r, `SELECT id, slug, name, settings, created_at FROM merchants WHERE `+where, arg)
	if errors.Is(err, sql.ErrNoRows) {
		return Merchant{}, ErrNotFound
	}
	if err != nil {
		return Merchant{}, fmt.Errorf("merchant: get: %w", err)
	}
	return r.merchant()
}
