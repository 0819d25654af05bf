package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/internal/pgtest"
	"github.com/roundtriphq/roundtrip/merchant"
	"github.com/roundtriphq/roundtrip/refunds/fakestripe"
)

func TestReconcileCommand(t *testing.T) {
	d, url := pgtest.NewWithURL(t)
	ctx := context.Background()
	m, err := merchant.NewStore(d).Create(ctx, "northwind", "Northwind", merchant.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	sent := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for _, q := range []string{
		`INSERT INTO orders (merchant_id, number, email, currency, data) VALUES ($1, 'NW-1', 'a@x', 'EUR', '{"payment": {"payment_intent_id": "pi_1"}}')`,
		`INSERT INTO returns (merchant_id, order_id, rma, state, resolution, policy_version, currency, quote, total, customer_email, created_by)
			SELECT $1, id, 'R-CLI-1', 'completed', 'refund', 1, 'EUR', '{}', 0, 'a@x', 'test' FROM orders WHERE merchant_id = $1`,
		`INSERT INTO refunds (merchant_id, return_id, amount, currency, status, stripe_refund_id, sent_at)
			SELECT $1, id, 2975, 'EUR', 'succeeded', 're_cli_1', '2026-03-02T10:00:00Z' FROM returns WHERE merchant_id = $1`,
		`INSERT INTO refunds (merchant_id, return_id, amount, currency, status, stripe_refund_id, sent_at)
			SELECT $1, id, 1000, 'EUR', 'succeeded', 're_cli_2', '2026-03-02T11:00:00Z' FROM returns WHERE merchant_id = $1`,
	} {
		if _, err := d.Exec(q, m.ID); err != nil {
			t.Fatal(err)
		}
	}
	stripe := fakestripe.New(fakestripe.Options{Currency: "eur"})
	defer stripe.Close()
	stripe.SeedRefund(fakestripe.Refund{ID: "re_cli_1", PaymentIntent: "pi_1", Amount: 2975, Created: sent})
	stripe.SeedRefund(fakestripe.Refund{ID: "re_cli_2", PaymentIntent: "pi_1", Amount: 900, Created: sent.Add(time.Hour)})

	environ := map[string]string{"DATABASE_URL": url, "STRIPE_SECRET_KEY": "sk_test_cli", "STRIPE_API_BASE": stripe.URL()}
	var stdout, stderr bytes.Buffer
	err = run(ctx, []string{"reconcile", "--merchant", "northwind", "--from", "2026-03-01", "--to", "2026-04-01"}, env(environ), &stdout, &stderr)
	if err != nil {
		t.Fatalf("reconcile: %v\n%s", err, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"succeeded", "Stripe refunds listed: 2", "Our refunds sent in the period: 2",
		"matched", "amount_mismatch", "29.75 EUR", "10.00 EUR", "9.00 EUR", "Lines to look at: 1."} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(stderr.String(), "100%") || !strings.Contains(stderr.String(), "\r[") {
		t.Errorf("got no progress bar on stderr: %q", stderr.String())
	}

	for _, args := range [][]string{
		{"reconcile", "--from", "2026-03-01", "--to", "2026-04-01"},
		{"reconcile", "--merchant", "northwind", "--from", "2026-04-01", "--to", "2026-03-01"},
		{"reconcile", "--merchant", "northwind", "--from", "March", "--to", "2026-04-01"},
		{"reconcile", "--merchant", "northwind", "--from", "0001-01-01", "--to", "9999-12-31"},
	} {
		err := run(ctx, args, env(environ), &stdout, &stderr)
		var u usageError
		if !errors.As(err, &u) {
			t.Errorf("%v: got %v, want a usage error", args, err)
		}
	}
	noKey := map[string]string{"DATABASE_URL": url}
	if err := run(ctx, []string{"reconcile", "--merchant", "northwind", "--from", "2026-03-01", "--to", "2026-04-01"}, env(noKey), &stdout, &stderr); err == nil ||
		!strings.Contains(err.Error(), "STRIPE_SECRET_KEY") {
		t.Errorf("without a Stripe key: got %v, want it named", err)
	}
}
