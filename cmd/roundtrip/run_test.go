package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/internal/pgtest"
	"github.com/roundtriphq/roundtrip/returns"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestServeStartsAnswersAndStops(t *testing.T) {
	_, url := pgtest.NewWithURL(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--log-level", "warn"},
			env(map[string]string{"DATABASE_URL": url}), pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no start-up line: %v (run: %v)", err, <-errc)
	}
	go io.Copy(io.Discard, pr)
	base := regexp.MustCompile(`http://127\.0\.0\.1:\d+`).FindString(line)
	if base == "" {
		t.Fatalf("start-up line %q names no address", line)
	}
	for path, want := range map[string]string{
		"/healthz":      `"ok"`,
		"/readyz":       `"ready"`,
		"/openapi.json": `"Roundtrip API"`,
		"/docs":         "<html",
		"/metrics":      "roundtrip_outbox_pending",
	} {
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("GET %s: got %d %.200s, want 200 containing %s", path, res.StatusCode, b, want)
		}
	}
	res, err := http.Get(base + "/nowhere")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 || res.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("GET /nowhere: got %d %s, want a 404 problem", res.StatusCode, res.Header.Get("Content-Type"))
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("run returned %v after cancel, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

// TestReadyzFailsAsSoonAsShutdownBegins: on SIGTERM (the context ends) /readyz answers
// 503 while the server still serves for the drain delay, so that a load balancer takes
// the replica out before its listener closes; then run returns nil.
func TestReadyzFailsAsSoonAsShutdownBegins(t *testing.T) {
	_, url := pgtest.NewWithURL(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	logR, logW := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--workers", "0", "--log-format", "text", "--drain-delay", "3s"},
			env(map[string]string{"DATABASE_URL": url}), outW, logW)
		outW.Close()
		logW.Close()
	}()
	shuttingDown := make(chan struct{})
	go func() { // read the log, noting when shutdown begins
		sc := bufio.NewScanner(logR)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "shutting down") {
				close(shuttingDown)
				break
			}
		}
		io.Copy(io.Discard, logR)
	}()
	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		t.Fatalf("no start-up line: %v (run: %v)", err, <-errc)
	}
	go io.Copy(io.Discard, outR)
	base := regexp.MustCompile(`http://127\.0\.0\.1:\d+`).FindString(line)
	get := func(path string) int {
		t.Helper()
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := get("/readyz"); got != http.StatusOK {
		t.Fatalf("GET /readyz before shutdown: got %d, want 200", got)
	}
	cancel()
	select {
	case <-shuttingDown:
	case err := <-errc:
		t.Fatalf("run returned %v before saying it shuts down", err)
	}
	if got := get("/readyz"); got != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz once shutdown began: got %d, want 503", got)
	}
	if got := get("/healthz"); got != http.StatusOK {
		t.Errorf("GET /healthz while draining: got %d, want 200 (the process is alive)", got)
	}
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("run returned %v after the drain, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after the drain delay")
	}
}

// TestPortalLimitCountsTheClientBehindTrustedProxies: from a trusted proxy the
// per-client portal limit counts the client that X-Forwarded-For names; from any other
// peer it counts the peer, whatever the header says.
func TestPortalLimitCountsTheClientBehindTrustedProxies(t *testing.T) {
	_, url := pgtest.NewWithURL(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--workers", "0", "--log-level", "error",
			"--trusted-proxies", "127.0.0.1/32", "--portal-client-limit", "2"},
			env(map[string]string{"DATABASE_URL": url}), pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no start-up line: %v (run: %v)", err, <-errc)
	}
	go io.Copy(io.Discard, pr)
	base := regexp.MustCompile(`http://127\.0\.0\.1:\d+`).FindString(line)

	// the proxy connects from 127.0.0.1 (trusted); another peer from 127.0.0.2
	proxy := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	other := &http.Client{Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext}}
	attempt := func(c *http.Client, forwardedFor string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", base+"/v1/portal/sessions",
			strings.NewReader(`{"merchant": "nowhere", "order_number": "NW-1", "email": "ada@example.com"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", forwardedFor)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for i, tt := range []struct {
		name   string
		client *http.Client
		xff    string
		want   int
	}{
		{"shopper A through the proxy", proxy, "198.51.100.1", http.StatusNotFound},
		{"shopper A again", proxy, "198.51.100.1", http.StatusNotFound},
		{"shopper A over the limit", proxy, "198.51.100.1", http.StatusTooManyRequests},
		{"shopper B through the same proxy has its own limit", proxy, "198.51.100.2", http.StatusNotFound},
		{"an untrusted peer", other, "198.51.100.3", http.StatusNotFound},
		{"the same peer claiming another client", other, "198.51.100.4", http.StatusNotFound},
		{"the same peer over the limit, whatever it claims", other, "198.51.100.5", http.StatusTooManyRequests},
	} {
		if got := attempt(tt.client, tt.xff); got != tt.want {
			t.Errorf("%d. %s: got %d, want %d", i+1, tt.name, got, tt.want)
		}
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("run returned %v after cancel, want nil", err)
	}
}

func TestBadSettingStopsStartUpNamingIt(t *testing.T) {
	tests := map[string]struct {
		env  map[string]string
		args []string
		want string
	}{
		"database url": {env: map[string]string{"DATABASE_URL": "mysql://x"}, want: "DATABASE_URL"},
		"addr":         {env: map[string]string{"ROUNDTRIP_ADDR": "eighty"}, want: "ROUNDTRIP_ADDR"},
		"base url":     {env: map[string]string{"ROUNDTRIP_BASE_URL": "returns.example.com"}, want: "ROUNDTRIP_BASE_URL"},
		"stripe key":   {env: map[string]string{"STRIPE_SECRET_KEY": "pk_test_123"}, want: "STRIPE_SECRET_KEY"},
		"stripe base":  {env: map[string]string{"STRIPE_API_BASE": "localhost:12111"}, want: "STRIPE_API_BASE"},
		"webhook":      {env: map[string]string{"STRIPE_WEBHOOK_SECRET": "secret"}, want: "STRIPE_WEBHOOK_SECRET"},
		"log level":    {env: map[string]string{"ROUNDTRIP_LOG_LEVEL": "loud"}, want: "ROUNDTRIP_LOG_LEVEL"},
		"drain delay":  {env: map[string]string{"ROUNDTRIP_DRAIN_DELAY": "-1s"}, want: "ROUNDTRIP_DRAIN_DELAY"},
		"proxies":      {env: map[string]string{"ROUNDTRIP_TRUSTED_PROXIES": "10.0.0.0/8,lb.internal"}, want: "ROUNDTRIP_TRUSTED_PROXIES"},
		"smtp url":     {env: map[string]string{"ROUNDTRIP_SMTP_URL": "mail.example.com:587", "ROUNDTRIP_MAIL_FROM": "r@example.com"}, want: "ROUNDTRIP_SMTP_URL"},
		"smtp tls":     {env: map[string]string{"ROUNDTRIP_SMTP_URL": "smtp://mail.example.com?starttls=maybe", "ROUNDTRIP_MAIL_FROM": "r@example.com"}, want: "ROUNDTRIP_SMTP_URL"},
		"mail from":    {env: map[string]string{"ROUNDTRIP_SMTP_URL": "smtp://mail.example.com:587"}, want: "ROUNDTRIP_MAIL_FROM"},
		"bad from":     {env: map[string]string{"ROUNDTRIP_MAIL_FROM": "Returns <r@example.com>"}, want: "ROUNDTRIP_MAIL_FROM"},
		"allow http":   {env: map[string]string{"ROUNDTRIP_WEBHOOKS_ALLOW_HTTP": "sure"}, want: "ROUNDTRIP_WEBHOOKS_ALLOW_HTTP"},
		"allow lan":    {env: map[string]string{"ROUNDTRIP_WEBHOOKS_ALLOW_PRIVATE": "2"}, want: "ROUNDTRIP_WEBHOOKS_ALLOW_PRIVATE"},
		"flag wins":    {env: map[string]string{}, args: []string{"--workers", "-1"}, want: "ROUNDTRIP_WORKERS"},
		"unknown flag": {env: map[string]string{}, args: []string{"--colour"}, want: "colour"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := run(context.Background(), append([]string{"serve"}, tt.args...), env(tt.env), io.Discard, io.Discard)
			var u usageError
			if err == nil || !strings.Contains(err.Error(), tt.want) || !asUsage(err, &u) {
				t.Fatalf("got %v, want a usage error naming %s", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("got a multi-line error %q, want one line", err)
			}
		})
	}
}

func asUsage(err error, u *usageError) bool {
	v, ok := err.(usageError)
	*u = v
	return ok
}

func TestServeHelpListsEveryEnvironmentVariable(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"serve", "--help"}, env(nil), io.Discard, &out); err != nil {
		t.Fatal(err)
	}
	for _, s := range settings {
		if !strings.Contains(out.String(), s.env) {
			t.Errorf("serve --help does not mention %s", s.env)
		}
	}
}

func TestServeHelpNeverPrintsASecret(t *testing.T) {
	secrets := map[string]string{
		"STRIPE_SECRET_KEY":     "sk_test_51Hsupersecretkey",
		"STRIPE_WEBHOOK_SECRET": "whsec_topsecretsigning",
		"DATABASE_URL":          "postgres://app:hunter2@db.internal:5432/roundtrip?sslmode=disable&sslpassword=clientkeypass",
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"serve", "--help"}, env(secrets), io.Discard, &out); err != nil {
		t.Fatal(err)
	}
	help := out.String()
	for _, secret := range []string{"supersecretkey", "topsecretsigning", "hunter2", "clientkeypass"} {
		if strings.Contains(help, secret) {
			t.Errorf("serve --help prints the secret %q:\n%s", secret, help)
		}
	}
	for _, want := range []string{`(default "(set)")`, "postgres://app:(set)@db.internal:5432/roundtrip"} {
		if !strings.Contains(help, want) {
			t.Errorf("serve --help lacks %s:\n%s", want, help)
		}
	}

	// any setting named like a secret, such as an SMTP password, and any URL's password
	for _, tt := range []struct {
		s        setting
		in, want string
	}{
		{setting{env: "ROUNDTRIP_SMTP_PASSWORD"}, "p4ss", "(set)"},
		{setting{env: "ROUNDTRIP_SMTP_URL"}, "smtp://mail:p4ss@smtp.example:587", "smtp://mail:(set)@smtp.example:587"},
		{setting{env: "ROUNDTRIP_ADDR", def: "127.0.0.1:8080"}, "0.0.0.0:8080", "0.0.0.0:8080"},
		{setting{env: "ROUNDTRIP_BASE_URL"}, "https://returns.example.com", "https://returns.example.com"},
		{setting{env: "DATABASE_URL"}, "postgres://app@db/rt?password=p4ss", "postgres://app@db/rt?password=(set)"},
	} {
		if got := shown(tt.s, tt.in); got != tt.want {
			t.Errorf("shown(%s=%s) = %q, want %q", tt.s.env, tt.in, got, tt.want)
		}
	}
}

func TestKeysCreatePrintsTheKeyLastAndDemoRunsTwice(t *testing.T) {
	_, url := pgtest.NewWithURL(t)
	e := env(map[string]string{"DATABASE_URL": url})
	ctx := context.Background()
	for i := range 2 {
		var out bytes.Buffer
		if err := run(ctx, []string{"demo"}, e, &out, io.Discard); err != nil {
			t.Fatalf("demo run %d: %v", i+1, err)
		}
	}
	var out bytes.Buffer
	if err := run(ctx, []string{"merchants", "create", "--slug", "acme", "--name", "Acme"}, e, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"merchants", "create", "--slug", "acme", "--name", "Acme"}, e, io.Discard, io.Discard); err == nil {
		t.Fatal("creating merchant acme twice succeeded, want an error")
	}
	out.Reset()
	if err := run(ctx, []string{"keys", "create", "--merchant", "acme", "--role", "finance"}, e, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if last := lines[len(lines)-1]; !regexp.MustCompile(`^rtk_[0-9a-z]{37}$`).MatchString(last) {
		t.Fatalf("last line %q is not the key alone", last)
	}
	if err := run(ctx, []string{"keys", "create", "--merchant", "acme", "--role", "owner"}, e, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "--role") {
		t.Fatalf("got %v for role owner, want an error naming --role", err)
	}
	if err := run(ctx, []string{"keys", "create", "--merchant", "nobody", "--role", "admin"}, e, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "nobody") {
		t.Fatalf("got %v for an unknown merchant, want an error naming it", err)
	}
}

func TestOpenAPICommand(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{{nil, "openapi: 3.1.0"}, {[]string{"--3.0"}, "openapi: 3.0.3"}} {
		var out bytes.Buffer
		if err := run(context.Background(), append([]string{"openapi"}, tt.args...), env(nil), &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), tt.want) {
			t.Errorf("openapi %v: output lacks %q", tt.args, tt.want)
		}
	}
}

func TestDemoOrdersExerciseThePolicy(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	orders := demoOrders(now)
	if len(orders) != 50 {
		t.Fatalf("got %d demo orders, want 50", len(orders))
	}
	pol := demoPolicy()
	if err := pol.Validate(); err != nil {
		t.Fatalf("demo policy: %v", err)
	}
	quote := func(number, line string) returns.QuoteLine {
		q := returns.Quote(returns.QuoteInput{Order: orders[number], Policy: pol, Now: now, Resolution: returns.ResolutionRefund,
			Items: []returns.QuoteItem{{LineID: line, Quantity: 1, Reason: returns.ReasonChangedMind}}})
		return q.Lines[0]
	}
	for _, tt := range []struct {
		order, line string
		eligible    bool
		code        returns.Ineligibility
	}{
		{"NW-1001", "1", true, ""},
		{"NW-1002", "1", false, returns.IneligibleOutsideWindow},
		{"NW-1003", "2", false, returns.IneligibleFinalSale},
		{"NW-1003", "3", false, returns.IneligibleNotReturnable},
		{"NW-1004", "1", true, ""},
		{"NW-1005", "1", true, ""},
	} {
		if got := quote(tt.order, tt.line); got.Eligible != tt.eligible || got.Code != tt.code {
			t.Errorf("%s line %s: got eligible=%v code=%q, want %v %q", tt.order, tt.line, got.Eligible, got.Code, tt.eligible, tt.code)
		}
	}
	for number, o := range orders {
		if err := o.Validate(); err != nil {
			t.Errorf("demo order %s is invalid: %v", number, err)
		}
	}
}
