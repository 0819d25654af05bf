// Package openapi is the one route table: it builds the Huma API on a ServeMux,
// installs the error model and the middleware chain (auth, idempotency), and
// asks every domain package to register its operations on the services it is given
// (cmd/roundtrip/app builds them). errors.go is the one mapping of the domains'
// errors to problems. The checked-in openapi.yaml is what it serves; a test fails
// when they drift (make openapi rewrites the file).
package openapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/audit"
	"github.com/roundtriphq/roundtrip/email"
	"github.com/roundtriphq/roundtrip/exchanges"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/emptylist"
	"github.com/roundtriphq/roundtrip/internal/idempotency"
	"github.com/roundtriphq/roundtrip/internal/problem"
	"github.com/roundtriphq/roundtrip/internal/ratelimit"
	"github.com/roundtriphq/roundtrip/internal/reqid"
	"github.com/roundtriphq/roundtrip/labels"
	"github.com/roundtriphq/roundtrip/merchant"
	"github.com/roundtriphq/roundtrip/notify"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/refunds/ledger"
	"github.com/roundtriphq/roundtrip/refunds/reconcile"
	"github.com/roundtriphq/roundtrip/returns"
	"github.com/roundtriphq/roundtrip/returns/analytics"
	"github.com/roundtriphq/roundtrip/returns/receiving"
)

// RequestTimeout bounds every operation (the server's write timeout is longer).
const RequestTimeout = 30 * time.Second

// StreamTimeout bounds an operation that streams a long answer (a CSV export, marked
// with Metadata "stream": true): a year of refunds is written in batches for minutes
// on a busy server, and is not cut off at RequestTimeout or the server's write timeout.
const StreamTimeout = 10 * time.Minute

// Version is the API's version in the OpenAPI document.
const Version = "1.0.0"

// Services are what the operations call; cmd/roundtrip/app builds them. Building the
// API only to print its document (roundtrip openapi, the drift test) needs none of
// them: the handlers never run then.
type Services struct {
	DB     *sqlx.DB
	Logger *slog.Logger

	Merchants *merchant.Store
	Keys      *auth.Keys
	Shoppers  *auth.Shoppers
	Returns   *returns.Store
	Labels    *labels.Service
	Refunds   *refunds.Service
	Receiving *receiving.Service
	Reconcile *reconcile.Service
	Exchanges *exchanges.Service
	Webhooks  *notify.Service
	// Emails lists and resends the shopper's emails.
	Emails *email.Service
	// Audit records the admin operations' changes.
	Audit *audit.Log
	// Idempotency makes creating requests safe to retry; nil: one on DB. The
	// process flushes it when it stops (idempotency.Middleware.Flush).
	Idempotency *idempotency.Middleware

	// PortalClientLimit and PortalOrderLimit limit portal sign-ins per client address
	// and per order; nil means no limit.
	PortalClientLimit, PortalOrderLimit *ratelimit.Limiter

	// BodyReadTimeout is how long a client may take to send a request body (default
	// DefaultBodyReadTimeout); a slower one is cut off with 408.
	BodyReadTimeout time.Duration

	// BaseURL is where clients reach the API (the document's server); empty: the
	// local default.
	BaseURL string
}

// DefaultBodyReadTimeout is how long a client may take to send a request body.
const DefaultBodyReadTimeout = 5 * time.Second

const description = `Roundtrip is a returns and refunds platform for online shops.

Shops push their orders in with an **integration** key; shoppers start returns in the
portal with a short-lived **shopper token**; the **warehouse** scans parcels; refunds go
back through Stripe exactly once; **finance** reconciles them.

**Conventions.** JSON in and out. Money is an integer amount in the currency's minor
unit (cents for EUR, yen for JPY, fils for KWD) with its ISO 4217 code. Errors are
RFC 9457 problem documents (` + "`application/problem+json`" + `) with a ` + "`code`" + `,
the ` + "`request_id`" + ` to quote to support, and one entry per wrong field under
` + "`errors`" + `. Every creating POST accepts an ` + "`Idempotency-Key`" + `. Lists use
cursor pagination (` + "`limit`" + `, ` + "`cursor`" + `, ` + "`next_cursor`" + `). Another
merchant's or another order's data answers 404.`

// A list is [] when empty, never null (answers are filled by emptyLists). Huma keeps
// this in a package variable, read while schemas are built: it is set once, before
// any API is.
func init() { huma.DefaultArrayNullable = false }

// Config is the Huma configuration of the product's API.
func Config() huma.Config {
	cfg := huma.DefaultConfig("Roundtrip API", Version)
	// No $schema property and Link header on every answer: clients do not need them.
	cfg.CreateHooks = nil
	cfg.Info.Description = description
	// the documents are ours (spec.go): Huma's 3.0 downgrade is not valid 3.0
	cfg.OpenAPIPath = ""
	cfg.Components.Schemas = huma.NewMapRegistry("#/components/schemas/", schemaName)
	// /docs is ours (docs.go): Huma's page loads its renderer from a CDN
	cfg.DocsPath = ""
	cfg.Components.SecuritySchemes = auth.Schemes()
	cfg.Transformers = append(cfg.Transformers, problem.Transform, emptyLists)
	return cfg
}

// New builds the API on mux and registers every operation; it builds no services.
func New(mux *http.ServeMux, svc Services) huma.API {
	log := svc.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	problem.Install(log, problemFor)
	bodyTimeout := svc.BodyReadTimeout
	if bodyTimeout <= 0 {
		bodyTimeout = DefaultBodyReadTimeout
	}
	api := huma.NewAPI(Config(), &adapter{Adapter: humago.NewAdapter(mux, ""), mux: mux, log: log, readFor: bodyTimeout})
	oapi := api.OpenAPI()
	oapi.OnAddOperation = append(oapi.OnAddOperation, auth.MoveRoles, declareAnswers)
	describeDocument(oapi, svc.BaseURL)

	mux.HandleFunc("GET /docs", serveDocs(api))
	serveDocuments(mux, oapi)

	authn := &auth.Authenticator{Keys: svc.Keys, Shoppers: svc.Shoppers}
	api.UseMiddleware(authn.Middleware(api))
	api.UseMiddleware(noteCaller)
	api.UseMiddleware(refuseUnstorable(api))
	idem := svc.Idempotency
	if idem == nil {
		idem = &idempotency.Middleware{DB: svc.DB}
	}
	api.UseMiddleware(idem.Handler(api))

	merchant.Register(api, svc.Merchants, svc.Audit)
	merchant.RegisterKeys(api, svc.Keys, svc.Audit)
	labels.Register(api, svc.Labels, svc.Audit)
	receiving.Register(api, svc.Receiving)
	refunds.Register(api, svc.Refunds)
	exchanges.Register(api, svc.Exchanges)
	ledger.Register(api, svc.DB)
	reconcile.Register(api, svc.Reconcile)
	analytics.Register(api, svc.DB)
	notify.Register(api, svc.Webhooks, svc.Audit)
	email.Register(api, svc.Emails, svc.Returns, svc.Audit)
	audit.Register(api, svc.Audit)
	returns.Register(api, &returns.API{
		Store:       svc.Returns,
		Merchants:   svc.Merchants,
		Shoppers:    svc.Shoppers,
		Audit:       svc.Audit,
		ClientLimit: svc.PortalClientLimit,
		OrderLimit:  svc.PortalOrderLimit,
	})
	// each webhook's data is documented as the resource it carries
	notify.DescribeData(api, map[notify.EventType]any{
		notify.ReturnCreated: returns.Return{}, notify.ReturnApproved: returns.Return{}, notify.ReturnRejected: returns.Return{},
		notify.ReturnCancelled: returns.Return{}, notify.ReturnExpired: returns.Return{}, notify.ReturnReceived: returns.Return{},
		notify.ReturnCompleted: returns.Return{},
		notify.LabelIssued:     labels.Parcel{}, notify.ParcelInTransit: labels.Parcel{}, notify.ParcelDelivered: labels.Parcel{},
		notify.RefundCreated: refunds.Refund{}, notify.RefundSucceeded: refunds.Refund{}, notify.RefundFailed: refunds.Refund{},
		notify.StoreCreditIssued: refunds.CreditIssued{},
		notify.ExchangeReserved:  exchanges.Exchange{}, notify.ExchangeReleased: exchanges.Exchange{},
		notify.ExchangeShipped: exchanges.Exchange{}, notify.ExchangeCancelled: exchanges.Exchange{},
		notify.ExchangeUnreturned: exchanges.Exchange{},
		notify.FeedbackReceived:   returns.Feedback{},
	})
	return api
}

// emptyLists is a Huma transformer: no answer carries a null list.
func emptyLists(_ huma.Context, _ string, v any) (any, error) { return emptylist.Fill(v), nil }

// noteCaller puts the authenticated caller's merchant on the request's access log line.
func noteCaller(ctx huma.Context, next func(huma.Context)) {
	if p, ok := auth.FromContext(ctx.Context()); ok {
		reqid.Note(ctx.Context()).MerchantID = p.MerchantID
	}
	next(ctx)
}

// adapter is humago's, plus a deadline and the fault logger on every operation, and
// the operation's ID on the request's access log line and metrics (the server's
// middleware counts and logs every request, pages and 404s included).
type adapter struct {
	huma.Adapter
	mux     *http.ServeMux
	log     *slog.Logger
	readFor time.Duration // how long a request body may take to arrive
}

func (a *adapter) Handle(op *huma.Operation, handler func(huma.Context)) {
	// Huma sets a read deadline on the connection before reading a body and never
	// clears it. When the body was already read (the idempotency middleware reads it
	// first), that deadline lands on net/http's background read, which then cancels the
	// request's context mid-handler under load. So Huma's deadline is turned off, and
	// the adapter reads every body itself, under its own deadline set before the first
	// byte is read and cleared once the body is in (readBody).
	op.BodyReadTimeout = -1
	log := a.log.With(slog.String("operation", op.OperationID))
	a.mux.HandleFunc(op.Method+" "+op.Path, func(w http.ResponseWriter, r *http.Request) {
		reqid.Note(r.Context()).Operation = op.OperationID
		if !a.readBody(w, r, op) {
			return
		}
		// Every operation ends within RequestTimeout, so that nothing waits forever
		// for a lock or a pooled connection; a streamed answer within StreamTimeout.
		timeout := RequestTimeout
		if op.Metadata["stream"] == true {
			timeout = StreamTimeout
			_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(timeout))
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		r = r.WithContext(problem.WithLogger(ctx, log))
		handler(humago.NewContext(op, r, w))
	})
}

// readBody reads the request's body into memory within the body deadline, then clears
// the connection's read deadline before any handler runs, and gives the request the
// body read. A client that sends its body too slowly gets 408 and its connection is
// closed; a body larger than the operation takes gets 413. It reports whether the
// request may go on.
func (a *adapter) readBody(w http.ResponseWriter, r *http.Request, op *huma.Operation) bool {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return true
	}
	limit := op.MaxBodyBytes
	if limit <= 0 {
		limit = 1 << 20
	}
	rc := http.NewResponseController(w)
	// Without a connection to set deadlines on (a test recorder), the body is read as is.
	armed := rc.SetReadDeadline(time.Now().Add(a.readFor)) == nil
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	var ne net.Error
	switch {
	case err != nil && errors.As(err, &ne) && ne.Timeout():
		w.Header().Set("Connection", "close")
		problem.Write(w, r, problem.New(http.StatusRequestTimeout, "body_timeout",
			fmt.Sprintf("The request body did not arrive within %s.", a.readFor)))
		return false
	case err != nil:
		w.Header().Set("Connection", "close")
		problem.Write(w, r, problem.New(http.StatusBadRequest, "invalid_request", "The request body could not be read."))
		return false
	}
	if armed {
		_ = rc.SetReadDeadline(time.Time{}) // as net/http does when a body ends
	}
	if int64(len(body)) > limit {
		w.Header().Set("Connection", "close")
		problem.Write(w, r, problem.New(http.StatusRequestEntityTooLarge, "body_too_large",
			fmt.Sprintf("The request body is larger than %d bytes.", limit)))
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return true
}
