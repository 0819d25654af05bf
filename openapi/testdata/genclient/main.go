// Command genclient drives one whole return through a client generated from the
// served OpenAPI 3.0 document (package api, written by oapi-codegen before the
// build; see ../../genclient_test.go): the shop pushes an order, the shopper opens
// the portal, asks for a quote, creates the return and fetches the label, the
// warehouse scans the parcel and records what arrived, and the return ends
// completed with its refund succeeded. The shop's admin first sets the address
// parcels go to.
//
// The label and the refund are made in the background: after the request that
// queues them the driver prints "wait label" or "wait refund" and waits for a line on
// standard input, which the test sends once it has run the background jobs. At the
// end it prints "refunded <return id> <amount> <currency>". Any unexpected answer
// ends it with status 1 and a message naming the step, the status and the body.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"example.com/roundtrip/genclient/api"
)

func main() {
	base := flag.String("base", "", "the API's base URL")
	merchant := flag.String("merchant", "", "the merchant's slug")
	order := flag.String("order", "", "the order number to push and return")
	email := flag.String("email", "ada@example.com", "the shopper's email")
	flag.Parse()
	d := driver{
		base: *base, merchant: *merchant, order: *order, email: *email,
		admin:       os.Getenv("ROUNDTRIP_ADMIN_KEY"),
		integration: os.Getenv("ROUNDTRIP_INTEGRATION_KEY"),
		warehouse:   os.Getenv("ROUNDTRIP_WAREHOUSE_KEY"),
		finance:     os.Getenv("ROUNDTRIP_FINANCE_KEY"),
	}
	if err := d.run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "genclient:", err)
		os.Exit(1)
	}
}

type driver struct {
	base, merchant, order, email string
	admin, integration           string
	warehouse, finance           string
}

// bearer authenticates one request with token.
func bearer(token string) api.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

// answer is what every generated response has.
type answer interface{ StatusCode() int }

// expect fails with the step's name, the status and the body unless res has status
// want and its typed body decoded (decoded false: the document does not declare
// this answer, so the generated client left it undecoded).
func expect(step string, res answer, body []byte, err error, want int, decoded bool) error {
	if err != nil {
		return fmt.Errorf("%s: %w", step, err)
	}
	if res.StatusCode() != want {
		return fmt.Errorf("%s: got status %d, want %d: %s", step, res.StatusCode(), want, body)
	}
	if !decoded {
		return fmt.Errorf("%s: status %d is not declared with a JSON body in the document: %s", step, want, body)
	}
	return nil
}

var stdin = bufio.NewReader(os.Stdin)

// pause prints "wait <what>" and waits for a line on standard input: the test sends
// it once it has run the background jobs that the last request queued.
func pause(what string) error {
	fmt.Println("wait", what)
	if _, err := stdin.ReadString('\n'); err != nil {
		return fmt.Errorf("waiting for the background jobs (%s): %w", what, err)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

func (d driver) run(ctx context.Context) error {
	c, err := api.NewClientWithResponses(d.base)
	if err != nil {
		return err
	}
	// The shop's admin sets the address return parcels go to.
	shop, err := c.UpdateMerchantWithResponse(ctx, api.UpdateMerchantJSONRequestBody{
		Name: "Northwind Outfitters",
		Settings: api.Settings{Warehouse: &api.WarehouseAddress{
			Name: ptr("Northwind Returns"), Line1: ptr("12 Harbour Road"), City: ptr("Leeds"), PostalCode: ptr("LS1 4AP"), Country: ptr("GB")}},
	}, bearer(d.admin))
	if err := expect("update merchant", shop, shop.Body, err, http.StatusOK, shop.JSON200 != nil); err != nil {
		return err
	}
	if shop.JSON200.Slug != d.merchant {
		return fmt.Errorf("update merchant: got slug %s, want %s", shop.JSON200.Slug, d.merchant)
	}

	delivered := time.Now().Add(-48 * time.Hour).UTC().Truncate(time.Second)

	// The shop pushes the order: two T-shirts and a cap, paid through Stripe.
	lines := []api.Line{
		{Id: "l1", Sku: "TEE-BLK-M", Name: "Black T-shirt, M", Quantity: 2, UnitPrice: 2500, Tax: ptr[int64](950)},
		{Id: "l2", Sku: "CAP-RED", Name: "Red cap", Quantity: 1, UnitPrice: 1500, Tax: ptr[int64](285)},
	}
	put, err := c.PutOrderWithResponse(ctx, d.order, api.PutOrderJSONRequestBody{
		Currency: "EUR",
		Customer: api.Customer{
			Email:     "ada@example.com",
			FirstName: ptr("Ada"), LastName: ptr("Lovelace"),
			Address: api.Address{Line1: "12 St James's Square", City: "London", PostalCode: ptr("SW1Y 4LB"), Country: "GB"},
		},
		PlacedAt:    delivered.Add(-72 * time.Hour),
		DeliveredAt: &delivered,
		Lines:       lines,
		Shipping:    ptr[int64](495),
		Payment:     api.Payment{Provider: api.PaymentProviderStripe, PaymentIntentId: ptr("pi_genclient"), Captured: 2*2500 + 950 + 1500 + 285 + 495},
	}, bearer(d.integration))
	// A new order answers 201, which the document does not declare: the generated
	// client leaves the body undecoded.
	var view api.OrderView
	if err := expect("put order", put, put.Body, err, http.StatusCreated, true); err != nil {
		return err
	}
	if err := json.Unmarshal(put.Body, &view); err != nil {
		return fmt.Errorf("put order: %w", err)
	}
	if view.OrderNumber != d.order || len(view.Lines) != 2 {
		return fmt.Errorf("put order: the answer is not the order sent: %s", put.Body)
	}

	// The shopper opens the portal with the order number and the email.
	ses, err := c.CreatePortalSessionWithResponse(ctx, api.CreatePortalSessionJSONRequestBody{
		Merchant: d.merchant, OrderNumber: d.order, Email: d.email})
	if err := expect("portal session", ses, ses.Body, err, http.StatusCreated, ses.JSON201 != nil); err != nil {
		return err
	}
	shopper := bearer(ses.JSON201.Token)

	// A reason the document does not list answers a problem naming the field.
	bad, err := c.QuoteReturnWithResponse(ctx, api.QuoteReturnJSONRequestBody{
		Resolution: api.QuoteRequestResolutionRefund,
		Items:      []api.QuoteItem{{LineId: "l1", Quantity: 1, Reason: "no_reason_at_all"}},
	}, shopper)
	if err := expect("quote with an unknown reason", bad, bad.Body, err, http.StatusUnprocessableEntity, bad.ApplicationproblemJSON422 != nil); err != nil {
		return err
	}
	if p := bad.ApplicationproblemJSON422; p.Errors == nil || len(*p.Errors) != 1 || (*p.Errors)[0].Location == nil || *(*p.Errors)[0].Location != "body.items[0].reason" {
		return fmt.Errorf("quote with an unknown reason: want one error at body.items[0].reason: %s", bad.Body)
	}

	// The quote, then the return for the same items.
	quote, err := c.QuoteReturnWithResponse(ctx, api.QuoteReturnJSONRequestBody{
		Resolution: api.QuoteRequestResolutionRefund,
		Items:      []api.QuoteItem{{LineId: "l1", Quantity: 1, Reason: api.QuoteItemReasonTooSmall}},
	}, shopper)
	if err := expect("quote", quote, quote.Body, err, http.StatusOK, quote.JSON200 != nil); err != nil {
		return err
	}
	q := quote.JSON200
	if !q.Eligible || q.Total <= 0 || q.Currency != "EUR" || len(q.Lines) != 1 {
		return fmt.Errorf("quote: want one eligible line with a positive EUR total: %s", quote.Body)
	}
	created, err := c.CreateReturnWithResponse(ctx, &api.CreateReturnParams{IdempotencyKey: ptr("genclient-create-1")}, api.CreateReturnJSONRequestBody{
		Resolution: api.ReturnCreateResolutionRefund,
		Items:      []api.ReturnCreateItem{{LineId: "l1", Quantity: 1, Reason: api.ReturnCreateItemReasonTooSmall}},
	}, shopper)
	if err := expect("create return", created, created.Body, err, http.StatusCreated, created.JSON201 != nil); err != nil {
		return err
	}
	ret := created.JSON201
	if ret.State != api.ReturnStateApproved || ret.Total != q.Total || ret.OrderNumber != d.order {
		return fmt.Errorf("create return: want an approved return of %s for the quoted %d: %s", d.order, q.Total, created.Body)
	}

	// The label is bought in the background.
	if err := pause("label"); err != nil {
		return err
	}

	// The shopper prints the label.
	format := api.GetReturnLabelParamsFormatN4x6
	label, err := c.GetReturnLabelWithResponse(ctx, ret.Id, &api.GetReturnLabelParams{Format: &format}, shopper)
	if err := expect("label", label, label.Body, err, http.StatusOK, true); err != nil {
		return err
	}
	if ct := label.HTTPResponse.Header.Get("Content-Type"); ct != "application/pdf" || !bytes.HasPrefix(label.Body, []byte("%PDF-")) {
		return fmt.Errorf("label: got %s starting %q, want a PDF", ct, label.Body[:min(len(label.Body), 8)])
	}

	// The warehouse scans the parcel's RMA and records what arrived.
	scan, err := c.ScanParcelWithResponse(ctx, api.ScanParcelJSONRequestBody{Code: ret.Rma}, bearer(d.warehouse))
	if err := expect("scan", scan, scan.Body, err, http.StatusOK, scan.JSON200 != nil); err != nil {
		return err
	}
	if scan.JSON200.Return.Id != ret.Id || len(scan.JSON200.Expected) != 1 {
		return fmt.Errorf("scan: want return %s expecting one line: %s", ret.Id, scan.Body)
	}
	rec, err := c.CreateReceiptWithResponse(ctx, ret.Id, &api.CreateReceiptParams{IdempotencyKey: ptr("genclient-receipt-1")}, api.CreateReceiptJSONRequestBody{
		Items: []api.ReceivedLine{{LineId: "l1", Quantity: 1, Condition: api.ReceivedLineConditionLikeNew, Disposition: api.ReceivedLineDispositionRestock}},
	}, bearer(d.warehouse))
	if err := expect("receipt", rec, rec.Body, err, http.StatusCreated, rec.JSON201 != nil); err != nil {
		return err
	}
	if s := rec.JSON201.Return.State; s != api.ReturnStateResolving {
		return fmt.Errorf("receipt: got state %s, want resolving: %s", s, rec.Body)
	}

	// The refund goes out in the background.
	if err := pause("refund"); err != nil {
		return err
	}

	got, err := c.GetReturnWithResponse(ctx, ret.Id, shopper)
	if err := expect("get return", got, got.Body, err, http.StatusOK, got.JSON200 != nil); err != nil {
		return err
	}
	if got.JSON200.State != api.ReturnStateCompleted {
		return fmt.Errorf("get return: got state %s, want completed: %s", got.JSON200.State, got.Body)
	}
	refs, err := c.ListRefundsWithResponse(ctx, &api.ListRefundsParams{ReturnId: &ret.Id}, bearer(d.finance))
	if err := expect("list refunds", refs, refs.Body, err, http.StatusOK, refs.JSON200 != nil); err != nil {
		return err
	}
	if len(refs.JSON200.Data) != 1 {
		return fmt.Errorf("list refunds: want one refund of return %s: %s", ret.Id, refs.Body)
	}
	rf := refs.JSON200.Data[0]
	if rf.Status != api.RefundStatusSucceeded || rf.Amount != q.Total || rf.Currency != q.Currency || rf.ReturnId != ret.Id {
		return fmt.Errorf("list refunds: want a succeeded refund of the quoted %d %s: %s", q.Total, q.Currency, refs.Body)
	}
	fmt.Println("refunded", ret.Id, rf.Amount, rf.Currency)
	return nil
}
