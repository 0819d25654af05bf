// Package problem is the product's RFC 9457 error model: one Problem type for every
// error answer, constructors for the common cases, and Install, which makes Huma build
// every error (its own validation errors and 500s included) as a Problem whose 5xx
// answers carry a generic message and the request ID, never internal error text.
//
// It lives under internal/ rather than in openapi/ because every domain package's
// api.go builds problems, and openapi imports those packages to register them.
package problem

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/danielgtaylor/huma/v2"
	humavalidation "github.com/danielgtaylor/huma/v2/validation"

	"github.com/roundtriphq/roundtrip/internal/reqid"
	"github.com/roundtriphq/roundtrip/internal/validation"
)

// Problem is an application/problem+json document.
type Problem struct {
	Type      string              `json:"type,omitempty" format:"uri" doc:"A URI reference that identifies the problem type." example:"about:blank"`
	Title     string              `json:"title" doc:"A short summary of the problem type." example:"Unprocessable Entity"`
	Status    int                 `json:"status" doc:"HTTP status code." example:"422"`
	Detail    string              `json:"detail,omitempty" doc:"What went wrong in this occurrence, in plain words." example:"The request has 1 invalid field."`
	Code      string              `json:"code,omitempty" doc:"A stable machine-readable code for the problem." example:"invalid_request"`
	RequestID string              `json:"request_id,omitempty" doc:"The request ID (also in the X-Request-Id header); quote it to support." example:"req_0123456789ABCDEF"`
	State     string              `json:"state,omitempty" doc:"For a refused state transition: the current state." example:"cancelled"`
	Event     string              `json:"event,omitempty" doc:"For a refused state transition: the event that was refused." example:"approve"`
	Errors    []*huma.ErrorDetail `json:"errors,omitempty" doc:"One entry per wrong field, with its location (e.g. body.items[0].quantity)."`

	headers http.Header
}

func (p *Problem) Error() string  { return p.Detail }
func (p *Problem) GetStatus() int { return p.Status }

// GetHeaders lets Huma write headers such as Retry-After with the problem.
func (p *Problem) GetHeaders() http.Header {
	if p.headers == nil {
		p.headers = http.Header{}
	}
	return p.headers
}

// ContentType makes JSON problems application/problem+json.
func (p *Problem) ContentType(ct string) string {
	if ct == "application/json" {
		return "application/problem+json"
	}
	return ct
}

// New builds a problem with the standard title for status.
func New(status int, code, detail string) *Problem {
	return &Problem{Status: status, Title: http.StatusText(status), Code: code, Detail: detail}
}

// NotFound answers 404. Callers use it also for another merchant's or order's data,
// so that nobody learns whether a thing exists elsewhere.
func NotFound(detail string) *Problem { return New(http.StatusNotFound, "not_found", detail) }

// Conflict answers 409.
func Conflict(code, detail string) *Problem { return New(http.StatusConflict, code, detail) }

// Unprocessable answers 422 for a request that is well-formed but cannot be done.
func Unprocessable(code, detail string) *Problem {
	return New(http.StatusUnprocessableEntity, code, detail)
}

// TooManyRequests answers 429 with Retry-After in whole seconds.
func TooManyRequests(detail string, retryAfterSeconds int) *Problem {
	p := New(http.StatusTooManyRequests, "rate_limited", detail)
	p.GetHeaders().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	return p
}

// Invalid answers 422 with one entry per wrong field; prefix is where the fields sit
// in the request ("body.", "query.").
func Invalid(prefix string, v *validation.Error) *Problem {
	p := New(http.StatusUnprocessableEntity, "invalid_request", "")
	for _, f := range v.Fields {
		p.Errors = append(p.Errors, &huma.ErrorDetail{Location: prefix + f.Path, Message: f.Message, Value: f.Value})
	}
	p.Detail = describe(len(p.Errors))
	return p
}

func describe(n int) string {
	if n == 1 {
		return "The request has 1 invalid field: see errors."
	}
	return fmt.Sprintf("The request has %d invalid fields: see errors.", n)
}

// RetryAfterUnavailable is the Retry-After, in seconds, of a 503: the database or
// another part a request needs did not answer, and a retry a moment later usually
// succeeds.
const RetryAfterUnavailable = 2

// internalDetail is all a client learns about a server fault.
const internalDetail = "Something went wrong on our side. Try again; if it keeps happening, contact support with the request ID."

var (
	installOnce sync.Once
	logger      atomic.Pointer[slog.Logger]
	domain      atomic.Pointer[func(error) *Problem]
)

type loggerKey struct{}

// WithLogger makes server faults of requests with ctx go to log. The route table sets
// it on every request, so that several APIs in one process (tests) each keep their own
// log even though Huma's error constructors are process-wide.
func WithLogger(ctx context.Context, log *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, log)
}

// Install makes Huma build every error as a Problem and log server faults once, with
// the request ID, through log. An error a handler returns that is not a Problem goes
// through mapDomain, the one mapping of the domains' errors (openapi); what it does
// not know is a server fault. Huma keeps its error constructors in package variables,
// so this is process-wide; calling it again only swaps the logger and the mapping.
func Install(log *slog.Logger, mapDomain func(error) *Problem) {
	logger.Store(log)
	domain.Store(&mapDomain)
	installOnce.Do(func() {
		huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
			return build(context.Background(), status, msg, errs)
		}
		huma.NewErrorWithContext = func(ctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
			c := context.Background()
			if ctx != nil {
				c = ctx.Context()
			}
			p := build(c, status, msg, errs)
			// Huma writes the headers of the error a handler returned, not of the
			// problem built here from it (a mapped domain error's WWW-Authenticate,
			// a 503's Retry-After), nor of the problems WriteErr builds: so they go on
			// the answer here.
			if ctx != nil {
				for k, vs := range p.headers {
					for _, v := range vs {
						ctx.AppendHeader(k, v)
					}
				}
			}
			return p
		}
	})
}

func build(ctx context.Context, status int, msg string, errs []error) *Problem {
	id := reqid.FromContext(ctx)
	if m := domain.Load(); status == http.StatusInternalServerError && m != nil && *m != nil {
		for _, err := range errs {
			if p := (*m)(err); p != nil {
				p.RequestID = id
				return p
			}
		}
	}
	if status >= 500 {
		attrs := []any{slog.Int("status", status), slog.String("request_id", id), slog.String("message", msg)}
		if cause := context.Cause(ctx); cause != nil {
			attrs = append(attrs, slog.String("cause", cause.Error()))
		}
		for _, err := range errs {
			if err != nil {
				attrs = append(attrs, slog.String("error", err.Error()))
			}
		}
		l, _ := ctx.Value(loggerKey{}).(*slog.Logger)
		if l == nil {
			l = logger.Load()
		}
		if l != nil {
			l.ErrorContext(ctx, "request failed", attrs...)
		}
		p := New(status, "internal_error", internalDetail)
		if status != http.StatusInternalServerError {
			p.Code = "unavailable"
		}
		if status == http.StatusServiceUnavailable {
			p.GetHeaders().Set("Retry-After", strconv.Itoa(RetryAfterUnavailable))
		}
		p.RequestID = id
		return p
	}
	p := New(status, "", msg)
	p.RequestID = id
	// One entry per wrong field: when the schema and a domain check (a resolver) both
	// refuse a field, the first (the schema's) is kept.
	named := map[string]bool{}
	add := func(d *huma.ErrorDetail) {
		if d.Location != "" {
			if named[d.Location] {
				return
			}
			named[d.Location] = true
		}
		p.Errors = append(p.Errors, d)
	}
	for _, err := range errs {
		if err == nil {
			continue
		}
		var v *validation.Error
		if errors.As(err, &v) {
			for _, d := range Invalid("", v).Errors {
				add(d)
			}
			continue
		}
		var d huma.ErrorDetailer
		if errors.As(err, &d) {
			add(pointAtMissing(d.ErrorDetail()))
			continue
		}
		add(&huma.ErrorDetail{Message: err.Error()})
	}
	switch {
	case status == http.StatusUnprocessableEntity || status == http.StatusBadRequest:
		p.Code = "invalid_request"
	case status == http.StatusUnauthorized:
		p.Code = "unauthorized"
	case status == http.StatusForbidden:
		p.Code = "forbidden"
	case status == http.StatusNotFound:
		p.Code = "not_found"
	case status == http.StatusRequestEntityTooLarge:
		p.Code = "body_too_large"
	}
	return p
}

// anyOfs explains a failed anyOf by where it failed: registered by ExplainAnyOf.
var anyOfs sync.Map // location suffix → huma.ErrorDetail (location relative to it)

// ExplainAnyOf makes a failed anyOf at a location ending in suffix (".customer")
// answer as the field within it that should be set, with message, instead of
// Huma's "expected value to match at least one schema but matched none".
func ExplainAnyOf(suffix, field, message string) {
	anyOfs.Store(suffix, huma.ErrorDetail{Location: field, Message: message})
}

// pointAtMissing makes Huma's "expected required property x to be present" at
// "body" name the missing field itself ("body.x"), so that every error names its field.
func pointAtMissing(d *huma.ErrorDetail) *huma.ErrorDetail {
	if d.Message == humavalidation.MsgExpectedMatchAtLeastOneSchema {
		var found *huma.ErrorDetail
		anyOfs.Range(func(k, v any) bool {
			if strings.HasSuffix(d.Location, k.(string)) {
				e := v.(huma.ErrorDetail)
				found = &huma.ErrorDetail{Location: d.Location + "." + e.Location, Message: e.Message}
				return false
			}
			return true
		})
		if found != nil {
			return found
		}
	}
	const pre, post = "expected required property ", " to be present"
	if name, ok := strings.CutPrefix(d.Message, pre); ok && strings.HasSuffix(name, post) {
		name = strings.TrimSuffix(name, post)
		return &huma.ErrorDetail{Location: d.Location + "." + name, Message: "is required"}
	}
	return d
}

// Transform is a Huma transformer that stamps the request ID on problems built
// without a context (the huma.ErrorXXX helpers and this package's constructors).
func Transform(ctx huma.Context, _ string, v any) (any, error) {
	if p, ok := v.(*Problem); ok && p.RequestID == "" {
		p.RequestID = reqid.FromContext(ctx.Context())
	}
	return v, nil
}

// Write sends p outside Huma (plain net/http handlers such as /readyz and the
// middleware that runs before routing).
func Write(w http.ResponseWriter, r *http.Request, p *Problem) {
	if p.RequestID == "" {
		p.RequestID = reqid.FromContext(r.Context())
	}
	for k, vs := range p.headers {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
