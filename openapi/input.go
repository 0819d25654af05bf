package openapi

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/roundtriphq/roundtrip/internal/problem"
	"github.com/roundtriphq/roundtrip/internal/validation"
)

// refuseUnstorable is the middleware that answers 422, naming each field, when a
// path, query or header parameter, or a string (or key) of a JSON body, holds the NUL
// character, or when a parameter holds bytes that are not UTF-8. PostgreSQL cannot
// store either in text, so without this check such input reaches the database and
// answers 500. It applies to every operation; bodies an operation verifies itself
// (SkipValidateBody: the signed Stripe events) are left to it.
func refuseUnstorable(api huma.API) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		op := ctx.Operation()
		var v validation.Error
		u := ctx.URL()
		query := u.Query()
		for _, p := range op.Parameters {
			switch p.In {
			case "path":
				validation.Text("path."+p.Name, ctx.Param(p.Name), &v)
			case "query":
				for _, q := range query[p.Name] {
					validation.Text("query."+p.Name, q, &v)
				}
			case "header":
				// a header cannot hold NUL, but it can hold bytes that are not UTF-8
				validation.Text("header."+p.Name, ctx.Header(p.Name), &v)
			}
		}
		if op.RequestBody == nil || op.SkipValidateBody || !jsonBody(ctx.Header("Content-Type")) {
			if v.Err() != nil {
				r, w := humago.Unwrap(ctx)
				problem.Write(w, r.WithContext(ctx.Context()), problem.Invalid("", &v))
				return
			}
			next(ctx)
			return
		}
		r, w := humago.Unwrap(ctx)
		limit := op.MaxBodyBytes
		if limit <= 0 {
			limit = 1 << 20
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err != nil {
			huma.WriteErr(api, ctx, http.StatusBadRequest, "The request body could not be read.")
			return
		}
		if int64(len(body)) <= limit { // a larger body is refused as such by Huma
			validation.NoNULInJSON("body", body, &v)
		}
		if v.Err() != nil {
			problem.Write(w, r.WithContext(ctx.Context()), problem.Invalid("", &v))
			return
		}
		r2 := r.WithContext(ctx.Context())
		r2.Body = readCloser{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
		next(humago.NewContext(op, r2, w))
	}
}

// jsonBody reports whether a request body of content type ct is JSON (Huma reads a
// body without a content type as JSON).
func jsonBody(ct string) bool {
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// readCloser reads the part of a body already read, then the rest, and closes the
// original.
type readCloser struct {
	io.Reader
	io.Closer
}
