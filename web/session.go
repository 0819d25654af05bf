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
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
	"golang.org/x/crypto/bcrypt"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/db"
	"github.com/roundtriphq/roundtrip/internal/merchant"
	"github.com/roundtriphq/roundtrip/internal/ratelimit"
	"github.com/roundtriphq/roundtrip/internal/reqid"
)

// Staff users and their sessions, shopper cookies, and CSRF tokens.

var (
	// ErrUserExists means the merchant already has a user with that name.
	ErrUserExists = errors.New("web: a user with that name already exists")
	// ErrSignIn means the shop, user name or password is wrong, or the user is
	// disabled; which one is not said.
	ErrSignIn = errors.New("web: wrong shop, user name or password")
	// ErrNoSession means the cookie names no live session.
	ErrNoSession = errors.New("web: no session")
)

// StaffRoles are the roles a person can have: the API keys' roles without
// integration, which is for the shop's systems.
func StaffRoles() []auth.Role {
	return []auth.Role{auth.RoleAdmin, auth.RoleWarehouse, auth.RoleFinance}
}

// ParseStaffRole checks a staff role name.
func ParseStaffRole(s string) (auth.Role, error) {
	for _, r := range StaffRoles() {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("web: unknown staff role %q (want admin, warehouse or finance)", s)
}

// Password limits: bcrypt reads at most 72 bytes, and a longer password would be
// silently cut, so it is refused instead.
const (
	MinPasswordLen   = 10
	MaxPasswordBytes = 72
)

var usernameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,62}$`)

// NormalizeUsername returns the form in which user names are stored and compared.
func NormalizeUsername(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// ValidateUsername checks a (normalised) user name.
func ValidateUsername(s string) error {
	if !usernameRE.MatchString(s) {
		return errors.New("web: a user name is 1 to 63 lower-case letters, digits and . _ @ -, starting with a letter or digit")
	}
	return nil
}

// ValidatePassword checks a new password's length.
func ValidatePassword(p string) error {
	switch {
	case utf8.RuneCountInString(p) < MinPasswordLen:
		return fmt.Errorf("web: a password needs at least %d characters", MinPasswordLen)
	case len(p) > MaxPasswordBytes:
		return fmt.Errorf("web: a password may have at most %d bytes", MaxPasswordBytes)
	}
	return nil
}

// User is a member of a merchant's staff.
type User struct {
	ID         int64     `db:"id"`
	MerchantID int64     `db:"merchant_id"`
	Username   string    `db:"username"`
	Role       auth.Role `db:"role"`
	CreatedAt  time.Time `db:"created_at"`
}

// Principal is the user as the rest of the product knows callers: the same
// merchant scope and role as an API key, with actor "user:<name>".
func (u User) Principal() auth.Principal {
	return auth.Principal{MerchantID: u.MerchantID, Role: u.Role, Actor: "user:" + u.Username}
}

// Users stores staff users with bcrypt password hashes.
type Users struct {
	db   *sqlx.DB
	cost int
}

// NewUsers returns a user store on d.
func NewUsers(d *sqlx.DB) *Users { return &Users{db: d, cost: bcrypt.DefaultCost} }

// Create adds a user; the name is normalised (NormalizeUsername).
func (u *Users) Create(ctx context.Context, merchantID int64, username, password string, role auth.Role) (User, error) {
	username = NormalizeUsername(username)
	if err := ValidateUsername(username); err != nil {
		return User{}, err
	}
	if _, err := ParseStaffRole(string(role)); err != nil {
		return User{}, err
	}
	if err := ValidatePassword(password); err != nil {
		return User{}, err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), u.cost)
	if err != nil {
		return User{}, fmt.Errorf("web: hash password: %w", err)
	}
	var usr User
	err = u.db.GetContext(ctx, &usr, `INSERT INTO staff_users (merchant_id, username, password_hash, role)
		VALUES ($1, $2, $3, $4) RETURNING id, merchant_id, username, role, created_at`, merchantID, username, string(h), role)
	if db.IsUniqueViolation(err, "") {
		return User{}, ErrUserExists
	}
	if err != nil {
		return User{}, fmt.Errorf("web: create user: %w", err)
	}
	return usr, nil
}

// dummyHash is compared against when the user does not exist, so that a wrong user
// name takes as long as a wrong password. It is made on first use: every binary
// that links the pages should not pay a bcrypt at start-up.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("not a password of anyone"), bcrypt.DefaultCost)
	return h
})

// Authenticate checks a user name and password. Any mismatch is ErrSignIn.
func (u *Users) Authenticate(ctx context.Context, merchantID int64, username, password string) (User, error) {
	var row struct {
		User
		Hash string `db:"password_hash"`
	}
	err := u.db.GetContext(ctx, &row, `SELECT id, merchant_id, username, role, created_at, password_hash FROM staff_users
		WHERE merchant_id = $1 AND username = $2 AND disabled_at IS NULL`, merchantID, NormalizeUsername(username))
	if errors.Is(err, sql.ErrNoRows) {
		bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return User{}, ErrSignIn
	}
	if err != nil {
		return User{}, fmt.Errorf("web: find user: %w", err)
	}
	if bcrypt.CompareHashAndPassword([]byte(row.Hash), []byte(password)) != nil {
		return User{}, ErrSignIn
	}
	return row.User, nil
}

// StaffTTL is how long a staff session lasts: a working day, then sign in again.
const StaffTTL = 12 * time.Hour

// Session is a signed-in staff session.
type Session struct {
	User      User
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
func (s *Sessions) Create(ctx context.Context, u User, now time.Time) (string, Session, error) {
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
		User
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
var staffPages = regexp.MustCompile(`^/(warehouse(/returns/[0-9A-Za-z-]+)?|finance(/refunds\.csv|/reconciliations/[0-9]+(/lines\.csv)?)?)$`)

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
		Username: NormalizeUsername(rq.PostFormValue("username")),
	}
	password := rq.PostFormValue("password")
	if f.Shop == "" || f.Username == "" || password == "" {
		f.Error = "Enter the shop, your user name and your password."
		return s.render(rq, http.StatusUnprocessableEntity, "signin", "Sign in", f)
	}
	now := s.now()
	client := reqid.ClientIP(ctx)
	attempts := "signin:user:" + client + ":" + f.Shop + ":" + f.Username
	for _, l := range []struct {
		limiter *ratelimit.Limiter
		bucket  string
	}{
		{s.clientLimit, "signin:ip:" + client},
		{s.signinLimit, attempts},
	} {
		if l.limiter == nil {
			continue
		}
		ok, wait, err := l.limiter.Allow(ctx, l.bucket, now)
		if err != nil {
			return err
		}
		if !ok {
			secs := int(wait.Seconds()) + 1
			rq.w.Header().Set("Retry-After", strconv.Itoa(secs))
			f.Error = fmt.Sprintf("Too many attempts. Please wait %d seconds and try again.", secs)
			return s.render(rq, http.StatusTooManyRequests, "signin", "Sign in", f)
		}
	}
	u, err := s.authenticate(ctx, f.Shop, f.Username, password)
	if errors.Is(err, ErrSignIn) {
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
	if strings.HasPrefix(path, "/finance") {
		return []auth.Role{auth.RoleFinance}
	}
	return []auth.Role{auth.RoleWarehouse}
}

func (s *Server) authenticate(ctx context.Context, shop, username, password string) (User, error) {
	m, err := s.merchants.BySlug(ctx, shop)
	if errors.Is(err, merchant.ErrNotFound) {
		bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return User{}, ErrSignIn
	}
	if err != nil {
		return User{}, err
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
