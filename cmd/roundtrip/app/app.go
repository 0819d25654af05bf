// Package app assembles the product: it builds every service on one database, wires
// what a return's changes set off, gives the background worker every job handler, and
// mounts the API and the pages on one ServeMux. It is the one place that knows how the
// parts fit; the roundtrip command serves what it builds and the tests run it whole
// (cmd/roundtrip/apitest).
package app

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/audit"
	"github.com/roundtriphq/roundtrip/email"
	"github.com/roundtriphq/roundtrip/exchanges"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/idempotency"
	"github.com/roundtriphq/roundtrip/internal/listen"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/internal/ratelimit"
	"github.com/roundtriphq/roundtrip/labels"
	"github.com/roundtriphq/roundtrip/merchant"
	"github.com/roundtriphq/roundtrip/notify"
	"github.com/roundtriphq/roundtrip/openapi"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/refunds/reconcile"
	"github.com/roundtriphq/roundtrip/returns"
	"github.com/roundtriphq/roundtrip/returns/receiving"
	"github.com/roundtriphq/roundtrip/web"
)

// Config is what the product runs on.
type Config struct {
	DB     *sqlx.DB
	Logger *slog.Logger
	// Gateway sends refunds; nil leaves them queued (no Stripe key configured).
	Gateway refunds.Gateway
	// WebhookSecret verifies Stripe's webhook signatures.
	WebhookSecret string
	// StripeDashboard is the Stripe dashboard URL finance's pages link refunds and
	// payments to (https://dashboard.stripe.com/test in test mode); empty: no links.
	StripeDashboard string
	// Worker, when set, gets the background job handlers of every domain.
	Worker *outbox.Worker
	// Hub, when set, is the process's LISTEN connection: API keys are then cached
	// for KeyCacheTTL and forgotten on every replica when one revokes them.
	Hub *listen.Hub
	// BaseURL is the public URL of the service, for links and label QR codes; empty
	// takes each request's own host.
	BaseURL string
	// PortalClientLimit is how many portal sign-in attempts one client address may
	// make a minute (default 60; negative: no limit, for load tests from one address).
	PortalClientLimit int
	// BodyReadTimeout is how long a client may take to send a request body (default
	// openapi.DefaultBodyReadTimeout).
	BodyReadTimeout time.Duration
	// Shippo configures how labels bought through Shippo reach it (a fake for demos
	// and tests).
	Shippo labels.ShippoOptions
	// Webhooks configures outgoing webhooks to the shop (http and private addresses
	// allowed for local runs and tests; the delivery timeout).
	Webhooks notify.Options
	// Email configures the shopper's emails (no Sender: none are written).
	Email email.Config
}

// KeyCacheTTL bounds how long a replica that missed a revocation's notification keeps
// accepting the revoked key.
const KeyCacheTTL = 30 * time.Second

// CacheTTL bounds how long a replica that missed a change's notification keeps using
// its copy of a merchant's webhook endpoints, settings or current policy (every
// change is announced to every replica when it commits).
const CacheTTL = 10 * time.Second

// App is the assembled product.
type App struct {
	Merchants *merchant.Store
	Keys      *auth.Keys
	Shoppers  *auth.Shoppers
	Users     *auth.Users
	Returns   *returns.Store
	Labels    *labels.Service
	Refunds   *refunds.Service
	Receiving *receiving.Service
	Exchanges *exchanges.Service
	Reconcile *reconcile.Service
	Webhooks  *notify.Service
	Emails    *email.Service
	// Audit is the merchants' audit trail: every admin change, from the API and
	// the admin console, records itself there in its own transaction.
	Audit *audit.Log

	// Idempotency stores the answers of creating requests; its last ones are
	// written when the process stops (Flush).
	Idempotency *idempotency.Middleware

	API   huma.API
	Pages *web.Server
}

// New builds the product on cfg.DB and mounts its API and pages on mux.
func New(cfg Config, mux *http.ServeMux) *App {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := cfg.DB
	a := &App{
		Merchants: merchant.NewStore(d),
		Keys:      auth.NewKeys(d),
		Shoppers:  auth.NewShoppers(d),
		Users:     auth.NewUsers(d),
		Returns:   returns.NewStore(d),
		Audit:     audit.NewLog(d),
	}
	if cfg.Hub != nil {
		a.Keys.Cache(KeyCacheTTL, cfg.Hub)
		a.Shoppers.Cache(CacheTTL, cfg.Hub)
		a.Merchants.Cache(CacheTTL, cfg.Hub)
	}
	a.Labels = labels.NewService(d, a.Returns, a.Merchants, cfg.BaseURL, nil)
	a.Labels.Shippo, a.Labels.Logger = cfg.Shippo, log
	a.Refunds = refunds.NewService(d, a.Returns, cfg.Gateway, cfg.WebhookSecret, log)
	a.Receiving = receiving.New(a.Returns, a.Labels)
	a.Exchanges = exchanges.New(d, a.Returns, cfg.BaseURL, log)
	if g, ok := cfg.Gateway.(refunds.CheckoutGateway); ok {
		a.Exchanges.Checkout = g // dearer replacements are paid through Stripe Checkout
	}
	a.Refunds.Checkouts = a.Exchanges
	a.Reconcile = reconcile.New(d, cfg.Gateway, log)
	webhooks := cfg.Webhooks
	if webhooks.Logger == nil {
		webhooks.Logger = log
	}
	a.Webhooks = notify.New(d, webhooks)
	if cfg.Hub != nil {
		a.Webhooks.CacheEndpoints(CacheTTL, cfg.Hub)
	}
	mail := cfg.Email
	if mail.BaseURL == "" {
		mail.BaseURL = cfg.BaseURL
	}
	if mail.Logger == nil {
		mail.Logger = log
	}
	a.Emails = email.New(d, mail, a.Returns, a.Labels, a.Merchants)

	// What a return's changes set off, inside the change's transaction: approval
	// issues labels (a keep-it return is refunded instead), an end voids them,
	// accepted units are refunded or credited, and an exchange's replacement is held,
	// released or given back (returns.Effects lists them all).
	a.Returns.SetEffects(returns.Effects{Labels: a.Labels, Resolver: a.Refunds, Notifier: a.Webhooks, Exchanges: a.Exchanges})
	// Labels, refunds and exchanges tell the shop's systems about their own changes.
	a.Labels.Publisher, a.Refunds.Publisher, a.Exchanges.Publisher = a.Webhooks, a.Webhooks, a.Webhooks
	// Every event published also writes the shopper's email about it, if any
	// (email lists which), in the same transaction.
	if a.Emails.Enabled() {
		a.Webhooks.SetMailer(a.Emails)
	}

	if cfg.Worker != nil {
		a.Labels.Jobs(cfg.Worker)
		a.Refunds.Jobs(cfg.Worker)
		a.Exchanges.Jobs(cfg.Worker)
		a.Reconcile.Jobs(cfg.Worker)
		a.Webhooks.Jobs(cfg.Worker)
		a.Emails.Jobs(cfg.Worker)
		Housekeeping(cfg.Worker)
	}

	// One limit of portal sign-ins per client address and one per order, shared by
	// the API and the portal page.
	clientLimit := portalClientLimit(d, cfg.PortalClientLimit)
	orderLimit := ratelimit.New(d, 10, time.Minute)

	a.Idempotency = &idempotency.Middleware{DB: d}
	a.API = openapi.New(mux, openapi.Services{
		DB: d, Logger: log, BaseURL: cfg.BaseURL, Idempotency: a.Idempotency,
		Merchants: a.Merchants, Keys: a.Keys, Shoppers: a.Shoppers,
		Returns: a.Returns, Labels: a.Labels, Refunds: a.Refunds, Receiving: a.Receiving, Reconcile: a.Reconcile,
		Exchanges: a.Exchanges, Webhooks: a.Webhooks, Emails: a.Emails, Audit: a.Audit,
		PortalClientLimit: clientLimit, PortalOrderLimit: orderLimit,
		BodyReadTimeout: cfg.BodyReadTimeout,
	})
	a.Pages = web.Mount(mux, web.Config{
		DB: d, Logger: log, BaseURL: cfg.BaseURL,
		Merchants: a.Merchants, Shoppers: a.Shoppers, Users: a.Users, Keys: a.Keys,
		Returns: a.Returns, Labels: a.Labels, Refunds: a.Refunds, Receiving: a.Receiving, Reconcile: a.Reconcile,
		Exchanges: a.Exchanges, Webhooks: a.Webhooks, Emails: a.Emails, Audit: a.Audit, StripeDashboard: cfg.StripeDashboard,
		PortalClientLimit: clientLimit, PortalOrderLimit: orderLimit,
	})
	return a
}

func portalClientLimit(d *sqlx.DB, n int) *ratelimit.Limiter {
	switch {
	case n < 0:
		return nil
	case n == 0:
		return ratelimit.New(d, 60, time.Minute)
	}
	return ratelimit.New(d, n, time.Minute)
}

// Housekeeping registers with w the periodic jobs that delete expired rows
// (idempotency keys, rate-limit counts, shopper tokens, the done jobs earlier releases
// kept); each runs in one replica at a time and schedules its next run.
func Housekeeping(w *outbox.Worker) {
	idempotency.Jobs(w)
	ratelimit.Jobs(w)
	auth.Jobs(w)
	outbox.SweepJobs(w)
}
