package notify_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/roundtriphq/roundtrip/cmd/roundtrip/app"

	"github.com/roundtriphq/roundtrip/cmd/roundtrip/apitest"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/notify"
	"github.com/roundtriphq/roundtrip/openapi"
)

type problemDoc struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Errors []struct {
		Location string `json:"location"`
		Message  string `json:"message"`
	} `json:"errors"`
}

func (p problemDoc) locations() string {
	var locs []string
	for _, e := range p.Errors {
		locs = append(locs, e.Location)
	}
	return strings.Join(locs, ",")
}

type endpointDoc struct {
	ID             string   `json:"id"`
	URL            string   `json:"url"`
	Description    string   `json:"description"`
	EnabledEvents  []string `json:"enabled_events"`
	Enabled        bool     `json:"enabled"`
	DisabledReason string   `json:"disabled_reason"`
	Secret         string   `json:"secret"`
}

// public is an address outside every refused range; nothing is ever sent to it.
const public = "https://93.184.215.14/webhooks/roundtrip"

func TestEndpointAPI(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	a := env.Merchant(t, "shop-a")
	b := env.Merchant(t, "shop-b")
	admin := a.Keys[auth.RoleAdmin]

	res := env.Do(t, "POST", "/v1/webhook-endpoints", admin, map[string]any{
		"url": public, "description": "Order system", "enabled_events": []string{"refund.succeeded", "refund.failed"},
	}, "Idempotency-Key", "create-1")
	if res.Status != http.StatusCreated {
		t.Fatalf("create: got %d, want 201: %s", res.Status, res.Body)
	}
	var created endpointDoc
	res.JSON(t, &created)
	if !strings.HasPrefix(created.ID, "we_") || !strings.HasPrefix(created.Secret, "whsec_") || !created.Enabled ||
		strings.Join(created.EnabledEvents, ",") != "refund.succeeded,refund.failed" {
		t.Fatalf("create: got %s", res.Body)
	}
	again := env.Do(t, "POST", "/v1/webhook-endpoints", admin, map[string]any{
		"url": public, "description": "Order system", "enabled_events": []string{"refund.succeeded", "refund.failed"},
	}, "Idempotency-Key", "create-1")
	if again.Status != http.StatusCreated || string(again.Body) != string(res.Body) {
		t.Fatalf("create again with the key: got %d %s, want the first answer", again.Status, again.Body)
	}

	path := "/v1/webhook-endpoints/" + created.ID
	for _, p := range []string{"/v1/webhook-endpoints", path} {
		res := env.Do(t, "GET", p, admin, nil)
		if res.Status != http.StatusOK {
			t.Fatalf("GET %s: got %d: %s", p, res.Status, res.Body)
		}
		if strings.Contains(string(res.Body), "whsec_") || strings.Contains(string(res.Body), `"secret"`) {
			t.Errorf("GET %s shows the secret: %s", p, res.Body)
		}
	}

	res = env.Do(t, "PATCH", path, admin, map[string]any{"enabled_events": []string{}, "enabled": false})
	var patched endpointDoc
	res.JSON(t, &patched)
	if res.Status != http.StatusOK || patched.Enabled || len(patched.EnabledEvents) != 0 ||
		patched.Description != "Order system" || !strings.HasPrefix(patched.DisabledReason, "Disabled by key:") {
		t.Fatalf("PATCH: got %d %s", res.Status, res.Body)
	}

	res = env.Do(t, "POST", path+"/rotate-secret", admin, nil)
	var rotated endpointDoc
	res.JSON(t, &rotated)
	if res.Status != http.StatusOK || !strings.HasPrefix(rotated.Secret, "whsec_") || rotated.Secret == created.Secret {
		t.Fatalf("rotate: got %d %s", res.Status, res.Body)
	}

	t.Run("another merchant's endpoint is not found", func(t *testing.T) {
		other := b.Keys[auth.RoleAdmin]
		for _, r := range []struct {
			method, path string
			body         any
		}{
			{"GET", path, nil},
			{"PATCH", path, map[string]any{"enabled": true}},
			{"POST", path + "/rotate-secret", nil},
			{"DELETE", path, nil},
		} {
			if res := env.Do(t, r.method, r.path, other, r.body); res.Status != http.StatusNotFound {
				t.Errorf("%s %s: got %d, want 404", r.method, r.path, res.Status)
			}
		}
		res := env.Do(t, "GET", "/v1/webhook-endpoints", other, nil)
		if strings.Contains(string(res.Body), created.ID) {
			t.Error("merchant B's listing shows A's endpoint")
		}
	})

	t.Run("only admins", func(t *testing.T) {
		for _, role := range []auth.Role{auth.RoleIntegration, auth.RoleFinance, auth.RoleWarehouse} {
			if res := env.Do(t, "GET", "/v1/webhook-endpoints", a.Keys[role], nil); res.Status != http.StatusForbidden {
				t.Errorf("%s key: got %d, want 403", role, res.Status)
			}
		}
	})

	t.Run("pages", func(t *testing.T) {
		for i := range 3 {
			env.Do(t, "POST", "/v1/webhook-endpoints", admin, map[string]any{"url": public, "description": string(rune('a' + i))})
		}
		seen := map[string]bool{}
		cursor := ""
		for page := 0; ; page++ {
			var list struct {
				Data       []endpointDoc `json:"data"`
				NextCursor string        `json:"next_cursor"`
			}
			res := env.Do(t, "GET", "/v1/webhook-endpoints?limit=2&cursor="+cursor, admin, nil)
			res.JSON(t, &list)
			for _, e := range list.Data {
				seen[e.ID] = true
			}
			if list.NextCursor == "" {
				break
			}
			cursor = list.NextCursor
		}
		if len(seen) != 4 {
			t.Errorf("got %d endpoints over the pages, want 4", len(seen))
		}
		if res := env.Do(t, "GET", "/v1/webhook-endpoints?cursor=zzz", admin, nil); res.Status != http.StatusUnprocessableEntity {
			t.Errorf("a bad cursor: got %d, want 422", res.Status)
		}
	})

	res = env.Do(t, "DELETE", path, admin, nil)
	if res.Status != http.StatusNoContent {
		t.Fatalf("DELETE: got %d: %s", res.Status, res.Body)
	}
	if res := env.Do(t, "GET", path, admin, nil); res.Status != http.StatusNotFound {
		t.Errorf("GET after DELETE: got %d, want 404", res.Status)
	}
}

func TestEndpointURLsIntoPrivateNetworksAreRefused(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	admin := env.Merchant(t, "shop-s").Keys[auth.RoleAdmin]
	for _, u := range []string{
		"https://127.0.0.1/hooks",
		"https://10.0.0.1/hooks",
		"https://169.254.169.254/latest/meta-data/",
		"https://[::1]/hooks",
		"https://localhost/hooks",
		"https://100.64.1.1/hooks",
		"https://[fd00::1]/hooks",
		"http://93.184.215.14/hooks",
		"https://user:secret@93.184.215.14/hooks",
	} {
		res := env.Do(t, "POST", "/v1/webhook-endpoints", admin, map[string]any{"url": u})
		var p problemDoc
		res.JSON(t, &p)
		if res.Status != http.StatusUnprocessableEntity || p.locations() != "body.url" {
			t.Errorf("%s: got %d naming %q, want 422 naming body.url: %s", u, res.Status, p.locations(), res.Body)
		}
	}
	// and the same rule on a change
	res := env.Do(t, "POST", "/v1/webhook-endpoints", admin, map[string]any{"url": public})
	var e endpointDoc
	res.JSON(t, &e)
	res = env.Do(t, "PATCH", "/v1/webhook-endpoints/"+e.ID, admin, map[string]any{"url": "https://192.168.0.10/hooks"})
	var p problemDoc
	res.JSON(t, &p)
	if res.Status != http.StatusUnprocessableEntity || p.locations() != "body.url" {
		t.Errorf("PATCH to a private address: got %d naming %q, want 422 naming body.url", res.Status, p.locations())
	}
}

func TestEventTypesAreValidated(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	admin := env.Merchant(t, "shop-t").Keys[auth.RoleAdmin]
	res := env.Do(t, "POST", "/v1/webhook-endpoints", admin, map[string]any{
		"url": public, "enabled_events": []string{"return.created", "return.exploded"},
	})
	var p problemDoc
	res.JSON(t, &p)
	if res.Status != http.StatusUnprocessableEntity || p.locations() != "body.enabled_events[1]" {
		t.Fatalf("got %d naming %q, want 422 naming body.enabled_events[1]: %s", res.Status, p.locations(), res.Body)
	}
	res = env.Do(t, "GET", "/v1/webhook-deliveries?event_type=return.exploded&status=lost", admin, nil)
	res.JSON(t, &p)
	if res.Status != http.StatusUnprocessableEntity || !strings.Contains(p.locations(), "query.event_type") ||
		!strings.Contains(p.locations(), "query.status") {
		t.Fatalf("got %d naming %q, want 422 naming query.event_type and query.status: %s", res.Status, p.locations(), res.Body)
	}
}

func TestDeliveryAPI(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(deps *app.Config, _ string) { deps.Webhooks = local })
	a := env.Merchant(t, "shop-d")
	b := env.Merchant(t, "shop-e")
	admin := a.Keys[auth.RoleAdmin]
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 0 {
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte("database is down"))
		}
	})
	res := env.Do(t, "POST", "/v1/webhook-endpoints", admin, map[string]any{"url": rc.URL + "/hooks"})
	if res.Status != http.StatusCreated {
		t.Fatalf("create: got %d: %s", res.Status, res.Body)
	}
	var e endpointDoc
	res.JSON(t, &e)

	svc := notify.New(env.DB, local)
	w := outbox.NewWorker(env.DB, env.DBURL, outbox.Options{})
	svc.Jobs(w)
	ctx := context.Background()
	tx := env.DB.MustBegin()
	if err := svc.Publish(ctx, tx, a.Merchant.ID, notify.ReturnApproved, map[string]any{"id": 1}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if did, err := w.RunOne(ctx); err != nil || !did {
		t.Fatalf("run: %v %v", did, err)
	}

	var list struct {
		Data []struct {
			ID         string `json:"id"`
			EndpointID string `json:"endpoint_id"`
			EventType  string `json:"event_type"`
			Status     string `json:"status"`
		} `json:"data"`
	}
	res = env.Do(t, "GET", "/v1/webhook-deliveries?endpoint_id="+e.ID+"&event_type=return.approved&status=failed,parked", admin, nil)
	res.JSON(t, &list)
	if res.Status != http.StatusOK || len(list.Data) != 1 || list.Data[0].Status != "failed" || list.Data[0].EndpointID != e.ID {
		t.Fatalf("list: got %d %s", res.Status, res.Body)
	}
	id := list.Data[0].ID
	if res := env.Do(t, "GET", "/v1/webhook-deliveries?status=succeeded", admin, nil); strings.Contains(string(res.Body), id) {
		t.Error("the succeeded filter lists a failed delivery")
	}

	var detail struct {
		Status   string `json:"status"`
		Event    struct{ ID, Type string }
		Attempts []struct {
			StatusCode      int    `json:"status_code"`
			ResponseExcerpt string `json:"response_excerpt"`
		} `json:"attempts"`
	}
	res = env.Do(t, "GET", "/v1/webhook-deliveries/"+id, admin, nil)
	res.JSON(t, &detail)
	if res.Status != http.StatusOK || len(detail.Attempts) != 1 || detail.Attempts[0].StatusCode != 500 ||
		detail.Attempts[0].ResponseExcerpt != "database is down" || detail.Event.Type != "return.approved" {
		t.Fatalf("get: got %d %s", res.Status, res.Body)
	}

	other := b.Keys[auth.RoleAdmin]
	for _, r := range []struct{ method, path string }{
		{"GET", "/v1/webhook-deliveries/" + id},
		{"POST", "/v1/webhook-deliveries/" + id + "/retry"},
	} {
		if res := env.Do(t, r.method, r.path, other, nil); res.Status != http.StatusNotFound {
			t.Errorf("merchant B %s %s: got %d, want 404", r.method, r.path, res.Status)
		}
	}
	if res := env.Do(t, "GET", "/v1/webhook-deliveries", other, nil); strings.Contains(string(res.Body), id) {
		t.Error("merchant B's listing shows A's delivery")
	}

	res = env.Do(t, "POST", "/v1/webhook-deliveries/"+id+"/retry", admin, nil, "Idempotency-Key", "retry-1")
	res.JSON(t, &detail)
	if res.Status != http.StatusAccepted || detail.Status != "pending" {
		t.Fatalf("retry: got %d %s", res.Status, res.Body)
	}
	if did, err := w.RunOne(ctx); err != nil || !did {
		t.Fatalf("the retry was not due at once: %v %v", did, err)
	}
	res = env.Do(t, "GET", "/v1/webhook-deliveries/"+id, admin, nil)
	res.JSON(t, &detail)
	if detail.Status != "succeeded" || len(detail.Attempts) != 2 || len(rc.requests()) != 2 {
		t.Fatalf("after the retry: got %s", res.Body)
	}

	// a disabled endpoint's delivery is not retried
	env.Do(t, "PATCH", "/v1/webhook-endpoints/"+e.ID, admin, map[string]any{"enabled": false})
	res = env.Do(t, "POST", "/v1/webhook-deliveries/"+id+"/retry", admin, nil)
	var p problemDoc
	res.JSON(t, &p)
	if res.Status != http.StatusConflict || p.Code != "endpoint_disabled" {
		t.Fatalf("retry to a disabled endpoint: got %d %s", res.Status, res.Body)
	}
}

func TestEveryEventTypeIsInTheOpenAPIWebhooks(t *testing.T) {
	t.Parallel()
	api := openapi.New(http.NewServeMux(), openapi.Services{})
	hooks := api.OpenAPI().Webhooks
	if len(hooks) != len(notify.Catalogue) {
		t.Errorf("got %d webhooks in the document, want %d", len(hooks), len(notify.Catalogue))
	}
	for _, info := range notify.Catalogue {
		item, ok := hooks[string(info.Type)]
		if !ok || item.Post == nil || item.Post.RequestBody == nil {
			t.Errorf("%s: not documented as a POST with a body", info.Type)
			continue
		}
		s := item.Post.RequestBody.Content["application/json"].Schema
		if s == nil || len(s.Properties["type"].Enum) != 1 || s.Properties["type"].Enum[0] != string(info.Type) {
			t.Errorf("%s: the body schema does not pin the type", info.Type)
		}
	}
}
