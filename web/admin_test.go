package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/roundtriphq/roundtrip/cmd/roundtrip/app"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/notify"
)

// The admin console without a browser: who may use it, CSRF, another merchant's
// data, and what each change does and records.

// reviewed turns manual review on (through the API, as an admin key) and adds an
// admin user "boss".
func (s *shop) reviewed(t testing.TB) {
	t.Helper()
	s.do(t, "PUT", "/v1/policy", auth.RoleAdmin, map[string]any{
		"window_days": 30, "store_credit_bonus_bps": 1000, "manual_review": true,
		"rules":           []map[string]any{{"match": map[string]any{"category": "swimwear"}, "window_days": 1}},
		"serial_returner": map[string]any{"enabled": true, "max_returns": 1, "period_days": 90},
	}, http.StatusOK)
	s.user(t, s.tn, "boss", auth.RoleAdmin)
}

func (s *shop) state(t testing.TB, id string) string {
	t.Helper()
	var st string
	if err := s.env.DB.Get(&st, `SELECT state FROM returns WHERE public_id = $1`, id); err != nil {
		t.Fatal(err)
	}
	return st
}

// auditRows are a merchant's audit entries, oldest first, as "actor action target".
func (s *shop) auditRows(t testing.TB, merchantID int64) []string {
	t.Helper()
	var rows []string
	if err := s.env.DB.Select(&rows, `SELECT actor || ' ' || action || ' ' || target FROM audit_log
		WHERE merchant_id = $1 ORDER BY id`, merchantID); err != nil {
		t.Fatal(err)
	}
	return rows
}

func hasRow(rows []string, want string) bool {
	for _, r := range rows {
		if r == want {
			return true
		}
	}
	return false
}

func TestAdminConsoleIsForAdmins(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	s.reviewed(t)
	r := s.createReturn(t, "NW-1", 1)

	anon := s.client(t)
	p := anon.get("/admin/policy")
	wantStatus(t, "anonymous /admin/policy", p, http.StatusSeeOther)
	if p.Location != "/signin?next=%2Fadmin%2Fpolicy" {
		t.Errorf("anonymous /admin/policy: got Location %q, want the sign-in page coming back", p.Location)
	}

	pages := []string{"/admin", "/admin/policy", "/admin/users", "/admin/keys", "/admin/branding", "/admin/carriers", "/admin/webhooks", "/admin/audit"}
	for _, who := range []string{"ana", "fin"} {
		c := s.client(t)
		home := c.signIn("northwind", who)
		if strings.Contains(home.Body, `href="/admin"`) {
			t.Errorf("%s sees a link to the admin console", who)
		}
		for _, path := range pages {
			p := c.get(path)
			wantStatus(t, who+" on "+path, p, http.StatusForbidden)
			mustContain(t, p, "Not for your role")
		}
		// with the session's own token, a decision is still refused
		p := c.post(fmt.Sprintf("/admin/returns/%s/approve", r.ID), url.Values{"csrf": {home.csrf(t)}})
		wantStatus(t, who+" approving", p, http.StatusForbidden)
	}
	if st := s.state(t, r.ID); st != "requested" {
		t.Fatalf("the return is %s after refused approvals, want requested", st)
	}

	// an admin lands on the console, which the staff navigation links
	admin := s.client(t)
	queue := admin.signIn("northwind", "boss")
	mustContain(t, queue, "<h1>Review queue</h1>", `<a href="/admin">Admin</a>`, `<a href="/warehouse">Scan station</a>`, r.RMA)
	// and comes back to the admin page asked for
	again := s.client(t)
	p = again.post("/signin", url.Values{"shop": {"northwind"}, "username": {"boss"}, "password": {password}, "next": {"/admin/audit"}})
	if p.Location != "/admin/audit" {
		t.Errorf("admin sign-in with next=/admin/audit: got Location %q", p.Location)
	}
	for _, path := range pages {
		wantStatus(t, "admin on "+path, admin.get(path), http.StatusOK)
	}
	// a warehouse user sent to an admin page after signing in lands on their own page
	wh := s.client(t)
	p = wh.post("/signin", url.Values{"shop": {"northwind"}, "username": {"ana"}, "password": {password}, "next": {"/admin"}})
	if p.Location != "/warehouse" {
		t.Errorf("warehouse sign-in with next=/admin: got Location %q, want /warehouse", p.Location)
	}
}

func TestAdminFormsNeedTheSessionsToken(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	s.reviewed(t)
	r := s.createReturn(t, "NW-1", 1)
	admin := s.client(t)
	token := admin.signIn("northwind", "boss").csrf(t)
	other := s.client(t)
	otherToken := other.signIn("northwind", "ana").csrf(t)
	var anaID string
	if err := s.env.DB.Get(&anaID, `SELECT public_id FROM staff_users WHERE username = 'ana'`); err != nil {
		t.Fatal(err)
	}
	before := len(s.auditRows(t, s.tn.Merchant.ID))
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{fmt.Sprintf("/admin/returns/%s/approve", r.ID), url.Values{}},
		{fmt.Sprintf("/admin/returns/%s/reject", r.ID), url.Values{"reason": {"No."}}},
		{"/admin/policy", url.Values{"op": {"save"}, "window_days": {"60"}}},
		{"/admin/users", url.Values{"username": {"mallory"}, "role": {"admin"}}},
		{fmt.Sprintf("/admin/users/%s/role", anaID), url.Values{"role": {"admin"}}},
		{fmt.Sprintf("/admin/users/%s/status", anaID), url.Values{"disabled": {"1"}}},
		{fmt.Sprintf("/admin/users/%s/password", anaID), url.Values{}},
		{"/admin/keys", url.Values{"role": {"admin"}}},
		{"/admin/keys/1/revoke", url.Values{}},
		{"/admin/branding", url.Values{"op": {"save"}, "name": {"Evil"}}},
		{"/admin/carriers", url.Values{"op": {"save"}, "carrier": {"shippo"}, "shippo_token": {"shippo_live_evil0123456789"}}},
		{"/admin/carriers", url.Values{"op": {"webhook"}}},
		{"/admin/webhooks", url.Values{"url": {"https://evil.example/"}}},
	} {
		for name, csrf := range map[string][]string{"without a token": nil, "with a wrong token": {"x" + token}, "with another session's token": {otherToken}} {
			form := url.Values{}
			for k, v := range tc.form {
				form[k] = v
			}
			if csrf != nil {
				form["csrf"] = csrf
			}
			p := admin.post(tc.path, form)
			wantStatus(t, "POST "+tc.path+" "+name, p, http.StatusForbidden)
			mustContain(t, p, "This form has expired")
		}
	}
	if st := s.state(t, r.ID); st != "requested" {
		t.Errorf("the return is %s, want requested", st)
	}
	if n := len(s.auditRows(t, s.tn.Merchant.ID)); n != before {
		t.Errorf("forged forms recorded %d audit entries", n-before)
	}
	var users, keys int
	s.env.DB.Get(&users, `SELECT count(*) FROM staff_users WHERE username = 'mallory'`)
	s.env.DB.Get(&keys, `SELECT count(*) FROM api_keys WHERE revoked_at IS NOT NULL`)
	if users+keys != 0 {
		t.Errorf("forged forms made %d users and revoked %d keys", users, keys)
	}
}

func TestAdminSeesOnlyItsOwnShop(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	s.reviewed(t)
	mine := s.createReturn(t, "NW-1", 1)

	// another shop with a return waiting for review, a user, a key and an endpoint
	south := s.env.Merchant(t, "southwind")
	s.brand(t, south, "Southwind Supplies", "#8a2424")
	north := s.tn
	s.tn = south
	s.reviewed(t)
	s.order(t, "SW-77", "zed@example.com", "Zed")
	theirs := s.createReturn(t, "SW-77", 1)
	s.user(t, south, "sgt-south", auth.RoleWarehouse)
	s.tn = north
	var samID, southKey string
	s.env.DB.Get(&samID, `SELECT public_id FROM staff_users WHERE merchant_id = $1 AND username = 'sgt-south'`, south.Merchant.ID)
	s.env.DB.Get(&southKey, `SELECT public_id FROM api_keys WHERE merchant_id = $1 ORDER BY id LIMIT 1`, south.Merchant.ID)

	admin := s.client(t)
	queue := admin.signIn("northwind", "boss")
	token := queue.csrf(t)
	mustContain(t, queue, mine.RMA)
	for path, p := range map[string]page{"/admin": queue, "/admin/users": admin.get("/admin/users"),
		"/admin/keys": admin.get("/admin/keys"), "/admin/audit": admin.get("/admin/audit"), "/admin/policy?order=SW-77": admin.get("/admin/policy?order=SW-77")} {
		for _, secret := range []string{theirs.RMA, "sgt-south", "Southwind", "zed@example.com"} {
			if strings.Contains(p.Body, secret) {
				t.Errorf("%s shows the other shop's %q", path, secret)
			}
		}
	}
	mustContain(t, admin.get("/admin/policy?order=SW-77"), "This shop has no order SW-77.")

	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{fmt.Sprintf("/admin/returns/%s/approve", theirs.ID), url.Values{}},
		{fmt.Sprintf("/admin/returns/%s/reject", theirs.ID), url.Values{"reason": {"No"}}},
		{fmt.Sprintf("/admin/users/%s/status", samID), url.Values{"disabled": {"1"}}},
		{fmt.Sprintf("/admin/users/%s/role", samID), url.Values{"role": {"admin"}}},
		{fmt.Sprintf("/admin/users/%s/password", samID), url.Values{}},
		{fmt.Sprintf("/admin/keys/%s/revoke", southKey), url.Values{}},
	} {
		tc.form.Set("csrf", token)
		wantStatus(t, "POST "+tc.path, admin.post(tc.path, tc.form), http.StatusNotFound)
	}
	if st := s.state(t, theirs.ID); st != "requested" {
		t.Errorf("the other shop's return is %s, want requested", st)
	}
	var disabled, revoked int
	s.env.DB.Get(&disabled, `SELECT count(*) FROM staff_users WHERE public_id = $1 AND (disabled_at IS NOT NULL OR role <> 'warehouse')`, samID)
	s.env.DB.Get(&revoked, `SELECT count(*) FROM api_keys WHERE public_id = $1 AND revoked_at IS NOT NULL`, southKey)
	if disabled+revoked != 0 {
		t.Errorf("the other shop's user or key changed")
	}
	if rows := s.auditRows(t, north.Merchant.ID); hasRow(rows, "user:boss user.disabled user sam") {
		t.Errorf("audit: %q", rows)
	}
}

func TestReviewQueueApprovesAndRejects(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	s.reviewed(t)
	s.order(t, "NW-2", "ada@example.com", "Ada") // the same shopper's second order
	var first created
	s.do(t, "POST", "/v1/returns", auth.RoleIntegration, map[string]any{"order_number": "NW-1", "resolution": "refund",
		"items": []map[string]any{{"line_id": "l1", "quantity": 1, "reason": "not_as_described", "comment": "The colour is <b>grey</b>, not black."}}},
		http.StatusCreated).JSON(t, &first)
	second := s.createReturn(t, "NW-2", 2)
	admin := s.client(t)
	queue := admin.signIn("northwind", "boss")
	mustContain(t, queue, "Not as described", `<q class="comment">The colour is &lt;b&gt;grey&lt;/b&gt;, not black.</q>`,
		"Original shipping, refunded")
	// oldest first, with the shopper's other return and the serial-returner view
	if i, j := strings.Index(queue.Body, first.RMA), strings.Index(queue.Body, `id="r-`+fmt.Sprint(second.ID)); i < 0 || j < 0 || i > j {
		t.Errorf("the queue does not list %s before %s", first.RMA, second.RMA)
	}
	mustContain(t, queue, "Organic T-shirt, black, M", "Too small", "59.50 EUR", "Review queue <span class=\"count\"",
		"Their other returns", second.RMA+"</span> · ", "Serial-returner rule",
		"2 returns in the last 90 days, this one included; the policy's limit is 1.", "Over the limit")
	token := queue.csrf(t)

	// a rejection needs a reason: nothing happens without one
	p := admin.post(fmt.Sprintf("/admin/returns/%s/reject", second.ID), url.Values{"csrf": {token}, "reason": {"  "}})
	wantStatus(t, "reject without a reason", p, http.StatusUnprocessableEntity)
	mustContain(t, p, "Say why the return is rejected", `aria-invalid="true"`)
	if st := s.state(t, second.ID); st != "requested" {
		t.Fatalf("a reasonless rejection left the return %s", st)
	}

	p = admin.post(fmt.Sprintf("/admin/returns/%s/approve", first.ID), url.Values{"csrf": {token}})
	wantStatus(t, "approve", p, http.StatusSeeOther)
	if p.Location != "/admin?approved="+first.RMA {
		t.Errorf("approve: got Location %q", p.Location)
	}
	mustContain(t, admin.get(p.Location), "Return "+first.RMA+" approved.")
	if st := s.state(t, first.ID); st != "approved" {
		t.Errorf("approved return is %s", st)
	}
	// approval set off what the API's does: the label
	var parcels int
	s.env.DB.Get(&parcels, `SELECT count(*) FROM parcels WHERE return_id = (SELECT id FROM returns WHERE public_id = $1)`, first.ID)
	if parcels != 1 {
		t.Errorf("approval from the console issued %d parcels, want 1", parcels)
	}

	reason := "These T-shirts were bought in the final sale."
	p = admin.post(fmt.Sprintf("/admin/returns/%s/reject", second.ID), url.Values{"csrf": {token}, "reason": {reason}})
	wantStatus(t, "reject", p, http.StatusSeeOther)
	var st, why, actor string
	s.env.DB.QueryRow(`SELECT r.state, r.reject_reason, e.actor FROM returns r JOIN return_events e ON e.return_id = r.id
		WHERE r.public_id = $1 ORDER BY e.id DESC LIMIT 1`, second.ID).Scan(&st, &why, &actor)
	if st != "rejected" || why != reason || actor != "user:boss" {
		t.Errorf("rejected return: got %s, %q by %s", st, why, actor)
	}
	// the shopper reads the reason
	shopper := s.client(t)
	status := shopper.lookUp("northwind", "NW-2", "ada@example.com")
	_ = status
	mustContain(t, shopper.get("/portal/northwind/returns/"+second.RMA), reason)

	// deciding again is refused, in words
	p = admin.post(fmt.Sprintf("/admin/returns/%s/approve", second.ID), url.Values{"csrf": {token}})
	wantStatus(t, "approve a rejected return", p, http.StatusConflict)
	mustContain(t, p, "no longer waits for review")

	rows := s.auditRows(t, s.tn.Merchant.ID)
	for _, want := range []string{"user:boss return.approved return " + first.RMA, "user:boss return.rejected return " + second.RMA} {
		if !hasRow(rows, want) {
			t.Errorf("audit lacks %q: %q", want, rows)
		}
	}
	mustContain(t, admin.get("/admin"), "Nothing waits for review.")
}

var versionRE = regexp.MustCompile(`name="base" value="(\d+)"`)

func TestPolicyEditorPreviewsAndSavesVersions(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	s.reviewed(t) // version 2
	admin := s.client(t)
	admin.signIn("northwind", "boss")
	editor := admin.get("/admin/policy")
	wantStatus(t, "editor", editor, http.StatusOK)
	mustContain(t, editor, `value="swimwear"`, "Version 2", "Version 1", "by key:", "Manual review of every return: off → on",
		"Serial-returner rule: off → hold refunds after more than 1 returns in 90 days")
	base := versionRE.FindStringSubmatch(editor.Body)[1]
	form := func(changes map[string]string) url.Values {
		f := url.Values{"csrf": {editor.csrf(t)}, "base": {base}, "window_days": {"30"}, "rules": {"3"},
			"rule.0.kind": {"category"}, "rule.0.value": {"swimwear"}, "rule.0.window_days": {"1"},
			"shipping_mode": {"free"}, "fees": {"1"}, "resolution": {"refund", "store_credit"}, "bonus": {"10"},
			"manual_review": {"1"}, "refund_trigger": {"on_receipt"}, "keepits": {"1"}, "label_validity_days": {"30"},
			"serial_enabled": {"1"}, "serial_max": {"1"}, "serial_period": {"90"}, "sample_order": {"NW-1"}, "sample_reason": {"too_small"},
			"sample_resolution": {"refund"}}
		for k, v := range changes {
			f.Set(k, v)
		}
		return f
	}
	versions := func() int {
		var n int
		s.env.DB.Get(&n, `SELECT count(*) FROM policies WHERE merchant_id = $1`, s.tn.Merchant.ID)
		return n
	}

	// a preview quotes the sample order under both policies and saves nothing
	p := admin.post("/admin/policy", form(map[string]string{"op": "preview", "rule.0.window_days": "14",
		"shipping_mode": "flat", "fee.0.currency": "EUR", "fee.0.amount": "4.95"}))
	wantStatus(t, "preview", p, http.StatusOK)
	mustContain(t, p, `Rule for category &#34;swimwear&#34;: window 1 days → window 14 days`, "Return shipping: free → a flat label fee",
		"Label fee in EUR: 4.95 EUR", "Not returnable: ", "−4.95 EUR", "Swim shorts, blue, M")
	// and shows the policy page the edit makes, before it is saved
	mustContain(t, p, "The policy page shoppers will read", "Items in the category “swimwear”: 14 days.",
		"The return label costs €4.95, taken off your refund.", "The shop checks each return before approving it")
	if n := versions(); n != 2 {
		t.Fatalf("a preview saved: %d versions", n)
	}

	// wrong input is named field by field, and nothing is saved
	p = admin.post("/admin/policy", form(map[string]string{"op": "save", "window_days": "0", "rule.1.value": "",
		"rule.1.fee": "12", "bonus": "80", "keepit.0.currency": "EURO", "keepit.0.amount": "5"}))
	wantStatus(t, "save wrong input", p, http.StatusUnprocessableEntity)
	mustContain(t, p, `<a href="#window_days">Return window</a>: must be between 1 and 365`, `<a href="#rule-1-value">Rule 2</a>`,
		`<a href="#keepit-0-currency">Keep-it threshold</a>`, `id="window_days" name="window_days" type="number" inputmode="numeric" min="1" max="365" value="0"`,
		"Fix the fields listed above")
	if n := versions(); n != 2 {
		t.Fatalf("wrong input saved: %d versions", n)
	}

	// saving without a change makes no version
	p = admin.post("/admin/policy", form(map[string]string{"op": "save"}))
	wantStatus(t, "save unchanged", p, http.StatusSeeOther)
	if n := versions(); n != 2 {
		t.Fatalf("an unchanged save made a version: %d", n)
	}

	p = admin.post("/admin/policy", form(map[string]string{"op": "save", "rule.0.window_days": "14", "rule.1.kind": "sku",
		"rule.1.value": "GIFT-CARD", "rule.1.not_returnable": "1", "keepit.0.currency": "EUR", "keepit.0.amount": "10"}))
	wantStatus(t, "save", p, http.StatusSeeOther)
	if n := versions(); n != 3 {
		t.Fatalf("saving made %d versions, want 3", n)
	}
	var by string
	s.env.DB.Get(&by, `SELECT created_by FROM policies WHERE merchant_id = $1 AND version = 3`, s.tn.Merchant.ID)
	if by != "user:boss" {
		t.Errorf("version 3 saved by %q", by)
	}
	page := admin.get(p.Location)
	mustContain(t, page, "Saved as version 3.", `data-version="3"`, "by user:boss", `Rule for SKU &#34;GIFT-CARD&#34; added: not returnable`,
		"Keep-it threshold in EUR: 10.00 EUR")
	// the engine follows the saved version: the swim shorts can go back now
	q := s.do(t, "POST", "/v1/returns/quote", auth.RoleIntegration, map[string]any{"order_number": "NW-1", "resolution": "refund",
		"items": []map[string]any{{"line_id": "l3", "quantity": 1, "reason": "too_small"}}}, http.StatusOK)
	if !strings.Contains(string(q.Body), `"eligible":true`) {
		t.Errorf("the swim shorts are not returnable under the saved version: %s", q.Body)
	}
	var summary string
	s.env.DB.Get(&summary, `SELECT summary FROM audit_log WHERE action = 'policy.updated' AND actor = 'user:boss'`)
	if !strings.Contains(summary, "window 1 days → window 14 days") {
		t.Errorf("audit summary of the save: %q", summary)
	}

	// an edit based on an older version is not saved over a newer one
	p = admin.post("/admin/policy", form(map[string]string{"op": "save", "window_days": "45"}))
	wantStatus(t, "save from a stale version", p, http.StatusConflict)
	mustContain(t, p, "Version 3 was saved while you were editing", `name="base" value="3"`)
	if n := versions(); n != 3 {
		t.Fatalf("a stale save made a version")
	}
	// a past version loads into the editor as a copy
	mustContain(t, admin.get("/admin/policy?version=1"), "You are editing a copy of version 1", `name="base" value="3"`)
	wantStatus(t, "a version that does not exist", admin.get("/admin/policy?version=99"), http.StatusNotFound)
}

func TestStaffUsersFromTheConsole(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	s.reviewed(t)
	admin := s.client(t)
	token := admin.signIn("northwind", "boss").csrf(t)

	// a generated password, shown once, that works
	p := admin.post("/admin/users", url.Values{"csrf": {token}, "username": {"  Lee "}, "role": {"finance"}})
	wantStatus(t, "create user", p, http.StatusOK)
	mustContain(t, p, "Added lee with the finance role.", "It is shown only now")
	pw := regexp.MustCompile(`id="secret-value" class="mono" value="([^"]+)"`).FindStringSubmatch(p.Body)
	if pw == nil {
		t.Fatalf("no password shown:\n%.2000s", p.Body)
	}
	lee := s.client(t)
	if got := lee.post("/signin", url.Values{"shop": {"northwind"}, "username": {"lee"}, "password": {pw[1]}}); got.Location != "/finance" {
		t.Fatalf("lee signing in with the shown password: got %d %q", got.Status, got.Location)
	}
	if strings.Contains(admin.get("/admin/users").Body, pw[1]) {
		t.Errorf("the password is shown again")
	}
	// a name taken, a short password
	p = admin.post("/admin/users", url.Values{"csrf": {token}, "username": {"lee"}, "role": {"finance"}, "password": {"short"}})
	wantStatus(t, "bad user", p, http.StatusUnprocessableEntity)
	mustContain(t, p, "Password</a>: use 10 to 72 characters")
	p = admin.post("/admin/users", url.Values{"csrf": {token}, "username": {"lee"}, "role": {"finance"}})
	mustContain(t, p, "the shop already has a user with that name")

	var leeID, bossID string
	s.env.DB.Get(&leeID, `SELECT public_id FROM staff_users WHERE username = 'lee'`)
	s.env.DB.Get(&bossID, `SELECT public_id FROM staff_users WHERE username = 'boss'`)

	// a reset ends lee's session; the new password works
	p = admin.post(fmt.Sprintf("/admin/users/%s/password", leeID), url.Values{"csrf": {token}})
	wantStatus(t, "reset", p, http.StatusOK)
	pw2 := regexp.MustCompile(`id="secret-value" class="mono" value="([^"]+)"`).FindStringSubmatch(p.Body)
	if pw2 == nil || pw2[1] == pw[1] {
		t.Fatalf("no new password shown")
	}
	wantStatus(t, "lee after the reset", lee.get("/finance"), http.StatusSeeOther)
	if got := lee.post("/signin", url.Values{"shop": {"northwind"}, "username": {"lee"}, "password": {pw2[1]}}); got.Location != "/finance" {
		t.Fatalf("lee with the new password: got %d", got.Status)
	}

	// a role change takes effect at lee's next request
	p = admin.post(fmt.Sprintf("/admin/users/%s/role", leeID), url.Values{"csrf": {token}, "role": {"warehouse"}})
	wantStatus(t, "role", p, http.StatusSeeOther)
	mustContain(t, admin.get(p.Location), "lee now has the warehouse role.")
	wantStatus(t, "lee on /warehouse", lee.get("/warehouse"), http.StatusOK)
	wantStatus(t, "lee on /finance", lee.get("/finance"), http.StatusForbidden)

	// disabled: signed out and cannot sign in; enabled again: can
	p = admin.post(fmt.Sprintf("/admin/users/%s/status", leeID), url.Values{"csrf": {token}, "disabled": {"1"}})
	wantStatus(t, "disable", p, http.StatusSeeOther)
	wantStatus(t, "lee disabled", lee.get("/warehouse"), http.StatusSeeOther)
	wantStatus(t, "lee signing in disabled", lee.post("/signin", url.Values{"shop": {"northwind"}, "username": {"lee"}, "password": {pw2[1]}}), http.StatusUnauthorized)
	admin.post(fmt.Sprintf("/admin/users/%s/status", leeID), url.Values{"csrf": {token}, "disabled": {"0"}})
	wantStatus(t, "lee enabled", lee.post("/signin", url.Values{"shop": {"northwind"}, "username": {"lee"}, "password": {pw2[1]}}), http.StatusSeeOther)

	// an admin who resets their own password stays signed in here, and only here
	elsewhere := s.client(t)
	elsewhere.signIn("northwind", "boss")
	p = admin.post(fmt.Sprintf("/admin/users/%s/password", bossID), url.Values{"csrf": {token}})
	wantStatus(t, "reset your own password", p, http.StatusOK)
	wantStatus(t, "boss here after the reset", admin.get("/admin/users"), http.StatusOK)
	wantStatus(t, "boss elsewhere after the reset", elsewhere.get("/admin/users"), http.StatusSeeOther)

	// an admin cannot lock themselves out, nor leave the shop without an admin
	wantStatus(t, "disable yourself", admin.post(fmt.Sprintf("/admin/users/%s/status", bossID), url.Values{"csrf": {token}, "disabled": {"1"}}), http.StatusConflict)
	wantStatus(t, "demote yourself", admin.post(fmt.Sprintf("/admin/users/%s/role", bossID), url.Values{"csrf": {token}, "role": {"finance"}}), http.StatusConflict)
	s.user(t, s.tn, "max", auth.RoleAdmin)
	var maxID string
	s.env.DB.Get(&maxID, `SELECT public_id FROM staff_users WHERE username = 'max'`)
	wantStatus(t, "demote another admin", admin.post(fmt.Sprintf("/admin/users/%s/role", maxID), url.Values{"csrf": {token}, "role": {"finance"}}), http.StatusSeeOther)
	// another admin disables boss, whose session ends at once
	s.env.DB.MustExec(`UPDATE staff_users SET role = 'admin' WHERE public_id = $1`, maxID)
	maxc := s.client(t)
	mtoken := maxc.signIn("northwind", "max").csrf(t)
	wantStatus(t, "max disables boss", maxc.post(fmt.Sprintf("/admin/users/%s/status", bossID), url.Values{"csrf": {mtoken}, "disabled": {"1"}}), http.StatusSeeOther)
	wantStatus(t, "boss disabled", admin.get("/admin"), http.StatusSeeOther)

	rows := s.auditRows(t, s.tn.Merchant.ID)
	for _, want := range []string{"user:boss user.created user lee", "user:boss user.password_reset user lee",
		"user:boss user.role_changed user lee", "user:boss user.disabled user lee", "user:boss user.enabled user lee",
		"user:boss user.role_changed user max", "user:max user.disabled user boss"} {
		if !hasRow(rows, want) {
			t.Errorf("audit lacks %q", want)
		}
	}
}

func TestAPIKeysFromTheConsole(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	s.reviewed(t)
	admin := s.client(t)
	token := admin.signIn("northwind", "boss").csrf(t)
	p := admin.post("/admin/keys", url.Values{"csrf": {token}, "name": {"Leeds station"}, "role": {"warehouse"}})
	wantStatus(t, "create key", p, http.StatusOK)
	key := regexp.MustCompile(`value="(rtk_[a-z0-9]+)"`).FindStringSubmatch(p.Body)
	if key == nil {
		t.Fatalf("no key shown:\n%.2000s", p.Body)
	}
	if res := s.env.Do(t, "GET", "/v1/merchant", key[1], nil); res.Status != http.StatusOK {
		t.Fatalf("the new key: got %d", res.Status)
	}
	list := admin.get("/admin/keys")
	mustContain(t, list, "Leeds station", key[1][:10]+"…")
	if strings.Contains(list.Body, key[1]) {
		t.Errorf("the key is shown again")
	}
	var id string
	s.env.DB.Get(&id, `SELECT public_id FROM api_keys WHERE name = 'Leeds station'`)
	p = admin.post(fmt.Sprintf("/admin/keys/%s/revoke", id), url.Values{"csrf": {token}})
	wantStatus(t, "revoke", p, http.StatusSeeOther)
	mustContain(t, admin.get(p.Location), fmt.Sprintf("Key %s is revoked", id), "revoked ")
	if res := s.env.Do(t, "GET", "/v1/merchant", key[1], nil); res.Status != http.StatusUnauthorized {
		t.Errorf("the revoked key: got %d, want 401", res.Status)
	}
	wantStatus(t, "bad role", admin.post("/admin/keys", url.Values{"csrf": {token}, "role": {"root"}}), http.StatusUnprocessableEntity)
	rows := s.auditRows(t, s.tn.Merchant.ID)
	for _, want := range []string{fmt.Sprintf("user:boss api_key.created API key %s (%s…)", id, key[1][:10]),
		fmt.Sprintf("user:boss api_key.revoked API key %s (%s…)", id, key[1][:10])} {
		if !hasRow(rows, want) {
			t.Errorf("audit lacks %q: %q", want, rows)
		}
	}
}

func TestBrandingFromTheConsole(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	s.reviewed(t)
	admin := s.client(t)
	page := admin.signIn("northwind", "boss")
	token := page.csrf(t)
	page = admin.get("/admin/branding")
	mustContain(t, page, `value="Northwind Outfitters"`, `value="#1f6f5c"`, "Text on it is white")
	form := url.Values{"csrf": {token}, "name": {"Northwind"}, "logo_url": {"https://cdn.example.com/nw.svg"},
		"brand_color": {"#FFE14D"}, "support_email": {"care@northwind.example"}, "sender_name": {"Northwind Returns"}}

	// a preview shows the contrast check and saves nothing
	form.Set("op", "preview")
	p := admin.post("/admin/branding", form)
	wantStatus(t, "preview", p, http.StatusOK)
	mustContain(t, p, "Your colour: #ffe14d.", "Text on it is black", "so links and focus rings use the darker")
	var name string
	s.env.DB.Get(&name, `SELECT name FROM merchants WHERE id = $1`, s.tn.Merchant.ID)
	if name != "Northwind Outfitters" {
		t.Fatalf("a preview saved")
	}
	// wrong values are named
	bad := url.Values{"csrf": {token}, "op": {"save"}, "name": {""}, "logo_url": {"javascript:alert(1)"}, "brand_color": {"green"},
		"support_email": {"nobody"}, "sender_name": {"Evil\r\nBcc: x@example.com"}}
	p = admin.post("/admin/branding", bad)
	wantStatus(t, "bad branding", p, http.StatusUnprocessableEntity)
	mustContain(t, p, `href="#b-name"`, `href="#b-logo"`, `href="#b-color"`, `href="#b-email"`, `href="#b-sender"`)

	form.Set("op", "save")
	p = admin.post("/admin/branding", form)
	wantStatus(t, "save", p, http.StatusSeeOther)
	got := s.do(t, "GET", "/v1/merchant", auth.RoleAdmin, nil, http.StatusOK)
	for _, want := range []string{`"name":"Northwind"`, `"brand_color":"#ffe14d"`, `"logo_url":"https://cdn.example.com/nw.svg"`,
		`"support_email":"care@northwind.example"`, `"sender_name":"Northwind Returns"`, `"city":"Leeds"`} {
		if !strings.Contains(string(got.Body), want) {
			t.Errorf("the merchant lacks %s: %s", want, got.Body)
		}
	}
	// the portal wears it
	portal := s.client(t).get("/portal/northwind")
	mustContain(t, portal, "--brand:#ffe14d;--on-brand:#000000", `src="https://cdn.example.com/nw.svg"`, "care@northwind.example")
	var summary string
	s.env.DB.Get(&summary, `SELECT summary FROM audit_log WHERE action = 'merchant.updated' AND actor = 'user:boss'`)
	for _, want := range []string{"Shop name: Northwind Outfitters → Northwind", "Brand colour: #1f6f5c → #ffe14d", "Sender name: (none) → Northwind Returns"} {
		if !strings.Contains(summary, want) {
			t.Errorf("audit summary lacks %q: %q", want, summary)
		}
	}
}

func TestAuditTrailOfTheAPIAndItsPages(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	s.reviewed(t)
	var keyID string
	s.env.DB.Get(&keyID, `SELECT public_id FROM api_keys WHERE merchant_id = $1 AND role = 'admin'`, s.tn.Merchant.ID)
	actor := "key:" + keyID

	// admin changes through the API record themselves
	s.do(t, "PUT", "/v1/merchant", auth.RoleAdmin, map[string]any{"name": "Northwind Two", "settings": map[string]any{"brand_color": "#123456"}}, http.StatusOK)
	res := s.do(t, "POST", "/v1/api-keys", auth.RoleAdmin, map[string]any{"role": "finance", "name": "books"}, http.StatusCreated)
	var k struct{ ID string }
	res.JSON(t, &k)
	s.do(t, "DELETE", fmt.Sprintf("/v1/api-keys/%s", k.ID), auth.RoleAdmin, nil, http.StatusOK)
	s.do(t, "POST", "/v1/carrier-secret", auth.RoleAdmin, nil, http.StatusOK)
	// a refused change records nothing
	s.do(t, "PUT", "/v1/policy", auth.RoleAdmin, map[string]any{"window_days": 0}, http.StatusUnprocessableEntity)

	rows := s.auditRows(t, s.tn.Merchant.ID)
	for _, want := range []string{actor + " policy.updated policy v1", actor + " policy.updated policy v2",
		actor + " merchant.updated shop northwind", fmt.Sprintf("%s api_key.created API key %s", actor, k.ID),
		actor + " carrier_secret.rotated carrier secret"} {
		found := false
		for _, r := range rows {
			found = found || strings.HasPrefix(r, want)
		}
		if !found {
			t.Errorf("audit lacks %q: %q", want, rows)
		}
	}
	if len(rows) != 6 {
		t.Errorf("got %d audit entries, want 6: %q", len(rows), rows)
	}

	// the trail is append-only
	for _, q := range []string{`UPDATE audit_log SET actor = 'nobody'`, `DELETE FROM audit_log`, `TRUNCATE audit_log`} {
		if _, err := s.env.DB.Exec(q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: got %v, want refused as append-only", q, err)
		}
	}

	// the API lists it for admins only, newest first, a page at a time
	list := s.do(t, "GET", "/v1/audit-log?limit=4", auth.RoleAdmin, nil, http.StatusOK)
	var body struct {
		Data []struct {
			Actor, Action, Target, Summary string
		}
		NextCursor string `json:"next_cursor"`
	}
	list.JSON(t, &body)
	if len(body.Data) != 4 || body.Data[0].Action != "carrier_secret.rotated" || body.NextCursor == "" {
		t.Errorf("first page: %+v", body)
	}
	cursor := body.NextCursor
	body.NextCursor = ""
	s.do(t, "GET", "/v1/audit-log?cursor="+cursor, auth.RoleAdmin, nil, http.StatusOK).JSON(t, &body)
	if len(body.Data) != 2 || body.Data[1].Target != "policy v1" || body.NextCursor != "" {
		t.Errorf("second page: %+v", body)
	}
	s.do(t, "GET", "/v1/audit-log", auth.RoleFinance, nil, http.StatusForbidden)
	s.do(t, "GET", "/v1/audit-log?cursor=zzz", auth.RoleAdmin, nil, http.StatusUnprocessableEntity)

	// and the page, newest first, with the details
	admin := s.client(t)
	admin.signIn("northwind", "boss")
	p := admin.get("/admin/audit")
	mustContain(t, p, "Carrier secret replaced", "API key revoked", "Shop name: Northwind Outfitters → Northwind Two", actor)
	if i, j := strings.Index(p.Body, "Carrier secret replaced"), strings.Index(p.Body, "Return policy saved"); i > j {
		t.Errorf("the audit page is not newest first")
	}
}

func TestWebhookEndpointsFromTheConsole(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	status, got := http.StatusInternalServerError, 0
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got++
		w.WriteHeader(status)
	}))
	t.Cleanup(receiver.Close)
	s := newShop(t, func(c *app.Config, _ string) { c.Webhooks = notify.Options{AllowHTTP: true, AllowPrivate: true} })
	s.reviewed(t)
	admin := s.client(t)
	token := admin.signIn("northwind", "boss").csrf(t)

	// refused addresses are named; a good one is added with its secret shown once
	p := admin.post("/admin/webhooks", url.Values{"csrf": {token}, "url": {"ftp://example.com/x"}})
	wantStatus(t, "bad URL", p, http.StatusUnprocessableEntity)
	mustContain(t, p, `<a href="#wh-url">URL</a>: must be an https URL`)
	p = admin.post("/admin/webhooks", url.Values{"csrf": {token}, "url": {receiver.URL + "/hook"}, "description": {"Order system"},
		"event": {"return.created", "return.approved"}})
	wantStatus(t, "add endpoint", p, http.StatusOK)
	secret := regexp.MustCompile(`value="(whsec_[^"]+)"`).FindStringSubmatch(p.Body)
	if secret == nil {
		t.Fatalf("no secret shown:\n%.1500s", p.Body)
	}
	var id string
	s.env.DB.Get(&id, `SELECT id FROM webhook_endpoints WHERE merchant_id = $1`, s.tn.Merchant.ID)
	list := admin.get("/admin/webhooks")
	mustContain(t, list, receiver.URL+"/hook", "Order system", "return.created, return.approved", "enabled")
	if strings.Contains(list.Body, secret[1]) {
		t.Errorf("the secret is shown again")
	}

	// an event is delivered, fails, and is sent again from the delivery log
	r := s.createReturn(t, "NW-1", 1)
	s.drain(t)
	ep := admin.get("/admin/webhooks/" + id)
	mustContain(t, ep, "return.created", ">failed<", "HTTP 500")
	var delivery string
	s.env.DB.Get(&delivery, `SELECT id FROM webhook_deliveries WHERE endpoint_id = $1`, id)
	mu.Lock()
	status = http.StatusNoContent
	mu.Unlock()
	p = admin.post("/admin/deliveries/"+delivery+"/retry", url.Values{"csrf": {token}})
	wantStatus(t, "send again", p, http.StatusSeeOther)
	mustContain(t, admin.get(p.Location), "Queued: the delivery is sent again")
	s.drain(t)
	detail := admin.get("/admin/deliveries/" + delivery)
	mustContain(t, detail, ">succeeded<", "HTTP 500", "HTTP 204", `&#34;type&#34;: &#34;return.created&#34;`, r.RMA)
	mu.Lock()
	if got != 2 {
		t.Errorf("the receiver got %d requests, want 2", got)
	}
	mu.Unlock()

	// disabled: nothing can be sent again; enabled again
	p = admin.post("/admin/webhooks/"+id+"/enabled", url.Values{"csrf": {token}, "enabled": {"0"}})
	wantStatus(t, "disable", p, http.StatusSeeOther)
	mustContain(t, admin.get(p.Location), "Disabled: nothing is sent to it", "Disabled by user:boss.")
	wantStatus(t, "send again while disabled", admin.post("/admin/deliveries/"+delivery+"/retry", url.Values{"csrf": {token}}), http.StatusConflict)
	admin.post("/admin/webhooks/"+id+"/enabled", url.Values{"csrf": {token}, "enabled": {"1"}})
	// a new secret, shown once
	p = admin.post("/admin/webhooks/"+id+"/rotate", url.Values{"csrf": {token}})
	wantStatus(t, "rotate", p, http.StatusOK)
	if again := regexp.MustCompile(`value="(whsec_[^"]+)"`).FindStringSubmatch(p.Body); again == nil || again[1] == secret[1] {
		t.Errorf("no new secret shown")
	}

	// another shop's endpoint and delivery are not found
	south := s.env.Merchant(t, "southwind")
	res := s.env.Do(t, "POST", "/v1/webhook-endpoints", south.Keys[auth.RoleAdmin], map[string]any{"url": receiver.URL + "/south"})
	var theirs struct{ ID string }
	res.JSON(t, &theirs)
	wantStatus(t, "their endpoint", admin.get("/admin/webhooks/"+theirs.ID), http.StatusNotFound)
	for _, path := range []string{"/admin/webhooks/" + theirs.ID + "/enabled", "/admin/webhooks/" + theirs.ID + "/delete"} {
		wantStatus(t, "POST "+path, admin.post(path, url.Values{"csrf": {token}, "enabled": {"0"}, "confirm": {"1"}}), http.StatusNotFound)
	}
	if strings.Contains(admin.get("/admin/webhooks").Body, "/south") {
		t.Errorf("the list shows the other shop's endpoint")
	}

	// deleting asks for the tick first
	wantStatus(t, "delete unticked", admin.post("/admin/webhooks/"+id+"/delete", url.Values{"csrf": {token}}), http.StatusUnprocessableEntity)
	p = admin.post("/admin/webhooks/"+id+"/delete", url.Values{"csrf": {token}, "confirm": {"1"}})
	wantStatus(t, "delete", p, http.StatusSeeOther)
	mustContain(t, admin.get(p.Location), "The endpoint is deleted")
	wantStatus(t, "the deleted endpoint", admin.get("/admin/webhooks/"+id), http.StatusNotFound)

	rows := s.auditRows(t, s.tn.Merchant.ID)
	for _, want := range []string{"user:boss webhook_endpoint.created webhook endpoint " + id, "user:boss webhook_delivery.retried webhook delivery " + delivery,
		"user:boss webhook_endpoint.updated webhook endpoint " + id, "user:boss webhook_endpoint.secret_rotated webhook endpoint " + id,
		"user:boss webhook_endpoint.deleted webhook endpoint " + id} {
		if !hasRow(rows, want) {
			t.Errorf("audit lacks %q: %q", want, rows)
		}
	}
}
