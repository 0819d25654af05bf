package refunds_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"

	"github.com/roundtriphq/roundtrip/refunds"
)

// startStripeMock runs stripe-mock (the go tool of this module) on a loopback
// port the system picks and returns its base URL. It fails the test, never skips
// it, when stripe-mock cannot be built or started.
func startStripeMock(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("stripe-mock: the go command is needed to build it (go tool stripe-mock) and is not on PATH: %v", err)
	}
	// go tool -n builds the tool into the build cache (once) and prints its path.
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	var buildErr bytes.Buffer
	build := exec.CommandContext(ctx, goBin, "tool", "-n", "github.com/stripe/stripe-mock")
	build.Stderr = &buildErr
	out, err := build.Output()
	lines := strings.Fields(string(out))
	if err != nil || len(lines) == 0 {
		t.Fatalf("stripe-mock: `go tool -n github.com/stripe/stripe-mock` failed (is it a tool in go.mod and the "+
			"module cache or proxy reachable?): %v\n%s", err, buildErr.String())
	}
	bin := lines[len(lines)-1]

	// Port 0 for HTTPS too: stripe-mock otherwise also listens on 12112, which
	// parallel runs would fight over.
	cmd := exec.Command(bin, "-http-addr", "127.0.0.1:0", "-https-addr", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("stripe-mock: %v", err)
	}
	var stderr bytes.Buffer // read only after exited is closed
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("stripe-mock: start %s: %v", bin, err)
	}
	addr := make(chan string, 1)
	exited := make(chan struct{})
	var waitErr error
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "Listening for HTTP at address: "); ok {
				select {
				case addr <- a:
				default:
				}
			}
		}
		waitErr = cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	// stripe-mock prints the address once it is listening.
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	select {
	case a := <-addr:
		return "http://" + a
	case <-exited:
		t.Fatalf("stripe-mock exited before listening: %v\n%s", waitErr, stderr.String())
	case <-timeout.C:
		t.Fatal("stripe-mock did not say it was listening within 30 s")
	}
	return ""
}

// TestStripeMockContract sends every request the Stripe gateway makes to
// stripe-mock, which checks them against Stripe's OpenAPI spec: a parameter
// Stripe does not know fails here. stripe-mock remembers nothing, so only the
// shapes are checked, not the answers.
func TestStripeMockContract(t *testing.T) {
	t.Parallel()
	base := startStripeMock(t)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	httpClient := &http.Client{Transport: tr}
	gw := refunds.NewStripe(refunds.StripeConfig{SecretKey: "sk_test_123", APIBase: base, HTTPClient: httpClient,
		Timeout: 10 * time.Second})
	ctx := t.Context()
	metadata := map[string]string{"return_id": "ret_test7", "rma": "RMA-7"}

	t.Run("refund a payment intent", func(t *testing.T) {
		res, err := gw.Refund(ctx, refunds.Request{RefundID: 1, PublicID: "rf_test1", Amount: 100, PaymentIntentID: "pi_123",
			Metadata: metadata, Reason: "requested_by_customer"})
		if err != nil || res.StripeID == "" {
			t.Errorf("got %+v, %v, want a refund", res, err)
		}
	})
	t.Run("refund a charge", func(t *testing.T) {
		res, err := gw.Refund(ctx, refunds.Request{RefundID: 2, PublicID: "rf_test2", Attempt: 1, Amount: 100, ChargeID: "ch_123",
			Metadata: metadata, Reason: "requested_by_customer"})
		if err != nil || res.StripeID == "" {
			t.Errorf("got %+v, %v, want a refund", res, err)
		}
	})
	t.Run("a non-USD refund reports stripe-mock's currency unless told it is the mock", func(t *testing.T) {
		req := refunds.Request{RefundID: 3, PublicID: "rf_test3", Amount: 100, Currency: "EUR", PaymentIntentID: "pi_123", Metadata: metadata}
		if _, err := gw.Refund(ctx, req); !errors.Is(err, refunds.ErrCurrencyMismatch) {
			t.Fatalf("against stripe-mock without Mock: %v, want ErrCurrencyMismatch (it answers in USD)", err)
		}
		mock := refunds.NewStripe(refunds.StripeConfig{SecretKey: "sk_test_123", APIBase: base, HTTPClient: httpClient,
			Timeout: 10 * time.Second, Mock: true})
		res, err := mock.Refund(ctx, req)
		if err != nil || !strings.EqualFold(res.Currency, "EUR") || res.StripeID == "" {
			t.Errorf("with Mock: got %+v, %v, want a EUR refund and no mismatch", res, err)
		}
	})
	t.Run("get", func(t *testing.T) {
		res, err := gw.Get(ctx, "re_123")
		if err != nil || res.StripeID == "" {
			t.Errorf("got %+v, %v, want a refund", res, err)
		}
	})
	t.Run("list", func(t *testing.T) {
		now := time.Now()
		n := 0
		err := gw.List(ctx, now.Add(-24*time.Hour), now, func(refunds.Result) error { n++; return nil })
		if err != nil || n == 0 {
			t.Errorf("got %d refunds, %v, want some", n, err)
		}
	})
	t.Run("list by charge", func(t *testing.T) {
		got, err := gw.ListByCharge(ctx, "ch_123")
		if err != nil || len(got) == 0 {
			t.Errorf("got %+v, %v, want some refunds", got, err)
		}
	})
	t.Run("checkout session for an exchange's difference", func(t *testing.T) {
		cs, err := gw.CreateCheckoutSession(ctx, refunds.CheckoutRequest{IdempotencyKey: "exchange-checkout:3:0", Amount: 300,
			Currency: "EUR", Name: "Exchange R-7KQ4-M2XD: 1 × Classic T-shirt, L", Email: "ada@example.com",
			SuccessURL: "https://returns.example.com/portal/northwind/returns/R-7KQ4-M2XD?paid=1",
			CancelURL:  "https://returns.example.com/portal/northwind/returns/R-7KQ4-M2XD",
			Metadata:   map[string]string{"exchange_id": "3", "attempt": "0", "rma": "R-7KQ4-M2XD"}})
		if err != nil || cs.ID == "" {
			t.Errorf("got %+v, %v, want a session", cs, err)
		}
		if _, err := gw.ExpireCheckoutSession(ctx, "cs_test_123"); err != nil {
			t.Errorf("expire: %v", err)
		}
	})
	t.Run("unknown parameters fail", func(t *testing.T) {
		// The check above has teeth: what Stripe would refuse, stripe-mock refuses.
		retries := int64(0)
		api := client.New("sk_test_123", &stripe.Backends{API: stripe.GetBackendWithConfig(stripe.APIBackend,
			&stripe.BackendConfig{URL: stripe.String(base), HTTPClient: httpClient, MaxNetworkRetries: &retries,
				LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull}})})
		params := &stripe.RefundParams{PaymentIntent: stripe.String("pi_123"), Amount: stripe.Int64(100)}
		params.Context = ctx
		params.AddExtra("amount_in_cents", "100")
		_, err := api.Refunds.New(params)
		var se *stripe.Error
		if !errors.As(err, &se) || se.HTTPStatusCode != http.StatusBadRequest {
			t.Errorf("got %v, want stripe-mock's 400 for an unknown parameter", err)
		}
	})
}
