package openapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/yaml"
)

// The documents are served at /openapi.json and /openapi.yaml (OpenAPI 3.1, as Huma
// builds it) and /openapi-3.0.json and /openapi-3.0.yaml (OpenAPI 3.0.3, what most
// client generators read). Huma's own downgrade leaves constructs that 3.0 does not
// allow, so Downgrade finishes it.

// Downgrade returns api's document as OpenAPI 3.0.3 JSON that a 3.0 validator
// accepts: Huma's downgrade, then
//   - a $ref with sibling keywords (a description, nullable) becomes an allOf of the
//     one reference beside those keywords (3.0 ignores a $ref's siblings);
//   - contentMediaType, which 3.0 does not know, is dropped (format: binary stays);
//   - the webhooks section, new in 3.1, moves to the x-webhooks extension.
func Downgrade(oapi *huma.OpenAPI) ([]byte, error) {
	b, err := oapi.Downgrade()
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if wh, ok := doc["webhooks"]; ok {
		delete(doc, "webhooks")
		doc["x-webhooks"] = wh
	}
	fix30(doc)
	return json.Marshal(doc)
}

// DowngradeYAML is Downgrade as YAML.
func DowngradeYAML(oapi *huma.OpenAPI) ([]byte, error) {
	b, err := Downgrade(oapi)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	err = yaml.Convert(&out, bytes.NewReader(b))
	return out.Bytes(), err
}

// fix30 rewrites v in place, depth first.
func fix30(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if k == "example" || k == "examples" || k == "default" || k == "enum" {
				continue // values, not schemas
			}
			fix30(child)
		}
		delete(v, "contentMediaType")
		if ref, ok := v["$ref"]; ok && len(v) > 1 {
			delete(v, "$ref")
			v["allOf"] = []any{map[string]any{"$ref": ref}}
		}
	case []any:
		for _, child := range v {
			fix30(child)
		}
	}
}

// serveDocuments serves the four documents, each built once on first request.
func serveDocuments(mux *http.ServeMux, oapi *huma.OpenAPI) {
	build := sync.OnceValues[[]byte, error]
	json31 := build(func() ([]byte, error) { return json.Marshal(oapi) })
	json30 := build(func() ([]byte, error) { return Downgrade(oapi) })
	yaml31 := build(func() ([]byte, error) { return oapi.YAML() })
	yaml30 := build(func() ([]byte, error) { return DowngradeYAML(oapi) })
	for path, doc := range map[string]struct {
		ct string
		b  func() ([]byte, error)
	}{
		"/openapi.json":     {"application/openapi+json", json31},
		"/openapi.yaml":     {"application/openapi+yaml", yaml31},
		"/openapi-3.0.json": {"application/openapi+json", json30},
		"/openapi-3.0.yaml": {"application/openapi+yaml", yaml30},
	} {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, _ *http.Request) {
			b, err := doc.b()
			if err != nil {
				http.Error(w, "the document could not be built", http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", doc.ct)
			_, _ = w.Write(b)
		})
	}
}
