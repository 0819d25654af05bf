package notify

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/outbox"
)

// RetryWindow is how long a delivery is retried after its event: with Backoff's
// delays, about 16 attempts. After it the delivery is parked.
const RetryWindow = 72 * time.Hour

// UserAgent is sent with every webhook request.
const UserAgent = "Roundtrip-Webhooks/1"

const (
	// maxResponseRead bounds how much of an answer is read.
	maxResponseRead = 64 << 10
	// maxExcerpt bounds the part of it that is kept with the attempt.
	maxExcerpt = 1024
)

// Backoff is the delay before the next attempt after failures failed ones: 30 s
// doubling each time (1 min, 2, 4, … 8.5 h) up to 12 h, each up to a fifth shorter
// at random, so that deliveries failing together do not come back together.
func Backoff(failures int) time.Duration {
	d := 30 * time.Second << min(max(failures-1, 0), 20)
	d = min(d, 12*time.Hour)
	return d - rand.N(d/5+1)
}

// target is what one attempt needs, read in the job's transaction.
type target struct {
	Generation     int        `db:"generation"`
	CreatedAt      time.Time  `db:"created_at"`
	Attempts       int        `db:"attempts"`
	EndpointID     string     `db:"endpoint_id"`
	URL            string     `db:"url"`
	Enabled        bool       `db:"enabled"`
	Secret         string     `db:"secret"`
	PreviousSecret *string    `db:"previous_secret"`
	PreviousUntil  *time.Time `db:"previous_secret_expires_at"`
	EventID        string     `db:"event_id"`
	Payload        []byte     `db:"payload"`
}

// deliver is the JobDeliver handler: one attempt at one delivery. It runs in the
// transaction that holds the job's row lock, so no other replica attempts the same
// job meanwhile; the attempt's log, the delivery's new status and the next attempt's
// job commit together. A failed attempt is not a failed job: the job succeeds and
// schedules the next one, so that the attempt's log is kept.
func (s *Service) deliver(ctx context.Context, tx *sqlx.Tx, job outbox.Job) error {
	var p deliverJob
	if err := job.Decode(&p); err != nil {
		return err
	}
	if job.MerchantID == nil || p.DeliveryID == "" {
		return outbox.Permanent(fmt.Errorf("notify: job %d names no merchant or delivery", job.ID))
	}
	merchantID := *job.MerchantID
	var t target
	err := tx.GetContext(ctx, &t, `SELECT d.generation, d.created_at, d.attempts, e.id AS endpoint_id, e.url, e.enabled,
		e.secret, e.previous_secret, e.previous_secret_expires_at, v.id AS event_id, v.payload
		FROM webhook_deliveries d
		JOIN webhook_endpoints e ON e.merchant_id = d.merchant_id AND e.id = d.endpoint_id
		JOIN webhook_events v ON v.merchant_id = d.merchant_id AND v.id = d.event_id
		WHERE d.merchant_id = $1 AND d.id = $2`, merchantID, p.DeliveryID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // the endpoint was deleted, and its deliveries with it
	}
	if err != nil {
		return fmt.Errorf("notify: deliver %s: %w", p.DeliveryID, err)
	}
	if t.Generation != p.Generation {
		return nil // a manual retry replaced this job
	}
	now := s.stamp()
	if !t.Enabled {
		_, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET status = 'parked', next_attempt_at = NULL,
			last_error = 'The endpoint is disabled.', updated_at = $3
			WHERE merchant_id = $1 AND id = $2 AND generation = $4`, merchantID, p.DeliveryID, now, p.Generation)
		return err
	}
	var body bytes.Buffer
	if err := json.Compact(&body, t.Payload); err != nil {
		return outbox.Permanent(fmt.Errorf("notify: deliver %s: event payload: %w", p.DeliveryID, err))
	}
	secrets := []string{t.Secret}
	if t.PreviousSecret != nil && t.PreviousUntil != nil && t.PreviousUntil.After(now) {
		secrets = append(secrets, *t.PreviousSecret)
	}
	res := s.send(ctx, t.URL, t.EventID, body.Bytes(), secrets, now)
	if ctx.Err() != nil {
		// shutting down: the attempt is not recorded and the job runs again
		return ctx.Err()
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_delivery_attempts
		(merchant_id, delivery_id, at, status_code, latency_ms, response_excerpt, error)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, merchantID, p.DeliveryID, now, res.status,
		res.latency.Milliseconds(), res.excerpt, res.errText()); err != nil {
		return fmt.Errorf("notify: deliver %s: log attempt: %w", p.DeliveryID, err)
	}
	if res.ok() {
		return s.succeeded(ctx, tx, merchantID, p, t, res, now)
	}
	return s.failed(ctx, tx, merchantID, p, t, res, now)
}

func (s *Service) succeeded(ctx context.Context, tx *sqlx.Tx, merchantID int64, p deliverJob, t target, res result, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET status = 'succeeded', attempts = attempts + 1,
		next_attempt_at = NULL, last_attempt_at = $3, last_status_code = $4, last_error = NULL, updated_at = $3
		WHERE merchant_id = $1 AND id = $2 AND generation = $5`, merchantID, p.DeliveryID, now, res.status, p.Generation); err != nil {
		return fmt.Errorf("notify: deliver %s: %w", p.DeliveryID, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET failing_since = NULL
		WHERE merchant_id = $1 AND id = $2 AND failing_since IS NOT NULL`, merchantID, t.EndpointID); err != nil {
		return fmt.Errorf("notify: deliver %s: endpoint: %w", p.DeliveryID, err)
	}
	return nil
}

// failed records a failed attempt and schedules the next, or parks the delivery when
// the next would fall after its RetryWindow. An endpoint whose every attempt has
// failed from the first attempt of a delivery that is now parked (three days of
// failures, whatever was sent meanwhile) is disabled.
func (s *Service) failed(ctx context.Context, tx *sqlx.Tx, merchantID int64, p deliverJob, t target, res result, now time.Time) error {
	status, next := StatusFailed, now.Add(Backoff(t.Attempts+1))
	if next.After(t.CreatedAt.Add(RetryWindow)) {
		status = StatusParked
	}
	var nextAt *time.Time
	if status == StatusFailed {
		nextAt = &next
	}
	upd, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET status = $3, attempts = attempts + 1,
		next_attempt_at = $4, last_attempt_at = $5, last_status_code = $6, last_error = $7, updated_at = $5
		WHERE merchant_id = $1 AND id = $2 AND generation = $8`,
		merchantID, p.DeliveryID, status, nextAt, now, res.status, res.summary(), p.Generation)
	if err != nil {
		return fmt.Errorf("notify: deliver %s: %w", p.DeliveryID, err)
	}
	current, _ := upd.RowsAffected()
	if current == 1 && status == StatusFailed {
		if _, err := outbox.Enqueue(ctx, tx, outbox.Message{MerchantID: merchantID, Kind: JobDeliver, RunAt: next,
			Payload: p}); err != nil {
			return fmt.Errorf("notify: deliver %s: schedule: %w", p.DeliveryID, err)
		}
	}
	s.log.Info("webhook attempt failed", slog.Int64("merchant_id", merchantID), slog.String("delivery", p.DeliveryID),
		slog.String("endpoint", t.EndpointID), slog.Int("attempt", t.Attempts+1), slog.String("error", res.summary()),
		slog.String("status", string(status)))

	if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET failing_since = $3
		WHERE merchant_id = $1 AND id = $2 AND failing_since IS NULL`, merchantID, t.EndpointID, now); err != nil {
		return fmt.Errorf("notify: deliver %s: endpoint: %w", p.DeliveryID, err)
	}
	if current != 1 || status != StatusParked {
		return nil
	}
	var since *time.Time
	err = tx.GetContext(ctx, &since, `UPDATE webhook_endpoints e SET enabled = false, updated_at = $3,
		disabled_reason = 'Disabled automatically: every attempt since ' ||
			to_char(e.failing_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || ' failed (last: ' || $4::text ||
			'). Fix the receiver, then enable the endpoint again.'
		WHERE e.merchant_id = $1 AND e.id = $2 AND e.enabled AND e.failing_since <= (
			SELECT min(a.at) FROM webhook_delivery_attempts a WHERE a.merchant_id = $1 AND a.delivery_id = $5)
		RETURNING e.failing_since`, merchantID, t.EndpointID, now, res.summary(), p.DeliveryID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil // it succeeded at something since this delivery began
	case err != nil:
		return fmt.Errorf("notify: deliver %s: disable endpoint: %w", p.DeliveryID, err)
	}
	s.log.Warn("webhook endpoint disabled after failing continuously", slog.Int64("merchant_id", merchantID),
		slog.String("endpoint", t.EndpointID), slog.Time("failing_since", *since))
	return nil
}

// result is the outcome of one request.
type result struct {
	status  *int // nil: no answer
	latency time.Duration
	excerpt string
	err     error
}

func (r result) ok() bool {
	return r.err == nil && r.status != nil && *r.status >= 200 && *r.status < 300
}

// summary is the delivery's last_error: the HTTP status or what prevented one.
func (r result) summary() string {
	if r.err != nil {
		return *r.errText()
	}
	if r.status != nil {
		if r.ok() {
			return ""
		}
		return "HTTP " + strconv.Itoa(*r.status)
	}
	return ""
}

// errText is what the attempt log keeps of a failure to get an answer.
func (r result) errText() *string {
	if r.err == nil {
		return nil
	}
	msg := r.err.Error()
	if len(msg) > 500 {
		msg = strings.ToValidUTF8(msg[:500], "") + "…"
	}
	return &msg
}

// send POSTs one signed request and reads at most maxResponseRead of the answer.
func (s *Service) send(ctx context.Context, url, eventID string, body []byte, secrets []string, now time.Time) result {
	sig, err := Sign(eventID, now, body, secrets...)
	if err != nil {
		return result{err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return result{err: fmt.Errorf("the URL cannot be requested: %v", err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(HeaderID, eventID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderSignature, sig)
	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		return result{latency: time.Since(start), err: s.describe(err)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseRead))
	res := result{status: &resp.StatusCode, latency: time.Since(start), excerpt: excerpt(b)}
	if err != nil && res.ok() {
		// a 2xx whose body broke off still counts: the receiver said yes
		err = nil
	}
	if err != nil {
		res.err = fmt.Errorf("HTTP %d, then reading the answer failed: %v", resp.StatusCode, s.describe(err))
	}
	return res
}

// describe turns a client error into words for the attempt log.
func (s *Service) describe(err error) error {
	var addr *AddressError
	var nerr net.Error
	switch {
	case errors.As(err, &addr):
		return errors.New(strings.TrimPrefix(addr.Error(), "notify: "))
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &nerr) && nerr.Timeout():
		return fmt.Errorf("timed out after %s", s.opts.Timeout)
	}
	return err
}

// excerpt keeps the start of an answer: at most maxExcerpt bytes of valid UTF-8
// without NUL characters (which PostgreSQL text cannot hold).
func excerpt(b []byte) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	if len(s) <= maxExcerpt {
		return s
	}
	cut := maxExcerpt
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
