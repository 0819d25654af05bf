package returns_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/cmd/roundtrip/apitest"
	"github.com/roundtriphq/roundtrip/internal/auth"
)

// order is the shared valid order body.
var order = apitest.Order

type returnDoc struct {
	ID    string `json:"id"`
	RMA   string `json:"rma"`
	State string `json:"state"`
	Total int64  `json:"total"`
	Items []struct {
		LineID   string `json:"line_id"`
		Quantity int    `json:"quantity"`
	} `json:"items"`
}

type problemDoc struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
	State  string `json:"state"`
	Event  string `json:"event"`
	Errors []struct {
		Location string `json:"location"`
		Message  string `json:"message"`
	} `json:"errors"`
}

type fixture struct {
	env  *apitest.Env
	shop apitest.Tenant
}

func setup(t *testing.T) fixture {
	t.Helper()
	env := apitest.New(t)
	f := fixture{env: env, shop: env.Merchant(t, "northwind")}
	f.putOrder(t, "NW-1", "ada@example.com")
	return f
}

func (f fixture) putOrder(t *testing.T, number, email string) {
	t.Helper()
	res := f.env.Do(t, "PUT", "/v1/orders/"+number, f.shop.Keys[auth.RoleIntegration], order(email, time.Now().Add(-48*time.Hour)))
	if res.Status != http.StatusCreated && res.Status != http.StatusOK {
		t.Fatalf("put order %s: got %d: %s", number, res.Status, res.Body)
	}
}

func (f fixture) session(t *testing.T, number, email string) string {
	t.Helper()
	res := f.env.Do(t, "POST", "/v1/portal/sessions", "", map[string]any{"merchant": "northwind", "order_number": number, "email": email})
	if res.Status != http.StatusCreated {
		t.Fatalf("session: got %d: %s", res.Status, res.Body)
	}
	var s struct {
		Token string `json:"token"`
	}
	res.JSON(t, &s)
	return s.Token
}

func (f fixture) create(t *testing.T, token, number string) returnDoc {
	t.Helper()
	res := f.env.Do(t, "POST", "/v1/returns", token, map[string]any{
		"order_number": number, "resolution": "refund",
		"items": []map[string]any{{"line_id": "l1", "quantity": 1, "reason": "too_small"}},
	})
	if res.Status != http.StatusCreated {
		t.Fatalf("create: got %d: %s", res.Status, res.Body)
	}
	var r returnDoc
	res.JSON(t, &r)
	return r
}

func TestLifecycleThroughTheAPI(t *testing.T) {
	t.Parallel()
	f := setup(t)
	key := f.shop.Keys[auth.RoleIntegration]

	// manual review so that approve is a staff decision
	res := f.env.Do(t, "PUT", "/v1/policy", f.shop.Keys[auth.RoleAdmin], map[string]any{"manual_review": true})
	if res.Status != 200 {
		t.Fatalf("put policy: %d %s", res.Status, res.Body)
	}
	r := f.create(t, key, "NW-1")
	if r.State != "requested" || !strings.HasPrefix(r.RMA, "R-") {
		t.Fatalf("got state %s rma %s, want requested with an RMA", r.State, r.RMA)
	}
	// 1 of 2 T-shirts: 2500 + half the line tax (475)
	if r.Total != 2975 {
		t.Errorf("got total %d, want 2975", r.Total)
	}
	path := fmt.Sprintf("/v1/returns/%s", r.ID)
	if res := f.env.Do(t, "POST", path+"/approve", key, nil); res.Status != 200 {
		t.Fatalf("approve: got %d: %s", res.Status, res.Body)
	}
	if res := f.env.Do(t, "POST", path+"/cancel", key, map[string]any{"note": "shopper changed their mind"}); res.Status != 200 {
		t.Fatalf("cancel: got %d: %s", res.Status, res.Body)
	}
	res = f.env.Do(t, "POST", path+"/approve", key, nil)
	var p problemDoc
	res.JSON(t, &p)
	if res.Status != http.StatusConflict || p.State != "cancelled" || p.Event != "approve" {
		t.Fatalf("approve a cancelled return: got %d %+v, want 409 naming state cancelled and event approve", res.Status, p)
	}
	res = f.env.Do(t, "GET", path+"/events", key, nil)
	var ev struct {
		Data []struct {
			Event, To, Actor, Note string
		} `json:"data"`
	}
	res.JSON(t, &ev)
	var steps []string
	for _, e := range ev.Data {
		steps = append(steps, e.Event+"→"+e.To)
	}
	if got := strings.Join(steps, " "); got != "create→requested approve→approved cancel→cancelled" {
		t.Fatalf("got timeline %q", got)
	}
	if ev.Data[2].Note != "shopper changed their mind" {
		t.Errorf("got cancel note %q", ev.Data[2].Note)
	}
	// the cancelled return holds nothing: both T-shirts are returnable again
	res = f.env.Do(t, "GET", "/v1/orders/NW-1", key, nil)
	var o struct {
		Availability []struct {
			LineID     string `json:"line_id"`
			Returnable int    `json:"returnable"`
		} `json:"availability"`
	}
	res.JSON(t, &o)
	if o.Availability[0].Returnable != 2 {
		t.Errorf("got %d returnable T-shirts after cancel, want 2", o.Availability[0].Returnable)
	}
	// reject needs a reason, and then it is recorded
	r2 := f.create(t, key, "NW-1")
	res = f.env.Do(t, "POST", fmt.Sprintf("/v1/returns/%s/reject", r2.ID), key, map[string]any{})
	if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "body.reason") {
		t.Fatalf("reject without reason: got %d %s, want 422 naming body.reason", res.Status, res.Body)
	}
	res = f.env.Do(t, "POST", "/v1/returns/"+r2.RMA+"/reject", key, map[string]any{"reason": "Bought over a year ago."})
	if res.Status != 200 || !strings.Contains(string(res.Body), `"reject_reason":"Bought over a year ago."`) {
		t.Fatalf("reject by RMA: got %d %s", res.Status, res.Body)
	}
}

func TestAutoApprovedAndIdempotentCreate(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tok := f.session(t, "nw-1", "  ADA@example.com ")
	body := map[string]any{"resolution": "refund", "items": []map[string]any{{"line_id": "l2", "quantity": 1, "reason": "damaged"}}}
	const n = 10
	res := make([]apitest.Response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { res[i] = f.env.Do(t, "POST", "/v1/returns", tok, body, "Idempotency-Key", "k-42") })
	}
	wg.Wait()
	var first returnDoc
	res[0].JSON(t, &first)
	for i, r := range res {
		var d returnDoc
		r.JSON(t, &d)
		if r.Status != http.StatusCreated || d.ID != first.ID {
			t.Fatalf("request %d: got %d return %s, want 201 return %s", i, r.Status, d.ID, first.ID)
		}
	}
	if first.State != "approved" {
		t.Errorf("got state %s, want approved by the default policy", first.State)
	}
	// damaged is the shop's fault: the original shipping comes back too
	if first.Total != 1500+285+495 {
		t.Errorf("got total %d, want %d (item, tax and shipping)", first.Total, 1500+285+495)
	}
	var count int
	f.env.DB.Get(&count, `SELECT count(*) FROM returns`)
	if count != 1 {
		t.Fatalf("got %d returns from %d requests with one key, want 1", count, n)
	}
	// nothing is left of the cap: a second cap return is not eligible
	res2 := f.env.Do(t, "POST", "/v1/returns", tok, body)
	var p problemDoc
	res2.JSON(t, &p)
	if res2.Status != http.StatusUnprocessableEntity || p.Code != "not_eligible" || len(p.Errors) == 0 || p.Errors[0].Location != "body.items[0]" {
		t.Fatalf("second return of the only cap: got %d %+v, want 422 not_eligible at body.items[0]", res2.Status, p)
	}
}

func TestApproveAndCancelRace(t *testing.T) {
	t.Parallel()
	f := setup(t)
	key := f.shop.Keys[auth.RoleIntegration]
	f.env.Do(t, "PUT", "/v1/policy", f.shop.Keys[auth.RoleAdmin], map[string]any{"manual_review": true})
	for round := range 5 {
		r := f.create(t, key, "NW-1")
		path := fmt.Sprintf("/v1/returns/%s/", r.ID)
		var wg sync.WaitGroup
		var approve, cancel apitest.Response
		start := make(chan struct{})
		wg.Go(func() { <-start; approve = f.env.Do(t, "POST", path+"approve", key, nil) })
		wg.Go(func() { <-start; cancel = f.env.Do(t, "POST", path+"cancel", key, nil) })
		close(start)
		wg.Wait()
		// approve then cancel is a legal sequence; cancel then approve is not
		var events int
		f.env.DB.Get(&events, `SELECT count(*) FROM return_events WHERE return_id = (SELECT id FROM returns WHERE public_id = $1) AND event IN ('approve','cancel')`, r.ID)
		switch {
		case approve.Status == 200 && cancel.Status == 200:
			if events != 2 {
				t.Fatalf("round %d: both won but %d events recorded", round, events)
			}
		case cancel.Status == 200 && approve.Status == http.StatusConflict:
			if events != 1 {
				t.Fatalf("round %d: cancel won, approve refused, but %d events recorded", round, events)
			}
		default:
			t.Fatalf("round %d: got approve %d, cancel %d", round, approve.Status, cancel.Status)
		}
		var state string
		f.env.DB.Get(&state, `SELECT state FROM returns WHERE public_id = $1`, r.ID)
		if state != "cancelled" {
			t.Fatalf("round %d: got final state %s, want cancelled", round, state)
		}
	}
}

func TestTwoCancelsOneWins(t *testing.T) {
	t.Parallel()
	f := setup(t)
	key := f.shop.Keys[auth.RoleIntegration]
	r := f.create(t, key, "NW-1")
	path := fmt.Sprintf("/v1/returns/%s/cancel", r.ID)
	var wg sync.WaitGroup
	results := make([]int, 2)
	for i := range 2 {
		wg.Go(func() { results[i] = f.env.Do(t, "POST", path, key, nil).Status })
	}
	wg.Wait()
	if !(results[0] == 200 && results[1] == 409 || results[0] == 409 && results[1] == 200) {
		t.Fatalf("got %v, want one 200 and one 409", results)
	}
	var n int
	f.env.DB.Get(&n, `SELECT count(*) FROM return_events WHERE return_id = (SELECT id FROM returns WHERE public_id = $1) AND event = 'cancel'`, r.ID)
	if n != 1 {
		t.Fatalf("got %d cancel events, want 1", n)
	}
}

func TestShopperAndMerchantIsolation(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.putOrder(t, "NW-2", "bob@example.com")
	other := f.env.Merchant(t, "southwind")
	tokA := f.session(t, "NW-1", "ada@example.com")
	tokB := f.session(t, "NW-2", "bob@example.com")
	rb := f.create(t, tokB, "")
	pathB := fmt.Sprintf("/v1/returns/%s", rb.ID)

	for _, tt := range []struct {
		name, method, path, token string
		body                      any
		want                      int
	}{
		{"shopper A reads B's return", "GET", pathB, tokA, nil, 404},
		{"shopper A reads B's return by RMA", "GET", "/v1/returns/" + rb.RMA, tokA, nil, 404},
		{"shopper A reads B's timeline", "GET", pathB + "/events", tokA, nil, 404},
		{"shopper A cancels B's return", "POST", pathB + "/cancel", tokA, nil, 404},
		{"shopper A reads order B", "GET", "/v1/orders/NW-2", tokA, nil, 404},
		{"shopper A quotes on order B", "POST", "/v1/returns/quote", tokA, map[string]any{"order_number": "NW-2", "resolution": "refund", "items": []map[string]any{{"line_id": "l1", "quantity": 1, "reason": "other"}}}, 404},
		{"shopper A approves own order's return", "POST", pathB + "/approve", tokA, nil, 403},
		{"shopper B reads own return", "GET", pathB, tokB, nil, 200},
		{"shopper B cannot approve", "POST", pathB + "/approve", tokB, nil, 403},
		{"shopper cannot put orders", "PUT", "/v1/orders/NW-3", tokB, order("x@example.com", time.Now()), 403},
		{"other merchant reads order", "GET", "/v1/orders/NW-1", other.Keys[auth.RoleAdmin], nil, 404},
		{"other merchant reads return", "GET", pathB, other.Keys[auth.RoleAdmin], nil, 404},
		{"other merchant cancels return", "POST", pathB + "/cancel", other.Keys[auth.RoleIntegration], nil, 404},
		{"warehouse cannot create returns", "POST", "/v1/returns", f.shop.Keys[auth.RoleWarehouse], map[string]any{"order_number": "NW-1", "resolution": "refund", "items": []map[string]any{{"line_id": "l1", "quantity": 1, "reason": "other"}}}, 403},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if res := f.env.Do(t, tt.method, tt.path, tt.token, tt.body); res.Status != tt.want {
				t.Fatalf("got %d, want %d: %s", res.Status, tt.want, res.Body)
			}
		})
	}
	t.Run("shopper lists only own order's returns", func(t *testing.T) {
		f.create(t, tokA, "")
		res := f.env.Do(t, "GET", "/v1/returns", tokA, nil)
		var l struct{ Data []returnDoc }
		res.JSON(t, &l)
		if len(l.Data) != 1 || l.Data[0].ID == rb.ID {
			t.Fatalf("got %d returns %+v, want only A's one", len(l.Data), l.Data)
		}
	})
	t.Run("other merchant's list is empty", func(t *testing.T) {
		res := f.env.Do(t, "GET", "/v1/returns", other.Keys[auth.RoleAdmin], nil)
		var l struct{ Data []returnDoc }
		res.JSON(t, &l)
		if len(l.Data) != 0 {
			t.Fatalf("got %d returns of another merchant", len(l.Data))
		}
	})
}

func TestPortalSessions(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.putOrder(t, "NW-9", "cy@example.com")
	wrongs := []map[string]any{
		{"merchant": "northwind", "order_number": "NW-1", "email": "bob@example.com"},
		{"merchant": "northwind", "order_number": "NW-404", "email": "ada@example.com"},
		{"merchant": "nowhere", "order_number": "NW-1", "email": "ada@example.com"},
	}
	var details []string
	for _, w := range wrongs {
		res := f.env.Do(t, "POST", "/v1/portal/sessions", "", w)
		var p problemDoc
		res.JSON(t, &p)
		if res.Status != 404 {
			t.Fatalf("%v: got %d, want 404", w, res.Status)
		}
		details = append(details, p.Detail)
	}
	if details[0] != details[1] || details[1] != details[2] {
		t.Errorf("the 404s differ, hinting which part was wrong: %q", details)
	}
	// the per-order limit: 10 attempts a minute, the 11th answers 429
	body := map[string]any{"merchant": "northwind", "order_number": "NW-9", "email": "wrong@example.com"}
	for i := range 10 {
		if res := f.env.Do(t, "POST", "/v1/portal/sessions", "", body); res.Status != 404 {
			t.Fatalf("attempt %d: got %d, want 404", i+1, res.Status)
		}
	}
	res := f.env.Do(t, "POST", "/v1/portal/sessions", "", body)
	if res.Status != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("11th attempt: got %d Retry-After=%q, want 429 with Retry-After", res.Status, res.Header.Get("Retry-After"))
	}
	// the limit is the guessing client's: it stays limited even with the right email,
	// while the shopper, from another address, still gets in
	right := map[string]any{"merchant": "northwind", "order_number": "NW-9", "email": "cy@example.com"}
	if res := f.env.Do(t, "POST", "/v1/portal/sessions", "", right); res.Status != http.StatusTooManyRequests {
		t.Errorf("the guessing client with the right email: got %d, want 429", res.Status)
	}
	if got := postFrom(t, f.env.URL+"/v1/portal/sessions", "127.0.0.2", right); got != http.StatusCreated {
		t.Errorf("the shopper from another address: got %d, want 201", got)
	}
	// and a success empties the client's count of failures
	for i := range 9 {
		if got := postFrom(t, f.env.URL+"/v1/portal/sessions", "127.0.0.2", body); got != http.StatusNotFound {
			t.Fatalf("the shopper's wrong attempt %d after signing in: got %d, want 404", i+1, got)
		}
	}
	if got := postFrom(t, f.env.URL+"/v1/portal/sessions", "127.0.0.2", right); got != http.StatusCreated {
		t.Errorf("the shopper after 9 failures since a success: got %d, want 201", got)
	}
}

// postFrom posts body as JSON from the local address ip (any of 127.0.0.0/8 is this
// machine), as another client would, and returns the status.
func postFrom(t *testing.T, url, ip string, body any) int {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext}}
	b, _ := json.Marshal(body)
	res, err := c.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestValidationNamesEachField(t *testing.T) {
	t.Parallel()
	f := setup(t)
	bad := order("not-an-email", time.Now())
	bad["currency"] = "EUX"
	lines := bad["lines"].([]map[string]any)
	lines[0]["quantity"] = 0
	lines[1]["id"] = "l1"
	res := f.env.Do(t, "PUT", "/v1/orders/NW-BAD", f.shop.Keys[auth.RoleIntegration], bad)
	var p problemDoc
	res.JSON(t, &p)
	if res.Status != http.StatusUnprocessableEntity {
		t.Fatalf("got %d, want 422: %s", res.Status, res.Body)
	}
	var locs []string
	for _, e := range p.Errors {
		locs = append(locs, e.Location)
	}
	joined := strings.Join(locs, " ")
	for _, want := range []string{"body.lines[0].quantity"} {
		if !strings.Contains(joined, want) {
			t.Errorf("errors %v do not name %s", locs, want)
		}
	}
	// huma's schema check stops at the first layer; send a schema-valid but
	// inconsistent order to see the domain's checks name every field
	bad = order("ada@example.com", time.Now())
	bad["currency"] = "EUX"
	lines = bad["lines"].([]map[string]any)
	lines[1]["id"] = "l1"
	lines[0]["discount"] = 999999
	res = f.env.Do(t, "PUT", "/v1/orders/NW-BAD", f.shop.Keys[auth.RoleIntegration], bad)
	res.JSON(t, &p)
	locs = nil
	for _, e := range p.Errors {
		locs = append(locs, e.Location)
	}
	joined = strings.Join(locs, " ")
	for _, want := range []string{"body.currency", "body.lines[1].id", "body.lines[0].discount"} {
		if !strings.Contains(joined, want) {
			t.Errorf("errors %v do not name %s", locs, want)
		}
	}
	// a shop that derives the captured amount from its lines sends a negative one
	// when a line's discount exceeds the line's value: the schema refuses captured,
	// and the answer also names the discount that caused it, once each
	bad = order("ada@example.com", time.Now())
	lines = bad["lines"].([]map[string]any)
	lines[0]["discount"] = 20000
	bad["payment"].(map[string]any)["captured"] = 2500*2 + 950 + 1500 + 285 + 495 - 20000
	res = f.env.Do(t, "PUT", "/v1/orders/NW-BAD", f.shop.Keys[auth.RoleIntegration], bad)
	p = problemDoc{}
	res.JSON(t, &p)
	locs = nil
	for _, e := range p.Errors {
		locs = append(locs, e.Location)
	}
	if res.Status != http.StatusUnprocessableEntity || !slices.Equal(locs, []string{"body.payment.captured", "body.lines[0].discount"}) {
		t.Errorf("discount above the line's value with a derived captured: got %d naming %v, want 422 naming body.payment.captured and body.lines[0].discount", res.Status, locs)
	}
	var n int
	f.env.DB.Get(&n, `SELECT count(*) FROM orders WHERE number = 'NW-BAD'`)
	if n != 0 {
		t.Fatal("an invalid order was stored")
	}
	res = f.env.Do(t, "PUT", "/v1/policy", f.shop.Keys[auth.RoleAdmin], map[string]any{"window_days": 0, "label_validity_days": 400})
	res.JSON(t, &p)
	if res.Status != 422 || !strings.Contains(string(res.Body), "body.window_days") || !strings.Contains(string(res.Body), "body.label_validity_days") {
		t.Fatalf("bad policy: got %d %s, want 422 naming window_days and label_validity_days", res.Status, res.Body)
	}
	res = f.env.Do(t, "POST", "/v1/returns/quote", f.shop.Keys[auth.RoleIntegration], map[string]any{
		"order_number": "NW-1", "resolution": "refund", "items": []map[string]any{{"line_id": "l1", "quantity": 1, "reason": "bored"}}})
	if res.Status != 422 || !strings.Contains(string(res.Body), "body.items[0].reason") {
		t.Fatalf("bad reason: got %d %s, want 422 naming body.items[0].reason", res.Status, res.Body)
	}
}

func TestListFiltersAndPages(t *testing.T) {
	t.Parallel()
	f := setup(t)
	key := f.shop.Keys[auth.RoleIntegration]
	f.putOrder(t, "NW-2", "bob@example.com")
	var ids []string
	for range 2 {
		ids = append(ids, f.create(t, key, "NW-1").ID)
	}
	ids = append(ids, f.create(t, key, "NW-2").ID)
	f.env.Do(t, "POST", fmt.Sprintf("/v1/returns/%s/cancel", ids[0]), key, nil)

	var seen []string
	cursor := ""
	for page := 0; page < 5; page++ {
		res := f.env.Do(t, "GET", "/v1/returns?limit=2"+cursor, key, nil)
		var l struct {
			Data       []returnDoc `json:"data"`
			NextCursor string      `json:"next_cursor"`
		}
		res.JSON(t, &l)
		for _, r := range l.Data {
			seen = append(seen, r.ID)
		}
		if l.NextCursor == "" {
			break
		}
		cursor = "&cursor=" + l.NextCursor
	}
	if fmt.Sprint(seen) != fmt.Sprint([]string{ids[2], ids[1], ids[0]}) {
		t.Fatalf("got pages %v, want %v newest first", seen, []string{ids[2], ids[1], ids[0]})
	}
	for q, want := range map[string]int{"state=cancelled": 1, "state=approved,cancelled": 3, "order_number=NW-2": 1, "order_number=NW-404": 0} {
		res := f.env.Do(t, "GET", "/v1/returns?"+q, key, nil)
		var l struct{ Data []returnDoc }
		res.JSON(t, &l)
		if len(l.Data) != want {
			t.Errorf("%s: got %d returns, want %d", q, len(l.Data), want)
		}
	}
	if res := f.env.Do(t, "GET", "/v1/returns?state=lost", key, nil); res.Status != 422 || !strings.Contains(string(res.Body), "query.state") {
		t.Errorf("unknown state: got %d %s, want 422 naming query.state", res.Status, res.Body)
	}
}

// TestListCursorsShowNoInternalIDs: the platform's internal IDs are shared by every
// merchant, so a cursor made of one would show a merchant how many returns the whole
// platform takes. A cursor names the last return shown instead; paging with returns
// of both merchants made between the pages still lists every return exactly once,
// and a cursor of the other merchant, of another list or of the old numeric kind is
// refused with 422 naming the cursor.
func TestListCursorsShowNoInternalIDs(t *testing.T) {
	t.Parallel()
	f := setup(t)
	// internal IDs far from anything a random public ID would contain by chance
	if _, err := f.env.DB.Exec(`SELECT setval(pg_get_serial_sequence('returns', 'id'), 48271604113)`); err != nil {
		t.Fatal(err)
	}
	other := f.env.Merchant(t, "southwind")
	key, theirs := f.shop.Keys[auth.RoleIntegration], other.Keys[auth.RoleIntegration]
	n := 0
	create := func(token string) string { // a return of a new order (an order's line has 2 items)
		t.Helper()
		n++
		number := fmt.Sprintf("PG-%d", n)
		if res := f.env.Do(t, "PUT", "/v1/orders/"+number, token, order("zed@example.com", time.Now().Add(-48*time.Hour))); res.Status != http.StatusCreated {
			t.Fatalf("put order: got %d: %s", res.Status, res.Body)
		}
		return f.create(t, token, number).ID
	}
	createTheirs := func() { create(theirs) }
	var ours []string // newest first
	for range 5 {
		ours = append([]string{create(key)}, ours...)
		createTheirs()
	}
	type page struct {
		Data       []returnDoc `json:"data"`
		NextCursor string      `json:"next_cursor"`
	}
	get := func(token, cursor string) page {
		t.Helper()
		res := f.env.Do(t, "GET", "/v1/returns?limit=2&cursor="+cursor, token, nil)
		if res.Status != http.StatusOK {
			t.Fatalf("list with cursor %q: got %d: %s", cursor, res.Status, res.Body)
		}
		var p page
		res.JSON(t, &p)
		return p
	}
	var seen []string
	cursor := ""
	for n := 0; n < 10; n++ {
		p := get(key, cursor)
		for _, r := range p.Data {
			seen = append(seen, r.ID)
		}
		if p.NextCursor == "" {
			break
		}
		last := p.Data[len(p.Data)-1]
		var id int64
		if err := f.env.DB.Get(&id, `SELECT id FROM returns WHERE public_id = $1`, last.ID); err != nil {
			t.Fatal(err)
		}
		for _, internal := range []string{strconv.FormatInt(id, 10), strconv.FormatInt(id, 36), strconv.FormatInt(id, 16)} {
			if strings.Contains(strings.ToLower(p.NextCursor), internal) {
				t.Errorf("cursor %q shows the internal ID %d as %q", p.NextCursor, id, internal)
			}
		}
		if !strings.Contains(p.NextCursor, last.ID) {
			t.Errorf("cursor %q does not name the last return shown, %s", p.NextCursor, last.ID)
		}
		cursor = p.NextCursor
		// both shops take returns between the pages: newer ones, not in the pages that follow
		create(key)
		createTheirs()
	}
	if fmt.Sprint(seen) != fmt.Sprint(ours) {
		t.Fatalf("got pages %v, want every return once, newest first: %v", seen, ours)
	}

	theirCursor := get(theirs, "").NextCursor
	if theirCursor == "" {
		t.Fatal("southwind's first page has no next cursor")
	}
	var id int64
	f.env.DB.Get(&id, `SELECT max(id) FROM returns`)
	for name, c := range map[string]string{
		"another shop's":        theirCursor,
		"another list's":        "f." + strings.TrimPrefix(theirCursor, "r."),
		"an internal ID's":      "r" + strconv.FormatInt(id, 36),
		"one naming no return":  "r.ret_0000000000000000000000000000",
		"one naming our refund": "f." + ours[0],
	} {
		res := f.env.Do(t, "GET", "/v1/returns?cursor="+c, key, nil)
		var p problemDoc
		res.JSON(t, &p)
		if res.Status != http.StatusUnprocessableEntity || len(p.Errors) != 1 || p.Errors[0].Location != "query.cursor" {
			t.Errorf("%s cursor %q: got %d %s, want 422 naming query.cursor", name, c, res.Status, res.Body)
		}
		if strings.Contains(string(res.Body), "ret_") && name == "another shop's" {
			t.Errorf("the refusal of another shop's cursor shows its return: %s", res.Body)
		}
	}
}

// TestReturnWorthNothingIsNotCreated: a 100 % restocking fee and a label fee leave
// the shopper nothing; the quote says so and creating the return answers 422, with no
// return and no label made.
func TestReturnWorthNothingIsNotCreated(t *testing.T) {
	t.Parallel()
	f := setup(t)
	res := f.env.Do(t, "PUT", "/v1/policy", f.shop.Keys[auth.RoleAdmin], map[string]any{
		"return_shipping": map[string]any{"mode": "flat", "label_fees": map[string]any{"EUR": 495}},
		"rules":           []map[string]any{{"match": map[string]any{"sku": "TEE-BLK-M"}, "restocking_fee_bps": 10000}},
	})
	if res.Status != http.StatusOK {
		t.Fatalf("put policy: %d %s", res.Status, res.Body)
	}
	body := map[string]any{"order_number": "NW-1", "resolution": "refund",
		"items": []map[string]any{{"line_id": "l1", "quantity": 1, "reason": "changed_mind"}}}
	key := f.shop.Keys[auth.RoleIntegration]
	res = f.env.Do(t, "POST", "/v1/returns/quote", key, body)
	var q struct {
		Eligible bool  `json:"eligible"`
		Total    int64 `json:"total"`
		Issues   []struct {
			Path, Code, Message string
		} `json:"issues"`
	}
	res.JSON(t, &q)
	if res.Status != http.StatusOK || q.Eligible || q.Total != 0 || len(q.Issues) != 1 || q.Issues[0].Code != "nothing_back" ||
		!strings.Contains(q.Issues[0].Message, "You would get nothing back") {
		t.Fatalf("quote: got %d %s, want 200, not eligible, with a nothing_back issue", res.Status, res.Body)
	}
	res = f.env.Do(t, "POST", "/v1/returns", key, body)
	var p problemDoc
	res.JSON(t, &p)
	if res.Status != http.StatusUnprocessableEntity || p.Code != "not_eligible" || len(p.Errors) != 1 || p.Errors[0].Location != "body.items" {
		t.Fatalf("create: got %d %s, want 422 not_eligible naming body.items", res.Status, res.Body)
	}
	var returns, labels int
	f.env.DB.Get(&returns, `SELECT count(*) FROM returns`)
	f.env.DB.Get(&labels, `SELECT count(*) FROM parcels`)
	if returns != 0 || labels != 0 {
		t.Errorf("got %d returns and %d parcels, want none", returns, labels)
	}
}
