package fakestripe

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Event is a webhook event as the fake recorded it.
type Event struct {
	ID      string
	Type    string
	Created time.Time
	// Payload is the JSON body that is sent, the same bytes at every delivery
	// (the signature is computed afresh each time).
	Payload []byte
	// Attempts counts delivery attempts; Delivered is true once one got a 2xx.
	Attempts  int
	Delivered bool
}

type event struct {
	Event
}

// ErrClosed is returned by Drain and Redeliver once the server is closed.
var ErrClosed = errors.New("fakestripe: server closed")

// Events returns every event recorded, oldest first.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Event, len(s.events))
	for i, ev := range s.events {
		out[i] = ev.Event
		out[i].Payload = bytes.Clone(ev.Payload)
	}
	return out
}

// Redeliver sends the recorded event id to Options.WebhookURL once more, now,
// with a fresh signature and the same event ID and payload, as Stripe does
// when it retries. Use it to send duplicates, or with DeliverManual to send
// events in any order. It returns an error when the endpoint does not answer
// 2xx.
func (s *Server) Redeliver(ctx context.Context, id string) error {
	var ev *event
	s.mu.Lock()
	for _, e := range s.events {
		if e.ID == id {
			ev = e
		}
	}
	s.mu.Unlock()
	switch {
	case ev == nil:
		return fmt.Errorf("fakestripe: no event %s", id)
	case s.opts.WebhookURL == "":
		return errors.New("fakestripe: no WebhookURL to deliver to")
	case s.ctx.Err() != nil:
		return ErrClosed
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	return s.deliver(ctx, ev)
}

// Drain waits until every event sent automatically so far (DeliverSync or
// DeliverAsync) has been delivered or given up on. An API call returns to its
// client before the webhooks it caused are sent: call Drain before looking at
// what the webhook endpoint received.
func (s *Server) Drain(ctx context.Context) error {
	for {
		s.mu.Lock()
		if s.pending == 0 {
			s.mu.Unlock()
			return nil
		}
		idle := s.idle
		s.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closing:
			return ErrClosed
		}
	}
}

// emit records an event of type typ about obj. s.mu is held; c is the request
// that caused it, nil for none.
func (s *Server) emit(c *call, typ string, obj any, prev map[string]any) *event {
	ev := &event{Event: Event{ID: newID("evt"), Type: typ, Created: s.opts.Now()}}
	req := map[string]any{"id": nil, "idempotency_key": nil}
	if c != nil {
		req["id"] = c.reqID
		if c.key != "" {
			req["idempotency_key"] = c.key
		}
	}
	data := map[string]any{"object": obj}
	if prev != nil {
		data["previous_attributes"] = prev
	}
	pending := 0
	if s.opts.WebhookURL != "" {
		pending = 1
	}
	// Indented, as Stripe sends it: a handler that re-encodes the JSON before
	// checking the signature fails here as it would in production.
	payload, err := json.MarshalIndent(map[string]any{
		"id":               ev.ID,
		"object":           "event",
		"api_version":      s.opts.APIVersion,
		"created":          ev.Created.Unix(),
		"data":             data,
		"livemode":         false,
		"pending_webhooks": pending,
		"request":          req,
		"type":             typ,
	}, "", "  ")
	if err != nil {
		panic("fakestripe: " + err.Error()) // only our own maps are marshalled
	}
	ev.Payload = payload
	s.events = append(s.events, ev)
	return ev
}

// dispatch sends events now (DeliverSync) or queues them (DeliverAsync).
func (s *Server) dispatch(evs []*event) {
	s.send(s.reserve(evs))
}

// reserve counts the events that will be sent automatically as pending, so
// that Drain waits for them, and returns them. It is called before the answer
// that caused them is written.
func (s *Server) reserve(evs []*event) []*event {
	if len(evs) == 0 || s.opts.WebhookURL == "" || s.opts.Delivery == DeliverManual {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	if s.pending == 0 {
		s.idle = make(chan struct{})
	}
	s.pending += len(evs)
	return evs
}

// send delivers or queues reserved events.
func (s *Server) send(evs []*event) {
	for _, ev := range evs {
		if s.opts.Delivery == DeliverSync {
			s.deliverWithRetries(ev)
			s.sent()
			continue
		}
		select {
		case s.queue <- ev:
		default:
			s.sent() // queue full: recorded, not sent (Redeliver can)
		}
	}
}

// sent marks one reserved event as done with.
func (s *Server) sent() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending--
	if s.pending == 0 {
		close(s.idle)
	}
}

// deliverQueued is a DeliverAsync worker.
func (s *Server) deliverQueued() {
	defer s.bg.Done()
	for {
		select {
		case <-s.closing:
			return
		case ev := <-s.queue:
			s.deliverWithRetries(ev)
			s.sent()
		}
	}
}

func (s *Server) deliverWithRetries(ev *event) {
	wait := s.opts.WebhookBackoff
	for attempt := 1; ; attempt++ {
		if s.deliver(s.ctx, ev) == nil || attempt >= s.opts.WebhookAttempts {
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.closing:
			t.Stop()
			return
		}
		wait *= 2
	}
}

// deliver makes one delivery attempt.
func (s *Server) deliver(ctx context.Context, ev *event) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.opts.WebhookURL, bytes.NewReader(ev.Payload))
	if err != nil {
		return fmt.Errorf("fakestripe: webhook %s: %w", ev.ID, err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
	// Signed with the real time, not Options.Now, so that receivers' tolerance
	// checks pass whatever clock the test gives the fake.
	req.Header.Set("Stripe-Signature", Signature(time.Now(), ev.Payload, s.opts.WebhookSecret))

	resp, err := s.opts.WebhookClient.Do(req)
	ok := err == nil && resp.StatusCode/100 == 2
	s.mu.Lock()
	ev.Attempts++
	if ok {
		ev.Delivered = true
	}
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("fakestripe: webhook %s: %w", ev.ID, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	_ = resp.Body.Close()
	if !ok {
		return fmt.Errorf("fakestripe: webhook %s: endpoint answered %s", ev.ID, resp.Status)
	}
	return nil
}

// Signature returns the Stripe-Signature header for payload signed at t with
// secret: "t=<unix>,v1=<hex HMAC-SHA256 of "<unix>.<payload>">", as Stripe and
// stripe-go's webhook.GenerateTestSignedPayload make it.
func Signature(t time.Time, payload []byte, secret string) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(payload)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}
