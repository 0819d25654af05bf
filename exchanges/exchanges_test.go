package exchanges_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/roundtriphq/roundtrip/cmd/roundtrip/apitest"
	"github.com/roundtriphq/roundtrip/cmd/roundtrip/app"
	"github.com/roundtriphq/roundtrip/exchanges"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/notify"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/refunds/fakestripe"
)

const whsec = "whsec_exchange_test"

// shop is a merchant whose policy offers exchanges, with a catalogue of T-shirts in
// three sizes, the API, a stateful fake Stripe and an outbox worker the test drives.
type shop struct {
	env    *apitest.Env
	tn     apitest.Tenant
	stripe *fakestripe.Server
	worker *outbox.Worker
	orders int
}

func newShop(t testing.TB, policy map[string]any) *shop {
	t.Helper()
	s := &shop{}
	var api atomic.Pointer[http.Handler]
	relay := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := api.Load()
		if h == nil {
			http.Error(w, "not up yet", http.StatusServiceUnavailable)
			return
		}
		(*h).ServeHTTP(w, r)
	}))
	t.Cleanup(relay.Close)
	s.stripe = fakestripe.New(fakestripe.Options{AutoCharges: true, Currency: "eur", WebhookSecret: whsec,
		WebhookURL: relay.URL + "/v1/webhooks/stripe"})
	t.Cleanup(s.stripe.Close)
	s.env = apitest.New(t, func(c *app.Config, url string) {
		c.Gateway = refunds.NewStripe(refunds.StripeConfig{SecretKey: "sk_test_x", APIBase: s.stripe.URL(), Timeout: 5 * time.Second})
		c.WebhookSecret = whsec
		c.BaseURL = "https://returns.example.com"
		c.Webhooks = notify.Options{AllowHTTP: true, AllowPrivate: true}
		s.worker = outbox.NewWorker(c.DB, url, outbox.Options{Backoff: func(int) time.Duration { return 0 }})
		c.Worker = s.worker
	})
	h := s.env.Server.Config.Handler
	api.Store(&h)
	s.tn = s.env.Merchant(t, "northwind")
	pol := map[string]any{"resolutions": []string{"refund", "store_credit", "exchange"}}
	for k, v := range policy {
		pol[k] = v
	}
	s.must(t, "PUT", "/v1/policy", auth.RoleAdmin, pol, http.StatusOK)
	s.putProduct(t, map[string]int{"TEE-S": 5, "TEE-M": 5, "TEE-L": 5}, map[string]int64{"TEE-S": 2500, "TEE-M": 2500, "TEE-L": 2500})
	return s
}

func (s *shop) do(t testing.TB, method, path string, role auth.Role, body any, headers ...string) apitest.Response {
	t.Helper()
	return s.env.Do(t, method, path, s.tn.Keys[role], body, headers...)
}

func (s *shop) must(t testing.TB, method, path string, role auth.Role, body any, want int) apitest.Response {
	t.Helper()
	res := s.do(t, method, path, role, body)
	if res.Status != want {
		t.Fatalf("%s %s: got %d %s, want %d", method, path, res.Status, res.Body, want)
	}
	return res
}

// putProduct pushes the T-shirt with the given stock and EUR prices per SKU.
func (s *shop) putProduct(t testing.TB, stock map[string]int, prices map[string]int64) {
	t.Helper()
	var variants []map[string]any
	for _, size := range []string{"S", "M", "L"} {
		sku := "TEE-" + size
		if _, ok := stock[sku]; !ok {
			continue
		}
		variants = append(variants, map[string]any{"sku": sku, "options": []map[string]string{{"name": "Size", "value": size}},
			"prices": map[string]int64{"EUR": prices[sku]}, "available": stock[sku]})
	}
	res := s.do(t, "PUT", "/v1/products/tee", auth.RoleIntegration, map[string]any{"name": "Classic T-shirt", "variants": variants})
	if res.Status != http.StatusOK && res.Status != http.StatusCreated {
		t.Fatalf("put product: %d %s", res.Status, res.Body)
	}
}

// order pushes a delivered order of one T-shirt in size M at 25.00 (tax included in
// the price: 4.17 of it) and returns its number.
func (s *shop) order(t testing.TB) string {
	t.Helper()
	s.orders++
	n := fmt.Sprintf("NW-%d", s.orders)
	o := apitest.Order(fmt.Sprintf("shopper%d@example.com", s.orders), time.Now().Add(-48*time.Hour))
	o["lines"] = []map[string]any{{"id": "l1", "sku": "TEE-M", "name": "Classic T-shirt, M", "quantity": 1, "unit_price": 2083,
		"tax": 417, "product_id": "tee"}}
	o["shipping"] = 0
	o["payment"] = map[string]any{"provider": "stripe", "payment_intent_id": fmt.Sprintf("pi_x%d", s.orders), "captured": 2500}
	s.must(t, "PUT", "/v1/orders/"+n, auth.RoleIntegration, o, http.StatusCreated)
	return n
}

type ret struct {
	ID    string `json:"id"`
	RMA   string `json:"rma"`
	State string `json:"state"`
	Total int64  `json:"total"`
}

func exchangeBody(order, sku string, extra ...any) map[string]any {
	b := map[string]any{"order_number": order, "resolution": "exchange",
		"items": []map[string]any{{"line_id": "l1", "quantity": 1, "reason": "too_small", "exchange_sku": sku}}}
	for i := 0; i+1 < len(extra); i += 2 {
		b[extra[i].(string)] = extra[i+1]
	}
	return b
}

func (s *shop) create(t testing.TB, body map[string]any) ret {
	t.Helper()
	var r ret
	s.must(t, "POST", "/v1/returns", auth.RoleIntegration, body, http.StatusCreated).JSON(t, &r)
	return r
}

func (s *shop) exchange(t testing.TB, r ret) exchanges.Exchange {
	t.Helper()
	var x exchanges.Exchange
	s.must(t, "GET", fmt.Sprintf("/v1/returns/%s/exchange", r.ID), auth.RoleIntegration, nil, http.StatusOK).JSON(t, &x)
	// the API shows the public ID; Stripe's metadata and keys use the internal one
	if err := s.env.DB.Get(&x.ID, `SELECT id FROM exchanges WHERE public_id = $1`, x.PublicID); err != nil {
		t.Fatal(err)
	}
	return x
}

func (s *shop) receive(t testing.TB, r ret) {
	t.Helper()
	s.must(t, "POST", fmt.Sprintf("/v1/returns/%s/receipts", r.ID), auth.RoleWarehouse, map[string]any{"items": []map[string]any{
		{"line_id": "l1", "quantity": 1, "condition": "new", "disposition": "restock"}}}, http.StatusCreated)
}

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

func (s *shop) state(t testing.TB, r ret) string {
	t.Helper()
	var st string
	if err := s.env.DB.Get(&st, `SELECT state FROM returns WHERE public_id = $1`, r.ID); err != nil {
		t.Fatal(err)
	}
	return st
}

func (s *shop) inStock(t testing.TB, sku string) (available, reserved, inStock int) {
	t.Helper()
	var p struct {
		Variants []struct {
			SKU       string `json:"sku"`
			Available int    `json:"available"`
			Reserved  int    `json:"reserved"`
			InStock   int    `json:"in_stock"`
		} `json:"variants"`
	}
	s.must(t, "GET", "/v1/products/tee", auth.RoleIntegration, nil, http.StatusOK).JSON(t, &p)
	for _, v := range p.Variants {
		if v.SKU == sku {
			return v.Available, v.Reserved, v.InStock
		}
	}
	t.Fatalf("no variant %s", sku)
	return
}

// ledger sums the ledger's amounts of a return by kind.
func (s *shop) ledger(t testing.TB, r ret) map[string]int64 {
	t.Helper()
	rows, err := s.env.DB.Query(`SELECT kind, sum(amount) FROM ledger_entries WHERE return_id = (SELECT id FROM returns WHERE public_id = $1) GROUP BY kind`, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		out[k] = n
	}
	return out
}

type problem struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
	Errors []struct {
		Location string `json:"location"`
		Message  string `json:"message"`
		Value    any    `json:"value"`
	} `json:"errors"`
}

// TestLastUnitConcurrentCreates: ten shoppers exchange for the last unit of a variant
// at once; exactly one gets it, the others a 409 naming the variant, and cancelling
// the one gives the unit back.
func TestLastUnitConcurrentCreates(t *testing.T) {
	t.Parallel()
	s := newShop(t, nil)
	s.putProduct(t, map[string]int{"TEE-M": 5, "TEE-L": 1}, map[string]int64{"TEE-M": 2500, "TEE-L": 2500})
	var orders []string
	for range 10 {
		orders = append(orders, s.order(t))
	}
	var wg sync.WaitGroup
	res := make([]apitest.Response, len(orders))
	start := make(chan struct{})
	for i, n := range orders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res[i] = s.do(t, "POST", "/v1/returns", auth.RoleIntegration, exchangeBody(n, "TEE-L"))
		}()
	}
	close(start)
	wg.Wait()
	var won ret
	created := 0
	for i, r := range res {
		switch r.Status {
		case http.StatusCreated:
			created++
			r.JSON(t, &won)
		case http.StatusConflict:
			var p problem
			r.JSON(t, &p)
			if p.Code != "out_of_stock" || !strings.Contains(p.Detail, "TEE-L") || !strings.Contains(p.Detail, "Classic T-shirt, L") {
				t.Errorf("order %s: got 409 %s, want out_of_stock naming TEE-L", orders[i], r.Body)
			}
		default:
			t.Errorf("order %s: got %d %s, want 201 or 409", orders[i], r.Status, r.Body)
		}
	}
	if created != 1 {
		t.Fatalf("got %d exchanges created, want exactly 1", created)
	}
	var returnsMade int
	if err := s.env.DB.Get(&returnsMade, `SELECT count(*) FROM returns`); err != nil {
		t.Fatal(err)
	}
	if returnsMade != 1 {
		t.Errorf("got %d returns stored, want 1: a refused exchange leaves nothing behind", returnsMade)
	}
	if a, rs, in := s.inStock(t, "TEE-L"); a != 1 || rs != 1 || in != 0 {
		t.Errorf("got available %d reserved %d in stock %d, want 1, 1, 0", a, rs, in)
	}
	if x := s.exchange(t, won); x.Status != exchanges.StatusReserved || len(x.Items) != 1 || x.Items[0].SKU != "TEE-L" {
		t.Errorf("got exchange %+v, want reserved TEE-L", x)
	}

	s.must(t, "POST", fmt.Sprintf("/v1/returns/%s/cancel", won.ID), auth.RoleIntegration, map[string]any{}, http.StatusOK)
	if a, rs, in := s.inStock(t, "TEE-L"); a != 1 || rs != 0 || in != 1 {
		t.Errorf("after cancel: got available %d reserved %d in stock %d, want 1, 0, 1", a, rs, in)
	}
	if x := s.exchange(t, won); x.Status != exchanges.StatusCancelled {
		t.Errorf("after cancel: got exchange %s, want cancelled", x.Status)
	}
	// the unit can be promised again
	s.create(t, exchangeBody(orders[(len(orders)+1)%len(orders)], "TEE-L"))
}

// TestEvenExchange: a replacement of the same price costs nothing and refunds
// nothing; the receipt releases it, and the return completes.
func TestEvenExchange(t *testing.T) {
	t.Parallel()
	s := newShop(t, nil)
	n := s.order(t)
	var q struct {
		Eligible bool  `json:"eligible"`
		Total    int64 `json:"total"`
		Lines    []struct {
			Subtotal int64 `json:"subtotal"`
			Exchange struct {
				SKU        string `json:"sku"`
				Amount     int64  `json:"amount"`
				Difference int64  `json:"difference"`
				InStock    int    `json:"in_stock"`
			} `json:"exchange"`
		} `json:"lines"`
		Exchange struct {
			Difference int64 `json:"difference"`
			AmountDue  int64 `json:"amount_due"`
		} `json:"exchange"`
	}
	s.must(t, "POST", "/v1/returns/quote", auth.RoleIntegration, exchangeBody(n, "TEE-L"), http.StatusOK).JSON(t, &q)
	if !q.Eligible || q.Total != 0 || q.Lines[0].Exchange.SKU != "TEE-L" || q.Lines[0].Exchange.Amount != 2500 ||
		q.Lines[0].Exchange.Difference != 0 || q.Exchange.Difference != 0 || q.Exchange.AmountDue != 0 || q.Lines[0].Exchange.InStock != 5 {
		t.Fatalf("got quote %+v, want an even exchange for TEE-L", q)
	}
	r := s.create(t, exchangeBody(n, "TEE-L"))
	if r.State != "approved" || r.Total != 0 {
		t.Fatalf("got return %+v, want approved with nothing to refund", r)
	}
	if x := s.exchange(t, r); x.Status != exchanges.StatusReserved || x.Reference != r.RMA+"-X" || x.ShippingAddress.City != "London" {
		t.Fatalf("got exchange %+v, want reserved with the order's address", x)
	}
	s.receive(t, r)
	s.drain(t)
	x := s.exchange(t, r)
	if x.Status != exchanges.StatusReleased || x.ReleasedAt == nil {
		t.Fatalf("got exchange %s, want released on receipt", x.Status)
	}
	if got := s.state(t, r); got != "completed" {
		t.Errorf("got return %s, want completed", got)
	}
	if n := s.stripe.RefundCount(); n != 0 {
		t.Errorf("got %d Stripe refunds, want none", n)
	}
	if l := s.ledger(t, r); l["exchange_in"] != 2500 || l["exchange_out"] != 2500 || l["refund_queued"] != 0 {
		t.Errorf("got ledger %v, want exchange_in 2500, exchange_out 2500, no refund", l)
	}

	// the shop reports the shipment; the unit is no longer held
	if _, rs, _ := s.inStock(t, "TEE-L"); rs != 1 {
		t.Errorf("got %d reserved before the shipment, want 1", rs)
	}
	var shipped exchanges.Exchange
	s.must(t, "POST", fmt.Sprintf("/v1/exchanges/%s/shipment", x.PublicID), auth.RoleIntegration,
		map[string]any{"carrier": "DHL", "tracking_number": "JD0146"}, http.StatusOK).JSON(t, &shipped)
	if shipped.Status != exchanges.StatusShipped || shipped.TrackingNumber != "JD0146" {
		t.Errorf("got %+v, want shipped with JD0146", shipped)
	}
	if _, rs, _ := s.inStock(t, "TEE-L"); rs != 0 {
		t.Errorf("got %d reserved after the shipment, want 0", rs)
	}
	res := s.do(t, "POST", fmt.Sprintf("/v1/exchanges/%s/shipment", x.PublicID), auth.RoleIntegration,
		map[string]any{"carrier": "UPS", "tracking_number": "1Z999"})
	if res.Status != http.StatusConflict {
		t.Errorf("another shipment: got %d %s, want 409", res.Status, res.Body)
	}
}

// TestCheaperExchangeRefund: a cheaper replacement's difference is refunded through
// the refund path, exactly once, and the return completes when it succeeded.
func TestCheaperExchangeRefund(t *testing.T) {
	t.Parallel()
	s := newShop(t, nil)
	s.putProduct(t, map[string]int{"TEE-M": 5, "TEE-S": 5}, map[string]int64{"TEE-M": 2500, "TEE-S": 1800})
	n := s.order(t)
	r := s.create(t, exchangeBody(n, "TEE-S"))
	if r.Total != 700 {
		t.Fatalf("got total %d, want the difference 700", r.Total)
	}
	s.receive(t, r)
	s.drain(t)
	s.drain(t) // again: a repeated job pays nothing more
	if got := s.stripe.RefundCount(); got != 1 {
		t.Fatalf("got %d Stripe refunds, want 1", got)
	}
	if got := s.stripe.Refunds()[0].Amount; got != 700 {
		t.Errorf("got a refund of %d, want 700", got)
	}
	if got := s.state(t, r); got != "completed" {
		t.Errorf("got return %s, want completed", got)
	}
	if x := s.exchange(t, r); x.Status != exchanges.StatusReleased || x.ReplacementValue != 1800 || x.ReturnedValue != 2500 {
		t.Errorf("got exchange %+v, want released, 2500 in, 1800 out", x)
	}
	if l := s.ledger(t, r); l["exchange_in"] != 2500 || l["exchange_out"] != 1800 || l["refund_sent"] != 700 {
		t.Errorf("got ledger %v", l)
	}
	var sum struct {
		Exchanges []struct {
			Currency string `json:"currency"`
			Kept     int64  `json:"kept"`
			Worth    int64  `json:"worth"`
			Summary  string `json:"summary"`
		} `json:"exchanges"`
	}
	day := time.Now().UTC()
	s.must(t, "GET", "/v1/analytics/summary?from="+day.Format("2006-01-02")+"&to="+day.AddDate(0, 0, 1).Format("2006-01-02"),
		auth.RoleFinance, nil, http.StatusOK).JSON(t, &sum)
	if len(sum.Exchanges) != 1 || sum.Exchanges[0].Kept != 1 || sum.Exchanges[0].Worth != 2500 ||
		!strings.Contains(sum.Exchanges[0].Summary, "Exchanges kept 1 sale worth") {
		t.Errorf("got analytics %+v, want one sale worth 25.00 kept", sum.Exchanges)
	}
}

// TestCheaperExchangeStoreCredit: the shopper takes the difference as store credit,
// with a code that is shown once and can be spent.
func TestCheaperExchangeStoreCredit(t *testing.T) {
	t.Parallel()
	s := newShop(t, map[string]any{"store_credit_expiry_days": 365})
	s.putProduct(t, map[string]int{"TEE-M": 5, "TEE-S": 5}, map[string]int64{"TEE-M": 2500, "TEE-S": 1800})
	n := s.order(t)
	r := s.create(t, exchangeBody(n, "TEE-S", "difference_as", "store_credit"))
	s.receive(t, r)
	s.drain(t)
	if got := s.stripe.RefundCount(); got != 0 {
		t.Errorf("got %d Stripe refunds, want none", got)
	}
	if got := s.state(t, r); got != "completed" {
		t.Errorf("got return %s, want completed", got)
	}
	email := "shopper1@example.com"
	codes, err := refunds.RevealCodes(context.Background(), s.env.DB, s.tn.Merchant.ID, email)
	if err != nil || len(codes) != 1 {
		t.Fatalf("got codes %v, %v, want one", codes, err)
	}
	again, _ := refunds.RevealCodes(context.Background(), s.env.DB, s.tn.Merchant.ID, email)
	if len(again) != 0 {
		t.Errorf("the code was shown twice: %v", again)
	}
	var c refunds.Credit
	s.must(t, "GET", "/v1/store-credit?email="+email, auth.RoleFinance, nil, http.StatusOK).JSON(t, &c)
	if len(c.Balances) != 1 || c.Balances[0].Amount != 700 || len(c.Credits) != 1 || c.Credits[0].ExpiresAt == nil {
		t.Fatalf("got credit %+v, want 700 EUR expiring", c)
	}
	for _, code := range codes {
		var red refunds.Redemption
		s.env.Do(t, "POST", "/v1/store-credit/redemptions", s.tn.Keys[auth.RoleIntegration], map[string]any{
			"code": strings.ToLower(code), "amount": 700, "currency": "EUR", "order_reference": "NW-900"},
			"Idempotency-Key", "spend-1").JSON(t, &red)
		if red.Amount != 700 || red.Balance != 0 {
			t.Errorf("got redemption %+v, want 700 spent, 0 left", red)
		}
	}
}

// TestConcurrentRedemptions: twenty redemptions of one code at once, whose balance
// covers seven: exactly seven succeed, the balance ends at 0 and never below, and a
// replay answers the first answer.
func TestConcurrentRedemptions(t *testing.T) {
	t.Parallel()
	s := newShop(t, nil)
	n := s.order(t)
	r := s.create(t, map[string]any{"order_number": n, "resolution": "store_credit",
		"items": []map[string]any{{"line_id": "l1", "quantity": 1, "reason": "changed_mind"}}})
	s.receive(t, r)
	s.drain(t)
	codes, err := refunds.RevealCodes(context.Background(), s.env.DB, s.tn.Merchant.ID, "shopper1@example.com")
	if err != nil || len(codes) != 1 {
		t.Fatalf("got codes %v, %v", codes, err)
	}
	var code string
	for _, c := range codes {
		code = c
	}
	const each = 2500 / 7 // 357: seven of them fit in 2500, eight do not
	redeem := func(key string) apitest.Response {
		return s.env.Do(t, "POST", "/v1/store-credit/redemptions", s.tn.Keys[auth.RoleIntegration], map[string]any{
			"code": code, "amount": each, "currency": "EUR", "order_reference": "NW-" + key}, "Idempotency-Key", key)
	}
	var wg sync.WaitGroup
	res := make([]apitest.Response, 20)
	start := make(chan struct{})
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res[i] = redeem(fmt.Sprintf("k%d", i))
		}()
	}
	close(start)
	wg.Wait()
	ok, short := 0, 0
	first := -1
	for i, x := range res {
		switch x.Status {
		case http.StatusCreated:
			ok++
			if first < 0 {
				first = i
			}
		case http.StatusConflict:
			var p problem
			x.JSON(t, &p)
			if p.Code != "insufficient_store_credit" {
				t.Errorf("got 409 %s, want insufficient_store_credit", x.Body)
			}
			short++
		default:
			t.Errorf("got %d %s", x.Status, x.Body)
		}
	}
	if ok != 7 || short != 13 {
		t.Fatalf("got %d redemptions and %d refusals, want 7 and 13", ok, short)
	}
	var balance, minBalance int64
	if err := s.env.DB.Get(&balance, `SELECT balance FROM store_credits`); err != nil {
		t.Fatal(err)
	}
	if err := s.env.DB.Get(&minBalance, `SELECT min(s) FROM (SELECT sum(amount) OVER (ORDER BY id) AS s FROM store_credit_entries) x`); err != nil {
		t.Fatal(err)
	}
	if balance != 2500-7*each || minBalance < 0 {
		t.Errorf("got balance %d (lowest %d), want %d and never negative", balance, minBalance, 2500-7*each)
	}
	var redeemed int64
	if err := s.env.DB.Get(&redeemed, `SELECT coalesce(sum(amount), 0) FROM ledger_entries WHERE kind = 'store_credit_redeemed'`); err != nil {
		t.Fatal(err)
	}
	if redeemed != 7*each {
		t.Errorf("got %d redeemed in the ledger, want %d", redeemed, 7*each)
	}

	// a replay answers the first answer, a success and a refusal alike
	for _, i := range []int{first, (first + 1) % 20} {
		again := redeem(fmt.Sprintf("k%d", i))
		if again.Status != res[i].Status || string(again.Body) != string(res[i].Body) || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("replay of k%d: got %d %s, want %d %s replayed", i, again.Status, again.Body, res[i].Status, res[i].Body)
		}
	}
	// no key, no redemption
	noKey := s.do(t, "POST", "/v1/store-credit/redemptions", auth.RoleIntegration, map[string]any{
		"code": code, "amount": 1, "currency": "EUR", "order_reference": "NW-x"})
	if noKey.Status != http.StatusUnprocessableEntity || !strings.Contains(string(noKey.Body), "Idempotency-Key") {
		t.Errorf("without a key: got %d %s, want 422 naming Idempotency-Key", noKey.Status, noKey.Body)
	}
	// a mistyped code is told apart from an unknown one
	typo := []byte(code)
	typo[5] = map[bool]byte{true: 'B', false: 'A'}[typo[5] == 'A']
	if res := s.env.Do(t, "POST", "/v1/store-credit/redemptions", s.tn.Keys[auth.RoleIntegration], map[string]any{
		"code": string(typo), "amount": 1, "currency": "EUR", "order_reference": "NW-x"}, "Idempotency-Key", "typo"); res.Status != http.StatusUnprocessableEntity {
		t.Errorf("mistyped code: got %d %s, want 422", res.Status, res.Body)
	}

	// reversing gives the credit back, once
	var red refunds.Redemption
	res[first].JSON(t, &red)
	var back refunds.Redemption
	s.must(t, "POST", fmt.Sprintf("/v1/store-credit/redemptions/%s/reverse", red.PublicID), auth.RoleIntegration, nil, http.StatusOK).JSON(t, &back)
	if back.ReversedAt == nil || back.Balance != 2500-6*each {
		t.Errorf("got %+v, want reversed with balance %d", back, 2500-6*each)
	}
	s.must(t, "POST", fmt.Sprintf("/v1/store-credit/redemptions/%s/reverse", red.PublicID), auth.RoleIntegration, nil, http.StatusConflict)
	var c refunds.Credit
	s.must(t, "GET", "/v1/store-credit?email=shopper1@example.com", auth.RoleFinance, nil, http.StatusOK).JSON(t, &c)
	kinds := map[string]int{}
	for _, e := range c.Entries {
		kinds[e.Kind]++
	}
	if kinds["issued"] != 1 || kinds["redeemed"] != 7 || kinds["reversed"] != 1 || c.Balances[0].Amount != 2500-6*each {
		t.Errorf("got entries %v and balance %+v", kinds, c.Balances)
	}
}

// TestDearerExchangeCheckout: a dearer replacement is paid through a Stripe Checkout
// Session, less the shop's upsell allowance; an expired page can be opened again;
// the payment, arriving as a verified webhook (twice), is applied once.
func TestDearerExchangeCheckout(t *testing.T) {
	t.Parallel()
	s := newShop(t, map[string]any{"upsell_allowance": map[string]int64{"EUR": 200}})
	s.putProduct(t, map[string]int{"TEE-M": 5, "TEE-L": 5}, map[string]int64{"TEE-M": 2500, "TEE-L": 3000})
	n := s.order(t)
	r := s.create(t, exchangeBody(n, "TEE-L"))
	x := s.exchange(t, r)
	if x.Status != exchanges.StatusAwaitingPayment || x.AmountDue != 300 || x.Absorbed != 200 || x.CheckoutURL != "" {
		t.Fatalf("got %+v, want awaiting a payment of 300 with 200 absorbed, no page yet", x)
	}
	if _, rs, _ := s.inStock(t, "TEE-L"); rs != 1 {
		t.Errorf("got %d held while awaiting payment, want 1", rs)
	}
	s.drain(t)
	sessions := s.stripe.CheckoutSessions()
	if len(sessions) != 1 {
		t.Fatalf("got %d Checkout Sessions, want 1", len(sessions))
	}
	cs := sessions[0]
	wantBack := "https://returns.example.com/portal/northwind/returns/" + r.RMA
	if cs.AmountTotal != 300 || cs.Currency != "eur" || cs.SuccessURL != wantBack+"?paid=1" || cs.CancelURL != wantBack ||
		cs.Metadata["exchange_id"] != x.PublicID || cs.Metadata["return_id"] != r.ID || cs.IdempotencyKey != exchanges.CheckoutKey(x.ID, 0) ||
		cs.CustomerEmail != "shopper1@example.com" {
		t.Errorf("got session %+v", cs)
	}
	if got := s.exchange(t, r).CheckoutURL; got != cs.URL {
		t.Errorf("got checkout_url %q, want %q", got, cs.URL)
	}

	// the page expires unpaid: the shopper opens a new one
	if err := s.stripe.ExpireCheckout(cs.ID); err != nil {
		t.Fatal(err)
	}
	if x := s.exchange(t, r); x.Status != exchanges.StatusAwaitingPayment || x.CheckoutURL != "" {
		t.Fatalf("after expiry: got %+v, want awaiting payment without a page", x)
	}
	s.must(t, "POST", fmt.Sprintf("/v1/exchanges/%s/checkout", x.PublicID), auth.RoleIntegration, nil, http.StatusOK)
	s.drain(t)
	sessions = s.stripe.CheckoutSessions()
	if len(sessions) != 2 || sessions[1].IdempotencyKey != exchanges.CheckoutKey(x.ID, 1) {
		t.Fatalf("got sessions %+v, want a second one under attempt 1", sessions)
	}
	if err := s.stripe.CompleteCheckout(sessions[1].ID); err != nil {
		t.Fatal(err)
	}
	x = s.exchange(t, r)
	if x.Status != exchanges.StatusReserved || x.Paid != 300 || x.CheckoutURL != "" {
		t.Fatalf("after payment: got %+v, want reserved with 300 paid", x)
	}
	// Stripe sends the event again: nothing more happens
	evs := s.stripe.Events()
	if err := s.stripe.Redeliver(context.Background(), evs[len(evs)-1].ID); err != nil {
		t.Fatal(err)
	}
	s.receive(t, r)
	s.drain(t)
	if x := s.exchange(t, r); x.Status != exchanges.StatusReleased {
		t.Errorf("got %s after the receipt, want released", x.Status)
	}
	if got := s.state(t, r); got != "completed" {
		t.Errorf("got return %s, want completed", got)
	}
	if got := s.stripe.RefundCount(); got != 0 {
		t.Errorf("got %d refunds, want none", got)
	}
	var payments int
	if err := s.env.DB.Get(&payments, `SELECT count(*) FROM ledger_entries WHERE kind = 'exchange_payment' AND amount = 300 AND net = 300`); err != nil {
		t.Fatal(err)
	}
	if payments != 1 {
		t.Errorf("got %d exchange_payment entries, want 1", payments)
	}
}

// hooks is the shop's webhook endpoint: it keeps every delivery, verified with the
// Standard Webhooks reference library, by type.
type hooks struct {
	mu     sync.Mutex
	secret string
	events map[string][]json.RawMessage
	bad    []error
}

func (s *shop) hooks(t testing.TB) *hooks {
	t.Helper()
	h := &hooks{events: map[string][]json.RawMessage{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		wh, err := standardwebhooks.NewWebhook(h.secret)
		if err == nil {
			err = wh.Verify(body, r.Header)
		}
		if err != nil {
			h.bad = append(h.bad, err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var ev struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		_ = json.Unmarshal(body, &ev)
		h.events[ev.Type] = append(h.events[ev.Type], ev.Data)
	}))
	t.Cleanup(srv.Close)
	var ep struct {
		Secret string `json:"secret"`
	}
	s.must(t, "POST", "/v1/webhook-endpoints", auth.RoleAdmin, map[string]any{"url": srv.URL + "/hooks"}, http.StatusCreated).JSON(t, &ep)
	h.mu.Lock()
	h.secret = ep.Secret
	h.mu.Unlock()
	return h
}

// exchange returns the exchanges delivered under typ.
func (h *hooks) got(t testing.TB, typ string) []exchanges.Exchange {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.bad) > 0 {
		t.Fatalf("deliveries the reference library refuses: %v", h.bad)
	}
	var out []exchanges.Exchange
	for _, d := range h.events[typ] {
		var x exchanges.Exchange
		if err := json.Unmarshal(d, &x); err != nil {
			t.Fatal(err)
		}
		out = append(out, x)
	}
	return out
}

// TestInstantExchange: with the instant release, approval releases the replacement
// at once, to the shop's webhooks with the items, the address and the reference;
// the shop reports the shipment; when the returned items never arrive the shop is
// told to collect their value.
func TestInstantExchange(t *testing.T) {
	t.Parallel()
	s := newShop(t, map[string]any{"exchange_release": "instant",
		"serial_returner": map[string]any{"enabled": true, "max_returns": 3, "period_days": 90}})
	h := s.hooks(t)
	n := s.order(t)
	r := s.create(t, exchangeBody(n, "TEE-L"))
	x := s.exchange(t, r)
	if x.Status != exchanges.StatusReleased || x.ReleaseOn != "instant" {
		t.Fatalf("got %+v, want released on approval", x)
	}
	s.must(t, "POST", fmt.Sprintf("/v1/exchanges/%s/shipment", x.PublicID), auth.RoleIntegration,
		map[string]any{"carrier": "DHL", "tracking_number": "JD0146"}, http.StatusOK)
	// an instant exchange whose replacement went out cannot be cancelled
	if res := s.do(t, "POST", fmt.Sprintf("/v1/returns/%s/cancel", r.ID), auth.RoleIntegration, map[string]any{}); res.Status != http.StatusConflict {
		t.Errorf("cancel after the release: got %d %s, want 409", res.Status, res.Body)
	}
	// the label's validity ends without the parcel moving
	if _, err := s.env.DB.Exec(`UPDATE outbox SET run_at = now() WHERE kind = 'label.expire' AND state = 'pending'`); err != nil {
		t.Fatal(err)
	}
	s.drain(t)
	s.drain(t)
	if got := s.state(t, r); got != "expired" {
		t.Fatalf("got return %s, want expired", got)
	}
	x = s.exchange(t, r)
	if x.UnreturnedAt == nil || x.UnreturnedValue != 2500 {
		t.Errorf("got %+v, want unreturned with 2500 to collect", x)
	}
	for typ, want := range map[string]exchanges.Status{"exchange.reserved": exchanges.StatusReserved,
		"exchange.released": exchanges.StatusReleased, "exchange.shipped": exchanges.StatusShipped, "exchange.unreturned": exchanges.StatusShipped} {
		got := h.got(t, typ)
		if len(got) != 1 || got[0].PublicID != x.PublicID || got[0].Status != want {
			t.Errorf("%s: got %+v, want one delivery of exchange %s %s", typ, got, x.PublicID, want)
		}
	}
	rel := h.got(t, "exchange.released")
	if len(rel) == 1 && (rel[0].Reference != r.RMA+"-X" || rel[0].ShippingAddress.PostalCode != "SW1Y 4LB" ||
		len(rel[0].Items) != 1 || rel[0].Items[0].SKU != "TEE-L" || rel[0].Items[0].Options[0].Value != "L") {
		t.Errorf("exchange.released carries %+v, want the items, address and reference", rel[0])
	}
	if sh := h.got(t, "exchange.shipped"); len(sh) == 1 && sh[0].TrackingNumber != "JD0146" {
		t.Errorf("exchange.shipped carries %+v", sh[0])
	}
}

// TestInstantExchangeHeldForSerialReturner: a shopper the serial-returner rule holds
// gets no instant release; the replacement waits for the receipt.
func TestInstantExchangeHeldForSerialReturner(t *testing.T) {
	t.Parallel()
	s := newShop(t, map[string]any{"exchange_release": "instant",
		"serial_returner": map[string]any{"enabled": true, "max_returns": 1, "period_days": 90}})
	n := s.order(t)
	o := apitest.Order("shopper1@example.com", time.Now().Add(-48*time.Hour))
	s.must(t, "PUT", "/v1/orders/NW-other", auth.RoleIntegration, o, http.StatusCreated)
	s.create(t, map[string]any{"order_number": "NW-other", "resolution": "refund",
		"items": []map[string]any{{"line_id": "l2", "quantity": 1, "reason": "changed_mind"}}})
	r := s.create(t, exchangeBody(n, "TEE-L"))
	if x := s.exchange(t, r); x.Status != exchanges.StatusReserved {
		t.Fatalf("got %s, want reserved until the receipt", x.Status)
	}
	s.receive(t, r)
	s.drain(t)
	if x := s.exchange(t, r); x.Status != exchanges.StatusReleased {
		t.Errorf("got %s after the receipt, want released", x.Status)
	}
}

// TestReleaseOnCarrierScan: the replacement is released when the carrier first
// scans the return parcel.
func TestReleaseOnCarrierScan(t *testing.T) {
	t.Parallel()
	s := newShop(t, map[string]any{"exchange_release": "on_carrier_scan"})
	n := s.order(t)
	r := s.create(t, exchangeBody(n, "TEE-S"))
	if x := s.exchange(t, r); x.Status != exchanges.StatusReserved {
		t.Fatalf("got %s, want reserved until the scan", x.Status)
	}
	var secret struct {
		Secret string `json:"secret"`
	}
	s.must(t, "POST", "/v1/carrier-secret", auth.RoleAdmin, nil, http.StatusOK).JSON(t, &secret)
	var tracking string
	if err := s.env.DB.Get(&tracking, `SELECT tracking_number FROM parcels WHERE return_id = (SELECT id FROM returns WHERE public_id = $1)`, r.ID); err != nil {
		t.Fatal(err)
	}
	res := s.env.Do(t, "POST", "/v1/carrier-events", "", map[string]any{"tracking_number": tracking, "status": "in_transit",
		"occurred_at": time.Now().Add(-time.Minute).Format(time.RFC3339)}, "X-Carrier-Secret", secret.Secret)
	if res.Status != http.StatusOK {
		t.Fatalf("carrier event: %d %s", res.Status, res.Body)
	}
	if x := s.exchange(t, r); x.Status != exchanges.StatusReleased {
		t.Errorf("got %s after the first scan, want released", x.Status)
	}
	s.receive(t, r)
	s.drain(t)
	if got := s.state(t, r); got != "completed" {
		t.Errorf("got return %s, want completed", got)
	}
}

// TestCancelAwaitingPayment: a return cancelled while its dearer replacement waits
// for payment gives the unit back and closes the payment page at Stripe, so that the
// shopper can no longer pay for it.
func TestCancelAwaitingPayment(t *testing.T) {
	t.Parallel()
	s := newShop(t, nil)
	s.putProduct(t, map[string]int{"TEE-M": 5, "TEE-L": 1}, map[string]int64{"TEE-M": 2500, "TEE-L": 3000})
	n := s.order(t)
	r := s.create(t, exchangeBody(n, "TEE-L"))
	s.drain(t)
	sessions := s.stripe.CheckoutSessions()
	if len(sessions) != 1 || sessions[0].Status != "open" {
		t.Fatalf("got sessions %+v, want one open", sessions)
	}
	s.must(t, "POST", fmt.Sprintf("/v1/returns/%s/cancel", r.ID), auth.RoleIntegration, map[string]any{}, http.StatusOK)
	s.drain(t)
	if got := s.stripe.CheckoutSessions()[0].Status; got != "expired" {
		t.Errorf("got the payment page %s, want expired", got)
	}
	if x := s.exchange(t, r); x.Status != exchanges.StatusCancelled || x.CheckoutURL != "" {
		t.Errorf("got %+v, want cancelled without a payment page", x)
	}
	if _, rs, in := s.inStock(t, "TEE-L"); rs != 0 || in != 1 {
		t.Errorf("got reserved %d, in stock %d, want the unit back", rs, in)
	}
}
