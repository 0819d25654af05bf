package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/internal/auth"
)

// The one access check, without a browser: who may open which page, CSRF, and
// that nobody sees another merchant's or another order's data.

func TestStaffPagesNeedTheirRole(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	r := s.createReturn(t, "NW-1", 1)

	anon := s.client(t)
	p := anon.get("/warehouse")
	wantStatus(t, "anonymous /warehouse", p, http.StatusSeeOther)
	if p.Location != "/signin?next=%2Fwarehouse" {
		t.Errorf("anonymous /warehouse: got Location %q, want the sign-in page coming back", p.Location)
	}
	wantStatus(t, "anonymous /finance", anon.get("/finance"), http.StatusSeeOther)

	fin := s.client(t)
	mustContain(t, fin.signIn("northwind", "fin"), "<h1>Finance</h1>")
	wantStatus(t, "finance user on /warehouse", fin.get("/warehouse"), http.StatusForbidden)
	wantStatus(t, "finance user on a return at the scan station", fin.get(fmt.Sprintf("/warehouse/returns/%s", r.ID)), http.StatusForbidden)

	wh := s.client(t)
	station := wh.signIn("northwind", "ana")
	mustContain(t, station, `data-scan-field`, "ana · warehouse")
	wantStatus(t, "warehouse user on /finance", wh.get("/finance"), http.StatusForbidden)

	// an admin may open both
	s.user(t, s.tn, "boss", auth.RoleAdmin)
	admin := s.client(t)
	admin.signIn("northwind", "boss")
	wantStatus(t, "admin on /warehouse", admin.get("/warehouse"), http.StatusOK)
	wantStatus(t, "admin on /finance", admin.get("/finance"), http.StatusOK)

	// signing out ends the session in the database, not only the cookie
	cookies := wh.hc.Jar.Cookies(mustURL(t, s.env.URL))
	out := wh.post("/signout", url.Values{"csrf": {station.csrf(t)}})
	wantStatus(t, "sign out", out, http.StatusSeeOther)
	replay := s.client(t)
	replay.hc.Jar.SetCookies(mustURL(t, s.env.URL), cookies)
	wantStatus(t, "the old cookie after signing out", replay.get("/warehouse"), http.StatusSeeOther)
}

func TestSignInFailsWithoutSayingWhy(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	c := s.client(t)
	for _, tc := range []struct{ shop, user, pass string }{
		{"northwind", "ana", "wrong password!"},
		{"northwind", "nobody", password},
		{"nowhere", "ana", password},
	} {
		p := c.post("/signin", url.Values{"shop": {tc.shop}, "username": {tc.user}, "password": {tc.pass}})
		wantStatus(t, fmt.Sprintf("sign in %s/%s", tc.shop, tc.user), p, http.StatusUnauthorized)
		mustContain(t, p, "Wrong shop, user name or password", `role="alert"`)
	}
	// a sign-in from another site is refused before the password is looked at
	req, _ := http.NewRequest("POST", s.env.URL+"/signin", strings.NewReader(url.Values{"shop": {"northwind"}, "username": {"ana"}, "password": {password}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	res, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "cross-site sign-in", read(t, res), http.StatusForbidden)
	// next never leaves the staff pages
	p := c.post("/signin", url.Values{"shop": {"northwind"}, "username": {"ana"}, "password": {password}, "next": {"https://evil.example/x"}})
	if p.Location != "/warehouse" {
		t.Errorf("sign-in with a foreign next: got Location %q, want /warehouse", p.Location)
	}
	// nor through dot segments and escaped slashes
	fin := s.client(t)
	p = fin.post("/signin", url.Values{"shop": {"northwind"}, "username": {"fin"}, "password": {password}, "next": {"/finance/../%2f%2fevil.example"}})
	if p.Location != "/finance" {
		t.Errorf("sign-in with next=/finance/../%%2f%%2fevil.example: got Location %q, want /finance", p.Location)
	}
}

// TestSignInLimitLocksOutTheGuesserNotTheUser: ten wrong passwords for a user from
// one address limit that address, even with the right password, while the user signs
// in from their own.
func TestSignInLimitLocksOutTheGuesserNotTheUser(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	guesser := s.client(t)
	for i := range 10 {
		p := guesser.post("/signin", url.Values{"shop": {"northwind"}, "username": {"fin"}, "password": {fmt.Sprintf("guess number %d", i)}})
		wantStatus(t, fmt.Sprintf("wrong password %d", i+1), p, http.StatusUnauthorized)
	}
	p := guesser.post("/signin", url.Values{"shop": {"northwind"}, "username": {"fin"}, "password": {"guess number 11"}})
	wantStatus(t, "eleventh wrong password", p, http.StatusTooManyRequests)
	p = guesser.post("/signin", url.Values{"shop": {"northwind"}, "username": {"fin"}, "password": {password}})
	wantStatus(t, "the guesser with the right password", p, http.StatusTooManyRequests)

	user := s.clientFrom(t, "127.0.0.2")
	p = user.post("/signin", url.Values{"shop": {"northwind"}, "username": {"fin"}, "password": {password}})
	if p.Status != http.StatusSeeOther || p.Location != "/finance" {
		t.Errorf("the user from their own address: got %d to %q, want 303 to /finance", p.Status, p.Location)
	}
}

// TestOrderLookUpLocksOutTheGuesserNotTheShopper: the same for the portal's order
// look-up, which counts in the API's buckets.
func TestOrderLookUpLocksOutTheGuesserNotTheShopper(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	for range 10 {
		res := s.env.Do(t, "POST", "/v1/portal/sessions", "", map[string]string{"merchant": "northwind", "order_number": "NW-1", "email": "eve@example.com"})
		if res.Status != http.StatusNotFound {
			t.Fatalf("API look-up: got %d, want 404", res.Status)
		}
	}
	wantStatus(t, "the guesser in the portal", s.client(t).post("/portal/northwind/session",
		url.Values{"order_number": {"NW-1"}, "email": {"ada@example.com"}}), http.StatusTooManyRequests)
	p := s.clientFrom(t, "127.0.0.2").post("/portal/northwind/session", url.Values{"order_number": {"NW-1"}, "email": {"ada@example.com"}})
	if p.Status != http.StatusSeeOther || p.Location != "/portal/northwind" {
		t.Errorf("the shopper from their own address: got %d to %q, want 303 to /portal/northwind", p.Status, p.Location)
	}
}

// TestOrderLookUpForgetsFailuresOnSuccess: only failed look-ups count: a shopper who
// gets in after nine typos may mistype nine more times before the limit.
func TestOrderLookUpForgetsFailuresOnSuccess(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	c := s.client(t)
	wrong := url.Values{"order_number": {"NW-1"}, "email": {"eve@example.com"}}
	right := url.Values{"order_number": {"NW-1"}, "email": {"ada@example.com"}}
	for round := range 2 {
		for i := range 9 {
			wantStatus(t, fmt.Sprintf("round %d, typo %d", round+1, i+1), c.post("/portal/northwind/session", wrong), http.StatusNotFound)
		}
		p := c.post("/portal/northwind/session", right)
		if p.Status != http.StatusSeeOther || p.Location != "/portal/northwind" {
			t.Fatalf("round %d, the right email: got %d to %q, want 303 to /portal/northwind", round+1, p.Status, p.Location)
		}
	}
}

// TestPagesRefuseNUL: the NUL character or bytes that are not UTF-8, which
// PostgreSQL cannot store in text, in a form, a query or a path answer a page in plain
// words, not a 500.
func TestPagesRefuseNUL(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	c := s.client(t)
	for name, p := range map[string]page{
		"order look-up":            c.post("/portal/northwind/session", url.Values{"order_number": {"NW-1\x00"}, "email": {"ada@example.com"}}),
		"sign-in":                  c.post("/signin", url.Values{"shop": {"north\x00wind"}, "username": {"fin"}, "password": {password}}),
		"path":                     c.get("/portal/northwind/returns/R-%00"),
		"query":                    c.get("/signin?shop=north%00wind"),
		"order look-up, not UTF-8": c.post("/portal/northwind/session", url.Values{"order_number": {"NW-1\xff"}, "email": {"ada@example.com"}}),
		"path, not UTF-8":          c.get("/portal/northwind/returns/R-%ff"),
		"query, not UTF-8":         c.get("/signin?shop=north%ffwind"),
		"shop, not UTF-8":          c.get("/portal/north%ffwind"),
	} {
		wantStatus(t, name, p, http.StatusUnprocessableEntity)
		mustContain(t, p, "Check what you entered")
	}
}

func TestEveryStaffPostNeedsTheSessionsToken(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	r := s.createReturn(t, "NW-1", 1)
	wh := s.client(t)
	token := wh.signIn("northwind", "ana").csrf(t)
	fin := s.client(t)
	finToken := fin.signIn("northwind", "fin").csrf(t)
	for _, tc := range []struct {
		c    *client
		path string
		form url.Values
	}{
		{wh, "/warehouse/scan", url.Values{"code": {r.RMA}}},
		{wh, fmt.Sprintf("/warehouse/returns/%s/receipts", r.ID), url.Values{"n": {"1"}, "line.0": {"l1"}, "qty.0": {"1"}, "cond.0": {"new"}, "disp.0": {"restock"}, "key": {strings.Repeat("a", 32)}}},
		{wh, "/signout", url.Values{}},
		{fin, "/finance/refunds/1/retry", url.Values{}},
		{fin, "/finance/reconciliations", url.Values{"from": {"2026-01-01"}, "to": {"2026-02-01"}}},
	} {
		for name, csrf := range map[string][]string{"without a token": nil, "with a wrong token": {"x" + token}, "with another session's token": {finToken}} {
			if tc.c == fin && name == "with another session's token" {
				csrf = []string{token}
			}
			form := url.Values{}
			for k, v := range tc.form {
				form[k] = v
			}
			if csrf != nil {
				form["csrf"] = csrf
			}
			p := tc.c.post(tc.path, form)
			wantStatus(t, "POST "+tc.path+" "+name, p, http.StatusForbidden)
			mustContain(t, p, "This form has expired")
		}
	}
	// nothing happened: the parcel was not scanned, nothing received
	var arrived bool
	if err := s.env.DB.Get(&arrived, `SELECT arrived_at IS NOT NULL FROM returns WHERE public_id = $1`, r.ID); err != nil {
		t.Fatal(err)
	}
	if arrived {
		t.Error("a POST without the token scanned the parcel")
	}
	wantStatus(t, "the session still works", wh.get("/warehouse"), http.StatusOK)
}

func TestStaffSeeOnlyTheirMerchant(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	r := s.createReturn(t, "NW-1", 1)
	other := s.env.Merchant(t, "southwind")
	s.brand(t, other, "Southwind", "#aa2200")
	s.user(t, other, "ana", auth.RoleAdmin) // the same name in another shop is another person

	c := s.client(t)
	station := c.signIn("southwind", "ana")
	wantStatus(t, "another merchant's return", c.get(fmt.Sprintf("/warehouse/returns/%s", r.ID)), http.StatusNotFound)
	p := c.post("/warehouse/scan", url.Values{"csrf": {station.csrf(t)}, "code": {r.RMA}})
	wantStatus(t, "scanning another merchant's RMA", p, http.StatusNotFound)
	mustContain(t, p, `data-result="unknown"`)
	p = c.post(fmt.Sprintf("/warehouse/returns/%s/receipts", r.ID), url.Values{"csrf": {station.csrf(t)}, "key": {strings.Repeat("b", 32)},
		"n": {"1"}, "line.0": {"l1"}, "qty.0": {"1"}, "cond.0": {"new"}, "disp.0": {"restock"}})
	wantStatus(t, "receiving another merchant's return", p, http.StatusNotFound)
	fin := c.get("/finance?rma=" + r.RMA)
	wantStatus(t, "finance of another merchant", fin, http.StatusOK)
	if strings.Contains(fin.Body, r.RMA+"</td>") {
		t.Error("finance lists another merchant's refund")
	}
}

func TestShoppersSeeOnlyTheirOrder(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	s.order(t, "NW-2", "grace@example.com", "Grace")
	theirs := s.createReturn(t, "NW-2", 1)

	ada := s.client(t)
	home := ada.lookUp("northwind", "nw-1", " ADA@example.com ") // any case, spaces around
	mustContain(t, home, "Hi Ada!", "Order NW-1, placed")
	for _, path := range []string{"", "/confirmation", "/label?format=a4"} {
		p := ada.get("/portal/northwind/returns/" + theirs.RMA + path)
		wantStatus(t, "another order's return"+path, p, http.StatusOK)
		mustContain(t, p, "enter the number and email address of the order it belongs to", `id="order_number"`)
		if strings.Contains(p.Body, "Grace") || strings.Contains(p.Body, "%PDF") {
			t.Errorf("another order's return%s shows its data", path)
		}
	}
	p := ada.post("/portal/northwind/returns/"+theirs.RMA+"/cancel", url.Values{"csrf": {home.csrf(t)}})
	mustContain(t, p, `id="order_number"`)
	var state string
	if err := s.env.DB.Get(&state, `SELECT state FROM returns WHERE public_id = $1`, theirs.ID); err != nil {
		t.Fatal(err)
	}
	if state != "approved" {
		t.Errorf("another order's shopper moved the return to %s", state)
	}

	// the portal cookie of one shop opens nothing at another
	other := s.env.Merchant(t, "southwind")
	s.brand(t, other, "Southwind", "#aa2200")
	cookies := ada.hc.Jar.Cookies(mustURL(t, s.env.URL+"/portal/northwind/"))
	forged := s.client(t)
	for _, c := range cookies {
		c.Path = "/portal/southwind"
	}
	forged.hc.Jar.SetCookies(mustURL(t, s.env.URL+"/portal/southwind/"), cookies)
	mustContain(t, forged.get("/portal/southwind"), `id="order_number"`)

	// a POST of the portal without the session's token does nothing
	p = ada.post("/portal/northwind/quote", url.Values{"line.0": {"l1"}, "qty.0": {"1"}, "reason.0": {"too_small"}})
	wantStatus(t, "portal POST without a token", p, http.StatusForbidden)

	// after the look-up, next only leads within the shop's portal
	evil := s.client(t)
	p = evil.post("/portal/northwind/session", url.Values{"order_number": {"NW-1"}, "email": {"ada@example.com"}, "next": {"//evil.example/portal/northwind/x"}})
	if p.Location != "/portal/northwind" {
		t.Errorf("look-up with a foreign next: got Location %q, want /portal/northwind", p.Location)
	}
	wantStatus(t, "unknown shop", evil.get("/portal/nowhere"), http.StatusNotFound)
}

func TestOrderLookUpSharesTheAPIsRateLimit(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	// five wrong attempts through the API and five through the portal use up the
	// order's ten a minute
	for range 5 {
		res := s.env.Do(t, "POST", "/v1/portal/sessions", "", map[string]string{"merchant": "northwind", "order_number": "NW-1", "email": "eve@example.com"})
		if res.Status != http.StatusNotFound {
			t.Fatalf("API look-up: got %d, want 404", res.Status)
		}
	}
	c := s.client(t)
	for i := range 6 {
		p := c.post("/portal/northwind/session", url.Values{"order_number": {"NW-1"}, "email": {"eve@example.com"}})
		want := http.StatusNotFound
		if i == 5 {
			want = http.StatusTooManyRequests
		}
		wantStatus(t, fmt.Sprintf("portal look-up %d", i+1), p, want)
	}
	p := c.post("/portal/northwind/session", url.Values{"order_number": {"NW-1"}, "email": {"ada@example.com"}})
	wantStatus(t, "the right email while limited", p, http.StatusTooManyRequests)
	mustContain(t, p, "Too many attempts. Please wait")
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestFinanceDownloadsWithTheSessionCookie(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	r := s.createReturn(t, "NW-1", 1)
	s.do(t, "POST", fmt.Sprintf("/v1/returns/%s/receipts", r.ID), auth.RoleWarehouse, map[string]any{"items": []map[string]any{
		{"line_id": "l1", "quantity": 1, "condition": "new", "disposition": "restock"}}}, http.StatusCreated)
	s.drain(t)
	fin := s.client(t)
	fin.signIn("northwind", "fin")
	today := time.Now().UTC().Format(time.DateOnly)
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	res, err := fin.hc.Get(s.env.URL + "/finance/refunds.csv?from=" + today + "&to=" + tomorrow)
	if err != nil {
		t.Fatal(err)
	}
	csv := read(t, res)
	if csv.Status != http.StatusOK || res.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		!strings.Contains(res.Header.Get("Content-Disposition"), "attachment") || !strings.Contains(csv.Body, r.RMA) {
		t.Errorf("refunds CSV: got %d %s %q\n%.500s", csv.Status, res.Header.Get("Content-Type"), res.Header.Get("Content-Disposition"), csv.Body)
	}
	wantStatus(t, "CSV without a period", fin.get("/finance/refunds.csv"), http.StatusUnprocessableEntity)
	wantStatus(t, "CSV of year 1 to 9999", fin.get("/finance/refunds.csv?from=0001-01-01&to=9999-12-31"), http.StatusUnprocessableEntity)
	wh := s.client(t)
	wh.signIn("northwind", "ana")
	wantStatus(t, "CSV for the warehouse", wh.get("/finance/refunds.csv?from="+today+"&to="+tomorrow), http.StatusForbidden)

	// a reconciliation started on the page, run by the worker, its lines downloaded
	fp := fin.get("/finance")
	p := fin.post("/finance/reconciliations", url.Values{"csrf": {fp.csrf(t)}, "from": {today}, "to": {tomorrow}, "key": {strings.Repeat("c", 32)}})
	wantStatus(t, "start a reconciliation", p, http.StatusSeeOther)
	again := fin.post("/finance/reconciliations", url.Values{"csrf": {fp.csrf(t)}, "from": {today}, "to": {tomorrow}, "key": {strings.Repeat("c", 32)}})
	if again.Location != p.Location {
		t.Errorf("the same form twice: got runs %s and %s, want one", p.Location, again.Location)
	}
	s.drain(t)
	run := fin.get(p.Location)
	mustContain(t, run, "succeeded", "Matched", r.RMA)
	lines := fin.get(p.Location + "/lines.csv")
	if lines.Status != http.StatusOK || !strings.Contains(lines.Body, r.RMA) || !strings.Contains(lines.Body, "matched") {
		t.Errorf("lines CSV: got %d\n%.500s", lines.Status, lines.Body)
	}
	wantStatus(t, "another run number", fin.get("/finance/reconciliations/999"), http.StatusNotFound)
}
