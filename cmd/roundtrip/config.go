package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/roundtriphq/roundtrip/email"
	"github.com/roundtriphq/roundtrip/internal/db"
	"github.com/roundtriphq/roundtrip/internal/reqid"
)

// config is everything serve reads from flags and the environment. Flags win over
// the environment; the environment wins over defaults.
type config struct {
	Addr            string
	BaseURL         string
	DatabaseURL     string
	DBMaxConns      int
	Migrate         bool
	Workers         int
	StripeKey       string
	StripeAPIBase   string
	StripeWebhook   string
	ShippoAPIBase   string
	FakeShippo      bool
	StripeMock      bool
	StripeDashboard string
	LogLevel        string
	LogFormat       string
	ShutdownTimeout time.Duration
	DrainDelay      time.Duration
	PortalLimit     int
	PprofAddr       string
	TrustedProxies  []netip.Prefix
	SMTP            *email.SMTP
	MailFrom        string
	WebhooksHTTP    bool
	WebhooksPrivate bool
}

type setting struct {
	flag, env, def, help string
}

var settings = []setting{
	{"addr", "ROUNDTRIP_ADDR", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)"},
	{"base-url", "ROUNDTRIP_BASE_URL", "", "public URL of this service, used in links, labels and QR codes (default http://<addr>)"},
	{"database-url", "DATABASE_URL", db.DefaultURL, "PostgreSQL URL"},
	{"db-max-conns", "ROUNDTRIP_DB_MAX_CONNS", "20", "most database connections this process opens"},
	{"migrate", "ROUNDTRIP_MIGRATE", "true", "apply pending migrations at start (under an advisory lock, safe with replicas)"},
	{"workers", "ROUNDTRIP_WORKERS", "4", "background jobs run at once by this process (0: none)"},
	{"stripe-secret-key", "STRIPE_SECRET_KEY", "", "Stripe secret key (sk_live_… or sk_test_…) used to send refunds"},
	{"stripe-api-base", "STRIPE_API_BASE", "", "overrides Stripe's API URL (stripe-mock, a test double)"},
	{"stripe-mock", "STRIPE_MOCK", "false", "the Stripe API base is stripe-mock (answers every refund in USD): take the requested currency instead of reporting a mismatch"},
	{"stripe-webhook-secret", "STRIPE_WEBHOOK_SECRET", "", "signing secret (whsec_…) of the Stripe webhook endpoint"},
	{"stripe-dashboard", "STRIPE_DASHBOARD_URL", "", "Stripe dashboard URL that finance's pages link refunds and payments to (default: https://dashboard.stripe.com, with /test for a test key; none without a key)"},
	{"shippo-api-base", "SHIPPO_API_BASE", "", "overrides Shippo's API URL for labels bought through Shippo (a test double)"},
	{"fake-shippo", "ROUNDTRIP_FAKE_SHIPPO", "false", "run a fake Shippo inside the process and buy Shippo labels there (demos; nothing reaches Shippo)"},
	{"log-level", "ROUNDTRIP_LOG_LEVEL", "info", "debug, info, warn or error"},
	{"log-format", "ROUNDTRIP_LOG_FORMAT", "", "json or text (default: text on a terminal, else json)"},
	{"shutdown-timeout", "ROUNDTRIP_SHUTDOWN_TIMEOUT", "25s", "how long SIGTERM waits for in-flight requests and jobs"},
	{"drain-delay", "ROUNDTRIP_DRAIN_DELAY", "0s", "how long SIGTERM keeps serving, with /readyz answering 503, before the listener closes, so a load balancer stops sending new requests first (e.g. 10s)"},
	{"pprof-addr", "ROUNDTRIP_PPROF_ADDR", "", "serve Go's profiler (/debug/pprof/) on this separate address, e.g. 127.0.0.1:6060 (default: off)"},
	{"portal-client-limit", "ROUNDTRIP_PORTAL_CLIENT_LIMIT", "60", "portal sign-in attempts a minute per client address (0: no limit; behind a load balancer every shopper shares its address unless it is a trusted proxy)"},
	{"smtp-url", "ROUNDTRIP_SMTP_URL", "", "SMTP server for the shopper's emails: smtp://user:password@host:587 (STARTTLS, required when there is a password; ?starttls=off|opportunistic|required) or smtps://user:password@host:465 (TLS); empty: no emails"},
	{"mail-from", "ROUNDTRIP_MAIL_FROM", "", "address the shopper's emails come from, e.g. returns@example.com (required with an SMTP URL); the name shown is the shop's sender name, replies go to its support email"},
	{"webhooks-allow-http", "ROUNDTRIP_WEBHOOKS_ALLOW_HTTP", "false", "accept plain http:// webhook endpoint URLs (local development and tests only)"},
	{"webhooks-allow-private", "ROUNDTRIP_WEBHOOKS_ALLOW_PRIVATE", "false", "let webhook endpoints be on loopback, private and link-local addresses (local development and tests only)"},
	{"trusted-proxies", "ROUNDTRIP_TRUSTED_PROXIES", "", "comma-separated CIDRs (or addresses) of the load balancers in front: from them the client address is taken from X-Forwarded-For"},
}

// shown is how --help shows a setting's value: a secret taken from the environment (a
// key, a signing secret, a password, a token) as "(set)", and the password of a URL
// (in its user info or query) replaced by "(set)". The built-in defaults hold none.
func shown(s setting, v string) string {
	if v == "" || v == s.def {
		return v
	}
	name := strings.ToUpper(s.env)
	for _, w := range []string{"SECRET", "PASSWORD", "PASSWD", "TOKEN", "_KEY", "CREDENTIAL"} {
		if strings.Contains(name, w) {
			return "(set)"
		}
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme == "" {
		if strings.Contains(v, "://") || strings.Contains(v, "@") {
			return "(set)" // looks like a URL we cannot read: it might hold a password
		}
		return v
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "REDACTED")
	}
	q := u.Query()
	for k := range q {
		if lk := strings.ToLower(k); strings.Contains(lk, "pass") || strings.Contains(lk, "secret") || strings.Contains(lk, "token") || strings.Contains(lk, "key") {
			q.Set(k, "REDACTED")
		}
	}
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	return strings.ReplaceAll(u.String(), "REDACTED", "(set)")
}

// loadConfig reads settings; a missing or malformed one is an error naming it.
func loadConfig(name string, args []string, getenv func(string) string, stderr io.Writer) (config, bool, error) {
	fs := flag.NewFlagSet("roundtrip "+name, flag.ContinueOnError)
	vals := map[string]*string{}
	for _, s := range settings {
		def := s.def
		if v := getenv(s.env); v != "" {
			def = v
		}
		vals[s.flag] = fs.String(s.flag, def, s.help+" ["+s.env+"]")
		// --help prints the default, which may come from the environment: never a secret
		fs.Lookup(s.flag).DefValue = shown(s, def)
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: roundtrip %s [flags]\n\nEvery flag can also be set with the environment variable in brackets.\n\n", name)
		fs.PrintDefaults()
	}
	help, err := parse(fs, args, stderr)
	if help || err != nil {
		return config{}, help, err
	}
	get := func(f string) string { return strings.TrimSpace(*vals[f]) }
	c := config{
		Addr:            get("addr"),
		BaseURL:         strings.TrimRight(get("base-url"), "/"),
		DatabaseURL:     get("database-url"),
		StripeKey:       get("stripe-secret-key"),
		StripeAPIBase:   strings.TrimRight(get("stripe-api-base"), "/"),
		StripeWebhook:   get("stripe-webhook-secret"),
		StripeDashboard: strings.TrimRight(get("stripe-dashboard"), "/"),
		LogLevel:        get("log-level"),
		LogFormat:       get("log-format"),
		PprofAddr:       get("pprof-addr"),
		ShippoAPIBase:   strings.TrimRight(get("shippo-api-base"), "/"),
	}
	bad := func(f, env, why string) error {
		return usageError{fmt.Sprintf("%s (--%s): %s", env, f, why)}
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return c, false, bad("addr", "ROUNDTRIP_ADDR", "must be host:port, e.g. 127.0.0.1:8080")
	}
	if c.BaseURL != "" {
		if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, false, bad("base-url", "ROUNDTRIP_BASE_URL", "must be an http(s) URL such as https://returns.example.com")
		}
	}
	if err := db.CheckURL(c.DatabaseURL); err != nil {
		return c, false, bad("database-url", "DATABASE_URL", "must look like postgres://user@host:5432/dbname?sslmode=disable (or, over a Unix socket, postgres://user@/dbname?host=/var/run/postgresql)")
	}
	if c.DBMaxConns, err = strconv.Atoi(get("db-max-conns")); err != nil || c.DBMaxConns < 2 {
		return c, false, bad("db-max-conns", "ROUNDTRIP_DB_MAX_CONNS", "must be a whole number of at least 2")
	}
	if c.Migrate, err = strconv.ParseBool(get("migrate")); err != nil {
		return c, false, bad("migrate", "ROUNDTRIP_MIGRATE", "must be true or false")
	}
	if c.Workers, err = strconv.Atoi(get("workers")); err != nil || c.Workers < 0 {
		return c, false, bad("workers", "ROUNDTRIP_WORKERS", "must be a whole number, 0 or more")
	}
	if c.StripeKey != "" && !strings.HasPrefix(c.StripeKey, "sk_") && !strings.HasPrefix(c.StripeKey, "rk_") {
		return c, false, bad("stripe-secret-key", "STRIPE_SECRET_KEY", "must be a Stripe secret key starting with sk_ or rk_")
	}
	if c.StripeAPIBase != "" {
		if u, err := url.Parse(c.StripeAPIBase); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, false, bad("stripe-api-base", "STRIPE_API_BASE", "must be an http(s) URL such as http://127.0.0.1:12111")
		}
	}
	if c.StripeDashboard == "" {
		c.StripeDashboard = stripeDashboard(c.StripeKey)
	} else if u, err := url.Parse(c.StripeDashboard); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return c, false, bad("stripe-dashboard", "STRIPE_DASHBOARD_URL", "must be an http(s) URL such as https://dashboard.stripe.com/test")
	}
	if c.StripeWebhook != "" && !strings.HasPrefix(c.StripeWebhook, "whsec_") {
		return c, false, bad("stripe-webhook-secret", "STRIPE_WEBHOOK_SECRET", "must be a webhook signing secret starting with whsec_")
	}
	if c.ShippoAPIBase != "" {
		if u, err := url.Parse(c.ShippoAPIBase); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, false, bad("shippo-api-base", "SHIPPO_API_BASE", "must be an http(s) URL such as http://127.0.0.1:4010")
		}
	}
	if c.StripeMock, err = strconv.ParseBool(get("stripe-mock")); err != nil {
		return c, false, bad("stripe-mock", "STRIPE_MOCK", "must be true or false")
	}
	if c.FakeShippo, err = strconv.ParseBool(get("fake-shippo")); err != nil {
		return c, false, bad("fake-shippo", "ROUNDTRIP_FAKE_SHIPPO", "must be true or false")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return c, false, bad("log-level", "ROUNDTRIP_LOG_LEVEL", "must be debug, info, warn or error")
	}
	switch c.LogFormat {
	case "", "json", "text":
	default:
		return c, false, bad("log-format", "ROUNDTRIP_LOG_FORMAT", "must be json or text")
	}
	if c.ShutdownTimeout, err = time.ParseDuration(get("shutdown-timeout")); err != nil || c.ShutdownTimeout <= 0 {
		return c, false, bad("shutdown-timeout", "ROUNDTRIP_SHUTDOWN_TIMEOUT", "must be a duration such as 25s")
	}
	if c.DrainDelay, err = time.ParseDuration(get("drain-delay")); err != nil || c.DrainDelay < 0 {
		return c, false, bad("drain-delay", "ROUNDTRIP_DRAIN_DELAY", "must be a duration such as 10s, or 0s")
	}
	if c.PprofAddr != "" {
		if _, _, err := net.SplitHostPort(c.PprofAddr); err != nil {
			return c, false, bad("pprof-addr", "ROUNDTRIP_PPROF_ADDR", "must be host:port, e.g. 127.0.0.1:6060")
		}
	}
	if c.PortalLimit, err = strconv.Atoi(get("portal-client-limit")); err != nil || c.PortalLimit < 0 {
		return c, false, bad("portal-client-limit", "ROUNDTRIP_PORTAL_CLIENT_LIMIT", "must be a whole number, 0 or more")
	}
	if v := get("smtp-url"); v != "" {
		smtp, err := email.ParseSMTPURL(v)
		if err != nil {
			return c, false, bad("smtp-url", "ROUNDTRIP_SMTP_URL", "must look like smtp://user:password@host:587 or smtps://user:password@host:465 ("+strings.TrimPrefix(err.Error(), "email: ")+")")
		}
		c.SMTP = &smtp
	}
	c.MailFrom = get("mail-from")
	if c.MailFrom != "" && email.CheckFrom(c.MailFrom) != nil {
		return c, false, bad("mail-from", "ROUNDTRIP_MAIL_FROM", "must be a bare email address such as returns@example.com")
	}
	if c.SMTP != nil && c.MailFrom == "" {
		return c, false, bad("mail-from", "ROUNDTRIP_MAIL_FROM", "must be set when ROUNDTRIP_SMTP_URL is: the address the emails come from")
	}
	if c.WebhooksHTTP, err = strconv.ParseBool(get("webhooks-allow-http")); err != nil {
		return c, false, bad("webhooks-allow-http", "ROUNDTRIP_WEBHOOKS_ALLOW_HTTP", "must be true or false")
	}
	if c.WebhooksPrivate, err = strconv.ParseBool(get("webhooks-allow-private")); err != nil {
		return c, false, bad("webhooks-allow-private", "ROUNDTRIP_WEBHOOKS_ALLOW_PRIVATE", "must be true or false")
	}
	if c.TrustedProxies, err = reqid.ParseProxies(get("trusted-proxies")); err != nil {
		return c, false, bad("trusted-proxies", "ROUNDTRIP_TRUSTED_PROXIES", "must be comma-separated CIDRs or addresses, e.g. 10.0.0.0/8,192.0.2.7")
	}
	return c, false, nil
}

// logger builds the process logger: JSON in production, text on a terminal.
func (c config) logger(stderr io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	format := c.LogFormat
	if format == "" {
		format = "json"
		if f, ok := stderr.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				format = "text"
			}
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(stderr, opts))
}

// stripeDashboard is the dashboard of the key's mode: test keys (sk_test_, rk_test_)
// link to its test data, live keys to the live data, no key to nothing.
func stripeDashboard(key string) string {
	switch {
	case key == "":
		return ""
	case strings.Contains(key, "_test_"):
		return "https://dashboard.stripe.com/test"
	}
	return "https://dashboard.stripe.com"
}
