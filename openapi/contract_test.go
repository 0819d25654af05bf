package openapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/cmd/roundtrip/apitest"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/openapi"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/refunds/reconcile"
	"github.com/roundtriphq/roundtrip/returns"
)

// document is the served 3.1 document as a client reads it.
type document struct {
	Tags []struct {
		Name, Description string
	} `json:"tags"`
	Servers []struct {
		URL string `json:"url"`
	} `json:"servers"`
	Paths map[string]map[string]struct {
		OperationID string                `json:"operationId"`
		Tags        []string              `json:"tags"`
		Security    []map[string][]string `json:"security"`
		Roles       []string              `json:"x-roles"`
		Parameters  []struct {
			Name, In string
		} `json:"parameters"`
		Responses map[string]struct {
			Headers map[string]any `json:"headers"`
		} `json:"responses"`
	} `json:"paths"`
	Components struct {
		Schemas map[string]json.RawMessage `json:"schemas"`
	} `json:"components"`
}

func served(t *testing.T, path string) []byte {
	t.Helper()
	mux := http.NewServeMux()
	openapi.New(mux, openapi.Services{BaseURL: "https://returns.example.com/"})
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d", path, rec.Code)
	}
	return rec.Body.Bytes()
}

func servedDocument(t *testing.T) document {
	t.Helper()
	var d document
	if err := json.Unmarshal(served(t, "/openapi.json"), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestTheDocumentDescribesItself: the server is the configured base URL, and every
// tag an operation uses is defined with a description.
func TestTheDocumentDescribesItself(t *testing.T) {
	d := servedDocument(t)
	if len(d.Servers) != 1 || d.Servers[0].URL != "https://returns.example.com" {
		t.Errorf("servers %+v, want the base URL", d.Servers)
	}
	described := map[string]bool{}
	for _, tag := range d.Tags {
		described[tag.Name] = tag.Description != ""
	}
	for path, item := range d.Paths {
		for method, op := range item {
			for _, tag := range op.Tags {
				if !described[tag] {
					t.Errorf("%s %s: tag %q is not described in openapi/contract.go", method, path, tag)
				}
			}
		}
	}
}

// TestEveryIdempotentOperationDeclaresItsAnswers: an operation that takes an
// Idempotency-Key declares 409 (key in use) and 503, both with Retry-After, and
// Idempotent-Replayed on its successes; a 429 carries Retry-After.
func TestEveryIdempotentOperationDeclaresItsAnswers(t *testing.T) {
	d := servedDocument(t)
	idempotent := 0
	for path, item := range d.Paths {
		for method, op := range item {
			if slices.ContainsFunc(op.Parameters, func(p struct{ Name, In string }) bool {
				return p.In == "header" && p.Name == "Idempotency-Key"
			}) {
				idempotent++
				for _, code := range []string{"409", "503"} {
					if _, ok := op.Responses[code].Headers["Retry-After"]; !ok {
						t.Errorf("%s %s: no %s with Retry-After", method, path, code)
					}
				}
				for code, r := range op.Responses {
					if _, ok := r.Headers["Idempotent-Replayed"]; strings.HasPrefix(code, "2") && !ok {
						t.Errorf("%s %s: %s does not declare Idempotent-Replayed", method, path, code)
					}
				}
			}
			if r, ok := op.Responses["429"]; ok {
				if _, ok := r.Headers["Retry-After"]; !ok {
					t.Errorf("%s %s: 429 without Retry-After", method, path)
				}
			}
		}
	}
	if idempotent < 5 {
		t.Errorf("only %d operations take an Idempotency-Key", idempotent)
	}
	if _, ok := d.Paths["/v1/portal/sessions"]["post"].Responses["429"]; !ok {
		t.Error("the portal sign-in does not declare 429")
	}
}

// TestRolesAreAnExtensionNotScopes: bearer requirements list no scopes (OpenAPI keeps
// those for OAuth2); the roles an operation accepts are in x-roles.
func TestRolesAreAnExtensionNotScopes(t *testing.T) {
	d := servedDocument(t)
	for path, item := range d.Paths {
		for method, op := range item {
			for _, req := range op.Security {
				for scheme, scopes := range req {
					if len(scopes) != 0 {
						t.Errorf("%s %s: %s lists scopes %v", method, path, scheme, scopes)
					}
					if scheme == auth.SchemeAPIKey && !slices.Contains(op.Roles, "admin") {
						t.Errorf("%s %s: x-roles %v lacks admin", method, path, op.Roles)
					}
				}
			}
		}
	}
	if got := d.Paths["/v1/refunds/{id}"]["get"].Roles; !slices.Equal(got, []string{"admin", "finance"}) {
		t.Errorf("get-refund x-roles %v, want admin and finance", got)
	}
}

// TestSchemaNamesAreClientNames: no schema is named after a Go input or output type.
func TestSchemaNamesAreClientNames(t *testing.T) {
	d := servedDocument(t)
	for name := range d.Components.Schemas {
		if strings.HasSuffix(name, "Body") {
			t.Errorf("schema %s is named after Go code: add a name in openapi/contract.go", name)
		}
	}
	for _, want := range []string{"ReturnCreate", "PortalSessionCreate", "PortalSession", "Scan", "ScanResult", "ReturnList"} {
		if _, ok := d.Components.Schemas[want]; !ok {
			t.Errorf("no schema %s", want)
		}
	}
}

// TestStatesAreEnumsOfTheCode: the document's enums are the code's lists, so a
// generated client's constants are every value it can meet.
func TestStatesAreEnumsOfTheCode(t *testing.T) {
	d := servedDocument(t)
	enum := func(schema, prop string) []string {
		var s struct {
			Properties map[string]struct {
				Enum []string `json:"enum"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(d.Components.Schemas[schema], &s); err != nil {
			t.Fatal(err)
		}
		return s.Properties[prop].Enum
	}
	str := func(vs any) []string {
		var out []string
		b, _ := json.Marshal(vs)
		_ = json.Unmarshal(b, &out)
		return out
	}
	for _, tt := range []struct {
		schema, prop string
		want         []string
	}{
		{"Return", "state", str(returns.States())},
		{"Refund", "status", str(refunds.Statuses())},
		{"ReconciliationLine", "class", str(reconcile.Classes())},
		{"ReconciliationTotal", "class", str(reconcile.Classes())},
	} {
		if got := enum(tt.schema, tt.prop); !slices.Equal(got, tt.want) {
			t.Errorf("%s.%s enum %v, want %v", tt.schema, tt.prop, got, tt.want)
		}
	}
	for _, schema := range d.Components.Schemas {
		if strings.Contains(string(schema), `"null"`) && strings.Contains(string(schema), `"array"`) {
			var s struct {
				Properties map[string]struct {
					Type any `json:"type"`
				} `json:"properties"`
			}
			_ = json.Unmarshal(schema, &s)
			for name, p := range s.Properties {
				if ts, ok := p.Type.([]any); ok && slices.Contains(ts, any("array")) && slices.Contains(ts, any("null")) {
					t.Errorf("%s may be null: a list is [] when empty", name)
				}
			}
		}
	}
}

// TestCustomerNeedsAName: the rule that a customer has a first or a last name is in
// the schema (anyOf), and breaking it answers 422 naming last_name.
func TestCustomerNeedsAName(t *testing.T) {
	t.Parallel()
	d := servedDocument(t)
	if !strings.Contains(string(d.Components.Schemas["Customer"]), `"anyOf"`) {
		t.Errorf("Customer states no anyOf: %s", d.Components.Schemas["Customer"])
	}
	env := apitest.New(t)
	shop := env.Merchant(t, "northwind")
	o := apitest.Order("ada@example.com", time.Now().Add(-48*time.Hour))
	c := o["customer"].(map[string]any)
	delete(c, "first_name")
	c["last_name"] = ""
	res := env.Do(t, "PUT", "/v1/orders/NW-1", shop.Keys[auth.RoleIntegration], o)
	var p problemDoc
	res.JSON(t, &p)
	if res.Status != http.StatusUnprocessableEntity || len(p.Errors) != 1 || p.Errors[0].Location != "body.customer.last_name" ||
		!strings.Contains(p.Errors[0].Message, "first_name") {
		t.Errorf("got %d %s, want 422 naming body.customer.last_name", res.Status, res.Body)
	}
	c["first_name"] = "Ada"
	if res := env.Do(t, "PUT", "/v1/orders/NW-1", shop.Keys[auth.RoleIntegration], o); res.Status != http.StatusCreated {
		t.Errorf("with a first name: %d %s", res.Status, res.Body)
	}
}

// TestEmptyListsAreEmptyArrays: an empty list answers [], never null.
func TestEmptyListsAreEmptyArrays(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	shop := env.Merchant(t, "northwind")
	for _, path := range []string{"/v1/webhook-endpoints", "/v1/returns", "/v1/refunds", "/v1/reconciliations"} {
		res := env.Do(t, "GET", path, shop.Keys[auth.RoleAdmin], nil)
		if res.Status != http.StatusOK || !strings.Contains(string(res.Body), `"data":[]`) {
			t.Errorf("GET %s: %d %s, want data: []", path, res.Status, res.Body)
		}
	}
}
