package merchant

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/roundtriphq/roundtrip/internal/validation"
)

// Carriers a merchant can choose for its labels.
const (
	// CarrierOwn: labels with the shop's own S10 tracking numbers, printed by Roundtrip.
	CarrierOwn = "own"
	// CarrierShippo: labels bought from real carriers through the shop's Shippo account.
	CarrierShippo = "shippo"
)

// ParcelTemplate is the default box of a return parcel: dimensions and weight as
// decimal strings in their units, as Shippo takes them.
type ParcelTemplate struct {
	Length       string `json:"length" example:"12" doc:"Decimal, in distance_unit."`
	Width        string `json:"width" example:"9" doc:"Decimal, in distance_unit."`
	Height       string `json:"height" example:"4" doc:"Decimal, in distance_unit."`
	DistanceUnit string `json:"distance_unit" enum:"cm,in" example:"in"`
	Weight       string `json:"weight" example:"2" doc:"Decimal, in mass_unit."`
	MassUnit     string `json:"mass_unit" enum:"g,kg,lb,oz" example:"lb"`
}

// DefaultParcel is the parcel used when the merchant set none: a shoebox.
var DefaultParcel = ParcelTemplate{Length: "13", Width: "9", Height: "5", DistanceUnit: "in", Weight: "2", MassUnit: "lb"}

// CarrierSettings say who issues a merchant's return labels.
type CarrierSettings struct {
	Carrier string `json:"carrier" enum:"own,shippo" example:"shippo" doc:"own: labels with the shop's own S10 tracking numbers; shippo: labels bought from real carriers through the shop's Shippo account, after approval."`
	// ShippoToken is the merchant's Shippo API token: a secret, never answered.
	ShippoToken string `json:"-"`
	// ShippoTokenHint shows the token's last characters.
	ShippoTokenHint   string         `json:"shippo_token_hint" example:"…f93d" doc:"The last four characters of the Shippo API token on file; empty when none. The token itself is never shown."`
	PreferredCarriers []string       `json:"preferred_carriers" example:"[\"usps\",\"ups\"]" doc:"Shippo carrier names (usps, ups, fedex, dhl_express, …) to buy from, best first; empty: any."`
	PreferredServices []string       `json:"preferred_services" example:"[\"usps_ground_advantage\"]" doc:"Shippo service level tokens to buy, best first; the first offered wins. Empty or none offered: the cheapest rate of the preferred carriers."`
	Parcel            ParcelTemplate `json:"parcel" doc:"The default box of a return parcel."`
	OwnFallback       bool           `json:"own_fallback" doc:"When Shippo cannot sell a label after every retry, issue an own label instead of leaving the return waiting for staff."`
	WebhookTokenSet   bool           `json:"webhook_token_set" doc:"Whether a tracking webhook token was made (POST /v1/carrier-settings/webhook-token)."`
}

// CarrierSettingsInput is what an admin sets.
type CarrierSettingsInput struct {
	Carrier string `json:"carrier" enum:"own,shippo" example:"shippo"`
	// ShippoToken replaces the token on file when present; an empty string removes it.
	ShippoToken       *string         `json:"shippo_token,omitempty" maxLength:"200" example:"shippo_test_3a47d23c032ca626fce863c48d0f93d63a394396" doc:"The Shippo API token (write only). Absent: keep the one on file; empty: remove it."`
	PreferredCarriers []string        `json:"preferred_carriers,omitempty" maxItems:"20"`
	PreferredServices []string        `json:"preferred_services,omitempty" maxItems:"20"`
	Parcel            *ParcelTemplate `json:"parcel,omitempty" doc:"Absent: the default (13 × 9 × 5 in, 2 lb)."`
	OwnFallback       *bool           `json:"own_fallback,omitempty" doc:"Default true."`
}

var (
	decimalRE = regexp.MustCompile(`^[0-9]{1,6}(\.[0-9]{1,4})?$`)
	nameRE    = regexp.MustCompile(`^[a-z0-9_]{2,60}$`)
)

// Validate names every wrong field.
func (p ParcelTemplate) validate(v *validation.Error, prefix string) {
	for _, f := range []struct{ name, val string }{{"length", p.Length}, {"width", p.Width}, {"height", p.Height}, {"weight", p.Weight}} {
		if n, err := strconv.ParseFloat(f.val, 64); !decimalRE.MatchString(f.val) || err != nil || n <= 0 {
			v.AddValue(prefix+f.name, f.val, "must be a positive decimal number like 12 or 2.5")
		}
	}
	if p.DistanceUnit != "cm" && p.DistanceUnit != "in" {
		v.AddValue(prefix+"distance_unit", p.DistanceUnit, "must be cm or in")
	}
	if !slices.Contains([]string{"g", "kg", "lb", "oz"}, p.MassUnit) {
		v.AddValue(prefix+"mass_unit", p.MassUnit, "must be g, kg, lb or oz")
	}
}

// apply makes the settings in sets them to, validated.
func (in CarrierSettingsInput) apply(cur CarrierSettings) (CarrierSettings, error) {
	var v validation.Error
	out := cur
	switch in.Carrier {
	case CarrierOwn, CarrierShippo:
		out.Carrier = in.Carrier
	default:
		v.AddValue("carrier", in.Carrier, "must be own or shippo")
	}
	if in.ShippoToken != nil {
		t := strings.TrimSpace(*in.ShippoToken)
		if t != "" && (len(t) < 10 || strings.ContainsAny(t, " \r\n\t")) {
			v.Add("shippo_token", "must be a Shippo API token (shippo_live_… or shippo_test_…)")
		}
		out.ShippoToken = t
	}
	if out.Carrier == CarrierShippo && out.ShippoToken == "" {
		v.Add("shippo_token", "is needed to buy labels through Shippo")
	}
	out.PreferredCarriers, out.PreferredServices = []string{}, []string{}
	for i, c := range in.PreferredCarriers {
		c = strings.ToLower(strings.TrimSpace(c))
		if !nameRE.MatchString(c) {
			v.AddValue(fmt.Sprintf("preferred_carriers[%d]", i), c, "must be a Shippo carrier name such as usps or ups")
		}
		out.PreferredCarriers = append(out.PreferredCarriers, c)
	}
	for i, c := range in.PreferredServices {
		c = strings.ToLower(strings.TrimSpace(c))
		if !nameRE.MatchString(c) {
			v.AddValue(fmt.Sprintf("preferred_services[%d]", i), c, "must be a Shippo service level token such as usps_priority")
		}
		out.PreferredServices = append(out.PreferredServices, c)
	}
	out.Parcel = DefaultParcel
	if in.Parcel != nil {
		out.Parcel = *in.Parcel
		out.Parcel.validate(&v, "parcel.")
	}
	out.OwnFallback = true
	if in.OwnFallback != nil {
		out.OwnFallback = *in.OwnFallback
	}
	out.ShippoTokenHint = hint(out.ShippoToken)
	return out, v.Err()
}

func hint(token string) string {
	if len(token) < 8 {
		return ""
	}
	return "…" + token[len(token)-4:]
}

// CarrierChanges says in words what differs between two settings (the token only
// as "replaced" or "removed").
func CarrierChanges(before, after CarrierSettings) []string {
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
	say("Carrier", before.Carrier, after.Carrier)
	switch {
	case before.ShippoToken == after.ShippoToken:
	case after.ShippoToken == "":
		out = append(out, "Shippo token: removed")
	default:
		out = append(out, "Shippo token: replaced (now "+after.ShippoTokenHint+")")
	}
	say("Preferred carriers", strings.Join(before.PreferredCarriers, ", "), strings.Join(after.PreferredCarriers, ", "))
	say("Preferred services", strings.Join(before.PreferredServices, ", "), strings.Join(after.PreferredServices, ", "))
	p := func(t ParcelTemplate) string {
		return fmt.Sprintf("%s × %s × %s %s, %s %s", t.Length, t.Width, t.Height, t.DistanceUnit, t.Weight, t.MassUnit)
	}
	say("Parcel", p(before.Parcel), p(after.Parcel))
	say("Own labels as fallback", strconv.FormatBool(before.OwnFallback), strconv.FormatBool(after.OwnFallback))
	return out
}

type carrierRow struct {
	Carrier           string         `db:"carrier"`
	ShippoToken       string         `db:"shippo_token"`
	PreferredCarriers pq.StringArray `db:"preferred_carriers"`
	PreferredServices pq.StringArray `db:"preferred_services"`
	Parcel            []byte         `db:"parcel"`
	OwnFallback       bool           `db:"own_fallback"`
	WebhookTokenHash  *string        `db:"webhook_token_hash"`
}

// CarrierSettingsIn reads a merchant's carrier settings through q; a merchant that
// never set them has own labels.
func CarrierSettingsIn(ctx context.Context, q sqlx.QueryerContext, merchantID int64) (CarrierSettings, error) {
	var r carrierRow
	err := sqlx.GetContext(ctx, q, &r, `SELECT carrier, shippo_token, preferred_carriers, preferred_services, parcel,
		own_fallback, webhook_token_hash FROM carrier_settings WHERE merchant_id = $1`, merchantID)
	if errors.Is(err, sql.ErrNoRows) {
		return defaultCarrierSettings(), nil
	}
	if err != nil {
		return CarrierSettings{}, fmt.Errorf("merchant: carrier settings of %d: %w", merchantID, err)
	}
	return carrierSettings(merchantID, r.Carrier, r.ShippoToken, r.PreferredCarriers, r.PreferredServices, r.Parcel,
		r.OwnFallback, r.WebhookTokenHash != nil)
}

// carrierSettings assembles a merchant's stored carrier settings.
func carrierSettings(merchantID int64, carrier, token string, carriers, services []string, parcel []byte, fallback, webhookToken bool) (CarrierSettings, error) {
	out := CarrierSettings{Carrier: carrier, ShippoToken: token, ShippoTokenHint: hint(token),
		PreferredCarriers: append([]string{}, carriers...), PreferredServices: append([]string{}, services...),
		Parcel: DefaultParcel, OwnFallback: fallback, WebhookTokenSet: webhookToken}
	if len(parcel) > 2 && string(parcel) != "null" {
		if err := json.Unmarshal(parcel, &out.Parcel); err != nil {
			return CarrierSettings{}, fmt.Errorf("merchant: parcel template of %d: %w", merchantID, err)
		}
	}
	return out, nil
}

// defaultCarrierSettings are the settings of a merchant that never set them: own labels.
func defaultCarrierSettings() CarrierSettings {
	return CarrierSettings{Carrier: CarrierOwn, PreferredCarriers: []string{}, PreferredServices: []string{},
		Parcel: DefaultParcel, OwnFallback: true}
}

// CarrierIn is CarrierSettingsIn on q (a caller's transaction), through the cache
// when there is one (Cache): a change of the settings, its Shippo token or its
// webhook token reaches every process by the trigger's notification.
func (s *Store) CarrierIn(ctx context.Context, q sqlx.QueryerContext, merchantID int64) (CarrierSettings, error) {
	return s.carriers.Get(ctx, merchantID, func(ctx context.Context) (CarrierSettings, error) {
		return CarrierSettingsIn(ctx, q, merchantID)
	})
}

// CarrierSettings reads the merchant's carrier settings.
func (s *Store) CarrierSettings(ctx context.Context, merchantID int64) (CarrierSettings, error) {
	return CarrierSettingsIn(ctx, s.db, merchantID)
}

// SetCarrierSettings validates and saves in, in tx, and returns the settings before
// and after.
func SetCarrierSettings(ctx context.Context, tx *sqlx.Tx, merchantID int64, in CarrierSettingsInput) (before, after CarrierSettings, err error) {
	if _, err := tx.ExecContext(ctx, `INSERT INTO carrier_settings (merchant_id) VALUES ($1) ON CONFLICT DO NOTHING`, merchantID); err != nil {
		return before, after, fmt.Errorf("merchant: carrier settings: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `SELECT 1 FROM carrier_settings WHERE merchant_id = $1 FOR UPDATE`, merchantID); err != nil {
		return before, after, err
	}
	if before, err = CarrierSettingsIn(ctx, tx, merchantID); err != nil {
		return before, after, err
	}
	if after, err = in.apply(before); err != nil {
		return before, after, err
	}
	parcel, err := json.Marshal(after.Parcel)
	if err != nil {
		return before, after, err
	}
	_, err = tx.ExecContext(ctx, `UPDATE carrier_settings SET carrier = $2, shippo_token = $3, preferred_carriers = $4,
		preferred_services = $5, parcel = $6, own_fallback = $7, updated_at = now() WHERE merchant_id = $1`,
		merchantID, after.Carrier, after.ShippoToken, pq.StringArray(after.PreferredCarriers),
		pq.StringArray(after.PreferredServices), parcel, after.OwnFallback)
	if err != nil {
		return before, after, fmt.Errorf("merchant: save carrier settings: %w", err)
	}
	return before, after, nil
}

// ErrBadWebhookToken means a Shippo webhook came with a missing or wrong token.
var ErrBadWebhookToken = errors.New("merchant: wrong carrier webhook token")

// RotateWebhookToken makes a new token for the merchant's Shippo tracking webhook URL
// in tx and returns it; the previous one stops working when tx commits. Only its
// SHA-256 is kept.
func RotateWebhookToken(ctx context.Context, tx *sqlx.Tx, merchantID int64) (string, error) {
	token := "rtw_" + strings.ToLower(rand.Text())
	sum := sha256.Sum256([]byte(token))
	_, err := tx.ExecContext(ctx, `INSERT INTO carrier_settings (merchant_id, webhook_token_hash) VALUES ($1, $2)
		ON CONFLICT (merchant_id) DO UPDATE SET webhook_token_hash = excluded.webhook_token_hash, updated_at = now()`,
		merchantID, hex.EncodeToString(sum[:]))
	if err != nil {
		return "", fmt.Errorf("merchant: webhook token: %w", err)
	}
	return token, nil
}

// ForWebhookToken returns the ID of the merchant slug names when token is its
// webhook token (compared in constant time), else ErrBadWebhookToken.
func (s *Store) ForWebhookToken(ctx context.Context, slug, token string) (int64, error) {
	var row struct {
		ID   int64   `db:"id"`
		Hash *string `db:"webhook_token_hash"`
	}
	err := s.db.GetContext(ctx, &row, `SELECT m.id, c.webhook_token_hash FROM merchants m
		LEFT JOIN carrier_settings c ON c.merchant_id = m.id WHERE m.slug = $1`, slug)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("merchant: merchant for webhook token: %w", err)
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	got := hex.EncodeToString(sum[:])
	want := strings.Repeat("0", len(got)) // compared anyway: no shortcut for unknown shops
	if row.Hash != nil {
		want = *row.Hash
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 || row.Hash == nil || token == "" {
		return 0, ErrBadWebhookToken
	}
	return row.ID, nil
}
