package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/roundtriphq/roundtrip/internal/smtptest"
)

// sinks are what the shop and the shopper run during a load run: a webhook receiver
// that verifies every delivery with the Standard Webhooks reference library, and an
// SMTP server that accepts every email. Both note when each arrived.
type sinks struct {
	hooks *httptest.Server
	smtp  *smtptest.Server
	wh    atomic.Pointer[standardwebhooks.Webhook]

	mu       sync.Mutex
	hookAt   map[string]hookSeen // by event ID
	hookDups int
	hookBad  int
	mailAt   map[int64]time.Time // email ID → accepted
	mailDups int
}

// hookSeen is when an event was made (its created_at) and received.
type hookSeen struct{ created, received time.Time }

// Deliveries is what the sinks saw.
type Deliveries struct {
	Webhooks        int             // distinct events received
	WebhookDups     int             // events received again (at-least-once redelivery)
	WebhookBad      int             // deliveries the reference library refused
	WebhookExpected int             // deliveries the database holds
	WebhookLatency  []time.Duration // change (event created_at) → received, for the changes measured (tally)
	Emails          int             // distinct emails accepted
	EmailDups       int
	EmailExpected   int             // email rows
	EmailLatency    []time.Duration // for the changes measured, as WebhookLatency
	BacklogMax      int             // most due delivery and email jobs seen waiting during the run
	BacklogEnd      int             // at the end of the lifecycles
}

var messageID = regexp.MustCompile(`(?mi)^Message-ID: <email-(\d+)\.`)

func startSinks() (*sinks, error) {
	s := &sinks{hookAt: map[string]hookSeen{}, mailAt: map[int64]time.Time{}}
	s.hooks = httptest.NewServer(http.HandlerFunc(s.receive))
	var err error
	s.smtp, err = smtptest.Start(smtptest.Options{Discard: true, OnMessage: func(m smtptest.Message) {
		match := messageID.FindSubmatch(m.Data)
		if match == nil {
			return
		}
		id, _ := strconv.ParseInt(string(match[1]), 10, 64)
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.mailAt[id]; ok {
			s.mailDups++
			return
		}
		s.mailAt[id] = m.At
	}})
	if err != nil {
		s.hooks.Close()
		return nil, err
	}
	return s, nil
}

func (s *sinks) close() {
	s.hooks.Close()
	s.smtp.Close()
}

func (s *sinks) receive(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	wh := s.wh.Load()
	if err != nil || wh == nil || wh.Verify(body, r.Header) != nil {
		s.mu.Lock()
		s.hookBad++
		s.mu.Unlock()
		http.Error(w, "bad signature", http.StatusBadRequest)
		return
	}
	var ev struct {
		ID        string    `json:"id"`
		CreatedAt time.Time `json:"created_at"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	if _, ok := s.hookAt[ev.ID]; ok {
		s.hookDups++
	} else {
		s.hookAt[ev.ID] = hookSeen{created: ev.CreatedAt, received: at}
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// register makes the receiver the shop's endpoint for every event type.
func (s *sinks) register(ctx context.Context, base, adminKey string) error {
	body, _ := json.Marshal(map[string]any{"url": s.hooks.URL + "/roundtrip", "description": "load run"})
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/v1/webhook-endpoints", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+adminKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var ep struct {
		Secret string `json:"secret"`
	}
	if err := json.NewDecoder(res.Body).Decode(&ep); err != nil || res.StatusCode != http.StatusCreated {
		return fmt.Errorf("loadgen: webhook endpoint: %d %v", res.StatusCode, err)
	}
	wh, err := standardwebhooks.NewWebhook(ep.Secret)
	if err != nil {
		return err
	}
	s.wh.Store(wh)
	return nil
}

// backlog counts the delivery and email jobs that are due and not done.
func backlog(ctx context.Context, d *sqlx.DB) (int, error) {
	var n int
	err := d.GetContext(ctx, &n, `SELECT count(*) FROM outbox
		WHERE state = 'pending' AND run_at <= now() AND kind IN ('webhook.deliver', 'email.send')`)
	return n, err
}

// waitDelivered waits until no delivery or email job is pending, for at most a minute.
func waitDelivered(ctx context.Context, d *sqlx.DB) error {
	deadline := time.Now().Add(time.Minute)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for time.Now().Before(deadline) {
		var n int
		if err := d.GetContext(ctx, &n, `SELECT count(*) FROM outbox WHERE state = 'pending' AND kind IN ('webhook.deliver', 'email.send')`); err == nil && n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return fmt.Errorf("webhooks or emails still pending after a minute")
}

// tally fills what the sinks saw, with the email latencies measured from each
// email's row (written in the change's transaction). The counts are the whole run's
// (every delivery must arrive); the latencies are those of the changes made at or
// after measured, so that a warm-up's, run as fast as its concurrency allows, are not
// in those of a run measured at a fixed rate.
func (s *sinks) tally(ctx context.Context, d *sqlx.DB, measured time.Time, out *Deliveries) error {
	if err := d.GetContext(ctx, &out.WebhookExpected, `SELECT count(*) FROM webhook_deliveries`); err != nil {
		return err
	}
	var rows []struct {
		ID        int64     `db:"id"`
		CreatedAt time.Time `db:"created_at"`
	}
	if err := d.SelectContext(ctx, &rows, `SELECT id, created_at FROM email_messages`); err != nil {
		return err
	}
	out.EmailExpected = len(rows)
	s.mu.Lock()
	defer s.mu.Unlock()
	out.Webhooks, out.WebhookDups, out.WebhookBad = len(s.hookAt), s.hookDups, s.hookBad
	for _, h := range s.hookAt {
		if !h.created.Before(measured) {
			out.WebhookLatency = append(out.WebhookLatency, h.received.Sub(h.created))
		}
	}
	out.Emails, out.EmailDups = len(s.mailAt), s.mailDups
	for _, r := range rows {
		if at, ok := s.mailAt[r.ID]; ok && !r.CreatedAt.Before(measured) {
			out.EmailLatency = append(out.EmailLatency, at.Sub(r.CreatedAt))
		}
	}
	return nil
}
