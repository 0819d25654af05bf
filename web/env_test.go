package web_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/cmd/roundtrip/apitest"
	"github.com/roundtriphq/roundtrip/cmd/roundtrip/app"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/merchant"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/refunds/fakestripe"
	"github.com/roundtriphq/roundtrip/web"
)

// password of every staff user the tests make.
const password = "correct horse battery"

// shop is a merchant with branding, a returns address, a policy, staff users and
// orders, served by the whole route table (API and pages) with a fake Stripe and
// an outbox worker the test drives.
type shop struct {
	env    *apitest.Env
	tn     apitest.Tenant
	stripe *fakestripe.Server
	worker *outbox.Worker
}

func newShop(t testing.TB, opts ...apitest.Option) *shop {
	t.Helper()
	s := &shop{stripe: fakestripe.New(fakestripe.Options{AutoCharges: true, Currency: "eur"})}
	t.Cleanup(s.stripe.Close)
	s.env = apitest.New(t, append([]apitest.Option{func(d *app.Config, dbURL string) {
		d.Gateway = refunds.NewStripe(refunds.StripeConfig{SecretKey: "sk_test_x", APIBase: s.stripe.URL(), Timeout: 5 * time.Second})
		s.worker = outbox.NewWorker(d.DB, dbURL, outbox.Options{Backoff: func(int) time.Duration { return 0 }})
		d.Worker = s.worker
	}}, opts...)...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", s.env.Logs())
		}
	})
	s.tn = s.env.Merchant(t, "northwind")
	s.brand(t, s.tn, "Northwind Outfitters", "#1f6f5c")
	s.do(t, "PUT", "/v1/policy", auth.RoleAdmin, map[string]any{
		"window_days": 30, "store_credit_bonus_bps": 1000,
		"rules": []map[string]any{{"match": map[string]any{"category": "swimwear"}, "window_days": 1}},
	}, http.StatusOK)
	s.order(t, "NW-1", "ada@example.com", "Ada")
	s.user(t, s.tn, "ana", auth.RoleWarehouse)
	s.user(t, s.tn, "fin", auth.RoleFinance)
	return s
}

// brand gives a merchant its name, colour and returns address.
func (s *shop) brand(t testing.TB, tn apitest.Tenant, name, color string) {
	t.Helper()
	_, err := merchant.NewStore(s.env.DB).Update(context.Background(), tn.Merchant.ID, name, merchant.Settings{
		BrandColor: color, SupportEmail: "help@" + tn.Merchant.Slug + ".example",
		Warehouse: merchant.WarehouseAddress{Name: name + " Returns", Line1: "12 Harbour Road", City: "Leeds", PostalCode: "LS1 4AP", Country: "GB"},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (s *shop) user(t testing.TB, tn apitest.Tenant, name string, role auth.Role) {
	t.Helper()
	if _, err := web.NewFastUsers(s.env.DB).Create(context.Background(), tn.Merchant.ID, name, password, role); err != nil {
		t.Fatal(err)
	}
}

// order puts a delivered order: two T-shirts, a final-sale gift card and swim
// shorts whose 1-day window ended.
func (s *shop) order(t testing.TB, number, email, first string) {
	t.Helper()
	delivered := time.Now().Add(-72 * time.Hour).UTC().Truncate(time.Second)
	s.do(t, "PUT", "/v1/orders/"+number, auth.RoleIntegration, map[string]any{
		"customer": map[string]any{"email": email, "first_name": first, "last_name": "Lovelace",
			"address": map[string]any{"line1": "1 Main St", "city": "London", "postal_code": "N1 9GU", "country": "GB"}},
		"currency": "EUR", "placed_at": delivered.Add(-48 * time.Hour).Format(time.RFC3339), "delivered_at": delivered.Format(time.RFC3339),
		"lines": []map[string]any{
			{"id": "l1", "sku": "TEE-BLK-M", "name": "Organic T-shirt, black, M", "quantity": 2, "unit_price": 2500, "tax": 950, "category": "t-shirts"},
			{"id": "l2", "sku": "GIFT-CARD", "name": "Gift card", "quantity": 1, "unit_price": 2000, "final_sale": true},
			{"id": "l3", "sku": "SWIM-BLU-M", "name": "Swim shorts, blue, M", "quantity": 1, "unit_price": 3900, "tax": 741, "category": "swimwear"},
		},
		"shipping": 495, "shipping_tax": 99,
		"payment": map[string]any{"provider": "stripe", "payment_intent_id": "pi_" + strings.ToLower(strings.ReplaceAll(number, "-", "")), "captured": 2*2500 + 950 + 2000 + 3900 + 741 + 495 + 99},
	}, http.StatusCreated)
}

// windowEnd is when the swim shorts' window ended, as the portal words it.
func windowEnd() string {
	delivered := time.Now().Add(-72 * time.Hour).UTC().Truncate(time.Second)
	return delivered.AddDate(0, 0, 1).Format("2 January 2006")
}

// do calls the API with the tenant's key of role and checks the status.
func (s *shop) do(t testing.TB, method, path string, role auth.Role, body any, want int) apitest.Response {
	t.Helper()
	res := s.env.Do(t, method, path, s.tn.Keys[role], body)
	if res.Status != want {
		t.Fatalf("%s %s: got %d %s, want %d", method, path, res.Status, res.Body, want)
	}
	return res
}

type created struct {
	ID    string `json:"id"`
	RMA   string `json:"rma"`
	State string `json:"state"`
	Total int64  `json:"total"`
}

// createReturn creates a refund return of qty T-shirts of order through the API.
func (s *shop) createReturn(t testing.TB, order string, qty int) created {
	t.Helper()
	res := s.do(t, "POST", "/v1/returns", auth.RoleIntegration, map[string]any{"order_number": order, "resolution": "refund",
		"items": []map[string]any{{"line_id": "l1", "quantity": qty, "reason": "too_small"}}}, http.StatusCreated)
	var r created
	res.JSON(t, &r)
	return r
}

// drain runs due background jobs until none is left.
func (s *shop) drain(t testing.TB) {
	t.Helper()
	for {
		did, err := s.worker.RunOne(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !did {
			return
		}
	}
}

// ---- a browser-less client for access tests

type client struct {
	t    testing.TB
	base string
	hc   *http.Client
}

func (s *shop) client(t testing.TB) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: s.env.URL, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// clientFrom is a client that connects from the local address ip (any of 127.0.0.0/8
// is this machine): another client address as the server sees it.
func (s *shop) clientFrom(t testing.TB, ip string) *client {
	c := s.client(t)
	c.hc.Transport = &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext}
	return c
}

type page struct {
	Status   int
	Location string
	Body     string
}

func (c *client) get(path string) page {
	c.t.Helper()
	res, err := c.hc.Get(c.base + path)
	if err != nil {
		c.t.Fatal(err)
	}
	return read(c.t, res)
}

func (c *client) post(path string, form url.Values) page {
	c.t.Helper()
	res, err := c.hc.PostForm(c.base+path, form)
	if err != nil {
		c.t.Fatal(err)
	}
	return read(c.t, res)
}

func read(t testing.TB, res *http.Response) page {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return page{Status: res.StatusCode, Location: res.Header.Get("Location"), Body: string(b)}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token of a page's forms.
func (p page) csrf(t testing.TB) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%.500s", p.Body)
	}
	return m[1]
}

// signIn signs a staff user in and returns the page it lands on.
func (c *client) signIn(shop, user string) page {
	c.t.Helper()
	p := c.post("/signin", url.Values{"shop": {shop}, "username": {user}, "password": {password}})
	if p.Status != http.StatusSeeOther {
		c.t.Fatalf("sign in %s/%s: got %d, want 303\n%.500s", shop, user, p.Status, p.Body)
	}
	return c.get(p.Location)
}

// lookUp opens the portal for an order.
func (c *client) lookUp(slug, order, email string) page {
	c.t.Helper()
	p := c.post("/portal/"+slug+"/session", url.Values{"order_number": {order}, "email": {email}})
	if p.Status != http.StatusSeeOther {
		c.t.Fatalf("look up %s: got %d, want 303\n%.500s", order, p.Status, p.Body)
	}
	return c.get(p.Location)
}

func mustContain(t testing.TB, p page, parts ...string) {
	t.Helper()
	for _, s := range parts {
		if !strings.Contains(p.Body, s) {
			t.Errorf("page (%d) lacks %q:\n%.1500s", p.Status, s, p.Body)
		}
	}
}

func wantStatus(t testing.TB, what string, p page, want int) {
	t.Helper()
	if p.Status != want {
		t.Fatalf("%s: got %d, want %d\n%.800s", what, p.Status, want, p.Body)
	}
}
