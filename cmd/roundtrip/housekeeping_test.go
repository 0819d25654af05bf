package main

import (
	"context"
	"testing"

	"github.com/roundtriphq/roundtrip/cmd/roundtrip/app"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/internal/pgtest"
)

// TestHousekeepingDeletesExpiredRows: the periodic jobs serve registers delete expired
// idempotency keys, old rate-limit counts, long-expired shopper tokens and jobs done
// long ago, keep the live ones, and each schedules its next run.
func TestHousekeepingDeletesExpiredRows(t *testing.T) {
	d, url := pgtest.NewWithURL(t)
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO merchants (id, slug, name) VALUES (1, 'northwind', 'Northwind')`,
		`INSERT INTO orders (id, merchant_id, number, email, currency, data) VALUES (1, 1, 'NW-1', 'ada@example.com', 'EUR', '{}')`,
		`INSERT INTO idempotency_keys (merchant_id, key, request_hash, status, body, created_at) VALUES
			(1, 'old', '\x00', 201, '', now() - interval '25 hours'), (1, 'new', '\x00', 201, '', now())`,
		`INSERT INTO rate_limits (bucket, window_start, hits) VALUES
			('session:ip:old', now() - interval '2 hours', 3), ('session:ip:new', date_trunc('minute', now()), 1)`,
		`INSERT INTO shopper_sessions (token_hash, merchant_id, order_id, expires_at) VALUES
			('\x01', 1, 1, now() - interval '2 days'), ('\x02', 1, 1, now() + interval '1 hour')`,
		`INSERT INTO outbox (kind, payload, state, done_at) VALUES
			('old.job', '{}', 'done', now() - interval '8 days'), ('new.job', '{}', 'done', now() - interval '1 hour'),
			('parked.job', '{}', 'dead', now() - interval '8 days')`,
	} {
		if _, err := d.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	w := outbox.NewWorker(d, url, outbox.Options{})
	app.Housekeeping(w)
	if err := w.Schedule(ctx); err != nil {
		t.Fatal(err)
	}
	for {
		did, err := w.RunOne(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !did {
			break
		}
	}
	for _, tt := range []struct{ table, left string }{
		{"idempotency_keys", "SELECT string_agg(key, ',') FROM idempotency_keys"},
		{"rate_limits", "SELECT string_agg(bucket, ',') FROM rate_limits"},
		{"shopper_sessions", "SELECT string_agg(encode(token_hash, 'hex'), ',') FROM shopper_sessions"},
		{"outbox", "SELECT string_agg(kind, ',' ORDER BY id) FROM outbox WHERE kind LIKE '%.job'"},
	} {
		var got string
		if err := d.Get(&got, tt.left); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"idempotency_keys": "new", "rate_limits": "session:ip:new", "shopper_sessions": "02",
			"outbox": "new.job,parked.job"}[tt.table]
		if got != want {
			t.Errorf("%s: got %q left, want %q", tt.table, got, want)
		}
	}
	var next int
	if err := d.Get(&next, `SELECT count(DISTINCT kind) FROM outbox WHERE state = 'pending' AND run_at > now() AND kind LIKE 'sweep.%'`); err != nil || next != 4 {
		t.Errorf("got %d sweeps scheduled for later (%v), want 4", next, err)
	}
}
