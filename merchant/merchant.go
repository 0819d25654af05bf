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
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/cache"
	"github.com/roundtriphq/roundtrip/internal/db"
	"github.com/roundtriphq/roundtrip/internal/listen"
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
	SenderName   string           `json:"sender_name,omitempty" maxLength:"100" doc:"The name emails to shoppers come from; the shop's name when empty." example:"Northwind Returns"`
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
	if s.LogoURL != "" {
		u, err := url.Parse(s.LogoURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(s.LogoURL) > 2000 {
			v.AddValue("logo_url", s.LogoURL, "must be a web address starting with https://")
		}
	}
	if e := s.SupportEmail; e != "" {
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e || a.Name != "" || len(e) > 254 {
			v.AddValue("support_email", e, "must be an email address like help@example.com")
		}
	}
	if n := s.SenderName; utf8.RuneCountInString(n) > 100 || strings.ContainsAny(n, "\r\n\x00") || n != strings.TrimSpace(n) {
		v.AddValue("sender_name", n, "must be at most 100 characters on one line, without spaces around")
	}
	return v.Err()
}

// Store reads and writes merchants.
type Store struct {
	db db.Queryer
	// byID and bySlug cache merchants (Cache); nil read them every time
	byID   *cache.Map[int64, Merchant]
	bySlug *cache.Map[string, Merchant]
	// carriers caches carrier settings by merchant ID (Cache), for a label's booking
	carriers *cache.Map[int64, CarrierSettings]
}

// NewStore returns a Store on d.
func NewStore(d *sqlx.DB) *Store { return &Store{db: d} }

// WithTx returns the store working in the caller's transaction tx.
func (s *Store) WithTx(tx *sqlx.Tx) *Store {
	return &Store{db: tx, byID: s.byID, bySlug: s.bySlug, carriers: s.carriers}
}

// Channel is the NOTIFY channel on which a trigger announces a changed merchant
// (its ID) when the change commits.
const Channel = "roundtrip_merchants"

// Cache makes Get, BySlug and In answer from memory for ttl: every request of a
// shopper or a label needs the shop's name, branding and warehouse, which change
// rarely; CarrierIn likewise, for every label booked. A change to a merchant (or to
// its carrier settings) is forgotten by every process when its
// notification arrives through hub, milliseconds after the commit (at once in the
// process that made it); ttl bounds it for a process that missed one. Call before
// serving.
func (s *Store) Cache(ttl time.Duration, hub *listen.Hub) {
	// a slug's merchant is known only by ID in the notification: forget them all
	// (first: by the time a merchant is forgotten by ID, it is by slug too)
	s.bySlug = cache.New[string, Merchant](ttl, hub, Channel, func(string) (string, bool) { return "", false })
	parse := func(p string) (int64, bool) {
		id, err := strconv.ParseInt(p, 10, 64)
		return id, err == nil
	}
	s.byID = cache.New[int64, Merchant](ttl, hub, Channel, parse)
	s.carriers = cache.New[int64, CarrierSettings](ttl, hub, Channel, parse)
}

// forget drops merchant id from this process's caches.
func (s *Store) forget(id int64) {
	s.byID.Forget(id)
	s.bySlug.Clear()
}

// In is Get on q (a caller's transaction), through the cache when there is one.
func (s *Store) In(ctx context.Context, q sqlx.QueryerContext, id int64) (Merchant, error) {
	return s.byID.Get(ctx, id, func(ctx context.Context) (Merchant, error) { return get(ctx, q, `id = $1`, id) })
}

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
	s.forget(id) // here at once; every process at commit (a trigger's NOTIFY)
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

// Edit changes a merchant under its row lock: edit changes a copy of the merchant
// as stored (its name and settings; the rest is kept), which is validated and
// saved. It returns the merchant before and after, so the caller can say what
// changed (Changes).
func (s *Store) Edit(ctx context.Context, id int64, edit func(m *Merchant) error) (before, after Merchant, err error) {
	s.forget(id) // here at once; every process at commit (a trigger's NOTIFY)
	err = db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		before, err = get(ctx, tx, `id = $1 FOR UPDATE`, id)
		if err != nil {
			return err
		}
		m := before
		if err := edit(&m); err != nil {
			return err
		}
		if err := m.Validate(); err != nil {
			return err
		}
		after, err = (&Store{db: tx}).Update(ctx, id, m.Name, m.Settings)
		return err
	})
	if err != nil {
		return Merchant{}, Merchant{}, err
	}
	return before, after, nil
}

// Validate names every wrong field of a merchant's name and settings.
func (m Merchant) Validate() error {
	var v validation.Error
	if strings.TrimSpace(m.Name) == "" || utf8.RuneCountInString(m.Name) > 200 {
		v.AddValue("name", m.Name, "must be 1 to 200 characters")
	}
	if err := m.Settings.Validate(); err != nil {
		var sv *validation.Error
		if errors.As(err, &sv) {
			v.Merge("settings.", sv)
		} else {
			return err
		}
	}
	return v.Err()
}

// Changes says in words what differs between before and after, field by field
// ("Brand colour: #24548a → #1f6f5c"); none when nothing changed.
func Changes(before, after Merchant) []string {
	var out []string
	say := func(what, a, b string) {
		if a == b {
			return
		}
		if a == "" {
			a = "(none)"
		}
		if b == "" {
			b = "(none)"
		}
		out = append(out, fmt.Sprintf("%s: %s → %s", what, a, b))
	}
	say("Shop name", before.Name, after.Name)
	bs, as := before.Settings, after.Settings
	say("Logo URL", bs.LogoURL, as.LogoURL)
	say("Brand colour", strings.ToLower(bs.BrandColor), strings.ToLower(as.BrandColor))
	say("Support email", bs.SupportEmail, as.SupportEmail)
	say("Sender name", bs.SenderName, as.SenderName)
	if bs.Warehouse != as.Warehouse {
		out = append(out, "Returns address: "+bs.Warehouse.oneLine()+" → "+as.Warehouse.oneLine())
	}
	return out
}

// oneLine is the address on one line, or "(none)".
func (a WarehouseAddress) oneLine() string {
	var parts []string
	for _, p := range []string{a.Name, a.Line1, a.Line2, a.City, a.Region, a.PostalCode, a.Country} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return "(none)"
	}
	return strings.Join(parts, ", ")
}

// BySlug finds a merchant by slug.
func (s *Store) BySlug(ctx context.Context, slug string) (Merchant, error) {
	return s.bySlug.Get(ctx, slug, func(ctx context.Context) (Merchant, error) { return s.get(ctx, `slug = $1`, slug) })
}

// Get finds a merchant by ID.
func (s *Store) Get(ctx context.Context, id int64) (Merchant, error) {
	return s.In(ctx, s.db, id)
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
