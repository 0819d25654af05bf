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
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
	"github.com/roundtriphq/roundtrip/internal/db"

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

// target is what one attempt needs: readTargets reads it, as a JSON list per job, in
// the statement that claims the job. It is read as rows (db.UnmarshalRows): each
// column decoded alone, the event's payload sliced out as it is, not scanned a first
// time for a JSON check and a second to copy it (json.Compact checks it as it
// compacts the body).
type target struct {
	ID             string     `db:"id"`
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

// readTargets is the delivery job's outbox.Batch.Read: the targets of the deliveries
// the job o names (a delivery deleted with its endpoint is missing).
//
// Each delivery is looked up by its primary key in a LATERAL subquery with a LIMIT,
// which the planner cannot flatten into a join. As a plain join, with the planner's
// estimate of 100 refs and statistics from when the tables were small, it read every
// delivery of the endpoint into a hash table for each job: a claim cost grew with the
// deliveries ever made (17 ms each after 7,000, most of PostgreSQL's time in a load
// run).
const readTargets = `SELECT json_agg(json_build_object('id', d.id, 'generation', d.generation, 'created_at', d.created_at,
		'attempts', d.attempts, 'endpoint_id', e.id, 'url', e.url, 'enabled', e.enabled, 'secret', e.secret,
		'previous_secret', e.previous_secret, 'previous_secret_expires_at', e.previous_secret_expires_at,
		'event_id', v.id, 'payload', v.payload) ORDER BY r.n)
	FROM jsonb_array_elements(coalesce(o.payload->'deliveries', jsonb_build_array(jsonb_build_object('id', o.payload->'delivery_id'))))
		WITH ORDINALITY AS r(ref, n)
	CROSS JOIN LATERAL (SELECT d.* FROM webhook_deliveries d WHERE d.merchant_id = o.merchant_id AND d.id = r.ref->>'id' LIMIT 1) d
	CROSS JOIN LATERAL (SELECT e.* FROM webhook_endpoints e WHERE e.merchant_id = d.merchant_id AND e.id = d.endpoint_id LIMIT 1) e
	CROSS JOIN LATERAL (SELECT v.* FROM webhook_events v WHERE v.merchant_id = d.merchant_id AND v.id = d.event_id LIMIT 1) v`

// attempt is one delivery's part in a batch.
type attempt struct {
	job      int // index of its job in the batch
	merchant int64
	ref      deliveryRef
	t        target
	body     []byte
	now      time.Time
	res      result
	sent     bool // false: the endpoint is disabled, the delivery is parked unsent
	// what the attempt makes of the delivery
	status DeliveryStatus
	next   *time.Time
}

// maxParallel bounds the requests one batch has in flight.
const maxParallel = 8

// deliver is the JobDeliver handler: one attempt at each delivery its jobs name. It
// runs in the transaction that holds the jobs' row locks, so no other replica
// attempts the same deliveries meanwhile. The deliveries were read by the claim
// (readTargets), their requests go out side by side, and the attempts' log, the deliveries' new
// status and the endpoints' failure streaks are written in one statement, with the
// next attempts' jobs, committing with the jobs. A failed attempt is not a failed job:
// the job succeeds and schedules the next attempt, so that the attempt's log is kept.
func (s *Service) deliver(ctx context.Context, tx *sqlx.Tx, jobs []outbox.Job) ([]error, error) {
	errs := make([]error, len(jobs))
	var list []*attempt
	seen := map[string]bool{}
	for i, job := range jobs {
		var p deliverJob
		if err := job.Decode(&p); err != nil {
			errs[i] = err
			continue
		}
		if job.MerchantID == nil || len(p.refs()) == 0 {
			errs[i] = outbox.Permanent(fmt.Errorf("notify: job %d names no merchant or delivery", job.ID))
			continue
		}
		for _, r := range p.refs() {
			key := fmt.Sprintf("%d/%s/%d", *job.MerchantID, r.ID, r.Generation)
			if seen[key] {
				continue // two jobs for one attempt: one does
			}
			seen[key] = true
			list = append(list, &attempt{job: i, merchant: *job.MerchantID, ref: r})
		}
	}
	if len(list) == 0 {
		return errs, nil
	}
	targets := make([]map[string]target, len(jobs))
	for i, job := range jobs {
		var ts []target
		if len(job.Read) > 0 {
			if err := db.UnmarshalRows(job.Read, &ts); err != nil {
				return nil, fmt.Errorf("notify: deliver: job %d: targets: %w", job.ID, err)
			}
		}
		targets[i] = map[string]target{}
		for _, t := range ts {
			targets[i][t.ID] = t
		}
	}
	var todo []*attempt
	for _, a := range list {
		t, found := targets[a.job][a.ref.ID]
		// a delivery not found was deleted with its endpoint; one of another
		// generation was replaced by a manual retry
		if !found || t.Generation != a.ref.Generation || errs[a.job] != nil {
			continue
		}
		a.t = t
		if !t.Enabled {
			a.status = StatusParked
			todo = append(todo, a)
			continue
		}
		var body bytes.Buffer
		if err := json.Compact(&body, t.Payload); err != nil {
			errs[a.job] = outbox.Permanent(fmt.Errorf("notify: deliver %s: event payload: %w", a.ref.ID, err))
			continue
		}
		a.body, a.sent = body.Bytes(), true
		todo = append(todo, a)
	}
	// a job that failed writes nothing, for any of its deliveries
	todo = slices.DeleteFunc(todo, func(a *attempt) bool { return errs[a.job] != nil })

	var wg sync.WaitGroup
	slots := make(chan struct{}, maxParallel)
	for _, a := range todo {
		if !a.sent {
			a.now = s.stamp()
			continue
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			a.now = s.stamp()
			secrets := []string{a.t.Secret}
			if a.t.PreviousSecret != nil && a.t.PreviousUntil != nil && a.t.PreviousUntil.After(a.now) {
				secrets = append(secrets, *a.t.PreviousSecret)
			}
			a.res = s.send(ctx, a.t.URL, a.t.EventID, a.body, secrets, a.now)
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		// shutting down: no attempt is recorded and the jobs run again
		return nil, ctx.Err()
	}
	if len(todo) == 0 {
		return errs, nil
	}
	return errs, s.record(ctx, tx, todo)
}

// recordAttemptsSQL is record's statement: the failed attempts into the log, the
// endpoints' failing streaks, and the deliveries' rows, each from its batch of
// arrays (db.Unnest, so that a connection keeps its plan).
var recordAttemptsSQL = `WITH attempt AS (
			INSERT INTO webhook_delivery_attempts (merchant_id, delivery_id, at, status_code, latency_ms, response_excerpt, error)
			SELECT x.* FROM ` + db.Unnest("$1::bigint[]", "$2::text[]", "$3::timestamptz[]", "$4::int[]", "$5::int[]", "$6::text[]", "$7::text[]") + `
				AS x(merchant_id, delivery_id, at, status_code, latency_ms, response_excerpt, error)
			WHERE EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.merchant_id = x.merchant_id AND d.id = x.delivery_id)),
		streak AS (
			UPDATE webhook_endpoints e SET failing_since = CASE WHEN y.reset THEN y.fail_at ELSE coalesce(e.failing_since, y.fail_at) END
			FROM ` + db.Unnest("$8::bigint[]", "$9::text[]", "$10::bool[]", "$11::timestamptz[]") + ` AS y(merchant_id, id, reset, fail_at)
			WHERE e.merchant_id = y.merchant_id AND e.id = y.id
				AND e.failing_since IS DISTINCT FROM (CASE WHEN y.reset THEN y.fail_at ELSE coalesce(e.failing_since, y.fail_at) END))
		UPDATE webhook_deliveries d SET status = z.status, attempts = d.attempts + z.inc, next_attempt_at = z.next_at,
			last_attempt_at = CASE WHEN z.inc = 1 THEN z.at ELSE d.last_attempt_at END,
			last_status_code = CASE WHEN z.inc = 1 THEN z.code ELSE d.last_status_code END,
			last_latency_ms = CASE WHEN z.inc = 1 THEN z.latency ELSE d.last_latency_ms END,
			last_response_excerpt = CASE WHEN z.inc = 1 THEN z.excerpt ELSE d.last_response_excerpt END,
			last_error = z.err, updated_at = z.now
		FROM ` + db.Unnest("$12::bigint[]", "$13::text[]", "$14::int[]", "$15::text[]", "$16::int[]", "$17::timestamptz[]", "$18::timestamptz[]",
	"$19::int[]", "$20::text[]", "$21::timestamptz[]", "$22::int[]", "$23::text[]") + `
			AS z(merchant_id, id, generation, status, inc, next_at, at, code, err, now, latency, excerpt)
		WHERE d.merchant_id = z.merchant_id AND d.id = z.id AND d.generation = z.generation
		RETURNING d.id`

// record writes what the attempts made of their deliveries, in one statement (failed
// attempts into the log, a succeeded one on its delivery's row), then
// the next attempts' jobs and, for a delivery parked after its last attempt failed,
// the check that disables a continuously failing endpoint.
func (s *Service) record(ctx context.Context, tx *sqlx.Tx, todo []*attempt) error {
	var (
		aMerchant, dMerchant []int64
		aDelivery, dDelivery []string
		aAt                  []string
		aCode, dCode         []sql.NullInt64
		aLatency             []int64
		aExcerpt             []string
		aErr, dErr           []sql.NullString
		dGen, dInc           []int64
		dStatus              []string
		dNext, dAt           []sql.NullString
		dNow                 []string
		dLatency             []sql.NullInt64
		dExcerpt             []sql.NullString
		streaks              = map[string]*streak{}
		eMerchant            []int64
		eID                  []string
		eReset               []bool
		eFailAt              []sql.NullString
		rfc                  = func(t time.Time) string { return t.Format(time.RFC3339Nano) }
		nullTime             = func(t *time.Time) sql.NullString {
			if t == nil {
				return sql.NullString{}
			}
			return sql.NullString{String: rfc(*t), Valid: true}
		}
	)
	// in the order they were made, so that an endpoint's streak is its last word
	slices.SortStableFunc(todo, func(a, b *attempt) int { return a.now.Compare(b.now) })
	for _, a := range todo {
		dMerchant, dDelivery, dGen, dNow = append(dMerchant, a.merchant), append(dDelivery, a.ref.ID), append(dGen, int64(a.ref.Generation)), append(dNow, rfc(a.now))
		if !a.sent {
			dStatus, dInc = append(dStatus, string(StatusParked)), append(dInc, 0)
			dNext, dAt, dCode = append(dNext, sql.NullString{}), append(dAt, sql.NullString{}), append(dCode, sql.NullInt64{})
			dErr = append(dErr, sql.NullString{String: "The endpoint is disabled.", Valid: true})
			dLatency, dExcerpt = append(dLatency, sql.NullInt64{}), append(dExcerpt, sql.NullString{})
			continue
		}
		code := sql.NullInt64{}
		if a.res.status != nil {
			code = sql.NullInt64{Int64: int64(*a.res.status), Valid: true}
		}
		// a failed attempt goes into the log; one that succeeded stays on the
		// delivery's row (last_latency_ms, last_response_excerpt), since most do
		latency, excerpt := sql.NullInt64{}, sql.NullString{}
		if a.res.ok() {
			latency = sql.NullInt64{Int64: a.res.latency.Milliseconds(), Valid: true}
			excerpt = sql.NullString{String: a.res.excerpt, Valid: true}
		} else {
			aMerchant, aDelivery, aAt, aCode = append(aMerchant, a.merchant), append(aDelivery, a.ref.ID), append(aAt, rfc(a.now)), append(aCode, code)
			aLatency, aExcerpt = append(aLatency, a.res.latency.Milliseconds()), append(aExcerpt, a.res.excerpt)
			errText := sql.NullString{}
			if e := a.res.errText(); e != nil {
				errText = sql.NullString{String: *e, Valid: true}
			}
			aErr = append(aErr, errText)
		}
		dLatency, dExcerpt = append(dLatency, latency), append(dExcerpt, excerpt)

		key := fmt.Sprintf("%d/%s", a.merchant, a.t.EndpointID)
		st := streaks[key]
		if st == nil {
			st = &streak{merchant: a.merchant, endpoint: a.t.EndpointID}
			streaks[key] = st
			eMerchant, eID = append(eMerchant, a.merchant), append(eID, a.t.EndpointID)
		}
		a.status = StatusSucceeded
		if a.res.ok() {
			st.reset, st.failAt = true, nil
		} else {
			a.status = StatusFailed
			next := a.now.Add(Backoff(a.t.Attempts + 1))
			if next.After(a.t.CreatedAt.Add(RetryWindow)) {
				a.status = StatusParked
			} else {
				a.next = &next
			}
			if st.failAt == nil {
				st.failAt = &a.now
			}
		}
		var last sql.NullString
		if !a.res.ok() {
			last = sql.NullString{String: a.res.summary(), Valid: true}
		}
		dStatus, dInc, dNext, dAt = append(dStatus, string(a.status)), append(dInc, 1), append(dNext, nullTime(a.next)), append(dAt, sql.NullString{String: rfc(a.now), Valid: true})
		dCode, dErr = append(dCode, code), append(dErr, last)
	}
	for i := range eID {
		st := streaks[fmt.Sprintf("%d/%s", eMerchant[i], eID[i])]
		eReset, eFailAt = append(eReset, st.reset), append(eFailAt, nullTime(st.failAt))
	}
	var current []string
	err := tx.SelectContext(ctx, &current, recordAttemptsSQL,
		db.Array(aMerchant), db.Array(aDelivery), db.Array(aAt), db.Array(aCode), db.Array(aLatency), db.Array(aExcerpt), db.Array(aErr),
		db.Array(eMerchant), db.Array(eID), db.Array(eReset), db.Array(eFailAt),
		db.Array(dMerchant), db.Array(dDelivery), db.Array(dGen), db.Array(dStatus), db.Array(dInc), db.Array(dNext), db.Array(dAt),
		db.Array(dCode), db.Array(dErr), db.Array(dNow), db.Array(dLatency), db.Array(dExcerpt))
	if err != nil {
		return fmt.Errorf("notify: deliver: record: %w", err)
	}
	// the deliveries a manual retry did not replace meanwhile
	isCurrent := map[string]bool{}
	for _, id := range current {
		isCurrent[id] = true
	}
	var next []outbox.Message
	var parked []*attempt
	for _, a := range todo {
		if !a.sent || a.res.ok() {
			continue
		}
		s.log.Info("webhook attempt failed", slog.Int64("merchant_id", a.merchant), slog.String("delivery", a.ref.ID),
			slog.String("endpoint", a.t.EndpointID), slog.Int("attempt", a.t.Attempts+1), slog.String("error", a.res.summary()),
			slog.String("status", string(a.status)))
		if !isCurrent[a.ref.ID] {
			continue
		}
		if a.status == StatusFailed {
			next = append(next, outbox.Message{MerchantID: a.merchant, Kind: JobDeliver, RunAt: *a.next,
				Payload: deliverJob{Deliveries: []deliveryRef{a.ref}}})
		} else {
			parked = append(parked, a)
		}
	}
	if _, err := outbox.Enqueue(ctx, tx, next...); err != nil {
		return fmt.Errorf("notify: deliver: schedule: %w", err)
	}
	for _, a := range parked {
		if err := s.disableIfFailing(ctx, tx, a); err != nil {
			return err
		}
	}
	return nil
}

// streak is what a batch's attempts make of an endpoint's failing_since: reset, it
// becomes failAt (the first failure after the last success, or none); otherwise a
// failure sets it when it is not set.
type streak struct {
	merchant int64
	endpoint string
	reset    bool
	failAt   *time.Time
}

// disableIfFailing disables the endpoint of a delivery parked after its last attempt
// failed when every attempt at the endpoint has failed from the first attempt of that
// delivery on (three days of failures, whatever was sent meanwhile).
func (s *Service) disableIfFailing(ctx context.Context, tx *sqlx.Tx, a *attempt) error {
	var since *time.Time
	err := tx.GetContext(ctx, &since, `UPDATE webhook_endpoints e SET enabled = false, updated_at = $3,
		disabled_reason = 'Disabled automatically: every attempt since ' ||
			to_char(e.failing_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || ' failed (last: ' || $4::text ||
			'). Fix the receiver, then enable the endpoint again.'
		WHERE e.merchant_id = $1 AND e.id = $2 AND e.enabled AND e.failing_since <= (
			SELECT min(a.at) FROM webhook_delivery_attempts a WHERE a.merchant_id = $1 AND a.delivery_id = $5)
		RETURNING e.failing_since`, a.merchant, a.t.EndpointID, a.now, a.res.summary(), a.ref.ID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil // it succeeded at something since this delivery began
	case err != nil:
		return fmt.Errorf("notify: deliver %s: disable endpoint: %w", a.ref.ID, err)
	}
	s.log.Warn("webhook endpoint disabled after failing continuously", slog.Int64("merchant_id", a.merchant),
		slog.String("endpoint", a.t.EndpointID), slog.Time("failing_since", *since))
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
