package openapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/roundtriphq/roundtrip/internal/npmtool"
	"github.com/roundtriphq/roundtrip/openapi"
)

// SpectralVersion is the Spectral that lints the documents (make tools installs it).
const SpectralVersion = "6.15.0"

// TestDocumentsPassSpectral lints both served documents with Spectral's spectral:oas
// ruleset, as a shop's developer would before generating a client: no errors, and at
// most 10 warnings each.
func TestDocumentsPassSpectral(t *testing.T) {
	bin := npmtool.Bin(t, "spectral", "@stoplight/spectral-cli", SpectralVersion, "spectral")
	mux := http.NewServeMux()
	openapi.New(mux, openapi.Services{})
	dir := t.TempDir()
	ruleset := filepath.Join(dir, ".spectral.yaml")
	if err := os.WriteFile(ruleset, []byte("extends: [\"spectral:oas\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/openapi.yaml", "/openapi-3.0.json"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s: %d", path, rec.Code)
			}
			doc := filepath.Join(dir, filepath.Base(path))
			if err := os.WriteFile(doc, rec.Body.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			// Spectral exits 1 when it finds errors; its JSON report is read either way.
			out, err := exec.CommandContext(t.Context(), bin, "lint", "--quiet", "-r", ruleset, "-f", "json", doc).Output()
			var results []struct {
				Code     string `json:"code"`
				Message  string `json:"message"`
				Severity int    `json:"severity"`
				Path     []any  `json:"path"`
			}
			if jerr := json.Unmarshal(out, &results); jerr != nil {
				t.Fatalf("spectral: %v (%v)\n%s", jerr, err, out)
			}
			warnings := 0
			for _, r := range results {
				switch r.Severity {
				case 0:
					t.Errorf("error %s at %v: %s", r.Code, r.Path, r.Message)
				case 1:
					warnings++
					t.Logf("warning %s at %v: %s", r.Code, r.Path, r.Message)
				}
			}
			if warnings > 10 {
				t.Errorf("%d warnings, want at most 10", warnings)
			}
		})
	}
}
