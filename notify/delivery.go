package notify

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/cursor"
	"github.com/roundtriphq/roundtrip/internal/db"
	"github.com/roundtriphq/roundtrip/internal/outbox"
)

// DeliveryStatus is where a delivery stands.
type DeliveryStatus string

const (
	// StatusPending: waiting for its first attempt, or for an attempt asked for by a
	// manual retry.
	StatusPending DeliveryStatus = "pending"
	// StatusSucceeded: the endpoint answered 2xx.
	StatusSucceeded DeliveryStatus = "succeeded"
	// StatusFailed: the last attempt failed; another is scheduled at next_attempt_at.
	StatusFailed DeliveryStatus = "failed"
	// StatusParked: no more automatic attempts, because the retries of RetryWindow
	// ran out or the endpoint is disabled. A manual retry sends it again.
	StatusParked DeliveryStatus = "parked"
)

// Statuses lists every status.
func Statuses() []DeliveryStatus {
	return []DeliveryStatus{StatusPending, StatusSucceeded, StatusFailed, StatusParked}
}

// WebhookDelivery is one event on its way to one endpoint.
type WebhookDelivery struct {
	ID             string         `json:"id" example:"wd_8c1v6b5n0z7p2r4t4f7k2m9q3x"`
	EndpointID     string         `json:"endpoint_id" example:"we_4f7k2m9q3x8c1v6b5n0z7p2r4t"`
	EventID        string         `json:"event_id" example:"evt_2k7q9m4x1c8v5b3n6z0p4r7t2w"`
	EventType      EventType      `json:"event_type"`
	Status         DeliveryStatus `json:"status" enum:"pending,succeeded,failed,parked" doc:"pending: waiting for an attempt; failed: the last attempt failed and another is scheduled at next_attempt_at; succeeded: the endpoint answered 2xx; parked: no more automatic attempts (retries ran out after three days, or the endpoint is disabled) until it is retried."`
	AttemptCount   int            `json:"attempt_count" doc:"Attempts made so far."`
	NextAttemptAt  *time.Time     `json:"next_attempt_at,omitempty" doc:"When the next automatic attempt is due."`
	LastAttemptAt  *time.Time     `json:"last_attempt_at,omitempty"`
	LastStatusCode *int           `json:"last_status_code,omitempty" doc:"The HTTP status of the last answer; absent when none came." example:"500"`
	LastError      string         `json:"last_error,omitempty" doc:"Why the last attempt failed." example:"HTTP 500"`
	CreatedAt      time.Time      `json:"created_at"`
	UpdatedAt      time.Time      `json:"updated_at"`
}

// WebhookAttempt is one try at delivering.
type WebhookAttempt struct {
	At              time.Time `json:"at"`
	StatusCode      *int      `json:"status_code,omitempty" doc:"The HTTP status of the answer; absent when none came (timeout, refused connection, refused address)." example:"200"`
	LatencyMS       int       `json:"latency_ms" doc:"From sending the request to reading the answer." example:"184"`
	ResponseExcerpt string    `json:"response_excerpt,omitempty" doc:"The start of the answer's body (at most 1 KB)." example:"{\"ok\":true}"`
	Error           string    `json:"error,omitempty" doc:"Why the attempt failed, when it did." example:"timed out after 10s"`
}

// WebhookDeliveryDetail is a delivery with its event and every attempt, oldest first.
type WebhookDeliveryDetail struct {
	WebhookDelivery
	Event    WebhookEvent     `json:"event" doc:"The event as it is sent, the request body."`
	Attempts []WebhookAttempt `json:"attempts"`
}

type deliveryRow struct {
	Seq            int64          `db:"seq"`
	ID             string         `db:"id"`
	EndpointID     string         `db:"endpoint_id"`
	EventID        string         `db:"event_id"`
	EventType      string         `db:"event_type"`
	Status         string         `db:"status"`
	Attempts       int            `db:"attempts"`
	NextAttemptAt  *time.Time     `db:"next_attempt_at"`
	LastAttemptAt  *time.Time     `db:"last_attempt_at"`
	LastStatusCode *int           `db:"last_status_code"`
	LastError      sql.NullString `db:"last_error"`
	CreatedAt      time.Time      `db:"created_at"`
	UpdatedAt      time.Time      `db:"updated_at"`
}

const deliveryCols = `d.seq, d.id, d.endpoint_id, d.event_id, v.type AS event_type, d.status, d.attempts,
	d.next_attempt_at, d.last_attempt_at, d.last_status_code, d.last_error, d.created_at, d.updated_at`

const deliveryFrom = ` FROM webhook_deliveries d
	JOIN webhook_events v ON v.merchant_id = d.merchant_id AND v.id = d.event_id`

func (r deliveryRow) delivery() WebhookDelivery {
	return WebhookDelivery{ID: r.ID, EndpointID: r.EndpointID, EventID: r.EventID, EventType: EventType(r.EventType),
		Status: DeliveryStatus(r.Status), AttemptCount: r.Attempts, NextAttemptAt: r.NextAttemptAt, LastAttemptAt: r.LastAttemptAt,
		LastStatusCode: r.LastStatusCode, LastError: r.LastError.String, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// DeliveryFilter selects deliveries; zero fields select everything.
type DeliveryFilter struct {
	EndpointID string
	EventID    string
	EventType  EventType
	Statuses   []DeliveryStatus
	// After is the cursor: the ID of the delivery the page goes on after (only older
	// ones); a delivery that is not the merchant's is refused with cursor.Unknown.
	After string
	Limit int
}

// Deliveries lists a merchant's deliveries, newest first, and whether there are more.
func (s *Service) Deliveries(ctx context.Context, merchantID int64, f DeliveryFilter) ([]WebhookDelivery, bool, error) {
	where := `d.merchant_id = $1`
	args := []any{merchantID}
	add := func(cond string, v any) {
		args = append(args, v)
		where += fmt.Sprintf(" AND "+cond, len(args))
	}
	if f.EndpointID != "" {
		add("d.endpoint_id = $%d", f.EndpointID)
	}
	if f.EventID != "" {
		add("d.event_id = $%d", f.EventID)
	}
	if f.EventType != "" {
		add("v.type = $%d", string(f.EventType))
	}
	if len(f.Statuses) > 0 {
		st := make([]string, len(f.Statuses))
		for i, x := range f.Statuses {
			st[i] = string(x)
		}
		add("d.status = ANY($%d)", db.Array(st))
	}
	if f.After != "" {
		key, err := cursor.Resolve(ctx, s.db, `SELECT seq FROM webhook_deliveries WHERE merchant_id = $1 AND id = $2`, merchantID, f.After)
		if err != nil {
			return nil, false, err
		}
		add("d.seq < $%d", key)
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	var rows []deliveryRow
	err := s.db.SelectContext(ctx, &rows, `SELECT `+deliveryCols+deliveryFrom+` WHERE `+where+
		fmt.Sprintf(` ORDER BY d.seq DESC LIMIT %d`, f.Limit+1), args...)
	if err != nil {
		return nil, false, fmt.Errorf("notify: list deliveries: %w", err)
	}
	more := len(rows) > f.Limit
	if more {
		rows = rows[:f.Limit]
	}
	list := make([]WebhookDelivery, len(rows))
	for i, r := range rows {
		list[i] = r.delivery()
	}
	return list, more, nil
}

// Delivery returns one delivery of a merchant with its event and attempts.
func (s *Service) Delivery(ctx context.Context, merchantID int64, id string) (WebhookDeliveryDetail, error) {
	var r struct {
		deliveryRow
		Payload []byte `db:"payload"`
		// the last attempt when it succeeded: it is not in the log (record)
		LastLatency *int           `db:"last_latency_ms"`
		LastExcerpt sql.NullString `db:"last_response_excerpt"`
	}
	err := s.db.GetContext(ctx, &r, `SELECT `+deliveryCols+`, v.payload, d.last_latency_ms, d.last_response_excerpt`+deliveryFrom+`
		WHERE d.merchant_id = $1 AND d.id = $2`, merchantID, id)
	if errors.Is(err, sql.ErrNoRows) {
		return WebhookDeliveryDetail{}, ErrNotFound
	}
	if err != nil {
		return WebhookDeliveryDetail{}, fmt.Errorf("notify: get delivery: %w", err)
	}
	out := WebhookDeliveryDetail{WebhookDelivery: r.delivery(), Attempts: []WebhookAttempt{}}
	if err := json.Unmarshal(r.Payload, &out.Event); err != nil {
		return WebhookDeliveryDetail{}, fmt.Errorf("notify: delivery %s: event payload: %w", id, err)
	}
	var attempts []struct {
		At         time.Time      `db:"at"`
		StatusCode *int           `db:"status_code"`
		LatencyMS  int            `db:"latency_ms"`
		Excerpt    string         `db:"response_excerpt"`
		Error      sql.NullString `db:"error"`
	}
	err = s.db.SelectContext(ctx, &attempts, `SELECT at, status_code, latency_ms, response_excerpt, error
		FROM webhook_delivery_attempts WHERE merchant_id = $1 AND delivery_id = $2 ORDER BY id`, merchantID, id)
	if err != nil {
		return WebhookDeliveryDetail{}, fmt.Errorf("notify: delivery %s: attempts: %w", id, err)
	}
	for _, a := range attempts {
		out.Attempts = append(out.Attempts, WebhookAttempt{At: a.At, StatusCode: a.StatusCode, LatencyMS: a.LatencyMS,
			ResponseExcerpt: a.Excerpt, Error: a.Error.String})
	}
	if r.LastLatency != nil && r.LastAttemptAt != nil {
		out.Attempts = append(out.Attempts, WebhookAttempt{At: *r.LastAttemptAt, StatusCode: r.LastStatusCode,
			LatencyMS: *r.LastLatency, ResponseExcerpt: r.LastExcerpt.String})
	}
	return out, nil
}

// RetryDelivery queues an attempt of a delivery now, whatever its status: a parked
// or failed delivery is tried again, a succeeded one is sent again. Attempts already
// scheduled for it are dropped. If the attempt fails, automatic retries continue only
// while the delivery is within RetryWindow of its event. It returns
// ErrEndpointDisabled when the endpoint is disabled.
func (s *Service) RetryDelivery(ctx context.Context, merchantID int64, id string) (WebhookDelivery, error) {
	var r deliveryRow
	err := db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var enabled bool
		err := tx.GetContext(ctx, &enabled, `SELECT e.enabled FROM webhook_deliveries d
			JOIN webhook_endpoints e ON e.merchant_id = d.merchant_id AND e.id = d.endpoint_id
			WHERE d.merchant_id = $1 AND d.id = $2 FOR UPDATE OF d`, merchantID, id)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if !enabled {
			return ErrEndpointDisabled
		}
		now := s.stamp()
		var gen int
		// a last attempt that succeeded moves into the log, so that the retry's own
		// attempt does not replace it on the row
		err = tx.GetContext(ctx, &gen, `WITH logged AS (
				INSERT INTO webhook_delivery_attempts (merchant_id, delivery_id, at, status_code, latency_ms, response_excerpt)
				SELECT merchant_id, id, last_attempt_at, last_status_code, last_latency_ms, coalesce(last_response_excerpt, '')
				FROM webhook_deliveries WHERE merchant_id = $1 AND id = $2 AND last_latency_ms IS NOT NULL AND last_attempt_at IS NOT NULL)
			UPDATE webhook_deliveries SET status = 'pending', generation = generation + 1, next_attempt_at = $3, updated_at = $3,
				last_latency_ms = NULL, last_response_excerpt = NULL
			WHERE merchant_id = $1 AND id = $2 RETURNING generation`, merchantID, id, now)
		if err != nil {
			return err
		}
		if _, err := outbox.Enqueue(ctx, tx, outbox.Message{MerchantID: merchantID, Kind: JobDeliver,
			Payload: deliverJob{Deliveries: []deliveryRef{{ID: id, Generation: gen}}}}); err != nil {
			return err
		}
		return tx.GetContext(ctx, &r, `SELECT `+deliveryCols+deliveryFrom+` WHERE d.merchant_id = $1 AND d.id = $2`,
			merchantID, id)
	})
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrEndpointDisabled):
		return WebhookDelivery{}, err
	case err != nil:
		return WebhookDelivery{}, fmt.Errorf("notify: retry delivery: %w", err)
	}
	return r.delivery(), nil
}
