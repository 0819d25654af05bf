package openapi

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"

	"github.com/roundtriphq/roundtrip/internal/auth"
)

// The API reference at /docs is rendered on the server from the OpenAPI document,
// with its stylesheet inline: it needs no script and nothing from another site, so it
// works on a closed network and cannot drift from the served document.

//go:embed docs.html
var docsFS embed.FS

var docsTmpl = template.Must(template.New("docs.html").Funcs(template.FuncMap{
	"lower": strings.ToLower,
	"paras": paragraphs,
}).ParseFS(docsFS, "docs.html"))

var (
	boldRE = regexp.MustCompile(`\*\*([^*]+)\*\*`)
	codeRE = regexp.MustCompile("`([^`]+)`")
)

// paragraphs splits a description into paragraphs and renders the two bits of
// Markdown the descriptions use: **bold** and `code`.
func paragraphs(s string) []template.HTML {
	var out []template.HTML
	for _, p := range strings.Split(s, "\n\n") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		h := template.HTMLEscapeString(strings.Join(strings.Fields(p), " "))
		h = boldRE.ReplaceAllString(h, "<strong>$1</strong>")
		h = codeRE.ReplaceAllString(h, "<code>$1</code>")
		out = append(out, template.HTML(h))
	}
	return out
}

type docsField struct {
	Name, Type, Description, Example string
	Required                         bool
	Depth                            int
}

type docsParam struct {
	Name, In, Type, Description string
	Required                    bool
}

type docsResponse struct {
	Status, Description, Type string
}

type docsOp struct {
	ID, Method, Path, Summary, Description, Access string
	Params                                         []docsParam
	Body                                           []docsField
	BodyType                                       string
	Responses                                      []docsResponse
}

type docsTag struct {
	Name string
	Ops  []docsOp
}

type docsPage struct {
	Title, Version, Description string
	Tags                        []docsTag
}

func serveDocs(api huma.API) http.HandlerFunc {
	var once sync.Once
	var page []byte
	var csp string
	var err error
	return func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() {
			var buf bytes.Buffer
			err = docsTmpl.Execute(&buf, buildDocs(api.OpenAPI()))
			page = buf.Bytes()
			csp = docsCSP(page)
		})
		if err != nil {
			http.Error(w, "the documentation could not be rendered", http.StatusInternalServerError)
			return
		}
		// The same protections as the web pages: nothing runs, nothing loads from
		// elsewhere, and no other site can frame the page.
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		w.Write(page)
	}
}

// docsCSP is the page's Content-Security-Policy: no script, no other resource, and
// only its own inline stylesheet, allowed by its hash.
func docsCSP(page []byte) string {
	style := ""
	if _, rest, ok := bytes.Cut(page, []byte("<style>")); ok {
		if css, _, ok := bytes.Cut(rest, []byte("</style>")); ok {
			sum := sha256.Sum256(css)
			style = " 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
		}
	}
	return "default-src 'none'; style-src" + style + "; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
}

func buildDocs(o *huma.OpenAPI) docsPage {
	p := docsPage{Title: o.Info.Title, Version: o.Info.Version, Description: o.Info.Description}
	byTag := map[string][]docsOp{}
	reg := o.Components.Schemas
	paths := make([]string, 0, len(o.Paths))
	for path := range o.Paths {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	for _, path := range paths {
		item := o.Paths[path]
		for _, m := range []struct {
			method string
			op     *huma.Operation
		}{{"GET", item.Get}, {"POST", item.Post}, {"PUT", item.Put}, {"PATCH", item.Patch}, {"DELETE", item.Delete}} {
			if m.op == nil {
				continue
			}
			op := m.op
			d := docsOp{ID: op.OperationID, Method: m.method, Path: path, Summary: op.Summary, Description: op.Description, Access: access(op)}
			for _, prm := range op.Parameters {
				d.Params = append(d.Params, docsParam{Name: prm.Name, In: prm.In, Type: typeName(reg, prm.Schema), Description: prm.Description, Required: prm.Required})
			}
			if op.RequestBody != nil {
				for ct, mt := range op.RequestBody.Content {
					if mt.Schema != nil {
						d.BodyType = ct
						d.Body = fields(reg, mt.Schema, 0, map[string]bool{})
					}
				}
			}
			codes := make([]string, 0, len(op.Responses))
			for code := range op.Responses {
				codes = append(codes, code)
			}
			sort.Strings(codes)
			for _, code := range codes {
				res := op.Responses[code]
				t := ""
				for ct, mt := range res.Content {
					t = ct
					if mt.Schema != nil {
						t += " · " + typeName(reg, mt.Schema)
					}
				}
				d.Responses = append(d.Responses, docsResponse{Status: code, Description: res.Description, Type: t})
			}
			tag := "Other"
			if len(op.Tags) > 0 {
				tag = op.Tags[0]
			}
			byTag[tag] = append(byTag[tag], d)
		}
	}
	order := []string{"Orders", "Portal", "Returns", "Labels", "Warehouse", "Refunds", "Store credit", "Webhooks"}
	seen := map[string]bool{}
	for _, t := range order {
		if ops, ok := byTag[t]; ok {
			p.Tags = append(p.Tags, docsTag{Name: t, Ops: ops})
			seen[t] = true
		}
	}
	var rest []string
	for t := range byTag {
		if !seen[t] {
			rest = append(rest, t)
		}
	}
	sort.Strings(rest)
	for _, t := range rest {
		p.Tags = append(p.Tags, docsTag{Name: t, Ops: byTag[t]})
	}
	return p
}

func access(op *huma.Operation) string {
	if len(op.Security) == 0 {
		return "Public"
	}
	var parts []string
	for _, req := range op.Security {
		for scheme := range req {
			switch scheme {
			case auth.SchemeShopper:
				parts = append(parts, "shopper token (own order)")
			default:
				parts = append(parts, "API key: "+strings.Join(auth.OperationRoles(op), ", "))
			}
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, " · ")
}

func resolve(reg huma.Registry, s *huma.Schema) *huma.Schema {
	if s != nil && s.Ref != "" {
		if r := reg.SchemaFromRef(s.Ref); r != nil {
			return r
		}
	}
	return s
}

func typeName(reg huma.Registry, s *huma.Schema) string {
	if s == nil {
		return ""
	}
	if s.Ref != "" {
		return s.Ref[strings.LastIndex(s.Ref, "/")+1:]
	}
	t := s.Type
	switch {
	case t == "array" && s.Items != nil:
		t = typeName(reg, s.Items) + "[]"
	case s.Format != "":
		t += " (" + s.Format + ")"
	}
	if len(s.Enum) > 0 {
		var vals []string
		for _, v := range s.Enum {
			vals = append(vals, fmt.Sprint(v))
		}
		t += ": " + strings.Join(vals, " | ")
	}
	return t
}

// fields flattens an object schema into rows, nested objects indented, to depth 3.
func fields(reg huma.Registry, s *huma.Schema, depth int, seen map[string]bool) []docsField {
	if s == nil || depth > 3 {
		return nil
	}
	if s.Ref != "" {
		if seen[s.Ref] {
			return nil
		}
		seen = copySeen(seen, s.Ref)
	}
	s = resolve(reg, s)
	if s.Type == "array" && s.Items != nil {
		return fields(reg, s.Items, depth, seen)
	}
	names := make([]string, 0, len(s.Properties))
	for n := range s.Properties {
		names = append(names, n)
	}
	sort.Strings(names)
	required := map[string]bool{}
	for _, n := range s.Required {
		required[n] = true
	}
	var out []docsField
	for _, n := range names {
		ps := s.Properties[n]
		rs := resolve(reg, ps)
		f := docsField{Name: n, Type: typeName(reg, ps), Description: rs.Description, Required: required[n], Depth: depth}
		if f.Description == "" {
			f.Description = ps.Description
		}
		if len(rs.Examples) > 0 {
			f.Example = fmt.Sprint(rs.Examples[0])
		}
		out = append(out, f)
		inner := rs
		if inner.Type == "array" && inner.Items != nil {
			inner = resolve(reg, inner.Items)
		}
		if inner.Type == "object" && len(inner.Properties) > 0 {
			ref := ps.Ref
			if ps.Type == "array" && ps.Items != nil {
				ref = ps.Items.Ref
			}
			if ref == "" || !seen[ref] {
				sub := seen
				if ref != "" {
					sub = copySeen(seen, ref)
				}
				out = append(out, fields(reg, inner, depth+1, sub)...)
			}
		}
	}
	return out
}

func copySeen(seen map[string]bool, add string) map[string]bool {
	m := make(map[string]bool, len(seen)+1)
	for k := range seen {
		m[k] = true
	}
	m[add] = true
	return m
}
