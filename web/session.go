package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/db"
	"github.com/roundtriphq/roundtrip/internal/ratelimit"
	"github.com/roundtriphq/roundtrip/internal/reqid"
	"github.com/roundtriphq/roundtrip/merchant"
)

// Staff users and their sessions, shopper cookies, and CSRF tokens.

// ErrNoSession means the cookie names no live session.
var ErrNoSession = errors.New("web: no session")

// StaffTTL is how long a staff session lasts: a working day, then sign in again.
const StaffTTL = 12 * time.Hour

// Session is a signed-in staff session.
type Session struct {
	User      auth.User
	CSRF      string
	ExpiresAt time.Time
}

// Sessions stores staff sessions in PostgreSQL, so every replica knows them.
type Sessions struct {
	db *sqlx.DB
}

// NewSessions returns a session store on d.
func NewSessions(d *sqlx.DB) *Sessions { return &Sessions{db: d} }

func randomToken(prefix string, n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// Create starts a session for u and returns the token for its cookie. It also
// deletes u's expired sessions.
func (s *Sessions) Create(ctx context.Context, u auth.User, now time.Time) (string, Session, error) {
	token := randomToken("rtw_", 32)
	sess := Session{User: u, CSRF: randomToken("", 24), ExpiresAt: now.Add(StaffTTL)}
	err := db.Tx(ctx, s.db, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM web_sessions WHERE user_id = $1 AND expires_at < $2`, u.ID, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO web_sessions (token_hash, merchant_id, user_id, csrf_token, expires_at)
			VALUES ($1, $2, $3, $4, $5)`, tokenHash(token), u.MerchantID, u.ID, sess.CSRF, sess.ExpiresAt)
		return err
	})
	if err != nil {
		return "", Session{}, fmt.Errorf("web: create session: %w", err)
	}
	return token, sess, nil
}

// Lookup finds the live session of token; a disabled user has none.
func (s *Sessions) Lookup(ctx context.Context, token string, now time.Time) (Session, error) {
	if !strings.HasPrefix(token, "rtw_") {
		return Session{}, ErrNoSession
	}
	var row struct {
		auth.User
		CSRF      string    `db:"csrf_token"`
		ExpiresAt time.Time `db:"expires_at"`
	}
	err := s.db.GetContext(ctx, &row, `SELECT u.id, u.merchant_id, u.username, u.role, u.created_at, s.csrf_token, s.expires_at
		FROM web_sessions s JOIN staff_users u ON u.id = s.user_id AND u.merchant_id = s.merchant_id
		WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL`, tokenHash(token), now)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, fmt.Errorf("web: session: %w", err)
	}
	return Session{User: row.User, CSRF: row.CSRF, ExpiresAt: row.ExpiresAt}, nil
}

// EndAll ends every session of a user in the caller's transaction tx, but the one
// of token keep (the admin's own, when they reset their own password).
func (s *Sessions) EndAll(ctx context.Context, tx *sqlx.Tx, merchantID, userID int64, keep string) error {
	var keepHash []byte
	if keep != "" {
		keepHash = tokenHash(keep)
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM web_sessions WHERE merchant_id = $1 AND user_id = $2
		AND ($3::bytea IS NULL OR token_hash <> $3)`, merchantID, userID, keepHash)
	if err != nil {
		return fmt.Errorf("web: end sessions of user %d: %w", userID, err)
	}
	return nil
}

// Delete ends the session of token.
func (s *Sessions) Delete(ctx context.Context, token string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM web_sessions WHERE token_hash = $1`, tokenHash(token))
	return err
}

// ---- cookies

const (
	staffCookie  = "rt_staff"
	portalCookie = "rt_portal"
	shopCookie   = "rt_shop"
)

// cookie builds a cookie with the product's defaults: HttpOnly, SameSite=Lax, and
// Secure when the site is served over HTTPS.
func (s *Server) cookie(r *http.Request, name, value, path string, expires time.Time) *http.Cookie {
	c := &http.Cookie{Name: name, Value: value, Path: path, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secure(r)}
	if value == "" {
		c.MaxAge = -1
	} else if !expires.IsZero() {
		c.Expires = expires
		c.MaxAge = max(int(time.Until(expires).Seconds()), 1)
	}
	return c
}

// secure reports whether cookies must be Secure: the base URL is https, or (with no
// base URL) the request came over TLS.
func (s *Server) secure(r *http.Request) bool {
	if s.cfg.BaseURL != "" {
		return strings.HasPrefix(s.cfg.BaseURL, "https://")
	}
	return r.TLS != nil
}

// portalPath is the path a merchant's shopper cookie is scoped to, so a shopper can
// be signed in at two shops at once and neither shop's pages see the other's token.
func portalPath(slug string) string { return "/portal/" + slug }

// ---- CSRF

// shopperCSRF derives the CSRF token of a shopper session from its token: a page
// can carry it without revealing the token, and a forger without the HttpOnly
// cookie cannot compute it.
func shopperCSRF(token string) string {
	h := sha256.Sum256([]byte("roundtrip portal csrf\x00" + token))
	return hex.EncodeToString(h[:16])
}

// sameToken compares CSRF tokens in constant time; an empty token never matches.
func sameToken(got, want string) bool {
	return got != "" && want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// crossSite reports whether a POST comes from another site, by the Fetch Metadata
// and Origin headers browsers send. Forms that open a session (sign-in, order
// lookup) have no token yet and are protected this way.
func crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return true
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		o = strings.TrimPrefix(strings.TrimPrefix(o, "https://"), "http://")
		return !strings.EqualFold(o, r.Host)
	}
	return false
}

// ---- signing in and out

type signInForm struct {
	Next     string
	Shop     string
	Username string
	Error    string
}

// staffPages are the staff pages (GET routes of Register) a sign-in may lead back to.
var staffPages = regexp.MustCompile(`^/(warehouse(/returns/[0-9A-Za-z-]+)?|finance(/refunds\.csv|/reconciliations/[0-9]+(/lines\.csv)?)?|admin(/[0-9A-Za-z_-]+)*)$`)

// safeStaffNext keeps a post-sign-in destination only when it is a staff page. The
// path is decoded and cleaned before it is checked, and the answer is built from the
// cleaned path, so that dot segments and escaped slashes cannot lead elsewhere
// (/finance/../%2f%2fevil.example is not a staff page).
func safeStaffNext(next string) string {
	u, err := url.Parse(next)
	if next == "" || err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || strings.Contains(next, "//") || strings.Contains(next, `\`) {
		return ""
	}
	p := path.Clean(u.Path)
	if !staffPages.MatchString(p) {
		return ""
	}
	return (&url.URL{Path: p, RawQuery: u.RawQuery}).RequestURI()
}

func (s *Server) signInPage(rq *request) error {
	q := rq.URL.Query()
	next := safeStaffNext(q.Get("next"))
	if sess, err := s.staffSession(rq); err == nil {
		if next == "" {
			next = home(sess.User.Role)
		}
		return redirectTo(next)
	}
	f := signInForm{Next: next, Shop: strings.ToLower(strings.TrimSpace(q.Get("shop")))}
	if f.Shop == "" {
		if c, err := rq.Cookie(shopCookie); err == nil && merchant.ValidateSlug(c.Value) == nil {
			f.Shop = c.Value
		}
	}
	return s.render(rq, http.StatusOK, "signin", "Sign in", f)
}

// signIn checks the user name and password and starts a session. Attempts are
// limited per client address, and failed ones per client address and user, so that
// someone guessing a user's password locks out only themselves; a wrong shop, user or
// password get the same answer, after the same bcrypt work.
func (s *Server) signIn(rq *request) error {
	ctx := rq.ctx()
	f := signInForm{
		Next:     safeStaffNext(rq.PostFormValue("next")),
		Shop:     strings.ToLower(strings.TrimSpace(rq.PostFormValue("shop"))),
		Username: auth.NormalizeUsername(rq.PostFormValue("username")),
	}
	password := rq.PostFormValue("password")
	if f.Shop == "" || f.Username == "" || password == "" {
		f.Error = "Enter the shop, your user name and your password."
		return s.render(rq, http.StatusUnprocessableEntity, "signin", "Sign in", f)
	}
	now := s.now()
	client := reqid.ClientIP(ctx)
	attempts := "signin:user:" + client + ":" + f.Shop + ":" + f.Username
	wait, err := ratelimit.AllowAll(ctx, now,
		ratelimit.Hit{Limiter: s.clientLimit, Bucket: "signin:ip:" + client},
		ratelimit.Hit{Limiter: s.signinLimit, Bucket: attempts})
	if err != nil {
		return err
	}
	if wait > 0 {
		secs := ratelimit.Seconds(wait)
		rq.w.Header().Set("Retry-After", strconv.Itoa(secs))
		f.Error = fmt.Sprintf("Too many attempts. Please wait %d seconds and try again.", secs)
		return s.render(rq, http.StatusTooManyRequests, "signin", "Sign in", f)
	}
	u, err := s.authenticate(ctx, f.Shop, f.Username, password)
	if errors.Is(err, auth.ErrSignIn) {
		f.Error = "Wrong shop, user name or password. Check them and try again."
		return s.render(rq, http.StatusUnauthorized, "signin", "Sign in", f)
	}
	if err != nil {
		return err
	}
	if err := s.signinLimit.Reset(ctx, attempts); err != nil { // only failures count
		return err
	}
	token, sess, err := s.sessions.Create(ctx, u, now)
	if err != nil {
		return err
	}
	http.SetCookie(rq.w, s.cookie(rq.Request, staffCookie, token, "/", sess.ExpiresAt))
	http.SetCookie(rq.w, s.cookie(rq.Request, shopCookie, f.Shop, "/signin", now.AddDate(1, 0, 0)))
	next := f.Next
	if next == "" || !staffOnly(rolesOf(next)...).allows(u.Principal()) {
		next = home(u.Role)
	}
	return redirectTo(next)
}

// rolesOf is the role a staff path needs.
func rolesOf(path string) []auth.Role {
	switch {
	case strings.HasPrefix(path, "/finance"):
		return []auth.Role{auth.RoleFinance}
	case strings.HasPrefix(path, "/admin"):
		return []auth.Role{auth.RoleAdmin}
	}
	return []auth.Role{auth.RoleWarehouse}
}

func (s *Server) authenticate(ctx context.Context, shop, username, password string) (auth.User, error) {
	m, err := s.merchants.BySlug(ctx, shop)
	if errors.Is(err, merchant.ErrNotFound) {
		return auth.User{}, auth.FailSignIn(password)
	}
	if err != nil {
		return auth.User{}, err
	}
	return s.users.Authenticate(ctx, m.ID, username, password)
}

func (s *Server) signOut(rq *request) error {
	if c, err := rq.Cookie(staffCookie); err == nil {
		if err := s.sessions.Delete(rq.ctx(), c.Value); err != nil {
			return err
		}
	}
	http.SetCookie(rq.w, s.cookie(rq.Request, staffCookie, "", "/", time.Time{}))
	return redirectTo("/signin")
}
