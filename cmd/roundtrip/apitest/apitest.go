// Package apitest runs the whole product, as cmd/roundtrip/app assembles it, against a
// fresh database for tests: New gives an httptest server with the API and the pages,
// the database, and helpers to make merchants with a key for every role and to send
// requests.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/cmd/roundtrip/app"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/pgtest"
	"github.com/roundtriphq/roundtrip/internal/reqid"
	"github.com/roundtriphq/roundtrip/merchant"
)

// Env is a running API on its own database.
type Env struct {
	URL    string
	DB     *sqlx.DB
	DBURL  string
	Server *httptest.Server
	logs   *lockedWriter
}

// Logs returns what the server logged so far.
func (e *Env) Logs() string {
	e.logs.mu.Lock()
	defer e.logs.mu.Unlock()
	return e.logs.buf.String()
}

// lockedWriter lets concurrent handlers log into one buffer.
type lockedWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// Option adjusts the configuration of the product under test (a Stripe gateway, a
// worker for background jobs, …); it sees the test database in cfg.DB.
type Option func(cfg *app.Config, dbURL string)

// New starts the API on a fresh database.
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	d, u := pgtest.NewWithURL(t)
	logs := &lockedWriter{}
	mux := http.NewServeMux()
	srv := httptest.NewUnstartedServer(reqid.Middleware(mux))
	// links in emails point at this server
	cfg := app.Config{DB: d, Logger: slog.New(slog.NewTextHandler(logs, nil))}
	cfg.Email.BaseURL = "http://" + srv.Listener.Addr().String()
	for _, o := range opts {
		o(&cfg, u)
	}
	app.New(cfg, mux)
	srv.Start()
	t.Cleanup(srv.Close)
	return &Env{URL: srv.URL, DB: d, DBURL: u, Server: srv, logs: logs}
}

// Tenant is a merchant with one key per role.
type Tenant struct {
	Merchant merchant.Merchant
	Keys     map[auth.Role]string
}

// Merchant creates a merchant with a key for every role.
func (e *Env) Merchant(t testing.TB, slug string) Tenant {
	t.Helper()
	ctx := context.Background()
	m, err := merchant.NewStore(e.DB).Create(ctx, slug, "Shop "+slug, merchant.Settings{})
	if err != nil {
		t.Fatalf("create merchant %s: %v", slug, err)
	}
	tn := Tenant{Merchant: m, Keys: map[auth.Role]string{}}
	for _, r := range auth.Roles() {
		_, secret, err := auth.NewKeys(e.DB).Create(ctx, m.ID, r, string(r))
		if err != nil {
			t.Fatalf("create key: %v", err)
		}
		tn.Keys[r] = secret
	}
	return tn
}

// Response is an answer with its body read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test when it cannot.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Do sends a request with bearer token (may be empty) and a JSON body (nil for none,
// a []byte or string as is, anything else marshalled). Extra headers come in pairs.
func (e *Env) Do(t testing.TB, method, path, token string, body any, headers ...string) Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// Order is a valid body for PUT /v1/orders/{n}: two lines (2 × T-shirt "l1" at 25.00
// EUR with 9.50 tax, 1 × cap "l2" at 15.00 with 2.85 tax), 4.95 shipping, delivered at
// delivered, fully captured. Tests change fields of the map as they need.
func Order(email string, delivered time.Time) map[string]any {
	return map[string]any{
		"customer": map[string]any{
			"email": email, "first_name": "Ada", "last_name": "Lovelace",
			"address": map[string]any{"line1": "12 St James's Square", "city": "London", "postal_code": "SW1Y 4LB", "country": "GB"},
		},
		"currency":     "EUR",
		"placed_at":    delivered.Add(-72 * time.Hour).Format(time.RFC3339),
		"delivered_at": delivered.Format(time.RFC3339),
		"lines": []map[string]any{
			{"id": "l1", "sku": "TEE-BLK-M", "name": "Black T-shirt, M", "quantity": 2, "unit_price": 2500, "tax": 950},
			{"id": "l2", "sku": "CAP-RED", "name": "Red cap", "quantity": 1, "unit_price": 1500, "tax": 285},
		},
		"shipping": 495,
		"payment":  map[string]any{"provider": "stripe", "payment_intent_id": "pi_123", "captured": 2500*2 + 950 + 1500 + 285 + 495},
	}
}
