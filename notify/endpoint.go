package notify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/lib/pq"

	"github.com/roundtriphq/roundtrip/internal/cursor"
	"github.com/roundtriphq/roundtrip/internal/validation"
)

// ErrNotFound means no such endpoint or delivery for the merchant.
var ErrNotFound = errors.New("notify: not found")

// ErrEndpointDisabled means the endpoint is disabled: nothing is sent to it.
var ErrEndpointDisabled = errors.New("notify: endpoint disabled")

// DefaultRotationGrace is how long the old secret keeps signing after a rotation.
const DefaultRotationGrace = 24 * time.Hour

// MaxRotationGrace bounds the grace period a rotation may ask for.
const MaxRotationGrace = 7 * 24 * time.Hour

// WebhookEndpoint is where a merchant receives events. Its secret is not part of it: it is
// shown once, when the endpoint is created and when the secret is rotated.
type WebhookEndpoint struct {
	ID             string      `json:"id" example:"we_4f7k2m9q3x8c1v6b5n0z7p2r4t"`
	URL            string      `json:"url" example:"https://shop.example.com/webhooks/roundtrip"`
	Description    string      `json:"description" example:"Order system"`
	EnabledEvents  []EventType `json:"enabled_events" doc:"The event types sent to this endpoint; empty means every type."`
	Enabled        bool        `json:"enabled"`
	DisabledReason string      `json:"disabled_reason,omitempty" doc:"Why the endpoint is disabled: by whom, or which failures disabled it automatically." example:"Disabled automatically: every attempt since 2026-12-01T09:00:00Z failed (last: HTTP 500). Fix the receiver, then enable the endpoint again."`
	FailingSince   *time.Time  `json:"failing_since,omitempty" doc:"Since when every attempt to this endpoint has failed; absent after a success."`
	// PreviousSecretExpiresAt is set after a rotation: until then, requests carry a
	// second signature made with the previous secret.
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty" doc:"After a rotation, requests are also signed with the previous secret until this time."`
	CreatedAt               time.Time  `json:"created_at"`
	UpdatedAt               time.Time  `json:"updated_at"`
}

// EndpointInput is a new endpoint.
type EndpointInput struct {
	URL           string
	Description   string
	EnabledEvents []EventType
	Enabled       bool
}

// EndpointPatch changes an endpoint; nil fields stay as they are.
type EndpointPatch struct {
	URL           *string
	Description   *string
	EnabledEvents *[]EventType
	Enabled       *bool
}

type endpointRow struct {
	Seq                     int64          `db:"seq"`
	ID                      string         `db:"id"`
	URL                     string         `db:"url"`
	Description             string         `db:"description"`
	EnabledEvents           pq.StringArray `db:"enabled_events"`
	Enabled                 bool           `db:"enabled"`
	Secret                  string         `db:"secret"`
	DisabledReason          sql.NullString `db:"disabled_reason"`
	FailingSince            *time.Time     `db:"failing_since"`
	PreviousSecretExpiresAt *time.Time     `db:"previous_secret_expires_at"`
	CreatedAt               time.Time      `db:"created_at"`
	UpdatedAt               time.Time      `db:"updated_at"`
}

const endpointCols = `seq, id, url, description, enabled_events, enabled, secret, disabled_reason,
	failing_since, previous_secret_expires_at, created_at, updated_at`

func (r endpointRow) endpoint(now time.Time) WebhookEndpoint {
	e := WebhookEndpoint{ID: r.ID, URL: r.URL, Description: r.Description, Enabled: r.Enabled,
		DisabledReason: r.DisabledReason.String, FailingSince: r.FailingSince,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, EnabledEvents: []EventType{}}
	if r.PreviousSecretExpiresAt != nil && r.PreviousSecretExpiresAt.After(now) {
		e.PreviousSecretExpiresAt = r.PreviousSecretExpiresAt
	}
	for _, t := range r.EnabledEvents {
		e.EnabledEvents = append(e.EnabledEvents, EventType(t))
	}
	return e
}

func eventArray(ts []EventType) pq.StringArray {
	a := make(pq.StringArray, 0, len(ts))
	for _, t := range ts {
		if !slices.Contains(a, string(t)) {
			a = append(a, string(t))
		}
	}
	return a
}

// checkEvents adds an error for each unknown type.
func checkEvents(ts []EventType, v *validation.Error) {
	for i, t := range ts {
		if !t.Known() {
			v.AddValue(fmt.Sprintf("enabled_events[%d]", i), string(t), "is not an event type")
		}
	}
}

// CreateEndpoint adds an endpoint and returns it with its signing secret. A
// *validation.Error names wrong fields (url, enabled_events[i]). With an idempotency
// key (idempotency.FromContext), the endpoint made earlier with the same key is
// answered instead of a second one.
func (s *Service) CreateEndpoint(ctx context.Context, merchantID int64, in EndpointInput, idemKey string) (WebhookEndpoint, string, error) {
	var v validation.Error
	if why := s.checkURL(ctx, in.URL); why != "" {
		v.AddValue("url", in.URL, "%s", why)
	}
	checkEvents(in.EnabledEvents, &v)
	if err := v.Err(); err != nil {
		return WebhookEndpoint{}, "", err
	}
	var key *string
	if idemKey != "" {
		key = &idemKey
		if e, secret, err := s.endpointByKey(ctx, merchantID, idemKey); err == nil {
			return e, secret, nil
		} else if !errors.Is(err, ErrNotFound) {
			return WebhookEndpoint{}, "", err
		}
	}
	now := s.stamp()
	var r endpointRow
	s.endpoints.Forget(merchantID) // here at once; every process at commit (a trigger's NOTIFY)
	// a concurrent request with the same key that won is answered (ON CONFLICT keeps
	// a caller's transaction usable)
	err := s.db.GetContext(ctx, &r, `INSERT INTO webhook_endpoints
		(merchant_id, id, url, description, enabled_events, enabled, secret, idempotency_key, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
		ON CONFLICT (merchant_id, idempotency_key) DO NOTHING RETURNING `+endpointCols,
		merchantID, newID("we_"), in.URL, in.Description, eventArray(in.EnabledEvents), in.Enabled, newSecret(), key, now)
	if key != nil && errors.Is(err, sql.ErrNoRows) {
		return s.endpointByKey(ctx, merchantID, idemKey)
	}
	if err != nil {
		return WebhookEndpoint{}, "", fmt.Errorf("notify: create endpoint: %w", err)
	}
	return r.endpoint(now), r.Secret, nil
}

func (s *Service) endpointByKey(ctx context.Context, merchantID int64, key string) (WebhookEndpoint, string, error) {
	var r endpointRow
	err := s.db.GetContext(ctx, &r, `SELECT `+endpointCols+` FROM webhook_endpoints
		WHERE merchant_id = $1 AND idempotency_key = $2`, merchantID, key)
	if errors.Is(err, sql.ErrNoRows) {
		return WebhookEndpoint{}, "", ErrNotFound
	}
	if err != nil {
		return WebhookEndpoint{}, "", fmt.Errorf("notify: endpoint by key: %w", err)
	}
	return r.endpoint(s.stamp()), r.Secret, nil
}

// Endpoints lists a merchant's endpoints, newest first: at most limit of them after
// the endpoint with ID after ("": from the start), and whether there are more. An
// endpoint that is not the merchant's (or no longer exists) is refused with
// cursor.Unknown.
func (s *Service) Endpoints(ctx context.Context, merchantID int64, after string, limit int) ([]WebhookEndpoint, bool, error) {
	if limit <= 0 {
		limit = 50
	}
	var key int64
	if after != "" {
		var err error
		if key, err = cursor.Resolve(ctx, s.db, `SELECT seq FROM webhook_endpoints WHERE merchant_id = $1 AND id = $2`, merchantID, after); err != nil {
			return nil, false, err
		}
	}
	var rows []endpointRow
	err := s.db.SelectContext(ctx, &rows, `SELECT `+endpointCols+` FROM webhook_endpoints
		WHERE merchant_id = $1 AND ($2::bigint = 0 OR seq < $2) ORDER BY seq DESC LIMIT $3`, merchantID, key, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("notify: list endpoints: %w", err)
	}
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	now := s.stamp()
	list := make([]WebhookEndpoint, len(rows))
	for i, r := range rows {
		list[i] = r.endpoint(now)
	}
	return list, more, nil
}

// Endpoint returns one endpoint of a merchant.
func (s *Service) Endpoint(ctx context.Context, merchantID int64, id string) (WebhookEndpoint, error) {
	var r endpointRow
	err := s.db.GetContext(ctx, &r, `SELECT `+endpointCols+` FROM webhook_endpoints
		WHERE merchant_id = $1 AND id = $2`, merchantID, id)
	if errors.Is(err, sql.ErrNoRows) {
		return WebhookEndpoint{}, ErrNotFound
	}
	if err != nil {
		return WebhookEndpoint{}, fmt.Errorf("notify: get endpoint: %w", err)
	}
	return r.endpoint(s.stamp()), nil
}

// UpdateEndpoint changes an endpoint. Enabling it clears its disabled reason and its
// failure streak; disabling it records actor as the reason. Deliveries parked while
// it was disabled stay parked until retried.
func (s *Service) UpdateEndpoint(ctx context.Context, merchantID int64, id string, p EndpointPatch, actor string) (WebhookEndpoint, error) {
	var v validation.Error
	if p.URL != nil {
		if why := s.checkURL(ctx, *p.URL); why != "" {
			v.AddValue("url", *p.URL, "%s", why)
		}
	}
	var events any
	if p.EnabledEvents != nil {
		checkEvents(*p.EnabledEvents, &v)
		events = eventArray(*p.EnabledEvents)
	}
	if err := v.Err(); err != nil {
		return WebhookEndpoint{}, err
	}
	now := s.stamp()
	var r endpointRow
	s.endpoints.Forget(merchantID) // here at once; every process at commit (a trigger's NOTIFY)
	err := s.db.GetContext(ctx, &r, `UPDATE webhook_endpoints SET
		url = coalesce($3, url),
		description = coalesce($4, description),
		enabled_events = coalesce($5, enabled_events),
		disabled_reason = CASE WHEN $6::boolean THEN NULL
			WHEN NOT $6::boolean AND enabled THEN $7 ELSE disabled_reason END,
		failing_since = CASE WHEN $6::boolean AND NOT enabled THEN NULL ELSE failing_since END,
		enabled = coalesce($6::boolean, enabled),
		updated_at = $8
		WHERE merchant_id = $1 AND id = $2 RETURNING `+endpointCols,
		merchantID, id, p.URL, p.Description, events, p.Enabled, "Disabled by "+actor+".", now)
	if errors.Is(err, sql.ErrNoRows) {
		return WebhookEndpoint{}, ErrNotFound
	}
	if err != nil {
		return WebhookEndpoint{}, fmt.Errorf("notify: update endpoint: %w", err)
	}
	return r.endpoint(now), nil
}

// DeleteEndpoint removes an endpoint with its deliveries and their attempts. Queued
// attempts find nothing to send.
func (s *Service) DeleteEndpoint(ctx context.Context, merchantID int64, id string) error {
	s.endpoints.Forget(merchantID) // here at once; every process at commit (a trigger's NOTIFY)
	res, err := s.db.ExecContext(ctx, `DELETE FROM webhook_endpoints WHERE merchant_id = $1 AND id = $2`, merchantID, id)
	if err != nil {
		return fmt.Errorf("notify: delete endpoint: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// RotateSecret gives an endpoint a new signing secret and returns it. For grace
// after the rotation the previous secret signs too (a second signature in the same
// header), so receivers can switch without losing events; grace 0 drops it at once.
func (s *Service) RotateSecret(ctx context.Context, merchantID int64, id string, grace time.Duration) (WebhookEndpoint, string, error) {
	if grace < 0 || grace > MaxRotationGrace {
		return WebhookEndpoint{}, "", fmt.Errorf("notify: rotation grace %s is outside 0 to %s", grace, MaxRotationGrace)
	}
	now := s.stamp()
	var expires *time.Time
	if grace > 0 {
		t := now.Add(grace)
		expires = &t
	}
	var r endpointRow
	err := s.db.GetContext(ctx, &r, `UPDATE webhook_endpoints SET
		previous_secret = CASE WHEN $4::timestamptz IS NULL THEN NULL ELSE secret END,
		previous_secret_expires_at = $4, secret = $3, updated_at = $5
		WHERE merchant_id = $1 AND id = $2 RETURNING `+endpointCols,
		merchantID, id, newSecret(), expires, now)
	if errors.Is(err, sql.ErrNoRows) {
		return WebhookEndpoint{}, "", ErrNotFound
	}
	if err != nil {
		return WebhookEndpoint{}, "", fmt.Errorf("notify: rotate secret: %w", err)
	}
	return r.endpoint(now), r.Secret, nil
}
