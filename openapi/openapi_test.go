package openapi_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/roundtriphq/roundtrip/openapi"
)

var update = flag.Bool("update", false, "rewrite openapi.yaml from the code")

// TestSpecDrift fails when the served document differs from the checked-in
// openapi.yaml; 'make openapi' (or go test ./openapi -update) rewrites it.
func TestSpecDrift(t *testing.T) {
	api := openapi.New(http.NewServeMux(), openapi.Services{})
	got, err := api.OpenAPI().YAML()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("openapi.yaml", got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatalf("%v: run 'make openapi'", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("openapi/openapi.yaml is out of date: run 'make openapi' and commit the result")
	}
}

// TestEveryOperationIsDocumented holds the document to the house rules: an ID, a
// summary, a tag, and declared security on everything under /v1 but the public
// shopper entry points.
func TestEveryOperationIsDocumented(t *testing.T) {
	api := openapi.New(http.NewServeMux(), openapi.Services{})
	public := map[string]bool{"create-portal-session": true, "receive-stripe-webhook": true, "receive-carrier-event": true,
		"receive-shippo-webhook": true}
	for path, item := range api.OpenAPI().Paths {
		for method, op := range map[string]*opView{"GET": view(item.Get), "POST": view(item.Post), "PUT": view(item.Put), "DELETE": view(item.Delete), "PATCH": view(item.Patch)} {
			if op == nil {
				continue
			}
			if op.id == "" || op.summary == "" || op.tags == 0 {
				t.Errorf("%s %s: needs an operation ID, a summary and a tag", method, path)
			}
			if op.security == 0 && !public[op.id] {
				t.Errorf("%s %s (%s) declares no security", method, path, op.id)
			}
		}
	}
}

type opView struct {
	id, summary    string
	tags, security int
}

func view(op *huma.Operation) *opView {
	if op == nil {
		return nil
	}
	return &opView{id: op.OperationID, summary: op.Summary, tags: len(op.Tags), security: len(op.Security)}
}

// TestDocsPageIsSelfContained checks that /docs lists every operation and loads
// nothing from another site.
func TestDocsPageIsSelfContained(t *testing.T) {
	mux := http.NewServeMux()
	api := openapi.New(mux, openapi.Services{})
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/docs", nil))
	if rec.Code != 200 {
		t.Fatalf("got %d", rec.Code)
	}
	page := rec.Body.String()
	for _, bad := range []string{"<script", "<link", `src="http`, "@import", "url(http"} {
		if strings.Contains(page, bad) {
			t.Errorf("/docs contains %q: it must work without other sites", bad)
		}
	}
	for _, item := range api.OpenAPI().Paths {
		for _, op := range []*huma.Operation{item.Get, item.Post, item.Put, item.Delete, item.Patch} {
			if op != nil && !strings.Contains(page, `id="`+op.OperationID+`"`) {
				t.Errorf("/docs lacks %s", op.OperationID)
			}
		}
	}
}

// TestDocsPageSecurityHeaders checks that /docs has the web pages' protections: a
// Content-Security-Policy that allows its own stylesheet and nothing else, and no
// framing by other sites.
func TestDocsPageSecurityHeaders(t *testing.T) {
	mux := http.NewServeMux()
	openapi.New(mux, openapi.Services{})
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/docs", nil))
	h := rec.Header()
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	_, rest, _ := strings.Cut(rec.Body.String(), "<style>")
	css, _, ok := strings.Cut(rest, "</style>")
	if !ok {
		t.Fatal("/docs has no stylesheet")
	}
	sum := sha256.Sum256([]byte(css))
	if want := "style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, want) {
		t.Errorf("Content-Security-Policy %q does not allow the page's stylesheet (%s)", csp, want)
	}
	for k, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff"} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: got %q, want %q", k, got, want)
		}
	}
}
