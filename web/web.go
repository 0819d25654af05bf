// Package web is the product's pages for people: the shopper's self-service returns
// portal (/portal/{merchant}), the warehouse scan station (/warehouse), the finance
// pages (/finance) and the admin console (/admin), rendered on the server with
// html/template. Templates, the stylesheet and the one small script are embedded in
// the binary; nothing comes from a CDN. Every page works with JavaScript off: the
// script only keeps the scan field focused, lets Enter submit from a select, stops
// double submissions, moves through the review queue with j and k, and previews the
// policy and branding forms as they are edited.
//
// Access follows the API's rules. Every route declares its audience (public, the
// shopper of the merchant in its path, or staff with roles) and one check,
// Server.handle, enforces it before any handler runs, together with the CSRF token
// of every POST. Shoppers hold a shopper token (auth.Shoppers) in a cookie scoped to
// their shop's portal and see only that order; staff sign in with a user name and
// password (Users, bcrypt) to a session kept in PostgreSQL (Sessions) and see only
// their merchant, with the API keys' roles: admin, warehouse, finance.
package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/audit"
	"github.com/roundtriphq/roundtrip/email"
	"github.com/roundtriphq/roundtrip/exchanges"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/money"
	"github.com/roundtriphq/roundtrip/internal/ratelimit"
	"github.com/roundtriphq/roundtrip/internal/reqid"
	"github.com/roundtriphq/roundtrip/internal/validation"
	"github.com/roundtriphq/roundtrip/labels"
	"github.com/roundtriphq/roundtrip/merchant"
	"github.com/roundtriphq/roundtrip/notify"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/refunds/reconcile"
	"github.com/roundtriphq/roundtrip/returns"
	"github.com/roundtriphq/roundtrip/returns/receiving"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config is what the pages need.
type Config struct {
	DB     *sqlx.DB
	Logger *slog.Logger
	// BaseURL is the public URL of the site (https://returns.example.com): it goes
	// into QR codes and labels, and an https URL makes cookies Secure. Empty takes
	// the scheme and host of each request.
	BaseURL string

	// The product's services, built once (cmd/roundtrip/app) and shared with the API,
	// so that a return made or received here sets off what one made through the API does.
	Merchants *merchant.Store
	Shoppers  *auth.Shoppers
	Users     *auth.Users
	Returns   *returns.Store
	Labels    *labels.Service
	Refunds   *refunds.Service
	Receiving *receiving.Service
	Reconcile *reconcile.Service
	// Exchanges opens new payment pages for exchanges (nil: none).
	Exchanges *exchanges.Service
	// The admin console's: API keys, webhook endpoints and the audit trail every
	// admin change records itself in.
	Keys     *auth.Keys
	Webhooks *notify.Service
	// StripeDashboard is the Stripe dashboard's URL for the account's mode
	// (https://dashboard.stripe.com/test for test keys): finance's rows link to the
	// refunds and payments there. Empty: no such links.
	StripeDashboard string

	// Emails opens the links in the shopper's emails; nil: no such links.
	Emails *email.Service
	Audit  *audit.Log

	// PortalClientLimit and PortalOrderLimit are the API's limits of portal sign-ins
	// per client address and per order (nil: no limit), so the portal and the API
	// count in the same buckets.
	PortalClientLimit, PortalOrderLimit *ratelimit.Limiter
}

// Server serves the pages.
type Server struct {
	cfg       Config
	log       *slog.Logger
	db        *sqlx.DB
	merchants *merchant.Store
	returns   *returns.Store
	shoppers  *auth.Shoppers
	labels    *labels.Service
	refunds   *refunds.Service
	receiving *receiving.Service
	reconcile *reconcile.Service
	users     *auth.Users
	keys      *auth.Keys
	webhooks  *notify.Service
	audit     *audit.Log
	sessions  *Sessions

	clientLimit, orderLimit *ratelimit.Limiter
	signinLimit             *ratelimit.Limiter

	pages map[string]*template.Template
	now   func() time.Time
}

// New builds the pages on the product's services (cfg).
func New(cfg Config) *Server {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	d := cfg.DB
	return &Server{
		cfg:         cfg,
		log:         log,
		db:          d,
		merchants:   cfg.Merchants,
		returns:     cfg.Returns,
		shoppers:    cfg.Shoppers,
		labels:      cfg.Labels,
		refunds:     cfg.Refunds,
		receiving:   cfg.Receiving,
		reconcile:   cfg.Reconcile,
		users:       cfg.Users,
		keys:        cfg.Keys,
		webhooks:    cfg.Webhooks,
		audit:       cfg.Audit,
		sessions:    NewSessions(d),
		clientLimit: cfg.PortalClientLimit,
		orderLimit:  cfg.PortalOrderLimit,
		signinLimit: ratelimit.New(d, 10, time.Minute),
		pages:       parsePages(),
		now:         time.Now,
	}
}

// Mount builds the pages and adds their routes to mux.
func Mount(mux *http.ServeMux, cfg Config) *Server {
	s := New(cfg)
	s.Register(mux)
	return s
}

// audience says who may use a route.
type audience struct {
	// shopper: the shopper signed in to the portal of the {merchant} in the path.
	// A GET without that session shows the order look-up instead.
	shopper bool
	// roles: signed-in staff with one of these roles; admin may use every staff route.
	roles []auth.Role
	// public routes need nobody; their POSTs must come from this site.
}

func staffOnly(roles ...auth.Role) audience { return audience{roles: roles} }

// allows reports whether a staff principal may use a staff route.
func (a audience) allows(p auth.Principal) bool {
	return p.Role == auth.RoleAdmin || slices.Contains(a.roles, p.Role)
}

// Register adds every page to mux.
func (s *Server) Register(mux *http.ServeMux) {
	public := audience{}
	shopper := audience{shopper: true}
	warehouse := staffOnly(auth.RoleWarehouse)
	finance := staffOnly(auth.RoleFinance)
	anyStaff := staffOnly(auth.RoleWarehouse, auth.RoleFinance)
	admin := staffOnly(auth.RoleAdmin)

	mux.HandleFunc("GET /assets/{name}", s.asset)

	s.handle(mux, "GET /portal/{merchant}", shopper, s.portalHome)
	s.handle(mux, "GET /portal/{merchant}/{$}", public, func(rq *request) error { return redirectTo(portalPath(rq.merchant.Slug)) })
	s.handle(mux, "POST /portal/{merchant}/session", public, s.portalLookup)
	s.handle(mux, "POST /portal/{merchant}/signout", shopper, s.portalSignOut)
	s.handle(mux, "GET /portal/{merchant}/policy", public, s.portalPolicy)
	s.handle(mux, "GET /portal/{merchant}/lang", public, s.portalLang)
	s.handle(mux, "GET /staff/returns/{id}/photos/{photo}", warehouse, s.staffPhoto)
	s.handle(mux, "POST /portal/{merchant}/quote", shopper, s.portalQuote)
	s.handle(mux, "POST /portal/{merchant}/returns", shopper, s.portalCreate)
	s.handle(mux, "GET /portal/{merchant}/returns/{rma}", shopper, s.portalStatus)
	s.handle(mux, "GET /portal/{merchant}/returns/{rma}/confirmation", shopper, s.portalConfirmation)
	s.handle(mux, "GET /portal/{merchant}/returns/{rma}/label", shopper, s.portalLabel)
	s.handle(mux, "POST /portal/{merchant}/returns/{rma}/cancel", shopper, s.portalCancel)
	s.handle(mux, "GET /portal/{merchant}/returns/{rma}/pay", shopper, s.portalPay)
	s.handle(mux, "GET /portal/{merchant}/returns/{rma}/feedback", shopper, s.portalFeedback)
	s.handle(mux, "POST /portal/{merchant}/returns/{rma}/feedback", shopper, s.portalFeedback)
	// links in the shopper's emails (track.go)
	s.handle(mux, "GET /portal/{merchant}/track/{token}", public, s.trackStatus)
	s.handle(mux, "GET /portal/{merchant}/track/{token}/label", public, s.trackLabel)
	s.handle(mux, "GET /portal/{merchant}/track/{token}/feedback", public, s.trackFeedback)
	s.handle(mux, "POST /portal/{merchant}/track/{token}/feedback", public, s.trackFeedback)
	s.handle(mux, "GET /portal/{merchant}/track/{token}/unsubscribe", public, s.trackUnsubscribe)
	s.handle(mux, "POST /portal/{merchant}/track/{token}/unsubscribe", public, s.trackUnsubscribe)

	s.handle(mux, "GET /signin", public, s.signInPage)
	s.handle(mux, "POST /signin", public, s.signIn)
	s.handle(mux, "POST /signout", anyStaff, s.signOut)

	s.handle(mux, "GET /warehouse", warehouse, s.stationPage)
	s.handle(mux, "POST /warehouse/scan", warehouse, s.stationScan)
	s.handle(mux, "GET /warehouse/returns/{id}", warehouse, s.stationReturn)
	s.handle(mux, "POST /warehouse/returns/{id}/receipts", warehouse, s.stationReceive)

	s.handle(mux, "GET /finance", finance, s.financePage)
	s.handle(mux, "GET /finance/refunds.csv", finance, s.financeCSV)
	s.handle(mux, "POST /finance/refunds/{id}/retry", finance, s.financeRetry)
	s.handle(mux, "POST /finance/refunds/{id}/settle", finance, s.financeSettle)
	s.handle(mux, "GET /finance/returns/{id}", finance, s.financeReturn)
	s.handle(mux, "POST /finance/reconciliations/{id}/lines/{line}/acknowledge", finance, s.financeAcknowledge)
	s.handle(mux, "POST /finance/reconciliations", finance, s.financeStartRun)
	s.handle(mux, "GET /finance/reconciliations/{id}", finance, s.financeRun)
	s.handle(mux, "GET /finance/reconciliations/{id}/lines.csv", finance, s.financeRunCSV)

	// the admin console (admin.go and the admin_*.go files)
	s.handle(mux, "GET /admin", admin, s.adminQueue)
	s.handle(mux, "POST /admin/returns/{id}/approve", admin, s.adminApprove)
	s.handle(mux, "POST /admin/returns/{id}/reject", admin, s.adminReject)
	s.handle(mux, "GET /admin/policy", admin, s.adminPolicy)
	s.handle(mux, "POST /admin/policy", admin, s.adminPolicyPost)
	s.handle(mux, "GET /admin/users", admin, s.adminUsers)
	s.handle(mux, "POST /admin/users", admin, s.adminCreateUser)
	s.handle(mux, "POST /admin/users/{id}/role", admin, s.adminUserRole)
	s.handle(mux, "POST /admin/users/{id}/password", admin, s.adminUserPassword)
	s.handle(mux, "POST /admin/users/{id}/status", admin, s.adminUserStatus)
	s.handle(mux, "GET /admin/keys", admin, s.adminKeys)
	s.handle(mux, "POST /admin/keys", admin, s.adminCreateKey)
	s.handle(mux, "POST /admin/keys/{id}/revoke", admin, s.adminRevokeKey)
	s.handle(mux, "GET /admin/branding", admin, s.adminBranding)
	s.handle(mux, "POST /admin/branding", admin, s.adminBrandingPost)
	s.handle(mux, "GET /admin/carriers", admin, s.adminCarriers)
	s.handle(mux, "POST /admin/carriers", admin, s.adminCarriersPost)
	s.handle(mux, "GET /admin/webhooks", admin, s.adminWebhooks)
	s.handle(mux, "POST /admin/webhooks", admin, s.adminCreateWebhook)
	s.handle(mux, "GET /admin/webhooks/{id}", admin, s.adminWebhook)
	s.handle(mux, "POST /admin/webhooks/{id}/enabled", admin, s.adminWebhookEnabled)
	s.handle(mux, "POST /admin/webhooks/{id}/rotate", admin, s.adminWebhookRotate)
	s.handle(mux, "POST /admin/webhooks/{id}/delete", admin, s.adminWebhookDelete)
	s.handle(mux, "GET /admin/deliveries/{id}", admin, s.adminDelivery)
	s.handle(mux, "POST /admin/deliveries/{id}/retry", admin, s.adminDeliveryRetry)
	s.handle(mux, "GET /admin/audit", admin, s.adminAudit)
}

// request is one request as the handlers see it, after the access check.
type request struct {
	*http.Request
	w     http.ResponseWriter
	nonce string

	// merchant is the {merchant} of a portal path, or the staff user's merchant.
	merchant *merchant.Merchant
	// p is the caller: a shopper (OrderID set) or a staff user (Role set); zero on
	// public routes.
	p auth.Principal
	// user is the signed-in staff user.
	user *auth.User
	// csrf is the token every form of the session must carry.
	csrf string
	// lang is the shopper's language, once chosen (langOf).
	lang *Lang
}

func (rq *request) ctx() context.Context { return rq.Context() }

// signedIn reports whether the caller is known.
func (rq *request) signedIn() bool { return rq.p.MerchantID != 0 }

type handlerFunc func(*request) error

// maxForm bounds a form's body.
const maxForm = 256 << 10

// handle adds a route behind the one access check: the audience, then the CSRF
// token (or, on public routes, the request's origin) of a POST.
func (s *Server) handle(mux *http.ServeMux, pattern string, who audience, h handlerFunc) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		rq := &request{Request: r, w: w, nonce: nonce()}
		if r.Method == http.MethodPost {
			limit := int64(maxForm)
			if l, ok := bodyLimits[pattern]; ok {
				limit = l
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		if err := refuseUnstorable(r); err != nil {
			s.fail(rq, err)
			return
		}
		if err := s.check(rq, who); err != nil {
			s.fail(rq, err)
			return
		}
		if err := h(rq); err != nil {
			s.fail(rq, err)
		}
	})
}

// errUnstorable answers input holding the NUL character or bytes that are not UTF-8,
// which PostgreSQL cannot store in text.
var errUnstorable = &pageError{Status: http.StatusUnprocessableEntity, Title: "Check what you entered",
	Message: "Something you entered contains a character that cannot be used. Please type it again and send the form once more."}

// refuseUnstorable reads the request's form and returns errUnstorable when its path,
// query or form holds what PostgreSQL cannot store in text (validation.Storable), or
// the error of a form too large (a malformed one reads as far as it can, as before).
func refuseUnstorable(r *http.Request) error {
	var mbe *http.MaxBytesError
	if err := r.ParseForm(); errors.As(err, &mbe) {
		return err
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "multipart/form-data" && r.Method == http.MethodPost {
		// files beyond 1 MiB wait in temporary files, removed when the request ends
		if err := r.ParseMultipartForm(1 << 20); errors.As(err, &mbe) {
			return err
		}
	}
	if !validation.Storable(r.URL.Path) {
		return errUnstorable
	}
	for k, vs := range r.Form {
		if !validation.Storable(k) {
			return errUnstorable
		}
		for _, v := range vs {
			if !validation.Storable(v) {
				return errUnstorable
			}
		}
	}
	return nil
}

// check authenticates the caller and enforces the audience and CSRF.
func (s *Server) check(rq *request, who audience) error {
	ctx := rq.ctx()
	if slug := rq.PathValue("merchant"); slug != "" {
		m, err := s.merchants.BySlug(ctx, strings.ToLower(slug))
		if errors.Is(err, merchant.ErrNotFound) {
			l, _ := matchLang(rq.Header.Get("Accept-Language"))
			return &pageError{Status: http.StatusNotFound, Title: l.T("pe-noshop-h"), Message: l.T("pe-noshop")}
		}
		if err != nil {
			return err
		}
		rq.merchant = &m
	}
	switch {
	case who.shopper:
		if err := s.optionalShopper(rq); err != nil {
			return err
		}
		if !rq.signedIn() {
			if rq.Method == http.MethodGet {
				nl := &needLookup{next: rq.URL.Path}
				if nl.next != portalPath(rq.merchant.Slug) {
					nl.notice = s.langOf(rq).T("lk-notice-return")
				}
				return nl
			}
			l := s.langOf(rq)
			return &pageError{Status: http.StatusForbidden, Title: l.T("pe-session-h"), Message: l.T("pe-session"),
				Link: portalPath(rq.merchant.Slug), LinkText: l.T("lk-find")}
		}
	case len(who.roles) > 0:
		sess, err := s.staffSession(rq)
		if errors.Is(err, ErrNoSession) {
			next := ""
			if rq.Method == http.MethodGet {
				next = rq.URL.RequestURI()
			}
			return redirectTo(signInURL(next, ""))
		}
		if err != nil {
			return err
		}
		rq.user, rq.p, rq.csrf = &sess.User, sess.User.Principal(), sess.CSRF
		m, err := s.merchants.Get(ctx, sess.User.MerchantID)
		if err != nil {
			return err
		}
		rq.merchant = &m
		if !who.allows(rq.p) {
			return &pageError{Status: http.StatusForbidden, Title: "Not for your role",
				Message: fmt.Sprintf("You are signed in as %s with the %s role, which cannot open this page.", sess.User.Username, sess.User.Role),
				Link:    home(rq.p.Role), LinkText: "Go to your page"}
		}
	}
	if rq.Method == http.MethodPost {
		if len(who.roles) == 0 && !who.shopper {
			if crossSite(rq.Request) {
				return errCSRF
			}
			return nil
		}
		if !sameToken(rq.PostFormValue("csrf"), rq.csrf) {
			return errCSRF
		}
	}
	return nil
}

// optionalShopper signs in the shopper of the portal cookie, if there is one for the
// merchant of the path; without one the request stays anonymous.
func (s *Server) optionalShopper(rq *request) error {
	if rq.signedIn() || rq.merchant == nil {
		return nil
	}
	c, err := rq.Cookie(portalCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	p, err := s.shoppers.Authenticate(rq.ctx(), c.Value)
	switch {
	case err == nil && p.MerchantID == rq.merchant.ID:
		rq.p, rq.csrf = p, shopperCSRF(c.Value)
	case err != nil && !errors.Is(err, auth.ErrUnauthenticated):
		return err
	}
	return nil
}

func (s *Server) staffSession(rq *request) (Session, error) {
	c, err := rq.Cookie(staffCookie)
	if err != nil || c.Value == "" {
		return Session{}, ErrNoSession
	}
	return s.sessions.Lookup(rq.ctx(), c.Value, s.now())
}

// home is where a staff role starts.
func home(r auth.Role) string {
	switch r {
	case auth.RoleFinance:
		return "/finance"
	case auth.RoleAdmin:
		return "/admin"
	}
	return "/warehouse"
}

func signInURL(next, shop string) string {
	q := url.Values{}
	if next != "" {
		q.Set("next", next)
	}
	if shop != "" {
		q.Set("shop", shop)
	}
	if len(q) == 0 {
		return "/signin"
	}
	return "/signin?" + q.Encode()
}

// ---- errors as pages

// pageError is an error shown to the user in plain words.
type pageError struct {
	Status   int
	Title    string
	Message  string
	Link     string
	LinkText string
}

func (e *pageError) Error() string {
	return fmt.Sprintf("web: %d %s: %s", e.Status, e.Title, e.Message)
}

var errCSRF = &pageError{Status: http.StatusForbidden, Title: "This form has expired",
	Message: "The page was open too long or came from somewhere else, so nothing was done. Go back, reload the page and try again."}

// redirect is a 303 to another page, as an error so that the check can send it.
type redirect string

func (r redirect) Error() string { return "web: redirect to " + string(r) }

func redirectTo(u string) error { return redirect(u) }

// needLookup asks a shopper without a session (or with one for another order) for
// their order first, then sends them on to next.
type needLookup struct{ next, notice string }

func (n *needLookup) Error() string { return "web: no shopper session" }

// fail answers an error: a redirect, the look-up form, a page in plain words, or
// a generic page for internal errors, which are logged with the request ID.
func (s *Server) fail(rq *request, err error) {
	var pe *pageError
	var rd redirect
	var nl *needLookup
	switch {
	case errors.As(err, &rd):
		http.Redirect(rq.w, rq.Request, string(rd), http.StatusSeeOther)
		return
	case errors.As(err, &nl):
		next := nl.next
		if next == portalPath(rq.merchant.Slug) {
			next = ""
		}
		if err := s.renderLookup(rq, http.StatusOK, lookupForm{Next: next, Notice: nl.notice}); err != nil {
			s.fail(rq, err)
		}
		return
	case errors.As(err, &pe):
	default:
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			pe = &pageError{Status: http.StatusRequestEntityTooLarge, Title: "Too much at once", Message: "The form was too large. Please send less at a time."}
			break
		}
		id := reqid.FromContext(rq.ctx())
		s.log.ErrorContext(rq.ctx(), "web page failed", slog.String("request_id", id), slog.String("method", rq.Method),
			slog.String("path", rq.URL.Path), slog.String("error", err.Error()))
		msg := "Something went wrong on our side and nothing was changed. Please try again in a moment."
		if id != "" {
			msg += " If it keeps happening, contact support and quote " + id + "."
		}
		pe = &pageError{Status: http.StatusInternalServerError, Title: "Sorry, that did not work", Message: msg}
	}
	if slug := rq.PathValue("merchant"); rq.merchant == nil && slug != "" {
		// refused before the access check (a form too large): still the shop's page
		if m, err := s.merchants.BySlug(rq.ctx(), strings.ToLower(slug)); err == nil {
			rq.merchant = &m
		}
	}
	if rq.user == nil && rq.merchant != nil {
		// a shopper's page: the shared errors in the shopper's language
		l := s.langOf(rq)
		switch {
		case pe == errCSRF:
			pe = &pageError{Status: pe.Status, Title: l.T("pe-csrf-h"), Message: l.T("pe-csrf")}
		case pe == errUnstorable:
			pe = &pageError{Status: pe.Status, Title: l.T("pe-nul-h"), Message: l.T("pe-nul")}
		case pe.Status == http.StatusRequestEntityTooLarge:
			pe = &pageError{Status: pe.Status, Title: l.T("pe-large-h"), Message: l.T("pe-large", "Count", maxUpload>>20)}
		case pe.Status == http.StatusInternalServerError:
			msg := l.T("pe-internal")
			if id := reqid.FromContext(rq.ctx()); id != "" {
				msg += " " + l.T("pe-internal-id", "ID", id)
			}
			pe = &pageError{Status: pe.Status, Title: l.T("pe-internal-h"), Message: msg}
		}
	}
	if rerr := s.render(rq, pe.Status, "error", pe.Title, pe); rerr != nil {
		s.log.ErrorContext(rq.ctx(), "web error page failed", slog.String("error", rerr.Error()))
		http.Error(rq.w, pe.Message, pe.Status)
	}
}

// ---- rendering

// view is what the layout renders around a page.
type view struct {
	Title string
	Nonce string
	CSRF  string
	// Brand is set on portal pages: the merchant's name, logo and colours.
	Brand *brandView
	// Staff is set on staff pages.
	Staff *staffView
	Data  any
	// L is the language of the page: the shopper's on portal pages, English on
	// staff pages; Langs is the switcher.
	L     *Lang
	Langs []switchLink
}

// langField gives a page's data the page's language, for the templates its parts
// are rendered with.
type langField struct{ L *Lang }

func (f *langField) setLang(l *Lang) { f.L = l }

type langSetter interface{ setLang(*Lang) }

// translated are the pages that speak the shopper's language.
var translated = map[string]bool{"portal_policy": true, "portal_lookup": true, "portal_items": true, "portal_review": true,
	"portal_live": true, "portal_confirmation": true, "portal_status": true, "error": true,
	"portal_feedback": true, "portal_unsubscribe": true, "portal_exchange": true}

type brandView struct {
	Name, Slug, LogoURL, SupportEmail string
	CSS                               template.CSS
}

type staffView struct {
	Shop, Username          string
	Role                    auth.Role
	Warehouse, Money, Admin bool // which sections the role may open
}

// render executes a page inside the layout into a buffer, then writes it with
// the security headers, so a template error never sends half a page.
func (s *Server) render(rq *request, status int, page, title string, data any) error {
	t, ok := s.pages[page]
	if !ok {
		return fmt.Errorf("web: no page %q", page)
	}
	v := view{Title: title, Nonce: rq.nonce, CSRF: rq.csrf, Data: data, L: english()}
	switch {
	case rq.user != nil:
		v.Staff = &staffView{Username: rq.user.Username, Role: rq.user.Role,
			Warehouse: staffOnly(auth.RoleWarehouse).allows(rq.p), Money: staffOnly(auth.RoleFinance).allows(rq.p),
			Admin: staffOnly(auth.RoleAdmin).allows(rq.p)}
		if rq.merchant != nil {
			v.Staff.Shop = rq.merchant.Name
		}
	case rq.merchant != nil:
		st := rq.merchant.Settings
		v.Brand = &brandView{Name: rq.merchant.Name, Slug: rq.merchant.Slug, SupportEmail: st.SupportEmail,
			CSS: brandPalette(st.BrandColor).css()}
		if u, err := url.Parse(st.LogoURL); err == nil && (u.Scheme == "https" || u.Scheme == "http") {
			v.Brand.LogoURL = st.LogoURL
		}
		if translated[page] {
			v.L = s.langOf(rq)
			v.Langs = switcher(rq, v.L)
		}
	}
	if ls, ok := data.(langSetter); ok {
		ls.setLang(v.L)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		return fmt.Errorf("web: render %s: %w", page, err)
	}
	h := rq.w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self' 'nonce-"+rq.nonce+"'; script-src 'self'; "+
		"img-src 'self' https: data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	rq.w.WriteHeader(status)
	_, err := rq.w.Write(buf.Bytes())
	if err != nil {
		return nil // the client went away
	}
	return nil
}

func nonce() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawStdEncoding.EncodeToString(b[:])
}

// origin is the public scheme and host, for links that leave the page (QR codes).
func (s *Server) origin(r *http.Request) string {
	if s.cfg.BaseURL != "" {
		return s.cfg.BaseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// ---- templates and assets

// assetHashes maps each static file to a hash of its content, which goes into its
// URL so that browsers may cache it for a year.
var assetHashes = func() map[string]string {
	m := map[string]string{}
	fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := staticFS.ReadFile(p)
		h := sha256.Sum256(b)
		m[path.Base(p)] = hex.EncodeToString(h[:6])
		return nil
	})
	return m
}()

func assetURL(name string) string { return "/assets/" + name + "?v=" + assetHashes[name] }

func (s *Server) asset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	hash, ok := assetHashes[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	b, err := staticFS.ReadFile("static/" + name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", mime.TypeByExtension(path.Ext(name)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("ETag", `"`+hash+`"`)
	if r.URL.Query().Get("v") == hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if r.Header.Get("If-None-Match") == `"`+hash+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Write(b)
}

var funcs = template.FuncMap{
	"asset": assetURL,
	"money": money.Format,
	"minus": func(minor int64, currency string) string { return "−" + money.Format(minor, currency) },
	"neg":   func(x int64) int64 { return -x },
	"date":  func(t time.Time) string { return t.UTC().Format("2 January 2006") },
	// until words the end of a half-open period: [1 March, 1 April) ends on 31 March.
	"until": func(t time.Time) string {
		t = t.UTC()
		if t.Equal(t.Truncate(24 * time.Hour)) {
			t = t.AddDate(0, 0, -1)
		}
		return t.Format("2 January 2006")
	},
	"datetime": func(t time.Time) string {
		return t.UTC().Format("2 Jan 2006, 15:04") + " UTC"
	},
	"iso":         func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"stateLabel":  stateLabel,
	"settleWords": settleWords,
	// dict builds a map for a template that takes several values: dict "K" v "K2" v2.
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			if k, ok := kv[i].(string); ok {
				m[k] = kv[i+1]
			}
		}
		return m
	},
	"reasonLabel": reasonLabel,
	"add":         func(a, b int) int { return a + b },
	"upto": func(n int) []int {
		s := make([]int, n+1)
		for i := range s {
			s[i] = i
		}
		return s
	},
	"title": func(s string) string {
		s = strings.ReplaceAll(s, "_", " ")
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
}

// parsePages parses each page template with the layout, as its own set, so that
// every page can define "content".
func parsePages() map[string]*template.Template {
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	pages := map[string]*template.Template{}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" || strings.HasPrefix(name, "_") {
			continue
		}
		pages[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(templateFS,
			"templates/layout.html", "templates/_*.html", f))
	}
	return pages
}

// stateLabel says where a return stands, for shoppers and staff alike.
func stateLabel(st returns.State) string {
	switch st {
	case returns.StateRequested:
		return "Waiting for review"
	case returns.StateApproved:
		return "Approved: waiting for the parcel"
	case returns.StateInTransit:
		return "Parcel on its way"
	case returns.StatePartiallyReceived:
		return "Partly received"
	case returns.StateReceived:
		return "Received"
	case returns.StateResolving:
		return "Refund on its way"
	case returns.StateCompleted:
		return "Completed"
	case returns.StateRefundFailed:
		return "Refund delayed"
	case returns.StateRejected:
		return "Declined"
	case returns.StateCancelled:
		return "Cancelled"
	case returns.StateExpired:
		return "Expired"
	}
	return string(st)
}

func reasonLabel(c returns.ReasonCode) string {
	if r, ok := returns.LookupReason(c); ok {
		return r.Label
	}
	return string(c)
}
