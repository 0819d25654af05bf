package openapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/cmd/roundtrip/apitest"
	"github.com/roundtriphq/roundtrip/internal/auth"
)

type problemDoc struct {
	Status    int    `json:"status"`
	Code      string `json:"code"`
	Detail    string `json:"detail"`
	RequestID string `json:"request_id"`
	Errors    []struct {
		Location string `json:"location"`
		Message  string `json:"message"`
	} `json:"errors"`
}

func TestAuthRules(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	a := env.Merchant(t, "shop-a")
	b := env.Merchant(t, "shop-b")

	// a key of merchant B to aim at from merchant A
	res := env.Do(t, "GET", "/v1/api-keys", b.Keys[auth.RoleAdmin], nil)
	var bKeys struct {
		Data []auth.Key `json:"data"`
	}
	res.JSON(t, &bKeys)
	if len(bKeys.Data) != 4 {
		t.Fatalf("got %d keys for shop-b, want 4", len(bKeys.Data))
	}
	bKeyID := bKeys.Data[0].PublicID

	tests := []struct {
		name, method, path, token string
		body                      any
		want                      int
	}{
		{"no key", "GET", "/v1/merchant", "", nil, http.StatusUnauthorized},
		{"unknown key", "GET", "/v1/merchant", "rtk_doesnotexist", nil, http.StatusUnauthorized},
		{"not a key", "GET", "/v1/merchant", "hello", nil, http.StatusUnauthorized},
		{"shopper token that does not exist", "GET", "/v1/merchant", "rts_nothing", nil, http.StatusUnauthorized},
		{"warehouse reads merchant", "GET", "/v1/merchant", a.Keys[auth.RoleWarehouse], nil, http.StatusOK},
		{"admin reads merchant", "GET", "/v1/merchant", a.Keys[auth.RoleAdmin], nil, http.StatusOK},
		{"warehouse cannot list keys", "GET", "/v1/api-keys", a.Keys[auth.RoleWarehouse], nil, http.StatusForbidden},
		{"finance cannot create keys", "POST", "/v1/api-keys", a.Keys[auth.RoleFinance], map[string]any{"role": "admin"}, http.StatusForbidden},
		{"integration cannot update merchant", "PUT", "/v1/merchant", a.Keys[auth.RoleIntegration], map[string]any{"name": "x", "settings": map[string]any{}}, http.StatusForbidden},
		{"admin of A cannot revoke B's key", "DELETE", fmt.Sprintf("/v1/api-keys/%s", bKeyID), a.Keys[auth.RoleAdmin], nil, http.StatusNotFound},
		{"admin of B can", "DELETE", fmt.Sprintf("/v1/api-keys/%s", bKeyID), b.Keys[auth.RoleAdmin], nil, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := env.Do(t, tt.method, tt.path, tt.token, tt.body)
			if res.Status != tt.want {
				t.Fatalf("got %d, want %d: %s", res.Status, tt.want, res.Body)
			}
			if tt.want >= 400 {
				if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("got Content-Type %q, want application/problem+json", ct)
				}
				var p problemDoc
				res.JSON(t, &p)
				if p.Status != tt.want || p.RequestID == "" || p.RequestID != res.Header.Get("X-Request-Id") {
					t.Errorf("problem %+v does not carry status %d and the request ID %q", p, tt.want, res.Header.Get("X-Request-Id"))
				}
			}
		})
	}

	t.Run("revoked key stops working", func(t *testing.T) {
		// the DELETE above revoked B's newest key, the admin key created last
		var revoked string
		for _, k := range b.Keys {
			if strings.HasPrefix(k, bKeys.Data[0].Prefix) {
				revoked = k
			}
		}
		if res := env.Do(t, "GET", "/v1/merchant", revoked, nil); res.Status != http.StatusUnauthorized {
			t.Fatalf("got %d with a revoked key, want 401", res.Status)
		}
	})

	t.Run("merchant A sees only its own keys", func(t *testing.T) {
		res := env.Do(t, "GET", "/v1/api-keys", a.Keys[auth.RoleAdmin], nil)
		var keys struct {
			Data []auth.Key `json:"data"`
		}
		res.JSON(t, &keys)
		for _, k := range keys.Data {
			if k.PublicID == bKeyID {
				t.Fatalf("merchant A's listing shows B's key %s", k.PublicID)
			}
		}
	})
}

func TestRequestIDIsEchoed(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	res := env.Do(t, "GET", "/v1/merchant", "", nil, "X-Request-Id", "trace-abc-123")
	if got := res.Header.Get("X-Request-Id"); got != "trace-abc-123" {
		t.Fatalf("got X-Request-Id %q, want the caller's trace-abc-123", got)
	}
	var p problemDoc
	res.JSON(t, &p)
	if p.RequestID != "trace-abc-123" {
		t.Fatalf("got problem request_id %q, want trace-abc-123", p.RequestID)
	}
}

func TestValidationNamesTheField(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	a := env.Merchant(t, "shop-v")
	res := env.Do(t, "POST", "/v1/api-keys", a.Keys[auth.RoleAdmin], map[string]any{"role": "superuser"})
	if res.Status != http.StatusUnprocessableEntity {
		t.Fatalf("got %d, want 422: %s", res.Status, res.Body)
	}
	var p problemDoc
	res.JSON(t, &p)
	if len(p.Errors) != 1 || p.Errors[0].Location != "body.role" {
		t.Fatalf("got errors %+v, want one at body.role", p.Errors)
	}

	res = env.Do(t, "PUT", "/v1/merchant", a.Keys[auth.RoleAdmin], map[string]any{
		"name": "Shop", "settings": map[string]any{"brand_color": "green", "warehouse": map[string]any{"country": "England"}},
	})
	res.JSON(t, &p)
	var locs []string
	for _, e := range p.Errors {
		locs = append(locs, e.Location)
	}
	if res.Status != http.StatusUnprocessableEntity || strings.Join(locs, ",") != "body.settings.brand_color,body.settings.warehouse.country" {
		t.Fatalf("got %d with locations %v, want 422 naming brand_color and warehouse.country", res.Status, locs)
	}
}

func TestDatabaseErrorIsAGeneric500(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	a := env.Merchant(t, "shop-e")
	// break the table behind the listing so that the driver returns an error
	if _, err := env.DB.Exec(`ALTER TABLE api_keys RENAME COLUMN name TO label`); err != nil {
		t.Fatal(err)
	}
	// authentication does not read the renamed column, the listing does
	res := env.Do(t, "GET", "/v1/api-keys", a.Keys[auth.RoleAdmin], nil)
	if res.Status != http.StatusInternalServerError {
		t.Fatalf("got %d, want 500: %s", res.Status, res.Body)
	}
	body := string(res.Body)
	for _, leak := range []string{"pq:", "column", "name", "api_keys", "SELECT"} {
		if strings.Contains(body, leak) {
			t.Errorf("500 body leaks %q: %s", leak, body)
		}
	}
	var p problemDoc
	res.JSON(t, &p)
	if p.RequestID == "" || p.Code != "internal_error" {
		t.Errorf("got %+v, want code internal_error with a request ID", p)
	}
	if logs := env.Logs(); !strings.Contains(logs, p.RequestID) || !strings.Contains(logs, "pq:") {
		t.Errorf("the server log should hold the driver error with request ID %s; got:\n%s", p.RequestID, logs)
	}
}

func TestIdempotentCreate(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	a := env.Merchant(t, "shop-i")
	admin := a.Keys[auth.RoleAdmin]
	body := map[string]any{"role": "warehouse", "name": "dock 3"}

	const n = 20
	results := make([]apitest.Response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i] = env.Do(t, "POST", "/v1/api-keys", admin, body, "Idempotency-Key", "same-key-1") })
	}
	wg.Wait()
	replayed := 0
	for i, r := range results {
		if r.Status != http.StatusCreated {
			t.Fatalf("request %d: got %d, want 201: %s", i, r.Status, r.Body)
		}
		if string(r.Body) != string(results[0].Body) {
			t.Fatalf("request %d answered another body:\n%s\nvs\n%s", i, r.Body, results[0].Body)
		}
		if r.Header.Get("Idempotent-Replayed") == "true" {
			replayed++
		}
	}
	if replayed != n-1 {
		t.Errorf("got %d replayed answers, want %d", replayed, n-1)
	}
	var count int
	if err := env.DB.Get(&count, `SELECT count(*) FROM api_keys WHERE name = 'dock 3'`); err != nil {
		t.Fatal(err)
	}
	if count != 1 {
		t.Fatalf("got %d keys created by 20 requests with one idempotency key, want 1", count)
	}

	t.Run("same key, other body", func(t *testing.T) {
		res := env.Do(t, "POST", "/v1/api-keys", admin, map[string]any{"role": "finance"}, "Idempotency-Key", "same-key-1")
		if res.Status != http.StatusUnprocessableEntity {
			t.Fatalf("got %d, want 422: %s", res.Status, res.Body)
		}
	})
	t.Run("same key, other merchant", func(t *testing.T) {
		b := env.Merchant(t, "shop-j")
		res := env.Do(t, "POST", "/v1/api-keys", b.Keys[auth.RoleAdmin], body, "Idempotency-Key", "same-key-1")
		if res.Status != http.StatusCreated || res.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("got %d replayed=%q, want a fresh 201: keys are per merchant", res.Status, res.Header.Get("Idempotent-Replayed"))
		}
	})
	t.Run("without a key every request creates", func(t *testing.T) {
		r1 := env.Do(t, "POST", "/v1/api-keys", admin, map[string]any{"role": "finance", "name": "nokey"})
		r2 := env.Do(t, "POST", "/v1/api-keys", admin, map[string]any{"role": "finance", "name": "nokey"})
		if r1.Status != 201 || r2.Status != 201 || string(r1.Body) == string(r2.Body) {
			t.Fatalf("got %d and %d with equal bodies=%v, want two different keys", r1.Status, r2.Status, string(r1.Body) == string(r2.Body))
		}
	})
}

func TestIdempotencyClaimOfADeadRequestIsTakenOver(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	a := env.Merchant(t, "shop-k")
	// a claim left behind by a replica that died mid-request, older than the lease
	if _, err := env.DB.Exec(`INSERT INTO idempotency_keys (merchant_id, key, request_hash, status, body, created_at)
		VALUES ($1, 'dead-key', $2, 0, '', now() - interval '10 minutes')`, a.Merchant.ID, []byte("whatever")); err != nil {
		t.Fatal(err)
	}
	// the stored hash differs from any real request: the retry must be told so
	res := env.Do(t, "POST", "/v1/api-keys", a.Keys[auth.RoleAdmin], map[string]any{"role": "finance"}, "Idempotency-Key", "dead-key")
	if res.Status != http.StatusUnprocessableEntity {
		t.Fatalf("got %d, want 422 for a key claimed by another request", res.Status)
	}
	// the same request as a dead claim is taken over and runs again
	first := env.Do(t, "POST", "/v1/api-keys", a.Keys[auth.RoleAdmin], map[string]any{"role": "finance"}, "Idempotency-Key", "live-key")
	if _, err := env.DB.Exec(`UPDATE idempotency_keys SET status = 0, created_at = now() - interval '10 minutes' WHERE key = 'live-key'`); err != nil {
		t.Fatal(err)
	}
	again := env.Do(t, "POST", "/v1/api-keys", a.Keys[auth.RoleAdmin], map[string]any{"role": "finance"}, "Idempotency-Key", "live-key")
	if first.Status != 201 || again.Status != 201 || again.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("got %d then %d (replayed %q), want the stale claim taken over and run again",
			first.Status, again.Status, again.Header.Get("Idempotent-Replayed"))
	}
}

// TestNULIsRefusedNamingTheField: PostgreSQL cannot store the NUL character; every
// operation refuses it in any string input with 422, naming the field, instead of 500.
// Bytes that are not UTF-8 in a path, query or header parameter likewise (a JSON
// body's strings are UTF-8 once decoded).
func TestNULIsRefusedNamingTheField(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	shop := env.Merchant(t, "northwind")
	key := shop.Keys[auth.RoleIntegration]
	order := func(change func(o map[string]any)) map[string]any {
		o := apitest.Order("ada@example.com", time.Now().Add(-48*time.Hour))
		if change != nil {
			change(o)
		}
		return o
	}
	if res := env.Do(t, "PUT", "/v1/orders/NW-1", key, order(nil)); res.Status != http.StatusCreated {
		t.Fatalf("put order: %d %s", res.Status, res.Body)
	}
	for _, tt := range []struct {
		name, method, path, token string
		body                      any
		want                      string
	}{
		{"order number in the path", "PUT", "/v1/orders/NW-%002", key, order(nil), "path.order_number"},
		{"order number to read", "GET", "/v1/orders/NW%00", key, nil, "path.order_number"},
		{"customer email", "PUT", "/v1/orders/NW-3", key, order(func(o map[string]any) {
			o["customer"].(map[string]any)["email"] = "ada\x00@example.com"
		}), "body.customer.email"},
		{"line name", "PUT", "/v1/orders/NW-4", key, order(func(o map[string]any) {
			o["lines"].([]map[string]any)[1]["name"] = "Red\x00cap"
		}), "body.lines[1].name"},
		{"portal sign-in, no key", "POST", "/v1/portal/sessions", "",
			map[string]any{"merchant": "northwind", "order_number": "NW-1\x00", "email": "ada@example.com"}, "body.order_number"},
		{"query filter", "GET", "/v1/returns?order_number=NW-1%00", key, nil, "query.order_number"},
		{"order number not UTF-8", "GET", "/v1/orders/NW%ff", key, nil, "path.order_number"},
		{"query filter not UTF-8", "GET", "/v1/returns?order_number=NW-1%ff", key, nil, "query.order_number"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := env.Do(t, tt.method, tt.path, tt.token, tt.body)
			var p problemDoc
			res.JSON(t, &p)
			what := "NUL"
			if strings.HasSuffix(tt.name, "not UTF-8") {
				what = "UTF-8"
			}
			if res.Status != http.StatusUnprocessableEntity || len(p.Errors) != 1 || p.Errors[0].Location != tt.want ||
				!strings.Contains(p.Errors[0].Message, what) {
				t.Errorf("got %d %s, want 422 naming %s", res.Status, res.Body, tt.want)
			}
		})
	}
	t.Run("idempotency key not UTF-8", func(t *testing.T) {
		res := env.Do(t, "POST", "/v1/webhook-endpoints/whk_none/rotate-secret", shop.Keys[auth.RoleAdmin], nil, "Idempotency-Key", "key-\xff")
		var p problemDoc
		res.JSON(t, &p)
		if res.Status != http.StatusUnprocessableEntity || len(p.Errors) != 1 || p.Errors[0].Location != "header.Idempotency-Key" ||
			!strings.Contains(p.Errors[0].Message, "UTF-8") {
			t.Errorf("got %d %s, want 422 naming header.Idempotency-Key", res.Status, res.Body)
		}
	})
	var n int
	if err := env.DB.Get(&n, `SELECT count(*) FROM orders`); err != nil || n != 1 {
		t.Errorf("got %d orders (%v), want only NW-1", n, err)
	}
}
